import type { Socket } from 'node:net';
import { tryNative, type NativeAddon } from '../../native/index.js';
import type { Codec, Decoder } from '../codec/codec.js';
import { createError, isPolyloopError, type PolyloopError } from '../errors.js';
import type { Logger } from '../log.js';
import { ByteBuffer } from './byte-buffer.js';
import { defaultBufferPool, type BufferPool } from './buffer-pool.js';
import type { ReadArena } from './adopt.js';
import { transferFile, type SendFileOptions } from './send-file.js';
import type { TimingWheel, WheelEntry } from './timing-wheel.js';

export type ConnectionState = 'connecting' | 'connected' | 'disconnecting' | 'disconnected';

/** Why a connection closed, as passed to `onClose`. */
export interface CloseReason {
  /**
   * `peer`: the peer closed or reset it; `local`: this side called close/forceClose; `idle`: the
   * idle timeout fired; `server`: the server shut down; `error`: a protocol, handler or socket
   * error, given in `error`.
   */
  readonly by: 'peer' | 'local' | 'idle' | 'server' | 'error';
  readonly error?: PolyloopError;
}

const PEER: CloseReason = Object.freeze({ by: 'peer' });
const LOCAL: CloseReason = Object.freeze({ by: 'local' });
const IDLE: CloseReason = Object.freeze({ by: 'idle' });
const SERVER: CloseReason = Object.freeze({ by: 'server' });

/** The callbacks of an application. Every callback runs on the connection's own loop. */
export interface Handlers<In, Out, Ctx> {
  /** The connection is established and ready to send. */
  onConnection?(conn: Connection<In, Out, Ctx>): void;
  /**
   * A whole message arrived (a decoded frame, or with no codec, the bytes of one read). Views are
   * valid only during the call: copy what you keep.
   */
  onMessage?(conn: Connection<In, Out, Ctx>, msg: In): void;
  /** Everything sent so far has been handed to the kernel. Use it to pace large transfers. */
  onWriteComplete?(conn: Connection<In, Out, Ctx>): void;
  /** Queued output crossed `highWaterMark`. By default reading also pauses until it drains. */
  onHighWaterMark?(conn: Connection<In, Out, Ctx>, queuedBytes: number): void;
  /** The connection is closed; called exactly once for every connection that was established. */
  onClose?(conn: Connection<In, Out, Ctx>, reason: CloseReason): void;
}

/**
 * An application: a codec, the callbacks, and an optional per-connection context factory.
 * Without a codec, messages are the raw bytes of each read (`Buffer`).
 */
export interface App<In = Buffer, Out = Uint8Array | string, Ctx = undefined> extends Handlers<
  In,
  Out,
  Ctx
> {
  codec?: Codec<In, Out>;
  /** Creates `conn.context` for each new connection, before `onConnection`. */
  context?(conn: Connection<In, Out, Ctx>): Ctx;
}

/** Gives an application its types; returns it unchanged. */
export function defineApp<In = Buffer, Out = Uint8Array | string, Ctx = undefined>(
  app: App<In, Out, Ctx>,
): App<In, Out, Ctx> {
  return app;
}

/** Connection tuning shared by servers and clients. */
export interface ConnectionOptions {
  /** Queued output (bytes) above which `onHighWaterMark` fires. Default 1 MiB. */
  highWaterMark?: number;
  /** Pause reading while queued output is above the high-water mark. Default true. */
  pauseOnHighWaterMark?: boolean;
  /** Disable Nagle's algorithm. Default true. */
  noDelay?: boolean;
  /**
   * Where connections take their input and output buffers from: a `BufferPool`, or `false` for
   * plain allocations. Default: the thread's `defaultBufferPool()`.
   */
  bufferPool?: BufferPool | false;
}

