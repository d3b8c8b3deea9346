// Outbound listener generation for sidecars (src/xds/generate/outbound.ts): shapes per port protocol, the HTTP
// proxy listener, VirtualService tcp/tls routes, access logs, and that every listener loads in the Skiff proxy.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseResource } from '../../../src/proxy/config/resource.js';
import { TYPE_URL } from '../../../src/proxy/config/resources/index.js';
import type { JsonObject } from '../../../src/xds/decode.js';
import { GenerationContext } from '../../../src/xds/generate/context.js';
import { buildOutboundListeners } from '../../../src/xds/generate/outbound.js';
import { OutboundPortAllocator } from '../../../src/xds/generate/outbound-ports.js';
import { parseProxyNode } from '../../../src/xds/generate/proxy.js';
import type { GenerationProblem } from '../../../src/xds/generate/types.js';
import { contextFrom, modelFrom, sidecarNode } from './fixtures.js';

const svc = (name: string, ns: string, ports: string) =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  selector: {app: ${name}}\n  ports: ${ports}\n`;
const se = (name: string, host: string, ports: string, resolution = 'DNS') =>
  `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ${name}, namespace: default}\nspec:\n  hosts: [${host}]\n  location: MESH_EXTERNAL\n  resolution: ${resolution}\n  ports: ${ports}\n`;
const vs = (name: string, spec: unknown) =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ${name}, namespace: default}\nspec: ${JSON.stringify(spec)}\n`;
const mesh = (spec: string) =>
  `apiVersion: skiff.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: ${spec}\n`;
const yaml = (...docs: string[]) => docs.join('---\n');
const node = (o: Parameters<typeof sidecarNode>[2] = {}) => sidecarNode('127.0.1.2', 'web-0', o);

