// Behaviour of the generated outbound configuration, simulated with the proxy's own decisions: the listeners and
// route tables go through parseResource (the sidecar's translation), then a connection or request is given to
// the proxy's filter-chain selector (src/policy/filter-chain-match.ts, as src/proxy/listener/listener.ts uses it)
// and route matcher (src/policy/routes.ts VirtualHostIndex/selectRoute, as src/proxy/filters/http/hcm.ts uses
// them). Rows mirror Istio's pilot/pkg/networking/core/sidecar_simulation_test.go where they apply to local mode.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIp } from '../../../src/core/ip.js';
import { type ConnectionFacts, FilterChainSelector } from '../../../src/policy/filter-chain-match.js';
import { selectRoute, VirtualHostIndex } from '../../../src/policy/routes.js';
import type {
  FilterChainConfig,
  ListenerConfig,
  RouteConfigurationConfig,
} from '../../../src/proxy/config/model.js';
import { parseResource } from '../../../src/proxy/config/resource.js';
import { TYPE_URL } from '../../../src/proxy/config/resources/index.js';
import type { JsonObject } from '../../../src/xds/decode.js';
import { buildOutboundListeners } from '../../../src/xds/generate/outbound.js';
import type { ProxyNode } from '../../../src/xds/generate/proxy.js';
import { buildRoutes, routeNames } from '../../../src/xds/generate/routes.js';
import type { GenerationProblem } from '../../../src/xds/generate/types.js';
import { contextFrom, sidecarNode } from './fixtures.js';

/** What a client sends: plaintext HTTP/1.1 or h2c (prior knowledge), raw TCP bytes, or a TLS ClientHello. */
interface Call {
  protocol: 'http1' | 'h2c' | 'tcp' | 'tls';
  host?: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  sni?: string;
  alpn?: string[];
}

/** Where it goes: the cluster, or why nowhere. */
interface Outcome {
  cluster?: string;
  /** A weighted split: each cluster with its weight (the proxy picks one per request or connection). */
  weighted?: string[];
  /** The virtual host and route that matched (HTTP). */
  vhost?: string;
  route?: string;
  /** `no chain` (closed), `not http` (the HCM refuses the bytes), `no route` (404 NR). */
  error?: string;
}

class Simulation {
  readonly problems: GenerationProblem[] = [];
  private readonly listeners: { json: JsonObject; config: ListenerConfig }[] = [];
  private readonly routes = new Map<string, RouteConfigurationConfig>();

  constructor(
    text: string,
    readonly proxy: ProxyNode = sidecarNode('127.0.1.2', 'web-0', { labels: { app: 'web' } }),
  ) {
    const ctx = contextFrom(text);
    const listeners = buildOutboundListeners(ctx, proxy, this.problems);
    for (const json of listeners) {
      const t = parseResource(TYPE_URL.listener, json);
      assert.deepEqual(
        t.diagnostics.filter((d) => d.severity === 'error'),
        [],
        JSON.stringify(json),
      );
      assert.ok(t.value);
      this.listeners.push({ json, config: t.value });
    }
    for (const json of buildRoutes(ctx, proxy, routeNames(listeners), this.problems)) {
      const t = parseResource(TYPE_URL.route, json);
      assert.deepEqual(
        t.diagnostics.filter((d) => d.severity === 'error'),
        [],
        JSON.stringify(json),
      );
      assert.ok(t.value);
      this.routes.set(t.value.name, t.value);
    }
  }

  /** The port of the listener for a service port (`http_proxy` for the HTTP proxy listener). */
  port(host: string, port = 0): number {
    for (const l of this.listeners) {
      const md = ((l.json.metadata as JsonObject).filter_metadata as JsonObject).skiff as JsonObject;
      if (md.service === host && md.port === port) return l.config.address.port;
    }
    throw new Error(`no listener for ${host}:${port}`);
  }

