// Receives a 64 KiB ArrayBuffer (transferred) and sends it back the same way.
import { move } from '../../../dist/src/index.js';

export default function echo(buf) {
  return move(buf);
}
