import net from 'node:net';

/** Where an adopted socket delivers its reads instead of 'data' events. */
export type ReadSink = (chunk: Buffer) => void;

/**
 * Turns a connected socket fd into a `net.Socket` — the one place in polyloop that does. The fd
 * must be owned by no libuv handle (accepted natively, received over SCM_RIGHTS, or dup'ed);
 * from here on the socket owns it and closes it.
 *
 * With `readBuffer`, reads land in that buffer (one per loop, reused for every connection on it)
 * and go to `sink` as views valid until the sink returns, instead of a fresh allocation per read.
 * Call on the loop that will own the connection.
 */
export function adopt(fd: number, readBuffer?: Buffer, sink?: () => ReadSink): net.Socket {
  if (readBuffer === undefined || sink === undefined) {
    return new net.Socket({ fd, readable: true, writable: true });
  }
  let deliver: ReadSink | undefined;
  // Node reads `onread` for sockets made from an fd as for connect(); its typings list it only
  // on the latter.
  const options: net.SocketConstructorOpts & { onread: net.OnReadOpts } = {
    fd,
    readable: true,
    writable: true,
    onread: {
      buffer: readBuffer,
      callback(nread: number, buf: Uint8Array): boolean {
        // The connection is created after the socket, so the sink is resolved on first read.
        (deliver ??= sink())((buf as Buffer).subarray(0, nread));
        return true;
      },
    },
  };
  return new net.Socket(options);
}
