// The concurrency models side by side: the same two apps under every model of `serve()`, with the
// same number of loops, in one invocation.
//
//   short     connections per second, one request each: wrk -t1 -cC -H 'Connection: close'
//             against the HTTP hello app (hello-app.mjs); the server closes after each response
//   balance   max/min over the loops of the connections each accepted in that run (stats())
//   hand-offs half-sync only: stats().handoffs during the run / seconds (the acceptor's rate)
//   pingpong  MiB/s of bench/pingpong's C client, N sessions x B bytes, against the echo app
//
// The server (server.mjs) may use every core (`taskset -c 0,1` on two cores): models differ in how
// they use more than one. The load clients are pinned to core 0, so they share it with whichever
// loop runs there; the reactor (one loop) gets the other core to itself most of the time. Each
// run starts with an untimed warm-up of the same client. Compare ratios, not absolute numbers.
//
//   node bench/run.mjs models [--seconds 5 | --quick] [--warmup 1] [--loops 2]
//       [--variants reactor,half-sync/thread/ring,...] [--scenarios short,pingpong]
//       [--connections 32] [--sessions 100] [--block 16384] [--repeat 1] [--build] [--out FILE]
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  binDir,
  commandWord as display,
  compileC,
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
  round,
  sleep,
  spawnPinned,
  spawnText,
  startServer,
  stop,
  tail,
  which,
  writeResults,
} from '../lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const serverScript = path.join(here, 'server.mjs');
const wrkScript = path.join(root, 'bench/http/wrk-report.lua');
const pingpongClient = path.join(binDir, 'pingpong-client');
const polyloopDist = path.join(root, 'dist/src/index.js');

/** Every variant: how `serve()` is called (`loops` comes from `--loops` unless fixed here). */
const VARIANTS = {
  reactor: { model: 'reactor', workers: 'main', loops: 1 },
  'half-sync/thread/ring': { model: 'half-sync', workers: 'thread', handoff: 'ring' },
  'half-sync/thread/port': { model: 'half-sync', workers: 'thread', handoff: 'port' },
  'half-sync/process': { model: 'half-sync', workers: 'process' },
  'leader-follower/thread': { model: 'leader-follower', workers: 'thread' },
  'reuse-port/thread': { model: 'reuse-port', workers: 'thread' },
  'reuse-port/process': { model: 'reuse-port', workers: 'process' },
};
const SCENARIOS = ['short', 'pingpong'];
/** Busy time of the machine's cores not spent by the server, the client or interrupts (% of one core) above which a run is flagged. */
const OTHER_LOAD_WARN = 10;
/** Process workers publish their counters every 100 ms: wait this long before reading them. */
const STATS_SETTLE_MS = 300;

export async function main(argv) {
  const opts = options(argv);
  return guarded('models', 'servers and clients stopped', () => run(opts));
}

function options(argv) {
  const { values, common } = parseOptions(
    argv,
    {
      warmup: { type: 'string', default: '1' },
      loops: { type: 'string', default: '2' },
      variants: { type: 'string', default: Object.keys(VARIANTS).join(',') },
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
      connections: { type: 'string', default: '32' },
      sessions: { type: 'string', default: '100' },
      block: { type: 'string', default: '16384' },
      repeat: { type: 'string', default: '1' },
    },
    path.resolve(here, '../results/models.json'),
  );
  const variants = list(values.variants);
  for (const v of variants) {
    if (!(v in VARIANTS))
      throw new Error(`--variants: unknown variant ${v} (${Object.keys(VARIANTS)})`);
  }
  const scenarios = list(values.scenarios);
  for (const s of scenarios) {
    if (!SCENARIOS.includes(s))
      throw new Error(`--scenarios: unknown scenario ${s} (${SCENARIOS})`);
  }
  const warmup = Number(values.warmup);
  if (!(warmup >= 0)) throw new Error(`--warmup: not a number of seconds: ${values.warmup}`);
  // The server gets every core unless told otherwise: the point is how a model uses them.
  const serverCpuGiven = argv.some((a) => a === '--server-cpu' || a.startsWith('--server-cpu='));
  const serverCpu = serverCpuGiven
    ? common.serverCpu
    : [...Array(os.availableParallelism()).keys()].join(',');
  return {
    ...common,
    serverCpu,
    warmup,
    loops: positiveInt('loops', values.loops),
    variants,
    scenarios,
    connections: positiveInt('connections', values.connections),
    sessions: positiveInt('sessions', values.sessions),
    block: positiveInt('block', values.block),
    repeat: positiveInt('repeat', values.repeat),
  };
}