const STATS = {
  name: 'istio.stats',
  typed_config: {
    '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct',
    type_url: 'type.googleapis.com/stats.PluginConfig',
    value: {},
  },
};
const tcpProxy = (cluster: string, statPrefix = cluster, extra: JsonObject = {}) => ({
  name: 'envoy.filters.network.tcp_proxy',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
    stat_prefix: statPrefix,
    cluster,
    ...extra,
  },
});
const hcm = (listener: string, route: string, extra: JsonObject = {}) => ({
  name: 'envoy.filters.network.http_connection_manager',
  typed_config: {
    '@type':
      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    stat_prefix: `outbound_${listener};`,
    rds: {
      config_source: { ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' },
      route_config_name: route,
    },
    codec_type: 'AUTO',
    http_filters: [
      {
        name: 'istio.metadata_exchange',
        typed_config: {
          '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct',
          type_url: 'type.googleapis.com/io.istio.http.peer_metadata.Config',
          value: {
            upstream_discovery: [{ istio_headers: {} }],
            upstream_propagation: [{ istio_headers: {} }],
          },
        },
      },
      {
        name: 'istio.alpn',
        typed_config: {
          '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct',
          type_url: 'type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig',
          value: {
            alpn_override: [
              { upstream_protocol: 'HTTP10', alpn_override: ['istio-http/1.0', 'istio', 'http/1.0'] },
              { upstream_protocol: 'HTTP11', alpn_override: ['istio-http/1.1', 'istio', 'http/1.1'] },
              { upstream_protocol: 'HTTP2', alpn_override: ['istio-h2', 'istio', 'h2'] },
            ],
          },
        },
      },
      STATS,
      {
        name: 'envoy.filters.http.router',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
      },
    ],
    use_remote_address: false,
    upgrade_configs: [{ upgrade_type: 'websocket' }],
    stream_idle_timeout: '0s',
    ...extra,
  },
});

function listenersFor(text: string, proxy = node(), problems?: GenerationProblem[]): JsonObject[] {
  return buildOutboundListeners(contextFrom(text), proxy, problems);
}

/** The listener of one service port (by its skiff metadata). */
function listenerOf(listeners: JsonObject[], host: string, port: number): JsonObject {
  const l = listeners.find((x) => {
    const md = ((x.metadata as JsonObject).filter_metadata as JsonObject).skiff as JsonObject;
    return md.service === host && md.port === port;
  });
  assert.ok(l, `no listener for ${host}:${port}`);
  return l;
}

/** The typed_config of a filter of the listener's first chain. */
function firstChainFilter(l: JsonObject, index: number): JsonObject {
  const chain = (l.filter_chains as JsonObject[])[0];
  assert.ok(chain);
  const filter = (chain.filters as JsonObject[])[index];
  assert.ok(filter);
  return filter.typed_config as JsonObject;
}

function noErrors(resource: JsonObject): void {
  const errors = parseResource(TYPE_URL.listener, resource).diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(errors, [], JSON.stringify(resource));
}

/** A compact view of a listener: listener filters, then each chain as `match → terminal`. */
function shape(l: JsonObject): { filters: string[]; chains: string[]; fallback: string | undefined } {
  const view = (c: JsonObject) => {
    const m = c.filter_chain_match as JsonObject | undefined;
    const fs = c.filters as JsonObject[];
    const last = fs[fs.length - 1] as JsonObject;
    const tc = last.typed_config as JsonObject;
    const weighted = (tc.weighted_clusters as JsonObject | undefined)?.clusters as JsonObject[] | undefined;
    const target = tc.rds
      ? `rds:${(tc.rds as JsonObject).route_config_name}`
      : weighted
        ? `tcp:${weighted.map((w) => `${w.name}*${w.weight}`).join(',')}`
        : `tcp:${tc.cluster}`;
    const names = fs.map((f) => f.name).join(',');
    return `${m && Object.keys(m).length > 0 ? JSON.stringify(m) : '*'} → ${names} ${target}`;
  };
  return {
    filters: ((l.listener_filters ?? []) as JsonObject[]).map((f) => String(f.name)),
    chains: (l.filter_chains as JsonObject[]).map(view),
    fallback: l.default_filter_chain ? view(l.default_filter_chain as JsonObject) : undefined,
  };
}

describe('buildOutboundListeners: one listener per service port, by protocol', () => {
  // Istio: listener.go buildSidecarOutboundListener with a bound egress listener (Sidecar egress `bind`): HTTP is
  // one match-all HCM chain (listener_test.go TestOutboundListenerConfigWithSidecarHTTPProxy: no listener filters);
  // TCP/TLS one tcp_proxy chain (tls.go; TestOutboundListenerTCPWithVS' chain shape); unset protocol is sniffed:
  // the HTTP chain on ALPN http/1.1,h2c + raw_buffer and the TCP chain as default (listener.go:978-1008).
  const ports =
    '[{name: http, port: 80}, {name: http2-api, port: 81}, {name: grpc, port: 82}, {name: web, port: 83}, {name: tcp, port: 84}, {name: mongo, port: 85}, {name: https, port: 86}, {name: tls, port: 87}, {name: redis, port: 88}, {name: alt, port: 89, appProtocol: http}]';
  const host = 'a.default.svc.cluster.local';
  const listeners = listenersFor(svc('a', 'default', ports));
  const HTTP = (p: number) => ({
    filters: [],
    chains: [`* → envoy.filters.network.http_connection_manager rds:${host}:${p}`],
    fallback: undefined,
  });
  const TCP = (p: number) => ({
    filters: [],
    chains: [`* → istio.stats,envoy.filters.network.tcp_proxy tcp:outbound|${p}||${host}`],
    fallback: undefined,
  });
  const cases: [string, number, ReturnType<typeof shape>][] = [
    ['HTTP (name http)', 80, HTTP(80)],
    ['HTTP2 (name http2-*)', 81, HTTP(81)],
    ['gRPC (name grpc)', 82, HTTP(82)],
    ['HTTP by appProtocol', 89, HTTP(89)],
    [
      'sniffed (a name that is no protocol)',
      83,
      {
        filters: ['envoy.filters.listener.http_inspector'],
        chains: [
          `{"application_protocols":["http/1.1","h2c"],"transport_protocol":"raw_buffer"} → envoy.filters.network.http_connection_manager rds:${host}:83`,
        ],
        fallback: `* → istio.stats,envoy.filters.network.tcp_proxy tcp:outbound|83||${host}`,
      },
    ],
    ['TCP', 84, TCP(84)],
    ['MongoDB (TCP: PILOT_ENABLE_MONGO_FILTER is off)', 85, TCP(85)],
    ['HTTPS (TLS: no SNI match on a listener of its own)', 86, TCP(86)],
    ['TLS', 87, TCP(87)],
    ['Redis (TCP)', 88, TCP(88)],
  ];
  for (const [label, port, expected] of cases) {
    it(`${label} → ${expected.chains.join(' | ')}`, () => {
      const l = listenerOf(listeners, host, port);
      assert.deepEqual(shape(l), expected);
      noErrors(l);
    });
  }

  it('an HTTP listener exactly', () => {
    const l = listenerOf(listeners, host, 80);
    const name = String(l.name);
    assert.match(name, /^127\.0\.0\.1_\d+$/);
    const port = Number(name.slice('127.0.0.1_'.length));
    assert.deepEqual(l, {
      name,
      address: { socket_address: { address: '127.0.0.1', port_value: port } },
      traffic_direction: 'OUTBOUND',
      continue_on_listener_filters_timeout: true,
      listener_filters_timeout: '0s',
      filter_chains: [{ filters: [hcm(name, `${host}:80`)], transport_socket_connect_timeout: '15s' }],
      metadata: { filter_metadata: { skiff: { service: host, port: 80 } } },
    });
  });

  it('a sniffed listener exactly (listener_filters_timeout = meshConfig.protocolDetectionTimeout)', () => {
    const l = listenerOf(listeners, host, 83);
    const name = String(l.name);
    const port = Number(name.slice('127.0.0.1_'.length));
    assert.deepEqual(l, {
      name,
      address: { socket_address: { address: '127.0.0.1', port_value: port } },
      traffic_direction: 'OUTBOUND',
      continue_on_listener_filters_timeout: true,
      listener_filters: [
        {
          name: 'envoy.filters.listener.http_inspector',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
          },
        },
      ],
      listener_filters_timeout: '5s',
      filter_chains: [
        {
          filters: [hcm(name, `${host}:83`)],
          transport_socket_connect_timeout: '15s',
          filter_chain_match: {
            application_protocols: ['http/1.1', 'h2c'],
            transport_protocol: 'raw_buffer',
          },
        },
      ],
      default_filter_chain: {
        filters: [STATS, tcpProxy(`outbound|83||${host}`)],
        transport_socket_connect_timeout: '15s',
      },
      metadata: { filter_metadata: { skiff: { service: host, port: 83 } } },
    });
  });

  it('binds where the context allocates, per proxy, in service then port order; the HTTP proxy listener last', () => {
    const text = yaml(
      svc('b', 'default', '[{name: http, port: 9080}]'),
      svc('a', 'default', '[{name: tcp, port: 5432}, {name: http, port: 8080}]'),
    );
    const alloc = new OutboundPortAllocator({ first: 20000, last: 20100 });
    const ctx = new GenerationContext(modelFrom(text), alloc);
    const one = buildOutboundListeners(ctx, node());
    const other = buildOutboundListeners(ctx, sidecarNode('127.0.1.3', 'api-0'));
    assert.deepEqual(
      one.map((l) => l.name),
      ['127.0.0.1_20000', '127.0.0.1_20001', '127.0.0.1_20002', '127.0.0.1_20003'],
    );
    assert.deepEqual(alloc.snapshot(), {
      'web-0.default a.default.svc.cluster.local:5432': 20000,
      'web-0.default a.default.svc.cluster.local:8080': 20001,
      'web-0.default b.default.svc.cluster.local:9080': 20002,
      'web-0.default http_proxy:0': 20003,
      'api-0.default a.default.svc.cluster.local:5432': 20004,
      'api-0.default a.default.svc.cluster.local:8080': 20005,
      'api-0.default b.default.svc.cluster.local:9080': 20006,
      'api-0.default http_proxy:0': 20007,
    });
    assert.equal(other.length, 4);
    // Deterministic: the same model and allocations give the same resources.
    assert.deepEqual(buildOutboundListeners(ctx, node()), one);
  });

  it('MESH_EXTERNAL ServiceEntries and the proxy`s own services get listeners too; routers get none', () => {
    const text = yaml(
      svc('web', 'default', '[{name: http, port: 8080}]'),
      se('ext', 'api.example.com', '[{number: 443, name: tls, protocol: TLS}]'),
    );
    const ctx = contextFrom(text);
    const sidecar = buildOutboundListeners(ctx, node({ labels: { app: 'web' } }));
    listenerOf(sidecar, 'api.example.com', 443);
    listenerOf(sidecar, 'web.default.svc.cluster.local', 8080);
    const router = parseProxyNode({ id: 'router~127.0.1.9~gw-0.default~default.svc.cluster.local' });
    assert.deepEqual(buildOutboundListeners(ctx, router), []);
  });

  it('a host declared in two namespaces gets the same one listener in every namespace (the oldest declaration)', () => {
    const text = yaml(
      se('a', 'shared.example.com', '[{number: 80, name: http, protocol: HTTP}]'),
      `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: b, namespace: prod}\nspec:\n  hosts: [shared.example.com]\n  location: MESH_EXTERNAL\n  resolution: DNS\n  ports: [{number: 443, name: tls, protocol: TLS}]\n`,
    );
    const ports = (ns: string) =>
      listenersFor(text, node({ namespace: ns }))
        .map((l) => ((l.metadata as JsonObject).filter_metadata as JsonObject).skiff as JsonObject)
        .filter((m) => m.service === 'shared.example.com')
        .map((m) => m.port);
    // Without creation times, name order: ServiceEntry default/a before prod/b.
    assert.deepEqual(ports('prod'), [80]);
    assert.deepEqual(ports('default'), [80]);
  });
});

