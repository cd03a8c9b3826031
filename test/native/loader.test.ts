import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { native, nativeStatus, requireNative, tryNative } from '../../native/index.js';
import { ERROR_CODES, PolyloopArgumentError } from '../../src/index.js';
import { skip } from './support.js';

const LOADER = fileURLToPath(new URL('../../native/index.js', import.meta.url));
const ERRORS = fileURLToPath(new URL('../../src/errors.js', import.meta.url));
const ADDON = fileURLToPath(new URL('../../../build/Release/polyloop.node', import.meta.url));
const C_SOURCES = fileURLToPath(new URL('../../../native/', import.meta.url));

interface Probe {
  status: { available: boolean; reason?: string };
  tried: boolean;
  code?: string;
  name?: string;
  message?: string;
}

/** Imports the loader at `loader` in a fresh process and reports what it says. */
function probe(loader: string, env: NodeJS.ProcessEnv = {}): Probe {
  const script = `
    const m = await import(${JSON.stringify(pathToFileURL(loader).href)});
    const out = { status: m.nativeStatus(), tried: m.tryNative() !== undefined };
    try { m.requireNative('sendfile'); } catch (e) {
      Object.assign(out, { code: e.code, name: e.name, message: e.message });
    }
    console.log(JSON.stringify(out));`;
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return JSON.parse(stdout) as Probe;
}

describe('native loader', { timeout: 60_000 }, () => {
  it('with POLYLOOP_NO_NATIVE=1 reports the addon unavailable and requireNative names the feature', () => {
    const p = probe(LOADER, { POLYLOOP_NO_NATIVE: '1' });
    assert.equal(p.status.available, false);
    assert.match(p.status.reason ?? '', /POLYLOOP_NO_NATIVE/);
    assert.equal(p.tried, false);
    assert.equal(p.code, 'PL_ERR_NATIVE_UNAVAILABLE');
    assert.equal(p.name, 'PolyloopStateError');
    assert.match(p.message ?? '', /^sendfile needs the polyloop native addon/);
    assert.match(p.message ?? '', /npm rebuild polyloop/);
  });

  it('reports an unbuilt addon with the missing file and how to build it', (t) => {
    // A copy of the package without build/: binding.gyp, the loader and what it imports.
    const root = mkdtempSync(join(tmpdir(), 'polyloop-loader-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    writeFileSync(join(root, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(root, 'binding.gyp'), '{}\n');
    mkdirSync(join(root, 'dist/native'), { recursive: true });
    mkdirSync(join(root, 'dist/src'), { recursive: true });
    copyFileSync(LOADER, join(root, 'dist/native/index.js'));
    copyFileSync(ERRORS, join(root, 'dist/src/errors.js'));
    const p = probe(join(root, 'dist/native/index.js'));
    assert.equal(p.status.available, false);
    assert.match(p.status.reason ?? '', /not built .*build\/Release\/polyloop\.node/);
    assert.equal(p.code, 'PL_ERR_NATIVE_UNAVAILABLE');
    assert.match(p.message ?? '', /sendfile/);
    assert.match(p.message ?? '', /python3, make and a C compiler/);
  });

  it('the C sources raise only codes that ERROR_CODES defines', () => {
    const used = new Set<string>();
    for (const name of readdirSync(C_SOURCES).filter((f) => /\.[ch]$/.test(f))) {
      const text = readFileSync(join(C_SOURCES, name), 'utf8');
      for (const m of text.matchAll(/"(PL_ERR_[A-Z_]+)"/g)) used.add(m[1]!);
    }
    assert.ok(used.size >= 5, `found only ${[...used].join(', ')}`);
    for (const code of used) assert.ok(Object.hasOwn(ERROR_CODES, code), `${code} is not defined`);
  });

  it(
    'loads the built addon once: native(), requireNative() and tryNative() agree',
    { skip },
    () => {
      assert.deepEqual(nativeStatus(), { available: true });
      const n = native();
      assert.equal(requireNative('anything'), n);
      assert.equal(tryNative(), n);
      assert.equal(typeof n.sendFile, 'function');
      // Errors come from the loader's factory: PolyloopError subclasses.
      assert.throws(() => n.dup(-1), PolyloopArgumentError);
    },
  );

  it(
    'the addon required directly still throws Errors with code, errno and syscall',
    { skip },
    () => {
      const script = `
      const a = require(${JSON.stringify(ADDON)});
      try { a.dup(987654); } catch (e) {
        console.log(JSON.stringify({ name: e.name, code: e.code, errno: e.errno, syscall: e.syscall }));
      }`;
      const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      assert.deepEqual(JSON.parse(out), {
        name: 'Error',
        code: 'PL_ERR_NATIVE',
        errno: 'EBADF',
        syscall: 'fcntl',
      });
    },
  );
});
