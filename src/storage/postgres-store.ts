import type { Client, ClientConfig, QueryConfig } from 'pg';
import { invalidArg, type PolyloopError } from '../errors.js';
import type { Logger } from '../log.js';
import { StorePool, type Pooled, type StorePoolOptions } from './pooled.js';
import {
  checkKey,
  checkScan,
  checkSql,
  checkTtl,
  encodeValue,
  NETWORK_ERRNOS,
  prefixEnd,
  type ExecResult,
  type ScanOptions,
  type SetOptions,
  type SqlParam,
  type Store,
  type StoreEntry,
  type StoreHealth,
  type StoreValue,
} from './store.js';

export interface PostgresStoreOptions {
  /** `postgres://user:pass@host:port/db`; or give the parts below. */
  connectionString?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  /** More `pg.Client` settings (ssl, application_name, ...), applied under the ones above. */
  client?: ClientConfig;
  /** Give up one connection attempt after this many ms. Default 5000. */
  connectTimeout?: number;
  /** A query with no answer after this many ms fails as unavailable and its connection is closed. Default 30000. */
  queryTimeout?: number;
  /** Expired keys are deleted every this many ms (reads skip them anyway). 0: never. Default 60000. */
  sweepInterval?: number;
  pool?: StorePoolOptions;
  logger?: Logger;
}

// The key's "C" collation orders by bytes, the order scan promises, and lets the prefix range use
// the primary key index.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS polyloop_kv (
  key text COLLATE "C" PRIMARY KEY,
  value text NOT NULL,
  expires_at timestamptz
);
CREATE INDEX IF NOT EXISTS polyloop_kv_expires ON polyloop_kv (expires_at)
  WHERE expires_at IS NOT NULL;
