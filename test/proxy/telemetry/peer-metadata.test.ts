// x-envoy-peer-metadata: byte-exact encoding (a hand-built vector, and the header a real Istio 1.24 sidecar sent
// for the node metadata it had), decoding of real headers old and new, and decoding that never throws.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import {
  decodePeerMetadata,
  EMPTY_WORKLOAD,
  encodePeerMetadata,
  PeerMetadataCache,
  parseNodeMetadata,
  peerMetadataBytes,
  workloadFromNode,
} from '../../../src/proxy/telemetry/index.js';
import {
  ISTIO_1_5_PEER_METADATA,
  ISTIO_1_24_NODE_METADATA,
  ISTIO_1_24_PEER_METADATA,
  SERVICE_A_NODE,
} from './fixtures.js';

/** Protobuf by hand: a base-128 varint. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
/** Protobuf by hand: a length-delimited field (tag, length, body). */
function ld(tag: number, body: readonly number[]): number[] {
  return [tag, ...varint(body.length), ...body];
}
const utf8 = (s: string) => [...Buffer.from(s, 'utf8')];
/** A Struct map entry `key → Value{string_value}`. */
const strEntry = (key: string, value: string) =>
  ld(0x0a, [...ld(0x0a, utf8(key)), ...ld(0x12, ld(0x1a, utf8(value)))]);
/** A Struct map entry `key → Value{struct_value}`. */
const structEntry = (key: string, fields: number[]) =>
  ld(0x0a, [...ld(0x0a, utf8(key)), ...ld(0x12, ld(0x2a, fields))]);

describe('encodePeerMetadata', () => {
  it('matches a hand-built vector: keys sorted, LABELS always present, empty values left out', () => {
    const bytes = Buffer.from(peerMetadataBytes({ ...EMPTY_WORKLOAD, namespace: 'ns' }));
    // LABELS → Value{struct_value: {}} then NAMESPACE → Value{string_value: "ns"}.
    assert.equal(
      bytes.toString('hex'),
      '0a0c0a064c4142454c5312022a000a110a094e414d4553504143451204' + '1a026e73',
    );
    assert.equal(
      encodePeerMetadata({ ...EMPTY_WORKLOAD, namespace: 'ns' }),
      'CgwKBkxBQkVMUxICKgAKEQoJTkFNRVNQQUNFEgQaAm5z',
    );
  });

  it('matches a hand-built vector for a full workload', () => {
    const w = workloadFromNode(parseNodeMetadata(SERVICE_A_NODE));
    const expected = [
      ...strEntry('CLUSTER_ID', 'Kubernetes'),
      ...structEntry('LABELS', [
        ...strEntry('app', 'service-a'),
        ...strEntry('service.istio.io/canonical-name', 'service-a'),
        ...strEntry('service.istio.io/canonical-revision', 'v1'),
        ...strEntry('version', 'v1'),
      ]),
      ...strEntry('NAME', 'service-a-7d4f9-abcde'),
      ...strEntry('NAMESPACE', 'shop'),
      ...strEntry('OWNER', 'kubernetes://apis/apps/v1/namespaces/shop/deployments/service-a'),
      ...strEntry('WORKLOAD_NAME', 'service-a'),
    ];
    assert.deepEqual([...peerMetadataBytes(w)], expected);
    assert.equal(encodePeerMetadata(w), Buffer.from(expected).toString('base64'));
  });

  it('gives, byte for byte, the header a real Istio 1.24 sidecar sent for its node metadata', () => {
    const w = workloadFromNode(parseNodeMetadata(ISTIO_1_24_NODE_METADATA));
    assert.equal(encodePeerMetadata(w), ISTIO_1_24_PEER_METADATA);
  });

  it('sorts keys by their UTF-8 bytes, as protobuf deterministic mode (not JS property order)', () => {
    // JS would order these '9', '10', 'é', 'z'; protobuf compares bytes: "10" < "9" < "z" < "é" (0xc3 0xa9).
    const w = { ...EMPTY_WORKLOAD, extraLabels: { '10': 'a', '9': 'b', é: 'c', z: 'd' } };
    const expected = structEntry('LABELS', [
      ...strEntry('10', 'a'),
      ...strEntry('9', 'b'),
      ...strEntry('z', 'd'),
      ...strEntry('é', 'c'),
    ]);
    assert.deepEqual([...peerMetadataBytes(w)], expected);
  });
});