async function run(opts) {
  const env = preflight(opts);
  const runs = [];
  const errors = [];
  const total = opts.repeat * opts.variants.length * opts.scenarios.length;
  let n = 0;
  // Rounds go over every variant in turn, so that drift on a shared machine hits them alike.
  for (let round = 1; round <= opts.repeat; round++) {
    for (const variant of opts.variants) {
      const row = { round, variant, ...spec(variant, opts) };
      for (const scenario of opts.scenarios) {
        const of = opts.repeat > 1 ? ` (round ${round})` : '';
        process.stderr.write(`[${++n}/${total}] ${variant} ${scenario}${of} ... `);
        const r =
          scenario === 'short'
            ? await measure(variant, 'hello', opts, env, shortRun)
            : await measure(variant, 'echo', opts, env, pingpongRun);
        row[scenario] = r;
        if (r.error !== undefined) errors.push(`${variant} ${scenario}${of}: ${r.error}`);
        process.stderr.write(`${progress(scenario, r)}\n`);
        await sleep(300); // let the previous server's sockets wind down
      }
      runs.push(row);
    }
  }
  const table = summarize(runs, opts);
  process.stdout.write(`\n${format(table, opts)}\n`);
  writeResults('models', opts.out, results(opts, env, runs, table, errors));
  if (errors.length > 0) {
    process.stderr.write(`\nmodels: ${errors.length} run(s) failed:\n  ${errors.join('\n  ')}\n`);
    return 1;
  }
  return 0;
}

/** What one variant runs: model, worker kind, hand-off and loop count. */
function spec(variant, opts) {
  const v = VARIANTS[variant];
  return { ...v, loops: v.loops ?? opts.loops };
}

function progress(scenario, r) {
  if (r.error !== undefined) return `ERROR\n  ${r.error}`;
  const noisy = r.otherLoadPercent >= OTHER_LOAD_WARN ? ` (other load ${r.otherLoadPercent}%)` : '';
  const split = r.perLoop.join('/');
  if (scenario === 'short') return `${num(r.connPerSec, 0)} conn/s, loops ${split}${noisy}`;
  return `${num(r.mibps, 1)} MiB/s, sessions ${split}${noisy}`;
}

/** Checks the machine and builds what is missing; returns what the runs need. */
function preflight(opts) {
  if (os.platform() !== 'linux') throw new Error('models needs Linux (taskset, /proc, epoll)');
  const cpus = os.availableParallelism();
  for (const c of [...list(opts.serverCpu), opts.clientCpu]) {
    if (!(Number(c) < cpus)) throw new Error(`cpu ${c} does not exist (this machine has ${cpus})`);
  }
  const need = Math.max(opts.sessions, opts.connections) + 64;
  const limit = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  if (limit !== 'unlimited' && Number(limit) < need) {
    throw new Error(`ulimit -n is ${limit}; the clients need ${need}`);
  }
  let wrk;
  let wrkVersion = null;
  if (opts.scenarios.includes('short')) {
    wrk = which('wrk', ['/usr/bin/wrk']);
    if (wrk === undefined) throw new Error('wrk is not installed (apt-get install -y wrk)');
    wrkVersion = spawnText(wrk, ['-v']).split('\n')[0] ?? null;
  }
  if (opts.scenarios.includes('pingpong')) {
    compileC('models', path.join(root, 'bench/pingpong/client.c'), pingpongClient);
  }
  ensureBuilt('models', polyloopDist, opts.build);
  const clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return { wrk, wrkVersion, clkTck };
}

