/**
 * Loader of the polyloop native addon (`build/Release/polyloop.node`, built by `npm install`;
 * see docs/native.md). It is loaded lazily, on the first call here, once per thread. A feature
 * that needs it asks `requireNative('sendfile')`, which throws PL_ERR_NATIVE_UNAVAILABLE naming
 * the feature and the fix; a feature with a pure-TypeScript fallback checks `nativeStatus()`.
 *
 * Every error the addon raises is a PolyloopError: PL_ERR_INVALID_ARG for a bad argument,
 * PL_ERR_NATIVE (or a more precise code) for a failed system call, with `errno` ('EBADF') and
 * `syscall` ('sendfile') set.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createError, ERROR_CODES, type ErrorCode, type PolyloopError } from '../src/errors.js';

/** Options of `listen`. Every field is optional. */
export interface NativeListenOptions {
  /** A numeric IPv4 or IPv6 address (no DNS). Default '::' (dual-stack), else '0.0.0.0'. */
  host?: string;
  /** 0 to 65535; 0 (the default) picks a free port: read it back with `localPort(fd)`. */
  port?: number;
  /** listen(2) backlog; the kernel caps it at net.core.somaxconn. Default 511. */
  backlog?: number;
  /** SO_REUSEADDR. Default true, as Node. */
  reuseAddr?: boolean;
  /** SO_REUSEPORT: several sockets on one port, the kernel spreads connections. Default false. */
  reusePort?: boolean;
  /** IPV6_V6ONLY for an IPv6 host. Default false (dual-stack). */
  ipv6Only?: boolean;
}

/**
 * Called once per batch of accepted connections (up to 64). `fds[i]` is a non-blocking,
 * close-on-exec socket that now belongs to the callback: adopt it (`new net.Socket({ fd })`),
 * hand it to another thread, or `close` it. `peers[i]` is 'ip:port' ('[ip]:port' for IPv6).
 */
export type AcceptCallback = (fds: Int32Array, peers: string[]) => void;

/**
 * Accepts connections on a listening fd with `accept4`, in batches, driven by the event loop of
 * the thread that created it. Created stopped. Call every method only from that thread. It does
 * not own the listening fd: `close()` the acceptor before closing the fd.
 */
export interface NativeAcceptor {
  /** Starts watching the listening fd (again). No-op when started; throws once closed. */
  start(): void;
  /** Stops watching; connections wait in the kernel's backlog. No-op when stopped or closed. */
  stop(): void;
  /** Stops for good and frees the watcher. Idempotent. */
  close(): void;
  /** Connections accepted and handed to the callback. */
  readonly accepted: number;
  /** Connections closed at once because the process or system was out of fds (EMFILE/ENFILE). */
  readonly shed: number;
  /** Accept failures other than EAGAIN (counted; a fatal one such as EBADF also stops it). */
  readonly errors: number;
  /** True between start() and stop()/close(), unless a fatal error stopped it. */
  readonly active: boolean;
  readonly closed: boolean;
  /** The listening fd it watches. */
  readonly fd: number;
  /** The errno name of the last accept failure ('EMFILE'), or null. */
  readonly lastError: string | null;
}

/**
 * A running `sendFile`: a promise of the bytes sent, plus `cancel()`. Call its methods only from
 * the thread that started it.
 */
export interface SendFileTask extends Promise<number> {
  /**
   * Stops the transfer. When it returns true, the native side never touches the socket again
   * and the promise rejects with PL_ERR_CANCELLED; false means it had already settled.
   */
  cancel(): boolean;
  /** Bytes sent so far. */
  readonly sent: number;
  /** How many times the socket was full (EAGAIN) and the transfer waited for writability. */
  readonly waits: number;
  readonly settled: boolean;
}

/** RLIMIT_NOFILE. `Infinity` stands for RLIM_INFINITY. */
export interface FdLimit {
  soft: number;
  hard: number;
}

/** What `recvFd` returns: a new close-on-exec fd, owned by the caller, and its payload. */
export interface ReceivedFd {
  fd: number;
  payload: string;
}

/** Extra fields of the errors the addon raises. */
export interface NativeErrorFields {
  /** The errno name of a failed system call: 'EBADF', 'EPIPE', ... */
  errno?: string;
  /** The failed call: 'sendfile', 'bind', 'fcntl', ... */
  syscall?: string;
  /** For sendFile failures: bytes sent before it stopped. */
  sent?: number;
}

