// The P2P wire protocol: one JSON object per length-field frame. Every field of every message is
// validated here; anything else is bad input, which closes the link it arrived on (never throws).

/** The protocol version this build speaks; a hello with another version closes the link. */
export const PROTOCOL_VERSION = 1;

/** A JSON value: what `send` and `broadcast` carry. */
export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What one node believes about another. */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** One row of a gossiped member list. */
export interface MemberEntry {
  id: string;
  /** Where the node listens, `host:port` (`[v6]:port` for IPv6). */
  addr: string;
  /** Raised only by the node itself, to refute suspicion (and on restart). */
  inc: number;
  /** The node's heartbeat counter, raised every heartbeat interval. */
  hb: number;
  state: MemberState;
}

export interface Hello {
  type: 'hello';
  version: number;
  id: string;
  listen: string;
}
export interface Heartbeat {
  type: 'heartbeat';
  inc: number;
  hb: number;
}
export interface Gossip {
  type: 'gossip';
  members: MemberEntry[];
}
export interface Leave {
  type: 'leave';
  inc: number;
}
export interface Data {
  type: 'msg';
  /** Unique message id: de-duplicates floods. */
  mid: string;
  /** The originating node. */
  from: string;
  /** The destination node; absent for a broadcast. */
  to?: string;
  /** Hops left: a node forwards only while it is above 1. */
  ttl: number;
  body: JsonValue;
}
export type WireMessage = Hello | Heartbeat | Gossip | Leave | Data;

/** Largest member list one gossip frame may carry. */
export const MAX_MEMBERS = 4096;
const MAX_ID = 128;
const STATES: readonly string[] = ['alive', 'suspect', 'dead', 'left'];

/** A node id: 1 to 128 printable characters, no spaces or control characters. */
export function isNodeId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ID && /^[\x21-\x7e]+$/.test(v);
}

/** Splits `host:port` or `[v6]:port`; undefined when malformed. */
export function parseAddr(v: unknown): { host: string; port: number } | undefined {
  if (typeof v !== 'string' || v.length > 300) return undefined;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(v);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

/** `host:port`, bracketing IPv6 hosts. */
export function formatAddr(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseEntry(v: unknown): MemberEntry | undefined {
  if (!isObject(v)) return undefined;
  const { id, addr, inc, hb, state } = v;
  if (!isNodeId(id) || parseAddr(addr) === undefined || !isCount(inc) || !isCount(hb))
    return undefined;
  if (typeof state !== 'string' || !STATES.includes(state)) return undefined;
  return { id, addr: addr as string, inc, hb, state: state as MemberState };
}

/**
 * Validates one decoded JSON value. Returns the message, or a string saying what is wrong.
 * A hello is checked for shape only; the caller checks its version.
 */
export function parseMessage(v: unknown): WireMessage | string {
  if (!isObject(v)) return 'not an object';
  switch (v['type']) {
    case 'hello': {
      const { version, id, listen } = v;
      if (!Number.isSafeInteger(version)) return 'hello.version is not an integer';
      if (!isNodeId(id)) return 'hello.id is not a node id';
      if (parseAddr(listen) === undefined) return 'hello.listen is not host:port';
      return { type: 'hello', version: version as number, id, listen: listen as string };
    }
    case 'heartbeat':
      if (!isCount(v['inc']) || !isCount(v['hb'])) return 'heartbeat.inc/hb are not counts';
      return { type: 'heartbeat', inc: v['inc'], hb: v['hb'] };
    case 'leave':
      if (!isCount(v['inc'])) return 'leave.inc is not a count';
      return { type: 'leave', inc: v['inc'] };
    case 'gossip': {
      const list = v['members'];
      if (!Array.isArray(list) || list.length > MAX_MEMBERS) return 'gossip.members is not a list';
      const members: MemberEntry[] = [];
      for (const raw of list) {
        const e = parseEntry(raw);
        if (e === undefined) return 'gossip.members has a malformed entry';
        members.push(e);
      }
      return { type: 'gossip', members };
    }
    case 'msg': {
      const { mid, from, to, ttl } = v;
      if (typeof mid !== 'string' || mid.length === 0 || mid.length > MAX_ID)
        return 'msg.mid is not an id';
      if (!isNodeId(from)) return 'msg.from is not a node id';
      if (to !== undefined && !isNodeId(to)) return 'msg.to is not a node id';
      if (!Number.isSafeInteger(ttl) || (ttl as number) < 1 || (ttl as number) > 255)
        return 'msg.ttl is not in [1, 255]';
      if (!('body' in v)) return 'msg.body is missing';
      const msg: Data = {
        type: 'msg',
        mid,
        from,
        ttl: ttl as number,
        body: v['body'] as JsonValue,
      };
      if (to !== undefined) msg.to = to;
      return msg;
    }
    default:
      return 'unknown type';
  }
}
