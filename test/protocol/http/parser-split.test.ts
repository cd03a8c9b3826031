/**
 * Property tests: valid pipelined requests (Content-Length and chunked bodies, trailers, odd but
 * legal spacing), cut at arbitrary points and fed in every way a server might, parse to exactly
 * what was generated; and arbitrary damage to them never makes the parser throw anything but an
 * HttpParseError, nor depend on how the bytes were cut.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HttpRequestParser } from '../../../src/protocol/http/parser.js';
import { bytes, FEEDS, run, split, type Parsed } from './harness.js';

const TCHARS = [..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"];
const SPECIAL = ['host', 'content-length', 'transfer-encoding', 'connection', 'expect', 'upgrade'];

const fieldName = fc
  .string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 10 })
  .filter((n) => !SPECIAL.includes(n.toLowerCase()));

/** A field value as sent (with OWS around it) and as it must be parsed (trimmed). */
const fieldValue = fc
  .tuple(
    fc.array(
      fc.oneof(
        fc.integer({ min: 0x21, max: 0x7e }),
        fc.integer({ min: 0x80, max: 0xff }),
        fc.constantFrom(0x20, 0x09),
      ),
      { maxLength: 16 },
    ),
    fc.constantFrom('', ' ', '\t', ' \t '),
    fc.constantFrom('', ' ', '\t'),
  )
  .map(([codes, before, after]) => {
    const value = String.fromCharCode(...codes).replace(/^[ \t]+|[ \t]+$/g, '');
    return { sent: `${before}${value}${after}`, parsed: value };
  });

const field = fc.tuple(fieldName, fieldValue);

const path = fc
  .string({
    unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength: 20,
  })
  .map((s) => `/${s}`);

const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

type Body =
  | { kind: 'none' }
  | { kind: 'length'; data: Uint8Array }
  | {
      kind: 'chunked';
      chunks: { data: Uint8Array; ext: string; upper: boolean; zeros: string }[];
      lastExt: string;
      trailers: [string, { sent: string; parsed: string }][];
    };

const body: fc.Arbitrary<Body> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.uint8Array({ maxLength: 40 }).map((data) => ({ kind: 'length' as const, data })),
  fc.record({
    kind: fc.constant('chunked' as const),
    chunks: fc.array(
      fc.record({
        data: fc.uint8Array({ minLength: 1, maxLength: 40 }),
        ext: fc.constantFrom('', ';a', ';a=b', ' ; n="q \\" x"', ';x=1;y'),
        upper: fc.boolean(),
        zeros: fc.constantFrom('', '0', '000'),
      }),
      { maxLength: 4 },
    ),
    lastExt: fc.constantFrom('', ';end'),
    trailers: fc.array(field, { maxLength: 2 }),
  }),
);

interface Generated {
  text: string;
  expected: Parsed;
}

const request: fc.Arbitrary<Generated> = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'PURGE'),
    path,
    http10: fc.boolean(),
    fields: fc.array(field, { maxLength: 5 }),
    body,
    leadingCrlf: fc.boolean(),
  })
  .map(({ method, path, http10, fields, body, leadingCrlf }): Generated => {
    const isChunked = body.kind === 'chunked' && !http10; // HTTP/1.0 may not be chunked
    const raw: [string, string, string][] = [];
    if (!http10) raw.push(['Host', 'example.com', 'example.com']);
    for (const [name, v] of fields) raw.push([name, v.sent, v.parsed]);
    let content = '';
    let contentLength = 0;
    const trailers: [string, string][] = [];
    if (isChunked) {
      raw.push(['Transfer-Encoding', ' chunked', 'chunked']);
      for (const c of body.chunks) {
        const hex = c.data.length.toString(16);
        content += `${c.zeros}${c.upper ? hex.toUpperCase() : hex}${c.ext}\r\n${latin1(c.data)}\r\n`;
      }
      content += `0${body.lastExt}\r\n`;
      for (const [name, v] of body.trailers) {
        content += `${name}:${v.sent}\r\n`;
        trailers.push([name.toLowerCase(), v.parsed]);
      }
      content += '\r\n';
      contentLength = -1;
    } else if (body.kind !== 'none') {
      const data = body.kind === 'length' ? body.data : new Uint8Array(0);
      raw.push(['Content-Length', String(data.length), String(data.length)]);
      content = latin1(data);
      contentLength = data.length;
    }
    if (http10) raw.push(['Connection', 'keep-alive', 'keep-alive']);
    const head = `${leadingCrlf ? '\r\n' : ''}${method} ${path} HTTP/1.${http10 ? 0 : 1}\r\n${raw
      .map(([n, sent]) => `${n}:${sent}\r\n`)
      .join('')}\r\n`;
    const bodyText = isChunked ? '' : content;
    return {
      text: head + content,
      expected: {
        method,
        url: path,
        versionMinor: http10 ? 0 : 1,
        targetForm: 'origin',
        headers: raw.flatMap(([n, , parsed]) => [n, parsed]),
        keepAlive: true,
        expectContinue: false,
        upgrade: false,
        isHead: method === 'HEAD',
        contentLength,
        chunked: isChunked,
        body:
          isChunked && body.kind === 'chunked'
            ? body.chunks.map((c) => latin1(c.data)).join('')
            : bodyText,
        trailers,
        complete: true,
      },
    };
  });

