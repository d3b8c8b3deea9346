// Envoy's common messages as every resource reads them: socket addresses (and their statistics name), data
// sources, string matchers with RE2 expressions, CIDR ranges. Each problem at its path.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIp } from '../../../src/core/ip.js';
import {
  envoyAddressStatName,
  translateAddress,
  translateCidrs,
  translateDataSource,
  translateStringMatch,
} from '../../../src/proxy/config/common.js';
import type { Json, JsonObject } from '../../../src/proxy/config/json.js';
import { context, error, type Problem, problems } from './fixtures.js';

describe('translateAddress', () => {
  const ok: [string, JsonObject, { host: string; port: number }][] = [
    [
      'IPv4',
      { socket_address: { address: '127.0.0.1', port_value: 15006 } },
      { host: '127.0.0.1', port: 15006 },
    ],
    ['IPv6', { socket_address: { address: '::1', port_value: 80 } }, { host: '::1', port: 80 }],
    [
      'any address, port 0',
      { socket_address: { address: '0.0.0.0', port_value: 0 } },
      { host: '0.0.0.0', port: 0 },
    ],
    [
      'protocol TCP written out',
      { socket_address: { address: '10.0.0.1', port_value: 1, protocol: 'TCP' } },
      { host: '10.0.0.1', port: 1 },
    ],
  ];
  for (const [what, input, expected] of ok) {
    it(`reads ${what}`, () => {
      const ctx = context();
      assert.deepEqual(translateAddress(input, ['address'], ctx), expected);
      assert.deepEqual(ctx.diagnostics, []);
    });
  }

  const bad: [string, JsonObject, Problem[]][] = [
    [
      'no socket_address (a pipe)',
      { pipe: { path: '/tmp/s' } },
      [
        error(
          'address',
          'proxy.address',
          'socket_address is required (pipes and internal addresses are not implemented)',
        ),
      ],
    ],
    [
      'a host name',
      { socket_address: { address: 'app.local', port_value: 80 } },
      [error('address.socket_address.address', 'proxy.address', '"app.local" is not an IP address')],
    ],
    [
      'UDP',
      { socket_address: { address: '127.0.0.1', port_value: 53, protocol: 'UDP' } },
      [
        error(
          'address.socket_address.protocol',
          'proxy.unsupported',
          'protocol "UDP" is not implemented; only TCP',
        ),
      ],
    ],
    [
      'no port',
      { socket_address: { address: '127.0.0.1' } },
      [error('address.socket_address.port_value', 'proxy.address', 'port_value is required')],
    ],
  ];
  for (const [what, input, expected] of bad) {
    it(`refuses ${what}`, () => {
      const ctx = context();
      translateAddress(input, ['address'], ctx);
      assert.deepEqual(problems(ctx.diagnostics), expected);
    });
  }
});

describe('envoyAddressStatName', () => {
  const cases: [string, number, string][] = [
    ['127.0.0.1', 15006, '127.0.0.1_15006'],
    ['0.0.0.0', 80, '0.0.0.0_80'],
    ['::1', 15006, '[__1]_15006'],
    ['fd00::1:2', 8080, '[fd00__1_2]_8080'],
  ];
  for (const [host, port, name] of cases) {
    it(`names ${host}:${port} ${name}, as Envoy's listener statistics do`, () =>
      assert.equal(envoyAddressStatName({ host, port }), name));
  }
});

describe('translateDataSource', () => {
  it('keeps a file, inline text, base64 bytes or an environment variable as a reference with its path', () => {
    const ctx = context();
    const at = ['tls_certificate', 'private_key'];
    assert.deepEqual(translateDataSource({ filename: 'key.pem' }, at, ctx), {
      kind: 'file',
      filename: 'key.pem',
      path: at,
    });
    assert.deepEqual(translateDataSource({ inline_string: 'PEM' }, at, ctx), {
      kind: 'inline',
      data: Buffer.from('PEM'),
      path: at,
    });
    assert.deepEqual(
      translateDataSource({ inline_bytes: Buffer.from([0, 255, 7]).toString('base64') }, at, ctx),
      {
        kind: 'inline',
        data: Buffer.from([0, 255, 7]),
        path: at,
      },
    );
    assert.deepEqual(translateDataSource({ environment_variable: 'KEY' }, at, ctx), {
      kind: 'env',
      name: 'KEY',
      path: at,
    });
    assert.deepEqual(ctx.diagnostics, []);
  });

  it('refuses a data source with none of them', () => {
    const ctx = context();
    translateDataSource({}, ['trusted_ca'], ctx);
    assert.deepEqual(problems(ctx.diagnostics), [
      error(
        'trusted_ca',
        'proxy.data-source',
        'a data source needs filename, inline_string, inline_bytes or environment_variable',
      ),
    ]);
  });
});

