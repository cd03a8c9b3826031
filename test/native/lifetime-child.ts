// Run by lifetime.test.ts with --expose-gc. Prints one line per check:
//   "collected"  stopped acceptors nobody references are finalized and free their fds
//   "pinned"     a started acceptor nobody references keeps accepting through a GC
//   "task"       a running sendFile whose task nobody references still resolves
//   "uncaught"   a throwing accept callback becomes an uncaughtException; the acceptor goes on
import { closeSync, openSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireNative } from '../../native/index.js';

const n = requireNative('lifetime test');
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));
const fdCount = (): number => readdirSync('/proc/self/fd').length;

async function collect(until: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200 && !until(); i++) {
    gc!();
    await tick();
  }
  return until();
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

const guard = setTimeout(() => {
  console.log('stuck');
  process.exit(2);
}, 40_000);

const lfd = n.listen({ host: '127.0.0.1', port: 0 });
const port = n.localPort(lfd);

// 1. Each acceptor holds a spare fd (/dev/null) until it is closed or collected.
const base = fdCount();
(() => {
  for (let i = 0; i < 30; i++) n.createAcceptor(lfd, () => {});
})();
if (fdCount() < base + 30) throw new Error('acceptors hold no spare fd: the check proves nothing');
if (await collect(() => fdCount() === base)) console.log('collected');

// 2. A started acceptor is pinned: dropping every reference must not stop it.
let accepted = 0;
(() => {
  n.createAcceptor(lfd, (fds) => {
    accepted += fds.length;
    fds.forEach((fd) => n.close(fd));
  }).start();
})();
await collect(() => false);
const c1 = await connect(port);
for (let i = 0; i < 400 && accepted === 0; i++) await tick();
if (accepted === 1) console.log('pinned');
c1.destroy();

// 3. A running sendFile is pinned too.
const path = join(tmpdir(), `polyloop-lifetime-${process.pid}`);
const size = 16 * 1024 * 1024;
writeFileSync(path, Buffer.alloc(size, 1));
const file = openSync(path, 'r');
const server = net.createServer();
const peer = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const client = await connect((server.address() as net.AddressInfo).port);
const far = await peer;
far.pause();
let result = -1;
// A net.Socket's fd: Node exposes it as _handle.fd; its write queue is empty.
const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
void n.sendFile(fd, file, 0, size).then((sent) => (result = sent));
await collect(() => false);
far.resume();
for (let i = 0; i < 400 && result < 0; i++) await tick();
if (result === size) console.log('task');
client.destroy();
far.destroy();
server.close();
closeSync(file);
unlinkSync(path);

// 4. A throwing callback: reported like any callback's exception, and accepting goes on.
let thrown = 0;
process.on('uncaughtException', (err) => {
  if (err.message === 'boom') thrown++;
});
let calls = 0;
const lfd2 = n.listen({ host: '127.0.0.1', port: 0 });
const port2 = n.localPort(lfd2);
const acceptor = n.createAcceptor(lfd2, (fds) => {
  fds.forEach((fd) => n.close(fd));
  calls++;
  throw new Error('boom');
});
acceptor.start();
const c2 = await connect(port2);
for (let i = 0; i < 400 && calls < 1; i++) await tick();
const c3 = await connect(port2);
for (let i = 0; i < 400 && calls < 2; i++) await tick();
if (thrown === 2 && calls === 2) console.log('uncaught');
c2.destroy();
c3.destroy();
acceptor.close();
clearTimeout(guard);
process.exit(0);
