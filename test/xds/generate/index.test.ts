// generateSidecar (src/xds/generate/index.ts): everything a sidecar subscribes to, in Istio's order — listeners
// (outbound, the HTTP proxy listener, virtualInbound), clusters (outbound, BlackHoleCluster, PassthroughCluster,
// inbound), a ClusterLoadAssignment per EDS cluster, a RouteConfiguration per name the listeners use — and the
// problems of every generator, each once.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../../src/xds/decode.js';
import { GenerationContext } from '../../../src/xds/generate/context.js';
import { buildInbound } from '../../../src/xds/generate/inbound.js';
import { generateSidecar } from '../../../src/xds/generate/index.js';
import { OutboundPortAllocator } from '../../../src/xds/generate/outbound-ports.js';
import { contextFrom, sidecarNode } from './fixtures.js';

// foo (HTTP, the proxy's own service), bar (two TCP ports, a DestinationRule with a subset and a consistent hash
// the proxy cannot do), ext.example.com (DNS with an IP endpoint: a STATIC cluster), dns.example.com (DNS without
// endpoints: no cluster).
const MESH = `
apiVersion: v1
kind: Service
metadata: {name: foo, namespace: default}
spec:
  selector: {app: foo}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: bar, namespace: default}
spec:
  selector: {app: bar}
  ports: [{name: tcp, port: 9000}, {name: tcp-2, port: 9001}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
  hosts: [ext.example.com]
  location: MESH_EXTERNAL
  resolution: DNS
  endpoints: [{address: 10.0.0.5}]
  ports: [{name: https, number: 443, protocol: TLS}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns, namespace: default}
spec:
  hosts: [dns.example.com]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{name: http, number: 80, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: bar, namespace: default}
spec:
  host: bar
  trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true}}}
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: foo-0, namespace: default}
spec: {address: 127.0.1.2, labels: {app: foo}, serviceAccount: foo}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: bar-0, namespace: default}
spec: {address: 127.0.1.3, labels: {app: bar, version: v2}, serviceAccount: bar}
`;

const FOO = 'foo.default.svc.cluster.local';
const BAR = 'bar.default.svc.cluster.local';

/** The outbound listeners every sidecar of `default` gets, by name → skiff metadata (allocation order). */
const OUTBOUND_LISTENERS = [
  `127.0.0.1_15101 ${BAR}:9000`,
  `127.0.0.1_15102 ${BAR}:9001`,
  '127.0.0.1_15103 dns.example.com:80',
  '127.0.0.1_15104 ext.example.com:443',
  `127.0.0.1_15105 ${FOO}:8080`,
  '127.0.0.1_15106 http_proxy:0',
];
const OUTBOUND_CLUSTERS = [
  `outbound|9000||${BAR} EDS`,
  `outbound|9000|v1|${BAR} EDS`,
  `outbound|9001||${BAR} EDS`,
  `outbound|9001|v1|${BAR} EDS`,
  'outbound|443||ext.example.com STATIC',
  `outbound|8080||${FOO} EDS`,
  'BlackHoleCluster STATIC',
  'PassthroughCluster STATIC',
];
const EDS_CLUSTERS = [
  `outbound|9000||${BAR}`,
  `outbound|9000|v1|${BAR}`,
  `outbound|9001||${BAR}`,
  `outbound|9001|v1|${BAR}`,
  `outbound|8080||${FOO}`,
];
const ROUTES = ['dns.example.com:80', `${FOO}:8080`, 'http_proxy'];

function listenerView(l: JsonObject): string {
  const skiff = (l.metadata as JsonObject | undefined)?.filter_metadata as JsonObject | undefined;
  const md = skiff?.skiff as JsonObject | undefined;
  return md ? `${String(l.name)} ${String(md.service)}:${String(md.port)}` : String(l.name);
}

