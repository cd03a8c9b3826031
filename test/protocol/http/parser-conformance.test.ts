/**
 * Raw request texts and what the parser must make of them: the parsed request, or the status of
 * the error response. Every case runs fed in one piece and fed one byte at a time, through each
 * feed of the harness; all must agree.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bytes, FEEDS, run, split, type Outcome, type Parsed } from './harness.js';

interface Case {
  /** Completes "parser accepts ... when" / "parser answers N when". */
  when: string;
  input: string;
  /** Fields the (first) request must have; or the status of the error. */
  expect: Partial<Parsed> | number;
}

const H = 'Host: example.com\r\n';
const get = (headers: string): string => `GET / HTTP/1.1\r\n${H}${headers}\r\n`;
const post = (headers: string, body = ''): string =>
  `POST /p HTTP/1.1\r\n${H}${headers}\r\n${body}`;
const chunked = (body: string): string => post('Transfer-Encoding: chunked\r\n', body);

const accepted: Case[] = [
  {
    when: 'a minimal HTTP/1.1 GET arrives',
    input: get(''),
    expect: { method: 'GET', url: '/', versionMinor: 1, keepAlive: true, contentLength: 0 },
  },
  {
    when: 'the target has a query with brackets and braces',
    input: 'GET /a/b?x=[1]&y={2}|z HTTP/1.1\r\nHost: h\r\n\r\n',
    expect: { url: '/a/b?x=[1]&y={2}|z', targetForm: 'origin' },
  },
  {
    when: 'empty lines precede the request line',
    input: `\r\n\r\n${get('')}`,
    expect: { method: 'GET', url: '/' },
  },
  {
    when: 'an HTTP/1.0 request has no Host',
    input: 'GET / HTTP/1.0\r\n\r\n',
    expect: { versionMinor: 0, keepAlive: false },
  },
  {
    when: 'an HTTP/1.0 request asks for keep-alive',
    input: 'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n',
    expect: { keepAlive: true },
  },
  {
    when: 'an HTTP/1.0 request says both keep-alive and close',
    input: 'GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n',
    expect: { keepAlive: false },
  },
  {
    when: 'an HTTP/1.1 request says Connection: close',
    input: get('Connection: close\r\n'),
    expect: { keepAlive: false },
  },
  {
    when: 'Connection lists other options too',
    input: get('Connection: foo,  , keep-alive\r\n'),
    expect: { keepAlive: true },
  },
  {
    when: 'the method is HEAD',
    input: `HEAD / HTTP/1.1\r\n${H}\r\n`,
    expect: { method: 'HEAD', isHead: true },
  },
  {
    when: 'the method is an unknown token',
    input: `PURGE /x HTTP/1.1\r\n${H}\r\n`,
    expect: { method: 'PURGE' },
  },
  {
    when: 'the method is lowercase (methods are case-sensitive tokens)',
    input: `get / HTTP/1.1\r\n${H}\r\n`,
    expect: { method: 'get' },
  },
  {
    when: 'OPTIONS uses asterisk-form',
    input: `OPTIONS * HTTP/1.1\r\n${H}\r\n`,
    expect: { url: '*', targetForm: 'asterisk' },
  },
  {
    when: 'CONNECT uses authority-form',
    input: 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    expect: { url: 'example.com:443', targetForm: 'authority', upgrade: true },
  },
  {
    when: 'the target is in absolute-form',
    input: `GET http://example.com/x?y HTTP/1.1\r\n${H}\r\n`,
    expect: { url: 'http://example.com/x?y', targetForm: 'absolute' },
  },
  {
    when: 'field values carry optional whitespace',
    input: get('X-A:  a  b \t\r\nX-B:\r\nX-C:\tc\r\n'),
    expect: { headers: ['Host', 'example.com', 'X-A', 'a  b', 'X-B', '', 'X-C', 'c'] },
  },
  {
    when: 'a field value has obs-text bytes',
    input: get('X-Name: caf\xe9\r\n'),
    expect: { headers: ['Host', 'example.com', 'X-Name', 'caf\xe9'] },
  },
  {
    when: 'Host carries a port',
    input: 'GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n',
    expect: { url: '/' },
  },
  {
    when: 'Host is an IPv6 literal',
    input: 'GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n',
    expect: { url: '/' },
  },
  { when: 'Host is empty', input: 'GET / HTTP/1.1\r\nHost:\r\n\r\n', expect: { url: '/' } },
  {
    when: 'a Content-Length body follows',
    input: post('Content-Length: 5\r\n', 'hello'),
    expect: { body: 'hello', contentLength: 5, complete: true },
  },
  {
    when: 'Content-Length is 0',
    input: post('Content-Length: 0\r\n'),
    expect: { body: '', contentLength: 0, complete: true },
  },
  {
    when: 'Content-Length has leading zeros',
    input: post('Content-Length: 003\r\n', 'abc'),
    expect: { contentLength: 3, body: 'abc' },
  },
  {
    when: 'Content-Length is a list of one repeated value',
    input: post('Content-Length: 3, 3\r\n', 'abc'),
    expect: { contentLength: 3 },
  },
  {
    when: 'Content-Length is repeated on two lines with one value',
    input: post('Content-Length: 3\r\nContent-Length: 3\r\n', 'abc'),
    expect: { contentLength: 3, body: 'abc' },
  },
  {
    when: 'a chunked body has extensions',
    input: chunked('5;name=val;q="a \\" b" ; x\r\nhello\r\n3 ;y=z\r\n!!!\r\n0;last\r\n\r\n'),
    expect: { chunked: true, contentLength: -1, body: 'hello!!!', complete: true, trailers: [] },
  },
  {
    when: 'a chunked body has uppercase hex sizes and leading zeros',
    input: chunked('00A\r\n0123456789\r\n000\r\n\r\n'),
    expect: { body: '0123456789' },
  },
  {
    when: 'a chunked body has trailers',
    input: chunked('1\r\nx\r\n0\r\nX-Checksum: abc \r\nX-Other:\r\n\r\n'),
    expect: {
      body: 'x',
      trailers: [
        ['x-checksum', 'abc'],
        ['x-other', ''],
      ],
    },
  },
  {
    when: 'the coding is spelled Chunked',
    input: post('Transfer-Encoding: Chunked\r\n', '0\r\n\r\n'),
    expect: { chunked: true, complete: true },
  },
  {
    when: 'Transfer-Encoding has empty list elements',
    input: post('Transfer-Encoding: , chunked\r\n', '0\r\n\r\n'),
    expect: { chunked: true },
  },
  {
    when: 'Expect is 100-continue',
    input: post('Expect: 100-continue\r\nContent-Length: 1\r\n', 'x'),
    expect: { expectContinue: true },
  },
  {
    when: 'Expect is 100-Continue in another case',
    input: get('Expect: 100-Continue\r\n'),
    expect: { expectContinue: true },
  },
  {
    when: 'an HTTP/1.0 request expects 100-continue (ignored)',
    input: 'POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n',
    expect: { expectContinue: false },
  },
  {
    when: 'an upgrade is requested with the connection option',
    input: get('Connection: Upgrade\r\nUpgrade: websocket\r\n'),
    expect: { upgrade: true, keepAlive: true },
  },
  {
    when: 'Upgrade arrives without the connection option',
    input: get('Upgrade: websocket\r\n'),
    expect: { upgrade: false },
  },
  {
    when: 'an HTTP/1.0 request asks to upgrade (ignored)',
    input: 'GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n',
    expect: { upgrade: false },
  },
];

