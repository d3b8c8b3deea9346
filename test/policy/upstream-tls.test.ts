import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type DestinationRuleSpec,
  effectivePeerAuthentication,
  mergeSubsetTrafficPolicy,
  modeForPort,
  namespaceMutualTlsMode,
  type PeerAuthentication,
  type TrafficPolicy,
  type UpstreamTlsDecision,
  type UpstreamTlsInput,
  upstreamTls,
} from '../../src/policy/index.js';
import { pa } from '../helpers.js';

const SIDECAR: UpstreamTlsInput = {
  autoMtls: true,
  destinationRule: null,
  port: 8080,
  serviceNamespaceMode: 'PERMISSIVE',
  serverMode: 'PERMISSIVE',
  endpointHasSidecar: true,
};
const AUTO_MTLS: UpstreamTlsDecision = { clientTls: 'ISTIO_MUTUAL', autoDetected: true };
const AUTO_PLAIN: UpstreamTlsDecision = { clientTls: 'plaintext', autoDetected: true };
const PLAIN: UpstreamTlsDecision = { clientTls: 'plaintext', autoDetected: false };

function table(cases: [string, Partial<UpstreamTlsInput>, UpstreamTlsDecision][]) {
  for (const [name, input, want] of cases) {
    it(name, () => assert.deepEqual(upstreamTls({ ...SIDECAR, ...input }), want));
  }
}

const tlsSettings = {
  mode: 'ISTIO_MUTUAL' as const,
  subjectAltNames: ['custom.foo.com'],
  sni: 'custom.foo.com',
};

// Istio pilot/pkg/networking/core/cluster_tls_test.go TestBuildAutoMtlsSettings (cases without proxy metadata
// certs or extra trust domains), read through the whole decision.
describe('upstreamTls: Istio TestBuildAutoMtlsSettings', () => {
  table([
    [
      'destination rule TLS sni and SAN override (auto mTLS off)',
      {
        autoMtls: false,
        destinationRule: { trafficPolicy: { tls: tlsSettings } },
        serviceNamespaceMode: 'UNKNOWN',
      },
      {
        clientTls: 'ISTIO_MUTUAL',
        autoDetected: false,
        sni: 'custom.foo.com',
        subjectAltNames: ['custom.foo.com'],
      },
    ],
    [
      'auto fill for an internal service in STRICT',
      { serviceNamespaceMode: 'STRICT', serverMode: 'STRICT' },
      AUTO_MTLS,
    ],
    ['auto fill for an internal service in PERMISSIVE', { serviceNamespaceMode: 'PERMISSIVE' }, AUTO_MTLS],
    ['no auto fill when the service namespace is DISABLE', { serviceNamespaceMode: 'DISABLE' }, PLAIN],
    ['no auto fill for an external service', { meshExternal: true }, PLAIN],
    ['no auto fill when auto mTLS is off', { autoMtls: false, serviceNamespaceMode: 'DISABLE' }, PLAIN],
    [
      'no auto fill when auto mTLS is off, even in STRICT',
      { autoMtls: false, serviceNamespaceMode: 'STRICT' },
      PLAIN,
    ],
    [
      'simple TLS is used as written',
      { destinationRule: { trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: '/custom/root.pem' } } } },
      { clientTls: 'SIMPLE', autoDetected: false },
    ],
    [
      'mutual TLS to a mesh-external host is used as written',
      {
        meshExternal: true,
        destinationRule: { trafficPolicy: { tls: { mode: 'MUTUAL', sni: 'ext.example.com' } } },
      },
      { clientTls: 'MUTUAL', autoDetected: false, sni: 'ext.example.com' },
    ],
    [
      'ISTIO_MUTUAL with only sni stays user supplied with that sni',
      { destinationRule: { trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL', sni: 'api.foo.com' } } } },
      { clientTls: 'ISTIO_MUTUAL', autoDetected: false, sni: 'api.foo.com' },
    ],
  ]);
});

