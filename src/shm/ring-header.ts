/**
 * The header every ring in `src/shm` starts with, and the wake-up protocol they share.
 *
 * A ring lives in one SharedArrayBuffer: a header of Int32 words, then the ring's slots. Words that
 * different threads write sit on different 64-byte cache lines, so the producer bumping `TAIL`
 * never invalidates the line the consumer bumps `HEAD` on (false sharing would halve throughput).
 *
 *   word  0 ┌ MAGIC KIND CAPACITY ┐ written once by `create`, read-only after
 *        16 ├ HEAD                ┤ written by the consumer only
 *        32 ├ TAIL                ┤ written by the producer (MPSC: reservation counter, CAS)
 *        48 ├ DATA_SEQ DATA_WAIT  ┤ consumer sleeps here; producers bump and notify
 *        64 ├ SPACE_SEQ SPACE_WAIT┤ producers sleep here; the consumer bumps and notifies
 *        80 └ slots ...           ┘
 *
 * Wake-up (no notify per message, no lost wake-up). A waiter:
 *   1. Atomics.add(WAIT, 1)      announce "I may sleep"
 *   2. seq = Atomics.load(SEQ)
 *   3. re-check the ring         data (or space) arrived meanwhile? undo 1 and return
 *   4. Atomics.waitAsync(SEQ, seq)
 * The other side, after publishing (Atomics.store of TAIL / HEAD / a slot sequence):
 *   5. if Atomics.load(WAIT) > 0: Atomics.add(SEQ, 1); Atomics.notify(SEQ)
 * JS Atomics are sequentially consistent, so of the store in 1 and the store before 5 one is seen
 * by the other's later load: either the waiter sees the data in 3, or the publisher sees the waiter
 * in 5. In the latter case SEQ changes after the waiter read it in 2 (publish happened after 1,
 * and if SEQ changed before 2 the data was published before 3 saw it), so waitAsync in 4 either
 * returns 'not-equal' at once or is woken by the notify.
 *
 * Coalesced wake-ups (ByteRing): a woken waiter takes a while to run (its event loop must get to
 * the settled promise), and until it does, WAIT still counts it, so step 5 would notify again for
 * every message published meanwhile. With coalescing, step 5 sets a NOTIFIED bit in WAIT (CAS)
 * and notifies only when it set the bit, and a waiter clears the bit between steps 2 and 3. A
 * publisher that skips because it saw the bit either saw it before that clear, so it published
 * before the waiter's step 3 (which sees the data), or saw it set again after the clear by a
 * publisher that then bumps SEQ, after the waiter read it in 2, and notifies: step 4 does not
 * sleep through that. (Clearing in step 1 instead would not do: a waiter woken for a condition
 * that does not hold for it yet would park again under a stale bit, and never be woken.)
 */
import { createError, invalidArg } from '../errors.js';

export const MAGIC = 0x706c7267; // 'plrg'
export const enum Kind {
  Int = 1,
  Byte = 2,
  MpscInt = 3,
}
const KIND_NAME: Record<number, string> = {
  [Kind.Int]: 'IntRing',
  [Kind.Byte]: 'ByteRing',
  [Kind.MpscInt]: 'MpscIntRing',
};

export const W_MAGIC = 0;
export const W_KIND = 1;
export const W_CAPACITY = 2;
export const W_HEAD = 16;
export const W_TAIL = 32;
export const W_DATA_SEQ = 48;
export const W_DATA_WAIT = 49;
export const W_SPACE_SEQ = 64;
export const W_SPACE_WAIT = 65;
export const HEADER_WORDS = 80;
export const HEADER_BYTES = HEADER_WORDS * 4;

/** The largest capacity (in slots or bytes) a ring accepts: index arithmetic stays in int32. */
export const MAX_CAPACITY = 2 ** 30;

/** Throws unless `capacity` is a power of two in [min, max]. */
export function checkCapacity(
  name: string,
  capacity: unknown,
  min: number,
  max = MAX_CAPACITY,
): number {
  if (
    typeof capacity !== 'number' ||
    !Number.isInteger(capacity) ||
    capacity < min ||
    capacity > max ||
    (capacity & (capacity - 1)) !== 0
  ) {
    throw invalidArg(name, capacity, `a power of two from ${min} to 2^${Math.log2(max)}`);
  }
  return capacity;
}

/** Allocates a zeroed SharedArrayBuffer for a ring and writes its read-only header words. */
export function allocate(kind: Kind, capacity: number, slotBytes: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(HEADER_BYTES + slotBytes);
  const h = new Int32Array(sab, 0, HEADER_WORDS);
  h[W_KIND] = kind;
  h[W_CAPACITY] = capacity;
  // Published last: `from` on another thread only trusts a header whose magic it can see.
  Atomics.store(h, W_MAGIC, MAGIC);
  return sab;
}

