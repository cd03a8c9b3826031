import { createError, invalidArg } from '../../errors.js';
import type { HeadParser, TargetForm } from './head.js';
import { equalsName, latin1, lowerLatin1 } from './tokens.js';

/** A trailer field of a chunked body: lowercase name and latin1-decoded value. */
export type Trailer = readonly [name: string, value: string];

const NO_TRAILERS: readonly Trailer[] = Object.freeze([]);

/**
 * One parsed request head, made by `HttpRequestParser` and handed to `onRequest`.
 *
 * Two kinds of members:
 * - plain fields (`method`, `versionMinor`, `keepAlive`, `contentLength`, ...): values, valid
 *   for as long as you hold the object;
 * - the head's views (`url`, `urlView`, `header()`, `headers()`, `nameView()`, ...): they read
 *   the parser's input buffer, and are valid only until the parser's `execute` call that
 *   delivered `onRequest` returns (or, for pipelined requests, until that request's
 *   `onMessageComplete` returns). Reading them later throws `PL_ERR_HTTP_STATE`. To keep them
 *   longer, call `retain()` inside that window: it copies the head (one allocation) and the
 *   request is then self-contained.
 *
 * Not thread safe: belongs to the connection's loop.
 */
export class HttpRequest {
  /** The method; the standard ones (`'GET'`, `'HEAD'`, `'POST'`, ...) are interned literals. */
  readonly method: string;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  readonly versionMinor: 0 | 1;
  /** True when the method is HEAD: the response has no body. */
  readonly isHead: boolean;
  /** The form of the request-target (RFC 9112 §3.2). */
  readonly targetForm: TargetForm;
  /**
   * Whether the connection stays open after the response: HTTP/1.1 unless `Connection: close`;
   * HTTP/1.0 only with `Connection: keep-alive` (and no `close`).
   */
  readonly keepAlive: boolean;
  /** `Expect: 100-continue` on an HTTP/1.1 request: send `100 Continue` before reading the body. */
  readonly expectContinue: boolean;
  /**
   * The connection may switch protocols after this message: an HTTP/1.1 request with an
   * `Upgrade` field and the `upgrade` connection option, or a CONNECT. The parser pauses after
   * such a message; see `HttpRequestParser.resume`.
   */
  readonly upgrade: boolean;
  /** True when the body is chunked (`Transfer-Encoding: chunked`). */
  readonly chunked: boolean;
  /** Body length from Content-Length; 0 when the request has no body; -1 when chunked. */
  readonly contentLength: number;

  private bytes: Uint8Array;
  private base: number;
  private readonly headLength: number;
  private fields: Uint32Array;
  private readonly count: number;
  private readonly targetStart: number;
  private readonly targetEnd: number;
  private live = true;
  private kept = false;
  private trailerList: readonly Trailer[] = NO_TRAILERS;
  private urlString: string | undefined;

  /** @internal Made by the parser from a finished head at `bytes[base, base + headLength)`. */
  constructor(bytes: Uint8Array, base: number, headLength: number, head: HeadParser) {
    this.method = head.method;
    this.versionMinor = head.versionMinor;
    this.isHead = head.method === 'HEAD';
    this.targetForm = head.targetForm;
    this.keepAlive = head.keepAlive;
    this.expectContinue = head.expectContinue;
    this.upgrade = head.upgrade;
    this.chunked = head.framing === 'chunked';
    this.contentLength = this.chunked ? -1 : head.framing === 'length' ? head.contentLength : 0;
    this.bytes = bytes;
    this.base = base;
    this.headLength = headLength;
    this.fields = head.fields;
    this.count = head.count;
    this.targetStart = head.targetStart;
    this.targetEnd = head.targetEnd;
  }

  /**
   * The request-target as a string (`'/a?b=1'`, `'*'`, `'host:443'`, ...), decoded once, on the
   * first read; that first read must be inside the live window.
   */
  get url(): string {
    if (this.urlString === undefined) {
      this.check('url');
      this.urlString = latin1(this.bytes, this.base + this.targetStart, this.base + this.targetEnd);
    }
    return this.urlString;
  }

  /** The request-target as a view of the input. */
  get urlView(): Uint8Array {
    this.check('urlView');
    return this.bytes.subarray(this.base + this.targetStart, this.base + this.targetEnd);
  }

  /** Number of header field lines. */
  get headerCount(): number {
    return this.count;
  }

  /** True while the head's views can be read (see the class comment). */
  get isLive(): boolean {
    return this.live;
  }