describe('when the outbound port range is used up', () => {
  it('the listeners that get no port are skipped and reported; generation does not throw', () => {
    const alloc = new OutboundPortAllocator({ first: 20000, last: 20001 });
    const ctx = new GenerationContext(
      modelFrom(
        svc('a', 'default', '[{name: http, port: 80}, {name: tcp, port: 81}, {name: tls, port: 82}]'),
      ),
      alloc,
    );
    const problems: GenerationProblem[] = [];
    const ls = buildOutboundListeners(ctx, node(), problems);
    assert.deepEqual(
      ls.map((l) => l.name),
      ['127.0.0.1_20000', '127.0.0.1_20001'],
    );
    assert.deepEqual(
      problems.map((p) => p.message.split(':').slice(0, 3).join(':')),
      [
        'proxy web-0.default: no outbound listener for a.default.svc.cluster.local:82',
        'proxy web-0.default: no outbound listener for http_proxy:0',
      ],
    );
    assert.ok(problems.every((p) => p.severity === 'error' && p.code === 'SKIFF_GEN_OUTBOUND_PORT'));
  });
});

describe('the HTTP proxy listener (listener.go buildHTTPProxy; listener_test.go TestHttpProxyListener*)', () => {
  it('on the node`s HTTP_PROXY_PORT: 127.0.0.1, one chain, RDS http_proxy, absolute URLs allowed', () => {
    const ls = listenersFor(svc('a', 'default', '[{name: http, port: 80}]'), node({ httpProxyPort: 15007 }));
    const l = ls.at(-1);
    assert.deepEqual(l, {
      name: '127.0.0.1_15007',
      address: { socket_address: { address: '127.0.0.1', port_value: 15007 } },
      traffic_direction: 'OUTBOUND',
      continue_on_listener_filters_timeout: true,
      listener_filters_timeout: '0s',
      filter_chains: [
        {
          filters: [
            hcm('127.0.0.1_15007', 'http_proxy', { http_protocol_options: { allow_absolute_url: true } }),
          ],
          transport_socket_connect_timeout: '15s',
        },
      ],
      metadata: { filter_metadata: { skiff: { service: 'http_proxy', port: 0 } } },
    });
    noErrors(l ?? {});
  });
  it('without one, on the port allocated for (proxy, http_proxy, 0)', () => {
    const alloc = new OutboundPortAllocator(
      { first: 30000, last: 30010 },
      { 'web-0.default http_proxy:0': 30007 },
    );
    const ctx = new GenerationContext(modelFrom(svc('a', 'default', '[{name: http, port: 80}]')), alloc);
    assert.equal(buildOutboundListeners(ctx, node()).at(-1)?.name, '127.0.0.1_30007');
  });
});

