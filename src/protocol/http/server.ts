import { createError, invalidArg } from '../../errors.js';
import { ByteBuffer } from '../../io/byte-buffer.js';
import type { App, Connection } from '../../io/connection.js';
import { defaultLogger, type Logger } from '../../log.js';
import { isHttpParseError, type HttpParseError } from './http-error.js';
import { HttpRequestParser, type HttpParserOptions } from './parser.js';
import type { HttpRequest } from './request.js';
import { ServerRequest } from './server-request.js';
import { FileCache, type FileCacheOptions } from './file-cache.js';

export type { FileCacheOptions } from './file-cache.js';
import { OutBuffer } from './out-buffer.js';
import { ServerResponse, httpDate, reasonPhrase, type ResponseSink } from './response.js';

/** Answers one request. May be async; a throw or a rejection becomes a 500 for that request. */
export type HttpHandler = (req: ServerRequest, res: ServerResponse) => void | Promise<void>;

/** Anything with a `handle` method, such as a `Router`. */
export interface HttpHandlerObject {
  handle: HttpHandler;
}

export interface HttpServerOptions extends HttpParserOptions {
  /** The head must arrive within this many ms of a request's first byte, else 408. Default 10 s. */
  headersTimeout?: number;
  /** The whole request (head and body) must arrive within this many ms, else 408. Default 30 s. */
  requestTimeout?: number;
  /** Idle ms between requests after which the connection closes silently. Default 5 s. */
  keepAliveTimeout?: number;
  /** Queued output (bytes) above which `await res.write()` waits for the socket. Default 64 KiB. */
  writeHighWaterMark?: number;
  /** Logs handler failures. Default: the polyloop logger (pino to stderr). */
  logger?: Logger;
  /**
   * The open-file cache of `res.sendFile(path)` (see `FileCacheOptions`), or `false` to open
   * and close the file for every response. Default: on, 64 files, re-checked after 1 s.
   */
  fileCache?: FileCacheOptions | false;
}

/** Counters of an `httpApp`, over all its connections. */
export interface HttpStats {
  /** Requests handed to the handler. */
  requests: number;
  /** Handlers that threw or rejected (each answered 500, or cut off if already started). */
  handlerErrors: number;
  /** Malformed or over-limit requests, by status sent (400, 413, 414, 431, 501, 505, ...). */
  parseErrors: Record<number, number>;
  /** Requests answered 408 by `headersTimeout` or `requestTimeout`. */
  timeouts: number;
  /** Connections closed by `keepAliveTimeout`. */
  keepAliveClosed: number;
}

/** An `App` that speaks HTTP/1.1, with its counters. */
export interface HttpApp extends App<Buffer, Uint8Array | string, HttpSession> {
  stats(): HttpStats;
}

type HttpConnection = Connection<Buffer, Uint8Array | string, HttpSession>;

interface Shared {
  readonly handler: HttpHandler;
  readonly parserOptions: HttpParserOptions;
  readonly headersTimeout: number;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  readonly writeHighWaterMark: number;
  readonly logger: Logger;
  readonly stats: HttpStats;
  readonly files: FileCache | undefined;
}

/** Input buffered beyond this while a response is in flight pauses reading. */
const MAX_PENDING_INPUT = 64 * 1024;
/** An output buffer grown past this (a large batch) is dropped after its write, not kept. */
const MAX_KEPT_OUTPUT = 64 * 1024;
const EMPTY = new Uint8Array(0);
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
const RESOLVED = Promise.resolve();

type TimerKind = 'headers' | 'request' | 'idle';

/**
 * The HTTP state of one connection: its pending input, its parser, the response in flight and
 * its one timer. Lives on the connection's loop, from `context` to `onClose`.
 *
 * One response is in flight at a time: when the handler does not finish synchronously the parser
 * pauses, and resumes when the response is finished, so pipelined requests are answered in
 * order. Responses that finish while a read is being handled are written into one buffer and
 * sent with one write.
 */
