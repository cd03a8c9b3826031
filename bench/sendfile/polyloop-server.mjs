// A minimal static file server on polyloop, for the sendfile benchmark: GET and HEAD of the
// regular files directly inside --dir, HTTP/1.1 keep-alive, one response in flight per connection.
//
//   node bench/sendfile/polyloop-server.mjs --dir DIR [--host 127.0.0.1] [--port 0]
//
// A raw app (no codec): each read is appended to a per-connection ByteBuffer and fed to an
// HttpRequestParser. When a request completes the parser is paused, the head goes out with
// `conn.send` and the body with `conn.sendFile(fd)`; parsing resumes once the file is sent.
// `sendFile` uses sendfile(2) when the native addon is loaded and a buffered 64 KiB copy when it
// is not (start with POLYLOOP_NO_NATIVE=1 for that): the mode in force is printed on stderr.
// Prints `listening on HOST:PORT` on stdout when ready; SIGTERM or SIGINT closes it (exit 0).
import { closeSync, fstatSync, openSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  ByteBuffer,
  HttpRequestParser,
  TcpServer,
  isHttpParseError,
  nativeStatus,
} from '../../dist/src/index.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
  },
});
if (values.dir === undefined) {
  process.stderr.write('usage: polyloop-server.mjs --dir DIR [--host H] [--port P]\n');
  process.exit(2);
}
const dir = path.resolve(values.dir);
/** Input buffered beyond this while a response is in flight pauses reading (pipelining). */
const MAX_PENDING_INPUT = 64 * 1024;
/** File names served: one path segment, no leading dot. */
const NAME = /^\/([A-Za-z0-9_-][A-Za-z0-9._-]*)$/;

function head(status, reason, length, keepAlive, type = 'application/octet-stream') {
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${length}\r\nContent-Type: ${type}\r\n` +
    (keepAlive ? '\r\n' : 'Connection: close\r\n\r\n')
  );
}

/** Opens the file a request names; undefined if there is none. The caller closes the fd. */
function openFile(url) {
  const q = url.indexOf('?');
  let name;
  try {
    name = NAME.exec(decodeURIComponent(q < 0 ? url : url.slice(0, q)))?.[1];
  } catch {
    return undefined; // malformed %-escape
  }
  if (name === undefined) return undefined;
  let fd;
  try {
    fd = openSync(path.join(dir, name), 'r');
    const st = fstatSync(fd);
    if (st.isFile()) return { fd, size: st.size };
  } catch {
    // ENOENT, EACCES, ...: 404
  }
  if (fd !== undefined) closeSync(fd);
  return undefined;
}

/** Per-connection state: the input buffer, the parser, and whether a file is in flight. */
function context(conn) {
  const ctx = { buf: new ByteBuffer(), parser: undefined, busy: false, pausedReading: false };
  ctx.parser = new HttpRequestParser({
    onRequest() {},
    onMessageComplete(req) {
      respond(conn, ctx, req);
    },
  });
  return ctx;
}

/** Answers one request. With a file to send, pauses the parser until it has gone out. */
function respond(conn, ctx, req) {
  const keepAlive = req.keepAlive;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    conn.send(head(405, 'Method Not Allowed', 0, keepAlive, 'text/plain'));
    return;
  }
  const file = openFile(req.url);
  if (file === undefined) {
    conn.send(head(404, 'Not Found', 0, keepAlive, 'text/plain'));
    return;
  }
  conn.send(head(200, 'OK', file.size, keepAlive));
  if (req.isHead || file.size === 0) {
    closeSync(file.fd);
    return;
  }
  ctx.busy = true;
  ctx.parser.pause();
  conn.sendFile(file.fd, { length: file.size }).then(
    () => {
      closeSync(file.fd);
      ctx.busy = false;
      ctx.parser.resume();
      if (ctx.pausedReading) {
        ctx.pausedReading = false;
        conn.resumeReading();
      }
      if (conn.connected) pump(conn, ctx);
    },
    () => {
      // The peer went away (or the file shrank): the connection is closing already.
      closeSync(file.fd);
      conn.forceClose();
    },
  );
}

/** Parses what is buffered; answers every complete request until one needs a file. */
function pump(conn, ctx) {
  try {
    ctx.parser.execute(ctx.buf);
  } catch (err) {
    if (!isHttpParseError(err)) throw err;
    conn.send(head(err.status, err.reason, 0, false, 'text/plain'));
    conn.close();
    return;
  }
  if (ctx.parser.closed && !ctx.busy) conn.close();
}

const app = {
  context,
  onMessage(conn, chunk) {
    const ctx = conn.context;
    ctx.buf.append(chunk); // chunk is a view of the loop's read buffer: copied here
    if (!ctx.busy) pump(conn, ctx);
    else if (ctx.buf.readableBytes > MAX_PENDING_INPUT && !ctx.pausedReading) {
      ctx.pausedReading = true;
      conn.pauseReading();
    }
  },
};

const status = nativeStatus();
const server = new TcpServer(app, { host: values.host, port: Number(values.port) });
const addr = await server.listen();
process.stderr.write(
  `polyloop-server: sendFile mode: ${
    status.available ? 'native (sendfile(2))' : `fallback (buffered copy: ${status.reason})`
  }; acceptor: ${server.acceptor}; dir: ${dir}\n`,
);
const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
process.stdout.write(`listening on ${host}:${addr.port}\n`);

const stop = () => {
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  void server.close(1000).then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
