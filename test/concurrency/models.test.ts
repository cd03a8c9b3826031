// One suite, every model: the same app and the same checks for each model × worker kind.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { LineClient, loopOf, startServer, VARIANTS } from './support.js';
import { waitFor } from '../helpers.js';

for (const variant of VARIANTS) {
  describe(`model ${variant.name}`, { skip: variant.skip ?? false, timeout: 120_000 }, () => {
    it('echoes random data over many concurrent clients and counts it per loop', async () => {
      const server = await startServer({ ...variant.options, idleTimeout: 3000 });
      const port = server.address.port;
      // Connect one by one (a leader/follower leader accepts a whole burst in one batch),
      // then talk on all of them at once.
      const clients: LineClient[] = [];
      const seen = new Set<number>();
      for (let i = 0; i < 24; i++) {
        const c = await LineClient.connect(port);
        seen.add(await loopOf(c));
        clients.push(c);
      }
      await Promise.all(
        clients.map(async (c) => {
          for (let i = 0; i < 5; i++) {
            const text = randomBytes(4096 + i * 997).toString('base64');
            assert.equal(await c.ask(`echo ${text}`), text);
          }
          c.close();
        }),
      );
      assert.equal(seen.size, server.loops, `connections reached loops ${[...seen].join(',')}`);
      // Loops publish their counters every 100 ms: wait for the last echo to be counted.
      await waitFor(() => {
        const t = server.stats().total;
        return t.accepted >= 24 && t.active === 0 && t.bytesIn > 24 * 5 * 5000;
      }, 5000);
      const stats = server.stats();
      assert.equal(stats.loops.length, server.loops);
      assert.ok(stats.total.bytesIn > 24 * 5 * 5000, `bytesIn ${stats.total.bytesIn}`);
      assert.ok(stats.loops.every((l) => l.alive));
    });

    it('delivers a broadcast from one loop to clients on every loop', async () => {
      const server = await startServer(variant.options);
      const port = server.address.port;
      // Connect until every loop has a client (the kernel picks for reuse-port).
      const byLoop = new Map<number, LineClient>();
      const extra: LineClient[] = [];
      for (let i = 0; i < 64 && byLoop.size < server.loops; i++) {
        const c = await LineClient.connect(port);
        const id = await loopOf(c);
        if (byLoop.has(id)) extra.push(c);
        else byLoop.set(id, c);
      }
      assert.equal(byLoop.size, server.loops);
      const [sender, ...others] = [...byLoop.values()];
      assert.match(await sender!.ask('bcast hello'), /^sent$/);
      for (const c of [...others, ...extra]) {
        assert.match(await c.next(), /^from \d+: hello$/);
      }
      for (const c of [...byLoop.values(), ...extra]) c.close();
    });

    it('applies backpressure to a client that does not read, and loses nothing', async () => {
      const server = await startServer({ ...variant.options, highWaterMark: 64 * 1024 });
      const c = await LineClient.connect(server.address.port);
      c.socket.pause();
      const line = 'x'.repeat(16 * 1024);
      const n = 1024; // 16 MiB of echoes: more than the kernel buffers on both sides
      let flushed = true;
      for (let i = 0; i < n; i++) flushed = c.socket.write(`echo ${i} ${line}\n`);
      // The server stops reading, so the client's own buffer fills: writes report backpressure.
      assert.equal(flushed, false);
      c.socket.resume();
      for (let i = 0; i < n; i++) assert.equal(await c.next(), `${i} ${line}`);
      c.close();
    });

    it('closes idle connections after idleTimeout', async () => {
      const server = await startServer({ ...variant.options, idleTimeout: 500 });
      const c = await LineClient.connect(server.address.port);
      assert.match(await c.ask('where'), /^loop /);
      await c.waitClosed(10_000);
    });

    it('closes gracefully: pending replies are sent, then new connections are refused', async () => {
      const server = await startServer(variant.options);
      const port = server.address.port;
      const c = await LineClient.connect(port);
      await loopOf(c);
      c.send('slow 300');
      const closing = server.close();
      assert.equal(await c.next(), 'done 300');
      await c.waitClosed();
      await closing;
      await assert.rejects(LineClient.connect(port), /ECONNREFUSED/);
    });
  });
}
