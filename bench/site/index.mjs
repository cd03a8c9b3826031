// The demo application under load: logged-in reads (GET /api/messages, the newest 50 of 100
// messages) and writes (POST /api/messages) per second and their latency, for `polyloop site`
// with SQLite at 1 loop and at 2 loops, against the same API on Fastify + better-sqlite3 run
// directly on its event loop (bench/site/fastify-site.mjs).
//
// Each server starts on a fresh data folder; a user registers and logs in over HTTP, 100
// messages are posted, and GET /api/messages must answer 200 with 50 messages before anything
// is timed. wrk (one thread, -c connections, wrk-site.lua sending the session cookie) runs on
// the client core; each run is an untimed warm-up of the same command, then T seconds. Servers
// with one loop run on the server core. A server with L > 1 loops gets L cores other than the
// client's when the machine has them; otherwise it gets every core, the client's included, and
// the row is marked "shares the client core". Compare the ratios, not the absolute numbers.
//
//   node bench/run.mjs site [--seconds 5 | --quick] [--warmup 1] [--connections 50]
//       [--loops 1,2] [--servers polyloop,fastify] [--build] [--out FILE]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkMachine,
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
  waitFor,
  which,
  writeResults,
} from '../lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const wrkScript = path.join(here, 'wrk-site.lua');
const cli = path.join(root, 'dist/src/cli/main.js');
const SEED = 100;
const SCENARIOS = [
  { name: 'read', mode: 'get', what: 'GET /api/messages (50 of 100), logged in' },
  { name: 'write', mode: 'post', what: 'POST /api/messages, logged in' },
];

/** Temp dirs made by this run; removed on every way out. */
const temps = new Set();
const removeTemps = () => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
  temps.clear();
};

export async function main(argv) {
  const opts = options(argv);
  return guarded('site', 'servers stopped, data removed', () => run(opts), removeTemps);
}

function options(argv) {
  const { values, common } = parseOptions(
    argv,
    {
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '50' },
      loops: { type: 'string', default: '1,2' },
      servers: { type: 'string', default: 'polyloop,fastify' },
    },
    path.resolve(here, '../results/site.json'),
  );
  const warmup = Number(values.warmup);
  if (!(warmup >= 0)) throw new Error(`--warmup: not a number >= 0: ${values.warmup}`);
  const loops = list(values.loops).map((l) => positiveInt('loops', l));
  const servers = list(values.servers);
  for (const s of servers) {
    if (!['polyloop', 'fastify'].includes(s)) throw new Error(`--servers: unknown server ${s}`);
  }
  return {
    ...common,
    warmup,
    connections: positiveInt('connections', values.connections),
    loops,
    servers,
  };
}

/** The servers to run, in the table's order. */
function targets(opts) {
  const nproc = os.availableParallelism();
  const out = [];
  if (opts.servers.includes('polyloop')) {
    for (const loops of opts.loops) {
      let cpus = opts.serverCpu;
      let shared = false;
      if (loops > 1) {
        const others = [...Array(nproc).keys()].filter((c) => String(c) !== opts.clientCpu);
        if (others.length >= loops) cpus = others.slice(0, loops).join(',');
        else {
          cpus = [...Array(nproc).keys()].join(',');
          shared = true;
        }
      }
      out.push({ name: `polyloop-${loops}`, kind: 'polyloop', loops, cpus, shared });
    }
  }
  if (opts.servers.includes('fastify'))
    out.push({ name: 'fastify', kind: 'fastify', loops: 1, cpus: opts.serverCpu, shared: false });
  return out;
}

