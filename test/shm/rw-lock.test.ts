import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RwLock, isPolyloopError, type ErrorCode } from '../../src/index.js';

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isPolyloopError(err), `expected a PolyloopError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/** A hung wake-up fails the test instead of hanging the run (not a timing assertion). */
const LIMIT = { timeout: 30_000 };
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('RwLock', () => {
  it('lets many readers in, or one writer, never both', () => {
    const lock = new RwLock();
    assert.equal(lock.tryRead(), true);
    assert.equal(lock.tryRead(), true);
    assert.equal(lock.readers, 2);
    assert.equal(lock.tryWrite(), false);
    lock.readUnlock();
    lock.readUnlock();
    assert.equal(lock.tryWrite(), true);
    assert.equal(lock.writeLocked, true);
    assert.equal(lock.readers, 0);
    assert.equal(lock.tryRead(), false);
    assert.equal(lock.tryWrite(), false);
    lock.writeUnlock();
    assert.equal(lock.writeLocked, false);
    assert.equal(lock.tryRead(), true);
    lock.readUnlock();
  });

  it('throws PL_ERR_LOCK_STATE for an unlock without a lock, changing nothing', () => {
    const lock = new RwLock();
    throwsCode(() => lock.readUnlock(), 'PL_ERR_LOCK_STATE');
    throwsCode(() => lock.writeUnlock(), 'PL_ERR_LOCK_STATE');
    lock.tryRead();
    throwsCode(() => lock.writeUnlock(), 'PL_ERR_LOCK_STATE');
    assert.equal(lock.readers, 1);
    lock.readUnlock();
    lock.tryWrite();
    throwsCode(() => lock.readUnlock(), 'PL_ERR_LOCK_STATE');
    assert.equal(lock.writeLocked, true);
  });

  it('shares its state between objects opened on the same bytes, at an offset', () => {
    const sab = new SharedArrayBuffer(64 + RwLock.BYTES + 64);
    const a = new RwLock(sab, 64);
    const b = new RwLock(sab, 64);
    const other = new RwLock(sab, 64);
    assert.equal(a.tryWrite(), true);
    assert.equal(b.tryRead(), false);
    assert.equal(other.writeLocked, true);
    b.writeUnlock();
    assert.equal(a.tryRead(), true);
    assert.deepEqual(new Uint8Array(sab, 0, 64), new Uint8Array(64), 'bytes before it untouched');
  });

  it('throws PL_ERR_INVALID_ARG for a bad buffer, offset, foreign bytes or timeout', async () => {
    const sab = new SharedArrayBuffer(RwLock.BYTES + 8);
    for (const off of [-4, 2, 12, 1.5]) {
      throwsCode(() => new RwLock(sab, off), 'PL_ERR_INVALID_ARG');
    }
    throwsCode(
      () => new RwLock(new ArrayBuffer(RwLock.BYTES) as unknown as SharedArrayBuffer),
      'PL_ERR_INVALID_ARG',
    );
    const used = new SharedArrayBuffer(RwLock.BYTES);
    new Int32Array(used)[0] = 12345;
    throwsCode(() => new RwLock(used), 'PL_ERR_INVALID_ARG');
    const lock = new RwLock();
    throwsCode(() => lock.readLock(-1), 'PL_ERR_INVALID_ARG');
    throwsCode(() => lock.writeLock(NaN), 'PL_ERR_INVALID_ARG');
    await assert.rejects(lock.readLockAsync(-5), (e: unknown) =>
      isPolyloopError(e, 'PL_ERR_INVALID_ARG'),
    );
    assert.equal(lock.readers, 0);
  });

  it('prefers a waiting writer: new readers wait until it has been in', LIMIT, async () => {
    const lock = new RwLock();
    assert.equal(lock.tryRead(), true);
    let writerIn = false;
    const writer = lock.writeLockAsync().then((got) => (writerIn = got));
    await tick();
    assert.equal(writerIn, false, 'a reader still holds the lock');
    assert.equal(lock.tryRead(), false, 'a new reader must wait behind the writer');
    let readerIn = false;
    const reader = lock.readLockAsync().then((got) => (readerIn = got));
    lock.readUnlock(); // the last reader out lets the writer in
    await writer;
    assert.equal(writerIn, true);
    assert.equal(lock.writeLocked, true);
    await tick();
    assert.equal(readerIn, false, 'the reader waits while the writer is in');
    lock.writeUnlock();
    await reader;
    assert.equal(readerIn, true);
    assert.equal(lock.readers, 1);
    lock.readUnlock();
  });

  it(
    'times out: blocking and async, and a writer that gives up lets readers in',
    LIMIT,
    async () => {
      const lock = new RwLock();
      lock.tryRead();
      assert.equal(lock.writeLock(5), false);
      assert.equal(await lock.writeLockAsync(5), false);
      assert.equal(lock.tryRead(), true, 'the writers that gave up hold no reader back');
      lock.readUnlock();
      // A reader parked behind a waiting writer is let in when that writer gives up.
      const giveUp = lock.writeLockAsync(30);
      assert.equal(lock.tryRead(), false);
      const parked = lock.readLockAsync();
      assert.equal(await giveUp, false);
      assert.equal(await parked, true);
      lock.readUnlock();
      lock.readUnlock();
      assert.equal(lock.tryWrite(), true);
      assert.equal(lock.readLock(5), false);
      assert.equal(await lock.readLockAsync(5), false);
      lock.writeUnlock();
      assert.equal(lock.readLock(0), true);
      lock.readUnlock();
    },
  );

  it('withRead and withWrite unlock when the function throws', () => {
    const lock = new RwLock();
    assert.throws(() =>
      lock.withWrite(() => {
        throw new Error('boom');
      }),
    );
    assert.equal(lock.writeLocked, false);
    assert.equal(
      lock.withRead(() => lock.readers),
      1,
    );
    assert.equal(lock.readers, 0);
  });
});
