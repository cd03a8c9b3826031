// time (RFC 868): sends the seconds since 1900-01-01 as a 32-bit big-endian integer, then closes.
import { defineApp } from '../src/index.js';

/** Seconds between 1900-01-01 and the Unix epoch. */
export const EPOCH_OFFSET = 2_208_988_800;

/** RFC 868 time for `ms` since the Unix epoch (wraps every 136 years, as the RFC does). */
export function rfc868(ms: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, (Math.floor(ms / 1000) + EPOCH_OFFSET) % 2 ** 32);
  return bytes;
}

export default defineApp({
  onConnection(conn) {
    conn.send(rfc868(Date.now()));
    conn.close();
  },
});