describe('translateStringMatch', () => {
  const plain: [JsonObject, { kind: string; value: string; ignoreCase: boolean }][] = [
    [
      { exact: 'spiffe://td/ns/a/sa/b' },
      { kind: 'exact', value: 'spiffe://td/ns/a/sa/b', ignoreCase: false },
    ],
    [{ prefix: '/api' }, { kind: 'prefix', value: '/api', ignoreCase: false }],
    [{ suffix: '.svc' }, { kind: 'suffix', value: '.svc', ignoreCase: false }],
    [{ contains: 'mid' }, { kind: 'contains', value: 'mid', ignoreCase: false }],
    [
      { exact: 'AbC', ignore_case: true },
      { kind: 'exact', value: 'abc', ignoreCase: true },
    ],
    [
      { prefix: '/API', ignore_case: true },
      { kind: 'prefix', value: '/api', ignoreCase: true },
    ],
    [
      { suffix: '.SVC', ignore_case: false },
      { kind: 'suffix', value: '.SVC', ignoreCase: false },
    ],
  ];
  for (const [input, expected] of plain) {
    it(`reads ${JSON.stringify(input)}`, () => {
      const ctx = context();
      assert.deepEqual(translateStringMatch(input, ['m'], ctx), expected);
      assert.deepEqual(ctx.diagnostics, []);
    });
  }

  it('compiles safe_regex anchored at both ends', () => {
    const ctx = context();
    const m = translateStringMatch({ safe_regex: { regex: '/v[0-9]+/.*' } }, ['m'], ctx);
    assert.deepEqual(ctx.diagnostics, []);
    assert.equal(m.kind, 'regex');
    assert.equal(m.value, '/v[0-9]+/.*');
    assert.equal(m.ignoreCase, false);
    assert.ok(m.regex);
    assert.equal(m.regex.test('/v2/items'), true);
    assert.equal(m.regex.test('x/v2/items'), false, 'anchored at the start');
    assert.equal(m.regex.test('/v/items'), false);
  });

  it('anchors an alternation as a whole', () => {
    const m = translateStringMatch({ safe_regex: { regex: 'a|b' } }, ['m'], context());
    assert.equal(m.regex?.test('a'), true);
    assert.equal(m.regex?.test('ab'), false);
    assert.equal(m.regex?.test('xb'), false);
  });

  const refused: [string, JsonObject, Problem[]][] = [
    [
      'a lookahead (not RE2)',
      { safe_regex: { regex: '(?=x)' } },
      [
        error(
          'm.safe_regex.regex',
          'proxy.regex',
          'invalid RE2 expression "(?=x)": invalid or unsupported Perl syntax: `(?=`',
        ),
      ],
    ],
    [
      'a backreference (not RE2)',
      { safe_regex: { regex: '(a)\\1' } },
      [
        error(
          'm.safe_regex.regex',
          'proxy.regex',
          'invalid RE2 expression "(a)\\\\1": invalid escape sequence: `\\1`',
        ),
      ],
    ],
    [
      'an escape RE2 does not know',
      { safe_regex: { regex: '\\e' } },
      [
        error(
          'm.safe_regex.regex',
          'proxy.regex',
          'invalid RE2 expression "\\\\e": invalid escape sequence: `\\e`',
        ),
      ],
    ],
    [
      'a repeat count over 1000',
      { safe_regex: { regex: 'a{1001}' } },
      [
        error(
          'm.safe_regex.regex',
          'proxy.regex',
          'invalid RE2 expression "a{1001}": invalid repeat count: `{1001}`',
        ),
      ],
    ],
    [
      'ignore_case with safe_regex (Envoy refuses it)',
      { safe_regex: { regex: 'a' }, ignore_case: true },
      [error('m.ignore_case', 'proxy.regex', 'ignore_case has no effect on safe_regex (Envoy refuses it)')],
    ],
    [
      'a matcher with nothing to match',
      {},
      [error('m', 'proxy.required', 'a string matcher needs exact, prefix, suffix, contains or safe_regex')],
    ],
  ];
  for (const [what, input, expected] of refused) {
    it(`refuses ${what}`, () => {
      const ctx = context();
      translateStringMatch(input, ['m'], ctx);
      assert.deepEqual(problems(ctx.diagnostics), expected);
    });
  }

  it('refuses an unbalanced group once, with the parser’s reason', () => {
    const ctx = context();
    const m = translateStringMatch({ safe_regex: { regex: '(a' } }, ['m'], ctx);
    assert.equal(m.regex, undefined);
    assert.equal(ctx.diagnostics.length, 1);
    assert.match(ctx.diagnostics[0]?.message ?? '', /^invalid RE2 expression "\(a": .*unterminated group/);
  });

  // RE2 syntax that JavaScript's RegExp does not share: re2Problem accepts it (it rewrites it before checking),
  // but translateStringMatch compiles the expression as written, so it is refused or means something else.
  const re2Only: [string, string, string[], string[]][] = [
    ['a flag group', '(?i)abc', ['abc', 'ABC'], ['abd']],
    ['a named group in Python syntax', '(?P<v>[0-9]+)', ['12'], ['x']],
    ['\\A and \\z', '\\Aabc\\z', ['abc'], ['Aabcz']],
    ['\\Q…\\E quoting', '\\Qa.b\\E', ['a.b'], ['axb', 'Qa.bE']],
  ];
  for (const [what, re, matching, notMatching] of re2Only) {
    it(`accepts valid RE2 with ${what} (${re}) and matches as RE2 does`, {}, () => {
      const ctx = context();
      const m = translateStringMatch({ safe_regex: { regex: re } }, ['m'], ctx);
      assert.deepEqual(problems(ctx.diagnostics), []);
      for (const v of matching) assert.equal(m.regex?.test(v), true, `${re} should match ${v}`);
      for (const v of notMatching) assert.equal(m.regex?.test(v), false, `${re} should not match ${v}`);
    });
  }
});

