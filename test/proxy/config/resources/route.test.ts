// The RouteConfiguration resource alone (RDS): every field of its support table, Envoy's defaults, each problem
// at its path, and the clusters its routes name with what a missing one does (validate_clusters).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../../../src/proxy/config/json.js';
import type { RouteConfigurationConfig } from '../../../../src/proxy/config/model.js';
import { parseResource } from '../../../../src/proxy/config/resource.js';
import { TYPE_URL } from '../../../../src/proxy/config/resources/index.js';
import {
  ROUTE_TIMEOUT_MS,
  translateRouteConfiguration,
} from '../../../../src/proxy/config/resources/route.js';
import { context, error, type Problem, problems, refsOf, routeTable } from '../fixtures.js';

const parse = (input: unknown) => parseResource(TYPE_URL.route, input);

function ok(input: JsonObject): RouteConfigurationConfig {
  const r = parse(input);
  assert.deepEqual(problems(r.diagnostics), []);
  assert.ok(r.value);
  return r.value;
}

/** A table with one route: `match` and `route` fields override the defaults (prefix "/", cluster app). */
const oneRoute = (
  match: JsonObject = { prefix: '/' },
  route: JsonObject = {},
  extra: JsonObject = {},
): JsonObject => ({
  name: 'r',
  virtual_hosts: [
    { name: 'v', domains: ['*'], routes: [{ match, route: { cluster: 'app', ...route }, ...extra }] },
  ],
});

const firstRoute = (c: RouteConfigurationConfig) => c.virtualHosts[0]?.routes[0];
const ROUTE0 = 'virtual_hosts[0].routes[0]';
const WEIGHTED = `${ROUTE0}.route.weighted_clusters`;

/** A table with one route whose action is `weighted_clusters` (no `cluster`). */
const weighted = (wc: JsonObject, extra: JsonObject = {}): JsonObject => ({
  name: 'r',
  virtual_hosts: [
    {
      name: 'v',
      domains: ['*'],
      routes: [{ match: { prefix: '/' }, route: { weighted_clusters: wc, ...extra } }],
    },
  ],
});

describe('RouteConfiguration: defaults (Envoy’s)', () => {
  it('keeps the port in host matching, matches case-sensitively, times out a request after 15s', () => {
    const c = ok(routeTable());
    assert.equal(c.name, 'local');
    assert.equal(c.ignorePortInHostMatching, false);
    assert.deepEqual(c.virtualHosts, [
      {
        name: 'all',
        domains: ['*'],
        routes: [
          {
            name: '',
            match: {
              path: { kind: 'prefix', value: '/' },
              caseSensitive: true,
              headers: [],
              queryParameters: [],
            },
            action: { cluster: 'app', timeoutMs: 15_000 },
          },
        ],
      },
    ]);
    assert.equal(ROUTE_TIMEOUT_MS, 15_000);
  });

  it('does not validate its clusters over RDS: a missing one is a 503 NC at request time', () => {
    assert.deepEqual(refsOf(parse(routeTable('nope'))), [
      ['cluster', 'nope', `${ROUTE0}.route.cluster`, '503 NC'],
    ]);
  });
});

