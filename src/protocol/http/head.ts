import { isHostPort, isToken, ListCursor, scanFieldLine, type FieldSpan } from './fields.js';
import { httpError, quote } from './http-error.js';
import {
  COLON,
  CR,
  equalsLower,
  FIELD_VALUE,
  HTAB,
  LF,
  latin1,
  SCHEME,
  SP,
  TARGET,
  TCHAR,
} from './tokens.js';

/** The four request-target forms of RFC 9112 §3.2. */
export type TargetForm = 'origin' | 'absolute' | 'authority' | 'asterisk';

/** How the body of a request is framed (RFC 9112 §6.3). */
export type Framing = 'none' | 'length' | 'chunked';

/** Limits the head parser enforces; see `HttpParserOptions`. */
export interface HeadLimits {
  readonly maxRequestLineSize: number;
  readonly maxHeaderSize: number;
  readonly maxHeaderCount: number;
  readonly maxBodySize: number;
}

/** A fast path's answer: take the line the slow way. */
const SLOW = -1;
/** A fast path's answer: the line is the blank line that ends the head. */
const HEAD_END = -2;

const METHODS = ['GET', 'PUT', 'HEAD', 'POST', 'PATCH', 'TRACE', 'DELETE', 'OPTIONS', 'CONNECT'];

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** The method at `bytes[start, end)`: the interned literal for a standard one, else decoded. */
function internMethod(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  // The common two first, without the loop.
  if (n === 3 && bytes[start] === 0x47 && bytes[start + 1] === 0x45 && bytes[start + 2] === 0x54)
    return 'GET';
  if (n === 4 && bytes[start] === 0x50 && bytes[start + 1] === 0x4f) {
    if (bytes[start + 2] === 0x53 && bytes[start + 3] === 0x54) return 'POST';
  }
  outer: for (const m of METHODS) {
    if (m.length !== n) continue;
    for (let i = 0; i < n; i++) if (bytes[start + i] !== m.charCodeAt(i)) continue outer;
    return m;
  }
  return latin1(bytes, start, end);
}

/**
 * Parses one request head — request line and header section — line by line as its bytes arrive,
 * and checks the head's semantics (Host, framing, Expect) once it is complete.
 *
 * Offsets are kept relative to the first byte of the head, so the caller may move the pending
 * bytes (buffer compaction, a copy into a pending buffer) between calls. `lineStart` and
 * `scanned` remember how far the head was already parsed and searched, so each byte is looked at
 * once however finely the head is split.
 *
 * ```
 * head start                     lineStart        scanned
 * |GET / HTTP/1.1\r\nHost: a\r\n|User-Agent: x   |         (more bytes to come)
 * |<--- parsed lines ---------->|<- partial line ->|
 * ```
 *
 * Field offsets live in `fields` (4 per field line: name start/end, value start/end), which is
 * reused for the next head: a request's views expire before the next head is parsed.
 * Not thread safe; owned by one `HttpRequestParser`.
 */
export class HeadParser {
  lineStart = 0;
  scanned = 0;
  requestLineDone = false;

  method = '';
  methodEnd = 0;
  targetStart = 0;
  targetEnd = 0;
  versionMinor: 0 | 1 = 1;
  targetForm: TargetForm = 'origin';

  fields: Uint32Array;
  count = 0;
  private fieldBytes = 0;

  private hosts = 0;
  contentLength = -1;
  private teSeen = false;
  private teChunked = false;
  private teChunkedNotLast = false;
  private teUnknown = '';
  private connClose = false;
  private connKeepAlive = false;
  private connUpgrade = false;
  private upgradeHeader = false;
  private expect100 = false;
  private expectOther = '';

  // Results of `finish`.
  framing: Framing = 'none';
  keepAlive = true;
  upgrade = false;
  expectContinue = false;

  private readonly span: FieldSpan = { nameEnd: 0, valueStart: 0, valueEnd: 0 };
  private readonly list = new ListCursor();

  constructor(private readonly limits: HeadLimits) {
    this.fields = new Uint32Array(4 * Math.min(limits.maxHeaderCount, 32));
  }

  /** Forgets the previous head; the next `parse` starts a new one. */
  reset(): void {
    this.lineStart = this.scanned = 0;
    this.requestLineDone = false;
    this.count = this.fieldBytes = this.hosts = 0;
    this.contentLength = -1;
    this.teSeen = this.teChunked = this.teChunkedNotLast = false;
    this.teUnknown = this.expectOther = '';
    this.connClose = this.connKeepAlive = this.connUpgrade = this.upgradeHeader = false;
    this.expect100 = false;
  }

