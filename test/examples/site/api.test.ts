// The demo site's JSON API end to end: `polyloop site` with two loops, real HTTP with fetch.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connect, readToEnd } from '../../helpers.js';
import { Client, errorOf, startSite, tempDir, type Reply, type Site } from './support.js';

describe('polyloop site: the JSON API', { timeout: 180_000 }, () => {
  let site: Site;
  let alice: Client;
  before(async () => {
    site = await startSite(['--loops', '2', '--data', tempDir('pl-site-api-')]);
    alice = new Client(site.url);
    assert.equal((await alice.register('alice', 'correct horse')).status, 201);
    assert.equal((await alice.login('alice', 'correct horse')).status, 200);
  });

  it('prints the URL, the store and the model', () => {
    const lines = site.stdout().split('\n');
    assert.match(lines[0]!, /^listening on http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(lines[1]!, /^store: sqlite \(.*\/site\.db\)$/);
    assert.match(lines[2]!, /^model: half-sync, 2 (thread|process) loops$/);
  });

  it('registers, logs in with an HttpOnly SameSite session cookie, and knows the user', async () => {
    const c = new Client(site.url);
    const reg = await c.register('bob_1', 'hunter22hunter22');
    assert.equal(reg.status, 201);
    assert.deepEqual(reg.body, { username: 'bob_1' });
    assert.equal(reg.headers.get('set-cookie'), null, 'registering does not log in');
    const login = await c.login('bob_1', 'hunter22hunter22');
    assert.equal(login.status, 200);
    assert.deepEqual(login.body, { username: 'bob_1' });
    const cookie = login.headers.get('set-cookie')!;
    assert.match(cookie, /^sid=[A-Za-z0-9_-]{43}; /);
    const flags = cookie.split(';').map((s) => s.trim().toLowerCase());
    assert.ok(flags.includes('httponly'), cookie);
    assert.ok(flags.includes('samesite=lax'), cookie);
    assert.ok(flags.includes('path=/'), cookie);
    const me = await c.call('GET', '/api/me');
    assert.equal(me.status, 200);
    assert.deepEqual(me.body, { username: 'bob_1' });
  });

  it('posts messages and lists them newest first with their author', async () => {
    const texts = ['first', 'second', 'third: ünïcödé ✓'];
    const ids: string[] = [];
    for (const t of texts) {
      const r = await alice.post(t);
      assert.equal(r.status, 201);
      const m = (r.body as { message: { id: string; author: string; text: string; at: number } })
        .message;
      assert.equal(m.author, 'alice');
      assert.equal(m.text, t);
      assert.ok(m.at > 0);
      ids.push(m.id);
    }
    const list = await alice.messages();
    const mine = list.filter((m) => ids.includes(m.id));
    assert.deepEqual(
      mine.map((m) => m.text),
      [...texts].reverse(),
    );
    assert.equal((await alice.messages(2)).length, 2);
  });

  it('keeps SQL-injection strings as plain data', async () => {
    const evil = "x'); DROP TABLE site_messages; --";
    const r = await alice.post(evil);
    assert.equal(r.status, 201);
    const list = await alice.messages();
    assert.equal(list[0]!.text, evil);
    // A name made to close the quote is refused as a name, and logging in with one is just wrong.
    const c = new Client(site.url);
    const reg = await c.register("admin' OR '1'='1", 'password123');
    assert.equal(reg.status, 400);
    assert.match(errorOf(reg), /username/);
    for (const [u, p] of [
      ["alice' --", 'anything1'],
      ["' OR 1=1 --", "' OR '1'='1"],
      ['alice', "' OR '1'='1"],
    ] as const) {
      const login = await c.login(u, p);
      assert.equal(login.status, 401, `${u} / ${p}`);
      assert.equal(errorOf(login), 'wrong username or password');
    }
    assert.equal((await alice.messages()).length > 0, true, 'the table is still there');
  });

  it('logs out: the cookie is cleared and the session is gone in every loop', async () => {
    const c = new Client(site.url);
    assert.equal((await c.login('alice', 'correct horse')).status, 200);
    const sid = c.sid!;
    const out = await c.call('POST', '/api/logout');
    assert.equal(out.status, 200);
    assert.match(out.headers.get('set-cookie')!, /^sid=; .*Max-Age=0/);
    // Replay the old cookie on fresh connections (two loops: round-robin reaches both).
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${site.url}/api/messages`, {
        headers: { cookie: `sid=${sid}`, connection: 'close' },
      });
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { error: string }).error, 'log in first');
    }
  });

  describe('bad input gets the right 4xx with a message, never a 500', () => {
    const cases: [string, () => Promise<Reply>, number, RegExp][] = [];
    const anon = (): Client => new Client(site.url);
    const add = (name: string, call: () => Promise<Reply>, status: number, msg: RegExp): void => {
      cases.push([name, call, status, msg]);
    };
    add(
      'register: no username',
      () => anon().call('POST', '/api/register', { password: 'password1' }),
      400,
      /username is required/,
    );
    add(
      'register: no password',
      () => anon().call('POST', '/api/register', { username: 'carol' }),
      400,
      /password is required/,
    );
    add(
      'register: username not a string',
      () => anon().call('POST', '/api/register', { username: 42, password: 'password1' }),
      400,
      /username must be a string/,
    );
    add(
      'register: username too short',
      () => anon().register('ab', 'password1'),
      400,
      /username must be 3 to 32/,
    );
    add(
      'register: username too long',
      () => anon().register('a'.repeat(33), 'password1'),
      400,
      /username is longer than 32/,
    );
    add(
      'register: username with spaces',
      () => anon().register('carol smith', 'password1'),
      400,
      /username must be/,
    );
    add('register: password too short', () => anon().register('carol', 'short'), 400, /at least 8/);
    add(
      'register: password too long',
      () => anon().register('carol', 'p'.repeat(257)),
      400,
      /password is longer than 256/,
    );
    add(
      'register: duplicate username',
      () => anon().register('alice', 'another password'),
      409,
      /taken/,
    );
    add(
      'register: invalid JSON',
      () => anon().call('POST', '/api/register', undefined, '{"username": "carol",'),
      400,
      /invalid JSON/,
    );
    add('register: empty body', () => anon().call('POST', '/api/register'), 400, /empty/);
    add(
      'register: a JSON array',
      () => anon().call('POST', '/api/register', ['carol', 'password1']),
      400,
      /JSON object/,
    );
    add(
      'register: JSON null',
      () => anon().call('POST', '/api/register', undefined, 'null'),
      400,
      /JSON object/,
    );
    add(
      'register: NUL in the password',
      () => anon().register('carol', 'pass\u0000word1'),
      400,
      /NUL/,
    );
    add(
      'register: oversized body',
      () =>
        anon().call('POST', '/api/register', { username: 'carol', password: 'x'.repeat(20_000) }),
      413,
      /over 16384 bytes/,
    );
    add(
      'login: wrong password',
      () => anon().login('alice', 'wrong password'),
      401,
      /wrong username or password/,
    );
    add(
      'login: unknown user',
      () => anon().login('nobody', 'password1'),
      401,
      /wrong username or password/,
    );
    add(
      'login: missing password',
      () => anon().call('POST', '/api/login', { username: 'alice' }),
      400,
      /password is required/,
    );
    add(
      'login: invalid JSON',
      () => anon().call('POST', '/api/login', undefined, "{'username': 'alice'}"),
      400,
      /invalid JSON/,
    );
    add(
      'messages: list without logging in',
      () => anon().call('GET', '/api/messages'),
      401,
      /log in first/,
    );
    add('messages: post without logging in', () => anon().post('hi'), 401, /log in first/);
    add(
      'messages: a forged session id',
      () => {
        const c = anon();
        c.sid = randomBytes(32).toString('base64url');
        return c.post('hi');
      },
      401,
      /log in first/,
    );
    add(
      'messages: a malformed cookie',
      () => {
        const c = anon();
        c.sid = "'; DROP TABLE polyloop_kv; --";
        return c.call('GET', '/api/messages');
      },
      401,
      /log in first/,
    );
    add(
      'messages: no text',
      () => alice.call('POST', '/api/messages', {}),
      400,
      /text is required/,
    );
    add(
      'messages: text not a string',
      () => alice.call('POST', '/api/messages', { text: { html: 1 } }),
      400,
      /text must be a string/,
    );
    add('messages: blank text', () => alice.post(' \n\t '), 400, /blank/);
    add('messages: text too long', () => alice.post('x'.repeat(1001)), 400, /longer than 1000/);
    add(
      'messages: invalid JSON',
      () => alice.call('POST', '/api/messages', undefined, 'text=hello'),
      400,
      /invalid JSON/,
    );
    add(
      'messages: oversized body',
      () =>
        alice.call(
          'POST',
          '/api/messages',
          undefined,
          JSON.stringify({ text: 'y'.repeat(100_000) }),
        ),
      413,
      /over 16384 bytes/,
    );
    add('messages: limit 0', () => alice.call('GET', '/api/messages?limit=0'), 400, /limit/);
    add(
      'messages: limit not a number',
      () => alice.call('GET', '/api/messages?limit=1;DROP'),
      400,
      /limit/,
    );
    add(
      'messages: limit too high',
      () => alice.call('GET', '/api/messages?limit=100000'),
      400,
      /limit/,
    );
    add('an unknown API route', () => anon().call('GET', '/api/nope'), 404, /no API route/);
    add('a wrong method', () => anon().call('GET', '/api/login'), 405, /takes POST/);
    add('a DELETE', () => alice.call('DELETE', '/api/messages'), 405, /takes GET, HEAD, POST/);

    for (const [name, call, status, msg] of cases) {
      it(`${name} → ${status}`, async () => {
        const r = await call();
        assert.equal(r.status, status, JSON.stringify(r.body));
        assert.match(errorOf(r), msg);
        assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      });
    }

    it('a body over the server limit gets 413 before it is read', async () => {
      const s = await connect(site.port);
      after(() => s.destroy());
      s.write(
        'POST /api/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          `Content-Length: ${8 * 1024 * 1024}\r\n\r\n{"username":`,
      );
      const reply = (await readToEnd(s)).toString('latin1');
      assert.match(reply, /^HTTP\/1\.1 413 /);
      assert.match(reply, /Content Too Large/);
    });

    it('the 405 names the allowed methods', async () => {
      const r = await new Client(site.url).call('GET', '/api/register');
      assert.equal(r.headers.get('allow'), 'POST');
    });
  });

  it('serves the static site, the board page and /healthz alongside the API', async () => {
    const home = await fetch(`${site.url}/`);
    assert.equal(home.status, 200);
    assert.match(home.headers.get('content-type')!, /^text\/html/);
    assert.match(await home.text(), /board\.html/);
    const board = await fetch(`${site.url}/board.html`);
    assert.equal(board.status, 200);
    assert.match(await board.text(), /<script src="\/board\.js"/);
    const health = await fetch(`${site.url}/healthz`);
    assert.equal(await health.text(), 'ok');
    const api = await fetch(`${site.url}/api/health`);
    assert.equal(api.status, 200);
    assert.equal(((await api.json()) as { store: string; ok: boolean }).ok, true);
  });

  it('exits 0 on SIGTERM', async () => {
    const s = await startSite(['--loops', '1', '--data', tempDir('pl-site-stop-')]);
    assert.equal(await s.stop('SIGTERM'), 0);
  });

  it('refuses an unknown store and postgres without a URL with exit code 2', async () => {
    for (const args of [
      ['--store', 'mongo'],
      ['--store', 'postgres'],
    ]) {
      const env = { ...process.env };
      delete env['POLYLOOP_PG_URL'];
      await assert.rejects(startSite(args, env), /exited with 2 before listening/);
    }
  });
});
