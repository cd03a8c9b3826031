import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Membership } from '../../src/p2p/membership.js';
import type { MemberEntry } from '../../src/p2p/wire.js';

function table(): { m: Membership; clock: { t: number }; events: string[] } {
  const clock = { t: 1000 };
  const events: string[] = [];
  const m = new Membership(
    'me',
    '127.0.0.1:1',
    { suspectTimeout: 100, deadTimeout: 100, removeTimeout: 100 },
    { up: (id) => events.push(`up ${id}`), down: (id) => events.push(`down ${id}`) },
    () => clock.t,
  );
  return { m, clock, events };
}

const entry = (o: Partial<MemberEntry> = {}): MemberEntry => ({
  id: 'x',
  addr: '127.0.0.1:2',
  inc: 5,
  hb: 1,
  state: 'alive',
  ...o,
});

describe('Membership', () => {
  it('moves a silent member from alive to suspect to dead to forgotten as the timeouts pass', () => {
    const { m, clock, events } = table();
    assert.equal(m.merge(entry()), true);
    const states: (string | undefined)[] = [];
    for (let i = 0; i < 4; i++) {
      clock.t += 101;
      m.sweep();
      states.push(m.get('x')?.state);
    }
    assert.deepEqual(states, ['suspect', 'dead', undefined, undefined]);
    assert.deepEqual(events, ['up x', 'down x']);
  });

  it('keeps a member alive while its heartbeat rises', () => {
    const { m, clock } = table();
    m.merge(entry());
    for (let hb = 2; hb < 10; hb++) {
      clock.t += 60;
      m.merge(entry({ hb }));
      m.sweep();
    }
    assert.equal(m.get('x')?.state, 'alive');
  });

  it('raises its own incarnation when it hears itself suspected', () => {
    const { m } = table();
    const inc = m.inc;
    m.merge(entry({ id: 'me', inc, state: 'suspect' }));
    assert.equal(m.inc, inc + 1);
    assert.equal(m.selfEntry().state, 'alive');
  });

  it('lets a higher incarnation override suspicion and death, and not a lower one', () => {
    const { m, events } = table();
    m.merge(entry());
    m.merge(entry({ state: 'dead' }));
    assert.equal(m.get('x')?.state, 'dead');
    m.merge(entry({ inc: 4, state: 'alive', hb: 99 }));
    assert.equal(m.get('x')?.state, 'dead');
    m.merge(entry({ inc: 6, state: 'alive' }));
    assert.equal(m.get('x')?.state, 'alive');
    assert.deepEqual(events, ['up x', 'down x', 'up x']);
  });

  it('does not resurrect a forgotten member from stale gossip, but does from a newer life', () => {
    const { m, clock } = table();
    m.merge(entry());
    m.leave('x', 5);
    clock.t += 101;
    m.sweep();
    assert.equal(m.get('x'), undefined);
    assert.equal(m.merge(entry()), false);
    assert.equal(m.merge(entry({ inc: 7 })), true);
  });

  it('never learns a member from a dead or left entry', () => {
    const { m } = table();
    assert.equal(m.merge(entry({ state: 'dead' })), false);
    assert.equal(m.merge(entry({ state: 'left' })), false);
    assert.deepEqual(m.ids(), []);
  });
});
