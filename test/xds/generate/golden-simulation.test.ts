// What each golden case's configuration does, simulated through the sidecar's own translation and decisions (a
// golden file alone only says the output did not change). Inbound: for a connection to one of service-b's ports —
// plaintext, the client's own TLS, or a mesh client's mTLS, carrying HTTP or opaque TCP — which chain takes it and
// what happens, as Istio's pilot/pkg/simulation reports it (sidecar_simulation_test.go TestInbound,
// peer_authentication_simulation_test.go). Outbound: for each endpoint of frontend's clusters, the transport its
// sidecar uses — mTLS (with SNI and the SANs it requires), or plaintext (cluster_tls_test.go
// TestBuildAutoMtlsSettings, endpoints/ep_filters_test.go TestEndpointsWithMTLSFilter).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectRoute, VirtualHostIndex } from '../../../src/policy/routes.js';
import { parseResource } from '../../../src/proxy/config/resource.js';
import { TYPE_URL } from '../../../src/proxy/config/resources/index.js';
import type { JsonObject } from '../../../src/xds/decode.js';
import { goldenCases, runGolden } from './golden.js';
import { type InboundCall, InboundSimulation } from './simulate-inbound.js';
import { errorsOf, simulateOutbound } from './simulate-outbound.js';

const CALLS: Record<string, Omit<InboundCall, 'port'>> = {
  'plaintext http': { protocol: 'http', tls: 'none' },
  'plaintext tcp': { protocol: 'tcp', tls: 'none' },
  'tls http': { protocol: 'http', tls: 'tls' },
  'tls tcp': { protocol: 'tcp', tls: 'tls' },
  'mtls http': { protocol: 'http', tls: 'mtls' },
  'mtls tcp': { protocol: 'tcp', tls: 'mtls' },
};
type CallName = keyof typeof CALLS;

/**
 * The verdict on one call: Istio's simulation error, else `<outcome>:<tcp|http>` — terminated mTLS, TLS passed
 * through untouched, or plaintext — to tcp_proxy or the HTTP connection manager.
 */
function verdict(sim: InboundSimulation, port: number, call: CallName): string {
  const r = sim.run({ port, ...CALLS[call] } as InboundCall);
  if (r.error) return r.error;
  return `${r.outcome}:${r.filter?.kind === 'tcp_proxy' ? 'tcp' : 'http'}`;
}

// Istio's outcomes per mode and port protocol (research: istio-semantics.md part c4). The HTTP port is 8080,
// the TCP port's target 9091, the auto-detected port 7070, the undeclared port 6060.
const HTTP_PORT = {
  PERMISSIVE: {
    'plaintext http': 'plaintext:http',
    'plaintext tcp': 'protocol-error',
    'tls http': 'no-filter-chain', // "tls to http": ErrNoFilterChain
    'tls tcp': 'no-filter-chain',
    'mtls http': 'terminate-mtls:http',
    'mtls tcp': 'protocol-error',
  },
  STRICT: {
    'plaintext http': 'no-filter-chain',
    'plaintext tcp': 'no-filter-chain',
    'tls http': 'mtls-error',
    'tls tcp': 'mtls-error',
    'mtls http': 'terminate-mtls:http',
    'mtls tcp': 'protocol-error',
  },
  DISABLE: {
    'plaintext http': 'plaintext:http',
    'plaintext tcp': 'protocol-error',
    'tls http': 'protocol-error',
    'tls tcp': 'protocol-error',
    'mtls http': 'protocol-error', // "mtls to http": ErrProtocolError
    'mtls tcp': 'protocol-error',
  },
} as const;
const TCP_PORT = {
  PERMISSIVE: {
    'plaintext http': 'plaintext:tcp',
    'plaintext tcp': 'plaintext:tcp',
    'tls http': 'passthrough:tcp',
    'tls tcp': 'passthrough:tcp',
    'mtls http': 'terminate-mtls:tcp',
    'mtls tcp': 'terminate-mtls:tcp',
  },
  STRICT: {
    'plaintext http': 'no-filter-chain',
    'plaintext tcp': 'no-filter-chain',
    'tls http': 'mtls-error',
    'tls tcp': 'mtls-error',
    'mtls http': 'terminate-mtls:tcp',
    'mtls tcp': 'terminate-mtls:tcp',
  },
  DISABLE: {
    'plaintext http': 'plaintext:tcp',
    'plaintext tcp': 'plaintext:tcp',
    'tls http': 'passthrough:tcp',
    'tls tcp': 'passthrough:tcp',
    'mtls http': 'passthrough:tcp',
    'mtls tcp': 'passthrough:tcp',
  },
} as const;
const AUTO_PORT = {
  PERMISSIVE: {
    'plaintext http': 'plaintext:http',
    'plaintext tcp': 'plaintext:tcp',
    'tls http': 'passthrough:tcp',
    'tls tcp': 'passthrough:tcp',
    'mtls http': 'terminate-mtls:http',
    'mtls tcp': 'terminate-mtls:tcp',
  },
  STRICT: {
    'plaintext http': 'no-filter-chain',
    'plaintext tcp': 'no-filter-chain',
    'tls http': 'mtls-error',
    'tls tcp': 'mtls-error',
    'mtls http': 'terminate-mtls:http',
    'mtls tcp': 'terminate-mtls:tcp',
  },
  DISABLE: {
    'plaintext http': 'plaintext:http',
    'plaintext tcp': 'plaintext:tcp',
    'tls http': 'passthrough:tcp',
    'tls tcp': 'passthrough:tcp',
    'mtls http': 'passthrough:tcp',
    'mtls tcp': 'passthrough:tcp',
  },
} as const;

