// chargen (RFC 864): an endless stream of 72-character lines, input ignored.
// Output is paced by onWriteComplete: the next block is queued only when the previous one has
// reached the kernel, so a slow reader never makes us buffer more than one block.
import { defineApp } from '../src/index.js';

/** The 94 lines of the rotating printable-ASCII pattern, nine times over (about 61 KiB). */
export const BLOCK: Uint8Array = (() => {
  const printable: number[] = [];
  for (let c = 33; c < 127; c++) printable.push(c);
  const lines: number[] = [];
  for (let start = 0; start < printable.length; start++) {
    for (let i = 0; i < 72; i++) lines.push(printable[(start + i) % printable.length]!);
    lines.push(13, 10);
  }
  const cycle = Uint8Array.from(lines);
  const block = new Uint8Array(cycle.length * 9);
  for (let i = 0; i < 9; i++) block.set(cycle, i * cycle.length);
  return block;
})();

export default defineApp({
  onConnection(conn) {
    conn.send(BLOCK);
  },
  onWriteComplete(conn) {
    conn.send(BLOCK);
  },
});