export type NativeError = PolyloopError & NativeErrorFields;

/**
 * The addon's functions: plain functions, safe to pass around detached. Each thread that calls
 * them loads its own instance; call them from that thread's event loop.
 */
export interface NativeAddon {
  /** Creates, binds and listens a non-blocking, close-on-exec TCP socket; returns its fd. */
  readonly listen: (options?: NativeListenOptions) => number;
  /** The port a socket is bound to (getsockname). */
  readonly localPort: (fd: number) => number;
  /** A close-on-exec duplicate (F_DUPFD_CLOEXEC): give each thread or watcher its own. */
  readonly dup: (fd: number) => number;
  /** close(2). Never on an fd that a net.Socket or net.Server owns. */
  readonly close: (fd: number) => void;
  /**
   * One non-blocking send(2) of `bytes[offset, offset + length)` to socket `fd`, without SIGPIPE:
   * returns the bytes the kernel took (fewer than `length` when its buffer filled up), or a
   * negative errno (`-EAGAIN`: full, nothing sent; `-EPIPE`, `-ECONNRESET`, ...). Never throws
   * for a failed send, only for a bad argument. Bytes sent this way bypass the socket's write
   * queue: use it only while that queue is empty, and only on an fd that is still open.
   */
  readonly writeBytes: (fd: number, bytes: Uint8Array, offset: number, length: number) => number;
  /** An acceptor on `listenFd`, created stopped. */
  readonly createAcceptor: (listenFd: number, onAccept: AcceptCallback) => NativeAcceptor;
  /**
   * Sends `length` bytes of `fileFd` from `offset` to `socketFd` with sendfile(2), waiting for
   * writability on a dup of the socket. The socket's libuv write queue must be empty, and nothing
   * else may write to it until the task settles. Rejects PL_ERR_CONNECTION_RESET on EPIPE or
   * ECONNRESET, PL_ERR_FILE_TRUNCATED when the file is shorter than offset + length.
   *
   * `head` (copied at the call) is sent first, held with MSG_MORE so that it leaves with the
   * file's first bytes; the task's count covers the file only. Only when `sendFileHead` is true:
   * an older build ignores it.
   */
  readonly sendFile: (
    socketFd: number,
    fileFd: number,
    offset: number,
    length: number,
    head?: Uint8Array,
  ) => SendFileTask;
  /** True when `sendFile` takes a `head`. */
  readonly sendFileHead: boolean;
  readonly getFdLimit: () => FdLimit;
  /** Sets the soft RLIMIT_NOFILE (up to the hard one); returns the new limits. */
  readonly setFdLimit: (soft: number) => FdLimit;
  /** Sends a copy of `fd` over a Unix socket (SCM_RIGHTS) with a payload of up to 16 KiB. */
  readonly sendFd: (unixSocketFd: number, fd: number, payload?: string) => void;
  /** Receives one fd sent by `sendFd`; null when none has arrived (it never blocks). */
  readonly recvFd: (unixSocketFd: number) => ReceivedFd | null;
  /** A connected pair of close-on-exec AF_UNIX stream sockets. */
  readonly socketPair: () => [number, number];
}

/** Whether the addon loaded, and why not. */
export interface NativeStatus {
  available: boolean;
  /** Why it is unavailable: the load error, or the environment variable that disabled it. */
  reason?: string;
}

/** The addon as the C side exports it, before the loader wraps `sendFile`. */
interface RawSendFileTask {
  readonly promise: Promise<number>;
  cancel(): boolean;
  readonly sent: number;
  readonly waits: number;
  readonly settled: boolean;
}

interface RawAddon extends Omit<NativeAddon, 'sendFile' | 'sendFileHead'> {
  setErrorFactory(factory: (code: string, message: string) => Error): void;
  sendFile(
    socketFd: number,
    fileFd: number,
    offset: number,
    length: number,
    head?: Uint8Array,
  ): RawSendFileTask;
  /** Set by builds whose sendFile takes a head. */
  readonly sendFileHead?: boolean;
}

const FUNCTIONS = [
  'setErrorFactory',
  'listen',
  'localPort',
  'dup',
  'close',
  'writeBytes',
  'createAcceptor',
  'sendFile',
  'getFdLimit',
  'setFdLimit',
  'sendFd',
  'recvFd',
  'socketPair',
] as const satisfies readonly (keyof RawAddon)[];

