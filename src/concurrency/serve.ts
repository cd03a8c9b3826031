/**
 * `serve(app, options)`: runs an application on the chosen concurrency model.
 *
 *   await serve(new URL('./app.js', import.meta.url), { port: 9000, loops: 4 });
 */
import { pathToFileURL } from 'node:url';
import { nativeStatus } from '../../native/index.js';
import { invalidArg } from '../errors.js';
import type { App } from '../io/connection.js';
import { defaultLogger } from '../log.js';
import type { Feeder } from './feeder.js';
import { LoopGroup, type Server } from './group.js';
import { HalfSyncFeeder } from './half-sync.js';
import { LeaderFollowerFeeder } from './leader-follower.js';
import { appFor, loadApp } from './loop-runtime.js';
import type { AnyService } from './service.js';
import { currentLoop } from './loop.js';
import { StatsTable } from './loop-stats.js';
import { resolveOptions, type ServeOptions } from './options.js';
import { ReactorServer } from './reactor.js';
import { ReusePortFeeder } from './reuse-port.js';

/** An app module (URL, `file:` URL string or path) or, for the reactor model, the app itself. */
export type AppSource = URL | string | App<any, any, any> | AnyService; // eslint-disable-line @typescript-eslint/no-explicit-any

function moduleUrl(source: URL | string): string {
  if (source instanceof URL) return source.href;
  if (/^(file|data):/.test(source)) return source;
  return pathToFileURL(source).href;
}

/**
 * Starts a server. Resolves once every loop is ready (listening or able to take connections);
 * rejects with the first loop's start error, having stopped the others.
 */
export async function serve(source: AppSource, options: ServeOptions = {}): Promise<Server> {
  const o = resolveOptions(options);
  const logger = options.logger ?? defaultLogger();
  const inline = typeof source === 'object' && !(source instanceof URL);
  if (
    typeof source !== 'string' &&
    !(source instanceof URL) &&
    (typeof source !== 'object' || source === null)
  ) {
    throw invalidArg('app', source, 'an app module URL or path, or (reactor) an app');
  }
  if (o.model === 'reactor') {
    ReactorServer.install(o);
    const url = inline ? undefined : moduleUrl(source);
    const loaded = appFor(
      url === undefined
        ? (source as App<unknown, unknown, unknown> | AnyService)
        : await loadApp(url, currentLoop()),
      o.logic,
      url,
      1,
      o.pool,
      logger,
    );
    return ReactorServer.start(loaded.app, o, logger, loaded.close);
  }
  if (inline) {
    throw invalidArg(
      'app',
      'an app object',
      `a module URL with model '${o.model}': worker loops load the app themselves`,
    );
  }
  if (o.model === 'half-sync' && !nativeStatus().available && o.workers === 'thread') {
    logger.warn(
      { reason: nativeStatus().reason },
      'native addon unavailable: half-sync runs process loops fed by Node\'s handle passing (slower; run "npm rebuild polyloop")',
    );
    o.workers = 'process';
  }
  const table = new StatsTable(o.loops);
  let feeder: Feeder;
  if (o.model === 'half-sync') feeder = new HalfSyncFeeder(o, table, logger);
  else if (o.model === 'leader-follower') feeder = new LeaderFollowerFeeder(o);
  else feeder = new ReusePortFeeder(o);
  const group = new LoopGroup(moduleUrl(source), o, feeder, logger, table);
  await group.start();
  return group;
}

/**
 * Wires the usual signals to a server: SIGINT/SIGTERM close it (resolving the returned promise
 * once closed), SIGHUP reloads it. For command-line programs; libraries should not take signals.
 */
export function handleSignals(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.off('SIGHUP', reload);
      server.close().then(resolve, reject);
    };
    const reload = (): void => {
      server.reload().catch((err: unknown) => server.emit('error', err as Error));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.on('SIGHUP', reload);
  });
}
