import { open, type FileHandle } from 'node:fs/promises';
import { extname } from 'node:path';
import { createError, invalidArg } from '../../errors.js';

/**
 * Where a response writes: the HTTP session of its connection. It keeps responses in request
 * order and batches those produced while one read is handled into one socket write.
 */
export interface ResponseSink {
  /** Queues bytes after everything emitted before (dropped once the connection is closed). */
  emit(bytes: Uint8Array): void;
  /**
   * Queues a whole response: the head (latin1 text) and an optional body, copied straight into
   * the connection's batched output with no buffer of its own.
   */
  emitResponse(head: string, text?: string, bytes?: Uint8Array): void;
  /** Resolves when queued output is under the write high-water mark; rejects once closed. */
  drained(): Promise<void>;
  /** Sends `length` bytes of the open file `fd` after everything emitted so far. */
  sendFile(fd: number, length: number): Promise<number>;
  /**
   * Sends `length` bytes of `fd` from `offset` (zero-copy). Optional: without it a range that
   * does not start at 0 is copied through `emit`, paced by `drained`.
   */
  sendFileRange?(fd: number, offset: number, length: number): Promise<number>;
  /** The response is complete; `close`: the connection must close after it. */
  finished(res: ServerResponse, close: boolean): void;
}

const REASONS: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** The reason phrase sent for `status` (`'Unknown'` for codes without a registered one). */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Unknown';
}

let dateValue: string | undefined;

/**
 * The `Date` header value. Computed at most once a second: a timer (which never keeps the
 * process alive) drops the cached value at the next second boundary.
 */
export function httpDate(): string {
  if (dateValue === undefined) {
    const now = Date.now();
    dateValue = new Date(now - (now % 1000)).toUTCString();
    setTimeout(() => (dateValue = undefined), 1000 - (now % 1000)).unref();
  }
  return dateValue;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Visible latin1 and HTAB/SP: no CR or LF, so a value can never inject a header line.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const OCTETS = 'application/octet-stream';
const MIME: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.txt': TEXT,
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': JSON_TYPE,
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
};

/** Headers the response writes itself: values set for them are ignored. */
const MANAGED = new Set(['content-length', 'transfer-encoding', 'date']);

const enum State {
  Fresh,
  /** sendFile is opening its file: nothing sent yet, but the response is taken. */
  Opening,
  Streaming,
  Done,
}

const CHUNKED = -1;
const NO_LENGTH = -2;
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

export interface SendFileResponseOptions {
  /** Content-Type to send; default from the extension, else `application/octet-stream`. */
  contentType?: string;
  /**
   * A file the caller already opened (the path then only names the type). It stays the
   * caller's: close it once the returned promise settles.
   */
  file?: FileHandle;
  /** First byte of the body. Default 0. */
  offset?: number;
  /** Bytes of the body. Default: to the end of the file. */
  length?: number;
}

const COPY_CHUNK = 64 * 1024;

/**
 * The response to one request. Use it from the handler, or later from the connection's own loop
 * (after `await`, from a timer); never from another thread. A response is sent exactly once:
 * `send`/`end`/`sendFile`, or a stream of `write` calls closed by `end`.
 */
export class ServerResponse {
  /** The status to send; 200 unless `status()` changed it. */
  statusCode = 200;
  private names: string[] = [];
  private values: string[] = [];
  private state = State.Fresh;
  private chunked = false;
  private closeAfter: boolean;
  private readonly sink: ResponseSink;
  private readonly isHead: boolean;
  private readonly versionMinor: 0 | 1;

  /** @internal Made by the server for each request. */
  constructor(sink: ResponseSink, isHead: boolean, versionMinor: 0 | 1, keepAlive: boolean) {
    this.sink = sink;
    this.isHead = isHead;
    this.versionMinor = versionMinor;
    this.closeAfter = !keepAlive;
  }

  /** True once the status line has been sent (or a file is being opened to send). */
  get headersSent(): boolean {
    return this.state !== State.Fresh;
  }

  /** True once the response is complete. */
  get finished(): boolean {
    return this.state === State.Done;
  }

  /** Sets the status code (200–599). Returns `this`. */
  status(code: number): this {
    if (!Number.isInteger(code) || code < 200 || code > 599)
      throw invalidArg('status', code, 'an integer from 200 to 599');
    this.statusCode = code;
    return this;
  }

