import { httpError, quote } from './http-error.js';
import {
  COLON,
  COMMA,
  FIELD_VALUE,
  HOST_NAME,
  HTAB,
  IP_LITERAL,
  isWs,
  SP,
  TCHAR,
} from './tokens.js';

/** The bounds of one field line, written by `scanFieldLine` into a reused object. */
export interface FieldSpan {
  nameEnd: number;
  valueStart: number;
  valueEnd: number;
}

/**
 * Validates the field line `bytes[start, end)` (CRLF excluded) as `name ":" OWS value OWS` and
 * writes the name's end and the value's OWS-trimmed bounds into `out`. Throws a 400 for obs-fold
 * (a line starting with SP/HTAB), a name that is not a token, whitespace before the colon, and
 * controls other than HTAB in the value (a bare CR or LF included).
 */
export function scanFieldLine(
  bytes: Uint8Array,
  start: number,
  end: number,
  out: FieldSpan,
  what: string,
): void {
  const first = bytes[start];
  if (first === SP || first === HTAB) {
    throw httpError(
      400,
      `obs-fold (a ${what} line starting with whitespace) at ${quote(bytes, start, end)}`,
    );
  }
  let i = start;
  while (i < end && TCHAR[bytes[i]!] === 1) i++;
  if (i === end) throw httpError(400, `${what} line without a colon: ${quote(bytes, start, end)}`);
  const c = bytes[i]!;
  if (c !== COLON) {
    throw httpError(
      400,
      isWs(c)
        ? `whitespace between ${what} name and colon in ${quote(bytes, start, end)}`
        : `invalid byte 0x${c.toString(16)} in ${what} name ${quote(bytes, start, end)}`,
    );
  }
  if (i === start) throw httpError(400, `empty ${what} name in ${quote(bytes, start, end)}`);
  out.nameEnd = i;
  i++;
  while (i < end && isWs(bytes[i])) i++;
  out.valueStart = i;
  for (let j = i; j < end; j++) {
    if (FIELD_VALUE[bytes[j]!] === 0) {
      throw httpError(
        400,
        `control byte 0x${bytes[j]!.toString(16)} in ${what} value ${quote(bytes, start, end)}`,
      );
    }
  }
  let e = end;
  while (e > i && isWs(bytes[e - 1])) e--;
  out.valueEnd = e;
}

/**
 * Walks the elements of a comma-separated list value (`#rule`, RFC 9110 §5.6.1), trimming OWS
 * around each. Usage: `for (let i = s; i <= e; ) { i = list.next(bytes, i, e); ... list.start, list.end }`.
 * Empty elements are reported (start === end); most callers skip them, as the RFC asks.
 */
export class ListCursor {
  start = 0;
  end = 0;

  /** Finds the element at `i` and returns the index just past its comma (`end + 1` at the end). */
  next(bytes: Uint8Array, i: number, end: number): number {
    while (i < end && isWs(bytes[i])) i++;
    const s = i;
    while (i < end && bytes[i] !== COMMA) i++;
    let e = i;
    while (e > s && isWs(bytes[e - 1])) e--;
    this.start = s;
    this.end = e;
    return i + 1;
  }
}

/** True when `bytes[start, end)` is a token (one or more tchar). */
export function isToken(bytes: Uint8Array, start: number, end: number): boolean {
  if (start === end) return false;
  for (let i = start; i < end; i++) if (TCHAR[bytes[i]!] === 0) return false;
  return true;
}

/**
 * True when `bytes[start, end)` is `uri-host [ ":" port ]` (RFC 9112 §3.2): a Host value, or with
 * `requirePort` the authority-form target of CONNECT (`host ":" port`, port not empty). An empty
 * Host value is allowed; userinfo (`@`) is not.
 */
export function isHostPort(
  bytes: Uint8Array,
  start: number,
  end: number,
  requirePort: boolean,
): boolean {
  let i = start;
  if (i < end && bytes[i] === 0x5b) {
    i++;
    while (i < end && IP_LITERAL[bytes[i]!] === 1) i++;
    if (i === end || bytes[i] !== 0x5d || i === start + 1) return false;
    i++;
  } else {
    while (i < end && HOST_NAME[bytes[i]!] === 1) i++;
    if (requirePort && i === start) return false;
  }
  if (i === end) return !requirePort;
  if (bytes[i] !== COLON) return false;
  const portStart = ++i;
  while (i < end && bytes[i]! >= 0x30 && bytes[i]! <= 0x39) i++;
  return i === end && (!requirePort || i > portStart);
}