`;

// Named statements: pg prepares each once per connection and reuses it.
const GET = {
  name: 'polyloop_kv_get',
  text:
    'SELECT value FROM polyloop_kv WHERE key = $1 ' +
    'AND (expires_at IS NULL OR expires_at > now())',
};
const SET = {
  name: 'polyloop_kv_set',
  text:
    'INSERT INTO polyloop_kv (key, value, expires_at) ' +
    "VALUES ($1, $2, now() + $3::double precision * interval '1 millisecond') " +
    'ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
};
const DELETE = {
  name: 'polyloop_kv_delete',
  text:
    'DELETE FROM polyloop_kv WHERE key = $1 ' +
    'RETURNING (expires_at IS NULL OR expires_at > now()) AS live',
};
const SCAN = {
  name: 'polyloop_kv_scan',
  text:
    'SELECT key, value FROM polyloop_kv WHERE key >= $1 AND ($2::text IS NULL OR key < $2) ' +
    'AND (expires_at IS NULL OR expires_at > now()) ORDER BY key LIMIT $3',
};
const SWEEP = {
  name: 'polyloop_kv_sweep',
  text: 'DELETE FROM polyloop_kv WHERE expires_at <= now()',
};

/** SQLSTATE classes that mean the server cannot serve now: connection exception (08),
 * operator intervention (57: shutdown, starting up, cancelled), insufficient resources (53). */
const UNAVAILABLE_STATE = /^(08|57|53)/;
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connection error|not queryable|Connection closed/i;

function unavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (NETWORK_ERRNOS.has(code) || UNAVAILABLE_STATE.test(code)))
    return true;
  return err instanceof Error && UNAVAILABLE_MESSAGE.test(err.message);
}

let pgModule: Promise<typeof import('pg')> | undefined;

/**
 * A store on PostgreSQL through `pg`, over polyloop's `ConnectionPool` of `pg.Client`s (not
 * pg's own Pool: the same FIFO waiting, acquire timeout, validation and statistics as every other
 * pool here, and one place where driver errors become our codes). Keys live in the table
 * `polyloop_kv`, created on first use. SQL uses `$1, $2, ...` placeholders.
 *
 * When the server is down, calls reject with `PL_ERR_STORE_UNAVAILABLE` as soon as the connection
 * is refused (at most `connectTimeout` or `pool.acquireTimeout`); broken connections are dropped
 * and new ones are opened on demand, so the store recovers by itself when the server is back.
 *
 * Call its methods only from the loop that opened it.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres';
  readonly sql = true;
  private readonly pool: StorePool<Client>;
  private readonly config: ClientConfig;
  private schema: Promise<void> | undefined;
  private readonly sweeper: NodeJS.Timeout | undefined;

  /** Same as `PostgresStore.open`, synchronously. Call from the loop that will use it. */
  constructor(options: PostgresStoreOptions = {}) {
    checkOptions(options);
    const config: ClientConfig = { ...options.client };
    for (const k of ['connectionString', 'host', 'port', 'user', 'password', 'database'] as const) {
      if (options[k] !== undefined) Object.assign(config, { [k]: options[k] });
    }
    config.connectionTimeoutMillis = options.connectTimeout ?? 5000;
    config.query_timeout = options.queryTimeout ?? 30_000;
    this.config = config;
    this.pool = new StorePool<Client>(
      'postgres',
      options.pool ?? {},
      options.logger,
      () => this.connect(),
      (p) => endClient(p.client),
      unavailable,
    );
    const sweep = options.sweepInterval ?? 60_000;
    if (sweep > 0) {
      this.sweeper = setInterval(() => this.sweep(), sweep);
      this.sweeper.unref();
    }
  }

  /**
   * Creates the store. It connects on first use: a server that is down does not fail this.
   * Call from the loop that will use it.
   */
  static open(options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    return Promise.resolve(new PostgresStore(options));
  }

  /** Call from the owning loop. */
  async get<V = StoreValue>(key: string): Promise<V | undefined> {
    checkKey(key);
    const rows = await this.kv<{ value: string }>({ ...GET, values: [key] });
    return rows[0] === undefined ? undefined : (JSON.parse(rows[0].value) as V);
  }

  /** Call from the owning loop. */
  async set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    checkKey(key);
    const ttl = checkTtl(options);
    await this.kv({ ...SET, values: [key, encodeValue(value), ttl ?? null] });
  }

  /** Call from the owning loop. */
  async delete(key: string): Promise<boolean> {
    checkKey(key);
    const rows = await this.kv<{ live: boolean }>({ ...DELETE, values: [key] });
    return rows.some((r) => r.live);
  }

  /** Call from the owning loop. */
  async scan<V = StoreValue>(prefix: string, options?: ScanOptions): Promise<StoreEntry<V>[]> {
    const limit = checkScan(prefix, options);
    const rows = await this.kv<{ key: string; value: string }>({
      ...SCAN,
      values: [prefix, prefixEnd(prefix) ?? null, limit],
    });
    return rows.map((r) => ({ key: r.key, value: JSON.parse(r.value) as V }));
  }

  /**
   * Rows of one statement with `$1, $2, ...` placeholders, typed as `pg` parses them (bigint and
   * numeric as strings). Call from the owning loop.
   */
  async query<Row extends object = Record<string, unknown>>(
    sql: string,
    params?: readonly SqlParam[],
  ): Promise<Row[]> {
    const values = checkSql(sql, params);
    const result = await this.pool.run((c) => c.query<Row>({ text: sql, values: [...values] }));
    return result.rows;
  }

  /** Call from the owning loop. */
  async exec(sql: string, params?: readonly SqlParam[]): Promise<ExecResult> {
    const values = checkSql(sql, params);
    const result = await this.pool.run((c) => c.query({ text: sql, values: [...values] }));
    return { changes: result.rowCount ?? 0 };
  }

  /** Call from the owning loop. */
  async health(): Promise<StoreHealth> {
    const start = performance.now();
    try {
      await this.pool.run((c) => c.query('SELECT 1'));
      return { ok: true, latencyMs: performance.now() - start };
    } catch (err) {
      return { ok: false, error: err as PolyloopError };
    }
  }

  /** Closes idle connections now and busy ones when their query ends. Call from the owning loop. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.pool.close();
  }

  /** Runs a key-value statement, creating the table first if this store has not yet. */
  private kv<Row extends object = object>(q: QueryConfig): Promise<Row[]> {
    return this.pool.run(async (c) => {
      await (this.schema ??= this.createSchema(c));
      return (await c.query<Row>(q)).rows;
    });
  }

  private async createSchema(c: Client): Promise<void> {
    try {
      await c.query(SCHEMA);
    } catch (err) {
      // Another store creating it at the same moment is fine; anything else is retried next time.
      const code = (err as { code?: unknown }).code;
      if (code !== '42P07' && code !== '23505') {
        this.schema = undefined;
        throw err;
      }
    }
  }

  private sweep(): void {
    if (this.schema === undefined) return;
    this.pool.run((c) => c.query(SWEEP)).catch(() => {});
  }

  private async connect(): Promise<Pooled<Client>> {
    pgModule ??= import('pg');
    const pg = (await pgModule).default;
    const client = new pg.Client(this.config);
    const pooled: Pooled<Client> = { client, broken: false };
    // Without an 'error' listener a server shutdown would crash the process; mark it instead.
    client.on('error', () => (pooled.broken = true));
    client.on('end', () => (pooled.broken = true));
    try {
      await client.connect();
    } catch (err) {
      await endClient(client);
      throw err;
    }
    return pooled;
  }
}

/** Ends a client, but never waits more than a second for a server that does not answer. */
async function endClient(client: Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)));
  await Promise.race([client.end().catch(() => {}), late]);
  clearTimeout(timer);
  // pg has no public way to drop the socket; without this a silent server would keep it open.
  (
    client as unknown as { connection?: { stream?: { destroy?(): void } } }
  ).connection?.stream?.destroy?.();
}

function checkOptions(o: PostgresStoreOptions): void {
  for (const k of ['connectTimeout', 'queryTimeout', 'sweepInterval'] as const) {
    const v = o[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= 2 ** 31 - 1))
      throw invalidArg(k, v, 'an integer number of ms in [0, 2^31)');
  }
}
