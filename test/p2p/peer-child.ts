// A PeerNode in its own process, for tests that kill a node abruptly: argv[2] is its options as
// JSON. Prints "listening on HOST:PORT" once started. Without an argument it does nothing, so a
// test runner that picks this file up runs an empty file.
import { PeerNode, type PeerNodeOptions } from '../../src/index.js';

const arg = process.argv[2];
if (arg !== undefined) {
  const node = new PeerNode(JSON.parse(arg) as PeerNodeOptions);
  const addr = await node.start();
  process.stdout.write(`listening on ${addr}\n`);
  const stop = (): void => {
    node.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
