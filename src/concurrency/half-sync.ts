/**
 * Half-sync/half-async: the main thread owns the listening socket and the native acceptor,
 * accepts in batches and hands each fd to one loop, which serves it until it closes.
 *
 *   acceptor (main) ──fds──► lane 0 ─► loop 0        thread: IntRing in shared memory, or
 *                      └───► lane 1 ─► loop 1                MessagePort messages
 *                                                     process: SCM_RIGHTS + an IPC wake-up
 *
 * Without the addon the main thread accepts with Node and passes sockets over IPC to process
 * loops (Node's handle passing: a few thousand connections per second).
 */
import net from 'node:net';
import { native, nativeStatus, type NativeAcceptor } from '../../native/index.js';
import { createError } from '../errors.js';
import type { ServerAddress } from '../io/listener.js';
import type { Logger } from '../log.js';
import { IntRing } from '../shm/int-ring.js';
import { createDispatcher } from './dispatch.js';
import type { Feeder, IntakeSpec } from './feeder.js';
import { S_ACCEPTED, S_ACTIVE, S_HANDED_OFF, type StatsTable } from './loop-stats.js';
import type { ResolvedOptions } from './options.js';
import type { WorkerHost } from './worker-host.js';

const RING_CAPACITY = 4096;

/** Where one worker's connections go. */
interface Lane {
  host: WorkerHost;
  /** Connections handed to this worker (its own count, for least-connections). */
  handed: number;
  /** Thread ring (the main thread is the only producer). */
  ring?: IntRing;
  /** fds the ring had no room for, pushed as it frees. */
  backlog?: number[];
  /** Process: main's end of the fd-passing socket pair. */
  scm?: number;
}

export class HalfSyncFeeder implements Feeder {
  readonly firstAlone = false;
  /** Nobody to take connections yet: they wait here (fds or sockets). */
  private readonly waiting: { fd: number; peer: string; socket?: net.Socket }[] = [];
  private readonly lanesByHost = new Map<WorkerHost, Lane>();
  /** Lanes of the active generation, by loop id. */
  private active: (Lane | undefined)[];
  private readonly alive: boolean[];
  private readonly dispatcher;
  private listenFd = -1;
  private acceptor: NativeAcceptor | undefined;
  private nodeServer: net.Server | undefined;
  private handoffs = 0;
  private readonly pendingRings = new Map<number, IntRing>();
  private readonly pendingScm = new Map<number, number>();
  readonly viaIpc: boolean;

  constructor(
    private readonly o: ResolvedOptions,
    private readonly table: StatsTable,
    private readonly logger: Logger,
  ) {
    this.active = new Array<Lane | undefined>(o.loops).fill(undefined);
    this.alive = new Array<boolean>(o.loops).fill(false);
    this.dispatcher = createDispatcher(o.dispatch);
    this.viaIpc = !nativeStatus().available;
  }