/**
 * Checks that `sab` holds a ring of `kind` made by `allocate` with `slotBytes(capacity)` bytes of
 * slots, and returns its header view and capacity. Throws PL_ERR_INVALID_ARG otherwise.
 */
export function open(
  kind: Kind,
  sab: unknown,
  slotBytes: (capacity: number) => number,
): { header: Int32Array; capacity: number } {
  const name = `${KIND_NAME[kind]}.from(buffer)`;
  if (!(sab instanceof SharedArrayBuffer)) throw invalidArg(name, sab, 'a SharedArrayBuffer');
  if (sab.byteLength < HEADER_BYTES) throw invalidArg(name, sab, 'a buffer made by create()');
  const header = new Int32Array(sab, 0, HEADER_WORDS);
  const got = Atomics.load(header, W_KIND);
  if (Atomics.load(header, W_MAGIC) !== MAGIC || got !== (kind as number)) {
    const what = KIND_NAME[got] ?? 'no ring';
    throw createError(
      'PL_ERR_INVALID_ARG',
      `${name}: the buffer holds ${what}, not a ${KIND_NAME[kind]}`,
    );
  }
  const capacity = Atomics.load(header, W_CAPACITY);
  if (sab.byteLength !== HEADER_BYTES + slotBytes(capacity)) {
    throw createError(
      'PL_ERR_INVALID_ARG',
      `${name}: buffer of ${sab.byteLength} bytes does not match capacity ${capacity}`,
    );
  }
  return { header, capacity };
}

type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };
// ES2024 API; Node ≥ 16 has it, but this project compiles against the ES2023 lib.
const waitAsync = (
  Atomics as unknown as {
    waitAsync(this: void, a: Int32Array, i: number, v: number): WaitAsyncResult;
  }
).waitAsync;

const noop = (): void => {};
/** In a WAIT word of a coalescing side: a notify for the waiters counted there is under way. */
const NOTIFIED = 1 << 30;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Steps 1–4 of the protocol above: resolves true once `ready()` holds, false if `timeoutMs`
 * passes first. Never blocks the thread: the wait is `Atomics.waitAsync`, a promise the event
 * loop settles. One waiter per side for SPSC rings; any number of producers for MPSC.
 * `coalesce`: the other side wakes this one with `wakeOnce`, not `wake`.
 */
export async function waitUntil(
  header: Int32Array,
  seqWord: number,
  waitWord: number,
  ready: () => boolean,
  timeoutMs = Infinity,
  coalesce = false,
): Promise<boolean> {
  if (ready()) return true;
  if (!(timeoutMs > 0)) return false;
  let timedOut = false;
  // A pending waitAsync does not keep Node's event loop alive: a worker whose consumer parks with
  // nothing else to do would exit. A ref'd timer holds the loop while parked, and is also the
  // timeout: it wakes the wait by notifying the word itself (other waiters on it re-check and
  // park again), so the loop never empties while a wait is pending.
  const hold =
    timeoutMs === Infinity
      ? setInterval(noop, MAX_TIMER_MS)
      : setTimeout(() => {
          timedOut = true;
          Atomics.notify(header, seqWord);
        }, timeoutMs);
  try {
    for (;;) {
      Atomics.add(header, waitWord, 1);
      try {
        const seq = Atomics.load(header, seqWord);
        // A notify under way is for this seq or an older one: the next publish must notify.
        if (coalesce && (Atomics.load(header, waitWord) & NOTIFIED) !== 0) {
          Atomics.and(header, waitWord, ~NOTIFIED);
        }
        if (ready()) return true;
        if (timedOut) return false;
        const r = waitAsync(header, seqWord, seq);
        if (r.async) await r.value;
      } finally {
        Atomics.sub(header, waitWord, 1);
      }
      if (ready()) return true;
      if (timedOut) return false;
    }
  } finally {
    clearTimeout(hold);
  }
}

/** Step 5: wakes the other side if it announced it may sleep. Call after publishing. */
export function wake(header: Int32Array, seqWord: number, waitWord: number): void {
  if (Atomics.load(header, waitWord) !== 0) {
    Atomics.add(header, seqWord, 1);
    Atomics.notify(header, seqWord);
  }
}

/**
 * Step 5 for a side whose waiters wait with `coalesce`: one notify per wake-up, however many
 * publishes happen before the woken waiter runs. Costs one load while nobody waits.
 */
export function wakeOnce(header: Int32Array, seqWord: number, waitWord: number): void {
  let w = Atomics.load(header, waitWord);
  while (w !== 0 && (w & NOTIFIED) === 0) {
    const seen = Atomics.compareExchange(header, waitWord, w, w | NOTIFIED);
    if (seen === w) {
      Atomics.add(header, seqWord, 1);
      Atomics.notify(header, seqWord);
      return;
    }
    w = seen;
  }
}
