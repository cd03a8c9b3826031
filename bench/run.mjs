// Runs one benchmark: `node bench/run.mjs <name> [args...]` (or `npm run bench -- <name> ...`).
// Each benchmark is bench/<name>/index.mjs exporting `main(args)`, which resolves to an exit code.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here, { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(path.join(here, e.name, 'index.mjs')))
  .map((e) => e.name)
  .sort();

const [name, ...args] = process.argv.slice(2);
if (name === undefined || !available.includes(name)) {
  if (name !== undefined && name !== '--help') process.stderr.write(`unknown benchmark: ${name}\n`);
  process.stderr.write(
    `usage: node bench/run.mjs <name> [args...]\nbenchmarks: ${available.join(', ')}\n`,
  );
  process.exit(1);
}

const { main } = await import(pathToFileURL(path.join(here, name, 'index.mjs')).href);
try {
  process.exitCode = await main(args);
} catch (err) {
  process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