function serverArgv(variant, app, opts) {
  const s = spec(variant, opts);
  const argv = [process.execPath, serverScript, '--app', app, '--model', s.model];
  argv.push('--loops', String(s.loops));
  if (s.workers !== 'main') argv.push('--workers', s.workers);
  if (s.handoff !== undefined) argv.push('--handoff', s.handoff);
  argv.push('--host', '127.0.0.1', '--port', '0');
  return argv;
}

/**
 * Starts the variant's server with `app`, runs `body(srv)` and stops the server; a failure of
 * either side becomes `{ error }`. Never throws.
 */
async function measure(variant, app, opts, env, body) {
  let srv;
  let result;
  try {
    srv = await startServer(variant, opts.serverCpu, serverArgv(variant, app, opts));
    result = await body(srv, opts, env);
  } catch (err) {
    result = { error: errorMessage(err) };
  }
  if (srv !== undefined) {
    const status = await stop(srv);
    if (status !== 0 && result.error === undefined) {
      result = { error: `server exited with ${status}${tail(srv.stderr)}` };
    }
  }
  return result;
}

/** Asks the server for its `stats()` (SIGUSR2) and resolves with the JSON it prints. */
async function serverStats(srv) {
  const lines = () => srv.stdout.split('\n').filter((l) => l.startsWith('stats '));
  const before = lines().length;
  srv.child.kill('SIGUSR2');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const now = lines();
    if (now.length > before) return JSON.parse(now[now.length - 1].slice('stats '.length));
    if (srv.exit !== undefined) throw new Error(`server exited (${srv.exit})${tail(srv.stderr)}`);
    if (Date.now() > deadline) throw new Error('server printed no stats within 10 s of SIGUSR2');
    await sleep(20);
  }
}

/** What each loop counted between two `stats()` snapshots, and the half-sync hand-offs. */
function delta(s0, s1) {
  return {
    accepted: s1.loops.map((l, i) => l.accepted - (s0.loops[i]?.accepted ?? 0)),
    bytesIn: s1.loops.map((l, i) => l.bytesIn - (s0.loops[i]?.bytesIn ?? 0)),
    handoffs: s1.handoffs === undefined ? null : s1.handoffs - (s0.handoffs ?? 0),
  };
}

/** max/min of per-loop counts; null for one loop and when a loop got nothing (see the counts). */
function balance(counts) {
  if (counts.length < 2) return null;
  const min = Math.min(...counts);
  const max = Math.max(...counts);
  return min > 0 ? round(max / min, 3) : null;
}

/** Short connections: warm-up, then wrk with `Connection: close` for T seconds. */
async function shortRun(srv, opts, env) {
  const argv = (seconds) => [
    env.wrk,
    '-t1',
    `-c${opts.connections}`,
    `-d${Math.max(1, Math.round(seconds))}s`,
    '-H',
    'Connection: close',
    '-s',
    wrkScript,
    `http://${srv.host}:${srv.port}/`,
  ];
  if (opts.warmup > 0) await runWrk(srv, argv(opts.warmup), opts, env);
  const s0 = await serverStats(srv);
  const cmd = argv(opts.seconds);
  const m = await metered(srv, opts, env, () => runWrk(srv, cmd, opts, env));
  await sleep(STATS_SETTLE_MS);
  const d = delta(s0, await serverStats(srv));
  const { requests, durationUs } = m.out;
  const seconds = durationUs / 1e6;
  if (!(requests > 0)) throw new Error('no responses');
  const accepted = d.accepted.reduce((a, b) => a + b, 0);
  return {
    seconds: round(seconds, 3),
    requests,
    connPerSec: round(requests / seconds, 1),
    perLoop: d.accepted,
    accepted,
    balance: balance(d.accepted),
    handoffs: d.handoffs,
    handoffsPerSec: d.handoffs === null ? null : round(d.handoffs / seconds, 1),
    // The half-sync acceptor is the main thread: its CPU time per connection handed out.
    acceptorUsPerHandoff:
      d.handoffs > 0 ? round((m.cpu.mainThreadCpuSeconds / d.handoffs) * 1e6, 2) : null,
    ...m.cpu,
    command: cmd.map(display).join(' '),
  };
}