  /**
   * Sets a header, replacing one of the same name (any case). `Content-Length`,
   * `Transfer-Encoding` and `Date` are written by the server. `Connection: close` closes the
   * connection after this response. Returns `this`.
   */
  setHeader(name: string, value: string | number): this {
    const v = String(value);
    if (!TOKEN.test(name)) throw invalidArg('header name', name, 'an HTTP token');
    if (!FIELD_VALUE.test(v)) throw invalidArg(`header ${name}`, v, 'latin1 without CR, LF, NUL');
    if (this.state !== State.Fresh)
      throw createError('PL_ERR_HTTP_STATE', `setHeader(${name}) after the headers were sent`);
    const lower = name.toLowerCase();
    if (lower === 'connection' && /(^|[\s,])close($|[\s,])/i.test(v)) this.closeAfter = true;
    const i = this.indexOf(lower);
    if (i >= 0) this.values[i] = v;
    else {
      this.names.push(name);
      this.values.push(v);
    }
    return this;
  }

  /** The value of a header set on this response, any case. */
  getHeader(name: string): string | undefined {
    const i = this.indexOf(name.toLowerCase());
    return i >= 0 ? this.values[i] : undefined;
  }

  /** Removes a header set on this response. */
  removeHeader(name: string): this {
    const i = this.indexOf(name.toLowerCase());
    if (i >= 0) {
      this.names.splice(i, 1);
      this.values.splice(i, 1);
    }
    return this;
  }

  /**
   * Sends the whole response in one write: status line, headers, `Content-Length` and body. A
   * string is sent as UTF-8 text, a `Uint8Array` as bytes, anything else as JSON. HEAD requests
   * get the headers only.
   */
  send(body?: string | Uint8Array | object | null): void {
    this.checkFresh('send');
    let text: string | undefined;
    let bytes: Uint8Array | undefined;
    let type: string | undefined;
    if (body === undefined || body === null) {
      // no body
    } else if (typeof body === 'string') {
      text = body;
      type = TEXT;
    } else if (body instanceof Uint8Array) {
      bytes = body;
      type = OCTETS;
    } else {
      text = JSON.stringify(body);
      type = JSON_TYPE;
    }
    const bodyless = this.bodyless();
    const length = bodyless
      ? 0
      : text !== undefined
        ? Buffer.byteLength(text)
        : (bytes?.length ?? 0);
    if (type !== undefined && length > 0 && this.indexOf('content-type') < 0) {
      this.names.push('Content-Type');
      this.values.push(type);
    }
    const head = this.head(bodyless ? NO_LENGTH : length);
    this.state = State.Done;
    if (this.isHead || length === 0) this.sink.emitResponse(head);
    else this.sink.emitResponse(head, text, bytes);
    this.sink.finished(this, this.closeAfter);
  }

  /**
   * Streams a piece of the body. The first call sends the headers with
   * `Transfer-Encoding: chunked` (HTTP/1.0: no framing, and the connection closes at the end).
   * Resolves when the connection's queued output is under the write high-water mark: await it
   * to pace a large stream. Rejects with `PL_ERR_NOT_CONNECTED` once the client is gone. Do not
   * modify `chunk` after passing it.
   */
  write(chunk: string | Uint8Array): Promise<void> {
    if (this.state === State.Done || this.state === State.Opening)
      throw createError('PL_ERR_HTTP_STATE', 'write after the response was sent');
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const withBody = !this.isHead && !this.bodyless();
    let head = '';
    if (this.state === State.Fresh) {
      this.chunked = this.versionMinor === 1 && !this.bodyless();
      if (!this.chunked) this.closeAfter = true; // HTTP/1.0: the end of the body is the close
      if (this.indexOf('content-type') < 0) {
        this.names.push('Content-Type');
        this.values.push(typeof chunk === 'string' ? TEXT : OCTETS);
      }
      head = this.head(this.chunked ? CHUNKED : NO_LENGTH);
      this.state = State.Streaming;
    }
    const n = withBody ? data.length : 0;
    if (n === 0) {
      if (head.length > 0) this.sink.emit(Buffer.from(head, 'latin1'));
      return this.sink.drained();
    }
    const size = this.chunked ? `${n.toString(16)}\r\n` : '';
    const out = Buffer.allocUnsafe(head.length + size.length + n + (this.chunked ? 2 : 0));
    let at = out.write(head + size, 0, 'latin1');
    out.set(data, at);
    at += n;
    if (this.chunked) out.write('\r\n', at, 'latin1');
    this.sink.emit(out);
    return this.sink.drained();
  }

  /**
   * Ends the response: after `write`, sends the last chunk; before, sends the response with
   * `body` (like `send`). Does nothing once the response is complete.
   */
  end(body?: string | Uint8Array): void {
    if (this.state === State.Done) return;
    if (this.state === State.Fresh) {
      this.send(body);
      return;
    }
    if (this.state === State.Opening)
      throw createError('PL_ERR_HTTP_STATE', 'end while sendFile is in progress');
    if (body !== undefined) void this.write(body).catch(() => undefined);
    if (this.chunked && !this.isHead) this.sink.emit(LAST_CHUNK);
    this.state = State.Done;
    this.sink.finished(this, this.closeAfter);
  }

