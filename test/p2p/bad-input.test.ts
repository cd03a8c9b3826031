import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { closed, connect, readBytes, waitFor } from '../helpers.js';
import { startNode, type TestNode } from './support.js';

function frame(value: unknown): Buffer {
  const body = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

async function readFrame(socket: net.Socket): Promise<unknown> {
  const n = (await readBytes(socket, 4)).readUInt32BE(0);
  return JSON.parse((await readBytes(socket, n)).toString()) as unknown;
}

const HELLO = { type: 'hello', version: 1, id: 'intruder', listen: '127.0.0.1:1' };

describe('PeerNode fed bad input', () => {
  const nodes: TestNode[] = [];
  const sockets: net.Socket[] = [];
  after(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(nodes.map((t) => t.node.stop()));
  });
  let a: TestNode;
  let b: TestNode;
  before(async () => {
    a = await startNode({ id: 'a' });
    nodes.push(a);
    b = await startNode({ id: 'b', seeds: [a.addr] });
    nodes.push(b);
    await waitFor(() => a.node.linkedPeers().includes('b'), 20_000, 'a linked to b');
  });

  /** Connects to `a`, writes `bytes`, and resolves once `a` has closed the connection. */
  async function feed(...chunks: Buffer[]): Promise<net.Socket> {
    const [host, port] = a.addr.split(':') as [string, string];
    const s = await connect(Number(port), host);
    sockets.push(s);
    s.on('error', () => undefined);
    s.resume(); // read (and drop) a's hello, so that its FIN is seen
    for (const c of chunks) s.write(c);
    await closed(s);
    return s;
  }

  it('sends a version 1 hello first on every new connection', async () => {
    const [host, port] = a.addr.split(':') as [string, string];
    const s = await connect(Number(port), host);
    sockets.push(s);
    assert.deepEqual(await readFrame(s), { type: 'hello', version: 1, id: 'a', listen: a.addr });
    s.destroy();
  });

  it('closes only the offending link when it gets random bytes', async () => {
    // Random bytes either announce an oversize frame, fail to parse, or stall the handshake:
    // each closes the link.
    for (let i = 0; i < 3; i++) await feed(randomBytes(64));
    const errors = a.node.stats().errors;
    const counted =
      (errors['PL_ERR_PEER_HANDSHAKE'] ?? 0) + (errors['PL_ERR_FRAME_TOO_LARGE'] ?? 0);
    assert.ok(counted >= 3, JSON.stringify(errors));
  });

  it('closes the link when the handshake has the wrong version or is not a hello', async () => {
    const before = a.node.stats().errors['PL_ERR_PEER_HANDSHAKE'] ?? 0;
    await feed(frame({ ...HELLO, version: 2 }));
    await feed(frame({ type: 'heartbeat', inc: 1, hb: 1 }));
    await feed(frame({ type: 'hello', version: 1, id: 'has space', listen: 'x:1' }));
    await feed(frame('{"type":"hello",'));
    assert.equal(a.node.stats().errors['PL_ERR_PEER_HANDSHAKE'], before + 4);
  });

  it('closes the link when a frame announces more than maxFrame bytes', async () => {
    const before = a.node.stats().errors['PL_ERR_FRAME_TOO_LARGE'] ?? 0;
    await feed(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    assert.equal(a.node.stats().errors['PL_ERR_FRAME_TOO_LARGE'], before + 1);
  });

  it('closes the link when a handshaken peer sends a malformed message', async () => {
    const before = a.node.stats().errors['PL_ERR_PEER_MESSAGE'] ?? 0;
    await feed(frame(HELLO), frame({ type: 'gossip', members: [{ id: 'x' }] }));
    await feed(frame(HELLO), frame({ type: 'msg', mid: 'm', from: 'intruder', ttl: 0, body: 1 }));
    await feed(frame(HELLO), frame({ type: 'nope' }));
    await feed(frame(HELLO), frame(HELLO));
    assert.equal(a.node.stats().errors['PL_ERR_PEER_MESSAGE'], before + 4);
  });

  it('keeps serving its other peers after all that', async () => {
    assert.deepEqual(a.node.linkedPeers(), ['b']);
    b.node.broadcast({ still: 'here' });
    a.node.broadcast({ me: 'too' });
    await waitFor(() => a.got.some(([from]) => from === 'b'), 10_000, 'a hears b');
    await waitFor(() => b.got.some(([from]) => from === 'a'), 10_000, 'b hears a');
    assert.equal(a.node.peers().find((p) => p.id === 'b')?.state, 'alive');
  });
});