describe('RouteConfiguration: every field of its support table', () => {
  const cases: [string, JsonObject, (c: RouteConfigurationConfig) => unknown, unknown][] = [
    ['name', routeTable('app', { name: 'inbound|8080||' }), (c) => c.name, 'inbound|8080||'],
    [
      'ignore_port_in_host_matching',
      routeTable('app', { ignore_port_in_host_matching: true }),
      (c) => c.ignorePortInHostMatching,
      true,
    ],
    [
      'validate_clusters (recorded in the references)',
      routeTable('app', { validate_clusters: false }),
      (c) => c.name,
      'local',
    ],
    [
      'virtual hosts with their names and domains, in order',
      {
        virtual_hosts: [
          { name: 'a', domains: ['a.example', '*.a.example', 'a.example:8080'], routes: [] },
          { name: 'b', domains: ['b*', '*'], routes: [] },
          { name: 'none' },
        ],
      },
      (c) => c.virtualHosts.map((v) => [v.name, v.domains, v.routes.length]),
      [
        ['a', ['a.example', '*.a.example', 'a.example:8080'], 0],
        ['b', ['b*', '*'], 0],
        ['none', [], 0],
      ],
    ],
    [
      'routes in order, with their names',
      {
        virtual_hosts: [
          {
            name: 'v',
            domains: ['*'],
            routes: [
              { name: 'api', match: { prefix: '/api' }, route: { cluster: 'api' } },
              { match: { prefix: '/' }, route: { cluster: 'web' } },
            ],
          },
        ],
      },
      (c) => c.virtualHosts[0]?.routes.map((r) => [r.name, r.action.cluster]),
      [
        ['api', 'api'],
        ['', 'web'],
      ],
    ],
    [
      'route decorator and metadata (recorded)',
      oneRoute(undefined, undefined, {
        decorator: { operation: 'op' },
        metadata: { filter_metadata: { a: {} } },
      }),
      (c) => firstRoute(c)?.action.cluster,
      'app',
    ],
    [
      'match prefix',
      oneRoute({ prefix: '/api' }),
      (c) => firstRoute(c)?.match.path,
      { kind: 'prefix', value: '/api' },
    ],
    [
      'match path',
      oneRoute({ path: '/health' }),
      (c) => firstRoute(c)?.match.path,
      { kind: 'path', value: '/health' },
    ],
    [
      'match path_separated_prefix',
      oneRoute({ path_separated_prefix: '/api' }),
      (c) => firstRoute(c)?.match.path,
      { kind: 'separated-prefix', value: '/api' },
    ],
    [
      'match safe_regex, compiled whole',
      oneRoute({ safe_regex: { regex: '/v[0-9]+' } }),
      (c) => {
        const p = firstRoute(c)?.match.path;
        return [p?.kind, p?.value, p?.regex?.test('/v12'), p?.regex?.test('/v12/x')];
      },
      ['regex', '/v[0-9]+', true, false],
    ],
    [
      'match case_sensitive false',
      oneRoute({ prefix: '/A', case_sensitive: false }),
      (c) => firstRoute(c)?.match.caseSensitive,
      false,
    ],
    [
      'match case_sensitive true',
      oneRoute({ prefix: '/A', case_sensitive: true }),
      (c) => firstRoute(c)?.match.caseSensitive,
      true,
    ],
    [
      'header matchers: string_match, present, absent, inverted; names lower-cased',
      oneRoute({
        prefix: '/',
        headers: [
          { name: 'X-Version', string_match: { exact: 'v2' } },
          { name: 'x-present' },
          { name: 'x-present-too', present_match: true },
          { name: 'x-absent', present_match: false },
          { name: 'x-not', string_match: { prefix: 'a', ignore_case: true }, invert_match: true },
        ],
      }),
      (c) => firstRoute(c)?.match.headers,
      [
        {
          name: 'x-version',
          check: { kind: 'exact', value: 'v2', ignoreCase: false },
          present: false,
          invert: false,
        },
        { name: 'x-present', check: undefined, present: true, invert: false },
        { name: 'x-present-too', check: undefined, present: true, invert: false },
        { name: 'x-absent', check: undefined, present: false, invert: false },
        {
          name: 'x-not',
          check: { kind: 'prefix', value: 'a', ignoreCase: true },
          present: false,
          invert: true,
        },
      ],
    ],
    [
      'header matchers in their deprecated forms',
      oneRoute({
        prefix: '/',
        headers: [
          { name: 'a', exact_match: 'x' },
          { name: 'b', prefix_match: 'x' },
          { name: 'c', suffix_match: 'x' },
          { name: 'd', contains_match: 'x' },
        ],
      }),
      (c) => firstRoute(c)?.match.headers.map((h) => [h.name, h.check?.kind, h.check?.value]),
      [
        ['a', 'exact', 'x'],
        ['b', 'prefix', 'x'],
        ['c', 'suffix', 'x'],
        ['d', 'contains', 'x'],
      ],
    ],
    [
      'a header safe_regex_match (deprecated)',
      oneRoute({ prefix: '/', headers: [{ name: 'a', safe_regex_match: { regex: 'v[0-9]' } }] }),
      (c) => {
        const h = firstRoute(c)?.match.headers[0];
        return [h?.check?.kind, h?.check?.regex?.test('v1'), h?.check?.regex?.test('v12')];
      },
      ['regex', true, false],
    ],
    [
      'query parameter matchers: string_match and present',
      oneRoute({
        prefix: '/',
        query_parameters: [
          { name: 'debug', string_match: { exact: '1' } },
          { name: 'trace', present_match: true },
          { name: 'any' },
        ],
      }),
      (c) => firstRoute(c)?.match.queryParameters,
      [
        { name: 'debug', check: { kind: 'exact', value: '1', ignoreCase: false } },
        { name: 'trace', check: undefined },
        { name: 'any', check: undefined },
      ],
    ],
    [
      'route cluster',
      oneRoute(undefined, { cluster: 'outbound|80||b' }),
      (c) => firstRoute(c)?.action.cluster,
      'outbound|80||b',
    ],
    ['route timeout', oneRoute(undefined, { timeout: '1.5s' }), (c) => firstRoute(c)?.action.timeoutMs, 1500],
    [
      'route timeout 0s (none)',
      oneRoute(undefined, { timeout: '0s' }),
      (c) => firstRoute(c)?.action.timeoutMs,
      0,
    ],
    [
      'weighted_clusters: the clusters in order with their weights, the sum, no single cluster',
      weighted({
        clusters: [
          { name: 'outbound|9080|v1|reviews', weight: 90 },
          { name: 'outbound|9080|v2|reviews', weight: 10 },
        ],
      }),
      (c) => [firstRoute(c)?.action.cluster, firstRoute(c)?.action.weightedClusters],
      [
        '',
        {
          clusters: [
            { name: 'outbound|9080|v1|reviews', weight: 90 },
            { name: 'outbound|9080|v2|reviews', weight: 10 },
          ],
          totalWeight: 100,
        },
      ],
    ],
    [
      'weighted_clusters: a weight of 0 (never picked), sums that are not 100, a cluster named twice',
      weighted({
        clusters: [
          { name: 'a', weight: 0 },
          { name: 'b', weight: 3 },
          { name: 'b', weight: 4 },
        ],
      }),
      (c) => firstRoute(c)?.action.weightedClusters,
      {
        clusters: [
          { name: 'a', weight: 0 },
          { name: 'b', weight: 3 },
          { name: 'b', weight: 4 },
        ],
        totalWeight: 7,
      },
    ],
    [
      'weighted_clusters: weights up to a sum of 2^32 - 1',
      weighted({
        clusters: [
          { name: 'a', weight: 4_294_967_294 },
          { name: 'b', weight: 1 },
        ],
      }),
      (c) => firstRoute(c)?.action.weightedClusters?.totalWeight,
      4_294_967_295,
    ],
    [
      'weighted_clusters: the deprecated total_weight when it is the sum',
      weighted({ clusters: [{ name: 'a', weight: 30 }], total_weight: 30 }),
      (c) => firstRoute(c)?.action.weightedClusters?.totalWeight,
      30,
    ],
    [
      'weighted_clusters: the deprecated total_weight 0 (no check, as Envoy’s older check)',
      weighted({ clusters: [{ name: 'a', weight: 30 }], total_weight: 0 }),
      (c) => firstRoute(c)?.action.weightedClusters?.totalWeight,
      30,
    ],
    [
      'weighted_clusters with the route’s timeout and retry policy beside them',
      weighted(
        { clusters: [{ name: 'a', weight: 1 }] },
        { timeout: '2s', retry_policy: { retry_on: '5xx', num_retries: 3 } },
      ),
      (c) => [firstRoute(c)?.action.timeoutMs, firstRoute(c)?.action.retryPolicy?.numRetries],
      [2000, 3],
    ],
    [
      'weighted_clusters in camelCase JSON',
      weighted({ clusters: [{ name: 'a', weight: 2 }], totalWeight: 2 }),
      (c) => firstRoute(c)?.action.weightedClusters?.totalWeight,
      2,
    ],
  ];
  for (const [what, input, pick, expected] of cases) {
    it(`reads ${what}`, () => assert.deepEqual(pick(ok(input)), expected));
  }
});

