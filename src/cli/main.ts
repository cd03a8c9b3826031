#!/usr/bin/env node
// The `polyloop` command: runs the example servers (and, later, the framework's main jobs).
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isPolyloopError } from '../errors.js';
import { TcpServer, type TcpServerOptions } from '../io/tcp-server.js';
import type { App } from '../io/connection.js';

/** The example servers, loaded on demand so that one command never pays for the others. */
const SERVERS: Record<string, { summary: string; load(): Promise<{ default: unknown }> }> = {
  echo: { summary: 'echo every byte back (RFC 862)', load: () => import('../../examples/echo.js') },
  discard: {
    summary: 'drop every byte (RFC 863)',
    load: () => import('../../examples/discard.js'),
  },
  chargen: {
    summary: 'stream characters, paced by the reader (RFC 864)',
    load: () => import('../../examples/chargen.js'),
  },
  daytime: {
    summary: 'send the date as text, then close (RFC 867)',
    load: () => import('../../examples/daytime.js'),
  },
  time: {
    summary: 'send 32-bit binary time, then close (RFC 868)',
    load: () => import('../../examples/time.js'),
  },
  chat: {
    summary: 'relay length-framed messages to every other client',
    load: () => import('../../examples/chat.js'),
  },
};

const USAGE = `Usage: polyloop <command> [options]

Servers:
${Object.entries(SERVERS)
  .map(([name, s]) => `  ${name.padEnd(12)} ${s.summary}`)
  .join('\n')}
Web:
  serve [DIR]  serve the files of DIR (default public) over HTTP, with /healthz
               (default port 8080; prints "listening on http://HOST:PORT")
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
  --acceptor KIND       native (batching accept4, default when the addon is built) or node
  -h, --help            this text
  -v, --version         the polyloop version

A server prints one line, "listening on HOST:PORT", once it is ready;
SIGINT or SIGTERM closes it gracefully (exit code 0).`;

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
  const mod = await SERVERS[name]!.load();
  const app = mod.default as App<unknown, unknown, unknown>;
  const options = serverOptions(values, 9000);
  const max = intOption(
    'max-connections',
    values['max-connections'] as string | undefined,
    undefined,
  );
  if (max !== undefined) options.maxConnections = max;
  const idle = intOption('idle-timeout', values['idle-timeout'] as string | undefined, undefined);
  if (idle !== undefined) options.idleTimeout = idle;
  const server = new TcpServer(app, options);
  const addr = await server.listen();
  const stopped = untilSignal();
  process.stdout.write(`listening on ${formatHost(addr.host)}:${addr.port}\n`);
  await stopped;
  await server.close();
}

/** Host, port and acceptor options shared by the server commands. */
function serverOptions(
  values: Record<string, string | boolean | undefined>,
  defaultPort: number,
): TcpServerOptions {
  const options: TcpServerOptions = {
    host: (values['host'] as string | undefined) ?? '127.0.0.1',
    port: intOption('port', values['port'] as string | undefined, defaultPort)!,
  };
  const acceptor = values['acceptor'];
  if (acceptor !== undefined) {
    if (acceptor !== 'native' && acceptor !== 'node') {
      throw new UsageError(`--acceptor must be native or node; got ${JSON.stringify(acceptor)}`);
    }
    options.acceptor = acceptor;
  }
  return options;
}

/**
 * Resolves on the first SIGINT or SIGTERM. Call it before printing the ready line: a
 * supervisor may signal as soon as it reads that line.
 */
function untilSignal(): Promise<void> {
  return new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

async function runServe(
  dir: string,
  values: Record<string, string | boolean | undefined>,
): Promise<void> {
  const { httpApp } = await import('../protocol/http/server.js');
  const { router } = await import('../protocol/http/router.js');
  const { serveStatic } = await import('../protocol/http/static.js');
  const { diagnose } = await import('./doctor.js');
  const { readSystemLimits } = await import('../io/sys.js');
  const root = resolve(dir);
  const st = await stat(root).catch(() => undefined);
  if (st === undefined || !st.isDirectory())
    throw new UsageError(`serve: ${JSON.stringify(dir)} is not a directory`);
  const app = httpApp(
    router()
      .get('/healthz', (_req, res) => res.send('ok'))
      .get('/*', serveStatic('/', root)),
  );
  const server = new TcpServer(app, serverOptions(values, 8080));
  const addr = await server.listen();
  const stopped = untilSignal();
  const native = await nativeStatus();
  const limiting = diagnose({
    limits: readSystemLimits(),
    backlog: 511,
    wantFds: 65_536,
    native,
    nodeVersion: process.versions.node,
  }).filter((c) => c.status === 'limit').length;
  process.stdout.write(
    [
      `listening on http://${formatHost(addr.host)}:${addr.port}`,
      `serving ${root}`,
      `model: reactor, 1 loop (${server.acceptor} acceptor)`,
      limiting === 0
        ? 'doctor: nothing limits a server here'
        : `doctor: ${limiting} setting(s) limit a server here (run "polyloop doctor")`,
      '',
    ].join('\n'),
  );
  await stopped;
  await server.close();
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
      backlog: { type: 'string' },
      peers: { type: 'string' },
      id: { type: 'string' },
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
  if (command === 'chat-client') await runChatClient(values);
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
