// The thread pool's task for the demo site: scrypt hashing and checking of passwords. scrypt is
// deliberately slow (tens of ms of CPU and 16 MiB of memory per call), so it runs here, on a
// ThreadPool worker, and never on an IO loop.
import { randomBytes, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** Hash a new password, or check one against a stored hash. */
export type HashTask =
  { op: 'hash'; password: string } | { op: 'verify'; password: string; stored: string };

/** Node's default cost (N = 2^14, r = 8, p = 1: 16 MiB per call), as recommended for logins. */
const COST = { N: 16_384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

// Synchronous on purpose: this worker thread is the one that should spend the CPU, not libuv's
// shared pool (which also serves the file system and DNS).
function derive(password: string, salt: Buffer, cost: ScryptOptions): Buffer {
  return scryptSync(password.normalize('NFC'), salt, KEY_LENGTH, {
    ...cost,
    maxmem: 64 * 1024 * 1024,
  });
}

/**
 * `scrypt$N$r$p$salt$key` (salt and key in base64url): the cost travels with the hash, so it can
 * be raised later without breaking stored passwords. Blocks for the whole hash: call it on a
 * pool thread, never on an IO loop.
 */
export function hashPassword(password: string): string {
  const salt = randomBytes(SALT_LENGTH);
  const key = derive(password, salt, COST);
  return [
    'scrypt',
    COST.N,
    COST.r,
    COST.p,
    salt.toString('base64url'),
    key.toString('base64url'),
  ].join('$');
}

/**
 * True when `password` matches `stored`; false for a wrong password or a malformed hash. Blocks
 * like `hashPassword`: a pool thread's work.
 */
export function verifyPassword(password: string, stored: string): boolean {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0)) return false;
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (expected.length !== KEY_LENGTH) return false;
  let key: Buffer;
  try {
    key = derive(password, Buffer.from(parts[4]!, 'base64url'), { N, r, p });
  } catch {
    return false; // a cost beyond maxmem: not a hash this site wrote
  }
  // Constant time, so the comparison does not tell how many leading bytes matched.
  return timingSafeEqual(key, expected);
}

/** The pool's task function: runs on a ThreadPool worker thread. */
export default function run(task: HashTask): string | boolean {
  return task.op === 'hash'
    ? hashPassword(task.password)
    : verifyPassword(task.password, task.stored);
}
