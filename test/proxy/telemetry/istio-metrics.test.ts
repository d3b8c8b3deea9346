// Istio's metrics as /stats/prometheus renders them beside Envoy's statistics: the exact lines of both reporters
// (every label, Envoy's 19 buckets, +Inf, _sum, _count, no # HELP), istio_build, TCP reporting on Istio's timing
// with a manual clock, and the interning that keeps label strings off the per-request path.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderPrometheus, StatsStore } from '../../../src/proxy/stats/index.js';
import {
  IstioMetrics,
  type ScheduledTask,
  type TcpConnectionProbe,
  type TelemetryScheduler,
  timerScheduler,
} from '../../../src/proxy/telemetry/index.js';
import {
  ENVOY_BUCKETS_LE as LE,
  ownA,
  ownB,
  peerA,
  peerB,
  SPIFFE_A,
  SPIFFE_B,
  serviceB,
} from './fixtures.js';

/** The lines of one histogram series: 19 buckets with their cumulative counts, +Inf, _sum, _count. */
function histogram(
  metric: string,
  labels: string,
  cumulative: readonly number[],
  sum: number,
  count: number,
) {
  assert.equal(cumulative.length, 19);
  return [
    ...LE.map((le, i) => `${metric}_bucket{${labels},le="${le}"} ${cumulative[i]}`),
    `${metric}_bucket{${labels},le="+Inf"} ${count}`,
    `${metric}_sum{${labels}} ${sum}`,
    `${metric}_count{${labels}} ${count}`,
  ];
}

const DEST_MTLS =
  'reporter="destination",source_workload="service-a",source_canonical_service="service-a",' +
  'source_canonical_revision="v1",source_workload_namespace="shop",' +
  'source_principal="spiffe://cluster.local/ns/shop/sa/service-a",source_app="service-a",source_version="v1",' +
  'source_cluster="Kubernetes",destination_workload="service-b",destination_workload_namespace="shop",' +
  'destination_principal="spiffe://cluster.local/ns/shop/sa/service-b",destination_app="service-b",' +
  'destination_version="v1",destination_service="service-b.shop.svc.cluster.local",' +
  'destination_canonical_service="service-b",destination_canonical_revision="v1",' +
  'destination_service_name="service-b",destination_service_namespace="shop",destination_cluster="Kubernetes",' +
  'request_protocol="http",response_code="200",grpc_response_status="",response_flags="-",' +
  'connection_security_policy="mutual_tls"';

const DEST_PLAIN =
  'reporter="destination",source_workload="unknown",source_canonical_service="unknown",' +
  'source_canonical_revision="latest",source_workload_namespace="unknown",source_principal="unknown",' +
  'source_app="unknown",source_version="unknown",source_cluster="unknown",destination_workload="service-b",' +
  'destination_workload_namespace="shop",destination_principal="unknown",destination_app="service-b",' +
  'destination_version="v1",destination_service="service-b.shop.svc.cluster.local",' +
  'destination_canonical_service="service-b",destination_canonical_revision="v1",' +
  'destination_service_name="service-b",destination_service_namespace="shop",destination_cluster="Kubernetes",' +
  'request_protocol="http",response_code="200",grpc_response_status="",response_flags="-",' +
  'connection_security_policy="none"';

const SOURCE_MTLS_GRPC =
  'reporter="source",source_workload="service-a",source_canonical_service="service-a",' +
  'source_canonical_revision="v1",source_workload_namespace="shop",' +
  'source_principal="spiffe://cluster.local/ns/shop/sa/service-a",source_app="service-a",source_version="v1",' +
  'source_cluster="Kubernetes",destination_workload="service-b",destination_workload_namespace="shop",' +
  'destination_principal="spiffe://cluster.local/ns/shop/sa/service-b",destination_app="service-b",' +
  'destination_version="v1",destination_service="service-b.shop.svc.cluster.local",' +
  'destination_canonical_service="service-b",destination_canonical_revision="v1",' +
  'destination_service_name="service-b",destination_service_namespace="shop",destination_cluster="Kubernetes",' +
  'request_protocol="grpc",response_code="200",grpc_response_status="14",response_flags="-",' +
  'connection_security_policy="mutual_tls"';

