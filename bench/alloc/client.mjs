// The load side of bench/alloc: SESSIONS connections to the echo server, each keeping DEPTH
// length-field frames of SIZE payload bytes in flight. Traffic runs in windows of WINDOW echoed
// frames: `start` on the control port, the frames, `stop`; the server reports what it allocated.
// Windows with a GC in them are void and run again, half as long (down to 16 messages), until
// MESSAGES frames were measured in clean windows or 1,000 windows ran. Prints one JSON line with
// the sums.
//
//   node bench/alloc/client.mjs --port P --control C --size 64 --sessions 10 --depth 4
//       --messages 100000 --window 2000 --warmup 20000
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    control: { type: 'string' },
    size: { type: 'string', default: '64' },
    sessions: { type: 'string', default: '10' },
    depth: { type: 'string', default: '4' },
    messages: { type: 'string', default: '100000' },
    window: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '20000' },
  },
});
const int = (k) => {
  const n = Number(values[k]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${k}: not an integer: ${values[k]}`);
  return n;
};
const [size, nSessions, depth, messages, window, warmup] = [
  'size',
  'sessions',
  'depth',
  'messages',
  'window',
  'warmup',
].map(int);
const host = values.host;

const frame = Buffer.alloc(4 + size);
frame.writeUInt32BE(size, 0);
for (let i = 4; i < frame.length; i++) frame[i] = i & 255;

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port: Number(port), noDelay: true });
    s.once('connect', () => resolve(s)).once('error', reject);
  });
}

// ---- control -------------------------------------------------------------------------------
const ctl = await connect(values.control);
ctl.setEncoding('utf8');
let ctlText = '';
const ctlWaiters = [];
ctl.on('data', (d) => {
  ctlText += d;
  for (let i; (i = ctlText.indexOf('\n')) >= 0;) {
    const line = ctlText.slice(0, i);
    ctlText = ctlText.slice(i + 1);
    ctlWaiters.shift()?.(line);
  }
});
const command = (cmd) =>
  new Promise((resolve) => {
    ctlWaiters.push(resolve);
    ctl.write(`${cmd}\n`);
  });

// ---- echo sessions -------------------------------------------------------------------------
// A budget of frames to send; each session sends while budget is left and counts whole echoes.
let budget = 0;
let outstanding = 0;
let done;
const sessions = await Promise.all(Array.from({ length: nSessions }, () => connect(values.port)));
for (const s of sessions) {
  let pending = 0; // bytes of the frame being received
  s.on('data', (d) => {
    pending += d.length;
    while (pending >= frame.length) {
      pending -= frame.length;
      outstanding--;
      if (budget > 0) {
        budget--;
        outstanding++;
        s.write(frame);
      }
    }
    if (outstanding === 0 && budget === 0) done?.();
  });
  s.on('error', (err) => {
    process.stderr.write(`alloc client: ${err.message}\n`);
    process.exit(1);
  });
}

/** Sends `n` frames over every session, `depth` in flight each, and resolves once all came back. */
function run(n) {
  budget = n;
  return new Promise((resolve) => {
    done = resolve;
    for (let k = 0; k < depth; k++) {
      for (const s of sessions) {
        if (budget === 0) break;
        budget--;
        outstanding++;
        s.write(frame);
      }
    }
  });
}

await run(warmup);
const sum = { messages: 0, heap: 0, external: 0, windows: 0, voidWindows: 0, seconds: 0 };
let pool = null;
let n = window;
while (sum.messages < messages && sum.windows + sum.voidWindows < 1000) {
  await command('start');
  const t0 = process.hrtime.bigint();
  await run(n);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const r = JSON.parse(await command('stop'));
  pool = r.pool;
  if (r.gcs > 0) {
    sum.voidWindows++;
    n = Math.max(16, n >> 1);
    continue;
  }
  sum.windows++;
  sum.messages += n;
  sum.heap += r.heap;
  sum.external += r.external;
  sum.seconds += seconds;
}
for (const s of sessions) s.destroy();
ctl.destroy();
process.stdout.write(`${JSON.stringify({ ...sum, lastWindow: n, pool })}\n`);
