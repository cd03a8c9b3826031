// Requests per second through SqliteStore (SQLite on its own thread, requests batched per tick)
// against better-sqlite3 called directly on the loop (the ceiling: no thread hop, but every call
// blocks the loop). Ops: kv get, kv set (upsert, WAL, synchronous=NORMAL) and a parameterized
// SQL point query, over a table of --keys keys. The store runs with 1 request in flight (each
// awaited: the round-trip cost) and with --depth in flight (what a busy loop sees).
//
// Everything runs in this process: the loop thread and the SQLite thread share the machine's
// cores (no per-thread pinning). Variants of one op run back to back; compare the ratios.
//
// With --outage it also starts a throwaway PostgreSQL and Redis (the test helpers in
// dist/test/storage/servers.js), stops each and times how long a call takes to reject with
// PL_ERR_STORE_UNAVAILABLE while it is down, and how long after a restart the first call works.
//
//   node bench/run.mjs storage [--quick] [--seconds 5] [--keys 10000] [--depth 64]
//       [--ops get,set,query] [--outage] [--build] [--out FILE]
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ensureBuilt,
  grid,
  list,
  machine,
  num,
  parseOptions,
  positiveInt,
  ratio,
  root,
  round,
  writeResults,
} from '../lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const OPS = ['get', 'set', 'query'];
const QUERY = 'SELECT value FROM polyloop_kv WHERE key = ?';

