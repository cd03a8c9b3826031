// Static files for httpApp: GET/HEAD with ETag/Last-Modified revalidation, single byte ranges,
// index.html for directories, and no way out of the served root. See docs/static-files.md.
import { constants } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { contentType } from 'mime-types';
import parseRange from 'range-parser';
import type { HttpHandler } from './server.js';
import type { ServerRequest } from './server-request.js';
import type { ServerResponse } from './response.js';
import { decodeSegments, isInside, normalizePrefix } from './static-path.js';

export interface StaticOptions {
  /** The file served for a directory; `false` answers directories with 404. Default `index.html`. */
  index?: string | false;
  /** `Cache-Control: public, max-age=N` in seconds. Default 0 (caches revalidate every time). */
  maxAge?: number;
}

const OCTETS = 'application/octet-stream';
// A well-formed byte-ranges value (RFC 9110 §14.1.1); anything else is ignored: 200, whole file.
const BYTE_RANGES = /^bytes=\s*(\d+-\d*|-\d+)(\s*,\s*(\d+-\d*|-\d+))*\s*$/;
const MISSING = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP']);

interface Found {
  file: FileHandle;
  real: string;
  size: number;
  mtimeMs: number;
}

/**
 * A handler that serves the files under `dir` for request paths under `prefix`. Mount it on a
 * wildcard route, `router().get('/assets/*', serveStatic('/assets', 'public'))` (HEAD follows
 * GET), or pass it to `httpApp` directly to serve a whole site. Runs on the connection's loop;
 * every filesystem call goes through `fs.promises`, and a file is opened once per request.
 */
export function serveStatic(prefix: string, dir: string, options: StaticOptions = {}): HttpHandler {
  const base = normalizePrefix(prefix);
  const index = options.index ?? 'index.html';
  const cacheControl = `public, max-age=${options.maxAge ?? 0}`;
  let rootPromise: Promise<string> | undefined;
  // Resolved once, lazily: the root may be created after the handler is.
  const root = (): Promise<string> => (rootPromise ??= realpath(resolve(dir)));

  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.status(405).setHeader('Allow', 'GET, HEAD').send('Method Not Allowed\n');
      return;
    }
    const path = req.path;
    if (!path.startsWith(base) || (path.length > base.length && path[base.length] !== '/')) {
      notFound(res);
      return;
    }
    const rest = path.slice(base.length);
    if (rest === '') {
      redirect(req, res, path + '/');
      return;
    }
    const segments = decodeSegments(rest);
    if (segments === 400) {
      res.status(400).send('Bad Request\n');
      return;
    }
    if (segments === 403) {
      res.status(403).send('Forbidden\n');
      return;
    }
    let rootDir: string;
    try {
      rootDir = await root();
    } catch {
      notFound(res);
      return;
    }
    let found = await find(rootDir, join(rootDir, ...segments), res);
    if (found === undefined) return;
    if (found === 'dir') {
      if (!rest.endsWith('/')) {
        redirect(req, res, path + '/');
        return;
      }
      if (index === false) {
        notFound(res);
        return;
      }
      found = await find(rootDir, join(rootDir, ...segments, index), res);
      if (found === undefined) return;
      if (found === 'dir') {
        notFound(res);
        return;
      }
    }
    try {
      await sendFound(req, res, found, cacheControl);
    } finally {
      await found.file.close();
    }
  };
}

/**
 * Resolves `full` through symlinks and opens it, if it stays inside `root`. Answers 404 itself
 * (missing, or outside the root: not to tell an escape from a missing file) and 403 (EACCES),
 * and returns undefined then.
 */
async function find(
  root: string,
  full: string,
  res: ServerResponse,
): Promise<Found | 'dir' | undefined> {
  let real: string;
  let file: FileHandle;
  try {
    real = await realpath(full);
    if (!isInside(root, real, sep)) {
      notFound(res);
      return undefined;
    }
    // O_NOFOLLOW: a symlink swapped in after realpath is refused, not followed.
    file = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (MISSING.has(code)) notFound(res);
    else if (code === 'EACCES' || code === 'EPERM') res.status(403).send('Forbidden\n');
    else throw err;
    return undefined;
  }
  try {
    const st = await file.stat();
    if (st.isDirectory()) {
      await file.close();
      return 'dir';
    }
    if (!st.isFile()) {
      await file.close();
      notFound(res);
      return undefined;
    }
    return { file, real, size: st.size, mtimeMs: st.mtimeMs };
  } catch (err) {
    await file.close();
    throw err;
  }
}

async function sendFound(
  req: ServerRequest,
  res: ServerResponse,
  found: Found,
  cacheControl: string,
): Promise<void> {
  const { size, real } = found;
  const mtime = Math.floor(found.mtimeMs / 1000) * 1000; // HTTP dates have whole seconds
  const etag = `"${mtime.toString(16)}-${size.toString(16)}"`;
  const lastModified = new Date(mtime).toUTCString();
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', lastModified);
  res.setHeader('Cache-Control', cacheControl);
  res.setHeader('Accept-Ranges', 'bytes');
  if (notModified(req, etag, mtime)) {
    res.status(304).send();
    return;
  }
  const type = contentType(extname(real)) || OCTETS;
  let offset = 0;
  let length = size;
  const range = req.header('range');
  if (
    range !== undefined &&
    BYTE_RANGES.test(range) &&
    ifRangeHolds(req.header('if-range'), etag, lastModified)
  ) {
    const ranges = parseRange(size, range, { combine: true });
    if (ranges === -1) {
      res.status(416).setHeader('Content-Range', `bytes */${size}`).send();
      return;
    }
    // Several ranges (after merging overlaps): the whole file, 200.
    if (ranges !== -2 && ranges.length === 1) {
      const r = ranges[0]!;
      offset = r.start;
      length = r.end - r.start + 1;
      res.status(206).setHeader('Content-Range', `bytes ${r.start}-${r.end}/${size}`);
    }
  }
  await res.sendFile(real, { file: found.file, contentType: type, offset, length });
}

/** RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since only counts without it. */
function notModified(req: ServerRequest, etag: string, mtime: number): boolean {
  const inm = req.header('if-none-match');
  if (inm !== undefined) {
    if (inm.trim() === '*') return true;
    return inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
  }
  const ims = req.header('if-modified-since');
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return !Number.isNaN(since) && mtime <= since;
}

/** If-Range (RFC 9110 §13.1.5): the range applies only if the validator still matches. */
function ifRangeHolds(ifRange: string | undefined, etag: string, lastModified: string): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  return v.startsWith('"') ? v === etag : v === lastModified;
}

function notFound(res: ServerResponse): void {
  res.status(404).send('Not Found\n');
}

function redirect(req: ServerRequest, res: ServerResponse, path: string): void {
  // One leading slash: `//evil.example/` would be a protocol-relative redirect off this site.
  const location = path.replace(/^\/+/, '/');
  const q = req.url.indexOf('?');
  res
    .status(301)
    .setHeader('Location', q < 0 ? location : location + req.url.slice(q))
    .send('Moved Permanently\n');
}
