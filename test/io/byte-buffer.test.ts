import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteBuffer, isPolyloopError, type ErrorCode } from '../../src/index.js';

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isPolyloopError(err), `expected a PolyloopError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
/** A plain copy of the readable region, so comparisons never hold a view. */
const content = (b: ByteBuffer): number[] => Array.from(b.peek());

/** An append/prepend/peek/read family of one integer width, with known big-endian encodings. */
interface IntFamily<V extends number | bigint> {
  name: string;
  size: number;
  append(b: ByteBuffer, v: V): void;
  prepend(b: ByteBuffer, v: V): void;
  peek(b: ByteBuffer): V;
  read(b: ByteBuffer): V;
  /** Values with their big-endian bytes, boundaries included. */
  cases: readonly (readonly [V, readonly number[]])[];
}

const ff = (n: number): number[] => new Array<number>(n).fill(0xff);

const families: readonly (IntFamily<number> | IntFamily<bigint>)[] = [
  {
    name: 'int8',
    size: 1,
    append: (b, v) => b.appendInt8(v),
    prepend: (b, v) => b.prependInt8(v),
    peek: (b) => b.peekInt8(),
    read: (b) => b.readInt8(),
    cases: [
      [0, [0]],
      [-1, [0xff]],
      [127, [0x7f]],
      [-128, [0x80]],
    ],
  } satisfies IntFamily<number>,
  {
    name: 'uint8',
    size: 1,
    append: (b, v) => b.appendUint8(v),
    prepend: (b, v) => b.prependUint8(v),
    peek: (b) => b.peekUint8(),
    read: (b) => b.readUint8(),
    cases: [
      [0, [0]],
      [0x7f, [0x7f]],
      [0x80, [0x80]],
      [0xff, [0xff]],
    ],
  } satisfies IntFamily<number>,
  {
    name: 'int16',
    size: 2,
    append: (b, v) => b.appendInt16(v),
    prepend: (b, v) => b.prependInt16(v),
    peek: (b) => b.peekInt16(),
    read: (b) => b.readInt16(),
    cases: [
      [0x0102, [1, 2]],
      [-1, ff(2)],
      [0x7fff, [0x7f, 0xff]],
      [-0x8000, [0x80, 0]],
    ],
  } satisfies IntFamily<number>,
  {
    name: 'uint16',
    size: 2,
    append: (b, v) => b.appendUint16(v),
    prepend: (b, v) => b.prependUint16(v),
    peek: (b) => b.peekUint16(),
    read: (b) => b.readUint16(),
    cases: [
      [0, [0, 0]],
      [0x0102, [1, 2]],
      [0x8000, [0x80, 0]],
      [0xffff, ff(2)],
    ],
  } satisfies IntFamily<number>,
  {
    name: 'int32',
    size: 4,
    append: (b, v) => b.appendInt32(v),
    prepend: (b, v) => b.prependInt32(v),
    peek: (b) => b.peekInt32(),
    read: (b) => b.readInt32(),
    cases: [
      [0x01020304, [1, 2, 3, 4]],
      [-1, ff(4)],
      [0x7fffffff, [0x7f, 0xff, 0xff, 0xff]],
      [-0x80000000, [0x80, 0, 0, 0]],
    ],
  } satisfies IntFamily<number>,
  {
    name: 'uint32',
    size: 4,
    append: (b, v) => b.appendUint32(v),
    prepend: (b, v) => b.prependUint32(v),
    peek: (b) => b.peekUint32(),
    read: (b) => b.readUint32(),
    cases: [
      [0, [0, 0, 0, 0]],
      [0x01020304, [1, 2, 3, 4]],
      [0x80000000, [0x80, 0, 0, 0]],
      [0xffffffff, ff(4)],
    ],
  } satisfies IntFamily<number>,
  {
    name: 'int64',
    size: 8,
    append: (b, v) => b.appendInt64(v),
    prepend: (b, v) => b.prependInt64(v),
    peek: (b) => b.peekInt64(),
    read: (b) => b.readInt64(),
    cases: [
      [0x0102030405060708n, [1, 2, 3, 4, 5, 6, 7, 8]],
      [-1n, ff(8)],
      [-2n, [...ff(7), 0xfe]],
      [2n ** 63n - 1n, [0x7f, ...ff(7)]],
      [-(2n ** 63n), [0x80, 0, 0, 0, 0, 0, 0, 0]],
    ],
  } satisfies IntFamily<bigint>,
  {
    name: 'uint64',
    size: 8,
    append: (b, v) => b.appendUint64(v),
    prepend: (b, v) => b.prependUint64(v),
    peek: (b) => b.peekUint64(),
    read: (b) => b.readUint64(),
    cases: [
      [0n, [0, 0, 0, 0, 0, 0, 0, 0]],
      [0x0102030405060708n, [1, 2, 3, 4, 5, 6, 7, 8]],
      [2n ** 63n, [0x80, 0, 0, 0, 0, 0, 0, 0]],
      [2n ** 64n - 1n, ff(8)],
    ],
  } satisfies IntFamily<bigint>,
];

function intFamilyTests<V extends number | bigint>(f: IntFamily<V>): void {
  describe(`ByteBuffer ${f.name}`, () => {
    it(`append${f.name} writes big-endian bytes that peek and read give back`, () => {
      for (const [value, encoded] of f.cases) {
        const b = new ByteBuffer();
        b.appendUint8(0xaa); // a byte in front, so offsets other than 0 are exercised
        f.append(b, value);
        assert.deepEqual(content(b), [0xaa, ...encoded], `bytes of ${value}`);
        b.retrieve(1);
        assert.equal(f.peek(b), value);
        assert.equal(b.readableBytes, f.size, 'peek consumes nothing');
        assert.equal(f.read(b), value);
        assert.equal(b.readableBytes, 0, 'read consumes the value');
      }
    });

    it(`prepend${f.name} writes big-endian bytes in front of the content`, () => {
      for (const [value, encoded] of f.cases) {
        const b = new ByteBuffer();
        b.append(bytes(9, 9));
        f.prepend(b, value);
        assert.deepEqual(content(b), [...encoded, 9, 9], `bytes of ${value}`);
        assert.equal(b.prependableBytes, ByteBuffer.CHEAP_PREPEND - f.size);
        assert.equal(f.read(b), value);
        assert.deepEqual(content(b), [9, 9]);
      }
    });

    it(`read${f.name} throws PL_ERR_BUFFER_UNDERFLOW and consumes nothing when fewer than ${f.size} bytes are readable`, () => {
      const b = new ByteBuffer();
      b.append(new Uint8Array(f.size - 1).fill(7));
      throwsCode(() => f.peek(b), 'PL_ERR_BUFFER_UNDERFLOW');
      throwsCode(() => f.read(b), 'PL_ERR_BUFFER_UNDERFLOW');
      assert.equal(b.readableBytes, f.size - 1);
    });

    it(`prepend${f.name} throws PL_ERR_BUFFER_UNDERFLOW when the prependable region is too small`, () => {
      const b = new ByteBuffer(16, f.size - 1);
      b.append(bytes(1));
      const value = f.cases[0]![0];
      throwsCode(() => f.prepend(b, value), 'PL_ERR_BUFFER_UNDERFLOW');
      assert.deepEqual(content(b), [1], 'content untouched');
      assert.equal(b.prependableBytes, f.size - 1);
    });
  });
}

for (const f of families) intFamilyTests<number | bigint>(f);

describe('ByteBuffer', () => {
  it('constructor reserves the cheap-prepend region and the initial size', () => {
    const b = new ByteBuffer();
    assert.equal(b.prependableBytes, ByteBuffer.CHEAP_PREPEND);
    assert.equal(b.writableBytes, ByteBuffer.INITIAL_SIZE);
    assert.equal(b.readableBytes, 0);
    assert.equal(b.capacity, ByteBuffer.CHEAP_PREPEND + ByteBuffer.INITIAL_SIZE);
    const c = new ByteBuffer(10, 2);
    assert.equal(c.prependableBytes, 2);
    assert.equal(c.writableBytes, 10);
  });

  it('constructor throws PL_ERR_INVALID_ARG when a size is negative or not an integer', () => {
    for (const bad of [-1, 1.5, Number.NaN, Infinity]) {
      throwsCode(() => new ByteBuffer(bad), 'PL_ERR_INVALID_ARG');
      throwsCode(() => new ByteBuffer(8, bad), 'PL_ERR_INVALID_ARG');
    }
  });

  it('append stores bytes and strings (as UTF-8) after the existing content', () => {
    const b = new ByteBuffer();
    b.append(bytes(1, 2));
    b.append('hé€😀');
    b.append(new Uint8Array(0));
    b.append('');
    assert.deepEqual(content(b), [1, 2, ...text('hé€😀')]);
    assert.equal(b.readableBytes, 2 + 1 + 2 + 3 + 4);
  });

  it('append encodes a lone surrogate as U+FFFD and keeps going', () => {
    const b = new ByteBuffer(4);
    b.append('a\ud800b');
    assert.deepEqual(content(b), [0x61, 0xef, 0xbf, 0xbd, 0x62]);
  });

  it('append copies the data, so later changes to the source do not leak in', () => {
    const src = bytes(1, 2, 3);
    const b = new ByteBuffer();
    b.append(src);
    src[0] = 99;
    assert.deepEqual(content(b), [1, 2, 3]);
  });

  it('peek returns the readable bytes without consuming them', () => {
    const b = new ByteBuffer();
    b.append(bytes(1, 2, 3, 4));
    assert.deepEqual(Array.from(b.peek(2)), [1, 2]);
    assert.deepEqual(Array.from(b.peek()), [1, 2, 3, 4]);
    assert.equal(b.peekUint8At(3), 4);
    assert.equal(b.readableBytes, 4);
  });

  it('peek throws PL_ERR_BUFFER_UNDERFLOW when asked for more than is readable', () => {
    const b = new ByteBuffer();
    b.append(bytes(1, 2, 3));
    throwsCode(() => b.peek(4), 'PL_ERR_BUFFER_UNDERFLOW');
    throwsCode(() => b.peekUint8At(3), 'PL_ERR_BUFFER_UNDERFLOW');
    throwsCode(() => new ByteBuffer().peekUint8(), 'PL_ERR_BUFFER_UNDERFLOW');
  });

  it('reads throw PL_ERR_INVALID_ARG and consume nothing when a length or offset is negative or fractional', () => {
    const b = new ByteBuffer();
    b.append(bytes(1, 2, 3, 4));
    b.retrieve(1); // a stale byte sits just before the reader index
    for (const bad of [-1, 1.5, Number.NaN]) {
      throwsCode(() => b.peek(bad), 'PL_ERR_INVALID_ARG');
      throwsCode(() => b.readBytes(bad), 'PL_ERR_INVALID_ARG');
      throwsCode(() => b.retrieve(bad), 'PL_ERR_INVALID_ARG');
      throwsCode(() => b.readString(bad), 'PL_ERR_INVALID_ARG');
      throwsCode(() => b.peekUint8At(bad), 'PL_ERR_INVALID_ARG');
    }
    assert.deepEqual(content(b), [2, 3, 4]);
    assert.equal(b.readUint8(), 2, 'the reader index is still a whole number');
  });

  it('retrieve discards bytes from the front and retrieveAll discards everything', () => {
    const b = new ByteBuffer();
    b.append(bytes(1, 2, 3, 4, 5));
    b.retrieve(2);
    assert.deepEqual(content(b), [3, 4, 5]);
    assert.equal(b.prependableBytes, ByteBuffer.CHEAP_PREPEND + 2);
    b.retrieve(0);
    assert.deepEqual(content(b), [3, 4, 5]);
    b.retrieveAll();
    assert.equal(b.readableBytes, 0);
    assert.equal(b.prependableBytes, ByteBuffer.CHEAP_PREPEND, 'retrieveAll rewinds to the front');
    b.append(bytes(6));
    assert.deepEqual(content(b), [6]);
  });

  it('retrieve of exactly the readable bytes rewinds the buffer to the front', () => {
    const b = new ByteBuffer(32);
    b.append(new Uint8Array(20));
    b.retrieve(20);
    assert.equal(b.readableBytes, 0);
    assert.equal(b.writableBytes, 32);
    assert.equal(b.prependableBytes, ByteBuffer.CHEAP_PREPEND);
  });

  it('retrieve throws PL_ERR_BUFFER_UNDERFLOW and consumes nothing when past the readable bytes', () => {
    const b = new ByteBuffer();
    b.append(bytes(1, 2));
    throwsCode(() => b.retrieve(3), 'PL_ERR_BUFFER_UNDERFLOW');
    assert.deepEqual(content(b), [1, 2]);
  });

  it('readBytes consumes and returns a view of the bytes', () => {
    const b = new ByteBuffer();
    b.append(bytes(1, 2, 3));
    const v = b.readBytes(2);
    assert.deepEqual(Array.from(v), [1, 2]);
    assert.deepEqual(content(b), [3]);
    assert.equal(b.readBytes(0).length, 0);
    throwsCode(() => b.readBytes(2), 'PL_ERR_BUFFER_UNDERFLOW');
    assert.deepEqual(content(b), [3]);
  });

  it('readCopy returns bytes that later writes to the buffer do not change', () => {
    const b = new ByteBuffer(8);
    b.append(bytes(1, 2, 3));
    const copy = b.readCopy(2);
    b.retrieveAll();
    b.append(bytes(7, 7, 7, 7));
    assert.deepEqual(Array.from(copy), [1, 2]);
    throwsCode(() => b.readCopy(5), 'PL_ERR_BUFFER_UNDERFLOW');
  });

  it('readCopy returns an owned copy when the buffer wraps a Node Buffer', () => {
    // Buffer#slice is a view, unlike Uint8Array#slice: the copy must not share memory with it.
    const chunk = Buffer.from([1, 2, 3]);
    const b = ByteBuffer.wrap(chunk);
    const copy = b.readCopy(2);
    chunk.fill(0);
    assert.deepEqual(Array.from(copy), [1, 2]);
  });

  it('readString decodes UTF-8 and consumes exactly the given length', () => {
    const b = new ByteBuffer();
    b.append('héllo wörld');
    assert.equal(b.readString(6), 'héllo');
    assert.equal(b.readString(), ' wörld');
    assert.equal(b.readableBytes, 0);
    assert.equal(b.readString(), '');
    b.append('ab');
    throwsCode(() => b.readString(3), 'PL_ERR_BUFFER_UNDERFLOW');
    assert.equal(b.readableBytes, 2);
  });

  it('prepend writes bytes into the cheap-prepend region without moving the content', () => {
    const b = new ByteBuffer();
    b.append('payload');
    const capacity = b.capacity;
    b.prepend(bytes(1, 2, 3));
    b.prepend(bytes(4, 5, 6, 7, 8));
    assert.deepEqual(content(b), [4, 5, 6, 7, 8, 1, 2, 3, ...text('payload')]);
    assert.equal(b.prependableBytes, 0);
    assert.equal(b.capacity, capacity);
  });

  it('prepend throws PL_ERR_BUFFER_UNDERFLOW when the data does not fit in front', () => {
    const b = new ByteBuffer();
    b.append(bytes(1));
    throwsCode(
      () => b.prepend(new Uint8Array(ByteBuffer.CHEAP_PREPEND + 1)),
      'PL_ERR_BUFFER_UNDERFLOW',
    );
    assert.deepEqual(content(b), [1]);
    b.prepend(new Uint8Array(ByteBuffer.CHEAP_PREPEND));
    throwsCode(() => b.prepend(bytes(1)), 'PL_ERR_BUFFER_UNDERFLOW');
  });

  it('prepend has more room after bytes were retrieved from the front', () => {
    const b = new ByteBuffer();
    b.append(bytes(1, 2, 3, 4, 5));
    b.retrieve(4);
    b.prepend(new Uint8Array(ByteBuffer.CHEAP_PREPEND + 4).fill(9));
    assert.equal(b.readableBytes, ByteBuffer.CHEAP_PREPEND + 5);
    assert.equal(b.peekUint8At(ByteBuffer.CHEAP_PREPEND + 4), 5);
  });

  describe('search', () => {
    const make = (s: string, skip = 0): ByteBuffer => {
      const b = new ByteBuffer(8);
      b.append('#'.repeat(skip) + s);
      b.retrieve(skip); // offsets are relative to the reader index, not the storage
      return b;
    };

    it('findCRLF returns the offset of the first CRLF from the reader index', () => {
      assert.equal(make('ab\r\ncd\r\n', 3).findCRLF(), 2);
      assert.equal(make('ab\r\ncd\r\n').findCRLF(3), 6);
      assert.equal(make('\r\n').findCRLF(), 0);
    });

    it('findCRLF skips a CR that is not followed by LF', () => {
      assert.equal(make('a\rb\r\r\n').findCRLF(), 4);
      assert.equal(make('\r\r\r\n', 1).findCRLF(), 2);
    });

    it('findCRLF returns -1 when there is no CRLF or only half of one', () => {
      assert.equal(make('abc').findCRLF(), -1);
      assert.equal(make('abc\r').findCRLF(), -1);
      assert.equal(make('\nabc').findCRLF(), -1);
      assert.equal(make('a\r\n').findCRLF(2), -1);
      assert.equal(new ByteBuffer().findCRLF(), -1);
    });

    it('findCRLF ignores stale bytes after the readable region', () => {
      const b = new ByteBuffer(8);
      b.append('abc\r\n');
      b.retrieveAll();
      b.append('xy\r');
      assert.equal(b.findCRLF(), -1, 'the old \\n after the new \\r is not content');
    });

    it('findEOL returns the offset of the first LF, or -1', () => {
      assert.equal(make('ab\ncd\n', 2).findEOL(), 2);
      assert.equal(make('ab\ncd\n').findEOL(3), 5);
      assert.equal(make('abc').findEOL(), -1);
    });

    it('indexOf finds a byte from an offset and never looks past the readable bytes', () => {
      const b = make('abcabc', 1);
      assert.equal(b.indexOf(0x61), 0);
      assert.equal(b.indexOf(0x62), 1);
      assert.equal(b.indexOf(0x62, 2), 4);
      assert.equal(b.indexOf(0x63, 5), 5);
      assert.equal(b.indexOf(0x7a), -1);
      assert.equal(b.indexOf(0x23), -1, 'retrieved bytes in front are not searched');
      const c = new ByteBuffer(8);
      c.append('xyz');
      c.retrieveAll();
      c.append('x');
      assert.equal(c.indexOf(0x79), -1, 'stale bytes behind the content are not searched');
    });

    it('indexOfSequence finds a sequence, including one that starts at the from offset', () => {
      const b = make('--boundary--boundary', 2);
      const needle = text('boundary');
      assert.equal(b.indexOfSequence(needle), 2);
      assert.equal(b.indexOfSequence(needle, 2), 2);
      assert.equal(b.indexOfSequence(needle, 3), 12);
      assert.equal(b.indexOfSequence(text('y--b')), 9);
    });

    it('indexOfSequence finds a match after a partial match of the same sequence', () => {
      assert.equal(make('aab').indexOfSequence(text('ab')), 1);
      assert.equal(make('abababc').indexOfSequence(text('ababc')), 2);
      assert.equal(make('\r\r\n').indexOfSequence(text('\r\n')), 1);
    });

    it('indexOfSequence returns -1 when the sequence is absent or cut off by the end', () => {
      assert.equal(make('abcd').indexOfSequence(text('cde')), -1);
      assert.equal(make('abc').indexOfSequence(text('abcd')), -1);
      assert.equal(make('abcabc').indexOfSequence(text('abc'), 4), -1);
      const c = new ByteBuffer(8);
      c.append('xxEND');
      c.retrieveAll();
      c.append('xxE');
      assert.equal(c.indexOfSequence(text('END')), -1, 'stale bytes do not complete a match');
    });

    it('indexOfSequence treats a one-byte and an empty sequence sensibly', () => {
      const b = make('abc');
      assert.equal(b.indexOfSequence(text('c')), 2);
      assert.equal(b.indexOfSequence(text('z')), -1);
      assert.equal(b.indexOfSequence(new Uint8Array(0), 1), 1);
      assert.equal(b.indexOfSequence(new Uint8Array(0), 4), -1);
    });
  });

  describe('growth and compaction', () => {
    it('append grows the storage when far more than the initial size is appended', () => {
      const b = new ByteBuffer(16);
      const expected: number[] = [];
      for (let i = 0; i < 1000; i++) {
        const chunk = Uint8Array.from({ length: 37 }, (_, j) => (i * 37 + j) & 0xff);
        b.append(chunk);
        expected.push(...chunk);
      }
      assert.ok(b.capacity >= 37_000);
      assert.equal(b.readableBytes, 37_000);
      assert.deepEqual(content(b), expected);
    });

    it('append grows in one step when a single append is larger than double the capacity', () => {
      const b = new ByteBuffer(4);
      b.append(bytes(1));
      b.append(new Uint8Array(10_000).fill(2));
      assert.equal(b.readableBytes, 10_001);
      assert.ok(b.writableBytes >= 0);
      assert.equal(b.peekUint8At(0), 1);
      assert.equal(b.peekUint8At(10_000), 2);
    });

    it('append compacts instead of growing when retrieved space in front suffices', () => {
      const b = new ByteBuffer(64);
      const capacity = b.capacity;
      b.append(Uint8Array.from({ length: 60 }, (_, i) => i));
      b.retrieve(50);
      assert.ok(b.writableBytes < 40, 'the append below does not fit behind the content');
      b.append(new Uint8Array(40).fill(0xee));
      assert.equal(b.capacity, capacity, 'no new storage');
      assert.deepEqual(content(b), [
        50,
        51,
        52,
        53,
        54,
        55,
        56,
        57,
        58,
        59,
        ...new Array<number>(40).fill(0xee),
      ]);
      assert.equal(b.prependableBytes, ByteBuffer.CHEAP_PREPEND, 'content moved back to the front');
    });

    it('ensureWritable makes at least the requested room and keeps the content', () => {
      const b = new ByteBuffer(8);
      b.append('abc');
      b.ensureWritable(1000);
      assert.ok(b.writableBytes >= 1000);
      assert.equal(b.readString(), 'abc');
    });

    it('shrink releases storage but keeps the content and the requested reserve', () => {
      const b = new ByteBuffer(16);
      b.append(new Uint8Array(10_000));
      b.retrieve(9_990);
      b.append(bytes(1, 2));
      b.shrink(5);
      assert.equal(b.capacity, ByteBuffer.CHEAP_PREPEND + 12 + 5);
      assert.equal(b.writableBytes, 5);
      assert.equal(b.prependableBytes, ByteBuffer.CHEAP_PREPEND);
      assert.equal(b.readableBytes, 12);
      assert.equal(b.peekUint8At(10), 1);
      assert.equal(b.peekUint8At(11), 2);
      b.shrink();
      assert.equal(b.writableBytes, 0);
      b.append(bytes(3));
      assert.equal(b.readableBytes, 13);
      assert.equal(b.peekUint8At(12), 3);
    });
  });

  describe('wrap and reset', () => {
    it('wrap exposes the array as readable bytes without copying', () => {
      const arr = bytes(0, 0, 0, 5, 6);
      const b = ByteBuffer.wrap(arr);
      assert.equal(b.readableBytes, 5);
      assert.equal(b.writableBytes, 0);
      assert.equal(b.prependableBytes, 0);
      assert.equal(b.peek().buffer, arr.buffer, 'same memory');
      assert.equal(b.readUint32(), 5);
      assert.equal(b.readUint8(), 6);
    });

    it('wrap reads integers at the right place when the array is a view with an offset', () => {
      const backing = bytes(0xff, 0xff, 0xff, 0, 0, 1, 2, 0xff);
      const b = ByteBuffer.wrap(backing.subarray(3, 7));
      assert.equal(b.peekUint32(), 0x0102);
      assert.equal(b.readUint16(), 0);
      assert.equal(b.readInt16(), 0x0102);
      throwsCode(() => b.readUint8(), 'PL_ERR_BUFFER_UNDERFLOW');
    });

    it('wrap never writes into the wrapped array when appending, prepending or compacting', () => {
      const arr = bytes(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
      const snapshot = Array.from(arr);
      const b = ByteBuffer.wrap(arr);
      b.retrieve(10);
      throwsCode(() => b.prepend(bytes(0xee)), 'PL_ERR_BUFFER_UNDERFLOW');
      throwsCode(() => b.hasWritten(1), 'PL_ERR_INVALID_ARG');
      assert.equal(b.writableView().length, 0);
      b.appendUint8(0xee);
      b.append(bytes(0xee, 0xee));
      b.prependUint8(0xdd);
      assert.deepEqual(content(b), [0xdd, 11, 12, 0xee, 0xee, 0xee]);
      assert.deepEqual(Array.from(arr), snapshot);
    });

    it('wrap never writes into the wrapped array after retrieveAll', () => {
      const arr = bytes(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
      const snapshot = Array.from(arr);
      const b = ByteBuffer.wrap(arr);
      b.retrieveAll();
      b.append(bytes(0xee));
      b.appendUint32(0xeeeeeeee);
      assert.deepEqual(content(b), [0xee, 0xee, 0xee, 0xee, 0xee]);
      assert.deepEqual(Array.from(arr), snapshot);
    });

    it('reset points an owned buffer at new bytes and later appends leave them untouched', () => {
      const b = new ByteBuffer();
      b.append('old content');
      const arr = text('abc');
      b.reset(arr);
      assert.equal(b.readString(2), 'ab');
      b.append('def');
      assert.equal(b.readString(), 'cdef');
      assert.deepEqual(Array.from(arr), Array.from(text('abc')));
    });

    it('shrink on a wrapped buffer copies the content into owned storage', () => {
      const arr = bytes(1, 2, 3);
      const b = ByteBuffer.wrap(arr);
      b.shrink(4);
      b.append(bytes(9));
      b.prependUint8(8);
      assert.deepEqual(content(b), [8, 1, 2, 3, 9]);
      assert.deepEqual(Array.from(arr), [1, 2, 3]);
    });
  });

  describe('writableView and hasWritten', () => {
    it('hasWritten makes bytes written through writableView readable', () => {
      const b = new ByteBuffer(16);
      b.append(bytes(1));
      b.ensureWritable(4);
      const w = b.writableView();
      assert.equal(w.length, b.writableBytes);
      w.set([2, 3, 4]);
      b.hasWritten(3);
      assert.deepEqual(content(b), [1, 2, 3, 4]);
      assert.equal(b.writableView().length, b.writableBytes);
    });

    it('hasWritten throws PL_ERR_INVALID_ARG for more than is writable, negative or fractional lengths', () => {
      const b = new ByteBuffer(4);
      throwsCode(() => b.hasWritten(5), 'PL_ERR_INVALID_ARG');
      throwsCode(() => b.hasWritten(-1), 'PL_ERR_INVALID_ARG');
      throwsCode(() => b.hasWritten(1.5), 'PL_ERR_INVALID_ARG');
      assert.equal(b.readableBytes, 0);
      b.hasWritten(4);
      assert.equal(b.readableBytes, 4);
    });
  });

  it('toString reports the three regions', () => {
    const b = new ByteBuffer(10);
    b.append(bytes(1, 2, 3));
    assert.equal(String(b), 'ByteBuffer(readable=3, writable=7, prependable=8)');
  });

  describe('properties', () => {
    type Op =
      | { op: 'append'; data: Uint8Array }
      | { op: 'appendString'; s: string }
      | { op: 'appendUint32'; v: number }
      | { op: 'prepend'; data: Uint8Array }
      | { op: 'retrieve'; n: number }
      | { op: 'readBytes'; n: number }
      | { op: 'readUint16' }
      | { op: 'retrieveAll' }
      | { op: 'ensureWritable'; n: number }
      | { op: 'shrink'; reserve: number };

    const opArb: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({ op: fc.constant('append'), data: fc.uint8Array({ maxLength: 80 }) }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant('appendString'),
          s: fc.string({ unit: 'binary', maxLength: 20 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({ op: fc.constant('appendUint32'), v: fc.nat({ max: 0xffffffff }) }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant('prepend'),
          data: fc.uint8Array({ maxLength: 12 }),
        }),
      },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('retrieve'), n: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('readBytes'), n: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('readUint16') }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('retrieveAll') }) },
      {
        weight: 1,
        arbitrary: fc.record({ op: fc.constant('ensureWritable'), n: fc.nat({ max: 300 }) }),
      },
      {
        weight: 1,
        arbitrary: fc.record({ op: fc.constant('shrink'), reserve: fc.nat({ max: 16 }) }),
      },
    );

    /** Applies `op` to both the buffer and the plain-array model, checking what reads return. */
    function step(b: ByteBuffer, model: number[], op: Op): void {
      switch (op.op) {
        case 'append':
          b.append(op.data);
          model.push(...op.data);
          break;
        case 'appendString':
          b.append(op.s);
          model.push(...text(op.s));
          break;
        case 'appendUint32':
          b.appendUint32(op.v);
          model.push(op.v >>> 24, (op.v >>> 16) & 0xff, (op.v >>> 8) & 0xff, op.v & 0xff);
          break;
        case 'prepend':
          if (op.data.length <= b.prependableBytes) {
            b.prepend(op.data);
            model.unshift(...op.data);
          } else {
            throwsCode(() => b.prepend(op.data), 'PL_ERR_BUFFER_UNDERFLOW');
          }
          break;
        case 'retrieve': {
          const n = op.n % (model.length + 1);
          b.retrieve(n);
          model.splice(0, n);
          break;
        }
        case 'readBytes': {
          const n = op.n % (model.length + 1);
          assert.deepEqual(Array.from(b.readBytes(n)), model.splice(0, n));
          break;
        }
        case 'readUint16':
          if (model.length >= 2) {
            const [hi, lo] = model.splice(0, 2) as [number, number];
            assert.equal(b.readUint16(), (hi << 8) | lo);
          } else {
            throwsCode(() => b.readUint16(), 'PL_ERR_BUFFER_UNDERFLOW');
          }
          break;
        case 'retrieveAll':
          b.retrieveAll();
          model.length = 0;
          break;
        case 'ensureWritable':
          b.ensureWritable(op.n);
          assert.ok(b.writableBytes >= op.n);
          break;
        case 'shrink':
          b.shrink(op.reserve);
          assert.equal(b.writableBytes, op.reserve);
          break;
      }
    }

    it('a random sequence of appends and reads matches a plain array model', () => {
      fc.assert(
        fc.property(fc.nat({ max: 64 }), fc.array(opArb, { maxLength: 60 }), (initial, ops) => {
          const b = new ByteBuffer(initial);
          const model: number[] = [];
          for (const op of ops) {
            step(b, model, op);
            assert.deepEqual(content(b), model);
            assert.equal(b.prependableBytes + b.readableBytes + b.writableBytes, b.capacity);
          }
        }),
      );
    });

    it('a random sequence of operations on a wrapped array never changes that array', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 64 }),
          fc.array(opArb, { maxLength: 30 }),
          (arr, ops) => {
            const snapshot = Array.from(arr);
            const b = ByteBuffer.wrap(arr);
            const model = Array.from(arr);
            for (const op of ops) {
              step(b, model, op);
              assert.deepEqual(content(b), model);
            }
            assert.deepEqual(Array.from(arr), snapshot);
          },
        ),
      );
    });
  });
});

describe('ByteBuffer.appendLatin1', () => {
  it('writes one byte per character, 0x80-0xFF included', () => {
    const b = new ByteBuffer(2);
    b.append('a');
    b.appendLatin1('é\u00ff z');
    assert.deepEqual([...b.peek()], [0x61, 0xe9, 0xff, 0x20, 0x7a]);
    assert.equal(Buffer.from(b.peek()).toString('latin1'), 'aé\u00ff z');
  });
});