type Mode = 'PERMISSIVE' | 'STRICT' | 'DISABLE';

/** service-b's ports and the mode each has in a case. */
const INBOUND: Record<string, { http: Mode; tcp: Mode; auto: Mode; undeclared?: Mode }> = {
  strict: { http: 'STRICT', tcp: 'STRICT', auto: 'STRICT' },
  permissive: { http: 'PERMISSIVE', tcp: 'PERMISSIVE', auto: 'PERMISSIVE' },
  disable: { http: 'DISABLE', tcp: 'DISABLE', auto: 'DISABLE' },
  // Namespace STRICT; the workload PERMISSIVE with 8080 DISABLE and 9091 STRICT.
  'port-level': { http: 'DISABLE', tcp: 'STRICT', auto: 'PERMISSIVE' },
  'workload-over-namespace': { http: 'DISABLE', tcp: 'DISABLE', auto: 'DISABLE' },
  'undeclared-port': { http: 'PERMISSIVE', tcp: 'PERMISSIVE', auto: 'PERMISSIVE', undeclared: 'PERMISSIVE' },
};

const SAN_B = 'spiffe://cluster.local/ns/shop/sa/service-b';
const sni = (port: number, subset: string) =>
  `outbound_.${port}_.${subset}_.service-b.shop.svc.cluster.local`;
const mtls = (endpoint: string, port: number, subset = '') =>
  `${endpoint} mtls sni=${sni(port, subset)} san=${SAN_B}`;
const plain = (endpoint: string) => `${endpoint} plaintext`;

/** Per case, per frontend cluster: each endpoint's transport. */
const OUTBOUND: Record<string, Record<string, string[]>> = {
  strict: {
    'outbound|8080||service-b.shop.svc.cluster.local': [mtls('127.0.1.2:8080', 8080)],
    'outbound|9090||service-b.shop.svc.cluster.local': [mtls('127.0.1.2:9091', 9090)],
  },
  permissive: {
    'outbound|8080||service-b.shop.svc.cluster.local': [mtls('127.0.1.2:8080', 8080)],
  },
  // Mesh DISABLE: auto mTLS infers DISABLE for the service, so the client sends plaintext (SEM b3).
  disable: {
    'outbound|8080||service-b.shop.svc.cluster.local': [plain('127.0.1.2:8080')],
    'outbound|9090||service-b.shop.svc.cluster.local': [plain('127.0.1.2:9091')],
  },
  // EDS honours the endpoint's port-level modes: 8080 DISABLE → plaintext, 9091 STRICT → mTLS (SEM b4).
  'port-level': {
    'outbound|8080||service-b.shop.svc.cluster.local': [plain('127.0.1.2:8080')],
    'outbound|9090||service-b.shop.svc.cluster.local': [mtls('127.0.1.2:9091', 9090)],
    'outbound|7070||service-b.shop.svc.cluster.local': [mtls('127.0.1.2:7070', 7070)],
  },
  'workload-over-namespace': {
    'outbound|8080||service-b.shop.svc.cluster.local': [plain('127.0.1.2:8080')],
  },
  'mixed-endpoints': {
    'outbound|8080||service-b.shop.svc.cluster.local': [
      mtls('127.0.1.2:8080', 8080),
      plain('127.0.1.4:8080'),
    ],
  },
  // DestinationRule TLS is used as written for every endpoint of the cluster; port 9090 and subset v2 DISABLE.
  'destination-rule': {
    'outbound|8080||service-b.shop.svc.cluster.local': [
      mtls('127.0.1.2:8080', 8080),
      mtls('127.0.1.3:8080', 8080),
    ],
    'outbound|8080|v1|service-b.shop.svc.cluster.local': [mtls('127.0.1.2:8080', 8080, 'v1')],
    'outbound|8080|v2|service-b.shop.svc.cluster.local': [plain('127.0.1.3:8080')],
    'outbound|9090||service-b.shop.svc.cluster.local': [plain('127.0.1.2:9091'), plain('127.0.1.3:9091')],
  },
  'service-entry': {
    // MESH_EXTERNAL: never auto mTLS; the app's own TLS goes through as TCP.
    'outbound|443||api.payments.example': [plain('127.0.2.1:443')],
    'outbound|5432||ledger.shop.internal': [
      '127.0.1.9:5432 mtls sni=outbound_.5432_._.ledger.shop.internal san=spiffe://cluster.local/ns/shop/sa/ledger',
    ],
  },
};

