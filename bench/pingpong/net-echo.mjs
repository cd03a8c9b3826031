// The raw Node `net` echo peer: what polyloop is compared against.
//   node bench/pingpong/net-echo.mjs [--host 127.0.0.1] [--port 0]
// Prints `listening on HOST:PORT` when ready; SIGTERM and SIGINT stop it with exit status 0.
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
  },
});

const server = net.createServer((s) => {
  s.setNoDelay(true);
  s.on('data', (d) => s.write(d));
  s.on('error', () => {}); // the client resets its sessions when a run ends
});

server.listen({ host: values.host, port: Number(values.port), backlog: 4096 }, () => {
  const { address, port } = /** @type {net.AddressInfo} */ (server.address());
  process.stdout.write(`listening on ${address}:${port}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
