import type { OutBuffer } from './out-buffer.js';

const REASONS: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** The reason phrase sent for `status` (`'Unknown'` for codes without a registered one). */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Unknown';
}

let dateValue: string | undefined;

/**
 * The `Date` header value. Computed at most once a second: a timer (which never keeps the
 * process alive) drops the cached value at the next second boundary. Safe from any thread (each
 * has its own cache).
 */
export function httpDate(): string {
  if (dateValue === undefined) {
    const now = Date.now();
    dateValue = new Date(now - (now % 1000)).toUTCString();
    setTimeout(() => (dateValue = undefined), 1000 - (now % 1000)).unref();
  }
  return dateValue;
}

/** How the head ends: which `Connection` field, if any, follows `Content-Length`. */
export const enum Ending {
  /** HTTP/1.1 keep-alive: no field. */
  None,
  Close,
  /** HTTP/1.0 keep-alive must say so. */
  KeepAlive,
}

const ENDINGS = [
  Buffer.from('\r\n\r\n', 'latin1'),
  Buffer.from('\r\nConnection: close\r\n\r\n', 'latin1'),
  Buffer.from('\r\nConnection: keep-alive\r\n\r\n', 'latin1'),
];

/** The bytes of a head up to the Content-Length value, for one status and type, on one date. */
interface Prefix {
  code: number;
  type: string;
  date: string;
  bytes: Buffer;
}

/**
 * Heads of responses with no headers of their own, cached as bytes: status line, `Date`,
 * `Content-Type` and `Content-Length: `. A hit is a few comparisons and one copy, where building
 * the head costs string concatenation and a native encode per response. The date is part of each
 * entry, so an entry is rebuilt at most once a second. Few (status, type) pairs are hot in any
 * server; past `SLOTS` of them, entries are replaced in turn. Per thread (module state).
 */
const SLOTS = 16;
const prefixes: Prefix[] = [];
let nextSlot = 0;

function prefix(code: number, type: string): Buffer {
  const date = httpDate();
  const n = prefixes.length;
  for (let i = 0; i < n; i++) {
    const p = prefixes[i]!;
    if (p.code !== code || p.type !== type) continue;
    if (p.date !== date) {
      p.date = date;
      p.bytes = buildPrefix(code, type, date);
    }
    return p.bytes;
  }
  const p: Prefix = { code, type, date, bytes: buildPrefix(code, type, date) };
  if (n < SLOTS) prefixes.push(p);
  else {
    prefixes[nextSlot] = p;
    nextSlot = (nextSlot + 1) % SLOTS;
  }
  return p.bytes;
}

function buildPrefix(code: number, type: string, date: string): Buffer {
  const ct = type === '' ? '' : `Content-Type: ${type}\r\n`;
  return Buffer.from(
    `HTTP/1.1 ${code} ${reasonPhrase(code)}\r\nDate: ${date}\r\n${ct}Content-Length: `,
    'latin1',
  );
}

/**
 * Writes the head of a response that has no headers set by the handler: status line, `Date`,
 * `Content-Type` (none when `type` is `''`), `Content-Length: length` and the ending. `type` must
 * be a valid field value (the response's own constants, or one checked by `setHeader`).
 */
export function writeHead(
  out: OutBuffer,
  code: number,
  type: string,
  length: number,
  ending: Ending,
): void {
  out.append(prefix(code, type));
  out.decimal(length);
  out.append(ENDINGS[ending]!);
}
