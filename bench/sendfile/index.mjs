// Static file serving over loopback: polyloop's `Connection.sendFile` with sendfile(2), the same
// server with the buffered fallback (POLYLOOP_NO_NATIVE=1), and nginx with `sendfile on`.
//
// Files of each size (random bytes) are generated into a temp dir; each server is started once,
// checked (every file downloaded once and compared by sha256), then for each size the servers run
// back to back. Per run: throughput (MiB/s of file bytes, req/s) measured by the client, and the
// server's CPU time (utime + stime from /proc/PID/stat) per GiB served. Every server runs on core
// 1 (`taskset -c 1`), the client on core 0. Compare the ratios, not the absolute numbers.
//
//   node bench/run.mjs sendfile [--seconds 5 | --quick] [--warmup 1] [--sizes 4k,1m,100m]
//       [--servers sendfile,fallback,nginx] [--client auto|wrk|c] [--connections 8]
//       [--connections-large 2] [--build] [--out FILE]
import { execFileSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  accepts,
  freePort,
  spawnText,
  which,
  binDir,
  checkMachine,
  commandWord,
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
  startServer as start,
  stop,
  tail,
  waitFor,
  waitListening,
  writeResults,
} from '../lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const cClient = path.join(binDir, 'sendfile-client');
const wrkScript = path.join(here, 'wrk-report.lua');
const polyloopServer = path.join(here, 'polyloop-server.mjs');
const polyloopDist = path.join(root, 'dist/src/index.js');

const SERVERS = ['sendfile', 'fallback', 'nginx'];
/**
 * Files at least this large are downloaded by the C client with `auto`: wrk reads 8 KiB at a time,
 * which held nginx near 2.3 GB/s at 1 MiB here, where the C client got 20-60% more.
 */
const C_CLIENT_FROM = 256 * 2 ** 10;
/** Files at least this large are downloaded over `--connections-large` connections. */
const LARGE = 64 * 2 ** 20;
/** Other processes' share of the server's core (%) above which a run is flagged as noisy. */
const OTHER_LOAD_WARN = 10;
/** Goals for the largest file (100 MiB), reported against, never enforced. */
const GOALS = {
  size: 100 * 2 ** 20,
  throughputOverFallback: 1.5,
  cpuPerGiBOverFallback: 0.5,
  throughputOverNginx: 0.8,
};

/** Temp dirs made by this run; removed on every way out. */
const temps = new Set();

export async function main(argv) {
  const opts = options(argv);
  return guarded('sendfile', 'servers stopped, files removed', () => run(opts), removeTemps);
}

function options(argv) {
  const { values, common } = parseOptions(
    argv,
    {
      warmup: { type: 'string', default: '1' },
      sizes: { type: 'string', default: '4k,1m,100m' },
      servers: { type: 'string', default: SERVERS.join(',') },
      client: { type: 'string', default: 'auto' },
      connections: { type: 'string', default: '8' },
      'connections-large': { type: 'string', default: '2' },
    },
    path.resolve(here, '../results/sendfile.json'),
  );
  const warmup = Number(values.warmup);
  if (!(warmup >= 0)) throw new Error(`--warmup: not a number >= 0: ${values.warmup}`);
  const sizes = [...new Set(list(values.sizes).map(parseSize))];
  if (sizes.length === 0) throw new Error('--sizes: none given');
  const servers = list(values.servers);
  for (const s of servers) {
    if (!SERVERS.includes(s)) throw new Error(`--servers: unknown server ${s} (${SERVERS})`);
  }
  if (!['auto', 'wrk', 'c'].includes(values.client))
    throw new Error(`--client: auto, wrk or c; got ${values.client}`);
  return {
    ...common,
    warmup,
    sizes,
    servers,
    client: values.client,
    connections: positiveInt('connections', values.connections),
    connectionsLarge: positiveInt('connections-large', values['connections-large']),
  };
}

/** `4k`, `1m`, `100m`, `1g` (powers of 1024) or a number of bytes. */
function parseSize(s) {
  const m = /^(\d+)([kmg]?)(?:i?b)?$/i.exec(s);
  if (m === null || Number(m[1]) <= 0) throw new Error(`--sizes: not a size: ${s}`);
  const unit = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[m[2].toLowerCase()];
  return Number(m[1]) * unit;
}