describe('translateCidrs', () => {
  const ranges: [string, Json | undefined, [string, number][]][] = [
    ['an IPv4 range, masked', [{ address_prefix: '10.1.2.3', prefix_len: 16 }], [['10.1.0.0', 16]]],
    ['an IPv6 range', [{ address_prefix: 'fd00::1', prefix_len: 64 }], [['fd00::', 64]]],
    ['a host', [{ address_prefix: '192.168.0.1', prefix_len: 32 }], [['192.168.0.1', 32]]],
    // Envoy reads prefix_len as a UInt32Value: unset is 0, every address of the family.
    ['no prefix_len: the whole family', [{ address_prefix: '10.1.2.3' }], [['0.0.0.0', 0]]],
    // Envoy's CidrRange::create truncates a length past the family's to the full length.
    [
      'a length past 32 on IPv4, truncated as Envoy does',
      [{ address_prefix: '10.0.0.1', prefix_len: 40 }],
      [['10.0.0.1', 32]],
    ],
    ['nothing', undefined, []],
    [
      'several, in order',
      [
        { address_prefix: '127.0.0.1', prefix_len: 8 },
        { address_prefix: '::1', prefix_len: 128 },
      ],
      [
        ['127.0.0.0', 8],
        ['::1', 128],
      ],
    ],
  ];
  for (const [what, input, expected] of ranges) {
    it(`reads ${what}`, () => {
      const ctx = context();
      const out = translateCidrs(input, ['prefix_ranges'], ctx);
      assert.deepEqual(
        out.map((c) => [[...c.bytes], c.prefixLen]),
        expected.map(([ip, len]) => [[...(parseIp(ip) ?? [])], len]),
      );
      assert.deepEqual(ctx.diagnostics, []);
    });
  }

  it('refuses an address that is not an IP, at its index, and keeps the others', () => {
    const ctx = context();
    const out = translateCidrs(
      [
        { address_prefix: '10.0.0.0', prefix_len: 8 },
        { address_prefix: 'example.com', prefix_len: 8 },
        { address_prefix: '', prefix_len: 0 },
      ],
      ['prefix_ranges'],
      ctx,
    );
    assert.equal(out.length, 1);
    assert.deepEqual(problems(ctx.diagnostics), [
      error('prefix_ranges[1]', 'proxy.cidr', '"example.com/8" is not a valid CIDR range'),
      error('prefix_ranges[2]', 'proxy.cidr', '"/0" is not a valid CIDR range'),
    ]);
  });
});
