// The SQLite thread: owns one better-sqlite3 connection and answers batches of requests from one
// SqliteStore, in order. Everything here blocks, which is why it runs off the IO loop.
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { SqlParam } from './store.js';

/** What the store passes as `workerData`. */
export interface SqliteWorkerConfig {
  path: string;
  busyTimeout: number;
  statementCache: number;
  sweepInterval: number;
}

/**
 * Requests: `[op, ...args]`. Replies, in request order: `[0, result]` or `[1, failure]`.
 * `get [key]` → JSON text | null; `set [key, json, ttlMs | null]`; `del [key]` → boolean;
 * `scan [from, to | null, limit]` → [key, json][]; `query|exec [sql, params]`; `ping []`.
 */
export type SqliteRequest =
  | ['get', string]
  | ['set', string, string, number | null]
  | ['del', string]
  | ['scan', string, string | null, number]
  | ['query', string, SqlParam[]]
  | ['exec', string, SqlParam[]]
  | ['ping'];

export interface SqliteFailure {
  /** True when the database file cannot be used (busy past the timeout, I/O, cannot open). */
  unavailable: boolean;
  message: string;
  code: string | undefined;
}

export type SqliteReply = [0, unknown] | [1, SqliteFailure];

/** Messages from the store: a batch of requests, or 'close'. */
export type SqliteInbound = SqliteRequest[] | 'close';
/** Messages to the store: 'ready' once open, a failure if opening failed, or a batch of replies. */
export type SqliteOutbound = ['ready'] | ['failed', SqliteFailure] | SqliteReply[];

// The key column's BINARY collation compares UTF-8 bytes, the order scan promises.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS polyloop_kv (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL,
  expires_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS polyloop_kv_expires ON polyloop_kv (expires_at)
  WHERE expires_at IS NOT NULL;
`;

/** SQLite result codes that mean "the database cannot serve now", not "this request is wrong". */
const UNAVAILABLE =
  /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|READONLY|CORRUPT|NOTADB|PROTOCOL|NOMEM|PERM)/;

function failure(err: unknown): SqliteFailure {
  const code = (err as { code?: unknown }).code;
  const c = typeof code === 'string' ? code : undefined;
  return {
    unavailable: c !== undefined && UNAVAILABLE.test(c),
    message: err instanceof Error ? err.message : String(err),
    code: c,
  };
}

function bind(params: SqlParam[]): unknown[] {
  return params.map((p) =>
    typeof p === 'boolean'
      ? p
        ? 1
        : 0
      : p instanceof Uint8Array && !Buffer.isBuffer(p)
        ? Buffer.from(p.buffer, p.byteOffset, p.byteLength)
        : p,
  );
}

/**
 * better-sqlite3 is not N-API: its binary loads only in the Node ABI it was built for. A binary
 * for this ABI made by scripts/build-sqlite-abi.mjs wins over the one `npm install` built.
 */
function nativeBinding(): string | undefined {
  const main = createRequire(import.meta.url).resolve('better-sqlite3');
  const file = join(
    dirname(main),
    '..',
    'build',
    `node-abi-${process.versions.modules}`,
    'better_sqlite3.node',
  );
  return existsSync(file) ? file : undefined;
}

function serve(config: SqliteWorkerConfig): void {
  const port = parentPort!;
  let db: Database.Database;
  try {
    if (config.path !== ':memory:') mkdirSync(dirname(config.path), { recursive: true });
    const binding = nativeBinding();
    db = new Database(config.path, {
      timeout: config.busyTimeout,
      ...(binding === undefined ? {} : { nativeBinding: binding }),
    });
    // WAL lets readers in other threads and processes go on while one writes.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(SCHEMA);
  } catch (err) {
    port.postMessage(['failed', failure(err)] satisfies SqliteOutbound);
    port.close();
    return;
  }

  const kvGet = db
    .prepare(
      'SELECT value FROM polyloop_kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)',
    )
    .pluck();
  const kvSet = db.prepare(
    'INSERT INTO polyloop_kv (key, value, expires_at) VALUES (?, ?, ?) ' +
      'ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
  );
  const kvDel = db.prepare('DELETE FROM polyloop_kv WHERE key = ? RETURNING expires_at').pluck();
  const kvScan = db
    .prepare(
      'SELECT key, value FROM polyloop_kv WHERE key >= ? ' +
        'AND (expires_at IS NULL OR expires_at > ?) ORDER BY key LIMIT ?',
    )
    .raw();
  const kvScanRange = db
    .prepare(
      'SELECT key, value FROM polyloop_kv WHERE key >= ? AND key < ? ' +
        'AND (expires_at IS NULL OR expires_at > ?) ORDER BY key LIMIT ?',
    )
    .raw();
  const kvSweep = db.prepare('DELETE FROM polyloop_kv WHERE expires_at <= ?');
  const ping = db.prepare('SELECT 1').pluck();

  // Prepared statements by SQL text, least recently used first (a Map keeps insertion order).
  const cache = new Map<string, Database.Statement>();
  const statement = (sql: string): Database.Statement => {
    let stmt = cache.get(sql);
    if (stmt !== undefined) {
      cache.delete(sql);
    } else {
      stmt = db.prepare(sql);
      if (cache.size >= config.statementCache) cache.delete(cache.keys().next().value!);
    }
    cache.set(sql, stmt);
    return stmt;
  };

  const handle = (req: SqliteRequest): unknown => {
    const now = Date.now();
    switch (req[0]) {
      case 'get':
        return kvGet.get(req[1], now) ?? null;
      case 'set':
        kvSet.run(req[1], req[2], req[3] === null ? null : now + req[3]);
        return null;
      case 'del': {
        const expires = kvDel.all(req[1]) as (number | null)[];
        return expires.some((e) => e === null || e > now);
      }
      case 'scan':
        return req[2] === null
          ? kvScan.all(req[1], now, req[3])
          : kvScanRange.all(req[1], req[2], now, req[3]);
      case 'query': {
        const stmt = statement(req[1]);
        if (stmt.reader) return stmt.all(...bind(req[2]));
        stmt.run(...bind(req[2]));
        return [];
      }
      case 'exec':
        return { changes: statement(req[1]).run(...bind(req[2])).changes };
      case 'ping':
        return ping.get();
    }
  };

  const sweep = (): void => {
    try {
      kvSweep.run(Date.now());
    } catch {
      // Busy with another writer: the next sweep will do it; reads already skip expired rows.
    }
  };
  sweep();
  const sweeper = config.sweepInterval > 0 ? setInterval(sweep, config.sweepInterval) : undefined;

  port.on('message', (msg: SqliteInbound) => {
    if (msg === 'close') {
      clearInterval(sweeper);
      db.close();
      port.close();
      return;
    }
    const replies: SqliteReply[] = new Array<SqliteReply>(msg.length);
    for (let i = 0; i < msg.length; i++) {
      try {
        replies[i] = [0, handle(msg[i]!)];
      } catch (err) {
        replies[i] = [1, failure(err)];
      }
    }
    port.postMessage(replies satisfies SqliteOutbound);
  });
  port.postMessage(['ready'] satisfies SqliteOutbound);
}

if (parentPort !== null) serve(workerData as SqliteWorkerConfig);