  /**
   * Parses the complete lines of the head that starts at `bytes[base]` and has its bytes up to
   * `end`. Returns the index just past the blank line that ends the head, or -1 when the head is
   * not complete yet (call again with the same head start and more bytes).
   */
  parse(bytes: Uint8Array, base: number, end: number): number {
    let lineStart = base + this.lineStart;
    let from = base + this.scanned;
    for (;;) {
      if (from === lineStart) {
        // A line not searched yet: try to validate it and find its end in one pass.
        const next = this.requestLineDone
          ? this.fastFieldLine(bytes, base, lineStart, end)
          : this.fastRequestLine(bytes, base, lineStart, end);
        if (next > 0) {
          lineStart = from = next;
          continue;
        }
        if (next === HEAD_END) {
          this.lineStart = this.scanned = lineStart + 2 - base;
          return lineStart + 2;
        }
      }
      let lf = from < end ? bytes.indexOf(LF, from) : -1;
      if (lf >= end) lf = -1;
      if (lf < 0) {
        this.lineStart = lineStart - base;
        this.scanned = end - base;
        this.checkPartialLine(bytes, lineStart, end);
        return -1;
      }
      if (lf === lineStart || bytes[lf - 1] !== CR) {
        throw httpError(400, `bare LF in the request head at ${quote(bytes, lineStart, lf + 1)}`);
      }
      const lineEnd = lf - 1;
      if (!this.requestLineDone) {
        this.requestLine(bytes, base, lineStart, lineEnd);
      } else if (lineEnd === lineStart) {
        this.lineStart = this.scanned = lf + 1 - base;
        return lf + 1;
      } else {
        this.fieldLine(bytes, base, lineStart, lineEnd, lf + 1);
      }
      lineStart = from = lf + 1;
    }
  }

  /*
   * The fast paths below take a complete, well-formed line in one pass: the byte classes that
   * validate it also find its CRLF. On anything else (an incomplete line, any byte out of place,
   * a limit reached) they return SLOW without changing any state, and the line-by-line path
   * above takes the line from its start and gives the exact answer, errors included.
   */

  /** A request line `method SP target SP HTTP/x.y CRLF`: returns the index after its LF. */
  private fastRequestLine(bytes: Uint8Array, base: number, s: number, end: number): number {
    let i = s;
    while (i < end && TCHAR[bytes[i]!] === 1) i++;
    if (i === s || i >= end || bytes[i] !== SP) return SLOW;
    const methodEnd = i;
    const ts = ++i;
    while (i < end && TARGET[bytes[i]!] === 1) i++;
    if (i === ts || i >= end || bytes[i] !== SP) return SLOW;
    const te = i++;
    const e = i + 8;
    if (e + 1 >= end || bytes[e] !== CR || bytes[e + 1] !== LF) return SLOW;
    if (e - s > this.limits.maxRequestLineSize) return SLOW;
    // An LF inside the version would be the line's end for the slow path.
    for (let k = i; k < e; k++) if (bytes[k] === LF) return SLOW;
    this.version(bytes, i, e);
    this.method = internMethod(bytes, s, methodEnd);
    this.targetForm = this.form(bytes, ts, te);
    this.methodEnd = methodEnd - base;
    this.targetStart = ts - base;
    this.targetEnd = te - base;
    this.requestLineDone = true;
    return e + 2;
  }

  /** A field line `name ":" OWS value OWS CRLF`, or the blank line that ends the head. */
  private fastFieldLine(bytes: Uint8Array, base: number, s: number, end: number): number {
    if (bytes[s] === CR) return s + 1 < end && bytes[s + 1] === LF ? HEAD_END : SLOW;
    let i = s;
    while (i < end && TCHAR[bytes[i]!] === 1) i++;
    if (i === s || i >= end || bytes[i] !== COLON) return SLOW;
    const nameEnd = i++;
    while (i < end && (bytes[i] === SP || bytes[i] === HTAB)) i++;
    const vs = i;
    while (i < end && FIELD_VALUE[bytes[i]!] === 1) i++;
    if (i + 1 >= end || bytes[i] !== CR || bytes[i + 1] !== LF) return SLOW;
    let ve = i;
    while (ve > vs && (bytes[ve - 1] === SP || bytes[ve - 1] === HTAB)) ve--;
    const next = i + 2;
    const { maxHeaderCount, maxHeaderSize } = this.limits;
    if (this.count >= maxHeaderCount || this.fieldBytes + (next - s) > maxHeaderSize) return SLOW;
    this.fieldBytes += next - s;
    this.store(base, s, nameEnd, vs, ve);
    this.semantics(bytes, s, nameEnd, vs, ve);
    return next;
  }

