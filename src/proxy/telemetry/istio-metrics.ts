// Istio's standard metrics in the proxy's StatsStore, so that they render at /stats/prometheus in the same scrape
// as Envoy's statistics (istio/proxy istio_stats.cc): istio_requests_total, istio_request_duration_milliseconds,
// istio_request_bytes, istio_response_bytes for HTTP and gRPC; istio_tcp_connections_opened_total,
// istio_tcp_connections_closed_total, istio_tcp_sent_bytes_total, istio_tcp_received_bytes_total for TCP; and
// the gauge istio_build{component="proxy",tag}. No `# HELP` lines, as Envoy prints them; histograms in Envoy's
// 19 default buckets.
//
// The per-request path builds no label strings: label sets are interned in layers whose keys live as long as
// what they describe — `ConnectionLabels` per (reporter, principals, security) i.e. per connection,
// `PeerLabels` per (peer workload, service), then `HttpSeries` per (protocol, response code, gRPC status, flags)
// — so a request whose labels were seen before costs a few Map lookups, and a caller that keeps its
// `ConnectionLabels` (or `PeerLabels`) on the connection skips the first ones. The caches are bounded: past
// `maxCachedLabelSets` entries they are dropped and refilled from the families (same series, found again).
//
// TCP follows Istio's timing (istio_stats.cc `onNewConnection`, `onReportTimer`, `reportHelper`): nothing at
// accept; at each `tcp_reporting_duration` tick (default 5 s) and at close, once the labels can be known they are
// computed once and `opened` counted once; then every tick and the close add the byte deltas; the close counts
// `closed`. Timers are unref'd and injectable.

import type { Counter, CounterFamily, Histogram, HistogramFamily, StatsStore } from '../stats/index.js';
import { DEFAULT_HISTOGRAM_BUCKETS } from '../stats/index.js';
import {
  GRPC_INVALID_CODE,
  grpcStatusLabel,
  HTTP_LABEL_NAMES,
  type Reporter,
  type SecurityPolicy,
  type ServiceRef,
  securityPolicyOf,
  TCP_LABEL_NAMES,
  type TrafficFacts,
  workloadLabelValues,
} from './labels.js';
import type { WorkloadMetadata } from './workload.js';

export const ISTIO_REQUESTS_TOTAL = 'istio_requests_total';
export const ISTIO_REQUEST_DURATION = 'istio_request_duration_milliseconds';
export const ISTIO_REQUEST_BYTES = 'istio_request_bytes';
export const ISTIO_RESPONSE_BYTES = 'istio_response_bytes';
export const ISTIO_TCP_OPENED = 'istio_tcp_connections_opened_total';
export const ISTIO_TCP_CLOSED = 'istio_tcp_connections_closed_total';
export const ISTIO_TCP_SENT = 'istio_tcp_sent_bytes_total';
export const ISTIO_TCP_RECEIVED = 'istio_tcp_received_bytes_total';
export const ISTIO_BUILD = 'istio_build';

/** Istio's `tcp_reporting_duration` default (istio_stats.cc `Config`). */
export const DEFAULT_TCP_REPORTING_DURATION_MS = 5000;

/** A repeating task, cancelled at connection close. */
export interface ScheduledTask {
  cancel(): void;
}

/** Where the TCP reporter gets its ticks from; tests inject a manual one. */
export interface TelemetryScheduler {
  every(intervalMs: number, task: () => void): ScheduledTask;
}

/** Node's timers, unref'd so that open connections' reporting never keeps the process alive. */
export const timerScheduler: TelemetryScheduler = {
  every(intervalMs, task) {
    const timer = setInterval(task, intervalMs);
    timer.unref();
    return { cancel: () => clearInterval(timer) };
  },
};

