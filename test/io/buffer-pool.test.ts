import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import {
  BufferPool,
  ByteBuffer,
  defaultBufferPool,
  isPolyloopError,
  type BufferClassStats,
  type ErrorCode,
  type Logger,
} from '../../src/index.js';
import { waitFor } from '../helpers.js';

function throwsCode(fn: () => unknown, code: ErrorCode, text?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isPolyloopError(err), `expected a PolyloopError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (text !== undefined) assert.match(err.message, text);
    return true;
  });
}

const KiB = 1024;
const cls = (pool: BufferPool, size: number): BufferClassStats =>
  pool.stats().classes.find((c) => c.size === size)!;

describe('BufferPool', () => {
  it('hands out the smallest class that fits and reuses released memory first', () => {
    const pool = new BufferPool();
    assert.deepEqual(pool.sizes, [2 * KiB, 16 * KiB, 64 * KiB, 256 * KiB]);
    const a = pool.acquire(1);
    const b = pool.acquire(2 * KiB);
    const c = pool.acquire(2 * KiB + 1);
    const d = pool.acquire(60 * KiB);
    assert.deepEqual(
      [a.length, b.length, c.length, d.length],
      [2 * KiB, 2 * KiB, 16 * KiB, 64 * KiB],
    );
    assert.equal(a.buffer, b.buffer, 'one slab holds both 2 KiB buffers');
    assert.notEqual(a.byteOffset, b.byteOffset);
    pool.release(a);
    assert.equal(pool.acquire(100), a, 'the last released is reused first');
    assert.ok(pool.acquire(0).length === 2 * KiB);
  });

  it('counts capacity, inUse, hits, misses and highWater per class', () => {
    const pool = new BufferPool({ sizes: [1024, 4096], slabBytes: 4096 });
    const held = [pool.acquire(10), pool.acquire(10), pool.acquire(10)];
    assert.deepEqual(cls(pool, 1024), {
      size: 1024,
      capacity: 4,
      inUse: 3,
      hits: 2,
      misses: 1,
      highWater: 3,
    });
    for (const b of held) pool.release(b);
    for (let i = 0; i < 5; i++) held.push(pool.acquire(1000)); // 4 free, then a new slab
    assert.deepEqual(cls(pool, 1024), {
      size: 1024,
      capacity: 8,
      inUse: 5,
      hits: 6,
      misses: 2,
      highWater: 5,
    });
    assert.deepEqual(cls(pool, 4096), {
      size: 4096,
      capacity: 0,
      inUse: 0,
      hits: 0,
      misses: 0,
      highWater: 0,
    });
    assert.equal(pool.stats().slabBytes, 8192);
  });

  it('never hands out memory that is in use (random acquire/release against a model)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 5000 })), { maxLength: 300 }),
        (ops) => {
          const pool = new BufferPool({ sizes: [512, 2048], slabBytes: 2048, maxBytes: 16 * KiB });
          const held: Buffer[] = [];
          let id = 0;
          for (const [take, n] of ops) {
            if (take || held.length === 0) {
              const b = pool.acquire(n);
              assert.ok(b.length >= n);
              b.fill(++id & 255);
              held.push(b);
            } else {
              const b = held.splice(n % held.length, 1)[0]!;
              pool.release(b);
            }
            // Every held buffer still holds its own fill: no two share memory.
            for (const h of held) assert.equal(h[0], h[h.length - 1]);
          }
          const s = pool.stats();
          const inUse = s.classes.reduce((sum, c) => sum + c.inUse, 0);
          const unpooledAbove = held.filter((h) => h.length > 2048).length;
          assert.equal(inUse + unpooledAbove, held.length);
          for (const c of s.classes) assert.ok(c.inUse <= c.highWater);
          for (const h of held) pool.release(h);
          for (const c of pool.stats().classes) assert.equal(c.inUse, 0);
          assert.equal(pool.stats().unpooledInUse, 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('gives unpooled buffers above the largest class and past maxBytes, and takes them back', () => {
    const pool = new BufferPool({ sizes: [1024], slabBytes: 2048, maxBytes: 2048 });
    const big = pool.acquire(5000);
    assert.equal(big.length, 5000);
    const inSlab = [pool.acquire(1), pool.acquire(1)];
    const over = pool.acquire(1); // the slab is full and maxBytes allows no second one
    assert.equal(over.length, 1024);
    assert.notEqual(over.buffer, inSlab[0]!.buffer);
    let s = pool.stats();
    assert.equal(s.oversize, 1);
    assert.equal(s.unpooledInUse, 2);
    assert.equal(s.slabBytes, 2048);
    assert.deepEqual(
      { inUse: s.classes[0]!.inUse, misses: s.classes[0]!.misses },
      { inUse: 3, misses: 2 },
    );
    pool.release(big);
    pool.release(over);
    s = pool.stats();
    assert.equal(s.unpooledInUse, 0);
    assert.equal(s.classes[0]!.inUse, 2);
    throwsCode(() => pool.release(big), 'PL_ERR_INVALID_ARG');
  });

  it('throws PL_ERR_INVALID_ARG for a foreign buffer, a view of a pooled one, or a double release', () => {
    const pool = new BufferPool();
    const a = pool.acquire(100);
    const before = JSON.stringify(pool.stats());
    throwsCode(() => pool.release(Buffer.alloc(2048)), 'PL_ERR_INVALID_ARG', /not acquired/);
    throwsCode(() => pool.release(a.subarray(0, 100)), 'PL_ERR_INVALID_ARG', /not acquired/);
    throwsCode(() => pool.release(a.subarray(2048)), 'PL_ERR_INVALID_ARG');
    throwsCode(() => pool.release(new Uint8Array(a.buffer, 2048, 2048)), 'PL_ERR_INVALID_ARG');
    throwsCode(() => pool.release(new BufferPool().acquire(100)), 'PL_ERR_INVALID_ARG');
    throwsCode(() => pool.release('x' as unknown as Uint8Array), 'PL_ERR_INVALID_ARG');
    assert.equal(JSON.stringify(pool.stats()), before, 'nothing changed');
    pool.release(a);
    throwsCode(() => pool.release(a), 'PL_ERR_INVALID_ARG', /released already/);
    const [x, y] = [pool.acquire(1), pool.acquire(1)];
    assert.notEqual(x.byteOffset, y.byteOffset, 'the double release did not free the slot twice');
  });

  it('throws PL_ERR_INVALID_ARG for bad options and sizes', () => {
    for (const sizes of [[], [0], [100], [2048, 1024], [8, 8], 'x', [1.5]]) {
      throwsCode(() => new BufferPool({ sizes: sizes as number[] }), 'PL_ERR_INVALID_ARG');
    }
    throwsCode(() => new BufferPool({ slabBytes: 0 }), 'PL_ERR_INVALID_ARG');
    throwsCode(() => new BufferPool({ maxBytes: -1 }), 'PL_ERR_INVALID_ARG');
    throwsCode(() => new BufferPool({ debug: 'yes' as unknown as boolean }), 'PL_ERR_INVALID_ARG');
    const pool = new BufferPool();
    for (const n of [-1, 1.5, NaN, '8']) {
      throwsCode(() => pool.acquire(n as number), 'PL_ERR_INVALID_ARG');
    }
  });

  it('trim frees the slabs with nothing in use and keeps the others working', () => {
    const pool = new BufferPool({ sizes: [1024], slabBytes: 2048 });
    const bufs = [1, 2, 3, 4, 5].map(() => pool.acquire(1)); // 3 slabs
    assert.equal(pool.stats().slabBytes, 3 * 2048);
    for (const b of bufs.slice(0, 4)) pool.release(b); // slabs 0 and 1 idle, slab 2 busy
    assert.equal(pool.trim(), 2 * 2048);
    assert.deepEqual(
      { bytes: pool.stats().slabBytes, capacity: pool.stats().classes[0]!.capacity },
      { bytes: 2048, capacity: 2 },
    );
    const next = pool.acquire(1); // the free half of slab 2
    assert.equal(next.buffer, bufs[4]!.buffer);
    const fresh = pool.acquire(1); // a new slab, in a trimmed slab's place
    assert.notEqual(fresh.buffer, bufs[4]!.buffer);
    throwsCode(() => pool.release(bufs[0]!), 'PL_ERR_INVALID_ARG');
    for (const b of [bufs[4]!, next, fresh]) pool.release(b);
    assert.equal(pool.stats().classes[0]!.inUse, 0);
    assert.equal(pool.trim(), 2 * 2048);
    assert.equal(pool.stats().slabBytes, 0);
  });

  it('defaultBufferPool is one pool per thread', () => {
    assert.equal(defaultBufferPool(), defaultBufferPool());
    assert.ok(defaultBufferPool() instanceof BufferPool);
  });
});

describe('BufferPool debug mode', () => {
  it('lists buffers not released with the stack of their acquire', () => {
    const pool = new BufferPool({ debug: true });
    const kept = pool.acquire(10);
    const returned = pool.acquire(20);
    const big = pool.acquire(300 * KiB);
    pool.release(returned);
    const leaks = pool.leaks();
    assert.deepEqual(
      leaks.map((l) => [l.size, l.requested, l.pooled, l.collected]),
      [
        [2 * KiB, 10, true, false],
        [300 * KiB, 300 * KiB, false, false],
      ],
    );
    for (const l of leaks) {
      assert.match(l.acquiredAt, /buffer-pool\.test\.js/);
      assert.doesNotMatch(l.acquiredAt.split('\n')[0]!, /src\/io\/buffer-pool\.js/);
    }
    const report = pool.leakReport();
    assert.match(report, /2 buffer\(s\) acquired and not released/);
    assert.match(report, /buffer-pool\.test\.js/);
    pool.release(kept);
    pool.release(big);
    assert.deepEqual(pool.leaks(), []);
    assert.match(new BufferPool({ debug: false }).leakReport(), /debug is off/);
  });

  it('catches a stale buffer released after its memory was handed out again', () => {
    const pool = new BufferPool({ debug: true });
    const first = pool.acquire(10);
    pool.release(first);
    const second = pool.acquire(10);
    assert.equal(second.byteOffset, first.byteOffset, 'the same memory');
    throwsCode(() => pool.release(first), 'PL_ERR_INVALID_ARG', /released already/);
    assert.equal(cls(pool, 2 * KiB).inUse, 1);
    pool.release(second);
    throwsCode(() => pool.release(Buffer.alloc(10)), 'PL_ERR_INVALID_ARG', /not acquired/);
  });

  it('fills released buffers with 0xdb so that reads after release stand out', () => {
    const pool = new BufferPool({ debug: true });
    const b = pool.acquire(16);
    b.fill(1);
    pool.release(b);
    assert.ok(b.every((x) => x === 0xdb));
  });

  it('is on when POLYLOOP_DEBUG names pool (or 1), off otherwise', () => {
    const saved = process.env['POLYLOOP_DEBUG'];
    try {
      for (const [v, on] of [
        ['pool', true],
        ['http, pool', true],
        ['1', true],
        ['*', true],
        ['http', false],
        ['', false],
      ] as const) {
        process.env['POLYLOOP_DEBUG'] = v;
        assert.equal(new BufferPool().debug, on, `POLYLOOP_DEBUG=${v}`);
      }
      delete process.env['POLYLOOP_DEBUG'];
      assert.equal(new BufferPool().debug, false);
      process.env['POLYLOOP_DEBUG'] = 'pool';
      assert.equal(new BufferPool({ debug: false }).debug, false, 'the option wins');
    } finally {
      if (saved === undefined) delete process.env['POLYLOOP_DEBUG'];
      else process.env['POLYLOOP_DEBUG'] = saved;
    }
  });

  it('logs a buffer that was garbage-collected without release', { timeout: 60_000 }, async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const warnings: object[] = [];
    const logger: Logger = {
      error() {},
      warn: (o) => void warnings.push(o),
      info() {},
      debug() {},
    };
    const pool = new BufferPool({ debug: true, logger });
    (function drop(): void {
      pool.acquire(100); // never released, never kept
    })();
    await waitFor(() => {
      gc();
      return warnings.length > 0;
    }, 50_000);
    assert.match(JSON.stringify(warnings[0]), /buffer-pool\.test\.js/);
    const [leak] = pool.leaks();
    assert.equal(leak?.collected, true);
    assert.match(pool.leakReport(), /garbage-collected/);
  });
});

describe('ByteBuffer.pooled', () => {
  it('takes storage on first write, grows through the classes and gives each one back', () => {
    const pool = new BufferPool();
    const b = ByteBuffer.pooled(pool);
    assert.equal(b.capacity, 0);
    assert.equal(
      pool.stats().classes.reduce((n, c) => n + c.inUse, 0),
      0,
    );
    b.append('hello');
    assert.equal(b.capacity, 2 * KiB);
    const payload = new Uint8Array(10 * KiB).map((_, i) => i & 255);
    b.append(payload);
    assert.equal(b.capacity, 16 * KiB);
    assert.deepEqual(
      pool.stats().classes.map((c) => c.inUse),
      [0, 1, 0, 0],
    );
    assert.equal(b.readString(5), 'hello');
    assert.deepEqual(b.readCopy(payload.length), payload);
    b.release();
    assert.equal(b.capacity, 0);
    assert.deepEqual(
      pool.stats().classes.map((c) => c.inUse),
      [0, 0, 0, 0],
    );
    b.release(); // idempotent
    b.appendUint8(7);
    assert.equal(b.readUint8(), 7);
  });

  it('reads and writes integers at the right place in a slab (not at its start)', () => {
    const pool = new BufferPool({ sizes: [64], slabBytes: 256 });
    const neighbours = [pool.acquire(1), pool.acquire(1)];
    for (const n of neighbours) n.fill(0xee);
    const b = ByteBuffer.pooled(pool, 16);
    b.appendUint32(0x01020304);
    b.appendInt16(-2);
    b.prependUint16(6);
    assert.deepEqual([...b.peek()], [0, 6, 1, 2, 3, 4, 0xff, 0xfe]);
    assert.equal(b.readUint16(), 6);
    assert.equal(b.readUint32(), 0x01020304);
    assert.equal(b.readInt16(), -2);
    for (const n of neighbours)
      assert.ok(
        n.every((x) => x === 0xee),
        'neighbours untouched',
      );
  });

  it('reset keeps decoding right when the next chunk is another part of the same memory', () => {
    const mem = Buffer.alloc(64);
    const b = ByteBuffer.wrap(mem.subarray(0, 8));
    mem.writeUInt32BE(11, 0);
    assert.equal(b.peekUint32(), 11);
    mem.writeUInt32BE(22, 0);
    b.reset(mem.subarray(0, 4));
    assert.equal(b.readUint32(), 22);
    mem.writeUInt32BE(33, 8);
    b.reset(mem.subarray(8, 16));
    assert.equal(b.peekUint32(), 33);
    b.reset(Buffer.from([0, 0, 0, 44]));
    assert.equal(b.peekUint32(), 44);
  });

  it('reset gives pooled storage back; takeStorage hands it over instead', () => {
    const pool = new BufferPool();
    const b = ByteBuffer.pooled(pool, 10);
    assert.equal(cls(pool, 2 * KiB).inUse, 1);
    b.reset(Buffer.from('abc'));
    assert.equal(cls(pool, 2 * KiB).inUse, 0);
    assert.equal(b.readString(), 'abc');
    b.append('xyz'); // copies out of the borrowed bytes into pooled storage
    const storage = b.takeStorage();
    assert.equal(b.capacity, 0);
    assert.ok(storage !== undefined);
    assert.equal(cls(pool, 2 * KiB).inUse, 1, 'still held by whoever took it');
    pool.release(storage);
    assert.equal(new ByteBuffer(8).takeStorage(), undefined);
  });
});