async function run(opts) {
  const env = preflight(opts);
  const list = targets(opts);
  const notes = [];
  for (const t of list.filter((t) => t.shared)) {
    notes.push(
      `${t.name}: this machine has ${os.availableParallelism()} cores, so its ${t.loops} loops share the client core (cpus ${t.cpus})`,
    );
  }
  for (const n of notes) process.stderr.write(`site: note: ${n}\n`);
  const errors = [];
  const runs = [];
  const servers = [];
  for (const t of list) {
    const work = mkdtempSync(path.join(os.tmpdir(), 'polyloop-site-bench-'));
    temps.add(work);
    process.stderr.write(`site: starting ${t.name} on cpus ${t.cpus} ... `);
    let srv;
    try {
      srv = await start(t, work);
      const sid = await prepare(srv);
      process.stderr.write(
        `port ${srv.port}, pid ${srv.child.pid}; logged in, ${SEED} posts, read ok\n`,
      );
      for (const sc of SCENARIOS) {
        process.stderr.write(`  ${sc.name} ... `);
        const r = { server: t.name, loops: t.loops, cpus: t.cpus, scenario: sc.name };
        Object.assign(r, await measure(srv, sc, sid, opts, env));
        if (t.shared) r.sharesClientCore = true;
        if (r.error !== undefined) errors.push(`${t.name} ${sc.name}: ${r.error}`);
        runs.push(r);
        process.stderr.write(
          r.error === undefined
            ? `${r.rps.toFixed(0)} req/s, p99 ${r.p99Ms.toFixed(2)} ms\n`
            : `ERROR\n    ${r.error}\n`,
        );
        await sleep(300);
      }
      const status = await stop(srv);
      if (status !== 0) errors.push(`${t.name}: exited with ${status}${tail(srv.stderr)}`);
      servers.push({ name: t.name, display: srv.display, exit: status });
    } catch (err) {
      const msg = errorMessage(err);
      process.stderr.write(`ERROR\n  ${msg}\n`);
      errors.push(`${t.name}: ${msg}`);
      if (srv !== undefined) await stop(srv);
      servers.push({ name: t.name, error: msg });
    }
    rmSync(work, { recursive: true, force: true });
    temps.delete(work);
  }

  const table = summarize(runs, list);
  process.stdout.write(`\n${format(table, opts, notes)}\n`);
  writeResults('site', opts.out, {
    benchmark: 'site',
    date: new Date().toISOString(),
    command: `npm run bench -- site${process.argv.length > 3 ? ` ${process.argv.slice(3).join(' ')}` : ''}`,
    machine: machine(),
    tools: { wrk: env.wrkVersion, fastify: env.fastifyVersion, betterSqlite3: env.sqliteVersion },
    params: {
      seconds: opts.seconds,
      warmupSeconds: opts.warmup,
      connections: opts.connections,
      seededMessages: SEED,
      serverCpu: opts.serverCpu,
      clientCpu: opts.clientCpu,
      scenarios: SCENARIOS.map(({ name, what }) => ({ name, what })),
    },
    notes,
    servers,
    runs,
    table,
    errors,
  });
  if (errors.length > 0) {
    process.stderr.write(`\nsite: ${errors.length} failure(s):\n  ${errors.join('\n  ')}\n`);
    return 1;
  }
  return 0;
}

function preflight(opts) {
  checkMachine('site', 'taskset', opts);
  const wrk = which('wrk', ['/usr/bin/wrk']);
  if (wrk === undefined) throw new Error('wrk is not installed (apt-get install -y wrk)');
  const wrkVersion = spawnText(wrk, ['-v'])
    .split('\n')[0]
    .replace(/ Copyright.*$/, '');
  if (opts.servers.includes('polyloop')) ensureBuilt('site', cli, opts.build);
  const version = (pkg) => {
    try {
      return JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')).version;
    } catch {
      return undefined;
    }
  };
  const fastifyVersion = version(path.join(root, 'bench/node_modules/fastify'));
  if (opts.servers.includes('fastify') && fastifyVersion === undefined)
    throw new Error('fastify is not installed: run `npm install --prefix bench`');
  return {
    wrk,
    wrkVersion,
    fastifyVersion,
    sqliteVersion: version(path.join(root, 'node_modules/better-sqlite3')),
  };
}

/** Starts one server on a fresh data folder and waits for `listening on http://HOST:PORT`. */
function start(t, work) {
  const data = path.join(work, 'data');
  const args =
    t.kind === 'polyloop'
      ? [
          path.relative(root, cli),
          'site',
          '--port',
          '0',
          '--loops',
          String(t.loops),
          '--data',
          data,
        ]
      : [path.relative(root, path.join(here, 'fastify-site.mjs')), '--port', '0', '--data', data];
  const display = `taskset -c ${t.cpus} node ${args.join(' ').replace(data, 'TMP/data')}`;
  return startServer(
    t.name,
    t.cpus,
    [process.execPath, ...args],
    process.env,
    async (srv, deadline) => {
      const m = await waitFor(srv, deadline, () =>
        /^listening on http:\/\/(\S+):(\d+)$/m.exec(srv.stdout),
      );
      Object.assign(srv, { name: t.name, display, host: m[1], port: Number(m[2]) });
    },
  );
}

/** One JSON request over a fresh connection; resolves with status, body and the session cookie. */
async function call(srv, method, urlPath, body, sid) {
  const headers = { connection: 'close' };
  if (sid !== undefined) headers.cookie = `sid=${sid}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`http://${srv.host}:${srv.port}${urlPath}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const cookie = /^sid=([^;]+)/.exec(res.headers.get('set-cookie') ?? '');
  return { status: res.status, body: await res.json(), sid: cookie?.[1] };
}

