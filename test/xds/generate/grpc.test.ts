// Proxyless gRPC generation, table by table after Istio's pilot/pkg/networking/grpcgen tests (lds_test.go,
// rds_test.go, cds_test.go, tls_test.go, grpcgen_test.go). Every resource generated here is encoded to protobuf
// and run through @grpc/grpc-js-xds's own resource validators (what decides an ACK or a NACK), with the
// bootstrap Istio's agent writes (pkg/istio-agent/grpcxds/grpc_bootstrap.go) parsed by gRPC's own validator.
// The behaviour tests follow a call through gRPC's functions: dial target → listener name → route → virtual
// host and route match → cluster → TLS, and a server's bound address → listener → chain.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../../src/xds/decode.js';
import type { GenerationContext } from '../../../src/xds/generate/context.js';
import { buildLoadAssignment } from '../../../src/xds/generate/endpoints.js';
import {
  commonTlsContext,
  filterVirtualHostsForHostname,
  type GrpcProblem,
  generateGrpc,
  listenerNameFilter,
  SERVER_LISTENER_NAME_PREFIX,
  tryFindFqdn,
} from '../../../src/xds/generate/grpc.js';
import { TYPE_URL as GRPC_TYPE_URL } from '../../../src/xds/generate/names.js';
import type { ProxyNode } from '../../../src/xds/generate/proxy.js';
import { envoyRoot } from '../../../src/xds/protos.js';
import { encodeMessage } from '../../../src/xds/server/codec.js';
import { contextFrom, sidecarNode } from './fixtures.js';

const require = createRequire(import.meta.url);

const TYPE_URL = GRPC_TYPE_URL;
type GrpcType = keyof typeof TYPE_URL;

// ---------------------------------------------------------------------------------------------------------
// gRPC's own validation (grpc-js-xds 1.14: build/src/xds-resource-type/*-resource-type.js)

interface Decoded {
  name: string;
  value?: Record<string, unknown>;
  error?: string;
}
interface ResourceType {
  decode(context: unknown, resource: { type_url: string; value: Uint8Array }): Decoded;
}
const XDS = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const grpcTypes: Record<GrpcType, ResourceType> = {
  listener: require(
    `${XDS}/build/src/xds-resource-type/listener-resource-type.js`,
  ).ListenerResourceType.get(),
  route: require(
    `${XDS}/build/src/xds-resource-type/route-config-resource-type.js`,
  ).RouteConfigurationResourceType.get(),
  cluster: require(`${XDS}/build/src/xds-resource-type/cluster-resource-type.js`).ClusterResourceType.get(),
  endpoint: require(
    `${XDS}/build/src/xds-resource-type/endpoint-resource-type.js`,
  ).EndpointResourceType.get(),
};
// The router filter registers itself with gRPC's HTTP filter registry (grpc-js-xds index.js register()).
require(`${XDS}/build/src/http-filter/router-filter.js`).setup();
const { decodeSingleResource, HTTP_CONNECTION_MANGER_TYPE_URL, DOWNSTREAM_TLS_CONTEXT_TYPE_URL } = require(
  `${XDS}/build/src/resources.js`,
) as {
  decodeSingleResource(url: string, bytes: Uint8Array): Record<string, unknown>;
  HTTP_CONNECTION_MANGER_TYPE_URL: string;
  DOWNSTREAM_TLS_CONTEXT_TYPE_URL: string;
};
const { validateBootstrapConfig, formatTemplateString } = require(`${XDS}/build/src/xds-bootstrap.js`) as {
  validateBootstrapConfig(obj: unknown): BootstrapConfig;
  formatTemplateString(template: string, value: string): string;
};
const { getListenerResourceName } = require(`${XDS}/build/src/resolver-xds.js`) as {
  getListenerResourceName(bootstrap: BootstrapConfig, target: { authority?: string; path: string }): string;
};
const { findVirtualHostForDomain } = require(`${XDS}/build/src/xds-dependency-manager.js`) as {
  findVirtualHostForDomain(vhosts: unknown[], domain: string): Record<string, unknown> | null;
};
const { getPredicateForMatcher } = require(`${XDS}/build/src/route.js`) as {
  getPredicateForMatcher(match: unknown): { apply(method: string, metadata: unknown): boolean };
};
const { Metadata } = require('@grpc/grpc-js') as { Metadata: new () => { set(k: string, v: string): void } };

interface BootstrapConfig {
  serverListenerResourceNameTemplate: string | null;
  certificateProviders: Record<string, unknown>;
  xdsServers: unknown[];
}

/** What Istio's agent writes for a proxyless app (grpc_bootstrap.go:157 GenerateBootstrap), as gRPC reads it. */
const BOOTSTRAP = validateBootstrapConfig({
  xds_servers: [
    {
      server_uri: 'unix:///etc/istio/proxy/XDS',
      channel_creds: [{ type: 'insecure' }],
      server_features: ['xds_v3'],
    },
  ],
  node: {
    id: 'sidecar~127.0.1.9~client.default~default.svc.cluster.local',
    locality: {},
    metadata: { GENERATOR: 'grpc', NAMESPACE: 'default' },
  },
  server_listener_resource_name_template: 'xds.istio.io/grpc/lds/inbound/%s',
  certificate_providers: {
    default: {
      plugin_name: 'file_watcher',
      config: {
        certificate_file: '/var/lib/istio/data/cert-chain.pem',
        private_key_file: '/var/lib/istio/data/key.pem',
        ca_certificate_file: '/var/lib/istio/data/root-cert.pem',
        refresh_interval: '900s',
      },
    },
  },
});
const GRPC_CONTEXT = { bootstrap: BOOTSTRAP, server: BOOTSTRAP.xdsServers[0] };

// ---------------------------------------------------------------------------------------------------------
// proto3 JSON → protobuf bytes, strictly: the ADS server's own encoder (src/xds/server/codec.ts)

const ROOT = envoyRoot();

/** gRPC's decode of one generated resource: `{name, value}`, or `{name, error}` when gRPC would NACK it. */
function grpcDecode(kind: GrpcType, resource: JsonObject): Decoded {
  const url = TYPE_URL[kind];
  const label = String(resource.name ?? resource.cluster_name ?? kind);
  const value = encodeMessage(ROOT, url.slice(url.lastIndexOf('/') + 1), resource, label);
  return grpcTypes[kind].decode(GRPC_CONTEXT, { type_url: url, value });
}

function assertGrpcAccepts(kind: GrpcType, resource: JsonObject): Decoded {
  const decoded = grpcDecode(kind, resource);
  assert.equal(decoded.error, undefined, `gRPC NACKs ${kind} ${String(resource.name)}: ${decoded.error}`);
  assert.equal(decoded.name, resource.name ?? resource.cluster_name);
  return decoded;
}

/** generateGrpc, with every resource checked by gRPC's validators. */
function generate(
  ctx: GenerationContext,
  proxy: ProxyNode,
  kind: GrpcType,
  names: readonly string[],
): { resources: JsonObject[]; problems: GrpcProblem[] } {
  const result = generateGrpc(ctx, proxy, TYPE_URL[kind], names);
  for (const r of result.resources) assertGrpcAccepts(kind, r);
  return result;
}

const codes = (problems: readonly GrpcProblem[]) => problems.map((p) => p.code);

// ---------------------------------------------------------------------------------------------------------
// The mesh

const BASE = `
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  clusterIP: 10.96.0.10
  selector: {app: echo}
  ports:
  - {name: grpc, port: 7070, targetPort: 17070}
  - {name: http, port: 8080}
---
apiVersion: v1
kind: Service
metadata: {name: tcp-db, namespace: default}
spec:
  clusterIP: 10.96.0.20
  selector: {app: db}
  ports: [{name: tcp-db, port: 9000}]
---
apiVersion: v1
kind: Service
metadata: {name: headless, namespace: default}
spec:
  clusterIP: None
  selector: {app: echo}
  ports: [{name: grpc, port: 7070}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-0, namespace: default}
spec:
  address: 127.0.1.2
  labels: {app: echo, version: v1, security.istio.io/tlsMode: istio}
  serviceAccount: echo
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-1, namespace: default}
spec:
  address: 127.0.1.3
  labels: {app: echo, version: v2, security.istio.io/tlsMode: disabled}
  serviceAccount: echo
${['svc-a', 'svc-b', 'svc-c']
  .map(
    (name, i) => `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: test}