function sizeLabel(bytes) {
  for (const [unit, n] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ]) {
    if (bytes % n === 0) return `${bytes / n} ${unit}`;
  }
  return `${bytes} B`;
}

const fileName = (bytes) => `file-${sizeLabel(bytes).replace(' ', '').toLowerCase()}.bin`;

async function run(opts) {
  const env = preflight(opts);
  const notes = [...env.notes];
  for (const n of notes) process.stderr.write(`sendfile: note: ${n}\n`);
  const work = mkdtempSync(path.join(os.tmpdir(), 'polyloop-sendfile-'));
  temps.add(work);
  const filesDir = path.join(work, 'files');
  mkdirSync(filesDir);
  const files = opts.sizes.map((size) => makeFile(filesDir, size));

  const errors = [];
  const servers = new Map(); // name -> started server, or { error }
  for (const name of env.servers) {
    process.stderr.write(`sendfile: starting ${name} ... `);
    try {
      const srv = await startServer(name, opts, env, filesDir, work);
      servers.set(name, srv);
      await verify(srv, files);
      process.stderr.write(
        `port ${srv.port}, pid ${srv.child.pid}${srv.mode ? `, ${srv.mode}` : ''}; ${files.length} file(s) verified\n`,
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

  const runs = [];
  const total = files.length * env.servers.length;
  for (const file of files) {
    for (const name of env.servers) {
      const srv = servers.get(name);
      const client = clientFor(file.size, opts, env);
      process.stderr.write(
        `[${runs.length + 1}/${total}] ${name} ${sizeLabel(file.size)} (${client.name} -c${client.connections}) ... `,
      );
      const r = {
        server: name,
        size: file.size,
        client: client.name,
        connections: client.connections,
      };
      if (srv.error !== undefined) r.error = 'server not started';
      else {
        Object.assign(r, await measure(srv, file, client, opts, env));
        if (r.error !== undefined) errors.push(`${name} ${sizeLabel(file.size)}: ${r.error}`);
      }
      runs.push(r);
      process.stderr.write(
        r.error === undefined
          ? `${r.mibps.toFixed(1)} MiB/s, ${r.rps.toFixed(0)} req/s, ${r.cpuPerGiB.toFixed(3)} CPU s/GiB${noise(r, opts)}\n`
          : `ERROR\n  ${r.error}\n`,
      );
      await sleep(300);
    }
  }

  for (const srv of servers.values()) {
    if (srv.error !== undefined) continue;
    const status = await stop(srv);
    srv.exitStatus = status;
    if (status !== 0) errors.push(`${srv.name}: exited with ${status}${tail(srv.stderr)}`);
  }

  const table = summarize(runs, opts);
  const goals = checkGoals(table);
  process.stdout.write(`\n${format(table, goals, opts, env, notes)}\n`);
  writeResults(
    'sendfile',
    opts.out,
    results(opts, env, notes, servers, runs, table, goals, errors),
  );
  if (errors.length > 0) {
    process.stderr.write(`\nsendfile: ${errors.length} failure(s):\n  ${errors.join('\n  ')}\n`);
    return 1;
  }
  return 0;
}

const noisy = (o) => o.serverCore >= OTHER_LOAD_WARN || o.clientCore >= OTHER_LOAD_WARN;

/** A warning when other processes took a noticeable share of the server's or client's core. */
function noise(r, opts) {
  const parts = [];
  if (r.otherLoadPercent.serverCore >= OTHER_LOAD_WARN)
    parts.push(`cpu ${opts.serverCpu} (server): ${r.otherLoadPercent.serverCore}%`);
  if (r.otherLoadPercent.clientCore >= OTHER_LOAD_WARN)
    parts.push(`cpu ${opts.clientCpu} (client): ${r.otherLoadPercent.clientCore}%`);
  return parts.length === 0 ? '' : ` (warning: other load on ${parts.join(', ')}; rerun)`;
}

/** Checks the machine, builds what is missing, finds nginx and wrk. Throws if it cannot run. */
function preflight(opts) {
  checkMachine('sendfile', 'sendfile, taskset, /proc', opts);
  const notes = [];
  const clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  if (!(clkTck > 0)) throw new Error('getconf CLK_TCK failed');
  compileC('sendfile', path.join(here, 'client.c'), cClient);
  if (opts.servers.includes('sendfile') || opts.servers.includes('fallback'))
    ensureBuilt('sendfile', polyloopDist, opts.build);
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
  const wrk = which('wrk', []);
  const needWrk =
    opts.client === 'wrk' || (opts.client === 'auto' && opts.sizes.some((s) => s < C_CLIENT_FROM));
  if (needWrk && wrk === undefined) {
    if (opts.client === 'wrk')
      throw new Error('--client wrk: wrk is not installed (apt-get install -y wrk)');
    notes.push('wrk not installed (apt-get install -y wrk): the C client downloads every size');
  }
  const wrkVersion =
    wrk === undefined
      ? undefined
      : spawnText(wrk, ['-v'])
          .split('\n')[0]
          .replace(/ Copyright.*$/, '');
  if (servers.length === 0) throw new Error('no server left to run');
  return { servers, clkTck, nginx, nginxVersion, wrk, wrkVersion, notes };
}

/** A command's stdout and stderr together, whatever its exit status (for `-v` flags). */
/** The first `name` on PATH, else the first of `fallbacks` (full paths) that exists. */
/** Writes `size` random bytes; returns the file's name, path, size and sha256. */
function makeFile(dir, size) {
  const name = fileName(size);
  const file = path.join(dir, name);
  const hash = createHash('sha256');
  const chunk = Buffer.allocUnsafe(Math.min(size, 2 ** 20));
  const fd = openSync(file, 'w');
  try {
    for (let left = size; left > 0;) {
      const n = Math.min(left, chunk.length);
      const view = chunk.subarray(0, n);
      randomFillSync(view);
      hash.update(view);
      for (let off = 0; off < n;) off += writeSync(fd, view, off, n - off);
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
  return { name, path: file, size, sha256: hash.digest('hex') };
}

/** The command line of a server (after `taskset -c CPU`) and its environment. */
function serverCommand(name, opts, env, filesDir, work) {
  if (name === 'nginx') {
    const dir = path.join(work, 'nginx');
    return {
      argv: [env.nginx, '-e', 'stderr', '-p', dir, '-c', path.join(dir, 'nginx.conf')],
      env: process.env,
      display: `taskset -c ${opts.serverCpu} ${env.nginx} -e stderr -p TMP/nginx -c TMP/nginx/nginx.conf`,
    };
  }
  const childEnv = { ...process.env };
  delete childEnv.POLYLOOP_NO_NATIVE;
  if (name === 'fallback') childEnv.POLYLOOP_NO_NATIVE = '1';
  const args = [path.relative(root, polyloopServer), '--dir', filesDir, '--port', '0'];
  return {
    argv: [process.execPath, ...args],
    env: childEnv,
    display: `${name === 'fallback' ? 'POLYLOOP_NO_NATIVE=1 ' : ''}taskset -c ${opts.serverCpu} node ${args.slice(0, 2).join(' ')} TMP/files --port 0`,
  };
}

/** Starts a server and waits until it is ready; stops it and throws if that fails. */
async function startServer(name, opts, env, filesDir, work) {
  let port;
  if (name === 'nginx') port = await writeNginxConf(work, filesDir);
  const cmd = serverCommand(name, opts, env, filesDir, work);
  return start(name, opts.serverCpu, cmd.argv, cmd.env, async (srv, deadline) => {
    Object.assign(srv, { name, display: cmd.display, host: '127.0.0.1', port });
    if (name === 'nginx') {
      await waitFor(srv, deadline, () => accepts(srv.host, srv.port), 50);
      return;
    }
    // The mode line goes to stderr just before `listening on` goes to stdout.
    await waitListening(srv, deadline);
    srv.mode = (await waitFor(srv, deadline, () => /sendFile mode: ([^;\n]*)/.exec(srv.stderr)))[1];
    const want = name === 'sendfile' ? 'native' : 'fallback';
    if (!srv.mode.startsWith(want)) throw new Error(`expected the ${want} mode, got: ${srv.mode}`);
  });
}

/** True if a TCP connection to host:port succeeds. */
/** Writes TMP/nginx/nginx.conf for one worker serving `filesDir`; returns the port it uses. */
async function writeNginxConf(work, filesDir) {
  const dir = path.join(work, 'nginx');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = `# Generated by bench/sendfile: one process (no master), sendfile on, no logging.
daemon off;
master_process off;
worker_processes 1;
error_log stderr;
pid ${dir}/nginx.pid;
events {}
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port}; root ${filesDir}; }
}
`;
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  return port;
}

/** Downloads every file once and compares length and sha256. Throws on a mismatch. */
async function verify(srv, files) {
  for (const f of files) {
    const got = await new Promise((resolve, reject) => {
      const req = http.get(
        { host: srv.host, port: srv.port, path: `/${f.name}`, agent: false },
        (res) => {
          const hash = createHash('sha256');
          let bytes = 0;
          res.on('data', (d) => {
            bytes += d.length;
            hash.update(d);
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode,
              length: Number(res.headers['content-length']),
              bytes,
              sha256: hash.digest('hex'),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.setTimeout(60_000, () => req.destroy(new Error('timed out')));
    });
    if (
      got.status !== 200 ||
      got.length !== f.size ||
      got.bytes !== f.size ||
      got.sha256 !== f.sha256
    ) {
      throw new Error(
        `GET /${f.name}: status ${got.status}, Content-Length ${got.length}, ${got.bytes} bytes, sha256 ${got.sha256.slice(0, 16)}…; expected 200, ${f.size} bytes, ${f.sha256.slice(0, 16)}…`,
      );
    }
  }
}

/** Which client downloads a file of `size` bytes, with how many connections. */
function clientFor(size, opts, env) {
  const connections = size >= LARGE ? opts.connectionsLarge : opts.connections;
  const useWrk =
    env.wrk !== undefined &&
    (opts.client === 'wrk' || (opts.client === 'auto' && size < C_CLIENT_FROM));
  return { name: useWrk ? 'wrk' : 'c', connections };
}

/** The client's command line for a run of `seconds` (wrk takes whole seconds only). */
function clientCommand(client, srv, file, seconds, env) {
  const url = `http://${srv.host}:${srv.port}/${file.name}`;
  if (client.name === 'wrk') {
    const d = Math.max(1, Math.round(seconds));
    return [env.wrk, '-t1', `-c${client.connections}`, `-d${d}s`, '-s', wrkScript, url];
  }
  return [
    cClient,
    ...['--host', srv.host, '--port', String(srv.port), '--path', `/${file.name}`],
    ...['--connections', String(client.connections), '--seconds', String(seconds)],
  ];
}

/**
 * Runs the client to the end. Resolves with its JSON result line and its CPU time, sampled while
 * it runs (its /proc entry goes when it exits): the last sample covers all but the last 100 ms.
 */
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
  if (status !== 0) throw new Error(`client exited with ${status}${tail(proc.stderr)}`);
  const line = proc.stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  let out;
  try {
    out = JSON.parse(line);
  } catch {
    throw new Error(`client printed no result: ${JSON.stringify(proc.stdout.slice(-500))}`);
  }
  const cpuPercent = sample === undefined ? null : (sample.cpu / ((sample.t - t0) / 1000)) * 100;
  return { out, cpuPercent };
}

/**
 * Per core, from /proc/stat, in seconds: busy (all but idle and iowait), softirq, steal.
 * Keyed by core number.
 */
function coreTimes(clkTck) {
  const cores = new Map();
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (m === null) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = m[2].split(' ').map(Number);
    cores.set(Number(m[1]), {
      busy: (user + nice + system + irq + softirq + steal) / clkTck,
      softirq: (softirq + irq) / clkTck,
      steal: steal / clkTck,
    });
    void idle;
    void iowait;
  }
  return cores;
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid, clkTck) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ", field 3 (state) is index 0: utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / clkTck;
}

/** One run: the client against a started server, with the server's CPU time around it. */
async function measure(srv, file, client, opts, env) {
  try {
    if (srv.exit !== undefined) throw new Error(`server is gone (${srv.exit})${tail(srv.stderr)}`);
    if (opts.warmup > 0) {
      // Untimed: lets V8 optimize the server's hot paths and TCP settle.
      const argv = clientCommand(client, srv, file, opts.warmup, env);
      await runClient(argv, opts.warmup, opts, env);
      if (srv.exit !== undefined)
        throw new Error(`server died during the warm-up (${srv.exit})${tail(srv.stderr)}`);
    }
    const argv = clientCommand(client, srv, file, opts.seconds, env);
    // The server's CPU time and the cores' times are read around the client's whole life.
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
    const out = run.out;
    let requests, bytes, seconds;
    if (client.name === 'wrk') {
      const e = out.errors;
      const errs = e.connect + e.read + e.write + e.status + e.timeout;
      if (errs > 0) throw new Error(`wrk errors: ${JSON.stringify(e)}`);
      requests = out.requests;
      bytes = out.requests * file.size; // file bytes of the completed responses
      seconds = out.durationUs / 1e6;
    } else {
      requests = out.responses;
      bytes = out.bodyBytes; // includes the responses in flight at the end
      seconds = out.seconds;
    }
    if (!(bytes > 0)) throw new Error('no bytes received');
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
    // Busy time on a core that was neither our process nor interrupt work: another process
    // competed for it and the run is suspect. A lower bound: the kernel may charge softirq time
    // to the process it interrupted as well.
    const other = (c, own) => round(Math.max(0, c.busyPercent - c.softirqPercent - own), 1);
    const otherLoad = {
      serverCore: other(serverCore, serverCpuPercent),
      clientCore: run.cpuPercent === null ? null : other(clientCore, run.cpuPercent),
    };
    return {
      seconds: round(seconds, 3),
      requests,
      bytes,
      mibps: round(bytes / seconds / 2 ** 20, 1),
      rps: round(requests / seconds, 1),
      serverCpuSeconds: round(cpu, 2),
      serverCpuPercent: round(serverCpuPercent, 1),
      clientCpuPercent: run.cpuPercent === null ? null : round(run.cpuPercent, 1),
      cpuPerGiB: round(cpu / (bytes / 2 ** 30), 4),
      serverCore,
      clientCore,
      otherLoadPercent: otherLoad,
      command: argv.map(display).join(' '),
    };
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

function removeTemps() {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  temps.clear();
}

function summarize(runs, opts) {
  const rows = [];
  for (const size of opts.sizes) {
    const row = { size, label: sizeLabel(size), servers: {} };
    for (const r of runs) {
      if (r.size !== size) continue;
      row.servers[r.server] =
        r.error === undefined
          ? {
              mibps: r.mibps,
              rps: r.rps,
              cpuPerGiB: r.cpuPerGiB,
              serverCpuPercent: r.serverCpuPercent,
              clientCpuPercent: r.clientCpuPercent,
              otherLoadPercent: r.otherLoadPercent,
              client: `${r.client} -c${r.connections}`,
            }
          : null;
    }
    const { sendfile: s, fallback: f, nginx: n } = row.servers;
    row.throughputSendfileOverFallback = ratio(s?.mibps, f?.mibps);
    row.cpuPerGiBSendfileOverFallback = ratio(s?.cpuPerGiB, f?.cpuPerGiB);
    row.throughputSendfileOverNginx = ratio(s?.mibps, n?.mibps);
    rows.push(row);
  }
  return rows;
}

function checkGoals(rows) {
  const row = rows.find((r) => r.size === GOALS.size);
  if (row === undefined) return null;
  const goal = (value, target, atLeast) => ({
    value,
    target: `${atLeast ? '>=' : '<='} ${target}`,
    met: value === null ? null : atLeast ? value >= target : value <= target,
  });
  return {
    size: GOALS.size,
    throughputSendfileOverFallback: goal(
      row.throughputSendfileOverFallback,
      GOALS.throughputOverFallback,
      true,
    ),
    cpuPerGiBSendfileOverFallback: goal(
      row.cpuPerGiBSendfileOverFallback,
      GOALS.cpuPerGiBOverFallback,
      false,
    ),
    throughputSendfileOverNginx: goal(
      row.throughputSendfileOverNginx,
      GOALS.throughputOverNginx,
      true,
    ),
  };
}

/** A command word as a reader would type it from the repo root, the temp dir as TMP. */
const display = (a) => {
  const word = commandWord(a);
  return word !== a ? word : a.replace(/^.*\/polyloop-sendfile-[^/]+/, 'TMP');
};

function format(rows, goals, opts, env, notes) {
  const title = `sendfile: ${opts.seconds} s per run, servers on cpu ${opts.serverCpu}, client on cpu ${opts.clientCpu}`;
  const body = [];
  for (const row of rows) {
    for (const s of env.servers) {
      const v = row.servers[s];
      body.push([
        row.label,
        s,
        v === null || v === undefined ? '-' : v.client,
        v === null ? 'ERROR' : num(v?.mibps, 1),
        v === null ? '' : num(v?.rps, 0),
        v === null ? '' : num(v?.cpuPerGiB, 3),
        v === null ? '' : num(v?.serverCpuPercent, 0),
        v === null ? '' : num(v?.clientCpuPercent, 0),
        v === null || v === undefined
          ? ''
          : `${num(v.otherLoadPercent.serverCore, 0)}/${num(v.otherLoadPercent.clientCore, 0)}${
              noisy(v.otherLoadPercent) ? ' *' : ''
            }`,
      ]);
    }
  }
  const runs = grid(
    [
      ...['size', 'server', 'client', 'MiB/s', 'req/s', 'CPU s/GiB'],
      ...['server CPU %', 'client CPU %', 'other load %'],
    ],
    body,
    3,
  );
  const anyNoisy = rows.some((r) =>
    Object.values(r.servers).some((v) => v !== null && noisy(v.otherLoadPercent)),
  );
  const ratios = grid(
    ['size', 'MiB/s sendfile/fallback', 'CPU/GiB sendfile/fallback', 'MiB/s sendfile/nginx'],
    rows.map((r) => [
      r.label,
      num(r.throughputSendfileOverFallback, 2),
      num(r.cpuPerGiBSendfileOverFallback, 2),
      num(r.throughputSendfileOverNginx, 2),
    ]),
    1,
  );
  const out = [title, ...runs];
  out.push(
    `other load %: busy time of the server's / client's core not spent by them or in interrupts${
      anyNoisy
        ? `\n  * at least ${OTHER_LOAD_WARN}%: other processes competed, rerun before trusting it`
        : ''
    }`,
  );
  out.push('', ...ratios);
  if (goals !== null) {
    const mark = (g) => (g.met === null ? 'n/a' : g.met ? 'met' : 'NOT met');
    out.push(
      '',
      `goals (${sizeLabel(goals.size)}, reported, not enforced):`,
      `  throughput sendfile/fallback ${num(goals.throughputSendfileOverFallback.value, 2)} (${goals.throughputSendfileOverFallback.target}): ${mark(goals.throughputSendfileOverFallback)}`,
      `  CPU/GiB sendfile/fallback    ${num(goals.cpuPerGiBSendfileOverFallback.value, 2)} (${goals.cpuPerGiBSendfileOverFallback.target}): ${mark(goals.cpuPerGiBSendfileOverFallback)}`,
      `  throughput sendfile/nginx    ${num(goals.throughputSendfileOverNginx.value, 2)} (${goals.throughputSendfileOverNginx.target}): ${mark(goals.throughputSendfileOverNginx)}`,
    );
  }
  for (const n of notes) out.push(`note: ${n}`);
  return out.join('\n');
}

function results(opts, env, notes, servers, runs, table, goals, errors) {
  return {
    benchmark: 'sendfile',
    date: new Date().toISOString(),
    machine: {
      ...machine(),
      nginx: env.nginxVersion ?? null,
      wrk: env.wrkVersion ?? null,
      clkTck: env.clkTck,
    },
    parameters: {
      seconds: opts.seconds,
      warmupSeconds: opts.warmup,
      sizes: opts.sizes,
      servers: env.servers,
      client: opts.client,
      connections: opts.connections,
      connectionsLarge: opts.connectionsLarge,
      cClientFromBytes: C_CLIENT_FROM,
      largeFileBytes: LARGE,
      commands: Object.fromEntries(
        [...servers.values()].filter((s) => s.display).map((s) => [s.name, s.display]),
      ),
      modes: Object.fromEntries(
        [...servers.values()].filter((s) => s.mode).map((s) => [s.name, s.mode]),
      ),
      serverCpu: Number(opts.serverCpu),
      clientCpu: Number(opts.clientCpu),
      units: {
        mibps: 'file bytes received by the client / elapsed seconds / 2^20',
        rps: 'completed responses / elapsed seconds',
        cpuPerGiB: 'server utime + stime (/proc/PID/stat) during the run / (file bytes / 2^30)',
      },
    },
    notes,
    table,
    goals,
    runs,
    errors,
  };
}