describe('decodePeerMetadata', () => {
  it('decodes the Istio 1.24 header into the workload it came from', () => {
    const result = decodePeerMetadata(ISTIO_1_24_PEER_METADATA);
    assert.equal(result.reason, undefined);
    assert.deepEqual(result.peer, workloadFromNode(parseNodeMetadata(ISTIO_1_24_NODE_METADATA)));
  });

  it('decodes a 2020 Wasm-era header, ignoring the keys and labels it no longer reads', () => {
    assert.deepEqual(decodePeerMetadata(ISTIO_1_5_PEER_METADATA).peer, {
      instanceName: 'details-v1-75d94c48f5-7blxm',
      namespace: 'default',
      workloadName: 'details-v1',
      clusterId: '',
      canonicalName: 'details',
      canonicalRevision: 'v1',
      appName: 'details',
      appVersion: 'v1',
      workloadType: 'deployment',
      extraLabels: {},
    });
    assert.deepEqual(
      decodePeerMetadata(ISTIO_1_5_PEER_METADATA, new Set(['security.istio.io/tlsMode'])).peer?.extraLabels,
      { 'security.istio.io/tlsMode': 'istio' },
    );
  });

  it('accepts the value without padding, as Envoy decodeWithoutPadding', () => {
    assert.deepEqual(
      decodePeerMetadata(ISTIO_1_24_PEER_METADATA.replace(/=+$/, '')).peer,
      decodePeerMetadata(ISTIO_1_24_PEER_METADATA).peer,
    );
  });

  it('round-trips what it encodes', () => {
    const w = workloadFromNode(parseNodeMetadata(SERVICE_A_NODE));
    assert.deepEqual(decodePeerMetadata(encodePeerMetadata(w)).peer, w);
  });

  it('reads non-string values as "" (protobuf string_value()), as Istio does', () => {
    const struct = protobuf.Root.fromJSON(
      protobuf.common.get('google/protobuf/struct.proto') ?? {},
    ).lookupType('google.protobuf.Struct');
    const bytes = struct
      .encode(
        struct.fromObject({
          fields: {
            WORKLOAD_NAME: { numberValue: 3 },
            NAMESPACE: { stringValue: 'ns' },
            LABELS: { stringValue: 'not a struct' },
          },
        }),
      )
      .finish();
    assert.deepEqual(decodePeerMetadata(Buffer.from(bytes).toString('base64')).peer, {
      ...EMPTY_WORKLOAD,
      namespace: 'ns',
    });
  });

  it('never throws on garbage: no peer, and a reason to log', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /empty value/],
      ['not base64!', /not base64/],
      ['abcde', /not base64/],
      ['a=b=', /not base64/],
      [Buffer.from([0x0a, 0x05, 0x01]).toString('base64'), /not a google\.protobuf\.Struct/],
      [
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]).toString('base64'),
        /not a google\.protobuf\.Struct/,
      ],
    ];
    for (const [value, reason] of cases) {
      const r = decodePeerMetadata(value);
      assert.equal(r.peer, undefined, value);
      assert.match(r.reason ?? '', reason, value);
    }
  });
});

describe('PeerMetadataCache', () => {
  it('decodes a value once and returns the same result object after', () => {
    const cache = new PeerMetadataCache();
    const first = cache.lookup(ISTIO_1_24_PEER_METADATA);
    assert.ok(first.peer);
    assert.equal(cache.lookup(ISTIO_1_24_PEER_METADATA), first);
    assert.equal(cache.lookup(undefined).peer, undefined);
    assert.equal(cache.lookup('').reason, 'no header');
    assert.equal(cache.lookup('!!').reason, 'not base64');
    assert.equal(cache.size, 2);
  });

  it('stays within its size, dropping the oldest quarter when full', () => {
    const cache = new PeerMetadataCache({ maxSize: 8 });
    const values = Array.from({ length: 9 }, (_, i) =>
      encodePeerMetadata({ ...EMPTY_WORKLOAD, workloadName: `w${i}` }),
    );
    const results = values.map((v) => cache.lookup(v));
    assert.equal(cache.size, 7);
    assert.notEqual(cache.lookup(values[0] as string), results[0]); // evicted, decoded again
    assert.equal(cache.lookup(values[8] as string), results[8]);
    assert.equal(cache.lookup(values[8] as string).peer?.workloadName, 'w8');
  });
});
