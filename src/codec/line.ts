import { createError, invalidArg } from '../errors.js';
import type { Codec, Decoder } from './codec.js';

export interface LineOptions<Output extends 'string' | 'bytes' = 'string'> {
  /** The line terminator. Default `'\n'`. */
  delimiter?: string | Uint8Array;
  /** Longest line accepted, in bytes, without its delimiter. A longer one closes the connection. Default 8 KiB. */
  maxLength?: number;
  /** Deliver lines as UTF-8 strings (default) or as byte views. */
  output?: Output;
}

export type LineMessage<Output> = Output extends 'bytes' ? Uint8Array : string;

/**
 * Delimiter-terminated lines. Decoded lines exclude the delimiter; `send(line)` appends it.
 * Byte views (with `output: 'bytes'`) are valid during `onMessage`.
 */
export function lineCodec<Output extends 'string' | 'bytes' = 'string'>(
  options: LineOptions<Output> = {},
): Codec<LineMessage<Output>, Uint8Array | string> {
  const delim =
    typeof options.delimiter === 'string'
      ? new TextEncoder().encode(options.delimiter)
      : (options.delimiter ?? new Uint8Array([10]));
  if (!(delim instanceof Uint8Array) || delim.length === 0) {
    throw invalidArg('delimiter', options.delimiter, 'a non-empty string or Uint8Array');
  }
  const maxLength = options.maxLength ?? 8192;
  if (!Number.isSafeInteger(maxLength) || maxLength < 0) {
    throw invalidArg('maxLength', maxLength, 'a non-negative integer');
  }
  const asBytes = options.output === 'bytes';
  if (options.output !== undefined && options.output !== 'string' && !asBytes) {
    throw invalidArg('output', options.output, "'string' or 'bytes'");
  }
  const textDecoder = new TextDecoder();

  return {
    name: 'line',
    createDecoder(): Decoder<LineMessage<Output>> {
      // Bytes already scanned without finding a delimiter: the next scan resumes there, so a
      // long line arriving in many pieces costs O(n) in total, not O(n^2).
      let scanned = 0;
      return {
        decode(input) {
          const from = Math.max(0, scanned - delim.length + 1);
          const at = input.indexOfSequence(delim, from);
          if (at < 0) {
            scanned = input.readableBytes;
            if (scanned > maxLength + delim.length - 1) {
              throw createError(
                'PL_ERR_FRAME_TOO_LARGE',
                `line of more than ${maxLength} bytes without a delimiter`,
              );
            }
            return undefined;
          }
          scanned = 0;
          if (at > maxLength) {
            throw createError(
              'PL_ERR_FRAME_TOO_LARGE',
              `line of ${at} bytes exceeds maxLength ${maxLength}`,
            );
          }
          const line = input.readBytes(at);
          input.retrieve(delim.length);
          return (asBytes ? line : textDecoder.decode(line)) as LineMessage<Output>;
        },
      };
    },
    encode(msg, out) {
      out.append(msg);
      out.append(delim);
    },
  };
}