describe('VirtualService tcp routes (tls.go buildSidecarOutboundTCPFilterChainOpts; listener_test.go TestOutboundListenerTCPWithVS)', () => {
  const base = svc('db', 'default', '[{name: tcp, port: 5432}]');
  const other = svc('db2', 'default', '[{name: tcp, port: 6543}]');
  const HOST = 'db.default.svc.cluster.local';
  const cases: [string, unknown, ReturnType<typeof shape>, string[]][] = [
    [
      'one destination with a subset',
      { hosts: ['db'], tcp: [{ route: [{ destination: { host: 'db', subset: 'v1' } }] }] },
      {
        filters: [],
        chains: [`* → istio.stats,envoy.filters.network.tcp_proxy tcp:outbound|5432|v1|${HOST}`],
        fallback: undefined,
      },
      [],
    ],
    [
      // ServiceForHostname sees the whole destination service: its only port.
      'another single-port service without a port',
      { hosts: ['db'], tcp: [{ route: [{ destination: { host: 'db2' } }] }] },
      {
        filters: [],
        chains: [
          '* → istio.stats,envoy.filters.network.tcp_proxy tcp:outbound|6543||db2.default.svc.cluster.local',
        ],
        fallback: undefined,
      },
      [],
    ],
    [
      'a match for another port is skipped: the default chain',
      { hosts: ['db'], tcp: [{ match: [{ port: 1 }], route: [{ destination: { host: 'db2' } }] }] },
      {
        filters: [],
        chains: [`* → istio.stats,envoy.filters.network.tcp_proxy tcp:outbound|5432||${HOST}`],
        fallback: undefined,
      },
      [],
    ],
    [
      'a match for other source labels is skipped',
      {
        hosts: ['db'],
        tcp: [
          { match: [{ sourceLabels: { app: 'x' } }], route: [{ destination: { host: 'db2' } }] },
          { route: [{ destination: { host: 'db', subset: 'b' } }] },
        ],
      },
      {
        filters: [],
        chains: [`* → istio.stats,envoy.filters.network.tcp_proxy tcp:outbound|5432|b|${HOST}`],
        fallback: undefined,
      },
      [],
    ],
    [
      'destinationSubnets: a prefix_ranges chain and the fall-through to the service',
      {
        hosts: ['db'],
        tcp: [
          { match: [{ destinationSubnets: ['10.10.0.0/24'] }], route: [{ destination: { host: 'db2' } }] },
        ],
      },
      {
        filters: [],
        chains: [
          '{"prefix_ranges":[{"address_prefix":"10.10.0.0","prefix_len":24}]} → istio.stats,envoy.filters.network.tcp_proxy tcp:outbound|6543||db2.default.svc.cluster.local',
        ],
        fallback: `* → istio.stats,envoy.filters.network.tcp_proxy tcp:outbound|5432||${HOST}`,
      },
      [],
    ],
    [
      'one weighted destination left: a plain cluster with the VS stat prefix',
      {
        hosts: ['db'],
        tcp: [
          {
            route: [
              { destination: { host: 'db', subset: 'a' }, weight: 100 },
              { destination: { host: 'db', subset: 'b' }, weight: 0 },
            ],
          },
        ],
      },
      {
        filters: [],
        chains: [`* → istio.stats,envoy.filters.network.tcp_proxy tcp:outbound|5432|a|${HOST}`],
        fallback: undefined,
      },
      [],
    ],
    [
      'several weighted destinations: tcp_proxy weighted_clusters',
      {
        hosts: ['db'],
        tcp: [
          {
            route: [
              { destination: { host: 'db', subset: 'a' }, weight: 80 },
              { destination: { host: 'db', subset: 'b' }, weight: 20 },
            ],
          },
        ],
      },
      {
        filters: [],
        chains: [
          `* → istio.stats,envoy.filters.network.tcp_proxy tcp:outbound|5432|a|${HOST}*80,outbound|5432|b|${HOST}*20`,
        ],
        fallback: undefined,
      },
      [],
    ],
  ];
  for (const [label, spec, expected, expectedProblems] of cases) {
    it(label, () => {
      const problems: GenerationProblem[] = [];
      const ls = listenersFor(yaml(base, other, vs('db', spec)), node(), problems);
      const l = listenerOf(ls, HOST, 5432);
      assert.deepEqual(shape(l), expected);
      assert.deepEqual(
        problems.map((p) => `${p.severity} ${p.code} ${p.message}`),
        expectedProblems,
      );
      noErrors(l);
    });
  }
  it('the VS chain carries its config metadata and stat prefix', () => {
    const ls = listenersFor(
      yaml(
        base,
        vs('db', {
          hosts: ['db'],
          tcp: [
            {
              route: [
                { destination: { host: 'db', subset: 'a' }, weight: 100 },
                { destination: { host: 'db', subset: 'b' }, weight: 0 },
              ],
            },
          ],
        }),
      ),
    );
    const [chain] = listenerOf(ls, HOST, 5432).filter_chains as JsonObject[];
    assert.deepEqual(chain, {
      filters: [STATS, tcpProxy(`outbound|5432|a|${HOST}`, 'db.default')],
      transport_socket_connect_timeout: '15s',
      metadata: {
        filter_metadata: {
          istio: { config: '/apis/networking.istio.io/v1/namespaces/default/virtual-service/db' },
        },
      },
    });
  });
  it('destinationSubnets chains keep the service`s default chain as the fall-through, whatever the policy', () => {
    // Istio adds the default route chain (match-all) after subnet chains unless their CIDRs equal the service's.
    const ls = listenersFor(
      yaml(
        base,
        other,
        mesh('{outboundTrafficPolicy: {mode: REGISTRY_ONLY}}'),
        vs('db', {
          hosts: ['db'],
          tcp: [{ match: [{ destinationSubnets: ['10.0.0.1'] }], route: [{ destination: { host: 'db2' } }] }],
        }),
      ),
    );
    const l = listenerOf(ls, HOST, 5432);
    assert.deepEqual(l.default_filter_chain, {
      filters: [STATS, tcpProxy(`outbound|5432||${HOST}`)],
      transport_socket_connect_timeout: '15s',
    });
    assert.deepEqual((l.filter_chains as JsonObject[])[0]?.filter_chain_match, {
      prefix_ranges: [{ address_prefix: '10.0.0.1', prefix_len: 32 }],
    });
  });
});

