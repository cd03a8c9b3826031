// Bytes the server allocates per echoed message: a polyloop length-field echo server with its
// connections' buffers from a BufferPool (`on`) and with plain allocations (`off`), side by side
// in one invocation, for each message size and acceptor.
//
// The server (alloc/server.mjs, pinned to --server-cpu) measures itself: on `start` from the
// client it forces two full GCs and notes V8's used heap and Node's ArrayBuffer memory; on `stop`
// it reports their growth and the GCs seen in between. Without a GC in the window nothing was
// freed, so the growth is what was allocated: JS objects on the heap, plus backing stores of
// ArrayBuffers (read buffers, output storage) outside it. The client (alloc/client.mjs, pinned to
// --client-cpu) runs windows of --window echoed messages after an untimed warm-up and voids any
// window with a GC in it (it runs another, half as long), until --messages were measured.
//
// Each of --sessions connections keeps DEPTH messages in flight: depth 4 is request/response
// traffic whose writes complete at once; depth 64 keeps the client's receive buffer full, so
// writes stay pending (backpressure) and output buffers are held until they complete.
// `net` is Node's own echo server (`s.on('data', (d) => s.write(d))`), once per size and depth.
//
//   node bench/run.mjs alloc [--quick] [--sizes 64,4096,32768] [--depths 4,64]
//       [--acceptors native,node] [--pools on,off,net] [--sessions 10] [--messages N]
//       [--window 2000] [--server-cpu 1] [--client-cpu 0] [--build] [--out FILE]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkMachine,
  commandWord,
  ensureBuilt,
  finish,
  grid,
  guarded,
  list,
  machine,
  num,
  parseOptions,
  positiveInt,
  ratio,
  root,
  startServer,
  stop,
  spawnPinned,
  tail,
  waitFor,
  writeResults,
} from '../lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ACCEPTORS = ['native', 'node'];
/** `net`: Node's own echo server, once per size: the floor of what Node allocates. */
const POOLS = ['on', 'off', 'net'];

export async function main(argv) {
  const opts = options(argv);
  checkMachine('alloc', 'taskset and /proc', opts);
  ensureBuilt('alloc', path.join(root, 'dist/src/index.js'), opts.build);
  const { nativeStatus } = await import('../../dist/src/index.js');
  const acceptors = opts.acceptors.filter((a) => {
    if (a !== 'native' || nativeStatus().available) return true;
    process.stderr.write('alloc: the native addon is not built: skipping the native acceptor\n');
    return false;
  });
  const runs = [];
  await guarded('alloc', 'servers and clients killed', async () => {
    for (const size of opts.sizes) {
      for (const depth of opts.depths) {
        for (const acceptor of acceptors) {
          for (const pool of opts.pools) {
            if (pool === 'net' && acceptor !== acceptors[0]) continue;
            const r = await measure(opts, size, depth, pool === 'net' ? 'net' : acceptor, pool);
            process.stderr.write(
              `alloc: ${size} B depth ${depth} ${r.acceptor} ${pool}: ` +
                `${num(r.bytesPerMessage, 1)} B/msg (${r.windows} windows, ${r.voidWindows} void)\n`,
            );
            runs.push(r);
          }
        }
      }
    }
  });
  report(opts, runs);
  return 0;
}

function options(argv) {
  const { values, common } = parseOptions(
    argv,
    {
      sizes: { type: 'string', default: '64,4096,32768' },
      acceptors: { type: 'string', default: ACCEPTORS.join(',') },
      pools: { type: 'string', default: POOLS.join(',') },
      sessions: { type: 'string', default: '10' },
      depths: { type: 'string', default: '4,64' },
      messages: { type: 'string' },
      window: { type: 'string', default: '2000' },
    },
    path.resolve(here, '../results/alloc.json'),
  );
  const acceptors = list(values.acceptors);
  for (const a of acceptors) if (!ACCEPTORS.includes(a)) throw new Error(`--acceptors: ${a}?`);
  const pools = list(values.pools);
  for (const p of pools) if (!POOLS.includes(p)) throw new Error(`--pools: ${p}?`);
  // Default: 100,000 messages, fewer for large ones (at most 256 MiB each way), 5x fewer quick.
  const messages = (size) =>
    values.messages !== undefined
      ? positiveInt('messages', values.messages)
      : Math.round(Math.min(100_000, Math.max(5_000, 2 ** 28 / size)) / (values.quick ? 5 : 1));
  return {
    ...common,
    sizes: list(values.sizes).map((x) => positiveInt('sizes', x)),
    acceptors,
    pools,
    sessions: positiveInt('sessions', values.sessions),
    depths: list(values.depths).map((x) => positiveInt('depths', x)),
    messages,
    window: positiveInt('window', values.window),
  };
}

