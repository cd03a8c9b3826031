import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { delay, waitFor } from '../helpers.js';
import { fullMesh, startNode, type TestNode } from './support.js';

/** Starts `n` nodes into `nodes`, node i seeded only with node i-1. */
async function chain(
  nodes: TestNode[],
  n: number,
  extra: Parameters<typeof startNode>[0] = {},
): Promise<void> {
  for (let i = 0; i < n; i++) {
    const seeds = i === 0 ? [] : [nodes[i - 1]!.addr];
    nodes.push(await startNode({ id: `n${i}`, seeds, ...extra }));
  }
}

const stopAll = (nodes: TestNode[]): Promise<unknown> =>
  Promise.all(nodes.map((t) => t.node.stop()));

/** Each node's deliveries counted by origin. */
function deliveries(t: TestNode, pick: (msg: unknown) => boolean): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [from, msg] of t.got) if (pick(msg)) counts.set(from, (counts.get(from) ?? 0) + 1);
  return counts;
}

describe('PeerNode in a full mesh', () => {
  const nodes: TestNode[] = [];
  after(() => stopAll(nodes));
  before(() => chain(nodes, 5));

  it('learns every member and links to it when each node seeds only the previous one', async () => {
    await waitFor(() => fullMesh(nodes), 20_000, 'a full mesh of 5');
    for (const t of nodes) {
      const ids = t.node.peers().map((p) => p.id);
      assert.deepEqual(
        ids,
        nodes.filter((o) => o !== t).map((o) => o.node.id),
      );
      assert.deepEqual(t.node.linkedPeers(), ids);
    }
  });

  it('delivers a broadcast to every other node exactly once when floods cross', async () => {
    await waitFor(() => fullMesh(nodes), 20_000, 'a full mesh of 5');
    const isRound = (m: unknown): boolean => (m as { round?: number }).round === 1;
    for (const t of nodes) assert.equal(t.node.broadcast({ round: 1, from: t.node.id }), 4);
    await waitFor(
      () => nodes.every((t) => deliveries(t, isRound).size === 4),
      10_000,
      'every broadcast everywhere',
    );
    await delay(300); // room for a duplicate to show up, were the de-duplication broken
    for (const t of nodes) {
      const counts = deliveries(t, isRound);
      assert.deepEqual(
        [...counts.keys()].sort(),
        nodes.filter((o) => o !== t).map((o) => o.node.id),
      );
      for (const [from, n] of counts) assert.equal(n, 1, `${t.node.id} got ${n} from ${from}`);
      assert.ok(t.node.stats().duplicates > 0, 'floods crossed and were dropped as duplicates');
    }
  });

  it('delivers a send only to the addressed node when it is linked', async () => {
    await waitFor(() => fullMesh(nodes), 20_000, 'a full mesh of 5');
    const [a, , , , e] = nodes as [TestNode, TestNode, TestNode, TestNode, TestNode];
    assert.equal(a.node.send(e.node.id, { direct: 'hi' }), true);
    await waitFor(() => e.got.some(([, m]) => (m as { direct?: string }).direct === 'hi'));
    // A flood from e reaches everyone after the direct message: none of them got the direct one.
    e.node.broadcast({ barrier: 1 });
    await waitFor(() =>
      nodes.every((t) => t === e || t.got.some(([, m]) => (m as { barrier?: number }).barrier)),
    );
    for (const t of nodes.slice(1, 4))
      assert.ok(!t.got.some(([, m]) => (m as { direct?: string }).direct === 'hi'));
  });
});

