import type { ByteBuffer } from '../io/byte-buffer.js';

/**
 * Turns bytes from the peer into messages and messages into bytes. A codec is a factory: each
 * connection gets its own `Decoder`, so decoders may keep per-connection state.
 *
 * `In` is what `onMessage` receives; `Out` is what `Connection.send` accepts.
 */
export interface Codec<In, Out> {
  readonly name: string;
  /** Creates the per-connection decoder. Called on the connection's own loop. */
  createDecoder(): Decoder<In>;
  /** Appends the framed bytes of `msg` to `out`. Throws a `PolyloopError` for an unsendable message. */
  encode(msg: Out, out: ByteBuffer): void;
}

/** Decodes one connection's byte stream. Not thread safe: it belongs to one connection. */
export interface Decoder<In> {
  /**
   * Takes one whole message off the front of `input` and returns it, or returns `undefined`
   * (consuming nothing it still needs) when the next message is incomplete. Throws a
   * `PolyloopProtocolError` when the bytes are malformed or a frame exceeds its limit; the
   * connection is then closed with that error.
   *
   * A returned view into `input` is valid until the decoder is called again.
   */
  decode(input: ByteBuffer): In | undefined;
}

/** The message type a codec delivers. */
export type CodecInput<C> = C extends Codec<infer In, unknown> ? In : never;
/** The message type a codec sends. */
export type CodecOutput<C> = C extends Codec<unknown, infer Out> ? Out : never;
