// `envoy.filters.network.tcp_proxy` as a registered extension: its TcpProxy fields, Envoy's default idle timeout,
// the cluster it names or its weighted clusters (references, not checked here) and each problem at its path.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../../../src/proxy/config/json.js';
import { TCP_IDLE_TIMEOUT_MS, TCP_PROXY } from '../../../../src/proxy/filters/tcp-proxy/config.js';
import { TCP_PROXY_EXTENSION } from '../../../../src/proxy/filters/tcp-proxy/index.js';
import {
  any,
  context,
  error,
  type Problem,
  problems,
  refsOf,
  T,
  tcpProxyFilter,
  translateEntry,
} from '../../config/fixtures.js';

const run = (entry: JsonObject) => translateEntry('envoy.filters.network', entry);

/** A tcp_proxy with `weighted_clusters` (and no cluster). */
const weighted = (wc: JsonObject): JsonObject => ({
  name: 'envoy.filters.network.tcp_proxy',
  typed_config: any(T.tcpProxy, { stat_prefix: 'app', weighted_clusters: wc }),
});
const WEIGHTED = 'filters[0].typed_config.weighted_clusters';

describe('tcp_proxy: registration', () => {
  it('is a network filter found by TcpProxy, named as Envoy names it, with its runtime', () => {
    assert.equal(TCP_PROXY.name, 'envoy.filters.network.tcp_proxy');
    assert.deepEqual(TCP_PROXY.aliases, ['envoy.tcp_proxy']);
    assert.equal(TCP_PROXY.category, 'envoy.filters.network');
    assert.deepEqual(TCP_PROXY.types, [T.tcpProxy]);
    assert.notEqual(TCP_PROXY.byName, true, 'it needs a cluster, so a name alone cannot select it');
    assert.equal(TCP_PROXY_EXTENSION.runtime?.kind, 'tcp_proxy');
    assert.deepEqual(Object.keys(TCP_PROXY.support[T.tcpProxy] ?? {}).sort(), [
      'access_log',
      'cluster',
      'idle_timeout',
      'stat_prefix',
      'weighted_clusters',
    ]);
  });
});

describe('tcp_proxy: its fields', () => {
  it('reads stat_prefix and cluster, and idles out after 1h by default (Envoy’s)', () => {
    const t = run(tcpProxyFilter('inbound|9080||'));
    assert.deepEqual(problems(t.diagnostics), []);
    assert.deepEqual(t.value, {
      kind: 'tcp_proxy',
      statPrefix: 'app',
      cluster: 'inbound|9080||',
      idleTimeoutMs: 3_600_000,
      istioStats: undefined,
      accessLogs: [],
    });
    assert.equal(TCP_IDLE_TIMEOUT_MS, 3_600_000);
  });

  const idle: [string, number][] = [
    ['30s', 30_000],
    ['0.5s', 500],
    ['0s', 0],
  ];
  for (const [text, ms] of idle) {
    it(`reads idle_timeout ${text} as ${ms} ms`, () => {
      const t = run(tcpProxyFilter('app', { idle_timeout: text }));
      assert.deepEqual(problems(t.diagnostics), []);
      assert.ok(t.value?.kind === 'tcp_proxy');
      assert.equal(t.value.idleTimeoutMs, ms);
    });
  }

  it('reads the camelCase JSON names too', () => {
    const t = run({
      name: 'x',
      typed_config: any(T.tcpProxy, { statPrefix: 's', cluster: 'c', idleTimeout: '2s' }),
    });
    assert.deepEqual(problems(t.diagnostics), []);
    assert.ok(t.value?.kind === 'tcp_proxy');
    assert.deepEqual([t.value.statPrefix, t.value.idleTimeoutMs], ['s', 2000]);
  });

  it('reports its cluster as a reference whose absence refuses the connection', () => {
    assert.deepEqual(refsOf(run(tcpProxyFilter('outbound|80||b'))), [
      ['cluster', 'outbound|80||b', 'filters[0].typed_config.cluster', 'tcp.*.downstream_cx_no_route'],
    ]);
  });

  it('reads weighted_clusters: the clusters in order with their weights and the sum, no single cluster', () => {
    const t = run(
      weighted({
        clusters: [
          { name: 'outbound|5432||db', weight: 75 },
          { name: 'outbound|5433||db-replica', weight: 25 },
          { name: 'outbound|5433||db-replica', weight: 4_294_967_295 },
        ],
      }),
    );
    assert.deepEqual(problems(t.diagnostics), []);
    assert.ok(t.value?.kind === 'tcp_proxy');
    assert.equal(t.value.cluster, '');
    assert.deepEqual(t.value.weightedClusters, {
      clusters: [
        { name: 'outbound|5432||db', weight: 75 },
        { name: 'outbound|5433||db-replica', weight: 25 },
        { name: 'outbound|5433||db-replica', weight: 4_294_967_295 },
      ],
      // tcp_proxy adds the weights up in 64 bits: no limit of 2^32 - 1 (unlike the router).
      totalWeight: 4_294_967_395,
    });
  });

  it('reports each weighted cluster as a reference at its name', () => {
    const t = run(
      weighted({
        clusters: [
          { name: 'a', weight: 1 },
          { name: 'b', weight: 2 },
        ],
      }),
    );
    assert.deepEqual(refsOf(t), [
      ['cluster', 'a', `${WEIGHTED}.clusters[0].name`, 'tcp.*.downstream_cx_no_route'],
      ['cluster', 'b', `${WEIGHTED}.clusters[1].name`, 'tcp.*.downstream_cx_no_route'],
    ]);
  });
});

