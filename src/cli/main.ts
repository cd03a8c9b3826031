#!/usr/bin/env node
// The `polyloop` command: runs the example servers (and, later, the framework's main jobs).
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isPolyloopError } from '../errors.js';
import type { ServeOptions } from '../concurrency/options.js';
import type { Server } from '../concurrency/group.js';

/** The example servers, loaded on demand so that one command never pays for the others. */
/** The example servers: app modules that every loop loads for itself. */
const SERVERS: Record<string, { summary: string; module: string }> = {
  echo: { summary: 'echo every byte back (RFC 862)', module: 'echo.js' },
  discard: { summary: 'drop every byte (RFC 863)', module: 'discard.js' },
  chargen: { summary: 'stream characters, paced by the reader (RFC 864)', module: 'chargen.js' },
  daytime: { summary: 'send the date as text, then close (RFC 867)', module: 'daytime.js' },
  time: { summary: 'send 32-bit binary time, then close (RFC 868)', module: 'time.js' },
  chat: { summary: 'relay length-framed messages to every other client', module: 'chat.js' },
  hash: {
    summary: 'hash each line with scrypt (a CPU-bound service; compare the models)',
    module: 'hash-service.js',
  },
};

const exampleUrl = (file: string): URL => new URL(`../../examples/${file}`, import.meta.url);

const USAGE = `Usage: polyloop <command> [options]

Servers:
${Object.entries(SERVERS)
  .map(([name, s]) => `  ${name.padEnd(12)} ${s.summary}`)
  .join('\n')}
Web:
  serve [DIR]  serve the files of DIR (default public) over HTTP, with /healthz
               (default port 8080; prints "listening on http://HOST:PORT")
  site         the demo application: the site, accounts and a message board
               (default port 8080; --data DIR, --store sqlite|postgres|redis)
Clients:
  chat-client  interactive chat client: stdin lines out, messages in
Peers:
  p2p          a node of a P2P chat: stdin lines broadcast, /peers lists members
               (--peers host:port,... to join; --id NAME; stdin EOF leaves)
Tools:
  doctor       check fd limits, kernel settings and the native addon
               (--json for machine-readable output; exit code 1 if something limits)

Options:
  --host H              address to bind or dial (default 127.0.0.1)
  --port P              port (servers: default 9000, serve: 8080; 0 picks a free one)
  --max-connections N   close connections beyond N at once
  --idle-timeout MS     close connections idle for MS milliseconds
  --peers LIST          p2p: comma-separated host:port of nodes to join through
  --id NAME             p2p: this node's id (default: random)
  --data DIR            site: folder of the SQLite database (default ./data)
  --store KIND          site: sqlite (default), postgres or redis
  --pg-url URL          site: PostgreSQL to use (default $POLYLOOP_PG_URL)
  --redis-url URL       site: Redis to use (default $POLYLOOP_REDIS_URL)
  --model M             reactor, half-sync (default with more than one loop),
                        leader-follower or reuse-port
  --loops N             event loops (default: one per core)
  --workers KIND        thread (default) or process
  --dispatch POLICY     half-sync: round-robin (default), least-connections or ip-hash
  --acceptor KIND       reactor: native (batching accept4, default with the addon) or node
  -h, --help            this text
  -v, --version         the polyloop version

A server prints one line, "listening on HOST:PORT", once every loop is ready, and
the model in use on stderr; SIGINT or SIGTERM drains it and exits 0; SIGHUP
reloads its loops without dropping a connection.`;

class UsageError extends Error {}

function intOption(
  name: string,
  raw: string | undefined,
  fallback: number | undefined,
): number | undefined {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n))
    throw new UsageError(`--${name} must be a non-negative integer; got ${JSON.stringify(raw)}`);
  return n;
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

async function runServer(
  name: string,
  values: Record<string, string | boolean | undefined>,
): Promise<void> {
  const { serve, handleSignals } = await import('../concurrency/serve.js');
  const options = serverOptions(values, 9000);
  const max = intOption(
    'max-connections',
    values['max-connections'] as string | undefined,
    undefined,
  );
  if (max !== undefined) options.maxConnections = max;
  const idle = intOption('idle-timeout', values['idle-timeout'] as string | undefined, undefined);
  if (idle !== undefined) options.idleTimeout = idle;
  const server = await serve(exampleUrl(SERVERS[name]!.module), options);
  const stopped = handleSignals(server);
  server.on('reload', ({ generation }) =>
    process.stderr.write(`polyloop ${name}: reloaded: generation ${generation}\n`),
  );
  process.stdout.write(`listening on ${formatHost(server.address.host)}:${server.address.port}\n`);
  process.stderr.write(`polyloop ${name}: ${describeModel(server)}\n`);
  await stopped;
}