  /** Rejects a line that is already over its limit although its LF has not arrived. */
  private checkPartialLine(bytes: Uint8Array, lineStart: number, end: number): void {
    const partial = end - lineStart;
    if (!this.requestLineDone) {
      // A trailing CR may be the first half of the line's CRLF; it does not count.
      const content = bytes[end - 1] === CR ? partial - 1 : partial;
      if (content > this.limits.maxRequestLineSize) {
        throw httpError(
          414,
          `request line longer than ${this.limits.maxRequestLineSize} bytes (maxRequestLineSize)`,
        );
      }
    } else if (
      // The line will take at least one more byte (its LF); a lone CR may be the blank line
      // that ends the head, which does not count.
      partial > 0 &&
      !(partial === 1 && bytes[lineStart] === CR) &&
      this.fieldBytes + partial + 1 > this.limits.maxHeaderSize
    ) {
      throw httpError(
        431,
        `header section over ${this.limits.maxHeaderSize} bytes (maxHeaderSize)`,
      );
    }
  }

  /** `method SP request-target SP HTTP-version`, with exactly one SP between the parts. */
  private requestLine(bytes: Uint8Array, base: number, s: number, e: number): void {
    if (e - s > this.limits.maxRequestLineSize) {
      throw httpError(
        414,
        `request line of ${e - s} bytes exceeds ${this.limits.maxRequestLineSize} (maxRequestLineSize)`,
      );
    }
    let i = s;
    while (i < e && TCHAR[bytes[i]!] === 1) i++;
    if (i === s)
      throw httpError(400, `request line does not start with a method: ${quote(bytes, s, e)}`);
    if (i === e)
      throw httpError(400, `request line without a request-target: ${quote(bytes, s, e)}`);
    if (bytes[i] !== SP) {
      throw httpError(
        400,
        `invalid byte 0x${bytes[i]!.toString(16)} in method: ${quote(bytes, s, e)}`,
      );
    }
    const methodEnd = i;
    const ts = ++i;
    while (i < e && TARGET[bytes[i]!] === 1) i++;
    if (i === e)
      throw httpError(400, `request line without an HTTP version: ${quote(bytes, s, e)}`);
    if (bytes[i] !== SP || i === ts) {
      throw httpError(
        400,
        bytes[i] === SP
          ? `more than one space after the method: ${quote(bytes, s, e)}`
          : `invalid byte 0x${bytes[i]!.toString(16)} in request-target: ${quote(bytes, s, e)}`,
      );
    }
    const te = i++;
    this.version(bytes, i, e);
    this.method = internMethod(bytes, s, methodEnd);
    this.targetForm = this.form(bytes, ts, te);
    this.methodEnd = methodEnd - base;
    this.targetStart = ts - base;
    this.targetEnd = te - base;
    this.requestLineDone = true;
  }

  /** `HTTP/1.0` or `HTTP/1.1`; another well-formed version is a 505, anything else a 400. */
  private version(bytes: Uint8Array, i: number, e: number): void {
    if (
      e - i !== 8 ||
      bytes[i] !== 0x48 || // "HTTP/", case-sensitive (RFC 9112 §2.3)
      bytes[i + 1] !== 0x54 ||
      bytes[i + 2] !== 0x54 ||
      bytes[i + 3] !== 0x50 ||
      bytes[i + 4] !== 0x2f ||
      !isDigit(bytes[i + 5]) ||
      bytes[i + 6] !== 0x2e ||
      !isDigit(bytes[i + 7])
    ) {
      throw httpError(400, `malformed HTTP version ${quote(bytes, i, e)}`);
    }
    const major = bytes[i + 5]! - 0x30;
    const minor = bytes[i + 7]! - 0x30;
    if (major !== 1 || minor > 1) {
      throw httpError(505, `HTTP/${major}.${minor} is not supported (only HTTP/1.0 and HTTP/1.1)`);
    }
    this.versionMinor = minor as 0 | 1;
  }

