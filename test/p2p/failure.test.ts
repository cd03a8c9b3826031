import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { waitFor } from '../helpers.js';
import { kill, startChild, startNode, type ChildNode, type TestNode } from './support.js';

const stateOf = (t: TestNode, id: string): string | undefined =>
  t.node.peers().find((p) => p.id === id)?.state;

describe('PeerNode failure detection', () => {
  it('marks a killed node dead everywhere, then alive again when it restarts with its id and port', async () => {
    const nodes: TestNode[] = [];
    const children: ChildNode[] = [];
    after(async () => {
      await Promise.all(children.map(kill));
      await Promise.all(nodes.map((t) => t.node.stop()));
    });
    for (let i = 0; i < 3; i++) {
      nodes.push(await startNode({ id: `f${i}`, seeds: i === 0 ? [] : [nodes[0]!.addr] }));
    }
    const first = await startChild({ id: 'victim', seeds: [nodes[2]!.addr] });
    children.push(first);
    const up = (t: TestNode): boolean =>
      t.node.peers().some((p) => p.id === 'victim' && p.state === 'alive' && p.linked);
    await waitFor(() => nodes.every(up), 20_000, 'everyone linked to the victim');

    await kill(first);
    const gone = (t: TestNode): boolean => ['dead', undefined].includes(stateOf(t, 'victim'));
    await waitFor(() => nodes.every(gone), 20_000, 'everyone declares the victim dead');
    for (const t of nodes) assert.deepEqual(t.downs, ['victim'], `${t.node.id} onPeerDown`);
    for (const t of nodes)
      assert.equal(stateOf(t, 'f0') ?? 'self', t === nodes[0] ? 'self' : 'alive');

    const port = Number(first.addr.split(':')[1]);
    children.push(await startChild({ id: 'victim', port, seeds: [nodes[1]!.addr] }));
    await waitFor(() => nodes.every(up), 20_000, 'everyone sees the victim back');
    for (const t of nodes) {
      assert.deepEqual(
        t.ups.filter((id) => id === 'victim'),
        ['victim', 'victim'],
      );
    }
  });

  it('marks a node left everywhere when it stops gracefully', async () => {
    const nodes: TestNode[] = [];
    after(() => Promise.all(nodes.map((t) => t.node.stop())));
    for (let i = 0; i < 3; i++) {
      nodes.push(await startNode({ id: `g${i}`, seeds: i === 0 ? [] : [nodes[i - 1]!.addr] }));
    }
    await waitFor(() => nodes.every((t) => t.node.linkedPeers().length === 2), 20_000, 'mesh');
    await nodes[1]!.node.stop();
    const others = [nodes[0]!, nodes[2]!];
    await waitFor(() => others.every((t) => stateOf(t, 'g1') === 'left'), 20_000, 'left');
    for (const t of others) assert.deepEqual(t.downs, ['g1']);
    await waitFor(() => nodes[0]!.node.linkedPeers().join() === 'g2', 10_000, 'link to g1 gone');
    await waitFor(() => nodes[0]!.node.stats().connections === 1, 10_000, 'no re-dial of g1');
  });

  it('marks a node dead when it stops without announcing its leave', async () => {
    const nodes: TestNode[] = [];
    after(() => Promise.all(nodes.map((t) => t.node.stop())));
    for (let i = 0; i < 3; i++) {
      nodes.push(await startNode({ id: `h${i}`, seeds: i === 0 ? [] : [nodes[i - 1]!.addr] }));
    }
    await waitFor(() => nodes.every((t) => t.node.linkedPeers().length === 2), 20_000, 'mesh');
    await nodes[2]!.node.stop({ leave: false });
    const others = nodes.slice(0, 2);
    // Suspect first (heartbeats stop), then dead once the suspicion times out.
    await waitFor(() => others.every((t) => stateOf(t, 'h2') === 'dead'), 20_000, 'dead');
    for (const t of others) assert.deepEqual(t.downs, ['h2']);
    assert.equal(stateOf(nodes[0]!, 'h1'), 'alive');
  });
});
