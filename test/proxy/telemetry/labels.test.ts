// Label values per reporter, table-driven over the cases of docs/notes/istio-telemetry.md 1.3 (istio_stats.cc
// populatePeerInfo): mTLS with metadata exchange, plaintext from a non-mesh client, mTLS without metadata, the
// source reporter's EDS fallback, local replies with no upstream, own values that are missing; then gRPC
// detection and status, the destination service, principals and Skiff's source-side security policy.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  clusterServiceInfo,
  destinationSecurityPolicy,
  destinationService,
  GRPC_INVALID_CODE,
  grpcResponseStatus,
  HTTP_LABEL_NAMES,
  httpLabelValues,
  httpToGrpcStatus,
  namespaceFromPrincipal,
  parseEndpointWorkload,
  parseGrpcStatus,
  parseNodeMetadata,
  requestProtocol,
  serviceResolver,
  statsWorkloadFromNode,
  TCP_LABEL_NAMES,
  type TrafficFacts,
  tcpLabelValues,
  upstreamSecurityPolicy,
  WORKLOAD_LABEL_NAMES,
  type WorkloadMetadata,
  workloadLabelValues,
} from '../../../src/proxy/telemetry/index.js';
import {
  ownA,
  ownB,
  peerA,
  peerB,
  SERVICE_B_CLUSTER_METADATA,
  SPIFFE_A,
  SPIFFE_B,
  serviceB,
} from './fixtures.js';

interface Case {
  title: string;
  own: WorkloadMetadata;
  facts: TrafficFacts;
  /** Expected values, by label name, of the 20 workload labels and the security policy. */
  expected: Record<string, string>;
}