// Istio pilot/pkg/xds/endpoints/ep_filters_test.go mtlsCases: service example.ns.svc.cluster.local port 80,
// endpoints in ns with {app: example}, endpoint port 8080, sidecar (tlsMode istio). Modes come from policies.
describe('upstreamTls: Istio TestEndpointsWithMTLSFilter (with the policy engine)', () => {
  const endpoint = { namespace: 'ns', labels: { app: 'example' } };
  const run = (policies: PeerAuthentication[], dr: DestinationRuleSpec | null, subset?: string) =>
    upstreamTls({
      autoMtls: true,
      destinationRule: dr,
      ...(subset ? { subset } : {}),
      port: 80,
      serviceNamespaceMode: namespaceMutualTlsMode(policies, 'ns'),
      serverMode: modeForPort(effectivePeerAuthentication(policies, endpoint), 8080),
      endpointHasSidecar: true,
    }).clientTls;
  const cases: [string, PeerAuthentication[], DestinationRuleSpec | null, string | undefined, string][] = [
    [
      'mtls-off-ineffective (root selector)',
      [pa('istio-system', 'p', { selector: { app: 'b' }, mode: 'DISABLE' })],
      null,
      undefined,
      'ISTIO_MUTUAL',
    ],
    ['mtls-on-strict', [pa('istio-system', 'p', { mode: 'STRICT' })], null, undefined, 'ISTIO_MUTUAL'],
    ['mtls-off-global', [pa('istio-system', 'p', { mode: 'DISABLE' })], null, undefined, 'plaintext'],
    ['mtls-off-namespace', [pa('ns', 'p', { mode: 'DISABLE' })], null, undefined, 'plaintext'],
    [
      'mtls-off-workload',
      [pa('ns', 'p', { selector: { app: 'example' }, mode: 'DISABLE' })],
      null,
      undefined,
      'plaintext',
    ],
    [
      'mtls-off-port (the endpoint port, not the service port)',
      [pa('ns', 'p', { selector: { app: 'example' }, ports: { '8080': 'DISABLE' } })],
      null,
      undefined,
      'plaintext',
    ],
    [
      'mtls-on-override-pa (DestinationRule wins)',
      [pa('ns', 'p', { mode: 'DISABLE' })],
      { trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } },
      undefined,
      'ISTIO_MUTUAL',
    ],
    [
      'mtls-on-destination-level',
      [],
      { trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } },
      undefined,
      'ISTIO_MUTUAL',
    ],
    [
      'mtls-on-port-level',
      [],
      { trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'ISTIO_MUTUAL' } }] } },
      undefined,
      'ISTIO_MUTUAL',
    ],
    [
      'mtls-off-destination-level',
      [],
      { trafficPolicy: { tls: { mode: 'DISABLE' } } },
      undefined,
      'plaintext',
    ],
    [
      'mtls-off-port-level',
      [],
      { trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'DISABLE' } }] } },
      undefined,
      'plaintext',
    ],
    [
      'mtls-off-subset-level',
      [],
      {
        trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } },
        subsets: [
          { name: 'disable-tls', labels: { app: 'example' }, trafficPolicy: { tls: { mode: 'DISABLE' } } },
        ],
      },
      'disable-tls',
      'plaintext',
    ],
    [
      'mtls-on-subset-level',
      [],
      {
        trafficPolicy: { tls: { mode: 'DISABLE' } },
        subsets: [
          {
            name: 'enable-tls',
            labels: { app: 'example' },
            trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } },
          },
        ],
      },
      'enable-tls',
      'ISTIO_MUTUAL',
    ],
  ];
  for (const [name, policies, dr, subset, want] of cases)
    it(name, () => assert.equal(run(policies, dr, subset), want));
});

// Istio pilot/pkg/model/push_context_test.go TestBestEffortInferServiceMTLSMode, as seen by a client.
describe('upstreamTls: Istio TestBestEffortInferServiceMTLSMode', () => {
  table([
    [
      'from the namespace policy (STRICT)',
      { serviceNamespaceMode: 'STRICT', serverMode: 'STRICT' },
      AUTO_MTLS,
    ],
    [
      'from the mesh default: a workload DISABLE is ignored at the service level, honoured per endpoint',
      { serviceNamespaceMode: 'UNKNOWN', serverMode: 'DISABLE' },
      AUTO_PLAIN,
    ],
    [
      'no mesh or namespace policy means PERMISSIVE: auto mTLS',
      { serviceNamespaceMode: 'UNKNOWN' },
      AUTO_MTLS,
    ],
    [
      'headless service with a plaintext endpoint is DISABLE',
      { passthrough: true, endpointHasSidecar: false },
      PLAIN,
    ],
    ['headless service, mesh external', { passthrough: true, meshExternal: true }, PLAIN],
    ['mesh external, namespace STRICT', { meshExternal: true, serviceNamespaceMode: 'STRICT' }, PLAIN],
  ]);
});

