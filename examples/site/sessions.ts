// Login sessions of the demo site: a random id in an HttpOnly cookie, the session itself in the
// store under a hash of that id, with a TTL, so every loop (and every restart) sees the same
// sessions and logging out in one loop ends the session everywhere.
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../../src/index.js';

/** The cookie's name. */
export const COOKIE = 'sid';
/** 32 random bytes in base64url. */
const ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * The store keeps a SHA-256 of the id, not the id: a copy of the database does not hand out
 * live sessions.
 */
const keyOf = (id: string): string =>
  `session:${createHash('sha256').update(id).digest('base64url')}`;

/** Sessions on one store. Call from the loop that owns the store. */
export class Sessions {
  constructor(
    private readonly store: Store,
    /** How long a session lives after login, ms. */
    readonly ttlMs: number,
  ) {}

  /** True when `id` has the shape of a session id (it may still be unknown or expired). */
  static plausible(id: string | undefined): id is string {
    return id !== undefined && ID.test(id);
  }

  /** Opens a session for `username`; resolves with its id (the cookie's value). */
  async create(username: string): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await this.store.set(keyOf(id), { username, at: Date.now() }, { ttlMs: this.ttlMs });
    return id;
  }

  /** The user of a live session, or undefined (no such session, expired, or not an id at all). */
  async user(id: string | undefined): Promise<string | undefined> {
    if (!Sessions.plausible(id)) return undefined;
    const s = await this.store.get<{ username: string }>(keyOf(id));
    return s?.username;
  }

  /** Ends a session; true when it was live. */
  async destroy(id: string | undefined): Promise<boolean> {
    if (!Sessions.plausible(id)) return false;
    return this.store.delete(keyOf(id));
  }

  /** `Set-Cookie` for a new session. */
  cookie(id: string): string {
    return `${COOKIE}=${id}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${Math.floor(this.ttlMs / 1000)}`;
  }
}

/** `Set-Cookie` that removes the session cookie. */
export const CLEAR_COOKIE = `${COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0`;

/** The value of cookie `name` in a `Cookie` header, or undefined. Any thread. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return value.startsWith('"') && value.endsWith('"') && value.length >= 2
      ? value.slice(1, -1)
      : value;
  }
  return undefined;
}