describe('PeerNode over a chain of links', () => {
  const nodes: TestNode[] = [];
  after(() => stopAll(nodes));
  before(async () => {
    await chain(nodes, 5, { dialMembers: false });
    const linked = (t: TestNode, n: number): boolean => t.node.linkedPeers().length === n;
    await waitFor(
      () => nodes.every((t, i) => linked(t, i === 0 || i === 4 ? 1 : 2)),
      20_000,
      'a chain of links',
    );
  });

  it('still learns every member by gossip when it dials only its seeds', async () => {
    await waitFor(
      () => nodes.every((t) => t.node.peers().filter((p) => p.state === 'alive').length === 4),
      20_000,
      'everyone knows everyone',
    );
    assert.deepEqual(nodes[0]!.node.linkedPeers(), ['n1']);
  });

  it('relays a broadcast across every hop exactly once', async () => {
    const pick = (m: unknown): boolean => (m as { chain?: number }).chain === 1;
    nodes[2]!.node.broadcast({ chain: 1 });
    await waitFor(() => nodes.every((t, i) => i === 2 || deliveries(t, pick).get('n2') === 1));
    await delay(200);
    for (const [i, t] of nodes.entries())
      assert.equal(deliveries(t, pick).get('n2'), i === 2 ? undefined : 1, t.node.id);
  });

  it('floods a send with a to field when the target has no link, and only the target delivers', async () => {
    const pick = (m: unknown): boolean => (m as { to4?: number }).to4 === 1;
    assert.equal(nodes[0]!.node.send('n4', { to4: 1 }), true);
    await waitFor(() => deliveries(nodes[4]!, pick).get('n0') === 1);
    for (const t of nodes.slice(1, 4)) assert.equal(deliveries(t, pick).size, 0, t.node.id);
  });

  it('stops a flood after maxHops links when the origin sets a small hop limit', async () => {
    const short = await startNode({
      id: 'short',
      seeds: [nodes[0]!.addr],
      maxHops: 2,
      dialMembers: false,
    });
    after(() => short.node.stop());
    await waitFor(() => short.node.linkedPeers().includes('n0'));
    short.node.broadcast({ hop: 1 }); // short → n0 (ttl 2) → n1 (ttl 1), no further
    const got = (t: TestNode, key: string): boolean => t.got.some(([, m]) => key in (m as object));
    await waitFor(() => got(nodes[1]!, 'hop'));
    // Messages on a link arrive in order: once n0's later broadcast reached n2, the hop-limited
    // one would have too, had n1 forwarded it.
    nodes[0]!.node.broadcast({ after: 1 });
    await waitFor(() => got(nodes[4]!, 'after'));
    assert.ok(got(nodes[0]!, 'hop'));
    for (const t of nodes.slice(2)) assert.ok(!got(t, 'hop'), `${t.node.id} got a spent flood`);
  });
});

/** Free loopback ports, found by binding port 0 and closing again. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const s = net.createServer();
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
      return s;
    }),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

describe('PeerNode links', () => {
  it('keeps exactly one link per pair when every pair dials each other at once', async () => {
    const ports = await freePorts(4);
    const nodes: TestNode[] = [];
    after(() => stopAll(nodes));
    const addrs = ports.map((p) => `127.0.0.1:${p}`);
    await Promise.all(
      ports.map(async (port, i) => {
        const seeds = addrs.filter((_, j) => j !== i);
        nodes.push(await startNode({ id: `s${i}`, port, seeds }));
      }),
    );
    await waitFor(() => fullMesh(nodes), 20_000, 'a full mesh of 4');
    await delay(500); // many heartbeats and re-dial rounds: the mesh must stay as it is
    for (const t of nodes) {
      assert.equal(t.node.stats().connections, 3, `${t.node.id} connections`);
      assert.equal(t.node.stats().links, 3, `${t.node.id} links`);
    }
  });

  it('closes a dial to itself when its own address is among its seeds', async () => {
    const [port] = await freePorts(1);
    const t = await startNode({ id: 'self', port: port!, seeds: [`127.0.0.1:${port}`] });
    after(() => t.node.stop());
    await delay(300);
    assert.equal(t.node.stats().links, 0);
    assert.deepEqual(t.node.peers(), []);
    assert.equal(t.node.stats().connections, 0);
  });
});
