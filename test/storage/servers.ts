// Throwaway PostgreSQL and Redis servers on loopback for the store tests. Each runs from a temp
// folder on a free port, and is stopped (and its folder removed) by dispose(), also on exit.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DbServer {
  host: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

/** A free loopback port: bound, read and released. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Runs a command to completion; rejects with its output when it fails or runs past `timeout`. */
function run(argv: string[], timeout = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], timeout });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.once('error', reject);
    p.once('close', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${argv.join(' ')} failed (${code ?? signal}):\n${out}`));
    });
  });
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path.length > 0 ? path : undefined;
}

export interface PostgresBinaries {
  bin: string;
  /** Prefix that runs a command as the postgres user (empty when not root). */
  runAs: string[];
  uid: number | undefined;
  gid: number | undefined;
}

/** Finds initdb and pg_ctl (Debian's newest first, then PATH), or says why not. */
export function findPostgres(): PostgresBinaries | string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  let bin = versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
  if (bin === undefined) {
    const initdb = which('initdb');
    if (initdb !== undefined && which('pg_ctl') !== undefined) bin = join(initdb, '..');
  }
  if (bin === undefined)
    return 'PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql';
  if (process.getuid?.() !== 0) return { bin, runAs: [], uid: undefined, gid: undefined };
  // PostgreSQL refuses to run as root.
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0) return 'running as root and there is no postgres user to run the server as';
  const runuser = which('runuser');
  if (runuser === undefined) return 'running as root and runuser (util-linux) is missing';
  return {
    bin,
    runAs: [runuser, '-u', 'postgres', '--'],
    uid: Number(id.stdout.trim()),
    gid: Number(gid.stdout.trim()),
  };
}

/** initdb into a temp folder, then pg_ctl start on a free port; trust auth as user postgres. */
export async function startPostgres(b: PostgresBinaries): Promise<DbServer> {
  // The postgres user must be able to reach the folder: a root-only TMPDIR would not do.
  const base = b.uid !== undefined && existsSync('/tmp') ? '/tmp' : tmpdir();
  const dir = mkdtempSync(join(base, 'polyloop-pg-'));
  if (b.uid !== undefined) chownSync(dir, b.uid, b.gid!);
  const data = join(dir, 'data');
  const port = await freePort();
  const as = (cmd: string, ...args: string[]): string[] => [...b.runAs, join(b.bin, cmd), ...args];
  await run(
    as('initdb', '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '-N'),
  );
  const opts = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=50',
  ].join(' ');
  let running = false;
  // If the test process dies without dispose(), still take the server down with it.
  const stopNow = (): void => {
    if (!running) return;
    const argv = as('pg_ctl', '-D', data, '-m', 'immediate', 'stop');
    spawnSync(argv[0]!, argv.slice(1));
  };
  process.once('exit', stopNow);
  const server: DbServer = {
    host: '127.0.0.1',
    port,
    async start() {
      await run(
        as('pg_ctl', '-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', opts, 'start'),
      );
      running = true;
    },
    async stop() {
      await run(as('pg_ctl', '-D', data, '-m', 'fast', '-w', '-t', '60', 'stop'));
      running = false;
    },
    async dispose() {
      if (running) await server.stop().catch(() => stopNow());
      process.off('exit', stopNow);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** Finds redis-server, or says why not. */
export function findRedis(): { bin: string } | string {
  const bin = which('redis-server');
  return bin === undefined ? 'redis-server not found: apt-get install redis-server' : { bin };
}

/** redis-server on a free port, no persistence, as a child that dies with this process. */
export async function startRedis(bin: string): Promise<DbServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const kill = (): void => void child?.kill('SIGKILL');
  process.once('exit', kill);
  const server: DbServer = {
    host: '127.0.0.1',
    port,
    start() {
      const p = spawn(
        bin,
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child = p;
      return new Promise<void>((resolve, reject) => {
        let out = '';
        const guard = setTimeout(() => {
          p.kill('SIGKILL');
          reject(new Error(`redis-server did not get ready within 30 s:\n${out}`));
        }, 30_000);
        p.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('Ready to accept connections')) {
            clearTimeout(guard);
            resolve();
          }
        });
        p.stderr.on('data', (d: Buffer) => (out += d.toString()));
        p.once('exit', (code) => {
          clearTimeout(guard);
          reject(new Error(`redis-server exited with ${code}:\n${out}`));
        });
      });
    },
    stop() {
      const p = child;
      child = undefined;
      if (p === undefined || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGTERM');
        setTimeout(() => p.kill('SIGKILL'), 10_000).unref();
      });
    },
    async dispose() {
      await server.stop();
      process.off('exit', kill);
    },
  };
  await server.start();
  return server;
}
