import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ByteBuffer,
  isPolyloopError,
  lengthFieldCodec,
  type ErrorCode,
  type LengthFieldOptions,
} from '../../src/index.js';
import { codecConformance } from './codec-conformance.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isPolyloopError(err), `expected a PolyloopError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/** The header bytes for `value` in a `lengthBytes`-wide field. */
function header(value: bigint | number, lengthBytes: number, little = false): number[] {
  const v = BigInt(value);
  const out: number[] = [];
  for (let i = lengthBytes - 1; i >= 0; i--) out.push(Number((v >> BigInt(8 * i)) & 0xffn));
  return little ? out.reverse() : out;
}

function frame(
  value: bigint | number,
  lengthBytes: number,
  payload: number[],
  little = false,
): Uint8Array {
  return Uint8Array.from([...header(value, lengthBytes, little), ...payload]);
}

function encodeToArray(options: LengthFieldOptions, msg: Uint8Array | string): number[] {
  const out = new ByteBuffer();
  lengthFieldCodec(options).encode(msg, out);
  return Array.from(out.peek());
}

// ---- the shared framing cases, once per configuration ------------------------------------------

const configs: readonly LengthFieldOptions[] = [
  {},
  { lengthBytes: 1, maxFrame: 200 },
  { lengthBytes: 1, lengthIncludesHeader: true, maxFrame: 100 },
  { lengthBytes: 2, littleEndian: true, maxFrame: 300 },
  { lengthBytes: 4, littleEndian: true, lengthIncludesHeader: true, maxFrame: 300 },
  { lengthBytes: 8, maxFrame: 300 },
  { lengthBytes: 8, littleEndian: true, lengthIncludesHeader: true, maxFrame: 300 },
];

for (const options of configs) {
  const lengthBytes = options.lengthBytes ?? 4;
  const includes = options.lengthIncludesHeader === true ? lengthBytes : 0;
  const maxFrame = options.maxFrame ?? 1024 * 1024;
  const largest = Math.min(maxFrame, 2 ** (8 * lengthBytes) - 1 - includes);
  const little = options.littleEndian === true;
  const tooLarge = maxFrame + 1;
  codecConformance<Uint8Array, Uint8Array | string>({
    name: `lengthFieldCodec(${JSON.stringify(options)})`,
    codec: () => lengthFieldCodec(options),
    samples: [
      new Uint8Array(0),
      'hello',
      '',
      Uint8Array.from([0, 1, 2, 0xff]),
      'héllo €😀',
      new Uint8Array(Math.min(largest, 600)).fill(0x5a),
      'x',
    ],
    message: fc.oneof(
      fc.uint8Array({ maxLength: Math.min(largest, 300) }),
      fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => utf8(s).length <= largest),
    ),
    expected: (msg) => (typeof msg === 'string' ? utf8(msg) : Uint8Array.from(msg)),
    copy: (decoded) => new Uint8Array(decoded),
    oversize: [
      {
        name: `a header claiming ${tooLarge} bytes before its payload arrives`,
        bytes: Uint8Array.from(header(tooLarge + includes, lengthBytes, little)),
      },
      {
        name: `a whole frame of ${tooLarge} bytes`,
        bytes: frame(tooLarge + includes, lengthBytes, new Array<number>(tooLarge).fill(1), little),
      },
    ],
  });
}

// ---- lengthFieldCodec specifics ----------------------------------------------------------------

