// The peer of the site benchmark: the demo site's JSON API on Fastify with better-sqlite3 called
// directly on the event loop (synchronous queries, the usual way to use it), one process, one
// loop. Same tables, same session scheme (a SHA-256 of the cookie's id looked up in a key-value
// table with expiry), same validation and the same JSON answers as examples/site.
//
//   node bench/site/fastify-site.mjs --data DIR [--host 127.0.0.1] [--port 0]
//
// Prints `listening on http://HOST:PORT` on stdout when ready; SIGTERM or SIGINT exits 0.
// better-sqlite3 comes from the repository's own dependencies (bench/ resolves up to them).
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import Fastify from 'fastify';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: 'data-fastify' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
  },
});

mkdirSync(values.data, { recursive: true });
const db = new Database(path.join(values.data, 'site.db'), { timeout: 5000 });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, expires_at INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS site_users (username TEXT PRIMARY KEY NOT NULL, hash TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS site_messages (id INTEGER PRIMARY KEY, author TEXT NOT NULL, text TEXT NOT NULL, created_at BIGINT NOT NULL);
`);
const q = {
  kvGet: db
    .prepare('SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)')
    .pluck(),
  kvSet: db.prepare(
    'INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) ' +
      'ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
  ),
  kvDel: db.prepare('DELETE FROM kv WHERE key = ?'),
  insertUser: db.prepare(
    'INSERT INTO site_users (username, hash, created_at) VALUES (?, ?, ?) ON CONFLICT (username) DO NOTHING',
  ),
  findUser: db.prepare('SELECT username, hash FROM site_users WHERE username = ?'),
  insertMessage: db.prepare(
    'INSERT INTO site_messages (author, text, created_at) VALUES (?, ?, ?) RETURNING id',
  ),
  // The same query as the site's: the JSON array is built by SQLite.
  listMessagesJson: db
    .prepare(
      "SELECT json_group_array(json_object('id', CAST(id AS TEXT), 'author', author, " +
        "'text', text, 'at', created_at) ORDER BY id DESC) AS list " +
        'FROM (SELECT id, author, text, created_at FROM site_messages ORDER BY id DESC LIMIT ?)',
    )
    .pluck(),
};

const TTL = 24 * 60 * 60 * 1000;
const COST = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const sessionKey = (id) => `session:${createHash('sha256').update(id).digest('base64url')}`;
const scryptAsync = (pw, salt) =>
  new Promise((resolve, reject) =>
    scrypt(pw.normalize('NFC'), salt, 32, COST, (err, key) => (err ? reject(err) : resolve(key))),
  );

function sid(req) {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === 'sid') return part.slice(eq + 1).trim();
  }
  return undefined;
}

function user(req) {
  const id = sid(req);
  if (id === undefined || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
  const value = q.kvGet.get(sessionKey(id), Date.now());
  return value === undefined ? undefined : JSON.parse(value).username;
}

function field(body, name, max) {
  const v = body?.[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) return undefined;
  return v;
}

const app = Fastify({ logger: false, keepAliveTimeout: 60_000, bodyLimit: 16 * 1024 });

app.post('/api/register', async (req, reply) => {
  const username = field(req.body, 'username', 32);
  const password = field(req.body, 'password', 256);
  if (username === undefined || !/^[A-Za-z0-9_.-]{3,32}$/.test(username))
    return reply.code(400).send({ error: 'bad username' });
  if (password === undefined || password.length < 8)
    return reply.code(400).send({ error: 'bad password' });
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt);
  const hash = ['scrypt', 16384, 8, 1, salt.toString('base64url'), key.toString('base64url')].join(
    '$',
  );
  if (q.insertUser.run(username, hash, Date.now()).changes !== 1)
    return reply.code(409).send({ error: 'taken' });
  return reply.code(201).send({ username });
});

app.post('/api/login', async (req, reply) => {
  const username = field(req.body, 'username', 256);
  const password = field(req.body, 'password', 256);
  const row = username === undefined ? undefined : q.findUser.get(username);
  let ok = false;
  if (row !== undefined && password !== undefined) {
    const [, , , , salt, key] = row.hash.split('$');
    ok = timingSafeEqual(
      await scryptAsync(password, Buffer.from(salt, 'base64url')),
      Buffer.from(key, 'base64url'),
    );
  }
  if (!ok) return reply.code(401).send({ error: 'wrong username or password' });
  const id = randomBytes(32).toString('base64url');
  q.kvSet.run(sessionKey(id), JSON.stringify({ username, at: Date.now() }), Date.now() + TTL);
  reply.header('set-cookie', `sid=${id}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${TTL / 1000}`);
  return { username };
});

app.post('/api/logout', (req, reply) => {
  const id = sid(req);
  if (id !== undefined) q.kvDel.run(sessionKey(id));
  reply.header('set-cookie', 'sid=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0');
  return { ok: true };
});

app.get('/api/messages', (req, reply) => {
  if (user(req) === undefined) return reply.code(401).send({ error: 'log in first' });
  const raw = req.query.limit;
  const limit = raw === undefined ? 50 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200)
    return reply.code(400).send({ error: 'bad limit' });
  const list = q.listMessagesJson.get(limit);
  return reply.type('application/json; charset=utf-8').send(`{"messages":${list}}`);
});

app.post('/api/messages', (req, reply) => {
  const author = user(req);
  if (author === undefined) return reply.code(401).send({ error: 'log in first' });
  const text = field(req.body, 'text', 1000);
  if (text === undefined || text.trim() === '') return reply.code(400).send({ error: 'bad text' });
  const at = Date.now();
  const { id } = q.insertMessage.get(author, text, at);
  return reply.code(201).send({ message: { id: String(id), author, text, at } });
});

await app.listen({ host: values.host, port: Number(values.port) });
process.stdout.write(`listening on http://${values.host}:${app.server.address().port}\n`);

const stop = () => {
  db.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
