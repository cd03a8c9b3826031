import { createError, invalidArg } from '../../errors.js';
import type { ByteBuffer } from '../../io/byte-buffer.js';
import { parseChunkSize } from './chunked.js';
import { scanFieldLine, type FieldSpan } from './fields.js';
import { HeadParser } from './head.js';
import { httpError, quote } from './http-error.js';
import { HttpRequest, type Trailer } from './request.js';
import { CR, LF, latin1, lowerLatin1 } from './tokens.js';

export { HttpRequest, type Trailer } from './request.js';
export type { TargetForm } from './head.js';
export {
  isHttpParseError,
  REASON_PHRASES,
  type HttpErrorStatus,
  type HttpParseError,
} from './http-error.js';

/** Limits of `HttpRequestParser`; each has a default. */
export interface HttpParserOptions {
  /** Longest request line, in bytes without its CRLF. Longer → 414. Default 8 KiB. */
  maxRequestLineSize?: number;
  /**
   * Largest header section (and, separately, trailer section), in bytes of field lines with their
   * CRLFs. Larger → 431. Default 64 KiB.
   */
  maxHeaderSize?: number;
  /** Most field lines in the header section (and in the trailer section). More → 431. Default 100. */
  maxHeaderCount?: number;
  /**
   * Largest body, in bytes (the sum of the chunk sizes for a chunked body). Larger → 413: for a
   * Content-Length, before any of the body is read; for a chunked body, at the chunk-size line
   * that takes the total over. Default 1 MiB.
   */
  maxBodySize?: number;
  /** Longest chunk-size line (size and extensions) without its CRLF. Longer → 400. Default 4 KiB. */
  maxChunkLineSize?: number;
}

/** Callbacks of `HttpRequestParser`, called synchronously from `execute`. */
export interface HttpParserHandlers {
  /**
   * A request head was parsed and accepted. Body pieces (if any) follow through `onBody`, then
   * `onMessageComplete`. The head's views are live until `execute` returns; see `HttpRequest`.
   */
  onRequest(req: HttpRequest): void;
  /**
   * A piece of the body, as it arrives (chunk framing removed). `chunk` is a view of the input,
   * valid until this callback returns: copy it to keep it.
   */
  onBody?(chunk: Uint8Array, req: HttpRequest): void;
  /** The body (and the trailer section, for a chunked body) has been read entirely. */
  onMessageComplete?(req: HttpRequest): void;
}

const DEFAULTS: Required<HttpParserOptions> = {
  maxRequestLineSize: 8 * 1024,
  maxHeaderSize: 64 * 1024,
  maxHeaderCount: 100,
  maxBodySize: 1024 * 1024,
  maxChunkLineSize: 4 * 1024,
};

const STALLED = -1;
const TOO_LONG = -2;

const enum S {
  Head,
  Body,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  Closed,
}

/**
 * A strict, incremental HTTP/1.1 request parser (RFC 9112, RFC 9110) over bytes: no sockets, no
 * timers. Feed it what arrives with `execute`; it calls `onRequest`, `onBody` and
 * `onMessageComplete` for every request it completes, consuming what it has parsed and leaving
 * an incomplete head in the buffer for the next call. Requests may be split at any byte and
 * pipelined many per buffer.
 *
 * A request it refuses makes `execute` throw an `HttpParseError` (`PL_ERR_HTTP_PARSE`) whose
 * `status` is the response to send before closing; the parser then stays failed. After a
 * message with `req.upgrade` the parser pauses; after a message without `keepAlive` it stops
 * (`closed`): bytes after it are left unconsumed.
 *
 * One parser per connection; call it only from that connection's loop. Not re-entrant: calling
 * `execute` from inside a callback throws `PL_ERR_HTTP_STATE`.
 */
export class HttpRequestParser {
  /** The limits in force, defaults filled in. */
  readonly limits: Readonly<Required<HttpParserOptions>>;

  private readonly handlers: HttpParserHandlers;
  private readonly head: HeadParser;
  private state = S.Head;
  private req: HttpRequest | null = null;
  /** Bytes left in the current Content-Length body or chunk. */
  private remaining = 0;
  /** Sum of the chunk sizes so far (chunked bodies). */
  private bodyTotal = 0;
  /** How far past the current line's start the search for its LF got (chunk/trailer lines). */
  private lineScanned = 0;
  private trailerBytes = 0;
  private trailerList: Trailer[] | null = null;
  private readonly span: FieldSpan = { nameEnd: 0, valueStart: 0, valueEnd: 0 };
  private pausedFlag = false;
  private stalled = false;
  private executing = false;
  private failure: Error | null = null;

