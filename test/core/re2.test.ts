// RE2 on JavaScript's engine: what RE2 accepts runs with RE2's meaning, what RE2 refuses is refused with its
// message, and valid RE2 without an exact JavaScript form is refused as unsupported rather than run differently.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRe2 } from '../../src/core/re2.js';

/** [expression, strings it must match whole, strings it must not]. */
const MATCHES: [string, string[], string[]][] = [
  ['abc', ['abc'], ['abcd', 'ABC']],
  ['(?i)abc', ['abc', 'ABC', 'aBc'], ['abd']],
  ['(?s)a.b', ['a\nb', 'axb'], ['ab']],
  ['a.b', ['axb'], ['a\nb']],
  ['x(?i:ab)y', ['xaby', 'xABy'], ['XABY']],
  ['x(?s:.)y', ['x\ny'], []],
  ['(?P<v>[0-9]+)-(?<w>[a-z]+)', ['12-ab'], ['12-AB']],
  ['\\Aabc\\z', ['abc'], ['Aabcz']],
  ['\\Qa.b\\E', ['a.b'], ['axb', 'Qa.bE']],
  ['[[:digit:]]+', ['0123'], ['12a']],
  ['[[:alpha:][:digit:]_]+', ['a_1'], ['a-1']],
  ['\\pL+', ['héllo'], ['a1']],
  ['\\p{Greek}+', ['αβγ'], ['abc']],
  ['\\PL', ['1'], ['a']],
  ['[]a]+', [']a]'], ['b']],
  ['[^]a]', ['b'], [']', 'a']],
  ['a{2,3}', ['aa', 'aaa'], ['a', 'aaaa']],
  ['/api/v[0-9]+/.*', ['/api/v1/x', '/api/v22/'], ['/api/vx/']],
];

describe('compileRe2: RE2 meaning on JavaScript', () => {
  for (const [re, yes, no] of MATCHES) {
    it(`${re}`, () => {
      const r = compileRe2(re, true);
      assert.ok('regex' in r, 'problem' in r ? r.problem : '');
      for (const s of yes) assert.ok(r.regex.test(s), `${re} should match ${JSON.stringify(s)}`);
      for (const s of no) assert.ok(!r.regex.test(s), `${re} should not match ${JSON.stringify(s)}`);
    });
  }
});

describe('compileRe2: refusals', () => {
  const cases: [string, 'invalid' | 'unsupported', RegExp][] = [
    ['a(?=b)', 'invalid', /invalid or unsupported Perl syntax: `\(\?=`/],
    ['a(?<!b)', 'invalid', /invalid or unsupported Perl syntax: `\(\?<!`/],
    ['(a)\\1', 'invalid', /invalid escape sequence: `\\1`/],
    ['\\e', 'invalid', /invalid escape sequence: `\\e`/],
    ['a{1001}', 'invalid', /invalid repeat count: `\{1001\}`/],
    ['abc\\', 'invalid', /trailing backslash/],
    ['(abc', 'invalid', /unterminated group/],
    ['\\p{Nope}', 'invalid', /invalid character class range/],
    ['[[:nope:]]', 'invalid', /invalid character class range: `\[:nope:\]`/],
    ['a(?i)b', 'unsupported', /only supported at the start of the expression/],
    ['(?U)a+', 'unsupported', /only supported at the start/],
    ['(?m:^a)', 'unsupported', /only supported at the start/],
    ['(?i:[a-z])', 'unsupported', /a character class inside a \(\?i:…\) group/],
    ['[[:^alpha:]]', 'unsupported', /negated POSIX class/],
  ];
  for (const [re, kind, message] of cases) {
    it(`${re}: ${kind}`, () => {
      const r = compileRe2(re);
      assert.ok('problem' in r, `${re} compiled`);
      assert.equal(r.kind, kind);
      assert.match(r.problem, message);
    });
  }
});
