/**
 * The inside of a ProcessPool child (started with child_process.fork): loads the task module,
 * then runs one task per IPC message and answers with `[Outcome, value]`. It exits as soon as
 * its parent goes away (the IPC channel disconnects), so no child outlives the pool.
 */
import { Outcome, toWireError, unwrapMoved } from './task-wire.js';
import { setWorkerData } from './worker-data.js';

/** The first message a child gets. */
export interface ChildInit {
  href: string;
  name: string;
  workerData: unknown;
}

/** What a child sends: `['ready']`, `['startError' | 'crash', WireError]` or `[Outcome, value]`. */
export type ChildMessage = ['ready'] | ['startError' | 'crash', unknown] | [Outcome, unknown];

type TaskFn = (task: unknown) => unknown;
let fn: TaskFn;

if (process.send !== undefined) {
  process.on('disconnect', () => process.exit(0));
  // Die as an uncaught error would, but tell the pool why first (it becomes the task's cause).
  process.on('uncaughtException', (err) => {
    const wire = toWireError(err instanceof Error ? err : new Error(String(err)));
    setTimeout(() => process.exit(70), 1000).unref();
    if (process.connected)
      process.send!(['crash', wire], undefined, undefined, () => process.exit(70));
    else process.exit(70);
  });
  process.once('message', (init: ChildInit) => void boot(init));
}

function send(m: ChildMessage): void {
  // After a disconnect the pool has stopped listening; 'disconnect' ends this process next.
  if (process.connected) process.send!(m);
}

async function boot(init: ChildInit): Promise<void> {
  setWorkerData(init.workerData);
  try {
    const mod = (await import(init.href)) as Record<string, unknown>;
    let f = mod[init.name];
    if (typeof f !== 'function' && mod.default !== null && typeof mod.default === 'object') {
      f = (mod.default as Record<string, unknown>)[init.name];
    }
    if (typeof f !== 'function') {
      throw new TypeError(`${init.href} has no function export '${init.name}'`);
    }
    fn = f as TaskFn;
  } catch (err) {
    const wire = toWireError(err instanceof Error ? err : new Error(String(err)));
    // Exit only once the report is written: exit() does not flush the IPC pipe.
    if (process.connected) {
      process.send!(['startError', wire], undefined, undefined, () => process.exit(1));
    } else {
      process.exit(1);
    }
    return;
  }
  process.on('message', run);
  send(['ready']);
}

function run(task: unknown): void {
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
  // Transfer lists mean nothing between processes: a moved value is sent as a copy.
  const moved = unwrapMoved(value);
  try {
    send([Outcome.Value, moved === undefined ? value : moved.value]);
  } catch (err) {
    fail(err);
  }
}

function fail(err: unknown): void {
  if (err instanceof Error) {
    send([Outcome.Error, toWireError(err)]);
    return;
  }
  try {
    send([Outcome.Thrown, err]);
  } catch {
    send([Outcome.Error, toWireError(new Error(`the task threw ${String(err)}`))]);
  }
}
