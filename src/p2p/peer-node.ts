import { randomUUID } from 'node:crypto';
import { lengthFieldCodec, type LengthFieldCodec } from '../codec/length-field.js';
import { createError, type ErrorCode } from '../errors.js';
import type { App, CloseReason, Connection } from '../io/connection.js';
import { TcpClient } from '../io/tcp-client.js';
import { TcpServer } from '../io/tcp-server.js';
import { defaultLogger, type Logger } from '../log.js';
import { Membership, type PeerInfo } from './membership.js';
import { resolveOptions, type PeerNodeOptions, type ResolvedOptions } from './options.js';
import { SeenCache } from './seen-cache.js';
import {
  formatAddr,
  parseAddr,
  parseMessage,
  PROTOCOL_VERSION,
  type Data,
  type Hello,
  type JsonValue,
  type WireMessage,
} from './wire.js';

type PeerConn = Connection<Uint8Array, Uint8Array | string, Link>;

/** One TCP connection to another node, from accept (or dial) to close. */
interface Link {
  conn: PeerConn;
  /** This node dialed it. */
  outbound: boolean;
  /** The dialer that made it (outbound links only). */
  dialer: Dialer | undefined;
  /** The peer's id and listen address, once its hello arrived. */
  id: string | undefined;
  listen: string | undefined;
  handshakeTimer: NodeJS.Timeout | undefined;
  closed: Promise<void>;
  onClosed: () => void;
}

/** Dials one address with the Connector's backoff until it connects; one link per dialer. */
interface Dialer {
  addr: string;
  client: TcpClient<Uint8Array, Uint8Array | string, Link>;
  link: Link | undefined;
}

/** Counters of a node. A snapshot. */
export interface PeerNodeStats {
  /** Peers with a handshaken link (one per peer). */
  links: number;
  /** Open TCP connections, including those still in their handshake or closing as duplicates. */
  connections: number;
  /** Messages handed to `onMessage`. */
  delivered: number;
  /** Flooded copies dropped because their id was already seen. */
  duplicates: number;
  /** Errors by code: bad handshakes and messages, oversize frames, resets. */
  errors: Record<string, number>;
}

/**
 * A node of a peer-to-peer network: a server and a client at once. It listens, dials its seeds
 * and every member it learns of by gossip (full mesh), keeps one link per peer pair, detects
 * failures SWIM-style, and floods broadcasts with de-duplication and a hop limit.
 *
 * Construct, `start()`, `send`, `broadcast` and `stop()` on one loop; callbacks run on that loop.
 * A callback that throws is logged and counted; it never closes links or stops the node.
 */
export class PeerNode {
  readonly id: string;
  private readonly o: ResolvedOptions;
  private readonly handlers: PeerNodeOptions;
  private readonly logger: Logger;
  private readonly server: TcpServer<Uint8Array, Uint8Array | string, Link>;
  private readonly codec: LengthFieldCodec;
  private readonly seen: SeenCache;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  /** The chosen link to each peer (see `adopt`). */
  private readonly links = new Map<string, Link>();
  private readonly open = new Set<Link>();
  private readonly dialers = new Map<string, Dialer>();
  /** Seed address → the id that answered there (this node's own id for a self-dial). */
  private readonly seedIds = new Map<string, string>();
  private membership: Membership | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopping: Promise<void> | undefined;
  private readonly counters = { delivered: 0, duplicates: 0, errors: {} as Record<string, number> };

  constructor(options: PeerNodeOptions = {}) {
    this.o = resolveOptions(options);
    this.handlers = options;
    this.id = this.o.id;
    this.logger = options.logger ?? defaultLogger();
    this.codec = lengthFieldCodec({ lengthBytes: 4, maxFrame: this.o.maxFrame });
    this.seen = new SeenCache(this.o.seenLimit, this.o.seenTtl);
    this.server = new TcpServer(this.app(undefined), {
      host: this.o.host,
      port: this.o.port,
      acceptor: 'node',
      logger: this.logger,
    });
  }

  /** The `host:port` other nodes dial; throws before `start()` has resolved. */
  get address(): string {
    if (this.membership === undefined)
      throw createError('PL_ERR_NOT_CONNECTED', `node ${this.id} is not started`);
    return this.membership.selfAddr;
  }

