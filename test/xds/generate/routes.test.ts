// RDS generation for sidecars (src/xds/generate/routes.ts): route names, the `host:port` tables of local mode, the
// http_proxy table, VirtualService translation, and that every table loads in the Skiff proxy.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseResource } from '../../../src/proxy/config/resource.js';
import { TYPE_URL } from '../../../src/proxy/config/resources/index.js';
import type { JsonObject } from '../../../src/xds/decode.js';
import { protoDuration } from '../../../src/xds/generate/duration.js';
import { buildOutboundListeners } from '../../../src/xds/generate/outbound.js';
import {
  buildRoutes,
  DEFAULT_RETRY_ON,
  retryPolicy,
  routeNames,
  translateRouteMatch,
  virtualHostBuilder,
  virtualHostDomains,
} from '../../../src/xds/generate/routes.js';
import type { GenerationProblem } from '../../../src/xds/generate/types.js';
import { contextFrom, sidecarNode } from './fixtures.js';

const PREVIOUS_HOSTS = [
  {
    name: 'envoy.retry_host_predicates.previous_hosts',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
    },
  },
];
const DEFAULT_RETRY = {
  retry_on: DEFAULT_RETRY_ON,
  num_retries: 2,
  retry_host_predicate: PREVIOUS_HOSTS,
  host_selection_retry_max_attempts: '5',
};

const svc = (name: string, ns: string, ports: string) =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  selector: {app: ${name}}\n  ports: ${ports}\n`;
const vs = (name: string, ns: string, spec: unknown, created?: string) =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ${name}, namespace: ${ns}${
    created ? `, creationTimestamp: "${created}"` : ''
  }}\nspec: ${JSON.stringify(spec)}\n`;
const dr = (name: string, ns: string, spec: unknown) =>
  `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: ${JSON.stringify(spec)}\n`;
const yaml = (...docs: string[]) => docs.join('---\n');

const REVIEWS = svc('reviews', 'default', '[{name: http, port: 9080}]');
const RATINGS = svc('ratings', 'default', '[{name: http, port: 9080}, {name: grpc, port: 7070}]');
const node = (ns = 'default', labels: Record<string, string> = {}) =>
  sidecarNode('127.0.1.2', 'web-0', { namespace: ns, labels });

/** The one route table asked for. */
function route(text: string, name: string, proxy = node(), problems?: GenerationProblem[]): JsonObject {
  const [rc] = buildRoutes(contextFrom(text), proxy, [name], problems);
  assert.ok(rc);
  return rc;
}

/** The routes of the only virtual host of a `host:port` table. */
function routesOf(rc: JsonObject): JsonObject[] {
  const vhosts = rc.virtual_hosts as JsonObject[];
  assert.equal(vhosts.length, 1);
  return (vhosts[0] as JsonObject).routes as JsonObject[];
}

function clusterOf(r: JsonObject): unknown {
  return (r.route as JsonObject).cluster;
}

function noErrors(type: (typeof TYPE_URL)['route' | 'listener'], resource: JsonObject): void {
  const errors = parseResource(type, resource).diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(errors, [], JSON.stringify(resource));
}

describe('routeNames: the RDS names of the listeners', () => {
  it('one per HTTP connection manager (HTTP and sniffed ports, http_proxy), sorted and unique', () => {
    const ctx = contextFrom(
      yaml(
        svc(
          'reviews',
          'default',
          '[{name: http, port: 9080}, {name: tcp-db, port: 5432}, {name: web, port: 7070}]',
        ),
      ),
    );
    const listeners = buildOutboundListeners(ctx, node());
    assert.deepEqual(routeNames(listeners), [
      'http_proxy',
      'reviews.default.svc.cluster.local:7070',
      'reviews.default.svc.cluster.local:9080',
    ]);
    assert.deepEqual(routeNames([...listeners, ...listeners]), routeNames(listeners));
    assert.deepEqual(routeNames([]), []);
  });
});

describe('buildRoutes: names Istio does not know, or that name nothing', () => {
  // httproute.go BuildHTTPRoutes: an unparseable name gets an empty table; a host:port without a service gets the
  // sidecar table shape with no virtual host (getVirtualHostsForSniffedServicePort finds none, no catch-all).
  const cases: [string, JsonObject][] = [
    ['junk', { name: 'junk', virtual_hosts: [], validate_clusters: false }],
    ['8080', { name: '8080', virtual_hosts: [], validate_clusters: false }],
    ['host:99999', { name: 'host:99999', virtual_hosts: [], validate_clusters: false }],
    [
      'unknown.example.com:8080',
      {
        name: 'unknown.example.com:8080',
        virtual_hosts: [],
        validate_clusters: false,
        ignore_port_in_host_matching: true,
      },
    ],
    [
      // a port of the service that is TCP: no HTTP virtual host
      'reviews.default.svc.cluster.local:5432',
      {
        name: 'reviews.default.svc.cluster.local:5432',
        virtual_hosts: [],
        validate_clusters: false,
        ignore_port_in_host_matching: true,
      },
    ],
  ];
  const text = svc('reviews', 'default', '[{name: http, port: 9080}, {name: tcp, port: 5432}]');
  for (const [name, expected] of cases) {
    it(name, () => {
      const rc = route(text, name);
      assert.deepEqual(rc, expected);
      noErrors(TYPE_URL.route, rc);
    });
  }
  it('answers each name once, in the order asked', () => {
    const names = buildRoutes(contextFrom(text), node(), ['b', 'a', 'b']).map((r) => r.name);
    assert.deepEqual(names, ['b', 'a']);
  });
});

