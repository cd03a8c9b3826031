/**
 * `workerData` for task modules that run under either pool. In a ThreadPool worker it is
 * worker_threads' `workerData`; a ProcessPool child has no such thing, so its bootstrap keeps
 * the value here (under a Symbol.for key, so that every copy of this module finds it).
 */
import { workerData as threadData } from 'node:worker_threads';

const kData = Symbol.for('polyloop.pool.workerData');
type Holder = { [kData]?: { value: unknown } };

/** Called once by the ProcessPool child bootstrap, before the task module loads. */
export function setWorkerData(value: unknown): void {
  (globalThis as Holder)[kData] = { value };
}

/**
 * The pool's `workerData` option as seen inside a task module, under ThreadPool and ProcessPool
 * alike (undefined elsewhere). Call it on the worker's own thread.
 */
export function poolWorkerData(): unknown {
  const box = (globalThis as Holder)[kData];
  return box !== undefined ? box.value : threadData;
}
