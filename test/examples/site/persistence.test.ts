// The demo site keeps its users, sessions and messages in the SQLite file under --data: stop
// the server, start it again on the same folder, and everything is still there.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client, startSite, tempDir } from './support.js';

describe('polyloop site: restart persistence', { timeout: 180_000 }, () => {
  it('logs in, keeps sessions and shows messages after a restart on the same data folder', async () => {
    const data = tempDir('pl-site-persist-');
    const first = await startSite(['--loops', '2', '--data', data]);
    const c = new Client(first.url);
    assert.equal((await c.register('dora', 'persistent pw')).status, 201);
    assert.equal((await c.login('dora', 'persistent pw')).status, 200);
    const sid = c.sid!;
    assert.equal((await c.post('written before the restart')).status, 201);
    assert.equal(await first.stop('SIGTERM'), 0);
    assert.ok(existsSync(join(data, 'site.db')));

    const second = await startSite(['--loops', '2', '--data', data]);
    // The session made before the restart is still valid: it lives in the store.
    const same = new Client(second.url);
    same.sid = sid;
    const me = await same.call('GET', '/api/me');
    assert.equal(me.status, 200);
    assert.deepEqual(me.body, { username: 'dora' });
    // A fresh login works, the name is still taken, and the message is still there.
    const again = new Client(second.url);
    assert.equal((await again.login('dora', 'persistent pw')).status, 200);
    assert.equal((await again.login('dora', 'wrong pw')).status, 401);
    assert.equal((await again.register('dora', 'another pw')).status, 409);
    const list = await again.messages();
    assert.deepEqual(
      list.map((m) => [m.author, m.text]),
      [['dora', 'written before the restart']],
    );
    assert.equal(await second.stop('SIGTERM'), 0);
  });
});
