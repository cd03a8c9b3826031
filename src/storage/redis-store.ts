import type { Redis, RedisOptions } from 'ioredis';
import { createError, invalidArg, type PolyloopError } from '../errors.js';
import type { Logger } from '../log.js';
import { StorePool, type Pooled, type StorePoolOptions } from './pooled.js';
import {
  checkKey,
  checkScan,
  checkTtl,
  encodeValue,
  prefixEnd,
  type ExecResult,
  type ScanOptions,
  type SetOptions,
  type Store,
  type StoreEntry,
  type StoreHealth,
  type StoreValue,
} from './store.js';

export interface RedisStoreOptions {
  host?: string;
  /** Default 6379. */
  port?: number;
  username?: string;
  password?: string;
  /** Database number. Default 0. */
  db?: number;
  /** Prefix of every Redis key this store writes. Default `'polyloop:'`. */
  namespace?: string;
  /** More ioredis settings (tls, ...), applied under the ones above. */
  client?: RedisOptions;
  /** Give up one connection attempt after this many ms. Default 5000. */
  connectTimeout?: number;
  /** A command with no answer after this many ms fails as unavailable. Default 10000. */
  commandTimeout?: number;
  /** Index entries of expired keys are removed every this many ms. 0: never. Default 60000. */
  sweepInterval?: number;
  pool?: StorePoolOptions;
  logger?: Logger;
}

/** An argument of a raw Redis command: sent as its own bulk string, never parsed. */
export type RedisArg = string | number | Buffer;

/** Redis replies that mean "cannot serve now" rather than "this command is wrong". */
const UNAVAILABLE_REPLY = /^(LOADING|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)\b/;

/** A Redis error reply is about the command; any other failure is about reaching the server. */
function unavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return true;
  if (err.name === 'ReplyError') return UNAVAILABLE_REPLY.test(err.message);
  return true;
}

/** Keys looked up per round trip while scanning or sweeping. */
const SCAN_BATCH = 256;

/**
 * Drops index entries (ARGV) whose key no longer exists. Atomic, so a key written again between
 * a scan's read and this removal keeps its entry. KEYS: index, expiry index; ARGV[1]: data prefix.
 */
const PRUNE = `
local removed = 0
for i = 2, #ARGV do
  if redis.call('EXISTS', ARGV[1] .. ARGV[i]) == 0 then
    redis.call('ZREM', KEYS[1], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
    removed = removed + 1
  end
end
return removed`;

let redisModule: Promise<{ Redis: typeof Redis }> | undefined;

/**
 * A store on Redis through `ioredis`, over polyloop's `ConnectionPool` (each client has its own
 * reconnection turned off: a broken client is dropped and the pool opens a new one, so a server
 * that is down gives `PL_ERR_STORE_UNAVAILABLE` at once instead of a queue that waits).
 *
 * Each key is a Redis string `<namespace>kv:<key>` holding the JSON text, with `PX` for expiry;
 * a sorted set `<namespace>kv-index` lists the keys so that `scan` reads a prefix range in key
 * order (ZRANGE BYLEX) instead of walking the whole keyspace, and `<namespace>kv-expiry` scores
 * the keys that expire by when. Index entries of expired keys are removed when a scan meets them
 * and by a periodic sweep.
 *
 * Redis runs no SQL: `query` and `exec` reject with `PL_ERR_STORE`; use `command()` for other
 * Redis commands. Call its methods only from the loop that opened it.
 */
export class RedisStore implements Store {
  readonly kind = 'redis';
  readonly sql = false;
  readonly namespace: string;
  private readonly pool: StorePool<Redis>;
  private readonly config: RedisOptions;
  private readonly index: string;
  private readonly expiry: string;
  private readonly sweeper: NodeJS.Timeout | undefined;

