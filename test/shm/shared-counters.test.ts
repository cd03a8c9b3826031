import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SharedCounters, isPolyloopError, type ErrorCode } from '../../src/index.js';

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isPolyloopError(err), `expected a PolyloopError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

describe('SharedCounters', () => {
  it('sums the rows of every slot, by name or index', () => {
    const counters = SharedCounters.create({ names: ['requests', 'bytes', 'open'], slots: 3 });
    const a = counters.claim()!;
    const b = counters.claim()!;
    assert.deepEqual([a.index, b.index], [0, 1]);
    const requests = counters.indexOf('requests');
    a.add(requests);
    a.add(requests, 4);
    b.add(requests, 2);
    b.add(counters.indexOf('bytes'), 2 ** 40 + 3);
    a.set(counters.indexOf('open'), 7);
    b.set(counters.indexOf('open'), -2);
    assert.equal(counters.total('requests'), 7);
    assert.equal(counters.total(1), 2 ** 40 + 3);
    assert.deepEqual(counters.totals(), { requests: 7, bytes: 2 ** 40 + 3, open: 5 });
    assert.deepEqual(counters.bySlot('open'), [7, -2, 0]);
    assert.equal(a.get(requests), 5);
  });

  it('opens the same counters from the buffer, names included', () => {
    const made = SharedCounters.create({ names: ['x', 'ü'], slots: 2 });
    made.slot(1).add(1, 9);
    const opened = SharedCounters.from(made.buffer);
    assert.deepEqual(opened.names, ['x', 'ü']);
    assert.equal(opened.slots, 2);
    assert.equal(opened.total('ü'), 9);
    throwsCode(() => SharedCounters.from(new SharedArrayBuffer(1024)), 'PL_ERR_INVALID_ARG');
    throwsCode(
      () => SharedCounters.from(new ArrayBuffer(64) as unknown as SharedArrayBuffer),
      'PL_ERR_INVALID_ARG',
    );
  });

  it('keeps values across the 2^32 boundary and over owners', () => {
    const counters = SharedCounters.create({ names: ['n'], slots: 1 });
    const first = counters.claim()!;
    first.set(0, 2 ** 32 - 2);
    for (let i = 0; i < 4; i++) first.add(0);
    assert.equal(counters.total('n'), 2 ** 32 + 2);
    first.set(0, Number.MAX_SAFE_INTEGER);
    assert.equal(counters.total('n'), Number.MAX_SAFE_INTEGER);
    first.set(0, -(2 ** 40));
    assert.equal(counters.total('n'), -(2 ** 40));
    first.release();
    first.release();
    throwsCode(() => first.add(0), 'PL_ERR_LOCK_STATE');
    const next = counters.claim()!;
    assert.equal(next.get(0), -(2 ** 40), 'a new owner continues from the row');
    assert.equal(counters.claim(), undefined, 'every row is taken');
  });

  it('throws PL_ERR_INVALID_ARG for bad names, slots, counters and values', () => {
    for (const names of [[], [''], ['a', 'a'], 'a', [1]]) {
      throwsCode(
        () => SharedCounters.create({ names: names as string[], slots: 1 }),
        'PL_ERR_INVALID_ARG',
      );
    }
    for (const slots of [0, 1.5, 5000]) {
      throwsCode(() => SharedCounters.create({ names: ['a'], slots }), 'PL_ERR_INVALID_ARG');
    }
    const counters = SharedCounters.create({ names: ['a'], slots: 2 });
    const s = counters.slot(0);
    throwsCode(() => s.add(1), 'PL_ERR_INVALID_ARG');
    throwsCode(() => s.add(0, 0.5), 'PL_ERR_INVALID_ARG');
    throwsCode(() => s.set(0, 2 ** 53), 'PL_ERR_INVALID_ARG');
    throwsCode(() => counters.total('b'), 'PL_ERR_INVALID_ARG');
    throwsCode(() => counters.total(3), 'PL_ERR_INVALID_ARG');
    throwsCode(() => counters.slot(2), 'PL_ERR_INVALID_ARG');
    assert.equal(counters.total('a'), 0, 'nothing was written');
  });
});
