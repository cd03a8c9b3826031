import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  createError,
  ERROR_CODES,
  type ErrorCode,
  isPolyloopError,
  PolyloopError,
} from '../src/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('error codes', () => {
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];

  it('docs/errors.md lists exactly the codes the library defines, with their classes', () => {
    const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| (PL_ERR_[A-Z_]+) \| (\w+) \|/gm)];
    assert.deepEqual(rows.map((r) => r[1]).sort(), [...codes].sort());
    for (const [, code, className] of rows) {
      assert.equal(createError(code as ErrorCode, 'x').name, className, `class of ${code}`);
    }
  });

  it('every PL_ERR_ code used in the sources is defined', () => {
    const used = new Set<string>();
    for (const file of [...sources(join(root, 'src')), ...sources(join(root, 'examples'))]) {
      for (const m of readFileSync(file, 'utf8').matchAll(/PL_ERR_[A-Z_]+/g)) used.add(m[0]);
    }
    for (const code of used)
      assert.ok(codes.includes(code as ErrorCode), `${code} is not in ERROR_CODES`);
  });

  it('createError gives a PolyloopError with the code, message and cause', () => {
    const cause = new Error('root');
    const err = createError('PL_ERR_SOCKET', 'it broke', cause);
    assert.ok(err instanceof PolyloopError);
    assert.ok(err instanceof Error);
    assert.equal(err.code, 'PL_ERR_SOCKET');
    assert.equal(err.message, 'it broke');
    assert.equal(err.cause, cause);
    assert.ok(isPolyloopError(err, 'PL_ERR_SOCKET'));
    assert.ok(!isPolyloopError(err, 'PL_ERR_LISTEN'));
    assert.ok(!isPolyloopError(new Error('plain')));
  });
});
