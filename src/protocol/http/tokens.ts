/**
 * Byte classes and small decoding helpers for the HTTP/1.1 parser. Every class is a 256-entry
 * table indexed by the byte, so a validation loop is one load and one branch per byte, with no
 * regular expressions. Pure data: safe to share between parsers on any thread.
 */

export const HTAB = 0x09;
export const LF = 0x0a;
export const CR = 0x0d;
export const SP = 0x20;
export const DQUOTE = 0x22;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const SEMI = 0x3b;
export const EQUALS = 0x3d;
export const BACKSLASH = 0x5c;

function table(member: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = member(c) ? 1 : 0;
  return t;
}

const isAlpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const oneOf = (chars: string) => (c: number) => chars.includes(String.fromCharCode(c));

/** tchar (RFC 9110 §5.6.2): the bytes of a token — methods, field names, codings. */
export const TCHAR = table((c) => isAlpha(c) || isDigit(c) || oneOf("!#$%&'*+-.^_`|~")(c));

/**
 * A byte allowed inside a field value (RFC 9110 §5.5): field-vchar (VCHAR / obs-text), SP and
 * HTAB. Everything else — CR, LF, NUL, the other controls and DEL — is rejected.
 */
export const FIELD_VALUE = table((c) => c === HTAB || (c >= 0x20 && c !== 0x7f));

/** A byte allowed in a request-target: visible ASCII. Non-ASCII must arrive percent-encoded. */
export const TARGET = table((c) => c > 0x20 && c < 0x7f);

/** qdtext (RFC 9110 §5.6.4): the bytes of a quoted-string besides `\` escapes. */
export const QDTEXT = table(
  (c) =>
    c === HTAB || c === SP || c === 0x21 || (c >= 0x23 && c <= 0x7e && c !== 0x5c) || c >= 0x80,
);

/** A byte of a reg-name or IPv4 host (RFC 3986): unreserved, sub-delims and `%` of pct-encoded. */
export const HOST_NAME = table((c) => isAlpha(c) || isDigit(c) || oneOf("-._~!$&'()*+,;=%")(c));

/** A byte inside `[...]` of an IP-literal: hex digits, `:`, `.`, and IPvFuture's `v` and unreserved. */
export const IP_LITERAL = table((c) => HOST_NAME[c] === 1 || c === COLON);

/** scheme (RFC 3986 §3.1) after its first letter. */
export const SCHEME = table(
  (c) => isAlpha(c) || isDigit(c) || c === 0x2b || c === 0x2d || c === 0x2e,
);

/** Hex digit values; 0xff for a byte that is not a hex digit. */
export const HEX = new Uint8Array(256).fill(0xff);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c;
  HEX[0x61 + c] = 10 + c;
}

/** ASCII lowercasing of a byte; other bytes map to themselves. */
export const LOWER = new Uint8Array(256);
for (let c = 0; c < 256; c++) LOWER[c] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;

/** True for SP and HTAB (OWS / BWS). */
export function isWs(c: number | undefined): boolean {
  return c === SP || c === HTAB;
}

// Node's native latin1 decoder; it accepts any Uint8Array as `this`.
const { latin1Slice } = Buffer.prototype as unknown as {
  latin1Slice: (this: Uint8Array, start: number, end: number) => string;
};

/** Decodes `bytes[start, end)` as latin1: one char per byte, so obs-text survives unchanged. */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  if (end - start < 16) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
    return s;
  }
  return latin1Slice.call(bytes, start, end);
}

/** Decodes an ASCII token at `bytes[start, end)` in lowercase (field names, for `headers()`). */
export function lowerLatin1(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(LOWER[bytes[i]!]!);
  return s;
}

/**
 * True when `bytes[start, end)` equals `lower` ignoring ASCII case. `lower` must already be
 * lowercase ASCII (a literal such as `'chunked'`); a name from a caller goes through
 * `equalsName` instead.
 */
export function equalsLower(bytes: Uint8Array, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    if (LOWER[bytes[start + i]!] !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** True when `bytes[start, end)` equals `name` ignoring ASCII case, for any string `name`. */
export function equalsName(bytes: Uint8Array, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0xff || LOWER[c] !== LOWER[bytes[start + i]!]) return false;
  }
  return true;
}
