// HTTP request throughput over loopback: polyloop's httpApp against Node's `http`, Fastify, a raw
// `net` server answering every request with one pre-built buffer (the ceiling for Node), and nginx
// (the C reference). Scenarios:
//
//   hello-c50    GET / -> 'Hello, World!', keep-alive, wrk -t1 -c50
//   hello-c256   the same with -c256
//   pipeline16   the same, 16 requests per write (TechEmpower's pipeline.lua), -c50
//   file-1k      GET /file/file-1k.bin, 1 KiB, -c50: polyloop res.sendFile, Node
//                fs.createReadStream().pipe(res), nginx `sendfile on`
//   file-1m      the same with 1 MiB, -c8
//   file-1m-getter  file-1m loaded by getter.c instead of wrk: one thread that reads up to 1 MiB
//                per read(2), where wrk reads 8 KiB; at gigabytes per second wrk's own reads
//                saturate its core, so this row shows the servers' own limit
//
// Each server is started once, on core 1 (`taskset -c 1`), and checked (GET / answers 200 with
// the body; every file is downloaded and compared by sha256) before anything is timed; wrk runs
// on core 0. Each run is an untimed warm-up of the same wrk command, then T seconds. Compare the
// ratios, not the absolute numbers.
//
//   node bench/run.mjs http [--seconds 5 | --quick] [--warmup 1] [--repeat 1]
//       [--scenarios hello-c50,hello-c256,pipeline16,file-1k,file-1m]
//       [--servers polyloop,node-http,fastify,net,nginx] [--build] [--out FILE]
import { execFileSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  accepts,
  binDir,
  compileC,
  freePort,
  spawnText,
  which,
  checkMachine,
  commandWord,
  ensureBuilt,
  errorMessage,
  finish,
  grid,
  guarded,
  list,
  machine,
  num,
  parseOptions,
  ratio,
  root,
  round,
  sleep,
  spawnPinned,
  startServer as start,
  stop,
  tail,
  waitFor,
  waitListening,
  writeResults,
} from '../lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const wrkScript = path.join(here, 'wrk-report.lua');
const polyloopDist = path.join(root, 'dist/src/index.js');
const BODY = 'Hello, World!';

const SERVERS = ['polyloop', 'node-http', 'fastify', 'net', 'nginx'];
const SCRIPTS = {
  polyloop: 'polyloop-server.mjs',
  'node-http': 'node-http-server.mjs',
  fastify: 'fastify-server.mjs',
  net: 'net-server.mjs',
};
const FILE_SERVERS = ['polyloop', 'node-http', 'nginx'];
const SCENARIOS = [
  { name: 'hello-c50', what: 'hello, keep-alive', connections: 50, pipeline: 1, servers: SERVERS },
  {
    name: 'hello-c256',
    what: 'hello, keep-alive',
    connections: 256,
    pipeline: 1,
    servers: SERVERS,
  },
  {
    name: 'pipeline16',
    what: 'hello, pipelined x16',
    connections: 50,
    pipeline: 16,
    servers: SERVERS,
  },
  {
    name: 'file-1k',
    what: 'static 1 KiB',
    connections: 50,
    pipeline: 1,
    file: 1024,
    servers: FILE_SERVERS,
  },
  {
    name: 'file-1m',
    what: 'static 1 MiB',
    connections: 8,
    pipeline: 1,
    file: 2 ** 20,
    servers: FILE_SERVERS,
  },
  {
    name: 'file-1m-getter',
    what: 'static 1 MiB, getter.c',
    connections: 8,
    pipeline: 1,
    file: 2 ** 20,
    client: 'getter',
    servers: FILE_SERVERS,
  },
];
/** Other processes' share of a pinned core (%) above which a run is flagged as noisy. */
const OTHER_LOAD_WARN = 10;
/** Goals, reported against, never enforced: [scenario, peer, at least]. */
const GOALS = [
  ['hello-c50', 'node-http', 1.3],
  ['hello-c50', 'fastify', 1.6],
  ['hello-c256', 'node-http', 1.3],
  ['hello-c256', 'fastify', 1.6],
  ['pipeline16', 'node-http', 10],
  ['file-1m', 'node-http', 2],
  ['file-1m', 'nginx', 0.8],
  ['file-1m-getter', 'node-http', 2],
  ['file-1m-getter', 'nginx', 0.8],
];
const PEERS = ['node-http', 'fastify', 'net', 'nginx'];

