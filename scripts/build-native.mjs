// Builds the native addon (build/Release/polyloop.node) with npm's bundled node-gyp; `npm install`
// runs it. A failed build is a warning, not a failed install: polyloop then falls back to pure
// TypeScript where it can and names the missing feature where it cannot (docs/native.md).
// POLYLOOP_NATIVE_REQUIRED=1 (CI sets it) turns the warning into exit code 1.
// Extra arguments go to node-gyp: `node scripts/build-native.mjs --debug` builds build/Debug.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const required = !['', '0', undefined].includes(process.env.POLYLOOP_NATIVE_REQUIRED);
const extra = process.argv.slice(2);

const UNAVAILABLE = [
  'the native acceptor (batched accept4, fd shedding on EMFILE)',
  'sendFile (sendfile(2); static files fall back to a stream copy)',
  'fd passing between processes (sendFd/recvFd)',
  'listen() with chosen options (backlog, reusePort on Node 20)',
  'getFdLimit/setFdLimit',
];

function fail(why) {
  const lines = [
    '',
    `polyloop: WARNING: the native addon was not built: ${why}`,
    'polyloop: these features will be unavailable:',
    ...UNAVAILABLE.map((f) => `polyloop:   - ${f}`),
    'polyloop: polyloop works without them; a feature that has no fallback throws',
    'polyloop: PL_ERR_NATIVE_UNAVAILABLE when it is used.',
    'polyloop: to build it later: install python3, make and a C compiler, then run',
    'polyloop:   npm rebuild polyloop',
    '',
  ];
  console.warn(lines.join('\n'));
  if (required) {
    console.error('polyloop: POLYLOOP_NATIVE_REQUIRED is set: failing the install.');
    process.exit(1);
  }
  process.exit(0);
}

if (process.platform !== 'linux')
  fail(`the addon supports Linux only (this is ${process.platform})`);

// Under npm (npm install / npm rebuild) npm names its bundled node-gyp and exports its config
// (nodedir, ...) as npm_config_* variables. Run directly, `npm exec -c` provides the same.
const gyp = process.env.npm_config_node_gyp;
const result =
  gyp !== undefined && existsSync(gyp)
    ? spawnSync(process.execPath, [gyp, 'rebuild', ...extra], { cwd: root, stdio: 'inherit' })
    : spawnSync('npm', ['exec', '--yes=false', '-c', ['node-gyp', 'rebuild', ...extra].join(' ')], {
        cwd: root,
        stdio: 'inherit',
      });

if (result.error !== undefined) fail(`could not run node-gyp: ${result.error.message}`);
if (result.status !== 0)
  fail(`node-gyp exited with ${result.status ?? `signal ${result.signal}`} (its output is above)`);
const built = extra.includes('--debug') ? 'build/Debug' : 'build/Release';
if (!existsSync(new URL(`../${built}/polyloop.node`, import.meta.url)))
  fail(`node-gyp succeeded but ${built}/polyloop.node is missing`);
console.log(`polyloop: native addon built (${built}/polyloop.node)`);
