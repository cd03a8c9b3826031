import { createError, invalidArg } from '../errors.js';
import type { ByteBuffer } from '../io/byte-buffer.js';
import type { Codec, Decoder } from './codec.js';

export interface LengthFieldOptions {
  /** Size of the length header in bytes. Default 4. */
  lengthBytes?: 1 | 2 | 4 | 8;
  /** Largest payload accepted, in bytes. A longer frame closes the connection. Default 1 MiB. */
  maxFrame?: number;
  /** The length counts the header too (as some protocols define it). Default false. */
  lengthIncludesHeader?: boolean;
  /** Little-endian length. Default false (network byte order). */
  littleEndian?: boolean;
}

/** Messages are byte payloads; `send` also accepts a string (sent as UTF-8). */
export type LengthFieldCodec = Codec<Uint8Array, Uint8Array | string>;

const MAX_PAYLOAD: Record<1 | 2 | 4 | 8, number> = {
  1: 0xff,
  2: 0xffff,
  4: 0xffffffff,
  8: Number.MAX_SAFE_INTEGER,
};

/**
 * Frames prefixed with their length: `[length][payload]`. The decoder delivers the payload as a
 * view into the connection's input (valid during `onMessage`); the encoder writes the payload
 * and then prepends the header in place, so the payload is copied once.
 */
export function lengthFieldCodec(options: LengthFieldOptions = {}): LengthFieldCodec {
  const lengthBytes = options.lengthBytes ?? 4;
  if (![1, 2, 4, 8].includes(lengthBytes)) {
    throw invalidArg('lengthBytes', lengthBytes, '1, 2, 4 or 8');
  }
  const maxFrame = options.maxFrame ?? 1024 * 1024;
  const limit = MAX_PAYLOAD[lengthBytes] - (options.lengthIncludesHeader ? lengthBytes : 0);
  if (!Number.isSafeInteger(maxFrame) || maxFrame < 0) {
    throw invalidArg('maxFrame', maxFrame, 'a non-negative integer');
  }
  const includes = options.lengthIncludesHeader === true ? lengthBytes : 0;
  const little = options.littleEndian === true;

  function readLength(input: ByteBuffer): number {
    if (!little) {
      if (lengthBytes === 1) return input.peekUint8();
      if (lengthBytes === 2) return input.peekUint16();
      if (lengthBytes === 4) return input.peekUint32();
    }
    // Float arithmetic is exact below 2^53; decode rejects anything above (see there).
    let n = 0;
    for (let i = 0; i < lengthBytes; i++) {
      n = n * 256 + input.peekUint8At(little ? lengthBytes - 1 - i : i);
    }
    return n;
  }

  // One scratch header per codec: encode runs to completion on one loop, so it is never shared.
  // The view of it is made once, not per message.
  const scratch = new Uint8Array(8);
  const scratchView = new DataView(scratch.buffer);
  const scratchHeader = scratch.subarray(0, lengthBytes);
  function header(n: number): Uint8Array {
    if (lengthBytes === 1) scratchView.setUint8(0, n);
    else if (lengthBytes === 2) scratchView.setUint16(0, n, little);
    else if (lengthBytes === 4) scratchView.setUint32(0, n, little);
    else scratchView.setBigUint64(0, BigInt(n), little);
    return scratchHeader;
  }

  return {
    name: `length-field(${lengthBytes})`,
    createDecoder(): Decoder<Uint8Array> {
      return {
        decode(input) {
          if (input.readableBytes < lengthBytes) return undefined;
          const raw = readLength(input);
          // Above 2^53 the float sum is rounded: it may no longer exceed maxFrame once the header
          // is subtracted, and would then frame at the wrong offset. No such frame is acceptable.
          if (!Number.isSafeInteger(raw)) {
            throw createError(
              'PL_ERR_FRAME_TOO_LARGE',
              `length field above 2^53 - 1 exceeds maxFrame ${maxFrame}`,
            );
          }
          if (raw < includes) {
            throw createError(
              'PL_ERR_BAD_FRAME',
              `length field ${raw} is smaller than its own ${lengthBytes}-byte header`,
            );
          }
          const length = raw - includes;
          if (length > maxFrame) {
            throw createError(
              'PL_ERR_FRAME_TOO_LARGE',
              `frame of ${length} bytes exceeds maxFrame ${maxFrame}`,
            );
          }
          if (input.readableBytes < lengthBytes + length) return undefined;
          input.retrieve(lengthBytes);
          return input.readBytes(length);
        },
      };
    },
    encode(msg, out) {
      // A string is measured, then written straight into `out` (no intermediate bytes).
      const length = typeof msg === 'string' ? Buffer.byteLength(msg, 'utf8') : msg.length;
      if (length > limit) {
        throw createError(
          'PL_ERR_FRAME_TOO_LARGE',
          `payload of ${length} bytes does not fit a ${lengthBytes}-byte length field`,
        );
      }
      if (out.readableBytes === 0) out.ensureWritable(lengthBytes + length);
      if (out.readableBytes === 0 && out.prependableBytes >= lengthBytes) {
        // Payload first, then the header into the reserved front: no second copy.
        out.append(msg);
        out.prepend(header(length + includes));
      } else {
        out.append(header(length + includes));
        out.append(msg);
      }
    },
  };
}
