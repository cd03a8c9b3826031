// What every benchmark harness (bench/<name>/index.mjs) needs around its own measuring: the
// shared options, pinned child processes that never outlive the harness, building the C helpers
// and polyloop, the machine block of the results JSON and plain-text tables. A harness keeps what
// it measures and how it reports it; only the plumbing lives here.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** The repository root: children run here and command lines are shown relative to it. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Where compiled C helpers go (ignored by git). */
export const binDir = path.join(root, 'bench/bin');
/** How long a server may take to say it is ready. */
export const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

/** Children alive now; killed on every way out (see `guarded`). */
const live = new Set();

/**
 * Runs `body` with SIGINT, SIGTERM and exit wired to kill every tracked child and run `cleanup`,
 * so that no pinned server outlives the harness (it would skew the next run), however it ends.
 * `note` says what was undone, after `tag: SIGNAL, `.
 */
export async function guarded(tag, note, body, cleanup = () => {}) {
  const undo = () => {
    killAll();
    cleanup();
  };
  const onSignal = (sig) => {
    undo();
    process.stderr.write(`\n${tag}: ${sig}, ${note}\n`);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', undo);
  try {
    return await body();
  } finally {
    undo();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', undo);
  }
}

/**
 * Parses `argv` with the options every harness takes, so they read the same everywhere:
 * `--seconds` (default 5, 1 with `--quick`), `--server-cpu` (1), `--client-cpu` (0), `--build`
 * and `--out` (default `outDefault`), plus the harness's `own` parseArgs options. Returns the raw
 * `values` and the checked `common` settings.
 */
export function parseOptions(argv, own, outDefault) {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      ...own,
      'server-cpu': { type: 'string', default: '1' },
      'client-cpu': { type: 'string', default: '0' },
      build: { type: 'boolean', default: false },
      out: { type: 'string', default: outDefault },
    },
  });
  const seconds = values.seconds !== undefined ? Number(values.seconds) : values.quick ? 1 : 5;
  if (!(seconds > 0)) throw new Error(`--seconds: not a positive number: ${values.seconds}`);
  const common = {
    seconds,
    serverCpu: values['server-cpu'],
    clientCpu: values['client-cpu'],
    build: values.build,
    out: path.resolve(values.out),
  };
  return { values, common };
}

