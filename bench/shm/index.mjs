// Operations per second of the shared-memory lock and counters, with 1, 2 and 4 threads at once.
//
//   counters: each thread adds 1 to a counter, N times
//     rows    SharedCounters: each thread its own row (seqlocked 53-bit values)
//     atomic  Atomics.add on one shared int32 word: every thread on the same cache line
//   rwlock: each thread takes and gives back a lock N times, reading a 16-word record inside
//     read    RwLock readLock/readUnlock (readers share the lock)
//     write   RwLock writeLock/writeUnlock (writers take turns): what an exclusive lock costs
//
// Threads are worker threads (shm/worker.mjs) in this process, started together; the clock runs
// from the go signal to the last thread's end. With more threads than cores they take turns.
//
//   node bench/run.mjs shm [--quick] [--threads 1,2,4] [--ops N] [--build] [--out FILE]
import { Worker } from 'node:worker_threads';
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
  writeResults,
} from '../lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const VARIANTS = [
  ['counters', 'rows'],
  ['counters', 'atomic'],
  ['rwlock', 'read'],
  ['rwlock', 'write'],
];

export async function main(argv) {
  const { values, common } = parseOptions(
    argv,
    { threads: { type: 'string', default: '1,2,4' }, ops: { type: 'string' } },
    path.resolve(here, '../results/shm.json'),
  );
  const threads = list(values.threads).map((x) => positiveInt('threads', x));
  const ops =
    values.ops !== undefined ? positiveInt('ops', values.ops) : values.quick ? 200_000 : 1_000_000;
  ensureBuilt('shm', path.join(root, 'dist/src/index.js'), common.build);
  const runs = [];
  for (const [bench, variant] of VARIANTS) {
    for (const n of threads) {
      const r = await measure(bench, variant, n, ops);
      process.stderr.write(`shm: ${bench} ${variant} x${n}: ${num(r.opsPerSec / 1e6, 2)} M op/s\n`);
      runs.push(r);
    }
  }
  const find = (b, v, n) => runs.find((r) => r.bench === b && r.variant === v && r.threads === n);
  const rows = runs.map((r) => [
    r.bench,
    r.variant,
    String(r.threads),
    num(r.opsPerSec / 1e6, 2),
    num(1e9 / (r.opsPerSec / r.threads), 0),
  ]);
  const ratios = threads.map((n) => ({
    threads: n,
    rowsOverAtomic: ratio(
      find('counters', 'rows', n)?.opsPerSec,
      find('counters', 'atomic', n)?.opsPerSec,
    ),
    readOverWrite: ratio(
      find('rwlock', 'read', n)?.opsPerSec,
      find('rwlock', 'write', n)?.opsPerSec,
    ),
  }));
  const lines = grid(['bench', 'variant', 'threads', 'M op/s', 'ns/op/thread'], rows, 2);
  for (const r of ratios) {
    lines.push(
      `${r.threads} thread(s): counters rows/atomic ${num(r.rowsOverAtomic, 2)}, rwlock read/write ${num(r.readOverWrite, 2)}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  writeResults('shm', common.out, {
    benchmark: 'shm',
    date: new Date().toISOString(),
    machine: machine(),
    params: { threads, ops },
    runs,
    ratios,
  });
  return 0;
}

async function measure(bench, variant, threads, ops) {
  const { RwLock, SharedCounters } = await import('../../dist/src/index.js');
  const shared = {
    counters: SharedCounters.create({ names: ['n'], slots: threads }).buffer,
    word: new SharedArrayBuffer(64),
    lock: new RwLock().buffer,
    record: new SharedArrayBuffer(64),
    go: new SharedArrayBuffer(4),
  };
  const workers = Array.from(
    { length: threads },
    () =>
      new Worker(path.join(here, 'worker.mjs'), { workerData: { bench, variant, ops, ...shared } }),
  );
  try {
    await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r)))); // ready
    const done = Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
    const t0 = process.hrtime.bigint();
    const go = new Int32Array(shared.go);
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
    const results = await done;
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const total = threads * ops;
    const check =
      bench === 'counters'
        ? variant === 'rows'
          ? SharedCounters.from(shared.counters).total('n')
          : Atomics.load(new Int32Array(shared.word), 0)
        : results.reduce((a, b) => a + b, 0);
    if (check !== total) throw new Error(`${bench} ${variant}: counted ${check}, want ${total}`);
    return { bench, variant, threads, ops, seconds, opsPerSec: total / seconds };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
