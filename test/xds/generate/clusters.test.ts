import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/load.js';
import { buildModel } from '../../../src/model/build.js';
import type { MeshModel } from '../../../src/model/types.js';
import type { JsonObject } from '../../../src/xds/decode.js';
import {
  allLoadAssignments,
  blackHoleCluster,
  buildOutboundClusters,
  MAX_UINT32,
  outboundClusters,
  passthroughCluster,
} from '../../../src/xds/generate/clusters.js';
import { GenerationContext } from '../../../src/xds/generate/context.js';
import { protoDuration } from '../../../src/xds/generate/duration.js';
import { buildLoadAssignment } from '../../../src/xds/generate/endpoints.js';
import { OutboundPortAllocator } from '../../../src/xds/generate/outbound-ports.js';
import { contextFrom, sidecarNode } from './fixtures.js';
import { errorsOf, simulateOutbound } from './simulate-outbound.js';

const HOST = 'foo.ns.svc.cluster.local';
const SA = 'spiffe://cluster.local/ns/ns/sa/foo';
const CLIENT = sidecarNode('127.0.1.9', 'client-0', { namespace: 'ns' });

/** Service foo.ns: HTTP 8080, gRPC 9090, TCP 9000 and `web` 7070 (no protocol: detected per connection). */
const FOO = `
apiVersion: v1
kind: Service
metadata: {name: foo, namespace: ns}
spec:
  selector: {app: foo}
  ports:
  - {name: http, port: 8080}
  - {name: grpc, port: 9090}
  - {name: tcp, port: 9000}
  - {name: web, port: 7070}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: foo-0, namespace: ns}
spec:
  address: 127.0.1.2
  labels: {app: foo, version: v1, security.istio.io/tlsMode: istio}
  serviceAccount: foo
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: foo-1, namespace: ns}
spec:
  address: 127.0.1.3
  labels: {app: foo, version: v2}
  serviceAccount: foo
`;

function mesh(spec: string): string {
  return `apiVersion: skiff.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: ${spec}\n---\n`;
}
const AUTO_OFF = mesh('{enableAutoMtls: false}');

function dr(spec: string, name = 'foo', namespace = 'ns'): string {
  return `---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec: ${spec}\n`;
}

function pa(spec: string, name = 'default', namespace = 'ns'): string {
  return `---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec: ${spec}\n`;
}

function clusterNamed(clusters: readonly JsonObject[], name: string): JsonObject {
  const c = clusters.find((x) => x.name === name);
  assert.ok(c, `no cluster ${name} among ${clusters.map((x) => x.name).join(', ')}`);
  return c;
}

function cluster(yaml: string, name: string): JsonObject {
  return clusterNamed(buildOutboundClusters(contextFrom(yaml), CLIENT), name);
}

const DEFAULT_THRESHOLDS = {
  max_connections: MAX_UINT32,
  max_pending_requests: MAX_UINT32,
  max_requests: MAX_UINT32,
  max_retries: MAX_UINT32,
  track_remaining: false,
};

type Json = JsonObject[string];
const get = (o: Json | undefined, ...keys: (string | number)[]): Json | undefined => {
  let cur = o;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, Json>)[k];
  }
  return cur;
};

/** A cluster's TLS as the assertions read it. */
interface TlsSummary {
  /** auto: transport socket matches; user: one transport socket; none: plaintext. */
  type: 'auto' | 'user' | 'none';
  sni?: string;
  sans?: string[];
  alpn?: string[];
  /** `sds:default`, `file:CERT~KEY` or `none`. */
  cert?: string;
  /** `sds:ROOTCA`, `file:CA`, `none` (no validation). */
  ca?: string;
}

function tlsOf(c: JsonObject): TlsSummary {
  const matches = c.transport_socket_matches as JsonObject[] | undefined;
  const socket = matches ? get(matches[0], 'transport_socket') : c.transport_socket;
  if (socket === undefined) return { type: 'none' };
  const ctx = get(socket, 'typed_config');
  const common = get(ctx, 'common_tls_context');
  const combined = get(common, 'combined_validation_context');
  const validation = combined
    ? get(combined, 'default_validation_context')
    : get(common, 'validation_context');
  const sans = ((get(validation, 'match_subject_alt_names') ?? []) as JsonObject[]).map((m) =>
    String(m.exact),
  );
  const sds = get(common, 'tls_certificate_sds_secret_configs', 0, 'name');
  const file = get(common, 'tls_certificates', 0);
  const cert =
    sds !== undefined
      ? `sds:${sds}`
      : file !== undefined
        ? `file:${get(file, 'certificate_chain', 'filename')}~${get(file, 'private_key', 'filename')}`
        : 'none';
  const rootSds = get(combined, 'validation_context_sds_secret_config', 'name');
  const rootFile = get(validation, 'trusted_ca', 'filename');
  const ca = rootSds !== undefined ? `sds:${rootSds}` : rootFile !== undefined ? `file:${rootFile}` : 'none';
  return {
    type: matches ? 'auto' : 'user',
    sni: String(get(ctx, 'sni') ?? ''),
    sans,
    alpn: (get(common, 'alpn_protocols') ?? []) as string[],
    cert,
    ca,
  };
}

const MX = ['istio-peer-exchange', 'istio'];
const AUTO_8080: TlsSummary = {
  type: 'auto',
  sni: `outbound_.8080_._.${HOST}`,
  sans: [SA],
  alpn: MX,
  cert: 'sds:default',
  ca: 'sds:ROOTCA',
};