/** The items of a comma-separated option, trimmed, empty ones dropped. */
export const list = (s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** `text` as a positive integer; throws naming `--flag` if it is not one. */
export function positiveInt(flag, text) {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${flag}: not a positive integer: ${text}`);
  return n;
}

/** Throws unless this is Linux (`why`: what the harness needs of it) and both pinned cores exist. */
export function checkMachine(tag, why, opts) {
  if (os.platform() !== 'linux') throw new Error(`${tag} needs Linux (${why})`);
  const cpus = os.availableParallelism();
  for (const c of [opts.serverCpu, opts.clientCpu]) {
    if (!(Number(c) < cpus)) throw new Error(`cpu ${c} does not exist (this machine has ${cpus})`);
  }
}

/** Compiles `src` into `out` with `cc -O2` when the binary is missing or older than its source. */
export function compileC(tag, src, out) {
  mkdirSync(path.dirname(out), { recursive: true });
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return;
  process.stderr.write(`${tag}: cc -O2 ${path.relative(root, src)}\n`);
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-o', out, src], { stdio: ['ignore', 2, 2] });
}

/**
 * Builds polyloop (`npm run build`) when `build` is asked for or `distFile` is missing; otherwise
 * only warns when src/ is newer than it, since a stale dist/ would measure old code.
 */
export function ensureBuilt(tag, distFile, build) {
  if (build || !existsSync(distFile)) {
    process.stderr.write(`${tag}: building polyloop (npm run build)\n`);
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
  } else if (newestMtime(path.join(root, 'src')) > statSync(distFile).mtimeMs) {
    process.stderr.write(`${tag}: warning: src/ is newer than dist/; pass --build to rebuild\n`);
  }
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

/**
 * Spawns `argv` pinned to `cpu` (`taskset -c`) from the repo root. The result keeps the last
 * 64 KiB of stdout and stderr, `exit` (code or signal, once it has gone) and `exited` (a promise
 * of it); the child is killed on every way out of `guarded`.
 */
export function spawnPinned(cpu, argv, env) {
  const child = spawn('taskset', ['-c', cpu, ...argv], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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

/**
 * Starts server `name` (`argv` pinned to `cpu`) and awaits `ready(proc, deadline)`, by default its
 * `listening on HOST:PORT` line; if that fails, stops it and throws with its stderr's tail.
 */
export async function startServer(name, cpu, argv, env, ready = waitListening) {
  const srv = spawnPinned(cpu, argv, env);
  try {
    await ready(srv, Date.now() + READY_TIMEOUT_MS);
  } catch (err) {
    await stop(srv);
    throw new Error(`${name} ${err.message}${tail(srv.stderr)}`);
  }
  return srv;
}

/** Waits for `listening on HOST:PORT` on stdout and sets `proc.host` and `proc.port` from it. */
export async function waitListening(proc, deadline) {
  const m = await waitFor(proc, deadline, () => /^listening on (\S+):(\d+)$/m.exec(proc.stdout));
  proc.host = m[1].replace(/^\[(.*)\]$/, '$1');
  proc.port = Number(m[2]);
}

/**
 * Polls `probe` (sync or async) every `ms` until it returns a truthy value, and resolves with it;
 * throws if `proc` exits first or `deadline` (ms since the epoch) passes.
 */
export async function waitFor(proc, deadline, probe, ms = 20) {
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (proc.exit !== undefined) throw new Error(`exited with ${proc.exit} before it was ready`);
    if (Date.now() > deadline) throw new Error(`not ready after ${READY_TIMEOUT_MS} ms`);
    await sleep(ms);
  }
}

/** Awaits the end of a run-to-completion child, SIGKILLing it after `limitS` seconds. */
export async function finish(proc, limitS) {
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), limitS * 1000);
  const status = await proc.exited;
  clearTimeout(timer);
  return status;
}

/** SIGTERM, then SIGKILL if it lingers. Resolves with the exit code (or signal name). */
export async function stop(proc) {
  if (proc.exit === undefined) proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  const status = await proc.exited;
  clearTimeout(timer);
  return status;
}

function killAll() {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

/** The machine block of a results JSON: what a reader needs to compare numbers across runs. */
export function machine() {
  return {
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    nproc: os.availableParallelism(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  };
}

/** Writes `result` as pretty JSON to `file` (making its folder) and says where on stderr. */
export function writeResults(tag, file, result) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stderr.write(`${tag}: wrote ${path.relative(process.cwd(), file) || file}\n`);
}

/**
 * A plain-text table as lines: header, dashes, body; the first `leftCols` columns left-aligned,
 * the rest right-aligned (numbers), two spaces apart.
 */
export function grid(head, body, leftCols) {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i < leftCols ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
}

/** A table cell: `x` to `digits` decimals, `-` where there is no number. */
export const num = (x, digits) => (typeof x === 'number' ? x.toFixed(digits) : '-');
/** a / b to 3 decimals, or null where either is missing (a failed run) or b is 0. */
export const ratio = (a, b) =>
  typeof a === 'number' && typeof b === 'number' && b > 0 ? round(a / b, 3) : null;
export const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits;

/** A command word as a reader would type it from the repo root. */
export const commandWord = (a) =>
  a === process.execPath ? 'node' : a.startsWith(`${root}/`) ? path.relative(root, a) : a;

/** The last lines of a child's output, for an error message (`: a | b | c`, or nothing). */
export const tail = (s) =>
  s.trim() === '' ? '' : `: ${s.trim().split('\n').slice(-5).join(' | ')}`;
export const errorMessage = (err) => (err instanceof Error ? err.message : String(err));
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const keep = (s) => (s.length > 64 * 1024 ? s.slice(-64 * 1024) : s);

/** The trimmed stdout and stderr of a short command (version strings). */
export function spawnText(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

/** The path of an executable on PATH or in `fallbacks`, or undefined. */
export function which(name, fallbacks) {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const p of [...dirs.map((d) => path.join(d, name)), ...fallbacks]) {
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** True when something accepts TCP connections on host:port (readiness of peers that print nothing). */
export function accepts(host, port) {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A port free on loopback right now, for peers that cannot listen on port 0 (nginx). */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
