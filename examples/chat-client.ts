// The chat client: lines typed on stdin go to the server; messages from others print as lines.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { TcpClient, type Connection } from '../src/index.js';
import { chatCodec } from './chat.js';

export interface ChatClientOptions {
  host: string;
  port: number;
  input: Readable;
  output: Writable;
}

/** Runs until stdin ends or the server goes away. Resolves when the client has stopped. */
export async function runChatClient(options: ChatClientOptions): Promise<void> {
  const decoder = new TextDecoder();
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const client = new TcpClient(
    {
      codec: chatCodec,
      onMessage(_conn, msg) {
        options.output.write(`${decoder.decode(msg)}\n`);
      },
      onClose() {
        done();
      },
    },
    { host: options.host, port: options.port, retry: false },
  );
  const conn: Connection<Uint8Array, Uint8Array | string> = await client.connect();
  const lines = createInterface({ input: options.input, crlfDelay: Infinity });
  lines.on('line', (line) => conn.send(line));
  lines.on('close', () => client.stop());
  await finished;
  lines.close();
}
