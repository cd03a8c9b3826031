// Server CPU time per request, measured inside the server process: a guide while tuning, usable
// on a busy machine (unlike req/s, CPU time per request hardly moves with other load).
//
//   node bench/http/cpu.mjs [--servers polyloop,node-http,net] [--requests 200000]
//       [--connections 50] [--pipeline 16] [--path /] [--rounds 3] [--prof DIR]
//
// Each server script runs in a child (fork, with `cpu-probe.mjs` preloaded, which answers CPU
// usage over IPC and exits when this process goes away). The client here keeps `connections`
// sockets busy, each writing `pipeline` requests at a time and waiting for their responses, until
// `requests` responses have arrived; the server's user+system CPU over that window, divided by
// the responses, is the figure. One untimed round warms each server up first; the best of
// `rounds` is reported. `--prof DIR` runs the servers with `--cpu-prof --cpu-prof-dir DIR`.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const SCRIPTS = {
  polyloop: 'polyloop-server.mjs',
  'node-http': 'node-http-server.mjs',
  fastify: 'fastify-server.mjs',
  net: 'net-server.mjs',
};

const { values } = parseArgs({
  options: {
    servers: { type: 'string', default: 'polyloop,node-http,net' },
    requests: { type: 'string', default: '200000' },
    connections: { type: 'string', default: '50' },
    pipeline: { type: 'string', default: '16' },
    path: { type: 'string', default: '/' },
    'file-bytes': { type: 'string', default: '1048576' },
    rounds: { type: 'string', default: '3' },
    prof: { type: 'string' },
  },
});
const total = Number(values.requests);
const conns = Number(values.connections);
const depth = Number(values.pipeline);
const rounds = Number(values.rounds);

const work = mkdtempSync(path.join(os.tmpdir(), 'polyloop-cpu-'));
writeFileSync(path.join(work, 'file.bin'), Buffer.alloc(Number(values['file-bytes']), 7));

/** Starts a server child; resolves with { child, port, cpu() }. */
function startServer(name) {
  const execArgv = ['--import', path.join(here, 'cpu-probe.mjs')];
  if (values.prof !== undefined) execArgv.push('--cpu-prof', '--cpu-prof-dir', values.prof);
  const child = fork(path.join(here, SCRIPTS[name]), ['--dir', work, '--port', '0'], {
    execArgv,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on [^\s]+:(\d+)/.exec(out);
      if (m !== null) resolve({ name, child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

function cpu(srv) {
  return new Promise((resolve) => {
    srv.child.once('message', (m) => resolve(m));
    srv.child.send('cpu');
  });
}

/** Pushes `n` requests through `conns` sockets, `depth` per write; resolves when all answered. */
function load(port, n) {
  const req = Buffer.from(`GET ${values.path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  const batch = Buffer.concat(Array(depth).fill(req));
  let started = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const sockets = [];
    const finish = (err) => {
      for (const s of sockets) s.destroy();
      if (err) reject(err);
      else resolve();
    };
    for (let i = 0; i < conns; i++) {
      const s = net.connect(port, '127.0.0.1');
      sockets.push(s);
      s.setNoDelay(true);
      let pending = 0;
      let body = 0; // body bytes still expected for the response being read
      let carry = '';
      const next = () => {
        if (started >= n) return;
        const k = Math.min(depth, n - started);
        started += k;
        pending = k;
        s.write(k === depth ? batch : Buffer.concat(Array(k).fill(req)));
      };
      s.on('connect', next);
      s.on('error', finish);
      s.on('data', (d) => {
        // Count responses by their heads; skip bodies by Content-Length.
        let i = 0;
        while (i < d.length) {
          if (body > 0) {
            const take = Math.min(body, d.length - i);
            body -= take;
            i += take;
            if (body === 0) {
              done++;
              pending--;
            }
            continue;
          }
          const end = d.indexOf('\r\n\r\n', i, 'latin1');
          if (end < 0) {
            carry += d.toString('latin1', i);
            break;
          }
          const head = carry + d.toString('latin1', i, end);
          carry = '';
          const m = /content-length: *(\d+)/i.exec(head);
          body = m === null ? 0 : Number(m[1]);
          i = end + 4;
          if (body === 0) {
            done++;
            pending--;
          }
        }
        if (done >= n) finish();
        else if (pending === 0) next();
      });
    }
  });
}

const results = [];
try {
  for (const name of values.servers.split(',')) {
    const srv = await startServer(name);
    try {
      await load(srv.port, Math.min(total, 50_000)); // warm-up
      let best = { us: Infinity, user: Infinity };
      for (let r = 0; r < rounds; r++) {
        const c0 = await cpu(srv);
        const t0 = performance.now();
        await load(srv.port, total);
        const c1 = await cpu(srv);
        const user = (c1.user - c0.user) / total;
        const us = user + (c1.system - c0.system) / total;
        if (us < best.us) best = { us, user };
        process.stderr.write(
          `${name}: ${us.toFixed(3)} µs CPU/request, ${user.toFixed(3)} user (${((performance.now() - t0) / 1000).toFixed(2)} s wall)\n`,
        );
      }
      results.push({ name, ...best });
    } finally {
      srv.child.kill('SIGTERM');
      await new Promise((r) => srv.child.once('exit', r));
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const base = results.find((r) => r.name === 'polyloop');
process.stdout.write(
  `path ${values.path}, ${conns} connections, pipeline ${depth}, ${total} requests, best of ${rounds}\n`,
);
for (const r of results) {
  const vs = base && r !== base ? `  (polyloop is ${(r.us / base.us).toFixed(2)}x cheaper)` : '';
  process.stdout.write(
    `${r.name.padEnd(10)} ${r.us.toFixed(3)} µs CPU/request (${r.user.toFixed(3)} user)${vs}\n`,
  );
}