/** Temp dirs made by this run; removed on every way out. */
const temps = new Set();

export async function main(argv) {
  const opts = options(argv);
  return guarded('http', 'servers stopped, files removed', () => run(opts), removeTemps);
}

function options(argv) {
  const { values, common } = parseOptions(
    argv,
    {
      warmup: { type: 'string', default: '1' },
      repeat: { type: 'string', default: '1' },
      scenarios: { type: 'string', default: SCENARIOS.map((s) => s.name).join(',') },
      servers: { type: 'string', default: SERVERS.join(',') },
    },
    path.resolve(here, '../results/http.json'),
  );
  const warmup = Number(values.warmup);
  if (!(warmup >= 0)) throw new Error(`--warmup: not a number >= 0: ${values.warmup}`);
  const repeat = Number(values.repeat);
  if (!(Number.isInteger(repeat) && repeat >= 1))
    throw new Error(`--repeat: not an integer >= 1: ${values.repeat}`);
  const names = list(values.scenarios);
  for (const n of names) {
    if (!SCENARIOS.some((s) => s.name === n))
      throw new Error(`--scenarios: unknown scenario ${n} (${SCENARIOS.map((s) => s.name)})`);
  }
  const scenarios = SCENARIOS.filter((s) => names.includes(s.name));
  if (scenarios.length === 0) throw new Error('--scenarios: none given');
  const servers = list(values.servers);
  for (const s of servers) {
    if (!SERVERS.includes(s)) throw new Error(`--servers: unknown server ${s} (${SERVERS})`);
  }
  return { ...common, warmup, repeat, scenarios, servers };
}

const sizeLabel = (bytes) => (bytes >= 2 ** 20 ? `${bytes / 2 ** 20} MiB` : `${bytes / 1024} KiB`);
const fileName = (bytes) =>
  `file-${bytes >= 2 ** 20 ? `${bytes / 2 ** 20}m` : `${bytes / 1024}k`}.bin`;