describe('clusters: Istio cluster_builder_test.go TestBuildDefaultCluster', () => {
  it('default EDS cluster: every field (auto mTLS off, as testMesh)', () => {
    const yaml = `${mesh('{enableAutoMtls: false, connectTimeout: 10s}')}
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: default}
spec:
  ports: [{name: http-default, port: 8080}]
`;
    const name = 'outbound|8080||svc.default.svc.cluster.local';
    assert.deepEqual(cluster(yaml, name), {
      name,
      type: 'EDS',
      eds_cluster_config: {
        service_name: name,
        eds_config: { ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' },
      },
      connect_timeout: '10s',
      lb_policy: 'LEAST_REQUEST',
      circuit_breakers: { thresholds: [DEFAULT_THRESHOLDS] },
      common_lb_config: { healthy_panic_threshold: { value: 0 } },
      metadata: {
        filter_metadata: {
          istio: { services: [{ host: 'svc.default.svc.cluster.local', name: 'svc', namespace: 'default' }] },
        },
      },
      // Local mode: the replica's address (not in Istio's cluster).
      upstream_bind_config: { source_address: { address: '127.0.1.9', port_value: 0 } },
    });
  });

  it('strict DNS cluster with no endpoints: not built (a problem says why)', () => {
    const ctx = contextFrom(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: ns}
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
`);
    const { clusters, problems } = outboundClusters(ctx, CLIENT);
    assert.deepEqual(
      clusters.map((c) => c.name),
      ['BlackHoleCluster', 'PassthroughCluster'],
    );
    assert.deepEqual(
      problems.map((p) => [p.severity, p.code]),
      [['warning', 'SKIFF_CDS_DNS']],
    );
    assert.match(
      problems[0]?.message ?? '',
      /ServiceEntry ns\/ext \(api\.example\.com\) port 443.*resolve api\.example\.com/,
    );
  });

  it('static cluster with endpoints: DNS resolution over IP addresses is a STATIC cluster with them inline', () => {
    const name = 'outbound|27018||mongo.example.com';
    const ctx = contextFrom(
      `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: mongo, namespace: ns}
spec:
  hosts: [mongo.example.com]
  location: MESH_INTERNAL
  ports: [{number: 27018, name: mongo, protocol: MONGO}]
  resolution: DNS
  endpoints: [{address: 10.0.0.2, locality: region1/zone1/subzone1}]
`,
    );
    const c = clusterNamed(buildOutboundClusters(ctx, CLIENT), name);
    assert.equal(c.type, 'STATIC');
    assert.equal(c.eds_cluster_config, undefined);
    assert.deepEqual(get(c, 'load_assignment', 'cluster_name'), name);
    assert.deepEqual(get(c, 'load_assignment', 'endpoints', 0, 'locality'), {
      region: 'region1',
      zone: 'zone1',
      sub_zone: 'subzone1',
    });
    assert.deepEqual(get(c, 'load_assignment', 'endpoints', 0, 'load_balancing_weight'), 1);
    assert.deepEqual(
      get(c, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address'),
      { address: '10.0.0.2', port_value: 27018 },
    );
    // Not an EDS cluster: no ClusterLoadAssignment is served for it.
    assert.equal(allLoadAssignments(ctx, CLIENT).size, 0);
    assert.deepEqual(buildLoadAssignment(ctx, CLIENT, name), { cluster_name: name });
  });
});

// cluster_tls_test.go TestBuildAutoMtlsSettings: which TLS a cluster starts from (rows that need proxy metadata
// certificates are Istio's legacy path and have no Skiff equivalent).
describe('clusters TLS: Istio cluster_tls_test.go TestBuildAutoMtlsSettings', () => {
  const EXT = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: ns}
spec:
  hosts: [ext.example.com]
  location: MESH_EXTERNAL
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.9}]
`;
  const cases: [string, string, string, TlsSummary][] = [
    [
      'Destination rule TLS sni and SAN override',
      AUTO_OFF +
        FOO +
        dr(
          '{host: foo, trafficPolicy: {tls: {mode: ISTIO_MUTUAL, sni: custom.foo.com, subjectAltNames: [custom.foo.com]}}}',
        ),
      `outbound|8080||${HOST}`,
      {
        type: 'user',
        sni: 'custom.foo.com',
        sans: ['custom.foo.com'],
        alpn: MX,
        cert: 'sds:default',
        ca: 'sds:ROOTCA',
      },
    ],
    [
      'Auto fill nil settings when mTLS nil for internal service in strict mode',
      FOO + pa('{mtls: {mode: STRICT}}'),
      `outbound|8080||${HOST}`,
      AUTO_8080,
    ],
    [
      'Auto fill nil settings when mTLS nil for internal service in permissive mode',
      FOO + pa('{mtls: {mode: PERMISSIVE}}'),
      `outbound|8080||${HOST}`,
      AUTO_8080,
    ],
    [
      'Auto fill nil settings when mTLS nil for internal service in plaintext mode',
      FOO + pa('{mtls: {mode: DISABLE}}'),
      `outbound|8080||${HOST}`,
      { type: 'none' },
    ],
    [
      'no policy at all: permissive (BestEffortInferServiceMTLSMode falls back to PERMISSIVE)',
      FOO,
      `outbound|8080||${HOST}`,
      AUTO_8080,
    ],
    ['Do not auto fill nil settings for external', EXT, 'outbound|8080||ext.example.com', { type: 'none' }],
    [
      'Do not auto fill nil settings if server mTLS is disabled',
      AUTO_OFF + FOO + pa('{mtls: {mode: DISABLE}}'),
      `outbound|8080||${HOST}`,
      { type: 'none' },
    ],
    [
      'Simple TLS (client certificate files ignored; the service host stands in for auto_sni)',
      AUTO_OFF +
        FOO +
        dr(
          '{host: foo, trafficPolicy: {tls: {mode: SIMPLE, privateKey: /custom/key.pem, clientCertificate: /custom/chain.pem, caCertificates: /custom/root.pem}}}',
        ),
      `outbound|8080||${HOST}`,
      { type: 'user', sni: HOST, sans: [], alpn: [], cert: 'none', ca: 'file:/custom/root.pem' },
    ],
    [
      'Metadata certs with Mesh Exteranl (MUTUAL as written)',
      EXT +
        dr(
          '{host: ext.example.com, trafficPolicy: {tls: {mode: MUTUAL, privateKey: /custom/external/key.pem, clientCertificate: /custom/external/chain.pem, caCertificates: /custom/external/root.pem, sni: custom.foo.com}}}',
          'ext',
        ),
      'outbound|8080||ext.example.com',
      {
        type: 'user',
        sni: 'custom.foo.com',
        sans: [],
        alpn: [],
        cert: 'file:/custom/external/chain.pem~/custom/external/key.pem',
        ca: 'file:/custom/external/root.pem',
      },
    ],
  ];
  for (const [name, yaml, clusterName, want] of cases) {
    it(name, () => assert.deepEqual(tlsOf(cluster(yaml, clusterName)), want));
  }
});

// cluster_tls_test.go TestApplyUpstreamTLSSettings: the context's ALPN, SNI and secrets by mode and HTTP/2
// (port 9090 is gRPC: an HTTP/2 cluster).
describe('clusters TLS: Istio cluster_tls_test.go TestApplyUpstreamTLSSettings', () => {
  const ISTIO = '{mode: ISTIO_MUTUAL, subjectAltNames: [custom.foo.com], sni: custom.foo.com}';
  const MUTUAL =
    '{mode: MUTUAL, caCertificates: root-cert.pem, clientCertificate: cert-chain.pem, privateKey: key.pem, subjectAltNames: [custom.foo.com], sni: custom.foo.com}';
  const SIMPLE =
    '{mode: SIMPLE, caCertificates: root-cert.pem, subjectAltNames: [custom.foo.com], sni: custom.foo.com}';
  const user = (tls: string) => AUTO_OFF + FOO + dr(`{host: foo, trafficPolicy: {tls: ${tls}}}`);
  const istioCtx = { sni: 'custom.foo.com', sans: ['custom.foo.com'], cert: 'sds:default', ca: 'sds:ROOTCA' };
  const fileCtx = { sni: 'custom.foo.com', sans: ['custom.foo.com'], ca: 'file:root-cert.pem' };
  const cases: [string, string, number, TlsSummary][] = [
    [
      'user specified without tls',
      AUTO_OFF + FOO + dr('{host: foo, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}'),
      8080,
      { type: 'none' },
    ],
    ['user specified with istio_mutual tls', user(ISTIO), 8080, { type: 'user', ...istioCtx, alpn: MX }],
    [
      'user specified with istio_mutual tls with h2',
      user(ISTIO),
      9090,
      { type: 'user', ...istioCtx, alpn: [...MX, 'h2'] },
    ],
    ['user specified simple tls', user(SIMPLE), 8080, { type: 'user', ...fileCtx, alpn: [], cert: 'none' }],
    [
      'user specified simple tls with h2',
      user(SIMPLE),
      9090,
      { type: 'user', ...fileCtx, alpn: ['h2'], cert: 'none' },
    ],
    [
      'user specified mutual tls',
      user(MUTUAL),
      8080,
      { type: 'user', ...fileCtx, alpn: [], cert: 'file:cert-chain.pem~key.pem' },
    ],
    [
      'user specified mutual tls with h2',
      user(MUTUAL),
      9090,
      { type: 'user', ...fileCtx, alpn: ['h2'], cert: 'file:cert-chain.pem~key.pem' },
    ],
    ['auto detect with tls', FOO, 8080, AUTO_8080],
    [
      'auto detect with tls and h2 options',
      FOO,
      9090,
      { ...AUTO_8080, sni: `outbound_.9090_._.${HOST}`, alpn: [...MX, 'h2'] },
    ],
  ];
  for (const [name, yaml, port, want] of cases) {
    it(name, () => assert.deepEqual(tlsOf(cluster(yaml, `outbound|${port}||${HOST}`)), want));
  }

  it('auto mTLS: the tlsMode-istio match to the mTLS context, then tlsMode-disabled {} to raw_buffer', () => {
    const c = cluster(FOO, `outbound|8080||${HOST}`);
    const matches = c.transport_socket_matches as JsonObject[];
    assert.deepEqual(
      matches.map((m) => [m.name, m.match]),
      [
        ['tlsMode-istio', { tlsMode: 'istio' }],
        ['tlsMode-disabled', {}],
      ],
    );
    assert.deepEqual(matches[1]?.transport_socket, {
      name: 'envoy.transport_sockets.raw_buffer',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
      },
    });
    assert.equal(c.transport_socket, undefined);
    assert.deepEqual(
      get(matches[0], 'transport_socket', 'typed_config', 'common_tls_context', 'tls_params'),
      {
        tls_minimum_protocol_version: 'TLSv1_2',
        tls_maximum_protocol_version: 'TLSv1_3',
      },
    );
  });
});

describe('clusters TLS: port-level and subset settings (util_test.go TestMergeSubsetTrafficPolicy, cluster_test.go)', () => {
  const cases: [string, string, string, TlsSummary][] = [
    [
      'TestMergeSubsetTrafficPolicy: a port-level entry without tls drops the top-level ISTIO_MUTUAL for its port (auto decides)',
      FOO +
        dr(
          '{host: foo, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}, portLevelSettings: [{port: {number: 8080}, loadBalancer: {simple: ROUND_ROBIN}}]}}',
        ),
      `outbound|8080||${HOST}`,
      AUTO_8080,
    ],
    [
      '… while another port keeps the top-level ISTIO_MUTUAL as one socket',
      FOO +
        dr(
          '{host: foo, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}, portLevelSettings: [{port: {number: 8080}, loadBalancer: {simple: ROUND_ROBIN}}]}}',
        ),
      `outbound|9000||${HOST}`,
      {
        type: 'user',
        sni: `outbound_.9000_._.${HOST}`,
        sans: [SA],
        alpn: MX,
        cert: 'sds:default',
        ca: 'sds:ROOTCA',
      },
    ],
    [
      'TestAutoMTLSClusterIgnoreWorkloadLevelPeerAuthn: port 8080 auto despite a workload STRICT policy',
      FOO +
        dr(
          '{host: foo, trafficPolicy: {portLevelSettings: [{port: {number: 9090}, tls: {mode: DISABLE}}]}}',
        ) +
        pa('{selector: {matchLabels: {version: v1}}, mtls: {mode: STRICT}}', 'strict-v1'),
      `outbound|8080||${HOST}`,
      AUTO_8080,
    ],
    [
      'TestAutoMTLSClusterIgnoreWorkloadLevelPeerAuthn: port 9090 DISABLE by the DestinationRule',
      FOO +
        dr(
          '{host: foo, trafficPolicy: {portLevelSettings: [{port: {number: 9090}, tls: {mode: DISABLE}}]}}',
        ) +
        pa('{selector: {matchLabels: {version: v1}}, mtls: {mode: STRICT}}', 'strict-v1'),
      `outbound|9090||${HOST}`,
      { type: 'none' },
    ],
    [
      'TestAutoMTLSClusterSubsets: the subset port-level ISTIO_MUTUAL with its sni is one socket',
      FOO +
        dr(
          '{host: foo, subsets: [{name: foobar, labels: {version: v1}, trafficPolicy: {portLevelSettings: [{port: {number: 8080}, tls: {mode: ISTIO_MUTUAL, sni: custom.sni.com}}]}}]}',
        ),
      `outbound|8080|foobar|${HOST}`,
      { type: 'user', sni: 'custom.sni.com', sans: [SA], alpn: MX, cert: 'sds:default', ca: 'sds:ROOTCA' },
    ],
    [
      'TestAutoMTLSClusterSubsets: the same subset on another port is auto, with the subset SNI',
      FOO +
        dr(
          '{host: foo, subsets: [{name: foobar, labels: {version: v1}, trafficPolicy: {portLevelSettings: [{port: {number: 8080}, tls: {mode: ISTIO_MUTUAL, sni: custom.sni.com}}]}}]}',
        ),
      `outbound|9000|foobar|${HOST}`,
      { ...AUTO_8080, sni: `outbound_.9000_.foobar_.${HOST}` },
    ],
    [
      'a subset tls DISABLE overrides the rule-level ISTIO_MUTUAL (MergeSubsetTrafficPolicy)',
      FOO +
        dr(
          '{host: foo, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}, subsets: [{name: plain, labels: {version: v2}, trafficPolicy: {tls: {mode: DISABLE}}}]}',
        ),
      `outbound|8080|plain|${HOST}`,
      { type: 'none' },
    ],
    [
      'a subset without tls inherits the rule-level ISTIO_MUTUAL',
      FOO +
        dr(
          '{host: foo, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}, subsets: [{name: v1, labels: {version: v1}}]}',
        ),
      `outbound|8080|v1|${HOST}`,
      {
        type: 'user',
        sni: `outbound_.8080_.v1_.${HOST}`,
        sans: [SA],
        alpn: MX,
        cert: 'sds:default',
        ca: 'sds:ROOTCA',
      },
    ],
  ];
  for (const [name, yaml, clusterName, want] of cases) {
    it(name, () => assert.deepEqual(tlsOf(cluster(yaml, clusterName)), want));
  }

  it('TestBuildSidecarClustersWithIstioMutualAndSNI: the default SNI of a subset is outbound_.PORT_.SUBSET_.HOST', () => {
    const c = cluster(
      FOO +
        dr(
          '{host: foo, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}, subsets: [{name: foobar, labels: {version: v1}}]}',
        ),
      `outbound|8080|foobar|${HOST}`,
    );
    assert.equal(tlsOf(c).sni, `outbound_.8080_.foobar_.${HOST}`);
  });
});

describe('clusters: traffic policy', () => {
  it('connect_timeout: meshConfig.connectTimeout, DestinationRule tcp.connectTimeout overrides (applyConnectionPool)', () => {
    const yaml = mesh('{connectTimeout: 5s}') + FOO;
    assert.equal(cluster(yaml, `outbound|8080||${HOST}`).connect_timeout, '5s');
    const withPool =
      yaml + dr('{host: foo, trafficPolicy: {connectionPool: {tcp: {connectTimeout: 250ms}}}}');
    assert.equal(cluster(withPool, `outbound|8080||${HOST}`).connect_timeout, '0.250s');
  });

  it('TestApplyConnectionPool: maxRetries replaces the unlimited max_retries; the limits the proxy lacks stay unlimited, reported', () => {
    const { clusters, problems } = outboundClusters(
      contextFrom(
        FOO +
          dr(
            '{host: foo, trafficPolicy: {connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 2, http2MaxRequests: 3, maxRetries: 4}}}}',
          ),
      ),
      CLIENT,
    );
    assert.deepEqual(clusterNamed(clusters, `outbound|8080||${HOST}`).circuit_breakers, {
      thresholds: [{ ...DEFAULT_THRESHOLDS, max_retries: 4 }],
    });
    assert.deepEqual(
      problems
        .filter((p) => p.message.includes('port 8080:'))
        .map((p) => p.message.replace(/^.*DestinationRule (\S+).*$/, '$1')),
      ['tcp.maxConnections', 'http.http1MaxPendingRequests', 'http.http2MaxRequests'],
    );
    const zero = cluster(
      FOO + dr('{host: foo, trafficPolicy: {connectionPool: {http: {maxRetries: 0}}}}'),
      `outbound|8080||${HOST}`,
    );
    assert.deepEqual(zero.circuit_breakers, { thresholds: [DEFAULT_THRESHOLDS] });
  });

  // cluster_test.go TestApplyLoadBalancer (the simple algorithms); others are reported.
  const lbCases: [string, string, string, string[]][] = [
    ['unset: LEAST_REQUEST', '{host: foo, trafficPolicy: {tls: {mode: DISABLE}}}', 'LEAST_REQUEST', []],
    ['ROUND_ROBIN', '{host: foo, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}', 'ROUND_ROBIN', []],
    [
      'LEAST_CONN: LEAST_REQUEST',
      '{host: foo, trafficPolicy: {loadBalancer: {simple: LEAST_CONN}}}',
      'LEAST_REQUEST',
      [],
    ],
    [
      'LEAST_REQUEST',
      '{host: foo, trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}}',
      'LEAST_REQUEST',
      [],
    ],
    [
      'RANDOM: reported, LEAST_REQUEST',
      '{host: foo, trafficPolicy: {loadBalancer: {simple: RANDOM}}}',
      'LEAST_REQUEST',
      ['SKIFF_CDS_LOAD_BALANCER'],
    ],
    [
      'consistentHash: reported, LEAST_REQUEST',
      '{host: foo, trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}}',
      'LEAST_REQUEST',
      ['SKIFF_CDS_LOAD_BALANCER'],
    ],
  ];
  for (const [name, spec, want, codes] of lbCases) {
    it(`lb_policy ${name}`, () => {
      const { clusters, problems } = outboundClusters(contextFrom(FOO + dr(spec)), CLIENT);
      assert.equal(clusterNamed(clusters, `outbound|8080||${HOST}`).lb_policy, want);
      const forPort = problems.filter((p) => p.message.includes('port 8080'));
      assert.deepEqual(
        forPort.map((p) => p.code),
        codes,
      );
    });
  }

  // cluster_test.go TestApplyOutlierDetection (rows with the same input and output).
  const outlierCases: [string, string, JsonObject][] = [
    ['No outlier detection is set', '{}', { enforcing_success_rate: 0 }],
    [
      'Consecutive gateway and 5xx errors are set',
      '{consecutive5xxErrors: 4, consecutiveGatewayErrors: 3}',
      {
        enforcing_success_rate: 0,
        consecutive_5xx: 4,
        enforcing_consecutive_5xx: 100,
        consecutive_gateway_failure: 3,
        enforcing_consecutive_gateway_failure: 100,
      },
    ],
    [
      'Only consecutive gateway is set',
      '{consecutiveGatewayErrors: 3}',
      {
        enforcing_success_rate: 0,
        consecutive_gateway_failure: 3,
        enforcing_consecutive_gateway_failure: 100,
      },
    ],
    [
      'Only consecutive 5xx is set',
      '{consecutive5xxErrors: 3}',
      { enforcing_success_rate: 0, consecutive_5xx: 3, enforcing_consecutive_5xx: 100 },
    ],
    [
      'Consecutive gateway is set to 0',
      '{consecutiveGatewayErrors: 0}',
      { enforcing_success_rate: 0, consecutive_gateway_failure: 0, enforcing_consecutive_gateway_failure: 0 },
    ],
    [
      'Consecutive 5xx is set to 0',
      '{consecutive5xxErrors: 0}',
      { enforcing_success_rate: 0, consecutive_5xx: 0, enforcing_consecutive_5xx: 0 },
    ],
    [
      'Local origin errors is enabled',
      '{splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 10}',
      {
        enforcing_success_rate: 0,
        split_external_local_origin_errors: true,
        consecutive_local_origin_failure: 10,
        enforcing_consecutive_local_origin_failure: 100,
        enforcing_local_origin_success_rate: 0,
      },
    ],
    [
      'interval, baseEjectionTime and maxEjectionPercent (durations in proto3 JSON)',
      '{interval: 1m, baseEjectionTime: 30s, maxEjectionPercent: 50}',
      { enforcing_success_rate: 0, interval: '60s', base_ejection_time: '30s', max_ejection_percent: 50 },
    ],
  ];
  for (const [name, outlier, want] of outlierCases) {
    it(`TestApplyOutlierDetection: ${name}`, () => {
      const c = cluster(
        FOO + dr(`{host: foo, trafficPolicy: {outlierDetection: ${outlier}}}`),
        `outbound|8080||${HOST}`,
      );
      assert.deepEqual(c.outlier_detection, want);
    });
  }

  it('TestDisablePanicThresholdAsDefault: panic threshold 0, or the outlier detection minHealthPercent', () => {
    assert.deepEqual(cluster(FOO, `outbound|8080||${HOST}`).common_lb_config, {
      healthy_panic_threshold: { value: 0 },
    });
    assert.equal(cluster(FOO, `outbound|8080||${HOST}`).outlier_detection, undefined);
    const c = cluster(
      FOO +
        dr('{host: foo, trafficPolicy: {outlierDetection: {consecutive5xxErrors: 5, minHealthPercent: 20}}}'),
      `outbound|8080||${HOST}`,
    );
    assert.deepEqual(c.common_lb_config, { healthy_panic_threshold: { value: 20 } });
  });

  // setUpstreamProtocol, cluster_test.go TestShouldH2Upgrade and TestIsHttp2Cluster.
  const HTTP2 = { explicit_http_config: { http2_protocol_options: {} } };
  const DOWNSTREAM = {
    use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
  };
  const protocolCases: [string, string, number, JsonObject | undefined][] = [
    ['HTTP port: HTTP/1.1 (no options)', '', 8080, undefined],
    ['gRPC port: explicit HTTP/2', '', 9090, HTTP2],
    ['TCP port: none', '', 9000, undefined],
    ['port without a protocol (detected): the downstream protocol', '', 7070, DOWNSTREAM],
    [
      'h2UpgradePolicy UPGRADE on an HTTP port: HTTP/2',
      dr('{host: foo, trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}}'),
      8080,
      HTTP2,
    ],
    [
      'h2UpgradePolicy UPGRADE keeps a detected port on the downstream protocol (setH2Options keeps options set)',
      dr('{host: foo, trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}}'),
      7070,
      DOWNSTREAM,
    ],
    [
      'useClientProtocol on a gRPC port: the downstream protocol',
      dr('{host: foo, trafficPolicy: {connectionPool: {http: {useClientProtocol: true}}}}'),
      9090,
      DOWNSTREAM,
    ],
  ];
  for (const [name, extra, port, want] of protocolCases) {
    it(`upstream protocol: ${name}`, () => {
      const c = cluster(FOO + extra, `outbound|${port}||${HOST}`);
      const options = get(
        c,
        'typed_extension_protocol_options',
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      );
      assert.deepEqual(
        options,
        want === undefined
          ? undefined
          : {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              ...want,
            },
      );
    });
  }

  it('pool settings the proxy lacks are reported, the cluster is still built', () => {
    const { clusters, problems } = outboundClusters(
      contextFrom(
        FOO +
          dr(
            '{host: foo, trafficPolicy: {connectionPool: {http: {idleTimeout: 30s, maxRequestsPerConnection: 1}}}}',
          ),
      ),
      CLIENT,
    );
    assert.ok(clusters.some((c) => c.name === `outbound|8080||${HOST}`));
    const at8080 = problems.filter((p) => p.message.includes('port 8080:'));
    assert.deepEqual(
      at8080.map((p) => p.message.replace(/^.*DestinationRule (\w+).*$/, '$1')),
      ['http', 'maxRequestsPerConnection'],
    );
  });
});

describe('clusters: metadata (cluster_test.go TestTelemetryMetadata, TestClusterMetadata)', () => {
  it('services; config and subset from the DestinationRule; alpn_override for SIMPLE', () => {
    const yaml =
      FOO +
      dr(
        '{host: foo, trafficPolicy: {tls: {mode: SIMPLE, caCertificates: ca.pem}}, subsets: [{name: v1, labels: {version: v1}}]}',
      );
    const config = '/apis/networking.istio.io/v1/namespaces/ns/destination-rule/foo';
    const services = [{ host: HOST, name: 'foo', namespace: 'ns' }];
    assert.deepEqual(get(cluster(yaml, `outbound|8080||${HOST}`), 'metadata', 'filter_metadata'), {
      istio: { services, config, alpn_override: 'false' },
    });
    assert.deepEqual(get(cluster(yaml, `outbound|8080|v1|${HOST}`), 'metadata', 'filter_metadata'), {
      istio: { services, config, subset: 'v1', alpn_override: 'false' },
    });
  });

  it('external: true on a MESH_EXTERNAL default cluster only (applyDestinationRule, not buildSubsetCluster)', () => {
    const yaml = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: ns}
spec:
  hosts: [ext.example.com]
  location: MESH_EXTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.9, labels: {v: a}}]
${dr('{host: ext.example.com, subsets: [{name: a, labels: {v: a}}]}', 'ext')}`;
    assert.equal(
      get(cluster(yaml, 'outbound|80||ext.example.com'), 'metadata', 'filter_metadata', 'istio', 'external'),
      true,
    );
    assert.equal(
      get(cluster(yaml, 'outbound|80|a|ext.example.com'), 'metadata', 'filter_metadata', 'istio', 'external'),
      undefined,
    );
  });
});

describe('clusters: resolutions the proxy cannot serve as Istio does', () => {
  it('ServiceEntry resolution NONE without endpoints: skipped with a problem (Istio: ORIGINAL_DST)', () => {
    const { clusters, problems } = outboundClusters(
      contextFrom(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: any, namespace: ns}
spec:
  hosts: [any.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: NONE
`),
      CLIENT,
    );
    assert.equal(clusters.length, 2);
    assert.deepEqual(
      problems.map((p) => p.code),
      ['SKIFF_CDS_PASSTHROUGH'],
    );
  });

  it('DNS resolution with a host name endpoint: skipped, the problem names it', () => {
    const { clusters, problems } = outboundClusters(
      contextFrom(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: ns}
spec:
  hosts: [db.example.com]
  location: MESH_EXTERNAL
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  resolution: DNS
  endpoints: [{address: db.internal.example.com}]
`),
      CLIENT,
    );
    assert.equal(clusters.length, 2);
    assert.equal(problems.length, 1);
    assert.match(problems[0]?.message ?? '', /resolve db\.internal\.example\.com/);
  });

  const HEADLESS = (sidecar2: boolean) => `
apiVersion: v1
kind: Service
metadata: {name: db, namespace: ns}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: tcp, port: 5432}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: db-0, namespace: ns}
spec: {address: 127.0.2.1, labels: {app: db, security.istio.io/tlsMode: istio}, serviceAccount: db}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: db-1, namespace: ns}
spec: {address: 127.0.2.2, labels: {app: db, security.istio.io/tlsMode: ${sidecar2 ? 'istio' : 'disabled'}}, serviceAccount: db}
`;
  it('headless Service with endpoints: an EDS cluster stands in for ORIGINAL_DST; all sidecars → auto mTLS', () => {
    const c = cluster(HEADLESS(true), 'outbound|5432||db.ns.svc.cluster.local');
    assert.equal(c.type, 'EDS');
    assert.equal(tlsOf(c).type, 'auto');
  });
  it('headless Service with an endpoint without sidecar: DISABLE inferred, plaintext (TestReachability "global automtls passthrough")', () => {
    const c = cluster(HEADLESS(false), 'outbound|5432||db.ns.svc.cluster.local');
    assert.equal(c.type, 'EDS');
    assert.deepEqual(tlsOf(c), { type: 'none' });
  });

  it('SIMPLE without caCertificates: skipped (Istio: system roots, which the proxy lacks)', () => {
    const { clusters, problems } = outboundClusters(
      contextFrom(
        FOO +
          dr(
            '{host: foo, trafficPolicy: {portLevelSettings: [{port: {number: 8080}, tls: {mode: SIMPLE}}]}}',
          ),
      ),
      CLIENT,
    );
    assert.equal(
      clusters.some((c) => c.name === `outbound|8080||${HOST}`),
      false,
    );
    assert.ok(clusters.some((c) => c.name === `outbound|9090||${HOST}`));
    assert.deepEqual(
      problems.map((p) => [p.severity, p.code]),
      [['error', 'SKIFF_CDS_TLS']],
    );
  });

  it('credentialName on a sidecar: no TLS context, as Istio (privilegedCredentialLookup), reported', () => {
    const { clusters, problems } = outboundClusters(
      contextFrom(
        FOO +
          dr(
            '{host: foo, trafficPolicy: {portLevelSettings: [{port: {number: 8080}, tls: {mode: SIMPLE, credentialName: foo-cred}}]}}',
          ),
      ),
      CLIENT,
    );
    assert.deepEqual(tlsOf(clusterNamed(clusters, `outbound|8080||${HOST}`)), { type: 'none' });
    assert.deepEqual(
      problems.map((p) => p.code),
      ['SKIFF_CDS_CREDENTIAL_NAME'],
    );
  });
});

describe('clusters: BlackHoleCluster and PassthroughCluster (cluster.go buildClusters)', () => {
  it('come last, after the outbound clusters', () => {
    const names = buildOutboundClusters(contextFrom(FOO), CLIENT).map((c) => c.name);
    assert.deepEqual(names, [
      `outbound|8080||${HOST}`,
      `outbound|9090||${HOST}`,
      `outbound|9000||${HOST}`,
      `outbound|7070||${HOST}`,
      'BlackHoleCluster',
      'PassthroughCluster',
    ]);
  });

  it('BlackHoleCluster: STATIC, no endpoints, ROUND_ROBIN, the mesh connect timeout (buildBlackHoleCluster)', () => {
    const m = contextFrom(mesh('{connectTimeout: 3s}')).model.meshConfig;
    assert.deepEqual(blackHoleCluster(m), {
      name: 'BlackHoleCluster',
      type: 'STATIC',
      connect_timeout: '3s',
      lb_policy: 'ROUND_ROBIN',
      load_assignment: { cluster_name: 'BlackHoleCluster' },
    });
  });

  it('PassthroughCluster: a STATIC stand-in without endpoints (local mode has no original destination)', () => {
    const m = contextFrom('').model.meshConfig;
    assert.deepEqual(passthroughCluster(m), {
      name: 'PassthroughCluster',
      type: 'STATIC',
      connect_timeout: '10s',
      lb_policy: 'ROUND_ROBIN',
      circuit_breakers: { thresholds: [DEFAULT_THRESHOLDS] },
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
        },
      },
      load_assignment: { cluster_name: 'PassthroughCluster' },
    });
  });
});

describe('clusters: local mode', () => {
  it('each proxy binds its own replica address as the source of its upstream connections', () => {
    const ctx = contextFrom(FOO);
    const name = `outbound|8080||${HOST}`;
    const a = clusterNamed(buildOutboundClusters(ctx, CLIENT), name);
    const b = clusterNamed(
      buildOutboundClusters(ctx, sidecarNode('127.0.1.10', 'client-1', { namespace: 'ns' })),
      name,
    );
    assert.deepEqual(a.upstream_bind_config, { source_address: { address: '127.0.1.9', port_value: 0 } });
    assert.deepEqual(b.upstream_bind_config, { source_address: { address: '127.0.1.10', port_value: 0 } });
  });

  it('one service per host name, the same for every proxy: the oldest (name order without times; sidecar.go appendServices)', () => {
    const twice = (ns: string, port: number) => `
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: shared, namespace: ${ns}}
spec:
  hosts: [shared.example.com]
  ports: [{number: ${port}, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.1}]
