// Receives a 64 KiB ArrayBuffer (transferred) and sends it back the same way.
import Piscina from 'piscina';

export default function echo(buf) {
  return Piscina.move(buf);
}
