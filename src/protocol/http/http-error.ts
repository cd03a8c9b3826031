import { createError, isPolyloopError, type PolyloopProtocolError } from '../../errors.js';

/** The statuses a malformed or refused request maps to. */
export type HttpErrorStatus = 400 | 413 | 414 | 417 | 431 | 501 | 505;

/** Reason phrases for the status line of the error response. */
export const REASON_PHRASES: Readonly<Record<HttpErrorStatus, string>> = {
  400: 'Bad Request',
  413: 'Content Too Large',
  414: 'URI Too Long',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};

/**
 * A request the parser refused (`code` `PL_ERR_HTTP_PARSE`). The server answers with
 * `HTTP/1.1 ${status} ${reason}` and closes the connection: after a framing error the position
 * of the next request is unknown. `message` says what was wrong and quotes the offending bytes.
 * Created by the project's `createError`; safe to inspect from any thread.
 */
export interface HttpParseError extends PolyloopProtocolError {
  readonly code: 'PL_ERR_HTTP_PARSE';
  /** The response status to send. */
  readonly status: HttpErrorStatus;
  /** The reason phrase for `status` (`'Bad Request'`, ...). */
  readonly reason: string;
}

/** Makes the error for a refused request; `detail` says what was wrong. */
export function httpError(status: HttpErrorStatus, detail: string): HttpParseError {
  const reason = REASON_PHRASES[status];
  const err = createError('PL_ERR_HTTP_PARSE', `${status} ${reason}: ${detail}`);
  return Object.assign(err, { status, reason }) as HttpParseError;
}

/** True when `err` is a request the parser refused; `err.status` is then the status to send. */
export function isHttpParseError(err: unknown): err is HttpParseError {
  return (
    isPolyloopError(err, 'PL_ERR_HTTP_PARSE') && typeof (err as HttpParseError).status === 'number'
  );
}

/** A short, printable quote of some bytes for an error message (control bytes escaped). */
export function quote(bytes: Uint8Array, start: number, end: number): string {
  const max = Math.min(end, start + 40);
  let s = '';
  for (let i = start; i < max; i++) {
    const c = bytes[i]!;
    s +=
      c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c
        ? String.fromCharCode(c)
        : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return `"${s}${end > max ? '…' : ''}"`;
}
