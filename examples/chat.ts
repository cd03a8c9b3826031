// chat (C/S): length-field framed messages; each one is relayed to every other client.
import { type Connection, defineApp, lengthFieldCodec } from '../src/index.js';

/** The chat wire format: a 4-byte big-endian length, then the UTF-8 text. 64 KiB at most. */
export const chatCodec = lengthFieldCodec({ lengthBytes: 4, maxFrame: 64 * 1024 });

type ChatConnection = Connection<Uint8Array, Uint8Array | string>;

// One loop owns these connections; the set is never touched from another thread.
const clients = new Set<ChatConnection>();

export default defineApp({
  codec: chatCodec,
  onConnection(conn) {
    clients.add(conn);
  },
  onMessage(conn, msg) {
    // msg is a view into conn's input; send() encodes (copies) it at once, so relaying is safe.
    for (const other of clients) if (other !== conn) other.send(msg);
  },
  onClose(conn) {
    clients.delete(conn);
  },
});
