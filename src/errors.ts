/**
 * Every error polyloop raises comes from `createError`: a stable `code` to match on, a class per
 * family, and a message that names the offending value. Match on `err.code`, never on the text.
 */

/** Every code polyloop can raise, with a one-line meaning. `docs/errors.md` mirrors this table. */
export const ERROR_CODES = {
  PL_ERR_INVALID_ARG: 'An option or argument has a wrong type or value.',
  PL_ERR_BUFFER_UNDERFLOW: 'A read from a ByteBuffer asked for more bytes than are readable.',
  PL_ERR_FRAME_TOO_LARGE: 'A frame is longer than the codec allows.',
  PL_ERR_BAD_FRAME: 'Bytes from the peer do not form a valid frame.',
  PL_ERR_CONNECTION_RESET: 'The peer reset the connection.',
  PL_ERR_SOCKET: 'The operating system reported an error on a socket.',
  PL_ERR_HANDLER: 'An application handler threw; the connection it ran for was closed.',
  PL_ERR_NOT_CONNECTED: 'The operation needs a connected connection.',
  PL_ERR_LISTEN: 'The server could not listen on the requested address.',
  PL_ERR_CONNECT: 'A client could not connect to its server.',
  PL_ERR_CLIENT_STOPPED: 'The client was stopped before it connected.',
  PL_ERR_SERVER_CLOSED: 'The server is closed or closing.',
  PL_ERR_ACCEPT: 'The operating system refused to accept a connection (e.g. EMFILE).',
  PL_ERR_HTTP_PARSE: 'An HTTP request is malformed or over a limit; see err.status.',
  PL_ERR_HTTP_STATE: 'An HTTP parser, request or response was used out of turn.',
  PL_ERR_NATIVE_UNAVAILABLE:
    'A feature needs the native addon, which is not built or not loadable.',
  PL_ERR_NATIVE: 'A system call in the native addon failed; err.errno and err.syscall name it.',
  PL_ERR_CANCELLED: 'The operation was cancelled before it finished.',
  PL_ERR_FILE_TRUNCATED: 'A file ended before the requested range was sent (truncated?).',
  PL_ERR_PEER_HANDSHAKE:
    'A peer sent no valid hello first, or one of an unsupported version; its link was closed.',
  PL_ERR_PEER_MESSAGE: 'A peer sent a message that is not valid JSON or fails validation.',
  PL_ERR_ACQUIRE_TIMEOUT: 'No pooled resource became free within the acquire timeout.',
  PL_ERR_POOL_CLOSED: 'The pool is closed or draining.',
  PL_ERR_STORE_UNAVAILABLE:
    'The database cannot be reached (down, refused, timed out): answer 503.',
  PL_ERR_STORE: 'The database answered with an error for this query or command.',
  PL_ERR_QUEUE_FULL: 'A pool task was refused: every worker is busy and the queue is full.',
  PL_ERR_TASK_TIMEOUT: 'A pool task ran past its timeout; its worker was stopped.',
  PL_ERR_WORKER_CRASHED:
    'The pool worker running a task died (uncaught error, exit, out of memory).',
  PL_ERR_WORKER_START:
    'A pool worker could not start (its module failed to load or it died at once).',
  PL_ERR_LOCK_STATE:
    'Shared-memory state used out of turn: a lock unlocked without being held, a counter row used after release, or a ring commit/release with nothing reserved/peeked.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Base class of every polyloop error. Safe to create and inspect from any thread. */
export class PolyloopError extends Error {
  override readonly name: string = 'PolyloopError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Wrong arguments or options: a programming error in the caller. */
export class PolyloopArgumentError extends PolyloopError {
  override readonly name = 'PolyloopArgumentError';
}

/** Malformed or oversized input from a peer. Never thrown past the connection it arrived on. */
export class PolyloopProtocolError extends PolyloopError {
  override readonly name = 'PolyloopProtocolError';
}

/** A failure of the network or the operating system. */
export class PolyloopNetworkError extends PolyloopError {
  override readonly name = 'PolyloopNetworkError';
}

/** A failure in application code run by polyloop, or a call in the wrong state. */
export class PolyloopStateError extends PolyloopError {
  override readonly name = 'PolyloopStateError';
}

const CLASS_OF: Record<ErrorCode, typeof PolyloopError> = {
  PL_ERR_INVALID_ARG: PolyloopArgumentError,
  PL_ERR_BUFFER_UNDERFLOW: PolyloopArgumentError,
  PL_ERR_FRAME_TOO_LARGE: PolyloopProtocolError,
  PL_ERR_BAD_FRAME: PolyloopProtocolError,
  PL_ERR_CONNECTION_RESET: PolyloopNetworkError,
  PL_ERR_SOCKET: PolyloopNetworkError,
  PL_ERR_HANDLER: PolyloopStateError,
  PL_ERR_NOT_CONNECTED: PolyloopStateError,
  PL_ERR_LISTEN: PolyloopNetworkError,
  PL_ERR_CONNECT: PolyloopNetworkError,
  PL_ERR_CLIENT_STOPPED: PolyloopStateError,
  PL_ERR_SERVER_CLOSED: PolyloopStateError,
  PL_ERR_ACCEPT: PolyloopNetworkError,
  PL_ERR_HTTP_PARSE: PolyloopProtocolError,
  PL_ERR_HTTP_STATE: PolyloopStateError,
  PL_ERR_NATIVE_UNAVAILABLE: PolyloopStateError,
  PL_ERR_NATIVE: PolyloopNetworkError,
  PL_ERR_CANCELLED: PolyloopStateError,
  PL_ERR_FILE_TRUNCATED: PolyloopNetworkError,
  PL_ERR_PEER_HANDSHAKE: PolyloopProtocolError,
  PL_ERR_PEER_MESSAGE: PolyloopProtocolError,
  PL_ERR_ACQUIRE_TIMEOUT: PolyloopStateError,
  PL_ERR_POOL_CLOSED: PolyloopStateError,
  PL_ERR_STORE_UNAVAILABLE: PolyloopNetworkError,
  PL_ERR_STORE: PolyloopStateError,
  PL_ERR_QUEUE_FULL: PolyloopStateError,
  PL_ERR_TASK_TIMEOUT: PolyloopStateError,
  PL_ERR_WORKER_CRASHED: PolyloopStateError,
  PL_ERR_WORKER_START: PolyloopStateError,
  PL_ERR_LOCK_STATE: PolyloopStateError,
};

/** The one factory for polyloop errors. */
export function createError(code: ErrorCode, message: string, cause?: unknown): PolyloopError {
  const Class = CLASS_OF[code];
  return cause === undefined ? new Class(code, message) : new Class(code, message, { cause });
}

/** Shorthand for the most common error: a bad option, naming the option and the value seen. */
export function invalidArg(name: string, value: unknown, expected: string): PolyloopError {
  return createError('PL_ERR_INVALID_ARG', `${name} must be ${expected}; got ${describe(value)}`);
}

/** A short, safe rendering of a value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? value.slice(0, 60) + '…' : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? `array(${value.length})` : (value.constructor?.name ?? 'object');
}

/** True when `err` is a polyloop error, optionally with the given code. */
export function isPolyloopError(err: unknown, code?: ErrorCode): err is PolyloopError {
  return err instanceof PolyloopError && (code === undefined || err.code === code);
}