export async function main(argv) {
  const opts = options(argv);
  ensureBuilt('storage', path.join(root, 'dist/src/index.js'), opts.build);
  const { SqliteStore } = await import('../../dist/src/index.js');
  const Database = createRequire(path.join(root, 'package.json'))('better-sqlite3');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'polyloop-bench-storage-'));
  try {
    const file = path.join(dir, 'bench.db');
    const store = await SqliteStore.open({ path: file });
    const keys = Array.from({ length: opts.keys }, (_, i) => `user:${i}`);
    await Promise.all(keys.map((k, i) => store.set(k, { id: i, name: `name ${i}` })));
    const runs = [];
    for (const op of opts.ops) {
      runs.push(await timed(op, 'direct', opts.seconds, directRunner(Database, file, op, keys)));
      runs.push(await timed(op, 'store-1', opts.seconds, storeRunner(store, op, keys, 1)));
      runs.push(
        await timed(
          op,
          `store-${opts.depth}`,
          opts.seconds,
          storeRunner(store, op, keys, opts.depth),
        ),
      );
    }
    await store.close();
    const outages = opts.outage ? await outage() : [];
    report(opts, runs, outages);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

function options(argv) {
  const { values, common } = parseOptions(
    argv,
    {
      keys: { type: 'string', default: '10000' },
      depth: { type: 'string', default: '64' },
      ops: { type: 'string', default: OPS.join(',') },
      outage: { type: 'boolean', default: false },
    },
    path.resolve(here, '../results/storage.json'),
  );
  const ops = list(values.ops);
  for (const o of ops) if (!OPS.includes(o)) throw new Error(`--ops: unknown ${o}`);
  return {
    seconds: common.seconds,
    build: common.build,
    out: common.out,
    keys: positiveInt('keys', values.keys),
    depth: positiveInt('depth', values.depth),
    ops,
    outage: values.outage,
  };
}

/** Runs `runner(deadline)` (which returns how many requests it completed) for `seconds`. */
async function timed(op, variant, seconds, runner) {
  const t0 = process.hrtime.bigint();
  const deadline = performance.now() + seconds * 1000;
  const count = await runner(deadline);
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const r = { op, variant, requests: count, seconds: elapsed, perSec: count / elapsed };
  process.stderr.write(`storage: ${op} ${variant}: ${Math.round(r.perSec)} req/s\n`);
  return r;
}

/** better-sqlite3 on this thread, the same statements the store's thread runs. */
function directRunner(Database, file, op, keys) {
  return async (deadline) => {
    const db = new Database(file, { timeout: 5000 });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    const get = db
      .prepare(
        'SELECT value FROM polyloop_kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)',
      )
      .pluck();
    const set = db.prepare(
      'INSERT INTO polyloop_kv (key, value, expires_at) VALUES (?, ?, ?) ' +
        'ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
    );
    const query = db.prepare(QUERY);
    let n = 0;
    while (performance.now() < deadline) {
      // Check the clock once per 256 requests, as the store variants do per batch.
      for (let j = 0; j < 256; j++, n++) {
        const key = keys[n % keys.length];
        if (op === 'get') JSON.parse(get.get(key, Date.now()));
        else if (op === 'set') set.run(key, JSON.stringify({ id: n, name: `name ${n}` }), null);
        else query.all(key);
      }
      await null;
    }
    db.close();
    return n;
  };
}

/** `depth` independent callers, each awaiting one request at a time. */
function storeRunner(store, op, keys, depth) {
  let n = 0;
  const one = (i) => {
    const key = keys[i % keys.length];
    if (op === 'get') return store.get(key);
    if (op === 'set') return store.set(key, { id: i, name: `name ${i}` });
    return store.query(QUERY, [key]);
  };
  return async (deadline) => {
    const caller = async () => {
      while (performance.now() < deadline) await one(n++);
    };
    await Promise.all(Array.from({ length: depth }, caller));
    return n;
  };
}

/** Per network store: ms per rejected call while its server is down, ms to work after restart. */
async function outage() {
  const { PostgresStore, RedisStore } = await import('../../dist/src/index.js');
  const servers = await import('../../dist/test/storage/servers.js');
  const out = [];
  const pgBins = servers.findPostgres();
  const redis = servers.findRedis();
  const plans = [
    typeof pgBins === 'string'
      ? undefined
      : [
          'postgres',
          () => servers.startPostgres(pgBins),
          (s) => PostgresStore.open({ host: s.host, port: s.port, user: 'postgres' }),
        ],
    typeof redis === 'string'
      ? undefined
      : [
          'redis',
          () => servers.startRedis(redis.bin),
          (s) => RedisStore.open({ host: s.host, port: s.port }),
        ],
  ];
  for (const plan of plans) {
    if (plan === undefined) continue;
    const [kind, start, open] = plan;
    const server = await start();
    try {
      const store = await open(server);
      await store.set('k', 1);
      await server.stop();
      const times = [];
      for (let i = 0; i < 101; i++) {
        const t = performance.now();
        const err = await store.get('k').then(
          () => undefined,
          (e) => e,
        );
        if (err?.code !== 'PL_ERR_STORE_UNAVAILABLE')
          throw new Error(`${kind}: expected unavailable`);
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      await server.start();
      const t = performance.now();
      while (
        !(await store.get('k').then(
          () => true,
          () => false,
        ))
      )
        await new Promise((r) => setTimeout(r, 5));
      const recoverMs = performance.now() - t;
      await store.close();
      const r = { kind, downMedianMs: times[50], downMaxMs: times[100], recoverMs };
      process.stderr.write(`storage: outage ${kind}: ${JSON.stringify(r)}\n`);
      out.push(r);
    } finally {
      await server.dispose();
    }
  }
  return out;
}

function report(opts, runs, outages) {
  const base = (op) => runs.find((r) => r.op === op && r.variant === 'direct')?.perSec;
  const rows = runs.map((r) => [
    r.op,
    r.variant,
    num(r.perSec, 0),
    num(1e6 / r.perSec, 1),
    num(ratio(r.perSec, base(r.op)) ?? undefined, 3),
  ]);
  const lines = grid(['op', 'variant', 'req/s', 'µs/req', 'vs direct'], rows, 2);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (outages.length > 0) {
    const o = grid(
      ['store', 'down: median ms', 'down: max ms', 'restart to first success ms'],
      outages.map((r) => [
        r.kind,
        num(r.downMedianMs, 2),
        num(r.downMaxMs, 2),
        num(r.recoverMs, 1),
      ]),
      1,
    );
    process.stdout.write(`\n${o.join('\n')}\n`);
  }
  writeResults('storage', opts.out, {
    benchmark: 'storage',
    command: `node bench/run.mjs storage --seconds ${opts.seconds} --keys ${opts.keys} --depth ${opts.depth} --ops ${opts.ops.join(',')}${opts.outage ? ' --outage' : ''}`,
    machine: machine(),
    notes:
      'direct: better-sqlite3 on the loop thread (blocks it). store-1: SqliteStore, each request awaited. ' +
      `store-${opts.depth}: ${opts.depth} requests in flight, sent to the SQLite thread in batches.`,
    runs: runs.map((r) => ({
      ...r,
      perSec: Math.round(r.perSec),
      ratioToDirect: ratio(r.perSec, base(r.op)),
    })),
    outages: outages.map((r) => ({
      kind: r.kind,
      downMedianMs: round(r.downMedianMs, 3),
      downMaxMs: round(r.downMaxMs, 3),
      recoverMs: round(r.recoverMs, 1),
    })),
  });
}