/** Runs wrk to the end and returns its JSON line; any wrk error fails the run. */
async function runWrk(srv, argv, opts, env) {
  const { text, clientCpuSeconds } = await runClient('wrk', srv, argv, opts, env);
  const line = text
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  const out = parseJson('wrk', line, text);
  const e = out.errors;
  if (e.connect + e.read + e.write + e.status + e.timeout > 0) {
    throw new Error(`wrk errors: ${JSON.stringify(e)}`);
  }
  return { out, clientCpuSeconds };
}

/** Ping-pong: warm-up, then the C client for T seconds. */
async function pingpongRun(srv, opts, env) {
  const argv = (seconds) => [
    pingpongClient,
    ...['--host', srv.host, '--port', String(srv.port)],
    ...['--sessions', String(opts.sessions), '--block', String(opts.block)],
    ...['--seconds', String(seconds)],
  ];
  if (opts.warmup > 0) await runPingpong(srv, argv(opts.warmup), opts, env);
  const s0 = await serverStats(srv);
  const cmd = argv(opts.seconds);
  const m = await metered(srv, opts, env, () => runPingpong(srv, cmd, opts, env));
  await sleep(STATS_SETTLE_MS);
  const d = delta(s0, await serverStats(srv));
  return {
    seconds: m.out.seconds,
    bytesRead: m.out.bytesRead,
    mibps: m.out.mibps,
    perLoop: d.accepted,
    bytesInPerLoop: d.bytesIn,
    balance: balance(d.bytesIn),
    ...m.cpu,
    command: cmd.map(display).join(' '),
  };
}

async function runPingpong(srv, argv, opts, env) {
  const { text, clientCpuSeconds } = await runClient('client', srv, argv, opts, env);
  return { out: parseJson('client', text.trim().split('\n').pop(), text), clientCpuSeconds };
}

/**
 * Runs a load client pinned to the client core until it exits (killed if it outlives the run by
 * a minute: connecting may take a while on a loaded machine) and samples its CPU time.
 */
async function runClient(name, srv, argv, opts, env) {
  const proc = spawnPinned(opts.clientCpu, argv, process.env);
  const sampler = sampleCpu(proc, env);
  const status = await finish(proc, Math.max(opts.seconds, opts.warmup) + 60);
  const clientCpuSeconds = sampler.stop();
  if (srv.exit !== undefined) throw new Error(`server died (${srv.exit})${tail(srv.stderr)}`);
  if (status !== 0) throw new Error(`${name} exited with ${status}${tail(proc.stderr)}`);
  return { text: proc.stdout, clientCpuSeconds };
}

function parseJson(name, line, text) {
  try {
    return JSON.parse(line ?? '');
  } catch {
    throw new Error(`${name} printed no result: ${JSON.stringify(text.slice(-500))}`);
  }
}

/**
 * Runs `runClient()` and measures, over its whole run: the server's CPU (its process and every
 * descendant: process loops are children), the client's, and the busy time of the machine's
 * cores that neither took (other processes on a shared machine).
 */
