// A worker thread (a loop of its own) that opens its own SqliteStore on a shared file, writes
// keys `${prefix}0..n-1` with many in flight, closes the store and posts 'done'.
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from '../../src/index.js';

const { path, prefix, n } = workerData as { path: string; prefix: string; n: number };
const store = await SqliteStore.open({ path });
await Promise.all(Array.from({ length: n }, (_, i) => store.set(`${prefix}${i}`, i)));
await store.close();
parentPort!.postMessage('done');
