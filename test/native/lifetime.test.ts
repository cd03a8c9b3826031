import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { sibling, skip } from './support.js';

describe('native object lifetimes', { skip, timeout: 60_000 }, () => {
  it('frees collected acceptors, keeps started acceptors and running sendFiles alive, and reports a throwing callback', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', sibling('lifetime-child.js')], {
      encoding: 'utf8',
      timeout: 50_000,
      killSignal: 'SIGKILL',
    });
    assert.equal(r.status, 0, `lifetime-child failed (${r.signal ?? r.status}): ${r.stderr}`);
    assert.deepEqual(r.stdout.trim().split('\n'), ['collected', 'pinned', 'task', 'uncaught']);
  });
});
