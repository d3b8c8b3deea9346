// The store's contract: one object per name, plain numeric updates, histogram buckets and quantiles, families with
// a cardinality cap, and each stat's Prometheus identity computed when it is created.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_HISTOGRAM_BUCKETS,
  ISTIO_TAG_RULES,
  OVERFLOW_STAT,
  StatsStore,
} from '../../../src/proxy/stats/index.js';

describe('StatsStore: named stats', () => {
  it('returns the same object for the same name', () => {
    const store = new StatsStore();
    const c = store.counter('cluster.inbound|9080||.upstream_cx_total');
    assert.equal(store.counter('cluster.inbound|9080||.upstream_cx_total'), c);
    const g = store.gauge('cluster.inbound|9080||.upstream_cx_active');
    assert.equal(store.gauge('cluster.inbound|9080||.upstream_cx_active'), g);
    const h = store.histogram('cluster.inbound|9080||.upstream_cx_connect_ms');
    assert.equal(store.histogram('cluster.inbound|9080||.upstream_cx_connect_ms', [1, 2]), h);
    assert.deepEqual(h.bounds, DEFAULT_HISTOGRAM_BUCKETS);
  });

  it('counts with plain fields and marks a stat used on its first update', () => {
    const store = new StatsStore();
    const c = store.counter('tls_inspector.tls_found');
    const g = store.gauge('listener.0.0.0.0_15006.downstream_cx_active');
    assert.equal(c.used, false);
    c.inc();
    c.inc(4);
    c.add(5);
    assert.equal(c.value, 10);
    assert.equal(c.used, true);
    g.inc();
    g.inc();
    g.dec();
    g.add(3);
    g.sub(1);
    assert.equal(g.value, 3);
    g.set(7);
    assert.equal(g.value, 7);
    assert.equal(g.used, true);
  });

  it('refuses one name as two types', () => {
    const store = new StatsStore();
    store.counter('server.x');
    assert.throws(() => store.gauge('server.x'), /another type/);
    assert.throws(() => store.histogram('server.x'), /another type/);
  });

  it("works out the Prometheus name and labels when the stat is created, with the store's rules", () => {
    const c = new StatsStore().counter(
      'cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_rq_200',
    );
    assert.deepEqual(c.series, {
      metric: 'envoy_cluster_upstream_rq',
      labels:
        'envoy_response_code="200",envoy_cluster_name="outbound|9080||reviews.default.svc.cluster.local"',
    });
    const istio = new StatsStore({ tagRules: ISTIO_TAG_RULES }).counter(
      'listener.0.0.0.0_15006.downstream_cx_total',
    );
    assert.deepEqual(istio.series, {
      metric: 'envoy_listener_downstream_cx_total',
      labels: 'listener_address="0.0.0.0_15006"',
    });
  });
});

describe('Histogram', () => {
  it("uses Envoy's 19 default buckets", () => {
    assert.deepEqual(
      [...DEFAULT_HISTOGRAM_BUCKETS],
      [
        0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
        3600000,
      ],
    );
  });

  it('counts a value into the first bucket whose bound is >= it, cumulative on the way out', () => {
    const h = new StatsStore().histogram('cluster.c.upstream_cx_connect_ms');
    for (const v of [0, 0.5, 0.7, 1, 5, 7, 3600000, 3600001]) h.record(v);
    const cumulative = h.cumulativeCounts();
    assert.equal(cumulative.length, 19);
    assert.deepEqual(cumulative.slice(0, 5), [2, 4, 5, 6, 6]);
    assert.equal(cumulative[18], 7);
    assert.equal(h.count, 8);
    assert.equal(h.sum, 0 + 0.5 + 0.7 + 1 + 5 + 7 + 3600000 + 3600001);
    assert.equal(h.min, 0);
    assert.equal(h.max, 3600001);
    for (let i = 1; i < cumulative.length; i++) assert.ok((cumulative[i] ?? 0) >= (cumulative[i - 1] ?? 0));
  });

  it('estimates quantiles inside buckets, exact at the ends, NaN when empty', () => {
    const h = new StatsStore().histogram('h', [10, 20]);
    assert.ok(Number.isNaN(h.quantile(0.5)));
    for (let v = 1; v <= 20; v++) h.record(v);
    assert.equal(h.quantile(0), 1);
    assert.equal(h.quantile(1), 20);
    assert.equal(h.quantile(0.5), 10);
    assert.equal(h.quantile(0.75), 15);
    const one = new StatsStore().histogram('one');
    one.record(42);
    assert.equal(one.quantile(0.5), 42);
  });

  it('takes custom bounds only when ascending and finite', () => {
    const store = new StatsStore();
    assert.deepEqual(store.histogram('a', [1, 2, 3]).bounds, [1, 2, 3]);
    assert.throws(() => store.histogram('b', [2, 1]), /ascending/);
    assert.throws(() => store.histogram('c', [1, Number.POSITIVE_INFINITY]), /ascending/);
  });
});