describe('host:port: the default route of a service without a VirtualService', () => {
  // route.go BuildDefaultHTTPOutboundRoute; httproute.go getVirtualHostsForSniffedServicePort (domains ["*"]).
  it('is Istio`s default route in a single vhost with domains ["*"]', () => {
    assert.deepEqual(route(REVIEWS, 'reviews.default.svc.cluster.local:9080'), {
      name: 'reviews.default.svc.cluster.local:9080',
      virtual_hosts: [
        {
          name: 'reviews.default.svc.cluster.local:9080',
          domains: ['*'],
          routes: [
            {
              name: 'default',
              match: { prefix: '/' },
              route: {
                cluster: 'outbound|9080||reviews.default.svc.cluster.local',
                timeout: '0s',
                retry_policy: DEFAULT_RETRY,
              },
              decorator: { operation: 'reviews.default.svc.cluster.local:9080/*' },
            },
          ],
          include_request_attempt_count: true,
        },
      ],
      validate_clusters: false,
      ignore_port_in_host_matching: true,
    });
  });
  it('a sniffed port gets the same shape, a ServiceEntry host too', () => {
    const text = yaml(
      svc('web', 'default', '[{name: web, port: 8000}]'),
      'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: default}\nspec:\n  hosts: [api.example.com]\n  location: MESH_EXTERNAL\n  resolution: DNS\n  ports: [{number: 80, name: http, protocol: HTTP}]\n',
    );
    assert.equal(
      clusterOf(routesOf(route(text, 'web.default.svc.cluster.local:8000'))[0] ?? {}),
      'outbound|8000||web.default.svc.cluster.local',
    );
    assert.equal(
      clusterOf(routesOf(route(text, 'api.example.com:80'))[0] ?? {}),
      'outbound|80||api.example.com',
    );
  });
  it('a DestinationRule consistentHash is reported (hash_policy is not implemented) and the predicate kept', () => {
    // route_test.go "for no virtualservice but has destinationrule with consistentHash loadbalancer"
    const problems: GenerationProblem[] = [];
    const text = yaml(
      REVIEWS,
      dr('reviews', 'default', {
        host: 'reviews',
        trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } },
      }),
    );
    const [r] = routesOf(route(text, 'reviews.default.svc.cluster.local:9080', node(), problems));
    assert.ok(r);
    const action = r.route as JsonObject;
    assert.deepEqual(action.retry_policy, DEFAULT_RETRY);
    assert.equal(action.hash_policy, undefined);
    assert.deepEqual(
      problems.map((p) => [p.severity, p.code]),
      [['warning', 'SKIFF_GEN_HASH_POLICY']],
    );
  });
});

