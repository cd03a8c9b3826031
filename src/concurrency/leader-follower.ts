/**
 * Leader/follower: every loop holds a dup of the listening fd, and a token in shared memory says
 * which one may watch it. The leader accepts a batch, stops watching, passes the token to the
 * next loop, and serves what it accepted while the new leader waits for the next connection.
 * The main thread only binds the socket and repairs the token when its holder dies.
 */
import net from 'node:net';
import { requireNative } from '../../native/index.js';
import { createError } from '../errors.js';
import type { ServerAddress } from '../io/listener.js';
import type { Feeder, IntakeSpec } from './feeder.js';
import type { ResolvedOptions } from './options.js';
import { LF_LEADER, LF_MAX_WATCHING, LF_STOPPED, LF_WATCHING, LF_WORDS } from './protocol.js';
import type { WorkerHost } from './worker-host.js';

export class LeaderFollowerFeeder implements Feeder {
  readonly firstAlone = false;
  private listenFd = -1;
  /** One token per generation: a reload's new loops take turns among themselves. */
  private readonly tokens = new Map<number, Int32Array>();
  private readonly dups = new Map<WorkerHost, number>();
  private readonly pendingDups = new Map<string, number>();
  private current = 0;

  constructor(private readonly o: ResolvedOptions) {}

  async open(): Promise<ServerAddress> {
    const addon = requireNative("model 'leader-follower'");
    let host = this.o.host;
    if (net.isIP(host) === 0) {
      const { lookup } = await import('node:dns/promises');
      host = (await lookup(host)).address;
    }
    try {
      this.listenFd = addon.listen({ host, port: this.o.port, backlog: this.o.backlog });
    } catch (err) {
      throw createError(
        'PL_ERR_LISTEN',
        `cannot listen on ${host}:${this.o.port}: ${(err as { errno?: string }).errno ?? (err as Error).message}`,
        err,
      );
    }
    return {
      host,
      port: addon.localPort(this.listenFd),
      family: net.isIPv6(host) ? 'IPv6' : 'IPv4',
    };
  }

  private token(generation: number): Int32Array {
    let t = this.tokens.get(generation);
    if (t === undefined) {
      t = new Int32Array(new SharedArrayBuffer(LF_WORDS * 4));
      this.tokens.set(generation, t);
    }
    return t;
  }

  intake(id: number, generation: number): IntakeSpec {
    // Each thread watches its own fd number: libuv allows one watcher per fd.
    const dup = requireNative("model 'leader-follower'").dup(this.listenFd);
    this.pendingDups.set(`${generation}:${id}`, dup);
    return {
      intake: {
        kind: 'leader',
        listenFd: dup,
        token: this.token(generation).buffer as SharedArrayBuffer,
      },
    };
  }

  attach(host: WorkerHost): void {
    this.claim(host);
  }

  private claim(host: WorkerHost): void {
    const key = `${host.init.generation}:${host.id}`;
    const dup = this.pendingDups.get(key);
    if (dup !== undefined) {
      this.dups.set(host, dup);
      this.pendingDups.delete(key);
    }
  }

  activate(generation: number): void {
    if (generation === this.current) return;
    // Older generations stop leading; their loops drain what they serve.
    for (const [g, t] of this.tokens) {
      if (g === generation) continue;
      Atomics.store(t, LF_STOPPED, 1);
      Atomics.notify(t, LF_LEADER);
    }
    this.current = generation;
  }

  detach(host: WorkerHost, crashed: boolean): void {
    this.claim(host);
    const dup = this.dups.get(host);
    this.dups.delete(host);
    // The thread is gone, and with it its watcher: its fd can close now.
    if (dup !== undefined) requireNative("model 'leader-follower'").close(dup);
    const t = this.tokens.get(host.init.generation);
    if (crashed && t !== undefined && Atomics.load(t, LF_LEADER) === host.id) {
      // The leader died holding the token: nobody else was watching, so pass it on.
      Atomics.store(t, LF_WATCHING, 0);
      Atomics.store(t, LF_LEADER, (host.id + 1) % host.init.count);
      Atomics.notify(t, LF_LEADER);
    }
  }

  stop(): Promise<void> {
    for (const t of this.tokens.values()) {
      Atomics.store(t, LF_STOPPED, 1);
      Atomics.notify(t, LF_LEADER);
    }
    return Promise.resolve();
  }

  close(): void {
    const addon = requireNative("model 'leader-follower'");
    for (const dup of this.pendingDups.values()) addon.close(dup);
    this.pendingDups.clear();
    if (this.listenFd >= 0) addon.close(this.listenFd);
    this.listenFd = -1;
  }

  extra(): Record<string, number> {
    let max = 0;
    for (const t of this.tokens.values()) max = Math.max(max, Atomics.load(t, LF_MAX_WATCHING));
    return { maxWatching: max };
  }
}