/** "half-sync, 2 thread loops (round-robin)" */
function describeModel(server: Server): string {
  if (server.model === 'reactor') {
    const acceptor = (server as Server & { acceptor?: string }).acceptor;
    return `reactor, 1 loop${acceptor !== undefined ? ` (${acceptor} acceptor)` : ''}`;
  }
  const loops = `${server.loops} ${server.workers} loop${server.loops === 1 ? '' : 's'}`;
  return `${server.model}, ${loops}`;
}

/** Host, port and concurrency options shared by the server commands. */
function serverOptions(
  values: Record<string, string | boolean | undefined>,
  defaultPort: number,
): ServeOptions {
  const options: ServeOptions = {
    host: (values['host'] as string | undefined) ?? '127.0.0.1',
    port: intOption('port', values['port'] as string | undefined, defaultPort)!,
  };
  const choice = <T extends string>(flag: string, allowed: readonly T[]): T | undefined => {
    const v = values[flag];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !allowed.includes(v as T)) {
      throw new UsageError(`--${flag} must be ${allowed.join(', ')}; got ${JSON.stringify(v)}`);
    }
    return v as T;
  };
  const model = choice('model', ['reactor', 'half-sync', 'leader-follower', 'reuse-port']);
  const workers = choice('workers', ['thread', 'process']);
  const dispatch = choice('dispatch', ['round-robin', 'least-connections', 'ip-hash']);
  const acceptor = choice('acceptor', ['native', 'node']);
  const loops = intOption('loops', values['loops'] as string | undefined, undefined);
  if (loops === 0) throw new UsageError('--loops must be at least 1');
  if (acceptor !== undefined) {
    // Choosing the acceptor is the reactor's business: one loop on the main thread.
    if (model !== undefined && model !== 'reactor') {
      throw new UsageError(`--acceptor applies only to --model reactor`);
    }
    options.model = 'reactor';
    options.acceptor = acceptor;
  }
  if (model !== undefined) options.model = model;
  if (options.model === 'reactor' && loops === undefined) options.loops = 1;
  if (loops !== undefined) options.loops = loops;
  if (workers !== undefined) options.workers = workers;
  if (dispatch !== undefined) options.dispatch = dispatch;
  return options;
}

async function runServe(
  dir: string,
  values: Record<string, string | boolean | undefined>,
): Promise<void> {
  const { serve, handleSignals } = await import('../concurrency/serve.js');
  const { diagnose } = await import('./doctor.js');
  const { readSystemLimits } = await import('../io/sys.js');
  const root = resolve(dir);
  const st = await stat(root).catch(() => undefined);
  if (st === undefined || !st.isDirectory())
    throw new UsageError(`serve: ${JSON.stringify(dir)} is not a directory`);
  const options = serverOptions(values, 8080);
  options.args = { root };
  const server = await serve(new URL('./static-site.js', import.meta.url), options);
  const stopped = handleSignals(server);
  server.on('reload', ({ generation }) =>
    process.stderr.write(`polyloop serve: reloaded: generation ${generation}\n`),
  );
  const native = await nativeStatus();
  const limiting = diagnose({
    limits: readSystemLimits(),
    backlog: 511,
    wantFds: 65_536,
    native,
    nodeVersion: process.versions.node,
  }).filter((c) => c.status === 'limit').length;
  const addr = server.address;
  process.stdout.write(
    [
      `listening on http://${formatHost(addr.host)}:${addr.port}`,
      `serving ${root}`,
      `model: ${describeModel(server)}`,
      limiting === 0
        ? 'doctor: nothing limits a server here'
        : `doctor: ${limiting} setting(s) limit a server here (run "polyloop doctor")`,
      '',
    ].join('\n'),
  );
  await stopped;
}

