import { open, type FileHandle } from 'node:fs/promises';
import { extname } from 'node:path';
import { createError, invalidArg } from '../../errors.js';
import { NOT_A_FILE, type CachedFile, type FileCache } from './file-cache.js';
import { OutBuffer, textLength } from './out-buffer.js';
import { Ending, httpDate, reasonPhrase, writeHead } from './response-head.js';

export { httpDate, reasonPhrase } from './response-head.js';

/**
 * Where a response writes: the HTTP session of its connection. It keeps responses in request
 * order and batches those produced while one read is handled into one socket write.
 */
export interface ResponseSink {
  /** Queues bytes after everything emitted before (dropped once the connection is closed). */
  emit(bytes: Uint8Array): void;
  /**
   * The connection's batched output: a response writes its head and body straight into it, then
   * calls `written`. Read it afresh for each response (a flush may replace it).
   */
  readonly output: OutBuffer;
  /** What was written into `output` goes out now, unless a batch is being gathered. */
  written(): void;
  /** Where `sendFile(path)` finds open files; undefined: opened and closed per response. */
  readonly files?: FileCache | undefined;
  /** Resolves when queued output is under the write high-water mark; rejects once closed. */
  drained(): Promise<void>;
  /**
   * Sends `head`, then `length` bytes of the open file `fd` from `offset`, after everything
   * emitted so far (zero-copy where the addon is built; the head leaves with the file's first
   * bytes).
   */
  sendFile(fd: number, offset: number, length: number, head: Uint8Array): Promise<number>;
  /** The response is complete; `close`: the connection must close after it. */
  finished(res: ServerResponse, close: boolean): void;
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
const CRLF = Buffer.from('\r\n', 'latin1');
/** Streamed pieces at least this large are written as they are rather than copied. */
const DIRECT_WRITE = 16 * 1024;

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

/**
 * The response to one request. Use it from the handler, or later from the connection's own loop
 * (after `await`, from a timer); never from another thread. A response is sent exactly once:
 * `send`/`end`/`sendFile`, or a stream of `write` calls closed by `end`.
 */
export class ServerResponse {
  /** The status to send; 200 unless `status()` changed it. */
  statusCode = 200;
  // Headers set by the handler, made on the first `setHeader`: most responses set none, and
  // those take the cached-head path (see response-head.ts).
  private names: string[] | undefined = undefined;
  private values: string[] | undefined = undefined;
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
    if (i >= 0) this.values![i] = v;
    else {
      (this.names ??= []).push(name);
      (this.values ??= []).push(v);
    }
    return this;
  }

  /** The value of a header set on this response, any case. */
  getHeader(name: string): string | undefined {
    const i = this.indexOf(name.toLowerCase());
    return i >= 0 ? this.values![i] : undefined;
  }

  /** Removes a header set on this response. */
  removeHeader(name: string): this {
    const i = this.indexOf(name.toLowerCase());
    if (i >= 0) {
      this.names!.splice(i, 1);
      this.values!.splice(i, 1);
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
    let type = '';
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
    this.state = State.Done;
    const out = this.sink.output;
    if (this.bodyless()) {
      out.latin1(this.head(NO_LENGTH, ''));
    } else {
      const length = text !== undefined ? textLength(text) : bytes !== undefined ? bytes.length : 0;
      this.writeHead(out, length, length > 0 ? type : '');
      if (length > 0 && !this.isHead) {
        if (text !== undefined) out.text(text, length);
        else out.append(bytes!);
      }
    }
    this.sink.written();
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
    const out = this.sink.output;
    if (this.state === State.Fresh) {
      this.chunked = this.versionMinor === 1 && !this.bodyless();
      if (!this.chunked) this.closeAfter = true; // HTTP/1.0: the end of the body is the close
      const type = typeof chunk === 'string' ? TEXT : OCTETS;
      out.latin1(this.head(this.chunked ? CHUNKED : NO_LENGTH, type));
      this.state = State.Streaming;
    }
    const n = withBody ? data.length : 0;
    if (n > 0) {
      if (this.chunked) out.latin1(`${n.toString(16)}\r\n`);
      if (n < DIRECT_WRITE) out.append(data);
      else {
        // Large pieces go to the socket as they are, not through a copy.
        this.sink.written();
        this.sink.emit(data);
      }
      if (this.chunked) this.sink.output.append(CRLF);
    }
    this.sink.written();
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
    const files = options.file === undefined ? this.sink.files : undefined;
    if (files !== undefined) {
      // The connection's open-file cache: usually no filesystem call at all.
      let got: CachedFile | typeof NOT_A_FILE;
      try {
        const r = files.acquire(path);
        got = r instanceof Promise ? await r : r;
      } catch (err) {
        this.state = State.Fresh;
        throw err;
      }
      if (got === NOT_A_FILE) {
        this.state = State.Fresh;
        this.status(404).send('Not Found\n');
        return;
      }
      try {
        await this.sendOpenFile(path, got.fd, got.size, options);
      } finally {
        files.release(got);
      }
      return;
    }
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
      await this.sendOpenFile(path, file.fd, st.size, options);
    } finally {
      if (owned) await file.close();
    }
  }