const cases: Case[] = [
  {
    title: 'destination, mTLS from a meshed client with metadata exchange',
    own: ownB,
    facts: {
      reporter: 'destination',
      peer: peerA,
      peerPrincipal: SPIFFE_A,
      localPrincipal: SPIFFE_B,
      service: serviceB,
    },
    expected: {
      reporter: 'destination',
      source_workload: 'service-a',
      source_canonical_service: 'service-a',
      source_canonical_revision: 'v1',
      source_workload_namespace: 'shop',
      source_principal: SPIFFE_A,
      source_app: 'service-a',
      source_version: 'v1',
      source_cluster: 'Kubernetes',
      destination_workload: 'service-b',
      destination_workload_namespace: 'shop',
      destination_principal: SPIFFE_B,
      destination_app: 'service-b',
      destination_version: 'v1',
      destination_service: 'service-b.shop.svc.cluster.local',
      destination_canonical_service: 'service-b',
      destination_canonical_revision: 'v1',
      destination_service_name: 'service-b',
      destination_service_namespace: 'shop',
      destination_cluster: 'Kubernetes',
      connection_security_policy: 'mutual_tls',
    },
  },
  {
    title: 'destination, plaintext from a non-mesh client: unknown, latest, none',
    own: ownB,
    facts: {
      reporter: 'destination',
      peer: undefined,
      peerPrincipal: undefined,
      localPrincipal: undefined,
      service: serviceB,
    },
    expected: {
      reporter: 'destination',
      source_workload: 'unknown',
      source_canonical_service: 'unknown',
      source_canonical_revision: 'latest',
      source_workload_namespace: 'unknown',
      source_principal: 'unknown',
      source_app: 'unknown',
      source_version: 'unknown',
      source_cluster: 'unknown',
      destination_workload: 'service-b',
      destination_workload_namespace: 'shop',
      destination_principal: 'unknown',
      destination_app: 'service-b',
      destination_version: 'v1',
      destination_service: 'service-b.shop.svc.cluster.local',
      destination_canonical_service: 'service-b',
      destination_canonical_revision: 'v1',
      destination_service_name: 'service-b',
      destination_service_namespace: 'shop',
      destination_cluster: 'Kubernetes',
      connection_security_policy: 'none',
    },
  },
  {
    title: 'destination, mTLS without metadata (TCP): the namespace comes from the SAN',
    own: ownB,
    facts: {
      reporter: 'destination',
      peer: undefined,
      peerPrincipal: 'spiffe://cluster.local/ns/legacy/sa/client',
      localPrincipal: SPIFFE_B,
      service: serviceB,
    },
    expected: {
      source_workload: 'unknown',
      source_canonical_revision: 'latest',
      source_workload_namespace: 'legacy',
      source_principal: 'spiffe://cluster.local/ns/legacy/sa/client',
      source_cluster: 'unknown',
      destination_principal: SPIFFE_B,
      connection_security_policy: 'mutual_tls',
    },
  },
  {
    title: 'destination, the SAN namespace wins over the metadata; no /ns/ falls back to it',
    own: ownB,
    facts: {
      reporter: 'destination',
      peer: { ...peerA, namespace: 'from-metadata' },
      peerPrincipal: 'spiffe://td/ns/from-san/sa/x',
      localPrincipal: SPIFFE_B,
      service: serviceB,
    },
    expected: { source_workload_namespace: 'from-san' },
  },
  {
    title: 'destination, a peer SAN without /ns/',
    own: ownB,
    facts: {
      reporter: 'destination',
      peer: { ...peerA, namespace: 'from-metadata' },
      peerPrincipal: 'spiffe://td/sa/x',
      localPrincipal: SPIFFE_B,
      service: serviceB,
    },
    expected: { source_workload_namespace: 'from-metadata' },
  },
  {
    title: 'destination, no service known: own canonical name for service and service name',
    own: ownB,
    facts: {
      reporter: 'destination',
      peer: undefined,
      peerPrincipal: undefined,
      localPrincipal: undefined,
      service: undefined,
    },
    expected: {
      destination_service: 'service-b',
      destination_service_name: 'service-b',
      connection_security_policy: 'none',
    },
  },
  {
    title: 'destination, a peer SAN but no local one (not mutual): none',
    own: ownB,
    facts: {
      reporter: 'destination',
      peer: undefined,
      peerPrincipal: SPIFFE_A,
      localPrincipal: undefined,
      service: serviceB,
    },
    expected: {
      source_principal: SPIFFE_A,
      destination_principal: 'unknown',
      connection_security_policy: 'none',
    },
  },
  {
    title: 'source, mTLS to a meshed server with metadata exchange (Skiff: mutual_tls)',
    own: ownA,
    facts: {
      reporter: 'source',
      peer: peerB,
      peerPrincipal: SPIFFE_B,
      localPrincipal: SPIFFE_A,
      upstreamSecurity: 'mutual_tls',
      service: serviceB,
    },
    expected: {
      reporter: 'source',
      source_workload: 'service-a',
      source_canonical_service: 'service-a',
      source_canonical_revision: 'v1',
      source_workload_namespace: 'shop',
      source_principal: SPIFFE_A,
      source_app: 'service-a',
      source_version: 'v1',
      source_cluster: 'Kubernetes',
      destination_workload: 'service-b',
      destination_workload_namespace: 'shop',
      destination_principal: SPIFFE_B,
      destination_app: 'service-b',
      destination_version: 'v1',
      destination_service: 'service-b.shop.svc.cluster.local',
      destination_canonical_service: 'service-b',
      destination_canonical_revision: 'v1',
      destination_service_name: 'service-b',
      destination_service_namespace: 'shop',
      destination_cluster: 'Kubernetes',
      connection_security_policy: 'mutual_tls',
    },
  },
  {
    title: 'source, without upstreamSecurity: Istio’s unknown',
    own: ownA,
    facts: {
      reporter: 'source',
      peer: peerB,
      peerPrincipal: SPIFFE_B,
      localPrincipal: SPIFFE_A,
      service: serviceB,
    },
    expected: { connection_security_policy: 'unknown' },
  },
  {
    title: 'source, plaintext to a non-mesh pod: EDS istio.workload fallback, no app/version/principal',
    own: ownA,
    facts: {
      reporter: 'source',
      peer: parseEndpointWorkload('legacy-b;shop;legacy-b;;Kubernetes'),
      peerPrincipal: undefined,
      localPrincipal: undefined,
      upstreamSecurity: 'none',
      service: serviceB,
    },
    expected: {
      source_principal: 'unknown',
      destination_workload: 'legacy-b',
      destination_workload_namespace: 'shop',
      destination_principal: 'unknown',
      destination_app: 'unknown',
      destination_version: 'unknown',
      destination_canonical_service: 'legacy-b',
      destination_canonical_revision: 'latest',
      destination_service_namespace: 'shop',
      destination_cluster: 'Kubernetes',
      connection_security_policy: 'none',
    },
  },
  {
    title: 'source, a local reply before any upstream (NR): the Host header, everything else unknown',
    own: ownA,
    facts: {
      reporter: 'source',
      peer: undefined,
      peerPrincipal: undefined,
      localPrincipal: undefined,
      upstreamSecurity: upstreamSecurityPolicy(undefined),
      service: destinationService('nowhere.example:80', undefined, undefined),
    },
    expected: {
      destination_workload: 'unknown',
      destination_workload_namespace: 'unknown',
      destination_service: 'nowhere.example:80',
      destination_canonical_service: 'unknown',
      destination_canonical_revision: 'latest',
      destination_service_name: 'nowhere.example:80',
      destination_service_namespace: 'unknown',
      destination_cluster: 'unknown',
      connection_security_policy: 'unknown',
    },
  },
  {
    title: 'source, no service at all: unknown (not the own canonical name)',
    own: ownA,
    facts: {
      reporter: 'source',
      peer: undefined,
      peerPrincipal: undefined,
      localPrincipal: undefined,
      service: undefined,
    },
    expected: { destination_service: 'unknown', destination_service_name: 'unknown' },
  },
  {
    title: 'own values missing print as "" on either side, never unknown',
    own: statsWorkloadFromNode(parseNodeMetadata({ WORKLOAD_NAME: 'bare', NAMESPACE: 'ns' })),
    facts: {
      reporter: 'source',
      peer: undefined,
      peerPrincipal: undefined,
      localPrincipal: undefined,
      service: serviceB,
    },
    expected: {
      source_workload: 'bare',
      source_canonical_service: '',
      source_canonical_revision: '',
      source_workload_namespace: 'ns',
      source_app: '',
      source_version: '',
      source_cluster: '',
    },
  },
  {
    title: 'own values missing, reporter destination',
    own: statsWorkloadFromNode(parseNodeMetadata({ WORKLOAD_NAME: 'bare', NAMESPACE: 'ns' })),
    facts: {
      reporter: 'destination',
      peer: undefined,
      peerPrincipal: undefined,
      localPrincipal: undefined,
      service: undefined,
    },
    expected: {
      destination_workload: 'bare',
      destination_app: '',
      destination_version: '',
      destination_service: '',
      destination_canonical_service: '',
      destination_canonical_revision: '',
      destination_service_name: '',
      destination_cluster: '',
    },
  },
  {
    title: 'peer values that are empty strings fall back like missing ones',
    own: ownB,
    facts: {
      reporter: 'destination',
      peer: { ...peerA, workloadName: '', canonicalRevision: '', appVersion: '' },
      peerPrincipal: '',
      localPrincipal: '',
      service: serviceB,
    },
    expected: {
      source_workload: 'unknown',
      source_canonical_revision: 'latest',
      source_version: 'unknown',
      source_principal: 'unknown',
      connection_security_policy: 'none',
    },
  },
];