export interface IstioMetricsOptions {
  /** `tag` of `istio_build` (Istio: node metadata ISTIO_VERSION); "" or undefined prints `unknown`. */
  istioVersion?: string;
  /** Istio's `tcp_reporting_duration`; 0 reports TCP connections at close only. Default 5000. */
  tcpReportingDurationMs?: number;
  scheduler?: TelemetryScheduler;
  /** Bound of the label-set caches (entries at every layer). Default the store's `maxSeries`. */
  maxCachedLabelSets?: number;
}

/** One HTTP/gRPC series: the four metrics under one label set. */
export class HttpSeries {
  constructor(
    readonly requests: Counter,
    readonly duration: Histogram,
    readonly requestBytes: Histogram,
    readonly responseBytes: Histogram,
  ) {}

  /**
   * One finished stream: `durationMs` from the first byte of the request to the end of the stream (truncated to
   * whole milliseconds, as Envoy records it), and the stream's wire bytes received from and sent to the downstream
   * (headers, body, trailers, framing).
   */
  record(durationMs: number, requestBytes: number, responseBytes: number): void {
    this.requests.inc();
    this.duration.record(durationMs > 0 ? Math.trunc(durationMs) : 0);
    this.requestBytes.record(requestBytes);
    this.responseBytes.record(responseBytes);
  }
}

/**
 * One TCP series: the four connection metrics under one label set. `closed` is created at the first close only,
 * so that a scrape shows no `istio_tcp_connections_closed_total` series before one closed, as Envoy's.
 */
export class TcpSeries {
  private closedCounter: Counter | undefined;

  constructor(
    readonly opened: Counter,
    readonly sentBytes: Counter,
    readonly receivedBytes: Counter,
    private readonly resolveClosed: () => Counter,
  ) {}

  get closed(): Counter {
    this.closedCounter ??= this.resolveClosed();
    return this.closedCounter;
  }
}

/** What one finished HTTP stream needs for `IstioMetrics.recordRequest`. */
export interface RequestRecord {
  protocol: 'http' | 'grpc';
  /** 0 when no response was started (e.g. the downstream went away first). */
  responseCode: number;
  /** From `grpcResponseStatus`; ignored for `http`. */
  grpcStatus: number | undefined;
  /** Envoy's short flags joined with `,`, or `-`. */
  responseFlags: string;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
}

const NO_PEER: object = Object.freeze({});

function connectionSlot(reporter: Reporter, security: SecurityPolicy): number {
  return (reporter === 'source' ? 3 : 0) + (security === 'mutual_tls' ? 0 : security === 'none' ? 1 : 2);
}

/** A gRPC status as Envoy can hold it: -1..16, anything else being InvalidCode. */
function normalGrpcStatus(status: number | undefined): number | undefined {
  if (status === undefined) return undefined;
  return Number.isInteger(status) && status >= GRPC_INVALID_CODE && status <= 16 ? status : GRPC_INVALID_CODE;
}

/** Series key of (protocol, code, gRPC status) for codes 0..999; -1 when the code does not fit (uncached). */
function seriesKey(protocol: 'http' | 'grpc', responseCode: number, grpcStatus: number | undefined): number {
  if (!Number.isInteger(responseCode) || responseCode < 0 || responseCode > 999) return -1;
  if (protocol === 'http') return responseCode * 64;
  // undefined → 0, -1 → 1, 0..16 → 2..18 (grpcStatus already normalized).
  const g = grpcStatus === undefined ? 0 : grpcStatus + 2;
  return responseCode * 64 + g * 3 + 1;
}

/**
 * The 20 workload/service label values and the security policy of one (reporter, peer, principals, service);
 * resolves the series under it. Get it from `IstioMetrics.labels` or `ConnectionLabels.labels`.
 */
export class PeerLabels {
  private readonly httpByFlags = new Map<string, Map<number, HttpSeries>>();
  private readonly tcpByFlags = new Map<string, TcpSeries>();
  private generation: number;

  constructor(
    private readonly metrics: IstioMetrics,
    /** reporter … destination_cluster, in Istio's order. */
    readonly values: readonly string[],
    readonly securityPolicy: SecurityPolicy,
  ) {
    this.generation = metrics.generation;
  }