describe('VirtualService routes in a host:port table', () => {
  const ROUTE = 'reviews.default.svc.cluster.local:9080';
  const withVs = (spec: unknown, extra: string[] = []) =>
    yaml(REVIEWS, RATINGS, vs('reviews', 'default', { hosts: ['reviews'], ...(spec as object) }), ...extra);

  it('translates a match, destination, timeout and retries exactly', () => {
    // route_test.go TestBuildHTTPRoutes "for virtual service" / "with timeout"; retry_test.go TestRetry.
    const rc = route(
      withVs({
        http: [
          {
            name: 'v2',
            match: [{ name: 'jason', uri: { prefix: '/v2' }, headers: { 'x-user': { exact: 'jason' } } }],
            route: [{ destination: { host: 'reviews', subset: 'v2' } }],
            timeout: '2.5s',
            retries: { attempts: 3, retryOn: '5xx,503', perTryTimeout: '1s' },
          },
        ],
      }),
      ROUTE,
    );
    assert.deepEqual(routesOf(rc), [
      {
        name: 'v2.jason',
        match: {
          prefix: '/v2',
          case_sensitive: true,
          headers: [{ name: 'x-user', string_match: { exact: 'jason' } }],
        },
        route: {
          timeout: '2.500s',
          cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local',
          retry_policy: {
            retry_on: '5xx,retriable-status-codes',
            num_retries: 3,
            retriable_status_codes: [503],
            per_try_timeout: '1s',
            retry_host_predicate: PREVIOUS_HOSTS,
            host_selection_retry_max_attempts: '5',
          },
        },
        metadata: {
          filter_metadata: {
            istio: { config: '/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews' },
          },
        },
        decorator: { operation: 'reviews.default.svc.cluster.local:9080/v2*' },
      },
    ]);
  });

  // Destination clusters: route.go GetDestinationCluster with a sidecar's port-P registry (only services with
  // port P, reduced to it): destination.port, else the listener port. sidecar_simulation_test.go TestSidecarRoutes.
  const destinations: [string, unknown, string][] = [
    ['same service, no port', { host: 'reviews' }, 'outbound|9080||reviews.default.svc.cluster.local'],
    [
      'explicit port',
      { host: 'ratings', port: { number: 7070 } },
      'outbound|7070||ratings.default.svc.cluster.local',
    ],
    // "simple port 8080": another service without a port takes the listener port
    ['other service, no port', { host: 'ratings' }, 'outbound|9080||ratings.default.svc.cluster.local'],
    ['subset', { host: 'ratings', subset: 'v1' }, 'outbound|9080|v1|ratings.default.svc.cluster.local'],
    ['FQDN outside the registry', { host: 'api.example.com' }, 'outbound|9080||api.example.com'],
    [
      'a short name resolves in the VirtualService namespace',
      { host: 'other' },
      'outbound|9080||other.default.svc.cluster.local',
    ],
  ];
  for (const [label, destination, cluster] of destinations) {
    it(`destination: ${label} → ${cluster}`, () => {
      const [r] = routesOf(route(withVs({ http: [{ route: [{ destination }] }] }), ROUTE));
      assert.equal(clusterOf(r ?? {}), cluster);
    });
  }

  // TranslateRoute skips a match for another port, another source, or a gateway (route.go sourceMatchHTTP).
  const applies: [string, unknown, JsonObject | undefined][] = [
    ['match.port is the listener port', { port: 9080 }, {}],
    ['match.port is another port', { port: 7070 }, undefined],
    ['sourceLabels on the proxy', { sourceLabels: { app: 'web' } }, {}],
    ['sourceLabels not on the proxy', { sourceLabels: { app: 'other' } }, undefined],
    ['sourceNamespace of the proxy', { sourceNamespace: 'default' }, {}],
    ['sourceNamespace of another', { sourceNamespace: 'prod' }, undefined],
    ['gateways with mesh', { gateways: ['mesh'] }, {}],
    ['gateways without mesh', { gateways: ['default/gw'] }, undefined],
  ];
  for (const [label, match, expected] of applies) {
    it(`source/port match: ${label} → ${expected ? 'applies' : 'skipped'}`, () => {
      const rc = route(
        withVs({
          http: [
            {
              match: [{ uri: { prefix: '/a' }, ...(match as object) }],
              route: [{ destination: { host: 'reviews', subset: 'a' } }],
            },
            { route: [{ destination: { host: 'reviews', subset: 'rest' } }] },
          ],
        }),
        ROUTE,
        node('default', { app: 'web' }),
      );
      const clusters = routesOf(rc).map(clusterOf);
      assert.deepEqual(
        clusters,
        expected
          ? [
              'outbound|9080|a|reviews.default.svc.cluster.local',
              'outbound|9080|rest|reviews.default.svc.cluster.local',
            ]
          : ['outbound|9080|rest|reviews.default.svc.cluster.local'],
      );
    });
  }

  it('stops after the first catch-all (route_test.go "with catch all route")', () => {
    const rc = route(
      withVs({
        http: [
          {
            match: [{ uri: { prefix: '/a' } }, { uri: { prefix: '/' } }, { uri: { prefix: '/never' } }],
            route: [{ destination: { host: 'reviews', subset: 'x' } }],
          },
          { route: [{ destination: { host: 'reviews', subset: 'never' } }] },
        ],
      }),
      ROUTE,
    );
    assert.deepEqual(
      routesOf(rc).map((r) => (r.match as JsonObject).prefix),
      ['/a', '/'],
    );
  });

  it('a VirtualService whose matches all miss this proxy leaves the default route', () => {
    const rc = route(
      withVs({ http: [{ match: [{ port: 1234 }], route: [{ destination: { host: 'ratings' } }] }] }),
      ROUTE,
    );
    assert.deepEqual(
      routesOf(rc).map((r) => r.name),
      ['default'],
    );
  });

  it('a VirtualService bound only to a gateway, or a delegate without hosts, is not used by sidecars', () => {
    const text = yaml(
      REVIEWS,
      vs('gw-only', 'default', {
        hosts: ['reviews'],
        gateways: ['default/gw'],
        http: [{ route: [{ destination: { host: 'ratings' } }] }],
      }),
    );
    assert.deepEqual(
      routesOf(route(text, ROUTE)).map((r) => r.name),
      ['default'],
    );
  });

  // Fields the Skiff proxy does not implement: the rule is skipped with a problem naming the VS and the field;
  // the next rule applies.
  const unsupported: [string, JsonObject, string][] = [
    ['redirect', { redirect: { uri: '/x' } }, 'http[0].redirect'],
    ['directResponse', { directResponse: { status: 503 } }, 'http[0].directResponse'],
    [
      'rewrite',
      { rewrite: { uri: '/v1' }, route: [{ destination: { host: 'reviews' } }] },
      'http[0].rewrite',
    ],
    [
      'fault',
      {
        fault: { abort: { httpStatus: 500, percentage: { value: 10 } } },
        route: [{ destination: { host: 'reviews' } }],
      },
      'http[0].fault',
    ],
    [
      'mirror',
      { mirror: { host: 'ratings' }, route: [{ destination: { host: 'reviews' } }] },
      'http[0].mirror',
    ],
    [
      'corsPolicy',
      { corsPolicy: { allowOrigins: [{ exact: 'a.com' }] }, route: [{ destination: { host: 'reviews' } }] },
      'http[0].corsPolicy',
    ],
    [
      'headers',
      { headers: { request: { set: { x: 'y' } } }, route: [{ destination: { host: 'reviews' } }] },
      'http[0].headers',
    ],
    [
      'destination headers',
      { route: [{ destination: { host: 'reviews' }, headers: { request: { set: { x: 'y' } } } }] },
      'http[0].route[0].headers',
    ],
  ];
  for (const [label, rule, field] of unsupported) {
    it(`unsupported: ${label} → rule skipped with a problem`, () => {
      const problems: GenerationProblem[] = [];
      const rc = route(
        withVs({
          http: [
            { match: [{ uri: { prefix: '/special' } }], ...rule },
            { route: [{ destination: { host: 'reviews', subset: 'fallback' } }] },
          ],
        }),
        ROUTE,
        node(),
        problems,
      );
      assert.deepEqual(routesOf(rc).map(clusterOf), [
        'outbound|9080|fallback|reviews.default.svc.cluster.local',
      ]);
      assert.equal(problems.length, 1);
      assert.equal(problems[0]?.severity, 'error');
      assert.equal(problems[0]?.code, 'SKIFF_GEN_VS_UNSUPPORTED');
      assert.ok(
        problems[0]?.message.startsWith(`VirtualService default/reviews: ${field}`),
        problems[0]?.message,
      );
      noErrors(TYPE_URL.route, rc);
    });
  }

  it('weighted destinations become weighted_clusters, weight 0 dropped (route.go applyHTTPRouteDestination)', () => {
    const problems: GenerationProblem[] = [];
    const rc = route(
      withVs({
        http: [
          {
            route: [
              { destination: { host: 'reviews', subset: 'v1' }, weight: 90 },
              { destination: { host: 'reviews', subset: 'v2' }, weight: 10 },
              { destination: { host: 'reviews', subset: 'v3' }, weight: 0 },
            ],
          },
        ],
      }),
      ROUTE,
      node(),
      problems,
    );
    const action = (routesOf(rc)[0] as JsonObject).route as JsonObject;
    assert.deepEqual(action.weighted_clusters, {
      clusters: [
        { name: 'outbound|9080|v1|reviews.default.svc.cluster.local', weight: 90 },
        { name: 'outbound|9080|v2|reviews.default.svc.cluster.local', weight: 10 },
      ],
    });
    assert.equal(action.cluster, undefined);
    assert.deepEqual(problems, []);
    noErrors(TYPE_URL.route, rc);
  });

  it('an unsupported rule without matches still ends the table (BuildHTTPRoutesForVirtualService catchall)', () => {
    // Was: the next rule applied. Istio stops after a rule without matches, whatever came of it (as proxyless
    // routes did): here no route is left, so the service keeps its default route.
    const problems: GenerationProblem[] = [];
    const rc = route(
      withVs({
        http: [
          { redirect: { uri: '/x' } },
          { route: [{ destination: { host: 'reviews', subset: 'never' } }] },
        ],
      }),
      ROUTE,
      node(),
      problems,
    );
    assert.deepEqual(routesOf(rc).map(clusterOf), ['outbound|9080||reviews.default.svc.cluster.local']);
    assert.deepEqual(
      problems.map((p) => p.code),
      ['SKIFF_GEN_VS_UNSUPPORTED'],
    );
  });

  it('weights with a single non-zero destination route to it (Istio: weighted_clusters with one entry)', () => {
    const rc = route(
      withVs({
        http: [
          {
            route: [
              { destination: { host: 'reviews', subset: 'v1' }, weight: 100 },
              { destination: { host: 'reviews', subset: 'v2' }, weight: 0 },
            ],
          },
        ],
      }),
      ROUTE,
    );
    const [r] = routesOf(rc);
    assert.equal(clusterOf(r ?? {}), 'outbound|9080|v1|reviews.default.svc.cluster.local');
    // More than one destination: the operation names the VS (GetRouteOperation), as Istio's weighted route.
    assert.deepEqual(r?.decorator, { operation: 'reviews:9080/*' });
  });

  it('dropped fields are warnings: retryRemoteLocalities, match.statPrefix', () => {
    const problems: GenerationProblem[] = [];
    const rc = route(
      withVs({
        http: [
          {
            match: [{ statPrefix: 'x', uri: { prefix: '/' } }],
            route: [{ destination: { host: 'reviews' } }],
            retries: { attempts: 1, retryRemoteLocalities: true },
          },
        ],
      }),
      ROUTE,
      node(),
      problems,
    );
    assert.equal(routesOf(rc).length, 1);
    assert.deepEqual(
      problems.map((p) => [p.severity, p.code]),
      [
        ['warning', 'SKIFF_GEN_VS_FIELD_DROPPED'],
        ['warning', 'SKIFF_GEN_VS_FIELD_DROPPED'],
      ],
    );
  });
});

