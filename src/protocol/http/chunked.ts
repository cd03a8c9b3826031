import { httpError, quote } from './http-error.js';
import { BACKSLASH, DQUOTE, EQUALS, HEX, isWs, QDTEXT, SEMI, TCHAR } from './tokens.js';

/**
 * Parses a chunk-size line `bytes[start, end)` (CRLF excluded), RFC 9112 §7.1:
 *
 * ```
 * chunk-size [ chunk-ext ]
 * chunk-ext     = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 * chunk-ext-val = token / quoted-string
 * ```
 *
 * Returns the chunk size. Extensions are validated and then ignored. Throws a 400 for anything
 * else, including a size above 2^53 - 1.
 */
export function parseChunkSize(bytes: Uint8Array, start: number, end: number): number {
  let size = 0;
  let i = start;
  for (; i < end; i++) {
    const d = HEX[bytes[i]!]!;
    if (d === 0xff) break;
    size = size * 16 + d;
    if (size > Number.MAX_SAFE_INTEGER) {
      throw httpError(400, `chunk size ${quote(bytes, start, end)} is too large`);
    }
  }
  if (i === start) throw httpError(400, `invalid chunk size line ${quote(bytes, start, end)}`);
  if (i < end && !validExtensions(bytes, i, end)) {
    throw httpError(400, `invalid chunk extension in ${quote(bytes, start, end)}`);
  }
  return size;
}

/** True when `bytes[i, end)` is a well-formed `chunk-ext`. */
function validExtensions(bytes: Uint8Array, i: number, end: number): boolean {
  while (i < end) {
    while (i < end && isWs(bytes[i])) i++;
    if (bytes[i] !== SEMI) return false;
    i++;
    while (i < end && isWs(bytes[i])) i++;
    const name = i;
    while (i < end && TCHAR[bytes[i]!] === 1) i++;
    if (i === name) return false;
    let j = i;
    while (j < end && isWs(bytes[j])) j++;
    if (bytes[j] !== EQUALS) continue; // no value; `i` is at the next BWS ";" or the end
    j++;
    while (j < end && isWs(bytes[j])) j++;
    i = bytes[j] === DQUOTE ? endOfQuoted(bytes, j, end) : endOfToken(bytes, j, end);
    if (i < 0) return false;
  }
  return true;
}

function endOfToken(bytes: Uint8Array, i: number, end: number): number {
  const start = i;
  while (i < end && TCHAR[bytes[i]!] === 1) i++;
  return i === start ? -1 : i;
}

/** The index after the quoted-string that starts at `bytes[i]` (a DQUOTE), or -1. */
function endOfQuoted(bytes: Uint8Array, i: number, end: number): number {
  for (i++; i < end; i++) {
    const c = bytes[i]!;
    if (c === DQUOTE) return i + 1;
    if (c === BACKSLASH) {
      // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
      const q = bytes[++i];
      if (q === undefined || i >= end || (QDTEXT[q] === 0 && q !== DQUOTE && q !== BACKSLASH)) {
        return -1;
      }
    } else if (QDTEXT[c] === 0) {
      return -1;
    }
  }
  return -1;
}
