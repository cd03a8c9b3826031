import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { nativeStatus } from '../../native/index.js';

describe('fd limit at start-up', () => {
  it('a server raises a lowered soft fd limit to the hard one, and says so once', (t) => {
    if (!nativeStatus().available) return t.skip('the native addon is not built');
    const src = (p: string): string => JSON.stringify(new URL(p, import.meta.url).href);
    const script = `
      const { native } = await import(${src('../../native/index.js')});
      const { TcpServer } = await import(${src('../../src/index.js')});
      const lines = [];
      const logger = { error() {}, info() {}, debug() {}, warn: (obj, msg) => lines.push(msg) };
      const { hard } = native().getFdLimit();
      native().setFdLimit(Math.min(hard, 256));
      for (const i of [1, 2]) {
        const s = new TcpServer({}, { host: '127.0.0.1', logger });
        await s.listen();
        await s.close(0);
      }
      console.log(JSON.stringify({ hard, after: native().getFdLimit(), lines }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { hard: number; after: { soft: number }; lines: string[] };
    if (out.hard <= 256) return t.skip('the hard limit is already low');
    assert.equal(out.after.soft, out.hard);
    assert.deepEqual(
      out.lines.filter((l) => l.includes('soft fd limit')),
      ['raised the soft fd limit to the hard limit'],
    );
  });
});
