// res.sendFile(path) through the open-file cache, and without it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { delay } from '../../helpers.js';
import { forEachAcceptor } from '../../io/server-fixture.js';
import { assertBody, get, open, serve } from './server-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'pl-http-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));

forEachAcceptor('http server files', () => {
  for (const fileCache of [{ ttl: 30 }, false] as const) {
    const how = fileCache === false ? 'without the file cache' : 'with the file cache';
    it(`sendFile serves a file again, then its new content once it changed (${how})`, async () => {
      const path = join(dir, `page-${String(fileCache !== false)}.html`);
      writeFileSync(path, '<p>one</p>');
      const { port } = await serve((_req, res) => res.sendFile(path), { fileCache });
      const c = await open(port);
      c.socket.write(get('/') + get('/') + 'HEAD / HTTP/1.1\r\nHost: t\r\n\r\n');
      let rs = await c.responses(3, ['GET', 'GET', 'HEAD']);
      assertBody(rs[0], 200, '<p>one</p>');
      assertBody(rs[1], 200, '<p>one</p>');
      assert.equal(rs[0]!.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(rs[2]!.headers['content-length'], '10');
      rmSync(path);
      writeFileSync(path, '<p>two, longer</p>');
      await delay(60);
      c.socket.write(get('/'));
      rs = await c.responses(4, ['GET', 'GET', 'HEAD', 'GET']);
      assertBody(rs[3], 200, '<p>two, longer</p>');
      rmSync(path);
      await delay(60);
      c.socket.write(get('/'));
      rs = await c.responses(5, ['GET', 'GET', 'HEAD', 'GET', 'GET']);
      assert.equal(rs[4]!.status, 404);
      c.socket.destroy();
    });
  }

  it('sendFile answers many pipelined requests for one cached file in order', async () => {
    const path = join(dir, 'data.bin');
    const data = Buffer.alloc(200_000, 0x5a);
    writeFileSync(path, data);
    const { port } = await serve(async (req, res) => {
      if (req.path === '/f') await res.sendFile(path);
      else res.send(req.path);
    });
    const c = await open(port);
    const paths = ['/f', '/a', '/f', '/f', '/b'];
    c.socket.write(paths.map((p) => get(p)).join(''));
    const rs = await c.responses(paths.length);
    rs.forEach((r, i) => {
      if (paths[i] === '/f') assert.deepEqual(r.body, data);
      else assertBody(r, 200, paths[i]!);
    });
    c.socket.destroy();
  });
});
