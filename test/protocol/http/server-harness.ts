// Raw-socket helpers for the HTTP server tests: send bytes, collect what comes back, split it
// into responses. Every wait has a generous hang guard.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { connect } from '../../helpers.js';
import {
  httpApp,
  type HttpApp,
  type HttpHandler,
  type HttpServerOptions,
} from '../../../src/index.js';
import { quiet, start } from '../../io/server-fixture.js';

export interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Starts an httpApp on port 0 (closed when the test ends). */
export async function serve(
  handler: Parameters<typeof httpApp>[0],
  options: HttpServerOptions = {},
): Promise<{ port: number; app: HttpApp }> {
  const app = httpApp(handler, { logger: quiet, ...options });
  const { port } = await start(app);
  return { port, app };
}

export const ok: HttpHandler = (req, res) => res.send(`${req.method} ${req.url}`);

/** Collects every byte a socket receives and counts its 'data' events. */
export class Collector {
  buf = Buffer.alloc(0);
  chunks = 0;
  ended = false;
  private wake: (() => void) | undefined;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.chunks++;
      this.wake?.();
    });
    const end = (): void => {
      this.ended = true;
      this.wake?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', () => undefined);
  }

  /** Waits until `pred` holds; rejects after `limit` ms (a hang guard). */
  async until(pred: () => boolean, limit = 10_000): Promise<void> {
    const deadline = Date.now() + limit;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out; got ${JSON.stringify(this.buf.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Waits for `n` complete responses (`methods[i]` tells which were HEAD) and returns them. */
  async responses(n: number, methods: string[] = []): Promise<Parsed[]> {
    let out: Parsed[] = [];
    await this.until(() => (out = parseAll(this.buf, methods, this.ended)).length >= n);
    return out;
  }

  /** Waits for the peer to close. */
  async end(): Promise<void> {
    await this.until(() => this.ended);
  }
}

/** Connects to the server and returns a collector for the socket. */
export async function open(port: number): Promise<Collector> {
  const s = await connect(port);
  return new Collector(s);
}

/** One request to a fresh connection, closing it; returns the response. */
export async function once(port: number, raw: string): Promise<Parsed & { closed: boolean }> {
  const c = await open(port);
  c.socket.write(raw);
  const [r] = await c.responses(1);
  await c.end();
  c.socket.destroy();
  return { ...r!, closed: c.ended };
}

/** Splits bytes into complete responses (1xx interim responses skipped). */
export function parseAll(buf: Buffer, methods: string[], ended: boolean): Parsed[] {
  const out: Parsed[] = [];
  let pos = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) return out;
    const lines = buf.toString('latin1', pos, headEnd).split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    let p = headEnd + 4;
    if (status < 200) {
      pos = p;
      continue;
    }
    let body: Buffer;
    if (methods[out.length] === 'HEAD' || status === 204 || status === 304) body = Buffer.alloc(0);
    else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (buf.length < p + n) return out;
      body = buf.subarray(p, p + n);
      p += n;
    } else if (headers['transfer-encoding'] === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le < 0) return out;
        const size = parseInt(buf.toString('latin1', p, le), 16);
        if (buf.length < le + 2 + size + 2) return out;
        parts.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(parts);
    } else {
      if (!ended) return out;
      body = buf.subarray(p);
      p = buf.length;
    }
    out.push({ status, headers, body });
    pos = p;
  }
}

export function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;
}

export function assertBody(r: Parsed | undefined, status: number, body: string): void {
  assert.ok(r !== undefined, 'response missing');
  assert.equal(r.status, status);
  assert.equal(r.body.toString(), body);
}