  constructor(handlers: HttpParserHandlers, options: HttpParserOptions = {}) {
    const limits = { ...DEFAULTS };
    for (const key of Object.keys(DEFAULTS) as (keyof HttpParserOptions)[]) {
      const v = options[key];
      if (v === undefined) continue;
      const min = key === 'maxBodySize' ? 0 : 1;
      if (!Number.isSafeInteger(v) || v < min) {
        throw invalidArg(key, v, min === 0 ? 'a non-negative integer' : 'a positive integer');
      }
      limits[key] = v;
    }
    this.limits = limits;
    this.handlers = handlers;
    this.head = new HeadParser(limits);
  }

  /** True while paused: `execute` consumes nothing until `resume()`. */
  get paused(): boolean {
    return this.pausedFlag;
  }

  /**
   * True once a message without keep-alive has completed: the server must close after its
   * response and must not process further requests (RFC 9112 §9.6). Later bytes stay unconsumed.
   */
  get closed(): boolean {
    return this.state === S.Closed;
  }

  /**
   * True while a request is partly received (a head started, or a body not finished): an end of
   * stream now means the request was truncated.
   */
  get midMessage(): boolean {
    return this.state !== S.Closed && (this.state !== S.Head || this.head.scanned > 0);
  }

  /**
   * Stops `execute` after the current callback returns; the rest of the input stays in the
   * buffer. Use it for backpressure, or to hand the connection to another protocol.
   */
  pause(): void {
    this.pausedFlag = true;
  }

  /**
   * Lets parsing continue after `pause()`, or after an upgrade request whose upgrade the server
   * declined. Does not parse by itself: call `execute` again with the buffer.
   */
  resume(): void {
    this.pausedFlag = false;
  }

  /** Forgets all state, failure included, to reuse the parser for a new connection. */
  reset(): void {
    if (this.executing)
      throw createError('PL_ERR_HTTP_STATE', 'reset() called from a parser callback');
    this.head.reset();
    this.state = S.Head;
    this.req = null;
    this.remaining = this.bodyTotal = this.lineScanned = this.trailerBytes = 0;
    this.trailerList = null;
    this.pausedFlag = false;
    this.failure = null;
  }

  /**
   * Parses what `input` holds and retrieves from it what was consumed: complete requests and
   * body bytes. An incomplete head stays in `input`; append more and call again. Throws an
   * `HttpParseError` for a refused request. Returns the number of bytes consumed.
   */
  execute(input: ByteBuffer): number {
    const bytes = input.peek();
    const consumed = this.executeBytes(bytes, 0, bytes.length);
    if (consumed > 0) input.retrieve(consumed);
    return consumed;
  }

