import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatEndpointWorkload, parseEndpointWorkload } from '../../../src/proxy/telemetry/workload.js';
import type { JsonObject } from '../../../src/xds/decode.js';
import { buildOutboundClusters } from '../../../src/xds/generate/clusters.js';
import { buildLoadAssignment, endpointWorkload } from '../../../src/xds/generate/endpoints.js';
import { contextFrom, sidecarNode } from './fixtures.js';
import { type EndpointTransport, errorsOf, simulateOutbound } from './simulate-outbound.js';

const HOST = 'example.ns.svc.cluster.local';
const CLIENT = sidecarNode('127.0.1.9', 'client-0', { namespace: 'ns' });

/**
 * Istio's ep_filters_test.go environment, locally: service example.ns port 80 (`http`) to the workloads' 8080;
 * ex-0 has a sidecar, ex-1 has none.
 */
const EXAMPLE = `
apiVersion: v1
kind: Service
metadata: {name: example, namespace: ns}
spec:
  selector: {app: example}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ex-0, namespace: ns}
spec: {address: 127.0.4.1, labels: {app: example, security.istio.io/tlsMode: istio}, serviceAccount: example}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ex-1, namespace: ns}
spec: {address: 127.0.4.2, labels: {app: example, security.istio.io/tlsMode: disabled}, serviceAccount: example}
`;

function pa(spec: string, namespace = 'ns', name = 'mtls'): string {
  return `---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec: ${spec}\n`;
}
function dr(spec: string, host = HOST): string {
  return `---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: rule, namespace: ns}\nspec: {host: ${host}, ${spec}}\n`;
}

type Json = JsonObject[string];
const get = (o: Json | undefined, ...keys: (string | number)[]): Json | undefined => {
  let cur = o;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, Json>)[k];
  }
  return cur;
};

function lbEndpoints(cla: JsonObject): JsonObject[] {
  return ((cla.endpoints ?? []) as JsonObject[]).flatMap((g) => g.lb_endpoints as JsonObject[]);
}

/** address → its `envoy.transport_socket_match` metadata (undefined when absent). */
function tlsModes(cla: JsonObject): Record<string, Json | undefined> {
  return Object.fromEntries(
    lbEndpoints(cla).map((e) => [
      String(get(e, 'endpoint', 'address', 'socket_address', 'address')),
      get(e, 'metadata', 'filter_metadata', 'envoy.transport_socket_match'),
    ]),
  );
}

/**
 * pilot/pkg/xds/endpoints/ep_filters_test.go `mtlsCases` (TestEndpointsWithMTLSFilter): whether EDS keeps
 * `tlsMode: istio` on the sidecar endpoint (IsMtlsDisabled false) — and then what the client sidecar sends to each
 * endpoint, through the proxy's own translation: [ex-0 (sidecar), ex-1 (no sidecar)].
 */
