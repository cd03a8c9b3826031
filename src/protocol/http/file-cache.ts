import { close, fstat, open, stat, type Stats } from 'node:fs';
import { invalidArg } from '../../errors.js';

/** Settings of the open-file cache behind `res.sendFile(path)`; see `HttpServerOptions`. */
export interface FileCacheOptions {
  /** Most files kept open. Default 64. */
  maxFiles?: number;
  /**
   * How long (ms) an open file is trusted before its path is checked again with one `stat`: a
   * replaced or modified file is seen within this time. Default 1000.
   */
  ttl?: number;
}

/** An open file shared by the transfers that send it. */
export interface CachedFile {
  readonly fd: number;
  readonly size: number;
}

interface Entry extends CachedFile {
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  readonly mtimeMs: number;
  /** When the path was last seen to name this file (ms). */
  checkedAt: number;
  /** Transfers using the fd now: it is closed only when none is left. */
  users: number;
  /** Out of the cache (replaced, evicted, swept): close once unused. */
  dropped: boolean;
  /** Used since the last sweep. */
  used: boolean;
}

/** The path names no regular file (missing, a directory, ...): the response is a 404. */
export const NOT_A_FILE = 'not-a-file';

const MISSING = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG', 'ELOOP']);

/**
 * Files opened by `res.sendFile(path)`, kept open by path like nginx's `open_file_cache`: a
 * request for a cached file costs no `open`, `fstat` or `close` — three trips through the thread
 * pool that would otherwise separate it from its first byte. A path is checked again with one
 * `stat` once `ttl` has passed; a different file (device, inode, size or mtime) is opened anew.
 * At most `maxFiles` stay open (least recently used out first), and a timer closes those unused
 * for a whole `ttl`, so an idle server holds none. Lives on one loop (one per `httpApp`).
 */
export class FileCache {
  private readonly maxFiles: number;
  private readonly ttl: number;
  /** In use order: the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry>();
  /** Opens and checks in flight, shared by the requests that arrive meanwhile. */
  private readonly pending = new Map<string, Promise<Entry | typeof NOT_A_FILE>>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(options: FileCacheOptions = {}) {
    const { maxFiles = 64, ttl = 1000 } = options;
    if (!Number.isSafeInteger(maxFiles) || maxFiles < 1)
      throw invalidArg('fileCache.maxFiles', maxFiles, 'a positive integer');
    if (!Number.isSafeInteger(ttl) || ttl < 1)
      throw invalidArg('fileCache.ttl', ttl, 'a positive integer of ms');
    this.maxFiles = maxFiles;
    this.ttl = ttl;
  }

  /** Number of files in the cache (open; files that left it close once their transfers end). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The open file at `path`, for one transfer: call `release` when it is done. Synchronous while
   * the entry is fresh (the common case); otherwise a promise. Rejects with the `open`/`stat`
   * error for anything but a missing or non-regular file, which is `NOT_A_FILE`.
   */
  acquire(path: string): CachedFile | typeof NOT_A_FILE | Promise<CachedFile | typeof NOT_A_FILE> {
    const e = this.entries.get(path);
    if (e !== undefined && Date.now() - e.checkedAt < this.ttl) return this.use(e);
    return this.load(path).then((r) => (r === NOT_A_FILE ? r : this.use(r)));
  }

  /** Ends one transfer's use of a file from `acquire`. */
  release(file: CachedFile): void {
    const e = file as Entry;
    e.users--;
    if (e.users === 0 && e.dropped) closeFd(e.fd);
  }

  /** Closes every file not in use now; those in use close when released. */
  clear(): void {
    for (const e of this.entries.values()) this.drop(e);
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private use(e: Entry): Entry {
    e.users++;
    e.used = true;
    // Most recently used goes last.
    this.entries.delete(e.path);
    this.entries.set(e.path, e);
    return e;
  }

  private load(path: string): Promise<Entry | typeof NOT_A_FILE> {
    let p = this.pending.get(path);
    if (p === undefined) {
      p = this.check(path).finally(() => this.pending.delete(path));
      this.pending.set(path, p);
    }
    return p;
  }

  /** Confirms a cached entry with `stat`, or opens the file. */
  private async check(path: string): Promise<Entry | typeof NOT_A_FILE> {
    const old = this.entries.get(path);
    if (old !== undefined) {
      const st = await statOrMissing(path);
      const now = this.entries.get(path); // it may have been dropped meanwhile
      if (now === old && st !== undefined && sameFile(old, st)) {
        old.checkedAt = Date.now();
        return old;
      }
      if (now === old) this.drop(old);
      if (st === undefined) return NOT_A_FILE;
    }
    return this.open(path);
  }

  private async open(path: string): Promise<Entry | typeof NOT_A_FILE> {
    let fd: number;
    try {
      fd = await new Promise<number>((resolve, reject) =>
        open(path, 'r', (err, n) => (err ? reject(err) : resolve(n))),
      );
    } catch (err) {
      if (MISSING.has((err as NodeJS.ErrnoException).code ?? '')) return NOT_A_FILE;
      throw err;
    }
    let st: Stats;
    try {
      st = await new Promise<Stats>((resolve, reject) =>
        fstat(fd, (err, s) => (err ? reject(err) : resolve(s))),
      );
    } catch (err) {
      closeFd(fd);
      throw err;
    }
    if (!st.isFile()) {
      closeFd(fd);
      return NOT_A_FILE;
    }
    const e: Entry = {
      path,
      fd,
      size: st.size,
      dev: st.dev,
      ino: st.ino,
      mtimeMs: st.mtimeMs,
      checkedAt: Date.now(),
      users: 0,
      dropped: false,
      used: false,
    };
    const before = this.entries.get(path);
    if (before !== undefined) this.drop(before);
    this.entries.set(path, e);
    if (this.entries.size > this.maxFiles) this.drop(this.entries.values().next().value!);
    this.sweeper ??= setInterval(this.sweep, this.ttl).unref();
    return e;
  }

  private drop(e: Entry): void {
    if (this.entries.get(e.path) === e) this.entries.delete(e.path);
    e.dropped = true;
    if (e.users === 0) closeFd(e.fd);
  }

  /** Closes the files nobody asked for since the last sweep; stops when none is left. */
  private readonly sweep = (): void => {
    for (const e of [...this.entries.values()]) {
      if (e.used) e.used = false;
      else this.drop(e);
    }
    if (this.entries.size === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  };
}

function sameFile(e: Entry, st: Stats): boolean {
  return (
    st.isFile() &&
    st.dev === e.dev &&
    st.ino === e.ino &&
    st.size === e.size &&
    st.mtimeMs === e.mtimeMs
  );
}

/** `stat(path)`, or undefined when the path names nothing (or nothing reachable). */
function statOrMissing(path: string): Promise<Stats | undefined> {
  return new Promise((resolve, reject) =>
    stat(path, (err, st) => {
      if (err === null) resolve(st);
      else if (MISSING.has(err.code ?? '')) resolve(undefined);
      else reject(err);
    }),
  );
}

function closeFd(fd: number): void {
  close(fd, () => undefined); // nothing to do about a failed close of a read-only fd
}