/** The RDS names of every HTTP connection manager of the listeners (read here, not with routes.ts). */
function rdsNames(listeners: readonly JsonObject[]): string[] {
  const names = new Set<string>();
  for (const l of listeners) {
    const chains = [...((l.filter_chains as JsonObject[] | undefined) ?? [])];
    if (l.default_filter_chain) chains.push(l.default_filter_chain as JsonObject);
    for (const c of chains) {
      for (const f of (c.filters as JsonObject[] | undefined) ?? []) {
        const rds = (f.typed_config as JsonObject | undefined)?.rds as JsonObject | undefined;
        if (rds) names.add(String(rds.route_config_name));
      }
    }
  }
  return [...names].sort();
}

describe('generateSidecar', () => {
  const ctx = contextFrom(MESH);
  const proxy = sidecarNode('127.0.1.2', 'foo-0');
  const { resources, problems } = generateSidecar(ctx, proxy);

  it('listeners: outbound ones by host and port, then the HTTP proxy listener, then virtualInbound', () => {
    assert.deepEqual(resources.listeners.map(listenerView), [...OUTBOUND_LISTENERS, 'virtualInbound']);
    assert.equal(resources.listeners.at(-1)?.traffic_direction, 'INBOUND');
  });

  it('clusters: outbound ones, BlackHoleCluster, PassthroughCluster, then inbound', () => {
    assert.deepEqual(
      resources.clusters.map((c) => `${String(c.name)} ${String(c.type)}`),
      [...OUTBOUND_CLUSTERS, 'inbound|8080|| STATIC'],
    );
  });

  it('a ClusterLoadAssignment for exactly the EDS clusters, each named after its cluster', () => {
    const eds = resources.clusters.filter((c) => c.type === 'EDS').map((c) => String(c.name));
    assert.deepEqual(eds, EDS_CLUSTERS);
    assert.deepEqual([...resources.endpoints.keys()], EDS_CLUSTERS);
    for (const [name, cla] of resources.endpoints) assert.equal(cla.cluster_name, name);
    // The content is the EDS generator's: foo's one endpoint; bar's v1 subset selects nobody.
    const foo = resources.endpoints.get(`outbound|8080||${FOO}`);
    assert.ok(foo);
    const groups = foo.endpoints as JsonObject[];
    assert.deepEqual(
      groups.flatMap((g) => (g.lb_endpoints as JsonObject[]).map((e) => (e.endpoint as JsonObject).address)),
      [{ socket_address: { address: '127.0.1.2', port_value: 8080 } }],
    );
    assert.deepEqual(resources.endpoints.get(`outbound|9000|v1|${BAR}`), {
      cluster_name: `outbound|9000|v1|${BAR}`,
    });
  });

  it('a RouteConfiguration for exactly the route names the listeners use', () => {
    assert.deepEqual(rdsNames(resources.listeners), ROUTES);
    assert.deepEqual([...resources.routes.keys()].sort(), ROUTES);
    for (const [name, route] of resources.routes) assert.equal(route.name, name);
    const foo = resources.routes.get(`${FOO}:8080`);
    assert.ok(foo);
    assert.deepEqual(
      (foo.virtual_hosts as JsonObject[]).map((v) => v.name),
      [`${FOO}:8080`],
    );
  });

  it('problems of every generator: listeners and routes, then outbound clusters, then inbound', () => {
    const lb = (port: number, subset: string) =>
      `Service default/bar (${BAR}) port ${port}${subset}: loadBalancer consistentHash (Istio: RING_HASH or MAGLEV) is not implemented by the Skiff proxy; LEAST_REQUEST is used`;
    assert.deepEqual(
      problems.map((p) => `${p.severity} ${p.code} ${p.message}`),
      [
        'warning SKIFF_GEN_HASH_POLICY DestinationRule default/bar: trafficPolicy.loadBalancer.consistentHash.useSourceIp: tcp_proxy hash_policy is not implemented by the Skiff proxy; ignored',
        `warning SKIFF_CDS_LOAD_BALANCER ${lb(9000, '')}`,
        `warning SKIFF_CDS_LOAD_BALANCER ${lb(9000, ' subset v1')}`,
        `warning SKIFF_CDS_LOAD_BALANCER ${lb(9001, '')}`,
        `warning SKIFF_CDS_LOAD_BALANCER ${lb(9001, ' subset v1')}`,
        'warning SKIFF_CDS_DNS ServiceEntry default/dns (dns.example.com) port 80: resolution DNS needs the proxy to resolve dns.example.com (a STRICT_DNS cluster), which the Skiff proxy does not implement; no cluster is generated',
      ],
    );
  });

  it('is deterministic over one context', () => {
    assert.deepEqual(generateSidecar(ctx, proxy), { resources, problems });
  });

  it('HTTP_PROXY_PORT: the HTTP proxy listener binds it', () => {
    const r = generateSidecar(contextFrom(MESH), sidecarNode('127.0.1.2', 'foo-0', { httpProxyPort: 15080 }));
    assert.deepEqual(r.resources.listeners.map(listenerView).slice(-2), [
      '127.0.0.1_15080 http_proxy:0',
      'virtualInbound',
    ]);
  });
});