describe('families', () => {
  it('returns a cached child per label values, labels preformatted and escaped', () => {
    const store = new StatsStore();
    const fam = store.counterFamily('skiff_test_total', 'Test.', ['a', 'b']);
    const child = fam.get(['x', 'y"\\\n']);
    assert.equal(fam.get(['x', 'y"\\\n']), child);
    assert.notEqual(fam.get(['x', 'z']), child);
    assert.deepEqual(child.series, { metric: 'skiff_test_total', labels: 'a="x",b="y\\"\\\\\\n"' });
    assert.equal(child.name, 'skiff_test_total{a="x",b="y\\"\\\\\\n"}');
    assert.throws(() => fam.get(['only one']), /1 label values for 2 labels/);
  });

  it('returns the same family again, and refuses a clash or a bad name', () => {
    const store = new StatsStore();
    const fam = store.counterFamily('istio_requests_total', 'Requests.', ['reporter']);
    assert.equal(store.counterFamily('istio_requests_total', 'Requests.', ['reporter']), fam);
    assert.throws(
      () => store.gaugeFamily('istio_requests_total', 'x', ['reporter']),
      /another type or labels/,
    );
    assert.throws(
      () => store.counterFamily('istio_requests_total', 'x', ['source']),
      /another type or labels/,
    );
    assert.throws(() => store.counterFamily('istio.requests', 'x', []), /not a Prometheus name/);
    assert.throws(() => store.counterFamily('ok_total', 'x', ['le']), /not allowed/);
    assert.throws(() => store.histogramFamily('ok_ms', 'x', ['a-b']), /not allowed/);
    assert.throws(() => store.counterFamily('ok2_total', 'x', ['a', 'a']), /repeat/);
  });

  it('sends label combinations past maxSeries to one "overflow" child and counts it', () => {
    const store = new StatsStore({ maxSeries: 2 });
    const overflow = store.counter(OVERFLOW_STAT);
    assert.equal(store.overflow, overflow);
    const fam = store.counterFamily('skiff_permissive_plaintext_connections_total', 'Plaintext.', [
      'listener',
      'source',
    ]);
    const a = fam.get(['l', '10.0.0.1']);
    const b = fam.get(['l', '10.0.0.2']);
    const c = fam.get(['l', '10.0.0.3']);
    const d = fam.get(['l', '10.0.0.4']);
    assert.equal(c, d);
    assert.equal(c.series.labels, 'listener="overflow",source="overflow"');
    assert.equal(fam.get(['l', '10.0.0.1']), a, 'children made before the cap stay');
    assert.equal(fam.get(['l', '10.0.0.2']), b);
    assert.equal(overflow.value, 2);
    assert.equal([...fam.series()].length, 3);
  });

  it('caps each family separately and gives histogram children the family buckets', () => {
    const store = new StatsStore({ maxSeries: 1 });
    const durations = store.histogramFamily('istio_request_duration_milliseconds', 'Duration.', ['reporter']);
    const sizes = store.histogramFamily('skiff_sizes', 'Sizes.', ['reporter'], [1, 10]);
    const h = durations.get(['destination']);
    assert.deepEqual(h.bounds, DEFAULT_HISTOGRAM_BUCKETS);
    assert.deepEqual(sizes.get(['destination']).bounds, [1, 10]);
    assert.equal(store.overflow.value, 0);
    assert.equal(durations.get(['source']).series.labels, 'reporter="overflow"');
    assert.equal(store.overflow.value, 1);
    const g = store.gaugeFamily('skiff_gauge', 'G.', []);
    assert.equal(g.get([]).name, 'skiff_gauge');
  });
});