spec:
  clusterIP: 10.0.0.${i + 1}
  selector: {app: ${name}}
  ports: [{name: grpc-main, port: 8080}]
`,
  )
  .join('')}${['ns1', 'ns2']
  .map(
    (ns, i) => `---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: ${ns}}
spec:
  clusterIP: 10.0.1.${i + 1}
  selector: {app: svc}
  ports: [{name: grpc-main, port: 8080}]
`,
  )
  .join('')}`;

const ECHO = 'echo.default.svc.cluster.local';
const SVC_A = 'svc-a.test.svc.cluster.local';
const SVC_B = 'svc-b.test.svc.cluster.local';

const client = (namespace = 'default') =>
  sidecarNode(namespace === 'default' ? '127.0.1.9' : '127.0.2.9', 'client', {
    namespace,
    generator: 'grpc',
  });
const server = (ip: string, name: string) =>
  sidecarNode(ip, name, { generator: 'grpc', serviceAccount: 'echo', labels: { app: 'echo' } });

const ctxWith = (extra = '') => contextFrom(`${BASE}${extra === '' ? '' : `---\n${extra}`}`);

// ---------------------------------------------------------------------------------------------------------

describe('listenerNameFilter (lds_test.go TestListenerNameFilter)', () => {
  const node = { namespace: 'ns', dnsDomain: 'ns.svc.cluster.local' };
  const inbound = (a: string) => `${SERVER_LISTENER_NAME_PREFIX}${a}`;
  const cases: [string, string[], Record<string, [string[], string[]]>][] = [
    [
      'simple',
      ['foo.com:80', 'foo.com:443', 'wildcard.com'],
      { 'foo.com': [['foo.com'], ['443', '80']], 'wildcard.com': [['wildcard.com'], []] },
    ],
    ['plain-host clears port-map', ['foo.com:80', 'foo.com'], { 'foo.com': [['foo.com'], []] }],
    ['port-map stays clear', ['foo.com:80', 'foo.com', 'foo.com:443'], { 'foo.com': [['foo.com'], []] }],
    [
      'special listeners preserved exactly',
      ['foo.com:80', inbound('foo:1234'), inbound('foo'), inbound('[::]:8076')],
      {
        'foo.com': [['foo.com'], ['80']],
        [inbound('foo:1234')]: [[inbound('foo:1234')], []],
        [inbound('foo')]: [[inbound('foo')], []],
        [inbound('[::]:8076')]: [[inbound('[::]:8076')], []],
      },
    ],
    [
      'expand shortnames',
      [
        'bar',
        'bar.ns',
        'bar.ns.svc',
        'bar.ns.svc.cluster.local',
        'foo:80',
        'foo.ns:81',
        'foo.ns.svc:82',
        'foo.ns.svc.cluster.local:83',
      ],
      {
        bar: [['bar'], []],
        'bar.ns': [['bar.ns'], []],
        'bar.ns.svc': [['bar.ns.svc'], []],
        'bar.ns.svc.cluster.local': [['bar', 'bar.ns', 'bar.ns.svc', 'bar.ns.svc.cluster.local'], []],
        foo: [['foo'], ['80']],
        'foo.ns': [['foo.ns'], ['81']],
        'foo.ns.svc': [['foo.ns.svc'], ['82']],
        'foo.ns.svc.cluster.local': [
          ['foo', 'foo.ns', 'foo.ns.svc', 'foo.ns.svc.cluster.local'],
          ['80', '81', '82', '83'],
        ],
      },
    ],
  ];
  for (const [name, input, want] of cases) {
    it(name, () => {
      const got = listenerNameFilter(input, node);
      const plain = Object.fromEntries(
        [...got].map(([k, v]) => [k, [[...v.requestedNames].sort(), [...v.ports].sort()]]),
      );
      assert.deepEqual(plain, want);
    });
  }
});

describe('tryFindFqdn (lds_test.go TestTryFindFQDN)', () => {
  const node = { namespace: 'ns', dnsDomain: 'ns.svc.cluster.local' };
  const cases: [string, string][] = [
    ['foo', 'foo.ns.svc.cluster.local'],
    ['foo.ns', 'foo.ns.svc.cluster.local'],
    ['foo.ns.svc', 'foo.ns.svc.cluster.local'],
    ['foo.ns.svc.cluster.local', ''],
    ['foo.com', ''],
    ['foo.ns.com', ''],
    ['foo.ns.svc.notdnsdomain', ''],
    ['foo.ns.svc.cluster.local.extra', ''],
    ['xds.istio.io/grpc/lds/inbound/0.0.0.0:1234', ''],
  ];
  for (const [input, want] of cases) it(input, () => assert.equal(tryFindFqdn(input, node), want));
});

describe('client LDS: api_listeners by requested name (lds.go:279 buildOutboundListeners)', () => {
  const ctx = ctxWith();
  const route = (host: string, port: number) => `outbound|${port}||${host}`;
  // [case, names, [listener name, route name, address][], problem codes]
  const cases: [string, string[], [string, string, string][], string[]][] = [
    [
      'short name with port (TestListenerNameFilter foo:80)',
      ['echo:7070'],
      [['echo:7070', route(ECHO, 7070), '10.96.0.10']],
      [],
    ],
    [
      'short name without port: every port (bar)',
      ['echo'],
      [
        ['echo:7070', route(ECHO, 7070), '10.96.0.10'],
        ['echo:8080', route(ECHO, 8080), '10.96.0.10'],
      ],
      [],
    ],
    [
      'name.ns (foo.ns:81)',
      ['echo.default:7070'],
      [['echo.default:7070', route(ECHO, 7070), '10.96.0.10']],
      [],
    ],
    [
      'name.ns.svc (foo.ns.svc:82)',
      ['echo.default.svc:8080'],
      [['echo.default.svc:8080', route(ECHO, 8080), '10.96.0.10']],
      [],
    ],
    [
      'FQDN (foo.ns.svc.cluster.local:83)',
      [`${ECHO}:7070`],
      [[`${ECHO}:7070`, route(ECHO, 7070), '10.96.0.10']],
      [],
    ],
    [
      'plain host clears the port map',
      ['echo:7070', 'echo'],
      [
        ['echo:7070', route(ECHO, 7070), '10.96.0.10'],
        ['echo:8080', route(ECHO, 8080), '10.96.0.10'],
      ],
      [],
    ],
    [
      'short and long names share the FQDN entry: every requested name × every requested port, as Istio',
      ['echo:7070', `${ECHO}:8080`],
      [
        ['echo:7070', route(ECHO, 7070), '10.96.0.10'],
        ['echo:8080', route(ECHO, 8080), '10.96.0.10'],
        [`${ECHO}:7070`, route(ECHO, 7070), '10.96.0.10'],
        [`${ECHO}:8080`, route(ECHO, 8080), '10.96.0.10'],
      ],
      [],
    ],
    [
      'another namespace by short name is not expanded (foo.ns.com)',
      ['svc-a.test:8080'],
      [],
      ['SKIFF_GRPC_UNKNOWN_LISTENER'],
    ],
    ['another namespace by FQDN', [`${SVC_A}:8080`], [[`${SVC_A}:8080`, route(SVC_A, 8080), '10.0.0.1']], []],
    [
      'no VIP (headless): 0.0.0.0',
      ['headless:7070'],
      [['headless:7070', route('headless.default.svc.cluster.local', 7070), '0.0.0.0']],
      [],
    ],
    ['unknown port', ['echo:9999'], [], ['SKIFF_GRPC_UNKNOWN_LISTENER']],
    ['unknown host', ['nosuch'], [], ['SKIFF_GRPC_UNKNOWN_LISTENER']],
    [
      'TCP ports get a listener too (Istio builds one per port)',
      ['tcp-db:9000'],
      [['tcp-db:9000', route('tcp-db.default.svc.cluster.local', 9000), '10.96.0.20']],
      [],
    ],
  ];
  for (const [name, names, want, problems] of cases) {
    it(name, () => {
      const got = generate(ctx, client(), 'listener', names);
      assert.deepEqual(
        got.resources.map((l) => {
          const hcm = (l.api_listener as JsonObject).api_listener as JsonObject;
          const rds = hcm.rds as JsonObject;
          return [
            l.name,
            rds.route_config_name,
            ((l.address as JsonObject).socket_address as JsonObject).address,
          ];
        }),
        want,
      );
      assert.deepEqual(codes(got.problems), problems);
    });
  }

  it('the whole listener, as Istio builds it (without the fault filter)', () => {
    const [listener] = generate(ctx, client(), 'listener', ['echo:7070']).resources;
    assert.deepEqual(listener, {
      name: 'echo:7070',
      address: { socket_address: { address: '10.96.0.10', port_value: 7070 } },
      api_listener: {
        api_listener: {
          '@type':
            'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          http_filters: [
            {
              name: 'envoy.filters.http.router',
              typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
            },
          ],
          rds: { config_source: { ads: {} }, route_config_name: `outbound|7070||${ECHO}` },
        },
      },
    });
  });

  it('no names: every service port, named FQDN:port', () => {
    const got = generate(ctx, client(), 'listener', []);
    assert.deepEqual(
      got.resources.map((l) => l.name),
      [
        `${ECHO}:7070`,
        `${ECHO}:8080`,
        'headless.default.svc.cluster.local:7070',
        `${SVC_A}:8080`,
        `${SVC_B}:8080`,
        'svc-c.test.svc.cluster.local:8080',
        'svc.ns1.svc.cluster.local:8080',
        'svc.ns2.svc.cluster.local:8080',
        'tcp-db.default.svc.cluster.local:9000',
      ],
    );
    assert.deepEqual(got.problems, []);
  });
});

