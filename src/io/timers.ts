import { invalidArg } from '../errors.js';

/** A scheduled callback; pass it to `cancel`. */
export interface TimerHandle {
  readonly id: NodeJS.Timeout;
  readonly repeat: boolean;
}

export interface TimerOptions {
  /** Keep the process alive while the timer is pending. Default false. */
  ref?: boolean;
}

function checkDelay(name: string, ms: number): void {
  if (!(Number.isFinite(ms) && ms >= 0)) throw invalidArg(name, ms, 'a non-negative number of ms');
}

/**
 * Runs `fn` once after `ms`. Unlike `setTimeout`, the timer does not keep the process alive
 * unless `{ ref: true }`. Call from any loop; the callback runs on the same loop.
 */
export function runAfter(ms: number, fn: () => void, options: TimerOptions = {}): TimerHandle {
  checkDelay('ms', ms);
  const id = setTimeout(fn, ms);
  if (options.ref !== true) id.unref();
  return { id, repeat: false };
}

/** Runs `fn` every `ms` until cancelled. Does not keep the process alive unless `{ ref: true }`. */
export function runEvery(ms: number, fn: () => void, options: TimerOptions = {}): TimerHandle {
  checkDelay('ms', ms);
  if (ms === 0) throw invalidArg('ms', ms, 'a positive number of ms for a repeating timer');
  const id = setInterval(fn, ms);
  if (options.ref !== true) id.unref();
  return { id, repeat: true };
}

/** Cancels a timer from `runAfter` or `runEvery`. Cancelling twice is harmless. */
export function cancel(handle: TimerHandle | undefined): void {
  if (handle === undefined) return;
  if (handle.repeat) clearInterval(handle.id);
  else clearTimeout(handle.id);
}