describe('workload labels per reporter (istio_stats.cc populatePeerInfo)', () => {
  for (const c of cases) {
    it(c.title, () => {
      const values = workloadLabelValues(c.own, c.facts);
      assert.equal(values.length, 20);
      const byName = Object.fromEntries(WORKLOAD_LABEL_NAMES.map((n, i) => [n, values[i]]));
      const http = httpLabelValues(c.own, c.facts, 'http', 200, undefined, '-');
      byName.connection_security_policy = http[24];
      const expected = c.expected;
      const picked = Object.fromEntries(Object.keys(expected).map((k) => [k, byName[k]]));
      assert.deepEqual(picked, expected);
      if (Object.keys(expected).length === 21) assert.deepEqual(byName, expected);
    });
  }
});

describe('label order', () => {
  it('HTTP: 25 labels, TCP: 23, in the order Istio pushes them', () => {
    assert.deepEqual(HTTP_LABEL_NAMES.slice(20), [
      'request_protocol',
      'response_code',
      'grpc_response_status',
      'response_flags',
      'connection_security_policy',
    ]);
    assert.deepEqual(TCP_LABEL_NAMES.slice(20), [
      'request_protocol',
      'response_flags',
      'connection_security_policy',
    ]);
    assert.equal(HTTP_LABEL_NAMES.length, 25);
    assert.equal(TCP_LABEL_NAMES.length, 23);
    assert.deepEqual(WORKLOAD_LABEL_NAMES.slice(0, 9), [
      'reporter',
      'source_workload',
      'source_canonical_service',
      'source_canonical_revision',
      'source_workload_namespace',
      'source_principal',
      'source_app',
      'source_version',
      'source_cluster',
    ]);
  });

  it('the last values: protocol, code, gRPC status (gRPC only), flags, policy', () => {
    const facts: TrafficFacts = {
      reporter: 'destination',
      peer: peerA,
      peerPrincipal: SPIFFE_A,
      localPrincipal: SPIFFE_B,
      service: serviceB,
    };
    assert.deepEqual(httpLabelValues(ownB, facts, 'http', 404, 12, 'NR').slice(20), [
      'http',
      '404',
      '',
      'NR',
      'mutual_tls',
    ]);
    assert.deepEqual(httpLabelValues(ownB, facts, 'grpc', 200, 14, 'UH').slice(20), [
      'grpc',
      '200',
      '14',
      'UH',
      'mutual_tls',
    ]);
    assert.deepEqual(httpLabelValues(ownB, facts, 'grpc', 0, undefined, 'DC').slice(20), [
      'grpc',
      '0',
      '',
      'DC',
      'mutual_tls',
    ]);
    assert.deepEqual(tcpLabelValues(ownB, facts, '-').slice(20), ['tcp', '-', 'mutual_tls']);
    assert.equal(tcpLabelValues(ownB, facts, '-').length, 23);
  });
});