  /**
   * Parses `bytes[start, end)` and returns how many bytes from `start` it consumed. The next
   * call must present the unconsumed bytes again, at its own `start`, followed by new ones (the
   * same contract as `execute`, for callers that manage their own storage).
   */
  executeBytes(bytes: Uint8Array, start = 0, end = bytes.length): number {
    if (this.failure !== null) throw this.failure;
    if (this.executing) {
      throw createError('PL_ERR_HTTP_STATE', 'execute() re-entered from a parser callback');
    }
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end)) {
      throw invalidArg('start/end', [start, end], 'integers with 0 <= start <= end');
    }
    if (end > bytes.length) throw invalidArg('end', end, `at most bytes.length (${bytes.length})`);
    this.executing = true;
    this.stalled = false;
    let pos = start;
    try {
      while (!this.pausedFlag && !this.stalled) pos = this.step(bytes, pos, end);
    } catch (err) {
      this.failure =
        err instanceof Error
          ? err
          : createError('PL_ERR_HTTP_STATE', 'a parser callback threw', err);
      throw err;
    } finally {
      this.executing = false;
      this.req?._expire();
    }
    return pos - start;
  }

  private step(bytes: Uint8Array, pos: number, end: number): number {
    switch (this.state) {
      case S.Head:
        return this.parseHead(bytes, pos, end);
      case S.Body:
      case S.ChunkData:
        return this.body(bytes, pos, end);
      case S.ChunkSize:
        return this.chunkSize(bytes, pos, end);
      case S.ChunkEnd:
        return this.chunkEnd(bytes, pos, end);
      case S.Trailers:
        return this.trailer(bytes, pos, end);
      case S.Closed:
        this.stalled = true;
        return pos;
    }
  }

  private parseHead(bytes: Uint8Array, pos: number, end: number): number {
    if (this.head.scanned === 0) {
      // RFC 9112 §2.2: ignore empty lines (CRLF) before a request line.
      while (pos < end && bytes[pos] === CR) {
        if (pos + 1 === end) break;
        if (bytes[pos + 1] !== LF) break;
        pos += 2;
      }
      if (pos < end && bytes[pos] === LF) throw httpError(400, 'bare LF before the request line');
      if (pos >= end || (bytes[pos] === CR && pos + 1 === end)) {
        this.stalled = true;
        return pos;
      }
    }
    const headEnd = this.head.parse(bytes, pos, end);
    if (headEnd < 0) {
      this.stalled = true;
      return pos;
    }
    this.head.finish();
    const req = new HttpRequest(bytes, pos, headEnd - pos, this.head);
    this.req = req;
    if (req.chunked) {
      this.state = S.ChunkSize;
      this.bodyTotal = 0;
    } else {
      this.state = S.Body;
      this.remaining = req.contentLength;
    }
    this.handlers.onRequest(req);
    return headEnd;
  }

  /** Content-Length bodies and chunk data: hand over what is there, up to what is left. */
  private body(bytes: Uint8Array, pos: number, end: number): number {
    if (this.remaining > 0) {
      const n = Math.min(this.remaining, end - pos);
      if (n === 0) {
        this.stalled = true;
        return pos;
      }
      this.remaining -= n;
      this.handlers.onBody?.(bytes.subarray(pos, pos + n), this.req!);
      return pos + n;
    }
    if (this.state === S.ChunkData) this.state = S.ChunkEnd;
    else this.complete();
    return pos;
  }

  /**
   * The index of the LF ending the line that starts at `pos`; `STALLED` when it has not arrived
   * yet, `TOO_LONG` when the line (without CRLF) is, or must become, longer than `max`.
   */
  private line(bytes: Uint8Array, pos: number, end: number, max: number): number {
    const from = pos + this.lineScanned;
    let lf = from < end ? bytes.indexOf(LF, from) : -1;
    if (lf >= end) lf = -1;
    if (lf < 0) {
      this.lineScanned = end - pos;
      // A trailing CR may be the first half of the CRLF; it does not count.
      if (end - pos - (bytes[end - 1] === CR ? 1 : 0) > max) return TOO_LONG;
      this.stalled = true;
      return STALLED;
    }
    this.lineScanned = 0;
    if (lf === pos || bytes[lf - 1] !== CR) {
      throw httpError(400, `bare LF in the chunked body at ${quote(bytes, pos, lf + 1)}`);
    }
    return lf - 1 - pos > max ? TOO_LONG : lf;
  }

  private chunkSize(bytes: Uint8Array, pos: number, end: number): number {
    const max = this.limits.maxChunkLineSize;
    const lf = this.line(bytes, pos, end, max);
    if (lf === TOO_LONG) {
      throw httpError(400, `chunk-size line longer than ${max} bytes (maxChunkLineSize)`);
    }
    if (lf === STALLED) return pos;
    const size = parseChunkSize(bytes, pos, lf - 1);
    if (size === 0) {
      this.state = S.Trailers;
      this.trailerBytes = 0;
      this.trailerList = null;
    } else {
      if (this.bodyTotal + size > this.limits.maxBodySize) {
        throw httpError(413, `chunked body over ${this.limits.maxBodySize} bytes (maxBodySize)`);
      }
      this.bodyTotal += size;
      this.remaining = size;
      this.state = S.ChunkData;
    }
    return lf + 1;
  }

  /** The CRLF after a chunk's data. */
  private chunkEnd(bytes: Uint8Array, pos: number, end: number): number {
    if (end - pos < 2) {
      if (pos < end && bytes[pos] !== CR) throw httpError(400, 'chunk data not followed by CRLF');
      this.stalled = true;
      return pos;
    }
    if (bytes[pos] !== CR || bytes[pos + 1] !== LF) {
      throw httpError(400, 'chunk data not followed by CRLF');
    }
    this.state = S.ChunkSize;
    return pos + 2;
  }

  /** One line of the trailer section, or the blank line that ends the message. */
  private trailer(bytes: Uint8Array, pos: number, end: number): number {
    const { maxHeaderSize, maxHeaderCount } = this.limits;
    // Each line counts with its CRLF; the blank line that ends the section does not.
    const lf = this.line(bytes, pos, end, Math.max(0, maxHeaderSize - this.trailerBytes - 2));
    if (lf === TOO_LONG) {
      throw httpError(431, `trailer section over ${maxHeaderSize} bytes (maxHeaderSize)`);
    }
    if (lf === STALLED) return pos;
    if (lf - 1 === pos) {
      if (this.trailerList !== null) this.req!._setTrailers(this.trailerList);
      this.complete();
      return lf + 1;
    }
    this.trailerBytes += lf + 1 - pos;
    const list = (this.trailerList ??= []);
    if (list.length >= maxHeaderCount) {
      throw httpError(431, `more than ${maxHeaderCount} trailer fields (maxHeaderCount)`);
    }
    const span = this.span;
    scanFieldLine(bytes, pos, lf - 1, span, 'trailer');
    list.push([
      lowerLatin1(bytes, pos, span.nameEnd),
      latin1(bytes, span.valueStart, span.valueEnd),
    ]);
    return lf + 1;
  }

  /** The message is done: tell the handler, then get ready for the next one (or stop). */
  private complete(): void {
    const req = this.req!;
    this.head.reset();
    this.state = req.keepAlive ? S.Head : S.Closed;
    if (req.upgrade) this.pausedFlag = true;
    this.handlers.onMessageComplete?.(req);
    // The head's field offsets are about to be reused for the next request.
    req._expire();
    this.req = null;
  }
}