describe('tcp_proxy: problems, each at its path', () => {
  const cases: [string, JsonObject, Problem[]][] = [
    [
      'an empty cluster',
      tcpProxyFilter(''),
      [
        error(
          'filters[0].typed_config.cluster',
          'proxy.required',
          'tcp_proxy needs a cluster or weighted_clusters',
        ),
      ],
    ],
    [
      'a weighted cluster of weight 0 (TcpProxy’s proto: at least 1)',
      weighted({
        clusters: [
          { name: 'a', weight: 1 },
          { name: 'b', weight: 0 },
        ],
      }),
      [error(`${WEIGHTED}.clusters[1].weight`, 'proxy.validate', '0 must be at least 1')],
    ],
    [
      'a weighted cluster without a weight',
      weighted({ clusters: [{ name: 'a' }] }),
      [error(`${WEIGHTED}.clusters[0].weight`, 'proxy.validate', 'is required (0 must be at least 1)')],
    ],
    [
      'a weighted cluster without a name',
      weighted({ clusters: [{ weight: 1 }] }),
      [error(`${WEIGHTED}.clusters[0].name`, 'proxy.validate', 'is required (must not be empty)')],
    ],
    [
      'weighted clusters without a cluster',
      weighted({ clusters: [] }),
      [error(`${WEIGHTED}.clusters`, 'proxy.validate', 'needs at least 1 item(s), got 0')],
    ],
    [
      'both a cluster and weighted clusters',
      tcpProxyFilter('app', { weighted_clusters: { clusters: [{ name: 'a', weight: 1 }] } }),
      [
        error(
          WEIGHTED,
          'proxy.oneof',
          'only one of cluster, weighted_clusters may be set in envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy; "cluster" is set too',
        ),
      ],
    ],
    [
      'a weighted cluster’s metadata_match (subsets are not implemented)',
      weighted({
        clusters: [{ name: 'a', weight: 1, metadata_match: { filter_metadata: { 'envoy.lb': {} } } }],
      }),
      [
        error(
          `${WEIGHTED}.clusters[0].metadata_match`,
          'proxy.unsupported',
          'field "metadata_match" of envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster.ClusterWeight is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
        ),
      ],
    ],
    [
      'no cluster at all',
      { name: 'x', typed_config: any(T.tcpProxy, { stat_prefix: 's' }) },
      [
        error(
          'filters[0].typed_config',
          'proxy.required',
          'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy: one of cluster, weighted_clusters is required',
        ),
      ],
    ],
    [
      'no stat_prefix',
      { name: 'x', typed_config: any(T.tcpProxy, { cluster: 'c' }) },
      [error('filters[0].typed_config.stat_prefix', 'proxy.validate', 'is required (must not be empty)')],
    ],
    [
      'a field Skiff does not implement',
      tcpProxyFilter('app', { max_connect_attempts: 3 }),
      [
        error(
          'filters[0].typed_config.max_connect_attempts',
          'proxy.unsupported',
          'field "max_connect_attempts" of envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
        ),
      ],
    ],
    [
      'a misspelled field',
      tcpProxyFilter('app', { idle_timout: '1s' }),
      [
        error(
          'filters[0].typed_config.idle_timout',
          'proxy.unknown-field',
          'unknown field "idle_timout" in envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy (did you mean "idle_timeout"?)',
        ),
      ],
    ],
    [
      'a duration without its unit',
      tcpProxyFilter('app', { idle_timeout: '30' }),
      [
        error(
          'filters[0].typed_config.idle_timeout',
          'proxy.duration',
          '"30" is not a duration; expected seconds with an "s" suffix, such as "1s" or "0.250s"',
        ),
      ],
    ],
    [
      'its name without a typed_config',
      { name: 'envoy.filters.network.tcp_proxy' },
      [
        error(
          'filters[0].typed_config',
          'proxy.required',
          'network filter "envoy.filters.network.tcp_proxy" needs a typed_config',
        ),
      ],
    ],
  ];
  for (const [what, entry, expected] of cases) {
    it(`refuses ${what}`, () => {
      const t = run(entry);
      assert.equal(t.value, undefined);
      assert.deepEqual(problems(t.diagnostics), expected);
    });
  }

  // The decoder refuses these first (TcpProxy's proto rules); the translation still guards itself when handed
  // such a configuration directly.
  const guards: [string, JsonObject, Problem[]][] = [
    [
      'a weighted cluster of weight 0 and one without a name',
      {
        weighted_clusters: {
          clusters: [{ name: 'a', weight: 0 }, { weight: 2 }],
        },
      },
      [
        error('t.weighted_clusters.clusters[0].weight', 'proxy.weight', 'weight 0 must be at least 1'),
        error('t.weighted_clusters.clusters[1].name', 'proxy.required', 'a weighted cluster needs a name'),
      ],
    ],
    [
      'weighted clusters without a cluster',
      { weighted_clusters: {} },
      [
        error(
          't.weighted_clusters.clusters',
          'proxy.required',
          'weighted_clusters needs at least one cluster',
        ),
      ],
    ],
    [
      'a cluster and weighted clusters',
      { cluster: 'a', weighted_clusters: { clusters: [{ name: 'b', weight: 1 }] } },
      [error('t.weighted_clusters', 'proxy.oneof', 'only one of cluster and weighted_clusters may be set')],
    ],
  ];
  for (const [what, typed, expected] of guards) {
    it(`refuses ${what} in its own translation`, () => {
      const ctx = context();
      TCP_PROXY.translate({ stat_prefix: 's', ...typed }, ['t'], ctx);
      assert.deepEqual(problems(ctx.diagnostics), expected);
    });
  }

  it('is not an HTTP filter', () => {
    const t = translateEntry('envoy.filters.http', tcpProxyFilter());
    assert.deepEqual(
      problems(t.diagnostics).map((p) => [p.path, p.code]),
      [['filters[0]', 'proxy.unsupported']],
    );
    assert.match(
      t.diagnostics[0]?.message ?? '',
      /does not belong here: it is an envoy\.filters\.network extension/,
    );
  });
});
