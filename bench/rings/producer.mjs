// The producer thread of bench/rings: sends `count` messages of `size` bytes, through a ByteRing
// or a MessagePort, as soon as the main thread (the consumer) posts 'go'.
import { parentPort, workerData } from 'node:worker_threads';
import { ByteRing } from '../../dist/src/index.js';

const { variant, size, count, buffer, port } = workerData;
const payload = new Uint8Array(size).fill(0xab);

parentPort.once('message', async () => {
  if (variant.startsWith('ring')) {
    const ring = ByteRing.from(buffer);
    for (let i = 0; i < count; i++) {
      while (!ring.tryPush(payload)) await ring.waitForSpace(size);
    }
  } else if (variant === 'postMessage') {
    // Structured clone copies the Uint8Array's bytes on every send.
    for (let i = 0; i < count; i++) port.postMessage(payload);
  } else {
    // 'transfer': a fresh ArrayBuffer per message, filled and handed over without a copy.
    for (let i = 0; i < count; i++) {
      const ab = new ArrayBuffer(size);
      new Uint8Array(ab).set(payload);
      port.postMessage(ab, [ab]);
    }
  }
  parentPort.postMessage('sent');
});
// Only now, with the library loaded and the listener in place, may the clock start.
parentPort.postMessage('ready');