async function metered(srv, opts, env, runClient) {
  const cores0 = coreTimes(env.clkTck);
  const cpu0 = treeCpuSeconds(srv.child.pid, env.clkTck);
  const main0 = cpuSeconds(`${srv.child.pid}/task/${srv.child.pid}`, env.clkTck);
  const t0 = performance.now();
  const { out, clientCpuSeconds } = await runClient();
  const window = (performance.now() - t0) / 1000;
  const cpu1 = treeCpuSeconds(srv.child.pid, env.clkTck);
  const main1 = cpuSeconds(`${srv.child.pid}/task/${srv.child.pid}`, env.clkTck);
  const cores1 = coreTimes(env.clkTck);
  let busy = 0;
  let irq = 0;
  for (const [id, b] of cores1) {
    const a = cores0.get(id);
    busy += b.busy - a.busy;
    irq += b.softirq - a.softirq;
  }
  const pct = (s) => round((s / window) * 100, 1);
  const server = cpu1 - cpu0;
  const clientCpu = clientCpuSeconds ?? 0;
  return {
    out,
    cpu: {
      serverCpuSeconds: round(server, 3),
      serverCpuPercent: pct(server),
      mainThreadCpuSeconds: round(main1 - main0, 3),
      clientCpuPercent: clientCpuSeconds === null ? null : pct(clientCpu),
      softirqPercent: pct(irq),
      otherLoadPercent: pct(Math.max(0, busy - irq - server - clientCpu)),
    },
  };
}

/** Samples a child's CPU seconds every 100 ms (gone once it exits); `stop()` gives the last. */
function sampleCpu(proc, env) {
  let last = null;
  const take = () => {
    try {
      last = cpuSeconds(proc.child.pid, env.clkTck);
    } catch {
      // exited
    }
  };
  const timer = setInterval(take, 100);
  return {
    stop() {
      clearInterval(timer);
      return last;
    },
  };
}

/** utime + stime of a process (all its threads) or of `PID/task/TID`, one thread, in seconds. */
function cpuSeconds(pid, clkTck) {
  const f = statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return (Number(f[11]) + Number(f[12])) / clkTck;
}

/** The fields of /proc/PID/stat after the command name: state, ppid, ... (utime is [11]). */
const statFields = (stat) => stat.slice(stat.lastIndexOf(')') + 2).split(' ');

/** utime + stime of `pid` and all its descendants, in seconds. */
function treeCpuSeconds(pid, clkTck) {
  const procs = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const f = statFields(readFileSync(`/proc/${name}/stat`, 'utf8'));
      procs.set(Number(name), {
        ppid: Number(f[1]),
        cpu: (Number(f[11]) + Number(f[12])) / clkTck,
      });
    } catch {
      // exited while we looked
    }
  }
  let total = 0;
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop();
    total += procs.get(p)?.cpu ?? 0;
    for (const [child, info] of procs) if (info.ppid === p) todo.push(child);
  }
  return total;
}

/** Per core, from /proc/stat, in seconds: busy (all but idle and iowait) and softirq + irq. */
function coreTimes(clkTck) {
  const cores = new Map();
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (m === null) continue;
    const [user, nice, system, , , irq, softirq, steal] = m[2].split(' ').map(Number);
    cores.set(Number(m[1]), {
      busy: (user + nice + system + irq + softirq + steal) / clkTck,
      softirq: (softirq + irq) / clkTck,
    });
  }
  return cores;
}

/** The middle value (mean of the two middle ones for an even count); null for none. */
function median(xs) {
  const v = xs.filter((x) => typeof x === 'number').sort((x, y) => x - y);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : round((v[mid - 1] + v[mid]) / 2, 3);
}

/**
 * One row per variant: medians over the rounds that succeeded (the quiet ones, when any were),
 * per-loop counts summed over the same rounds.
 */