  /** Which form the target has, and whether the method may use it (RFC 9112 §3.2). */
  private form(bytes: Uint8Array, s: number, e: number): TargetForm {
    if (this.method === 'CONNECT') {
      if (!isHostPort(bytes, s, e, true)) {
        throw httpError(
          400,
          `CONNECT needs an authority-form target (host:port), got ${quote(bytes, s, e)}`,
        );
      }
      return 'authority';
    }
    const first = bytes[s]!;
    if (first === 0x2f) return 'origin';
    if (first === 0x2a && e - s === 1) {
      if (this.method !== 'OPTIONS') {
        throw httpError(400, `asterisk-form target "*" is only allowed with OPTIONS`);
      }
      return 'asterisk';
    }
    // absolute-form: scheme "://" and something after it.
    const alpha = (first | 0x20) >= 0x61 && (first | 0x20) <= 0x7a;
    let i = s + 1;
    while (alpha && i < e && SCHEME[bytes[i]!] === 1) i++;
    if (alpha && e - i > 3 && bytes[i] === 0x3a && bytes[i + 1] === 0x2f && bytes[i + 2] === 0x2f) {
      return 'absolute';
    }
    throw httpError(
      400,
      `request-target is not origin-form or absolute-form: ${quote(bytes, s, e)}`,
    );
  }

  private fieldLine(bytes: Uint8Array, base: number, s: number, e: number, next: number): void {
    const { maxHeaderCount, maxHeaderSize } = this.limits;
    if (this.count >= maxHeaderCount) {
      throw httpError(431, `more than ${maxHeaderCount} header fields (maxHeaderCount)`);
    }
    this.fieldBytes += next - s;
    if (this.fieldBytes > maxHeaderSize) {
      throw httpError(431, `header section over ${maxHeaderSize} bytes (maxHeaderSize)`);
    }
    const span = this.span;
    scanFieldLine(bytes, s, e, span, 'header');
    this.store(base, s, span.nameEnd, span.valueStart, span.valueEnd);
    this.semantics(bytes, s, span.nameEnd, span.valueStart, span.valueEnd);
  }

  /** Records a field's offsets, relative to the head's start. */
  private store(base: number, ns: number, ne: number, vs: number, ve: number): void {
    const k = this.count * 4;
    if (k + 4 > this.fields.length) {
      const max = 4 * this.limits.maxHeaderCount;
      const grown = new Uint32Array(Math.min(this.fields.length * 2, max));
      grown.set(this.fields);
      this.fields = grown;
    }
    const f = this.fields;
    f[k] = ns - base;
    f[k + 1] = ne - base;
    f[k + 2] = vs - base;
    f[k + 3] = ve - base;
    this.count++;
  }

  /** Records the fields that decide framing and connection handling. */
  private semantics(bytes: Uint8Array, ns: number, ne: number, vs: number, ve: number): void {
    switch (ne - ns) {
      case 4:
        if (equalsLower(bytes, ns, ne, 'host')) this.host(bytes, vs, ve);
        return;
      case 6:
        if (equalsLower(bytes, ns, ne, 'expect')) this.expect(bytes, vs, ve);
        return;
      case 7:
        if (equalsLower(bytes, ns, ne, 'upgrade')) this.upgradeHeader = ve > vs;
        return;
      case 10:
        if (equalsLower(bytes, ns, ne, 'connection')) this.connection(bytes, vs, ve);
        return;
      case 14:
        if (equalsLower(bytes, ns, ne, 'content-length')) this.length(bytes, vs, ve);
        return;
      case 17:
        if (equalsLower(bytes, ns, ne, 'transfer-encoding')) this.codings(bytes, vs, ve);
        return;
    }
  }

  private host(bytes: Uint8Array, vs: number, ve: number): void {
    if (++this.hosts > 1) throw httpError(400, 'more than one Host header field');
    if (!isHostPort(bytes, vs, ve, false)) {
      throw httpError(400, `invalid Host ${quote(bytes, vs, ve)}`);
    }
  }

