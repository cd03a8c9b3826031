/**
 * Half-sync dispatch policies: which loop gets the next connection. `pick` receives the peer
 * address ('ip:port' or '[ip]:port') and whether each loop can take connections now.
 */
import type { DispatchPolicy } from './options.js';

export interface Dispatcher {
  /** A loop id, or -1 when no loop can take a connection. */
  pick(peer: string, alive: readonly boolean[], load: (id: number) => number): number;
}

/** FNV-1a of the address without its port: one client address, one loop. */
export function addressHash(peer: string): number {
  let end = peer.lastIndexOf(':');
  if (end <= 0) end = peer.length;
  let start = 0;
  if (peer.charCodeAt(0) === 0x5b /* [ */) {
    start = 1;
    end = peer.lastIndexOf(']');
  }
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= peer.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function nextAlive(alive: readonly boolean[], from: number): number {
  const n = alive.length;
  for (let k = 0; k < n; k++) {
    const id = (from + k) % n;
    if (alive[id] === true) return id;
  }
  return -1;
}

export function createDispatcher(policy: DispatchPolicy): Dispatcher {
  switch (policy) {
    case 'round-robin': {
      let next = 0;
      return {
        pick(_peer, alive) {
          const id = nextAlive(alive, next);
          next = id < 0 ? 0 : (id + 1) % alive.length;
          return id;
        },
      };
    }
    case 'least-connections':
      return {
        pick(_peer, alive, load) {
          let best = -1;
          let bestLoad = Infinity;
          for (let id = 0; id < alive.length; id++) {
            if (alive[id] !== true) continue;
            const l = load(id);
            if (l < bestLoad) {
              best = id;
              bestLoad = l;
            }
          }
          return best;
        },
      };
    case 'ip-hash':
      return {
        // While every loop is alive the mapping is hash % loops; a loop that is restarting
        // passes its clients to the next live one until it is back.
        pick(peer, alive) {
          return nextAlive(alive, addressHash(peer) % alive.length);
        },
      };
  }
}
