import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cidrContains,
  isCanonicalLoopback,
  isLoopback,
  parseCidr,
  parseIp,
  sameIp,
} from '../../src/core/ip.js';

const bytes = (ip: Uint8Array | undefined) => (ip ? [...ip] : undefined);
const v6 = (...groups: number[]) => groups.flatMap((g) => [g >> 8, g & 0xff]);

describe('parseIp', () => {
  const cases: [name: string, text: string, want: number[] | undefined][] = [
    ['IPv4', '10.1.2.3', [10, 1, 2, 3]],
    ['IPv4 zeros and 255', '0.0.0.255', [0, 0, 0, 255]],
    ['IPv4 octet > 255', '10.1.2.256', undefined],
    ['IPv4 leading zero (inet_pton refuses it)', '10.01.2.3', undefined],
    ['IPv4 three parts', '10.1.2', undefined],
    ['IPv4 five parts', '10.1.2.3.4', undefined],
    ['IPv4 empty part', '10..2.3', undefined],
    ['IPv4 with sign', '+1.2.3.4', undefined],
    ['IPv4 with space', ' 1.2.3.4', undefined],
    ['IPv4 with a zone', '1.2.3.4%eth0', undefined],
    ['empty', '', undefined],
    ['host name', 'localhost', undefined],
    ['IPv6 full', '2001:db8:0:0:0:0:0:1', v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)],
    ['IPv6 compressed middle', '2001:db8::1', v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)],
    ['IPv6 all zeros', '::', v6(0, 0, 0, 0, 0, 0, 0, 0)],
    ['IPv6 loopback', '::1', v6(0, 0, 0, 0, 0, 0, 0, 1)],
    ['IPv6 compressed tail', 'fe80::', v6(0xfe80, 0, 0, 0, 0, 0, 0, 0)],
    ['IPv6 :: for one group', '1:2:3:4:5:6:7::', v6(1, 2, 3, 4, 5, 6, 7, 0)],
    ['IPv6 :: for no group', '1:2:3:4::5:6:7:8', undefined],
    ['IPv6 upper case', 'FE80::ABCD', v6(0xfe80, 0, 0, 0, 0, 0, 0, 0xabcd)],
    ['IPv6 two ::', '1::2::3', undefined],
    ['IPv6 :::', '1:::2', undefined],
    ['IPv6 nine groups', '1:2:3:4:5:6:7:8:9', undefined],
    ['IPv6 seven groups', '1:2:3:4:5:6:7', undefined],
    ['IPv6 five hex digits', '12345::', undefined],
    ['IPv6 non-hex', 'g::1', undefined],
    ['IPv6 leading single colon', ':1:2:3:4:5:6:7', undefined],
    ['IPv6 trailing single colon', '1:2:3:4:5:6:7:', undefined],
    ['IPv6 bracketed', '[::1]', undefined],
    ['IPv6 zone ignored', 'fe80::1%eth0', v6(0xfe80, 0, 0, 0, 0, 0, 0, 1)],
    ['IPv6 empty zone', 'fe80::1%', undefined],
    ['IPv4-mapped becomes IPv4', '::ffff:10.1.2.3', [10, 1, 2, 3]],
    ['IPv4-mapped upper case', '::FFFF:127.0.0.1', [127, 0, 0, 1]],
    ['IPv4-mapped in hex', '::ffff:a01:203', [10, 1, 2, 3]],
    ['IPv4-mapped written in full', '0:0:0:0:0:ffff:10.1.2.3', [10, 1, 2, 3]],
    ['IPv4-compatible (deprecated) stays IPv6', '::10.1.2.3', v6(0, 0, 0, 0, 0, 0, 0x0a01, 0x0203)],
    ['dotted tail after groups', '64:ff9b::192.0.2.33', v6(0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0221)],
    ['dotted tail with six groups', '1:2:3:4:5:6:1.2.3.4', v6(1, 2, 3, 4, 5, 6, 0x0102, 0x0304)],
    ['dotted tail with seven groups', '1:2:3:4:5:6:7:1.2.3.4', undefined],
    ['dotted tail with :: for no group', '1:2:3:4:5:6::1.2.3.4', undefined],
    ['dotted tail alone with one colon', ':1.2.3.4', undefined],
    ['bad dotted tail', '::ffff:1.2.3', undefined],
    ['dotted part not at the end', '::1.2.3.4:1', undefined],
    ['::: before dotted tail', ':::1.2.3.4', undefined],
  ];
  for (const [name, text, want] of cases) {
    it(`${name}: ${JSON.stringify(text)}`, () => assert.deepEqual(bytes(parseIp(text)), want));
  }
});