async function runSite(values: Record<string, string | boolean | undefined>): Promise<void> {
  const { serve, handleSignals } = await import('../concurrency/serve.js');
  const kinds = ['sqlite', 'postgres', 'redis'] as const;
  const store = (values['store'] as string | undefined) ?? 'sqlite';
  if (!kinds.includes(store as (typeof kinds)[number]))
    throw new UsageError(`--store must be ${kinds.join(', ')}; got ${JSON.stringify(store)}`);
  const data = resolve((values['data'] as string | undefined) ?? 'data');
  const pgUrl = (values['pg-url'] as string | undefined) ?? process.env['POLYLOOP_PG_URL'];
  const redisUrl = (values['redis-url'] as string | undefined) ?? process.env['POLYLOOP_REDIS_URL'];
  let where = `${data}/site.db`;
  if (store === 'postgres') {
    if (pgUrl === undefined)
      throw new UsageError('--store postgres needs --pg-url or POLYLOOP_PG_URL');
    where = hidePassword(pgUrl);
  } else if (store === 'redis') {
    where = hidePassword(redisUrl ?? 'redis://127.0.0.1:6379');
  }
  const options = serverOptions(values, 8080);
  options.args = {
    store,
    data,
    publicDir: fileURLToPath(new URL('../../../public', import.meta.url)),
    ...(pgUrl === undefined ? {} : { pgUrl }),
    ...(redisUrl === undefined ? {} : { redisUrl }),
  };
  const server = await serve(exampleUrl('site/app.js'), options);
  const stopped = handleSignals(server);
  server.on('reload', ({ generation }) =>
    process.stderr.write(`polyloop site: reloaded: generation ${generation}\n`),
  );
  const addr = server.address;
  process.stdout.write(
    [
      `listening on http://${formatHost(addr.host)}:${addr.port}`,
      `store: ${store} (${where})`,
      `model: ${describeModel(server)}`,
      '',
    ].join('\n'),
  );
  await stopped;
  // A loop on this thread (reactor) leaves its database connections open: close them.
  if (server.model === 'reactor') await (await import('../../examples/site/app.js')).closeSite();
}

/** A database URL fit to print: the password replaced. */
function hidePassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.href;
  } catch {
    throw new UsageError(`not a URL: ${JSON.stringify(url)}`);
  }
}

async function runChatClient(values: Record<string, string | boolean | undefined>): Promise<void> {
  const { runChatClient: run } = await import('../../examples/chat-client.js');
  const port = intOption('port', values['port'] as string | undefined, undefined);
  if (port === undefined || port === 0) throw new UsageError('chat-client needs --port P');
  await run({
    host: (values['host'] as string | undefined) ?? '127.0.0.1',
    port,
    input: process.stdin,
    output: process.stdout,
  });
}

async function runP2p(values: Record<string, string | boolean | undefined>): Promise<void> {
  const { runP2pChat } = await import('../../examples/p2p-chat.js');
  const raw = (values['peers'] as string | undefined) ?? '';
  const peers = raw.split(',').filter((p) => p.length > 0);
  const id = values['id'] as string | undefined;
  const chat = await runP2pChat({
    ...(id === undefined ? {} : { id }),
    host: (values['host'] as string | undefined) ?? '127.0.0.1',
    port: intOption('port', values['port'] as string | undefined, 0)!,
    peers,
    input: process.stdin,
    output: process.stdout,
  });
  const stop = (): void => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    void chat.stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await chat.done;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  // stdin may still hold the loop open; the node is closed, so leave now.
  process.stdin.destroy();
}

async function doctor(values: Record<string, string | boolean | undefined>): Promise<number> {
  const { runDoctor } = await import('./doctor.js');
  return runDoctor(
    {
      json: values['json'] === true,
      backlog: intOption('backlog', values['backlog'] as string | undefined, 511)!,
      wantFds: 65_536,
      native: await nativeStatus(),
    },
    (s) => process.stdout.write(`${s}\n`),
  );
}

async function nativeStatus(): Promise<{ available: boolean; reason?: string }> {
  const { nativeStatus: status } = await import('../../native/index.js');
  return status();
}

function version(): string {
  const pkg = JSON.parse(
    readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'max-connections': { type: 'string' },
      'idle-timeout': { type: 'string' },
      json: { type: 'boolean' },
      acceptor: { type: 'string' },
      model: { type: 'string' },
      loops: { type: 'string' },
      workers: { type: 'string' },
      dispatch: { type: 'string' },
      backlog: { type: 'string' },
      peers: { type: 'string' },
      id: { type: 'string' },
      data: { type: 'string' },
      store: { type: 'string' },
      'pg-url': { type: 'string' },
      'redis-url': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  if (values.version === true) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help === true || command === undefined || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined && values.help !== true ? 1 : 0;
  }
  if (command === 'serve') {
    if (rest.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(rest[1])}`);
    await runServe(rest[0] ?? 'public', values);
    return 0;
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  if (command === 'doctor') return doctor(values);
  if (command === 'site') await runSite(values);
  else if (command === 'chat-client') await runChatClient(values);
  else if (command === 'p2p') await runP2p(values);
  else if (command in SERVERS) await runServer(command, values);
  else throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (
      err instanceof UsageError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(
        `polyloop: ${(err as Error).message}\nRun "polyloop --help" for usage.\n`,
      );
      process.exitCode = 2;
    } else if (isPolyloopError(err)) {
      process.stderr.write(`polyloop: ${err.code}: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`polyloop: ${String((err as Error)?.stack ?? err)}\n`);
      process.exitCode = 1;
    }
  },
);
