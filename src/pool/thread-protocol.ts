/** What a ThreadPool and its workers agree on. Imported by both sides; keep it small. */
import type { MessagePort } from 'node:worker_threads';

/** Int32 words of the control block each worker shares with its pool. */
/** Bumped by the pool after it posts a task; an idle worker waits for it to change. */
export const CTL_REQ = 0;
/** The Outcome of the message the worker is posting (written before the post). */
export const CTL_KIND = 1;
export const CTL_WORDS = 2;

/** The first message a worker gets. */
export interface WorkerInit {
  port: MessagePort;
  ctl: Int32Array;
  href: string;
  name: string;
  atomics: boolean;
}

/** What a worker posts on its parentPort while starting. */
export type WorkerHello = { ready: true } | { startError: import('./task-wire.js').WireError };
