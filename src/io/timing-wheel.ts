import { invalidArg } from '../errors.js';

/** A member of a `TimingWheel`. Owned by the wheel; hold it only to `touch` or `remove`. */
export interface WheelEntry<T> {
  readonly item: T;
  /** Slot the entry was last placed in; -1 once removed or expired. */
  slot: number;
}

export interface TimingWheelOptions<T> {
  /**
   * How long an untouched entry lives, in ms. It expires between `timeout` and `timeout + tick`
   * after `timeout` is rounded up to whole ticks (`ceil(timeout / tick) * tick`).
   */
  timeout: number;
  /** Tick length in ms. Default: a tenth of the timeout, at least 10 ms. */
  tick?: number;
  /** Called once per expired entry. */
  onExpire(item: T): void;
}

/**
 * Expires idle items in O(1) per touch, after muduo's idle-connection design: a ring of buckets,
 * one per tick. `touch` moves an entry to the newest bucket (nothing at all when it is already
 * there, so a busy connection touched many times per tick costs one comparison); each tick, the
 * oldest bucket's entries expire.
 *
 * Call only from the loop that created it. The tick timer never keeps the process alive.
 */
export class TimingWheel<T> {
  readonly timeout: number;
  readonly tick: number;
  private readonly buckets: Set<WheelEntry<T>>[];
  private cursor = 0;
  /** The bucket `advance` is expiring right now (its entries still have `slot === cursor`). */
  private expiring: Set<WheelEntry<T>> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly onExpire: (item: T) => void;

  constructor(options: TimingWheelOptions<T>) {
    const { timeout } = options;
    if (!(Number.isFinite(timeout) && timeout > 0)) {
      throw invalidArg('timeout', timeout, 'a positive number of milliseconds');
    }
    const tick = options.tick ?? Math.max(10, Math.ceil(timeout / 10));
    if (!(Number.isFinite(tick) && tick > 0)) {
      throw invalidArg('tick', tick, 'a positive number of milliseconds');
    }
    this.timeout = timeout;
    this.tick = tick;
    this.onExpire = (item) => options.onExpire(item);
    // An entry placed at the cursor survives `slots - 1` full ticks plus part of the current
    // one, so it lives at least `timeout` and at most one tick more than `timeout` rounded up
    // to whole ticks.
    const slots = Math.ceil(timeout / tick) + 1;
    this.buckets = Array.from({ length: slots }, () => new Set<WheelEntry<T>>());
  }

  /** Number of live entries. */
  get size(): number {
    let n = 0;
    for (const b of this.buckets) n += b.size;
    return n;
  }

  /** Adds `item` to the newest bucket and starts the tick timer if needed. */
  add(item: T): WheelEntry<T> {
    const entry: WheelEntry<T> = { item, slot: this.cursor };
    this.buckets[this.cursor]!.add(entry);
    this.start();
    return entry;
  }

  /** Marks `entry` as active now. O(1); a no-op for removed entries. */
  touch(entry: WheelEntry<T>): void {
    const slot = entry.slot;
    if (slot < 0) return;
    if (slot === this.cursor) {
      // Already newest, unless it is due this very tick (touched from another's onExpire).
      if (this.expiring === undefined || !this.expiring.delete(entry)) return;
    } else {
      this.buckets[slot]!.delete(entry);
    }
    this.buckets[this.cursor]!.add(entry);
    entry.slot = this.cursor;
  }

  /** Removes `entry`; it will not expire. */
  remove(entry: WheelEntry<T>): void {
    if (entry.slot < 0) return;
    this.buckets[entry.slot]!.delete(entry);
    // Also drop it from a bucket being expired: Set iteration skips entries deleted before it
    // reaches them, so an entry removed from another's onExpire does not expire.
    this.expiring?.delete(entry);
    entry.slot = -1;
  }

  /** Advances one tick by hand (the timer calls this); expires the oldest bucket. */
  advance(): void {
    this.cursor = (this.cursor + 1) % this.buckets.length;
    const expired = this.buckets[this.cursor]!;
    if (expired.size === 0) return;
    // Swap in a fresh set first: onExpire may add, touch or remove entries re-entrantly.
    this.buckets[this.cursor] = new Set();
    this.expiring = expired;
    // One throwing callback must not strand the rest of the bucket: expire them all, then
    // rethrow the first error.
    let failure: { error: unknown } | undefined;
    for (const entry of expired) {
      entry.slot = -1;
      try {
        this.onExpire(entry.item);
      } catch (error) {
        failure ??= { error };
      }
    }
    this.expiring = undefined;
    if (failure !== undefined) throw failure.error;
  }

  /** Stops the tick timer. Entries stay; `add` restarts it. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.advance(), this.tick);
    this.timer.unref();
  }
}
