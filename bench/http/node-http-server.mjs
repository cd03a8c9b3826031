// Node's `http` for the http benchmark.
//   GET /            -> 'Hello, World!' (Content-Type: text/plain; charset=utf-8)
//   GET /file/NAME   -> fs.createReadStream(DIR/NAME).pipe(res), Content-Length from stat
//
//   node bench/http/node-http-server.mjs --dir DIR [--host 127.0.0.1] [--port 0]
//
// Prints `listening on HOST:PORT` on stdout when ready; SIGTERM or SIGINT exits 0.
import { createReadStream, stat } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
  },
});
const dir = path.resolve(values.dir);
const NAME = /^\/file\/([A-Za-z0-9_-][A-Za-z0-9._-]*)$/;
const HELLO = 'Hello, World!';

function notFound(res) {
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 10 });
  res.end('Not Found\n');
}

const server = http.createServer((req, res) => {
  if (req.url === '/') {
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': HELLO.length,
    });
    res.end(HELLO);
    return;
  }
  const m = NAME.exec(req.url);
  if (m === null) return notFound(res);
  const file = path.join(dir, m[1]);
  stat(file, (err, st) => {
    if (err || !st.isFile()) return notFound(res);
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': st.size,
    });
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), values.host, () => {
  process.stdout.write(`listening on ${values.host}:${server.address().port}\n`);
});

const stop = () => process.exit(0);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