describe('server LDS: one chain per mode (lds.go:72 buildInboundListeners, :131 buildInboundFilterChains)', () => {
  const pa = (spec: string, name = 'default') => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ${name}, namespace: default}
spec: ${spec}
`;
  const inbound = (a: string) => `${SERVER_LISTENER_NAME_PREFIX}${a}`;
  // [case, extra config, [ip, workload], requested name, chain name (undefined: no listener), problem codes]
  const cases: [string, string, [string, string], string, string | undefined, string[]][] = [
    [
      'PERMISSIVE (no policy) with the sidecar label → STRICT',
      '',
      ['127.0.1.2', 'echo-0'],
      inbound('0.0.0.0:17070'),
      'inbound-mtls',
      [],
    ],
    [
      'PERMISSIVE (no policy) without the label → DISABLE',
      '',
      ['127.0.1.3', 'echo-1'],
      inbound('0.0.0.0:17070'),
      'inbound-plaintext',
      [],
    ],
    [
      'explicit PERMISSIVE with the label → STRICT',
      pa('{mtls: {mode: PERMISSIVE}}'),
      ['127.0.1.2', 'echo-0'],
      inbound('127.0.1.2:17070'),
      'inbound-mtls',
      [],
    ],
    [
      'STRICT without the label (grpcgen_test initRBACTests mtls)',
      pa('{mtls: {mode: STRICT}}'),
      ['127.0.1.3', 'echo-1'],
      inbound('0.0.0.0:17070'),
      'inbound-mtls',
      [],
    ],
    [
      'DISABLE with the label',
      pa('{mtls: {mode: DISABLE}}'),
      ['127.0.1.2', 'echo-0'],
      inbound('0.0.0.0:17070'),
      'inbound-plaintext',
      [],
    ],
    [
      'port-level DISABLE under a STRICT namespace',
      `${pa('{mtls: {mode: STRICT}}')}---\n${pa("{selector: {matchLabels: {app: echo}}, portLevelMtls: {'17070': {mode: DISABLE}}}", 'echo')}`,
      ['127.0.1.2', 'echo-0'],
      inbound('0.0.0.0:17070'),
      'inbound-plaintext',
      [],
    ],
    [
      'the other service port (8080, its own target port)',
      pa('{mtls: {mode: STRICT}}'),
      ['127.0.1.3', 'echo-1'],
      inbound('0.0.0.0:8080'),
      'inbound-mtls',
      [],
    ],
    ['IPv6 any address', '', ['127.0.1.2', 'echo-0'], inbound('[::]:17070'), 'inbound-mtls', []],
    [
      'not a service target port: no listener',
      '',
      ['127.0.1.2', 'echo-0'],
      inbound('0.0.0.0:9999'),
      undefined,
      ['SKIFF_GRPC_NOT_A_SERVICE_PORT'],
    ],
    [
      'the headless service’s port (7070, a target port too)',
      '',
      ['127.0.1.2', 'echo-0'],
      inbound('0.0.0.0:7070'),
      'inbound-mtls',
      [],
    ],
    [
      'no port in the name (special listeners "foo")',
      '',
      ['127.0.1.2', 'echo-0'],
      inbound('foo'),
      undefined,
      ['SKIFF_GRPC_SERVER_LISTENER_NAME'],
    ],
    [
      'a proxy no workload has',
      '',
      ['127.0.9.9', 'ghost'],
      inbound('0.0.0.0:17070'),
      undefined,
      ['SKIFF_GRPC_NO_WORKLOAD'],
    ],
  ];
  for (const [name, extra, [ip, workload], listenerName, chain, problems] of cases) {
    it(name, () => {
      const got = generate(ctxWith(extra), server(ip, workload), 'listener', [listenerName]);
      assert.deepEqual(
        got.resources.map((l) => (l.filter_chains as JsonObject[]).map((c) => c.name)),
        chain ? [[chain]] : [],
      );
      assert.deepEqual(codes(got.problems), problems);
    });
  }

  const hcm = (suffix: string): JsonObject => ({
    name: `inbound-hcm${suffix}`,
    typed_config: {
      '@type':
        'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      route_config: {
        name: 'inbound',
        virtual_hosts: [{ domains: ['*'], routes: [{ match: { prefix: '/' }, non_forwarding_action: {} }] }],
      },
      http_filters: [
        {
          name: 'envoy.filters.http.router',
          typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
        },
      ],
    },
  });

  it('the STRICT listener whole: the name echoed, the address from it, certificate providers', () => {
    const [listener] = generate(ctxWith(), server('127.0.1.2', 'echo-0'), 'listener', [
      inbound('127.0.1.2:17070'),
    ]).resources;
    assert.deepEqual(listener, {
      name: inbound('127.0.1.2:17070'),
      address: { socket_address: { address: '127.0.1.2', port_value: 17070 } },
      filter_chains: [
        {
          name: 'inbound-mtls',
          filters: [hcm('mtls')],
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
              common_tls_context: commonTlsContext([]),
              require_client_certificate: true,
            },
          },
        },
      ],
    });
  });

  it('the plaintext listener whole', () => {
    const [listener] = generate(ctxWith(), server('127.0.1.3', 'echo-1'), 'listener', [
      inbound('0.0.0.0:17070'),
    ]).resources;
    assert.deepEqual(listener, {
      name: inbound('0.0.0.0:17070'),
      address: { socket_address: { address: '0.0.0.0', port_value: 17070 } },
      filter_chains: [{ name: 'inbound-plaintext', filters: [hcm('plaintext')] }],
    });
  });

  it('client and server names in one request', () => {
    const got = generate(ctxWith(), server('127.0.1.2', 'echo-0'), 'listener', [
      inbound('0.0.0.0:17070'),
      'svc-c.test.svc.cluster.local:8080',
    ]);
    assert.deepEqual(
      got.resources.map((l) => l.name),
      ['svc-c.test.svc.cluster.local:8080', inbound('0.0.0.0:17070')],
    );
  });
});

describe('certificate provider TLS context (tls_test.go TestBuildCommonTLSContext_*)', () => {
  const instance = (certificate_name: string) => ({ instance_name: 'default', certificate_name });
  it('both current and deprecated fields, with SANs', () => {
    assert.deepEqual(commonTlsContext(['spiffe://trust-domain/ns/default/sa/service']), {
      tls_certificate_provider_instance: instance('default'),
      tls_certificate_certificate_provider_instance: instance('default'),
      combined_validation_context: {
        default_validation_context: {
          match_subject_alt_names: [{ exact: 'spiffe://trust-domain/ns/default/sa/service' }],
          ca_certificate_provider_instance: instance('ROOTCA'),
        },
        validation_context_certificate_provider_instance: instance('ROOTCA'),
      },
    });
  });
  it('no SANs: no match_subject_alt_names', () => {
    assert.deepEqual(commonTlsContext([]), {
      tls_certificate_provider_instance: instance('default'),
      tls_certificate_certificate_provider_instance: instance('default'),
      combined_validation_context: {
        default_validation_context: { ca_certificate_provider_instance: instance('ROOTCA') },
        validation_context_certificate_provider_instance: instance('ROOTCA'),
      },
    });
  });
});

describe('filterVirtualHostsForHostname (rds_test.go TestFilterVirtualHostsForHostname)', () => {
  const service = SVC_A;
  const vh = (name: string, domains: string[]): JsonObject => ({ name, domains });
  const cases: [string, JsonObject[], string, string[]][] = [
    ['exact host domain', [vh('svc-a', [service]), vh('svc-b', [SVC_B])], service, ['svc-a']],
    [
      'exact hostport domain',
      [
        vh('svc-a', [`${service}:8080`]),
        vh('wrong-port', [`${service}:9090`]),
        vh('svc-b', [`${SVC_B}:8080`]),
      ],
      service,
      ['svc-a'],
    ],
    [
      'wildcard domain',
      [vh('wildcard', ['*.test.svc.cluster.local']), vh('other', ['*.other.svc.cluster.local'])],
      service,
      ['wildcard'],
    ],
    [
      'wildcard hostport domain',
      [
        vh('wildcard', ['*.test.svc.cluster.local:8080']),
        vh('wrong-port', ['*.test.svc.cluster.local:9090']),
      ],
      service,
      ['wildcard'],
    ],
    [
      'ipv6 exact host and hostport',
      [
        vh('ipv6-host', ['[2001:db8::1]']),
        vh('ipv6-hostport', ['[2001:db8::1]:8080']),
        vh('other', ['[2001:db8::2]:8080']),
      ],
      '2001:db8::1',
      ['ipv6-host', 'ipv6-hostport'],
    ],
    [
      'domain matching is case insensitive',
      [vh('svc-a', ['SVC-A.TEST.SVC.CLUSTER.LOCAL']), vh('svc-b', ['SVC-B.TEST.SVC.CLUSTER.LOCAL'])],
      service,
      ['svc-a'],
    ],
    ['no match', [vh('svc-b', [SVC_B])], service, []],
  ];
  for (const [name, vhosts, host, want] of cases) {
    it(name, () =>
      assert.deepEqual(
        filterVirtualHostsForHostname(vhosts, host, 8080).map((v) => v.name),
        want,
      ),
    );
  }
});

describe('RDS: the requested host’s virtual host (rds.go:48 buildHTTPRoute)', () => {
  const vs = (name: string, spec: string, namespace = 'test') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${namespace}}
spec:
${spec}
`;
  const toB = vs(
    'route-a-to-b',
    `  hosts: [${SVC_A}]
  http:
  - route:
    - destination: {host: ${SVC_B}, port: {number: 8080}}`,
  );
  const wildcard = vs(
    'wildcard-host-route',
    `  hosts: ['*.example.com']
  http:
  - route:
    - destination: {host: api.example.net, port: {number: 80}}`,
  );
  const subsets = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc-a-subsets, namespace: test}