describe('RouteConfiguration: problems, each at its path', () => {
  const cases: [string, JsonObject, Problem[]][] = [
    [
      'an invalid RE2 path regex',
      oneRoute({ safe_regex: { regex: '(?!x)' } }),
      [
        error(
          `${ROUTE0}.match.safe_regex.regex`,
          'proxy.regex',
          'invalid RE2 expression "(?!x)": invalid or unsupported Perl syntax: `(?!`',
        ),
      ],
    ],
    [
      'an invalid RE2 header regex',
      oneRoute({ prefix: '/', headers: [{ name: 'a', string_match: { safe_regex: { regex: 'a{2000}' } } }] }),
      [
        error(
          `${ROUTE0}.match.headers[0].string_match.safe_regex.regex`,
          'proxy.regex',
          'invalid RE2 expression "a{2000}": invalid repeat count: `{2000}`',
        ),
      ],
    ],
    [
      'ignore_case on a query parameter regex',
      oneRoute({
        prefix: '/',
        query_parameters: [{ name: 'q', string_match: { safe_regex: { regex: 'a' }, ignore_case: true } }],
      }),
      [
        error(
          `${ROUTE0}.match.query_parameters[0].string_match.ignore_case`,
          'proxy.regex',
          'ignore_case has no effect on safe_regex (Envoy refuses it)',
        ),
      ],
    ],
    [
      'a virtual host without a name',
      { virtual_hosts: [{ domains: ['*'] }] },
      [error('virtual_hosts[0].name', 'proxy.validate', 'is required (must not be empty)')],
    ],
    [
      'a route without a match',
      { virtual_hosts: [{ name: 'v', routes: [{ route: { cluster: 'a' } }] }] },
      [error(`${ROUTE0}.match`, 'proxy.required', 'envoy.config.route.v3.Route.match is required')],
    ],
    [
      'a route action with an empty cluster',
      oneRoute(undefined, { cluster: '' }),
      [error(`${ROUTE0}.route.cluster`, 'proxy.validate', 'must not be empty')],
    ],
    [
      'weighted clusters whose weights are all 0',
      weighted({
        clusters: [
          { name: 'a', weight: 0 },
          { name: 'b', weight: 0 },
        ],
      }),
      [
        error(
          `${WEIGHTED}.clusters`,
          'proxy.weight',
          'the sum of the weights must be above 0 (Envoy: "Sum of weights in the weighted_cluster must be greater than 0.")',
        ),
      ],
    ],
    [
      'weighted clusters whose weights add up to more than 2^32 - 1',
      weighted({
        clusters: [
          { name: 'a', weight: 4_294_967_295 },
          { name: 'b', weight: 1 },
        ],
      }),
      [
        error(
          `${WEIGHTED}.clusters`,
          'proxy.weight',
          'the sum of the weights, 4294967296, exceeds 4294967295 (Envoy refuses it)',
        ),
      ],
    ],
    [
      'a weighted cluster without a weight (Envoy requires it)',
      weighted({ clusters: [{ name: 'a', weight: 1 }, { name: 'b' }] }),
      [
        error(
          `${WEIGHTED}.clusters[1].weight`,
          'proxy.required',
          'a weighted cluster needs a weight (Envoy refuses it without)',
        ),
      ],
    ],
    [
      'a weighted cluster without a name',
      weighted({ clusters: [{ weight: 1 }] }),
      [
        error(
          `${WEIGHTED}.clusters[0].name`,
          'proxy.required',
          'a weighted cluster needs a name (cluster_header is not implemented; Envoy: "At least one of name or cluster_header need to be specified")',
        ),
      ],
    ],
    [
      'a deprecated total_weight that is not the sum of the weights',
      weighted({
        clusters: [
          { name: 'a', weight: 3 },
          { name: 'b', weight: 3 },
          { name: 'c', weight: 3 },
        ],
        total_weight: 100,
      }),
      [
        error(
          `${WEIGHTED}.total_weight`,
          'proxy.weight',
          "total_weight 100 is not the sum of the weights (9): Envoy's v3 router ignores this deprecated field and uses the sum; give the weights you mean and drop total_weight",
        ),
      ],
    ],
    [
      'weighted clusters without a cluster',
      weighted({ clusters: [] }),
      [error(`${WEIGHTED}.clusters`, 'proxy.validate', 'needs at least 1 item(s), got 0')],
    ],
    [
      'both a cluster and weighted clusters',
      oneRoute(undefined, { weighted_clusters: { clusters: [{ name: 'a', weight: 1 }] } }),
      [
        error(
          WEIGHTED,
          'proxy.oneof',
          'only one of cluster, cluster_header, weighted_clusters, cluster_specifier_plugin, inline_cluster_specifier_plugin may be set in envoy.config.route.v3.RouteAction; "cluster" is set too',
        ),
      ],
    ],
  ];
  for (const [what, input, expected] of cases) {
    it(`refuses ${what}`, () => {
      const r = parse(input);
      assert.deepEqual(problems(r.diagnostics), expected);
      assert.equal(r.value, undefined);
    });
  }

  // A field whose message type is not implemented: the decoder names the type (and the field, and any nested
  // type) — what counts here is that the field is refused at its path.
  const unimplemented: [string, JsonObject, string, string][] = [
    [
      'a redirect',
      {
        virtual_hosts: [
          {
            name: 'v',
            domains: ['*'],
            routes: [{ match: { prefix: '/' }, redirect: { path_redirect: '/x' } }],
          },
        ],
      },
      `${ROUTE0}.redirect`,
      'field "redirect" of envoy.config.route.v3.Route is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
    ],
    [
      'runtime weights (runtime_key_prefix: Skiff has no runtime to read them from)',
      weighted({ clusters: [{ name: 'a', weight: 1 }], runtime_key_prefix: 'routing.traffic_split.a' }),
      `${WEIGHTED}.runtime_key_prefix`,
      'field "runtime_key_prefix" of envoy.config.route.v3.WeightedCluster is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
    ],
    [
      'a random value from a request header (header_name)',
      weighted({ clusters: [{ name: 'a', weight: 1 }], header_name: 'x-random' }),
      `${WEIGHTED}.header_name`,
      'field "header_name" of envoy.config.route.v3.WeightedCluster is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
    ],
    [
      'a weighted cluster named by a request header (cluster_header)',
      weighted({ clusters: [{ cluster_header: 'x-cluster', weight: 1 }] }),
      `${WEIGHTED}.clusters[0].cluster_header`,
      'field "cluster_header" of envoy.config.route.v3.WeightedCluster.ClusterWeight is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
    ],
    [
      'headers added for a weighted cluster',
      weighted({
        clusters: [
          {
            name: 'a',
            weight: 1,
            request_headers_to_add: [{ header: { key: 'x-v', value: '1' } }],
          },
        ],
      }),
      `${WEIGHTED}.clusters[0].request_headers_to_add`,
      'field "request_headers_to_add" of envoy.config.route.v3.WeightedCluster.ClusterWeight is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
    ],
    [
      'a weighted cluster’s host rewrite',
      weighted({ clusters: [{ name: 'a', weight: 1, host_rewrite_literal: 'b' }] }),
      `${WEIGHTED}.clusters[0].host_rewrite_literal`,
      'field "host_rewrite_literal" of envoy.config.route.v3.WeightedCluster.ClusterWeight is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
    ],
    [
      'a weighted cluster’s metadata_match (subsets)',
      weighted({
        clusters: [{ name: 'a', weight: 1, metadata_match: { filter_metadata: { 'envoy.lb': { v: '1' } } } }],
      }),
      `${WEIGHTED}.clusters[0].metadata_match`,
      'field "metadata_match" of envoy.config.route.v3.WeightedCluster.ClusterWeight is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
    ],
    [
      'a cluster named by a request header (cluster_header on the action)',
      oneRoute(undefined, { cluster: null, cluster_header: 'x-cluster' }),
      `${ROUTE0}.route.cluster_header`,
      'field "cluster_header" of envoy.config.route.v3.RouteAction is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
    ],
    [
      'a retry priority',
      oneRoute(undefined, {
        retry_policy: {
          retry_on: '5xx',
          retry_priority: { name: 'envoy.retry_priorities.previous_priorities' },
        },
      }),
      `${ROUTE0}.route.retry_policy.retry_priority`,
      'field "retry_priority" of envoy.config.route.v3.RetryPolicy is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
    ],
  ];
  for (const [what, input, path, message] of unimplemented) {
    it(`refuses ${what}`, () => {
      const r = parse(input);
      assert.equal(r.value, undefined);
      assert.ok(
        problems(r.diagnostics).some(
          (p) => p.path === path && p.code === 'proxy.unsupported' && p.message === message,
        ),
        JSON.stringify(problems(r.diagnostics), null, 1),
      );
    });
  }

  it('refuses an invalid deprecated safe_regex_match at its own path', {}, () => {
    const r = parse(
      oneRoute({ prefix: '/', headers: [{ name: 'a', safe_regex_match: { regex: '(?=a)' } }] }),
    );
    assert.deepEqual(
      problems(r.diagnostics).map((p) => p.path),
      [`${ROUTE0}.match.headers[0].safe_regex_match.regex`],
    );
  });

  // The decoder refuses these first (Route's action and RouteMatch's path are required oneofs); the translation
  // still guards itself when handed such a table directly.
  const guards: [string, JsonObject, Problem[]][] = [
    [
      'a route without an action',
      { virtual_hosts: [{ routes: [{ match: { prefix: '/' } }] }] },
      [
        error(
          'rc.virtual_hosts[0].routes[0]',
          'proxy.required',
          'a route needs a route action (redirect and direct_response are not implemented)',
        ),
      ],
    ],
    [
      'a route action without a cluster',
      { virtual_hosts: [{ routes: [{ match: { prefix: '/' }, route: {} }] }] },
      [
        error(
          'rc.virtual_hosts[0].routes[0].route.cluster',
          'proxy.required',
          'a route action needs a cluster or weighted_clusters (cluster_header and cluster specifier plugins are not implemented)',
        ),
      ],
    ],
    [
      'a route action with a cluster and weighted clusters',
      {
        virtual_hosts: [
          {
            routes: [
              {
                match: { prefix: '/' },
                route: { cluster: 'a', weighted_clusters: { clusters: [{ name: 'b', weight: 1 }] } },
              },
            ],
          },
        ],
      },
      [
        error(
          'rc.virtual_hosts[0].routes[0].route.weighted_clusters',
          'proxy.oneof',
          'only one of cluster and weighted_clusters may be set',
        ),
      ],
    ],
    [
      'weighted clusters without a cluster',
      { virtual_hosts: [{ routes: [{ match: { prefix: '/' }, route: { weighted_clusters: {} } }] }] },
      [
        error(
          'rc.virtual_hosts[0].routes[0].route.weighted_clusters.clusters',
          'proxy.required',
          'weighted_clusters needs at least one cluster',
        ),
      ],
    ],
    [
      'a match without a path matcher',
      { virtual_hosts: [{ routes: [{ match: {}, route: { cluster: 'a' } }] }] },
      [
        error(
          'rc.virtual_hosts[0].routes[0].match',
          'proxy.required',
          'a route match needs prefix, path, path_separated_prefix or safe_regex',
        ),
      ],
    ],
  ];
  for (const [what, input, expected] of guards) {
    it(`refuses ${what} in its own translation`, () => {
      const ctx = context();
      translateRouteConfiguration(input, ['rc'], 'rds', ctx);
      assert.deepEqual(problems(ctx.diagnostics), expected);
    });
  }
});

