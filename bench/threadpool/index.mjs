// Tasks per second through a thread pool: polyloop's ThreadPool against piscina, both with the
// same number of threads (2), minThreads = maxThreads, no queue limit. Two workloads:
//   tiny    `x => x + 1`: the pool's own cost per task (dispatch, one message each way, settle);
//   buffer  a 64 KiB ArrayBuffer moved to the worker in transferList and moved back.
// The driver keeps DEPTH tasks in flight (1: one round trip at a time; 64: a busy server) until
// COUNT have completed, each result checked. Every measurement runs in a fresh process pinned
// with `taskset -c CPUS` (the pool's threads share those cores with the driver), after a warm-up
// of COUNT/10 tasks. Rounds alternate which pool goes first; the table shows medians.
//
// `--impls` may add `polyloop-atomics` (ThreadPool with `atomics: true`: idle workers sleep in
// Atomics.wait, as piscina's do) and `process` (polyloop's ProcessPool), for reference.
//
//   node bench/run.mjs threadpool [--quick] [--impls polyloop,piscina] [--workloads tiny,buffer]
//       [--depths 1,64] [--rounds 3] [--count N] [--threads 2] [--cpus 0-1] [--build] [--out FILE]
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ensureBuilt,
  errorMessage,
  finish,
  grid,
  guarded,
  list,
  machine,
  num,
  parseOptions,
  positiveInt,
  ratio,
  root,
  spawnPinned,
  tail,
  writeResults,
} from '../lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const IMPLS = ['polyloop', 'piscina', 'polyloop-atomics', 'process'];
const WORKLOADS = ['tiny', 'buffer'];
/** The goal reported (never enforced): polyloop ≥ 1.0× piscina in every cell. */
const GOAL = 1.0;

export async function main(argv) {
  const opts = options(argv);
  ensureBuilt('threadpool', path.join(root, 'dist/src/index.js'), opts.build);
  return guarded('threadpool', 'runs stopped', () => run(opts));
}

function options(argv) {
  const { values, common } = parseOptions(
    argv,
    {
      impls: { type: 'string', default: 'polyloop,piscina' },
      workloads: { type: 'string', default: WORKLOADS.join(',') },
      depths: { type: 'string', default: '1,64' },
      rounds: { type: 'string', default: '3' },
      count: { type: 'string' },
      threads: { type: 'string', default: '2' },
      cpus: { type: 'string' },
    },
    path.resolve(here, '../results/threadpool.json'),
  );
  const impls = list(values.impls);
  for (const i of impls) if (!IMPLS.includes(i)) throw new Error(`--impls: unknown ${i}`);
  const workloads = list(values.workloads);
  for (const w of workloads)
    if (!WORKLOADS.includes(w)) throw new Error(`--workloads: unknown ${w}`);
  const cores = os.availableParallelism();
  return {
    build: common.build,
    out: common.out,
    quick: values.quick,
    impls,
    workloads,
    depths: list(values.depths).map((d) => positiveInt('depths', d)),
    rounds: positiveInt('rounds', values.quick ? '1' : values.rounds),
    count: values.count === undefined ? undefined : positiveInt('count', values.count),
    threads: positiveInt('threads', values.threads),
    cpus: values.cpus ?? `0-${Math.min(cores, 2) - 1}`,
  };
}

/** Tasks per measurement: enough for about a second at the rates seen here. */
function countFor(opts, impl, workload, depth) {
  if (opts.count !== undefined) return opts.count;
  if (impl === 'process') return Math.round(countFor(opts, 'polyloop', workload, depth) / 20);
  const base =
    workload === 'tiny' ? (depth === 1 ? 40_000 : 200_000) : depth === 1 ? 20_000 : 50_000;
  return opts.quick ? Math.round(base / 5) : base;
}

async function run(opts) {
  // Recorded with the results: other load on the machine shows up in every number.
  opts.loadBefore = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const runs = [];
  for (const workload of opts.workloads) {
    for (const depth of opts.depths) {
      for (let round = 0; round < opts.rounds; round++) {
        const order = round % 2 === 0 ? opts.impls : [...opts.impls].reverse();
        for (const impl of order) {
          const r = await measure(
            opts,
            impl,
            workload,
            depth,
            countFor(opts, impl, workload, depth),
          );
          process.stderr.write(
            `threadpool: ${workload} depth ${depth} ${impl} round ${round + 1}: ` +
              `${r.tasksPerSec === undefined ? r.error : Math.round(r.tasksPerSec)} tasks/s\n`,
          );
          runs.push({ workload, depth, impl, round: round + 1, ...r });
        }
      }
    }
  }
  return report(opts, runs);
}

async function measure(opts, impl, workload, depth, count) {
  const argv = [
    process.execPath,
    path.join(here, 'run-one.mjs'),
    impl,
    workload,
    String(depth),
    String(count),
    String(opts.threads),
  ];
  const proc = spawnPinned(opts.cpus, argv, process.env);
  const status = await finish(proc, 300);
  try {
    if (status !== 0) throw new Error(`exited with ${status}${tail(proc.stderr)}`);
    return JSON.parse(proc.stdout.trim().split('\n').pop());
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function report(opts, runs) {
  const cells = [];
  for (const workload of opts.workloads) {
    for (const depth of opts.depths) {
      const rate = (impl) =>
        median(
          runs
            .filter((r) => r.workload === workload && r.depth === depth && r.impl === impl)
            .map((r) => r.tasksPerSec),
        );
      const rates = Object.fromEntries(opts.impls.map((impl) => [impl, rate(impl)]));
      cells.push({
        workload,
        depth,
        ...rates,
        ratio: ratio(rates.polyloop, rates.piscina),
      });
    }
  }
  const head = [
    'workload',
    'depth',
    ...opts.impls.map((i) => `${i === 'process' ? 'ProcessPool' : i} tasks/s`),
    'polyloop/piscina',
  ];
  const body = cells.map((c) => [
    c.workload,
    String(c.depth),
    ...opts.impls.map((i) => num(c[i], 0)),
    num(c.ratio, 2),
  ]);
  const lines = grid(head, body, 2);
  const met = cells.every((c) => c.ratio !== null && c.ratio >= GOAL);
  lines.push(
    `goal: polyloop ≥ ${GOAL.toFixed(1)}× piscina in every cell: ${met ? 'met' : 'NOT met'}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  writeResults('threadpool', opts.out, {
    benchmark: 'threadpool',
    date: new Date().toISOString(),
    machine: { ...machine(), loadavgBefore: opts.loadBefore },
    peers: { piscina: piscinaVersion() },
    params: {
      impls: opts.impls,
      threads: opts.threads,
      cpus: opts.cpus,
      rounds: opts.rounds,
      depths: opts.depths,
      workloads: opts.workloads,
      bytes: 64 * 1024,
    },
    runs,
    cells,
    goal: `polyloop ≥ ${GOAL}× piscina tasks/s in every cell`,
  });
  return runs.some((r) => r.error !== undefined) ? 1 : 0;
}

function piscinaVersion() {
  try {
    // Read, not imported: the harness itself never loads piscina.
    const pkg = readFileSync(path.join(here, '../node_modules/piscina/package.json'), 'utf8');
    return JSON.parse(pkg).version;
  } catch {
    return 'unknown';
  }
}
