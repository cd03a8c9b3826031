/**
 * The main thread's handle on one worker loop, thread or process: starts it, talks to it, and
 * reports how it ended. Call everything from the main thread.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { Worker } from 'node:worker_threads';
import { createError } from '../errors.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';

const ENTRY = new URL('./worker-main.js', import.meta.url);

export interface WorkerHostEvents {
  message: [msg: FromWorker];
  /** The worker ended; `expected` when it drained or was stopped on purpose. */
  exit: [info: { code: number | null; error: Error | undefined; expected: boolean }];
}

export class WorkerHost extends EventEmitter<WorkerHostEvents> {
  readonly ready: Promise<number>;
  private thread: Worker | undefined;
  private child: ChildProcess | undefined;
  private settleReady!: { resolve: (port: number) => void; reject: (err: Error) => void };
  private isReady = false;
  private exited = false;
  private stopping = false;
  private lastError: Error | undefined;
  readonly exitedPromise: Promise<void>;
  private markExited!: () => void;

  /** `scmFd`: for a process, the Unix socket end that becomes its fd 4. */
  constructor(
    readonly init: WorkerInit,
    scmFd?: number,
  ) {
    super();
    this.ready = new Promise((resolve, reject) => {
      this.settleReady = { resolve, reject };
    });
    // A worker that fails before ready is reported through `ready`; nobody else must see it twice.
    this.ready.catch(() => {});
    this.exitedPromise = new Promise((resolve) => {
      this.markExited = resolve;
    });
    if (init.workers === 'thread') this.startThread();
    else this.startProcess(scmFd);
  }

  get id(): number {
    return this.init.id;
  }

  get alive(): boolean {
    return !this.exited;
  }

  get isProcess(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  post(msg: ToWorker): void {
    if (this.exited) return;
    if (this.thread !== undefined) this.thread.postMessage(msg);
    else if (this.child?.connected === true) this.child.send(msg);
  }

  /** Passes an accepted socket with Node's IPC handle passing (processes without the addon). */
  sendSocket(socket: net.Socket, onSent: (err: Error | null) => void): void {
    if (this.child?.connected !== true) {
      onSent(new Error('worker is gone'));
      return;
    }
    this.child.send('conn', socket, { keepOpen: false }, (err) => onSent(err));
  }

  /** Asks the loop to stop accepting and drain; kills it if it has not left `grace` ms later. */
  async drain(timeout: number, grace = 2000): Promise<void> {
    if (this.exited) return;
    this.stopping = true;
    this.post({ t: 'drain', timeout });
    const timer = setTimeout(() => this.kill(), timeout + grace);
    await this.exitedPromise;
    clearTimeout(timer);
  }

  /** Ends the worker now. Its connections close with it. */
  kill(): void {
    if (this.exited) return;
    this.stopping = true;
    if (this.thread !== undefined) void this.thread.terminate();
    else this.child?.kill('SIGKILL');
  }

  private onMessage(msg: FromWorker): void {
    if (msg.t === 'ready') {
      this.isReady = true;
      this.settleReady.resolve(msg.port);
    } else if (msg.t === 'fatal') {
      const err = createError(
        'PL_ERR_WORKER_START',
        `loop ${this.init.id} failed: ${msg.message}`,
      ) as Error & { workerCode?: string };
      if (msg.code !== undefined) err.workerCode = msg.code;
      this.lastError = err;
      if (!this.isReady) this.settleReady.reject(err);
    } else if (msg.t === 'hello') {
      this.child?.send({ t: 'init', init: this.init } satisfies ToWorker);
    }
    this.emit('message', msg);
  }

  private onExit(code: number | null, error?: Error): void {
    if (this.exited) return;
    this.exited = true;
    const err = error ?? this.lastError;
    if (!this.isReady) {
      this.settleReady.reject(
        err ??
          createError(
            'PL_ERR_WORKER_START',
            `loop ${this.init.id} exited with code ${String(code)} before it was ready`,
          ),
      );
    }
    this.markExited();
    this.emit('exit', { code, error: err, expected: this.stopping });
  }

  private startThread(): void {
    const w = new Worker(ENTRY, {
      workerData: this.init,
      name: `polyloop-loop-${this.init.id}`,
      // execArgv is left alone: a thread inherits the parent's flags (loaders included), and
      // passing process.execArgv explicitly fails on flags a worker may not take.
    });
    this.thread = w;
    w.on('message', (msg: FromWorker) => this.onMessage(msg));
    w.on('error', (err) => {
      this.lastError = err;
    });
    w.on('exit', (code) => this.onExit(code, this.lastError));
  }

  private startProcess(scmFd: number | undefined): void {
    const stdio: (number | 'inherit' | 'ipc' | 'ignore')[] = [
      'ignore',
      'inherit',
      'inherit',
      'ipc',
    ];
    if (scmFd !== undefined) stdio.push(scmFd);
    const child = fork(ENTRY, [], {
      stdio,
      serialization: 'advanced',
      execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')),
    });
    this.child = child;
    child.on('message', (msg: FromWorker) => this.onMessage(msg));
    child.on('error', (err) => {
      this.lastError = err;
    });
    child.on('exit', (code, signal) =>
      this.onExit(code ?? (signal !== null ? 128 : null), this.lastError),
    );
  }
}
