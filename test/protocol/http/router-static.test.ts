// Static routes are looked up in a map before find-my-way: the answers must be find-my-way's.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { router } from '../../../src/index.js';
import { forEachAcceptor } from '../../io/server-fixture.js';
import { assertBody, get, open, serve } from './server-harness.js';

function routes() {
  return router()
    .get('/users/me', (_req, res) => res.send('static me'))
    .get('/users/:id', (req, res) => res.send(`param ${req.params['id']}`))
    .post('/users/me', (_req, res) => res.send('post me'))
    .get('/a b', (_req, res) => res.send('space'))
    .on(['GET', 'PUT'], '/multi', (req, res) => res.send(`multi ${req.method}`))
    .all('/any', (req, res) => res.send(`any ${req.method}`));
}

forEachAcceptor('http router static routes', () => {
  it('router prefers the static route and falls back to params, per method', async () => {
    const { port } = await serve(routes());
    const c = await open(port);
    const reqs = [
      get('/users/me'),
      get('/users/7'),
      'POST /users/me HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n',
      'POST /users/7 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n',
      get('/multi'),
      'PUT /multi HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n',
      'DELETE /any HTTP/1.1\r\nHost: t\r\n\r\n',
      get('/a%20b'),
      get('/users/me?x=1'),
      get('/users/me/'),
    ];
    c.socket.write(reqs.join(''));
    const rs = await c.responses(reqs.length);
    assertBody(rs[0], 200, 'static me');
    assertBody(rs[1], 200, 'param 7');
    assertBody(rs[2], 200, 'post me');
    assert.equal(rs[3]!.status, 405);
    assertBody(rs[4], 200, 'multi GET');
    assertBody(rs[5], 200, 'multi PUT');
    assertBody(rs[6], 200, 'any DELETE');
    assertBody(rs[7], 200, 'space');
    assertBody(rs[8], 200, 'static me');
    assert.equal(rs[9]!.status, 404);
    c.socket.destroy();
  });

  it('router answers HEAD from a static GET route with its headers only', async () => {
    const { port } = await serve(routes());
    const c = await open(port);
    c.socket.write('HEAD /users/me HTTP/1.1\r\nHost: t\r\n\r\n' + get('/users/me'));
    const rs = await c.responses(2, ['HEAD', 'GET']);
    assert.equal(rs[0]!.status, 200);
    assert.equal(rs[0]!.headers['content-length'], String('static me'.length));
    assertBody(rs[1], 200, 'static me');
    c.socket.destroy();
  });
});
