/**
 * Drives an `HttpRequestParser` over bytes cut into pieces, the ways a server would feed it, and
 * records what it saw in a plain form `deepStrictEqual` compares. Not a test file itself.
 *
 * Feeds:
 * - `one buffer`: append every piece to one small ByteBuffer (so it grows and compacts), execute;
 * - `like a connection`: what a connection does with socket chunks: execute straight on a
 *   wrapped chunk when nothing is pending, else append to the pending buffer; keep only the
 *   unconsumed tail; then scribble over the chunk, as a reused read buffer would be, so a parser
 *   that keeps a view into an old chunk is caught;
 * - `bytes`: `executeBytes` over the caller's own array, re-presenting the unconsumed tail.
 */
import { ByteBuffer } from '../../../src/io/byte-buffer.js';
import {
  HttpRequestParser,
  isHttpParseError,
  type HttpParserOptions,
  type HttpRequest,
} from '../../../src/protocol/http/parser.js';

export type Feed = 'one buffer' | 'like a connection' | 'bytes';
export const FEEDS: readonly Feed[] = ['one buffer', 'like a connection', 'bytes'];

/** A request as the tests compare it. */
export interface Parsed {
  method: string;
  url: string;
  versionMinor: 0 | 1;
  targetForm: string;
  headers: string[];
  keepAlive: boolean;
  expectContinue: boolean;
  upgrade: boolean;
  isHead: boolean;
  contentLength: number;
  chunked: boolean;
  body: string;
  trailers: [string, string][];
  complete: boolean;
}

export interface Outcome {
  requests: Parsed[];
  /** Status of the HttpParseError that stopped parsing, or null. */
  error: number | null;
}

/** `text` as bytes, one byte per char (so `\xe9` is the byte 0xe9). */
export const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'latin1'));

const latin1 = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');

/** Cuts `input` at the given offsets (any order, duplicates allowed); `'bytewise'`: every byte. */
export function split(input: Uint8Array, cuts: readonly number[] | 'bytewise'): Uint8Array[] {
  if (cuts === 'bytewise') return Array.from(input, (_, i) => input.subarray(i, i + 1));
  const points = [...new Set(cuts)].filter((c) => c > 0 && c < input.length).sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const c of [...points, input.length]) {
    pieces.push(input.subarray(from, c));
    from = c;
  }
  return pieces;
}

/** Makes a parser whose callbacks record into `requests` (copies: views die after execute). */
export function recorder(options: HttpParserOptions = {}): {
  parser: HttpRequestParser;
  requests: Parsed[];
} {
  const requests: Parsed[] = [];
  const byReq = new Map<HttpRequest, Parsed>();
  const parser = new HttpRequestParser(
    {
      onRequest(req) {
        const p: Parsed = {
          method: req.method,
          url: req.url,
          versionMinor: req.versionMinor,
          targetForm: req.targetForm,
          headers: req.rawHeaders(),
          keepAlive: req.keepAlive,
          expectContinue: req.expectContinue,
          upgrade: req.upgrade,
          isHead: req.isHead,
          contentLength: req.contentLength,
          chunked: req.chunked,
          body: '',
          trailers: [],
          complete: false,
        };
        requests.push(p);
        byReq.set(req, p);
      },
      onBody(chunk, req) {
        byReq.get(req)!.body += latin1(chunk);
      },
      onMessageComplete(req) {
        const p = byReq.get(req)!;
        p.trailers = req.trailers.map(([n, v]) => [n, v]);
        p.complete = true;
        byReq.delete(req);
      },
    },
    options,
  );
  return { parser, requests };
}

/** Feeds `pieces` to a fresh parser the given way; a refused request ends the run. */
export function run(
  pieces: readonly Uint8Array[],
  feed: Feed,
  options: HttpParserOptions = {},
): Outcome {
  const { parser, requests } = recorder(options);
  const push = feeder(parser, feed);
  try {
    for (const piece of pieces) push(piece);
  } catch (err) {
    if (!isHttpParseError(err)) throw err;
    return { requests, error: err.status };
  }
  return { requests, error: null };
}

/** Returns a function that feeds one piece to `parser` the way `feed` says. */
export function feeder(parser: HttpRequestParser, feed: Feed): (piece: Uint8Array) => void {
  if (feed === 'one buffer') {
    const buf = new ByteBuffer(16);
    return (piece) => {
      buf.append(piece);
      parser.execute(buf);
    };
  }
  if (feed === 'like a connection') {
    const pending = new ByteBuffer(0);
    const view = ByteBuffer.wrap(new Uint8Array(0));
    return (piece) => {
      const chunk = Buffer.from(piece); // a socket chunk the parser does not own
      let src = pending;
      if (pending.readableBytes === 0) {
        view.reset(chunk);
        src = view;
      } else {
        pending.append(chunk);
      }
      parser.execute(src);
      if (src !== pending && src.readableBytes > 0) pending.append(src.peek());
      chunk.fill(0xee);
    };
  }
  // The caller's own storage: the unconsumed tail is moved to the front after each call (so the
  // parser must not rely on where a pending head sits), and the bytes it vacated are scribbled.
  let store = new Uint8Array(64);
  let length = 0;
  return (piece) => {
    if (length + piece.length > store.length) {
      const grown = new Uint8Array(Math.max(store.length * 2, length + piece.length));
      grown.set(store.subarray(0, length));
      store = grown;
    }
    store.set(piece, length);
    const before = length + piece.length;
    const used = parser.executeBytes(store, 0, before);
    store.copyWithin(0, used, before);
    length = before - used;
    store.fill(0xee, length, before);
  };
}
