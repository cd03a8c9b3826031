import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type net from 'node:net';
import { after, describe, it } from 'node:test';
import { nativeStatus } from '../../native/index.js';
import { connect, delay, readBytes, startCli, waitFor } from '../helpers.js';

function hasPrlimit(): boolean {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const acceptors = nativeStatus().available ? (['native', 'node'] as const) : (['node'] as const);

describe('fd exhaustion', () => {
  for (const acceptor of acceptors) {
    it(`a server out of file descriptors sheds connections and serves again once they go (${acceptor} acceptor)`, async (t) => {
      if (!hasPrlimit()) return t.skip('prlimit (util-linux) is not installed');
      // 64 fds: Node itself needs a few dozen, so a hundred clients are sure to exhaust them.
      const srv = await startCli(
        ['echo', '--port', '0', '--acceptor', acceptor],
        ['prlimit', '--nofile=64:64'],
      );
      after(() => srv.stop('SIGKILL'));
      const clients: net.Socket[] = [];
      let dropped = 0;
      for (let i = 0; i < 100; i++) {
        const s = await connect(srv.port); // the kernel completes the handshake either way
        s.on('error', () => {});
        s.on('close', () => dropped++);
        clients.push(s);
      }
      // Those the server could not take are closed by it; the rest stay open.
      await waitFor(() => dropped > 0, 10_000, 'the server to shed connections');
      await delay(200);
      assert.ok(dropped < 100, 'the server accepted none at all');
      assert.equal(srv.proc.exitCode, null, 'the server died');
      for (const s of clients) s.destroy();
      await delay(200);
      // The server still accepts and serves.
      const again = await connect(srv.port);
      again.write('still alive');
      assert.equal((await readBytes(again, 11)).toString(), 'still alive');
      again.destroy();
      assert.equal(await srv.stop(), 0);
      if (acceptor === 'native') {
        // The native acceptor counts what it shed, and the server logs it.
        const line = srv
          .stderr()
          .split('\n')
          .find((l) => l.includes('out of file descriptors'));
        assert.ok(line !== undefined, `no shed warning in stderr: ${srv.stderr()}`);
        const logged = JSON.parse(line) as { shed: number; total: number };
        assert.ok(logged.total > 0);
      }
    });
  }
});