/** Waits for `listening on HOST:PORT control PORT` and notes both ports. */
async function ready(proc, deadline) {
  const m = await waitFor(proc, deadline, () =>
    /^listening on (\S+):(\d+) control (\d+)$/m.exec(proc.stdout),
  );
  proc.port = Number(m[2]);
  proc.control = Number(m[3]);
}

async function measure(opts, size, depth, acceptor, pool) {
  const serverArgv = [
    process.execPath,
    '--expose-gc',
    path.join(here, 'server.mjs'),
    '--pool',
    pool,
    '--acceptor',
    acceptor,
  ];
  const srv = await startServer(
    `alloc server (${acceptor}, pool ${pool})`,
    opts.serverCpu,
    serverArgv,
    process.env,
    ready,
  );
  try {
    const clientArgv = [
      process.execPath,
      path.join(here, 'client.mjs'),
      '--port',
      String(srv.port),
      '--control',
      String(srv.control),
      '--size',
      String(size),
      '--sessions',
      String(opts.sessions),
      '--depth',
      String(depth),
      '--messages',
      String(opts.messages(size)),
      '--window',
      String(opts.window),
      '--warmup',
      String(Math.min(20_000, opts.messages(size))),
    ];
    const client = spawnPinned(opts.clientCpu, clientArgv, process.env);
    const status = await finish(client, 300);
    if (status !== 0) throw new Error(`alloc client exited with ${status}${tail(client.stderr)}`);
    const r = JSON.parse(client.stdout.trim().split('\n').pop());
    // No clean window at all: allocation so heavy that a GC ran even in 16 messages.
    const per = (x) => (r.messages > 0 ? x / r.messages : null);
    return {
      size,
      depth,
      acceptor,
      pool,
      messages: r.messages,
      windows: r.windows,
      voidWindows: r.voidWindows,
      lastWindow: r.lastWindow,
      heapBytesPerMessage: per(r.heap),
      externalBytesPerMessage: per(r.external),
      bytesPerMessage: per(r.heap + r.external),
      msgsPerSec: r.seconds > 0 ? r.messages / r.seconds : null,
      poolStats: r.pool,
      server: serverArgv.map(commandWord).join(' '),
    };
  } finally {
    await stop(srv);
  }
}

function report(opts, runs) {
  const rows = runs.map((r) => [
    `${r.size} B`,
    String(r.depth),
    r.acceptor,
    r.pool,
    num(r.heapBytesPerMessage, 1),
    num(r.externalBytesPerMessage, 1),
    num(r.bytesPerMessage, 1),
    `${r.windows}/${r.windows + r.voidWindows}`,
    num(r.msgsPerSec === null ? null : r.msgsPerSec / 1000, 1),
  ]);
  const head = [
    'size',
    'depth',
    'acceptor',
    'pool',
    'heap B/msg',
    'external B/msg',
    'total B/msg',
    'clean windows',
    'k msg/s',
  ];
  const find = (size, depth, acceptor, pool) =>
    runs.find(
      (r) => r.size === size && r.depth === depth && r.acceptor === acceptor && r.pool === pool,
    );
  const ratios = [];
  for (const size of opts.sizes) {
    for (const depth of opts.depths) {
      for (const acceptor of opts.acceptors) {
        const on = find(size, depth, acceptor, 'on');
        const off = find(size, depth, acceptor, 'off');
        if (on === undefined || off === undefined) continue;
        const net = find(size, depth, 'net', 'net');
        ratios.push({
          size,
          depth,
          acceptor,
          offOverOn: ratio(off.bytesPerMessage, on.bytesPerMessage),
          netOverOn: ratio(net?.bytesPerMessage, on.bytesPerMessage),
        });
      }
    }
  }
  const lines = grid(head, rows, 4);
  lines.push('', 'bytes allocated per message, ratios (higher: the pool allocates less):');
  for (const r of ratios) {
    lines.push(
      `${r.size} B depth ${r.depth} ${r.acceptor}: off/on ${num(r.offOverOn, 2)}, net/on ${num(r.netOverOn, 2)}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  writeResults('alloc', opts.out, {
    benchmark: 'alloc',
    date: new Date().toISOString(),
    machine: machine(),
    params: {
      sizes: opts.sizes,
      depths: opts.depths,
      acceptors: opts.acceptors,
      pools: opts.pools,
      sessions: opts.sessions,
      messages: Object.fromEntries(opts.sizes.map((s) => [s, opts.messages(s)])),
      window: opts.window,
      serverCpu: opts.serverCpu,
      clientCpu: opts.clientCpu,
    },
    runs,
    ratios,
  });
}
