/**
 * The inside of a ThreadPool worker: loads the task module, then runs one task at a time.
 *
 * Tasks arrive as messages on a private MessagePort. With `atomics` on, the pool also bumps
 * CTL_REQ after each post, and an idle worker blocks in Atomics.wait on that word and takes the
 * message with receiveMessageOnPort: a futex wake-up instead of a trip through the event loop.
 * The price is that the worker's event loop does not turn while it is idle (timers and I/O
 * started by a task and left running wait for the next task). Before it blocks, the worker lets
 * pending console output reach the main thread.
 */
import { parentPort, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { CTL_KIND, CTL_REQ, type WorkerInit } from './thread-protocol.js';
import { Outcome, toWireError, unwrapMoved } from './task-wire.js';

type TaskFn = (task: unknown) => unknown;

let fn: TaskFn;
let port: MessagePort;
let ctl: Int32Array;
let atomics = false;
/** A task is running (sync or awaiting). */
let busy = false;
/** The idle loop is on the stack: a task finishing inside it must not start another loop. */
let inLoop = false;
let seen = 0;

if (parentPort !== null) parentPort.once('message', (init: WorkerInit) => void boot(init));

async function boot(init: WorkerInit): Promise<void> {
  port = init.port;
  ctl = init.ctl;
  atomics = init.atomics;
  try {
    fn = pick((await import(init.href)) as Record<string, unknown>, init.href, init.name);
  } catch (err) {
    parentPort!.postMessage({ startError: toWireError(asError(err)) });
    // The module may have left handles open; a failed worker must go regardless.
    process.exit(1);
  }
  port.on('message', run);
  parentPort!.postMessage({ ready: true });
  if (atomics) idle();
}

function pick(mod: Record<string, unknown>, href: string, name: string): TaskFn {
  let f = mod[name];
  // A CommonJS module compiled from ESM puts its exports under default.
  if (typeof f !== 'function') {
    const cjs = mod.default;
    if (cjs !== null && typeof cjs === 'object') f = (cjs as Record<string, unknown>)[name];
  }
  if (typeof f !== 'function') throw new TypeError(`${href} has no function export '${name}'`);
  return f as TaskFn;
}

function run(task: unknown): void {
  busy = true;
  let r: unknown;
  try {
    r = fn(task);
  } catch (err) {
    fail(err);
    return;
  }
  if (
    r !== null &&
    typeof r === 'object' &&
    typeof (r as PromiseLike<unknown>).then === 'function'
  ) {
    (r as PromiseLike<unknown>).then(done, fail);
  } else {
    done(r);
  }
}

function done(value: unknown): void {
  Atomics.store(ctl, CTL_KIND, Outcome.Value);
  try {
    const moved = unwrapMoved(value);
    if (moved === undefined) port.postMessage(value);
    else port.postMessage(moved.value, moved.list);
  } catch (err) {
    // The result cannot be cloned (a function, a class instance with private state...).
    fail(err);
    return;
  }
  next();
}

function fail(err: unknown): void {
  if (err instanceof Error) {
    Atomics.store(ctl, CTL_KIND, Outcome.Error);
    port.postMessage(toWireError(err));
  } else {
    try {
      Atomics.store(ctl, CTL_KIND, Outcome.Thrown);
      port.postMessage(err);
    } catch {
      Atomics.store(ctl, CTL_KIND, Outcome.Error);
      port.postMessage(toWireError(new Error(`the task threw ${String(err)}`)));
    }
  }
  next();
}

function next(): void {
  busy = false;
  if (inLoop || !atomics) return;
  // Worker stdio is flushed by messages the event loop handles; blocking now would hold them.
  if (process.stdout.writableLength > 0 || process.stderr.writableLength > 0) return;
  idle();
}

/** Blocks until the pool posts a task, runs it; returns when a task went async. */
function idle(): void {
  inLoop = true;
  while (!busy) {
    Atomics.wait(ctl, CTL_REQ, seen);
    // Read the count before the port, so a task posted after this read wakes the next wait.
    seen = Atomics.load(ctl, CTL_REQ);
    const m = receiveMessageOnPort(port);
    if (m !== undefined) run(m.message);
  }
  inLoop = false;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
