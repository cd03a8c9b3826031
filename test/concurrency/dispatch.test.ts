import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressHash, createDispatcher } from '../../src/concurrency/dispatch.js';
import { LineClient, loopOf, startServer } from './support.js';

const all = [true, true, true];

describe('dispatch policies', () => {
  it('round-robin cycles over live loops and skips dead ones', () => {
    const d = createDispatcher('round-robin');
    assert.deepEqual(
      [0, 1, 2, 3].map(() => d.pick('', all, () => 0)),
      [0, 1, 2, 0],
    );
    const alive = [true, false, true];
    assert.deepEqual(
      [0, 1, 2].map(() => d.pick('', alive, () => 0)),
      [2, 0, 2],
    );
    assert.equal(
      d.pick('', [false, false], () => 0),
      -1,
    );
  });

  it('least-connections picks the least loaded live loop', () => {
    const d = createDispatcher('least-connections');
    const load = [5, 2, 7];
    assert.equal(
      d.pick('', all, (id) => load[id]!),
      1,
    );
    assert.equal(
      d.pick('', [true, false, true], (id) => load[id]!),
      0,
    );
  });

  it('ip-hash keeps one address on one loop, ignoring the port', () => {
    const d = createDispatcher('ip-hash');
    const a = d.pick('10.1.2.3:4000', all, () => 0);
    for (let port = 1; port < 50; port++)
      assert.equal(
        d.pick(`10.1.2.3:${port}`, all, () => 0),
        a,
      );
    assert.equal(addressHash('[::1]:80'), addressHash('[::1]:9999'));
    // Addresses spread over the loops.
    const used = new Set<number>();
    for (let i = 0; i < 64; i++) used.add(d.pick(`10.0.0.${i}:1`, all, () => 0));
    assert.equal(used.size, 3);
    // A dead loop's clients go to the next live one while it is down.
    const alive = [true, true, true];
    alive[a] = false;
    assert.equal(
      d.pick('10.1.2.3:1', alive, () => 0),
      (a + 1) % 3,
    );
  });
});

describe('half-sync dispatch over real connections', { timeout: 60_000 }, () => {
  it('round-robin balances connections exactly', async () => {
    const server = await startServer({ model: 'half-sync', dispatch: 'round-robin' });
    const counts = [0, 0];
    for (let i = 0; i < 20; i++) {
      const c = await LineClient.connect(server.address.port);
      counts[await loopOf(c)]!++;
      c.close();
    }
    assert.deepEqual(counts, [10, 10]);
  });

  it('least-connections sends new connections to the loop with fewer open ones', async () => {
    const server = await startServer({ model: 'half-sync', dispatch: 'least-connections' });
    const held: LineClient[] = [];
    const counts = [0, 0];
    for (let i = 0; i < 10; i++) {
      const c = await LineClient.connect(server.address.port);
      counts[await loopOf(c)]!++;
      held.push(c);
    }
    assert.deepEqual(counts, [5, 5]);
    for (const c of held) c.close();
  });

  it('ip-hash keeps each client address on one loop', async () => {
    const server = await startServer({ model: 'half-sync', dispatch: 'ip-hash' });
    const seen = new Map<string, Set<number>>();
    for (const addr of ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']) {
      const loops = new Set<number>();
      for (let i = 0; i < 4; i++) {
        const c = await LineClient.connect(server.address.port, { localAddress: addr });
        loops.add(await loopOf(c));
        c.close();
      }
      seen.set(addr, loops);
    }
    for (const [addr, loops] of seen)
      assert.equal(loops.size, 1, `${addr} reached ${[...loops].join(',')}`);
  });
});
