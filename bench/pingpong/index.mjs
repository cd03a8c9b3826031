// Ping-pong throughput, muduo's method: N sessions each bounce a block of B bytes back and forth
// for T seconds; throughput = bytes the client read / T, in MiB/s.
//
// Every server runs on core 1 (`taskset -c 1`) and the C client on core 0, so a server gets
// exactly one core and the client never competes with it. For each (B, N) cell the servers run
// back to back, so drift on a shared machine hits them alike; compare the ratios, not the
// absolute numbers.
//
//   node bench/run.mjs pingpong [--seconds 5 | --quick] [--sizes 4096,16384]
//       [--sessions 10,100,1000] [--servers polyloop,net,c-ref] [--build] [--out FILE]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const binDir = path.resolve(here, '../bin');
const client = path.join(binDir, 'pingpong-client');
const cRef = path.join(binDir, 'pingpong-echo-server');
const polyloopCli = path.join(root, 'dist/src/cli/main.js');

/** How each server is started; each prints `listening on HOST:PORT` when ready. */
const SERVERS = {
  polyloop: [process.execPath, polyloopCli, 'echo', '--host', '127.0.0.1', '--port', '0'],
  net: [process.execPath, path.join(here, 'net-echo.mjs'), '--host', '127.0.0.1', '--port', '0'],
  'c-ref': [cRef, '--host', '127.0.0.1', '--port', '0'],
};
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

/** Children alive now; killed on every way out. */
const live = new Set();

export async function main(argv) {
  const opts = options(argv);
  const onSignal = (sig) => {
    killAll();
    process.stderr.write(`\npingpong: ${sig}, servers stopped\n`);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', killAll);
  try {
    return await run(opts);
  } finally {
    killAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killAll);
  }
}

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      sizes: { type: 'string', default: '4096,16384' },
      sessions: { type: 'string', default: '10,100,1000' },
      servers: { type: 'string', default: Object.keys(SERVERS).join(',') },
      'server-cpu': { type: 'string', default: '1' },
      'client-cpu': { type: 'string', default: '0' },
      build: { type: 'boolean', default: false },
      out: { type: 'string', default: path.resolve(here, '../results/pingpong.json') },
    },
  });
  const list = (s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const ints = (name) =>
    list(values[name]).map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n <= 0)
        throw new Error(`--${name}: not a positive integer: ${x}`);
      return n;
    });
  const seconds = values.seconds !== undefined ? Number(values.seconds) : values.quick ? 1 : 5;
  if (!(seconds > 0)) throw new Error(`--seconds: not a positive number: ${values.seconds}`);
  const servers = list(values.servers);
  for (const s of servers) {
    if (!(s in SERVERS))
      throw new Error(`--servers: unknown server ${s} (${Object.keys(SERVERS)})`);
  }
  return {
    seconds,
    sizes: ints('sizes'),
    sessions: ints('sessions'),
    servers,
    serverCpu: values['server-cpu'],
    clientCpu: values['client-cpu'],
    build: values.build,
    out: path.resolve(values.out),
  };
}

async function run(opts) {
  preflight(opts);
  const runs = [];
  const errors = [];
  const total = opts.sizes.length * opts.sessions.length * opts.servers.length;
  for (const block of opts.sizes) {
    for (const sessions of opts.sessions) {
      for (const server of opts.servers) {
        process.stderr.write(
          `[${runs.length + 1}/${total}] ${server} B=${block} N=${sessions} ... `,
        );
        const r = await runOne(server, block, sessions, opts);
        runs.push(r);
        if (r.error !== undefined) errors.push(`${server} B=${block} N=${sessions}: ${r.error}`);
        process.stderr.write(
          r.error === undefined ? `${r.mibps.toFixed(1)} MiB/s\n` : `ERROR\n  ${r.error}\n`,
        );
        await sleep(300); // let the previous server's sockets wind down
      }
    }
  }
  const table = summarize(runs, opts);
  process.stdout.write(`\n${format(table, opts)}\n`);
  writeResults(opts, runs, table, errors);
  if (errors.length > 0) {
    process.stderr.write(`\npingpong: ${errors.length} run(s) failed:\n  ${errors.join('\n  ')}\n`);
    return 1;
  }
  return 0;
}