  /** The series of a finished HTTP/gRPC stream with these labels. */
  http(
    protocol: 'http' | 'grpc',
    responseCode: number,
    grpcStatus: number | undefined,
    responseFlags: string,
  ): HttpSeries {
    if (this.generation !== this.metrics.generation) this.reset();
    const status = protocol === 'grpc' ? normalGrpcStatus(grpcStatus) : undefined;
    const key = seriesKey(protocol, responseCode, status);
    let byKey = this.httpByFlags.get(responseFlags);
    const hit = byKey?.get(key);
    if (hit !== undefined) return hit;
    const series = this.metrics.httpSeries([
      ...this.values,
      protocol,
      String(responseCode),
      protocol === 'grpc' ? grpcStatusLabel(status) : '',
      responseFlags,
      this.securityPolicy,
    ]);
    if (key >= 0) {
      if (byKey === undefined) {
        byKey = new Map();
        this.httpByFlags.set(responseFlags, byKey);
      }
      byKey.set(key, series);
      this.metrics.noteCached();
    }
    return series;
  }

  /** The series of a TCP connection with these labels. */
  tcp(responseFlags: string): TcpSeries {
    if (this.generation !== this.metrics.generation) this.reset();
    const hit = this.tcpByFlags.get(responseFlags);
    if (hit !== undefined) return hit;
    const series = this.metrics.tcpSeries([...this.values, 'tcp', responseFlags, this.securityPolicy]);
    this.tcpByFlags.set(responseFlags, series);
    this.metrics.noteCached();
    return series;
  }

  private reset(): void {
    this.httpByFlags.clear();
    this.tcpByFlags.clear();
    this.generation = this.metrics.generation;
  }
}

/**
 * The labels of one connection's side of the traffic: reporter, the two principals and (source reporter) the
 * upstream connection's security. Keep it on the connection: destination reporter, per downstream connection;
 * source reporter, per upstream connection (request by request, the pool may pick another).
 */
export class ConnectionLabels {
  private readonly byPeer = new Map<object, Map<string, Map<string, PeerLabels>>>();
  private generation: number;
  private readonly facts: {
    reporter: Reporter;
    peer: WorkloadMetadata | undefined;
    peerPrincipal: string | undefined;
    localPrincipal: string | undefined;
    upstreamSecurity: SecurityPolicy;
    service: ServiceRef | undefined;
  };
  readonly securityPolicy: SecurityPolicy;

  constructor(
    private readonly metrics: IstioMetrics,
    reporter: Reporter,
    peerPrincipal: string | undefined,
    localPrincipal: string | undefined,
    upstreamSecurity: SecurityPolicy,
  ) {
    this.generation = metrics.generation;
    this.facts = {
      reporter,
      peer: undefined,
      peerPrincipal,
      localPrincipal,
      upstreamSecurity,
      service: undefined,
    };
    this.securityPolicy = securityPolicyOf(this.facts);
  }

  /**
   * The labels for a peer workload (undefined when none is known) and a destination service (from
   * `destinationService`; undefined when none). Interned: same inputs, same object.
   */
  labels(peer: WorkloadMetadata | undefined, service: ServiceRef | undefined): PeerLabels {
    if (this.generation !== this.metrics.generation) {
      this.byPeer.clear();
      this.generation = this.metrics.generation;
    }
    const peerKey: object = peer ?? NO_PEER;
    const host = service?.host ?? '';
    const name = service?.name ?? '';
    let byHost = this.byPeer.get(peerKey);
    let byName = byHost?.get(host);
    const hit = byName?.get(name);
    if (hit !== undefined) return hit;
    this.facts.peer = peer;
    this.facts.service = service;
    const values = workloadLabelValues(this.metrics.own, this.facts);
    this.facts.peer = undefined;
    this.facts.service = undefined;
    const labels = new PeerLabels(this.metrics, values, this.securityPolicy);
    if (byHost === undefined) {
      byHost = new Map();
      this.byPeer.set(peerKey, byHost);
    }
    if (byName === undefined) {
      byName = new Map();
      byHost.set(host, byName);
    }
    byName.set(name, labels);
    this.metrics.noteCached();
    return labels;
  }
}

