import type { HttpRequest } from './request.js';

const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * A request as a handler sees it: the parsed head, the whole body, route params and the query.
 * Use it from the handler or later on the connection's own loop; it stays valid after the
 * handler returns (the server copies the head when the handler does not finish synchronously).
 */
export class ServerRequest {
  /** The parsed request (method, headers, views): see docs/http-parser.md. */
  readonly raw: HttpRequest;
  /** The body, a copy owned by this request (empty without one). */
  readonly body: Uint8Array;
  /** Route parameters (`/users/:id` → `{ id }`), set by the router. */
  params: Readonly<Record<string, string>> = NO_PARAMS;
  private pathValue: string | undefined;
  private queryValue: URLSearchParams | undefined;
  private queryString = '';

  /** @internal Made by the server for each request. */
  constructor(raw: HttpRequest, body: Uint8Array) {
    this.raw = raw;
    this.body = body;
  }

  get method(): string {
    return this.raw.method;
  }

  /** The request-target as sent: `/path?query`. */
  get url(): string {
    return this.raw.url;
  }

  /** The path of the target, without the query (also for absolute-form targets). */
  get path(): string {
    if (this.pathValue === undefined) this.split();
    return this.pathValue!;
  }

  /** The query string, parsed. */
  get query(): URLSearchParams {
    if (this.queryValue === undefined) {
      if (this.pathValue === undefined) this.split();
      this.queryValue = new URLSearchParams(this.queryString);
    }
    return this.queryValue;
  }

  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  get versionMinor(): 0 | 1 {
    return this.raw.versionMinor;
  }

  /** A header's value, any case; repeated lines joined with ", ". */
  header(name: string): string | undefined {
    return this.raw.header(name);
  }

  /** Every header: lowercase names, null prototype. */
  headers(): Record<string, string> {
    return this.raw.headers();
  }

  /** The body decoded as UTF-8. */
  text(): string {
    return Buffer.from(this.body.buffer, this.body.byteOffset, this.body.length).toString('utf8');
  }

  /** The body parsed as JSON; rejects with the SyntaxError when it is not JSON. */
  json(): Promise<unknown> {
    return new Promise((resolve) => resolve(JSON.parse(this.text()) as unknown));
  }

  private split(): void {
    let url = this.raw.url;
    if (url.charCodeAt(0) !== 47 /* / */ && url !== '*') {
      // absolute-form: scheme://authority/path?query
      const scheme = url.indexOf('://');
      const slash = scheme < 0 ? -1 : url.indexOf('/', scheme + 3);
      const q = url.indexOf('?', scheme + 3);
      url =
        slash < 0 || (q >= 0 && q < slash) ? '/' + (q >= 0 ? url.slice(q) : '') : url.slice(slash);
    }
    const q = url.indexOf('?');
    this.pathValue = q < 0 ? url : url.slice(0, q);
    // Parsed only when a handler reads `query`: routing needs the path alone.
    this.queryString = q < 0 ? '' : url.slice(q + 1);
  }
}
