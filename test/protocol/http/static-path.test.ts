import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeSegments,
  isInside,
  normalizePrefix,
} from '../../../src/protocol/http/static-path.js';

describe('decodeSegments', () => {
  it('decodes percent-escapes and drops empty segments', () => {
    assert.deepEqual(decodeSegments('/a%20b//c/%C3%A9.txt'), ['a b', 'c', 'é.txt']);
    assert.deepEqual(decodeSegments('/'), []);
  });

  it('refuses dot segments, raw or encoded, with 403', () => {
    for (const p of ['/../x', '/a/..', '/%2e%2e/x', '/%2E%2E/x', '/.%2e/x', '/./x'])
      assert.equal(decodeSegments(p), 403, p);
  });

  it('refuses encoded separators and NUL bytes with 403', () => {
    for (const p of ['/..%2fx', '/a%2Fb', '/a%5cb', '/a%00b', '/a\0b'])
      assert.equal(decodeSegments(p), 403, p);
  });

  it('answers 400 to malformed escapes and bad UTF-8', () => {
    for (const p of ['/a%zz', '/a%', '/a%C3', '/%E0%A4%A']) assert.equal(decodeSegments(p), 400, p);
  });
});

describe('normalizePrefix and isInside', () => {
  it('normalizes prefixes to no trailing slash', () => {
    assert.equal(normalizePrefix('/'), '');
    assert.equal(normalizePrefix('/static/'), '/static');
    assert.equal(normalizePrefix('static'), '/static');
  });

  it('tells a child of the root from a sibling with the same start', () => {
    assert.equal(isInside('/srv/www', '/srv/www'), true);
    assert.equal(isInside('/srv/www', '/srv/www/a/b'), true);
    assert.equal(isInside('/srv/www', '/srv/www-secret/a'), false);
    assert.equal(isInside('/srv/www', '/srv'), false);
  });
});
