// serveStatic over real sockets: bytes, validators, ranges, directories, and every way out of the
// root we know of. The served root is a temporary copy of public/ plus a generated binary.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { router, serveStatic } from '../../../src/index.js';
import { open, serve, type Parsed } from './server-harness.js';

const PUBLIC = fileURLToPath(new URL('../../../../public', import.meta.url));
const SECRET = 'outside-the-root secret\n';

const base = mkdtempSync(join(tmpdir(), 'pl-static-'));
const root = join(base, 'www');
cpSync(PUBLIC, root, { recursive: true });
const binary = randomBytes(300 * 1024 + 7);
writeFileSync(join(root, 'blob.bin'), binary);
writeFileSync(join(root, 'empty.txt'), '');
writeFileSync(join(base, 'secret.txt'), SECRET);
mkdirSync(join(base, 'outside-dir'));
writeFileSync(join(base, 'outside-dir', 'index.html'), SECRET);
symlinkSync(join(base, 'secret.txt'), join(root, 'escape.txt'));
symlinkSync(join(base, 'outside-dir'), join(root, 'escape-dir'));
symlinkSync(join(root, 'style.css'), join(root, 'inside-link.css'));
after(() => rmSync(base, { recursive: true, force: true }));

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...files(join(dir, e.name)));
    else if (e.isFile()) out.push(join(dir, e.name));
  }
  return out;
}

/** One request on a fresh keep-alive connection; the socket is destroyed afterwards. */
async function request(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Parsed> {
  const c = await open(port);
  try {
    let extra = '';
    for (const [k, v] of Object.entries(headers)) extra += `${k}: ${v}\r\n`;
    c.socket.write(`${method} ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`);
    const [r] = await c.responses(1, [method]);
    return r!;
  } finally {
    c.socket.destroy();
  }
}

const { port } = await serve(serveStatic('/', root));

describe('serveStatic: bodies and headers', () => {
  it('sends every file of public/ and a binary byte for byte', async () => {
    const all = files(root).filter((f) => !f.includes('escape'));
    assert.ok(all.length >= 5);
    for (const f of all) {
      const path = '/' + relative(root, f).split('\\').join('/');
      const r = await request(port, 'GET', path);
      assert.equal(r.status, 200, path);
      assert.ok(r.body.equals(readFileSync(f)), path);
      assert.equal(r.headers['content-length'], String(statSync(f).size), path);
    }
  });

  it('sets Content-Type from the extension, ETag and Last-Modified', async () => {
    const types: Record<string, RegExp> = {
      '/index.html': /^text\/html; charset=utf-8$/,
      '/style.css': /^text\/css; charset=utf-8$/,
      '/logo.svg': /^image\/svg\+xml/,
      '/blob.bin': /^application\/octet-stream$/,
    };
    for (const [path, type] of Object.entries(types)) {
      const r = await request(port, 'GET', path);
      assert.match(r.headers['content-type']!, type, path);
      assert.match(r.headers['etag']!, /^"[0-9a-f]+-[0-9a-f]+"$/, path);
      assert.equal(r.headers['accept-ranges'], 'bytes');
      const mtime = Math.floor(statSync(join(root, path)).mtimeMs / 1000) * 1000;
      assert.equal(Date.parse(r.headers['last-modified']!), mtime, path);
    }
  });

  it('answers HEAD with the GET headers and no body', async () => {
    const get = await request(port, 'GET', '/blob.bin');
    const head = await request(port, 'HEAD', '/blob.bin');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], String(binary.length));
    assert.equal(head.headers['etag'], get.headers['etag']);
    assert.equal(head.headers['content-type'], get.headers['content-type']);
  });

  it('sends an empty file with Content-Length 0', async () => {
    const r = await request(port, 'GET', '/empty.txt');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '0');
  });

  it('answers 404 to a missing file and 405 to other methods', async () => {
    assert.equal((await request(port, 'GET', '/nope.txt')).status, 404);
    assert.equal((await request(port, 'GET', '/style.css/x')).status, 404);
    const post = await request(port, 'POST', '/style.css', { 'content-length': '0' });
    assert.equal(post.status, 405);
    assert.equal(post.headers['allow'], 'GET, HEAD');
  });

  it('follows a symlink that stays inside the root', async () => {
    const r = await request(port, 'GET', '/inside-link.css');
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(readFileSync(join(root, 'style.css'))));
  });
});