async function run(opts) {
  const env = preflight(opts);
  const notes = [...env.notes];
  for (const n of notes) process.stderr.write(`http: note: ${n}\n`);
  const work = mkdtempSync(path.join(os.tmpdir(), 'polyloop-http-'));
  temps.add(work);
  const filesDir = path.join(work, 'files');
  mkdirSync(filesDir);
  const files = [...new Set(opts.scenarios.filter((s) => s.file).map((s) => s.file))].map((size) =>
    makeFile(filesDir, size),
  );
  // The servers some selected scenario needs, in the table's order.
  const wanted = env.servers.filter((s) => opts.scenarios.some((sc) => sc.servers.includes(s)));

  const errors = [];
  const servers = new Map(); // name -> started server, or { name, error }
  for (const name of wanted) {
    process.stderr.write(`http: starting ${name} ... `);
    try {
      const srv = await startServer(name, opts, env, filesDir, work);
      servers.set(name, srv);
      const mine = FILE_SERVERS.includes(name) ? files : [];
      await verify(srv, mine);
      process.stderr.write(
        `port ${srv.port}, pid ${srv.child.pid}${srv.mode ? `, ${srv.mode}` : ''}; GET / ok${
          mine.length ? `, ${mine.length} file(s) verified` : ''
        }\n`,
      );
    } catch (err) {
      const msg = errorMessage(err);
      process.stderr.write(`ERROR\n  ${msg}\n`);
      errors.push(`${name}: ${msg}`);
      const srv = servers.get(name);
      if (srv !== undefined) await stop(srv);
      servers.set(name, { name, error: msg });
    }
  }

  // With --repeat N, a scenario's servers take turns N times: a burst of other load then costs
  // one round of one server, and the table keeps each server's best round.
  const plan = opts.scenarios.flatMap((sc) =>
    Array.from({ length: opts.repeat }, (_, i) =>
      wanted.filter((s) => sc.servers.includes(s)).map((s) => [sc, s, i + 1]),
    ).flat(),
  );
  const runs = [];
  for (const [sc, name, round] of plan) {
    const srv = servers.get(name);
    const label = opts.repeat > 1 ? ` (round ${round})` : '';
    process.stderr.write(`[${runs.length + 1}/${plan.length}] ${sc.name} ${name}${label} ... `);
    const r = {
      scenario: sc.name,
      server: name,
      round,
      connections: sc.connections,
      pipeline: sc.pipeline,
    };
    if (sc.file) r.fileBytes = sc.file;
    if (srv.error !== undefined) r.error = 'server not started';
    else {
      Object.assign(r, await measure(srv, sc, opts, env));
      if (r.error !== undefined) errors.push(`${sc.name} ${name}: ${r.error}`);
    }
    runs.push(r);
    process.stderr.write(
      r.error === undefined
        ? `${r.rps.toFixed(0)} req/s${sc.file ? `, ${r.mibps.toFixed(1)} MiB/s` : ''}${noise(r, opts)}\n`
        : `ERROR\n  ${r.error}\n`,
    );
    await sleep(300);
  }

  for (const srv of servers.values()) {
    if (srv.error !== undefined) continue;
    const status = await stop(srv);
    srv.exitStatus = status;
    if (status !== 0) errors.push(`${srv.name}: exited with ${status}${tail(srv.stderr)}`);
  }

  const table = summarize(runs, opts, wanted);
  const goals = checkGoals(table);
  process.stdout.write(`\n${format(table, goals, opts, wanted, notes)}\n`);
  writeResults('http', opts.out, results(opts, env, notes, servers, runs, table, goals, errors));
  if (errors.length > 0) {
    process.stderr.write(`\nhttp: ${errors.length} failure(s):\n  ${errors.join('\n  ')}\n`);
    return 1;
  }
  return 0;
}

const noisy = (o) => o.serverCore >= OTHER_LOAD_WARN || o.clientCore >= OTHER_LOAD_WARN;

function noise(r, opts) {
  const parts = [];
  if (r.otherLoadPercent.serverCore >= OTHER_LOAD_WARN)
    parts.push(`cpu ${opts.serverCpu} (server): ${r.otherLoadPercent.serverCore}%`);
  if (r.otherLoadPercent.clientCore >= OTHER_LOAD_WARN)
    parts.push(`cpu ${opts.clientCpu} (client): ${r.otherLoadPercent.clientCore}%`);
  return parts.length === 0 ? '' : ` (warning: other load on ${parts.join(', ')}; rerun)`;
}

/** Checks the machine, builds what is missing, finds wrk, nginx and fastify. */
function preflight(opts) {
  checkMachine('http', 'taskset, /proc', opts);
  const notes = [];
  const clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  if (!(clkTck > 0)) throw new Error('getconf CLK_TCK failed');
  const wrk = which('wrk', ['/usr/bin/wrk']);
  if (wrk === undefined) throw new Error('wrk is not installed (apt-get install -y wrk)');
  const wrkVersion = spawnText(wrk, ['-v'])
    .split('\n')[0]
    .replace(/ Copyright.*$/, '');
  let getter;
  if (opts.scenarios.some((sc) => sc.client === 'getter')) {
    getter = path.join(binDir, 'getter');
    compileC('http', path.join(here, 'getter.c'), getter);
  }
  if (opts.servers.includes('polyloop')) ensureBuilt('http', polyloopDist, opts.build);
  const servers = [...opts.servers];
  const nginx = which('nginx', ['/usr/sbin/nginx']);
  let nginxVersion;
  if (servers.includes('nginx')) {
    if (nginx === undefined) {
      notes.push('nginx skipped: not installed (apt-get update && apt-get install -y nginx-light)');
      servers.splice(servers.indexOf('nginx'), 1);
    } else {
      nginxVersion = spawnText(nginx, ['-v']).replace(/^nginx version:\s*/, '');
    }
  }
  let fastifyVersion;
  if (servers.includes('fastify')) {
    try {
      const pkg = path.join(root, 'bench/node_modules/fastify/package.json');
      fastifyVersion = JSON.parse(readFileSync(pkg, 'utf8')).version;
    } catch {
      throw new Error('fastify is not installed: run `npm install --prefix bench`');
    }
  }
  if (servers.length === 0) throw new Error('no server left to run');
  return {
    servers,
    clkTck,
    nginx,
    nginxVersion,
    wrk,
    wrkVersion,
    getter,
    fastifyVersion,
    notes,
  };
}

