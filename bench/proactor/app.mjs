// The app of the proactor benchmark: one HTTP service with a CPU-heavy route and a cheap one.
//
//   GET /heavy  PBKDF2-SHA256 over PROACTOR_HEAVY_ITERATIONS rounds (the harness calibrates the
//               count to ~15 ms on the server's core), answers the key's first 8 hex digits
//   GET /cheap  answers `cheap loop` on the IO loop's thread, `cheap pool` on a pool thread
//
// Pool threads load this module too; they see the same environment as the main thread.
import { pbkdf2Sync } from 'node:crypto';
import { isMainThread } from 'node:worker_threads';
import { httpService } from '../../dist/src/index.js';

/** Rounds of PBKDF2 per /heavy request. */
export const iterations = Number(process.env.PROACTOR_HEAVY_ITERATIONS ?? '75000');

/** The CPU work of one /heavy request: `rounds` of PBKDF2-SHA256, synchronous. */
export function heavy(rounds) {
  return pbkdf2Sync('password', 'salt', rounds, 32, 'sha256').toString('hex').slice(0, 8);
}

export default httpService((req) => {
  if (req.path === '/heavy') return { body: `heavy ${heavy(iterations)}` };
  if (req.path === '/cheap') return { body: isMainThread ? 'cheap loop' : 'cheap pool' };
  return { status: 404, body: 'not found' };
});