describe('gRPC', () => {
  const protocols: Array<[string | undefined, string | undefined, 'http' | 'grpc']> = [
    ['/pkg.Svc/Method', 'application/grpc', 'grpc'],
    ['/pkg.Svc/Method', 'application/grpc+proto', 'grpc'],
    ['/pkg.Svc/Method', 'application/grpc+json', 'grpc'],
    ['/pkg.Svc/Method', 'application/grpc-web', 'http'],
    ['/pkg.Svc/Method', 'application/grpc-web+proto', 'http'],
    ['/pkg.Svc/Method', 'application/grpc; charset=utf-8', 'http'],
    ['/pkg.Svc/Method', 'Application/gRPC', 'http'],
    ['/pkg.Svc/Method', 'application/json', 'http'],
    ['/pkg.Svc/Method', undefined, 'http'],
    [undefined, 'application/grpc', 'http'],
  ];
  for (const [path, contentType, expected] of protocols) {
    it(`request_protocol for path ${path} and content-type ${contentType} is ${expected}`, () => {
      assert.equal(requestProtocol(path, contentType), expected);
    });
  }

  it('grpc-status as Envoy reads it (SimpleAtoi, 0..16, else InvalidCode -1)', () => {
    const table: Array<[string | undefined, number | undefined]> = [
      [undefined, undefined],
      ['', undefined],
      ['0', 0],
      ['14', 14],
      ['16', 16],
      ['17', GRPC_INVALID_CODE],
      ['007', 7],
      [' 3 ', 3],
      ['+3', 3],
      ['-1', GRPC_INVALID_CODE],
      ['abc', GRPC_INVALID_CODE],
      ['1.0', GRPC_INVALID_CODE],
      ['99999999999999999999999', GRPC_INVALID_CODE],
      ['   ', GRPC_INVALID_CODE],
    ];
    for (const [value, expected] of table)
      assert.equal(parseGrpcStatus(value), expected, JSON.stringify(value));
  });

  it('httpToGrpcStatus: 400→13, 401→16, 403→7, 404→12, 429/502/503/504→14, else 2', () => {
    const table: Array<[number, number]> = [
      [400, 13],
      [401, 16],
      [403, 7],
      [404, 12],
      [429, 14],
      [502, 14],
      [503, 14],
      [504, 14],
      [200, 2],
      [500, 2],
      [408, 2],
    ];
    for (const [http, grpc] of table) assert.equal(httpToGrpcStatus(http), grpc, String(http));
  });

  it('grpc_response_status: trailers, then headers, then inferred from the HTTP status, else none', () => {
    assert.equal(grpcResponseStatus('5', '3', 200), 5);
    assert.equal(grpcResponseStatus(undefined, '3', 200), 3);
    assert.equal(grpcResponseStatus(undefined, undefined, 503), 14);
    assert.equal(grpcResponseStatus(undefined, undefined, 200), 2);
    assert.equal(grpcResponseStatus(undefined, undefined, 0), undefined);
    assert.equal(grpcResponseStatus('bad', '3', 200), GRPC_INVALID_CODE);
  });
});

