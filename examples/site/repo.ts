// The demo site's data, whatever the store: users and messages as SQL tables on SQLite and
// PostgreSQL, and as keys on Redis. Handlers see only `SiteRepo`.
import { randomBytes } from 'node:crypto';
import type { Store } from '../../src/index.js';

export interface User {
  username: string;
  /** `scrypt$N$r$p$salt$key`: see hash-task.ts. */
  hash: string;
  /** ms since the epoch. */
  createdAt: number;
}

export interface Message {
  /** Opaque: a row id on SQL stores, a key suffix on Redis. */
  id: string;
  author: string;
  text: string;
  /** ms since the epoch. */
  at: number;
}

/**
 * Users and messages. Every method may reject with the store's errors
 * (`PL_ERR_STORE_UNAVAILABLE` when the database cannot be reached). Call it from the loop that
 * owns the store.
 */
export interface SiteRepo {
  /** Adds the user; false when the name is taken (atomically, across loops). */
  createUser(user: User): Promise<boolean>;
  findUser(username: string): Promise<User | undefined>;
  addMessage(author: string, text: string, at: number): Promise<Message>;
  /** The newest `limit` messages, newest first. */
  listMessages(limit: number): Promise<Message[]>;
  /**
   * The same as JSON text (an array of `Message`). SQL stores build it in the database, so the
   * loop neither copies rows from the storage thread nor serializes them.
   */
  listMessagesJson(limit: number): Promise<string>;
}

/** The repository for a store: SQL tables where it speaks SQL, keys otherwise. Any thread. */
export function repoFor(store: Store): SiteRepo {
  return store.sql ? new SqlRepo(store) : new KvRepo(store);
}

interface MessageRow {
  id: number | string;
  author: string;
  text: string;
  created_at: number | string;
}

const toMessage = (r: MessageRow): Message => ({
  id: String(r.id),
  author: r.author,
  text: r.text,
  at: Number(r.created_at),
});

/**
 * Two tables, created on first use (so a database that is down at start-up only delays it).
 * Every value travels as a parameter; no SQL text is ever built from input. Call from the loop
 * that owns the store.
 */
export class SqlRepo implements SiteRepo {
  private schema: Promise<void> | undefined;
  private readonly sqlText: {
    schema: string[];
    insertUser: string;
    findUser: string;
    insertMessage: string;
    listMessages: string;
    listMessagesJson: string;
  };

  constructor(private readonly store: Store) {
    const pg = store.kind === 'postgres';
    // Placeholders differ: `$n` for PostgreSQL, `?` for SQLite.
    const p = (n: number): string => (pg ? `$${n}` : '?');
    this.sqlText = {
      schema: [
        'CREATE TABLE IF NOT EXISTS site_users (' +
          'username TEXT PRIMARY KEY NOT NULL, hash TEXT NOT NULL, created_at BIGINT NOT NULL)',
        'CREATE TABLE IF NOT EXISTS site_messages (' +
          `id ${pg ? 'BIGSERIAL' : 'INTEGER'} PRIMARY KEY, author TEXT NOT NULL, ` +
          'text TEXT NOT NULL, created_at BIGINT NOT NULL)',
      ],
      insertUser:
        `INSERT INTO site_users (username, hash, created_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}) ` +
        'ON CONFLICT (username) DO NOTHING',
      findUser: `SELECT username, hash, created_at FROM site_users WHERE username = ${p(1)}`,
      insertMessage:
        `INSERT INTO site_messages (author, text, created_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}) ` +
        'RETURNING id',
      listMessages:
        'SELECT id, author, text, created_at FROM site_messages ' +
        `ORDER BY id DESC LIMIT ${p(1)}`,
      // The ids as strings, as listMessages gives them (PostgreSQL's bigint does not fit JSON).
      listMessagesJson: pg
        ? "SELECT coalesce(json_agg(json_build_object('id', id::text, 'author', author, " +
          "'text', text, 'at', created_at) ORDER BY id DESC), '[]'::json)::text AS list " +
          `FROM (SELECT id, author, text, created_at FROM site_messages ORDER BY id DESC LIMIT ${p(1)}) m`
        : "SELECT json_group_array(json_object('id', CAST(id AS TEXT), 'author', author, " +
          "'text', text, 'at', created_at) ORDER BY id DESC) AS list " +
          `FROM (SELECT id, author, text, created_at FROM site_messages ORDER BY id DESC LIMIT ${p(1)})`,
    };
  }

