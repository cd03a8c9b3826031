import type { MemberEntry, MemberState } from './wire.js';

/** Failure-detector timings, in ms. */
export interface MembershipTimings {
  /** An alive member whose heartbeat has not risen for this long becomes suspect. */
  suspectTimeout: number;
  /** A suspect member that refutes nothing for this long becomes dead. */
  deadTimeout: number;
  /** A dead or left member is forgotten after this long (and its tombstone kept as long). */
  removeTimeout: number;
}

/** A member as `PeerNode.peers()` reports it. */
export interface PeerInfo {
  id: string;
  addr: string;
  state: MemberState;
  incarnation: number;
  heartbeat: number;
  /** A handshaken connection to it is open. */
  linked: boolean;
}

interface Member extends MemberEntry {
  /** When `state` last changed (local clock). */
  since: number;
  /** When its (incarnation, heartbeat) last rose (local clock). */
  lastHeard: number;
}

/** Precedence of states at one incarnation: a later state overrides an earlier one (SWIM). */
const RANK: Record<MemberState, number> = { alive: 0, suspect: 1, dead: 2, left: 3 };
const isDown = (s: MemberState): boolean => s === 'dead' || s === 'left';

/**
 * The member table of one node, SWIM-style: alive → suspect → dead (or left) → forgotten.
 * Only a node raises its own incarnation, which overrides any state others gossip about it:
 * that is how it refutes suspicion, and how a restarted node (whose incarnation starts at the
 * clock) overrides its own death. Use from the node's loop only.
 */
export class Membership {
  /** This node's incarnation: starts at the clock so that a restart outranks the old life. */
  inc: number;
  hb = 0;
  private readonly members = new Map<string, Member>();
  private readonly tombstones = new Map<string, { inc: number; hb: number; until: number }>();

  constructor(
    readonly selfId: string,
    readonly selfAddr: string,
    private readonly timings: MembershipTimings,
    private readonly events: { up(id: string): void; down(id: string): void },
    private readonly now: () => number = Date.now,
  ) {
    this.inc = now();
  }

  get(id: string): Readonly<MemberEntry> | undefined {
    return this.members.get(id);
  }

  ids(): string[] {
    return [...this.members.keys()];
  }

  /** This node's own row, as gossiped. */
  selfEntry(): MemberEntry {
    return { id: this.selfId, addr: this.selfAddr, inc: this.inc, hb: this.hb, state: 'alive' };
  }

  /** Every row to gossip: this node, then every member not yet forgotten. */
  entries(): MemberEntry[] {
    const out = [this.selfEntry()];
    for (const m of this.members.values()) {
      out.push({ id: m.id, addr: m.addr, inc: m.inc, hb: m.hb, state: m.state });
    }
    return out;
  }

  list(linked: (id: string) => boolean): PeerInfo[] {
    return [...this.members.values()]
      .map((m) => ({
        id: m.id,
        addr: m.addr,
        state: m.state,
        incarnation: m.inc,
        heartbeat: m.hb,
        linked: linked(m.id),
      }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Folds in one row heard from anyone (a heartbeat is a row the node sent about itself).
   * Returns true when the row named a member this node did not know.
   */
  merge(e: MemberEntry): boolean {
    if (e.id === this.selfId) {
      // Someone thinks this node is suspect, dead or gone, or an older life outranks it: refute.
      if ((e.state !== 'alive' && e.inc >= this.inc) || e.inc > this.inc) this.inc = e.inc + 1;
      return false;
    }
    const t = this.now();
    const m = this.members.get(e.id);
    if (m === undefined) {
      if (isDown(e.state)) return false;
      const tomb = this.tombstones.get(e.id);
      if (tomb !== undefined && tomb.until > t && !newer(e, tomb)) return false;
      this.tombstones.delete(e.id);
      this.members.set(e.id, { ...e, since: t, lastHeard: t });
      this.events.up(e.id);
      return true;
    }
    if (e.inc > m.inc) {
      m.inc = e.inc;
      m.hb = e.hb;
      m.addr = e.addr;
      m.lastHeard = t;
      this.setState(m, e.state);
    } else if (e.inc === m.inc) {
      if (e.hb > m.hb) {
        m.hb = e.hb;
        m.lastHeard = t;
      }
      if (RANK[e.state] > RANK[m.state]) this.setState(m, e.state);
    }
    return false;
  }

  /** The member announced a graceful leave. */
  leave(id: string, inc: number): void {
    const m = this.members.get(id);
    if (m === undefined || inc < m.inc) return;
    m.inc = inc;
    this.setState(m, 'left');
  }

  /** Runs the failure detector: call it periodically. */
  sweep(): void {
    const t = this.now();
    const { suspectTimeout, deadTimeout, removeTimeout } = this.timings;
    for (const m of this.members.values()) {
      if (m.state === 'alive' && t - m.lastHeard > suspectTimeout) this.setState(m, 'suspect');
      else if (m.state === 'suspect' && t - m.since > deadTimeout) this.setState(m, 'dead');
      else if (isDown(m.state) && t - m.since > removeTimeout) {
        this.members.delete(m.id);
        this.tombstones.set(m.id, { inc: m.inc, hb: m.hb, until: t + removeTimeout });
      }
    }
    for (const [id, tomb] of this.tombstones) if (tomb.until <= t) this.tombstones.delete(id);
  }

  private setState(m: Member, state: MemberState): void {
    if (m.state === state) return;
    const wasDown = isDown(m.state);
    m.state = state;
    m.since = this.now();
    if (state === 'alive') m.lastHeard = m.since;
    if (wasDown && !isDown(state)) this.events.up(m.id);
    else if (!wasDown && isDown(state)) this.events.down(m.id);
  }
}

function newer(e: { inc: number; hb: number }, than: { inc: number; hb: number }): boolean {
  return e.inc > than.inc || (e.inc === than.inc && e.hb > than.hb);
}
