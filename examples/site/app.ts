// The demo site's app module: `serve()` loads it in every loop, and each loop opens its own store
// (every SQLite loop opens the same file: WAL lets them share it) and its own small thread pool
// for scrypt. `polyloop site` passes the options as `args`; see docs/demo-site.md.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  defaultLogger,
  PostgresStore,
  RedisStore,
  SqliteStore,
  ThreadPool,
  type HttpApp,
  type LoopInfo,
  type Store,
} from '../../src/index.js';
import type { HashTask } from './hash-task.js';
import { createSite } from './site.js';

export type StoreKind = 'sqlite' | 'postgres' | 'redis';

/** What `polyloop site` hands every loop (structured-cloned). */
export interface SiteArgs {
  store: StoreKind;
  /** SQLite: the folder of `site.db`. */
  data: string;
  /** PostgreSQL: `postgres://user:pass@host:port/db`. */
  pgUrl?: string;
  /** Redis: `redis://[user:pass@]host:port[/db]`. */
  redisUrl?: string;
  /** The static site's folder. */
  publicDir: string;
}

/** The SQLite file under the data folder. */
export const SQLITE_FILE = 'site.db';

/** Opens the store named by `args`. Network stores connect on first use, so a server that is down does not stop start-up. */
export async function openStore(args: SiteArgs): Promise<Store> {
  switch (args.store) {
    case 'sqlite':
      return SqliteStore.open({ path: join(args.data, SQLITE_FILE) });
    case 'postgres':
      return PostgresStore.open({
        connectionString: args.pgUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres',
        connectTimeout: 2000,
        queryTimeout: 10_000,
        pool: { acquireTimeout: 2000 },
      });
    case 'redis':
      return RedisStore.open(redisOptions(args.redisUrl ?? 'redis://127.0.0.1:6379'));
  }
}

function redisOptions(url: string): ConstructorParameters<typeof RedisStore>[0] {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port === '' ? 6379 : Number(u.port),
    ...(u.username !== '' ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password !== '' ? { password: decodeURIComponent(u.password) } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    namespace: 'site:',
    connectTimeout: 2000,
    commandTimeout: 5000,
    pool: { acquireTimeout: 2000 },
  };
}

/** What this thread opened: closed by `closeSite`. */
const opened = new Set<{ close(): Promise<void> }>();

/**
 * Closes the stores and pools the site opened on this thread. A loop on a worker thread needs
 * none of this (its threads and sockets end with it); a loop on the main thread (the reactor
 * model) does, or idle database connections would keep the process alive after the server
 * closed. Call after the server has closed, on the same thread.
 */
export async function closeSite(): Promise<void> {
  const all = [...opened];
  opened.clear();
  await Promise.allSettled(all.map((r) => r.close()));
}

/** Per loop: its store, a scrypt pool sharing the cores with the other loops, and the site. */
export default async function site(loop: LoopInfo): Promise<HttpApp> {
  const args = loop.args as SiteArgs;
  const store = await openStore(args);
  opened.add(store);
  const pool = new ThreadPool<HashTask, string | boolean>({
    filename: new URL('./hash-task.js', import.meta.url),
    // Started on the first login, not at start-up; idle threads leave after 30 s.
    minThreads: 0,
    maxThreads: Math.max(1, Math.floor(availableParallelism() / loop.count)),
    maxQueue: 256,
  });
  opened.add(pool);
  return createSite({
    store,
    hash: (task) => pool.run(task, { timeout: 10_000 }),
    publicDir: args.publicDir,
    logger: defaultLogger(),
  });
}
