// `polyloop serve` as a user runs it: a child process on port 0, its first line, /healthz, a
// file, and a graceful SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CLI } from '../helpers.js';

interface Served {
  port: number;
  stdout(): string;
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

/** Starts `polyloop serve ...args`; resolves once the first line is complete. */
function startServe(args: string[]): Promise<Served> {
  const proc = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: 'pipe' });
  after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error(`no first line in 15 s; ${err}`)), 15_000);
    proc.once('exit', (code) => {
      clearTimeout(guard);
      reject(new Error(`exited with ${code} before listening; stderr: ${err}`));
    });
    proc.stdout.on('data', (d: Buffer) => {
      const first = !out.includes('\n');
      out += d.toString();
      if (!first || !out.includes('\n')) return;
      clearTimeout(guard);
      const m = /^listening on http:\/\/127\.0\.0\.1:(\d+)\n/.exec(out);
      if (m === null) {
        reject(new Error(`unexpected first line: ${JSON.stringify(out)}`));
        return;
      }
      resolve({
        port: Number(m[1]),
        stdout: () => out,
        stop(signal) {
          proc.kill(signal);
          return exited;
        },
      });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'pl-serve-'));
writeFileSync(join(dir, 'index.html'), '<h1>hi</h1>\n');
after(() => rmSync(dir, { recursive: true, force: true }));

describe('polyloop serve', () => {
  it('prints listening on http://HOST:PORT first, answers /healthz and files, exits 0 on SIGTERM', async () => {
    const s = await startServe([dir, '--port', '0']);
    assert.ok(s.port > 0);
    const health = await fetch(`http://127.0.0.1:${s.port}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok');
    const page = await fetch(`http://127.0.0.1:${s.port}/`);
    assert.equal(page.status, 200);
    assert.equal(await page.text(), '<h1>hi</h1>\n');
    assert.equal((await fetch(`http://127.0.0.1:${s.port}/missing`)).status, 404);
    assert.equal(await s.stop('SIGTERM'), 0);
    const lines = s.stdout().split('\n');
    assert.match(lines[1]!, new RegExp(`^serving ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    // Defaults: one loop per core, half-sync when there is more than one.
    assert.match(lines[2]!, /^model: (reactor, 1 loop|half-sync, \d+ thread loops)$/);
    assert.match(lines[3]!, /^doctor: (nothing limits a server here|\d+ setting\(s\) limit)/);
  });

  it('exits 0 on SIGINT', async () => {
    const s = await startServe([dir, '--port', '0']);
    assert.equal(await s.stop('SIGINT'), 0);
  });

  it('refuses a directory that does not exist with exit code 2', async () => {
    const proc = spawn(process.execPath, [CLI, 'serve', join(dir, 'nope'), '--port', '0']);
    let err = '';
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    assert.equal(code, 2);
    assert.match(err, /not a directory/);
  });
});
