import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { diagnose, formatDoctor } from '../../src/cli/doctor.js';
import type { SystemLimits } from '../../src/io/sys.js';
import { nodeHasReusePort, readSystemLimits } from '../../src/io/sys.js';
import { CLI } from '../helpers.js';

const roomy: SystemLimits = {
  fdSoft: 1_048_576,
  fdHard: 1_048_576,
  somaxconn: 4096,
  tcpMaxSynBacklog: 4096,
  fileMax: 9_000_000,
  nrOpen: 1_048_576,
  epollMaxUserWatches: 4_000_000,
  localPortRange: [1024, 65535],
  tcpTwReuse: 2,
};
const base = { backlog: 511, wantFds: 65_536, native: { available: true }, nodeVersion: '24.1.0' };

describe('polyloop doctor', () => {
  it('finds nothing limiting on a well-tuned machine', () => {
    const checks = diagnose({ ...base, limits: roomy });
    assert.deepEqual(
      checks.filter((c) => c.status === 'limit'),
      [],
    );
    assert.match(formatDoctor(checks), /nothing limits a server here/);
  });

  it('names each limiting value with the exact command that lifts it', () => {
    const checks = diagnose({
      ...base,
      limits: { ...roomy, fdSoft: 1024, somaxconn: 128, localPortRange: [32768, 40000] },
      native: { available: false, reason: 'not built' },
    });
    const limits = Object.fromEntries(
      checks.filter((c) => c.status === 'limit').map((c) => [c.name, c.advice]),
    );
    assert.deepEqual(Object.keys(limits).sort(), [
      'fd soft limit (RLIMIT_NOFILE)',
      'native addon',
      'net.core.somaxconn',
      'net.ipv4.ip_local_port_range',
    ]);
    assert.match(limits['fd soft limit (RLIMIT_NOFILE)']!, /ulimit -n 65536/);
    assert.match(limits['net.core.somaxconn']!, /sysctl -w net\.core\.somaxconn=4096/);
    assert.match(formatDoctor(checks), /4 setting\(s\) limit a server here/);
  });

  it('compares somaxconn with the configured backlog', () => {
    const checks = diagnose({ ...base, backlog: 8192, limits: roomy });
    const c = checks.find((x) => x.name === 'net.core.somaxconn')!;
    assert.equal(c.status, 'limit');
    assert.match(c.advice!, /=8192/);
  });

  it('knows which Node versions honour reusePort', () => {
    assert.equal(nodeHasReusePort('20.20.2'), false);
    assert.equal(nodeHasReusePort('22.11.0'), false);
    assert.equal(nodeHasReusePort('22.12.0'), true);
    assert.equal(nodeHasReusePort('23.1.0'), true);
    assert.equal(nodeHasReusePort('24.0.0'), true);
  });

  it("reads this machine's limits from /proc", () => {
    const l = readSystemLimits();
    assert.ok((l.fdSoft ?? 0) > 0);
    assert.ok((l.somaxconn ?? 0) > 0);
  });

  it('prints JSON with --json and exits 0 or 1 as the checks say', () => {
    const r = spawnSync(process.execPath, [CLI, 'doctor', '--json'], { encoding: 'utf8' });
    const report = JSON.parse(r.stdout) as { limiting: boolean; checks: { status: string }[] };
    assert.equal(r.status, report.limiting ? 1 : 0);
    assert.equal(
      report.limiting,
      report.checks.some((c) => c.status === 'limit'),
    );
    const human = spawnSync(process.execPath, [CLI, 'doctor'], { encoding: 'utf8' });
    assert.equal(human.status, r.status);
    assert.match(human.stdout, /net\.core\.somaxconn/);
  });
});