  /** A connection to 127.0.0.1:port, and for HTTP one request on it. */
  call(port: number, c: Call): Outcome {
    const l = this.listeners.find((x) => x.config.address.port === port)?.config;
    assert.ok(l, `no listener on ${port}`);
    const kinds = new Set(l.listenerFilters.map((f) => f.kind));
    const tls = c.protocol === 'tls' && kinds.has('tls_inspector');
    const http = (c.protocol === 'http1' || c.protocol === 'h2c') && kinds.has('http_inspector');
    const loopback = parseIp('127.0.0.1') ?? new Uint8Array(4);
    const facts: ConnectionFacts = {
      destinationPort: port,
      destinationIp: loopback,
      serverName: tls ? c.sni : undefined,
      transportProtocol: tls ? 'tls' : 'raw_buffer',
      applicationProtocols: tls ? (c.alpn ?? []) : http ? [c.protocol === 'h2c' ? 'h2c' : 'http/1.1'] : [],
      sourceIp: parseIp('127.0.1.2') ?? loopback,
      directSourceIp: parseIp('127.0.1.2') ?? loopback,
      sourcePort: 40000,
    };
    const chain: FilterChainConfig | undefined = new FilterChainSelector(
      l.filterChains,
      l.defaultFilterChain,
    ).select(facts);
    if (!chain) return { error: 'no chain' };
    const terminal = chain.filters[chain.filters.length - 1];
    assert.ok(terminal);
    if (terminal.kind === 'tcp_proxy')
      return terminal.weightedClusters
        ? { weighted: terminal.weightedClusters.clusters.map((w) => `${w.name}*${w.weight}`) }
        : { cluster: terminal.cluster };
    if (c.protocol === 'tcp' || c.protocol === 'tls') return { error: 'not http' };
    const rc = this.routes.get(terminal.routeConfigName);
    assert.ok(rc, `no route table ${terminal.routeConfigName}`);
    const vhost = new VirtualHostIndex(rc.virtualHosts, rc.ignorePortInHostMatching).find(
      c.host ?? `127.0.0.1:${port}`,
    );
    if (!vhost) return { error: 'no route' };
    // The request as Envoy's router sees it: lower-case names, and the pseudo-headers.
    const headers: Record<string, string> = {
      ':method': c.method ?? 'GET',
      ':authority': c.host ?? `127.0.0.1:${port}`,
      ':scheme': 'http',
    };
    for (const [k, v] of Object.entries(c.headers ?? {})) headers[k.toLowerCase()] = v;
    const r = selectRoute(vhost, { path: c.path ?? '/', header: (n) => headers[n] });
    if (!r) return { vhost: vhost.name, error: 'no route' };
    if (r.action.weightedClusters)
      return {
        vhost: vhost.name,
        route: r.name,
        weighted: r.action.weightedClusters.clusters.map((w) => `${w.name}*${w.weight}`),
      };
    return { vhost: vhost.name, route: r.name, cluster: r.action.cluster };
  }
}

const svc = (name: string, ns: string, ports: string) =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  selector: {app: ${name}}\n  ports: ${ports}\n`;
const vs = (name: string, ns: string, spec: unknown) =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: ${JSON.stringify(spec)}\n`;
const yaml = (...docs: string[]) => docs.join('---\n');

