import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ProcessPool, type ProcessPoolOptions } from '../../src/index.js';
import { eventually, fixture, poolConformance, TASKS } from './pool-conformance.js';

poolConformance('ProcessPool', (o) => new ProcessPool(o));

/** True while `pid` runs (a zombie waiting to be reaped counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('ProcessPool', { timeout: 120_000 }, () => {
  const pools = new Set<ProcessPool>();
  after(() => Promise.all([...pools].map((p) => p.destroy())));
  const make = (o: Partial<ProcessPoolOptions> = {}): ProcessPool => {
    const p = new ProcessPool({ filename: TASKS, minThreads: 1, maxThreads: 2, ...o });
    pools.add(p);
    return p;
  };

  it('runs tasks in other processes', async () => {
    const pool = make();
    const who = (await pool.run({ op: 'whoami' })) as { pid: number };
    assert.notEqual(who.pid, process.pid);
    assert.ok(pool.processes.some((c) => c.pid === who.pid));
  });

  it('copies what transferList names instead of moving it', async () => {
    const pool = make();
    const buf = new ArrayBuffer(64 * 1024);
    const out = await pool.run(
      { op: 'echoBuffer', buf, reply: 64 * 1024 },
      { transferList: [buf] },
    );
    assert.equal(buf.byteLength, 64 * 1024, 'the sent buffer is still usable here');
    assert.ok(out instanceof ArrayBuffer);
    assert.equal(out.byteLength, 64 * 1024);
  });

  it('carries structured-clone values (Map, Date, typed arrays) both ways', async () => {
    const pool = make({ filename: fixture('add'), name: 'identity' });
    const value = { m: new Map([[1, 'a']]), d: new Date(0), u: new Uint16Array([1, 2, 3]) };
    assert.deepEqual(await pool.run(value), value);
  });

  it('children exit when the parent process dies', async () => {
    const parent = spawn(process.execPath, [fileURLToPath(fixture('process-parent')), 'run'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    after(() => parent.kill('SIGKILL'));
    let out = '';
    parent.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    await eventually(() => out.includes('\n'), 'the parent printed its children');
    const pids = JSON.parse(out) as number[];
    assert.equal(pids.length, 2);
    assert.ok(pids.every(alive));
    parent.kill('SIGKILL');
    await eventually(() => !pids.some(alive), 'every child exited after its parent');
  });
});