function transports(cluster: JsonObject, cla: JsonObject | undefined): string[] {
  const sim = simulateOutbound(cluster, cla);
  assert.deepEqual(errorsOf(sim.diagnostics), []);
  return sim.endpoints.map((e) =>
    e.transport === 'plaintext'
      ? `${e.endpoint} plaintext`
      : `${e.endpoint} ${e.transport} sni=${e.sni} san=${(e.sans ?? []).join(',')}`,
  );
}

/** Where a request on a route table goes, by the proxy's own matcher: a cluster, or a weighted split. */
function routedTo(table: JsonObject | undefined, host: string, path = '/'): string {
  assert.ok(table, 'the route table is generated');
  const t = parseResource(TYPE_URL.route, table);
  assert.ok(t.value, JSON.stringify(errorsOf(t.diagnostics)));
  const vhost = new VirtualHostIndex(t.value.virtualHosts, t.value.ignorePortInHostMatching).find(host);
  if (!vhost) return 'no virtual host';
  const headers: Record<string, string> = { ':method': 'GET', ':authority': host, ':scheme': 'http' };
  const r = selectRoute(vhost, { path, header: (n) => headers[n] });
  if (!r) return 'no route';
  const w = r.action.weightedClusters;
  return w ? w.clusters.map((c) => `${c.name}*${c.weight}`).join(' ') : r.action.cluster;
}

/** Per case, per route table frontend's sidecar uses: where a request goes (local mode: any Host). */
const ROUTES: Record<string, Record<string, string>> = {
  strict: { 'service-b.shop.svc.cluster.local:8080': 'outbound|8080||service-b.shop.svc.cluster.local' },
  // The VirtualService splits service-b's HTTP traffic 90/10 between the DestinationRule's subsets.
  'destination-rule': {
    'service-b.shop.svc.cluster.local:8080':
      'outbound|8080|v1|service-b.shop.svc.cluster.local*90 outbound|8080|v2|service-b.shop.svc.cluster.local*10',
    // A VirtualService without a port match applies on every port of its host (Istio): port 7070's requests go
    // to the destination port it names, 8080.
    'service-b.shop.svc.cluster.local:7070':
      'outbound|8080|v1|service-b.shop.svc.cluster.local*90 outbound|8080|v2|service-b.shop.svc.cluster.local*10',
  },
};

describe('golden cases, simulated', () => {
  const cases = new Map(goldenCases().map((c) => [c.name, c]));

  it('every case has inbound or outbound expectations', () => {
    for (const name of cases.keys()) assert.ok(INBOUND[name] || OUTBOUND[name], name);
  });

  for (const [name, ports] of Object.entries(INBOUND)) {
    it(`${name}: service-b's sidecar, per port and call`, () => {
      const c = cases.get(name);
      assert.ok(c);
      const g = runGolden(c).generated.get('service-b-0');
      const listener = g?.resources.listeners.find((l) => l.name === 'virtualInbound');
      assert.ok(listener, 'a virtualInbound listener');
      const sim = new InboundSimulation(listener);
      const table: [string, number, Record<CallName, string>][] = [
        ['http 8080', 8080, HTTP_PORT[ports.http]],
        ['tcp 9091', 9091, TCP_PORT[ports.tcp]],
        ['auto 7070', 7070, AUTO_PORT[ports.auto]],
        ...(ports.undeclared ? [['undeclared 6060', 6060, AUTO_PORT[ports.undeclared]] as const] : []),
      ] as [string, number, Record<CallName, string>][];
      for (const [label, port, expected] of table) {
        const got = Object.fromEntries(
          Object.keys(CALLS).map((call) => [call, verdict(sim, port, call as CallName)]),
        );
        assert.deepEqual(got, expected, `${name}: ${label}`);
      }
    });
  }

  for (const [name, tables] of Object.entries(ROUTES)) {
    it(`${name}: frontend's sidecar, per route table`, () => {
      const c = cases.get(name);
      assert.ok(c);
      const g = runGolden(c).generated.get('frontend-0');
      assert.ok(g);
      for (const [table, expected] of Object.entries(tables)) {
        assert.equal(
          routedTo(g.resources.routes.get(table), '127.0.0.1:15102'),
          expected,
          `${name}: ${table}`,
        );
      }
    });
  }

  for (const [name, clusters] of Object.entries(OUTBOUND)) {
    it(`${name}: frontend's sidecar, per cluster and endpoint`, () => {
      const c = cases.get(name);
      assert.ok(c);
      const g = runGolden(c).generated.get('frontend-0');
      assert.ok(g);
      for (const [clusterName, expected] of Object.entries(clusters)) {
        const cluster: JsonObject | undefined = g.resources.clusters.find((x) => x.name === clusterName);
        assert.ok(cluster, `${name}: cluster ${clusterName}`);
        assert.deepEqual(
          transports(cluster, g.resources.endpoints.get(clusterName)),
          expected,
          `${name}: ${clusterName}`,
        );
      }
    });
  }
});
