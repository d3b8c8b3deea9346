// `envoy.filters.network.tcp_proxy` as a registered extension: its TcpProxy fields, Envoy's default idle timeout,
// the cluster it names (a reference, not checked here) and each problem at its path.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../../../src/proxy/config/json.js';
import { TCP_IDLE_TIMEOUT_MS, TCP_PROXY } from '../../../../src/proxy/filters/tcp-proxy/config.js';
import { TCP_PROXY_EXTENSION } from '../../../../src/proxy/filters/tcp-proxy/index.js';
import {
  any,
  error,
  type Problem,
  problems,
  refsOf,
  T,
  tcpProxyFilter,
  translateEntry,
} from '../../config/fixtures.js';

const run = (entry: JsonObject) => translateEntry('envoy.filters.network', entry);

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
});

describe('tcp_proxy: problems, each at its path', () => {
  const cases: [string, JsonObject, Problem[]][] = [
    [
      'an empty cluster',
      tcpProxyFilter(''),
      [
        error(
          'filters[0].typed_config.cluster',
          'proxy.unsupported',
          'tcp_proxy needs a cluster (weighted_clusters and on-demand are not implemented)',
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