const refused: Case[] = [
  // request line
  { when: 'two spaces follow the method', input: `GET  / HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  {
    when: 'the request line starts with a space',
    input: ` GET / HTTP/1.1\r\n${H}\r\n`,
    expect: 400,
  },
  { when: 'a space trails the version', input: `GET / HTTP/1.1 \r\n${H}\r\n`, expect: 400 },
  { when: 'a tab separates method and target', input: `GET\t/ HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { when: 'the version is missing (HTTP/0.9 style)', input: 'GET /\r\n\r\n', expect: 400 },
  { when: 'the target and version are missing', input: 'GET\r\n\r\n', expect: 400 },
  { when: 'the version is lowercase', input: `GET / http/1.1\r\n${H}\r\n`, expect: 400 },
  { when: 'the version has no minor digit', input: `GET / HTTP/1\r\n${H}\r\n`, expect: 400 },
  { when: 'the version has two minor digits', input: `GET / HTTP/1.10\r\n${H}\r\n`, expect: 400 },
  { when: 'the method has a non-token byte', input: `GE(T / HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { when: 'the target has a space inside', input: `GET /a b HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  {
    when: 'the target has a raw non-ASCII byte',
    input: `GET /caf\xe9 HTTP/1.1\r\n${H}\r\n`,
    expect: 400,
  },
  { when: 'the target has a control byte', input: `GET /a\x01 HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  {
    when: 'the target is neither origin- nor absolute-form',
    input: `GET example.com HTTP/1.1\r\n${H}\r\n`,
    expect: 400,
  },
  {
    when: 'the target is host:port outside CONNECT',
    input: `GET example.com:80 HTTP/1.1\r\n${H}\r\n`,
    expect: 400,
  },
  { when: 'asterisk-form is used with GET', input: `GET * HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { when: 'CONNECT uses origin-form', input: `CONNECT / HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { when: 'CONNECT has no port', input: `CONNECT example.com HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { when: 'the request line ends in a bare LF', input: `GET / HTTP/1.1\n${H}\r\n`, expect: 400 },
  { when: 'the request line ends in CR CR LF', input: `GET / HTTP/1.1\r\r\n${H}\r\n`, expect: 400 },
  {
    when: 'a bare LF precedes the request line',
    input: `\nGET / HTTP/1.1\r\n${H}\r\n`,
    expect: 400,
  },
  {
    when: 'a bare CR precedes the request line',
    input: `\rGET / HTTP/1.1\r\n${H}\r\n`,
    expect: 400,
  },
  // versions
  { when: 'the version is HTTP/2.0', input: `GET / HTTP/2.0\r\n${H}\r\n`, expect: 505 },
  { when: 'the version is HTTP/0.9', input: `GET / HTTP/0.9\r\n${H}\r\n`, expect: 505 },
  { when: 'the version is HTTP/1.2', input: `GET / HTTP/1.2\r\n${H}\r\n`, expect: 505 },
  { when: 'the version is HTTP/3.0', input: `GET / HTTP/3.0\r\n${H}\r\n`, expect: 505 },
  // field lines
  { when: 'a space separates a field name from its colon', input: get('X-A : 1\r\n'), expect: 400 },
  { when: 'a tab separates a field name from its colon', input: get('X-A\t: 1\r\n'), expect: 400 },
  {
    when: 'a field line is folded (obs-fold with SP)',
    input: get('X-A: 1\r\n 2\r\n'),
    expect: 400,
  },
  {
    when: 'a field line is folded (obs-fold with HTAB)',
    input: get('X-A: 1\r\n\t2\r\n'),
    expect: 400,
  },
  {
    when: 'whitespace precedes the first field line',
    input: `GET / HTTP/1.1\r\n ${H}\r\n`,
    expect: 400,
  },
  { when: 'a field line has no colon', input: get('X-A\r\n'), expect: 400 },
  { when: 'a field name is empty', input: get(': 1\r\n'), expect: 400 },
  { when: 'a field name has a non-token byte', input: get('X(A): 1\r\n'), expect: 400 },
  { when: 'a field value has a NUL', input: get('X-A: a\x00b\r\n'), expect: 400 },
  { when: 'a field value has DEL', input: get('X-A: a\x7fb\r\n'), expect: 400 },
  { when: 'a field value has a bare CR', input: get('X-A: a\rb\r\n'), expect: 400 },
  {
    when: 'a field line ends in a bare LF',
    input: `GET / HTTP/1.1\r\n${H}X-A: 1\n\r\n`,
    expect: 400,
  },
  { when: 'the head ends in a bare LF', input: `GET / HTTP/1.1\r\n${H}\n`, expect: 400 },
  // Host
  { when: 'an HTTP/1.1 request has no Host', input: 'GET / HTTP/1.1\r\n\r\n', expect: 400 },
  { when: 'a request has two Host lines', input: get('Host: other.example\r\n'), expect: 400 },
  {
    when: 'an HTTP/1.0 request has two Host lines',
    input: 'GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n',
    expect: 400,
  },
  { when: 'Host has a space inside', input: 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', expect: 400 },
  { when: 'Host has userinfo', input: 'GET / HTTP/1.1\r\nHost: user@a\r\n\r\n', expect: 400 },
  {
    when: 'Host has an unclosed IP literal',
    input: 'GET / HTTP/1.1\r\nHost: [::1\r\n\r\n',
    expect: 400,
  },
  {
    when: 'Host has a non-numeric port',
    input: 'GET / HTTP/1.1\r\nHost: a:http\r\n\r\n',
    expect: 400,
  },
  // Content-Length
  { when: 'Content-Length is not a number', input: post('Content-Length: abc\r\n'), expect: 400 },
  { when: 'Content-Length is negative', input: post('Content-Length: -1\r\n'), expect: 400 },
  {
    when: 'Content-Length has a plus sign',
    input: post('Content-Length: +1\r\n', 'x'),
    expect: 400,
  },
  { when: 'Content-Length is empty', input: post('Content-Length:\r\n'), expect: 400 },
  {
    when: 'Content-Length has a space inside',
    input: post('Content-Length: 1 2\r\n'),
    expect: 400,
  },
  { when: 'Content-Length is a hex number', input: post('Content-Length: 0x10\r\n'), expect: 400 },
  {
    when: 'Content-Length lists two values',
    input: post('Content-Length: 3, 4\r\n', 'abcd'),
    expect: 400,
  },
  {
    when: 'Content-Length lists an empty element',
    input: post('Content-Length: 3,,3\r\n', 'abc'),
    expect: 400,
  },
  {
    when: 'Content-Length lines disagree',
    input: post('Content-Length: 3\r\nContent-Length: 4\r\n', 'abcd'),
    expect: 400,
  },
  {
    when: 'Content-Length is above 2^53 - 1',
    input: post('Content-Length: 9007199254740992\r\n'),
    expect: 400,
  },
  {
    when: 'Content-Length overflows 64 bits',
    input: post('Content-Length: 99999999999999999999999\r\n'),
    expect: 400,
  },
  // Transfer-Encoding
  {
    when: 'both Transfer-Encoding and Content-Length are sent',
    input: post('Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', '0\r\n\r\n'),
    expect: 400,
  },
  {
    when: 'chunked is not the final coding',
    input: post('Transfer-Encoding: chunked, gzip\r\n'),
    expect: 400,
  },
  {
    when: 'chunked is not the final coding across two lines',
    input: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n'),
    expect: 400,
  },
  {
    when: 'chunked is applied twice',
    input: post('Transfer-Encoding: chunked, chunked\r\n'),
    expect: 400,
  },
  { when: 'Transfer-Encoding is empty', input: post('Transfer-Encoding:\r\n'), expect: 400 },
  {
    when: 'a transfer coding has parameters',
    input: post('Transfer-Encoding: chunked;q=1\r\n'),
    expect: 400,
  },
  {
    when: 'an HTTP/1.0 request is chunked',
    input: 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    expect: 400,
  },
  { when: 'the only coding is gzip', input: post('Transfer-Encoding: gzip\r\n'), expect: 501 },
  {
    when: 'gzip comes before chunked',
    input: post('Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n'),
    expect: 501,
  },
  { when: 'the coding is unknown', input: post('Transfer-Encoding: foo\r\n'), expect: 501 },
  // chunked framing
  { when: 'a chunk size is not hex', input: chunked('z\r\nx\r\n0\r\n\r\n'), expect: 400 },
  { when: 'a chunk size line is empty', input: chunked('\r\nx\r\n0\r\n\r\n'), expect: 400 },
  {
    when: 'a chunk size has trailing whitespace',
    input: chunked('1 \r\nx\r\n0\r\n\r\n'),
    expect: 400,
  },
  { when: 'a chunk size has a sign', input: chunked('+1\r\nx\r\n0\r\n\r\n'), expect: 400 },
  { when: 'a chunk extension has no name', input: chunked('1;\r\nx\r\n0\r\n\r\n'), expect: 400 },
  {
    when: 'a chunk extension has an empty value',
    input: chunked('1;a=\r\nx\r\n0\r\n\r\n'),
    expect: 400,
  },
  {
    when: 'a chunk extension has an unterminated quote',
    input: chunked('1;a="x\r\nx\r\n0\r\n\r\n'),
    expect: 400,
  },
  {
    when: 'a chunk extension has whitespace after it',
    input: chunked('1;a=b \r\nx\r\n0\r\n\r\n'),
    expect: 400,
  },
  { when: 'a chunk size line ends in a bare LF', input: chunked('1\nx\r\n0\r\n\r\n'), expect: 400 },
  {
    when: 'chunk data is longer than its size',
    input: chunked('1\r\nxy\r\n0\r\n\r\n'),
    expect: 400,
  },
  { when: 'chunk data ends in a bare LF', input: chunked('1\r\nx\n0\r\n\r\n'), expect: 400 },
  { when: 'a chunk size is above 2^53 - 1', input: chunked('20000000000000\r\n'), expect: 400 },
  { when: 'a trailer line is folded', input: chunked('0\r\nX-T: 1\r\n 2\r\n\r\n'), expect: 400 },
  { when: 'a trailer line has no colon', input: chunked('0\r\nX-T\r\n\r\n'), expect: 400 },
  { when: 'the trailer section ends in a bare LF', input: chunked('0\r\n\n'), expect: 400 },
  // Expect
  { when: 'Expect is not 100-continue', input: get('Expect: something\r\n'), expect: 417 },
  {
    when: 'Expect lists 100-continue and another expectation',
    input: get('Expect: 100-continue, x=1\r\n'),
    expect: 417,
  },
  // body size
  {
    when: 'Content-Length is over maxBodySize',
    input: post('Content-Length: 1048577\r\n'),
    expect: 413,
  },
  { when: 'a chunk takes the body over maxBodySize', input: chunked('100001\r\n'), expect: 413 },
  // sizes
  {
    when: 'the request line is over 8 KiB',
    input: `GET /${'a'.repeat(8192)} HTTP/1.1\r\n${H}\r\n`,
    expect: 414,
  },
  { when: 'there are more than 100 field lines', input: get('X: 1\r\n'.repeat(100)), expect: 431 },
  {
    when: 'the header section is over 64 KiB',
    input: get(`X: ${'a'.repeat(65536)}\r\n`),
    expect: 431,
  },
];

function outcome(
  input: Uint8Array,
  cuts: readonly number[] | 'bytewise',
  feed: (typeof FEEDS)[number],
): Outcome {
  return run(split(input, cuts), feed);
}

function check(c: Case): void {
  const input = bytes(c.input);
  const whole = outcome(input, [], 'one buffer');
  if (typeof c.expect === 'number') {
    assert.equal(whole.error, c.expect, `status; requests seen: ${JSON.stringify(whole.requests)}`);
  } else {
    assert.equal(whole.error, null, 'no error');
    assert.equal(whole.requests.length, 1);
    const got = whole.requests[0]!;
    for (const [key, value] of Object.entries(c.expect)) {
      assert.deepEqual(got[key as keyof Parsed], value, key);
    }
  }
  // Whatever the split and the feed, the outcome is the same.
  for (const feed of FEEDS) {
    assert.deepEqual(outcome(input, 'bytewise', feed), whole, `${feed}, one byte at a time`);
    assert.deepEqual(
      outcome(input, [Math.floor(input.length / 2)], feed),
      whole,
      `${feed}, halves`,
    );
  }
}

describe('HTTP/1.1 request conformance', () => {
  for (const c of accepted) {
    it(`parser accepts the request when ${c.when}`, () => check(c));
  }
  for (const c of refused) {
    it(`parser answers ${c.expect as number} when ${c.when}`, () => check(c));
  }
});
