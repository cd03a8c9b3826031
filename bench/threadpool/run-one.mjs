// One measurement in a fresh process: `node run-one.mjs IMPL WORKLOAD DEPTH COUNT THREADS`,
// IMPL one of polyloop (ThreadPool), polyloop-atomics (ThreadPool with atomics: true), piscina,
// process (polyloop's ProcessPool).
// Starts the pool, warms it up, then keeps DEPTH tasks in flight until COUNT have completed,
// and prints one JSON line: { tasks, seconds, tasksPerSec }.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const [impl, workload, depthText, countText, threadsText] = process.argv.slice(2);
const depth = Number(depthText);
const count = Number(countText);
const threads = Number(threadsText);
const BYTES = 64 * 1024;

const filename = path.join(
  here,
  'tasks',
  workload === 'tiny' ? 'tiny.mjs' : `buffer-${impl === 'piscina' ? 'piscina' : 'polyloop'}.mjs`,
);
// Same thread count, no idle exits, no queue limit for either (the window bounds the queue).
const options = {
  filename,
  minThreads: threads,
  maxThreads: threads,
  maxQueue: Infinity,
  idleTimeout: 60_000,
};
let pool;
if (impl === 'polyloop' || impl === 'polyloop-atomics') {
  const { ThreadPool } = await import('../../dist/src/index.js');
  pool = new ThreadPool({ ...options, atomics: impl === 'polyloop-atomics' });
} else if (impl === 'process') {
  const { ProcessPool } = await import('../../dist/src/index.js');
  pool = new ProcessPool(options);
} else {
  const { default: Piscina } = await import('piscina');
  pool = new Piscina(options);
}

function submit(i) {
  if (workload === 'tiny') return pool.run(i);
  const buf = new ArrayBuffer(BYTES);
  return pool.run(buf, { transferList: [buf] });
}

/** Keeps `depth` tasks in flight until `n` completed; checks every result. */
function drive(n) {
  return new Promise((resolve, reject) => {
    let started = 0;
    let done = 0;
    const next = () => {
      if (started === n) return;
      const i = started++;
      submit(i).then((r) => {
        const ok = workload === 'tiny' ? r === i + 1 : r.byteLength === BYTES;
        if (!ok) reject(new Error(`task ${i}: wrong result ${String(r)}`));
        else if (++done === n) resolve();
        else next();
      }, reject);
    };
    for (let k = 0; k < Math.min(depth, n); k++) next();
  });
}

await drive(Math.max(1000, Math.floor(count / 10)));
const t0 = process.hrtime.bigint();
await drive(count);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
await pool.destroy();
process.stdout.write(
  `${JSON.stringify({ tasks: count, seconds, tasksPerSec: count / seconds })}\n`,
);
