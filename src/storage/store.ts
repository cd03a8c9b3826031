import {
  createError,
  describe,
  invalidArg,
  isPolyloopError,
  type PolyloopError,
} from '../errors.js';

/** A value the key-value side stores: anything JSON can carry, kept as JSON text. */
export type StoreValue =
  null | boolean | number | string | StoreValue[] | { [key: string]: StoreValue };

/** One SQL parameter. Booleans become 1/0 where the database has no boolean type. */
export type SqlParam = null | boolean | number | bigint | string | Uint8Array;

export interface SetOptions {
  /** The key expires this many ms after the write. Default: never. */
  ttlMs?: number;
}

export interface ScanOptions {
  /** At most this many entries. Default: all. */
  limit?: number;
}

export interface StoreEntry<V = StoreValue> {
  key: string;
  value: V;
}

export interface ExecResult {
  /** Rows inserted, updated or deleted by the statement. */
  changes: number;
}

export interface StoreHealth {
  ok: boolean;
  /** Round trip of a trivial request, in ms (when `ok`). */
  latencyMs?: number;
  /** Why it is not ok: `PL_ERR_STORE_UNAVAILABLE` with the driver's error as `cause`. */
  error?: PolyloopError;
}

/**
 * The storage unit's interface: keys and JSON values with optional expiry, plus parameterized
 * SQL where the database speaks it. Every method is asynchronous and never blocks the loop.
 *
 * Failures are explicit: `PL_ERR_STORE_UNAVAILABLE` when the database cannot be reached (answer
 * 503; the store reconnects by itself), `PL_ERR_STORE` when it rejected the request, both with
 * the driver's error as `cause`; `PL_ERR_INVALID_ARG` (a rejection too) for a bad argument.
 *
 * An instance belongs to the loop that opened it: call its methods from that loop only. Every
 * loop (thread or process) opens its own.
 */
export interface Store {
  /** `'sqlite'`, `'postgres'` or `'redis'`. */
  readonly kind: string;
  /** False for stores that run no SQL: `query` and `exec` reject with `PL_ERR_STORE`. */
  readonly sql: boolean;
  /** The value of a live key, or `undefined`. `V` is what the caller stored (not checked). */
  get<V = StoreValue>(key: string): Promise<V | undefined>;
  /**
   * Writes (or replaces) a key, optionally expiring after `ttlMs`. `value` is anything JSON can
   * carry (see `StoreValue`); `undefined`, functions and bigints reject with `PL_ERR_INVALID_ARG`.
   */
  set(key: string, value: unknown, options?: SetOptions): Promise<void>;
  /** Removes a key; true when a live key was removed. */
  delete(key: string): Promise<boolean>;
  /** Live entries whose key starts with `prefix`, ordered by key (bytes of its UTF-8). */
  scan<V = StoreValue>(prefix: string, options?: ScanOptions): Promise<StoreEntry<V>[]>;
  /**
   * Runs one statement that returns rows. Values go only in `params` (the database's own
   * placeholders: `?` for SQLite, `$1` for Postgres), never into the SQL text.
   */
  query<Row extends object = Record<string, unknown>>(
    sql: string,
    params?: readonly SqlParam[],
  ): Promise<Row[]>;
  /** Runs one statement for its effect. Parameters as for `query`. */
  exec(sql: string, params?: readonly SqlParam[]): Promise<ExecResult>;
  /** A cheap round trip; resolves (never rejects) with the outcome. */
  health(): Promise<StoreHealth>;
  /** Closes connections and threads; later calls reject with `PL_ERR_STORE_UNAVAILABLE`. */
  close(): Promise<void>;
}

/** Throws `PL_ERR_INVALID_ARG` unless `key` is a non-empty string. */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0)
    throw invalidArg('key', key, 'a non-empty string');
}

/** JSON text of a value, or `PL_ERR_INVALID_ARG` for what JSON cannot carry. */
export function encodeValue(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined || value === undefined)
    throw invalidArg('value', value, 'a JSON value (null, boolean, number, string, array, object)');
  return text;
}

/** The expiry as ms from now, or undefined; `PL_ERR_INVALID_ARG` unless a positive integer. */
export function checkTtl(options: SetOptions | undefined): number | undefined {
  const ttl = options?.ttlMs;
  if (ttl === undefined) return undefined;
  if (!(Number.isSafeInteger(ttl) && ttl > 0))
    throw invalidArg('ttlMs', ttl, 'a positive integer number of ms');
  return ttl;
}

/** The scan limit; `PL_ERR_INVALID_ARG` unless a positive integer. */
export function checkScan(prefix: unknown, options: ScanOptions | undefined): number {
  if (typeof prefix !== 'string') throw invalidArg('prefix', prefix, 'a string');
  const limit = options?.limit;
  if (limit === undefined) return Number.MAX_SAFE_INTEGER;
  if (!(Number.isSafeInteger(limit) && limit > 0))
    throw invalidArg('limit', limit, 'a positive integer');
  return limit;
}

/** Checks SQL and parameters: a string, and an array of scalars (nothing else is accepted). */
export function checkSql(sql: unknown, params: unknown): readonly SqlParam[] {
  if (typeof sql !== 'string' || sql.trim().length === 0)
    throw invalidArg('sql', sql, 'a non-empty string');
  if (params === undefined) return [];
  if (!Array.isArray(params)) throw invalidArg('params', params, 'an array');
  for (let i = 0; i < params.length; i++) {
    const p: unknown = params[i];
    const t = typeof p;
    if (!(
      p === null ||
      t === 'string' ||
      t === 'number' ||
      t === 'bigint' ||
      t === 'boolean' ||
      p instanceof Uint8Array
    ))
      throw invalidArg(`params[${i}]`, p, 'null, a boolean, number, bigint, string or bytes');
  }
  return params as SqlParam[];
}

/**
 * The smallest string above every string that starts with `prefix`, in code point order (which
 * is the byte order of UTF-8): the exclusive upper bound of a prefix range. Undefined when none
 * exists (empty prefix, or one made only of U+10FFFF).
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = [...prefix];
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      // Skip the surrogate range: those code points cannot appear in well-formed text.
      const next = last === 0xd7ff ? 0xe000 : last + 1;
      return points.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

/** Wraps a driver error as `PL_ERR_STORE_UNAVAILABLE` or `PL_ERR_STORE`, keeping ours as they are. */
export function storeError(
  kind: string,
  err: unknown,
  unavailable: (err: unknown) => boolean,
): PolyloopError {
  if (isPolyloopError(err)) {
    if (err.code === 'PL_ERR_STORE' || err.code === 'PL_ERR_STORE_UNAVAILABLE') return err;
    if (err.code === 'PL_ERR_INVALID_ARG') return err;
    return createError('PL_ERR_STORE_UNAVAILABLE', `${kind}: ${err.message}`, err);
  }
  const message = err instanceof Error ? err.message : describe(err);
  return unavailable(err)
    ? createError('PL_ERR_STORE_UNAVAILABLE', `${kind} unavailable: ${message}`, err)
    : createError('PL_ERR_STORE', `${kind}: ${message}`, err);
}

/** `PL_ERR_STORE_UNAVAILABLE` for a call on a closed store. */
export function closedStore(kind: string): PolyloopError {
  return createError('PL_ERR_STORE_UNAVAILABLE', `${kind} store is closed`);
}

/** Node's errno codes that mean the server cannot be reached. */
export const NETWORK_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOENT',
]);
