import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backoffDelay } from '../../src/index.js';

const middle = (): number => 0.5;
const lowest = (): number => 0;
const highest = (): number => 1;

describe('backoffDelay', () => {
  it('doubles from 500 ms and caps at 30 s when jitter has no effect', () => {
    const delays = Array.from({ length: 9 }, (_, attempt) => backoffDelay(attempt, {}, middle));
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('stays at maxDelay for very large attempt numbers', () => {
    for (const attempt of [52, 53, 1000, 1e9, Number.MAX_SAFE_INTEGER]) {
      assert.equal(backoffDelay(attempt, {}, middle), 30_000, `attempt ${attempt}`);
    }
  });

  it('uses initialDelay and maxDelay from the options', () => {
    const options = { initialDelay: 100, maxDelay: 1000 };
    const delays = Array.from({ length: 6 }, (_, attempt) =>
      backoffDelay(attempt, options, middle),
    );
    assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  });

  it('spreads the delay by -20% with random 0 and +20% with random 1', () => {
    assert.equal(backoffDelay(0, {}, lowest), 400);
    assert.equal(backoffDelay(0, {}, highest), 600);
    assert.equal(backoffDelay(3, {}, lowest), 3200);
    assert.equal(backoffDelay(3, {}, highest), 4800);
  });

  it('never goes above maxDelay, even with upward jitter at the cap', () => {
    assert.equal(backoffDelay(10, {}, highest), 30_000);
    assert.equal(backoffDelay(10, {}, lowest), 24_000);
    assert.equal(backoffDelay(5, {}, highest), 19_200);
    assert.equal(backoffDelay(2, { maxDelay: 2100 }, highest), 2100);
  });

  it('applies the jitter fraction from the options', () => {
    assert.equal(backoffDelay(1, { jitter: 0 }, highest), 1000);
    assert.equal(backoffDelay(1, { jitter: 0.5 }, lowest), 500);
    assert.equal(backoffDelay(1, { jitter: 0.5 }, highest), 1500);
  });

  it('stays within ±jitter of the doubled delay and within [0, maxDelay] for any random value', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 80 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, r, initialDelay, maxDelay, jitter) => {
          const d = backoffDelay(attempt, { initialDelay, maxDelay, jitter }, () => r);
          const base = Math.min(maxDelay, initialDelay * 2 ** attempt);
          assert.ok(Number.isInteger(d), `integer delay, got ${d}`);
          assert.ok(d >= 0 && d <= maxDelay, `${d} within [0, ${maxDelay}]`);
          assert.ok(
            d >= Math.floor(base * (1 - jitter)) && d <= Math.ceil(base * (1 + jitter)),
            `${d} near ${base}`,
          );
        },
      ),
    );
  });

  it('uses Math.random by default and stays within the jitter bounds', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(2);
      assert.ok(d >= 1600 && d <= 2400, `${d}`);
    }
  });
});