describe('per-port listeners by protocol (sidecar_simulation_test.go TestPassthroughTraffic "without VIP", on the local listeners)', () => {
  // The same ports as Istio's test, on a MESH_EXTERNAL ServiceEntry istio.io. Locally every port has its own
  // listener, so nothing passes through: each call reaches the service's cluster or is refused by the HCM.
  const sim = new Simulation(
    `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se, namespace: default}\nspec:\n  hosts: [istio.io]\n  location: MESH_EXTERNAL\n  resolution: DNS\n  ports:\n  - {name: http, number: 80, protocol: HTTP}\n  - {name: auto, number: 81}\n  - {name: tcp, number: 82, protocol: TCP}\n  - {name: tls, number: 83, protocol: TLS}\n  - {name: https, number: 84, protocol: HTTPS}\n  - {name: grpc, number: 85, protocol: GRPC}\n  - {name: h2, number: 86, protocol: HTTP2}\n`,
  );
  const calls: [string, Call][] = [
    ['http', { protocol: 'http1', host: 'foo' }],
    ['h2c', { protocol: 'h2c', host: 'foo' }],
    ['tls', { protocol: 'tls', sni: 'foo', alpn: ['http/1.1'] }],
    ['tcp', { protocol: 'tcp' }],
  ];
  const expected = (port: number, call: string): Outcome => {
    const cluster = `outbound|${port}||istio.io`;
    const routed = { vhost: `istio.io:${port}`, route: 'default', cluster };
    if ([80, 85, 86].includes(port))
      return call === 'http' || call === 'h2c' ? routed : { error: 'not http' };
    if (port === 81) return call === 'http' || call === 'h2c' ? routed : { cluster };
    return { cluster };
  };
  for (const port of [80, 81, 82, 83, 84, 85, 86]) {
    for (const [label, call] of calls) {
      const want = expected(port, label);
      it(`${label} to port ${port} → ${want.cluster ?? want.error}`, () => {
        assert.deepEqual(sim.call(sim.port('istio.io', port), call), want);
      });
    }
  }
});

describe('local mode routes by listener, not by Host', () => {
  const sim = new Simulation(
    yaml(
      svc('reviews', 'default', '[{name: http, port: 9080}]'),
      svc('ratings', 'default', '[{name: http, port: 9080}]'),
    ),
  );
  const hosts = ['127.0.0.1:15999', 'reviews', 'ratings:9080', 'anything.example.com'];
  for (const host of hosts) {
    it(`Host ${host} on the reviews listener → reviews`, () => {
      assert.deepEqual(
        sim.call(sim.port('reviews.default.svc.cluster.local', 9080), { protocol: 'http1', host }),
        {
          vhost: 'reviews.default.svc.cluster.local:9080',
          route: 'default',
          cluster: 'outbound|9080||reviews.default.svc.cluster.local',
        },
      );
    });
  }
});