/** What the TCP reporter reads from a connection when it reports. */
export interface TcpConnectionProbe {
  /**
   * The connection's series (`PeerLabels.tcp(flags)`) once its labels can be known — Istio waits for the peer's
   * metadata; undefined to wait for the next tick. At close (`final`), answer with what is known then (e.g. flags
   * `UF` after a failed upstream connect): an undefined answer there records nothing.
   */
  series(final: boolean): TcpSeries | undefined;
  /** Bytes sent to the downstream so far (after TLS decryption, as Envoy's downstream bytes meter). */
  sentBytes(): number;
  /** Bytes received from the downstream so far. */
  receivedBytes(): number;
}

/** Istio's TCP reporting for one connection; `close()` it when the connection closes. */
export class TcpConnectionReport {
  private series: TcpSeries | undefined;
  private sent = 0;
  private received = 0;
  private task: ScheduledTask | undefined;
  private done = false;

  constructor(
    private readonly probe: TcpConnectionProbe,
    scheduler: TelemetryScheduler,
    intervalMs: number,
  ) {
    if (intervalMs > 0) this.task = scheduler.every(intervalMs, () => this.report(false));
  }

  /** Reports the connection closed: labels if still unknown, the last byte deltas, `closed`. Idempotent. */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.task?.cancel();
    this.task = undefined;
    this.report(true);
  }

  private report(final: boolean): void {
    if (this.series === undefined) {
      this.series = this.probe.series(final);
      if (this.series === undefined) return;
      this.series.opened.inc();
    }
    const series = this.series;
    const sent = this.probe.sentBytes();
    const received = this.probe.receivedBytes();
    series.sentBytes.add(sent - this.sent);
    series.receivedBytes.add(received - this.received);
    this.sent = sent;
    this.received = received;
    if (final) series.closed.inc();
  }
}

/** The Istio metric families of one proxy, and the interned label sets that find their series. */
export class IstioMetrics {
  readonly requests: CounterFamily;
  readonly duration: HistogramFamily;
  readonly requestBytes: HistogramFamily;
  readonly responseBytes: HistogramFamily;
  readonly tcpOpened: CounterFamily;
  readonly tcpClosed: CounterFamily;
  readonly tcpSent: CounterFamily;
  readonly tcpReceived: CounterFamily;
  /** Bumped when the caches are dropped; the layers compare it to refill lazily. */
  generation = 0;
  private cached = 0;
  private readonly maxCached: number;
  private readonly scheduler: TelemetryScheduler;
  private readonly tcpIntervalMs: number;
  /** By reporter and security (`connectionSlot`), then peer principal, then local principal. */
  private connections: Array<Map<string, Map<string, ConnectionLabels>> | undefined> = [];

  constructor(
    store: StatsStore,
    /** The proxy's own workload as the stats filter reads it (`statsWorkloadFromNode`). */
    readonly own: WorkloadMetadata,
    options: IstioMetricsOptions = {},
  ) {
    const buckets = DEFAULT_HISTOGRAM_BUCKETS;
    this.requests = store.counterFamily(ISTIO_REQUESTS_TOTAL, undefined, HTTP_LABEL_NAMES);
    this.duration = store.histogramFamily(ISTIO_REQUEST_DURATION, undefined, HTTP_LABEL_NAMES, buckets);
    this.requestBytes = store.histogramFamily(ISTIO_REQUEST_BYTES, undefined, HTTP_LABEL_NAMES, buckets);
    this.responseBytes = store.histogramFamily(ISTIO_RESPONSE_BYTES, undefined, HTTP_LABEL_NAMES, buckets);
    this.tcpOpened = store.counterFamily(ISTIO_TCP_OPENED, undefined, TCP_LABEL_NAMES);
    this.tcpClosed = store.counterFamily(ISTIO_TCP_CLOSED, undefined, TCP_LABEL_NAMES);
    this.tcpSent = store.counterFamily(ISTIO_TCP_SENT, undefined, TCP_LABEL_NAMES);
    this.tcpReceived = store.counterFamily(ISTIO_TCP_RECEIVED, undefined, TCP_LABEL_NAMES);
    const version = options.istioVersion;
    store
      .gaugeFamily(ISTIO_BUILD, undefined, ['component', 'tag'])
      .get(['proxy', version === undefined || version === '' ? 'unknown' : version])
      .set(1);
    this.maxCached = Math.max(16, options.maxCachedLabelSets ?? store.maxSeries);
    this.scheduler = options.scheduler ?? timerScheduler;
    this.tcpIntervalMs = options.tcpReportingDurationMs ?? DEFAULT_TCP_REPORTING_DURATION_MS;
  }

