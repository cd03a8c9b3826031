/**
 * Reuse-port: every loop opens its own listening socket on the same port with SO_REUSEPORT and
 * the kernel spreads new connections over them. Node >= 22.12 listens with its own `reusePort`;
 * older Node uses the native listener. The first loop binds (port 0 picks one), the rest join.
 */
import { nativeStatus } from '../../native/index.js';
import { createError } from '../errors.js';
import type { ServerAddress } from '../io/listener.js';
import type { Feeder, IntakeSpec } from './feeder.js';
import type { ResolvedOptions } from './options.js';

/** Node >= 22.12 (and 23.1+) accept `reusePort` in `server.listen()`. */
export function nodeHasReusePort(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

export class ReusePortFeeder implements Feeder {
  readonly firstAlone = true;
  private port: number;
  private readonly useNode: boolean;

  constructor(private readonly o: ResolvedOptions) {
    this.port = o.port;
    this.useNode = nodeHasReusePort();
    if (!this.useNode && !nativeStatus().available) {
      throw createError(
        'PL_ERR_NATIVE_UNAVAILABLE',
        `model 'reuse-port' needs Node >= 22.12 or the native addon (Node ${process.versions.node}; ` +
          `addon: ${nativeStatus().reason ?? 'not loaded'}); run "npm rebuild polyloop" or upgrade Node`,
      );
    }
  }

  open(): Promise<ServerAddress | undefined> {
    return Promise.resolve(undefined);
  }

  /** The first loop's bound port; later loops join it. */
  setPort(port: number): void {
    this.port = port;
  }

  intake(): IntakeSpec {
    const { host, backlog } = this.o;
    return { intake: { kind: 'listen', host, port: this.port, backlog, node: this.useNode } };
  }

  attach(): void {}
  activate(): void {}
  detach(): void {}

  stop(): Promise<void> {
    return Promise.resolve(); // each loop closes its own listener when it drains
  }

  close(): void {}

  extra(): Record<string, number> {
    return {};
  }
}