`;
    const ctx = contextFrom(twice('aaa', 81) + twice('ns', 82));
    const names = buildOutboundClusters(ctx, CLIENT).map((c) => c.name);
    assert.deepEqual(names.slice(0, -2), ['outbound|81||shared.example.com']);
    const other = buildOutboundClusters(ctx, sidecarNode('127.0.1.11', 'x-0', { namespace: 'zzz' }));
    assert.deepEqual(other.map((c) => c.name).slice(0, -2), ['outbound|81||shared.example.com']);
  });
});

describe('clusters and endpoints: the per-service cache', () => {
  const BAR = `
---
apiVersion: v1
kind: Service
metadata: {name: bar, namespace: ns}
spec:
  selector: {app: bar}
  ports: [{name: http, port: 80}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: bar-0, namespace: ns}
spec: {address: 127.0.3.1, labels: {app: bar, security.istio.io/tlsMode: istio}, serviceAccount: bar}
`;
  const load = (yaml: string, previous?: MeshModel) =>
    buildModel(loadConfig([{ path: 't.yaml', text: yaml }]), previous);
  const FOO_CLA = `outbound|8080||${HOST}`;
  const BAR_CLA = 'outbound|80||bar.ns.svc.cluster.local';

  it('a second proxy of the same namespace gets the same cached objects; another namespace does not', () => {
    const ctx = new GenerationContext(load(FOO + BAR), new OutboundPortAllocator());
    const other = sidecarNode('127.0.1.10', 'client-1', { namespace: 'ns' });
    const a = clusterNamed(buildOutboundClusters(ctx, CLIENT), FOO_CLA);
    const b = clusterNamed(buildOutboundClusters(ctx, other), FOO_CLA);
    assert.notEqual(a, b, 'per-proxy copies (their source addresses differ)');
    assert.equal(a.transport_socket_matches, b.transport_socket_matches);
    assert.equal(a.metadata, b.metadata);
    assert.equal(buildLoadAssignment(ctx, CLIENT, FOO_CLA), buildLoadAssignment(ctx, other, FOO_CLA));
    const elsewhere = sidecarNode('127.0.1.12', 'y-0', { namespace: 'other' });
    const c = clusterNamed(buildOutboundClusters(ctx, elsewhere), FOO_CLA);
    assert.notEqual(c.metadata, a.metadata);
    assert.deepEqual(c.metadata, a.metadata);
  });

  it('a new model reuses an unchanged service and rebuilds the one whose endpoints changed', () => {
    const first = load(FOO + BAR);
    const ctx1 = new GenerationContext(first, new OutboundPortAllocator());
    const foo1 = buildLoadAssignment(ctx1, CLIENT, FOO_CLA);
    const bar1 = buildLoadAssignment(ctx1, CLIENT, BAR_CLA);
    const fooCluster1 = clusterNamed(buildOutboundClusters(ctx1, CLIENT), FOO_CLA);
    const moved = FOO.replace('address: 127.0.1.3', 'address: 127.0.1.4');
    const ctx2 = new GenerationContext(load(moved + BAR, first), new OutboundPortAllocator(), ctx1);
    const foo2 = buildLoadAssignment(ctx2, CLIENT, FOO_CLA);
    assert.notEqual(foo2, foo1);
    assert.deepEqual(
      (get(foo2, 'endpoints', 0, 'lb_endpoints') as JsonObject[]).map((e) =>
        get(e, 'endpoint', 'address', 'socket_address', 'address'),
      ),
      ['127.0.1.2', '127.0.1.4'],
    );
    assert.equal(buildLoadAssignment(ctx2, CLIENT, BAR_CLA), bar1);
    assert.notEqual(
      clusterNamed(buildOutboundClusters(ctx2, CLIENT), FOO_CLA).metadata,
      fooCluster1.metadata,
    );
  });

  it('a policy change empties the cache (the context does not take the previous entries over)', () => {
    const first = load(FOO + BAR);
    const ctx1 = new GenerationContext(first, new OutboundPortAllocator());
    const bar1 = buildLoadAssignment(ctx1, CLIENT, BAR_CLA);
    const ctx2 = new GenerationContext(
      load(FOO + BAR + pa('{mtls: {mode: STRICT}}'), first),
      new OutboundPortAllocator(),
      ctx1,
    );
    const bar2 = buildLoadAssignment(ctx2, CLIENT, BAR_CLA);
    assert.notEqual(bar2, bar1);
    assert.deepEqual(bar2, bar1);
  });
});

describe('clusters and endpoints: every resource loads through the proxy', () => {
  const RICH = `${mesh('{connectTimeout: 2s}')}${FOO}${dr(
    '{host: foo, trafficPolicy: {connectionPool: {http: {maxRetries: 10}}, outlierDetection: {consecutive5xxErrors: 3, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2}, portLevelSettings: [{port: {number: 9000}, tls: {mode: ISTIO_MUTUAL}}]}, subsets: [{name: v1, labels: {version: v1}, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}, {name: v2, labels: {version: v2}, trafficPolicy: {tls: {mode: DISABLE}}}]}',
  )}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: ns}