  /** Trailer fields of a chunked body, in arrival order; set before `onMessageComplete`. */
  get trailers(): readonly Trailer[] {
    return this.trailerList;
  }

  /**
   * The value of the header field `name` (any case), decoded as latin1; repeated lines are
   * joined with `", "` (RFC 9110 §5.3). `undefined` when absent.
   */
  header(name: string): string | undefined {
    this.check('header');
    let out: string | undefined;
    for (let i = 0; i < this.count; i++) {
      if (!this.nameIs(i, name)) continue;
      const v = this.value(i);
      out = out === undefined ? v : `${out}, ${v}`;
    }
    return out;
  }

  /** The first value of the header field `name` (any case) as a view of the input, zero-copy. */
  headerView(name: string): Uint8Array | undefined {
    this.check('headerView');
    for (let i = 0; i < this.count; i++) if (this.nameIs(i, name)) return this.valueView(i);
    return undefined;
  }

  /** True when a header field `name` (any case) is present. */
  hasHeader(name: string): boolean {
    this.check('hasHeader');
    for (let i = 0; i < this.count; i++) if (this.nameIs(i, name)) return true;
    return false;
  }

  /**
   * All header fields as an object (null prototype) with lowercase names; repeated names are
   * joined with `", "`. Allocates the strings; prefer `header(name)` for a few lookups.
   */
  headers(): Record<string, string> {
    this.check('headers');
    const out = Object.create(null) as Record<string, string>;
    const f = this.fields;
    for (let i = 0; i < this.count; i++) {
      const name = lowerLatin1(this.bytes, this.base + f[4 * i]!, this.base + f[4 * i + 1]!);
      const prev = out[name];
      out[name] = prev === undefined ? this.value(i) : `${prev}, ${this.value(i)}`;
    }
    return out;
  }

  /** Header names and values in arrival order and original case: `[name0, value0, name1, ...]`. */
  rawHeaders(): string[] {
    this.check('rawHeaders');
    const out: string[] = [];
    const f = this.fields;
    for (let i = 0; i < this.count; i++) {
      out.push(latin1(this.bytes, this.base + f[4 * i]!, this.base + f[4 * i + 1]!), this.value(i));
    }
    return out;
  }

  /** The name of header field line `i` (0-based, arrival order) as a view, original case. */
  nameView(i: number): Uint8Array {
    this.check('nameView');
    this.index(i);
    const f = this.fields;
    return this.bytes.subarray(this.base + f[4 * i]!, this.base + f[4 * i + 1]!);
  }

  /** The value of header field line `i` (0-based, arrival order) as a view, OWS trimmed. */
  valueView(i: number): Uint8Array {
    this.check('valueView');
    this.index(i);
    const f = this.fields;
    return this.bytes.subarray(this.base + f[4 * i + 2]!, this.base + f[4 * i + 3]!);
  }

  /**
   * Copies the head out of the input buffer so its views stay valid for as long as this object
   * lives. Call it inside the live window (e.g. in `onRequest`) before handing the request to
   * asynchronous code. Idempotent; returns `this`.
   */
  retain(): this {
    if (this.kept) return this;
    this.check('retain');
    // `new Uint8Array(view)` copies; `slice` would not on a Node Buffer.
    this.bytes = new Uint8Array(this.bytes.subarray(this.base, this.base + this.headLength));
    this.base = 0;
    this.fields = this.fields.slice(0, 4 * this.count);
    this.kept = true;
    return this;
  }

  /** @internal The parser is done with the input these views point into. */
  _expire(): void {
    if (!this.kept) this.live = false;
  }

  /** @internal Set by the parser when the chunked body's trailer section has been read. */
  _setTrailers(trailers: readonly Trailer[]): void {
    this.trailerList = trailers;
  }

  private value(i: number): string {
    const f = this.fields;
    return latin1(this.bytes, this.base + f[4 * i + 2]!, this.base + f[4 * i + 3]!);
  }

  private nameIs(i: number, name: string): boolean {
    const f = this.fields;
    return equalsName(this.bytes, this.base + f[4 * i]!, this.base + f[4 * i + 1]!, name);
  }

  private index(i: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < this.count)) {
      throw invalidArg('index', i, `an integer in [0, ${this.count})`);
    }
  }

  private check(what: string): void {
    if (!this.live) {
      throw createError(
        'PL_ERR_HTTP_STATE',
        `HttpRequest.${what} read after the request's head expired; call retain() in onRequest to keep it`,
      );
    }
  }
}