  /** Sends the head and `options`' range of the open file `fd` of `size` bytes. */
  private async sendOpenFile(
    path: string,
    fd: number,
    size: number,
    options: SendFileResponseOptions,
  ): Promise<void> {
    const offset = options.offset ?? 0;
    const length = options.length ?? Math.max(0, size - offset);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length)) {
      this.state = State.Fresh;
      throw invalidArg('offset', offset, 'a non-negative integer');
    }
    if (length < 0 || offset + length > size) {
      this.state = State.Fresh;
      throw invalidArg('offset + length', offset + length, `at most the file size ${size}`);
    }
    const type = options.contentType ?? MIME[extname(path).toLowerCase()] ?? OCTETS;
    if (!FIELD_VALUE.test(type)) {
      this.state = State.Fresh;
      throw invalidArg('contentType', type, 'latin1 without CR, LF, NUL');
    }
    if (this.isHead || length === 0) {
      this.writeHead(this.sink.output, length, type);
      this.sink.written();
    } else {
      // The head travels with the file, in its first packet: its own bytes, not the batch's.
      const head = new OutBuffer(256);
      this.writeHead(head, length, type);
      await this.sink.sendFile(fd, offset, length, head.view());
    }
    this.state = State.Done;
    this.sink.finished(this, this.closeAfter);
  }

  /** @internal Forgets status and headers, so an error response can replace an unsent one. */
  _discard(): void {
    this.statusCode = 200;
    this.names = undefined;
    this.values = undefined;
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
    if (names === undefined) return -1;
    for (let i = 0; i < names.length; i++) if (names[i]!.toLowerCase() === lower) return i;
    return -1;
  }

  /**
   * Writes the head with `Content-Length: length`; `type` is the Content-Type unless the handler
   * set one ('' for none). Without headers of the handler's own, the head comes from the cache.
   */
  private writeHead(out: OutBuffer, length: number, type: string): void {
    if (this.names === undefined) {
      const ending = this.closeAfter
        ? Ending.Close
        : this.versionMinor === 0
          ? Ending.KeepAlive
          : Ending.None;
      writeHead(out, this.statusCode, type, length, ending);
    } else out.latin1(this.head(length, type));
  }

  /**
   * The status line and header section; `length` ≥ 0 is a Content-Length. `type` is the
   * Content-Type to send when the handler set none ('' for none).
   */
  private head(length: number, type: string): string {
    const code = this.statusCode;
    let s = `HTTP/1.1 ${code} ${reasonPhrase(code)}\r\nDate: ${httpDate()}\r\n`;
    const names = this.names;
    let typed = false;
    if (names !== undefined) {
      for (let i = 0; i < names.length; i++) {
        const lower = names[i]!.toLowerCase();
        if (MANAGED.has(lower) || lower === 'connection') continue;
        if (lower === 'content-type') typed = true;
        s += `${names[i]}: ${this.values![i]}\r\n`;
      }
    }
    if (type !== '' && !typed) s += `Content-Type: ${type}\r\n`;
    if (length >= 0) s += `Content-Length: ${length}\r\n`;
    else if (length === CHUNKED) s += 'Transfer-Encoding: chunked\r\n';
    if (this.closeAfter) s += 'Connection: close\r\n';
    else if (this.versionMinor === 0) s += 'Connection: keep-alive\r\n';
    return s + '\r\n';
  }
}
