// Ping-pong throughput, muduo's method: N sessions each bounce a block of B bytes back and forth
// for T seconds; throughput = bytes the client read / T, in MiB/s.
//
// Every server runs on core 1 (`taskset -c 1`) and the C client on core 0, so a server gets
// exactly one core and the client never competes with it. For each (B, N) cell the servers run
// back to back, so drift on a shared machine hits them alike; compare the ratios, not the
// absolute numbers.
//
//   node bench/run.mjs pingpong [--seconds 5 | --quick] [--sizes 4096,16384]
//       [--sessions 10,100,1000] [--servers polyloop,net,c-ref] [--build] [--out FILE]
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  binDir,
  checkMachine,
  commandWord as display,
  compileC,
  ensureBuilt,
  errorMessage,
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
  sleep,
  spawnPinned,
  startServer,
  stop,
  tail,
  writeResults,
} from '../lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const client = path.join(binDir, 'pingpong-client');
const cRef = path.join(binDir, 'pingpong-echo-server');
const polyloopCli = path.join(root, 'dist/src/cli/main.js');

/** How each server is started; each prints `listening on HOST:PORT` when ready. */
const SERVERS = {
  polyloop: [process.execPath, polyloopCli, 'echo', '--host', '127.0.0.1', '--port', '0'],
  net: [process.execPath, path.join(here, 'net-echo.mjs'), '--host', '127.0.0.1', '--port', '0'],
  'c-ref': [cRef, '--host', '127.0.0.1', '--port', '0'],
};

export async function main(argv) {
  const opts = options(argv);
  return guarded('pingpong', 'servers stopped', () => run(opts));
}

function options(argv) {
  const { values, common } = parseOptions(
    argv,
    {
      sizes: { type: 'string', default: '4096,16384' },
      sessions: { type: 'string', default: '10,100,1000' },
      servers: { type: 'string', default: Object.keys(SERVERS).join(',') },
    },
    path.resolve(here, '../results/pingpong.json'),
  );
  const servers = list(values.servers);
  for (const s of servers) {
    if (!(s in SERVERS))
      throw new Error(`--servers: unknown server ${s} (${Object.keys(SERVERS)})`);
  }
  const ints = (name) => list(values[name]).map((x) => positiveInt(name, x));
  return { ...common, sizes: ints('sizes'), sessions: ints('sessions'), servers };
}

async function run(opts) {
  preflight(opts);
  const runs = [];
  const errors = [];
  const total = opts.sizes.length * opts.sessions.length * opts.servers.length;
  for (const block of opts.sizes) {
    for (const sessions of opts.sessions) {
      for (const server of opts.servers) {
        process.stderr.write(
          `[${runs.length + 1}/${total}] ${server} B=${block} N=${sessions} ... `,
        );
        const r = await runOne(server, block, sessions, opts);
        runs.push(r);
        if (r.error !== undefined) errors.push(`${server} B=${block} N=${sessions}: ${r.error}`);
        process.stderr.write(
          r.error === undefined ? `${r.mibps.toFixed(1)} MiB/s\n` : `ERROR\n  ${r.error}\n`,
        );
        await sleep(300); // let the previous server's sockets wind down
      }
    }
  }
  const table = summarize(runs, opts);
  process.stdout.write(`\n${format(table, opts)}\n`);
  writeResults('pingpong', opts.out, results(opts, runs, table, errors));
  if (errors.length > 0) {
    process.stderr.write(`\npingpong: ${errors.length} run(s) failed:\n  ${errors.join('\n  ')}\n`);
    return 1;
  }
  return 0;
}

/** Builds what is missing and checks the machine can run every cell; throws if not. */
function preflight(opts) {
  checkMachine('pingpong', 'epoll, taskset', opts);
  const need = Math.max(...opts.sessions) + 64;
  const limit = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  if (limit !== 'unlimited' && Number(limit) < need) {
    throw new Error(`ulimit -n is ${limit}; ${Math.max(...opts.sessions)} sessions need ${need}`);
  }
  compileC('pingpong', path.join(here, 'client.c'), client);
  compileC('pingpong', path.join(here, 'echo-server.c'), cRef);
  if (opts.servers.includes('polyloop')) ensureBuilt('pingpong', polyloopCli, opts.build);
}