describe('destination service (host, name)', () => {
  const b = clusterServiceInfo('outbound|8080||service-b.shop.svc.cluster.local', SERVICE_B_CLUSTER_METADATA);
  const table: Array<
    [
      string,
      [string | undefined, string | undefined, ReturnType<typeof clusterServiceInfo> | undefined],
      [string, string],
    ]
  > = [
    [
      'cluster metadata host and name',
      ['service-b:8080', undefined, b],
      ['service-b.shop.svc.cluster.local', 'service-b'],
    ],
    [
      'Host header without cluster metadata',
      ['httpbin.org', undefined, clusterServiceInfo('outbound|80||httpbin.org', {})],
      ['httpbin.org', 'httpbin.org'],
    ],
    ['no Host header, no metadata', [undefined, undefined, undefined], ['', '']],
    ['route block_all', ['x.example', 'block_all', b], ['x.example', 'BlackHoleCluster']],
    ['route allow_any', ['x.example', 'allow_any', b], ['x.example', 'PassthroughCluster']],
    [
      'PassthroughCluster',
      ['x.example:443', undefined, clusterServiceInfo('PassthroughCluster', SERVICE_B_CLUSTER_METADATA)],
      ['x.example:443', 'PassthroughCluster'],
    ],
    [
      'InboundPassthroughClusterIpv4',
      ['10.0.0.1:9000', undefined, clusterServiceInfo('InboundPassthroughClusterIpv4', undefined)],
      ['10.0.0.1:9000', 'InboundPassthroughClusterIpv4'],
    ],
    [
      'host only: name is the host up to the first dot',
      [
        'h',
        undefined,
        clusterServiceInfo('c', { istio: { services: [{ host: 'reviews.default.svc.cluster.local' }] } }),
      ],
      ['reviews.default.svc.cluster.local', 'reviews'],
    ],
    [
      'name only: the Host header stays the host',
      ['reviews:9080', undefined, clusterServiceInfo('c', { istio: { services: [{ name: 'rev' }] } })],
      ['reviews:9080', 'rev'],
    ],
    [
      'neither: the Host header up to the first dot',
      ['a.b.c', undefined, clusterServiceInfo('c', { istio: { services: [{}] } })],
      ['a.b.c', 'a'],
    ],
    [
      'empty services list',
      ['a.b.c', undefined, clusterServiceInfo('c', { istio: { services: [] } })],
      ['a.b.c', 'a.b.c'],
    ],
    [
      'first service only',
      [
        'h',
        undefined,
        clusterServiceInfo('c', {
          istio: {
            services: [
              { host: 'one.ns.svc', name: 'one' },
              { host: 'two.ns.svc', name: 'two' },
            ],
          },
        }),
      ],
      ['one.ns.svc', 'one'],
    ],
  ];
  for (const [title, [host, route, cluster], [eh, en]] of table) {
    it(title, () => {
      assert.deepEqual(destinationService(host, route, cluster), { host: eh, name: en });
    });
  }
});

