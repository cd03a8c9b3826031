/**
 * ThreadPool: worker threads for CPU-bound or blocking work, shaped like piscina so code can
 * switch. Each worker runs one task at a time; a task costs one message each way on a private
 * MessagePort (with `atomics`, an idle worker is woken by Atomics.notify; see thread-worker.ts).
 */
import {
  MessageChannel,
  Worker,
  type MessagePort,
  type ResourceLimits,
  type TransferListItem,
} from 'node:worker_threads';
import { invalidArg } from '../errors.js';
import { PoolCore, Slot, SlotState, type PoolOptions } from './pool-core.js';
import {
  CTL_KIND,
  CTL_REQ,
  CTL_WORDS,
  type WorkerHello,
  type WorkerInit,
} from './thread-protocol.js';
import { fromWireError } from './task-wire.js';

const WORKER_URL = new URL('./thread-worker.js', import.meta.url);

/** Options of `new ThreadPool(...)`: the shared pool options plus thread-only ones. */
export interface ThreadPoolOptions extends PoolOptions {
  /** V8 heap limits per worker; a worker that runs out fails its task with PL_ERR_WORKER_CRASHED. */
  resourceLimits?: ResourceLimits;
  /**
   * Idle workers block in Atomics.wait and wake by futex, as piscina's default does (default
   * false: they wait in their event loops). Measured no faster here (bench/threadpool), and
   * their event loops stop while idle, so timers or sockets a task module keeps between tasks
   * stall until the next task.
   */
  atomics?: boolean;
  /** Node options for the workers (default the parent's, as for any Worker). */
  execArgv?: string[];
}

class ThreadSlot extends Slot {
  constructor(
    readonly worker: Worker,
    readonly port: MessagePort,
    readonly ctl: Int32Array,
    readonly atomics: boolean,
  ) {
    super();
  }

  post(task: unknown, transferList: readonly TransferListItem[] | undefined): void {
    this.port.postMessage(task, transferList);
    if (this.atomics) {
      // Published after the message is queued, so the woken worker finds it on the port.
      Atomics.add(this.ctl, CTL_REQ, 1);
      Atomics.notify(this.ctl, CTL_REQ, 1);
    }
  }

  stop(): void {
    // terminate() interrupts running JavaScript and Atomics.wait alike.
    void this.worker.terminate();
  }

  protected hold(on: boolean): void {
    if (on) this.worker.ref();
    else this.worker.unref();
  }
}

/**
 * A pool of worker threads running the default export of `filename` on each task.
 * Create, run and close it on one thread (the main thread or a worker thread); the tasks run on
 * the pool's own threads.
 */
export class ThreadPool<TTask = unknown, TResult = unknown> extends PoolCore<TTask, TResult> {
  readonly #resourceLimits: ResourceLimits | undefined;
  readonly #atomics: boolean;
  readonly #execArgv: string[] | undefined;

  constructor(options: ThreadPoolOptions) {
    super('ThreadPool', options);
    const { atomics = false, resourceLimits, execArgv } = options;
    if (typeof atomics !== 'boolean') throw invalidArg('ThreadPool atomics', atomics, 'a boolean');
    this.#atomics = atomics;
    this.#resourceLimits = resourceLimits;
    // Workers inherit the parent's Node options (left unset, Node copies them without
    // re-parsing). --input-type applies to -e input only and makes a worker fail to load its
    // file, so only then is a filtered list passed.
    const inputType = (a: string): boolean => a.startsWith('--input-type');
    this.#execArgv =
      execArgv ??
      (process.execArgv.some(inputType)
        ? process.execArgv.filter((a) => !inputType(a))
        : undefined);
    this.startMinimum();
  }

  /** The live worker threads (starting, idle or busy). On the pool's thread. */
  get threads(): Worker[] {
    const out: Worker[] = [];
    for (const s of this.slots()) {
      if (s.state !== SlotState.Stopping) out.push((s as ThreadSlot).worker);
    }
    return out;
  }

  protected spawnSlot(): Slot {
    const { port1, port2 } = new MessageChannel();
    const ctl = new Int32Array(new SharedArrayBuffer(CTL_WORDS * 4));
    const worker = new Worker(WORKER_URL, {
      workerData: this.options.workerData,
      ...(this.#resourceLimits !== undefined && { resourceLimits: this.#resourceLimits }),
      ...(this.#execArgv !== undefined && { execArgv: this.#execArgv }),
    });
    const slot = new ThreadSlot(worker, port1, ctl, this.#atomics);
    const init: WorkerInit = {
      port: port2,
      ctl,
      href: this.options.href,
      name: this.options.name,
      atomics: this.#atomics,
    };
    worker.postMessage(init, [port2]);
    worker.on('message', (m: WorkerHello) => {
      if ('ready' in m) this.slotReady(slot);
      else slot.error = fromWireError(m.startError);
    });
    worker.on('error', (err) => {
      slot.error ??= err;
    });
    worker.on('exit', (code) => {
      port1.close();
      this.slotExit(slot, code);
    });
    port1.on('message', (value: unknown) => {
      this.slotDone(slot, Atomics.load(ctl, CTL_KIND), value);
    });
    // The worker handle keeps the loop alive while it holds a task (Slot.setHeld), not the port.
    port1.unref();
    return slot;
  }
}