describe('which VirtualService owns a host (sidecar_simulation_test.go TestSidecarRoutes, on port 8080)', () => {
  const KNOWN = yaml(
    svc('known', 'default', '[{name: http, port: 80}, {name: http-alt, port: 8080}]'),
    svc('alt-known', 'default', '[{name: http, port: 80}, {name: http-alt, port: 8080}]'),
  );
  const rule = (name: string, ns: string, host: string, dest: string, created?: string) =>
    vs(name, ns, { hosts: [host], http: [{ route: [{ destination: { host: dest } }] }] }, created);
  const OLDER = '2020-01-01T00:00:00Z';
  const BASE = '2021-01-01T00:00:00Z';
  const NEWER = '2022-01-01T00:00:00Z';
  const cases: [string, string[], string, string, string][] = [
    [
      'simple port 8080',
      [rule('a', 'default', 'known.default.svc.cluster.local', 'alt-known.default.svc.cluster.local')],
      'default',
      'known.default.svc.cluster.local',
      'outbound|8080||alt-known.default.svc.cluster.local',
    ],
    [
      'producer rule port 8080',
      [rule('a', 'default', 'known.default.svc.cluster.local', 'alt-known.default.svc.cluster.local')],
      'not-default',
      'known.default.svc.cluster.local',
      'outbound|8080||alt-known.default.svc.cluster.local',
    ],
    [
      'consumer rule port 8080',
      [rule('a', 'not-default', 'known.default.svc.cluster.local', 'alt-known.default.svc.cluster.local')],
      'not-default',
      'known.default.svc.cluster.local',
      'outbound|8080||alt-known.default.svc.cluster.local',
    ],
    [
      'arbitrary rule port 8080',
      [rule('a', 'arbitrary', 'known.default.svc.cluster.local', 'alt-known.default.svc.cluster.local')],
      'not-default',
      'known.default.svc.cluster.local',
      'outbound|8080||alt-known.default.svc.cluster.local',
    ],
    [
      'multiple rules 8080: oldest wins',
      [
        rule('a', 'arbitrary', 'known.default.svc.cluster.local', 'arbitrary.example.com', OLDER),
        rule('b', 'default', 'known.default.svc.cluster.local', 'default.example.com', BASE),
        rule('c', 'not-default', 'known.default.svc.cluster.local', 'not-default.example.com', NEWER),
      ],
      'not-default',
      'known.default.svc.cluster.local',
      'outbound|8080||arbitrary.example.com',
    ],
    [
      'wildcard first then explicit: explicit wins',
      [
        rule('a', 'default', '*.cluster.local', 'wild.example.com', OLDER),
        rule('b', 'default', 'known.default.svc.cluster.local', 'explicit.example.com', NEWER),
      ],
      'default',
      'known.default.svc.cluster.local',
      'outbound|8080||explicit.example.com',
    ],
    [
      'wildcard first then explicit: the other service takes the wildcard',
      [
        rule('a', 'default', '*.cluster.local', 'wild.example.com', OLDER),
        rule('b', 'default', 'known.default.svc.cluster.local', 'explicit.example.com', NEWER),
      ],
      'default',
      'alt-known.default.svc.cluster.local',
      'outbound|8080||wild.example.com',
    ],
    [
      'wildcard and explicit cross namespace',
      [
        rule('a', 'not-default', '*.cluster.local', 'wild.example.com', OLDER),
        rule('b', 'default', 'known.default.svc.cluster.local', 'explicit.example.com', NEWER),
      ],
      'default',
      'known.default.svc.cluster.local',
      'outbound|8080||explicit.example.com',
    ],
    [
      'wildcard random: no match, default route',
      [rule('a', 'default', '*.unknown.example.com', 'arbitrary.example.com')],
      'default',
      'known.default.svc.cluster.local',
      'outbound|8080||known.default.svc.cluster.local',
    ],
    [
      'the most specific wildcard wins',
      [
        rule('a', 'default', '*.local', 'short.example.com', OLDER),
        rule('b', 'default', '*.default.svc.cluster.local', 'long.example.com', NEWER),
      ],
      'default',
      'known.default.svc.cluster.local',
      'outbound|8080||long.example.com',
    ],
  ];
  for (const [label, rules, ns, host, cluster] of cases) {
    it(`${label} → ${cluster}`, () => {
      const rc = route(yaml(KNOWN, ...rules), `${host}:8080`, node(ns));
      assert.deepEqual(routesOf(rc).map(clusterOf), [cluster]);
    });
  }
});

