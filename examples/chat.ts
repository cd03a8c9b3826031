// chat (C/S): length-field framed messages; each one is relayed to every other client, on every
// loop: clients of this loop directly, clients of the other loops through `broadcast`.
import { type Connection, currentLoop, defineApp, lengthFieldCodec } from '../src/index.js';

/** The chat wire format: a 4-byte big-endian length, then the UTF-8 text. 64 KiB at most. */
export const chatCodec = lengthFieldCodec({ lengthBytes: 4, maxFrame: 64 * 1024 });

type ChatConnection = Connection<Uint8Array, Uint8Array | string>;

export default function chat(): ReturnType<typeof defineApp<Uint8Array, Uint8Array | string>> {
  const loop = currentLoop();
  // This loop's clients; the set is never touched from another thread.
  const clients = new Set<ChatConnection>();
  loop.onMessage((data) => {
    for (const c of clients) c.send(data as Uint8Array);
  });
  return defineApp<Uint8Array, Uint8Array | string>({
    codec: chatCodec,
    onConnection(conn) {
      clients.add(conn);
    },
    onMessage(conn, msg) {
      // msg is a view into conn's input; send() encodes (copies) it at once, so relaying is safe.
      for (const other of clients) if (other !== conn) other.send(msg);
      if (loop.count > 1) {
        // Other loops get their own copy: a view would drag its whole read buffer along.
        const copy = new Uint8Array(msg.length);
        copy.set(msg);
        loop.broadcast(copy);
      }
    },
    onClose(conn) {
      clients.delete(conn);
    },
  });
}
