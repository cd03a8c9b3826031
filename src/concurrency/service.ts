/**
 * Services: application logic as a pure function of one whole message — a codec frame, or an HTTP
 * request — to its reply. Because a service never touches a connection, polyloop can run it on
 * the IO loop (`logic: 'loop'`, the Reactor way) or on a thread pool while the IO loop only
 * completes reads, parses and writes (`logic: 'pool'`, the Proactor way), with the same code.
 *
 *   // app.ts
 *   export default defineService({ codec: lineCodec(), handle: (line) => line.toUpperCase() });
 *   export default httpService((req) => ({ status: 200, body: `hello ${req.path}` }));
 */
import type { Codec } from '../codec/codec.js';
import type { HttpServerOptions } from '../protocol/http/server.js';

/** A message service over a codec: one reply per message, written in message order. */
export interface Service<In = unknown, Out = unknown> {
  readonly kind: 'service';
  readonly codec: Codec<In, Out>;
  /** Runs on the IO loop or on a pool thread: use only the message, never shared state. */
  handle(msg: In): Out | Promise<Out>;
}

/** An HTTP request as a service sees it: plain data, cloned to a pool thread as is. */
export interface PlainRequest {
  method: string;
  url: string;
  path: string;
  /** Field names in lower case; repeated fields joined with ', '. */
  headers: Record<string, string>;
  body: Uint8Array;
}

/** What an HTTP service returns. A body object other than bytes or a string is sent as JSON. */
export interface PlainResponse {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array | object | null;
}

export interface HttpService {
  readonly kind: 'http-service';
  readonly options: HttpServerOptions;
  handle(req: PlainRequest): PlainResponse | Promise<PlainResponse>;
}

export type AnyService = Service<unknown, unknown> | HttpService;

export function defineService<In, Out>(service: {
  codec: Codec<In, Out>;
  handle(msg: In): Out | Promise<Out>;
}): Service<In, Out> {
  return { kind: 'service', codec: service.codec, handle: service.handle.bind(service) };
}

export function httpService(
  handle: (req: PlainRequest) => PlainResponse | Promise<PlainResponse>,
  options: HttpServerOptions = {},
): HttpService {
  return { kind: 'http-service', options, handle };
}

export function isService(x: unknown): x is AnyService {
  const kind = (x as { kind?: unknown } | null)?.kind;
  return kind === 'service' || kind === 'http-service';
}