spec:
  host: ${SVC_A}
  subsets: [{name: v1, labels: {version: v1}}]
`;
  const ports = (host: string, port: number) => [host, `${host}:${port}`];
  // [case (Istio test), extra, proxy namespace, route name, [vhost name, domains, first route's cluster][], problems]
  const cases: [string, string, string, string, [string, string[], string | undefined][], string[]][] = [
    [
      'TestGRPCRDSVirtualHostFiltering: only svc-a of three services on 8080',
      '',
      'test',
      `outbound|8080||${SVC_A}`,
      [
        [
          `${SVC_A}:8080`,
          [
            ...ports(SVC_A, 8080),
            ...ports(`${SVC_A}.`, 8080),
            ...ports('svc-a', 8080),
            ...ports('svc-a.test.svc', 8080),
            ...ports('svc-a.test', 8080),
            ...ports('10.0.0.1', 8080),
          ],
          `outbound|8080||${SVC_A}`,
        ],
      ],
      [],
    ],
    [
      'TestGRPCRDSWithVirtualService: svc-a routed to svc-b',
      toB,
      'test',
      `outbound|8080||${SVC_A}`,
      [
        [
          `${SVC_A}:8080`,
          [
            ...ports(SVC_A, 8080),
            ...ports(`${SVC_A}.`, 8080),
            ...ports('svc-a', 8080),
            ...ports('svc-a.test.svc', 8080),
            ...ports('svc-a.test', 8080),
            ...ports('10.0.0.1', 8080),
          ],
          `outbound|8080||${SVC_B}`,
        ],
      ],
      [],
    ],
    [
      'TestGRPCRDSWithWildcardVirtualServiceHost: the wildcard vhost for a host outside the registry',
      wildcard,
      'test',
      'outbound|80||foo.example.com',
      [['*.example.com:80', ports('*.example.com', 80), 'outbound|80||api.example.net']],
      [],
    ],
    [
      'TestGRPCRDSSubsetRouteFiltering: a subset route name still selects the host',
      subsets,
      'test',
      `outbound|8080|v1|${SVC_A}`,
      [
        [
          `${SVC_A}:8080`,
          [
            ...ports(SVC_A, 8080),
            ...ports(`${SVC_A}.`, 8080),
            ...ports('svc-a', 8080),
            ...ports('svc-a.test.svc', 8080),
            ...ports('svc-a.test', 8080),
            ...ports('10.0.0.1', 8080),
          ],
          `outbound|8080||${SVC_A}`,
        ],
      ],
      [],
    ],
    [
      'TestGRPCRDSSameShortNameDifferentNamespaces: ns1’s svc only',
      '',
      'ns1',
      'outbound|8080||svc.ns1.svc.cluster.local',
      [
        [
          'svc.ns1.svc.cluster.local:8080',
          [
            ...ports('svc.ns1.svc.cluster.local', 8080),
            ...ports('svc.ns1.svc.cluster.local.', 8080),
            ...ports('svc', 8080),
            ...ports('svc.ns1.svc', 8080),
            ...ports('svc.ns1', 8080),
            ...ports('10.0.1.1', 8080),
          ],
          'outbound|8080||svc.ns1.svc.cluster.local',
        ],
      ],
      [],
    ],
    [
      'a service of another namespace: no bare short name',
      '',
      'ns1',
      'outbound|8080||svc.ns2.svc.cluster.local',
      [
        [
          'svc.ns2.svc.cluster.local:8080',
          [
            ...ports('svc.ns2.svc.cluster.local', 8080),
            ...ports('svc.ns2.svc.cluster.local.', 8080),
            ...ports('svc.ns2', 8080),
            ...ports('svc.ns2.svc', 8080),
            ...ports('10.0.1.2', 8080),
          ],
          'outbound|8080||svc.ns2.svc.cluster.local',
        ],
      ],
      [],
    ],
    [
      'a headless service also answers to *.<name> (Passthrough)',
      '',
      'default',
      'outbound|7070||headless.default.svc.cluster.local',
      [
        [
          'headless.default.svc.cluster.local:7070',
          [
            ...ports('headless.default.svc.cluster.local', 7070),
            ...ports('headless.default.svc.cluster.local.', 7070),
            ...ports('headless', 7070),
            ...ports('headless.default.svc', 7070),
            ...ports('headless.default', 7070),
            ...[
              ...ports('headless.default.svc.cluster.local', 7070),
              ...ports('headless.default.svc.cluster.local.', 7070),
              ...ports('headless', 7070),
              ...ports('headless.default.svc', 7070),
              ...ports('headless.default', 7070),
            ].map((d) => `*.${d}`),
          ],
          'outbound|7070||headless.default.svc.cluster.local',
        ],
      ],
      [],
    ],
    [
      'a TCP port has no virtual host',
      '',
      'default',
      'outbound|9000||tcp-db.default.svc.cluster.local',
      [],
      ['SKIFF_GRPC_ROUTE_EMPTY'],
    ],
    ['not a route name', '', 'default', 'echo:7070', [], ['SKIFF_GRPC_ROUTE_NAME']],
  ];
  for (const [name, extra, ns, routeName, want, problems] of cases) {
    it(name, () => {
      const got = generate(ctxWith(extra), client(ns), 'route', [routeName]);
      assert.deepEqual(
        got.resources.flatMap((rc) => {
          assert.equal(rc.name, routeName);
          return (rc.virtual_hosts as JsonObject[]).map((vh) => {
            const [first] = vh.routes as JsonObject[];
            return [vh.name, vh.domains, (first?.route as JsonObject | undefined)?.cluster];
          });
        }),
        want,
      );
      assert.equal(got.resources.length, problems.includes('SKIFF_GRPC_ROUTE_NAME') ? 0 : 1);
      assert.deepEqual(codes(got.problems), problems);
    });
  }

  it('the default route: Istio’s retry policy, no timeout (route.go:1356 BuildDefaultHTTPOutboundRoute)', () => {
    const [rc] = generate(ctxWith(), client(), 'route', [`outbound|7070||${ECHO}`]).resources;
    const [vh] = (rc?.virtual_hosts ?? []) as JsonObject[];
    assert.equal(vh?.include_request_attempt_count, true);
    assert.deepEqual(vh?.routes, [
      {
        name: 'default',
        match: { prefix: '/' },
        route: {
          cluster: `outbound|7070||${ECHO}`,
          timeout: '0s',
          retry_policy: {
            retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
            num_retries: 2,
            retry_host_predicate: [
              {
                name: 'envoy.retry_host_predicates.previous_hosts',
                typed_config: {
                  '@type':
                    'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
                },
              },
            ],
            // An int64: a string in proto3 JSON, as Go's protojson writes it (was the number 5 here, a string in
            // sidecar routes; one retryPolicy now writes both).
            host_selection_retry_max_attempts: '5',
          },
          max_grpc_timeout: '0s',
        },
        decorator: { operation: `${ECHO}:7070/*` },
      },
    ]);
  });

  const echoVs = vs(
    'echo',
    `  hosts: [echo]
  http:
  - name: canary
    match:
    - name: hdr
      headers: {x-canary: {exact: 'yes'}}
      uri: {prefix: /echo.Echo/}
    route:
    - destination: {host: echo, subset: v2}
    timeout: 1.5s
    retries: {attempts: 3, retryOn: 'unavailable,503', perTryTimeout: 100ms}
  - name: split
    route:
    - destination: {host: echo, subset: v1}
      weight: 90
    - destination: {host: echo, subset: v2}
      weight: 10
    - destination: {host: echo, subset: v3}
      weight: 0`,
    'default',
  );
  const vsMeta = {
    filter_metadata: {
      istio: { config: '/apis/networking.istio.io/v1/namespaces/default/virtual-service/echo' },
    },
  };

  it('VirtualService routes: match, subsets, weights, max_stream_duration, retries (route.go:467 TranslateRoute)', () => {
    const got = generate(ctxWith(echoVs), client(), 'route', [`outbound|7070||${ECHO}`]);
    assert.deepEqual(got.problems, []);
    const [vh] = (got.resources[0]?.virtual_hosts ?? []) as JsonObject[];
    assert.equal(vh?.name, `${ECHO}:7070`);
    assert.deepEqual(vh?.routes, [
      {
        name: 'canary.hdr',
        match: {
          prefix: '/echo.Echo/',
          case_sensitive: true,
          headers: [{ name: 'x-canary', string_match: { exact: 'yes' } }],
        },
        metadata: vsMeta,
        route: {
          timeout: '1.500s',
          cluster: `outbound|7070|v2|${ECHO}`,
          retry_policy: {
            retry_on: 'unavailable,retriable-status-codes',
            num_retries: 3,
            retry_host_predicate: [
              {
                name: 'envoy.retry_host_predicates.previous_hosts',
                typed_config: {
                  '@type':
                    'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
                },
              },
            ],
            host_selection_retry_max_attempts: '5',
            retriable_status_codes: [503],
            per_try_timeout: '0.100s',
          },
          max_stream_duration: { max_stream_duration: '1.500s' },
        },
        decorator: { operation: `${ECHO}:7070/echo.Echo/*` },
      },
      {
        name: 'split',
        match: { prefix: '/' },
        metadata: vsMeta,
        route: {
          timeout: '0s',
          weighted_clusters: {
            clusters: [
              { name: `outbound|7070|v1|${ECHO}`, weight: 90 },
              { name: `outbound|7070|v2|${ECHO}`, weight: 10 },
            ],
          },
          retry_policy: {
            retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
            num_retries: 2,
            retry_host_predicate: [
              {
                name: 'envoy.retry_host_predicates.previous_hosts',
                typed_config: {
                  '@type':
                    'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
                },
              },
            ],
            host_selection_retry_max_attempts: '5',
          },
          max_stream_duration: { max_stream_duration: '0s' },
        },
        decorator: { operation: 'echo:7070/*' },
      },
    ]);
  });

  // [case, http rules, route names kept, problem codes]
  const ruleCases: [string, string, string[], string[]][] = [
    [
      'redirect is skipped: gRPC NACKs a table with a redirect action',
      `  - name: moved
    match: [{uri: {prefix: /old}}]
    redirect: {uri: /new}
  - name: rest
    route: [{destination: {host: echo}}]`,
      ['rest'],
      ['SKIFF_GRPC_ROUTE_ACTION'],
    ],
    [
      'fault is reported and not generated',
      `  - name: faulty
    fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
    route: [{destination: {host: echo}}]`,
      ['faulty'],
      ['SKIFF_GRPC_ROUTE_IGNORED'],
    ],
    [
      'a match for another port is dropped (match.port)',
      `  - name: other-port
    match: [{port: 8080}]
    route: [{destination: {host: echo}}]
  - name: rest
    route: [{destination: {host: echo}}]`,
      ['rest'],
      [],
    ],
    [
      'a match for other source labels is dropped (sourceMatchHTTP)',
      `  - name: from-frontend
    match: [{sourceLabels: {app: frontend}}]
    route: [{destination: {host: echo}}]
  - name: rest
    route: [{destination: {host: echo}}]`,
      ['rest'],
      [],
    ],
    [
      'routes stop at the first catch-all (BuildHTTPRoutesForVirtualService)',
      `  - name: first
    route: [{destination: {host: echo}}]
  - name: never
    route: [{destination: {host: echo}}]`,
      ['first'],
      [],
    ],
  ];
  for (const [name, http, kept, problems] of ruleCases) {
    it(name, () => {
      const got = generate(
        ctxWith(vs('rules', `  hosts: [echo]\n  http:\n${http}`, 'default')),
        client(),
        'route',
        [`outbound|7070||${ECHO}`],
      );
      const [vh] = (got.resources[0]?.virtual_hosts ?? []) as JsonObject[];
      assert.deepEqual(
        ((vh?.routes ?? []) as JsonObject[]).map((r) => r.name),
        kept,
      );
      assert.deepEqual(codes(got.problems), problems);
    });
  }

  it('a VirtualService bound only to a gateway does not apply (gateways without mesh)', () => {
    const gw = vs(
      'gw-only',
      `  hosts: [echo]\n  gateways: [ingress]\n  http:\n  - route: [{destination: {host: svc-a.test.svc.cluster.local}}]`,
      'default',
    );
    const [rc] = generate(ctxWith(gw), client(), 'route', [`outbound|7070||${ECHO}`]).resources;
    const [vh] = (rc?.virtual_hosts ?? []) as JsonObject[];
    assert.deepEqual(
      ((vh?.routes ?? []) as JsonObject[]).map((r) => (r.route as JsonObject).cluster),
      [`outbound|7070||${ECHO}`],
    );
  });

  it('a consistent-hash DestinationRule adds the header hash policy gRPC reads', () => {
    const dr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo
  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}
`;
    const [rc] = generate(ctxWith(dr), client(), 'route', [`outbound|7070||${ECHO}`]).resources;
    const [vh] = (rc?.virtual_hosts ?? []) as JsonObject[];
    const [route] = (vh?.routes ?? []) as JsonObject[];
    assert.deepEqual((route?.route as JsonObject | undefined)?.hash_policy, [
      { header: { header_name: 'x-user' } },
    ]);
  });

  it('the oldest VirtualService for a host wins, whatever the read order (config.go sortConfigByCreationTime)', () => {
    // Was: read order (the newer one, read first, won); now the order sidecars use (routes.ts meshVirtualServices).
    const timed = (name: string, created: string, subset: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default, creationTimestamp: "${created}"}
spec:
  hosts: [echo]
  http:
  - route: [{destination: {host: echo, subset: ${subset}}}]
`;
    const ctx = ctxWith(
      `${timed('newer', '2022-01-01T00:00:00Z', 'v2')}---\n${timed('older', '2020-01-01T00:00:00Z', 'v1')}`,
    );
    const [rc] = generate(ctx, client(), 'route', [`outbound|7070||${ECHO}`]).resources;
    const vhosts = (rc?.virtual_hosts ?? []) as JsonObject[];
    assert.deepEqual(
      vhosts.map((vh) => [
        vh.name,
        ((vh.routes as JsonObject[])[0]?.route as JsonObject | undefined)?.cluster,
      ]),
      [[`${ECHO}:7070`, `outbound|7070|v1|${ECHO}`]],
    );
  });

  it('a consistentHash without a hash key drops previous_hosts from the retries (applyHTTPRouteDestination: hash != nil)', () => {
    // Was: kept, as grpc.ts asked whether a hash policy came of it (none does without a key); sidecar routes
    // asked whether the destination has a consistentHash, as Istio.
    const dr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo
  trafficPolicy: {loadBalancer: {consistentHash: {ringHash: {minimumRingSize: 1024}}}}
`;
    const one = vs('one', '  hosts: [echo]\n  http:\n  - route: [{destination: {host: echo}}]', 'default');
    const [rc] = generate(ctxWith(`${dr}---\n${one}`), client(), 'route', [
      `outbound|7070||${ECHO}`,
    ]).resources;
    const [vh] = (rc?.virtual_hosts ?? []) as JsonObject[];
    const action = ((vh?.routes ?? []) as JsonObject[])[0]?.route as JsonObject | undefined;
    assert.deepEqual(action?.retry_policy, {
      retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
      num_retries: 2,
      host_selection_retry_max_attempts: '5',
    });
    assert.equal(action?.hash_policy, undefined);
  });
});

describe('CDS: only the requested clusters (cds.go:37 BuildClusters)', () => {
  const dr = (spec: string, namespace = 'default', name = 'echo') => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  host: ${ECHO}
${spec}
`;
  const c7070 = `outbound|7070||${ECHO}`;
  const eds = (name: string): JsonObject => ({
    name,
    alt_stat_name: `${name};`,
    type: 'EDS',
    eds_cluster_config: { service_name: name, eds_config: { ads: {} } },
  });
  const mtls: JsonObject = {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      common_tls_context: commonTlsContext(['spiffe://cluster.local/ns/default/sa/echo']),
    },
  };
  // [case, extra, requested names, clusters, problem codes]
  const cases: [string, string, string[], JsonObject[], string[]][] = [
    ['no DestinationRule: a plain EDS cluster (cds.go:153 edsCluster)', '', [c7070], [eds(c7070)], []],
    [
      'ISTIO_MUTUAL: certificate providers, SANs = service accounts (grpcgen_test initRBACTests)',
      dr('  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}'),
      [c7070],
      [{ ...eds(c7070), transport_socket: mtls }],
      [],
    ],
    [
      'ISTIO_MUTUAL with the rule’s own SANs: the service accounts are required anyway, and the SANs reported',
      dr('  trafficPolicy: {tls: {mode: ISTIO_MUTUAL, subjectAltNames: [spiffe://cluster.local/ns/x/sa/y]}}'),
      [c7070],
      [{ ...eds(c7070), transport_socket: mtls }],
      ['SKIFF_GRPC_TLS_SANS'],
    ],
    [
      'SIMPLE is not applied (Istio: TODO)',
      dr('  trafficPolicy: {tls: {mode: SIMPLE}}'),
      [c7070],
      [eds(c7070)],
      ['SKIFF_GRPC_TLS_MODE'],
    ],
    [
      'port-level ISTIO_MUTUAL applies to its port only',
      dr('  trafficPolicy:\n    portLevelSettings: [{port: {number: 7070}, tls: {mode: ISTIO_MUTUAL}}]'),
      [c7070, `outbound|8080||${ECHO}`],
      [{ ...eds(c7070), transport_socket: mtls }, eds(`outbound|8080||${ECHO}`)],
      [],
    ],
    [
      'subsets: the requested ones, with the rule’s policy; an unknown one reported',
      dr(
        '  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]',
      ),
      [c7070, `outbound|7070|v1|${ECHO}`, `outbound|7070|v9|${ECHO}`],
      [
        { ...eds(c7070), transport_socket: mtls },
        { ...eds(`outbound|7070|v1|${ECHO}`), transport_socket: mtls },
      ],
      ['SKIFF_GRPC_UNKNOWN_SUBSET'],
    ],
    [
      'a subset alone: no default cluster (newClusterFilter)',
      dr('  subsets: [{name: v1, labels: {version: v1}, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}]'),
      [`outbound|7070|v1|${ECHO}`],
      [{ ...eds(`outbound|7070|v1|${ECHO}`), transport_socket: mtls }],
      [],
    ],
    [
      'the client namespace’s rule wins over the service’s',
      `${dr('  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}')}---\n${dr('  trafficPolicy: {tls: {mode: DISABLE}}', 'test', 'client-side')}`,
      [c7070],
      [eds(c7070)],
      [],
    ],
    [
      'TestApplyCircuitBreakers http2MaxRequests set: max_requests only',
      dr(
        '  trafficPolicy: {connectionPool: {http: {http2MaxRequests: 100, http1MaxPendingRequests: 200, maxRetries: 3}, tcp: {maxConnections: 50}}}',
      ),
      [c7070],
      [{ ...eds(c7070), circuit_breakers: { thresholds: [{ max_requests: 100 }] } }],
      [],
    ],
    [
      'TestApplyCircuitBreakers only tcp maxConnections: none',
      dr('  trafficPolicy: {connectionPool: {tcp: {maxConnections: 50}}}'),
      [c7070],
      [eds(c7070)],
      [],
    ],
    [
      'TestApplyLoadBalancing ROUND_ROBIN: gRPC’s default, no lb_policy',
      dr('  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}'),
      [c7070],
      [eds(c7070)],
      [],
    ],
    [
      'TestApplyLoadBalancing LEAST_REQUEST: not set (grpc-js NACKs it), reported',
      dr('  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}'),
      [c7070],
      [eds(c7070)],
      ['SKIFF_GRPC_LB'],
    ],
    [
      'TestApplyLoadBalancing RING_HASH with consistent hash: ring of 1024',
      dr('  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-session-id}}}'),
      [c7070],
      [{ ...eds(c7070), lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: 1024 } }],
      [],
    ],
    [
      'ringHash without a size: RING_HASH, gRPC’s default size',
      dr('  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-session-id, ringHash: {}}}}'),
      [c7070],
      [{ ...eds(c7070), lb_policy: 'RING_HASH' }],
      [],
    ],
    [
      'maglev: not set (grpc-js NACKs it), reported',
      dr(
        '  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-session-id, maglev: {tableSize: 65537}}}}',
      ),
      [c7070],
      [eds(c7070)],
      ['SKIFF_GRPC_LB'],
    ],
    [
      'a DNS ServiceEntry: built, and reported (EDS has no endpoints for it)',
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 443, name: grpc, protocol: GRPC}]
`,
      ['outbound|443||api.example.com'],
      [eds('outbound|443||api.example.com')],
      ['SKIFF_GRPC_DNS_SERVICE'],
    ],
    [
      'unknown service: skipped',
      '',
      ['outbound|7070||nosuch.default.svc.cluster.local'],
      [],
      ['SKIFF_GRPC_UNKNOWN_CLUSTER'],
    ],
    ['unknown port: skipped', '', [`outbound|9999||${ECHO}`], [], ['SKIFF_GRPC_UNKNOWN_CLUSTER']],
    [
      'not a cluster name: skipped',
      '',
      ['echo:7070', `inbound|7070||${ECHO}`],
      [],
      ['SKIFF_GRPC_CLUSTER_NAME', 'SKIFF_GRPC_CLUSTER_NAME'],
    ],
  ];
  for (const [name, extra, names, want, problems] of cases) {
    it(name, () => {
      const proxy = name.startsWith('the client namespace') ? client('test') : client();
      const got = generate(ctxWith(extra), proxy, 'cluster', names);
      assert.deepEqual(got.resources, want);
      assert.deepEqual(codes(got.problems), problems);
    });
  }

  it('what gRPC makes of the ISTIO_MUTUAL cluster: its certificate providers and SAN matchers', () => {
    const [cluster] = generate(
      ctxWith(dr('  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}')),
      client(),
      'cluster',
      [c7070],
    ).resources;
    assert.ok(cluster);
    const value = assertGrpcAccepts('cluster', cluster).value ?? {};
    assert.equal(value.type, 'EDS');
    assert.equal(value.edsServiceName, c7070);
    assert.deepEqual(value.securityUpdate, {
      caCertificateProviderInstance: 'default',
      identityCertificateProviderInstance: 'default',
      subjectAltNameMatchers: [
        { exact: 'spiffe://cluster.local/ns/default/sa/echo', ignore_case: false, match_pattern: 'exact' },
      ],
    });
  });

  it('the same cluster is served from the per-service cache on the next request', () => {
    const ctx = ctxWith(dr('  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}'));
    const first = generateGrpc(ctx, client(), TYPE_URL.cluster, [c7070]).resources[0];
    const second = generateGrpc(ctx, client(), TYPE_URL.cluster, [c7070]).resources[0];
    assert.ok(first);
    assert.equal(second, first);
  });
});

describe('gRPC’s validators catch what Istio’s output would break (the checks can fail)', () => {
  const ctx = ctxWith();
  const [cluster] = generateGrpc(ctx, client(), TYPE_URL.cluster, [`outbound|7070||${ECHO}`]).resources;
  const [listener] = generateGrpc(ctx, client(), TYPE_URL.listener, ['echo:7070']).resources;
  const [routes] = generateGrpc(ctx, client(), TYPE_URL.route, [`outbound|7070||${ECHO}`]).resources;
  assert.ok(cluster && listener && routes);
  const vhost = ((routes.virtual_hosts ?? []) as JsonObject[])[0] ?? {};
  // [case, resource kind, broken resource, gRPC's error text]
  const cases: [string, GrpcType, JsonObject, RegExp][] = [
    [
      'Istio’s lb_policy LEAST_REQUEST',
      'cluster',
      { ...cluster, lb_policy: 'LEAST_REQUEST' },
      /unsupported lb_policy: LEAST_REQUEST/,
    ],
    [
      'Istio’s lb_policy MAGLEV',
      'cluster',
      { ...cluster, lb_policy: 'MAGLEV' },
      /unsupported lb_policy: MAGLEV/,
    ],
    [
      'a certificate provider instance the bootstrap lacks',
      'cluster',
      {
        ...cluster,
        transport_socket: {
          name: 'envoy.transport_sockets.tls',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
            common_tls_context: {
              tls_certificate_provider_instance: { instance_name: 'other', certificate_name: 'default' },
              combined_validation_context: {
                default_validation_context: {
                  ca_certificate_provider_instance: { instance_name: 'default' },
                },
              },
            },
          },
        },
      },
      /Unmatched UpstreamTlsContext.tls_certificate_provider_instance.instance_name: other/,
    ],
    [
      'a redirect route',
      'route',
      {
        ...routes,
        virtual_hosts: [
          { ...vhost, routes: [{ match: { prefix: '/' }, redirect: { path_redirect: '/x' } }] },
        ],
      },
      /unsupported action: redirect/,
    ],
    [
      'listener_filters on a listener',
      'listener',
      { ...listener, listener_filters: [{ name: 'envoy.filters.listener.tls_inspector' }] },
      /listener_filters populated/,
    ],
    [
      'a filter after the router',
      'listener',
      {
        ...listener,
        api_listener: {
          api_listener: {
            ...((listener.api_listener as JsonObject).api_listener as JsonObject),
            http_filters: [
              {
                name: 'envoy.filters.http.router',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                },
              },
              {
                name: 'router2',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                },
              },
            ],
          },
        },
      },
      /router filter is before the end of the list/,
    ],
  ];
  for (const [name, kind, resource, error] of cases) {
    it(name, () => assert.match(grpcDecode(kind, resource).error ?? '(accepted)', error));
  }

  it('the encoder refuses a misspelled field instead of dropping it', () => {
    assert.throws(() => grpcDecode('cluster', { ...cluster, lb_polcy: 'RING_HASH' }), /unknown field/);
  });
});

describe('behaviour: a gRPC client dialing xds:///… (grpcgen_test TestGRPC gRPC-resolve / gRPC-dial)', () => {
  const drs = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: ${ECHO}
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - match: [{headers: {x-canary: {exact: 'yes'}}}]
    route: [{destination: {host: echo, subset: v2}}]
    timeout: 2s
  - route: [{destination: {host: echo, subset: v1}}]
`;

  /** What gRPC does for one call: every step through gRPC's own functions over generated resources. */
  function dial(
    ctx: GenerationContext,
    proxy: ProxyNode,
    target: string,
    headers: Record<string, string> = {},
  ) {
    const listenerName = getListenerResourceName(BOOTSTRAP, { path: target });
    const [listener] = generate(ctx, proxy, 'listener', [listenerName]).resources;
    if (!listener) return { listenerName, outcome: 'no listener' };
    const decoded = assertGrpcAccepts('listener', listener).value as {
      api_listener: { api_listener: { value: Uint8Array } };
    };
    const hcm = decodeSingleResource(
      HTTP_CONNECTION_MANGER_TYPE_URL,
      decoded.api_listener.api_listener.value,
    ) as {
      rds: { route_config_name: string };
    };
    const routeName = hcm.rds.route_config_name;
    const [rc] = generate(ctx, proxy, 'route', [routeName]).resources;
    assert.ok(rc);
    const table = assertGrpcAccepts('route', rc).value as { virtual_hosts: unknown[] };
    const vhost = findVirtualHostForDomain(table.virtual_hosts, target);
    if (!vhost) return { listenerName, routeName, outcome: 'no virtual host' };
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
    const route = (
      vhost.routes as { match: unknown; route: { cluster: string; max_stream_duration: unknown } }[]
    ).find((r) => getPredicateForMatcher(r.match).apply('/echo.Echo/Call', metadata));
    if (!route) return { listenerName, routeName, outcome: 'no route' };
    const [cluster] = generate(ctx, proxy, 'cluster', [route.route.cluster]).resources;
    assert.ok(cluster, `no cluster ${route.route.cluster}`);
    const c = assertGrpcAccepts('cluster', cluster).value as {
      edsServiceName: string;
      securityUpdate?: unknown;
    };
    return {
      listenerName,
      routeName,
      vhost: vhost.name,
      cluster: c.edsServiceName,
      mtls: c.securityUpdate !== undefined,
      maxStreamDuration:
        (route.route.max_stream_duration as { max_stream_duration: unknown } | null)?.max_stream_duration ??
        null,
    };
  }

  it('plain service, no policies: plaintext to the default cluster', () => {
    assert.deepEqual(dial(ctxWith(), client(), 'echo:7070'), {
      listenerName: 'echo:7070',
      routeName: `outbound|7070||${ECHO}`,
      vhost: `${ECHO}:7070`,
      cluster: `outbound|7070||${ECHO}`,
      mtls: false,
      maxStreamDuration: null,
    });
  });

  // [case, target, headers, cluster, mTLS, max stream duration]
  const cases: [string, string, Record<string, string>, string, boolean, unknown][] = [
    [
      'header match → subset v2, 2s deadline',
      'echo:7070',
      { 'x-canary': 'yes' },
      `outbound|7070|v2|${ECHO}`,
      true,
      { seconds: '2', nanos: 0 },
    ],
    ['no header → subset v1', 'echo:7070', {}, `outbound|7070|v1|${ECHO}`, true, { seconds: '0', nanos: 0 }],
    [
      'FQDN target, same routes',
      `${ECHO}:7070`,
      { 'x-canary': 'yes' },
      `outbound|7070|v2|${ECHO}`,
      true,
      { seconds: '2', nanos: 0 },
    ],
    [
      'echo.default target',
      'echo.default:7070',
      {},
      `outbound|7070|v1|${ECHO}`,
      true,
      { seconds: '0', nanos: 0 },
    ],
  ];
  for (const [name, target, headers, cluster, mtls, msd] of cases) {
    it(name, () => {
      const got = dial(ctxWith(drs), client(), target, headers);
      assert.deepEqual([got.cluster, got.mtls, got.maxStreamDuration], [cluster, mtls, msd]);
    });
  }

  it('a target port the service lacks: no listener, so gRPC cannot resolve it', () => {
    assert.deepEqual(dial(ctxWith(), client(), 'echo:9999'), {
      listenerName: 'echo:9999',
      outcome: 'no listener',
    });
  });

  it('the VIP as target: no listener (listener names are matched by host name only, lds.go includes)', () => {
    assert.deepEqual(dial(ctxWith(drs), client(), '10.96.0.10:7070'), {
      listenerName: '10.96.0.10:7070',
      outcome: 'no listener',
    });
  });

  it('a TCP port: a listener but no virtual host, so gRPC fails the call', () => {
    assert.equal(dial(ctxWith(), client(), 'tcp-db:9000').outcome, 'no virtual host');
  });
});

