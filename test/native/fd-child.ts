// Run by fd-passing.test.ts. fd 3 is one end of the parent's socketPair(). Each fd received
// with recvFd(3) is used at once, by its payload:
//   'listen'   -> a listening socket: serve an echo on it, print "listening"
//   'conn ...' -> a connected socket: adopt it, send "hello from child", echo, print "adopted ..."
// When the parent closes its end, the child closes everything and exits 0.
import net from 'node:net';
import { isPolyloopError } from '../../src/index.js';
import { requireNative } from '../../native/index.js';

const n = requireNative('fd child');
const servers: net.Server[] = [];
const sockets: net.Socket[] = [];

function echo(s: net.Socket): void {
  sockets.push(s);
  s.on('data', (d: Buffer) => s.write(d));
  s.on('error', () => {});
}

// recvFd never blocks: poll it (a test; a real worker would watch fd 3 for readability).
const timer = setInterval(() => {
  let message;
  try {
    message = n.recvFd(3);
  } catch (err) {
    if (!isPolyloopError(err, 'PL_ERR_NOT_CONNECTED')) throw err;
    clearInterval(timer);
    servers.forEach((s) => s.close());
    sockets.forEach((s) => s.destroy());
    n.close(3);
    return;
  }
  if (message === null) return;
  const { fd, payload } = message;
  if (payload === 'listen') {
    const server = net.createServer(echo);
    servers.push(server);
    server.listen({ fd }, () => console.log('listening'));
  } else {
    const s = new net.Socket({ fd, readable: true, writable: true });
    echo(s);
    s.write('hello from child');
    console.log(`adopted ${payload}`);
  }
}, 5);
