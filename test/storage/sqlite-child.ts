// A separate process that uses a SqliteStore, for the tests of several processes on one file
// and of exiting cleanly. argv: mode, path, then mode-specific arguments.
import { SqliteStore } from '../../src/index.js';

const [mode, path, a, b] = process.argv.slice(2);
// Exit with the parent (its test may have failed or timed out).
process.on('disconnect', () => process.exit(1));
// ...without the channel keeping this process alive: it must exit by itself when done.
process.channel?.unref();

const store = await SqliteStore.open(path === 'default' ? {} : { path: path! });
if (mode === 'write') {
  // Writes keys `${prefix}0..n-1`, many in flight at once.
  const [prefix, n] = [a!, Number(b)];
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < n; i++) jobs.push(store.set(`${prefix}${i}`, i));
  await Promise.all(jobs);
  await store.close();
} else if (mode === 'close') {
  await store.set('child', 'closed');
  await store.close();
} else if (mode === 'leave-open') {
  // Never closes: the process must still exit once nothing is in flight.
  await store.set('child', 'left open');
}
process.stdout.write(`done ${store.path}\n`);