describe('VirtualService tls routes on TLS ports (tls.go buildSidecarOutboundTLSFilterChainOpts; listener_test.go TestOutboundTls)', () => {
  const text = (...extra: string[]) =>
    yaml(
      se('ext', '"*.example.com"', '[{number: 443, name: tls, protocol: TLS}]', 'NONE'),
      se('a', 'a.example.com', '[{number: 443, name: tls, protocol: TLS}]'),
      vs('ext', {
        hosts: ['*.example.com'],
        tls: [
          {
            match: [{ sniHosts: ['b.example.com', 'a.example.com'] }],
            route: [{ destination: { host: 'a.example.com' } }],
          },
          {
            match: [
              { sniHosts: ['a.example.com', 'b.example.com'] },
              { sniHosts: ['c.example.com'], port: 8443 },
            ],
            route: [{ destination: { host: 'never.example.com' } }],
          },
        ],
      }),
      ...extra,
    );
  it('SNI chains (sorted, deduplicated) with tls_inspector; the PassthroughFilterChain to the service', () => {
    const l = listenerOf(listenersFor(text()), '*.example.com', 443);
    assert.deepEqual(shape(l), {
      filters: ['envoy.filters.listener.tls_inspector'],
      chains: [
        '{"server_names":["a.example.com","b.example.com"]} → istio.stats,envoy.filters.network.tcp_proxy tcp:outbound|443||a.example.com',
      ],
      fallback: '* → istio.stats,envoy.filters.network.tcp_proxy tcp:outbound|443||*.example.com',
    });
    assert.equal((l.default_filter_chain as JsonObject).name, 'PassthroughFilterChain');
    assert.deepEqual((l.default_filter_chain as JsonObject).filter_chain_match, {});
    assert.deepEqual((l.listener_filters as JsonObject[])[0], {
      name: 'envoy.filters.listener.tls_inspector',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
        initial_read_buffer_size: 512,
      },
    });
    noErrors(l);
  });
  it('REGISTRY_ONLY: the PassthroughFilterChain goes to BlackHoleCluster', () => {
    const l = listenerOf(
      listenersFor(text(mesh('{outboundTrafficPolicy: {mode: REGISTRY_ONLY}}'))),
      'a.example.com',
      443,
    );
    assert.deepEqual(l.default_filter_chain, {
      name: 'PassthroughFilterChain',
      filter_chain_match: {},
      filters: [STATS, tcpProxy('BlackHoleCluster')],
    });
    noErrors(l);
  });
});

