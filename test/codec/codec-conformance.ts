/**
 * The framing cases every codec must pass (STYLE: "every codec runs the same framing cases").
 * Not a test file itself: a codec's test file calls `codecConformance` once per configuration.
 *
 * Bytes are fed to one decoder in two ways:
 * - `one buffer`: append each piece to a single ByteBuffer, then decode until `undefined`;
 * - `like a connection`: what `Connection.onData` does: decode in place from a wrapped chunk when
 *   nothing is pending, else append to the pending buffer; keep only the undecoded tail. After
 *   each chunk the chunk's memory is scribbled over, as a reused read buffer would be, so a
 *   decoder that keeps a view into an old chunk is caught.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteBuffer, isPolyloopError, type Codec, type Decoder } from '../../src/index.js';

export interface ConformanceCase<In, Out> {
  /** Names the configuration in the test output. */
  name: string;
  /** Makes the codec under test. */
  codec: () => Codec<In, Out>;
  /** A fixed handful of valid messages, edge cases (empty, largest) included. */
  samples: readonly Out[];
  /** Random valid messages. */
  message: fc.Arbitrary<Out>;
  /** What decoding the encoded `msg` must give, in a form `deepStrictEqual` compares. */
  expected: (msg: Out) => unknown;
  /** Copies a decoded message (a view dies at the next decode) into the form of `expected`. */
  copy: (decoded: In) => unknown;
  /** Byte streams whose first frame is over the codec's limit: decoding them must throw PL_ERR_FRAME_TOO_LARGE. */
  oversize: readonly { name: string; bytes: Uint8Array }[];
}

export type Feed = 'one buffer' | 'like a connection';
const FEEDS: readonly Feed[] = ['one buffer', 'like a connection'];

/** Feeds chunks to a decoder; `push` returns copies of the messages that chunk completed. */
export interface Feeder {
  push(chunk: Uint8Array): unknown[];
  /** Bytes received but not yet decoded. */
  readonly pending: number;
}

export function feeder<In>(
  decoder: Decoder<In>,
  copy: (decoded: In) => unknown,
  feed: Feed,
): Feeder {
  const drain = (src: ByteBuffer, out: unknown[]): void => {
    for (;;) {
      const msg = decoder.decode(src);
      if (msg === undefined) return;
      out.push(copy(msg)); // before the next decode: the view may not survive it
    }
  };
  if (feed === 'one buffer') {
    // Small on purpose, so long streams exercise both growth and compaction.
    const buf = new ByteBuffer(16);
    return {
      push(chunk) {
        const out: unknown[] = [];
        buf.append(chunk);
        drain(buf, out);
        return out;
      },
      get pending() {
        return buf.readableBytes;
      },
    };
  }
  const input = new ByteBuffer(0);
  const view = ByteBuffer.wrap(new Uint8Array(0));
  return {
    push(piece) {
      const out: unknown[] = [];
      const chunk = Buffer.from(piece); // a socket chunk: a Node Buffer the decoder does not own
      let src: ByteBuffer;
      if (input.readableBytes === 0) {
        view.reset(chunk);
        src = view;
      } else {
        input.append(chunk);
        src = input;
      }
      drain(src, out);
      if (src !== input && src.readableBytes > 0) input.append(src.peek());
      chunk.fill(0xee);
      return out;
    },
    get pending() {
      return input.readableBytes;
    },
  };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Cuts `bytes` at the given offsets (any order, duplicates allowed). */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts)].filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const c of [...points, bytes.length]) {
    pieces.push(bytes.subarray(from, c));
    from = c;
  }
  return pieces;
}

function expectTooLarge(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isPolyloopError(err), `expected a PolyloopError, got ${String(err)}`);
    assert.equal(err.code, 'PL_ERR_FRAME_TOO_LARGE');
    return true;
  });
}

