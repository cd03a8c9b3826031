/**
 * ProcessPool: the ThreadPool API over child processes (child_process.fork), for isolation: a
 * task that corrupts memory, leaks, or calls native code that crashes takes down only its own
 * process. Values travel by structured clone (`serialization: 'advanced'`): Maps, Dates, typed
 * arrays and Errors survive; `transferList` and `move()` are accepted and copy instead.
 */
import { fork, type ChildProcess, type Serializable } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PoolCore, Slot, SlotState, type PoolOptions } from './pool-core.js';
import type { ChildInit, ChildMessage } from './process-child.js';
import { fromWireError, type WireError } from './task-wire.js';

const CHILD_PATH = fileURLToPath(new URL('./process-child.js', import.meta.url));
/** How long a child that was asked to leave (idle, close) may take before it is killed. */
const LEAVE_GRACE_MS = 5_000;

/** Options of `new ProcessPool(...)`: the shared pool options plus process-only ones. */
export interface ProcessPoolOptions extends PoolOptions {
  /** Node options for the children (default none, not the parent's). */
  execArgv?: string[];
  /** The children's environment (default the parent's). */
  env?: NodeJS.ProcessEnv;
}

class ProcessSlot extends Slot {
  constructor(readonly child: ChildProcess) {
    super();
  }

  post(task: unknown): void {
    if (!this.child.connected) throw new Error('the child process has disconnected');
    this.child.send(task as Serializable);
  }

  stop(hard: boolean): void {
    if (hard || !this.child.connected) {
      this.child.kill('SIGKILL');
      return;
    }
    // An idle child leaves by itself on disconnect; kill it if it does not.
    this.child.disconnect();
    setTimeout(() => {
      if (this.child.exitCode === null && this.child.signalCode === null) {
        this.child.kill('SIGKILL');
      }
    }, LEAVE_GRACE_MS).unref();
  }

  protected hold(on: boolean): void {
    // The IPC channel keeps the loop alive as much as the process handle does.
    if (on) {
      this.child.ref();
      this.child.channel?.ref();
    } else {
      this.child.unref();
      this.child.channel?.unref();
    }
  }
}

/**
 * A pool of child processes running the default export of `filename` on each task.
 * Create, run and close it on one thread; the tasks run in the children.
 */
export class ProcessPool<TTask = unknown, TResult = unknown> extends PoolCore<TTask, TResult> {
  readonly #execArgv: string[];
  readonly #env: NodeJS.ProcessEnv | undefined;

  constructor(options: ProcessPoolOptions) {
    super('ProcessPool', options);
    this.#execArgv = options.execArgv ?? [];
    this.#env = options.env;
    this.startMinimum();
  }

  /** The live child processes (starting, idle or busy). On the pool's thread. */
  get processes(): ChildProcess[] {
    const out: ChildProcess[] = [];
    for (const s of this.slots()) {
      if (s.state !== SlotState.Stopping) out.push((s as ProcessSlot).child);
    }
    return out;
  }

  protected spawnSlot(): Slot {
    const child = fork(CHILD_PATH, [], {
      serialization: 'advanced',
      execArgv: this.#execArgv,
      ...(this.#env !== undefined && { env: this.#env }),
    });
    const slot = new ProcessSlot(child);
    child.on('message', (m: ChildMessage) => {
      const [kind, value] = m;
      if (kind === 'ready') this.slotReady(slot);
      else if (kind === 'startError' || kind === 'crash') {
        slot.error = fromWireError(value as WireError);
      } else this.slotDone(slot, kind, value);
    });
    child.on('error', (err) => {
      slot.error ??= err;
      // A spawn that failed (EAGAIN, ENOMEM) may never report an exit.
      if (child.pid === undefined) this.slotExit(slot, 'spawn error');
    });
    child.on('exit', (code, signal) => {
      // Messages still in the IPC pipe (a start error sent just before exiting) come first:
      // the channel disconnects once it has read them all.
      if (child.connected) child.once('disconnect', () => this.slotExit(slot, code ?? signal));
      else this.slotExit(slot, code ?? signal);
    });
    const init: ChildInit = {
      href: this.options.href,
      name: this.options.name,
      workerData: this.options.workerData,
    };
    child.send(init);
    return slot;
  }
}