function summarize(runs, opts) {
  const rows = opts.variants.map((variant) => {
    const mine = runs.filter((r) => r.variant === variant);
    // Runs that other processes disturbed count only when no run of that scenario was quiet.
    const ok = (scenario) => {
      const done = mine.map((r) => r[scenario]).filter((x) => x !== undefined && !x.error);
      const quiet = done.filter((x) => x.otherLoadPercent < OTHER_LOAD_WARN);
      return quiet.length > 0 ? quiet : done;
    };
    const short = ok('short');
    const pp = ok('pingpong');
    const mid = (list, key) => median(list.map((x) => x[key]));
    const sum = (list, key) =>
      list.length === 0
        ? null
        : list.reduce(
            (acc, x) => acc.map((a, i) => a + (x[key][i] ?? 0)),
            list[0][key].map(() => 0),
          );
    return {
      variant,
      ...spec(variant, opts),
      rounds: { short: short.length, pingpong: pp.length },
      connPerSec: mid(short, 'connPerSec'),
      serverUsPerConn: median(short.map((x) => (x.serverCpuSeconds / x.requests) * 1e6)),
      acceptedPerLoop: sum(short, 'perLoop'),
      balance: mid(short, 'balance'),
      handoffsPerSec: mid(short, 'handoffsPerSec'),
      acceptorUsPerHandoff: mid(short, 'acceptorUsPerHandoff'),
      shortServerCpuPercent: mid(short, 'serverCpuPercent'),
      pingpongMibps: mid(pp, 'mibps'),
      pingpongSessionsPerLoop: sum(pp, 'perLoop'),
      pingpongServerCpuPercent: mid(pp, 'serverCpuPercent'),
      otherLoadPercent: Math.max(0, ...[...short, ...pp].map((x) => x.otherLoadPercent)),
    };
  });
  const base = rows.find((r) => r.variant === 'reactor');
  for (const r of rows) {
    r.connOverReactor = ratio(r.connPerSec, base?.connPerSec);
    r.pingpongOverReactor = ratio(r.pingpongMibps, base?.pingpongMibps);
  }
  const ring = rows.find((r) => r.variant === 'half-sync/thread/ring');
  const port = rows.find((r) => r.variant === 'half-sync/thread/port');
  const ringOverPort =
    ring === undefined || port === undefined
      ? null
      : {
          connPerSec: ratio(ring.connPerSec, port.connPerSec),
          handoffsPerSec: ratio(ring.handoffsPerSec, port.handoffsPerSec),
          acceptorUsPerHandoff: ratio(ring.acceptorUsPerHandoff, port.acceptorUsPerHandoff),
          pingpongMibps: ratio(ring.pingpongMibps, port.pingpongMibps),
        };
  return { rows, ringOverPort };
}

function format(table, opts) {
  const balanceCell = (b, counts) =>
    b !== null ? b.toFixed(2) : counts !== null && counts.length > 1 ? 'inf' : '-';
  const head = [
    'variant',
    'conn/s',
    'x reactor',
    'srv us/conn',
    'accepted/loop',
    'balance',
    'handoffs/s',
    'acceptor us/handoff',
    `pingpong MiB/s`,
    'x reactor',
    'sessions/loop',
    'srv CPU %',
    'other %',
  ];
  const body = table.rows.map((r) => [
    r.variant,
    r.connPerSec === null
      ? opts.scenarios.includes('short')
        ? 'ERROR'
        : '-'
      : num(r.connPerSec, 0),
    num(r.connOverReactor, 2),
    num(r.serverUsPerConn, 0),
    r.acceptedPerLoop === null ? '-' : r.acceptedPerLoop.join('/'),
    balanceCell(r.balance, r.acceptedPerLoop),
    num(r.handoffsPerSec, 0),
    num(r.acceptorUsPerHandoff, 1),
    r.pingpongMibps === null
      ? opts.scenarios.includes('pingpong')
        ? 'ERROR'
        : '-'
      : num(r.pingpongMibps, 1),
    num(r.pingpongOverReactor, 2),
    r.pingpongSessionsPerLoop === null ? '-' : r.pingpongSessionsPerLoop.join('/'),
    num(r.pingpongServerCpuPercent, 0),
    `${num(r.otherLoadPercent, 0)}${r.otherLoadPercent >= OTHER_LOAD_WARN ? '*' : ''}`,
  ]);
  const cores = list(opts.serverCpu).length;
  const rounds = opts.repeat > 1 ? `, median of ${opts.repeat} rounds` : '';
  const lines = [
    `models: ${opts.seconds} s per run (+${opts.warmup} s warm-up)${rounds}, ${opts.loops} loops (reactor: 1), ` +
      `server on cpus ${opts.serverCpu}, clients on cpu ${opts.clientCpu}`,
    `short: wrk -t1 -c${opts.connections} -H 'Connection: close', GET / of the HTTP hello app; ` +
      `pingpong: ${opts.sessions} sessions x ${opts.block} B, echo app`,
    ...grid(head, body, 1),
    '',
    `balance: max/min of the connections each loop accepted in the short run (1.00 = even); ` +
      `acceptor us/handoff: CPU time of the half-sync main thread (it only accepts and hands out) per connection`,
    `srv us/conn: CPU time of the server (process and children) per connection; ` +
      `srv CPU %: the same in the ping-pong run, of ${cores * 100}% (${cores} cores)`,
    `other %: busy time of every core not spent by server, client or interrupts` +
      (opts.repeat > 1
        ? ' (the worst run counted); medians over the quiet rounds when any were, per-loop counts summed over them'
        : ''),
  ];
  if (table.rows.some((r) => r.otherLoadPercent >= OTHER_LOAD_WARN)) {
    lines.push(
      `  * at least ${OTHER_LOAD_WARN}%: other processes competed, rerun before trusting it`,
    );
  }
  const rp = table.ringOverPort;
  if (rp !== null) {
    lines.push(
      `half-sync hand-off ring/port: conn/s ${num(rp.connPerSec, 2)}, handoffs/s ${num(rp.handoffsPerSec, 2)}, ` +
        `acceptor us/handoff ${num(rp.acceptorUsPerHandoff, 2)}, pingpong MiB/s ${num(rp.pingpongMibps, 2)}`,
    );
  }
  return lines.join('\n');
}

