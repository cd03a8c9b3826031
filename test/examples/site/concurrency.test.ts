// Many loops writing one SQLite file: 100 clients post 10,000 messages through four loops at
// once, and every message is in the database afterwards, exactly once.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqliteStore } from '../../../src/index.js';
import { Client, startSite, tempDir } from './support.js';

const USERS = 20;
const CLIENTS = 100;
const POSTS_PER_CLIENT = 100;

describe('polyloop site: concurrent writes', { timeout: 300_000 }, () => {
  it(`keeps all ${CLIENTS * POSTS_PER_CLIENT} posts of ${CLIENTS} clients across 4 loops`, async () => {
    const data = tempDir('pl-site-many-');
    const site = await startSite(['--loops', '4', '--data', data]);
    assert.match(site.stdout(), /model: half-sync, 4 (thread|process) loops/);

    // Sessions: USERS accounts, each logged in by CLIENTS / USERS clients (scrypt is the slow
    // part). No keep-alive here: the connections would idle until every login is done.
    const clients: Client[] = [];
    await Promise.all(
      Array.from({ length: USERS }, async (_, u) => {
        const name = `writer${u}`;
        const first = new Client(site.url);
        first.keepAlive = false;
        assert.equal((await first.register(name, 'many writers')).status, 201);
        for (let i = 0; i < CLIENTS / USERS; i++) {
          const c = new Client(site.url);
          c.keepAlive = false;
          assert.equal((await c.login(name, 'many writers')).status, 200);
          c.keepAlive = true;
          clients.push(c);
        }
      }),
    );
    assert.equal(clients.length, CLIENTS);

    const failures: string[] = [];
    await Promise.all(
      clients.map(async (c, i) => {
        for (let n = 0; n < POSTS_PER_CLIENT; n++) {
          const r = await c.post(`client ${i} post ${n}`);
          if (r.status !== 201) failures.push(`${r.status} ${JSON.stringify(r.body)}`);
        }
      }),
    );
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} posts failed`);

    // Through the API: the newest page is all of these posts.
    const page = await clients[0]!.messages(200);
    assert.equal(page.length, 200);
    assert.ok(page.every((m) => /^client \d+ post \d+$/.test(m.text)));

    assert.equal(await site.stop('SIGTERM'), 0);
    // In the file: every (client, n) exactly once, and nothing else.
    // Read through SqliteStore: it loads the better-sqlite3 binary built for this Node.
    const db = await SqliteStore.open({ path: join(data, 'site.db') });
    try {
      const rows = (await db.query<{ text: string }>('SELECT text FROM site_messages')).map(
        (r) => r.text,
      );
      assert.equal(rows.length, CLIENTS * POSTS_PER_CLIENT);
      const stored = new Set(rows);
      assert.equal(stored.size, rows.length, 'no duplicates');
      const lost: string[] = [];
      for (let i = 0; i < CLIENTS; i++) {
        for (let n = 0; n < POSTS_PER_CLIENT; n++) {
          if (!stored.has(`client ${i} post ${n}`)) lost.push(`client ${i} post ${n}`);
        }
      }
      assert.deepEqual(lost, []);
    } finally {
      await db.close();
    }
  });
});