/** What a connection needs from the server or client that owns it. */
export interface ConnectionOwner<In, Out, Ctx> {
  readonly app: App<In, Out, Ctx>;
  readonly logger: Logger;
  readonly highWaterMark: number;
  readonly pauseOnHighWaterMark: boolean;
  /** The `bufferPool` option; undefined: the thread's default pool. */
  readonly bufferPool?: BufferPool | false | undefined;
  /** Called once, after `onClose`. */
  connectionClosed(conn: Connection<In, Out, Ctx>, reason: CloseReason): void;
  /** Counts errors by code for the owner's statistics. */
  countError(code: string): void;
}

let nextId = 1;

/** The addon's non-blocking send, resolved on first use per thread; null: not looked up yet. */
let directSend: NativeAddon['writeBytes'] | undefined | null = null;

/**
 * The libuv handle behind a plain TCP socket and its fd, or undefined: TLS, pipes, and sockets
 * still connecting or already closed go through `socket.write` only. Node keeps the handle in
 * `_handle` (null once the socket is destroyed and the fd closed).
 */
function tcpHandle(socket: Socket): { fd: number } | undefined {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  if (handle == null || handle.constructor?.name !== 'TCP') return undefined;
  return typeof handle.fd === 'number' && handle.fd > 0 ? (handle as { fd: number }) : undefined;
}

/**
 * One TCP connection, owned by one loop from accept (or connect) to close.
 *
 * Call every method only from the connection's own loop. Output is batched: everything sent
 * while a read is being handled goes out in one write when the handler returns.
 */
export class Connection<In = Buffer, Out = Uint8Array | string, Ctx = undefined> {
  /** Process-unique id. */
  readonly id = nextId++;
  /** Per-connection application state, from the app's `context` factory. */
  context: Ctx;
  readonly createdAt = Date.now();
  lastActiveAt = this.createdAt;
  bytesIn = 0;
  bytesOut = 0;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;

  /** @internal The idle-timeout wheel and this connection's entry in it, set by the server. */
  idleWheel: TimingWheel<Connection<In, Out, Ctx>> | undefined;
  /** @internal */
  idleEntry: WheelEntry<Connection<In, Out, Ctx>> | undefined;

  private stateValue: ConnectionState = 'connecting';
  private readonly socket: Socket;
  private readonly owner: ConnectionOwner<In, Out, Ctx>;
  private readonly codec: Codec<In, Out> | undefined;
  private readonly decoder: Decoder<In> | undefined;
  /** Bytes received but not yet decoded (codec connections only). */
  private input: ByteBuffer | undefined;
  /** Reused to decode straight from a read chunk when nothing is pending. */
  private chunkView: ByteBuffer | undefined;
  /** Encoded output waiting for the end of the current dispatch. */
  private output: ByteBuffer | undefined;
  /** The loop's shared read buffer, when reads land there: views of it must not be queued. */
  private readonly arena: ReadArena | undefined;
  /** Where `input` and `output` get their storage; undefined: plain allocations. */
  private readonly pool: BufferPool | undefined;
  /** Pooled output storage a pending write still reads, released when write `heldUntil` is done. */
  private readonly held: Uint8Array[] = [];
  private readonly heldUntil: number[] = [];
  private writesIssued = 0;
  private writesDone = 0;
  private dispatching = false;
  private flushQueued = false;
  private pendingWrites = 0;
  private aboveHighWaterMark = false;
  private pausedByUser = false;
  private pausedForOutput = false;
  private reason: CloseReason | undefined;
  private delayedClose: NodeJS.Timeout | undefined;
  private readonly afterWrite = (err?: Error | null): void => this.onWritten(err);
  /**
   * The socket's TCP handle and fd while writes may go straight to the kernel with the addon's
   * `writeBytes` (see `write`); undefined: always through `socket.write`.
   */
  private directHandle: object | undefined;
  private directFd = -1;
  private writeBytes: NativeAddon['writeBytes'] | undefined;