/** Registers and logs in the benchmark user, posts SEED messages, checks a read. Returns the sid. */
async function prepare(srv) {
  const who = { username: 'bench', password: 'benchmark password' };
  const reg = await call(srv, 'POST', '/api/register', who);
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.body)}`);
  const login = await call(srv, 'POST', '/api/login', who);
  if (login.status !== 200 || login.sid === undefined)
    throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
  for (let i = 0; i < SEED; i++) {
    const r = await call(srv, 'POST', '/api/messages', { text: `seed message ${i}` }, login.sid);
    if (r.status !== 201) throw new Error(`seed post: ${r.status} ${JSON.stringify(r.body)}`);
  }
  const read = await call(srv, 'GET', '/api/messages', undefined, login.sid);
  if (
    read.status !== 200 ||
    read.body.messages?.length !== 50 ||
    read.body.messages[0].text !== `seed message ${SEED - 1}`
  )
    throw new Error(`read: ${read.status} ${JSON.stringify(read.body).slice(0, 200)}`);
  return login.sid;
}

/** One warm-up and one timed wrk run; returns req/s, latency percentiles and errors. */
async function measure(srv, sc, sid, opts, env) {
  const url = `http://${srv.host}:${srv.port}`;
  const argv = (seconds) => [
    env.wrk,
    '-t1',
    `-c${opts.connections}`,
    `-d${seconds}s`,
    '--timeout',
    '10s',
    '-s',
    wrkScript,
    url,
    '--',
    sc.mode,
    sid,
  ];
  if (opts.warmup > 0) {
    const w = spawnPinned(opts.clientCpu, argv(opts.warmup));
    await finish(w, opts.warmup + 30);
  }
  const wrk = spawnPinned(opts.clientCpu, argv(opts.seconds));
  const status = await finish(wrk, opts.seconds + 30);
  const line = wrk.stdout.split('\n').find((l) => l.startsWith('{"requests"'));
  if (status !== 0 || line === undefined)
    return { error: `wrk exited with ${status}${tail(wrk.stderr || wrk.stdout)}` };
  const s = JSON.parse(line);
  const e = s.errors;
  const failed = e.connect + e.read + e.write + e.timeout;
  const r = {
    requests: s.requests,
    rps: round(s.requests / (s.durationUs / 1e6), 1),
    p50Ms: round(s.latencyUs.p50 / 1000, 3),
    p99Ms: round(s.latencyUs.p99 / 1000, 3),
    p999Ms: round(s.latencyUs.p999 / 1000, 3),
    maxMs: round(s.latencyUs.max / 1000, 3),
    socketErrors: failed,
    non2xx: e.status,
  };
  if (e.status > 0) r.error = `${e.status} answers were not 2xx`;
  else if (failed > 0) r.error = `${failed} socket errors`;
  return r;
}

/** One row per scenario and server, with ratios to fastify measured in the same run. */
function summarize(runs, list) {
  const by = (server, scenario) => runs.find((r) => r.server === server && r.scenario === scenario);
  const rows = [];
  for (const sc of SCENARIOS) {
    const peer = by('fastify', sc.name);
    for (const t of list) {
      const r = by(t.name, sc.name);
      rows.push({
        scenario: sc.name,
        server: t.name,
        rps: r?.error === undefined ? r?.rps : undefined,
        p50Ms: r?.error === undefined ? r?.p50Ms : undefined,
        p99Ms: r?.error === undefined ? r?.p99Ms : undefined,
        vsFastify:
          t.name === 'fastify' || r?.error !== undefined
            ? null
            : ratio(r?.rps, peer?.error === undefined ? peer?.rps : undefined),
        sharesClientCore: t.shared,
      });
    }
  }
  return rows;
}

function format(table, opts, notes) {
  const head = ['scenario', 'server', 'req/s', 'p50 ms', 'p99 ms', 'x fastify'];
  const body = table.map((r) => [
    r.scenario,
    r.server + (r.sharesClientCore ? ' *' : ''),
    num(r.rps, 0),
    num(r.p50Ms, 2),
    num(r.p99Ms, 2),
    num(r.vsFastify ?? undefined, 2),
  ]);
  const lines = [
    `site: ${opts.connections} connections, ${opts.seconds} s per run, wrk on cpu ${opts.clientCpu}`,
    ...grid(head, body, 2),
  ];
  if (notes.length > 0) lines.push('', ...notes.map((n) => `* ${n}`));
  return lines.join('\n');
}
