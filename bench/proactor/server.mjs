// The server of the proactor benchmark: `serve()` runs app.mjs on one reactor loop, with the
// service on that loop or on a thread pool.
//
//   node bench/proactor/server.mjs --logic loop|pool [--threads 1] [--host 127.0.0.1] [--port 0]
//   node bench/proactor/server.mjs --calibrate MS
//
// The heavy route's rounds come from PROACTOR_HEAVY_ITERATIONS. Before listening the server
// times the heavy work on its own core and prints `heavy MS ms` (fastest of 9); then it prints
// `listening on HOST:PORT`. SIGTERM or SIGINT closes it (exit 0). `--calibrate MS` prints
// `iterations N`, the rounds that take about MS ms here, and exits.
import { parseArgs } from 'node:util';
import { serve } from '../../dist/src/index.js';
import { heavy, iterations } from './app.mjs';

const { values } = parseArgs({
  options: {
    logic: { type: 'string', default: 'loop' },
    threads: { type: 'string', default: '1' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    calibrate: { type: 'string' },
  },
});

/**
 * The fastest of `runs` heavy computations of `rounds` each, in ms: on a shared machine the
 * fastest run is the one nothing else interrupted, the work's own cost.
 */
function timeHeavy(rounds, runs) {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    heavy(rounds);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

if (values.calibrate !== undefined) {
  const target = Number(values.calibrate);
  if (!(target > 0)) throw new Error(`--calibrate: not a number of ms: ${values.calibrate}`);
  timeHeavy(10_000, 5); // warm up
  const probe = 20_000;
  const perRound = timeHeavy(probe, 25) / probe;
  process.stdout.write(`iterations ${Math.max(1000, Math.round(target / perRound))}\n`);
  process.exit(0);
}

if (values.logic !== 'loop' && values.logic !== 'pool') {
  throw new Error(`--logic: loop or pool; got ${values.logic}`);
}
const threads = Number(values.threads);
process.stdout.write(`heavy ${timeHeavy(iterations, 9).toFixed(3)} ms\n`);

const server = await serve(new URL('./app.mjs', import.meta.url), {
  host: values.host,
  port: Number(values.port),
  model: 'reactor',
  logic: values.logic,
  pool: { maxThreads: threads, minThreads: threads },
  // Every run ends with its clients gone; a short drain keeps the harness quick.
  shutdownTimeout: 2000,
});

const stop = () => {
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  void server.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const { host, port } = server.address;
process.stdout.write(`listening on ${host.includes(':') ? `[${host}]` : host}:${port}\n`);
process.stderr.write(`proactor-server: logic ${values.logic}, ${iterations} rounds per /heavy\n`);
