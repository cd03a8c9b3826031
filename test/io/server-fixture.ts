// Starting servers for tests, once for every acceptor this build has.
import { after, before, describe } from 'node:test';
import { nativeStatus } from '../../native/index.js';
import { type App, type Logger, TcpServer, type TcpServerOptions } from '../../src/index.js';

export const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {} };

/** The acceptors to test: the native one when the addon is built, and always Node's. */
export const ACCEPTORS = nativeStatus().available
  ? (['native', 'node'] as const)
  : (['node'] as const);

let acceptor: 'native' | 'node' = 'node';

/** Declares `suite` once per acceptor; `start` inside it uses that acceptor. */
export function forEachAcceptor(name: string, suite: (kind: 'native' | 'node') => void): void {
  for (const kind of ACCEPTORS) {
    describe(`${name} (${kind} acceptor)`, () => {
      before(() => {
        acceptor = kind;
      });
      suite(kind);
    });
  }
}

/** Starts a server on 127.0.0.1:0 that closes when the test ends. */
export async function start<In = Buffer, Out = Uint8Array | string, Ctx = undefined>(
  app: App<In, Out, Ctx>,
  options: TcpServerOptions = {},
): Promise<{ server: TcpServer<In, Out, Ctx>; port: number }> {
  const server = new TcpServer(app, { host: '127.0.0.1', logger: quiet, acceptor, ...options });
  after(() => server.close(0));
  const { port } = await server.listen();
  return { server, port };
}