  /** Listens, then starts dialing seeds, heartbeats and gossip. Resolves with `address`. */
  async start(): Promise<string> {
    if (this.stopping !== undefined)
      throw createError('PL_ERR_SERVER_CLOSED', `node ${this.id} is stopped`);
    const bound = await this.server.listen();
    const host = bound.host === '0.0.0.0' || bound.host === '::' ? '127.0.0.1' : bound.host;
    const addr = this.handlers.advertise ?? formatAddr(host, bound.port);
    this.membership = new Membership(this.id, addr, this.o, {
      up: (id) => this.call('onPeerUp', () => this.handlers.onPeerUp?.(id)),
      down: (id) => this.call('onPeerDown', () => this.handlers.onPeerDown?.(id)),
    });
    const every = (ms: number, fn: () => void): void => {
      this.timers.push(setInterval(fn, ms).unref());
    };
    every(this.o.heartbeatInterval, () => this.heartbeat());
    every(this.o.gossipInterval, () => this.gossip());
    this.maintainDials();
    return addr;
  }

  /** Known members (not this node), with their state. Safe to call at any time. */
  peers(): PeerInfo[] {
    return this.membership?.list((id) => this.links.has(id)) ?? [];
  }

  /** Ids of the peers this node has a link to. */
  linkedPeers(): string[] {
    return [...this.links.keys()].sort();
  }

  stats(): PeerNodeStats {
    return {
      links: this.links.size,
      connections: this.open.size,
      delivered: this.counters.delivered,
      duplicates: this.counters.duplicates,
      errors: { ...this.counters.errors },
    };
  }

  /**
   * Sends `msg` to one node: straight down its link when there is one, otherwise flooded with a
   * `to` field (relays forward it, only `peerId` delivers it). Returns false when no link could
   * carry it. Throws `PL_ERR_FRAME_TOO_LARGE` for a message over `maxFrame`.
   */
  send(peerId: string, msg: JsonValue): boolean {
    const data: Data = this.newData(msg);
    data.to = peerId;
    const frame = this.encode(data);
    const link = this.links.get(peerId);
    if (link !== undefined) return link.conn.send(frame);
    return this.flood(frame, undefined) > 0;
  }

  /** Floods `msg` to every live node, each receiving it once. Returns the links it left on. */
  broadcast(msg: JsonValue): number {
    return this.flood(this.encode(this.newData(msg)), undefined);
  }

  /**
   * Stops the node: announces `leave` to its links (unless `leave: false`, which looks like a
   * crash to the others), stops dialing and timers, closes every link and the listener.
   * Idempotent; resolves once everything is closed.
   */
  stop(options: { leave?: boolean } = {}): Promise<void> {
    this.stopping ??= this.shutdown(options.leave ?? true);
    return this.stopping;
  }