describe('VirtualService HTTP routing (sidecar_simulation_test.go TestSidecarRoutes; route_test.go match cases)', () => {
  const sim = new Simulation(
    yaml(
      svc('reviews', 'default', '[{name: http, port: 9080}]'),
      svc('ratings', 'default', '[{name: http, port: 9080}]'),
      vs('reviews', 'default', {
        hosts: ['reviews'],
        http: [
          {
            name: 'jason',
            match: [{ headers: { 'end-user': { exact: 'jason' } } }],
            route: [{ destination: { host: 'reviews', subset: 'v2' } }],
          },
          {
            name: 'api',
            match: [{ uri: { prefix: '/api' }, method: { exact: 'POST' } }],
            route: [{ destination: { host: 'ratings' } }],
          },
          {
            name: 'exact',
            match: [{ uri: { exact: '/healthz' } }, { queryParams: { debug: { exact: '1' } } }],
            route: [{ destination: { host: 'reviews', subset: 'debug' } }],
          },
          {
            name: 'canary',
            match: [{ sourceLabels: { app: 'web' }, uri: { regex: '/v[0-9]+/.*' } }],
            route: [{ destination: { host: 'reviews', subset: 'canary' } }],
          },
          {
            name: 'ci',
            match: [{ uri: { prefix: '/CaSe' }, ignoreUriCase: true }],
            route: [{ destination: { host: 'reviews', subset: 'ci' } }],
          },
          { name: 'rest', route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
        ],
      }),
    ),
  );
  const port = sim.port('reviews.default.svc.cluster.local', 9080);
  const R = 'reviews.default.svc.cluster.local';
  const cases: [string, Call, string, string][] = [
    [
      'header end-user: jason',
      { protocol: 'http1', headers: { 'End-User': 'jason' } },
      'jason',
      `outbound|9080|v2|${R}`,
    ],
    ['another user', { protocol: 'http1', headers: { 'end-user': 'mike' } }, 'rest', `outbound|9080|v1|${R}`],
    [
      'POST /api/x',
      { protocol: 'http1', method: 'POST', path: '/api/x' },
      'api',
      'outbound|9080||ratings.default.svc.cluster.local',
    ],
    [
      'GET /api/x (method does not match)',
      { protocol: 'h2c', path: '/api/x' },
      'rest',
      `outbound|9080|v1|${R}`,
    ],
    ['GET /healthz', { protocol: 'http1', path: '/healthz' }, 'exact', `outbound|9080|debug|${R}`],
    [
      'GET /healthz/x (exact path only)',
      { protocol: 'http1', path: '/healthz/x' },
      'rest',
      `outbound|9080|v1|${R}`,
    ],
    ['query debug=1', { protocol: 'http1', path: '/x?debug=1' }, 'exact', `outbound|9080|debug|${R}`],
    [
      'regex /v2/items from app=web',
      { protocol: 'http1', path: '/v2/items' },
      'canary',
      `outbound|9080|canary|${R}`,
    ],
    ['case-insensitive prefix', { protocol: 'http1', path: '/case/x' }, 'ci', `outbound|9080|ci|${R}`],
  ];
  for (const [label, call, route, cluster] of cases) {
    it(`${label} → ${route} → ${cluster}`, () => {
      assert.deepEqual(sim.call(port, call), { vhost: `${R}:9080`, route, cluster });
    });
  }
  it('a proxy without app=web skips the sourceLabels route', () => {
    const other = new Simulation(
      yaml(
        svc('reviews', 'default', '[{name: http, port: 9080}]'),
        vs('reviews', 'default', {
          hosts: ['reviews'],
          http: [
            {
              name: 'canary',
              match: [{ sourceLabels: { app: 'web' } }],
              route: [{ destination: { host: 'reviews', subset: 'canary' } }],
            },
            { name: 'rest', route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
          ],
        }),
      ),
      sidecarNode('127.0.1.3', 'api-0', { labels: { app: 'api' } }),
    );
    assert.equal(other.call(other.port(R, 9080), { protocol: 'http1' }).cluster, `outbound|9080|v1|${R}`);
  });
  it('no catch-all in the VirtualService: an unmatched request gets no route (404 NR), as Istio', () => {
    const s = new Simulation(
      yaml(
        svc('reviews', 'default', '[{name: http, port: 9080}]'),
        vs('reviews', 'default', {
          hosts: ['reviews'],
          http: [{ match: [{ uri: { prefix: '/only' } }], route: [{ destination: { host: 'reviews' } }] }],
        }),
      ),
    );
    assert.deepEqual(s.call(s.port(R, 9080), { protocol: 'http1', path: '/other' }), {
      vhost: `${R}:9080`,
      error: 'no route',
    });
  });
});

describe('weighted destinations', () => {
  const text = (weights: [number, number]) =>
    yaml(
      svc('reviews', 'default', '[{name: http, port: 9080}]'),
      vs('reviews', 'default', {
        hosts: ['reviews'],
        http: [
          {
            name: 'split',
            route: [
              { destination: { host: 'reviews', subset: 'v1' }, weight: weights[0] },
              { destination: { host: 'reviews', subset: 'v2' }, weight: weights[1] },
            ],
          },
        ],
      }),
    );
  const R = 'reviews.default.svc.cluster.local';
  it('90/10: the set of clusters with their weights, over HTTP/1.1 and h2c', () => {
    const sim = new Simulation(text([90, 10]));
    for (const c of [{ protocol: 'http1' as const }, { protocol: 'h2c' as const, path: '/x' }]) {
      assert.deepEqual(sim.call(sim.port(R, 9080), c), {
        vhost: `${R}:9080`,
        route: 'split',
        weighted: [`outbound|9080|v1|${R}*90`, `outbound|9080|v2|${R}*10`],
      });
    }
    assert.deepEqual(sim.problems, []);
  });
  it('100/0: the set of clusters is the one weighted destination', () => {
    const sim = new Simulation(text([100, 0]));
    assert.deepEqual(sim.call(sim.port(R, 9080), { protocol: 'http1' }), {
      vhost: `${R}:9080`,
      route: 'split',
      cluster: `outbound|9080|v1|${R}`,
    });
    assert.deepEqual(sim.problems, []);
  });
});

describe('TCP routes (VirtualService tcp)', () => {
  it('a tcp route sends every connection of the listener to its destination', () => {
    const sim = new Simulation(
      yaml(
        svc('db', 'default', '[{name: tcp, port: 5432}]'),
        svc('db-replica', 'default', '[{name: tcp, port: 5433}]'),
        vs('db', 'default', { hosts: ['db'], tcp: [{ route: [{ destination: { host: 'db-replica' } }] }] }),
      ),
    );
    const port = sim.port('db.default.svc.cluster.local', 5432);
    for (const protocol of ['tcp', 'tls', 'http1'] as const) {
      assert.deepEqual(sim.call(port, { protocol }), {
        cluster: 'outbound|5433||db-replica.default.svc.cluster.local',
      });
    }
  });
});

describe('the HTTP proxy listener (http_proxy, absolute-form requests)', () => {
  const text = yaml(
    svc('web', 'default', '[{name: http, port: 80}]'),
    svc('reviews', 'default', '[{name: http, port: 9080}]'),
    svc('reviews', 'prod', '[{name: http, port: 9080}]'),
    `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: default}\nspec:\n  hosts: [api.example.com]\n  location: MESH_EXTERNAL\n  resolution: DNS\n  ports: [{number: 80, name: http, protocol: HTTP}]\n`,
  );
  const sim = new Simulation(text, sidecarNode('127.0.1.2', 'web-0', { httpProxyPort: 15080 }));
  const cases: [string, string][] = [
    ['reviews:9080', 'outbound|9080||reviews.default.svc.cluster.local'],
    ['reviews.default:9080', 'outbound|9080||reviews.default.svc.cluster.local'],
    ['reviews.default.svc.cluster.local:9080', 'outbound|9080||reviews.default.svc.cluster.local'],
    ['reviews.prod:9080', 'outbound|9080||reviews.prod.svc.cluster.local'],
    ['web', 'outbound|80||web.default.svc.cluster.local'],
    ['web:80', 'outbound|80||web.default.svc.cluster.local'],
    ['web.default.svc.cluster.local.', 'outbound|80||web.default.svc.cluster.local'],
    ['api.example.com', 'outbound|80||api.example.com'],
    // http://reviews/ means port 80: not the 9080 service
    ['reviews', 'PassthroughCluster'],
    ['unknown.example.com', 'PassthroughCluster'],
  ];
  for (const [host, cluster] of cases) {
    it(`GET http://${host}/ → ${cluster}`, () => {
      assert.equal(sim.call(15080, { protocol: 'http1', host }).cluster, cluster);
    });
  }
  it('REGISTRY_ONLY: an unknown host goes to BlackHoleCluster', () => {
    const strict = new Simulation(
      yaml(
        text,
        'apiVersion: skiff.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}\n',
      ),
      sidecarNode('127.0.1.2', 'web-0', { httpProxyPort: 15080 }),
    );
    assert.deepEqual(strict.call(15080, { protocol: 'http1', host: 'unknown.example.com' }), {
      vhost: 'block_all',
      route: 'block_all',
      cluster: 'BlackHoleCluster',
    });
  });
});
