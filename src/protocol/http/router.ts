import FindMyWay from 'find-my-way';
import type { HttpHandler } from './server.js';
import type { ServerRequest } from './server-request.js';
import type { ServerResponse } from './response.js';

type Method = FindMyWay.HTTPMethod;

// find-my-way calls no handler of ours: the route's store holds it, `handle` calls it.
const unused = (): void => undefined;
/** Paths with parameters, wildcards, regular expressions or escapes are not static. */
const STATIC_EXCLUDED = /[:*(%]/;

/**
 * Routes requests by method and path with find-my-way (`/users/:id`, `/files/*`). A path that
 * matches no route gets 404; a path that matches for other methods only gets 405 with `Allow`.
 * HEAD falls back to the GET route. Register routes before serving; `handle` runs on the
 * connection's loop.
 */
export class Router {
  private readonly fmw = FindMyWay();
  private readonly methods = new Set<Method>();
  /**
   * Static routes by method and exact path, looked up before find-my-way: one hash lookup where
   * the tree walk costs more. Exact, because find-my-way prefers a static route to a parametric
   * one and leaves a path without `%` as it is.
   */
  private readonly statics = new Map<string, Map<string, HttpHandler>>();

  get(path: string, handler: HttpHandler): this {
    return this.on('GET', path, handler);
  }
  post(path: string, handler: HttpHandler): this {
    return this.on('POST', path, handler);
  }
  put(path: string, handler: HttpHandler): this {
    return this.on('PUT', path, handler);
  }
  patch(path: string, handler: HttpHandler): this {
    return this.on('PATCH', path, handler);
  }
  delete(path: string, handler: HttpHandler): this {
    return this.on('DELETE', path, handler);
  }
  /** A route for every method find-my-way knows. */
  all(path: string, handler: HttpHandler): this {
    this.fmw.all(path, unused, handler);
    return this;
  }

  /** A route for one method or several. */
  on(method: Method | Method[], path: string, handler: HttpHandler): this {
    this.fmw.on(method, path, unused, handler);
    const isStatic = !STATIC_EXCLUDED.test(path);
    for (const m of Array.isArray(method) ? method : [method]) {
      this.methods.add(m);
      if (!isStatic) continue;
      let paths = this.statics.get(m);
      if (paths === undefined) this.statics.set(m, (paths = new Map<string, HttpHandler>()));
      paths.set(path, handler);
    }
    return this;
  }

  /** Answers a request: runs the matching route's handler with `req.params` set, or 404/405. */
  handle(req: ServerRequest, res: ServerResponse): void | Promise<void> {
    const path = req.path;
    const method = req.method as Method;
    const direct = this.statics.get(method)?.get(path);
    if (direct !== undefined) return direct(req, res);
    const found = this.find(method, path) ?? (method === 'HEAD' ? this.find('GET', path) : null);
    if (found !== null) {
      req.params = found.params as Record<string, string>;
      return (found.store as HttpHandler)(req, res);
    }
    const allow: string[] = [];
    for (const m of this.methods) if (this.find(m, path) !== null) allow.push(m);
    if (allow.includes('GET') && !allow.includes('HEAD')) allow.push('HEAD');
    if (allow.length > 0) {
      res.status(405).setHeader('Allow', allow.join(', ')).send('Method Not Allowed\n');
    } else {
      res.status(404).send('Not Found\n');
    }
  }

  private find(
    method: Method,
    path: string,
  ): FindMyWay.FindResult<FindMyWay.HTTPVersion.V1> | null {
    try {
      return this.fmw.find(method, path);
    } catch {
      return null; // a method find-my-way does not know
    }
  }
}

/** A new, empty `Router`. Pass it to `httpApp`. */
export function router(): Router {
  return new Router();
}