describe('DestinationRule settings on tcp_proxy (networkfilter.go buildOutboundNetworkFiltersWithSingleDestination)', () => {
  it('tcp.idleTimeout → idle_timeout; maxConnectionDuration and useSourceIp reported as dropped', () => {
    const problems: GenerationProblem[] = [];
    const text = yaml(
      svc('db', 'default', '[{name: tcp, port: 5432}]'),
      `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: db, namespace: default}\nspec: ${JSON.stringify(
        {
          host: 'db',
          trafficPolicy: {
            connectionPool: { tcp: { idleTimeout: '90s', maxConnectionDuration: '1h' } },
            loadBalancer: { consistentHash: { useSourceIp: true } },
          },
        },
      )}\n`,
    );
    const l = listenerOf(listenersFor(text, node(), problems), 'db.default.svc.cluster.local', 5432);
    const [chain] = l.filter_chains as JsonObject[];
    assert.deepEqual(chain?.filters, [
      STATS,
      tcpProxy('outbound|5432||db.default.svc.cluster.local', undefined, { idle_timeout: '90s' }),
    ]);
    assert.deepEqual(
      problems.map((p) => [p.severity, p.code]),
      [
        ['warning', 'SKIFF_GEN_DR_FIELD_DROPPED'],
        ['warning', 'SKIFF_GEN_HASH_POLICY'],
      ],
    );
    noErrors(l);
  });
});

