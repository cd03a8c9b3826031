// Helpers for the demo site's tests: `polyloop site` as a child process, and a small JSON client
// that keeps the session cookie the way a browser would.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { CLI } from '../../helpers.js';

export interface Site {
  url: string;
  port: number;
  stdout(): string;
  stderr(): string;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

// Registered once, at the top level: `after` called inside a hook would run when the hook ends.
const children = new Set<ChildProcess>();
const dirs: string[] = [];
const killAll = (): void => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
};
process.once('exit', killAll);
after(() => {
  killAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A temporary folder, removed after the test file. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/**
 * Starts `polyloop site --port 0 ...args` and resolves once its first line,
 * `listening on http://HOST:PORT`, is complete. The process is killed after the test file.
 */
export function startSite(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Site> {
  const proc = spawn(process.execPath, [CLI, 'site', '--port', '0', ...args], {
    stdio: 'pipe',
    env,
  });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  let out = '';
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  return new Promise((resolve, reject) => {
    // Generous: four loops starting on a loaded two-core machine.
    const guard = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`no first line in 60 s; stderr: ${err}`));
    }, 60_000);
    const early = (code: number | null): void => {
      clearTimeout(guard);
      reject(new Error(`exited with ${code} before listening; stderr: ${err}`));
    };
    proc.once('exit', early);
    proc.stdout.on('data', (d: Buffer) => {
      const before = out;
      out += d.toString();
      if (before.includes('\n') || !out.includes('\n')) return;
      clearTimeout(guard);
      proc.off('exit', early);
      const m = /^listening on (http:\/\/127\.0\.0\.1:(\d+))\n/.exec(out);
      if (m === null) {
        proc.kill('SIGKILL');
        reject(new Error(`unexpected first line: ${JSON.stringify(out)}`));
        return;
      }
      resolve({
        url: m[1]!,
        port: Number(m[2]),
        stdout: () => out,
        stderr: () => err,
        stop(signal: NodeJS.Signals = 'SIGTERM') {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
          return exited;
        },
      });
    });
  });
}

export interface Reply {
  status: number;
  headers: Headers;
  /** The body parsed as JSON when it is JSON, else its text. */
  body: unknown;
}

/** An API client with one session cookie, like one browser. */
export class Client {
  /** The `sid` cookie's value, once logged in. */
  sid: string | undefined;
  /**
   * False: each request on a new connection (`Connection: close`), so that no connection sits
   * idle in fetch's pool long enough to meet the server's keep-alive timeout mid-reuse.
   */
  keepAlive = true;

  constructor(private readonly base: string) {}

  async call(method: string, path: string, body?: unknown, raw?: string): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (this.sid !== undefined) headers['cookie'] = `sid=${this.sid}`;
    if (!this.keepAlive) headers['connection'] = 'close';
    let payload: string | undefined = raw;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(this.base + path, {
      method,
      headers,
      ...(payload === undefined ? {} : { body: payload }),
    }).catch((err: unknown) => {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`${method} ${path}: ${cause?.code ?? ''} ${cause?.message ?? String(err)}`, {
        cause: err,
      });
    });
    const cookie = res.headers.get('set-cookie');
    if (cookie !== null) {
      const m = /^sid=([^;]*)/.exec(cookie);
      if (m !== null) this.sid = m[1] === '' ? undefined : m[1];
    }
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').startsWith('application/json'))
      parsed = JSON.parse(text) as unknown;
    return { status: res.status, headers: res.headers, body: parsed };
  }

  register(username: string, password: string): Promise<Reply> {
    return this.call('POST', '/api/register', { username, password });
  }

  login(username: string, password: string): Promise<Reply> {
    return this.call('POST', '/api/login', { username, password });
  }

  post(text: string): Promise<Reply> {
    return this.call('POST', '/api/messages', { text });
  }

  async messages(
    limit?: number,
  ): Promise<{ id: string; author: string; text: string; at: number }[]> {
    const r = await this.call(
      'GET',
      `/api/messages${limit === undefined ? '' : `?limit=${limit}`}`,
    );
    if (r.status !== 200)
      throw new Error(`GET /api/messages: ${r.status} ${JSON.stringify(r.body)}`);
    return (r.body as { messages: { id: string; author: string; text: string; at: number }[] })
      .messages;
  }
}

/** The `error` message of a JSON error reply (asserting there is one). */
export function errorOf(r: Reply): string {
  const e = (r.body as { error?: unknown } | undefined)?.error;
  if (typeof e !== 'string' || e.length === 0)
    throw new Error(`status ${r.status} without an error message: ${JSON.stringify(r.body)}`);
  return e;
}
