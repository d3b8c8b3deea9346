// /stats and /stats?format=json in Envoy's shapes: sorted `name: value` lines with counters and gauges interleaved,
// histograms after them as quantile summaries, ?filter= and ?usedonly.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderStatsJson, renderStatsText, StatsStore } from '../../../src/proxy/stats/index.js';

function sample(): StatsStore {
  const store = new StatsStore();
  store.counter('tls_inspector.tls_found').inc(3);
  store.counter('cluster.inbound|9080||.upstream_cx_total');
  store.gauge('cluster.inbound|9080||.upstream_cx_active').set(2);
  const connect = store.histogram('cluster.inbound|9080||.upstream_cx_connect_ms');
  for (let i = 0; i < 4; i++) connect.record(1);
  store.histogram('listener.0.0.0.0_15006.downstream_cx_length_ms');
  store
    .counterFamily('skiff_permissive_plaintext_connections_total', 'Plaintext.', [
      'listener',
      'source_address',
    ])
    .get(['virtualInbound', '10.0.0.9'])
    .inc();
  return store;
}

const ALL_ONES =
  'P0(nan,1) P25(nan,1) P50(nan,1) P75(nan,1) P90(nan,1) P95(nan,1) P99(nan,1) P99.5(nan,1) P99.9(nan,1) P100(nan,1)';

describe('renderStatsText', () => {
  it('prints counters and gauges sorted together, then histograms', () => {
    assert.equal(
      renderStatsText(sample()),
      [
        'cluster.inbound|9080||.upstream_cx_active: 2',
        'cluster.inbound|9080||.upstream_cx_total: 0',
        'skiff.stats.overflow: 0',
        'skiff_permissive_plaintext_connections_total{listener="virtualInbound",source_address="10.0.0.9"}: 1',
        'tls_inspector.tls_found: 3',
        `cluster.inbound|9080||.upstream_cx_connect_ms: ${ALL_ONES}`,
        'listener.0.0.0.0_15006.downstream_cx_length_ms: No recorded values',
        '',
      ].join('\n'),
    );
  });

  it('keeps what ?filter= finds anywhere in the name, even with a global regex used twice', () => {
    const store = sample();
    const filter = /upstream_cx_(active|connect)/g;
    const expected = `cluster.inbound|9080||.upstream_cx_active: 2\ncluster.inbound|9080||.upstream_cx_connect_ms: ${ALL_ONES}\n`;
    assert.equal(renderStatsText(store, { filter }), expected);
    assert.equal(renderStatsText(store, { filter }), expected);
  });

  it('keeps only updated stats with ?usedonly', () => {
    assert.equal(
      renderStatsText(sample(), { usedOnly: true }),
      [
        'cluster.inbound|9080||.upstream_cx_active: 2',
        'skiff_permissive_plaintext_connections_total{listener="virtualInbound",source_address="10.0.0.9"}: 1',
        'tls_inspector.tls_found: 3',
        `cluster.inbound|9080||.upstream_cx_connect_ms: ${ALL_ONES}`,
        '',
      ].join('\n'),
    );
  });

  it('prints an estimated cumulative quantile between bucket bounds', () => {
    const store = new StatsStore();
    const h = store.histogram('h', [10, 20]);
    for (let v = 1; v <= 20; v++) h.record(v);
    assert.match(
      renderStatsText(store, { filter: /^h$/ }),
      /^h: P0\(nan,1\) P25\(nan,5\.5\) P50\(nan,10\) P75\(nan,15\) /,
    );
  });
});

describe('renderStatsJson', () => {
  it("has Envoy's shape: stats entries, then one histograms entry with supported and computed quantiles", () => {
    const json: unknown = JSON.parse(renderStatsJson(sample()));
    const ones = Array.from({ length: 10 }, () => ({ interval: null, cumulative: 1 }));
    const nulls = Array.from({ length: 10 }, () => ({ interval: null, cumulative: null }));
    assert.deepEqual(json, {
      stats: [
        { name: 'cluster.inbound|9080||.upstream_cx_active', value: 2 },
        { name: 'cluster.inbound|9080||.upstream_cx_total', value: 0 },
        { name: 'skiff.stats.overflow', value: 0 },
        {
          name: 'skiff_permissive_plaintext_connections_total{listener="virtualInbound",source_address="10.0.0.9"}',
          value: 1,
        },
        { name: 'tls_inspector.tls_found', value: 3 },
        {
          histograms: {
            supported_quantiles: [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100],
            computed_quantiles: [
              { name: 'cluster.inbound|9080||.upstream_cx_connect_ms', values: ones },
              { name: 'listener.0.0.0.0_15006.downstream_cx_length_ms', values: nulls },
            ],
          },
        },
      ],
    });
  });

  it('is `{"stats":[]}` when the filter matches nothing, as in Envoy', () => {
    assert.equal(renderStatsJson(sample(), { filter: /not_intended_to_appear/ }), '{"stats":[]}');
  });

  it('filters and drops unused stats like the text form', () => {
    const json = JSON.parse(
      renderStatsJson(sample(), { usedOnly: true, filter: /^tls|connect_ms/ }),
    ) as unknown;
    assert.deepEqual(json, {
      stats: [
        { name: 'tls_inspector.tls_found', value: 3 },
        {
          histograms: {
            supported_quantiles: [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100],
            computed_quantiles: [
              {
                name: 'cluster.inbound|9080||.upstream_cx_connect_ms',
                values: Array.from({ length: 10 }, () => ({ interval: null, cumulative: 1 })),
              },
            ],
          },
        },
      ],
    });
  });
});