function makeFile(dir, size) {
  const name = fileName(size);
  const file = path.join(dir, name);
  const data = randomFillSync(Buffer.allocUnsafe(size));
  writeFileSync(file, data);
  return { name, path: file, size, sha256: createHash('sha256').update(data).digest('hex') };
}

async function startServer(name, opts, env, filesDir, work) {
  let port;
  let argv;
  let display;
  if (name === 'nginx') {
    port = await writeNginxConf(work, filesDir);
    const dir = path.join(work, 'nginx');
    argv = [env.nginx, '-e', 'stderr', '-p', dir, '-c', path.join(dir, 'nginx.conf')];
    display = `taskset -c ${opts.serverCpu} ${env.nginx} -e stderr -p TMP/nginx -c TMP/nginx/nginx.conf`;
  } else {
    const args = [
      path.relative(root, path.join(here, SCRIPTS[name])),
      '--dir',
      filesDir,
      '--port',
      '0',
    ];
    argv = [process.execPath, ...args];
    display = `taskset -c ${opts.serverCpu} node ${args[0]} --dir TMP/files --port 0`;
  }
  return start(name, opts.serverCpu, argv, process.env, async (srv, deadline) => {
    Object.assign(srv, { name, display, host: '127.0.0.1', port });
    if (name === 'nginx') {
      await waitFor(srv, deadline, () => accepts(srv.host, srv.port), 50);
      return;
    }
    await waitListening(srv, deadline);
    if (name === 'polyloop') {
      srv.mode = (
        await waitFor(srv, deadline, () => /sendFile mode: ([^;\n]*)/.exec(srv.stderr))
      )[1];
    }
  });
}

/** Writes TMP/nginx/nginx.conf: one process, `return 200` for /, sendfile for /file/. */
async function writeNginxConf(work, filesDir) {
  const dir = path.join(work, 'nginx');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = `# Generated by bench/http: one process (no master), no logging.
daemon off;
master_process off;
worker_processes 1;
error_log stderr;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location = / { default_type 'text/plain; charset=utf-8'; return 200 '${BODY}'; }
    location /file/ { default_type application/octet-stream; alias ${filesDir}/; }
  }
}
`;
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  return port;
}

/** One GET; resolves with status, Content-Length, body length, sha256 and the body's start. */
function get(srv, urlPath) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: srv.host, port: srv.port, path: urlPath, agent: false }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      let start = '';
      res.on('data', (d) => {
        if (start.length < 64) start += d.subarray(0, 64).toString('latin1');
        bytes += d.length;
        hash.update(d);
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode,
          length: Number(res.headers['content-length']),
          type: res.headers['content-type'],
          bytes,
          start,
          sha256: hash.digest('hex'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('timed out')));
  });
}

/** GET / must answer 200 with BODY; every file must come back whole. Throws otherwise. */
async function verify(srv, files) {
  const hello = await get(srv, '/');
  if (hello.status !== 200 || hello.start !== BODY || hello.length !== BODY.length) {
    throw new Error(
      `GET /: status ${hello.status}, Content-Length ${hello.length}, body ${JSON.stringify(hello.start)}; expected 200 ${JSON.stringify(BODY)}`,
    );
  }
  srv.contentType = hello.type;
  for (const f of files) {
    const got = await get(srv, `/file/${f.name}`);
    if (
      got.status !== 200 ||
      got.length !== f.size ||
      got.bytes !== f.size ||
      got.sha256 !== f.sha256
    ) {
      throw new Error(
        `GET /file/${f.name}: status ${got.status}, Content-Length ${got.length}, ${got.bytes} bytes, sha256 ${got.sha256.slice(0, 16)}…; expected 200, ${f.size} bytes, ${f.sha256.slice(0, 16)}…`,
      );
    }
  }
}