describe('RouteConfiguration: the clusters its routes name', () => {
  const twoRoutes = (extra: JsonObject = {}): JsonObject => ({
    name: 'r',
    virtual_hosts: [
      { name: 'a', domains: ['a'], routes: [{ match: { prefix: '/' }, route: { cluster: 'one' } }] },
      {
        name: 'b',
        domains: ['*'],
        routes: [
          { match: { prefix: '/x' }, route: { cluster: 'two' } },
          { match: { prefix: '/' }, route: { cluster: 'one' } },
        ],
      },
    ],
    ...extra,
  });

  const cases: [string, 'inline' | 'rds', JsonObject, string][] = [
    ['over RDS, by default', 'rds', twoRoutes(), '503 NC'],
    ['over RDS with validate_clusters', 'rds', twoRoutes({ validate_clusters: true }), 'validate_clusters'],
    ['inline, by default (Envoy validates an inline table)', 'inline', twoRoutes(), 'validate_clusters'],
    [
      'inline with validate_clusters false (Istio’s setting)',
      'inline',
      twoRoutes({ validate_clusters: false }),
      '503 NC',
    ],
  ];
  for (const [what, source, input, effect] of cases) {
    it(`reports each route’s cluster ${what}: ${effect}`, () => {
      const ctx = context();
      translateRouteConfiguration(input, [], source, ctx);
      assert.deepEqual(
        ctx.refs.map((r) => [r.kind, r.name, r.path.join('.'), r.effect]),
        [
          ['cluster', 'one', 'virtual_hosts.0.routes.0.route.cluster', effect],
          ['cluster', 'two', 'virtual_hosts.1.routes.0.route.cluster', effect],
          ['cluster', 'one', 'virtual_hosts.1.routes.1.route.cluster', effect],
        ],
      );
    });
  }

  it('reports every weighted cluster, at its name, with what its absence does', () => {
    const wc = {
      clusters: [
        { name: 'v1', weight: 90 },
        { name: 'v2', weight: 10 },
      ],
    };
    for (const [source, extra, effect] of [
      ['rds', {}, '503 NC'],
      ['inline', {}, 'validate_clusters'],
      ['inline', { validate_clusters: false }, '503 NC'],
    ] as const) {
      const ctx = context();
      translateRouteConfiguration({ ...weighted(wc), ...extra }, [], source, ctx);
      assert.deepEqual(
        ctx.refs.map((r) => [r.kind, r.name, r.path.join('.'), r.effect]),
        [
          ['cluster', 'v1', 'virtual_hosts.0.routes.0.route.weighted_clusters.clusters.0.name', effect],
          ['cluster', 'v2', 'virtual_hosts.0.routes.0.route.weighted_clusters.clusters.1.name', effect],
        ],
      );
    }
    assert.deepEqual(refsOf(parse(weighted(wc))), [
      ['cluster', 'v1', `${WEIGHTED}.clusters[0].name`, '503 NC'],
      ['cluster', 'v2', `${WEIGHTED}.clusters[1].name`, '503 NC'],
    ]);
  });

  it('reports them through parseResource too, validate_clusters honoured', () => {
    assert.deepEqual(
      refsOf(parse(twoRoutes({ validate_clusters: true }))).map((r) => r[3]),
      ['validate_clusters', 'validate_clusters', 'validate_clusters'],
    );
  });
});
