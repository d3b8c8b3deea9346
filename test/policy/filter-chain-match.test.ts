import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Cidr, parseCidr, parseIp } from '../../src/core/ip.js';
import {
  ANY_MATCH,
  type ChainMatch,
  type ConnectionFacts,
  FilterChainSelector,
  type SourceType,
} from '../../src/policy/filter-chain-match.js';

interface Chain {
  name: string;
  match: ChainMatch;
}

/** A chain as written in a listener, ranges as 'a.b.c.d/len'. */
interface ChainSpec {
  destinationPort?: number;
  prefixRanges?: string[];
  serverNames?: string[];
  transportProtocol?: string;
  applicationProtocols?: string[];
  directSourcePrefixRanges?: string[];
  sourceType?: SourceType;
  sourcePrefixRanges?: string[];
  sourcePorts?: number[];
}

function cidr(text: string): Cidr {
  const [address = '', len = ''] = text.split('/');
  const c = parseCidr(address, Number(len));
  assert.ok(c, text);
  return c;
}

function chain(name: string, s: ChainSpec = {}): Chain {
  return {
    name,
    match: {
      ...ANY_MATCH,
      ...(s.destinationPort === undefined ? {} : { destinationPort: s.destinationPort }),
      prefixRanges: (s.prefixRanges ?? []).map(cidr),
      serverNames: s.serverNames ?? [],
      transportProtocol: s.transportProtocol ?? '',
      applicationProtocols: s.applicationProtocols ?? [],
      directSourcePrefixRanges: (s.directSourcePrefixRanges ?? []).map(cidr),
      sourceType: s.sourceType ?? 'ANY',
      sourcePrefixRanges: (s.sourcePrefixRanges ?? []).map(cidr),
      sourcePorts: s.sourcePorts ?? [],
    },
  };
}

/** A connection, addresses as text; by default plaintext from 10.0.0.9:40000 to 10.0.0.5:15006. */
interface Conn {
  port?: number;
  dst?: string;
  sni?: string;
  transport?: string;
  alpn?: string[];
  src?: string;
  directSrc?: string;
  srcPort?: number;
}

function ip(text: string): Uint8Array {
  const b = parseIp(text);
  assert.ok(b, text);
  return b;
}

function facts(c: Conn): ConnectionFacts {
  const src = c.src ?? '10.0.0.9';
  return {
    destinationPort: c.port ?? 15006,
    destinationIp: ip(c.dst ?? '10.0.0.5'),
    serverName: c.sni,
    transportProtocol: c.transport ?? 'raw_buffer',
    applicationProtocols: c.alpn ?? [],
    sourceIp: ip(src),
    directSourceIp: ip(c.directSrc ?? src),
    sourcePort: c.srcPort ?? 40000,
  };
}

type Case = [name: string, conn: Conn, want: string | undefined];

function table(title: string, chains: Chain[], cases: Case[], defaultChain?: Chain): void {
  describe(title, () => {
    const selector = new FilterChainSelector(chains, defaultChain);
    for (const [name, conn, want] of cases) {
      it(name, () => assert.equal(selector.select(facts(conn))?.name, want));
    }
  });
}