describe('upstreamTls: auto mTLS per endpoint and the corners Istio users hit', () => {
  table([
    [
      'endpoint without a sidecar gets plaintext (cluster still auto)',
      { endpointHasSidecar: false },
      AUTO_PLAIN,
    ],
    ['server DISABLE (workload policy) gets plaintext', { serverMode: 'DISABLE' }, AUTO_PLAIN],
    ['server mode unknown: mTLS to a sidecar', { serverMode: 'UNKNOWN' }, AUTO_MTLS],
    [
      'DestinationRule ISTIO_MUTUAL goes to an endpoint without sidecar too (and breaks it)',
      { endpointHasSidecar: false, destinationRule: { trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } } },
      { clientTls: 'ISTIO_MUTUAL', autoDetected: false },
    ],
    [
      'DestinationRule ISTIO_MUTUAL overrides a namespace DISABLE and auto mTLS off',
      {
        autoMtls: false,
        serviceNamespaceMode: 'DISABLE',
        destinationRule: { trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } },
      },
      { clientTls: 'ISTIO_MUTUAL', autoDetected: false },
    ],
    [
      'tls without a mode is DISABLE',
      { destinationRule: { trafficPolicy: { tls: { sni: 'x.example.com' } } } },
      PLAIN,
    ],
    [
      'a port-level entry without tls drops the top-level tls (cluster auto); the endpoint reads SIMPLE: plaintext',
      {
        destinationRule: {
          trafficPolicy: {
            tls: { mode: 'SIMPLE' },
            portLevelSettings: [{ port: { number: 8080 }, connectionPool: { tcp: { maxConnections: 10 } } }],
          },
        },
      },
      AUTO_PLAIN,
    ],
    [
      'a port-level entry without tls and no top-level tls: auto mTLS',
      {
        destinationRule: {
          trafficPolicy: { portLevelSettings: [{ port: { number: 8080 }, connectionPool: {} }] },
        },
      },
      AUTO_MTLS,
    ],
    [
      'a port-level entry for another port leaves the top-level tls',
      {
        destinationRule: {
          trafficPolicy: {
            tls: { mode: 'SIMPLE' },
            portLevelSettings: [{ port: { number: 9090 }, tls: { mode: 'DISABLE' } }],
          },
        },
      },
      { clientTls: 'SIMPLE', autoDetected: false },
    ],
    [
      'top DISABLE + port-level entry without tls: cluster auto, endpoint reads DISABLE: plaintext',
      {
        destinationRule: {
          trafficPolicy: {
            tls: { mode: 'DISABLE' },
            portLevelSettings: [{ port: { number: 8080 }, loadBalancer: { simple: 'ROUND_ROBIN' } }],
          },
        },
      },
      AUTO_PLAIN,
    ],
    [
      'top ISTIO_MUTUAL + port-level entry without tls: endpoint keeps mTLS even to a DISABLE server',
      {
        serverMode: 'DISABLE',
        destinationRule: {
          trafficPolicy: {
            tls: { mode: 'ISTIO_MUTUAL' },
            portLevelSettings: [{ port: { number: 8080 }, loadBalancer: { simple: 'ROUND_ROBIN' } }],
          },
        },
      },
      AUTO_MTLS,
    ],
    [
      'a subset without tls inherits the top-level tls (cluster level)',
      {
        subset: 'v1',
        destinationRule: {
          trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } },
          subsets: [{ name: 'v1', labels: { version: 'v1' } }],
        },
      },
      { clientTls: 'ISTIO_MUTUAL', autoDetected: false },
    ],
    [
      'a subset port-level entry without tls clears it; the endpoint then reads only the subset: PeerAuthentication decides',
      {
        subset: 'v1',
        serverMode: 'DISABLE',
        destinationRule: {
          trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } },
          subsets: [
            {
              name: 'v1',
              trafficPolicy: {
                portLevelSettings: [{ port: { number: 8080 }, loadBalancer: { simple: 'RANDOM' } }],
              },
            },
          ],
        },
      },
      AUTO_PLAIN,
    ],
    [
      'an unknown subset uses the DestinationRule level',
      { subset: 'nope', destinationRule: { trafficPolicy: { tls: { mode: 'DISABLE' } } } },
      PLAIN,
    ],
    [
      'subset SIMPLE with its own sni and SANs',
      {
        subset: 'v2',
        destinationRule: {
          subsets: [
            {
              name: 'v2',
              trafficPolicy: {
                tls: { mode: 'SIMPLE', sni: 'v2.example.com', subjectAltNames: ['v2.example.com'] },
              },
            },
          ],
        },
      },
      {
        clientTls: 'SIMPLE',
        autoDetected: false,
        sni: 'v2.example.com',
        subjectAltNames: ['v2.example.com'],
      },
    ],
    [
      'DestinationRule loadBalancer PASSTHROUGH: no per-endpoint choice, mTLS even to a DISABLE server',
      {
        serverMode: 'DISABLE',
        destinationRule: { trafficPolicy: { loadBalancer: { simple: 'PASSTHROUGH' } } },
      },
      AUTO_MTLS,
    ],
    ['headless service whose endpoints have sidecars: mTLS', { passthrough: true }, AUTO_MTLS],
    [
      'PASSTHROUGH only in a port-level entry: the service is not inferred passthrough, but the cluster is: mTLS to all',
      {
        endpointHasSidecar: false,
        destinationRule: {
          trafficPolicy: {
            portLevelSettings: [{ port: { number: 8080 }, loadBalancer: { simple: 'PASSTHROUGH' } }],
          },
        },
      },
      AUTO_MTLS,
    ],
    [
      'PASSTHROUGH inherited by a subset: inferred from the subset as written, cluster merged: mTLS to all',
      {
        endpointHasSidecar: false,
        subset: 'v1',
        destinationRule: {
          trafficPolicy: { loadBalancer: { simple: 'PASSTHROUGH' } },
          subsets: [{ name: 'v1', labels: { version: 'v1' } }],
        },
      },
      AUTO_MTLS,
    ],
    [
      'top-level PASSTHROUGH, port-level entry without a load balancer: a plaintext endpoint makes the service DISABLE',
      {
        endpointHasSidecar: false,
        destinationRule: {
          trafficPolicy: {
            loadBalancer: { simple: 'PASSTHROUGH' },
            portLevelSettings: [{ port: { number: 8080 }, connectionPool: {} }],
          },
        },
      },
      PLAIN,
    ],
    [
      'top-level PASSTHROUGH, port-level entry without a load balancer: sidecar endpoints are chosen per endpoint',
      {
        serverMode: 'DISABLE',
        destinationRule: {
          trafficPolicy: {
            loadBalancer: { simple: 'PASSTHROUGH' },
            portLevelSettings: [{ port: { number: 8080 }, connectionPool: {} }],
          },
        },
      },
      AUTO_PLAIN,
    ],
    [
      'headless service in a DISABLE namespace',
      { passthrough: true, serviceNamespaceMode: 'DISABLE' },
      PLAIN,
    ],
  ]);
});

