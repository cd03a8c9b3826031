import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ByteBuffer } from '../../../src/io/byte-buffer.js';
import { isPolyloopError, PolyloopProtocolError, type ErrorCode } from '../../../src/errors.js';
import {
  HttpRequestParser,
  isHttpParseError,
  type HttpParserHandlers,
  type HttpRequest,
} from '../../../src/protocol/http/parser.js';
import { bytes, recorder } from './harness.js';

const GET = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isPolyloopError(err), `expected a PolyloopError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/** A parser whose callbacks are given, or do nothing. */
function parserWith(handlers: Partial<HttpParserHandlers> = {}): HttpRequestParser {
  return new HttpRequestParser({ onRequest: () => {}, ...handlers });
}

describe('HttpRequestParser: incremental input', () => {
  it('parser leaves an incomplete head in the buffer and completes it when the rest arrives', () => {
    const { parser, requests } = recorder();
    const buf = new ByteBuffer();
    buf.append('GET /x HTTP/1.1\r\nHo');
    assert.equal(parser.execute(buf), 0);
    assert.equal(requests.length, 0);
    assert.equal(buf.readableBytes, 19, 'nothing consumed');
    assert.equal(parser.midMessage, true);
    buf.append('st: a\r\n\r\n');
    assert.equal(parser.execute(buf), 28);
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.url, '/x');
    assert.equal(buf.readableBytes, 0);
    assert.equal(parser.midMessage, false);
  });

  it('parser searches each byte of a head once when the head arrives one byte at a time', () => {
    // A Uint8Array that counts the bytes `indexOf` may look at: rescanning the pending head from
    // its start on every call would cost about n^2 / 2.
    let looked = 0;
    class Counting extends Uint8Array {
      override indexOf(value: number, from = 0): number {
        looked += Math.max(0, this.length - from);
        return super.indexOf(value, from);
      }
    }
    const head = bytes(
      `GET /${'p'.repeat(2000)} HTTP/1.1\r\nHost: a\r\nX-Long: ${'v'.repeat(3000)}\r\n\r\n`,
    );
    const { parser, requests } = recorder();
    for (let i = 1; i <= head.length; i++) {
      const consumed = parser.executeBytes(new Counting(head.subarray(0, i)));
      assert.equal(consumed, i === head.length ? head.length : 0);
    }
    assert.equal(requests.length, 1);
    assert.ok(looked < 2 * head.length, `looked at ${looked} bytes for a ${head.length}-byte head`);
  });

  it('parser delivers a Content-Length body in pieces as they arrive, then signals the end', () => {
    const events: string[] = [];
    const parser = parserWith({
      onRequest: (req) => events.push(`head ${req.contentLength}`),
      onBody: (chunk) => events.push(`body ${Buffer.from(chunk).toString()}`),
      onMessageComplete: () => events.push('end'),
    });
    const buf = new ByteBuffer();
    buf.append('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhel');
    parser.execute(buf);
    assert.deepEqual(events, ['head 11', 'body hel']);
    assert.equal(buf.readableBytes, 0, 'body bytes are consumed as they are delivered');
    buf.append('lo wo');
    parser.execute(buf);
    buf.append('rld');
    parser.execute(buf);
    assert.deepEqual(events, ['head 11', 'body hel', 'body lo wo', 'body rld', 'end']);
  });

  it('parser delivers chunked data in pieces without the chunk framing', () => {
    const pieces: string[] = [];
    let ended = 0;
    const parser = parserWith({
      onBody: (chunk) => pieces.push(Buffer.from(chunk).toString()),
      onMessageComplete: () => ended++,
    });
    const buf = new ByteBuffer();
    buf.append('PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabc');
    parser.execute(buf);
    assert.deepEqual(pieces, ['abc']);
    buf.append('def\r\n0\r\n\r\n');
    parser.execute(buf);
    assert.deepEqual(pieces, ['abc', 'def']);
    assert.equal(ended, 1);
  });

  it('parser reports a request with no body complete right after its head', () => {
    const { parser, requests } = recorder();
    parser.executeBytes(bytes(GET));
    assert.equal(requests[0]!.complete, true);
    assert.equal(requests[0]!.body, '');
  });

  it('parser returns the bytes it consumed from executeBytes and honours start/end', () => {
    const { parser, requests } = recorder();
    const input = bytes(`xx${GET}GET /2 HTTP/1.1\r\nyy`);
    const consumed = parser.executeBytes(input, 2, input.length - 2);
    assert.equal(consumed, GET.length);
    assert.equal(requests.length, 1);
    throwsCode(() => parser.executeBytes(input, 3, 2), 'PL_ERR_INVALID_ARG');
    throwsCode(() => parser.executeBytes(input, 0, input.length + 1), 'PL_ERR_INVALID_ARG');
  });
});

describe('HttpRequestParser: views and their lifetime', () => {
  it('parser exposes the target, headers and body as views into the input', () => {
    const input = bytes('POST /v HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi');
    let seen = 0;
    const parser = parserWith({
      onRequest(req) {
        assert.equal(req.urlView.buffer, input.buffer);
        assert.equal(req.headerView('host')!.buffer, input.buffer);
        assert.equal(req.nameView(0).buffer, input.buffer);
        seen++;
      },
      onBody(chunk) {
        assert.equal(chunk.buffer, input.buffer);
        assert.equal(chunk.byteOffset, input.byteOffset + input.length - 2);
        seen++;
      },
    });
    parser.executeBytes(input);
    assert.equal(seen, 2);
  });

  it('parser looks header names up in any case and joins repeated fields', () => {
    let req: HttpRequest | undefined;
    const parser = parserWith({ onRequest: (r) => void (req = r.retain()) });
    parser.executeBytes(
      bytes('GET / HTTP/1.1\r\nHost: a\r\nAccept: x\r\naccept: y\r\nX-E:\r\n\r\n'),
    );
    assert.ok(req);
    assert.equal(req.header('ACCEPT'), 'x, y');
    assert.equal(req.header('x-e'), '');
    assert.equal(req.header('missing'), undefined);
    assert.equal(req.header('hosté'), undefined);
    assert.equal(req.hasHeader('Host'), true);
    assert.equal(req.hasHeader('Hos'), false);
    assert.deepEqual(Buffer.from(req.headerView('accept')!).toString(), 'x');
    assert.equal(req.headerCount, 4);
    assert.deepEqual(Buffer.from(req.valueView(3)).toString(), '');
    const all = req.headers();
    assert.equal(Object.getPrototypeOf(all), null);
    assert.deepEqual({ ...all }, { host: 'a', accept: 'x, y', 'x-e': '' });
    assert.deepEqual(req.rawHeaders(), ['Host', 'a', 'Accept', 'x', 'accept', 'y', 'X-E', '']);
    throwsCode(() => req!.nameView(4), 'PL_ERR_INVALID_ARG');
  });

  it('parser interns standard methods', () => {
    const methods: string[] = [];
    const parser = parserWith({ onRequest: (r) => methods.push(r.method) });
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE']) {
      parser.executeBytes(bytes(`${m} / HTTP/1.1\r\nHost: a\r\n\r\n`));
    }
    assert.deepEqual(methods, [
      'GET',
      'HEAD',
      'POST',
      'PUT',
      'DELETE',
      'OPTIONS',
      'PATCH',
      'TRACE',
    ]);
  });

  it('parser expires a request head when execute returns', () => {
    let req: HttpRequest | undefined;
    const parser = parserWith({ onRequest: (r) => void (req = r) });
    parser.executeBytes(bytes('GET /a HTTP/1.1\r\nHost: a\r\n\r\n'));
    assert.ok(req);
    assert.equal(req.isLive, false);
    throwsCode(() => req!.url, 'PL_ERR_HTTP_STATE');
    throwsCode(() => req!.header('host'), 'PL_ERR_HTTP_STATE');
    throwsCode(() => req!.headers(), 'PL_ERR_HTTP_STATE');
    throwsCode(() => req!.retain(), 'PL_ERR_HTTP_STATE');
    // Plain fields stay readable.
    assert.equal(req.method, 'GET');
    assert.equal(req.keepAlive, true);
  });

  it('parser expires a request head when execute returns before its body is complete', () => {
    let req: HttpRequest | undefined;
    let urlInBody: unknown;
    const parser = parserWith({
      onRequest: (r) => void (req = r),
      onBody: (_chunk, r) => void (urlInBody = r.isLive ? r.url : 'expired'),
    });
    parser.executeBytes(bytes('POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab'));
    assert.equal(urlInBody, '/b', 'live during the execute that delivered the head');
    assert.ok(req);
    assert.equal(req.isLive, false);
    throwsCode(() => req!.urlView, 'PL_ERR_HTTP_STATE');
    parser.executeBytes(bytes('cd'));
    assert.equal(urlInBody, 'expired');
    assert.equal(req.contentLength, 4);
  });

  it('parser expires a pipelined request before parsing the next one', () => {
    const reqs: HttpRequest[] = [];
    let firstUrlLater: unknown;
    const parser = parserWith({
      onRequest(r) {
        if (reqs.length === 1) {
          try {
            firstUrlLater = reqs[0]!.url;
          } catch (err) {
            firstUrlLater = err;
          }
        }
        reqs.push(r);
      },
    });
    parser.executeBytes(bytes(`${GET}${GET}`));
    assert.equal(reqs.length, 2);
    assert.ok(isPolyloopError(firstUrlLater, 'PL_ERR_HTTP_STATE'));
  });

  it('parser keeps a retained request readable after the input is overwritten', () => {
    let req: HttpRequest | undefined;
    const parser = parserWith({ onRequest: (r) => void (req = r.retain()) });
    const input = bytes('GET /keep?me HTTP/1.1\r\nHost: a\r\nX-K: v\r\n\r\n');
    parser.executeBytes(input);
    input.fill(0x21);
    assert.ok(req);
    assert.equal(req.isLive, true);
    assert.equal(req.url, '/keep?me');
    assert.equal(req.header('x-k'), 'v');
    assert.notEqual(req.urlView.buffer, input.buffer);
  });
});

describe('HttpRequestParser: connection semantics', () => {
  it('parser stops after a request without keep-alive and leaves later bytes unconsumed', () => {
    const { parser, requests } = recorder();
    const buf = new ByteBuffer();
    buf.append(`GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n${GET}`);
    parser.execute(buf);
    assert.equal(requests.length, 1);
    assert.equal(parser.closed, true);
    assert.equal(buf.readableBytes, GET.length);
    parser.execute(buf);
    assert.equal(requests.length, 1, 'no request is processed after close');
  });

  it('parser keeps an HTTP/1.0 connection open only with Connection: keep-alive', () => {
    const { parser, requests } = recorder();
    const ka = 'GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n';
    parser.executeBytes(bytes(`${ka}${ka}GET /3 HTTP/1.0\r\n\r\n${ka}`));
    assert.deepEqual(
      requests.map((r) => [r.url, r.keepAlive]),
      [
        ['/1', true],
        ['/1', true],
        ['/3', false],
      ],
    );
    assert.equal(parser.closed, true);
  });

  it('parser pauses after an upgrade request and resumes when the upgrade is declined', () => {
    const { parser, requests } = recorder();
    const buf = new ByteBuffer();
    buf.append('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n');
    buf.append(`\x00\x01binary${GET}`);
    parser.execute(buf);
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.upgrade, true);
    assert.equal(parser.paused, true);
    assert.equal(buf.readableBytes, 8 + GET.length, 'bytes after the upgrade stay in the buffer');
    parser.execute(buf);
    assert.equal(requests.length, 1, 'a paused parser consumes nothing');
    buf.retrieve(8); // the new protocol took its bytes
    parser.resume();
    parser.execute(buf);
    assert.equal(requests.length, 2);
  });

  it('parser pauses after a CONNECT request', () => {
    const { parser, requests } = recorder();
    parser.executeBytes(bytes('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\ntunnel'));
    assert.equal(requests[0]!.upgrade, true);
    assert.equal(parser.paused, true);
  });

  it('parser pauses when a callback asks and goes on after resume', () => {
    const events: string[] = [];
    const parser = parserWith({
      onRequest(req) {
        events.push(`head ${req.url}`);
        parser.pause();
      },
      onBody: (c) => events.push(`body ${c.length}`),
      onMessageComplete: () => events.push('end'),
    });
    const input = bytes(`POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc${GET}`);
    const first = parser.executeBytes(input);
    assert.deepEqual(events, ['head /1']);
    assert.equal(first, input.length - GET.length - 3);
    parser.resume();
    const second = parser.executeBytes(input, first);
    assert.deepEqual(events, ['head /1', 'body 3', 'end', 'head /']);
    assert.equal(first + second, input.length);
  });

  it('parser flags Expect: 100-continue before any of the body arrives', () => {
    const seen: boolean[] = [];
    const parser = parserWith({ onRequest: (r) => seen.push(r.expectContinue) });
    parser.executeBytes(
      bytes('PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n'),
    );
    assert.deepEqual(seen, [true]);
    assert.equal(parser.midMessage, true);
  });

  it('parser refuses an unknown expectation with 417', () => {
    assert.throws(
      () => parserWith().executeBytes(bytes('GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n')),
      (err: unknown) => isHttpParseError(err) && err.status === 417,
    );
  });
});

describe('HttpRequestParser: errors and state', () => {
  it('parser throws a protocol error carrying the status and reason phrase', () => {
    const parser = parserWith();
    assert.throws(
      () => parser.executeBytes(bytes('GET / HTTP/1.1\r\nHost : a\r\n\r\n')),
      (err: unknown) => {
        assert.ok(err instanceof PolyloopProtocolError);
        assert.ok(isHttpParseError(err));
        assert.equal(err.code, 'PL_ERR_HTTP_PARSE');
        assert.equal(err.status, 400);
        assert.equal(err.reason, 'Bad Request');
        assert.match(err.message, /Host : a/);
        return true;
      },
    );
  });

  it('parser stays failed after an error until reset', () => {
    const { parser, requests } = recorder();
    assert.throws(() => parser.executeBytes(bytes('GET / HTTP/9.9\r\n\r\n')));
    assert.throws(
      () => parser.executeBytes(bytes(GET)),
      (err: unknown) => isHttpParseError(err) && err.status === 505,
    );
    assert.equal(requests.length, 0);
    parser.reset();
    parser.executeBytes(bytes(GET));
    assert.equal(requests.length, 1);
  });

  it('parser refuses to be re-entered from a callback', () => {
    let inner: unknown;
    const parser = parserWith({
      onRequest() {
        try {
          parser.executeBytes(bytes(GET));
        } catch (err) {
          inner = err;
        }
      },
    });
    parser.executeBytes(bytes(GET));
    assert.ok(isPolyloopError(inner, 'PL_ERR_HTTP_STATE'));
    throwsCode(() => {
      const p = parserWith({ onRequest: () => p.reset() });
      p.executeBytes(bytes(GET));
    }, 'PL_ERR_HTTP_STATE');
  });

  it('parser rejects a bad option with PL_ERR_INVALID_ARG', () => {
    throwsCode(
      () => new HttpRequestParser({ onRequest() {} }, { maxHeaderCount: 0 }),
      'PL_ERR_INVALID_ARG',
    );
    throwsCode(
      () => new HttpRequestParser({ onRequest() {} }, { maxBodySize: -1 }),
      'PL_ERR_INVALID_ARG',
    );
    throwsCode(
      () => new HttpRequestParser({ onRequest() {} }, { maxHeaderSize: 1.5 }),
      'PL_ERR_INVALID_ARG',
    );
    assert.equal(
      new HttpRequestParser({ onRequest() {} }, { maxBodySize: 0 }).limits.maxBodySize,
      0,
    );
  });

  it('parser reports the defaults it enforces', () => {
    assert.deepEqual(
      { ...parserWith().limits },
      {
        maxRequestLineSize: 8192,
        maxHeaderSize: 65536,
        maxHeaderCount: 100,
        maxBodySize: 1048576,
        maxChunkLineSize: 4096,
      },
    );
  });
});