describe('generateSidecar: a proxy with no WorkloadEntry', () => {
  const cases: Array<[string, ReturnType<typeof sidecarNode>, string]> = [
    ['an address nobody has', sidecarNode('127.0.1.9', 'ghost-0'), '127.0.1.9'],
    [
      'a WorkloadEntry address, in another namespace',
      sidecarNode('127.0.1.2', 'foo-0', { namespace: 'other' }),
      '127.0.1.2',
    ],
  ];
  for (const [name, proxy, ip] of cases) {
    it(`${name}: outbound listeners and clusters, no inbound, and a problem saying so`, () => {
      const { resources, problems } = generateSidecar(contextFrom(MESH), proxy);
      // The outbound side is the one every sidecar gets (services are visible from every namespace).
      assert.deepEqual(resources.listeners.map(listenerView), OUTBOUND_LISTENERS);
      assert.deepEqual(
        resources.clusters.map((c) => `${String(c.name)} ${String(c.type)}`),
        OUTBOUND_CLUSTERS,
      );
      assert.deepEqual([...resources.endpoints.keys()], EDS_CLUSTERS);
      assert.deepEqual([...resources.routes.keys()].sort(), ROUTES);
      // The outbound problems as before, then the inbound one, last.
      assert.equal(problems.length, 7);
      assert.deepEqual(problems.slice(-1), [
        {
          severity: 'error',
          code: 'SKIFF_GEN_INBOUND_NO_WORKLOAD',
          message: `proxy ${proxy.id}: no WorkloadEntry in namespace ${proxy.namespace} has address ${ip}: no inbound listener or clusters`,
        },
      ]);
    });
  }
});

describe('generateSidecar: problems are de-duplicated', () => {
  it('a problem reported once per inbound cluster is reported once (the same code with other messages is kept: above)', () => {
    const model = contextFrom(`
apiVersion: v1
kind: Service
metadata: {name: foo, namespace: default}
spec:
  selector: {app: foo}
  ports: [{name: http, port: 8080}, {name: grpc, port: 9090}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: foo-0, namespace: default}
spec: {address: 127.0.1.2, labels: {app: foo}, serviceAccount: foo}
`).model;
    // The loader refuses a bad duration; a model built some other way may still carry one.
    const ctx = new GenerationContext(
      { ...model, meshConfig: { ...model.meshConfig, connectTimeout: 'soon' } },
      new OutboundPortAllocator(),
    );
    const proxy = sidecarNode('127.0.1.2', 'foo-0');
    const expected = {
      severity: 'warning',
      code: 'SKIFF_GEN_INBOUND_CONNECT_TIMEOUT',
      message: 'meshConfig.connectTimeout "soon" is not a duration: Istio\'s default 10s used',
    };
    // The inbound generator reports it for each of its two clusters …
    assert.deepEqual(
      buildInbound(ctx, proxy).problems.filter((p) => p.code === expected.code),
      [expected, expected],
    );
    // … generateSidecar once.
    const { resources, problems } = generateSidecar(ctx, proxy);
    assert.deepEqual(
      resources.clusters.filter((c) => String(c.name).startsWith('inbound|')).map((c) => c.name),
      ['inbound|8080||', 'inbound|9090||'],
    );
    assert.deepEqual(problems, [expected]);
  });
});
