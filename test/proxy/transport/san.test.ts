// SAN parsing (Node's subjectAltName text), Envoy's StringMatcher, SAN matchers with Envoy's DNS semantics
// (source/common/tls/cert_validator/san_matcher.cc, Utility::dnsNameMatch) and the peer's SPIFFE ID.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { createRootCertificate, generateKeyPair, x509 } from '../../../src/ca/x509.js';
import type { SanMatcher, SanType, StringMatch } from '../../../src/proxy/config/model.js';
import {
  dnsNameMatch,
  parseSubjectAltNames,
  type SubjectAltName,
  sansMatch,
  spiffeIdOf,
  stringMatches,
} from '../../../src/proxy/transport/san.js';

const sm = (kind: StringMatch['kind'], value: string, ignoreCase = false): StringMatch =>
  kind === 'regex'
    ? { kind, value, ignoreCase: false, regex: new RegExp(`^(?:${value})$`) }
    : { kind, value, ignoreCase };
const matcher = (
  type: SanType,
  kind: StringMatch['kind'],
  value: string,
  ignoreCase = false,
): SanMatcher => ({
  type,
  match: sm(kind, value, ignoreCase),
});

describe('parseSubjectAltNames', () => {
  const cases: Array<[string, string | undefined, SubjectAltName[]]> = [
    ['nothing', undefined, []],
    ['empty', '', []],
    ['one DNS', 'DNS:a.example.com', [{ type: 'DNS', value: 'a.example.com' }]],
    [
      'every kind Node writes, in order',
      'DNS:a.example, URI:spiffe://td/ns/x/sa/y, IP Address:127.0.0.1, email:ops@example.com',
      [
        { type: 'DNS', value: 'a.example' },
        { type: 'URI', value: 'spiffe://td/ns/x/sa/y' },
        { type: 'IP_ADDRESS', value: '127.0.0.1' },
        { type: 'EMAIL', value: 'ops@example.com' },
      ],
    ],
    [
      'a quoted value with a comma (Node escapes it as \\u002c) does not split',
      'URI:"spiffe://td/ns/a\\u002cb/sa/x", DNS:b.example',
      [
        { type: 'URI', value: 'spiffe://td/ns/a,b/sa/x' },
        { type: 'DNS', value: 'b.example' },
      ],
    ],
    [
      'a quoted value with a literal comma and space, a quote and a backslash',
      'URI:"x:a, b\\"c\\\\d", email:e@f',
      [
        { type: 'URI', value: 'x:a, b"c\\d' },
        { type: 'EMAIL', value: 'e@f' },
      ],
    ],
    [
      'IPv6 as Envoy writes it (inet_ntop), not as Node does',
      'IP Address:2001:DB8:0:0:0:0:0:1, IP Address:0:0:0:0:0:0:0:1, IP Address:0:0:0:0:0:FFFF:A00:1',
      [
        { type: 'IP_ADDRESS', value: '2001:db8::1' },
        { type: 'IP_ADDRESS', value: '::1' },
        { type: 'IP_ADDRESS', value: '::ffff:10.0.0.1' },
      ],
    ],
    [
      'unknown kinds are skipped, quoted or not',
      'othername:<unsupported>, DirName:"CN=a\\u002cO=b", Registered ID:1.2.3.4, DNS:kept.example, X400Name:<unsupported>',
      [{ type: 'DNS', value: 'kept.example' }],
    ],
    ['a kind without a colon ends the list', 'DNS:a.example, garbage', [{ type: 'DNS', value: 'a.example' }]],
  ];
  for (const [name, text, want] of cases) {
    it(name, () => assert.deepEqual(parseSubjectAltNames(text), want));
  }

  it('reads what Node prints for a real certificate with awkward SANs', async () => {
    const keys = await generateKeyPair('ec-p256');
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: [],
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.SubjectAlternativeNameExtension(
          [
            { type: 'url', value: 'spiffe://td/ns/a,b/sa/x' },
            { type: 'email', value: 'ops@example.com' },
            { type: 'ip', value: '2001:db8::1' },
            { type: 'ip', value: '10.0.0.1' },
            { type: 'dns', value: '*.Example.com' },
            { type: 'url', value: 'spiffe://td/"q\\' },
          ],
          true,
        ),
      ],
    });
    const text = new X509Certificate(cert.toString('pem')).subjectAltName;
    assert.deepEqual(parseSubjectAltNames(text), [
      { type: 'URI', value: 'spiffe://td/ns/a,b/sa/x' },
      { type: 'EMAIL', value: 'ops@example.com' },
      { type: 'IP_ADDRESS', value: '2001:db8::1' },
      { type: 'IP_ADDRESS', value: '10.0.0.1' },
      { type: 'DNS', value: '*.Example.com' },
      { type: 'URI', value: 'spiffe://td/"q\\' },
    ]);
    // The project's root (no SAN at all) gives none.
    const root = await createRootCertificate({
      trustDomain: 'td',
      keys,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
    });
    assert.deepEqual(parseSubjectAltNames(new X509Certificate(root.toString('pem')).subjectAltName), []);
  });
});

