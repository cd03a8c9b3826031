// The Proactor mode: with logic 'pool' the IO loop only reads, parses and writes; services run on
// a thread pool, replies keep per-connection order, and cheap requests are not stuck behind
// heavy ones.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serve } from '../../src/index.js';
import { LineClient, startServer } from './support.js';

const SERVICE = new URL('./fixtures/service-app.js', import.meta.url);
const HTTP_SERVICE = new URL('./fixtures/http-service-app.js', import.meta.url);

/** Sends `heavy` on one connection and `cheap` on another; which reply came first? */
async function race(port: number): Promise<string[]> {
  const a = await LineClient.connect(port);
  const b = await LineClient.connect(port);
  const order: string[] = [];
  a.send('heavy 600');
  await new Promise((r) => setTimeout(r, 100));
  await Promise.all([
    a.next(20_000).then((l) => order.push(l)),
    b.ask('x').then((l) => order.push(l)),
  ]);
  a.close();
  b.close();
  return order;
}

describe('logic: pool (Proactor)', { timeout: 120_000 }, () => {
  it('runs the service on pool threads, not on the IO loop', async () => {
    const server = await startServer({ model: 'reactor', logic: 'pool' }, SERVICE);
    const c = await LineClient.connect(server.address.port);
    assert.match(await c.ask('thread'), /^thread \d+$/);
    c.close();
  });

  it('keeps replies in message order on a connection while work completes out of order', async () => {
    const server = await startServer(
      { model: 'reactor', logic: 'pool', pool: { maxThreads: 2 } },
      SERVICE,
    );
    const c = await LineClient.connect(server.address.port);
    c.socket.write('heavy 300\na\nheavy 100\nb\nc\n');
    assert.deepEqual(
      [await c.next(), await c.next(), await c.next(), await c.next(), await c.next()],
      ['heavy done', 'cheap a', 'heavy done', 'cheap b', 'cheap c'],
    );
    c.close();
  });

  it('answers a cheap request while a heavy one runs (and not without the pool)', async () => {
    const pooled = await startServer({ model: 'reactor', logic: 'pool' }, SERVICE);
    assert.deepEqual(await race(pooled.address.port), ['cheap x', 'heavy done']);
    const inline = await startServer({ model: 'reactor', logic: 'loop' }, SERVICE);
    assert.deepEqual(await race(inline.address.port), ['heavy done', 'cheap x']);
  });

  it('closes only the connection whose message failed', async () => {
    const server = await startServer({ model: 'reactor', logic: 'pool' }, SERVICE);
    const bad = await LineClient.connect(server.address.port);
    const good = await LineClient.connect(server.address.port);
    bad.send('fail');
    await bad.waitClosed();
    assert.equal(await good.ask('still'), 'cheap still');
    good.close();
  });

  it('serves an HTTP service from the pool under half-sync, in order, with 500 on a throw', async () => {
    const server = await startServer({ model: 'half-sync', logic: 'pool' }, HTTP_SERVICE);
    const base = `http://127.0.0.1:${server.address.port}`;
    const cheap = await fetch(`${base}/cheap`);
    assert.equal(await cheap.text(), 'cheap pool');
    const echo = await fetch(`${base}/echo`, { method: 'POST', body: 'hi' });
    assert.equal(echo.status, 201);
    assert.equal(echo.headers.get('x-method'), 'POST');
    assert.deepEqual(await echo.json(), { got: 'hi' });
    const boom = await fetch(`${base}/boom`);
    assert.equal(boom.status, 500);
    await boom.arrayBuffer();
    const [heavy, light] = await Promise.all([fetch(`${base}/heavy`), fetch(`${base}/cheap`)]);
    assert.equal(await heavy.text(), 'heavy done');
    assert.equal(await light.text(), 'cheap pool');
  });

  it("refuses logic 'pool' for an app that is not a service", async () => {
    await assert.rejects(
      serve(new URL('./fixtures/loop-app.js', import.meta.url), {
        model: 'reactor',
        logic: 'pool',
        host: '127.0.0.1',
      }),
      /logic 'pool' needs a service/,
    );
  });
});