  private async shutdown(leave: boolean): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const m = this.membership;
    if (leave && m !== undefined) {
      const frame = this.encode({ type: 'leave', inc: m.inc });
      for (const link of this.links.values()) link.conn.send(frame);
    }
    for (const d of this.dialers.values()) d.client.stop();
    this.dialers.clear();
    for (const link of this.open) link.conn.close();
    const force = setTimeout(() => {
      for (const link of this.open) link.conn.forceClose();
    }, this.o.shutdownTimeout).unref();
    await Promise.all([
      this.server.close(this.o.shutdownTimeout),
      ...[...this.open].map((l) => l.closed),
    ]);
    clearTimeout(force);
  }

  // ---- links ------------------------------------------------------------------------------

  private app(dialer: Dialer | undefined): App<Uint8Array, Uint8Array | string, Link> {
    return {
      codec: this.codec,
      context: (conn) => {
        let onClosed!: () => void;
        const closed = new Promise<void>((resolve) => (onClosed = resolve));
        return {
          conn,
          outbound: dialer !== undefined,
          dialer,
          id: undefined,
          listen: undefined,
          handshakeTimer: undefined,
          closed,
          onClosed,
        };
      },
      onConnection: (conn) => this.linkOpened(conn.context),
      onMessage: (conn, frame) => this.receive(conn.context, frame),
      onClose: (conn, reason) => this.linkClosed(conn.context, reason),
    };
  }

  private linkOpened(link: Link): void {
    this.open.add(link);
    if (link.dialer !== undefined) link.dialer.link = link;
    if (this.stopping !== undefined || this.membership === undefined) {
      link.conn.close();
      return;
    }
    link.handshakeTimer = setTimeout(() => {
      if (link.id === undefined) this.bad(link, 'PL_ERR_PEER_HANDSHAKE', 'no hello in time');
    }, this.o.handshakeTimeout).unref();
    const hello: Hello = {
      type: 'hello',
      version: PROTOCOL_VERSION,
      id: this.id,
      listen: this.membership.selfAddr,
    };
    link.conn.send(this.encode(hello));
  }

  private linkClosed(link: Link, reason: CloseReason): void {
    clearTimeout(link.handshakeTimer);
    this.open.delete(link);
    if (reason.error !== undefined) this.count(reason.error.code);
    if (link.id !== undefined && this.links.get(link.id) === link) this.links.delete(link.id);
    const d = link.dialer;
    if (d !== undefined) {
      d.client.stop();
      if (this.dialers.get(d.addr) === d) this.dialers.delete(d.addr);
    }
    link.onClosed();
  }

  /** Closes a link for bad input and counts it; the node and its other links carry on. */
  private bad(link: Link, code: ErrorCode, why: string): void {
    this.count(code);
    this.logger.debug(
      { code, peer: link.id, remote: `${link.conn.remoteAddress}:${link.conn.remotePort}` },
      `closing link: ${why}`,
    );
    link.conn.forceClose();
  }

  private receive(link: Link, frame: Uint8Array): void {
    const handshaking = link.id === undefined;
    const code = handshaking ? 'PL_ERR_PEER_HANDSHAKE' : 'PL_ERR_PEER_MESSAGE';
    let msg: WireMessage | string;
    try {
      msg = parseMessage(JSON.parse(this.decoder.decode(frame)));
    } catch {
      msg = 'not UTF-8 JSON';
    }
    if (typeof msg === 'string') return this.bad(link, code, msg);
    if (handshaking !== (msg.type === 'hello'))
      return this.bad(link, code, handshaking ? 'first frame is not a hello' : 'second hello');
    const m = this.membership!;
    switch (msg.type) {
      case 'hello':
        return this.hello(link, msg);
      case 'heartbeat':
        m.merge({ id: link.id!, addr: link.listen!, inc: msg.inc, hb: msg.hb, state: 'alive' });
        return;
      case 'gossip': {
        let learned = false;
        for (const e of msg.members) learned = m.merge(e) || learned;
        if (learned) this.maintainDials();
        return;
      }
      case 'leave':
        return m.leave(link.id!, msg.inc);
      case 'msg':
        return this.data(link, msg);
    }
  }

  private hello(link: Link, hello: Hello): void {
    if (hello.version !== PROTOCOL_VERSION)
      return this.bad(link, 'PL_ERR_PEER_HANDSHAKE', `unsupported version ${hello.version}`);
    clearTimeout(link.handshakeTimer);
    const addr = link.dialer?.addr;
    if (addr !== undefined && this.o.seeds.includes(addr)) this.seedIds.set(addr, hello.id);
    if (hello.id === this.id) {
      link.conn.close(); // dialed itself (its own address among the seeds)
      return;
    }
    link.id = hello.id;
    link.listen = hello.listen;
    if (!this.adopt(link)) return;
    const m = this.membership!;
    link.conn.send(this.encode({ type: 'heartbeat', inc: m.inc, hb: m.hb }));
    link.conn.send(this.encode({ type: 'gossip', members: m.entries() }));
  }

  /**
   * Keeps one link per pair. Both ends run the same rule on the same two connections, so they
   * agree without talking: prefer the link dialed by the node with the smaller id; between two
   * links dialed by the same node, the one from the smaller dialing port. Returns false when
   * `link` lost (it is closing); the loser still delivers what was already in flight on it.
   */
  private adopt(link: Link): boolean {
    const id = link.id!;
    const existing = this.links.get(id);
    if (existing === undefined) {
      this.links.set(id, link);
      return true;
    }
    const winner = this.id < id ? this.id : id;
    const rank = (l: Link): [number, number] => [
      (l.outbound ? this.id : id) === winner ? 0 : 1,
      l.outbound ? l.conn.localPort : l.conn.remotePort,
    ];
    const [a, b] = [rank(link), rank(existing)];
    const better = a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
    const loser = better ? existing : link;
    if (better) this.links.set(id, link);
    loser.conn.close();
    return better;
  }

  // ---- messages ---------------------------------------------------------------------------

  private newData(body: JsonValue): Data {
    if (this.stopping !== undefined || this.membership === undefined)
      throw createError('PL_ERR_SERVER_CLOSED', `node ${this.id} is not running`);
    const data: Data = { type: 'msg', mid: randomUUID(), from: this.id, ttl: this.o.maxHops, body };
    this.seen.add(data.mid);
    return data;
  }

  private encode(msg: WireMessage): Buffer {
    const bytes = Buffer.from(JSON.stringify(msg));
    if (bytes.length > this.o.maxFrame)
      throw createError(
        'PL_ERR_FRAME_TOO_LARGE',
        `message of ${bytes.length} bytes is over maxFrame (${this.o.maxFrame})`,
      );
    return bytes;
  }

  /** Sends a frame on every chosen link except to `except`; returns how many took it. */
  private flood(frame: Buffer, except: string | undefined): number {
    let n = 0;
    for (const [id, link] of this.links) if (id !== except && link.conn.send(frame)) n++;
    return n;
  }

  private data(link: Link, d: Data): void {
    if (!this.seen.add(d.mid)) {
      this.counters.duplicates++;
      return;
    }
    if (d.to === undefined || d.to === this.id) {
      this.counters.delivered++;
      this.call('onMessage', () => this.handlers.onMessage?.(d.from, d.body));
      if (d.to !== undefined) return;
    }
    if (d.ttl <= 1) return;
    const frame = this.encode({ ...d, ttl: d.ttl - 1 });
    const direct = d.to === undefined ? undefined : this.links.get(d.to);
    if (direct !== undefined) direct.conn.send(frame);
    else this.flood(frame, link.id);
  }

  // ---- membership and dialing ---------------------------------------------------------------

  private heartbeat(): void {
    const m = this.membership!;
    m.hb++;
    const frame = this.encode({ type: 'heartbeat', inc: m.inc, hb: m.hb });
    this.flood(frame, undefined);
    m.sweep();
    this.seen.purge();
    this.maintainDials();
  }

  private gossip(): void {
    const links = [...this.links.values()];
    if (links.length === 0) return;
    const frame = this.encode({ type: 'gossip', members: this.membership!.entries() });
    for (let i = 0; i < this.o.gossipFanout && links.length > 0; i++) {
      const [link] = links.splice(Math.floor(Math.random() * links.length), 1);
      link!.conn.send(frame);
    }
  }

  /** Starts a dialer for every seed and member without a link; stops dialers no longer needed. */
  private maintainDials(): void {
    if (this.stopping !== undefined) return;
    const m = this.membership!;
    const wanted = new Set<string>();
    for (const seed of this.o.seeds) {
      const id = this.seedIds.get(seed);
      if (id === undefined) wanted.add(seed);
      else if (id !== this.id && !this.links.has(id)) {
        if (!this.o.dialMembers || m.get(id) === undefined) wanted.add(seed);
      }
    }
    if (this.o.dialMembers) {
      for (const id of m.ids()) {
        const e = m.get(id)!;
        if (e.state !== 'left' && !this.links.has(id) && e.addr !== m.selfAddr) wanted.add(e.addr);
      }
    }
    for (const [addr, d] of this.dialers) {
      if (d.link === undefined && !wanted.has(addr)) {
        d.client.stop();
        this.dialers.delete(addr);
      }
    }
    for (const addr of wanted) if (!this.dialers.has(addr)) this.dial(addr);
  }

  private dial(addr: string): void {
    const target = parseAddr(addr)!;
    const d: Dialer = { addr, link: undefined } as Dialer;
    d.client = new TcpClient(this.app(d), {
      host: target.host,
      port: target.port,
      retry: true,
      reconnect: false,
      backoff: this.o.backoff,
      connectTimeout: this.o.connectTimeout,
      logger: this.logger,
    });
    this.dialers.set(addr, d);
    // Rejects only with PL_ERR_CLIENT_STOPPED, when the dialer is no longer wanted.
    d.client.connect().catch(() => undefined);
  }

  private count(code: string): void {
    this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1;
  }

  /** Runs an application callback; one that throws is logged and counted, never propagated. */
  private call(name: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.count('PL_ERR_HANDLER');
      this.logger.error({ err, node: this.id }, `${name} threw`);
    }
  }
}