describe('HTTP metrics, exact /stats/prometheus output', () => {
  it('reporter="destination": one scrape with Envoy stats, no # HELP, every label, all buckets', () => {
    const store = new StatsStore();
    const metrics = new IstioMetrics(store, ownB, { istioVersion: '1.24.0' });
    const mtls = metrics.labels({
      reporter: 'destination',
      peer: peerA,
      peerPrincipal: SPIFFE_A,
      localPrincipal: SPIFFE_B,
      service: serviceB,
    });
    metrics.recordRequest(mtls, {
      protocol: 'http',
      responseCode: 200,
      grpcStatus: undefined,
      responseFlags: '-',
      durationMs: 3.97, // truncated to 3, as Envoy records whole milliseconds
      requestBytes: 120,
      responseBytes: 260,
    });
    mtls.http('http', 200, undefined, '-').record(12, 120, 4000);
    const plain = metrics.labels({
      reporter: 'destination',
      peer: undefined,
      peerPrincipal: undefined,
      localPrincipal: undefined,
      service: serviceB,
    });
    plain.http('http', 200, undefined, '-').record(0.4, 80, 100);

    const expected = [
      '# TYPE envoy_skiff_stats_overflow counter',
      'envoy_skiff_stats_overflow{} 0',
      '',
      '# TYPE istio_requests_total counter',
      `istio_requests_total{${DEST_MTLS}} 2`,
      `istio_requests_total{${DEST_PLAIN}} 1`,
      '',
      '# TYPE istio_build gauge',
      'istio_build{component="proxy",tag="1.24.0"} 1',
      '',
      '# TYPE istio_request_bytes histogram',
      ...histogram(
        'istio_request_bytes',
        DEST_MTLS,
        [0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
        240,
        2,
      ),
      ...histogram(
        'istio_request_bytes',
        DEST_PLAIN,
        [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        80,
        1,
      ),
      '',
      '# TYPE istio_request_duration_milliseconds histogram',
      ...histogram(
        'istio_request_duration_milliseconds',
        DEST_MTLS,
        [0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
        15,
        2,
      ),
      ...histogram(
        'istio_request_duration_milliseconds',
        DEST_PLAIN,
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        0,
        1,
      ),
      '',
      '# TYPE istio_response_bytes histogram',
      ...histogram(
        'istio_response_bytes',
        DEST_MTLS,
        [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2],
        4260,
        2,
      ),
      ...histogram(
        'istio_response_bytes',
        DEST_PLAIN,
        [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        100,
        1,
      ),
      '',
      '',
    ].join('\n');
    assert.equal(renderPrometheus(store), expected);
  });

  it('reporter="source": gRPC with an inferred status and Skiff’s mutual_tls', () => {
    const store = new StatsStore();
    const metrics = new IstioMetrics(store, ownA);
    const labels = metrics.connection('source', SPIFFE_B, SPIFFE_A, 'mutual_tls').labels(peerB, serviceB);
    labels.http('grpc', 200, 14, '-').record(250, 30, 45);
    const text = renderPrometheus(store);
    assert.ok(text.includes(`\nistio_requests_total{${SOURCE_MTLS_GRPC}} 1\n`), text);
    assert.ok(text.includes('\nistio_build{component="proxy",tag="unknown"} 1\n'));
    const lines = text.split('\n');
    const duration = lines.filter((l) => l.startsWith('istio_request_duration_milliseconds'));
    assert.deepEqual(
      duration,
      histogram(
        'istio_request_duration_milliseconds',
        SOURCE_MTLS_GRPC,
        [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        250,
        1,
      ),
    );
  });

  it('a value on a bucket bound counts in that bucket (le), and the last bucket is 3600000', () => {
    const store = new StatsStore();
    const metrics = new IstioMetrics(store, ownB);
    const series = metrics
      .connection('destination', undefined, undefined)
      .labels(undefined, undefined)
      .http('http', 503, undefined, 'UF');
    series.record(5, 3600000, 3600001);
    assert.deepEqual(
      [...series.duration.cumulativeCounts()],
      [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    );
    assert.equal(series.requestBytes.cumulativeCounts()[18], 1);
    assert.equal(series.responseBytes.cumulativeCounts()[18], 0);
    assert.equal(series.responseBytes.count, 1);
  });
});

/** A scheduler driven by hand: `advance(ms)` runs the ticks that fall due. */
class ManualScheduler implements TelemetryScheduler {
  now = 0;
  private tasks: Array<{ at: number; every: number; run: () => void; live: boolean }> = [];

  every(intervalMs: number, task: () => void): ScheduledTask {
    const entry = { at: this.now + intervalMs, every: intervalMs, run: task, live: true };
    this.tasks.push(entry);
    return {
      cancel: () => {
        entry.live = false;
      },
    };
  }

  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = this.tasks.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.now = due.at;
      due.at += due.every;
      due.run();
    }
    this.now = end;
  }

  get live(): number {
    return this.tasks.filter((t) => t.live).length;
  }
}

const TCP_DEST =
  'reporter="destination",source_workload="service-a",source_canonical_service="service-a",' +
  'source_canonical_revision="v1",source_workload_namespace="shop",' +
  'source_principal="spiffe://cluster.local/ns/shop/sa/service-a",source_app="service-a",source_version="v1",' +
  'source_cluster="Kubernetes",destination_workload="service-b",destination_workload_namespace="shop",' +
  'destination_principal="spiffe://cluster.local/ns/shop/sa/service-b",destination_app="service-b",' +
  'destination_version="v1",destination_service="service-b.shop.svc.cluster.local",' +
  'destination_canonical_service="service-b",destination_canonical_revision="v1",' +
  'destination_service_name="service-b",destination_service_namespace="shop",destination_cluster="Kubernetes",' +
  'request_protocol="tcp",response_flags="-",connection_security_policy="mutual_tls"';

function istioLines(store: StatsStore): string[] {
  return renderPrometheus(store)
    .split('\n')
    .filter((l) => l.startsWith('istio_tcp'));
}

describe('TCP metrics on Istio’s timing', () => {
  function setup(intervalMs?: number) {
    const store = new StatsStore();
    const scheduler = new ManualScheduler();
    const metrics = new IstioMetrics(store, ownB, {
      scheduler,
      ...(intervalMs === undefined ? {} : { tcpReportingDurationMs: intervalMs }),
    });
    const conn = { sent: 0, received: 0, flags: '-', known: true, asked: [] as boolean[] };
    const labels = metrics.connection('destination', SPIFFE_A, SPIFFE_B).labels(peerA, serviceB);
    const probe: TcpConnectionProbe = {
      series: (final) => {
        conn.asked.push(final);
        return conn.known || final ? labels.tcp(conn.flags) : undefined;
      },
      sentBytes: () => conn.sent,
      receivedBytes: () => conn.received,
    };
    return { store, scheduler, metrics, conn, probe };
  }

  it('nothing at accept; opened and bytes at the first 5 s tick; deltas at ticks; closed at close', () => {
    const { store, scheduler, metrics, conn, probe } = setup();
    const report = metrics.openTcpConnection(probe);
    conn.received = 100;
    conn.sent = 40;
    assert.deepEqual(istioLines(store), []);
    scheduler.advance(4999);
    assert.deepEqual(istioLines(store), []);
    scheduler.advance(1);
    assert.deepEqual(istioLines(store), [
      `istio_tcp_connections_opened_total{${TCP_DEST}} 1`,
      `istio_tcp_received_bytes_total{${TCP_DEST}} 100`,
      `istio_tcp_sent_bytes_total{${TCP_DEST}} 40`,
    ]);
    conn.received = 150;
    conn.sent = 1040;
    scheduler.advance(5000);
    assert.deepEqual(istioLines(store), [
      `istio_tcp_connections_opened_total{${TCP_DEST}} 1`,
      `istio_tcp_received_bytes_total{${TCP_DEST}} 150`,
      `istio_tcp_sent_bytes_total{${TCP_DEST}} 1040`,
    ]);
    conn.received = 151;
    report.close();
    report.close(); // idempotent
    assert.equal(scheduler.live, 0);
    assert.deepEqual(istioLines(store), [
      `istio_tcp_connections_closed_total{${TCP_DEST}} 1`,
      `istio_tcp_connections_opened_total{${TCP_DEST}} 1`,
      `istio_tcp_received_bytes_total{${TCP_DEST}} 151`,
      `istio_tcp_sent_bytes_total{${TCP_DEST}} 1040`,
    ]);
    assert.deepEqual(conn.asked, [false]); // labels computed once
    scheduler.advance(60000);
    assert.equal(istioLines(store).length, 4);
  });

  it('a connection shorter than a tick reports opened, bytes and closed at close', () => {
    const { store, metrics, conn, probe } = setup();
    const report = metrics.openTcpConnection(probe);
    conn.received = 7;
    report.close();
    assert.deepEqual(istioLines(store), [
      `istio_tcp_connections_closed_total{${TCP_DEST}} 1`,
      `istio_tcp_connections_opened_total{${TCP_DEST}} 1`,
      `istio_tcp_received_bytes_total{${TCP_DEST}} 7`,
      `istio_tcp_sent_bytes_total{${TCP_DEST}} 0`,
    ]);
  });

  it('labels not known at a tick: nothing then; at close they are computed with the flags of then', () => {
    const { store, scheduler, metrics, conn, probe } = setup(1000);
    conn.known = false;
    const report = metrics.openTcpConnection(probe);
    scheduler.advance(3000);
    assert.deepEqual(istioLines(store), []);
    assert.deepEqual(conn.asked, [false, false, false]);
    conn.flags = 'UF';
    report.close();
    const uf = TCP_DEST.replace('response_flags="-"', 'response_flags="UF"');
    assert.deepEqual(istioLines(store), [
      `istio_tcp_connections_closed_total{${uf}} 1`,
      `istio_tcp_connections_opened_total{${uf}} 1`,
      `istio_tcp_received_bytes_total{${uf}} 0`,
      `istio_tcp_sent_bytes_total{${uf}} 0`,
    ]);
  });

  it('tcp_reporting_duration 0: reported at close only, no timer', () => {
    const { scheduler, metrics, probe, store } = setup(0);
    const report = metrics.openTcpConnection(probe);
    assert.equal(scheduler.live, 0);
    report.close();
    assert.equal(istioLines(store).length, 4);
  });

  it('the default scheduler’s timers do not keep the process alive', () => {
    const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timeouts();
    const task = timerScheduler.every(5000, () => {});
    assert.equal(timeouts(), before);
    task.cancel();
  });
});

describe('interning', () => {
  it('same facts, same objects; a seen request costs no family lookup', () => {
    const store = new StatsStore();
    const metrics = new IstioMetrics(store, ownB);
    const facts = {
      reporter: 'destination' as const,
      peer: peerA,
      peerPrincipal: SPIFFE_A,
      localPrincipal: SPIFFE_B,
      service: serviceB,
    };
    const a = metrics.labels(facts);
    assert.equal(metrics.labels({ ...facts }), a);
    assert.equal(
      metrics.connection('destination', SPIFFE_A, SPIFFE_B),
      metrics.connection('destination', SPIFFE_A, SPIFFE_B),
    );
    // The policy on reporter="destination" follows from the principals, whatever upstreamSecurity says.
    assert.equal(metrics.connection('destination', SPIFFE_A, SPIFFE_B, 'none').securityPolicy, 'mutual_tls');
    const series = a.http('http', 200, undefined, '-');
    let lookups = 0;
    const get = metrics.requests.get.bind(metrics.requests);
    metrics.requests.get = (values) => {
      lookups++;
      return get(values);
    };
    for (let i = 0; i < 1000; i++) {
      metrics.labels(facts).http('http', 200, undefined, '-').record(1, 10, 10);
    }
    assert.equal(lookups, 0);
    assert.equal(a.http('http', 200, undefined, '-'), series);
    assert.equal(series.requests.value, 1000);
    // gRPC status keys: undefined, -1 and 0..16 are distinct series; out-of-range values are InvalidCode (-1).
    assert.notEqual(a.http('grpc', 200, undefined, '-'), a.http('grpc', 200, 0, '-'));
    assert.equal(a.http('grpc', 200, 99, '-'), a.http('grpc', 200, -1, '-'));
    assert.equal(
      a.http('grpc', 200, 99, '-').requests.series.labels.includes('grpc_response_status="-1"'),
      true,
    );
    // For HTTP the gRPC status is ignored.
    assert.equal(a.http('http', 200, 5, '-'), series);
  });

  it('a peer arriving as a new but equal object gets its own entry yet the same series', () => {
    const store = new StatsStore();
    const metrics = new IstioMetrics(store, ownB);
    const conn = metrics.connection('destination', SPIFFE_A, SPIFFE_B);
    const one = conn.labels(peerA, serviceB);
    const two = conn.labels({ ...peerA }, { ...serviceB });
    assert.notEqual(one, two);
    assert.equal(
      one.http('http', 200, undefined, '-').requests,
      two.http('http', 200, undefined, '-').requests,
    );
  });

  it('the caches stay bounded: past the bound they are dropped and refilled with the same series', () => {
    const store = new StatsStore();
    const metrics = new IstioMetrics(store, ownB, { maxCachedLabelSets: 50 });
    const conn = metrics.connection('destination', undefined, undefined);
    const first = conn.labels(undefined, { host: 'h0', name: 'n0' }).http('http', 200, undefined, '-');
    for (let i = 1; i < 200; i++)
      conn.labels(undefined, { host: `h${i}`, name: 'n' }).http('http', 200, undefined, '-');
    assert.ok(metrics.generation >= 3);
    const again = conn.labels(undefined, { host: 'h0', name: 'n0' }).http('http', 200, undefined, '-');
    assert.equal(again.requests, first.requests);
    assert.equal(again.duration, first.duration);
  });

  it('past the store’s series cap, new label sets share the overflow series', () => {
    const store = new StatsStore({ maxSeries: 2 });
    const metrics = new IstioMetrics(store, ownB);
    const conn = metrics.connection('destination', undefined, undefined);
    for (let i = 0; i < 5; i++)
      conn
        .labels(undefined, { host: `h${i}`, name: 'n' })
        .http('http', 200, undefined, '-')
        .record(1, 1, 1);
    const text = renderPrometheus(store);
    assert.match(text, /istio_requests_total\{reporter="overflow",[^}]*\} 3\n/);
    assert.match(text, /envoy_skiff_stats_overflow\{\} \d+/);
  });

  it('one store, one set of families: a second IstioMetrics shares them', () => {
    const store = new StatsStore();
    const a = new IstioMetrics(store, ownB);
    const b = new IstioMetrics(store, ownB);
    assert.equal(a.requests, b.requests);
  });
});
