import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nativeStatus } from '../../native/index.js';
import { connect } from '../helpers.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/file-server.js', import.meta.url));

function hasStrace(): boolean {
  return spawnSync('strace', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** Sums the results of `call` lines on `path` in an `strace -y` log. */
function bytesVia(log: string, call: string, path: string): number {
  let total = 0;
  for (const line of log.split('\n')) {
    if (!line.includes(`${call}(`) || !line.includes(`<${path}>`)) continue;
    const m = /= (\d+)$/.exec(line.trim());
    if (m !== null) total += Number(m[1]);
  }
  return total;
}

describe('sendFile under strace', () => {
  it('moves the file with sendfile(2) and never read()s it', async (t) => {
    if (!hasStrace()) return t.skip('strace is not installed');
    if (!nativeStatus().available) return t.skip('the native addon is not built');
    const dir = mkdtempSync(join(tmpdir(), 'polyloop-strace-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'payload.bin');
    const data = randomBytes(4 * 1024 * 1024);
    writeFileSync(file, data);
    const log = join(dir, 'trace.txt');
    const proc = spawn(
      'strace',
      [
        '-f',
        '-y',
        '-e',
        'trace=sendfile,read,pread64,readv,preadv',
        '-o',
        log,
        process.execPath,
        FIXTURE,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    after(() => proc.kill('SIGKILL'));
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
        if (m !== null) resolve(Number(m[1]));
      });
      proc.once('exit', (code) => reject(new Error(`fixture exited with ${code}`)));
    });
    const s = await connect(port);
    const got = new Promise<Buffer>((resolve) => {
      const parts: Buffer[] = [];
      s.on('data', (d: Buffer) => parts.push(d));
      s.once('end', () => resolve(Buffer.concat(parts)));
    });
    s.write(`${file}\n`);
    assert.ok((await got).equals(data));
    const exited = new Promise((r) => proc.once('exit', r));
    (await connect(port)).end('exit\n');
    await exited;
    const trace = readFileSync(log, 'utf8');
    assert.equal(bytesVia(trace, 'sendfile', file), data.length, 'bytes through sendfile');
    for (const call of ['read', 'pread64', 'readv', 'preadv']) {
      assert.equal(bytesVia(trace, call, file), 0, `bytes through ${call}`);
    }
  });
});