const MTLS_CASES: [string, string, string, boolean, [string, string]][] = [
  // PeerAuthentication
  [
    'mtls-off-ineffective: a root-namespace policy with a selector is ignored',
    pa('{selector: {matchLabels: {app: b}}, mtls: {mode: DISABLE}}', 'istio-system'),
    '',
    true,
    ['mtls', 'plaintext'],
  ],
  ['mtls-on-strict', pa('{mtls: {mode: STRICT}}', 'istio-system'), '', true, ['mtls', 'plaintext']],
  [
    'mtls-off-global: CDS infers DISABLE too (no TLS at all)',
    pa('{mtls: {mode: DISABLE}}', 'istio-system'),
    '',
    false,
    ['plaintext', 'plaintext'],
  ],
  ['mtls-off-namespace', pa('{mtls: {mode: DISABLE}}'), '', false, ['plaintext', 'plaintext']],
  [
    'mtls-off-workload: CDS stays auto, EDS drops the tlsMode',
    pa('{selector: {matchLabels: {app: example}}, mtls: {mode: DISABLE}}'),
    '',
    false,
    ['plaintext', 'plaintext'],
  ],
  [
    'mtls-off-port: the workload port 8080 (not the service port 80)',
    pa('{selector: {matchLabels: {app: example}}, portLevelMtls: {"8080": {mode: DISABLE}}}'),
    '',
    false,
    ['plaintext', 'plaintext'],
  ],
  // DestinationRule
  [
    'mtls-on-override-pa: DR ISTIO_MUTUAL over a namespace DISABLE (to every endpoint, sidecar or not)',
    pa('{mtls: {mode: DISABLE}}') + dr('trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}'),
    '',
    true,
    ['mtls', 'mtls'],
  ],
  [
    'mtls-off-innefective: a DR for another host',
    dr('trafficPolicy: {tls: {mode: DISABLE}}', 'other.ns.svc.cluster.local'),
    '',
    true,
    ['mtls', 'plaintext'],
  ],
  ['mtls-on-destination-level', dr('trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}'), '', true, ['mtls', 'mtls']],
  [
    'mtls-on-port-level',
    dr('trafficPolicy: {portLevelSettings: [{port: {number: 80}, tls: {mode: ISTIO_MUTUAL}}]}'),
    '',
    true,
    ['mtls', 'mtls'],
  ],
  [
    'mtls-off-destination-level',
    dr('trafficPolicy: {tls: {mode: DISABLE}}'),
    '',
    false,
    ['plaintext', 'plaintext'],
  ],
  [
    'mtls-off-port-level',
    dr('trafficPolicy: {portLevelSettings: [{port: {number: 80}, tls: {mode: DISABLE}}]}'),
    '',
    false,
    ['plaintext', 'plaintext'],
  ],
  [
    'mtls-off-subset-level',
    dr(
      'trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}, subsets: [{name: disable-tls, labels: {app: example}, trafficPolicy: {tls: {mode: DISABLE}}}]',
    ),
    'disable-tls',
    false,
    ['plaintext', 'plaintext'],
  ],
  [
    'mtls-on-subset-level',
    dr(
      'trafficPolicy: {tls: {mode: DISABLE}}, subsets: [{name: enable-tls, labels: {app: example}, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}]',
    ),
    'enable-tls',
    true,
    ['mtls', 'mtls'],
  ],
  [
    'mtls-off-subset-fallback-to-destination',
    dr(
      'trafficPolicy: {tls: {mode: DISABLE}}, subsets: [{name: no-tls, labels: {app: example}, trafficPolicy: {connectionPool: {tcp: {maxConnections: 100}}}}]',
    ),
    'no-tls',
    false,
    ['plaintext', 'plaintext'],
  ],
  [
    'mtls-on-subset-fallback-to-destination',
    dr(
      'trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}, subsets: [{name: no-tls, labels: {app: example}, trafficPolicy: {connectionPool: {tcp: {maxConnections: 100}}}}]',
    ),
    'no-tls',
    true,
    ['mtls', 'mtls'],
  ],
];

describe('endpoints: Istio ep_filters_test.go TestEndpointsWithMTLSFilter (mtlsCases)', () => {
  for (const [name, config, subset, mtlsEnabled, transports] of MTLS_CASES) {
    const clusterName = `outbound|80|${subset}|${HOST}`;
    it(`${name}: EDS metadata`, () => {
      const cla = buildLoadAssignment(contextFrom(EXAMPLE + config), CLIENT, clusterName);
      assert.deepEqual(tlsModes(cla), {
        '127.0.4.1': mtlsEnabled ? { tlsMode: 'istio' } : undefined,
        // Without a sidecar, never (util.AppendLbEndpointMetadata does not write `disabled`).
        '127.0.4.2': undefined,
      });
    });
    it(`${name}: what the client sends (simulated through the proxy)`, () => {
      const ctx = contextFrom(EXAMPLE + config);
      const c = buildOutboundClusters(ctx, CLIENT).find((x) => x.name === clusterName);
      assert.ok(c);
      const sim = simulateOutbound(c, buildLoadAssignment(ctx, CLIENT, clusterName));
      assert.deepEqual(
        sim.endpoints.map((e) => [e.endpoint, e.transport]),
        [
          ['127.0.4.1:8080', transports[0]],
          ['127.0.4.2:8080', transports[1]],
        ],
      );
    });
  }
});

