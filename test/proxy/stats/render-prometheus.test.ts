// /stats/prometheus: Envoy's names and labels from tag extraction, groups with one # TYPE each, histograms with
// cumulative buckets, families with # HELP, escaping, and a small exposition-format parser that checks the whole
// scrape is well formed.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_HISTOGRAM_BUCKETS,
  ISTIO_TAG_RULES,
  renderPrometheus,
  StatsStore,
} from '../../../src/proxy/stats/index.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  type: string;
  help?: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  assert.match(text, /^-?\d+(\.\d+)?(e[+-]?\d+)?$/, `value ${text}`);
  return Number(text);
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text);
    assert.ok(m, `labels {${text}}`);
    const [, key = '', raw = ''] = m;
    assert.equal(labels[key], undefined, `label ${key} repeated`);
    labels[key] = raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

/** The text format's rules that matter here: one TYPE (and HELP) per family, before its samples; families contiguous. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  let current = '';
  const enter = (name: string) => {
    if (name === current) return;
    assert.ok(!closed.has(name), `family ${name} is split`);
    if (current !== '') closed.add(current);
    current = name;
  };
  assert.ok(text.endsWith('\n'));
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      const [, kind = '', name = '', rest = ''] = comment;
      assert.match(name, NAME);
      enter(name);
      const family = families.get(name) ?? { type: 'untyped', samples: [] };
      assert.equal(family.samples.length, 0, `${kind} of ${name} after its samples`);
      if (kind === 'TYPE') {
        assert.equal(families.get(name)?.type ?? 'untyped', 'untyped', `second TYPE for ${name}`);
        assert.ok(['counter', 'gauge', 'histogram'].includes(rest), `type ${rest}`);
        family.type = rest;
      } else {
        assert.equal(family.help, undefined, `second HELP for ${name}`);
        family.help = rest;
      }
      families.set(name, family);
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `sample line: ${line}`);
    const [, name = '', labels = '', value = ''] = m;
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const owner = families.get(base)?.type === 'histogram' ? base : name;
    const family = families.get(owner);
    assert.ok(family, `sample ${name} without a TYPE line`);
    enter(owner);
    family.samples.push({ name, labels: parseLabels(labels), value: parseValue(value) });
  }
  return families;
}

/** Every histogram series: cumulative buckets, +Inf equal to _count. */
function checkHistograms(families: Map<string, Family>): void {
  for (const [name, family] of families) {
    if (family.type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const s of family.samples) {
      const { le: _le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const samples of series.values()) {
      const buckets = samples.filter((s) => s.name === `${name}_bucket`);
      assert.equal(buckets.length, DEFAULT_HISTOGRAM_BUCKETS.length + 1);
      for (let i = 1; i < buckets.length; i++)
        assert.ok((buckets[i]?.value ?? 0) >= (buckets[i - 1]?.value ?? 0));
      assert.equal(buckets.at(-1)?.labels.le, '+Inf');
      assert.equal(buckets.at(-1)?.value, samples.find((s) => s.name === `${name}_count`)?.value);
      assert.ok(samples.some((s) => s.name === `${name}_sum`));
    }
  }
}

function bucketLines(metric: string, labels: string, values: readonly number[]): string {
  const lead = labels === '' ? '' : `${labels},`;
  return DEFAULT_HISTOGRAM_BUCKETS.map((b, i) => `${metric}_bucket{${lead}le="${b}"} ${values[i]}\n`).join(
    '',
  );
}

describe('renderPrometheus', () => {
  it("names and labels Envoy stats with Envoy's tag extraction, one group per name, counters then gauges then histograms", () => {
    const store = new StatsStore();
    store.counter('listener.127.0.0.1_15006.downstream_cx_total').inc(2);
    store.counter('listener.127.0.0.1_15006.ssl.handshake').inc();
    store.counter('cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_cx_total').inc(3);
    store.counter('cluster.inbound|9080||.upstream_cx_total').inc();
    store.counter('http.inbound_8080.downstream_rq_2xx').inc(4);
    store.counter('tcp.inbound_9080.downstream_cx_total');
    store.counter('listener_manager.listener_added');
    store.counter('tls_inspector.tls_found');
    store.gauge('server.live').set(1);
    store.histogram('cluster.inbound|9080||.upstream_cx_connect_ms').record(3);
    store
      .counterFamily('istio_requests_total', 'Total requests.', ['reporter', 'connection_security_policy'])
      .get(['destination', 'mutual_tls'])
      .inc();

    const connect = DEFAULT_HISTOGRAM_BUCKETS.map((b) => (b >= 3 ? 1 : 0));
    assert.equal(
      renderPrometheus(store),
      [
        '# TYPE envoy_cluster_upstream_cx_total counter',
        'envoy_cluster_upstream_cx_total{envoy_cluster_name="inbound|9080||"} 1',
        'envoy_cluster_upstream_cx_total{envoy_cluster_name="outbound|9080||reviews.default.svc.cluster.local"} 3',
        '',
        '# TYPE envoy_http_downstream_rq_xx counter',
        'envoy_http_downstream_rq_xx{envoy_response_code_class="2",envoy_http_conn_manager_prefix="inbound_8080"} 4',
        '',
        '# TYPE envoy_listener_downstream_cx_total counter',
        'envoy_listener_downstream_cx_total{envoy_listener_address="127.0.0.1_15006"} 2',
        '',
        '# TYPE envoy_listener_manager_listener_added counter',
        'envoy_listener_manager_listener_added{} 0',
        '',
        '# TYPE envoy_listener_ssl_handshake counter',
        'envoy_listener_ssl_handshake{envoy_listener_address="127.0.0.1_15006"} 1',
        '',
        '# TYPE envoy_skiff_stats_overflow counter',
        'envoy_skiff_stats_overflow{} 0',
        '',
        '# TYPE envoy_tcp_downstream_cx_total counter',
        'envoy_tcp_downstream_cx_total{envoy_tcp_prefix="inbound_9080"} 0',
        '',
        '# TYPE envoy_tls_inspector_tls_found counter',
        'envoy_tls_inspector_tls_found{} 0',
        '',
        '# HELP istio_requests_total Total requests.',
        '# TYPE istio_requests_total counter',
        'istio_requests_total{reporter="destination",connection_security_policy="mutual_tls"} 1',
        '',
        '# TYPE envoy_server_live gauge',
        'envoy_server_live{} 1',
        '',
        '# TYPE envoy_cluster_upstream_cx_connect_ms histogram',
        bucketLines('envoy_cluster_upstream_cx_connect_ms', 'envoy_cluster_name="inbound|9080||"', connect) +
          'envoy_cluster_upstream_cx_connect_ms_bucket{envoy_cluster_name="inbound|9080||",le="+Inf"} 1',
        'envoy_cluster_upstream_cx_connect_ms_sum{envoy_cluster_name="inbound|9080||"} 3',
        'envoy_cluster_upstream_cx_connect_ms_count{envoy_cluster_name="inbound|9080||"} 1',
        '',
        '',
      ].join('\n'),
    );
  });

  it('prints the 19 `le` bounds as Envoy does, then +Inf, _sum and _count, for a tagless histogram too', () => {
    const store = new StatsStore();
    const h = store.histogram('server.initialization_time_ms');
    for (const v of [0.2, 7, 7, 4000000]) h.record(v);
    const text = renderPrometheus(store, { filter: /^server/ });
    const cumulative = DEFAULT_HISTOGRAM_BUCKETS.map((b) => [0.2, 7, 7].filter((v) => v <= b).length);
    assert.equal(
      text,
      '# TYPE envoy_server_initialization_time_ms histogram\n' +
        bucketLines('envoy_server_initialization_time_ms', '', cumulative) +
        'envoy_server_initialization_time_ms_bucket{le="+Inf"} 4\n' +
        'envoy_server_initialization_time_ms_sum{} 4000014.2\n' +
        'envoy_server_initialization_time_ms_count{} 4\n\n',
    );
    assert.match(text, /le="0\.5"\} 1\n.*le="1"\} 1\n.*le="5"\} 1\n.*le="10"\} 3\n/s);
    assert.match(text, /le="3600000"\} 3\n/);
  });

  it('renders families verbatim with HELP, escaping label values and help text', () => {
    const store = new StatsStore();
    store
      .counterFamily('skiff_odd_total', 'Line one\nback\\slash.', ['v'])
      .get(['a "quoted" \\ value\nline'])
      .inc();
    assert.equal(
      renderPrometheus(store, { filter: /^skiff_odd/ }),
      '# HELP skiff_odd_total Line one\\nback\\\\slash.\n' +
        '# TYPE skiff_odd_total counter\n' +
        'skiff_odd_total{v="a \\"quoted\\" \\\\ value\\nline"} 1\n\n',
    );
  });

  it('applies ?usedonly and ?filter like /stats', () => {
    const store = new StatsStore();
    store.counter('cluster.a.upstream_cx_total').inc();
    store.counter('cluster.b.upstream_cx_total');
    assert.equal(
      renderPrometheus(store, { usedOnly: true }),
      '# TYPE envoy_cluster_upstream_cx_total counter\nenvoy_cluster_upstream_cx_total{envoy_cluster_name="a"} 1\n\n',
    );
    assert.equal(renderPrometheus(store, { filter: /nothing/ }), '');
  });

  it("labels as an Istio sidecar does with Istio's bootstrap rules", () => {
    const store = new StatsStore({ tagRules: ISTIO_TAG_RULES });
    store.counter('cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_rq_2xx').inc();
    store.counter('cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_rq_200').inc();
    assert.equal(
      renderPrometheus(store, { usedOnly: true }),
      '# TYPE envoy_cluster_upstream_rq counter\n' +
        'envoy_cluster_upstream_rq{response_code="200",cluster_name="outbound|9080||reviews.default.svc.cluster.local"} 1\n' +
        'envoy_cluster_upstream_rq{response_code_class="2xx",cluster_name="outbound|9080||reviews.default.svc.cluster.local"} 1\n\n',
    );
  });

  it('produces a scrape that parses: TYPE once per family, contiguous families, valid names, cumulative buckets', () => {
    const store = new StatsStore({ maxSeries: 3 });
    for (const cluster of [
      'inbound|9080||',
      'outbound|9080||reviews.default.svc.cluster.local',
      'xds-grpc',
    ]) {
      store.counter(`cluster.${cluster}.upstream_cx_total`).inc();
      store.gauge(`cluster.${cluster}.upstream_cx_active`).set(1);
      store.counter(`cluster.${cluster}.upstream_rq_200`).inc();
      store.counter(`cluster.${cluster}.upstream_rq_2xx`).inc();
      store.counter(`cluster.${cluster}.ssl.ciphers.TLS_AES_128_GCM_SHA256`).inc();
      store.counter(`cluster.${cluster}.ssl.versions.TLSv1.3`).inc();
      store.histogram(`cluster.${cluster}.upstream_cx_connect_ms`).record(2);
    }
    for (const listener of ['0.0.0.0_15006', '0.0.0.0_15001', '[__1]_15006', 'virtualInbound']) {
      store.counter(`listener.${listener}.downstream_cx_total`).inc();
      store.counter(`listener.${listener}.ssl.handshake`).inc();
      store.counter(`listener.${listener}.ssl.curves.X25519`).inc();
    }
    store.counter('listener.admin.http.admin.downstream_rq_4xx').inc();
    store.counter('tls_inspector.tls_not_found').inc();
    store.gauge('server.uptime').set(12.5);
    store.gauge('server.weird').set(-3);
    const requests = store.counterFamily('istio_requests_total', 'Requests.', ['reporter', 'response_code']);
    const duration = store.histogramFamily('istio_request_duration_milliseconds', 'Duration.', ['reporter']);
    for (const code of ['200', '404', '503', '500', 'quote"d']) requests.get(['destination', code]).inc();
    duration.get(['destination']).record(12);
    duration.get(['source']).record(1200);
    store.gaugeFamily('skiff_empty', 'No series yet.', ['x']);

    const text = renderPrometheus(store);
    const families = parseExposition(text);
    checkHistograms(families);
    assert.equal(families.get('envoy_cluster_upstream_cx_total')?.samples.length, 3);
    assert.equal(families.get('envoy_cluster_upstream_rq')?.samples.length, 3);
    assert.equal(
      families.get('envoy_cluster_upstream_rq_xx')?.samples[0]?.labels.envoy_response_code_class,
      '2',
    );
    assert.deepEqual(
      families.get('envoy_cluster_ssl_versions')?.samples.map((s) => s.labels.envoy_cluster_name),
      ['inbound|9080||', 'outbound|9080||reviews.default.svc.cluster.local', 'xds-grpc'],
    );
    assert.equal(families.get('envoy_listener_ssl_curves')?.samples.length, 4);
    assert.equal(families.get('envoy_listener_virtualInbound_ssl_curves'), undefined);
    assert.equal(
      families.get('envoy_listener_admin_http_downstream_rq_xx')?.samples[0]?.labels
        .envoy_http_conn_manager_prefix,
      'admin',
    );
    assert.equal(families.get('istio_requests_total')?.help, 'Requests.');
    assert.deepEqual(
      families.get('istio_requests_total')?.samples.map((s) => s.labels.response_code),
      ['200', '404', '503', 'overflow'],
    );
    assert.equal(families.get('envoy_skiff_stats_overflow')?.samples[0]?.value, 2);
    assert.equal(families.get('istio_request_duration_milliseconds')?.type, 'histogram');
    assert.equal(families.get('envoy_server_weird')?.samples[0]?.value, -3);
    assert.equal(families.has('skiff_empty'), false);
  });
});