describe('behaviour: a gRPC server binding its port (grpcgen_test gRPC-svc-tls; grpc-js server.js)', () => {
  const strict = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec: {mtls: {mode: STRICT}}
`;
  /** The listener gRPC watches for a bound address, and what the server does with it. */
  function serve(ctx: GenerationContext, proxy: ProxyNode, bound: string) {
    const template = BOOTSTRAP.serverListenerResourceNameTemplate ?? '';
    const name = formatTemplateString(template, bound);
    const [listener] = generate(ctx, proxy, 'listener', [name]).resources;
    if (!listener) return 'not serving';
    const value = assertGrpcAccepts('listener', listener).value as {
      address: { socket_address: { address: string; port_value: number } };
      filter_chains: { transport_socket: { typed_config: { value: Uint8Array } } | null }[];
    };
    // server.js handleListenerResource: the listener must name the bound address exactly.
    const split = bound.lastIndexOf(':');
    const host = bound.slice(0, split).replace(/^\[|\]$/g, '');
    assert.deepEqual(value.address.socket_address, {
      ...value.address.socket_address,
      address: host,
      port_value: Number(bound.slice(split + 1)),
    });
    const [chain] = value.filter_chains;
    if (!chain?.transport_socket) return 'plaintext';
    const tls = decodeSingleResource(
      DOWNSTREAM_TLS_CONTEXT_TYPE_URL,
      chain.transport_socket.typed_config.value,
    ) as {
      require_client_certificate: { value: boolean } | null;
    };
    return tls.require_client_certificate?.value ? 'mTLS, client certificate required' : 'TLS';
  }

  // [case, extra, [ip, workload], bound address, outcome]
  const cases: [string, string, [string, string], string, string][] = [
    [
      'STRICT: mTLS only',
      strict,
      ['127.0.1.3', 'echo-1'],
      '0.0.0.0:17070',
      'mTLS, client certificate required',
    ],
    [
      'PERMISSIVE with the sidecar label: mTLS only',
      '',
      ['127.0.1.2', 'echo-0'],
      '127.0.1.2:17070',
      'mTLS, client certificate required',
    ],
    ['PERMISSIVE without the label: plaintext only', '', ['127.0.1.3', 'echo-1'], '[::]:17070', 'plaintext'],
    [
      'a port no service targets: the server never serves',
      strict,
      ['127.0.1.3', 'echo-1'],
      '0.0.0.0:9090',
      'not serving',
    ],
  ];
  for (const [name, extra, [ip, workload], bound, outcome] of cases) {
    it(name, () => assert.equal(serve(ctxWith(extra), server(ip, workload), bound), outcome));
  }
});

describe('every resource of a mesh-wide generation passes gRPC’s validation', () => {
  it('all listeners, the routes they name, the clusters those routes name, with policies', () => {
    const ctx = ctxWith(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: ${ECHO}
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}, loadBalancer: {consistentHash: {httpHeaderName: x-user}}}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - match: [{uri: {regex: '/echo\\..*'}, withoutHeaders: {x-debug: {}}, method: {exact: POST}}]
    route: [{destination: {host: echo, subset: v2}, weight: 50}, {destination: {host: echo, subset: v1}, weight: 50}]
    retries: {attempts: 2, retryRemoteLocalities: true, backoff: 25ms, retryIgnorePreviousHosts: false}
  - route: [{destination: {host: echo, subset: v1}}]
`);
    const proxy = client();
    const listeners = generate(ctx, proxy, 'listener', []).resources;
    const routeNames = listeners.map((l) => {
      const hcm = (l.api_listener as JsonObject).api_listener as JsonObject;
      return String((hcm.rds as JsonObject).route_config_name);
    });
    const routes = generate(ctx, proxy, 'route', routeNames).resources;
    const clusterNames = new Set<string>();
    for (const rc of routes) {
      for (const vh of rc.virtual_hosts as JsonObject[]) {
        for (const r of vh.routes as JsonObject[]) {
          const action = r.route as JsonObject;
          if (typeof action.cluster === 'string') clusterNames.add(action.cluster);
          for (const w of ((action.weighted_clusters as JsonObject | undefined)?.clusters ??
            []) as JsonObject[])
            clusterNames.add(String(w.name));
        }
      }
    }
    const clusters = generate(ctx, proxy, 'cluster', [...clusterNames]);
    assert.equal(listeners.length, 9);
    assert.equal(routes.length, 9);
    assert.deepEqual(
      [...clusterNames].sort(),
      [
        `outbound|7070|v1|${ECHO}`,
        `outbound|7070|v2|${ECHO}`,
        `outbound|8080|v1|${ECHO}`,
        `outbound|8080|v2|${ECHO}`,
        `outbound|8080||${SVC_A}`,
        `outbound|8080||${SVC_B}`,
        'outbound|8080||svc-c.test.svc.cluster.local',
        'outbound|8080||svc.ns1.svc.cluster.local',
        'outbound|8080||svc.ns2.svc.cluster.local',
        'outbound|7070||headless.default.svc.cluster.local',
      ].sort(),
    );
    assert.equal(clusters.resources.length, clusterNames.size);
    assert.deepEqual(clusters.problems, []);
    // EDS is the sidecars' generator (Istio: the same for proxyless). gRPC needs a locality on every group and
    // skips a group without load_balancing_weight (grpc-js xds-dependency-manager getEdsResource).
    const weights: [string, unknown[]][] = [];
    for (const name of [...clusterNames].sort()) {
      const cla = buildLoadAssignment(ctx, proxy, name);
      assertGrpcAccepts('endpoint', cla);
      weights.push([
        name,
        ((cla.endpoints ?? []) as JsonObject[]).map((g) => [g.locality, g.load_balancing_weight]),
      ]);
    }
    assert.deepEqual(
      weights.filter(([, groups]) => groups.length > 0),
      [
        ['outbound|7070|v1|echo.default.svc.cluster.local', [[{}, 1]]],
        ['outbound|7070|v2|echo.default.svc.cluster.local', [[{}, 1]]],
        ['outbound|7070||headless.default.svc.cluster.local', [[{}, 2]]],
        ['outbound|8080|v1|echo.default.svc.cluster.local', [[{}, 1]]],
        ['outbound|8080|v2|echo.default.svc.cluster.local', [[{}, 1]]],
      ],
    );
  });

  it('EDS and unknown types are not generated here, and say why', () => {
    const ctx = ctxWith();
    assert.deepEqual(
      codes(generateGrpc(ctx, client(), TYPE_URL.endpoint, [`outbound|7070||${ECHO}`]).problems),
      ['SKIFF_GRPC_EDS'],
    );
    assert.deepEqual(
      codes(generateGrpc(ctx, client(), 'type.googleapis.com/envoy.service.runtime.v3.Runtime', []).problems),
      ['SKIFF_GRPC_TYPE'],
    );
  });
});
