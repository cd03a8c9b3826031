import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Connection } from '../../src/index.js';
import { connect, delay, readBytes } from '../helpers.js';
import { forEachAcceptor, start } from './server-fixture.js';

forEachAcceptor('Connection.whenDrained', () => {
  it('whenDrained resolves at once when nothing is queued, and after a backed-up write once the peer reads', async () => {
    let conn: Connection | undefined;
    const { port } = await start({ onConnection: (c) => (conn = c) });
    const client = await connect(port);
    client.pause();
    for (let i = 0; i < 1000 && conn === undefined; i++) await delay(5);
    assert.ok(conn !== undefined);
    await conn.whenDrained(); // nothing written: no wait

    const big = Buffer.alloc(16 * 1024 * 1024, 7);
    conn.send(big);
    let drained = false;
    const p = conn.whenDrained().then(() => (drained = true));
    await delay(50);
    assert.equal(drained, false, 'resolved while 16 MiB were still queued for a paused reader');
    assert.ok(conn.queuedBytes > 0);
    const got = readBytes(client, big.length);
    client.resume();
    await p;
    assert.equal(conn.queuedBytes, 0);
    assert.equal((await got).length, big.length);
    client.destroy();
  });

  it('whenDrained resolves when the connection closes with output still queued', async () => {
    let conn: Connection | undefined;
    const { port } = await start({ onConnection: (c) => (conn = c) });
    const client = await connect(port);
    client.pause();
    for (let i = 0; i < 1000 && conn === undefined; i++) await delay(5);
    assert.ok(conn !== undefined);
    conn.send(Buffer.alloc(16 * 1024 * 1024));
    const p = conn.whenDrained();
    conn.forceClose();
    await p;
    client.destroy();
  });
});
