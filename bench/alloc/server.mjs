// The server side of bench/alloc: a polyloop length-field echo server (one loop) that measures its
// own allocations between two commands on a control port.
//
//   node --expose-gc bench/alloc/server.mjs --pool on|off|net --acceptor native|node
//       [--profile FILE]
//
// Prints `listening on HOST:PORT control PORT`. On the control connection, line commands:
//   start  force two full GCs, then note the heap (V8 used heap) and the external memory
//          (ArrayBuffer backing stores, where Node's read buffers live); answers `ok`
//   stop   answers one JSON line: the growth of both since `start`, and how many GCs ran in
//          between (a window with a GC is void: the collector freed part of what was allocated)
//
// `--profile FILE` finds where the bytes come from: V8's sampling heap profiler (every 64 bytes,
// collected objects included) runs from the first `start` to SIGTERM/SIGINT, and FILE gets the
// allocating functions, most bytes first. It slows the server down and adds its own allocations:
// its numbers are for attribution, not for the B/msg table.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import { BufferPool, TcpServer, lengthFieldCodec } from '../../dist/src/index.js';

const { values } = parseArgs({
  options: {
    pool: { type: 'string', default: 'on' },
    acceptor: { type: 'string', default: 'native' },
    profile: { type: 'string' },
  },
});
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
const pool = values.pool === 'on' ? new BufferPool() : false;
if (!['on', 'off', 'net'].includes(values.pool)) throw new Error(`--pool: ${values.pool}?`);

// `--pool net`: the reference, a raw net echo server (`s.on('data', (d) => s.write(d))`).
const server =
  values.pool === 'net'
    ? rawEcho()
    : new TcpServer(
        { codec: lengthFieldCodec({ maxFrame: 1 << 24 }), onMessage: (c, m) => void c.send(m) },
        { host: '127.0.0.1', port: 0, acceptor: values.acceptor, bufferPool: pool },
      );
const { port } = await server.listen();

function rawEcho() {
  const srv = net.createServer({ noDelay: true }, (s) => s.on('data', (d) => s.write(d)));
  return {
    listen: () =>
      new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv.address()))),
    close: () => new Promise((resolve) => srv.close(() => resolve())),
  };
}

let windowStart = Infinity;
let gcTimes = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.startTime >= windowStart) gcTimes.push(e.startTime);
}).observe({ entryTypes: ['gc'] });

const sample = () => ({
  heap: v8.getHeapStatistics().used_heap_size,
  external: process.memoryUsage().arrayBuffers,
});
let base;

// ---- --profile ------------------------------------------------------------------------------
let profiler;
async function startProfile() {
  if (values.profile === undefined || profiler !== undefined) return;
  profiler = new Session();
  profiler.connect();
  await profiler.post('HeapProfiler.enable');
  await profiler.post('HeapProfiler.startSampling', {
    samplingInterval: 64,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}
async function writeProfile() {
  if (profiler === undefined) return;
  const { profile } = await profiler.post('HeapProfiler.stopSampling');
  // Self bytes per function, and the stack (three callers up) that allocated most of them.
  const byFn = new Map();
  const walk = (node, stack) => {
    const f = node.callFrame;
    const here = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(?=[^/]+\/[^/]+$)/, '')}:${f.lineNumber + 1}`;
    const path = [here, ...stack].slice(0, 4);
    if (node.selfSize > 0) {
      const e = byFn.get(here) ?? { bytes: 0, stacks: new Map() };
      e.bytes += node.selfSize;
      const key = path.join(' < ');
      e.stacks.set(key, (e.stacks.get(key) ?? 0) + node.selfSize);
      byFn.set(here, e);
    }
    for (const c of node.children) walk(c, path);
  };
  walk(profile.head, []);
  const total = [...byFn.values()].reduce((a, e) => a + e.bytes, 0);
  const lines = [...byFn.entries()]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .slice(0, 40)
    .map(([fn, e]) => {
      const [top] = [...e.stacks.entries()].sort((a, b) => b[1] - a[1]);
      return `${((100 * e.bytes) / total).toFixed(1).padStart(5)}%  ${fn}\n        ${top[0]}`;
    });
  writeFileSync(values.profile, `${total} bytes sampled\n${lines.join('\n')}\n`);
}

const control = net.createServer((s) => {
  let text = '';
  s.setEncoding('utf8').on('data', (d) => {
    text += d;
    for (let i; (i = text.indexOf('\n')) >= 0;) {
      const cmd = text.slice(0, i);
      text = text.slice(i + 1);
      if (cmd === 'start') {
        void startProfile();
        globalThis.gc();
        globalThis.gc();
        gcTimes = [];
        base = sample();
        windowStart = performance.now();
        s.write('ok\n');
      } else if (cmd === 'stop') {
        const now = sample();
        const end = performance.now();
        // GC entries arrive asynchronously: give the observer a moment to see this window's.
        setTimeout(() => {
          const gcs = gcTimes.filter((t) => t <= end).length;
          windowStart = Infinity;
          const stats = pool === false ? null : pool.stats();
          s.write(
            `${JSON.stringify({
              heap: now.heap - base.heap,
              external: now.external - base.external,
              gcs,
              pool: stats,
            })}\n`,
          );
        }, 20);
      }
    }
  });
});
control.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on 127.0.0.1:${port} control ${control.address().port}\n`);
});

const quit = () => {
  control.close();
  void writeProfile()
    .then(() => server.close(0))
    .then(() => process.exit(0));
};
process.on('SIGTERM', quit);
process.on('SIGINT', quit);
