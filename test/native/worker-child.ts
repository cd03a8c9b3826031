// Run by acceptor.test.ts in a child process. The main thread hands a listening socket to two
// worker threads, each with its own dup() and its own acceptor: leader/follower style, one
// watches at a time. Worker 2 starts a sendFile that waits on a full socket. Then both workers
// are terminated with their acceptors started: the addon's cleanup hooks must close every handle,
// or Node aborts the process at the worker's uv_loop_close. The main thread accepts afterwards.
import { openSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { requireNative } from '../../native/index.js';

const FILE_SIZE = 16 * 1024 * 1024;

interface Job {
  id: number;
  fd: number;
  file: string;
}

class Peer {
  private readonly inbox: string[] = [];
  private wake: (() => void) | undefined;
  readonly worker: Worker;

  constructor(job: Job) {
    this.worker = new Worker(new URL(import.meta.url), { workerData: job });
    this.worker.on('message', (m: string) => {
      this.inbox.push(m);
      this.wake?.();
    });
    this.worker.on('error', (err) => {
      console.error(`worker ${job.id} failed:`, err);
      process.exit(3);
    });
  }

  async next(): Promise<string> {
    while (this.inbox.length === 0) await new Promise<void>((r) => (this.wake = r));
    return this.inbox.shift()!;
  }

  async ask(command: string): Promise<string> {
    this.worker.postMessage(command);
    return this.next();
  }
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

async function main(): Promise<void> {
  const guard = setTimeout(() => {
    console.error('worker-child: stuck');
    process.kill(process.pid, 'SIGKILL'); // process.exit() would wait for the stuck workers
  }, 50_000);
  const n = requireNative('worker test');
  const lfd = n.listen({ host: '127.0.0.1', port: 0 });
  const port = n.localPort(lfd);
  const file = join(tmpdir(), `polyloop-worker-child-${process.pid}`);
  writeFileSync(file, Buffer.alloc(FILE_SIZE, 7));
  try {
    const w1 = new Peer({ id: 1, fd: n.dup(lfd), file });
    const w2 = new Peer({ id: 2, fd: n.dup(lfd), file });
    await w1.next(); // ready
    await w2.next();
    await w1.ask('start');
    const c1 = await connect(port);
    console.log(await w1.next());
    await w1.ask('stop'); // hand the watch over
    await w2.ask('start');
    const c2 = await connect(port);
    c2.pause(); // never read: worker 2's sendFile fills the socket and waits
    console.log(await w2.next());
    console.log(await w2.next());
    await w1.ask('start'); // both watch now; both are started when terminated
    await w1.worker.terminate();
    console.log('terminated 1');
    await w2.worker.terminate();
    console.log('terminated 2');
    c1.destroy();
    c2.destroy();

    let accepted = 0;
    const acceptor = n.createAcceptor(lfd, (fds) => {
      accepted += fds.length;
      fds.forEach((fd) => n.close(fd));
    });
    acceptor.start();
    const c3 = await connect(port);
    while (accepted === 0) await new Promise((r) => setTimeout(r, 10));
    console.log('main still accepts');
    c3.destroy();
    acceptor.close();
    n.close(lfd);
  } finally {
    unlinkSync(file);
    clearTimeout(guard);
  }
}

function worker(): void {
  const { id, fd, file } = workerData as Job;
  const port = parentPort!;
  const n = requireNative('worker test');
  const kept: net.Socket[] = [];
  const acceptor = n.createAcceptor(fd, (fds, peers) => {
    fds.forEach((afd, i) => {
      port.postMessage(`worker ${id} accepted ${(peers[i] ?? '').split(':')[0]}`);
      if (id === 1) {
        kept.push(new net.Socket({ fd: afd, readable: true, writable: true }));
        return;
      }
      const task = n.sendFile(afd, openSync(file, 'r'), 0, FILE_SIZE);
      task.catch(() => {});
      const check = setInterval(() => {
        if (task.waits === 0) return;
        clearInterval(check);
        port.postMessage(`worker ${id} sendFile waiting`);
      }, 5);
    });
  });
  port.on('message', (command: string) => {
    if (command === 'start') acceptor.start();
    else acceptor.stop();
    port.postMessage(command);
  });
  port.postMessage('ready');
}

if (isMainThread) await main();
else worker();
