import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startCli, waitFor, type RunningCli } from '../helpers.js';

describe('polyloop p2p', () => {
  it('exchanges a typed line between two nodes over real processes, and leaves on stdin EOF', async () => {
    const procs: RunningCli[] = [];
    after(() => Promise.all(procs.map((p) => p.stop('SIGKILL'))));
    const alice = await startCli(['p2p', '--port', '0', '--id', 'alice']);
    procs.push(alice);
    assert.match(alice.stdout(), /^listening on 127\.0\.0\.1:\d+\n/);
    const bob = await startCli([
      'p2p',
      '--port',
      '0',
      '--id',
      'bob',
      '--peers',
      `${alice.host}:${alice.port}`,
    ]);
    procs.push(bob);
    await waitFor(() => bob.stdout().includes('* alice joined\n'), 15_000, 'bob sees alice');
    await waitFor(() => alice.stdout().includes('* bob joined\n'), 15_000, 'alice sees bob');

    bob.proc.stdin.write('hello from bob\n');
    await waitFor(() => alice.stdout().includes('<bob> hello from bob\n'), 15_000, 'the line');
    alice.proc.stdin.write('/peers\n');
    await waitFor(() => /\* {3}bob 127\.0\.0\.1:\d+ alive linked\n/.test(alice.stdout()));

    bob.proc.stdin.end(); // EOF: bob leaves gracefully
    await waitFor(() => bob.proc.exitCode !== null, 15_000, 'bob to exit by itself');
    assert.equal(bob.proc.exitCode, 0);
    await waitFor(() => alice.stdout().includes('* bob left\n'), 15_000, 'alice sees bob leave');
    assert.equal(await alice.stop('SIGTERM'), 0);
    assert.ok(!bob.stdout().includes('<bob>'), 'a node does not deliver its own broadcast');
  });
});
