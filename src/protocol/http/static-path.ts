// Turns the path of a request for a static file into safe segments under the served root.
// Everything here is pure: the filesystem checks (realpath) live in static.ts.

/** Why a request path was refused: 400 bad percent-encoding, 403 an attempt to leave the root. */
export type PathRefusal = 400 | 403;

// An encoded slash or backslash would let one decoded segment hold a separator.
const ENCODED_SEPARATOR = /%(2f|5c)/i;

/**
 * Splits the raw (still percent-encoded) path below the prefix into decoded segments. Refuses
 * with 403 a `.`/`..` segment (raw or encoded), an encoded `/` or `\`, and a NUL byte (raw or
 * `%00`); with 400 a malformed percent-escape or bad UTF-8. Empty segments (`a//b`) are dropped.
 * Returns the segments, or the status to answer with.
 */
export function decodeSegments(raw: string): string[] | PathRefusal {
  const out: string[] = [];
  for (const part of raw.split('/')) {
    if (part.length === 0) continue;
    if (ENCODED_SEPARATOR.test(part)) return 403;
    let seg: string;
    try {
      seg = decodeURIComponent(part);
    } catch {
      return 400;
    }
    if (seg === '.' || seg === '..' || seg.includes('\0') || seg.includes('\\')) return 403;
    out.push(seg);
  }
  return out;
}

/** The prefix without its trailing slashes: `'/'` → `''`, `'/static/'` → `'/static'`. */
export function normalizePrefix(prefix: string): string {
  if (!prefix.startsWith('/')) prefix = '/' + prefix;
  return prefix.replace(/\/+$/, '');
}

/** True when `child` is `root` or lies below it (both absolute, real paths). */
export function isInside(root: string, child: string, sep = '/'): boolean {
  return child === root || child.startsWith(root.endsWith(sep) ? root : root + sep);
}
