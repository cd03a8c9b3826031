// What the server writes: cached and built heads, UTF-8 lengths, large batches, large streamed
// pieces, and request bodies that arrive over many reads.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { delay } from '../../helpers.js';
import { forEachAcceptor } from '../../io/server-fixture.js';
import { assertBody, get, open, serve } from './server-harness.js';

const DATE = /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/;

forEachAcceptor('http server output', () => {
  it('server assembles a body that arrives over several reads byte for byte', async () => {
    const { port } = await serve((req, res) => res.send(req.body));
    const c = await open(port);
    const parts = [0, 1, 2].map((i) => Buffer.alloc(3000, 0x61 + i));
    c.socket.write(`POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 9000\r\n\r\n`);
    for (const p of parts) {
      await delay(15);
      c.socket.write(p);
    }
    const [r] = await c.responses(1);
    assert.equal(r!.status, 200);
    assert.deepEqual(r!.body, Buffer.concat(parts));
    c.socket.destroy();
  });

  it('server writes the right head for each status and type, however they alternate', async () => {
    const { port } = await serve((req, res) => {
      switch (req.path) {
        case '/text':
          return res.send('plain');
        case '/missing':
          return res.status(404).send('Not Found\n');
        case '/json':
          return res.status(201).send({ a: 'é' });
        case '/bytes':
          return res.send(new Uint8Array([1, 2, 3]));
        case '/empty':
          return res.status(204).send('ignored');
        case '/own':
          return res.setHeader('X-One', '1').setHeader('Content-Type', 'text/x').send('own');
        default:
          return res.send('');
      }
    });
    const c = await open(port);
    const paths = ['/text', '/missing', '/json', '/bytes', '/empty', '/own', '/none', '/text'];
    c.socket.write(paths.map((p) => get(p)).join(''));
    const rs = await c.responses(paths.length);
    const want: [number, string | undefined, string][] = [
      [200, 'text/plain; charset=utf-8', 'plain'],
      [404, 'text/plain; charset=utf-8', 'Not Found\n'],
      [201, 'application/json; charset=utf-8', '{"a":"é"}'],
      [200, 'application/octet-stream', '\x01\x02\x03'],
      [204, undefined, ''],
      [200, 'text/x', 'own'],
      [200, undefined, ''],
      [200, 'text/plain; charset=utf-8', 'plain'],
    ];
    rs.forEach((r, i) => {
      const [status, type, body] = want[i]!;
      assertBody(r, status, body);
      assert.equal(r.headers['content-type'], type, paths[i]);
      assert.match(r.headers['date']!, DATE);
      assert.equal(r.headers['connection'], undefined);
      if (status === 204) assert.equal(r.headers['content-length'], undefined);
      else assert.equal(r.headers['content-length'], String(Buffer.byteLength(body)), paths[i]);
    });
    assert.equal(rs[5]!.headers['x-one'], '1');
    c.socket.destroy();
  });

  it('server counts UTF-8 bytes in Content-Length for short and long text', async () => {
    const texts = ['héllo ✓', '😀', 'ü'.repeat(100), 'a'.repeat(65), 'a'.repeat(5000)];
    const { port } = await serve((req, res) => res.send(texts[Number(req.path.slice(1))]));
    const c = await open(port);
    c.socket.write(texts.map((_t, i) => get(`/${i}`)).join(''));
    const rs = await c.responses(texts.length);
    rs.forEach((r, i) => {
      assert.equal(r.body.toString('utf8'), texts[i]);
      assert.equal(r.headers['content-length'], String(Buffer.byteLength(texts[i]!)));
    });
    c.socket.destroy();
  });

  it('server answers a large pipelined batch in order in one piece of output', async () => {
    const { port } = await serve((req, res) => res.send(`${req.path}:${'x'.repeat(1000)}`));
    const c = await open(port);
    const n = 300;
    let raw = '';
    for (let i = 0; i < n; i++) raw += get(`/${i}`);
    c.socket.write(raw);
    const rs = await c.responses(n);
    rs.forEach((r, i) => assertBody(r, 200, `/${i}:${'x'.repeat(1000)}`));
    c.socket.destroy();
  });

  it('server frames large streamed pieces and the responses after them', async () => {
    const big = Buffer.alloc(100_000, 0x62);
    const { port } = await serve(async (req, res) => {
      if (req.path !== '/stream') return res.send('after');
      await res.write('small;');
      await res.write(big);
      await res.write('tail');
      res.end();
    });
    const c = await open(port);
    c.socket.write(get('/stream') + get('/next'));
    const rs = await c.responses(2);
    assert.equal(rs[0]!.headers['transfer-encoding'], 'chunked');
    assert.deepEqual(rs[0]!.body, Buffer.concat([Buffer.from('small;'), big, Buffer.from('tail')]));
    assertBody(rs[1], 200, 'after');
    c.socket.destroy();
  });

  it('server says keep-alive to an HTTP/1.0 client that asked, and close to one that did not', async () => {
    const { port } = await serve((_req, res) => res.send('ten'));
    const c = await open(port);
    c.socket.write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n');
    await c.end();
    const rs = await c.responses(2);
    assert.equal(rs[0]!.headers['connection'], 'keep-alive');
    assert.equal(rs[1]!.headers['connection'], 'close');
    assertBody(rs[1], 200, 'ten');
  });
});