function results(opts, env, runs, table, errors) {
  const commands = {};
  for (const v of opts.variants) {
    commands[v] = {
      short: `taskset -c ${opts.serverCpu} ${serverArgv(v, 'hello', opts).map(display).join(' ')}`,
      pingpong: `taskset -c ${opts.serverCpu} ${serverArgv(v, 'echo', opts).map(display).join(' ')}`,
    };
  }
  return {
    benchmark: 'models',
    date: new Date().toISOString(),
    machine: machine(),
    parameters: {
      seconds: opts.seconds,
      warmup: opts.warmup,
      repeat: opts.repeat,
      loops: opts.loops,
      variants: Object.fromEntries(opts.variants.map((v) => [v, spec(v, opts)])),
      scenarios: opts.scenarios,
      connections: opts.connections,
      sessions: opts.sessions,
      block: opts.block,
      serverCpus: opts.serverCpu,
      clientCpu: Number(opts.clientCpu),
      pinning: `server on cpus ${opts.serverCpu} (it may use all of them), load clients on cpu ${opts.clientCpu}`,
      commands,
      shortClient: `taskset -c ${opts.clientCpu} wrk -t1 -c${opts.connections} -dTs -H 'Connection: close' -s bench/http/wrk-report.lua http://127.0.0.1:PORT/`,
      pingpongClient: `taskset -c ${opts.clientCpu} ${display(pingpongClient)} --host 127.0.0.1 --port PORT --sessions ${opts.sessions} --block ${opts.block} --seconds T`,
      wrk: env.wrkVersion,
      units: {
        table:
          'medians over the rounds (--repeat) that succeeded, only the quiet ones (other load under 10%) when any were; per-loop counts summed over the same rounds',
        connPerSec: 'responses wrk completed (one connection each) / wrk duration',
        serverUsPerConn: 'server CPU seconds (process and children) during the run / responses',
        balance: 'max/min over loops of stats().loops[i].accepted during the timed run',
        handoffsPerSec: 'stats().handoffs during the timed run / wrk duration (half-sync only)',
        acceptorUsPerHandoff:
          "CPU time of the server's main thread (the acceptor) during the run / handoffs",
        pingpongMibps: 'bytes read by the ping-pong client / elapsed / 2^20',
        serverCpuPercent:
          'utime + stime of the server and its descendants / elapsed (100 = one core)',
        otherLoadPercent: 'busy time of all cores not spent by server, client or irq / elapsed',
      },
    },
    table,
    runs,
    errors,
  };
}
