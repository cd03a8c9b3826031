// Messages per second from a producer thread to a consumer thread: ByteRing (shared memory,
// `waitForData`/`waitForSpace` wake-ups) against MessagePort.postMessage of the same payload,
// copied by structured clone each time, and of a transferred ArrayBuffer.
//
// Variants: ring (tryPush, tryPop: a copy in and a copy out), ringInto (tryPush, tryPopInto into
// one reused buffer), ringView (in place: the producer writes the payload into tryReserve's room
// and commits; the consumer reads it with tryPeek and releases it), postMessage, transfer.
// Every message carries its number (mod 256) in its first and last byte; the consumer checks the
// length and both bytes of every message, in every variant.
//
// The producer is a worker thread (rings/producer.mjs), the consumer the main thread; both run
// in this process, so the two threads share the machine's cores (no taskset pinning per thread).
// The clock starts when the consumer posts 'go' (once the producer said it is ready) and stops
// when it has received the last message (each one's length checked). For each size the variants
// run back to back, in --repeat rounds (5; 1 with --quick); the median round of each is reported.
// Compare the ratios.
//
//   node bench/run.mjs rings [--quick] [--sizes 64,4096] [--messages N] [--repeat 5]
//       [--variants ring,ringInto,ringView,postMessage,transfer] [--ring-bytes 1048576]
//       [--build] [--out FILE]
import { MessageChannel, Worker } from 'node:worker_threads';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ensureBuilt,
  grid,
  list,
  machine,
  num,
  parseOptions,
  positiveInt,
  ratio,
  root,
  writeResults,
} from '../lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const VARIANTS = ['ring', 'ringInto', 'ringView', 'postMessage', 'transfer'];
const RING_VARIANTS = VARIANTS.filter((v) => v.startsWith('ring'));
/** The goal reported (never enforced): the best ring variant ≥ 3× postMessage at every size. */
const GOAL = 3;

export async function main(argv) {
  const opts = options(argv);
  ensureBuilt('rings', path.join(root, 'dist/src/index.js'), opts.build);
  const { ByteRing } = await import('../../dist/src/index.js');
  const runs = [];
  for (const size of opts.sizes) {
    const count = opts.messages ?? Math.round((size <= 1024 ? 500_000 : 100_000) / opts.scale);
    // Rounds of every variant in turn: load from elsewhere on the machine then hits each variant
    // alike, and the median of the rounds is what counts.
    const samples = new Map(opts.variants.map((v) => [v, []]));
    for (let round = 1; round <= opts.repeat; round++) {
      for (const variant of opts.variants) {
        const r = await measure(ByteRing, variant, size, count, opts.ringBytes);
        process.stderr.write(
          `rings: ${size} B ${variant} (${round}/${opts.repeat}): ${Math.round(r.msgsPerSec)} msg/s\n`,
        );
        samples.get(variant).push(r);
      }
    }
    for (const variant of opts.variants) runs.push(median(samples.get(variant)));
  }
  report(opts, runs);
  return 0;
}

function options(argv) {
  const { values, common } = parseOptions(
    argv,
    {
      sizes: { type: 'string', default: '64,4096' },
      messages: { type: 'string' },
      variants: { type: 'string', default: VARIANTS.join(',') },
      'ring-bytes': { type: 'string', default: String(1 << 20) },
      repeat: { type: 'string', default: '5' },
    },
    path.resolve(here, '../results/rings.json'),
  );
  const variants = list(values.variants);
  for (const v of variants) if (!VARIANTS.includes(v)) throw new Error(`--variants: unknown ${v}`);
  return {
    build: common.build,
    out: common.out,
    scale: values.quick ? 5 : 1,
    sizes: list(values.sizes).map((x) => positiveInt('sizes', x)),
    messages: values.messages === undefined ? undefined : positiveInt('messages', values.messages),
    variants,
    ringBytes: positiveInt('ring-bytes', values['ring-bytes']),
    repeat: values.quick ? 1 : positiveInt('repeat', values.repeat),
  };
}

/** The run with the median rate among `rs` (each round's rate kept in `rounds`). */
function median(rs) {
  const sorted = [...rs].sort((a, b) => a.msgsPerSec - b.msgsPerSec);
  const mid = sorted[(sorted.length - 1) >> 1];
  return { ...mid, rounds: rs.map((r) => Math.round(r.msgsPerSec)) };
}

