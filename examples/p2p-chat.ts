// A P2P chat: every participant is a PeerNode. Lines typed on stdin are broadcast to every node;
// lines from others print as "<from> text"; "/peers" lists the members this node knows.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { PeerNode, type JsonValue } from '../src/index.js';

export interface P2pChatOptions {
  id?: string;
  host: string;
  port: number;
  /** `host:port` of nodes to join through. */
  peers: string[];
  input: Readable;
  output: Writable;
}

export interface P2pChat {
  node: PeerNode;
  /** Leaves gracefully (announcing it) and resolves once everything is closed. */
  stop(): Promise<void>;
  /** Resolves when the chat has stopped: by `stop()` or at the end of the input. */
  done: Promise<void>;
}

function text(msg: JsonValue): string | undefined {
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return undefined;
  return typeof msg['text'] === 'string' ? msg['text'] : undefined;
}

/** Starts the node; prints "listening on HOST:PORT" once it listens, before anything else. */
export async function runP2pChat(options: P2pChatOptions): Promise<P2pChat> {
  const say = (line: string): void => {
    options.output.write(`${line}\n`);
  };
  const node = new PeerNode({
    ...(options.id === undefined ? {} : { id: options.id }),
    host: options.host,
    port: options.port,
    seeds: options.peers,
    onMessage(from, msg) {
      const line = text(msg);
      if (line !== undefined) say(`<${from}> ${line}`);
    },
    onPeerUp: (id) => say(`* ${id} joined`),
    onPeerDown: (id) => say(`* ${id} left`),
  });
  const addr = await node.start();
  say(`listening on ${addr}`);
  const lines = createInterface({ input: options.input, crlfDelay: Infinity });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      lines.close();
      await node.stop();
    })();
    return stopping;
  };
  lines.on('line', (line) => {
    if (line === '/peers') {
      const peers = node.peers();
      say(`* ${peers.length} peer(s), this is ${node.id} at ${addr}`);
      for (const p of peers) say(`*   ${p.id} ${p.addr} ${p.state}${p.linked ? ' linked' : ''}`);
    } else if (line.length > 0) {
      node.broadcast({ text: line });
    }
  });
  const ended = new Promise<void>((resolve) => lines.once('close', resolve));
  const done = ended.then(stop);
  return { node, stop, done };
}