/** Builds what is missing and checks the machine can run every cell; throws if not. */
function preflight(opts) {
  if (os.platform() !== 'linux') throw new Error('pingpong needs Linux (epoll, taskset)');
  const cpus = os.availableParallelism();
  for (const c of [opts.serverCpu, opts.clientCpu]) {
    if (!(Number(c) < cpus)) throw new Error(`cpu ${c} does not exist (this machine has ${cpus})`);
  }
  const need = Math.max(...opts.sessions) + 64;
  const limit = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  if (limit !== 'unlimited' && Number(limit) < need) {
    throw new Error(`ulimit -n is ${limit}; ${Math.max(...opts.sessions)} sessions need ${need}`);
  }
  mkdirSync(binDir, { recursive: true });
  compile('client.c', client);
  compile('echo-server.c', cRef);
  if (opts.servers.includes('polyloop')) {
    if (opts.build || !existsSync(polyloopCli)) {
      process.stderr.write('pingpong: building polyloop (npm run build)\n');
      execFileSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
    } else if (newestMtime(path.join(root, 'src')) > statSync(polyloopCli).mtimeMs) {
      process.stderr.write(
        'pingpong: warning: src/ is newer than dist/; pass --build to rebuild\n',
      );
    }
  }
}

function compile(source, out) {
  const src = path.join(here, source);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return;
  process.stderr.write(`pingpong: cc -O2 ${path.relative(root, src)}\n`);
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-o', out, src], { stdio: ['ignore', 2, 2] });
}

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.ts')) {
      newest = Math.max(newest, statSync(path.join(e.parentPath ?? e.path, e.name)).mtimeMs);
    }
  }
  return newest;
}

/** One server, one cell: start the server, run the client, stop the server. Never throws. */
async function runOne(server, block, sessions, opts) {
  const result = { server, block, sessions, mibps: null };
  let srv;
  try {
    srv = await startServer(server, opts.serverCpu);
    Object.assign(result, await runClient(srv, block, sessions, opts));
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  }
  if (srv !== undefined) {
    const status = await stopServer(srv);
    result.serverExit = status;
    if (status !== 0 && result.error === undefined) {
      result.error = `server exited with ${status}${tail(srv.stderr)}`;
    }
  }
  if (result.error !== undefined) result.mibps = null;
  return result;
}

function track(cmd, args) {
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { child, stdout: '', stderr: '', exit: undefined };
  live.add(child);
  child.stdout.setEncoding('utf8').on('data', (d) => (proc.stdout = keep(proc.stdout + d)));
  child.stderr.setEncoding('utf8').on('data', (d) => (proc.stderr = keep(proc.stderr + d)));
  proc.exited = new Promise((resolve) => {
    child.on('error', (err) => {
      proc.stderr += `\n${err.message}`;
      live.delete(child);
      resolve((proc.exit = 'spawn error'));
    });
    child.on('close', (code, signal) => {
      live.delete(child);
      resolve((proc.exit = code ?? signal));
    });
  });
  return proc;
}