spec:
  hosts: [ext.example.com]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: https, protocol: HTTPS}, {number: 8443, name: grpc, protocol: GRPC}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.9, locality: us/east/a, weight: 3}, {address: 10.0.0.10, locality: eu/west/b}]
${dr('{host: ext.example.com, trafficPolicy: {tls: {mode: MUTUAL, caCertificates: ca.pem, clientCertificate: cert.pem, privateKey: key.pem, subjectAltNames: [ext.example.com]}}}', 'ext')}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: mongo, namespace: ns}
spec:
  hosts: [mongo.example.com]
  ports: [{number: 27018, name: mongo, protocol: MONGO}]
  resolution: DNS
  endpoints: [{address: 10.0.0.2}]
${pa('{selector: {matchLabels: {version: v2}}, portLevelMtls: {"9000": {mode: DISABLE}}}', 'v2-9000')}`;

  it('parseResource(cluster) with its ClusterLoadAssignment, and parseResource(endpoint): no error diagnostic', () => {
    const ctx = contextFrom(RICH);
    const { clusters, problems } = outboundClusters(ctx, CLIENT);
    assert.deepEqual(problems, []);
    const assignments = allLoadAssignments(ctx, CLIENT);
    assert.equal(clusters.length, 4 * 3 + 2 + 1 + 2);
    assert.deepEqual(
      [...assignments.keys()],
      clusters.filter((c) => c.type === 'EDS').map((c) => c.name),
    );
    for (const c of clusters) {
      const sim = simulateOutbound(c, assignments.get(String(c.name)));
      assert.deepEqual(errorsOf(sim.diagnostics), [], String(c.name));
    }
  });
});

it('protoDuration: Go durations as protojson writes them', () => {
  const cases: [string, string | undefined][] = [
    ['10s', '10s'],
    ['1m', '60s'],
    ['1h30m', '5400s'],
    ['250ms', '0.250s'],
    ['1.5s', '1.500s'],
    ['1us', '0.000001s'],
    ['3ns', '0.000000003s'],
    ['0', '0s'],
    ['-1s', undefined],
    ['soon', undefined],
  ];
  assert.deepEqual(
    cases.map(([text]) => [text, protoDuration(text)]),
    cases,
  );
});
