// The server of the models benchmark: `serve()` runs one of the apps next to this file on the
// concurrency model given on the command line.
//
//   node bench/models/server.mjs --app hello|echo --model M [--loops N] [--workers thread|process]
//       [--handoff ring|port] [--host 127.0.0.1] [--port 0]
//
// Prints `listening on HOST:PORT` on stdout once every loop is ready, and `stats JSON` (the
// server's `stats()`: per-loop accepted counts, half-sync hand-offs) on SIGUSR2 and after closing.
// SIGTERM or SIGINT closes it (exit 0).
import { parseArgs } from 'node:util';
import { serve } from '../../dist/src/index.js';

const APPS = { hello: 'hello-app.mjs', echo: 'echo-app.mjs' };

const { values } = parseArgs({
  options: {
    app: { type: 'string', default: 'hello' },
    model: { type: 'string', default: 'reactor' },
    loops: { type: 'string' },
    workers: { type: 'string' },
    handoff: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
  },
});
if (!(values.app in APPS)) throw new Error(`--app: one of ${Object.keys(APPS)}; got ${values.app}`);

const options = {
  host: values.host,
  port: Number(values.port),
  model: values.model,
  // Every run ends with its clients gone; a short drain keeps the harness quick.
  shutdownTimeout: 2000,
};
if (values.loops !== undefined) options.loops = Number(values.loops);
if (values.workers !== undefined) options.workers = values.workers;
if (values.handoff !== undefined) options.handoff = values.handoff;

const server = await serve(new URL(APPS[values.app], import.meta.url), options);
const report = () => process.stdout.write(`stats ${JSON.stringify(server.stats())}\n`);
process.on('SIGUSR2', report);

const stop = () => {
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  void server.close().then(() => {
    report();
    process.exit(0);
  });
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const { host, port } = server.address;
process.stdout.write(`listening on ${host.includes(':') ? `[${host}]` : host}:${port}\n`);
process.stderr.write(
  `models-server: ${values.app} on ${server.model}, ${server.loops} ${server.workers} loop(s)\n`,
);