/** Starts a server and waits for its `listening on HOST:PORT` line; stops it if that fails. */
async function startServer(name, cpu) {
  const [cmd, ...args] = SERVERS[name];
  const srv = track('taskset', ['-c', cpu, cmd, ...args]);
  let timer;
  const ready = new Promise((resolve, reject) => {
    const onData = () => {
      const m = /^listening on (\S+):(\d+)$/m.exec(srv.stdout);
      if (m === null) return;
      srv.child.stdout.off('data', onData);
      srv.host = m[1].replace(/^\[(.*)\]$/, '$1');
      srv.port = Number(m[2]);
      resolve();
    };
    srv.child.stdout.on('data', onData);
    void srv.exited.then(() => reject(new Error(`exited with ${srv.exit} before listening`)));
    timer = setTimeout(
      () => reject(new Error(`not ready after ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
  });
  try {
    await ready;
  } catch (err) {
    await stopServer(srv);
    throw new Error(`${name} ${err.message}${tail(srv.stderr)}`);
  } finally {
    clearTimeout(timer);
  }
  return srv;
}

async function runClient(srv, block, sessions, opts) {
  const args = [
    ...['--host', srv.host, '--port', String(srv.port)],
    ...['--sessions', String(sessions), '--block', String(block)],
    ...['--seconds', String(opts.seconds)],
  ];
  const proc = track('taskset', ['-c', opts.clientCpu, client, ...args]);
  // Connecting may take a while for 1000 sessions; the run itself is bounded by --seconds.
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), (opts.seconds + 60) * 1000);
  const status = await proc.exited;
  clearTimeout(timer);
  if (srv.exit !== undefined)
    throw new Error(`server died during the run (${srv.exit})${tail(srv.stderr)}`);
  if (status !== 0) throw new Error(`client exited with ${status}${tail(proc.stderr)}`);
  const line = proc.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`client printed no result: ${JSON.stringify(proc.stdout)}`);
  }
}

/** SIGTERM, then SIGKILL if it lingers. Resolves with the exit code (or signal name). */
async function stopServer(srv) {
  if (srv.exit === undefined) srv.child.kill('SIGTERM');
  const timer = setTimeout(() => srv.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  const status = await srv.exited;
  clearTimeout(timer);
  return status;
}

function killAll() {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

function summarize(runs, opts) {
  const rows = [];
  for (const block of opts.sizes) {
    for (const sessions of opts.sessions) {
      const row = { block, sessions, mibps: {} };
      for (const r of runs) {
        if (r.block === block && r.sessions === sessions) row.mibps[r.server] = r.mibps;
      }
      const { polyloop, net, 'c-ref': c } = row.mibps;
      row.polyloopOverNet = ratio(polyloop, net);
      row.polyloopOverCRef = ratio(polyloop, c);
      rows.push(row);
    }
  }
  return rows;
}

const ratio = (a, b) =>
  typeof a === 'number' && typeof b === 'number' && b > 0
    ? Math.round((a / b) * 1000) / 1000
    : null;

/** A command word as a reader would type it from the repo root. */
const display = (a) =>
  a === process.execPath ? 'node' : a.startsWith(`${root}/`) ? path.relative(root, a) : a;

function format(rows, opts) {
  const head = ['block', 'sessions', ...opts.servers.map((s) => `${s} MiB/s`)];
  head.push('polyloop/net', 'polyloop/c-ref');
  const num = (x, digits) => (typeof x === 'number' ? x.toFixed(digits) : '-');
  const body = rows.map((r) => [
    String(r.block),
    String(r.sessions),
    ...opts.servers.map((s) => (r.mibps[s] === null ? 'ERROR' : num(r.mibps[s], 1))),
    num(r.polyloopOverNet, 2),
    num(r.polyloopOverCRef, 2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const title = `pingpong: ${opts.seconds} s per run, server on cpu ${opts.serverCpu}, client on cpu ${opts.clientCpu}`;
  return [title, line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function writeResults(opts, runs, table, errors) {
  const result = {
    benchmark: 'pingpong',
    date: new Date().toISOString(),
    machine: {
      node: process.version,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      nproc: os.availableParallelism(),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    },
    parameters: {
      seconds: opts.seconds,
      sizes: opts.sizes,
      sessions: opts.sessions,
      servers: opts.servers,
      commands: Object.fromEntries(
        opts.servers.map((s) => [
          s,
          `taskset -c ${opts.serverCpu} ${SERVERS[s].map(display).join(' ')}`,
        ]),
      ),
      client: `taskset -c ${opts.clientCpu} ${display(client)} --host 127.0.0.1 --port PORT --sessions N --block B --seconds T`,
      serverCpu: Number(opts.serverCpu),
      clientCpu: Number(opts.clientCpu),
      unit: 'MiB/s = bytes read by the client / elapsed seconds / 2^20',
    },
    table,
    runs,
    errors,
  };
  mkdirSync(path.dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(result, null, 2)}\n`);
  process.stderr.write(`pingpong: wrote ${path.relative(process.cwd(), opts.out) || opts.out}\n`);
}

const keep = (s) => (s.length > 64 * 1024 ? s.slice(-64 * 1024) : s);
const tail = (s) => (s.trim() === '' ? '' : `: ${s.trim().split('\n').slice(-5).join(' | ')}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
