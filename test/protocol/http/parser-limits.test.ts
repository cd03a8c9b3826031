import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { HttpParserOptions } from '../../../src/protocol/http/parser.js';
import { bytes, FEEDS, run, split, type Outcome } from './harness.js';

/** Runs `text` in one piece and one byte at a time through every feed; all must agree. */
function outcome(text: string, options: HttpParserOptions): Outcome {
  const input = bytes(text);
  const whole = run([input], 'one buffer', options);
  for (const feed of FEEDS) {
    assert.deepEqual(run(split(input, 'bytewise'), feed, options), whole, feed);
  }
  return whole;
}

const status = (text: string, options: HttpParserOptions): number | null =>
  outcome(text, options).error;

describe('HttpRequestParser limits', () => {
  it('parser accepts a request line of exactly maxRequestLineSize and answers 414 above it', () => {
    const line = (n: number): string => `GET /${'a'.repeat(n - 'GET / HTTP/1.1'.length)} HTTP/1.1`;
    const options = { maxRequestLineSize: 64 };
    assert.equal(line(64).length, 64);
    assert.equal(status(`${line(64)}\r\nHost: a\r\n\r\n`, options), null);
    assert.equal(status(`${line(65)}\r\nHost: a\r\n\r\n`, options), 414);
  });

  it('parser answers 414 for an over-long request line before its end arrives', () => {
    const { error } = run([bytes(`GET /${'a'.repeat(100)}`)], 'one buffer', {
      maxRequestLineSize: 64,
    });
    assert.equal(error, 414);
  });

  it('parser accepts exactly maxHeaderCount fields and answers 431 for one more', () => {
    const head = (n: number): string =>
      `GET / HTTP/1.1\r\n${'X: 1\r\n'.repeat(n - 1)}Host: a\r\n\r\n`;
    assert.equal(status(head(5), { maxHeaderCount: 5 }), null);
    assert.equal(status(head(6), { maxHeaderCount: 5 }), 431);
  });

  it('parser accepts a header section of exactly maxHeaderSize and answers 431 above it', () => {
    // Field lines count with their CRLF; the request line and the final blank line do not.
    const head = (size: number): string =>
      `GET / HTTP/1.1\r\nHost: a\r\nX: ${'v'.repeat(size - 9 - 5)}\r\n\r\n`;
    assert.equal(status(head(100), { maxHeaderSize: 100 }), null);
    assert.equal(status(head(101), { maxHeaderSize: 100 }), 431);
  });

  it('parser answers 431 for an over-long header line before its end arrives', () => {
    const { error } = run([bytes(`GET / HTTP/1.1\r\nX: ${'v'.repeat(200)}`)], 'one buffer', {
      maxHeaderSize: 100,
    });
    assert.equal(error, 431);
  });

  it('parser answers 413 for a Content-Length over maxBodySize before reading the body', () => {
    const head = (n: number): string =>
      `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${n}\r\n\r\n`;
    const ok = outcome(`${head(10)}${'b'.repeat(10)}`, { maxBodySize: 10 });
    assert.equal(ok.error, null);
    assert.equal(ok.requests[0]!.body.length, 10);
    // Only the head is sent: the refusal cannot have waited for the body.
    assert.equal(status(head(11), { maxBodySize: 10 }), 413);
  });

  it('parser answers 413 as soon as the chunk sizes add up to more than maxBodySize', () => {
    const head = 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n';
    const ok = outcome(`${head}5\r\naaaaa\r\n5\r\nbbbbb\r\n0\r\n\r\n`, { maxBodySize: 10 });
    assert.equal(ok.error, null);
    assert.equal(ok.requests[0]!.body, 'aaaaabbbbb');
    // The second chunk's data never arrives: the size line alone is refused.
    const over = outcome(`${head}5\r\naaaaa\r\n6\r\n`, { maxBodySize: 10 });
    assert.equal(over.error, 413);
    assert.equal(over.requests[0]!.body, 'aaaaa');
  });

  it('parser applies maxBodySize to each message, not to the connection', () => {
    const req = 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\n\r\n12345678';
    const { error, requests } = outcome(req.repeat(3), { maxBodySize: 8 });
    assert.equal(error, null);
    assert.equal(requests.length, 3);
  });

  it('parser answers 400 for a chunk-size line over maxChunkLineSize', () => {
    const head = 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n';
    const ext = (n: number): string => `1;${'e'.repeat(n - 2)}`;
    assert.equal(status(`${head}${ext(16)}\r\nx\r\n0\r\n\r\n`, { maxChunkLineSize: 16 }), null);
    assert.equal(status(`${head}${ext(17)}\r\nx\r\n0\r\n\r\n`, { maxChunkLineSize: 16 }), 400);
    const partial = run([bytes(`${head}${ext(40)}`)], 'one buffer', { maxChunkLineSize: 16 });
    assert.equal(partial.error, 400);
  });

  it('parser applies maxHeaderCount and maxHeaderSize to the trailer section', () => {
    const head = 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n';
    assert.equal(status(`${head}${'T: 1\r\n'.repeat(3)}\r\n`, { maxHeaderCount: 3 }), null);
    assert.equal(status(`${head}${'T: 1\r\n'.repeat(4)}\r\n`, { maxHeaderCount: 3 }), 431);
    // The header section is 37 bytes; each trailer line below is 20: two fit in 40, three do not.
    const t = `T: ${'1'.repeat(15)}\r\n`;
    assert.equal(status(`${head}${t.repeat(2)}\r\n`, { maxHeaderSize: 40 }), null);
    assert.equal(status(`${head}${t.repeat(3)}\r\n`, { maxHeaderSize: 40 }), 431);
  });
});
