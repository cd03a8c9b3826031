// HTTP apps run in every concurrency model: routing, bodies, keep-alive and pipelining.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { startServer, VARIANTS } from './support.js';

const HTTP_APP = new URL('./fixtures/http-app.js', import.meta.url);

function pipelined(port: number, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      got += d;
      if ((got.match(/HTTP\/1\.1 200/g) ?? []).length === n) {
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', reject);
    let req = '';
    for (let i = 0; i < n; i++) req += `GET /hello/p${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
    s.write(req);
  });
}

for (const variant of VARIANTS) {
  describe(`HTTP under ${variant.name}`, { skip: variant.skip ?? false, timeout: 60_000 }, () => {
    it('routes, parses JSON bodies, keeps alive and answers pipelined requests in order', async () => {
      const server = await startServer(variant.options, HTTP_APP);
      const base = `http://127.0.0.1:${server.address.port}`;
      const hello = await fetch(`${base}/hello/world`);
      assert.equal(await hello.text(), 'hello world');
      const json = await fetch(`${base}/json`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ a: 1 }),
      });
      assert.deepEqual(((await json.json()) as { got: unknown }).got, { a: 1 });
      const missing = await fetch(`${base}/nope`);
      assert.equal(missing.status, 404);
      await missing.arrayBuffer();
      const loops = new Set<string>();
      for (let i = 0; i < 8; i++) {
        const r = await fetch(`${base}/where`, { headers: { connection: 'close' } });
        loops.add(await r.text());
      }
      assert.ok(loops.size >= 1);
      const text = await pipelined(server.address.port, 16);
      const bodies = text
        .split('\r\n\r\n')
        .slice(1)
        .map((b) => b.split('HTTP/1.1')[0]);
      assert.deepEqual(
        bodies.slice(0, 16),
        Array.from({ length: 16 }, (_, i) => `hello p${i}`),
      );
    });
  });
}
