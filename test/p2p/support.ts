// Shared helpers of the P2P tests: fast timings, clusters on loopback, and child-process nodes.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PeerNode, type JsonValue, type PeerNodeOptions } from '../../src/index.js';
import { waitFor } from '../helpers.js';

/** Timings that make a test cluster converge in well under a second on an idle machine. */
export const FAST: PeerNodeOptions = {
  heartbeatInterval: 50,
  gossipInterval: 50,
  suspectTimeout: 1500,
  deadTimeout: 1000,
  removeTimeout: 60_000,
  handshakeTimeout: 2000,
  backoff: { initialDelay: 50, maxDelay: 300, jitter: 0.2 },
  connectTimeout: 2000,
  shutdownTimeout: 1000,
};

/** A started node that records what it received. */
export interface TestNode {
  node: PeerNode;
  addr: string;
  /** Messages received, in order: [from, msg]. */
  got: [string, JsonValue][];
  ups: string[];
  downs: string[];
}

/** Starts a node with FAST timings; the caller registers `node.stop()` cleanup. */
export async function startNode(options: PeerNodeOptions = {}): Promise<TestNode> {
  const t = { got: [], ups: [], downs: [] } as unknown as TestNode;
  t.node = new PeerNode({
    ...FAST,
    ...options,
    onMessage: (from, msg) => t.got.push([from, msg]),
    onPeerUp: (id) => t.ups.push(id),
    onPeerDown: (id) => t.downs.push(id),
  });
  t.addr = await t.node.start();
  return t;
}

/** True when every node knows every other as alive and is linked to it. */
export function fullMesh(nodes: TestNode[]): boolean {
  return nodes.every((t) => {
    const alive = t.node.peers().filter((p) => p.state === 'alive' && p.linked);
    return alive.length === nodes.length - 1 && t.node.stats().connections === nodes.length - 1;
  });
}

/** dist/test/p2p/peer-child.js */
const CHILD = fileURLToPath(new URL('./peer-child.js', import.meta.url));

export interface ChildNode {
  proc: ChildProcessWithoutNullStreams;
  addr: string;
  /** Resolves with the exit code or signal once the child is gone. */
  exited: Promise<number | string | null>;
}

/** Runs a PeerNode in a child process (so that it can be SIGKILLed) and resolves once it listens. */
export async function startChild(options: PeerNodeOptions): Promise<ChildNode> {
  const proc = spawn(process.execPath, [CHILD, JSON.stringify({ ...FAST, ...options })], {
    stdio: 'pipe',
  });
  const exited = new Promise<number | string | null>((resolve) =>
    proc.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    await waitFor(() => /^listening on \S+\n/.test(out) || proc.exitCode !== null, 15_000, 'child');
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  if (proc.exitCode !== null) throw new Error(`child exited ${proc.exitCode}: ${err}`);
  return { proc, addr: /^listening on (\S+)\n/.exec(out)![1]!, exited };
}

/** SIGKILLs a child (if still running) and waits for it to be gone. */
export async function kill(child: ChildNode): Promise<void> {
  if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
  await child.exited;
}
