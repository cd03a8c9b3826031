import { randomUUID } from 'node:crypto';
import { invalidArg } from '../errors.js';
import type { BackoffOptions } from '../io/tcp-client.js';
import type { Logger } from '../log.js';
import { isNodeId, parseAddr, type JsonValue } from './wire.js';

/** Options of a `PeerNode`. Every timing is in ms; the defaults suit a LAN of tens of nodes. */
export interface PeerNodeOptions {
  /** This node's id: 1–128 printable ASCII characters, no spaces. Default: a random UUID. */
  id?: string;
  /** Address to listen on. Default `'127.0.0.1'`. */
  host?: string;
  /** Port to listen on; 0 picks a free one. Default 0. */
  port?: number;
  /** `host:port` that other nodes should dial. Default: `host` and the bound port. */
  advertise?: string;
  /** `host:port` of nodes to join through. Dialed until each answers (and again once forgotten). */
  seeds?: readonly string[];
  /** How often this node raises its heartbeat and sends it to its links. Default 1000. */
  heartbeatInterval?: number;
  /** How often this node sends its member list to `gossipFanout` random links. Default 1000. */
  gossipInterval?: number;
  /** Links that receive each round of gossip. Default 3. */
  gossipFanout?: number;
  /** An alive member whose heartbeat has not risen for this long becomes suspect. Default 5000. */
  suspectTimeout?: number;
  /** A suspect member that does not refute for this long becomes dead. Default 10000. */
  deadTimeout?: number;
  /** Dead and left members are forgotten after this long. Default 30000. */
  removeTimeout?: number;
  /** A link that has not sent its hello within this long is closed. Default 5000. */
  handshakeTimeout?: number;
  /** Hop limit (TTL) of floods: how many links a message may cross. Default 8, at most 255. */
  maxHops?: number;
  /** Largest frame sent or accepted, in bytes. Default 1 MiB. */
  maxFrame?: number;
  /** Message ids remembered for de-duplication. Default 10000. */
  seenLimit?: number;
  /** How long a message id is remembered. Default 60000. */
  seenTtl?: number;
  /** Dial every member learned by gossip (full mesh). Default true; false dials only seeds. */
  dialMembers?: boolean;
  /** Backoff of re-dials. Default `{ initialDelay: 500, maxDelay: 10000, jitter: 0.2 }`. */
  backoff?: BackoffOptions;
  /** Give up one dial attempt after this long. Default 5000. */
  connectTimeout?: number;
  /** How long `stop()` lets links drain before force-closing them. Default 2000. */
  shutdownTimeout?: number;
  logger?: Logger;
  /** A message for this node (a broadcast, or a `send` addressed to it) arrived, once. */
  onMessage?(from: string, msg: JsonValue): void;
  /** A member became known as alive (newly learned, or back from dead). */
  onPeerUp?(id: string): void;
  /** A member was declared dead or announced that it left. */
  onPeerDown?(id: string): void;
}

type Timings =
  | 'heartbeatInterval'
  | 'gossipInterval'
  | 'gossipFanout'
  | 'suspectTimeout'
  | 'deadTimeout'
  | 'removeTimeout'
  | 'handshakeTimeout'
  | 'maxHops'
  | 'maxFrame'
  | 'seenLimit'
  | 'seenTtl'
  | 'connectTimeout'
  | 'shutdownTimeout';

export type ResolvedOptions = Required<Pick<PeerNodeOptions, Timings>> & {
  id: string;
  host: string;
  port: number;
  seeds: string[];
  dialMembers: boolean;
  backoff: BackoffOptions;
};

const DEFAULTS: Record<Timings, number> = {
  heartbeatInterval: 1000,
  gossipInterval: 1000,
  gossipFanout: 3,
  suspectTimeout: 5000,
  deadTimeout: 10_000,
  removeTimeout: 30_000,
  handshakeTimeout: 5000,
  maxHops: 8,
  maxFrame: 1024 * 1024,
  seenLimit: 10_000,
  seenTtl: 60_000,
  connectTimeout: 5000,
  shutdownTimeout: 2000,
};

/** Fills in defaults; throws `PL_ERR_INVALID_ARG` naming the first wrong option. */
export function resolveOptions(o: PeerNodeOptions): ResolvedOptions {
  const id = o.id ?? randomUUID();
  if (!isNodeId(id)) throw invalidArg('id', id, '1-128 printable ASCII characters, no spaces');
  const host = o.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host.length === 0)
    throw invalidArg('host', host, 'a non-empty string');
  const port = o.port ?? 0;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535))
    throw invalidArg('port', port, 'an integer in [0, 65535]');
  if (o.advertise !== undefined && parseAddr(o.advertise) === undefined)
    throw invalidArg('advertise', o.advertise, 'host:port');
  const seeds = [...(o.seeds ?? [])];
  for (const s of seeds) if (parseAddr(s) === undefined) throw invalidArg('seeds', s, 'host:port');
  const out = { id, host, port, seeds, dialMembers: o.dialMembers ?? true } as ResolvedOptions;
  for (const key of Object.keys(DEFAULTS) as Timings[]) {
    const v = o[key] ?? DEFAULTS[key];
    const min = key === 'maxHops' || key.endsWith('Interval') || key === 'seenLimit' ? 1 : 0;
    if (!(Number.isSafeInteger(v) && v >= min)) throw invalidArg(key, v, `an integer >= ${min}`);
    out[key] = v;
  }
  if (out.maxHops > 255) throw invalidArg('maxHops', out.maxHops, 'at most 255');
  out.backoff = { initialDelay: 500, maxDelay: 10_000, jitter: 0.2, ...o.backoff };
  return out;
}
