// The site's scrypt task, called directly and through a ThreadPool as the site runs it.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ThreadPool } from '../../../src/index.js';
import run, {
  hashPassword,
  verifyPassword,
  type HashTask,
} from '../../../examples/site/hash-task.js';

describe('site hash task', () => {
  it('hashes with a fresh salt and the cost in the text, and verifies only the right password', () => {
    const a = hashPassword('correct horse');
    const b = hashPassword('correct horse');
    assert.match(a, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, b, 'salted');
    assert.equal(verifyPassword('correct horse', a), true);
    assert.equal(verifyPassword('correct horse', b), true);
    assert.equal(verifyPassword('correct horsE', a), false);
    assert.equal(verifyPassword('', a), false);
  });

  it('treats canonically equal passwords as equal (NFC)', () => {
    const h = hashPassword('caf\u00e9 au lait');
    assert.equal(verifyPassword('cafe\u0301 au lait', h), true);
  });

  it('refuses malformed or foreign hashes instead of throwing', () => {
    const good = hashPassword('pw pw pw pw');
    for (const bad of [
      '',
      'plain text',
      good.replace('scrypt', 'bcrypt'),
      good.split('$').slice(0, 5).join('$'),
      good.replace('$16384$', '$0$'),
      good.replace('$16384$', '$abc$'),
      good.replace('$16384$', `$${2 ** 30}$`), // beyond maxmem
      good.slice(0, -4),
    ]) {
      assert.equal(verifyPassword('pw pw pw pw', bad), false, bad);
    }
  });

  it('runs on a ThreadPool worker', async () => {
    const pool = new ThreadPool<HashTask, string | boolean>({
      filename: new URL('../../../examples/site/hash-task.js', import.meta.url),
      minThreads: 0,
      maxThreads: 1,
    });
    after(() => pool.close());
    const stored = (await pool.run({ op: 'hash', password: 'from a thread' })) as string;
    assert.equal(await pool.run({ op: 'verify', password: 'from a thread', stored }), true);
    assert.equal(await pool.run({ op: 'verify', password: 'from a thraed', stored }), false);
    assert.equal(run({ op: 'verify', password: 'from a thread', stored }), true);
  });
});
