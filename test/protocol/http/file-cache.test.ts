import assert from 'node:assert/strict';
import { fstatSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { delay } from '../../helpers.js';
import { FileCache, NOT_A_FILE, type CachedFile } from '../../../src/protocol/http/file-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'pl-file-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function acquire(cache: FileCache, path: string): Promise<CachedFile> {
  const got = await cache.acquire(path);
  assert.notEqual(got, NOT_A_FILE, path);
  return got as CachedFile;
}

/** True while `fd` is open on the file with inode `ino` (a reused number does not count). */
function openOn(fd: number, ino: number): boolean {
  try {
    return fstatSync(fd).ino === ino;
  } catch {
    return false;
  }
}

/** Waits (up to 10 s) until `fd` no longer refers to inode `ino`: closes are asynchronous. */
async function closedSoon(fd: number, ino: number): Promise<void> {
  for (let i = 0; i < 1000 && openOn(fd, ino); i++) await delay(10);
  assert.ok(!openOn(fd, ino), `fd ${fd} still open`);
}

describe('FileCache', () => {
  it('acquire opens a file once and answers later requests synchronously', async () => {
    const cache = new FileCache({ ttl: 60_000 });
    after(() => cache.clear());
    const path = join(dir, 'a.txt');
    writeFileSync(path, 'hello');
    const first = await acquire(cache, path);
    assert.equal(first.size, 5);
    const second = cache.acquire(path);
    assert.ok(!(second instanceof Promise), 'a fresh entry needs no promise');
    assert.equal(second, first);
    cache.release(first);
    cache.release(first);
    assert.equal(cache.size, 1);
  });

  it('acquire reports a missing path or a directory as NOT_A_FILE', async () => {
    const cache = new FileCache();
    after(() => cache.clear());
    mkdirSync(join(dir, 'sub'), { recursive: true });
    assert.equal(await cache.acquire(join(dir, 'missing')), NOT_A_FILE);
    assert.equal(await cache.acquire(join(dir, 'sub')), NOT_A_FILE);
    assert.equal(await cache.acquire(join(dir, 'missing', 'x')), NOT_A_FILE);
    assert.equal(cache.size, 0);
  });

  it('acquire reopens a file that changed once ttl has passed, closing the old one when released', async () => {
    const cache = new FileCache({ ttl: 20 });
    after(() => cache.clear());
    const path = join(dir, 'b.txt');
    writeFileSync(path, 'one');
    const old = await acquire(cache, path);
    const oldIno = fstatSync(old.fd).ino;
    rmSync(path);
    writeFileSync(path, 'three'); // a new inode at the same path
    await delay(40);
    const now = await acquire(cache, path);
    assert.notEqual(now, old);
    assert.equal(now.size, 5);
    assert.ok(openOn(old.fd, oldIno), 'still open while a transfer uses it');
    cache.release(old);
    await closedSoon(old.fd, oldIno);
    cache.release(now);
    rmSync(path);
    await delay(40);
    assert.equal(await cache.acquire(path), NOT_A_FILE, 'deleted: 404 after ttl');
  });

  it('acquire keeps at most maxFiles open, closing the least recently used', async () => {
    const cache = new FileCache({ maxFiles: 2, ttl: 60_000 });
    after(() => cache.clear());
    const paths = ['c1', 'c2', 'c3'].map((n) => join(dir, n));
    for (const p of paths) writeFileSync(p, p);
    const c1 = await acquire(cache, paths[0]!);
    const ino1 = fstatSync(c1.fd).ino;
    cache.release(c1);
    cache.release(await acquire(cache, paths[1]!));
    cache.release(await acquire(cache, paths[2]!));
    assert.equal(cache.size, 2);
    await closedSoon(c1.fd, ino1);
  });

  it('a sweep closes files unused for a whole ttl, and clear closes the rest', async () => {
    const cache = new FileCache({ ttl: 20 });
    const path = join(dir, 'd.txt');
    writeFileSync(path, 'sweep');
    const f = await acquire(cache, path);
    const ino = statSync(path).ino;
    cache.release(f);
    await closedSoon(f.fd, ino);
    assert.equal(cache.size, 0);
    const g = await acquire(cache, path);
    const gIno = fstatSync(g.fd).ino;
    cache.release(g);
    cache.clear();
    await closedSoon(g.fd, gIno);
  });

  it('rejects bad options', () => {
    assert.throws(() => new FileCache({ maxFiles: 0 }), { code: 'PL_ERR_INVALID_ARG' });
    assert.throws(() => new FileCache({ ttl: -1 }), { code: 'PL_ERR_INVALID_ARG' });
  });
});
