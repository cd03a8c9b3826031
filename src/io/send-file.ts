import { fstat, open, read, close } from 'node:fs';
import type net from 'node:net';
import { promisify } from 'node:util';
import { native, nativeStatus } from '../../native/index.js';
import { createError, invalidArg } from '../errors.js';

const fstatAsync = promisify(fstat);
const openAsync = promisify(open);
const readAsync = promisify(read);
const closeAsync = promisify(close);

export interface SendFileOptions {
  /** First byte to send. Default 0. */
  offset?: number;
  /** Bytes to send. Default: to the end of the file. */
  length?: number;
  /**
   * Bytes to send just before the file, such as an HTTP response head: with the addon they
   * leave in the same packet as the file's first bytes. Not counted in the result.
   */
  head?: Uint8Array;
}

/** What a transfer needs from its connection. */
export interface FileTarget {
  readonly socket: net.Socket;
  /** True while the connection can still send. */
  open(): boolean;
  /** Registers how to stop the transfer at once (the connection calls it when it closes). */
  onCancel(cancel: (() => void) | undefined): void;
}

/** The fd of a plain TCP socket, or undefined (not a TCP socket, or already closed). */
function socketFd(socket: net.Socket): number | undefined {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function checkRange(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0)) {
    throw invalidArg(name, v, 'a non-negative integer');
  }
}

/**
 * Sends `length` bytes of a file from `offset` to the target's socket, whose write queue must be
 * empty and stay untouched until this settles. With the addon: sendfile(2), the bytes never
 * enter JavaScript. Without it (or on a socket with no fd): a buffered copy through one 64 KiB
 * buffer, one chunk in flight at a time. Resolves with the bytes sent.
 */
export async function transferFile(
  target: FileTarget,
  file: string | number,
  options: SendFileOptions,
): Promise<number> {
  checkRange('offset', options.offset);
  checkRange('length', options.length);
  const fileFd = typeof file === 'number' ? file : await openAsync(file, 'r');
  try {
    const offset = options.offset ?? 0;
    let length = options.length;
    // An fd with a known length needs no fstat: that round trip through the thread pool would
    // cost a small file more than its transfer. A range past the end still fails, as
    // PL_ERR_FILE_TRUNCATED.
    if (typeof file !== 'number' || length === undefined) {
      const size = (await fstatAsync(fileFd)).size;
      length ??= Math.max(0, size - offset);
      if (offset + length > size) {
        throw invalidArg('offset + length', offset + length, `at most the file size ${size}`);
      }
    }
    let head = options.head !== undefined && options.head.length > 0 ? options.head : undefined;
    const fd = socketFd(target.socket);
    const addon = fd !== undefined && nativeStatus().available ? native() : undefined;
    if (head !== undefined && !(length > 0 && addon?.sendFileHead === true)) {
      // On its own: no addon (or an older build), or no file bytes for it to travel with.
      await writeAll(target.socket, head);
      head = undefined;
    }
    if (length === 0) return 0;
    if (fd !== undefined && addon !== undefined) {
      const task = addon.sendFile(fd, fileFd, offset, length, head);
      target.onCancel(() => task.cancel());
      try {
        return await task;
      } finally {
        target.onCancel(undefined);
      }
    }
    return await copyFile(target, fileFd, offset, length);
  } finally {
    if (typeof file !== 'number') await closeAsync(fileFd);
  }
}

/** Writes `bytes` and waits until the socket has handed them to the kernel. */
function writeAll(socket: net.Socket, bytes: Uint8Array): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    socket.write(bytes, (err) => (err ? reject(err) : resolve()));
  });
}

async function copyFile(
  target: FileTarget,
  fileFd: number,
  offset: number,
  length: number,
): Promise<number> {
  const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, length));
  let sent = 0;
  let cancelled = false;
  target.onCancel(() => (cancelled = true));
  try {
    while (sent < length) {
      if (cancelled || !target.open()) {
        throw createError(
          'PL_ERR_CANCELLED',
          `file transfer stopped after ${sent} of ${length} bytes`,
        );
      }
      const want = Math.min(chunk.length, length - sent);
      const { bytesRead } = await readAsync(fileFd, chunk, 0, want, offset + sent);
      if (bytesRead === 0) {
        throw createError(
          'PL_ERR_FILE_TRUNCATED',
          `file ended after ${offset + sent} bytes; expected ${offset + length}`,
        );
      }
      // Wait for this chunk to reach the kernel before reusing the buffer.
      await writeAll(target.socket, chunk.subarray(0, bytesRead));
      sent += bytesRead;
    }
    return sent;
  } finally {
    target.onCancel(undefined);
  }
}