async function measure(ByteRing, variant, size, count, ringBytes) {
  const data = { variant, size, count };
  const transferList = [];
  let ring;
  let port;
  if (variant.startsWith('ring')) {
    ring = ByteRing.create(ringBytes);
    data.buffer = ring.buffer;
  } else {
    const channel = new MessageChannel();
    port = channel.port1;
    data.port = channel.port2;
    transferList.push(channel.port2);
  }
  const worker = new Worker(path.join(here, 'producer.mjs'), { workerData: data, transferList });
  const failed = new Promise((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`producer exited with ${code}`));
    });
  });
  // 'ready' comes once the producer has loaded the library (hundreds of ms) and listens for 'go':
  // 'online' comes before that, and the load would count as transfer time.
  await Promise.race([
    new Promise((resolve) => worker.once('message', (m) => m === 'ready' && resolve())),
    failed,
  ]);
  let bad = 0;
  const t0 = process.hrtime.bigint();
  worker.postMessage('go');
  // Message n must carry n & 255 in its first and last byte.
  const check = (bytes, at, length, n) => {
    if (length !== size || bytes[at] !== (n & 255) || bytes[at + length - 1] !== (n & 255)) bad++;
  };
  const received =
    variant === 'ringView'
      ? (async () => {
          const bytes = ring.bytes;
          let n = 0;
          while (n < count) {
            let at;
            while ((at = ring.tryPeek()) >= 0) {
              check(bytes, at, ring.peekLength, n++);
              ring.release();
            }
            if (n < count) await ring.waitForData();
          }
        })()
      : variant === 'ringInto'
        ? (async () => {
            const into = new Uint8Array(size);
            let n = 0;
            while (n < count) {
              let len;
              while ((len = ring.tryPopInto(into)) >= 0) check(into, 0, len, n++);
              if (n < count) await ring.waitForData();
            }
          })()
        : variant === 'ring'
          ? (async () => {
              let n = 0;
              while (n < count) {
                let m;
                while ((m = ring.tryPop()) !== undefined) check(m, 0, m.length, n++);
                if (n < count) await ring.waitForData();
              }
            })()
          : new Promise((resolve) => {
              let n = 0;
              port.on('message', (m) => {
                // postMessage: a Uint8Array; transfer: an ArrayBuffer (a view to read it).
                const bytes = variant === 'transfer' ? new Uint8Array(m) : m;
                check(bytes, 0, bytes.length, n);
                if (++n === count) resolve();
              });
            });
  await Promise.race([received, failed]);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  port?.close();
  failed.catch(() => {});
  await worker.terminate();
  if (bad > 0) throw new Error(`${variant} ${size} B: ${bad} messages had a wrong length or byte`);
  return {
    variant,
    size,
    messages: count,
    seconds,
    msgsPerSec: count / seconds,
    mibPerSec: (count * size) / seconds / 2 ** 20,
  };
}

function report(opts, runs) {
  const find = (size, variant) => runs.find((r) => r.size === size && r.variant === variant);
  const rows = runs.map((r) => [
    `${r.size} B`,
    r.variant,
    String(r.messages),
    num(r.msgsPerSec / 1e6, 3),
    num(r.mibPerSec, 1),
    num(ratio(r.msgsPerSec, find(r.size, 'postMessage')?.msgsPerSec), 2),
  ]);
  const head = ['size', 'variant', 'messages', 'M msg/s', 'MiB/s', '/postMessage'];
  const ratios = opts.sizes.map((size) => {
    const post = find(size, 'postMessage')?.msgsPerSec;
    const overPost = {};
    for (const v of RING_VARIANTS) overPost[v] = ratio(find(size, v)?.msgsPerSec, post);
    const best = RING_VARIANTS.map((v) => find(size, v))
      .filter((r) => r !== undefined)
      .sort((a, b) => b.msgsPerSec - a.msgsPerSec)[0];
    return {
      size,
      overPostMessage: overPost,
      best: best?.variant ?? null,
      bestOverPostMessage: ratio(best?.msgsPerSec, post),
      ringOverPostMessage: overPost.ring,
      ringOverTransfer: ratio(find(size, 'ring')?.msgsPerSec, find(size, 'transfer')?.msgsPerSec),
    };
  });
  const lines = grid(head, rows, 2);
  for (const r of ratios) {
    const met = r.bestOverPostMessage !== null && r.bestOverPostMessage >= GOAL;
    lines.push(
      `${r.size} B: best ring variant ${r.best ?? '-'} / postMessage ${num(r.bestOverPostMessage, 2)} (goal ≥ ${GOAL}: ${met ? 'met' : 'NOT met'})`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  writeResults('rings', opts.out, {
    benchmark: 'rings',
    date: new Date().toISOString(),
    machine: machine(),
    params: {
      sizes: opts.sizes,
      variants: opts.variants,
      ringBytes: opts.ringBytes,
      repeat: opts.repeat,
    },
    runs,
    ratios,
    goal: `best ring variant ≥ ${GOAL}× postMessage (Uint8Array copy) at every size`,
  });
}