describe('access logs (listener_test.go TestOutboundListenerAccessLogs; accesslog.go)', () => {
  it('meshConfig.accessLogFile: on the listener (NR only), the HCM and the tcp_proxy', () => {
    const text = yaml(
      svc('a', 'default', '[{name: http, port: 80}, {name: tcp, port: 81}]'),
      mesh('{accessLogFile: /dev/stdout}'),
    );
    const ls = listenersFor(text);
    const file = (extra: JsonObject = {}) => ({
      name: 'envoy.access_loggers.file',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
        path: '/dev/stdout',
        log_format: { text_format_source: { inline_string: String((ISTIO_TEXT as JsonObject).text) } },
      },
      ...extra,
    });
    const http = listenerOf(ls, 'a.default.svc.cluster.local', 80);
    const tcp = listenerOf(ls, 'a.default.svc.cluster.local', 81);
    assert.deepEqual(http.access_log, [file({ filter: { response_flag_filter: { flags: ['NR'] } } })]);
    assert.deepEqual(firstChainFilter(http, 0).access_log, [file()]);
    assert.deepEqual(firstChainFilter(tcp, 1).access_log, [file()]);
    for (const l of ls) noErrors(l);
  });
  it('none without it (Istio`s default)', () => {
    const [l] = listenersFor(svc('a', 'default', '[{name: tcp, port: 81}]'));
    assert.equal(l?.access_log, undefined);
  });
});

