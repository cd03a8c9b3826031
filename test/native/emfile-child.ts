// Run by emfile.test.ts under `prlimit --nofile=64:64`: a native acceptor that keeps every fd it
// accepts, so the process runs out of fds. Commands on stdin, one per line:
//   stats   -> prints {"accepted":..,"shed":..,"errors":..,"lastError":..,"held":..}
//   release -> closes every held fd, prints "released"
import { createInterface } from 'node:readline';
import { requireNative } from '../../native/index.js';

const n = requireNative('emfile test');
const lfd = n.listen({ host: '127.0.0.1', port: 0, backlog: 512 });
const held: number[] = [];
const acceptor = n.createAcceptor(lfd, (fds) => held.push(...fds));
acceptor.start();
console.log(`port ${n.localPort(lfd)}`);

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'stats') {
    const { accepted, shed, errors, lastError } = acceptor;
    console.log(JSON.stringify({ accepted, shed, errors, lastError, held: held.length }));
  } else if (line === 'release') {
    held.splice(0).forEach((fd) => n.close(fd));
    console.log('released');
  } else if (line === 'exit') {
    acceptor.close();
    n.close(lfd);
    process.exit(0);
  }
});
