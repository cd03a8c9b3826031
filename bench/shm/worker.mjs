// One thread of bench/shm: warms up on private copies (so that the timed loop runs optimized
// code), waits for the go word, runs `ops` operations on the shared ones, posts how many it did.
import { parentPort, workerData } from 'node:worker_threads';
import { RwLock, SharedCounters } from '../../dist/src/index.js';

const { bench, variant, ops } = workerData;

function run(counters, word, lock, record, n) {
  let done = 0;
  if (bench === 'counters') {
    if (variant === 'rows') {
      const slot = counters.claim();
      for (let i = 0; i < n; i++) slot.add(0);
      slot.release();
    } else {
      for (let i = 0; i < n; i++) Atomics.add(word, 0, 1);
    }
    return n;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (variant === 'read') {
      lock.readLock();
      for (let w = 0; w < 16; w++) sum += record[w];
      lock.readUnlock();
    } else {
      lock.writeLock();
      for (let w = 0; w < 16; w++) sum += record[w];
      lock.writeUnlock();
    }
    done++;
  }
  return sum === 0 ? done : -1;
}

const record = new Int32Array(workerData.record);
run(
  SharedCounters.create({ names: ['n'], slots: 1 }),
  new Int32Array(new SharedArrayBuffer(64)),
  new RwLock(),
  record,
  Math.min(ops, 200_000),
);
const go = new Int32Array(workerData.go);
parentPort.postMessage('ready');
Atomics.wait(go, 0, 0);
parentPort.postMessage(
  run(
    SharedCounters.from(workerData.counters),
    new Int32Array(workerData.word),
    new RwLock(workerData.lock),
    record,
    ops,
  ),
);
