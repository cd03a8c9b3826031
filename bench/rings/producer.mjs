// The producer thread of bench/rings: sends `count` messages of `size` bytes, through a ByteRing
// or a MessagePort, as soon as the main thread (the consumer) posts 'go'. Message i carries
// i & 255 in its first and last byte (the consumer checks both), the rest is 0xab.
import { parentPort, workerData } from 'node:worker_threads';
import { ByteRing } from '../../dist/src/index.js';

const { variant, size, count, buffer, port } = workerData;
const payload = new Uint8Array(size).fill(0xab);
const last = size - 1;

parentPort.once('message', async () => {
  if (variant === 'ringView') {
    // In place: the payload is written straight into the ring, where the consumer reads it.
    const ring = ByteRing.from(buffer);
    const bytes = ring.bytes;
    for (let i = 0; i < count; i++) {
      let at;
      while ((at = ring.tryReserve(size)) < 0) await ring.waitForSpace(size);
      bytes.set(payload, at);
      bytes[at] = bytes[at + last] = i & 255;
      ring.commit();
    }
  } else if (variant.startsWith('ring')) {
    const ring = ByteRing.from(buffer);
    for (let i = 0; i < count; i++) {
      payload[0] = payload[last] = i & 255;
      while (!ring.tryPush(payload)) await ring.waitForSpace(size);
    }
  } else if (variant === 'postMessage') {
    // Structured clone copies the Uint8Array's bytes on every send.
    for (let i = 0; i < count; i++) {
      payload[0] = payload[last] = i & 255;
      port.postMessage(payload);
    }
  } else {
    // 'transfer': a fresh ArrayBuffer per message, filled and handed over without a copy.
    for (let i = 0; i < count; i++) {
      const ab = new ArrayBuffer(size);
      const bytes = new Uint8Array(ab);
      bytes.set(payload);
      bytes[0] = bytes[last] = i & 255;
      port.postMessage(ab, [ab]);
    }
  }
  parentPort.postMessage('sent');
});
// Only now, with the library loaded and the listener in place, may the clock start.
parentPort.postMessage('ready');