  /**
   * Sends a file as the body (zero-copy with the native addon, see docs/send-file.md), with
   * `Content-Length` from its size. A path that is missing or not a regular file gets 404.
   * Resolves when the file has gone to the kernel; rejects if it cannot be read (nothing sent
   * yet: a handler that awaits it turns that into a 500) or the client goes away.
   */
  async sendFile(path: string, options: SendFileResponseOptions = {}): Promise<void> {
    this.checkFresh('sendFile');
    this.state = State.Opening;
    let file = options.file;
    const owned = file === undefined;
    if (file === undefined) {
      try {
        file = await open(path, 'r');
      } catch (err) {
        this.state = State.Fresh;
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
          this.status(404).send('Not Found\n');
          return;
        }
        throw err;
      }
    }
    try {
      const st = await file.stat();
      if (!st.isFile()) {
        this.state = State.Fresh;
        this.status(404).send('Not Found\n');
        return;
      }
      const offset = options.offset ?? 0;
      const length = options.length ?? Math.max(0, st.size - offset);
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length)) {
        this.state = State.Fresh;
        throw invalidArg('offset', offset, 'a non-negative integer');
      }
      if (length < 0 || offset + length > st.size) {
        this.state = State.Fresh;
        throw invalidArg('offset + length', offset + length, `at most the file size ${st.size}`);
      }
      if (this.indexOf('content-type') < 0) {
        this.names.push('Content-Type');
        this.values.push(options.contentType ?? MIME[extname(path).toLowerCase()] ?? OCTETS);
      }
      this.sink.emit(Buffer.from(this.head(length), 'latin1'));
      if (!this.isHead && length > 0) {
        if (offset === 0) await this.sink.sendFile(file.fd, length);
        else if (this.sink.sendFileRange !== undefined)
          await this.sink.sendFileRange(file.fd, offset, length);
        else await this.copyRange(file, offset, length);
      }
      this.state = State.Done;
      this.sink.finished(this, this.closeAfter);
    } finally {
      if (owned) await file.close();
    }
  }

  /** Copies a range through `emit`, one chunk at a time, paced by `drained`. */
  private async copyRange(file: FileHandle, offset: number, length: number): Promise<void> {
    let sent = 0;
    while (sent < length) {
      const chunk = Buffer.allocUnsafe(Math.min(COPY_CHUNK, length - sent));
      const { bytesRead } = await file.read(chunk, 0, chunk.length, offset + sent);
      if (bytesRead === 0)
        throw createError(
          'PL_ERR_FILE_TRUNCATED',
          `file ended after ${offset + sent} bytes; expected ${offset + length}`,
        );
      this.sink.emit(chunk.subarray(0, bytesRead));
      sent += bytesRead;
      await this.sink.drained();
    }
  }

  /** @internal Forgets status and headers, so an error response can replace an unsent one. */
  _discard(): void {
    this.statusCode = 200;
    this.names = [];
    this.values = [];
  }

  /** @internal Marks a response that was cut off (the connection is closing). */
  _abort(): void {
    this.state = State.Done;
  }

  private checkFresh(what: string): void {
    if (this.state !== State.Fresh)
      throw createError('PL_ERR_HTTP_STATE', `${what} after the response was started`);
  }

  /** 204 and 304 never carry a body (RFC 9110 §15.3.5, §15.4.5). */
  private bodyless(): boolean {
    return this.statusCode === 204 || this.statusCode === 304;
  }

  private indexOf(lower: string): number {
    const names = this.names;
    for (let i = 0; i < names.length; i++) if (names[i]!.toLowerCase() === lower) return i;
    return -1;
  }

  /** The status line and header section; `length` ≥ 0 is a Content-Length. */
  private head(length: number): string {
    const code = this.statusCode;
    let s = `HTTP/1.1 ${code} ${reasonPhrase(code)}\r\nDate: ${httpDate()}\r\n`;
    const names = this.names;
    for (let i = 0; i < names.length; i++) {
      const lower = names[i]!.toLowerCase();
      if (MANAGED.has(lower) || lower === 'connection') continue;
      s += `${names[i]}: ${this.values[i]}\r\n`;
    }
    if (length >= 0) s += `Content-Length: ${length}\r\n`;
    else if (length === CHUNKED) s += 'Transfer-Encoding: chunked\r\n';
    if (this.closeAfter) s += 'Connection: close\r\n';
    else if (this.versionMinor === 0) s += 'Connection: keep-alive\r\n';
    return s + '\r\n';
  }
}
