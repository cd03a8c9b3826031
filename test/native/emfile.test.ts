import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type net from 'node:net';
import { describe, it } from 'node:test';
import { connect, delay, waitFor } from '../helpers.js';
import { cleanups, lines, sibling, skip } from './support.js';

function hasPrlimit(): boolean {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Stats {
  accepted: number;
  shed: number;
  errors: number;
  lastError: string | null;
  held: number;
}

describe('native acceptor out of file descriptors', { skip, timeout: 60_000 }, () => {
  it('sheds connections on EMFILE, counts them, and accepts again once fds are free', async (t) => {
    if (!hasPrlimit()) return t.skip('prlimit (util-linux) is not installed');
    const defer = cleanups(t);
    // 64 fds: Node needs a few dozen itself, so 100 held connections are sure to exhaust them.
    const child = spawn(
      'prlimit',
      ['--nofile=64:64', process.execPath, sibling('emfile-child.js')],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    defer(() => child.kill('SIGKILL'));
    const next = lines(child.stdout);
    const first = await next();
    assert.match(first, /^port \d+$/);
    const port = Number(first.split(' ')[1]);
    const stats = async (): Promise<Stats> => {
      child.stdin.write('stats\n');
      return JSON.parse(await next()) as Stats;
    };

    const clients: net.Socket[] = [];
    defer(() => clients.forEach((c) => c.destroy()));
    let dropped = 0;
    for (let i = 0; i < 100; i++) {
      const c = await connect(port); // the kernel completes the handshake either way
      c.on('error', () => {});
      c.on('close', () => dropped++);
      clients.push(c);
    }
    // Every connection ends up either accepted (and held) or shed.
    let s = await stats();
    for (let i = 0; s.accepted + s.shed < 100 && i < 500; i++) {
      await delay(20);
      s = await stats();
    }
    assert.equal(s.accepted + s.shed, 100, JSON.stringify(s));
    assert.ok(s.shed > 0, 'nothing was shed: the fd limit was not reached');
    assert.ok(s.accepted > 0, 'nothing was accepted');
    assert.equal(s.held, s.accepted);
    assert.equal(s.lastError, 'EMFILE');
    // A shed connection is closed at once, not left waiting in the backlog.
    await waitFor(() => dropped === s.shed, 10_000, 'the shed clients to see their close');

    child.stdin.write('release\n');
    assert.equal(await next(), 'released');
    clients.forEach((c) => c.destroy());
    const again = await connect(port);
    defer(() => again.destroy());
    let after = await stats();
    for (let i = 0; after.accepted === s.accepted && i < 500; i++) {
      await delay(20);
      after = await stats();
    }
    assert.equal(after.accepted, s.accepted + 1, 'the acceptor did not accept again');
    assert.equal(after.shed, s.shed);
    assert.equal(child.exitCode, null, 'the child died');
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.stdin.write('exit\n');
    assert.equal(await exited, 0);
  });
});