describe('stringMatches (Envoy StringMatcher)', () => {
  const cases: Array<[StringMatch, string, boolean]> = [
    [sm('exact', 'a.b'), 'a.b', true],
    [sm('exact', 'a.b'), 'A.b', false],
    [sm('exact', 'a.b', true), 'A.B', true],
    [sm('exact', 'A.B', true), 'a.b', true],
    [sm('exact', 'a.b'), 'a.bc', false],
    [sm('prefix', 'spiffe://td/'), 'spiffe://td/ns/x', true],
    [sm('prefix', 'spiffe://td/'), 'spiffe://other/ns/x', false],
    [sm('prefix', 'SPIFFE://TD/', true), 'spiffe://td/ns/x', true],
    [sm('suffix', '/sa/web'), 'spiffe://td/ns/x/sa/web', true],
    [sm('suffix', '/sa/web'), 'spiffe://td/ns/x/sa/webx', false],
    [sm('suffix', '/SA/WEB', true), 'spiffe://td/ns/x/sa/web', true],
    [sm('contains', '/ns/shop/'), 'spiffe://td/ns/shop/sa/x', true],
    [sm('contains', '/ns/shop/'), 'spiffe://td/ns/shopping/sa/x', false],
    [sm('contains', '/NS/SHOP/', true), 'spiffe://td/ns/shop/sa/x', true],
    [sm('regex', 'spiffe://td/ns/[a-z]+/sa/web'), 'spiffe://td/ns/shop/sa/web', true],
    [sm('regex', 'spiffe://td/ns/[a-z]+/sa/web'), 'spiffe://td/ns/shop/sa/web2', false],
    [sm('regex', 'ns/shop'), 'spiffe://td/ns/shop/sa/web', false],
    [{ kind: 'regex', value: 'x', ignoreCase: false }, 'x', false],
  ];
  for (const [m, value, want] of cases) {
    it(`${m.kind}${m.ignoreCase ? ' ignore_case' : ''} ${JSON.stringify(m.value)} vs ${JSON.stringify(value)} → ${want}`, () =>
      assert.equal(stringMatches(m, value), want));
  }

  it('a global regex does not carry state between calls', () => {
    const m: StringMatch = { kind: 'regex', value: 'a', ignoreCase: false, regex: /^(?:a)$/g };
    assert.equal(stringMatches(m, 'a'), true);
    assert.equal(stringMatches(m, 'a'), true);
  });
});

describe('dnsNameMatch (Envoy Utility::dnsNameMatch: name, certificate pattern)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['a.example.com', 'a.example.com', true],
    ['A.Example.COM', 'a.example.com', true],
    ['a.example.com', '*.example.com', true],
    ['A.EXAMPLE.com', '*.Example.com', true],
    ['a.b.example.com', '*.example.com', false],
    ['example.com', '*.example.com', false],
    ['www.example.com', 'w*.example.com', true],
    ['www.example.com', '*w.example.com', true],
    ['www.example.com', 'x*.example.com', false],
    ['w.example.com', 'w*w.example.com', false],
    ['wxw.example.com', 'w*w.example.com', true],
    ['a.example.com', 'a.*.com', false],
    ['a.example.com', '**.example.com', false],
    ['xn--a.example.com', 'xn--*.example.com', false],
    ['a.example.com', '*', false],
    ['localhost', '*', false],
    ['a.example.org', '*.example.com', false],
  ];
  for (const [name, pattern, want] of cases) {
    it(`${name} vs certificate ${pattern} → ${want}`, () => assert.equal(dnsNameMatch(name, pattern), want));
  }
});