describe('endpoints: what an mTLS endpoint gets (simulated through the proxy)', () => {
  it('auto mTLS: the sidecar endpoint by tlsMode-istio with SNI, SANs and ALPN; the other by tlsMode-disabled', () => {
    const ctx = contextFrom(EXAMPLE);
    const name = `outbound|80||${HOST}`;
    const c = buildOutboundClusters(ctx, CLIENT).find((x) => x.name === name);
    assert.ok(c);
    const sim = simulateOutbound(c, buildLoadAssignment(ctx, CLIENT, name));
    const want: EndpointTransport[] = [
      {
        endpoint: '127.0.4.1:8080',
        match: 'tlsMode-istio',
        transport: 'mtls',
        sni: `outbound_.80_._.${HOST}`,
        // The service port is named http, so HTTP/1: no h2.
        alpn: ['istio-peer-exchange', 'istio'],
        sans: ['spiffe://cluster.local/ns/ns/sa/example'],
        certificates: ['default'],
        // The inline default_validation_context (the SANs), then the mesh roots by name.
        validation: [
          'inline:transport_socket_matches[0].transport_socket.typed_config.common_tls_context.combined_validation_context.default_validation_context',
          'ROOTCA',
        ],
      },
      { endpoint: '127.0.4.2:8080', match: 'tlsMode-disabled', transport: 'plaintext' },
    ];
    assert.deepEqual(sim.endpoints, want);
  });
});

describe('endpoints: ClusterLoadAssignment shape (endpoint_builder.go BuildClusterLoadAssignment)', () => {
  const LOCALITIES = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: ns}
spec:
  hosts: [api.internal]
  location: MESH_INTERNAL
  ports: [{number: 8080, name: http, protocol: HTTP, targetPort: 9090}]
  resolution: STATIC
  endpoints:
  - {address: 10.0.0.3, locality: region2/zone1, weight: 2, labels: {v: b}}
  - {address: 10.0.0.1, locality: region1/zone1/sub1, weight: 3, labels: {v: a}}
  - {address: 10.0.0.2, labels: {v: a}}
  - {address: 10.0.0.4, locality: region2/zone1, weight: 5, labels: {v: a}, ports: {http: 7000}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: ns}
spec:
  host: api.internal
  subsets: [{name: a, labels: {v: a}}]
`;
  const endpoint = (address: string, port: number, weight: number, workload: string) => ({
    endpoint: { address: { socket_address: { address, port_value: port } } },
    health_status: 'HEALTHY',
    metadata: { filter_metadata: { istio: { workload: `${workload};ns;${workload};;Kubernetes` } } },
    load_balancing_weight: weight,
  });

  it('one group per locality, sorted by its label, weighted by the sum of its endpoints; ports by name, else targetPort', () => {
    const name = 'outbound|8080||api.internal';
    assert.deepEqual(buildLoadAssignment(contextFrom(LOCALITIES), CLIENT, name), {
      cluster_name: name,
      endpoints: [
        { locality: {}, lb_endpoints: [endpoint('10.0.0.2', 9090, 1, 'api-2')], load_balancing_weight: 1 },
        {
          locality: { region: 'region1', zone: 'zone1', sub_zone: 'sub1' },
          lb_endpoints: [endpoint('10.0.0.1', 9090, 3, 'api-1')],
          load_balancing_weight: 3,
        },
        {
          locality: { region: 'region2', zone: 'zone1' },
          lb_endpoints: [endpoint('10.0.0.3', 9090, 2, 'api-0'), endpoint('10.0.0.4', 7000, 5, 'api-3')],
          load_balancing_weight: 7,
        },
      ],
    });
  });

  it('a subset cluster keeps the endpoints whose labels include the subset labels', () => {
    const cla = buildLoadAssignment(contextFrom(LOCALITIES), CLIENT, 'outbound|8080|a|api.internal');
    assert.deepEqual(
      lbEndpoints(cla).map((e) => get(e, 'endpoint', 'address', 'socket_address', 'address')),
      ['10.0.0.2', '10.0.0.1', '10.0.0.4'],
    );
    assert.deepEqual(
      (cla.endpoints as JsonObject[]).map((g) => g.load_balancing_weight),
      [1, 3, 5],
    );
  });

  const emptyCases: [string, string][] = [
    ['not a cluster name', 'PassthroughCluster'],
    ['an inbound cluster', 'inbound|8080||'],
    ['an unknown host', 'outbound|8080||nowhere.internal'],
    ['an unknown port', 'outbound|8081||api.internal'],
    ['an unknown subset', 'outbound|8080|zz|api.internal'],
    ['a subset no endpoint matches', 'outbound|8080|none|api.internal'],
  ];
  for (const [name, clusterName] of emptyCases) {
    it(`${name}: {cluster_name} only`, () => {
      const yaml = `${LOCALITIES.replace('subsets: [{name: a, labels: {v: a}}]', 'subsets: [{name: a, labels: {v: a}}, {name: none, labels: {v: z}}]')}`;
      assert.deepEqual(buildLoadAssignment(contextFrom(yaml), CLIENT, clusterName), {
        cluster_name: clusterName,
      });
    });
  }

  it('istio.workload: canonical name and revision from the labels, `latest` written empty (util_test.go AppendLbEndpointMetadata)', () => {
    const yaml = `
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: default}
spec:
  selector: {app: x}
  ports: [{name: tcp, port: 5000}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: workload, namespace: default}
