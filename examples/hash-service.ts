// hash: a CPU-bound line service, the same code under every concurrency model (compare them with
// `polyloop hash --model M --loops N` and a client of your own). Each line is a password;
// the reply is its scrypt hash in hex. One hash takes about a millisecond of CPU, so a single
// loop is saturated quickly and more loops pay off up to the number of cores.
import { scryptSync } from 'node:crypto';
import { currentLoop, defineApp, lineCodec } from '../src/index.js';

/** scrypt cost: N = 2^10, r = 8, p = 1 (1 MiB of memory, ~1 ms per hash). */
const COST = { N: 1024, r: 8, p: 1 } as const;
const SALT = 'polyloop-example';

export function hashLine(line: string): string {
  return scryptSync(line, SALT, 32, COST).toString('hex');
}

export default defineApp<string, Uint8Array | string>({
  codec: lineCodec({ maxLength: 1024 }),
  onMessage(conn, line) {
    if (line === 'where') conn.send(`loop ${currentLoop().id}`);
    else conn.send(hashLine(line));
  },
});
