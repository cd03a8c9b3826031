// The demo site's HTTP app: the static pages, /healthz, and the JSON API of accounts, sessions
// and the message board. It is given its store and its password hasher, so the same handlers run
// on SQLite, PostgreSQL or Redis, and in tests on a store that fails on purpose.
import {
  httpApp,
  isPolyloopError,
  router,
  serveStatic,
  type HttpApp,
  type Logger,
  type ServerRequest,
  type ServerResponse,
  type Store,
} from '../../src/index.js';
import type { HashTask } from './hash-task.js';
import {
  ApiError,
  credentials,
  jsonObject,
  listLimit,
  messageText,
  newCredentials,
} from './input.js';
import { repoFor, type SiteRepo } from './repo.js';
import { CLEAR_COOKIE, COOKIE, readCookie, Sessions } from './sessions.js';

export interface SiteDeps {
  store: Store;
  /** Runs a hashing task off the loop (the ThreadPool's `run`). */
  hash: (task: HashTask) => Promise<string | boolean>;
  /** The static site's folder. */
  publicDir: string;
  /** Session lifetime, ms. Default one day. */
  sessionTtlMs?: number;
  logger: Logger;
}

/** The site's request handling, per loop. Build it and call it on one loop. */
export function createSite(deps: SiteDeps): HttpApp {
  return httpApp(siteRouter(deps), {
    // Bodies up to the API's limit get a JSON 413 from the handler; far larger ones are cut off
    // by the parser with its own 413 before they are read.
    maxBodySize: 1024 * 1024,
    logger: deps.logger,
  });
}

const JSON_TYPE = 'application/json; charset=utf-8';

type Handler = (req: ServerRequest, res: ServerResponse) => Promise<void> | void;

// HEAD named too: the catch-all '/api/*' would otherwise take HEAD before the GET route.
const GET: ('GET' | 'HEAD')[] = ['GET', 'HEAD'];

/** The API's paths and their methods, for 405 answers. */
const API_METHODS: Readonly<Record<string, string>> = {
  '/api/health': 'GET, HEAD',
  '/api/register': 'POST',
  '/api/login': 'POST',
  '/api/logout': 'POST',
  '/api/me': 'GET, HEAD',
  '/api/messages': 'GET, HEAD, POST',
};

/** The routes; exported for tests that run them on their own server. Call on one loop. */
export function siteRouter(deps: SiteDeps): ReturnType<typeof router> {
  const { store } = deps;
  const repo: SiteRepo = repoFor(store);
  const sessions = new Sessions(store, deps.sessionTtlMs ?? 24 * 60 * 60 * 1000);
  const fail = failureReporter(deps.logger, store.kind);

  /** Wraps an API handler: every failure becomes a JSON answer with the right status. */
  const api =
    (fn: Handler): Handler =>
    async (req, res) => {
      try {
        await fn(req, res);
      } catch (err) {
        const [status, message] = fail(err);
        if (status === 503) res.setHeader('Retry-After', '1');
        res.status(status).send({ error: message });
      }
    };

  /** The logged-in user, or 401. */
  const userOf = async (req: ServerRequest): Promise<string> => {
    const user = await sessions.user(readCookie(req.header('cookie'), COOKIE));
    if (user === undefined) throw new ApiError(401, 'log in first');
    return user;
  };

  return router()
    .get('/healthz', (_req, res) => res.send('ok'))
    .on(
      GET,
      '/api/health',
      api(async (_req, res) => {
        const h = await store.health();
        if (h.ok) res.send({ store: store.kind, ok: true, latencyMs: h.latencyMs ?? 0 });
        else res.status(503).send({ store: store.kind, ok: false, error: 'storage unavailable' });
      }),
    )
    .post(
      '/api/register',
      api(async (req, res) => {
        const { username, password } = newCredentials(jsonObject(req));
        const hash = (await deps.hash({ op: 'hash', password })) as string;
        if (!(await repo.createUser({ username, hash, createdAt: Date.now() })))
          throw new ApiError(409, `username ${JSON.stringify(username)} is taken`);
        res.status(201).send({ username });
      }),
    )
    .post(
      '/api/login',
      api(async (req, res) => {
        const { username, password } = credentials(jsonObject(req));
        const user = await repo.findUser(username);
        const ok =
          user !== undefined &&
          ((await deps.hash({ op: 'verify', password, stored: user.hash })) as boolean);
        if (!ok) throw new ApiError(401, 'wrong username or password');
        const id = await sessions.create(username);
        res.setHeader('Set-Cookie', sessions.cookie(id)).send({ username });
      }),
    )
    .post(
      '/api/logout',
      api(async (req, res) => {
        await sessions.destroy(readCookie(req.header('cookie'), COOKIE));
        res.setHeader('Set-Cookie', CLEAR_COOKIE).send({ ok: true });
      }),
    )
    .on(
      GET,
      '/api/me',
      api(async (req, res) => {
        res.send({ username: await userOf(req) });
      }),
    )
    .on(
      GET,
      '/api/messages',
      api(async (req, res) => {
        const limit = listLimit(req);
        if (!Sessions.plausible(readCookie(req.header('cookie'), COOKIE)))
          throw new ApiError(401, 'log in first');
        // Both asked in the same tick: the SQLite store sends them to its thread as one batch.
        const [user, list] = await Promise.allSettled([userOf(req), repo.listMessagesJson(limit)]);
        if (user.status === 'rejected') throw user.reason;
        if (list.status === 'rejected') throw list.reason;
        res.setHeader('Content-Type', JSON_TYPE).send(`{"messages":${list.value}}`);
      }),
    )
    .post(
      '/api/messages',
      api(async (req, res) => {
        const body = jsonObject(req);
        const author = await userOf(req);
        const text = messageText(body);
        res.status(201).send({ message: await repo.addMessage(author, text, Date.now()) });
      }),
    )
    .all(
      '/api/*',
      api((req, res) => {
        // The static route below takes GET for every path: answer the API's own misses here.
        const allow = API_METHODS[req.path];
        if (allow === undefined) throw new ApiError(404, `no API route ${req.path}`);
        res.setHeader('Allow', allow);
        throw new ApiError(405, `${req.path} takes ${allow}`);
      }),
    )
    .get('/*', serveStatic('/', deps.publicDir));
}

/** How often one loop logs that its store is unavailable, at most. */
const UNAVAILABLE_LOG_MS = 5000;

/** Maps a failure to `[status, message]`, logging what is the server's fault. */
function failureReporter(logger: Logger, kind: string): (err: unknown) => [number, string] {
  let loggedAt = 0;
  return (err) => {
    if (err instanceof ApiError) return [err.status, err.message];
    if (isPolyloopError(err, 'PL_ERR_STORE_UNAVAILABLE')) {
      // Once every few seconds: a database that is down would otherwise log every request.
      const now = Date.now();
      if (now - loggedAt >= UNAVAILABLE_LOG_MS) {
        loggedAt = now;
        logger.warn({ err }, `${kind} store unavailable: answering 503`);
      }
      return [
        503,
        `storage unavailable: the ${kind} database cannot be reached; try again shortly`,
      ];
    }
    if (
      isPolyloopError(err, 'PL_ERR_QUEUE_FULL') ||
      isPolyloopError(err, 'PL_ERR_TASK_TIMEOUT') ||
      isPolyloopError(err, 'PL_ERR_POOL_CLOSED')
    )
      return [503, 'server busy: try again shortly'];
    logger.error({ err }, 'site request failed');
    return [500, 'internal error'];
  };
}