  /**
   * @internal Created by a server or client. With an `arena`, the socket reads into that loop-wide
   * buffer and calls `receive` itself (see `adopt`); otherwise 'data' events feed the connection.
   */
  constructor(
    socket: Socket,
    owner: ConnectionOwner<In, Out, Ctx>,
    noDelay: boolean,
    arena?: ReadArena,
  ) {
    this.arena = arena;
    this.fileTarget.socket = socket;
    this.socket = socket;
    this.owner = owner;
    const pool = owner.bufferPool;
    this.pool = pool === false ? undefined : (pool ?? defaultBufferPool());
    this.codec = owner.app.codec;
    this.decoder = this.codec?.createDecoder();
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
    if (noDelay) socket.setNoDelay(true);
    this.context = undefined as Ctx;
  }

  /** @internal Wires the socket and runs `context` and `onConnection`. Called once by the owner. */
  establish(): void {
    const socket = this.socket;
    if (this.arena === undefined) socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
    socket.on('close', () => this.onClosed());
    if (directSend === null) directSend = tryNative()?.writeBytes;
    const handle = directSend !== undefined ? tcpHandle(socket) : undefined;
    if (handle !== undefined && !socket.connecting) {
      this.directHandle = handle;
      this.directFd = handle.fd;
      this.writeBytes = directSend!;
    }
    this.stateValue = 'connected';
    const app = this.owner.app;
    try {
      if (app.context !== undefined) this.context = app.context(this);
      app.onConnection?.(this);
    } catch (err) {
      this.handlerFailed('onConnection', err);
      return;
    }
    this.flush();
  }

  get state(): ConnectionState {
    return this.stateValue;
  }
  get connected(): boolean {
    return this.stateValue === 'connected';
  }
  /** Output accepted by `send` and not yet handed to the kernel, in bytes. */
  get queuedBytes(): number {
    return this.socket.writableLength + (this.output?.readableBytes ?? 0);
  }
  /** False while reading is paused, by `pauseReading` or by backpressure. */
  get reading(): boolean {
    return !this.pausedByUser && !this.pausedForOutput;
  }

  /**
   * Sends a message (encoded by the codec; without one, bytes or a UTF-8 string). Returns false
   * and drops the message when the connection is no longer open for sending.
   */
  send(msg: Out): boolean {
    if (this.stateValue !== 'connected') return false;
    const codec = this.codec;
    if (codec === undefined) {
      const data = msg as unknown as Uint8Array | string;
      const out = this.output;
      if (this.fileTransfers > 0 || (out !== undefined && out.readableBytes > 0)) {
        // Something is queued ahead of it: keep the order.
        this.outputBuffer().append(data);
        this.scheduleFlush();
      } else if (typeof data === 'string' || this.arena === undefined || !this.arena.owns(data)) {
        this.write(data); // raw bytes go straight to the socket, without a copy
      } else if (this.pendingWrites === 0 && this.socket.writableLength === 0) {
        // A view of the loop's read buffer, on an idle socket: the write almost always completes
        // at once. If it did not, the pending write keeps that buffer and reads move to a new one.
        this.write(data);
        if (this.socket.writableLength > 0) this.arena.retire();
      } else {
        // Already backed up: the write will wait, so it gets its own exact-size copy.
        this.write(Buffer.from(data));
      }
      return true;
    }
    codec.encode(msg, this.outputBuffer());
    this.scheduleFlush();
    return true;
  }

  private outputBuffer(): ByteBuffer {
    return (this.output ??=
      this.pool !== undefined ? ByteBuffer.pooled(this.pool) : new ByteBuffer(4096));
  }