describe('translateRouteMatch (route.go TranslateRouteMatch; route_test.go TestBuildHTTPRoutes match cases)', () => {
  const cases: [string, unknown, JsonObject][] = [
    ['no match', undefined, { prefix: '/' }],
    ['uri exact', { uri: { exact: '/a' } }, { path: '/a', case_sensitive: true }],
    ['uri prefix', { uri: { prefix: '/a' } }, { prefix: '/a', case_sensitive: true }],
    [
      'regex matching on URI',
      { uri: { regex: '/a/.*' } },
      { safe_regex: { regex: '/a/.*' }, case_sensitive: true },
    ],
    [
      'ignoreUriCase',
      { uri: { prefix: '/A' }, ignoreUriCase: true },
      { prefix: '/A', case_sensitive: false },
    ],
    [
      'regex matching on header, sorted by name',
      { headers: { 'x-b': { regex: 'b.*' }, 'x-a': { prefix: 'a' } } },
      {
        prefix: '/',
        case_sensitive: true,
        headers: [
          { name: 'x-a', string_match: { prefix: 'a' } },
          { name: 'x-b', string_match: { safe_regex: { regex: 'b.*' } } },
        ],
      },
    ],
    [
      'presence matching on header and without_header',
      { headers: { 'x-p': {} }, withoutHeaders: { 'x-q': { regex: '*' }, 'x-r': { exact: 'no' } } },
      {
        prefix: '/',
        case_sensitive: true,
        headers: [
          { name: 'x-p', present_match: true },
          { name: 'x-q', present_match: true, invert_match: true },
          { name: 'x-r', string_match: { exact: 'no' }, invert_match: true },
        ],
      },
    ],
    [
      'method, authority and scheme as pseudo-headers after the others',
      {
        headers: { 'x-z': { exact: 'z' } },
        method: { exact: 'GET' },
        authority: { prefix: 'api' },
        scheme: { exact: 'http' },
      },
      {
        prefix: '/',
        case_sensitive: true,
        headers: [
          { name: 'x-z', string_match: { exact: 'z' } },
          { name: ':method', string_match: { exact: 'GET' } },
          { name: ':authority', string_match: { prefix: 'api' } },
          { name: ':scheme', string_match: { exact: 'http' } },
        ],
      },
    ],
    [
      'query parameters: exact, prefix, regex, presence (sorted by name)',
      { queryParams: { q: { exact: '1' }, p: { prefix: 'a' }, r: { regex: 'x+' }, s: { regex: '*' } } },
      {
        prefix: '/',
        case_sensitive: true,
        query_parameters: [
          { name: 'p', string_match: { prefix: 'a' } },
          { name: 'q', string_match: { exact: '1' } },
          { name: 'r', string_match: { safe_regex: { regex: 'x+' } } },
          { name: 's', present_match: true },
        ],
      },
    ],
  ];
  for (const [label, match, expected] of cases) {
    it(label, () => assert.deepEqual(translateRouteMatch(match as never), expected));
  }
  it('proxyless: treat_missing_header_as_empty on withoutHeaders value matches; query parameters sorted too', () => {
    // Query parameters were in YAML order in grpc.ts (Istio: Go map order, none); one translateRouteMatch sorts.
    const match = {
      withoutHeaders: { 'x-r': { exact: 'no' }, 'x-q': {} },
      queryParams: { q: { exact: '1' }, p: {} },
    };
    assert.deepEqual(translateRouteMatch(match as never, 'proxyless'), {
      prefix: '/',
      case_sensitive: true,
      headers: [
        { name: 'x-q', present_match: true, invert_match: true },
        {
          name: 'x-r',
          string_match: { exact: 'no' },
          invert_match: true,
          treat_missing_header_as_empty: true,
        },
      ],
      query_parameters: [
        { name: 'p', present_match: true },
        { name: 'q', string_match: { exact: '1' } },
      ],
    });
  });
});

