/**
 * Turns a service into an app for an IO loop. With `logic: 'loop'` the service runs inline; with
 * `logic: 'pool'` every whole message goes to a thread pool and the IO loop only reads, parses
 * and writes (the Proactor workflow). Either way replies leave each connection in the order its
 * messages arrived, however the work completes.
 */
import { availableParallelism } from 'node:os';
import { createError } from '../errors.js';
import type { App, Connection } from '../io/connection.js';
import type { Logger } from '../log.js';
import { OrderedQueue } from '../pool/ordered.js';
import { ThreadPool } from '../pool/thread-pool.js';
import { httpApp } from '../protocol/http/server.js';
import type { ServerRequest } from '../protocol/http/server-request.js';
import type { ServerResponse } from '../protocol/http/response.js';
import type { AnyService, HttpService, PlainRequest, PlainResponse, Service } from './service.js';

/** Thread-pool settings for `logic: 'pool'`. */
export interface LogicPoolOptions {
  /** Default: the cores divided among the loops, at least 1. */
  maxThreads?: number;
  minThreads?: number;
  /** Messages waiting for a thread before new ones are refused. Default 4096. */
  maxQueue?: number;
}

export type Runner = (msg: unknown) => unknown;

/** What a loop keeps for a service: its app, and how to stop its pool. */
export interface ServiceApp {
  app: App<unknown, unknown, unknown>;
  close: () => Promise<void>;
}

export function serviceApp(
  service: AnyService,
  logic: 'loop' | 'pool',
  appUrl: string | undefined,
  loops: number,
  pool: LogicPoolOptions,
  logger: Logger,
): ServiceApp {
  let run: Runner;
  let close = (): Promise<void> => Promise.resolve();
  if (logic === 'pool') {
    if (appUrl === undefined) {
      throw createError(
        'PL_ERR_INVALID_ARG',
        "logic 'pool' needs the app as a module URL: pool threads load the service themselves",
      );
    }
    const maxThreads = pool.maxThreads ?? Math.max(1, Math.floor(availableParallelism() / loops));
    const threads = new ThreadPool({
      filename: new URL('./logic-worker.js', import.meta.url),
      workerData: { appUrl },
      maxThreads,
      minThreads: Math.min(pool.minThreads ?? maxThreads, maxThreads),
      maxQueue: pool.maxQueue ?? 4096,
    });
    run = (msg) => threads.run(msg);
    close = () => threads.close();
  } else {
    run = (msg) => service.handle(msg as never);
  }
  const app =
    service.kind === 'service' ? codecApp(service, run, logger) : httpServiceApp(service, run);
  return { app, close };
}

type Conn = Connection<unknown, unknown, OrderedQueue<unknown> | undefined>;

function codecApp(service: Service, run: Runner, logger: Logger): App<unknown, unknown, unknown> {
  return {
    codec: service.codec,
    onMessage(anyConn, msg) {
      // The context slot holds this connection's reply queue, made on its first message.
      const conn = anyConn as unknown as Conn;
      const queue = (conn.context ??= new OrderedQueue<unknown>(
        (reply) => {
          if (conn.state === 'connected') conn.send(reply);
        },
        (err) => {
          logger.warn({ conn: conn.id, err }, 'service failed; closing its connection');
          conn.close();
        },
      ));
      // A message may be a view into the read buffer: the pool thread gets its own copy.
      let owned = msg;
      if (msg instanceof Uint8Array) {
        owned = new Uint8Array(msg.length);
        (owned as Uint8Array).set(msg);
      }
      try {
        queue.push(run(owned));
      } catch (err) {
        queue.push(Promise.reject(err instanceof Error ? err : new Error(String(err))));
      }
    },
  };
}

function plain(req: ServerRequest): PlainRequest {
  return {
    method: req.method,
    url: req.url,
    path: req.path,
    headers: req.headers(),
    body: req.body,
  };
}

function reply(res: ServerResponse, r: PlainResponse | undefined): void {
  if (r === undefined || r === null) {
    res.status(204).send();
    return;
  }
  res.status(r.status ?? 200);
  if (r.headers !== undefined) for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
  res.send(r.body ?? null);
}

function httpServiceApp(service: HttpService, run: Runner): App<unknown, unknown, unknown> {
  // The HTTP server answers pipelined requests in order even when handlers finish out of order.
  const app = httpApp(async (req, res) => {
    reply(res, (await run(plain(req))) as PlainResponse | undefined);
  }, service.options);
  return app as unknown as App<unknown, unknown, unknown>;
}
