// The supervisor: dead loops are replaced while the others serve, crash loops back off, a reload
// refuses or resets nothing, and leader/follower never has two watchers.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { once as eventOnce } from 'node:events';
import { nativeStatus } from '../../native/index.js';
import { LineClient, loopOf, once, startServer } from './support.js';
import { waitFor } from '../helpers.js';

const noNative = nativeStatus().available ? false : 'native addon not built';

/** Connects until a client lands on `id`. */
async function clientOn(port: number, id: number): Promise<LineClient> {
  for (let i = 0; i < 32; i++) {
    const c = await LineClient.connect(port);
    if ((await loopOf(c)) === id) return c;
    c.close();
  }
  throw new Error(`no connection reached loop ${id}`);
}

describe('supervisor', { timeout: 120_000 }, () => {
  for (const workers of ['thread', 'process'] as const) {
    it(`replaces a dead ${workers} loop while the other keeps serving`, async () => {
      const server = await startServer({ model: 'half-sync', workers });
      const port = server.address.port;
      const victim = await clientOn(port, 1);
      const survivor = await clientOn(port, 0);
      const crashed = eventOnce(server, 'crash');
      const restarted = eventOnce(server, 'restart');
      const t0 = Date.now();
      if (workers === 'thread') {
        victim.send('crash'); // an uncaught exception in the loop's thread
      } else {
        process.kill(Number(await victim.ask('pid')), 'SIGKILL');
      }
      const [crash] = (await crashed) as [{ loop: number; restartIn: number }];
      assert.equal(crash.loop, 1);
      assert.equal(crash.restartIn, 0);
      // Its connection is closed with it, not leaked.
      await victim.waitClosed();
      // The other loop never stopped.
      assert.equal(await survivor.ask('echo still here'), 'still here');
      await restarted;
      const took = Date.now() - t0;
      assert.ok(took < 10_000, `replaced after ${took} ms`);
      const stats = server.stats();
      assert.equal(stats.loops[1]!.restarts, 1);
      assert.ok(stats.loops.every((l) => l.alive));
      // Both loops serve again.
      const again = await clientOn(port, 1);
      assert.equal(await again.ask('echo back'), 'back');
      again.close();
      survivor.close();
    });
  }

  it('backs off a loop that keeps dying and reports the crash loop', async () => {
    const marker = join(tmpdir(), `polyloop-fail-${process.pid}-${Date.now()}`);
    const server = await startServer({
      model: 'half-sync',
      workers: 'thread',
      args: { failMarker: marker },
    });
    const port = server.address.port;
    const victim = await clientOn(port, 1);
    writeFileSync(marker, '');
    const delays: number[] = [];
    server.on('crash', (c: { restartIn: number }) => delays.push(c.restartIn));
    const looping = eventOnce(server, 'crash-loop');
    victim.send('crash');
    const [info] = (await looping) as [{ loop: number; crashes: number; restartIn: number }];
    assert.equal(info.loop, 1);
    assert.ok(info.crashes >= 3);
    assert.deepEqual(delays.slice(0, 3), [0, 250, 500]);
    // Meanwhile loop 0 serves every new connection.
    for (let i = 0; i < 4; i++) assert.match(await once(port, 'where'), /^loop 0\//);
    rmSync(marker);
    await eventOnce(server, 'restart');
    await waitFor(() => server.stats().loops.every((l) => l.alive), 10_000);
  });

  it('reloads with no refused or reset connection while clients keep connecting', async () => {
    const server = await startServer({ model: 'half-sync', workers: 'thread' });
    const port = server.address.port;
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const clientLoop = async (): Promise<void> => {
      while (!stop) {
        try {
          assert.match(await once(port, 'where'), /^loop \d\//);
          ok++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const clients = [clientLoop(), clientLoop(), clientLoop()];
    await waitFor(() => ok > 20, 10_000);
    const reloaded = eventOnce(server, 'reload');
    await server.reload();
    const [info] = (await reloaded) as [{ generation: number }];
    assert.equal(info.generation, 2);
    const before = ok;
    await waitFor(() => ok > before + 20, 10_000);
    stop = true;
    await Promise.all(clients);
    assert.deepEqual(failures, []);
    assert.ok(server.stats().loops.every((l) => l.alive));
  });

  for (const model of ['reactor', 'half-sync'] as const) {
    it(`${model}: close() runs each loop's onClose cleanups after its connections close`, async () => {
      const marker = join(tmpdir(), `polyloop-close-${process.pid}-${Date.now()}-${model}`);
      const server = await startServer({ model, args: { closeMarker: marker } });
      await server.close();
      const lines = readFileSync(marker, 'utf8').trim().split('\n').sort();
      rmSync(marker);
      assert.deepEqual(lines, model === 'reactor' ? ['closed 0'] : ['closed 0', 'closed 1']);
    });
  }

  it('close() does not wait out shutdownTimeout for a client that stays idle', async () => {
    const server = await startServer({ model: 'half-sync', shutdownTimeout: 60_000 });
    const idle = await LineClient.connect(server.address.port);
    assert.match(await idle.ask('where'), /^loop /);
    // Quiet connections are closed after a second of silence instead of after 60 s.
    const t0 = Date.now();
    await server.close();
    await idle.waitClosed();
    assert.ok(Date.now() - t0 < 30_000, `close took ${Date.now() - t0} ms`);
  });

  it(
    'leader/follower: never more than one watcher, and every loop leads',
    { skip: noNative },
    async () => {
      const server = await startServer({ model: 'leader-follower', loops: 3 });
      const port = server.address.port;
      for (let i = 0; i < 30; i++) assert.match(await once(port, 'where'), /^loop \d\/3/);
      // Bursts too: a leader accepts a batch, then passes the token on.
      await Promise.all(Array.from({ length: 30 }, () => once(port, 'where')));
      await waitFor(() => server.stats().total.accepted >= 60, 5000);
      const stats = server.stats();
      assert.equal(stats.maxWatching, 1);
      for (const l of stats.loops) assert.ok(l.leads > 0, `loop ${l.id} never led`);
    },
  );
});