describe('serviceResolver', () => {
  it('gives what destinationService gives, as one object per Host value (or one in all)', () => {
    const b = clusterServiceInfo(
      'outbound|8080||service-b.shop.svc.cluster.local',
      SERVICE_B_CLUSTER_METADATA,
    );
    const fixed = serviceResolver(undefined, b);
    assert.equal(fixed('service-b:8080'), fixed('other'));
    assert.deepEqual(fixed(undefined), destinationService('x', undefined, b));
    const plain = serviceResolver(undefined, clusterServiceInfo('outbound|80||httpbin.org', undefined));
    const one = plain('httpbin.org');
    assert.equal(plain(`${'httpbin'}.org`), one);
    assert.deepEqual(one, { host: 'httpbin.org', name: 'httpbin.org' });
    assert.deepEqual(plain(undefined), { host: '', name: '' });
    const hostOnly = serviceResolver(
      undefined,
      clusterServiceInfo('c', { istio: { services: [{ name: 'rev' }] } }),
    );
    assert.deepEqual(hostOnly('reviews:9080'), { host: 'reviews:9080', name: 'rev' });
    assert.deepEqual(hostOnly(undefined), { host: '', name: 'rev' });
    const blocked = serviceResolver('block_all', b);
    assert.deepEqual(blocked('x.example'), { host: 'x.example', name: 'BlackHoleCluster' });
  });
});

describe('principals and security policy', () => {
  it('namespace from a SPIFFE principal', () => {
    assert.equal(namespaceFromPrincipal('spiffe://cluster.local/ns/shop/sa/a'), 'shop');
    assert.equal(namespaceFromPrincipal('spiffe://cluster.local/ns/shop'), 'shop');
    assert.equal(namespaceFromPrincipal('spiffe://cluster.local/ns//sa/a'), '');
    assert.equal(namespaceFromPrincipal('spiffe://cluster.local/sa/a'), undefined);
  });

  it('destination: mutual_tls iff both principals', () => {
    assert.equal(destinationSecurityPolicy(SPIFFE_A, SPIFFE_B), 'mutual_tls');
    assert.equal(destinationSecurityPolicy(SPIFFE_A, undefined), 'none');
    assert.equal(destinationSecurityPolicy(undefined, SPIFFE_B), 'none');
    assert.equal(destinationSecurityPolicy('', ''), 'none');
  });

  it('source (Skiff): mutual_tls over mTLS with a verified server identity, none otherwise, unknown without upstream', () => {
    assert.equal(
      upstreamSecurityPolicy({ tls: true, peerPrincipal: SPIFFE_B, localPrincipal: SPIFFE_A }),
      'mutual_tls',
    );
    assert.equal(
      upstreamSecurityPolicy({ tls: true, peerPrincipal: undefined, localPrincipal: SPIFFE_A }),
      'none',
    );
    assert.equal(
      upstreamSecurityPolicy({ tls: true, peerPrincipal: SPIFFE_B, localPrincipal: undefined }),
      'none',
    );
    assert.equal(
      upstreamSecurityPolicy({ tls: false, peerPrincipal: undefined, localPrincipal: undefined }),
      'none',
    );
    assert.equal(upstreamSecurityPolicy(undefined), 'unknown');
  });
});
