import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutBuffer, textLength } from '../../../src/protocol/http/out-buffer.js';
import { Ending, httpDate, writeHead } from '../../../src/protocol/http/response-head.js';

const str = (out: OutBuffer): string => Buffer.from(out.view()).toString('latin1');

describe('OutBuffer', () => {
  it('decimal writes every digit of small and large integers', () => {
    for (const n of [0, 7, 9, 10, 99, 100, 101, 999, 1000, 12345, 1e6, 2 ** 31, 2 ** 53 - 1]) {
      const out = new OutBuffer(1);
      out.decimal(n);
      assert.equal(str(out), String(n));
    }
  });

  it('text writes UTF-8 and textLength counts its bytes, short or long, ASCII or not', () => {
    for (const s of [
      '',
      'Hello, World!',
      'héllo ✓',
      '😀',
      'a'.repeat(64),
      'a'.repeat(65),
      'é'.repeat(100),
    ]) {
      const out = new OutBuffer(2);
      const n = textLength(s);
      assert.equal(n, Buffer.byteLength(s), s);
      out.text(s, n);
      assert.equal(Buffer.from(out.view()).toString('utf8'), s);
    }
  });

  it('latin1 writes one byte per character, short or long', () => {
    for (const s of ['', 'abc\xff', 'x\xe9'.repeat(50)]) {
      const out = new OutBuffer(1);
      out.latin1(s);
      assert.deepEqual(Buffer.from(out.view()), Buffer.from(s, 'latin1'));
    }
  });

  it('keeps its content when it grows', () => {
    const out = new OutBuffer(4);
    const parts: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const p = Buffer.from(`part ${i};`);
      parts.push(p);
      out.append(p);
    }
    assert.deepEqual(Buffer.from(out.view()), Buffer.concat(parts));
    out.clear();
    assert.equal(out.length, 0);
  });
});

describe('writeHead', () => {
  it('writes status, Date, type, length and ending for each pair, however they alternate', () => {
    const out = new OutBuffer();
    const cases: [number, string, number, Ending, string][] = [
      [200, 'text/plain', 13, Ending.None, ''],
      [404, 'text/plain', 10, Ending.Close, 'Connection: close\r\n'],
      [200, '', 0, Ending.KeepAlive, 'Connection: keep-alive\r\n'],
      [201, 'application/json', 123456, Ending.None, ''],
      [200, 'text/plain', 7, Ending.None, ''],
      [599, 'x/y', 1, Ending.None, ''],
    ];
    // More pairs than the cache holds, twice over: replaced entries must come back right.
    for (let i = 0; i < 40; i++) cases.push([200 + i, `t/${i}`, i, Ending.None, '']);
    for (const round of [1, 2]) {
      for (const [code, type, length, ending, conn] of cases) {
        out.clear();
        writeHead(out, code, type, length, ending);
        const reason = code === 200 ? 'OK' : code === 404 ? 'Not Found' : undefined;
        const text = str(out);
        assert.ok(text.startsWith(`HTTP/1.1 ${code} `), `round ${round}: ${text}`);
        if (reason !== undefined) assert.ok(text.startsWith(`HTTP/1.1 ${code} ${reason}\r\n`));
        const ct = type === '' ? '' : `Content-Type: ${type}\r\n`;
        const tail = `\r\n${ct}Content-Length: ${length}\r\n${conn}\r\n`;
        assert.ok(text.endsWith(tail), `round ${round}: ${JSON.stringify(text)}`);
        // The date the cache holds is the current one (or, across a second boundary, the last).
        const date = /\r\nDate: ([^\r]*)\r\n/.exec(text)?.[1];
        assert.match(date ?? '', /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/);
        assert.ok(Math.abs(Date.parse(date!) - Date.parse(httpDate())) <= 1000, date);
      }
    }
  });
});
