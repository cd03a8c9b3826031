import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { router } from '../../../src/index.js';
import { forEachAcceptor } from '../../io/server-fixture.js';
import { assertBody, get, once, open, serve } from './server-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'pl-http-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function routes() {
  return router()
    .get('/users/:id', (req, res) => res.send(`user ${req.params['id']} q=${req.query.get('q')}`))
    .post('/users/:id', async (req, res) => res.send((await req.json()) as object))
    .delete('/users/:id', (_req, res) => res.status(204).send());
}

forEachAcceptor('http server routing and bodies', () => {
  it('server routes by path and fills params and query when a route matches', async () => {
    const { port } = await serve(routes());
    const r = await once(port, get('/users/42?q=a%20b', 'Connection: close\r\n'));
    assertBody(r, 200, 'user 42 q=a b');
  });

  it('server answers 404 when no route matches the path', async () => {
    const { port } = await serve(routes());
    const r = await once(port, get('/nope', 'Connection: close\r\n'));
    assert.equal(r.status, 404);
  });

  it('server answers 405 with Allow when the path has routes for other methods', async () => {
    const { port } = await serve(routes());
    const r = await once(port, 'PUT /users/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    assert.equal(r.status, 405);
    assert.deepEqual(r.headers['allow']!.split(', ').sort(), ['DELETE', 'GET', 'HEAD', 'POST']);
  });

  it('server parses a JSON body when the handler awaits req.json()', async () => {
    const { port } = await serve(routes());
    const res = await fetch(`http://127.0.0.1:${port}/users/7`, {
      method: 'POST',
      body: JSON.stringify({ name: 'x' }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { name: 'x' });
  });

  it('server sends a 204 without a body when the route answers No Content', async () => {
    const { port } = await serve(routes());
    const res = await fetch(`http://127.0.0.1:${port}/users/7`, { method: 'DELETE' });
    assert.equal(res.status, 204);
    assert.equal(await res.text(), '');
  });

  it('server streams a chunked response that fetch decodes', async () => {
    const parts = Array.from({ length: 20 }, (_, i) => `part ${i};`);
    const { port } = await serve(async (_req, res) => {
      for (const p of parts) await res.write(p);
      res.end();
    });
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.headers.get('transfer-encoding'), 'chunked');
    assert.equal(await res.text(), parts.join(''));
  });

  it('server paces a large stream when the handler awaits write', async () => {
    const block = randomBytes(256 * 1024);
    const { port } = await serve(
      async (_req, res) => {
        for (let i = 0; i < 16; i++) await res.write(block);
        res.end();
      },
      { writeHighWaterMark: 64 * 1024 },
    );
    const res = await fetch(`http://127.0.0.1:${port}/`);
    const got = Buffer.from(await res.arrayBuffer());
    assert.equal(got.length, 16 * block.length);
    assert.ok(got.subarray(15 * block.length).equals(block));
  });

  it('server sends the file bytes when the handler calls sendFile', async () => {
    const data = randomBytes(300 * 1024 + 7);
    const file = join(dir, 'blob.bin');
    writeFileSync(file, data);
    const { port } = await serve(async (req, res) => {
      await res.sendFile(req.path === '/missing' ? join(dir, 'missing') : file, {
        contentType: 'application/x-test',
      });
    });
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.headers.get('content-type'), 'application/x-test');
    assert.equal(res.headers.get('content-length'), String(data.length));
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(data));
    const missing = await fetch(`http://127.0.0.1:${port}/missing`);
    assert.equal(missing.status, 404);
    await missing.text();
  });

  it('server answers pipelined requests in order when one of them sends a file', async () => {
    const file = join(dir, 'small.txt');
    writeFileSync(file, 'file body');
    const { port } = await serve(async (req, res) => {
      if (req.path === '/f') await res.sendFile(file);
      else res.send(req.path);
    });
    const c = await open(port);
    c.socket.write(get('/a') + get('/f') + get('/b', 'Connection: close\r\n'));
    const rs = await c.responses(3);
    assert.deepEqual(
      rs.map((r) => r.body.toString()),
      ['/a', 'file body', '/b'],
    );
    assert.equal(rs[1]!.headers['content-type'], 'text/plain; charset=utf-8');
    await c.end();
  });
});
