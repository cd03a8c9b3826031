// polyloop's HTTP server for the http benchmark: httpApp on a router, one event loop.
//   GET /            -> 'Hello, World!' (res.send: text/plain; charset=utf-8)
//   GET /file/:name  -> res.sendFile(DIR/name) (sendfile(2) with the native addon)
//
//   node bench/http/polyloop-server.mjs --dir DIR [--host 127.0.0.1] [--port 0]
//
// Prints the sendFile mode on stderr and `listening on HOST:PORT` on stdout when ready;
// SIGTERM or SIGINT closes it (exit 0).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TcpServer, httpApp, nativeStatus, router } from '../../dist/src/index.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
  },
});
const dir = path.resolve(values.dir);
const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

const r = router()
  .get('/', (req, res) => res.send('Hello, World!'))
  .get('/file/:name', (req, res) => {
    const name = req.params.name;
    if (!NAME.test(name)) return res.status(404).send('Not Found\n');
    return res.sendFile(path.join(dir, name));
  });

const status = nativeStatus();
const server = new TcpServer(httpApp(r), { host: values.host, port: Number(values.port) });
const addr = await server.listen();
process.stderr.write(
  `polyloop-server: sendFile mode: ${
    status.available ? 'native (sendfile(2))' : `fallback (buffered copy: ${status.reason})`
  }; acceptor: ${server.acceptor}\n`,
);
const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
process.stdout.write(`listening on ${host}:${addr.port}\n`);

const stop = () => {
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  void server.close(1000).then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