describe('retryPolicy (retry.go ConvertPolicy; retry_test.go TestRetry)', () => {
  const cases: [string, unknown, boolean, JsonObject | undefined][] = [
    ['no retries: the default', undefined, false, DEFAULT_RETRY],
    [
      'no retries, consistent hash: no previous_hosts',
      undefined,
      true,
      { retry_on: DEFAULT_RETRY_ON, num_retries: 2, host_selection_retry_max_attempts: '5' },
    ],
    ['attempts 0 disables', { attempts: 0 }, false, undefined],
    ['attempts only keeps the default retryOn', { attempts: 5 }, false, { ...DEFAULT_RETRY, num_retries: 5 }],
    [
      'retryOn with status codes adds retriable-status-codes',
      { attempts: 2, retryOn: 'gateway-error, 503 ,429,999' },
      false,
      {
        ...DEFAULT_RETRY,
        retry_on: 'gateway-error,999,retriable-status-codes',
        retriable_status_codes: [503, 429],
      },
    ],
    [
      'retryOn already listing retriable-status-codes',
      { attempts: 2, retryOn: 'retriable-status-codes,503' },
      false,
      { ...DEFAULT_RETRY, retry_on: 'retriable-status-codes', retriable_status_codes: [503] },
    ],
    [
      'perTryTimeout and backoff',
      { attempts: 2, perTryTimeout: '250ms', backoff: '1.5s' },
      false,
      { ...DEFAULT_RETRY, per_try_timeout: '0.250s', retry_back_off: { base_interval: '1.500s' } },
    ],
    [
      'retryIgnorePreviousHosts false drops the predicate',
      { attempts: 2, retryIgnorePreviousHosts: false },
      false,
      { retry_on: DEFAULT_RETRY_ON, num_retries: 2, host_selection_retry_max_attempts: '5' },
    ],
    [
      'retryIgnorePreviousHosts true keeps it even with a consistent hash',
      { attempts: 2, retryIgnorePreviousHosts: true },
      true,
      DEFAULT_RETRY,
    ],
  ];
  for (const [label, retries, hash, expected] of cases) {
    it(label, () => assert.deepEqual(retryPolicy(retries as never, hash), expected));
  }
});

describe('envoyDuration: Istio durations as proto3 JSON', () => {
  const cases: [string, string | undefined][] = [
    ['0s', '0s'],
    ['2.5s', '2.500s'],
    ['100ms', '0.100s'],
    ['1h', '3600s'],
    ['1m30s', '90s'],
    ['1us', '0.000001s'],
    ['soon', undefined],
  ];
  for (const [text, expected] of cases)
    it(`${text} → ${expected}`, () => assert.equal(protoDuration(text), expected));
});