function wrkCommand(srv, sc, seconds, env) {
  const urlPath = sc.file ? `/file/${fileName(sc.file)}` : '/';
  const url = `http://${srv.host}:${srv.port}${urlPath}`;
  const d = Math.max(1, Math.round(seconds));
  if (sc.client === 'getter') {
    return [env.getter, srv.host, String(srv.port), urlPath, String(sc.connections), String(d)];
  }
  const argv = [env.wrk, '-t1', `-c${sc.connections}`, `-d${d}s`, '-s', wrkScript, url];
  if (sc.pipeline > 1) argv.push('--', String(sc.pipeline));
  return argv;
}

/** Runs wrk to the end; resolves with its JSON line and its CPU %, sampled while it runs. */
async function runClient(argv, seconds, opts, env) {
  const t0 = performance.now();
  const proc = spawnPinned(opts.clientCpu, argv, process.env);
  let sample;
  const sampler = setInterval(() => {
    try {
      sample = { cpu: cpuSeconds(proc.child.pid, env.clkTck), t: performance.now() };
    } catch {
      // exited
    }
  }, 100);
  const status = await finish(proc, seconds + 60);
  clearInterval(sampler);
  if (status !== 0) throw new Error(`wrk exited with ${status}${tail(proc.stderr)}`);
  const line = proc.stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  let out;
  try {
    out = JSON.parse(line);
  } catch {
    throw new Error(`wrk printed no result: ${JSON.stringify(proc.stdout.slice(-500))}`);
  }
  const e = out.errors;
  const errs = e.connect + e.read + e.write + e.status + e.timeout;
  if (errs > 0) throw new Error(`wrk errors: ${JSON.stringify(e)}`);
  const cpuPercent = sample === undefined ? null : (sample.cpu / ((sample.t - t0) / 1000)) * 100;
  return { out, cpuPercent };
}

/** Per core, from /proc/stat, in seconds: busy (all but idle and iowait), softirq + irq, steal. */
function coreTimes(clkTck) {
  const cores = new Map();
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (m === null) continue;
    const [user, nice, system, , , irq, softirq, steal] = m[2].split(' ').map(Number);
    cores.set(Number(m[1]), {
      busy: (user + nice + system + irq + softirq + steal) / clkTck,
      softirq: (softirq + irq) / clkTck,
      steal: steal / clkTck,
    });
  }
  return cores;
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid, clkTck) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clkTck;
}