/** Runs the shared framing cases against one codec configuration. */
export function codecConformance<In, Out>(c: ConformanceCase<In, Out>): void {
  const encodeEach = (msgs: readonly Out[]): Uint8Array => {
    const codec = c.codec();
    return concat(
      msgs.map((m) => {
        const out = new ByteBuffer();
        codec.encode(m, out);
        return out.readCopy(out.readableBytes);
      }),
    );
  };
  const decodePieces = (pieces: readonly Uint8Array[], feed: Feed): unknown[] => {
    const f = feeder(c.codec().createDecoder(), c.copy, feed);
    const decoded = pieces.flatMap((p) => f.push(p));
    assert.equal(f.pending, 0, 'a complete stream leaves nothing pending');
    return decoded;
  };

  describe(`codec conformance: ${c.name}`, () => {
    const stream = encodeEach(c.samples);
    const expected = c.samples.map((m) => c.expected(m));

    it('decode returns undefined and consumes nothing when the buffer is empty or holds a partial frame', () => {
      const decoder = c.codec().createDecoder();
      const empty = new ByteBuffer();
      assert.equal(decoder.decode(empty), undefined);
      const first = encodeEach(c.samples.slice(0, 1));
      const partial = new ByteBuffer();
      partial.append(first.subarray(0, first.length - 1));
      assert.equal(decoder.decode(partial), undefined);
      assert.equal(partial.readableBytes, first.length - 1);
    });

    it('encode into one buffer gives the concatenation of separate encodes', () => {
      const codec = c.codec();
      const out = new ByteBuffer(4);
      for (const m of c.samples) codec.encode(m, out);
      assert.deepEqual(out.readCopy(out.readableBytes), stream);
    });

    for (const feed of FEEDS) {
      describe(`fed ${feed}`, () => {
        it('decoder returns every message when the whole stream arrives in one chunk', () => {
          assert.deepEqual(decodePieces([stream], feed), expected);
        });

        it('decoder returns every message when the stream is cut at any one byte boundary', () => {
          for (let cut = 1; cut < stream.length; cut++) {
            assert.deepEqual(decodePieces(split(stream, [cut]), feed), expected, `cut at ${cut}`);
          }
        });

        it('decoder returns every message when every byte arrives as its own chunk', () => {
          const cuts = Array.from({ length: stream.length }, (_, i) => i);
          assert.deepEqual(decodePieces(split(stream, cuts), feed), expected);
        });

        it('decoder returns every message when the stream is cut at any two byte boundaries', () => {
          const n = Math.min(stream.length, 96); // keeps the quadratic loop small
          for (let a = 1; a < n; a++) {
            for (let b = a + 1; b < n; b++) {
              assert.deepEqual(
                decodePieces(split(stream, [a, b]), feed),
                expected,
                `cuts ${a}, ${b}`,
              );
            }
          }
        });

        it('decoder returns the messages in order when a random stream is cut at random boundaries', () => {
          fc.assert(
            fc.property(
              fc.array(c.message, { minLength: 1, maxLength: 20 }),
              fc.array(fc.nat(), { maxLength: 30 }),
              (msgs, rawCuts) => {
                const bytes = encodeEach(msgs);
                const cuts = rawCuts.map((x) => x % (bytes.length + 1));
                assert.deepEqual(
                  decodePieces(split(bytes, cuts), feed),
                  msgs.map((m) => c.expected(m)),
                );
              },
            ),
          );
        });

        it('decoder returns many frames from one chunk, holding back a trailing partial frame', () => {
          const msgs = fc.sample(c.message, { numRuns: 1000, seed: 42 });
          const bytes = encodeEach(msgs);
          const f = feeder(c.codec().createDecoder(), c.copy, feed);
          const first = f.push(bytes.subarray(0, bytes.length - 1));
          assert.deepEqual(
            first,
            msgs.slice(0, -1).map((m) => c.expected(m)),
          );
          const last = f.push(bytes.subarray(bytes.length - 1));
          assert.deepEqual(
            last,
            msgs.slice(-1).map((m) => c.expected(m)),
          );
          assert.equal(f.pending, 0);
        });

        for (const o of c.oversize) {
          it(`decoder throws PL_ERR_FRAME_TOO_LARGE for ${o.name} after the valid frames before it`, () => {
            const bytes = concat([stream, o.bytes]);
            const f = feeder(c.codec().createDecoder(), c.copy, feed);
            const got: unknown[] = [];
            expectTooLarge(() => {
              for (let i = 0; i < bytes.length; i++) got.push(...f.push(bytes.subarray(i, i + 1)));
            });
            assert.deepEqual(got, expected, 'frames before the oversize one were delivered');

            const whole = feeder(c.codec().createDecoder(), c.copy, feed);
            expectTooLarge(() => whole.push(o.bytes));
          });
        }
      });
    }
  });
}