describe('virtualHostDomains (httproute_test.go TestGenerateVirtualHostDomains)', () => {
  const service = (hostname: string, extra: object = {}) => ({
    hostname,
    addresses: [] as string[],
    resolution: 'STATIC' as const,
    kind: 'ServiceEntry' as const,
    headless: false,
    ...extra,
  });
  const cases: [string, ReturnType<typeof service>, number | undefined, string, string[]][] = [
    [
      'same domain',
      service('foo.local.campus.net'),
      undefined,
      'local.campus.net',
      ['foo.local.campus.net', 'foo.local.campus.net.', 'foo'],
    ],
    [
      'different domains with some shared dns',
      service('foo.local.campus.net'),
      undefined,
      'remote.campus.net',
      ['foo.local.campus.net', 'foo.local.campus.net.', 'foo.local', 'foo.local.campus'],
    ],
    [
      'different domains with no shared dns',
      service('foo.local.campus.net'),
      undefined,
      'example.com',
      ['foo.local.campus.net', 'foo.local.campus.net.'],
    ],
    [
      'k8s service with default domain',
      service('echo.default.svc.cluster.local'),
      undefined,
      'default.svc.cluster.local',
      [
        'echo.default.svc.cluster.local',
        'echo.default.svc.cluster.local.',
        'echo',
        'echo.default.svc',
        'echo.default',
      ],
    ],
    [
      'non-k8s service',
      service('foo.default.svc.bar.baz'),
      undefined,
      'default.svc.cluster.local',
      ['foo.default.svc.bar.baz', 'foo.default.svc.bar.baz.'],
    ],
    [
      'k8s service with default domain and different namespace',
      service('echo.default.svc.cluster.local'),
      undefined,
      'mesh.svc.cluster.local',
      [
        'echo.default.svc.cluster.local',
        'echo.default.svc.cluster.local.',
        'echo.default',
        'echo.default.svc',
      ],
    ],
    [
      'k8s service with custom domain 2',
      service('google.local'),
      undefined,
      'foo.svc.custom.k8s.local',
      ['google.local', 'google.local.'],
    ],
    ['ipv4 domain', service('1.2.3.4'), undefined, 'example.com', ['1.2.3.4']],
    [
      'ipv6 domain',
      service('2406:3003:2064:35b8:864:a648:4b96:e37d'),
      undefined,
      'example.com',
      ['[2406:3003:2064:35b8:864:a648:4b96:e37d]'],
    ],
    [
      'with port (http_proxy): every name with and without it',
      service('echo.default.svc.cluster.local'),
      8123,
      'mesh.svc.cluster.local',
      [
        'echo.default.svc.cluster.local',
        'echo.default.svc.cluster.local:8123',
        'echo.default.svc.cluster.local.',
        'echo.default.svc.cluster.local.:8123',
        'echo.default',
        'echo.default:8123',
        'echo.default.svc',
        'echo.default.svc:8123',
      ],
    ],
    [
      'headless Kubernetes service and addresses',
      service('h.default.svc.cluster.local', { kind: 'Service', headless: true, addresses: ['10.0.0.1'] }),
      undefined,
      'default.svc.cluster.local',
      [
        'h.default.svc.cluster.local',
        'h.default.svc.cluster.local.',
        'h',
        'h.default.svc',
        'h.default',
        '*.h.default.svc.cluster.local',
        '*.h.default.svc.cluster.local.',
        '*.h',
        '*.h.default.svc',
        '*.h.default',
        '10.0.0.1',
      ],
    ],
    [
      // Was: every address (routes.ts), IPv4 only (grpc.ts); GetAllAddressesForProxy keeps an IPv4-only proxy's
      // family, and a CIDR is no address a Host header names.
      'addresses: IPv4 only (an IPv4-only proxy), no CIDR',
      service('a.example.com', { addresses: ['10.0.0.1', 'fd00::1', '240.0.0.0/16'] }),
      80,
      'example.com',
      [
        'a.example.com',
        'a.example.com:80',
        'a.example.com.',
        'a.example.com.:80',
        'a',
        'a:80',
        '10.0.0.1',
        '10.0.0.1:80',
      ],
    ],
    [
      // Was (grpc.ts): no short names when the domain starts with `.svc.`; Istio's removeSvcNamespace keeps it whole.
      'proxy domain starting with .svc.',
      service('echo.default.svc.cluster.local'),
      undefined,
      '.svc.cluster.local',
      [
        'echo.default.svc.cluster.local',
        'echo.default.svc.cluster.local.',
        'echo.default',
        'echo.default.svc',
      ],
    ],
  ];
  for (const [label, s, port, domain, expected] of cases) {
    it(label, () => assert.deepEqual(virtualHostDomains(s, port, domain).domains, expected));
  }
});

describe('virtualHostBuilder (httproute.go BuildSidecarOutboundVirtualHosts buildVirtualHost)', () => {
  const web = {
    hostname: 'web.default.svc.cluster.local',
    addresses: [] as string[],
    resolution: 'STATIC' as const,
    kind: 'Service' as const,
    headless: false,
  };
  it('a VirtualService host outside the registry: sidecars without the port (SidecarIgnorePort), IPv6 bracketed', () => {
    assert.deepEqual(
      virtualHostBuilder('sidecar', 'default.svc.cluster.local', new Set())('2001:db8::5', 80, []),
      {
        name: '[2001:db8::5]:80',
        domains: ['[2001:db8::5]'],
        routes: [],
        include_request_attempt_count: true,
      },
    );
    assert.deepEqual(
      virtualHostBuilder('proxyless', 'default.svc.cluster.local', new Set())('2001:db8::5', 80, [])?.domains,
      ['[2001:db8::5]', '[2001:db8::5]:80'],
    );
  });
  it('a name built twice is dropped; domains taken by an earlier virtual host are left out', () => {
    const build = virtualHostBuilder('sidecar', 'default.svc.cluster.local', new Set());
    assert.equal(build('web', 80, [])?.name, 'web:80');
    assert.equal(build('web', 80, []), undefined);
    assert.deepEqual(build(web.hostname, 80, [], web)?.domains, [
      'web.default.svc.cluster.local',
      'web.default.svc.cluster.local:80',
      'web.default.svc.cluster.local.',
      'web.default.svc.cluster.local.:80',
      'web:80',
      'web.default.svc',
      'web.default.svc:80',
      'web.default',
      'web.default:80',
    ]);
  });
});