spec:
  address: 127.0.5.1
  labels: {app: x, service.istio.io/canonical-name: service, service.istio.io/canonical-revision: v1}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: plain, namespace: default}
spec: {address: 127.0.5.2, labels: {app: x}}
`;
    const cla = buildLoadAssignment(
      contextFrom(yaml),
      CLIENT,
      'outbound|5000||svc.default.svc.cluster.local',
    );
    assert.deepEqual(
      lbEndpoints(cla).map((e) => get(e, 'metadata', 'filter_metadata', 'istio', 'workload')),
      ['workload;default;service;v1;Kubernetes', 'plain;default;x;;Kubernetes'],
    );
  });

  it('istio.workload is what the proxy reads back (src/proxy/telemetry/workload.ts)', () => {
    const cases: Record<string, string>[] = [
      {},
      { app: 'a', version: 'v2' },
      { 'app.kubernetes.io/name': 'n', 'app.kubernetes.io/version': 'latest', app: 'ignored' },
      { 'service.istio.io/canonical-name': '', app: 'a' },
    ];
    for (const labels of cases) {
      const e = { workloadName: 'w-1', namespace: 'ns', labels };
      const text = endpointWorkload(e);
      assert.equal(text, formatEndpointWorkload({ ...e, clusterId: 'Kubernetes' }), JSON.stringify(labels));
      assert.equal(parseEndpointWorkload(text)?.workloadName, 'w-1');
    }
  });

  it('every assignment loads through the proxy (parseResource) without an error diagnostic', () => {
    const ctx = contextFrom(LOCALITIES + EXAMPLE);
    for (const name of [
      'outbound|8080||api.internal',
      'outbound|8080|a|api.internal',
      `outbound|80||${HOST}`,
    ]) {
      const cla = buildLoadAssignment(ctx, CLIENT, name);
      const eds = { name, type: 'EDS', eds_cluster_config: { service_name: name, eds_config: { ads: {} } } };
      const sim = simulateOutbound(eds, cla);
      assert.deepEqual(errorsOf(sim.diagnostics), [], name);
      assert.equal(sim.endpoints.length, lbEndpoints(cla).length);
    }
  });
});