const TLS = 'tls';
const RAW = 'raw_buffer';
const ISTIO_ALPN = ['istio-peer-exchange', 'istio', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2'];

// Istio's virtualInbound (15006) for a PERMISSIVE workload: mutual TLS for Istio clients (told apart by their
// ALPN), TLS passthrough for other TLS clients, plaintext for the rest.
table(
  'Istio inbound, PERMISSIVE',
  [
    chain('mtls', { destinationPort: 15006, transportProtocol: TLS, applicationProtocols: ISTIO_ALPN }),
    chain('tls-passthrough', { destinationPort: 15006, transportProtocol: TLS }),
    chain('plaintext', { destinationPort: 15006, transportProtocol: RAW }),
  ],
  [
    ['TLS with ALPN istio → mtls', { transport: TLS, alpn: ['istio'] }, 'mtls'],
    [
      'TLS with Istio client ALPN [istio-http/1.1, istio, http/1.1] → mtls',
      { transport: TLS, alpn: ['istio-http/1.1', 'istio', 'http/1.1'] },
      'mtls',
    ],
    ['TLS with ALPN istio-peer-exchange → mtls', { transport: TLS, alpn: ['istio-peer-exchange'] }, 'mtls'],
    ['TLS with ALPN h2 → passthrough', { transport: TLS, alpn: ['h2'] }, 'tls-passthrough'],
    [
      'TLS with ALPN [h2, http/1.1] → passthrough',
      { transport: TLS, alpn: ['h2', 'http/1.1'] },
      'tls-passthrough',
    ],
    // No chain names h2, so Envoy goes on to the client's next protocol; istio is named, and decides.
    [
      'TLS with ALPN [h2, istio] → mtls (first protocol some chain names)',
      { transport: TLS, alpn: ['h2', 'istio'] },
      'mtls',
    ],
    ['TLS without ALPN → passthrough', { transport: TLS }, 'tls-passthrough'],
    [
      'TLS with SNI but no chain naming server names → by ALPN',
      { transport: TLS, sni: 'svc.ns.svc.cluster.local', alpn: ['istio'] },
      'mtls',
    ],
    ['plaintext → plaintext', {}, 'plaintext'],
    ['plaintext HTTP (http_inspector: http/1.1) → plaintext', { alpn: ['http/1.1'] }, 'plaintext'],
    [
      'plaintext that claims istio ALPN still → plaintext (transport decided first)',
      { alpn: ['istio'] },
      'plaintext',
    ],
    ['unknown transport → nothing', { transport: 'quic' }, undefined],
    [
      'another port → nothing (no port-less chain)',
      { port: 8080, transport: TLS, alpn: ['istio'] },
      undefined,
    ],
  ],
);

table(
  'Istio inbound, STRICT',
  [chain('mtls', { destinationPort: 15006, transportProtocol: TLS, applicationProtocols: ISTIO_ALPN })],
  [
    ['TLS with ALPN istio → mtls', { transport: TLS, alpn: ['istio'] }, 'mtls'],
    ['TLS with ALPN [h2, istio-h2] → mtls', { transport: TLS, alpn: ['h2', 'istio-h2'] }, 'mtls'],
    ['plaintext → nothing (connection closed)', {}, undefined],
    ['plaintext HTTP → nothing', { alpn: ['http/1.1'] }, undefined],
    ['TLS with ALPN h2 → nothing', { transport: TLS, alpn: ['h2'] }, undefined],
    ['TLS without ALPN → nothing', { transport: TLS }, undefined],
  ],
);

const catchAllPlusStrict9000 = [
  chain('catch-all'),
  chain('strict-9000', { destinationPort: 9000, transportProtocol: TLS, applicationProtocols: ISTIO_ALPN }),
];
const portCases: Case[] = [
  ['TLS+istio to 9000 → strict-9000', { port: 9000, transport: TLS, alpn: ['istio'] }, 'strict-9000'],
  ['plaintext to 8000 → catch-all', { port: 8000 }, 'catch-all'],
  ['TLS+istio to 8000 → catch-all', { port: 8000, transport: TLS, alpn: ['istio'] }, 'catch-all'],
];
table('destination port: named port does not fall back to port-less chains', catchAllPlusStrict9000, [
  ...portCases,
  ['plaintext to 9000 → nothing, not catch-all', { port: 9000 }, undefined],
  ['TLS+h2 to 9000 → nothing, not catch-all', { port: 9000, transport: TLS, alpn: ['h2'] }, undefined],
]);
table(
  'destination port: named port that fits nothing → default chain',
  catchAllPlusStrict9000,
  [...portCases, ['plaintext to 9000 → default chain, not catch-all', { port: 9000 }, 'default']],
  chain('default'),
);

table(
  'server names',
  [
    chain('exact', { serverNames: ['api.example.com'] }),
    chain('wild', { serverNames: ['*.example.com'] }),
    chain('wild-longer', { serverNames: ['*.b.example.com'] }),
    chain('tld', { serverNames: ['*.test'] }),
    chain('dot-form', { serverNames: ['.example.org'] }),
    chain('upper', { serverNames: ['Shop.Example.NET'] }),
    chain('strict-exact', { serverNames: ['strict.example.com'], applicationProtocols: ['istio'] }),
    chain('none'),
  ],
  [
    ['exact name beats wildcard', { transport: TLS, sni: 'api.example.com' }, 'exact'],
    ['wildcard matches one label', { transport: TLS, sni: 'www.example.com' }, 'wild'],
    ['wildcard matches several labels', { transport: TLS, sni: 'x.y.example.com' }, 'wild'],
    ['longest wildcard suffix wins', { transport: TLS, sni: 'a.b.example.com' }, 'wild-longer'],
    ['longest wildcard suffix wins, deeper', { transport: TLS, sni: 'z.a.b.example.com' }, 'wild-longer'],
    [
      '*.b.example.com does not match b.example.com itself (→ *.example.com)',
      { transport: TLS, sni: 'b.example.com' },
      'wild',
    ],
    ['wildcard does not match the bare domain', { transport: TLS, sni: 'example.com' }, 'none'],
    ['*.test matches any name under the TLD', { transport: TLS, sni: 'svc.ns.test' }, 'tld'],
    [
      '".example.org" is filed like "*.example.org" (suffix match)',
      { transport: TLS, sni: 'a.example.org' },
      'dot-form',
    ],
    ['".example.org" does not match example.org', { transport: TLS, sni: 'example.org' }, 'none'],
    ['configured names are lower-cased', { transport: TLS, sni: 'shop.example.net' }, 'upper'],
    ['SNI is compared lower-cased', { transport: TLS, sni: 'API.example.COM' }, 'exact'],
    ['unrelated name → chain without names', { transport: TLS, sni: 'other.invalid' }, 'none'],
    ['no SNI → chain without names', { transport: TLS }, 'none'],
    ['plaintext → chain without names', {}, 'none'],
    [
      'exact match that fits nothing further does not fall back to wildcard or none',
      { transport: TLS, sni: 'strict.example.com', alpn: ['h2'] },
      undefined,
    ],
    [
      'exact match that fits further criteria',
      { transport: TLS, sni: 'strict.example.com', alpn: ['istio'] },
      'strict-exact',
    ],
  ],
);

table(
  'destination prefix ranges',
  [
    chain('dst-ten', { prefixRanges: ['10.0.0.0/8'] }),
    chain('dst-pod', { prefixRanges: ['10.0.0.5/32', '192.168.7.0/24'] }),
    chain('dst-v6', { prefixRanges: ['2001:db8::/32'] }),
    chain('dst-any'),
  ],
  [
    ['/32 beats /8', { dst: '10.0.0.5' }, 'dst-pod'],
    ['/8 when the /32 does not hold it', { dst: '10.3.3.3' }, 'dst-ten'],
    ['second range of a chain', { dst: '192.168.7.20' }, 'dst-pod'],
    ['no range holds it → chain without ranges', { dst: '192.168.8.1' }, 'dst-any'],
    ['IPv6 destination', { dst: '2001:db8::10', src: '2001:db8::9' }, 'dst-v6'],
    ['IPv6 outside every IPv6 range → chain without ranges', { dst: 'fd00::1', src: 'fd00::2' }, 'dst-any'],
    ['IPv4-mapped destination is matched as IPv4', { dst: '::ffff:10.0.0.5' }, 'dst-pod'],
  ],
);

table(
  'destination prefix: no backtracking to a shorter range',
  [
    chain('pod-tls', { prefixRanges: ['10.0.0.5/32'], transportProtocol: TLS }),
    chain('net', { prefixRanges: ['10.0.0.0/8'] }),
  ],
  [
    ['longest range wins and its chain fits', { dst: '10.0.0.5', transport: TLS }, 'pod-tls'],
    ['longest range wins but its chain does not fit → nothing', { dst: '10.0.0.5' }, undefined],
    ['other address → shorter range', { dst: '10.0.0.6' }, 'net'],
  ],
);

table(
  'transport protocol',
  [chain('tls', { transportProtocol: TLS }), chain('any-transport')],
  [
    ['tls → tls chain', { transport: TLS }, 'tls'],
    ['raw_buffer → chain without transport', {}, 'any-transport'],
  ],
);

table(
  'direct source prefix ranges',
  [chain('direct-lb', { directSourcePrefixRanges: ['192.168.0.0/16'] }), chain('direct-any')],
  [
    ['direct peer in range', { src: '203.0.113.7', directSrc: '192.168.1.1' }, 'direct-lb'],
    [
      'direct peer out of range (source inside does not count)',
      { src: '192.168.1.1', directSrc: '10.0.0.1' },
      'direct-any',
    ],
  ],
);

table(
  'source prefix ranges: longest prefix',
  [
    chain('ten', { sourcePrefixRanges: ['10.0.0.0/8'] }),
    chain('ten-one', { sourcePrefixRanges: ['10.1.0.0/16'] }),
    chain('v6-doc', { sourcePrefixRanges: ['2001:db8::/32'] }),
    chain('v6-doc-1', { sourcePrefixRanges: ['2001:db8:1::/48'] }),
    chain('mapped-range', { sourcePrefixRanges: ['::ffff:172.16.0.0/108'] }),
    chain('any-src'),
  ],
  [
    ['/16 beats /8', { src: '10.1.2.3' }, 'ten-one'],
    ['/8', { src: '10.2.0.1' }, 'ten'],
    ['outside every range → chain without ranges', { src: '192.168.1.1' }, 'any-src'],
    ['IPv6 /48 beats /32', { src: '2001:db8:1::9', dst: '2001:db8::5' }, 'v6-doc-1'],
    ['IPv6 /32', { src: '2001:db8:2::9', dst: '2001:db8::5' }, 'v6-doc'],
    ['IPv4-mapped source is matched as IPv4', { src: '::ffff:10.1.0.1' }, 'ten-one'],
    ['IPv4-mapped range never holds a (normalised) IPv4 source', { src: '::ffff:172.16.0.1' }, 'any-src'],
  ],
);

table(
  'source ports',
  [
    chain('web', { sourcePorts: [80, 443] }),
    chain('any-port'),
    chain('net-5555', { sourcePrefixRanges: ['10.1.0.0/16'], sourcePorts: [5555] }),
    chain('net', { sourcePrefixRanges: ['10.0.0.0/8'] }),
  ],
  [
    ['listed port', { src: '192.168.0.1', srcPort: 443 }, 'web'],
    ['unlisted port → chain without ports', { src: '192.168.0.1', srcPort: 1234 }, 'any-port'],
    ['longest source range, listed port', { src: '10.1.2.3', srcPort: 5555 }, 'net-5555'],
    [
      'longest source range, unlisted port → nothing (no backtracking to /8)',
      { src: '10.1.2.3', srcPort: 1234 },
      undefined,
    ],
    ['shorter range for other sources', { src: '10.2.2.2', srcPort: 1234 }, 'net'],
  ],
);

table(
  'source type: SAME_IP_OR_LOOPBACK and EXTERNAL',
  [chain('local', { sourceType: 'SAME_IP_OR_LOOPBACK' }), chain('external', { sourceType: 'EXTERNAL' })],
  [
    ['127.0.0.1 is local', { src: '127.0.0.1', dst: '127.0.0.1' }, 'local'],
    ['127.0.0.1 to a pod IP is local', { src: '127.0.0.1' }, 'local'],
    ['::1 is local', { src: '::1', dst: '2001:db8::5' }, 'local'],
    ['IPv4-mapped 127.0.0.1 is local', { src: '::ffff:127.0.0.1' }, 'local'],
    ['source equal to destination is local', { src: '10.0.0.5', dst: '10.0.0.5' }, 'local'],
    ['127.0.0.6 is not loopback for Envoy (only 127.0.0.1) → external', { src: '127.0.0.6' }, 'external'],
    ['127.0.0.6 to itself is local (same IP)', { src: '127.0.0.6', dst: '127.0.0.6' }, 'local'],
    ['other host is external', { src: '10.0.0.9' }, 'external'],
  ],
);

table(
  'source type: falls back to ANY when the matching type has no chain',
  [chain('local', { sourceType: 'SAME_IP_OR_LOOPBACK' }), chain('any-source')],
  [
    ['local → local', { src: '127.0.0.1' }, 'local'],
    ['external → ANY', { src: '10.0.0.9' }, 'any-source'],
  ],
);

table(
  'criteria order: source type is decided before source IP',
  [
    chain('local', { sourceType: 'SAME_IP_OR_LOOPBACK' }),
    chain('from-lo', { sourcePrefixRanges: ['127.0.0.0/8'] }),
  ],
  [
    ['127.0.0.1 → local (source type first)', { src: '127.0.0.1' }, 'local'],
    ['127.0.0.9 → from-lo (external, so ANY chains)', { src: '127.0.0.9' }, 'from-lo'],
  ],
);

table(
  'default chain',
  [
    chain('tls', { transportProtocol: TLS, applicationProtocols: ['istio'] }),
    chain('src', { sourcePrefixRanges: ['10.1.0.0/16'] }),
  ],
  [
    ['a chain fits → that chain', { transport: TLS, alpn: ['istio'] }, 'tls'],
    ['nothing fits → default', { transport: TLS, alpn: ['h2'] }, 'default'],
    ['nothing fits (source outside) → default', { src: '10.2.0.1' }, 'default'],
  ],
  chain('default'),
);

table('no chains at all', [], [['→ nothing', {}, undefined]]);
table('no chains, only a default', [], [['→ default', {}, 'default']], chain('default'));
