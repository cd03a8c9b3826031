// Fastify (bench/package.json pins the version) for the http benchmark, logger off.
//   GET /  -> 'Hello, World!' (Content-Type: text/plain; charset=utf-8)
//
//   node bench/http/fastify-server.mjs [--host 127.0.0.1] [--port 0]
//
// Prints `listening on HOST:PORT` on stdout when ready; SIGTERM or SIGINT exits 0.
import { parseArgs } from 'node:util';
import Fastify from 'fastify';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.' }, // accepted for symmetry; no routes use it
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
  },
});

const app = Fastify({ logger: false, keepAliveTimeout: 60_000 });
app.get('/', (req, reply) => {
  reply.type('text/plain; charset=utf-8').send('Hello, World!');
});
await app.listen({ host: values.host, port: Number(values.port) });
process.stdout.write(`listening on ${values.host}:${app.server.address().port}\n`);

const stop = () => process.exit(0);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
