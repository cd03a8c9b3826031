import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cancel, isPolyloopError, runAfter, runEvery, type ErrorCode } from '../../src/index.js';

/** The compiled library, as a child process imports it. */
const INDEX = new URL('../../src/index.js', import.meta.url).href;

/** Resolves after `ms` on a plain timer; used to order events, never to measure them. */
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Awaits `p` while a ref'd 10 s guard timer keeps the loop alive: the timers under test are
 * unref'd, so without it the test process would run out of work before they fire. The bound is a
 * hang guard, not a timing assertion.
 */
async function settled<T>(p: Promise<T>): Promise<T> {
  let guard: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    guard = setTimeout(() => reject(new Error('the timer never fired')), 10_000);
  });
  try {
    return await Promise.race([p, hang]);
  } finally {
    clearTimeout(guard);
  }
}

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isPolyloopError(err), `expected a PolyloopError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs an ES module snippet in a child node with `runAfter`, `runEvery` and `cancel` imported.
 * The 10 s limit is a hang guard: a child still running then is killed and the test fails.
 */
function runChild(body: string): Promise<ChildResult> {
  const source = `import { runAfter, runEvery, cancel } from ${JSON.stringify(INDEX)};\n${body}`;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', source],
      { timeout: 10_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
        resolve({
          code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
          signal: e?.signal ?? null,
          stdout,
          stderr,
        });
      },
    );
  });
}

describe('timers', () => {
  it('runAfter runs the callback once', async () => {
    let calls = 0;
    const ran = new Promise<void>((resolve) => {
      runAfter(5, () => {
        calls++;
        resolve();
      });
    });
    await settled(ran);
    await sleep(30); // a second call, if any, would come before this later timer
    assert.equal(calls, 1);
  });

  it('runAfter with 0 ms runs the callback on a later turn, not synchronously', async () => {
    let ran = false;
    const done = new Promise<void>((resolve) => {
      runAfter(0, () => {
        ran = true;
        resolve();
      });
    });
    assert.equal(ran, false);
    await settled(done);
    assert.equal(ran, true);
  });

  it('cancel prevents a pending runAfter callback', async () => {
    let ran = false;
    const handle = runAfter(10, () => {
      ran = true;
    });
    cancel(handle);
    // Same-duration timers fire in the order they were set: this one would come after it.
    await sleep(10);
    await sleep(20);
    assert.equal(ran, false);
  });

  it('runEvery repeats until cancelled', async () => {
    let calls = 0;
    let handle: ReturnType<typeof runEvery> | undefined;
    await settled(
      new Promise<void>((resolve) => {
        handle = runEvery(5, () => {
          calls++;
          if (calls === 3) {
            cancel(handle);
            resolve();
          }
        });
      }),
    );
    await sleep(5);
    await sleep(30);
    assert.equal(calls, 3, 'no call after cancel');
    assert.equal(handle?.repeat, true);
  });

  it('cancel is harmless when called twice, after the timer ran, or with undefined', async () => {
    const handle = runAfter(1, () => {});
    await sleep(10);
    cancel(handle);
    cancel(handle);
    cancel(undefined);
    const repeating = runEvery(1000, () => {});
    cancel(repeating);
    cancel(repeating);
    assert.equal(handle.repeat, false);
  });

  it('runAfter and runEvery throw PL_ERR_INVALID_ARG for a negative or non-finite delay', () => {
    for (const ms of [-1, Number.NaN, Infinity]) {
      throwsCode(() => runAfter(ms, () => {}), 'PL_ERR_INVALID_ARG');
      throwsCode(() => runEvery(ms, () => {}), 'PL_ERR_INVALID_ARG');
    }
  });

  it('runEvery throws PL_ERR_INVALID_ARG for a 0 ms period', () => {
    throwsCode(() => runEvery(0, () => {}), 'PL_ERR_INVALID_ARG');
  });

  it('a pending runAfter timer does not keep the process alive by default', async () => {
    const r = await runChild(`runAfter(60000, () => { console.log('fired'); process.exit(3); });`);
    assert.equal(r.signal, null, 'the child had to be killed: the timer kept it alive');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
  });

  it('a pending runEvery timer does not keep the process alive by default', async () => {
    const r = await runChild(`runEvery(60000, () => { console.log('fired'); process.exit(3); });`);
    assert.equal(r.signal, null, 'the child had to be killed: the timer kept it alive');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
  });

  it('a runAfter timer with ref: true keeps the process alive until it fires', async () => {
    const r = await runChild(`runAfter(300, () => console.log('fired'), { ref: true });`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'fired\n');
  });

  it('a runEvery timer with ref: true keeps the process alive until it is cancelled', async () => {
    const r = await runChild(
      `let n = 0; const h = runEvery(50, () => { n++; console.log('tick ' + n); if (n === 3) cancel(h); }, { ref: true });`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'tick 1\ntick 2\ntick 3\n');
  });
});
