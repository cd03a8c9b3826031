import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ByteBuffer,
  isPolyloopError,
  lineCodec,
  type ErrorCode,
  type LineOptions,
} from '../../src/index.js';
import { codecConformance, feeder } from './codec-conformance.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isPolyloopError(err), `expected a PolyloopError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/** True when `line` followed by `delim` decodes back to `line`: its first delimiter is the one appended. */
function framesCleanly(line: Uint8Array, delim: Uint8Array): boolean {
  return Buffer.concat([line, delim]).indexOf(delim) === line.length;
}

/** Decodes `chunks` with a fresh decoder, fed one chunk at a time; returns the lines (copied). */
function decodeChunks<O extends 'string' | 'bytes'>(
  options: LineOptions<O>,
  chunks: readonly (string | Uint8Array)[],
): unknown[] {
  const f = feeder(
    lineCodec(options).createDecoder(),
    (m: unknown) => (typeof m === 'string' ? m : Array.from(m as Uint8Array)),
    'one buffer',
  );
  return chunks.flatMap((c) => f.push(typeof c === 'string' ? utf8(c) : c));
}

// ---- the shared framing cases, once per configuration ------------------------------------------

const MAX = 300;

for (const delimiter of ['\n', '\r\n', '<END>', '¶§']) {
  const delim = utf8(delimiter);
  const tooLong = 'x'.repeat(MAX + 1);
  const oversize = [
    { name: `a ${MAX + 1}-byte line with its delimiter`, bytes: utf8(tooLong + delimiter) },
    {
      name: `a line that passes ${MAX} bytes with no delimiter in sight`,
      bytes: utf8('x'.repeat(MAX + delim.length)),
    },
  ];
  const samples = ['hello', '', 'héllo wörld €😀', '', 'x'.repeat(MAX), '\r', 'a b\tc'];
  const stringLine = fc
    .string({ unit: 'grapheme', maxLength: 40 })
    .filter((s) => utf8(s).length <= MAX && framesCleanly(utf8(s), delim));

  codecConformance<string, Uint8Array | string>({
    name: `lineCodec(${JSON.stringify({ delimiter, maxLength: MAX })})`,
    codec: () => lineCodec({ delimiter, maxLength: MAX }),
    samples: samples.filter((s) => framesCleanly(utf8(s), delim)),
    message: stringLine,
    expected: (msg) => (typeof msg === 'string' ? msg : new TextDecoder().decode(msg)),
    copy: (line) => line,
    oversize,
  });

  codecConformance<Uint8Array, Uint8Array | string>({
    name: `lineCodec(${JSON.stringify({ delimiter, maxLength: MAX, output: 'bytes' })})`,
    codec: () => lineCodec({ delimiter: delim, maxLength: MAX, output: 'bytes' }),
    samples: [new Uint8Array(0), Uint8Array.from([0, 1, 0xff, 0xfe]), ...samples.map(utf8)].filter(
      (b) => framesCleanly(b, delim),
    ),
    message: fc.uint8Array({ maxLength: 60 }).filter((b) => framesCleanly(b, delim)),
    expected: (msg) => (typeof msg === 'string' ? utf8(msg) : Uint8Array.from(msg)),
    copy: (line) => new Uint8Array(line),
    oversize,
  });
}

// ---- lineCodec specifics -----------------------------------------------------------------------