  /** Same as `RedisStore.open`, synchronously. Call from the loop that will use it. */
  constructor(options: RedisStoreOptions = {}) {
    checkOptions(options);
    this.namespace = options.namespace ?? 'polyloop:';
    this.index = `${this.namespace}kv-index`;
    this.expiry = `${this.namespace}kv-expiry`;
    const config: RedisOptions = { ...options.client };
    for (const k of ['host', 'port', 'username', 'password', 'db'] as const) {
      if (options[k] !== undefined) Object.assign(config, { [k]: options[k] });
    }
    Object.assign(config, {
      connectTimeout: options.connectTimeout ?? 5000,
      commandTimeout: options.commandTimeout ?? 10_000,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    } satisfies RedisOptions);
    this.config = config;
    this.pool = new StorePool<Redis>(
      'redis',
      options.pool ?? {},
      options.logger,
      () => this.connect(),
      (p) => p.client.disconnect(),
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
  static open(options: RedisStoreOptions = {}): Promise<RedisStore> {
    return Promise.resolve(new RedisStore(options));
  }

  /** Call from the owning loop. */
  async get<V = StoreValue>(key: string): Promise<V | undefined> {
    checkKey(key);
    const text = await this.pool.run((c) => c.get(this.dataKey(key)));
    return text === null ? undefined : (JSON.parse(text) as V);
  }

  /** Call from the owning loop. */
  async set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    checkKey(key);
    const ttl = checkTtl(options);
    const text = encodeValue(value);
    await this.pool.run(async (c) => {
      const tx = c.multi();
      if (ttl === undefined) tx.set(this.dataKey(key), text).zrem(this.expiry, key);
      else tx.set(this.dataKey(key), text, 'PX', ttl).zadd(this.expiry, Date.now() + ttl, key);
      tx.zadd(this.index, 0, key);
      checkReplies(await tx.exec());
    });
  }

  /** Call from the owning loop. */
  async delete(key: string): Promise<boolean> {
    checkKey(key);
    const replies = await this.pool.run(async (c) =>
      checkReplies(
        await c.multi().del(this.dataKey(key)).zrem(this.index, key).zrem(this.expiry, key).exec(),
      ),
    );
    return replies[0] === 1;
  }

  /** Call from the owning loop. */
  async scan<V = StoreValue>(prefix: string, options?: ScanOptions): Promise<StoreEntry<V>[]> {
    const limit = checkScan(prefix, options);
    const end = prefixEnd(prefix);
    const max = end === undefined ? '+' : `(${end}`;
    return this.pool.run(async (c) => {
      const out: StoreEntry<V>[] = [];
      const stale: string[] = [];
      let min = prefix === '' ? '-' : `[${prefix}`;
      while (out.length < limit) {
        const keys = await c.zrangebylex(this.index, min, max, 'LIMIT', 0, SCAN_BATCH);
        if (keys.length === 0) break;
        const values = await c.mget(keys.map((k) => this.dataKey(k)));
        for (let i = 0; i < keys.length && out.length < limit; i++) {
          const text = values[i];
          if (text === null || text === undefined) stale.push(keys[i]!);
          else out.push({ key: keys[i]!, value: JSON.parse(text) as V });
        }
        if (keys.length < SCAN_BATCH) break;
        min = `(${keys[keys.length - 1]!}`;
      }
      // Expired keys leave their index entry behind; drop those this scan met.
      if (stale.length > 0) await this.prune(c, stale);
      return out;
    });
  }

  /** Redis runs no SQL: rejects with `PL_ERR_STORE`; use `command()`. Any thread. */
  query<Row extends object = Record<string, unknown>>(): Promise<Row[]> {
    return Promise.reject(noSql());
  }

  /** Redis runs no SQL: rejects with `PL_ERR_STORE`; use `command()`. Any thread. */
  exec(): Promise<ExecResult> {
    return Promise.reject(noSql());
  }

  /**
   * Runs one Redis command with its arguments sent as separate values (never parsed as a command
   * line), e.g. `command('INCRBY', ['counter', 5])`. Call from the owning loop.
   */
  async command(name: string, args: readonly RedisArg[] = []): Promise<unknown> {
    if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9._|-]*$/.test(name))
      throw invalidArg('name', name, 'a Redis command name');
    const raw: unknown = args;
    if (!Array.isArray(raw)) throw invalidArg('args', raw, 'an array');
    for (const [i, a] of args.entries()) {
      if (!(typeof a === 'string' || typeof a === 'number' || Buffer.isBuffer(a)))
        throw invalidArg(`args[${i}]`, a, 'a string, number or Buffer');
    }
    return this.pool.run((c) => c.call(name, ...args));
  }

  /** Call from the owning loop. */
  async health(): Promise<StoreHealth> {
    const start = performance.now();
    try {
      await this.pool.run((c) => c.ping());
      return { ok: true, latencyMs: performance.now() - start };
    } catch (err) {
      return { ok: false, error: err as PolyloopError };
    }
  }

  /** Closes idle connections now and busy ones when their command ends. Call from the owning loop. */
  close(): Promise<void> {
    clearInterval(this.sweeper);
    return this.pool.close();
  }

  private prune(c: Redis, keys: string[]): Promise<unknown> {
    return c.eval(PRUNE, 2, this.index, this.expiry, `${this.namespace}kv:`, ...keys);
  }

  /** Drops the index entries of keys that expired (a bounded amount per run). */
  private sweep(): void {
    this.pool
      .run(async (c) => {
        for (let round = 0; round < 16; round++) {
          const due = await c.zrangebyscore(
            this.expiry,
            '-inf',
            Date.now(),
            'LIMIT',
            0,
            SCAN_BATCH,
          );
          if (due.length > 0) await this.prune(c, due);
          if (due.length < SCAN_BATCH) break;
        }
      })
      .catch(() => {});
  }

  private dataKey(key: string): string {
    return `${this.namespace}kv:${key}`;
  }

  private async connect(): Promise<Pooled<Redis>> {
    redisModule ??= import('ioredis');
    const { Redis } = await redisModule;
    const client = new Redis(this.config);
    const pooled: Pooled<Redis> = { client, broken: false };
    // Without an 'error' listener ioredis prints every failure; the pool replaces the client.
    client.on('error', () => (pooled.broken = true));
    client.on('end', () => (pooled.broken = true));
    try {
      await client.connect();
    } catch (err) {
      client.disconnect();
      throw err;
    }
    return pooled;
  }
}

/** The replies of a MULTI, or the first error among them. */
function checkReplies(replies: [Error | null, unknown][] | null): unknown[] {
  if (replies === null) throw new Error('transaction aborted');
  return replies.map(([err, value]) => {
    if (err !== null) throw err;
    return value;
  });
}

function noSql(): PolyloopError {
  return createError(
    'PL_ERR_STORE',
    'redis store runs no SQL: use get/set/delete/scan, or command() for other Redis commands',
  );
}

function checkOptions(o: RedisStoreOptions): void {
  for (const k of ['connectTimeout', 'commandTimeout', 'sweepInterval'] as const) {
    const v = o[k];
    if (
      v !== undefined &&
      !(Number.isInteger(v) && v >= (k === 'sweepInterval' ? 0 : 1) && v <= 2 ** 31 - 1)
    )
      throw invalidArg(k, v, 'a positive integer number of ms');
  }
  if (o.namespace !== undefined && typeof o.namespace !== 'string')
    throw invalidArg('namespace', o.namespace, 'a string');
}