describe('serveStatic: revalidation', () => {
  it('answers If-None-Match with the ETag (or *) with 304 and no body', async () => {
    const { headers } = await request(port, 'GET', '/style.css');
    for (const inm of [headers['etag']!, `"x", W/${headers['etag']}`, '*']) {
      const r = await request(port, 'GET', '/style.css', { 'if-none-match': inm });
      assert.equal(r.status, 304, inm);
      assert.equal(r.headers['etag'], headers['etag']);
      assert.equal(r.headers['content-length'], undefined);
    }
    const miss = await request(port, 'GET', '/style.css', { 'if-none-match': '"other"' });
    assert.equal(miss.status, 200);
  });

  it('answers If-Modified-Since at or after the mtime with 304, before it with 200', async () => {
    const { headers } = await request(port, 'GET', '/style.css');
    const lm = headers['last-modified']!;
    assert.equal(
      (await request(port, 'GET', '/style.css', { 'if-modified-since': lm })).status,
      304,
    );
    const earlier = new Date(Date.parse(lm) - 60_000).toUTCString();
    const r = await request(port, 'GET', '/style.css', { 'if-modified-since': earlier });
    assert.equal(r.status, 200);
    const junk = await request(port, 'GET', '/style.css', { 'if-modified-since': 'yesterday' });
    assert.equal(junk.status, 200);
  });

  it('lets If-None-Match win over If-Modified-Since', async () => {
    const { headers } = await request(port, 'GET', '/style.css');
    const r = await request(port, 'GET', '/style.css', {
      'if-none-match': '"other"',
      'if-modified-since': headers['last-modified']!,
    });
    assert.equal(r.status, 200);
  });
});

describe('serveStatic: ranges', () => {
  it('answers a single range with 206, Content-Range and exactly those bytes', async () => {
    const size = binary.length;
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=1000-', 1000, size - 1],
      ['bytes=-500', size - 500, size - 1],
      ['bytes=1-200000', 1, 200000],
      ['bytes=5-9999999', 5, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const r = await request(port, 'GET', '/blob.bin', { range });
      assert.equal(r.status, 206, range);
      assert.equal(r.headers['content-range'], `bytes ${start}-${end}/${size}`, range);
      assert.equal(r.headers['content-length'], String(end - start + 1), range);
      assert.ok(r.body.equals(binary.subarray(start, end + 1)), range);
    }
  });

  it('answers an unsatisfiable range with 416 and bytes */size', async () => {
    const r = await request(port, 'GET', '/blob.bin', { range: `bytes=${binary.length}-` });
    assert.equal(r.status, 416);
    assert.equal(r.headers['content-range'], `bytes */${binary.length}`);
    assert.equal(r.body.length, 0);
  });

  it('sends the whole file with 200 for several ranges, malformed ones and other units', async () => {
    for (const range of ['bytes=0-9,100-109', 'bytes=abc', 'items=0-1']) {
      const r = await request(port, 'GET', '/blob.bin', { range });
      assert.equal(r.status, 200, range);
      assert.equal(r.headers['content-range'], undefined, range);
      assert.ok(r.body.equals(binary), range);
    }
  });

  it('honours If-Range only while the validator matches', async () => {
    const { headers } = await request(port, 'GET', '/blob.bin');
    const hit = await request(port, 'GET', '/blob.bin', {
      range: 'bytes=0-9',
      'if-range': headers['etag']!,
    });
    assert.equal(hit.status, 206);
    const stale = await request(port, 'GET', '/blob.bin', {
      range: 'bytes=0-9',
      'if-range': '"stale"',
    });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.length, binary.length);
  });

  it('answers HEAD with a range with 206 headers and no body', async () => {
    const r = await request(port, 'HEAD', '/blob.bin', { range: 'bytes=10-19' });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-length'], '10');
    assert.equal(r.body.length, 0);
  });
});