  /** Flushes batched output when the current dispatch ends, or at the end of this tick. */
  private scheduleFlush(): void {
    if (this.dispatching || this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  /**
   * Sends a file (or `{ offset, length }` of it) in order with everything else: after what was
   * sent before, before what is sent after. With the native addon the bytes go with sendfile(2)
   * and never enter JavaScript; without it, through a buffered copy. Resolves with the bytes
   * sent. A file shorter than `offset + length` closes the connection with
   * `PL_ERR_FILE_TRUNCATED`; a peer that goes away rejects it and nothing leaks. An fd passed in
   * stays the caller's to close.
   */
  sendFile(file: string | number, options: SendFileOptions = {}): Promise<number> {
    if (this.stateValue !== 'connected') {
      return Promise.reject(createError('PL_ERR_NOT_CONNECTED', `sendFile on ${this.toString()}`));
    }
    // What was sent before this call goes first: straight out if no transfer is running, else
    // it is taken now and written just before this file.
    let before: Uint8Array | undefined;
    if (this.fileTransfers === 0) this.flush();
    else if (this.output !== undefined && this.output.readableBytes > 0) {
      before = this.output.readCopy(this.output.readableBytes);
      if (this.pool !== undefined) this.output.release();
    }
    this.fileTransfers++;
    const run = async (): Promise<number> => {
      try {
        if (before !== undefined && this.stateValue !== 'disconnected') this.write(before);
        await this.whenDrained();
        if (this.stateValue === 'disconnected' || this.socket.destroyed) {
          throw createError('PL_ERR_NOT_CONNECTED', `${this.toString()} closed before its file`);
        }
        const sent = await transferFile(this.fileTarget, file, options);
        this.bytesOut += sent + (options.head?.length ?? 0);
        return sent;
      } catch (err) {
        if (isPolyloopError(err, 'PL_ERR_FILE_TRUNCATED'))
          this.closeWith({ by: 'error', error: err });
        throw err;
      } finally {
        this.fileTransfers--;
        this.flush();
      }
    };
    const result = this.fileQueue.then(run);
    this.fileQueue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /**
   * Resolves once everything written so far reached the kernel (or the connection closed): a
   * one-off alternative to `onWriteComplete`. Call only from the connection's own loop.
   */
  whenDrained(): Promise<void> {
    if (this.pendingWrites === 0 && this.socket.writableLength === 0) return Promise.resolve();
    if (this.stateValue === 'disconnected') return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private fileTransfers = 0;
  private fileQueue: Promise<void> = Promise.resolve();
  private cancelFile: (() => void) | undefined;
  private readonly drainWaiters: (() => void)[] = [];
  private readonly fileTarget = {
    socket: undefined as unknown as Socket,
    open: (): boolean => this.stateValue === 'connected' || this.stateValue === 'disconnecting',
    onCancel: (cancel: (() => void) | undefined): void => {
      this.cancelFile = cancel;
    },
  };

  /** Half-closes: once queued output is sent, sends FIN. Reading goes on until the peer closes. */
  shutdown(): void {
    if (this.stateValue !== 'connected') return;
    this.stateValue = 'disconnecting';
    this.afterFiles(() => {
      this.flush();
      this.socket.end();
    });
  }

  /** Runs `fn` now, or once the file transfers in flight are done (the FIN must follow them). */
  private afterFiles(fn: () => void): void {
    if (this.fileTransfers === 0) fn();
    else void this.fileQueue.then(fn);
  }

  /** Closes gracefully: queued output is sent, then FIN, then the socket is released. */
  close(): void {
    this.closeWith(LOCAL);
  }

  /** Closes now, discarding queued output. */
  forceClose(): void {
    this.reason ??= LOCAL;
    this.socket.destroy();
  }

  /** Gives the peer `ms` to finish, then force-closes. */
  forceCloseWithDelay(ms: number): void {
    if (this.stateValue === 'disconnected' || this.delayedClose !== undefined) return;
    this.delayedClose = setTimeout(() => this.forceClose(), ms);
  }

  /** Stops delivering messages (and reading from the socket) until `resumeReading`. */
  pauseReading(): void {
    this.pausedByUser = true;
    this.socket.pause();
  }

  /** Resumes delivery, including messages already buffered. */
  resumeReading(): void {
    if (!this.pausedByUser) return;
    this.pausedByUser = false;
    if (this.pausedForOutput) return;
    this.socket.resume();
    if (this.input !== undefined && this.input.readableBytes > 0) {
      setImmediate(() => {
        if (!this.reading || this.stateValue === 'disconnected') return;
        this.dispatch(this.input!);
        this.releaseDrainedInput();
      });
    }
  }

  setNoDelay(on = true): void {
    this.socket.setNoDelay(on);
  }

  toString(): string {
    return `Connection#${this.id}(${this.remoteAddress}:${this.remotePort} ${this.stateValue})`;
  }

  /** @internal Closes with a given reason (idle, server shutdown, errors). */
  closeWith(reason: CloseReason): void {
    if (this.stateValue === 'disconnected') return;
    this.reason ??= reason;
    if (reason.error !== undefined) {
      this.socket.destroy();
      return;
    }
    this.stateValue = 'disconnecting';
    const socket = this.socket;
    this.afterFiles(() => {
      this.flush();
      if (socket.writableFinished) socket.destroy();
      else {
        socket.once('finish', () => socket.destroy());
        socket.end();
      }
    });
  }

  /** @internal */
  closeForIdle(): void {
    this.closeWith(IDLE);
  }

  /** @internal */
  closeForServer(force: boolean): void {
    if (force) {
      this.reason ??= SERVER;
      this.socket.destroy();
    } else this.closeWith(SERVER);
  }

  // ---- internals ------------------------------------------------------------------------------

  private write(data: Uint8Array | string): void {
    if (typeof data !== 'string' && data.length > 0 && this.writeBytes !== undefined) {
      const sent = this.writeDirect(data, 0, data.length);
      if (sent === data.length) return;
      if (sent > 0) data = data.subarray(sent);
    }
    this.queueWrite(data);
  }

  /** Writes through the socket's queue: completion comes back in `afterWrite`. */
  private queueWrite(data: Uint8Array | string): void {
    const socket = this.socket;
    this.pendingWrites++;
    this.writesIssued++;
    socket.write(data, this.afterWrite);
    this.bytesOut += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    const queued = socket.writableLength;
    if (queued > this.owner.highWaterMark && !this.aboveHighWaterMark) {
      this.aboveHighWaterMark = true;
      if (this.owner.pauseOnHighWaterMark && !this.pausedForOutput) {
        this.pausedForOutput = true;
        socket.pause();
      }
      try {
        this.owner.app.onHighWaterMark?.(this, queued);
      } catch (err) {
        this.handlerFailed('onHighWaterMark', err);
      }
    }
  }

  /**
   * With the addon and nothing queued in the socket: one send(2) of `bytes[offset, offset +
   * length)` now, without the stream machinery's objects per write (request, callback, tick).
   * Returns the bytes the kernel took; when that is all of them the write is complete (and
   * counted as one). The rest is for `queueWrite`, after these bytes, so ordering, backpressure
   * and errors stay in one place: a failed send returns 0 and the queued write reports the
   * error the usual way. The handle check keeps a closed socket's fd number, which another
   * connection may own by now, from ever being written.
   */
  private writeDirect(bytes: Uint8Array, offset: number, length: number): number {
    const socket = this.socket;
    if (
      this.writeBytes === undefined ||
      this.pendingWrites !== 0 ||
      socket.writableLength !== 0 ||
      socket.writableCorked !== 0 ||
      socket.writableEnded ||
      this.fileTransfers > 0 ||
      (socket as unknown as { _handle: unknown })._handle !== this.directHandle
    )
      return 0;
    const n = this.writeBytes(this.directFd, bytes, offset, length);
    if (n <= 0) return 0; // -EAGAIN (full) or an error
    this.bytesOut += n;
    if (n === length) {
      this.writesIssued++;
      this.writesDone++;
      this.writesDrained();
    }
    return n;
  }

  /** Hands batched output to the socket. */
  private flush(): void {
    const out = this.output;
    if (out === undefined || out.readableBytes === 0 || this.fileTransfers > 0) return;
    if (this.stateValue === 'disconnected' || this.socket.destroyed) {
      out.retrieveAll();
      return;
    }
    const pool = this.pool;
    if (pool !== undefined && this.writeBytes !== undefined) {
      // Sent from the pooled storage itself: no view of it per flush. Pooled output is never
      // borrowed storage, so its prependable bytes are its read index.
      const offset = out.prependableBytes;
      const length = out.readableBytes;
      const storage = out.takeStorage()!;
      const sent = this.writeDirect(storage, offset, length);
      if (sent < length) {
        this.queueWrite(storage.subarray(offset + sent, offset + length));
        if (this.socket.writableLength > 0) {
          // The pending write still reads these bytes: back to the pool once it is done.
          this.held.push(storage);
          this.heldUntil.push(this.writesIssued);
          return;
        }
      }
      pool.release(storage);
      return;
    }
    this.write(out.peek());
    if (this.socket.writableLength === 0) {
      // Written through synchronously: the kernel has the bytes, so the storage can be reused
      // (pooled: given back, so an idle connection holds none).
      if (this.pool !== undefined) out.release();
      else out.retrieveAll();
    } else if (this.pool !== undefined) {
      // The pending write still reads these bytes: back to the pool once it is done.
      const storage = out.takeStorage();
      if (storage !== undefined) {
        this.held.push(storage);
        this.heldUntil.push(this.writesIssued);
      }
    } else {
      // The socket still references these bytes; give them up and start a fresh buffer.
      this.output = undefined;
    }
  }

  private onWritten(err?: Error | null): void {
    this.pendingWrites--;
    // Write callbacks come in write order, with or without an error, once libuv is done with
    // the bytes: pooled storage of every write up to this one is free again.
    this.writesDone++;
    while (this.heldUntil.length > 0 && this.heldUntil[0]! <= this.writesDone) {
      this.heldUntil.shift();
      this.pool!.release(this.held.shift()!);
    }
    if (err != null || this.pendingWrites > 0 || this.socket.writableLength > 0) return;
    this.writesDrained();
  }

  /** Everything written so far is in the kernel: waiters, backpressure, `onWriteComplete`. */
  private writesDrained(): void {
    if (this.drainWaiters.length > 0) for (const w of this.drainWaiters.splice(0)) w();
    if (this.aboveHighWaterMark) {
      this.aboveHighWaterMark = false;
      if (this.pausedForOutput) {
        this.pausedForOutput = false;
        if (!this.pausedByUser) this.socket.resume();
      }
    }
    if (this.owner.app.onWriteComplete !== undefined && !this.writeCompleteQueued) {
      // Deferred to the check phase: a handler that sends again from onWriteComplete (chargen)
      // must let the poll phase run between blocks, or a fast reader would starve the loop.
      this.writeCompleteQueued = true;
      setImmediate(this.runWriteComplete);
    }
  }

  private writeCompleteQueued = false;
  private readonly runWriteComplete = (): void => {
    this.writeCompleteQueued = false;
    if (this.stateValue !== 'connected' || this.pendingWrites > 0) return;
    try {
      this.owner.app.onWriteComplete?.(this);
    } catch (e) {
      this.handlerFailed('onWriteComplete', e);
      return;
    }
    this.flush();
  };

  /**
   * @internal Bytes from the socket. `chunk` may be a view of the loop's shared read buffer,
   * valid only until this returns.
   */
  receive(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    this.lastActiveAt = Date.now();
    if (this.idleEntry !== undefined) this.idleWheel!.touch(this.idleEntry);
    if (this.decoder === undefined) {
      const app = this.owner.app;
      if (app.onMessage === undefined) return;
      this.dispatching = true;
      try {
        app.onMessage(this, chunk as unknown as In);
      } catch (err) {
        this.dispatching = false;
        this.handlerFailed('onMessage', err);
        return;
      }
      this.dispatching = false;
      this.flush();
      return;
    }
    let src: ByteBuffer;
    const input = (this.input ??=
      this.pool !== undefined ? ByteBuffer.pooled(this.pool) : new ByteBuffer(0));
    if (input.readableBytes === 0) {
      // Nothing pending: decode in place from the chunk and keep only the incomplete tail.
      src = this.chunkView ??= ByteBuffer.wrap(chunk);
      src.reset(chunk);
    } else {
      input.append(chunk);
      src = input;
    }
    this.dispatch(src);
    if (src !== input && src.readableBytes > 0 && this.stateValue !== 'disconnected') {
      input.append(src.peek());
    }
    this.releaseDrainedInput();
  }

  /** Pooled input storage goes back once every byte is decoded: idle connections hold none. */
  private releaseDrainedInput(): void {
    const input = this.input;
    if (this.pool !== undefined && input !== undefined && input.readableBytes === 0)
      input.release();
  }

  private dispatch(src: ByteBuffer): void {
    const decoder = this.decoder!;
    const app = this.owner.app;
    this.dispatching = true;
    try {
      while (!this.pausedByUser && this.stateValue !== 'disconnected') {
        let msg: In | undefined;
        try {
          msg = decoder.decode(src);
        } catch (err) {
          this.protocolFailed(err);
          return;
        }
        if (msg === undefined) break;
        if (app.onMessage === undefined) continue;
        try {
          app.onMessage(this, msg);
        } catch (err) {
          this.handlerFailed('onMessage', err);
          return;
        }
      }
    } finally {
      this.dispatching = false;
    }
    this.flush();
  }

  private protocolFailed(err: unknown): void {
    const error = isPolyloopError(err)
      ? err
      : createError('PL_ERR_BAD_FRAME', `decoder failed: ${String(err)}`, err);
    this.owner.countError(error.code);
    this.owner.logger.debug(
      { conn: this.id, code: error.code, err: error.message },
      'protocol error',
    );
    this.closeWith({ by: 'error', error });
  }

  private handlerFailed(where: string, err: unknown): void {
    const error = createError('PL_ERR_HANDLER', `${where} threw: ${String(err)}`, err);
    this.owner.countError(error.code);
    this.owner.logger.error({ conn: this.id, err }, `${where} threw; closing the connection`);
    this.closeWith({ by: 'error', error });
  }

  private onEnd(): void {
    this.reason ??= PEER;
    if (this.stateValue === 'connected') this.stateValue = 'disconnecting';
  }

  private onError(err: NodeJS.ErrnoException): void {
    if (this.reason !== undefined) return;
    const reset = err.code === 'ECONNRESET' || err.code === 'EPIPE';
    const error = createError(
      reset ? 'PL_ERR_CONNECTION_RESET' : 'PL_ERR_SOCKET',
      `${err.code ?? 'socket error'} on ${this.toString()}`,
      err,
    );
    this.owner.countError(error.code);
    this.reason = reset ? { by: 'peer', error } : { by: 'error', error };
  }

  private onClosed(): void {
    if (this.stateValue === 'disconnected') return;
    const established = this.stateValue !== 'connecting';
    this.stateValue = 'disconnected';
    // Unsent output and undecoded input are dropped; pooled storage goes back. Storage a pending
    // write still reads is released by that write's callback, which libuv runs on close.
    this.input?.release();
    this.output?.release();
    if (this.delayedClose !== undefined) clearTimeout(this.delayedClose);
    // A transfer in flight must stop touching the socket before anyone reuses its fd number.
    this.cancelFile?.();
    for (const w of this.drainWaiters.splice(0)) w();
    const reason = this.reason ?? PEER;
    if (established) {
      try {
        this.owner.app.onClose?.(this, reason);
      } catch (err) {
        this.owner.countError('PL_ERR_HANDLER');
        this.owner.logger.error({ conn: this.id, err }, 'onClose threw');
      }
    }
    this.owner.connectionClosed(this, reason);
  }
}