const pipeline = fc.array(request, { minLength: 1, maxLength: 4 });

describe('HttpRequestParser over arbitrary splits', () => {
  it('parser yields the generated requests whatever the cuts and the feed', () => {
    fc.assert(
      fc.property(pipeline, fc.array(fc.nat(), { maxLength: 12 }), (reqs, rawCuts) => {
        const input = bytes(reqs.map((r) => r.text).join(''));
        const expected = { requests: reqs.map((r) => r.expected), error: null };
        assert.deepEqual(run([input], 'one buffer'), expected, 'one piece');
        const cuts = rawCuts.map((c) => c % (input.length + 1));
        for (const feed of FEEDS) {
          assert.deepEqual(
            run(split(input, cuts), feed),
            expected,
            `${feed}, cut at ${cuts.join(',')}`,
          );
        }
      }),
    );
  });

  it('parser yields the generated requests when fed one byte at a time', () => {
    fc.assert(
      fc.property(pipeline, (reqs) => {
        const input = bytes(reqs.map((r) => r.text).join(''));
        const expected = { requests: reqs.map((r) => r.expected), error: null };
        for (const feed of FEEDS)
          assert.deepEqual(run(split(input, 'bytewise'), feed), expected, feed);
      }),
      { numRuns: 40 },
    );
  });

  it('parser throws only HttpParseErrors, the same way for every split, when requests are damaged', () => {
    const damage = fc.record({
      at: fc.nat(),
      byte: fc.constantFrom(
        0x0d,
        0x0a,
        0x20,
        0x09,
        0x3a,
        0x2c,
        0x3b,
        0x22,
        0x30,
        0x61,
        0x00,
        0x7f,
        0xff,
      ),
      how: fc.constantFrom('replace', 'insert', 'delete'),
    });
    fc.assert(
      fc.property(
        pipeline,
        fc.array(damage, { minLength: 1, maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (reqs, damages, rawCuts) => {
          const bytesIn = [...bytes(reqs.map((r) => r.text).join(''))];
          for (const d of damages) {
            const at = d.at % (bytesIn.length + 1);
            if (d.how === 'replace' && at < bytesIn.length) bytesIn[at] = d.byte;
            else if (d.how === 'insert') bytesIn.splice(at, 0, d.byte);
            else bytesIn.splice(at, 1);
          }
          const input = Uint8Array.from(bytesIn);
          // run() rethrows anything that is not an HttpParseError, failing the property.
          const whole = run([input], 'one buffer');
          const cuts = rawCuts.map((c) => c % (input.length + 1));
          for (const feed of FEEDS) {
            assert.deepEqual(
              run(split(input, cuts), feed),
              whole,
              `${feed}, cut at ${cuts.join(',')}`,
            );
            assert.deepEqual(run(split(input, 'bytewise'), feed), whole, `${feed}, bytewise`);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('parser throws only HttpParseErrors on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (input) => {
        for (const feed of FEEDS) run(split(input, 'bytewise'), feed);
        run([input], 'one buffer');
      }),
    );
  });
});

describe('HttpRequestParser pipelining', () => {
  it('parser parses 10,000 pipelined requests in one buffer', () => {
    const parts: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const url = `/r/${i}`;
      if (i % 3 === 0) parts.push(`GET ${url} HTTP/1.1\r\nHost: a\r\nX-I: ${i}\r\n\r\n`);
      else if (i % 3 === 1) {
        const b = `body-${i}`;
        parts.push(`POST ${url} HTTP/1.1\r\nHost: a\r\nContent-Length: ${b.length}\r\n\r\n${b}`);
      } else {
        const b = `chunk-${i}`;
        parts.push(
          `PUT ${url} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`,
        );
      }
    }
    const input = bytes(parts.join(''));
    const seen: string[] = [];
    const bodies: string[] = [];
    let complete = 0;
    let body = '';
    const parser = new HttpRequestParser({
      onRequest(req) {
        seen.push(req.url);
        if (req.method === 'GET') assert.equal(req.header('x-i'), req.url.slice(3));
      },
      onBody(chunk) {
        body += latin1(chunk);
      },
      onMessageComplete(req) {
        if (req.method !== 'GET') bodies.push(body);
        body = '';
        complete++;
      },
    });
    assert.equal(parser.executeBytes(input), input.length);
    assert.equal(seen.length, 10_000);
    assert.equal(complete, 10_000);
    for (let i = 0; i < 10_000; i++) assert.equal(seen[i], `/r/${i}`);
    const expectedBodies = [];
    for (let i = 0; i < 10_000; i++) {
      if (i % 3 === 1) expectedBodies.push(`body-${i}`);
      else if (i % 3 === 2) expectedBodies.push(`chunk-${i}`);
    }
    assert.deepEqual(bodies, expectedBodies);
    assert.equal(parser.midMessage, false);
  });
});