describe('lineCodec', () => {
  it('decode splits on \\n by default and excludes the delimiter', () => {
    assert.deepEqual(decodeChunks({}, ['one\ntwo\r\nthree']), ['one', 'two\r']);
  });

  it('decode returns empty strings for empty lines', () => {
    assert.deepEqual(decodeChunks({}, ['\n\na\n\n']), ['', '', 'a', '']);
    assert.deepEqual(decodeChunks({ delimiter: '\r\n' }, ['\r\n\r\n']), ['', '']);
  });

  it('decode with \\r\\n keeps a bare \\n or \\r inside the line', () => {
    assert.deepEqual(decodeChunks({ delimiter: '\r\n' }, ['a\nb\r\n', 'c\rd\r\r\n']), [
      'a\nb',
      'c\rd\r',
    ]);
  });

  it('decode finds a multi-byte delimiter split across chunks', () => {
    assert.deepEqual(
      decodeChunks({ delimiter: '<END>' }, ['ab<E', 'N', 'D><', 'END>', '<EN<END>']),
      ['ab', '', '<EN'],
    );
  });

  it('decode accepts a delimiter given as bytes', () => {
    assert.deepEqual(
      decodeChunks({ delimiter: Uint8Array.from([0]) }, [Uint8Array.from([0x61, 0, 0x62, 0])]),
      ['a', 'b'],
    );
  });

  it('decode joins a UTF-8 character split across chunks at any byte', () => {
    const line = 'a€b😀c';
    const bytes = utf8(line + '\n');
    for (let cut = 1; cut < bytes.length; cut++) {
      assert.deepEqual(
        decodeChunks({}, [bytes.subarray(0, cut), bytes.subarray(cut)]),
        [line],
        `cut at ${cut}`,
      );
    }
  });

  it("decode with output 'bytes' returns the raw bytes, including invalid UTF-8", () => {
    assert.deepEqual(decodeChunks({ output: 'bytes' }, [Uint8Array.from([0xff, 0x61, 10, 10])]), [
      [0xff, 0x61],
      [],
    ]);
  });

  it("decode with output 'bytes' returns a view into the input", () => {
    const bytes = utf8('abc\n');
    const line = lineCodec({ output: 'bytes' }).createDecoder().decode(ByteBuffer.wrap(bytes));
    assert.ok(line instanceof Uint8Array);
    assert.equal(line.buffer, bytes.buffer);
    assert.equal(line.length, 3);
  });

  it('decode accepts a line of exactly maxLength bytes and rejects one byte more', () => {
    assert.deepEqual(decodeChunks({ maxLength: 4 }, ['abcd\n']), ['abcd']);
    throwsCode(() => decodeChunks({ maxLength: 4 }, ['abcde\n']), 'PL_ERR_FRAME_TOO_LARGE');
  });

  it('decode counts maxLength in bytes, not characters', () => {
    assert.deepEqual(decodeChunks({ maxLength: 6 }, ['€€\n']), ['€€']);
    throwsCode(() => decodeChunks({ maxLength: 5 }, ['€€\n']), 'PL_ERR_FRAME_TOO_LARGE');
  });

  it('decode waits while an undelimited line could still end in a delimiter within maxLength', () => {
    // maxLength 4 with '\r\n': 'abcd\r' may still become a valid line, 'abcde' cannot.
    assert.deepEqual(decodeChunks({ maxLength: 4, delimiter: '\r\n' }, ['abcd\r', '\n']), ['abcd']);
    const f = feeder(
      lineCodec({ maxLength: 4, delimiter: '\r\n' }).createDecoder(),
      (m) => m,
      'one buffer',
    );
    assert.deepEqual(f.push(utf8('abcde')), []);
    throwsCode(() => f.push(utf8('f')), 'PL_ERR_FRAME_TOO_LARGE');
  });

  it('decode throws PL_ERR_FRAME_TOO_LARGE for an endless line arriving in small pieces', () => {
    const f = feeder(lineCodec({ maxLength: 100 }).createDecoder(), (m) => m, 'one buffer');
    throwsCode(() => {
      for (let i = 0; i < 1000; i++) f.push(utf8('xyz'));
    }, 'PL_ERR_FRAME_TOO_LARGE');
    assert.ok(f.pending <= 103, 'thrown as soon as the limit was passed');
  });

  it('encode appends the delimiter to strings and bytes', () => {
    const out = new ByteBuffer();
    const codec = lineCodec({ delimiter: '\r\n' });
    codec.encode('hé', out);
    codec.encode(Uint8Array.from([1]), out);
    codec.encode('', out);
    assert.deepEqual(Array.from(out.peek()), [0x68, 0xc3, 0xa9, 13, 10, 1, 13, 10, 13, 10]);
  });

  it('each decoder from one codec keeps its own partial line', () => {
    const codec = lineCodec();
    const a = feeder(codec.createDecoder(), (m) => m, 'one buffer');
    const b = feeder(codec.createDecoder(), (m) => m, 'one buffer');
    assert.deepEqual(a.push(utf8('hel')), []);
    assert.deepEqual(b.push(utf8('other\n')), ['other']);
    assert.deepEqual(a.push(utf8('lo\n')), ['hello']);
  });

  it('lineCodec throws PL_ERR_INVALID_ARG for an empty delimiter, a bad maxLength or an unknown output', () => {
    throwsCode(() => lineCodec({ delimiter: '' }), 'PL_ERR_INVALID_ARG');
    throwsCode(() => lineCodec({ delimiter: new Uint8Array(0) }), 'PL_ERR_INVALID_ARG');
    throwsCode(() => lineCodec({ delimiter: 10 as unknown as string }), 'PL_ERR_INVALID_ARG');
    for (const maxLength of [-1, 1.5, Number.NaN, Infinity]) {
      throwsCode(() => lineCodec({ maxLength }), 'PL_ERR_INVALID_ARG');
    }
    throwsCode(() => lineCodec({ output: 'text' as 'bytes' }), 'PL_ERR_INVALID_ARG');
  });
});
