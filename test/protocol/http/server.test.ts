import assert from 'node:assert/strict';
import { it } from 'node:test';
import { delay } from '../../helpers.js';
import { forEachAcceptor } from '../../io/server-fixture.js';
import { assertBody, get, ok, once, open, serve } from './server-harness.js';

forEachAcceptor('http server', () => {
  it('server answers a request when its bytes arrive in fragments', async () => {
    const { port } = await serve(ok);
    const c = await open(port);
    const raw = get('/frag', 'Connection: close\r\n');
    for (let i = 0; i < raw.length; i += 7) {
      c.socket.write(raw.slice(i, i + 7));
      await delay(5);
    }
    const [r] = await c.responses(1);
    assertBody(r, 200, 'GET /frag');
    assert.ok(r!.headers['date'] !== undefined, 'Date header');
    await c.end();
  });

  const malformed: [string, string, number][] = [
    ['a bare LF line ending', 'GET / HTTP/1.1\nHost: t\n\n', 400],
    ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\n\r\n', 400],
    ['a body over maxBodySize', 'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n', 413],
    ['a request line over maxRequestLineSize', `GET /${'a'.repeat(300)} HTTP/1.1\r\n`, 414],
    [
      'a header section over maxHeaderSize',
      `GET / HTTP/1.1\r\nHost: t\r\nX: ${'a'.repeat(600)}\r\n\r\n`,
      431,
    ],
    [
      'an unknown transfer coding',
      'POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n',
      501,
    ],
    ['an unsupported version', 'GET / HTTP/2.0\r\nHost: t\r\n\r\n', 505],
  ];
  for (const [what, raw, status] of malformed) {
    it(`server sends ${status} and closes when the request has ${what}`, async () => {
      const { port, app } = await serve(ok, {
        maxBodySize: 10,
        maxRequestLineSize: 256,
        maxHeaderSize: 512,
      });
      const r = await once(port, raw);
      assert.equal(r.status, status);
      assert.equal(r.headers['connection'], 'close');
      assert.ok(r.body.length > 0, 'a short text body');
      assert.ok(r.closed);
      assert.equal(app.stats().parseErrors[status], 1);
    });
  }

  it('server answers pipelined requests in order, batching sync responses', async () => {
    const { port } = await serve(ok);
    const c = await open(port);
    const n = 50;
    let raw = '';
    for (let i = 0; i < n; i++) raw += get(`/${i}`, i === n - 1 ? 'Connection: close\r\n' : '');
    c.socket.write(raw);
    const rs = await c.responses(n);
    assert.deepEqual(
      rs.map((r) => r.body.toString()),
      Array.from({ length: n }, (_, i) => `GET /${i}`),
    );
    await c.end();
    assert.ok(c.chunks < n, `${c.chunks} reads for ${n} responses`);
  });

  it('server answers pipelined requests in order when handlers finish out of order', async () => {
    const { port } = await serve(async (req, res) => {
      const i = Number(req.path.slice(1));
      await delay((5 - i) * 10);
      res.send(req.url);
    });
    const c = await open(port);
    c.socket.write([0, 1, 2, 3, 4].map((i) => get(`/${i}`)).join(''));
    const rs = await c.responses(5);
    assert.deepEqual(
      rs.map((r) => r.body.toString()),
      ['/0', '/1', '/2', '/3', '/4'],
    );
    c.socket.destroy();
  });

  it('server collects a chunked request body before calling the handler', async () => {
    const { port } = await serve((req, res) => res.send(req.body));
    const r = await once(
      port,
      'POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
        '5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n',
    );
    assertBody(r, 200, 'hello world');
    assert.equal(r.headers['content-length'], '11');
  });

  it('server collects a body that arrives in a later read', async () => {
    const { port } = await serve((req, res) => res.send(`${req.header('x-a')}:${req.text()}`));
    const c = await open(port);
    c.socket.write('PUT /x HTTP/1.1\r\nHost: t\r\nX-A: 1\r\nContent-Length: 4\r\n\r\nab');
    await delay(20);
    c.socket.write('cd');
    const [r] = await c.responses(1);
    assertBody(r, 200, '1:abcd');
    c.socket.destroy();
  });

  it('server sends headers only when the request is HEAD', async () => {
    const { port } = await serve((_req, res) => res.send('twelve bytes'));
    const c = await open(port);
    c.socket.write('HEAD / HTTP/1.1\r\nHost: t\r\n\r\n' + get('/', 'Connection: close\r\n'));
    await c.end();
    const rs = await c.responses(2, ['HEAD', 'GET']);
    assert.equal(rs[0]!.headers['content-length'], '12');
    assertBody(rs[1], 200, 'twelve bytes');
    // Exactly two heads and one body: the HEAD response carried no body bytes.
    assert.equal(c.buf.toString().split('twelve bytes').length, 2);
  });

  it('server closes after responding when the client sends Connection: close', async () => {
    const { port } = await serve(ok);
    const r = await once(port, get('/', 'Connection: close\r\n'));
    assertBody(r, 200, 'GET /');
    assert.equal(r.headers['connection'], 'close');
    assert.ok(r.closed);
  });

  it('server closes after responding when the handler sets Connection: close', async () => {
    const { port } = await serve((_req, res) => res.setHeader('connection', 'close').send('bye'));
    const r = await once(port, get('/'));
    assertBody(r, 200, 'bye');
    assert.equal(r.headers['connection'], 'close');
    assert.ok(r.closed);
  });

  it('server closes an HTTP/1.0 connection when keep-alive is not asked for', async () => {
    const { port } = await serve(ok);
    const r = await once(port, 'GET /old HTTP/1.0\r\n\r\n');
    assertBody(r, 200, 'GET /old');
    assert.ok(r.closed);
  });

  it('server keeps an HTTP/1.0 connection open when keep-alive is asked for', async () => {
    const { port } = await serve(ok);
    const c = await open(port);
    c.socket.write('GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const [r] = await c.responses(1);
    assert.equal(r!.headers['connection'], 'keep-alive');
    c.socket.write('GET /b HTTP/1.0\r\n\r\n');
    const rs = await c.responses(2);
    assertBody(rs[1], 200, 'GET /b');
    await c.end();
  });

  it('server sends 100 Continue before the body when the client expects it', async () => {
    const { port } = await serve((req, res) => res.send(req.body));
    const c = await open(port);
    c.socket.write(
      'POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n',
    );
    await c.until(() => c.buf.length >= 25);
    assert.equal(c.buf.toString('latin1'), 'HTTP/1.1 100 Continue\r\n\r\n');
    c.socket.write('abc');
    const [r] = await c.responses(1);
    assertBody(r, 200, 'abc');
    c.socket.destroy();
  });

  it('server sends 408 and closes when the head does not arrive within headersTimeout', async () => {
    const { port, app } = await serve(ok, { headersTimeout: 200 });
    const c = await open(port);
    c.socket.write('GET / HTTP/1.1\r\nHost: t\r\n');
    const [r] = await c.responses(1);
    assert.equal(r!.status, 408);
    await c.end();
    assert.equal(app.stats().timeouts, 1);
  });

  it('server sends 408 when the body does not arrive within requestTimeout', async () => {
    const { port } = await serve(ok, { requestTimeout: 200 });
    const c = await open(port);
    c.socket.write('POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc');
    const [r] = await c.responses(1);
    assert.equal(r!.status, 408);
    await c.end();
  });

  it('server closes an idle connection silently after keepAliveTimeout', async () => {
    const { port, app } = await serve(ok, { keepAliveTimeout: 100 });
    const c = await open(port);
    c.socket.write(get('/'));
    await c.responses(1);
    await c.end();
    assert.equal(app.stats().keepAliveClosed, 1);
    assert.equal(c.buf.toString().split('HTTP/1.1').length, 2, 'nothing after the response');
  });

  it('server answers 500 when the handler throws and the connection stays usable', async () => {
    const { port, app } = await serve((req, res) => {
      if (req.path === '/boom') throw new Error('boom');
      res.send('fine');
    });
    const c = await open(port);
    c.socket.write(get('/boom'));
    const [r] = await c.responses(1);
    assert.equal(r!.status, 500);
    c.socket.write(get('/next', 'Connection: close\r\n'));
    const rs = await c.responses(2);
    assertBody(rs[1], 200, 'fine');
    await c.end();
    assert.equal(app.stats().handlerErrors, 1);
  });

  it('server answers 500 when an async handler rejects', async () => {
    const { port } = await serve(async (req, res) => {
      await delay(5);
      if (req.path === '/boom') throw new Error('async boom');
      res.send('fine');
    });
    const c = await open(port);
    c.socket.write(get('/boom') + get('/ok', 'Connection: close\r\n'));
    const rs = await c.responses(2);
    assert.equal(rs[0]!.status, 500);
    assertBody(rs[1], 200, 'fine');
    await c.end();
  });

  it('server closes the connection when a handler fails mid-stream', async () => {
    const { port } = await serve(async (_req, res) => {
      await res.write('partial');
      throw new Error('mid-stream');
    });
    const c = await open(port);
    c.socket.write(get('/'));
    await c.end();
    assert.match(c.buf.toString(), /Transfer-Encoding: chunked/);
    assert.doesNotMatch(c.buf.toString(), /\r\n0\r\n\r\n$/);
  });

  it('server reads headers after an await when the handler is async', async () => {
    const { port } = await serve(async (req, res) => {
      await delay(5);
      res.send(`${req.header('x-id')} ${req.url}`);
    });
    const c = await open(port);
    c.socket.write(get('/a', 'X-Id: 1\r\n') + get('/b', 'X-Id: 2\r\nConnection: close\r\n'));
    const rs = await c.responses(2);
    assertBody(rs[0], 200, '1 /a');
    assertBody(rs[1], 200, '2 /b');
    await c.end();
  });

  it('server sends JSON with its content type when send gets an object', async () => {
    const { port } = await serve((_req, res) => res.status(201).send({ a: 1 }));
    const r = await once(port, get('/', 'Connection: close\r\n'));
    assertBody(r, 201, '{"a":1}');
    assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
  });
});
