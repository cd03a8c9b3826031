// What the demo site's JSON API accepts. Every refusal is an `ApiError`: a 4xx status and a
// message for the client, so bad input never reaches the store and never becomes a 500.
import type { ServerRequest } from '../../src/index.js';

/**
 * A request refused with `status` (4xx) and `message`, sent as `{ "error": message }`. Made and
 * caught on the request's loop.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Bodies above this many bytes get 413 (the HTTP parser's own limit is higher). */
export const MAX_BODY = 16 * 1024;
export const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;
export const TEXT_MAX = 1000;
export const LIST_DEFAULT = 50;
export const LIST_MAX = 200;

// U+0000 (PostgreSQL text cannot hold it) and lone surrogates (not Unicode text).
// eslint-disable-next-line no-control-regex -- NUL is exactly what it looks for
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The body as a JSON object, or 413 / 400 saying what is wrong. On the request's loop. */
export function jsonObject(req: ServerRequest): Record<string, unknown> {
  if (req.body.length > MAX_BODY)
    throw new ApiError(413, `request body over ${MAX_BODY} bytes (${req.body.length})`);
  if (req.body.length === 0) throw new ApiError(400, 'request body is empty: send a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(req.text());
  } catch (err) {
    throw new ApiError(400, `invalid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ApiError(400, 'request body must be a JSON object');
  return value as Record<string, unknown>;
}

/** Field `name` of `body` as a string of at most `max` UTF-16 units; 400 otherwise. */
export function stringField(body: Record<string, unknown>, name: string, max: number): string {
  const v = body[name];
  if (v === undefined || v === null) throw new ApiError(400, `${name} is required`);
  if (typeof v !== 'string') throw new ApiError(400, `${name} must be a string`);
  if (v.length === 0) throw new ApiError(400, `${name} is empty`);
  if (v.length > max) throw new ApiError(400, `${name} is longer than ${max} characters`);
  if (UNSTORABLE.test(v)) throw new ApiError(400, `${name} contains NUL or unpaired surrogates`);
  return v;
}

/** `{ username, password }` as registration accepts them. */
export function newCredentials(body: Record<string, unknown>): {
  username: string;
  password: string;
} {
  const username = stringField(body, 'username', 32);
  if (!USERNAME.test(username))
    throw new ApiError(400, "username must be 3 to 32 letters, digits, '_', '.' or '-'");
  const password = stringField(body, 'password', PASSWORD_MAX);
  if (password.length < PASSWORD_MIN)
    throw new ApiError(400, `password must be at least ${PASSWORD_MIN} characters`);
  return { username, password };
}

/** `{ username, password }` as login accepts them: any string within bounds (wrong ones get 401). */
export function credentials(body: Record<string, unknown>): { username: string; password: string } {
  return {
    username: stringField(body, 'username', PASSWORD_MAX),
    password: stringField(body, 'password', PASSWORD_MAX),
  };
}

/** A message's text: not blank, at most TEXT_MAX characters. */
export function messageText(body: Record<string, unknown>): string {
  const text = stringField(body, 'text', TEXT_MAX);
  if (text.trim().length === 0) throw new ApiError(400, 'text is blank');
  return text;
}

/** `?limit=N` of the message list: 1..LIST_MAX, default LIST_DEFAULT. */
export function listLimit(req: ServerRequest): number {
  const raw = req.query.get('limit');
  if (raw === null) return LIST_DEFAULT;
  const n = Number(raw);
  if (!/^\d{1,4}$/.test(raw) || n < 1 || n > LIST_MAX)
    throw new ApiError(400, `limit must be an integer from 1 to ${LIST_MAX}`);
  return n;
}