describe('serveStatic: directories', () => {
  it('serves index.html for a directory with a trailing slash', async () => {
    const top = await request(port, 'GET', '/');
    assert.equal(top.status, 200);
    assert.ok(top.body.equals(readFileSync(join(root, 'index.html'))));
    const sub = await request(port, 'GET', '/docs/');
    assert.equal(sub.status, 200);
    assert.ok(sub.body.equals(readFileSync(join(root, 'docs', 'index.html'))));
  });

  it('redirects /dir to /dir/ with 301, keeping the query', async () => {
    const r = await request(port, 'GET', '/docs?x=1');
    assert.equal(r.status, 301);
    assert.equal(r.headers['location'], '/docs/?x=1');
  });

  it('never redirects off the site (//host)', async () => {
    mkdirSync(join(root, 'evil.example'), { recursive: true });
    const r = await request(port, 'GET', '//evil.example');
    assert.equal(r.status, 301);
    assert.equal(r.headers['location'], '/evil.example/');
  });

  it('works mounted under a prefix on a router', async () => {
    const { port: p } = await serve(
      router()
        .get('/healthz', (_req, res) => res.send('ok'))
        .get('/assets/*', serveStatic('/assets', root)),
    );
    const css = await request(p, 'GET', '/assets/style.css');
    assert.equal(css.status, 200);
    assert.ok(css.body.equals(readFileSync(join(root, 'style.css'))));
    assert.equal((await request(p, 'HEAD', '/assets/logo.svg')).status, 200);
    assert.equal((await request(p, 'GET', '/assets')).status, 404); // the route needs /assets/
    const r = await request(p, 'GET', '/assets/docs');
    assert.equal(r.headers['location'], '/assets/docs/');
    assert.equal((await request(p, 'GET', '/healthz')).body.toString(), 'ok');
  });
});

describe('serveStatic: no escape from the root', () => {
  const cases: [string, number[]][] = [
    ['/../package.json', [403]],
    ['/../secret.txt', [403]],
    ['/%2e%2e/secret.txt', [403]],
    ['/%2E%2E/%2e%2e/package.json', [403]],
    ['/..%2fsecret.txt', [403]],
    ['/docs/..%2f..%2fsecret.txt', [403]],
    ['/a%00b', [403]],
    ['/style.css%00.html', [403]],
    ['/escape.txt', [404]],
    ['/escape-dir/', [404]],
    ['/escape-dir/index.html', [404]],
    ['/%zz', [400]],
    ['/%C3', [400]],
  ];
  for (const [path, statuses] of cases) {
    it(`refuses ${path} without the outside bytes`, async () => {
      const r = await request(port, 'GET', path);
      assert.ok(statuses.includes(r.status), `${path}: ${r.status}`);
      assert.ok(!r.body.includes(SECRET), path);
      assert.ok(!r.body.includes('"name": "polyloop"'), path);
    });
  }

  it('refuses a raw NUL byte in the target', async () => {
    const c = await open(port);
    try {
      c.socket.write('GET /a\0b HTTP/1.1\r\nHost: t\r\n\r\n');
      const [r] = await c.responses(1);
      assert.ok([400, 403, 404].includes(r!.status), String(r!.status));
    } finally {
      c.socket.destroy();
    }
  });
});

const run = promisify(execFile);
const curl = await run('curl', ['--version']).then(
  () => true,
  () => false,
);

describe('serveStatic with curl', { skip: curl ? false : 'curl is not installed' }, () => {
  it('curl -r 0-99 gets the first 100 bytes', async () => {
    const { stdout } = await run(
      'curl',
      ['-s', '-r', '0-99', `http://127.0.0.1:${port}/blob.bin`],
      {
        encoding: 'buffer',
      },
    );
    assert.ok(stdout.equals(binary.subarray(0, 100)));
  });

  it('curl -z with the mtime gets 304 (nothing), and an old date gets the file', async () => {
    const url = `http://127.0.0.1:${port}/style.css`;
    const mtime = new Date(statSync(join(root, 'style.css')).mtimeMs).toUTCString();
    const fresh = await run('curl', [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-z',
      mtime,
      url,
    ]);
    assert.equal(fresh.stdout, '304');
    const old = await run('curl', ['-s', '-z', 'Jan 1 2000', url], { encoding: 'buffer' });
    assert.ok(old.stdout.equals(readFileSync(join(root, 'style.css'))));
  });
});

describe('serveStatic with fetch', () => {
  it('fetch gets the page with its type', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/index.html`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/html/);
    assert.equal(await res.text(), readFileSync(join(root, 'index.html'), 'utf8'));
  });
});

describe('res.sendFile with a range', () => {
  it('sends offset/length bytes of a path, and refuses a range past the end with 500', async () => {
    const path = join(root, 'blob.bin');
    const { port: p } = await serve(
      router()
        .get('/part', (_req, res) => res.sendFile(path, { offset: 3, length: 70_000 }))
        .get('/past', (_req, res) => res.sendFile(path, { offset: binary.length, length: 1 })),
    );
    const r = await request(p, 'GET', '/part');
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(binary.subarray(3, 70_003)));
    assert.equal((await request(p, 'GET', '/past')).status, 500);
  });
});