/** Istio's default text format, as access-log.ts writes it. */
const ISTIO_TEXT: JsonObject = {
  text: '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n',
};

describe('every generated listener loads in the Skiff proxy without an error', () => {
  it('services of every protocol, ServiceEntries, VirtualServices, access logs', () => {
    const text = yaml(
      svc(
        'a',
        'default',
        '[{name: http, port: 80}, {name: web, port: 81}, {name: tcp, port: 82}, {name: grpc, port: 83}, {name: https, port: 84}]',
      ),
      svc('b', 'prod', '[{port: 9000}]'),
      se(
        'ext',
        'api.example.com',
        '[{number: 443, name: tls, protocol: TLS}, {number: 80, name: http, protocol: HTTP}, {number: 9999, name: any}]',
      ),
      vs('a', {
        hosts: ['a'],
        tcp: [
          {
            match: [{ destinationSubnets: ['10.1.0.0/16'] }],
            route: [{ destination: { host: 'b.prod.svc.cluster.local' } }],
          },
        ],
      }),
      vs('ext', {
        hosts: ['api.example.com'],
        tls: [
          {
            match: [{ sniHosts: ['api.example.com'] }],
            route: [{ destination: { host: 'api.example.com' } }],
          },
        ],
      }),
      mesh('{accessLogFile: /tmp/x.log, accessLogEncoding: JSON}'),
    );
    const ls = listenersFor(text, node({ httpProxyPort: 15080 }));
    assert.equal(ls.length, 5 + 1 + 3 + 1);
    for (const l of ls) noErrors(l);
  });
});

describe('HTTP_PROXY_PORT and the allocator', () => {
  it('a service port allocated the proxy’s own HTTP_PROXY_PORT gets no listener, and that is reported', () => {
    const ctx = new GenerationContext(
      modelFrom(svc('a', 'default', '[{name: http, port: 80}, {name: tcp, port: 81}]')),
      new OutboundPortAllocator({ first: 20000, last: 20010 }),
    );
    const problems: GenerationProblem[] = [];
    // The allocator gives a:80 20000 and a:81 20001; the proxy announced 20001 for its HTTP proxy listener.
    const ls = buildOutboundListeners(ctx, node({ httpProxyPort: 20001 }), problems);
    assert.deepEqual(
      ls.map((l) => l.name),
      ['127.0.0.1_20000', '127.0.0.1_20001'],
    );
    const proxyListener = ls[1];
    assert.ok(proxyListener);
    assert.equal(
      (((proxyListener.metadata as JsonObject).filter_metadata as JsonObject).skiff as JsonObject).service,
      'http_proxy',
    );
    assert.deepEqual(
      problems.map((p) => p.code),
      ['SKIFF_GEN_PORT_CONFLICT'],
    );
  });
});
