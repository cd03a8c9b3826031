/**
 * Entry point of a worker loop, thread or process. A thread reads its `WorkerInit` from
 * workerData; a child process says `hello` once it listens and then receives `init`.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { LoopRuntime, type Channel } from './loop-runtime.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';

function startFailed(channel: Channel, err: unknown): void {
  const e = err as { message?: string; code?: string };
  channel.post({
    t: 'fatal',
    message: e?.message ?? String(err),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
  });
  channel.exit(1);
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  const channel: Channel = {
    post: (msg: FromWorker) => port.postMessage(msg),
    exit: (code) => {
      port.close();
      process.exit(code);
    },
  };
  const runtime = new LoopRuntime(workerData as WorkerInit, channel);
  port.on('message', (msg: ToWorker) => runtime.onMessage(msg));
  runtime.start().catch((err: unknown) => startFailed(channel, err));
} else if (typeof process.send === 'function') {
  const channel: Channel = {
    post: (msg: FromWorker) => {
      if (process.connected) process.send!(msg);
    },
    exit: (code) => {
      // Let the last message reach the parent before leaving.
      if (process.connected) process.send!({ t: 'bye' }, () => process.exit(code));
      else process.exit(code);
    },
  };
  let runtime: LoopRuntime | undefined;
  // The parent going away ends this loop: a worker never outlives its server.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (msg: ToWorker | string, handle?: unknown) => {
    if (runtime !== undefined) {
      runtime.onMessage(msg, handle);
      return;
    }
    if (typeof msg === 'object' && msg.t === 'init') {
      runtime = new LoopRuntime(msg.init, channel);
      runtime.start().catch((err: unknown) => startFailed(channel, err));
    }
  });
  channel.post({ t: 'hello' });
} else {
  process.stderr.write('polyloop: worker-main runs only as a worker loop started by serve()\n');
  process.exitCode = 1;
}
