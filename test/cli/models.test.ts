// The example servers under every model, from the command line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { hashLine } from '../../examples/hash-service.js';
import { nativeStatus } from '../../native/index.js';
import { CLI, connect, readBytes, startCli } from '../helpers.js';
import { LineClient, once } from '../concurrency/support.js';

const noNative = nativeStatus().available ? false : 'native addon not built';

const MODELS: { args: string[]; line: RegExp; skip?: string | false }[] = [
  { args: ['--model', 'reactor'], line: /reactor, 1 loop/ },
  { args: ['--acceptor', 'node'], line: /reactor, 1 loop \(node acceptor\)/ },
  { args: ['--model', 'half-sync', '--loops', '2'], line: /half-sync, 2 thread loops/ },
  {
    args: ['--model', 'half-sync', '--loops', '2', '--workers', 'process', '--dispatch', 'ip-hash'],
    line: /half-sync, 2 process loops/,
  },
  {
    args: ['--model', 'leader-follower', '--loops', '2'],
    line: /leader-follower, 2 thread loops/,
    skip: noNative,
  },
  { args: ['--model', 'reuse-port', '--loops', '2'], line: /reuse-port, 2 thread loops/ },
];

describe(
  'polyloop servers take --model, --loops, --workers, --dispatch',
  { timeout: 120_000 },
  () => {
    for (const m of MODELS) {
      it(`echo ${m.args.join(' ')}`, { skip: m.skip ?? false }, async () => {
        const srv = await startCli(['echo', '--port', '0', ...m.args]);
        try {
          for (let i = 0; i < 4; i++) {
            const s = await connect(srv.port);
            s.write('ping');
            assert.equal((await readBytes(s, 4)).toString(), 'ping');
            s.destroy();
          }
          assert.match(srv.stderr(), m.line);
        } finally {
          assert.equal(await srv.stop('SIGTERM'), 0);
        }
      });
    }

    it('chat relays between clients on different loops', async () => {
      const srv = await startCli(['chat', '--port', '0', '--model', 'half-sync', '--loops', '2']);
      try {
        // Round-robin: consecutive connections land on loops 0 and 1.
        const a = await connect(srv.port);
        const b = await connect(srv.port);
        // Give both loops a moment to register their client before the first message.
        await new Promise((r) => setTimeout(r, 200));
        const body = Buffer.from('across loops');
        const head = Buffer.alloc(4);
        head.writeUInt32BE(body.length);
        a.write(Buffer.concat([head, body]));
        const len = (await readBytes(b, 4)).readUInt32BE(0);
        assert.equal((await readBytes(b, len)).toString(), 'across loops');
        a.destroy();
        b.destroy();
      } finally {
        await srv.stop();
      }
    });

    it('hash answers with the scrypt hash on every loop', async () => {
      const srv = await startCli(['hash', '--port', '0', '--loops', '2']);
      try {
        const c = await LineClient.connect(srv.port);
        assert.equal(await c.ask('secret'), hashLine('secret'));
        c.close();
      } finally {
        await srv.stop();
      }
    });

    it('SIGHUP reloads the loops and keeps serving', async () => {
      const srv = await startCli(['hash', '--port', '0', '--loops', '2']);
      try {
        let stop = false;
        let ok = 0;
        const failures: string[] = [];
        const loop = (async () => {
          while (!stop) {
            try {
              assert.match(await once(srv.port, 'where'), /^loop \d$/);
              ok++;
            } catch (err) {
              failures.push((err as Error).message);
            }
          }
        })();
        while (ok < 10) await new Promise((r) => setTimeout(r, 20));
        srv.proc.kill('SIGHUP');
        const deadline = Date.now() + 15_000;
        while (!srv.stderr().includes('reloaded') && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
        }
        const before = ok;
        while (ok < before + 10) await new Promise((r) => setTimeout(r, 20));
        stop = true;
        await loop;
        assert.match(srv.stderr(), /reloaded: generation 2/);
        assert.deepEqual(failures, []);
      } finally {
        assert.equal(await srv.stop(), 0);
      }
    });

    it('rejects an unknown model with a usage error (exit 2)', () => {
      const r = spawnSync(process.execPath, [CLI, 'echo', '--model', 'forking'], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /--model must be reactor, half-sync, leader-follower, reuse-port/);
    });
  },
);