  /**
   * The connection-level labels (interned). `upstreamSecurity` matters on reporter="source" only
   * (`upstreamSecurityPolicy`); on reporter="destination" the policy follows from the two principals.
   */
  connection(
    reporter: Reporter,
    peerPrincipal: string | undefined,
    localPrincipal: string | undefined,
    upstreamSecurity: SecurityPolicy = 'unknown',
  ): ConnectionLabels {
    const security = reporter === 'source' ? upstreamSecurity : 'unknown';
    const slot = connectionSlot(reporter, security);
    const peerKey = peerPrincipal ?? '';
    const localKey = localPrincipal ?? '';
    let byPeer = this.connections[slot];
    let byLocal = byPeer?.get(peerKey);
    const hit = byLocal?.get(localKey);
    if (hit !== undefined) return hit;
    const labels = new ConnectionLabels(this, reporter, peerKey, localKey, security);
    if (byPeer === undefined) {
      byPeer = new Map();
      this.connections[slot] = byPeer;
    }
    if (byLocal === undefined) {
      byLocal = new Map();
      byPeer.set(peerKey, byLocal);
    }
    byLocal.set(localKey, labels);
    this.noteCached();
    return labels;
  }

  /** The labels for one report's facts, through both layers. */
  labels(facts: TrafficFacts): PeerLabels {
    return this.connection(
      facts.reporter,
      facts.peerPrincipal,
      facts.localPrincipal,
      facts.upstreamSecurity,
    ).labels(facts.peer, facts.service);
  }

  /** Records one finished HTTP/gRPC stream. */
  recordRequest(labels: PeerLabels, r: RequestRecord): void {
    labels
      .http(r.protocol, r.responseCode, r.grpcStatus, r.responseFlags)
      .record(r.durationMs, r.requestBytes, r.responseBytes);
  }

  /** Starts Istio's reporting for one TCP connection (timer armed now); call `close()` on the result at close. */
  openTcpConnection(probe: TcpConnectionProbe, intervalMs = this.tcpIntervalMs): TcpConnectionReport {
    return new TcpConnectionReport(probe, this.scheduler, intervalMs);
  }

  /** @internal The four HTTP children for 25 label values. */
  httpSeries(values: readonly string[]): HttpSeries {
    return new HttpSeries(
      this.requests.get(values),
      this.duration.get(values),
      this.requestBytes.get(values),
      this.responseBytes.get(values),
    );
  }

  /** @internal The TCP children for 23 label values (`closed` on first use). */
  tcpSeries(values: readonly string[]): TcpSeries {
    return new TcpSeries(
      this.tcpOpened.get(values),
      this.tcpSent.get(values),
      this.tcpReceived.get(values),
      () => this.tcpClosed.get(values),
    );
  }

  /** @internal Counts one cache entry; past the bound, every layer drops its cache (lazily, by generation). */
  noteCached(): void {
    if (++this.cached <= this.maxCached) return;
    this.cached = 0;
    this.generation++;
    this.connections = [];
  }
}