/** One run: warm-up, then wrk for T seconds, with the server's CPU and the cores around it. */
async function measure(srv, sc, opts, env) {
  try {
    if (srv.exit !== undefined) throw new Error(`server is gone (${srv.exit})${tail(srv.stderr)}`);
    if (opts.warmup > 0) {
      await runClient(wrkCommand(srv, sc, opts.warmup, env), opts.warmup, opts, env);
      if (srv.exit !== undefined)
        throw new Error(`server died during the warm-up (${srv.exit})${tail(srv.stderr)}`);
    }
    const argv = wrkCommand(srv, sc, opts.seconds, env);
    const wall0 = performance.now();
    const cores0 = coreTimes(env.clkTck);
    const cpu0 = cpuSeconds(srv.child.pid, env.clkTck);
    const run = await runClient(argv, opts.seconds, opts, env).catch((err) => ({ err }));
    if (srv.exit !== undefined)
      throw new Error(`server died during the run (${srv.exit})${tail(srv.stderr)}`);
    if (run.err !== undefined) throw run.err;
    const cpu1 = cpuSeconds(srv.child.pid, env.clkTck);
    const cores1 = coreTimes(env.clkTck);
    const window = (performance.now() - wall0) / 1000;
    const { requests, bytes: wireBytes, durationUs } = run.out;
    const seconds = durationUs / 1e6;
    if (!(requests > 0)) throw new Error('no responses');
    const cpu = cpu1 - cpu0;
    const core = (n) => {
      const a = cores0.get(Number(n));
      const b = cores1.get(Number(n));
      const pct = (k) => round(((b[k] - a[k]) / window) * 100, 1);
      return {
        busyPercent: pct('busy'),
        softirqPercent: pct('softirq'),
        stealPercent: pct('steal'),
      };
    };
    const serverCore = core(opts.serverCpu);
    const clientCore = core(opts.clientCpu);
    const serverCpuPercent = (cpu / window) * 100;
    const other = (c, own) => round(Math.max(0, c.busyPercent - c.softirqPercent - own), 1);
    const r = {
      seconds: round(seconds, 3),
      requests,
      wireBytes,
      rps: round(requests / seconds, 1),
      wireMibps: round(wireBytes / seconds / 2 ** 20, 1),
      serverCpuSeconds: round(cpu, 2),
      serverCpuPercent: round(serverCpuPercent, 1),
      clientCpuPercent: run.cpuPercent === null ? null : round(run.cpuPercent, 1),
      serverCore,
      clientCore,
      otherLoadPercent: {
        serverCore: other(serverCore, serverCpuPercent),
        clientCore: run.cpuPercent === null ? null : other(clientCore, run.cpuPercent),
      },
      command: argv.map(display).join(' '),
    };
    if (sc.file) r.mibps = round((requests * sc.file) / seconds / 2 ** 20, 1);
    return r;
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

function removeTemps() {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  temps.clear();
}

function summarize(runs, opts, wanted) {
  return opts.scenarios.map((sc) => {
    const row = {
      scenario: sc.name,
      what: sc.what,
      connections: sc.connections,
      pipeline: sc.pipeline,
      fileBytes: sc.file ?? null,
      servers: {},
      polyloopOver: {},
    };
    for (const r of runs) {
      if (r.scenario !== sc.name) continue;
      const best = row.servers[r.server];
      if (r.error !== undefined) {
        if (best === undefined) row.servers[r.server] = null;
        continue;
      }
      if (best != null && best.rps >= r.rps) continue;
      row.servers[r.server] = {
        rps: r.rps,
        mibps: r.mibps ?? null,
        serverCpuPercent: r.serverCpuPercent,
        clientCpuPercent: r.clientCpuPercent,
        otherLoadPercent: r.otherLoadPercent,
        round: r.round,
      };
    }
    const p = row.servers.polyloop?.rps;
    for (const peer of PEERS) {
      if (sc.servers.includes(peer) && wanted.includes(peer))
        row.polyloopOver[peer] = ratio(p, row.servers[peer]?.rps);
    }
    return row;
  });
}

function checkGoals(rows) {
  const goals = [];
  for (const [scenario, peer, target] of GOALS) {
    const row = rows.find((r) => r.scenario === scenario);
    if (row === undefined || !(peer in row.polyloopOver)) continue;
    const value = row.polyloopOver[peer];
    goals.push({
      scenario,
      peer,
      value,
      target: `>= ${target}`,
      met: value === null ? null : value >= target,
    });
  }
  return goals;
}

const display = (a) => {
  const word = commandWord(a);
  return word !== a ? word : a.replace(/^.*\/polyloop-http-[^/]+/, 'TMP');
};

function format(rows, goals, opts, wanted, notes) {
  const best = opts.repeat > 1 ? `, best of ${opts.repeat} rounds` : '';
  const title = `http: ${opts.seconds} s per run (+${opts.warmup} s warm-up)${best}, servers on cpu ${opts.serverCpu}, wrk -t1 on cpu ${opts.clientCpu}`;
  const body = [];
  for (const row of rows) {
    for (const s of wanted) {
      if (!(s in row.servers)) continue;
      const v = row.servers[s];
      body.push([
        row.scenario,
        s,
        v === null ? 'ERROR' : num(v.rps, 0),
        v === null || row.fileBytes === null ? '' : num(v.mibps, 1),
        v === null ? '' : num(v.serverCpuPercent, 0),
        v === null ? '' : num(v.clientCpuPercent, 0),
        v === null
          ? ''
          : `${num(v.otherLoadPercent.serverCore, 0)}/${num(v.otherLoadPercent.clientCore, 0)}${
              noisy(v.otherLoadPercent) ? ' *' : ''
            }`,
      ]);
    }
  }
  const runs = grid(
    ['scenario', 'server', 'req/s', 'MiB/s', 'server CPU %', 'client CPU %', 'other load %'],
    body,
    2,
  );
  const anyNoisy = rows.some((r) =>
    Object.values(r.servers).some((v) => v !== null && noisy(v.otherLoadPercent)),
  );
  const ratios = grid(
    ['scenario', 'what', 'wrk', ...PEERS.map((p) => `polyloop/${p}`)],
    rows.map((r) => [
      r.scenario,
      r.what,
      `-c${r.connections}${r.pipeline > 1 ? ` x${r.pipeline}` : ''}`,
      ...PEERS.map((p) => (p in r.polyloopOver ? num(r.polyloopOver[p], 2) : '')),
    ]),
    3,
  );
  const out = [title, ...runs];
  out.push(
    `other load %: busy time of the server's / wrk's core not spent by them or in interrupts${
      anyNoisy
        ? `\n  * at least ${OTHER_LOAD_WARN}%: other processes competed, rerun before trusting it`
        : ''
    }`,
  );
  out.push('', 'req/s ratios (for files the same as MiB/s):', ...ratios);
  if (goals.length > 0) {
    const mark = (g) => (g.met === null ? 'n/a' : g.met ? 'met' : 'NOT met');
    out.push('', 'goals (reported, not enforced):');
    for (const g of goals)
      out.push(
        `  ${`${g.scenario} polyloop/${g.peer}`.padEnd(30)} ${num(g.value, 2).padStart(6)} (${g.target}): ${mark(g)}`,
      );
  }
  for (const n of notes) out.push(`note: ${n}`);
  return out.join('\n');
}

function results(opts, env, notes, servers, runs, table, goals, errors) {
  return {
    benchmark: 'http',
    date: new Date().toISOString(),
    machine: {
      ...machine(),
      nginx: env.nginxVersion ?? null,
      wrk: env.wrkVersion,
      fastify: env.fastifyVersion ?? null,
      clkTck: env.clkTck,
    },
    parameters: {
      seconds: opts.seconds,
      warmupSeconds: opts.warmup,
      repeat: opts.repeat,
      scenarios: opts.scenarios.map((s) => ({
        name: s.name,
        what: s.what,
        connections: s.connections,
        pipeline: s.pipeline,
        fileBytes: s.file ?? null,
        client: s.client ?? 'wrk',
        servers: s.servers.filter((x) => env.servers.includes(x)),
      })),
      servers: env.servers,
      body: BODY,
      commands: Object.fromEntries(
        [...servers.values()].filter((s) => s.display).map((s) => [s.name, s.display]),
      ),
      contentTypes: Object.fromEntries(
        [...servers.values()].filter((s) => s.contentType).map((s) => [s.name, s.contentType]),
      ),
      modes: Object.fromEntries(
        [...servers.values()].filter((s) => s.mode).map((s) => [s.name, s.mode]),
      ),
      serverCpu: Number(opts.serverCpu),
      clientCpu: Number(opts.clientCpu),
      units: {
        rps: 'completed responses (wrk) / elapsed seconds',
        mibps: 'file bytes of the completed responses / elapsed seconds / 2^20 (file scenarios)',
        wireMibps: 'all bytes wrk read, heads included / elapsed seconds / 2^20',
        serverCpuPercent: 'server utime + stime (/proc/PID/stat) during the run / elapsed',
      },
    },
    notes,
    table,
    goals,
    runs,
    errors,
  };
}
