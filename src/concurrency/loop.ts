/**
 * What an application sees of the loop it runs on: its id, how many loops there are, and a way
 * to reach the others. Messages are structured-cloned (thread and process loops alike), so send
 * plain data, never connections.
 */
import { createError } from '../errors.js';
import type { Model, WorkerKind } from './options.js';

export type LoopMessageHandler = (data: unknown, from: number) => void;

/** The loop running this code. Call its methods only from that loop. */
export interface LoopInfo {
  /** 0..count-1, stable across restarts and reloads. */
  readonly id: number;
  readonly count: number;
  readonly model: Model;
  readonly workers: WorkerKind | 'main';
  /** `args` from the serve options. */
  readonly args: unknown;
  /** Sends `data` to every other loop. */
  broadcast(data: unknown): void;
  /** Sends `data` to loop `id` (itself included). Dropped if that loop is restarting. */
  sendTo(id: number, data: unknown): void;
  /** Receives what other loops send. Returns a function that removes the handler. */
  onMessage(handler: LoopMessageHandler): () => void;
  /**
   * Runs `cleanup` when this loop stops (shutdown, reload, or the end of a reactor server), after
   * its connections have closed: close the stores and pools the app opened for this loop.
   */
  onClose(cleanup: () => void | Promise<void>): void;
}

/** @internal How a loop's messages leave it: the runtime of the loop supplies it. */
export type LoopPost = (to: number, data: unknown) => void;

class Loop implements LoopInfo {
  private readonly handlers: LoopMessageHandler[] = [];
  private readonly cleanups: (() => void | Promise<void>)[] = [];

  constructor(
    readonly id: number,
    readonly count: number,
    readonly model: Model,
    readonly workers: WorkerKind | 'main',
    readonly args: unknown,
    private readonly post: LoopPost,
  ) {}

  broadcast(data: unknown): void {
    if (this.count > 1) this.post(-1, data);
  }

  sendTo(id: number, data: unknown): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.count) {
      throw createError(
        'PL_ERR_INVALID_ARG',
        `sendTo: no loop ${String(id)} (0..${this.count - 1})`,
      );
    }
    if (id === this.id) queueMicrotask(() => this.deliver(data, id));
    else this.post(id, data);
  }

  onMessage(handler: LoopMessageHandler): () => void {
    this.handlers.push(handler);
    return () => {
      const i = this.handlers.indexOf(handler);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  onClose(cleanup: () => void | Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  /** @internal Runs the cleanups, newest first; one that fails does not stop the others. */
  async runCleanups(): Promise<unknown[]> {
    const errors: unknown[] = [];
    for (const c of this.cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        errors.push(err);
      }
    }
    return errors;
  }

  /** @internal */
  deliver(data: unknown, from: number): void {
    for (const h of [...this.handlers]) h(data, from);
  }
}

let current: Loop | undefined;

/**
 * The loop this code runs on. Inside an app module loaded by `serve` it is always set; elsewhere
 * (a plain `TcpServer`) it is a single loop with nobody to talk to.
 */
export function currentLoop(): LoopInfo {
  return (current ??= new Loop(0, 1, 'reactor', 'main', undefined, () => {}));
}

/** @internal Installs this thread's loop; returns its message sink. */
export function installLoop(
  id: number,
  count: number,
  model: Model,
  workers: WorkerKind | 'main',
  args: unknown,
  post: LoopPost,
): (data: unknown, from: number) => void {
  const loop = new Loop(id, count, model, workers, args, post);
  current = loop;
  return (data, from) => loop.deliver(data, from);
}

/** @internal Runs the current loop's `onClose` cleanups; returns what they threw. */
export function closeLoop(): Promise<unknown[]> {
  return current?.runCleanups() ?? Promise.resolve([]);
}