export class HttpSession implements ResponseSink {
  private readonly conn: HttpConnection;
  private readonly shared: Shared;
  /** Input not parsed yet: an incomplete head, or requests behind one in flight. */
  private readonly buf = new ByteBuffer();
  private readonly parser: HttpRequestParser;
  /** Body pieces of the request being received (copies). */
  private parts: Uint8Array[] = [];
  /** The response in flight, if any: the parser is paused until it finishes. */
  private res: ServerResponse | undefined;
  /** Responses produced while one read is handled, written together when it is done. */
  private out = new OutBuffer();
  private pumping = false;
  private closing = false;
  private readingPaused = false;
  /** When the request being received began (ms), 0 between requests. */
  private requestStart = 0;
  private headDone = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private deadline = 0;
  private kind: TimerKind = 'idle';
  private waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];

  /** @internal */
  constructor(conn: HttpConnection, shared: Shared) {
    this.conn = conn;
    this.shared = shared;
    this.parser = new HttpRequestParser(
      {
        onRequest: (req) => this.onRequest(req),
        onBody: (chunk) => {
          // A view of the input: copied, since the input is reused before the body is complete.
          this.parts.push(new Uint8Array(chunk));
        },
        onMessageComplete: (req) => this.onMessageComplete(req),
      },
      shared.parserOptions,
    );
  }

  // ---- connection events ----------------------------------------------------------------------

  /** @internal */
  onConnection(): void {
    this.schedule();
  }

  /** @internal Bytes of one read; `chunk` is valid during the call only. */
  onData(chunk: Buffer): void {
    if (this.closing) return;
    if (this.res === undefined) {
      if (this.buf.readableBytes === 0) {
        // Parsed in place; what is left (an incomplete head, requests behind an unfinished
        // response) is copied into `buf` before the chunk goes back to the socket.
        this.pump(chunk, false);
      } else {
        this.buf.append(chunk);
        this.pump(this.buf.peek(), true);
      }
    } else {
      this.buf.append(chunk);
      if (!this.readingPaused && this.buf.readableBytes > MAX_PENDING_INPUT) {
        this.readingPaused = true;
        this.conn.pauseReading();
      }
    }
  }

  /** @internal Releases the timer and fails pending `write` promises: nothing outlives the close. */
  onClose(): void {
    this.closing = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.deadline = 0;
    if (this.waiters.length > 0) {
      const err = createError('PL_ERR_NOT_CONNECTED', `${this.conn.toString()} closed`);
      for (const w of this.waiters.splice(0)) w.reject(err);
    }
    this.buf.retrieveAll();
    this.parts = [];
  }

  // ---- ResponseSink ---------------------------------------------------------------------------

  /** @internal */
  get output(): OutBuffer {
    return this.out;
  }

  /** @internal */
  get files(): FileCache | undefined {
    return this.shared.files;
  }

  /** @internal */
  written(): void {
    if (!this.pumping) this.flushBatch();
  }

  /** @internal */
  emit(bytes: Uint8Array): void {
    if (!this.pumping && this.out.length === 0) {
      this.conn.send(bytes);
      return;
    }
    this.out.append(bytes);
    if (!this.pumping) this.flushBatch();
  }

  /** @internal */
  drained(): Promise<void> {
    if (!this.conn.connected) {
      const p = Promise.reject(
        createError('PL_ERR_NOT_CONNECTED', `${this.conn.toString()} is closed`),
      );
      p.catch(() => undefined); // an unawaited write must not become an unhandled rejection
      return p;
    }
    if (this.conn.queuedBytes <= this.shared.writeHighWaterMark) return RESOLVED;
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    // One wait on the connection serves every waiter; no callback runs for writes nobody awaits.
    if (this.waiters.length === 1) void this.conn.whenDrained().then(this.wake);
    p.catch(() => undefined);
    return p;
  }

  private readonly wake = (): void => {
    if (this.waiters.length > 0) for (const w of this.waiters.splice(0)) w.resolve();
  };

  /** @internal */
  sendFile(fd: number, offset: number, length: number, head: Uint8Array): Promise<number> {
    this.flushBatch();
    return this.conn.sendFile(fd, { offset, length, head });
  }

  /** @internal */
  finished(res: ServerResponse, close: boolean): void {
    if (this.res !== res) return;
    this.res = undefined;
    if (close || this.parser.closed) {
      this.closeConnection();
      return;
    }
    if (this.readingPaused) {
      this.readingPaused = false;
      this.conn.resumeReading();
    }
    // Inside pump the loop goes on by itself; after an async response, parse what waited.
    if (!this.pumping) {
      this.parser.resume();
      this.pump(this.buf.peek(), true);
    }
  }

  // ---- parsing --------------------------------------------------------------------------------

  /**
   * Parses `bytes` and answers requests until one stays in flight or the input runs out.
   * `bytes` is the pending input (`buffered`: what was parsed is then retrieved from it) or a
   * read parsed in place, whose rest is kept in `buf`.
   */
  private pump(bytes: Uint8Array, buffered: boolean): void {
    this.pumping = true;
    let pos = 0;
    try {
      for (;;) {
        try {
          pos += this.parser.executeBytes(bytes, pos, bytes.length);
        } catch (err) {
          if (!isHttpParseError(err)) throw err;
          this.parseFailed(err);
          return;
        }
        if (this.res !== undefined || this.closing || !this.parser.paused) break;
        this.parser.resume(); // paused by an upgrade request that got an ordinary response
      }
    } finally {
      this.pumping = false;
      if (this.closing) this.buf.retrieveAll();
      else if (buffered) this.buf.retrieve(pos);
      else if (pos < bytes.length) this.buf.append(bytes.subarray(pos));
      this.flushBatch();
    }
    if (this.closing) return;
    if (this.parser.closed && this.res === undefined) this.closeConnection();
    else this.schedule();
  }

  private onRequest(req: HttpRequest): void {
    this.headDone = true;
    if (req.contentLength !== 0) {
      // The body may end in a later read, after the head's views have expired.
      req.retain();
      if (req.expectContinue) this.emit(CONTINUE);
    }
  }

  private onMessageComplete(req: HttpRequest): void {
    this.requestStart = 0;
    this.headDone = false;
    this.disarm();
    let body: Uint8Array = EMPTY;
    const parts = this.parts;
    if (parts.length > 0) {
      body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      this.parts = [];
    }
    const res = new ServerResponse(this, req.isHead, req.versionMinor, req.keepAlive);
    this.res = res;
    this.shared.stats.requests++;
    let result: void | Promise<void>;
    try {
      result = this.shared.handler(new ServerRequest(req, body), res);
    } catch (err) {
      this.handlerFailed(res, err);
      result = undefined;
    }
    // Answered already (the common case): parsing goes on within this read. Otherwise the
    // parser stops here until the response finishes, and the head is kept for the code that
    // answers later.
    if (this.res !== undefined || this.closing) {
      this.parser.pause();
      if (this.res !== undefined && req.isLive) req.retain();
    }
    if (result !== undefined && typeof result.then === 'function') {
      result.then(undefined, (err: unknown) => this.handlerFailed(res, err));
    }
  }

  private handlerFailed(res: ServerResponse, err: unknown): void {
    this.shared.stats.handlerErrors++;
    if (this.closing || !this.conn.connected) {
      this.shared.logger.debug({ conn: this.conn.id, err }, 'HTTP handler failed after close');
      return;
    }
    if (!res.headersSent) {
      this.shared.logger.error({ conn: this.conn.id, err }, 'HTTP handler failed; sent 500');
      res._discard();
      res.status(500).send('Internal Server Error\n');
    } else if (!res.finished) {
      this.shared.logger.error({ conn: this.conn.id, err }, 'HTTP handler failed mid-response');
      res._abort();
      if (this.res === res) this.res = undefined;
      this.closeConnection();
    } else {
      this.shared.logger.error({ conn: this.conn.id, err }, 'HTTP handler failed after responding');
    }
  }

  private parseFailed(err: HttpParseError): void {
    const stats = this.shared.stats.parseErrors;
    stats[err.status] = (stats[err.status] ?? 0) + 1;
    this.reject(err.status);
  }

  /** Sends a short error response with `Connection: close`, then closes. */
  private reject(status: number): void {
    const reason = reasonPhrase(status);
    const text = `${reason}\n`;
    this.emit(
      Buffer.from(
        `HTTP/1.1 ${status} ${reason}\r\nDate: ${httpDate()}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
          `Content-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`,
        'latin1',
      ),
    );
    this.closeConnection();
  }

  private flushBatch(): void {
    const out = this.out;
    if (out.length === 0) return;
    this.conn.send(out.view());
    // Written through at once: the storage is free again. Otherwise the socket still holds a
    // view of it, so later responses go to a fresh buffer.
    if (this.conn.queuedBytes === 0 && out.bytes.length <= MAX_KEPT_OUTPUT) out.clear();
    else this.out = new OutBuffer();
  }

  private closeConnection(): void {
    if (this.closing) return;
    this.flushBatch();
    this.closing = true;
    this.disarm();
    this.conn.close();
  }

  // ---- timers ---------------------------------------------------------------------------------

  /** Arms the one timer for what the connection waits for now: a head, a body, or a request. */
  private schedule(): void {
    if (this.closing || this.res !== undefined) return this.disarm();
    const s = this.shared;
    const now = Date.now();
    if (this.buf.readableBytes > 0 || this.parser.midMessage) {
      if (this.requestStart === 0) this.requestStart = now;
      const request = s.requestTimeout > 0 ? this.requestStart + s.requestTimeout : Infinity;
      const headers =
        !this.headDone && s.headersTimeout > 0 ? this.requestStart + s.headersTimeout : Infinity;
      if (headers < request) this.arm(headers, 'headers', now);
      else if (request !== Infinity) this.arm(request, 'request', now);
      else this.disarm();
    } else if (s.keepAliveTimeout > 0) this.arm(now + s.keepAliveTimeout, 'idle', now);
    else this.disarm();
  }

  private arm(deadline: number, kind: TimerKind, now: number): void {
    this.deadline = deadline;
    this.kind = kind;
    // A timer that fires earlier re-checks and re-arms; only a later one must be replaced.
    if (this.timer !== undefined && this.timerAt <= deadline) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(this.onTimer, Math.max(1, deadline - now));
  }

  private disarm(): void {
    this.deadline = 0;
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    if (this.deadline === 0 || this.closing) return;
    const now = Date.now();
    if (now < this.deadline) {
      this.timerAt = this.deadline;
      this.timer = setTimeout(this.onTimer, this.deadline - now);
      return;
    }
    this.deadline = 0;
    if (this.kind === 'idle') {
      this.shared.stats.keepAliveClosed++;
      this.closeConnection();
    } else {
      this.shared.stats.timeouts++;
      this.reject(408);
    }
  };
}

function checkTimeout(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0)
    throw invalidArg(name, value, 'a non-negative integer of ms (0 disables)');
  return value;
}

/**
 * An HTTP/1.1 server as an `App`: run it on a `TcpServer` (or any concurrency model).
 * `handler` is a function or a `Router`. See docs/http-server.md.
 *
 * ```ts
 * const server = new TcpServer(httpApp((req, res) => res.send('hello')), { port: 8080 });
 * ```
 */
export function httpApp(
  handler: HttpHandler | HttpHandlerObject,
  options: HttpServerOptions = {},
): HttpApp {
  const fn: HttpHandler =
    typeof handler === 'function' ? handler : (req, res) => handler.handle(req, res);
  const {
    headersTimeout,
    requestTimeout,
    keepAliveTimeout,
    writeHighWaterMark,
    logger,
    fileCache,
    ...parserOptions
  } = options;
  // Fail on bad limits now, not on the first connection.
  new HttpRequestParser({ onRequest() {} }, parserOptions);
  const stats: HttpStats = {
    requests: 0,
    handlerErrors: 0,
    parseErrors: {},
    timeouts: 0,
    keepAliveClosed: 0,
  };
  const shared: Shared = {
    handler: fn,
    parserOptions,
    headersTimeout: checkTimeout('headersTimeout', headersTimeout, 10_000),
    requestTimeout: checkTimeout('requestTimeout', requestTimeout, 30_000),
    keepAliveTimeout: checkTimeout('keepAliveTimeout', keepAliveTimeout, 5_000),
    writeHighWaterMark: checkTimeout('writeHighWaterMark', writeHighWaterMark, 64 * 1024),
    logger: logger ?? defaultLogger(),
    stats,
    files: fileCache === false ? undefined : new FileCache(fileCache),
  };
  return {
    context: (conn) => new HttpSession(conn, shared),
    onConnection: (conn) => conn.context.onConnection(),
    onMessage: (conn, chunk) => conn.context.onData(chunk),
    onClose: (conn) => conn.context.onClose(),
    stats: () => ({ ...stats, parseErrors: { ...stats.parseErrors } }),
  };
}