describe('parseCidr', () => {
  const cases: [
    name: string,
    address: string,
    len: number,
    want: { bytes: number[]; prefixLen: number } | undefined,
  ][] = [
    ['IPv4 /8, host bits cleared', '10.1.2.3', 8, { bytes: [10, 0, 0, 0], prefixLen: 8 }],
    ['IPv4 /0', '10.1.2.3', 0, { bytes: [0, 0, 0, 0], prefixLen: 0 }],
    ['IPv4 /23', '1.2.3.5', 23, { bytes: [1, 2, 2, 0], prefixLen: 23 }],
    ['IPv4 /32', '1.2.3.5', 32, { bytes: [1, 2, 3, 5], prefixLen: 32 }],
    [
      'IPv4 /33 clamps to /32 (Envoy truncateIpAddressAndLength)',
      '1.2.3.5',
      33,
      { bytes: [1, 2, 3, 5], prefixLen: 32 },
    ],
    ['IPv6 /129 refused', '::1', 129, undefined],
    ['negative length', '10.0.0.0', -1, undefined],
    ['fractional length', '10.0.0.0', 8.5, undefined],
    ['NaN length', '10.0.0.0', Number.NaN, undefined],
    ['not an address', 'example.com', 8, undefined],
    ['IPv6 /48', '2001:db8:1:ffff::', 48, { bytes: v6(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0), prefixLen: 48 }],
    ['IPv6 /9', 'ffff::ffff', 9, { bytes: v6(0xff80, 0, 0, 0, 0, 0, 0, 0), prefixLen: 9 }],
    [
      'IPv4-mapped range stays IPv6 (Envoy parses ranges with v6only)',
      '::ffff:10.0.0.0',
      104,
      { bytes: v6(0, 0, 0, 0, 0, 0xffff, 0x0a00, 0), prefixLen: 104 },
    ],
  ];
  for (const [name, address, len, want] of cases) {
    it(`${name}: ${address}/${len}`, () => {
      const got = parseCidr(address, len);
      assert.deepEqual(got && { bytes: [...got.bytes], prefixLen: got.prefixLen }, want);
    });
  }
});

describe('cidrContains', () => {
  const cidr = (a: string, l: number) => {
    const c = parseCidr(a, l);
    assert.ok(c, `${a}/${l}`);
    return c;
  };
  const ip = (t: string) => {
    const b = parseIp(t);
    assert.ok(b, t);
    return b;
  };
  const cases: [name: string, range: [string, number], address: string, want: boolean][] = [
    ['inside /8', ['10.0.0.0', 8], '10.255.1.1', true],
    ['outside /8', ['10.0.0.0', 8], '11.0.0.1', false],
    ['inside /23 (second half of the odd byte)', ['1.2.2.0', 23], '1.2.3.200', true],
    ['outside /23', ['1.2.2.0', 23], '1.2.4.0', false],
    ['/32 exact', ['10.0.0.5', 32], '10.0.0.5', true],
    ['/32 other', ['10.0.0.5', 32], '10.0.0.6', false],
    ['/0 IPv4 holds any IPv4', ['0.0.0.0', 0], '203.0.113.9', true],
    ['/0 IPv4 does not hold IPv6', ['0.0.0.0', 0], '2001:db8::1', false],
    ['/0 IPv6 does not hold IPv4', ['::', 0], '10.0.0.1', false],
    ['IPv6 /32 inside', ['2001:db8::', 32], '2001:db8:ffff::1', true],
    ['IPv6 /32 outside', ['2001:db8::', 32], '2001:db9::1', false],
    ['IPv6 /127', ['::', 127], '::1', true],
    ['mapped connection address is IPv4', ['10.0.0.0', 8], '::ffff:10.1.2.3', true],
    [
      'mapped range never holds the IPv4 connection address',
      ['::ffff:10.0.0.0', 104],
      '::ffff:10.1.2.3',
      false,
    ],
  ];
  for (const [name, [a, l], address, want] of cases) {
    it(`${name}: ${a}/${l} ∋ ${address}`, () => assert.equal(cidrContains(cidr(a, l), ip(address)), want));
  }
});

describe('loopback and sameIp', () => {
  const cases: [address: string, loopback: boolean, canonical: boolean][] = [
    ['127.0.0.1', true, true],
    ['127.0.0.6', true, false],
    ['127.255.255.254', true, false],
    ['::1', true, true],
    ['::ffff:127.0.0.1', true, true],
    ['10.0.0.1', false, false],
    ['::', false, false],
    ['::2', false, false],
    ['1::1', false, false],
  ];
  for (const [address, loopback, canonical] of cases) {
    it(`${address}: isLoopback ${loopback}, isCanonicalLoopback ${canonical}`, () => {
      const b = parseIp(address);
      assert.ok(b);
      assert.equal(isLoopback(b), loopback);
      assert.equal(isCanonicalLoopback(b), canonical);
    });
  }
  it('sameIp compares family and bytes', () => {
    const p = (t: string) => parseIp(t) ?? new Uint8Array();
    assert.equal(sameIp(p('10.0.0.1'), p('10.0.0.1')), true);
    assert.equal(sameIp(p('10.0.0.1'), p('::ffff:10.0.0.1')), true);
    assert.equal(sameIp(p('10.0.0.1'), p('10.0.0.2')), false);
    assert.equal(sameIp(p('::a00:1'), p('10.0.0.1')), false);
    assert.equal(sameIp(p('2001:db8::1'), p('2001:DB8:0::1')), true);
  });
});