describe('sansMatch', () => {
  const sans: SubjectAltName[] = [
    { type: 'URI', value: 'spiffe://cluster.local/ns/shop/sa/web' },
    { type: 'DNS', value: '*.shop.svc.cluster.local' },
    { type: 'EMAIL', value: 'ops@example.com' },
    { type: 'IP_ADDRESS', value: '10.0.0.7' },
  ];
  const cases: Array<[string, SanMatcher[], boolean]> = [
    ['no matchers: no check', [], true],
    ['URI exact', [matcher('URI', 'exact', 'spiffe://cluster.local/ns/shop/sa/web')], true],
    ['URI exact, other identity', [matcher('URI', 'exact', 'spiffe://cluster.local/ns/shop/sa/db')], false],
    ['URI prefix', [matcher('URI', 'prefix', 'spiffe://cluster.local/ns/shop/')], true],
    ['a typed matcher ignores SANs of other types', [matcher('DNS', 'prefix', 'spiffe://')], false],
    ['the same matcher untyped (ANY) sees the URI', [matcher('ANY', 'prefix', 'spiffe://')], true],
    ['EMAIL exact', [matcher('EMAIL', 'exact', 'ops@example.com')], true],
    ['EMAIL typed does not see the URI', [matcher('EMAIL', 'contains', 'cluster.local')], false],
    ['IP_ADDRESS exact', [matcher('IP_ADDRESS', 'exact', '10.0.0.7')], true],
    ['IP_ADDRESS regex', [matcher('IP_ADDRESS', 'regex', '10\\.0\\.0\\.[0-9]+')], true],
    [
      'DNS exact under the wildcard (one label)',
      [matcher('DNS', 'exact', 'cart.shop.svc.cluster.local')],
      true,
    ],
    [
      'DNS exact, case differs: DNS is case-insensitive',
      [matcher('DNS', 'exact', 'CART.Shop.svc.cluster.local')],
      true,
    ],
    [
      'DNS exact two labels under the wildcard',
      [matcher('DNS', 'exact', 'a.cart.shop.svc.cluster.local')],
      false,
    ],
    ['DNS exact, the wildcard parent itself', [matcher('DNS', 'exact', 'shop.svc.cluster.local')], false],
    [
      'ANY exact uses DNS semantics on DNS SANs',
      [matcher('ANY', 'exact', 'cart.shop.svc.cluster.local')],
      true,
    ],
    [
      'DNS suffix is a plain string match, no wildcard logic',
      [matcher('DNS', 'suffix', '.svc.cluster.local')],
      true,
    ],
    ['DNS prefix does not expand the wildcard', [matcher('DNS', 'prefix', 'cart.')], false],
    [
      'any matcher matching is enough',
      [matcher('URI', 'exact', 'spiffe://x/y'), matcher('IP_ADDRESS', 'exact', '10.0.0.7')],
      true,
    ],
  ];
  for (const [name, matchers, want] of cases) {
    it(name, () => assert.equal(sansMatch(matchers, sans), want));
  }

  it('a certificate without SANs fails every matcher', () => {
    assert.equal(sansMatch([matcher('ANY', 'prefix', '')], []), false);
  });
});

describe('spiffeIdOf', () => {
  it('is the first spiffe:// URI SAN', () => {
    assert.equal(
      spiffeIdOf([
        { type: 'DNS', value: 'spiffe://not-a-uri' },
        { type: 'URI', value: 'https://example.com' },
        { type: 'URI', value: 'spiffe://td/ns/a/sa/b' },
        { type: 'URI', value: 'spiffe://td/ns/c/sa/d' },
      ]),
      'spiffe://td/ns/a/sa/b',
    );
  });
  it('is undefined without one', () => {
    assert.equal(spiffeIdOf([]), undefined);
    assert.equal(spiffeIdOf([{ type: 'URI', value: 'https://example.com' }]), undefined);
  });
});