  async createUser(user: User): Promise<boolean> {
    await this.ready();
    const { changes } = await this.store.exec(this.sqlText.insertUser, [
      user.username,
      user.hash,
      user.createdAt,
    ]);
    return changes === 1;
  }

  async findUser(username: string): Promise<User | undefined> {
    await this.ready();
    const rows = await this.store.query<{
      username: string;
      hash: string;
      created_at: number | string;
    }>(this.sqlText.findUser, [username]);
    const r = rows[0];
    return r === undefined
      ? undefined
      : { username: r.username, hash: r.hash, createdAt: Number(r.created_at) };
  }

  async addMessage(author: string, text: string, at: number): Promise<Message> {
    await this.ready();
    const rows = await this.store.query<{ id: number | string }>(this.sqlText.insertMessage, [
      author,
      text,
      at,
    ]);
    return { id: String(rows[0]!.id), author, text, at };
  }

  async listMessages(limit: number): Promise<Message[]> {
    await this.ready();
    const rows = await this.store.query<MessageRow>(this.sqlText.listMessages, [limit]);
    return rows.map(toMessage);
  }

  async listMessagesJson(limit: number): Promise<string> {
    await this.ready();
    const rows = await this.store.query<{ list: string }>(this.sqlText.listMessagesJson, [limit]);
    return rows[0]?.list ?? '[]';
  }

  /** Creates the tables once; a failure (database down) is retried by the next call. */
  private ready(): Promise<void> {
    this.schema ??= this.createSchema().catch((err: unknown) => {
      this.schema = undefined;
      throw err;
    });
    return this.schema;
  }

  private async createSchema(): Promise<void> {
    for (const sql of this.sqlText.schema) {
      try {
        await this.store.exec(sql);
      } catch (err) {
        // Another loop creating the same table at the same moment (PostgreSQL reports the race
        // as a duplicate); the table exists either way.
        if (!/already exists|duplicate key/i.test(causeMessage(err))) throw err;
      }
    }
  }
}

function causeMessage(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : err instanceof Error ? err.message : '';
}

/** Keys sort newest first: the time is stored as its distance to this bound. */
const TIME_BOUND = 9_999_999_999_999;

/**
 * Keys and JSON values, for stores without SQL (Redis): `user:<name>` holds a user;
 * `msg:<13 digits>-<random>` a message, where the digits are `TIME_BOUND - ms` so that a prefix
 * scan (which runs in key order) meets the newest first and `limit` reads only what it returns.
 * Call from the loop that owns the store.
 */
export class KvRepo implements SiteRepo {
  constructor(private readonly store: Store) {}

  async createUser(user: User): Promise<boolean> {
    // Two loops registering one name at once must not both win: claim the name atomically first
    // where the store offers a command for it (Redis SET NX), then write the user.
    const redis = this.store as {
      command?: (name: string, args: string[]) => Promise<unknown>;
      namespace?: string;
    };
    if (redis.command === undefined) {
      if ((await this.store.get(`user:${user.username}`)) !== undefined) return false;
      await this.store.set(`user:${user.username}`, { ...user });
      return true;
    }
    const claim = `${redis.namespace ?? ''}site-claim:${user.username}`;
    if ((await redis.command.call(this.store, 'SET', [claim, '1', 'NX'])) === null) return false;
    try {
      await this.store.set(`user:${user.username}`, { ...user });
    } catch (err) {
      // Give the name back, so that trying again once the store is back can succeed.
      await redis.command.call(this.store, 'DEL', [claim]).catch(() => {});
      throw err;
    }
    return true;
  }

  async findUser(username: string): Promise<User | undefined> {
    return this.store.get<{ username: string; hash: string; createdAt: number }>(
      `user:${username}`,
    );
  }

  async addMessage(author: string, text: string, at: number): Promise<Message> {
    const id = `${String(TIME_BOUND - at).padStart(13, '0')}-${randomBytes(6).toString('hex')}`;
    await this.store.set(`msg:${id}`, { author, text, at });
    return { id, author, text, at };
  }

  async listMessages(limit: number): Promise<Message[]> {
    const entries = await this.store.scan<{ author: string; text: string; at: number }>('msg:', {
      limit,
    });
    return entries.map((e) => ({ id: e.key.slice(4), ...e.value }));
  }

  async listMessagesJson(limit: number): Promise<string> {
    return JSON.stringify(await this.listMessages(limit));
  }
}
