/**
 * What a pool task's outcome looks like on the wire between a worker and its pool, shared by
 * both sides (the worker side imports only this file, so it stays free of heavy imports).
 *
 * A worker posts exactly one message per task: the result itself, or a plain-object copy of the
 * thrown error. Which of the two it is travels out of band (a shared word for threads, a tag for
 * processes), so a successful result is posted as is, without a wrapper object.
 */
import { MessagePort, type TransferListItem } from 'node:worker_threads';
import { invalidArg } from '../errors.js';

/** The outcome kinds a worker reports. */
export const enum Outcome {
  Value = 0,
  /** A thrown Error, sent as a `WireError`. */
  Error = 1,
  /** A thrown value that is not an Error, sent as is. */
  Thrown = 2,
}

const kMove = Symbol.for('polyloop.pool.move');
// Piscina's markers (Symbol.for, so they match across module copies): a task module written for
// piscina that returns `Piscina.move(buf)` transfers the same way here.
const kPiscinaTransferable = Symbol.for('Piscina.transferable');
const kPiscinaValue = Symbol.for('Piscina.valueOf');

/** A value wrapped by `move()`: sent with its transfer list instead of copied. */
export interface Moved<T = unknown> {
  readonly [kMove]: true;
  readonly value: T;
  readonly transferList: readonly TransferListItem[];
}

/**
 * Wraps a task result (return it from the task function) or a task (pass it to `run`) so that
 * its ArrayBuffers travel by transfer, not by copy: the sender's copy is detached. `value` may be
 * an ArrayBuffer, a typed array or DataView (its buffer moves) or a MessagePort; pass
 * `transferList` to move other parts of a larger value. Safe from any thread.
 */
export function move<T>(value: T, transferList?: readonly TransferListItem[]): Moved<T> {
  let list = transferList;
  if (list === undefined) {
    if (value instanceof ArrayBuffer) list = [value];
    else if (ArrayBuffer.isView(value)) list = [value.buffer as ArrayBuffer];
    else if (value instanceof MessagePort) list = [value];
    else throw invalidArg('move(value)', value, 'an ArrayBuffer, a typed array or a MessagePort');
  }
  return { [kMove]: true, value, transferList: list };
}

/**
 * When `v` came from `move()` (or piscina's `move`), its payload and transfer list; otherwise
 * undefined. Cheap for primitives, which are most results.
 */
export function unwrapMoved(v: unknown): { value: unknown; list: TransferListItem[] } | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const o = v as Record<symbol, unknown>;
  if (o[kMove] === true) {
    const m = v as Moved;
    return { value: m.value, list: [...m.transferList] };
  }
  if (o[kPiscinaTransferable] !== undefined) {
    const t = o[kPiscinaTransferable];
    const list: TransferListItem[] = Array.isArray(t)
      ? (t as TransferListItem[])
      : [t as TransferListItem];
    return { value: o[kPiscinaValue], list };
  }
  return undefined;
}

/** An Error flattened to a plain object that structured clone keeps whole. */
export interface WireError {
  name: string;
  message: string;
  stack: string | undefined;
  /** Own enumerable properties (code, errno, status, ...) that survive cloning. */
  props: Record<string, unknown>;
  cause?: WireError | { value: unknown };
}

/**
 * Flattens an Error for posting. Structured clone keeps only message and stack of an Error (and
 * drops `code`), so the own properties are copied out by hand; ones that cannot be cloned are
 * replaced by their String(). `depth` bounds how far a chain of causes is followed.
 */
export function toWireError(err: Error, depth = 0): WireError {
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(err)) {
    const v = (err as unknown as Record<string, unknown>)[key];
    props[key] = cloneable(v) ? v : String(v);
  }
  const out: WireError = { name: err.name, message: err.message, stack: err.stack, props };
  if ('cause' in err && depth < 4) {
    const c = err.cause;
    out.cause =
      c instanceof Error ? toWireError(c, depth + 1) : { value: cloneable(c) ? c : String(c) };
  }
  return out;
}

const BUILTIN: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** Rebuilds an Error from `toWireError`'s copy: same class for built-in ones, name, stack, props. */
export function fromWireError(w: WireError): Error {
  const Ctor = BUILTIN[w.name] ?? Error;
  const err = new Ctor(w.message);
  if (err.name !== w.name) {
    Object.defineProperty(err, 'name', { value: w.name, configurable: true, writable: true });
  }
  if (w.stack !== undefined) {
    Object.defineProperty(err, 'stack', { value: w.stack, configurable: true, writable: true });
  }
  Object.assign(err, w.props);
  if (w.cause !== undefined) {
    const cause = 'value' in w.cause ? w.cause.value : fromWireError(w.cause);
    Object.defineProperty(err, 'cause', { value: cause, configurable: true, writable: true });
  }
  return err;
}

function cloneable(v: unknown): boolean {
  const t = typeof v;
  if (v === null || (t !== 'object' && t !== 'function' && t !== 'symbol')) return true;
  if (t !== 'object') return false;
  try {
    structuredClone(v);
    return true;
  } catch {
    return false;
  }
}
