// Raw `net` for the http benchmark: no parsing at all. Every request is answered with one fixed,
// pre-built response buffer ('Hello, World!'); a chunk's requests are counted by its `\r\n\r\n`
// (the end of a head; bodies are not expected), the last 3 bytes carried over so that a head
// split across reads still counts once. Pipelined requests get their responses in one write.
//
//   node bench/http/net-server.mjs [--host 127.0.0.1] [--port 0]
//
// Prints `listening on HOST:PORT` on stdout when ready; SIGTERM or SIGINT exits 0.
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.' }, // accepted for symmetry; unused
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
  },
});

const RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n\r\nHello, World!',
);
const END = Buffer.from('\r\n\r\n');
/** Pre-built runs of 1..64 responses, so a pipelined batch is one write of a shared buffer. */
const BATCH = [Buffer.alloc(0)];
for (let i = 1; i <= 64; i++) BATCH.push(Buffer.concat(Array(i).fill(RESPONSE)));

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let carry = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    const data = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
    let n = 0;
    for (let i = data.indexOf(END); i !== -1; i = data.indexOf(END, i + 4)) n++;
    carry = Buffer.from(data.subarray(Math.max(0, data.length - 3)));
    // The carried bytes may hold the start of a `\r\n\r\n`, never a whole one already counted:
    // drop them when the chunk ended exactly on one.
    if (data.length >= 4 && data.subarray(data.length - 4).equals(END)) carry = Buffer.alloc(0);
    while (n > 0) {
      const k = Math.min(n, 64);
      socket.write(BATCH[k]);
      n -= k;
    }
  });
  socket.on('error', () => {});
});
server.listen(Number(values.port), values.host, () => {
  process.stdout.write(`listening on ${values.host}:${server.address().port}\n`);
});

const stop = () => process.exit(0);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
