import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeenCache } from '../../src/p2p/seen-cache.js';
import { parseAddr, parseMessage } from '../../src/p2p/wire.js';

describe('parseMessage', () => {
  it('accepts every well-formed message type', () => {
    const ok = [
      { type: 'hello', version: 1, id: 'a', listen: '127.0.0.1:9000' },
      { type: 'heartbeat', inc: 1, hb: 2 },
      { type: 'leave', inc: 3 },
      { type: 'gossip', members: [{ id: 'b', addr: '[::1]:1', inc: 0, hb: 0, state: 'dead' }] },
      { type: 'msg', mid: 'm1', from: 'a', ttl: 3, body: { text: 'hi' } },
      { type: 'msg', mid: 'm2', from: 'a', to: 'b', ttl: 1, body: null },
    ];
    for (const v of ok) assert.deepEqual(parseMessage(v), v);
  });

  it('returns a reason when a field is missing, mistyped or out of range', () => {
    const bad: unknown[] = [
      null,
      [],
      'hello',
      { type: 'hello', version: '1', id: 'a', listen: 'h:1' },
      { type: 'hello', version: 1, id: '', listen: 'h:1' },
      { type: 'hello', version: 1, id: 'a', listen: 'h:0' },
      { type: 'hello', version: 1, id: 'a', listen: 'h' },
      { type: 'heartbeat', inc: -1, hb: 0 },
      { type: 'heartbeat', inc: 1.5, hb: 0 },
      { type: 'leave' },
      { type: 'gossip', members: {} },
      { type: 'gossip', members: [{ id: 'b', addr: 'h:1', inc: 0, hb: 0, state: 'zombie' }] },
      { type: 'msg', mid: 'm', from: 'a', ttl: 256, body: 1 },
      { type: 'msg', mid: 'm', from: 'a', ttl: 1 },
      { type: 'msg', mid: 'm', from: 'a', to: 7, ttl: 1, body: 1 },
      { type: 'other' },
    ];
    for (const v of bad) assert.equal(typeof parseMessage(v), 'string', JSON.stringify(v));
  });

  it('parses IPv4, IPv6 and named addresses and refuses malformed ones', () => {
    assert.deepEqual(parseAddr('[::1]:80'), { host: '::1', port: 80 });
    assert.deepEqual(parseAddr('example.org:443'), { host: 'example.org', port: 443 });
    for (const a of ['::1:80', 'h:65536', ':80', 'h:', 'h 1:2'])
      assert.equal(parseAddr(a), undefined);
  });
});

describe('SeenCache', () => {
  it('reports a repeated id until it expires', () => {
    const clock = { t: 0 };
    const seen = new SeenCache(100, 50, () => clock.t);
    assert.equal(seen.add('a'), true);
    assert.equal(seen.add('a'), false);
    clock.t = 51;
    assert.equal(seen.has('a'), false);
    assert.equal(seen.add('a'), true);
  });

  it('forgets the oldest ids when it is full', () => {
    const seen = new SeenCache(3, 1000);
    for (const id of ['a', 'b', 'c', 'd']) seen.add(id);
    assert.equal(seen.size, 3);
    assert.equal(seen.has('a'), false);
    assert.equal(seen.has('d'), true);
  });
});