describe('lengthFieldCodec', () => {
  it('encode writes a big-endian 4-byte length by default', () => {
    assert.deepEqual(encodeToArray({}, 'abc'), [0, 0, 0, 3, 0x61, 0x62, 0x63]);
  });

  it('encode writes the length in 1, 2, 4 or 8 big-endian bytes', () => {
    const payload = new Uint8Array(258).fill(7);
    assert.deepEqual(
      encodeToArray({ lengthBytes: 1 }, payload.subarray(0, 200)).slice(0, 2),
      [200, 7],
    );
    assert.deepEqual(encodeToArray({ lengthBytes: 2 }, payload).slice(0, 3), [1, 2, 7]);
    assert.deepEqual(encodeToArray({ lengthBytes: 4 }, payload).slice(0, 5), [0, 0, 1, 2, 7]);
    assert.deepEqual(
      encodeToArray({ lengthBytes: 8 }, payload).slice(0, 9),
      [0, 0, 0, 0, 0, 0, 1, 2, 7],
    );
  });

  it('encode writes a little-endian length when littleEndian is set', () => {
    const payload = new Uint8Array(258);
    assert.deepEqual(
      encodeToArray({ lengthBytes: 2, littleEndian: true }, payload).slice(0, 2),
      [2, 1],
    );
    assert.deepEqual(encodeToArray({ littleEndian: true }, payload).slice(0, 4), [2, 1, 0, 0]);
    assert.deepEqual(
      encodeToArray({ lengthBytes: 8, littleEndian: true }, payload).slice(0, 8),
      [2, 1, 0, 0, 0, 0, 0, 0],
    );
  });

  it('encode counts the header in the length when lengthIncludesHeader is set', () => {
    assert.deepEqual(
      encodeToArray({ lengthIncludesHeader: true }, 'abc'),
      [0, 0, 0, 7, 0x61, 0x62, 0x63],
    );
    assert.deepEqual(encodeToArray({ lengthBytes: 1, lengthIncludesHeader: true }, ''), [1]);
  });

  it('encode sends a string as UTF-8 and counts its bytes, not its characters', () => {
    assert.deepEqual(encodeToArray({ lengthBytes: 1 }, '€'), [3, 0xe2, 0x82, 0xac]);
  });

  it('encode after existing content appends header and payload behind it', () => {
    const out = new ByteBuffer();
    out.append('zz');
    lengthFieldCodec({ lengthBytes: 2 }).encode('ab', out);
    assert.deepEqual(Array.from(out.peek()), [0x7a, 0x7a, 0, 2, 0x61, 0x62]);
  });

  it('encode throws PL_ERR_FRAME_TOO_LARGE when the payload does not fit the length field', () => {
    const codec = lengthFieldCodec({ lengthBytes: 1 });
    const out = new ByteBuffer();
    codec.encode(new Uint8Array(255), out);
    assert.equal(out.readableBytes, 256);
    throwsCode(() => codec.encode(new Uint8Array(256), out), 'PL_ERR_FRAME_TOO_LARGE');
    throwsCode(() => codec.encode('€'.repeat(86), out), 'PL_ERR_FRAME_TOO_LARGE'); // 258 bytes
    assert.equal(out.readableBytes, 256, 'nothing written for a rejected message');
    const withHeader = lengthFieldCodec({ lengthBytes: 1, lengthIncludesHeader: true });
    withHeader.encode(new Uint8Array(254), new ByteBuffer());
    throwsCode(
      () => withHeader.encode(new Uint8Array(255), new ByteBuffer()),
      'PL_ERR_FRAME_TOO_LARGE',
    );
    const two = lengthFieldCodec({ lengthBytes: 2 });
    two.encode(new Uint8Array(0xffff), new ByteBuffer());
    throwsCode(
      () => two.encode(new Uint8Array(0x10000), new ByteBuffer()),
      'PL_ERR_FRAME_TOO_LARGE',
    );
  });

  it('decode returns the payload as a view into the input, not a copy', () => {
    const bytes = frame(3, 4, [1, 2, 3]);
    const input = ByteBuffer.wrap(bytes);
    const msg = lengthFieldCodec().createDecoder().decode(input);
    assert.ok(msg !== undefined);
    assert.equal(msg.buffer, bytes.buffer);
    assert.equal(msg.byteOffset, 4);
    assert.equal(msg.length, 3);
  });

  it('decode reads 1-, 2-, 4- and 8-byte lengths in both byte orders', () => {
    for (const lengthBytes of [1, 2, 4, 8] as const) {
      for (const littleEndian of [false, true]) {
        const decoder = lengthFieldCodec({ lengthBytes, littleEndian }).createDecoder();
        const input = ByteBuffer.wrap(frame(2, lengthBytes, [8, 9, 10], littleEndian));
        const msg = decoder.decode(input);
        assert.deepEqual(
          msg && Array.from(msg),
          [8, 9],
          `${lengthBytes} bytes, little ${littleEndian}`,
        );
        assert.equal(input.readableBytes, 1, 'the byte after the frame is left');
      }
    }
  });

  it('decode accepts a frame of exactly maxFrame bytes', () => {
    const decoder = lengthFieldCodec({ lengthBytes: 2, maxFrame: 5 }).createDecoder();
    const msg = decoder.decode(ByteBuffer.wrap(frame(5, 2, [1, 2, 3, 4, 5])));
    assert.deepEqual(msg && Array.from(msg), [1, 2, 3, 4, 5]);
    throwsCode(() => decoder.decode(ByteBuffer.wrap(frame(6, 2, []))), 'PL_ERR_FRAME_TOO_LARGE');
  });

  it('decode subtracts the header when lengthIncludesHeader is set and accepts a length equal to the header', () => {
    const decoder = lengthFieldCodec({
      lengthBytes: 2,
      lengthIncludesHeader: true,
    }).createDecoder();
    const input = ByteBuffer.wrap(Uint8Array.from([...header(5, 2), 1, 2, 3, ...header(2, 2)]));
    assert.deepEqual(Array.from(decoder.decode(input) ?? []), [1, 2, 3]);
    const empty = decoder.decode(input);
    assert.equal(empty?.length, 0);
    assert.equal(input.readableBytes, 0);
  });

  it('decode throws PL_ERR_BAD_FRAME when the length is smaller than the header it includes', () => {
    for (const lengthBytes of [1, 2, 4, 8] as const) {
      const decoder = lengthFieldCodec({ lengthBytes, lengthIncludesHeader: true }).createDecoder();
      for (const raw of [0, lengthBytes - 1]) {
        throwsCode(
          () => decoder.decode(ByteBuffer.wrap(frame(raw, lengthBytes, [1, 2, 3, 4, 5, 6, 7, 8]))),
          'PL_ERR_BAD_FRAME',
        );
      }
    }
  });

  it('decode rejects an 8-byte length above 2^53 even when maxFrame allows every safe integer', () => {
    const values = [2n ** 53n, 2n ** 53n + 1n, 2n ** 53n + 9n, 2n ** 63n, 2n ** 64n - 1n];
    for (const lengthIncludesHeader of [false, true]) {
      for (const littleEndian of [false, true]) {
        const options = {
          lengthBytes: 8,
          maxFrame: Number.MAX_SAFE_INTEGER,
          lengthIncludesHeader,
          littleEndian,
        } as const;
        for (const raw of values) {
          const decoder = lengthFieldCodec(options).createDecoder();
          throwsCode(
            () => decoder.decode(ByteBuffer.wrap(frame(raw, 8, [1, 2, 3], littleEndian))),
            'PL_ERR_FRAME_TOO_LARGE',
          );
        }
      }
    }
  });

  it('decode with the default maxFrame rejects an 8-byte length just above 1 MiB', () => {
    const decoder = lengthFieldCodec({ lengthBytes: 8 }).createDecoder();
    throwsCode(
      () => decoder.decode(ByteBuffer.wrap(frame(1024 * 1024 + 1, 8, []))),
      'PL_ERR_FRAME_TOO_LARGE',
    );
  });

  it('lengthFieldCodec throws PL_ERR_INVALID_ARG for an unsupported lengthBytes or a bad maxFrame', () => {
    for (const lengthBytes of [0, 3, 5, 16, -1]) {
      throwsCode(() => lengthFieldCodec({ lengthBytes: lengthBytes as 4 }), 'PL_ERR_INVALID_ARG');
    }
    for (const maxFrame of [-1, 1.5, Number.NaN, Infinity, 2 ** 53]) {
      throwsCode(() => lengthFieldCodec({ maxFrame }), 'PL_ERR_INVALID_ARG');
    }
  });

  it('each decoder from one codec keeps its own partial frame', () => {
    const codec = lengthFieldCodec({ lengthBytes: 1 });
    const a = codec.createDecoder();
    const b = codec.createDecoder();
    const inA = new ByteBuffer();
    inA.append(Uint8Array.from([3, 1]));
    assert.equal(a.decode(inA), undefined);
    const inB = ByteBuffer.wrap(Uint8Array.from([1, 9]));
    assert.deepEqual(Array.from(b.decode(inB) ?? []), [9]);
    inA.append(Uint8Array.from([2, 3]));
    assert.deepEqual(Array.from(a.decode(inA) ?? []), [1, 2, 3]);
  });
});