/** One server, one cell: start the server, run the client, stop the server. Never throws. */
async function runOne(server, block, sessions, opts) {
  const result = { server, block, sessions, mibps: null };
  let srv;
  try {
    srv = await startServer(server, opts.serverCpu, SERVERS[server]);
    Object.assign(result, await runClient(srv, block, sessions, opts));
  } catch (err) {
    result.error = errorMessage(err);
  }
  if (srv !== undefined) {
    const status = await stop(srv);
    result.serverExit = status;
    if (status !== 0 && result.error === undefined) {
      result.error = `server exited with ${status}${tail(srv.stderr)}`;
    }
  }
  if (result.error !== undefined) result.mibps = null;
  return result;
}

async function runClient(srv, block, sessions, opts) {
  const args = [
    ...['--host', srv.host, '--port', String(srv.port)],
    ...['--sessions', String(sessions), '--block', String(block)],
    ...['--seconds', String(opts.seconds)],
  ];
  const proc = spawnPinned(opts.clientCpu, [client, ...args]);
  // Connecting may take a while for 1000 sessions; the run itself is bounded by --seconds.
  const status = await finish(proc, opts.seconds + 60);
  if (srv.exit !== undefined)
    throw new Error(`server died during the run (${srv.exit})${tail(srv.stderr)}`);
  if (status !== 0) throw new Error(`client exited with ${status}${tail(proc.stderr)}`);
  const line = proc.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`client printed no result: ${JSON.stringify(proc.stdout)}`);
  }
}

function summarize(runs, opts) {
  const rows = [];
  for (const block of opts.sizes) {
    for (const sessions of opts.sessions) {
      const row = { block, sessions, mibps: {} };
      for (const r of runs) {
        if (r.block === block && r.sessions === sessions) row.mibps[r.server] = r.mibps;
      }
      const { polyloop, net, 'c-ref': c } = row.mibps;
      row.polyloopOverNet = ratio(polyloop, net);
      row.polyloopOverCRef = ratio(polyloop, c);
      rows.push(row);
    }
  }
  return rows;
}

function format(rows, opts) {
  const head = ['block', 'sessions', ...opts.servers.map((s) => `${s} MiB/s`)];
  head.push('polyloop/net', 'polyloop/c-ref');
  const body = rows.map((r) => [
    String(r.block),
    String(r.sessions),
    ...opts.servers.map((s) => (r.mibps[s] === null ? 'ERROR' : num(r.mibps[s], 1))),
    num(r.polyloopOverNet, 2),
    num(r.polyloopOverCRef, 2),
  ]);
  const title = `pingpong: ${opts.seconds} s per run, server on cpu ${opts.serverCpu}, client on cpu ${opts.clientCpu}`;
  return [title, ...grid(head, body, 2)].join('\n');
}

function results(opts, runs, table, errors) {
  return {
    benchmark: 'pingpong',
    date: new Date().toISOString(),
    machine: machine(),
    parameters: {
      seconds: opts.seconds,
      sizes: opts.sizes,
      sessions: opts.sessions,
      servers: opts.servers,
      commands: Object.fromEntries(
        opts.servers.map((s) => [
          s,
          `taskset -c ${opts.serverCpu} ${SERVERS[s].map(display).join(' ')}`,
        ]),
      ),
      client: `taskset -c ${opts.clientCpu} ${display(client)} --host 127.0.0.1 --port PORT --sessions N --block B --seconds T`,
      serverCpu: Number(opts.serverCpu),
      clientCpu: Number(opts.clientCpu),
      unit: 'MiB/s = bytes read by the client / elapsed seconds / 2^20',
    },
    table,
    runs,
    errors,
  };
}
