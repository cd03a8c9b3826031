import net from 'node:net';

/** Where an adopted socket delivers its reads instead of 'data' events. */
export type ReadSink = (chunk: Buffer) => void;

/**
 * The read buffer of one loop, shared by every connection on it: a read lands in `current` and
 * is handled before the next read can overwrite it. When a pending write must keep pointing at
 * those bytes, `retire()` leaves the buffer to that write and takes a fresh one for later reads.
 *
 * Module state is per thread (each worker has its own module instance), so a loop's arena is
 * never touched by another loop.
 */
export class ReadArena {
  static readonly SIZE = 64 * 1024;
  /** Slots of the view cache (a power of two): reads of a steady stream repeat a few lengths. */
  static readonly VIEW_SLOTS = 64;
  current: Buffer = Buffer.allocUnsafeSlow(ReadArena.SIZE);
  /** Buffers given up to pending writes (a measure of backpressure churn). */
  retired = 0;
  /** Views `current[0, n)` by `n % VIEW_SLOTS`, reused by later reads of the same length. */
  private readonly views: (Buffer | undefined)[] = new Array<Buffer | undefined>(
    ReadArena.VIEW_SLOTS,
  ).fill(undefined);

  /**
   * The first `length` bytes of `current`, as a view that later reads of the same length get
   * again: a read delivers its bytes without allocating. Like the bytes themselves, the view is
   * valid only until the next read.
   */
  view(length: number): Buffer {
    const slot = length & (ReadArena.VIEW_SLOTS - 1);
    let v = this.views[slot];
    if (v === undefined || v.length !== length)
      this.views[slot] = v = this.current.subarray(0, length);
    return v;
  }

  /** True when `bytes` is a view of the buffer the next read will overwrite. */
  owns(bytes: Uint8Array): boolean {
    return bytes.buffer === this.current.buffer;
  }

  retire(): void {
    this.current = Buffer.allocUnsafeSlow(ReadArena.SIZE);
    this.retired++;
    // The pending write keeps the old buffer, and maybe one of these views of it.
    this.views.fill(undefined);
  }
}

let loopArena: ReadArena | undefined;

/** This thread's read arena. */
export function readArena(): ReadArena {
  return (loopArena ??= new ReadArena());
}

/**
 * Turns a connected socket fd into a `net.Socket` — the one place in polyloop that does. The fd
 * must be owned by no libuv handle (accepted natively, received over SCM_RIGHTS, or dup'ed);
 * from here on the socket owns it and closes it.
 *
 * With an `arena`, reads land in the loop's shared buffer and go to `sink` as views valid until
 * the sink returns, instead of a fresh allocation per read. Call on the loop that will own the
 * connection.
 */
export function adopt(fd: number, arena?: ReadArena, sink?: () => ReadSink): net.Socket {
  if (arena === undefined || sink === undefined) {
    return new net.Socket({ fd, readable: true, writable: true });
  }
  let deliver: ReadSink | undefined;
  // Node reads `onread` for sockets made from an fd as for connect(); its typings list it only
  // on the latter. A function as `buffer` is asked before every read, so a retired buffer is
  // never read into again.
  const options: net.SocketConstructorOpts & { onread: net.OnReadOpts } = {
    fd,
    readable: true,
    writable: true,
    onread: {
      buffer: () => arena.current,
      callback(nread: number, buf: Uint8Array): boolean {
        // The connection is created after the socket, so the sink is resolved on first read.
        // `buf` is the arena's current buffer (given by `buffer` above): its cached view.
        (deliver ??= sink())(
          buf === arena.current ? arena.view(nread) : (buf as Buffer).subarray(0, nread),
        );
        return true;
      },
    },
  };
  return new net.Socket(options);
}
