import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { isPolyloopError, TimingWheel, type TimingWheelOptions } from '../../src/index.js';

/**
 * A wheel driven by hand with `advance()`. The real tick timer that `add` starts is stopped at
 * once (and its tick is long), so only the test moves the wheel.
 */
function handWheel<T>(
  t: TestContext,
  timeout: number,
  tick: number,
): { wheel: TimingWheel<T>; expired: T[] } {
  const expired: T[] = [];
  const wheel = new TimingWheel<T>({ timeout, tick, onExpire: (item) => expired.push(item) });
  t.after(() => wheel.stop());
  return { wheel, expired };
}

/** Advances until `expired` holds `item`; returns the number of advances, or -1 after `limit`. */
function ticksUntilExpired<T>(
  wheel: TimingWheel<T>,
  expired: readonly T[],
  item: T,
  limit = 1000,
): number {
  for (let n = 1; n <= limit; n++) {
    wheel.advance();
    if (expired.includes(item)) return n;
  }
  return -1;
}

describe('TimingWheel', () => {
  it('an untouched entry expires on advance ceil(timeout / tick) + 1, never earlier', (t) => {
    // The entry is added part-way through a tick, so the first advance may come at once: one
    // extra tick guarantees it lives at least `timeout`.
    for (const [timeout, tick] of [
      [10_000, 1_000],
      [10_500, 1_000],
      [500, 1_000],
      [1_000, 1_000],
      [7_000, 3_000],
    ] as const) {
      const { wheel, expired } = handWheel<string>(t, timeout, tick);
      wheel.add('a');
      wheel.stop();
      const want = Math.ceil(timeout / tick) + 1;
      assert.equal(
        ticksUntilExpired(wheel, expired, 'a'),
        want,
        `timeout ${timeout}, tick ${tick}`,
      );
      assert.deepEqual(expired, ['a'], 'expired exactly once');
      assert.equal(wheel.size, 0);
    }
  });

  it('the default tick is a tenth of the timeout, at least 10 ms', () => {
    const a = new TimingWheel({ timeout: 60_000, onExpire: () => {} });
    const b = new TimingWheel({ timeout: 50, onExpire: () => {} });
    assert.equal(a.tick, 6_000);
    assert.equal(b.tick, 10);
    assert.equal(a.timeout, 60_000);
  });

  it('an entry added after some ticks expires the same number of ticks after it was added', (t) => {
    const { wheel, expired } = handWheel<string>(t, 5_000, 1_000);
    for (let i = 0; i < 4; i++) wheel.advance();
    wheel.add('late');
    wheel.stop();
    assert.equal(ticksUntilExpired(wheel, expired, 'late'), 6);
  });

  it('touch restarts the countdown from the tick it is called in', (t) => {
    const { wheel, expired } = handWheel<string>(t, 5_000, 1_000);
    const entry = wheel.add('a');
    wheel.stop();
    for (let i = 0; i < 5; i++) wheel.advance(); // one tick before it would expire
    assert.deepEqual(expired, []);
    wheel.touch(entry);
    assert.equal(ticksUntilExpired(wheel, expired, 'a'), 6);
  });

  it('touch in the same tick as the add or a previous touch changes nothing', (t) => {
    const { wheel, expired } = handWheel<string>(t, 5_000, 1_000);
    const entry = wheel.add('a');
    wheel.stop();
    const slot = entry.slot;
    wheel.touch(entry);
    wheel.touch(entry);
    assert.equal(entry.slot, slot);
    assert.equal(wheel.size, 1);
    wheel.advance();
    wheel.touch(entry);
    wheel.touch(entry);
    assert.equal(wheel.size, 1);
    assert.equal(
      ticksUntilExpired(wheel, expired, 'a'),
      6,
      'counted from the first touch of that tick',
    );
    assert.deepEqual(expired, ['a']);
  });

  it('remove prevents expiry, and touch does not bring a removed entry back', (t) => {
    const { wheel, expired } = handWheel<string>(t, 3_000, 1_000);
    const gone = wheel.add('gone');
    const kept = wheel.add('kept');
    wheel.stop();
    wheel.advance();
    wheel.remove(gone);
    assert.equal(gone.slot, -1);
    assert.equal(wheel.size, 1);
    wheel.touch(gone);
    wheel.remove(gone); // twice is harmless
    for (let i = 0; i < 20; i++) wheel.advance();
    assert.deepEqual(expired, ['kept']);
    assert.equal(kept.slot, -1, 'an expired entry is marked as gone');
    assert.equal(wheel.size, 0);
  });

  it('touch and remove of an already expired entry do nothing', (t) => {
    const { wheel, expired } = handWheel<string>(t, 1_000, 1_000);
    const entry = wheel.add('a');
    wheel.stop();
    wheel.advance();
    wheel.advance();
    assert.deepEqual(expired, ['a']);
    wheel.touch(entry);
    wheel.remove(entry);
    assert.equal(wheel.size, 0);
    for (let i = 0; i < 10; i++) wheel.advance();
    assert.deepEqual(expired, ['a']);
  });

  it('size counts the live entries across buckets', (t) => {
    const { wheel } = handWheel<number>(t, 4_000, 1_000);
    assert.equal(wheel.size, 0);
    const entries = [wheel.add(1), wheel.add(2)];
    wheel.stop();
    wheel.advance();
    entries.push(wheel.add(3));
    wheel.stop();
    assert.equal(wheel.size, 3);
    wheel.remove(entries[0]!);
    assert.equal(wheel.size, 2);
    for (let i = 0; i < 4; i++) wheel.advance(); // 2 expires, 3 is one tick younger
    assert.equal(wheel.size, 1);
    wheel.advance();
    assert.equal(wheel.size, 0);
  });

  it('entries added in the same tick all expire on the same advance, each once', (t) => {
    const { wheel, expired } = handWheel<number>(t, 2_000, 1_000);
    for (let i = 0; i < 100; i++) wheel.add(i);
    wheel.stop();
    wheel.advance();
    wheel.advance();
    assert.equal(expired.length, 0);
    wheel.advance();
    assert.deepEqual(
      [...expired].sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => i),
    );
  });

  it('onExpire may add the item again, and it expires again a full timeout later', (t) => {
    const times: number[] = [];
    let ticks = 0;
    const wheel = new TimingWheel<string>({
      timeout: 2_000,
      tick: 1_000,
      onExpire: (item) => {
        times.push(ticks);
        if (times.length < 3) wheel.add(item);
        wheel.stop();
      },
    });
    t.after(() => wheel.stop());
    wheel.add('again');
    wheel.stop();
    for (ticks = 1; ticks <= 20; ticks++) wheel.advance();
    assert.deepEqual(times, [3, 6, 9]);
    assert.equal(wheel.size, 0);
  });

  it('onExpire may remove another entry due in the same tick, and that entry does not expire', (t) => {
    const expired: string[] = [];
    const entries = new Map<string, ReturnType<TimingWheel<string>['add']>>();
    const wheel = new TimingWheel<string>({
      timeout: 1_000,
      tick: 1_000,
      onExpire: (item) => {
        expired.push(item);
        // Closing one end of a pair closes the other, which leaves the wheel.
        const other = entries.get(item === 'a' ? 'b' : 'a');
        if (other !== undefined) wheel.remove(other);
      },
    });
    t.after(() => wheel.stop());
    entries.set('a', wheel.add('a'));
    entries.set('b', wheel.add('b'));
    wheel.stop();
    wheel.advance();
    wheel.advance();
    assert.equal(expired.length, 1, `only one of the pair expires; got ${expired.join(', ')}`);
    assert.equal(wheel.size, 0);
  });

  it('onExpire may touch another entry due in the same tick, and that entry lives on', (t) => {
    const expired: string[] = [];
    const entries = new Map<string, ReturnType<TimingWheel<string>['add']>>();
    const wheel = new TimingWheel<string>({
      timeout: 1_000,
      tick: 1_000,
      onExpire: (item) => {
        expired.push(item);
        const other = entries.get(item === 'a' ? 'b' : 'a');
        if (other !== undefined && expired.length === 1) wheel.touch(other);
      },
    });
    t.after(() => wheel.stop());
    entries.set('a', wheel.add('a'));
    entries.set('b', wheel.add('b'));
    wheel.stop();
    wheel.advance();
    wheel.advance();
    assert.equal(expired.length, 1, `the touched one survives; got ${expired.join(', ')}`);
    assert.equal(wheel.size, 1);
    wheel.advance();
    assert.equal(expired.length, 1);
    wheel.advance();
    assert.equal(expired.length, 2, 'it expires a full timeout after the touch');
    assert.equal(wheel.size, 0);
  });

  it('the tick timer expires an entry on its own', async (t) => {
    let onExpire: (item: string) => void = () => {};
    const expiredItem = new Promise<string>((resolve) => {
      onExpire = resolve;
    });
    const wheel = new TimingWheel<string>({
      timeout: 20,
      tick: 10,
      onExpire: (item) => onExpire(item),
    });
    t.after(() => wheel.stop());
    wheel.add('idle');
    let guard: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error('the entry never expired')), 10_000);
    });
    try {
      assert.equal(await Promise.race([expiredItem, hang]), 'idle');
    } finally {
      clearTimeout(guard);
    }
    assert.equal(wheel.size, 0);
  });

  it('constructor throws PL_ERR_INVALID_ARG for a non-positive or non-finite timeout or tick', () => {
    const bad: TimingWheelOptions<unknown>[] = [
      { timeout: 0, onExpire: () => {} },
      { timeout: -1, onExpire: () => {} },
      { timeout: Number.NaN, onExpire: () => {} },
      { timeout: Infinity, onExpire: () => {} },
      { timeout: 1000, tick: 0, onExpire: () => {} },
      { timeout: 1000, tick: -10, onExpire: () => {} },
      { timeout: 1000, tick: Number.NaN, onExpire: () => {} },
      { timeout: 1000, tick: Infinity, onExpire: () => {} },
    ];
    for (const options of bad) {
      assert.throws(
        () => new TimingWheel(options),
        (err: unknown) => isPolyloopError(err, 'PL_ERR_INVALID_ARG'),
        JSON.stringify(options),
      );
    }
  });
});

describe('TimingWheel error handling', () => {
  it('expires every entry of a tick even when onExpire throws for one, then rethrows', () => {
    const expired: string[] = [];
    const wheel = new TimingWheel<string>({
      timeout: 10,
      tick: 10,
      onExpire(item) {
        expired.push(item);
        if (item === 'a') throw new Error('bad callback');
      },
    });
    wheel.add('a');
    wheel.add('b');
    wheel.stop();
    assert.throws(() => {
      wheel.advance();
      wheel.advance();
    }, /bad callback/);
    assert.deepEqual(expired.sort(), ['a', 'b']);
    assert.equal(wheel.size, 0);
  });
});