describe('http_proxy: every HTTP service by Host (httproute.go, listener port 0)', () => {
  const text = yaml(
    svc('web', 'default', '[{name: http, port: 80}]'),
    svc('reviews', 'default', '[{name: http, port: 9080}, {name: tcp, port: 5432}]'),
    svc('reviews', 'prod', '[{name: http, port: 9080}]'),
  );
  it('port-80 hosts keep all their names, others only host:port; sorted; allow_any last', () => {
    const rc = route(text, 'http_proxy');
    assert.equal(rc.ignore_port_in_host_matching, false);
    assert.equal(rc.validate_clusters, false);
    const vhosts = rc.virtual_hosts as JsonObject[];
    assert.deepEqual(
      vhosts.map((v) => [v.name, v.domains]),
      [
        [
          'reviews.default.svc.cluster.local:9080',
          [
            'reviews.default.svc.cluster.local:9080',
            'reviews.default.svc.cluster.local.:9080',
            'reviews:9080',
            'reviews.default.svc:9080',
            'reviews.default:9080',
          ],
        ],
        [
          'reviews.prod.svc.cluster.local:9080',
          [
            'reviews.prod.svc.cluster.local:9080',
            'reviews.prod.svc.cluster.local.:9080',
            'reviews.prod:9080',
            'reviews.prod.svc:9080',
          ],
        ],
        [
          'web.default.svc.cluster.local:80',
          [
            'web.default.svc.cluster.local',
            'web.default.svc.cluster.local:80',
            'web.default.svc.cluster.local.',
            'web.default.svc.cluster.local.:80',
            'web',
            'web:80',
            'web.default.svc',
            'web.default.svc:80',
            'web.default',
            'web.default:80',
          ],
        ],
        ['allow_any', ['*']],
      ],
    );
    assert.deepEqual(vhosts.at(-1), {
      name: 'allow_any',
      domains: ['*'],
      routes: [
        {
          name: 'allow_any',
          match: { prefix: '/' },
          route: { cluster: 'PassthroughCluster', timeout: '0s' },
        },
      ],
      include_request_attempt_count: true,
    });
    noErrors(TYPE_URL.route, rc);
  });
  it('REGISTRY_ONLY: block_all routes to BlackHoleCluster (Istio: direct_response 502)', () => {
    const mesh =
      'apiVersion: skiff.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}\n';
    const rc = route(yaml(text, mesh), 'http_proxy');
    assert.deepEqual((rc.virtual_hosts as JsonObject[]).at(-1), {
      name: 'block_all',
      domains: ['*'],
      routes: [
        { name: 'block_all', match: { prefix: '/' }, route: { cluster: 'BlackHoleCluster', timeout: '0s' } },
      ],
      include_request_attempt_count: true,
    });
  });
  it('a VirtualService applies per port; its hosts outside the registry get a vhost on port 80 only', () => {
    const rc = route(
      yaml(
        text,
        vs('web', 'default', {
          hosts: ['web', 'www.example.com'],
          http: [{ route: [{ destination: { host: 'reviews', port: { number: 9080 } } }] }],
        }),
      ),
      'http_proxy',
    );
    const byName = new Map((rc.virtual_hosts as JsonObject[]).map((v) => [v.name, v]));
    assert.deepEqual(byName.get('www.example.com:80')?.domains, ['www.example.com']);
    for (const n of ['www.example.com:80', 'web.default.svc.cluster.local:80']) {
      const [r] = (byName.get(n)?.routes ?? []) as JsonObject[];
      assert.equal(clusterOf(r ?? {}), 'outbound|9080||reviews.default.svc.cluster.local', n);
    }
  });
});

describe('every generated route table loads in the Skiff proxy without an error', () => {
  it('a mesh with services, ServiceEntries, VirtualServices and DestinationRules', () => {
    const text = yaml(
      REVIEWS,
      RATINGS,
      svc('web', 'default', '[{name: http, port: 80}, {name: web, port: 8000}]'),
      'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: default}\nspec:\n  hosts: [api.example.com]\n  location: MESH_EXTERNAL\n  resolution: DNS\n  ports: [{number: 80, name: http, protocol: HTTP}, {number: 443, name: tls, protocol: TLS}]\n',
      vs('reviews', 'default', {
        hosts: ['reviews'],
        http: [
          {
            match: [
              {
                uri: { regex: '/v[0-9]+/.*' },
                headers: { 'x-user': { exact: 'jason' } },
                withoutHeaders: { 'x-debug': {} },
                queryParams: { q: { prefix: 'a' } },
                method: { exact: 'GET' },
              },
            ],
            route: [{ destination: { host: 'reviews', subset: 'v2' } }],
            retries: { attempts: 3, retryOn: '5xx,503', perTryTimeout: '1s', backoff: '25ms' },
            timeout: '10s',
          },
          { redirect: { uri: '/x' } },
          { route: [{ destination: { host: 'ratings', port: { number: 9080 } } }], retries: { attempts: 0 } },
        ],
      }),
      dr('ratings', 'default', {
        host: 'ratings',
        trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true } } },
      }),
    );
    const ctx = contextFrom(text);
    const proxy = node();
    const names = [...routeNames(buildOutboundListeners(ctx, proxy)), 'unknown', 'nothing.example.com:1'];
    const tables = buildRoutes(ctx, proxy, names);
    assert.equal(tables.length, names.length);
    for (const rc of tables) noErrors(TYPE_URL.route, rc);
  });
});