const REBUILD_HINT = 'run `npm rebuild polyloop` (needs python3, make and a C compiler)';

type LoadState = { addon: NativeAddon } | { reason: string; cause: unknown };
let state: LoadState | undefined;

/** The package root: the nearest folder above this file that holds binding.gyp. */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    dir = dirname(dir);
  }
  return undefined;
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

function wrap(raw: RawAddon): NativeAddon {
  return {
    listen: (options) => raw.listen(options),
    localPort: (fd) => raw.localPort(fd),
    dup: (fd) => raw.dup(fd),
    close: (fd) => raw.close(fd),
    // Not wrapped: it is on the write path of every connection.
    writeBytes: raw.writeBytes,
    createAcceptor: (listenFd, onAccept) => raw.createAcceptor(listenFd, onAccept),
    sendFile(socketFd, fileFd, offset, length, head) {
      const task =
        head === undefined
          ? raw.sendFile(socketFd, fileFd, offset, length)
          : raw.sendFile(socketFd, fileFd, offset, length, head);
      // The promise itself carries the task's controls, so `await sendFile(...)` just works.
      return Object.defineProperties(task.promise, {
        cancel: { value: () => task.cancel() },
        sent: { get: () => task.sent },
        waits: { get: () => task.waits },
        settled: { get: () => task.settled },
      }) as SendFileTask;
    },
    getFdLimit: () => raw.getFdLimit(),
    setFdLimit: (soft) => raw.setFdLimit(soft),
    sendFd: (unixSocketFd, fd, payload) =>
      payload === undefined ? raw.sendFd(unixSocketFd, fd) : raw.sendFd(unixSocketFd, fd, payload),
    recvFd: (unixSocketFd) => raw.recvFd(unixSocketFd),
    socketPair: () => raw.socketPair(),
    sendFileHead: raw.sendFileHead === true,
  };
}

function load(): LoadState {
  const flag = process.env['POLYLOOP_NO_NATIVE'];
  if (flag !== undefined && flag !== '' && flag !== '0')
    return { reason: `disabled by POLYLOOP_NO_NATIVE=${flag}`, cause: undefined };
  const root = packageRoot();
  if (root === undefined)
    return { reason: 'binding.gyp not found above ' + import.meta.url, cause: undefined };
  const candidates = ['Release', 'Debug'].map((d) => join(root, 'build', d, 'polyloop.node'));
  const file = candidates.find((f) => existsSync(f));
  if (file === undefined)
    return { reason: `the addon is not built (no ${candidates[0]})`, cause: undefined };
  let loaded: unknown;
  try {
    loaded = createRequire(import.meta.url)(file);
  } catch (err) {
    return { reason: `loading ${file} failed: ${String(err)}`, cause: err };
  }
  const missing = FUNCTIONS.filter(
    (name) => typeof (loaded as Record<string, unknown> | null)?.[name] !== 'function',
  );
  if (missing.length > 0)
    return { reason: `${file} is out of date (lacks ${missing.join(', ')})`, cause: undefined };
  const raw = loaded as RawAddon;
  raw.setErrorFactory((code, message) =>
    createError(isErrorCode(code) ? code : 'PL_ERR_NATIVE', message),
  );
  return { addon: wrap(raw) };
}

function current(): LoadState {
  state ??= load();
  return state;
}

/** Loads the addon if not yet tried, and says whether it is there. Safe from any thread. */
export function nativeStatus(): NativeStatus {
  const s = current();
  return 'addon' in s ? { available: true } : { available: false, reason: s.reason };
}

/**
 * The addon, for `feature` (a short name such as 'sendfile' that the error message shows).
 * Throws PL_ERR_NATIVE_UNAVAILABLE, naming the feature, the load error and how to build it.
 */
export function requireNative(feature: string): NativeAddon {
  const s = current();
  if ('addon' in s) return s.addon;
  throw createError(
    'PL_ERR_NATIVE_UNAVAILABLE',
    `${feature} needs the polyloop native addon, which is unavailable: ${s.reason}; ${REBUILD_HINT}`,
    s.cause,
  );
}

/** The addon; throws PL_ERR_NATIVE_UNAVAILABLE when it is unavailable. */
export function native(): NativeAddon {
  return requireNative('the native layer');
}

/** The addon, or undefined when it is unavailable: for features with a fallback. */
export function tryNative(): NativeAddon | undefined {
  const s = current();
  return 'addon' in s ? s.addon : undefined;
}
