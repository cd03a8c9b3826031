// Without the native addon: half-sync falls back to process loops fed by Node's handle passing
// (and says so); leader-follower refuses with a clear error. Each case runs in a child process so
// the addon stays disabled for it alone.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./fixtures/fallback-child.js', import.meta.url));

function run(model: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SCRIPT, model], {
      env: { ...process.env, POLYLOOP_NO_NATIVE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('without the native addon', { timeout: 90_000 }, () => {
  it('half-sync serves with process loops and says so at start-up', async () => {
    const r = await run('half-sync');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /half-sync runs process loops fed by Node's handle passing/);
    assert.match(r.stdout, /workers process/);
    assert.match(r.stdout, /loops 0,1/);
  });

  it('leader-follower refuses with PL_ERR_NATIVE_UNAVAILABLE', async () => {
    const r = await run('leader-follower');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /PL_ERR_NATIVE_UNAVAILABLE .*leader-follower/);
  });
});