  /** Content-Length: digits only; repeats (lines or a comma list) must all be the same number. */
  private length(bytes: Uint8Array, vs: number, ve: number): void {
    const list = this.list;
    for (let i = vs; i <= ve;) {
      i = list.next(bytes, i, ve);
      if (list.start === list.end) {
        throw httpError(400, `empty Content-Length element in ${quote(bytes, vs, ve)}`);
      }
      let n = 0;
      for (let j = list.start; j < list.end; j++) {
        const d = bytes[j]! - 0x30;
        if (d < 0 || d > 9) throw httpError(400, `invalid Content-Length ${quote(bytes, vs, ve)}`);
        n = n * 10 + d;
        if (n > Number.MAX_SAFE_INTEGER) {
          throw httpError(400, `Content-Length ${quote(bytes, vs, ve)} is too large`);
        }
      }
      if (this.contentLength >= 0 && n !== this.contentLength) {
        throw httpError(400, `conflicting Content-Length values ${this.contentLength} and ${n}`);
      }
      this.contentLength = n;
    }
  }

  /** Transfer-Encoding: a list of codings, of which polyloop implements only `chunked`. */
  private codings(bytes: Uint8Array, vs: number, ve: number): void {
    this.teSeen = true;
    const list = this.list;
    for (let i = vs; i <= ve;) {
      i = list.next(bytes, i, ve);
      const { start, end } = list;
      if (start === end) continue;
      if (!isToken(bytes, start, end)) {
        throw httpError(400, `invalid transfer coding ${quote(bytes, start, end)}`);
      }
      if (equalsLower(bytes, start, end, 'chunked')) {
        if (this.teChunked) throw httpError(400, 'chunked transfer coding applied twice');
        this.teChunked = true;
      } else {
        if (this.teChunked) this.teChunkedNotLast = true;
        if (this.teUnknown === '') this.teUnknown = quote(bytes, start, end);
      }
    }
  }

  private connection(bytes: Uint8Array, vs: number, ve: number): void {
    const list = this.list;
    for (let i = vs; i <= ve;) {
      i = list.next(bytes, i, ve);
      const { start, end } = list;
      if (start === end) continue;
      if (!isToken(bytes, start, end)) {
        throw httpError(400, `invalid Connection option ${quote(bytes, start, end)}`);
      }
      if (equalsLower(bytes, start, end, 'close')) this.connClose = true;
      else if (equalsLower(bytes, start, end, 'keep-alive')) this.connKeepAlive = true;
      else if (equalsLower(bytes, start, end, 'upgrade')) this.connUpgrade = true;
    }
  }

  private expect(bytes: Uint8Array, vs: number, ve: number): void {
    const list = this.list;
    for (let i = vs; i <= ve;) {
      i = list.next(bytes, i, ve);
      const { start, end } = list;
      if (start === end) continue;
      if (equalsLower(bytes, start, end, '100-continue')) this.expect100 = true;
      else if (this.expectOther === '') this.expectOther = quote(bytes, start, end);
    }
  }

  /**
   * Checks the complete head as a whole and derives framing, keep-alive, upgrade and
   * expect-continue. Throws the `HttpParseError` the request deserves.
   */
  finish(): void {
    const v1 = this.versionMinor === 1;
    if (v1 && this.hosts === 0) throw httpError(400, 'HTTP/1.1 request without a Host header');
    if (this.teSeen) {
      if (this.contentLength >= 0) {
        throw httpError(400, 'both Transfer-Encoding and Content-Length');
      }
      if (!v1) throw httpError(400, 'Transfer-Encoding in an HTTP/1.0 request');
      if (this.teChunkedNotLast) {
        throw httpError(400, 'chunked is not the final transfer coding');
      }
      if (this.teUnknown !== '') {
        throw httpError(501, `transfer coding ${this.teUnknown} is not implemented`);
      }
      if (!this.teChunked) throw httpError(400, 'empty Transfer-Encoding');
      this.framing = 'chunked';
    } else {
      this.framing = this.contentLength > 0 ? 'length' : 'none';
    }
    if (this.expectOther !== '') {
      throw httpError(417, `unsupported expectation ${this.expectOther}`);
    }
    if (this.contentLength > this.limits.maxBodySize) {
      throw httpError(
        413,
        `Content-Length ${this.contentLength} exceeds ${this.limits.maxBodySize} (maxBodySize)`,
      );
    }
    // HTTP/1.0 ignores both a 100-continue expectation and Upgrade (RFC 9110 §10.1.1, §7.8).
    this.keepAlive = !this.connClose && (v1 || this.connKeepAlive);
    this.upgrade = this.method === 'CONNECT' || (v1 && this.connUpgrade && this.upgradeHeader);
    this.expectContinue = v1 && this.expect100;
  }
}