  async open(): Promise<ServerAddress> {
    const { host, port, backlog } = this.o;
    if (this.viaIpc) {
      const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) =>
        this.route([-1], [`${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`], socket),
      );
      this.nodeServer = server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err) =>
          reject(
            createError('PL_ERR_LISTEN', `cannot listen on ${host}:${port}: ${err.message}`, err),
          ),
        );
        server.listen({ host, port, backlog }, () => resolve());
      });
      server.on('error', (err) => this.logger.warn({ err }, 'accept failed; still listening'));
      const a = server.address() as net.AddressInfo;
      return { host: a.address, port: a.port, family: a.family === 'IPv6' ? 'IPv6' : 'IPv4' };
    }
    const addon = native();
    let bindHost = host;
    if (net.isIP(bindHost) === 0) {
      const { lookup } = await import('node:dns/promises');
      bindHost = (await lookup(bindHost)).address;
    }
    try {
      this.listenFd = addon.listen({ host: bindHost, port, backlog });
    } catch (err) {
      throw createError(
        'PL_ERR_LISTEN',
        `cannot listen on ${host}:${port}: ${(err as { errno?: string }).errno ?? (err as Error).message}`,
        err,
      );
    }
    this.acceptor = addon.createAcceptor(this.listenFd, (fds, peers) => this.route(fds, peers));
    return {
      host: bindHost,
      port: addon.localPort(this.listenFd),
      family: net.isIPv6(bindHost) ? 'IPv6' : 'IPv4',
    };
  }

  intake(id: number): IntakeSpec {
    if (this.viaIpc) return { intake: { kind: 'ipc' } };
    if (this.o.workers === 'process') {
      const [mine, theirs] = native().socketPair();
      this.pendingScm.set(id, mine);
      return { intake: { kind: 'scm', fd: 4 }, scmFd: theirs };
    }
    if (this.o.handoff === 'port') return { intake: { kind: 'port' } };
    const ring = IntRing.create(RING_CAPACITY);
    this.pendingRings.set(id, ring);
    return { intake: { kind: 'ring', ring: ring.buffer } };
  }

  attach(host: WorkerHost): void {
    const lane: Lane = { host, handed: 0 };
    const ring = this.pendingRings.get(host.id);
    if (host.init.intake.kind === 'ring' && ring !== undefined) {
      lane.ring = ring;
      this.pendingRings.delete(host.id);
    }
    const scm = this.pendingScm.get(host.id);
    if (host.init.intake.kind === 'scm' && scm !== undefined) {
      lane.scm = scm;
      this.pendingScm.delete(host.id);
    }
    this.lanesByHost.set(host, lane);
  }

  activate(_generation: number, hosts: readonly WorkerHost[]): void {
    for (const host of hosts) {
      const lane = this.lanesByHost.get(host);
      if (lane === undefined) continue;
      this.active[host.id] = lane;
      this.alive[host.id] = true;
    }
    this.acceptor?.start();
    this.flushWaiting();
  }

  detach(host: WorkerHost): void {
    const lane = this.lanesByHost.get(host);
    this.lanesByHost.delete(host);
    if (lane === undefined) {
      // Died before it was ready: release what intake() made for it.
      const scm = this.pendingScm.get(host.id);
      if (scm !== undefined) native().close(scm);
      this.pendingScm.delete(host.id);
      this.pendingRings.delete(host.id);
      return;
    }
    if (this.active[host.id] === lane) {
      this.active[host.id] = undefined;
      this.alive[host.id] = false;
    }
    // fds the dead loop never took are still good connections: give them to another loop.
    const orphans: number[] = [];
    if (lane.ring !== undefined) {
      const consumer = IntRing.from(lane.ring.buffer);
      for (let fd = consumer.tryPop(); fd !== undefined; fd = consumer.tryPop()) orphans.push(fd);
    }
    if (lane.backlog !== undefined) orphans.push(...lane.backlog.splice(0));
    if (lane.scm !== undefined) native().close(lane.scm);
    if (orphans.length > 0) {
      this.logger.info({ loop: host.id, orphans: orphans.length }, 're-dispatching connections');
      this.route(
        Int32Array.from(orphans),
        orphans.map(() => ''),
      );
    }
  }

  stop(): Promise<void> {
    this.acceptor?.close();
    this.acceptor = undefined;
    const server = this.nodeServer;
    if (server === undefined) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  close(): void {
    if (this.listenFd >= 0) native().close(this.listenFd);
    this.listenFd = -1;
    for (const w of this.waiting.splice(0)) {
      if (w.socket !== undefined) w.socket.destroy();
      else native().close(w.fd);
    }
  }

  extra(): Record<string, number> {
    return { handoffs: this.handoffs };
  }

  private load(id: number): number {
    const lane = this.active[id]!;
    const row = this.table.rows[id]!;
    // Open connections as the loop last counted them, plus those handed since it last published.
    return row[S_ACTIVE]! + Math.max(0, lane.handed - row[S_ACCEPTED]!);
  }

  private readonly loadOf = (id: number): number => this.load(id);

  /** Hands accepted connections out; `fds[i] === -1` means `socket` (the Node fallback). */
  private route(fds: ArrayLike<number>, peers: readonly string[], socket?: net.Socket): void {
    let ports: Map<Lane, number[]> | undefined;
    let scms: Map<Lane, number> | undefined;
    for (let i = 0; i < fds.length; i++) {
      const fd = fds[i]!;
      const id = this.dispatcher.pick(peers[i] ?? '', this.alive, this.loadOf);
      const lane = id < 0 ? undefined : this.active[id];
      if (lane === undefined) {
        this.waiting.push({ fd, peer: peers[i] ?? '', ...(socket ? { socket } : {}) });
        continue;
      }
      lane.handed++;
      this.handoffs++;
      this.table.rows[id]![S_HANDED_OFF]!++;
      if (socket !== undefined) {
        this.sendSocket(lane, socket, peers[i] ?? '');
      } else if (lane.ring !== undefined) {
        if (lane.backlog !== undefined && lane.backlog.length > 0) lane.backlog.push(fd);
        else if (!lane.ring.tryPush(fd)) this.spill(lane, fd);
      } else if (lane.scm !== undefined) {
        this.sendScm(lane, fd);
        (scms ??= new Map()).set(lane, (scms.get(lane) ?? 0) + 1);
      } else {
        ports ??= new Map();
        const batch = ports.get(lane);
        if (batch === undefined) ports.set(lane, [fd]);
        else batch.push(fd);
      }
    }
    if (ports !== undefined) {
      for (const [lane, batch] of ports) lane.host.post({ t: 'fds', fds: Int32Array.from(batch) });
    }
    if (scms !== undefined) for (const [lane, n] of scms) lane.host.post({ t: 'scm', n });
  }

  private sendScm(lane: Lane, fd: number): void {
    const addon = native();
    try {
      addon.sendFd(lane.scm!, fd);
    } catch (err) {
      this.logger.warn({ loop: lane.host.id, err }, 'fd hand-off failed; connection closed');
    } finally {
      addon.close(fd); // the loop has its own copy now
    }
  }

  private sendSocket(lane: Lane, socket: net.Socket, peer: string): void {
    lane.host.sendSocket(socket, (err) => {
      if (err !== null) {
        this.route([-1], [peer], socket);
        return;
      }
      socket.destroy(); // the child has its own handle now
    });
  }

  /** The ring is full (the loop is far behind): keep fds in order and push as it frees. */
  private spill(lane: Lane, fd: number): void {
    lane.backlog = [fd];
    const drain = async (): Promise<void> => {
      const ring = lane.ring!;
      while (lane.backlog!.length > 0 && this.lanesByHost.get(lane.host) === lane) {
        await ring.waitForSpace(100);
        while (lane.backlog!.length > 0 && ring.tryPush(lane.backlog![0]!)) lane.backlog!.shift();
      }
    };
    void drain();
  }

  private flushWaiting(): void {
    if (this.waiting.length === 0) return;
    for (const w of this.waiting.splice(0)) {
      if (w.socket !== undefined) this.route([-1], [w.peer], w.socket);
      else this.route([w.fd], [w.peer]);
    }
  }
}