// Istio pilot/pkg/networking/util/util_test.go TestMergeSubsetTrafficPolicy, the tls-bearing parts.
describe('mergeSubsetTrafficPolicy', () => {
  const cases: [
    string,
    TrafficPolicy | undefined,
    TrafficPolicy | undefined,
    number,
    TrafficPolicy | undefined,
  ][] = [
    ['all nil', undefined, undefined, 8080, undefined],
    [
      'no subset policy',
      { tls: { mode: 'ISTIO_MUTUAL' } },
      undefined,
      8080,
      { tls: { mode: 'ISTIO_MUTUAL' } },
    ],
    ['no parent policy', undefined, { tls: { mode: 'SIMPLE' } }, 8080, { tls: { mode: 'SIMPLE' } }],
    [
      'merge non-conflicting fields: tls inherited',
      { tls: { mode: 'ISTIO_MUTUAL' } },
      { connectionPool: { http: { maxRetries: 10 } } },
      8080,
      { tls: { mode: 'ISTIO_MUTUAL' }, connectionPool: { http: { maxRetries: 10 } } },
    ],
    [
      'subset overwrites top-level tls',
      { tls: { mode: 'ISTIO_MUTUAL' }, connectionPool: { http: { maxRetries: 10 } } },
      { tls: { mode: 'SIMPLE' } },
      8080,
      { tls: { mode: 'SIMPLE' }, connectionPool: { http: { maxRetries: 10 } } },
    ],
    [
      'port level policy does not inherit top-level fields',
      { loadBalancer: { simple: 'ROUND_ROBIN' }, tls: { mode: 'ISTIO_MUTUAL' } },
      {
        loadBalancer: { simple: 'ROUND_ROBIN' },
        portLevelSettings: [{ port: { number: 8080 }, outlierDetection: { consecutive5xxErrors: 13 } }],
      },
      8080,
      { outlierDetection: { consecutive5xxErrors: 13 } },
    ],
    [
      'a non-matching port selector keeps the merged top level',
      {
        tls: { mode: 'ISTIO_MUTUAL' },
        portLevelSettings: [{ port: { number: 8080 }, tls: { mode: 'DISABLE' } }],
      },
      {
        loadBalancer: { simple: 'ROUND_ROBIN' },
        portLevelSettings: [{ port: { number: 8080 }, tls: { mode: 'SIMPLE' } }],
      },
      9090,
      {
        tls: { mode: 'ISTIO_MUTUAL' },
        portLevelSettings: [{ port: { number: 8080 }, tls: { mode: 'DISABLE' } }],
        loadBalancer: { simple: 'ROUND_ROBIN' },
      },
    ],
  ];
  for (const [name, dr, subset, port, want] of cases) {
    it(name, () => assert.deepEqual(mergeSubsetTrafficPolicy(dr, subset, port), want));
  }
});
