// Upstream clusters: endpoints, the load balancer's pick, connecting within `connect_timeout`, and the
// transport to each endpoint — the cluster's transport socket, or the first `transport_socket_matches` entry
// whose `match` the endpoint's `envoy.transport_socket_match` metadata satisfies. That per-endpoint choice is
// the mechanism of auto mTLS: one cluster can hold sidecar endpoints (`tlsMode: istio` → mTLS) and plain ones.
// Counted as Envoy counts (`cluster.<name>.upstream_cx_*`, `cluster.<name>.ssl.*`).
//
// Outlier detection only when the cluster configures it (outlier-detector.ts, as Envoy's): the routers and
// tcp_proxy report each attempt's result per endpoint, ejected endpoints are left out of the balancer's picks.
// Without outlier_detection no endpoint is ever ejected, as in Envoy. Envoy's panic mode: when the share of
// available endpoints falls under healthy_panic_threshold (default 50%, Istio 0), every endpoint is used.
//
// A failed connection is logged at warn, at most once per cluster per CONNECT_WARN_INTERVAL_MS (Envoy logs it at
// debug only): without it, a proxy whose app is not running closes every connection and says nothing.

import type { Socket } from 'node:net';
import net from 'node:net';
import { type Logger, silentLogger } from '../../core/log.js';
import type { Json, JsonObject } from '../../xds/decode.js';
import type { ClusterConfig, EndpointConfig, UpstreamTransport } from '../config/model.js';
import type { Counter, Gauge, StatsStore } from '../stats/index.js';
import { sslStats } from '../transport/downstream-tls.js';
import { SecretStore } from '../transport/secrets.js';
import { OUTLIER_COUNTER_NAMES, OutlierDetector, type OutlierResult } from './outlier-detector.js';
import { UpstreamTls } from './upstream-tls.js';

/** Envoy's default circuit breaker max_retries. */
export const MAX_RETRIES = 3;

/** Envoy's default common_lb_config.healthy_panic_threshold. */
export const HEALTHY_PANIC_THRESHOLD = 50;

/** Envoy's overprovisioning factor (1.4): availability is the healthy share times it, capped at 100%. */
const OVERPROVISIONING = 1.4;

/** At most one "upstream connect failed" warning per cluster in this time; the next one counts the others. */
export const CONNECT_WARN_INTERVAL_MS = 10_000;

export interface Endpoint {
  config: EndpointConfig;
  /** Open connections to this endpoint (least request reads it). */
  active: number;
  /** TLS for this endpoint, or undefined for plaintext; chosen once from the transport socket matches. */
  tls: UpstreamTls | undefined;
  /** Name of the transport socket match that chose the transport (or `default`). */
  transportName: string;
  /** `load_balancing_weight` (1 when absent). */
  weight: number;
  /** Smooth weighted round robin's running weight (only used when the weights differ). */
  current: number;
}

/** Who reports a connection's result: the router (a request follows) or tcp_proxy (nothing follows). */
export type ConnectOrigin = 'router' | 'tcp_proxy';

function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => jsonEqual((a as JsonObject)[k], (b as JsonObject)[k]));
}

/** Envoy's TransportSocketMatcher: every key of `match` is in the endpoint metadata with an equal value. */
export function transportMatches(match: JsonObject, endpointMetadata: JsonObject): boolean {
  return Object.entries(match).every(([k, v]) => jsonEqual(endpointMetadata[k], v));
}

export interface ClusterStats {
  upstreamCxTotal: Counter;
  upstreamCxActive: Gauge;
  upstreamCxConnectFail: Counter;
  upstreamCxConnectTimeout: Counter;
  upstreamCxNoneHealthy: Counter;
  upstreamCxDestroy: Counter;
  upstreamCxRxBytesTotal: Counter;
  upstreamCxTxBytesTotal: Counter;
  membershipTotal: Gauge;
  membershipHealthy: Gauge;
  sslHandshakeError: Counter;
  lbHealthyPanic: Counter;
  bindErrors: Counter;
  retry: Counter;
  retrySuccess: Counter;
  retryLimitExceeded: Counter;
  retryOverflow: Counter;
  retryBackoffExponential: Counter;
  retryOrShadowAbandoned: Counter;
  perTryTimeout: Counter;
}

function clusterStats(store: StatsStore, name: string): ClusterStats {
  const p = `cluster.${name}.`;
  return {
    upstreamCxTotal: store.counter(`${p}upstream_cx_total`),
    upstreamCxActive: store.gauge(`${p}upstream_cx_active`),
    upstreamCxConnectFail: store.counter(`${p}upstream_cx_connect_fail`),
    upstreamCxConnectTimeout: store.counter(`${p}upstream_cx_connect_timeout`),
    upstreamCxNoneHealthy: store.counter(`${p}upstream_cx_none_healthy`),
    upstreamCxDestroy: store.counter(`${p}upstream_cx_destroy`),
    upstreamCxRxBytesTotal: store.counter(`${p}upstream_cx_rx_bytes_total`),
    upstreamCxTxBytesTotal: store.counter(`${p}upstream_cx_tx_bytes_total`),
    membershipTotal: store.gauge(`${p}membership_total`),
    membershipHealthy: store.gauge(`${p}membership_healthy`),
    sslHandshakeError: store.counter(`${p}ssl_handshake_error`),
    lbHealthyPanic: store.counter(`${p}lb_healthy_panic`),
    bindErrors: store.counter(`${p}bind_errors`),
    retry: store.counter(`${p}upstream_rq_retry`),
    retrySuccess: store.counter(`${p}upstream_rq_retry_success`),
    retryLimitExceeded: store.counter(`${p}upstream_rq_retry_limit_exceeded`),
    retryOverflow: store.counter(`${p}upstream_rq_retry_overflow`),
    retryBackoffExponential: store.counter(`${p}upstream_rq_retry_backoff_exponential`),
    retryOrShadowAbandoned: store.counter(`${p}retry_or_shadow_abandoned`),
    perTryTimeout: store.counter(`${p}upstream_rq_per_try_timeout`),
  };
}

export type ConnectResult =
  | {
      ok: true;
      socket: Socket;
      endpoint: Endpoint;
      /** The server's verified URI SAN (TLS with SAN matchers). */
      peerIdentity: string | undefined;
      /** Our own URI SAN presented (TLS with a certificate). */
      localIdentity: string | undefined;
    }
  | {
      ok: false;
      reason: 'none-healthy' | 'connect-fail' | 'timeout' | 'tls';
      detail: string;
      /** The endpoint the attempt went to (none when no endpoint was healthy). */
      endpoint?: Endpoint;
    };

/** How one connection attempt picks its endpoint. */
export interface ConnectOptions {
  /** Endpoints to avoid if the load balancer has others (a retry's previous hosts). */
  avoid?: ReadonlySet<Endpoint>;
  /** How many picks may be spent avoiding them (host_selection_retry_max_attempts + 1). */
  picks?: number;
  /** Who will report the result to outlier detection (default: the router). */
  origin?: ConnectOrigin;
  /**
   * The ALPN list a TLS connection offers instead of its transport's own (Istio's `istio.alpn` HTTP filter);
   * plaintext endpoints ignore it.
   */
  alpn?: readonly string[];
}

export class Cluster {
  readonly stats: ClusterStats;
  readonly endpoints: Endpoint[];
  private readonly healthy: Endpoint[];
  /** Healthy endpoints not ejected: what the balancer picks from outside panic mode. */
  private available: Endpoint[];
  private readonly transports: UpstreamTls[] = [];
  private next = 0;
  private retriesActive = 0;
  private readonly outliers: OutlierDetector<Endpoint> | undefined;
  private readonly outlierTimer: NodeJS.Timeout | undefined;
  private readonly panicThreshold: number;
  /** The endpoints' weights differ: picks are weighted (Envoy's EDF scheduler; here smooth weighted round robin). */
  private readonly weighted: boolean;
  private readonly maxRetries: number;
  private lastWarnAt = Number.NEGATIVE_INFINITY;
  private unwarnedFailures = 0;

  constructor(
    readonly config: ClusterConfig,
    store: StatsStore,
    secrets: SecretStore = new SecretStore(),
    private readonly log: Logger = silentLogger,
  ) {
    this.stats = clusterStats(store, config.name);
    const ssl = sslStats(store, `cluster.${config.name}.ssl.`);
    // One UpstreamTls per distinct transport config, shared by the endpoints it serves.
    const built = new Map<UpstreamTransport, UpstreamTls | undefined>();
    const tlsFor = (t: UpstreamTransport): UpstreamTls | undefined => {
      if (t.kind === 'raw') return undefined;
      if (!built.has(t)) {
        const u = new UpstreamTls(t.tls, secrets, ssl, this.stats.sslHandshakeError, log);
        built.set(t, u);
        this.transports.push(u);
      }
      return built.get(t);
    };
    this.endpoints = config.endpoints.map((e) => {
      const m = config.transportSocketMatches.find((t) => transportMatches(t.match, e.transportMatch));
      return {
        config: e,
        active: 0,
        tls: tlsFor(m ? m.transport : config.transport),
        transportName: m ? m.name : 'default',
        weight: e.weight ?? 1,
        current: 0,
      };
    });
    this.weighted = this.endpoints.some((e) => e.weight !== this.endpoints[0]?.weight);
    this.maxRetries = config.maxRetries ?? MAX_RETRIES;
    this.healthy = this.endpoints.filter((e) => e.config.healthy);
    this.available = this.healthy;
    this.panicThreshold = config.healthyPanicThreshold ?? HEALTHY_PANIC_THRESHOLD;
    this.stats.membershipTotal.set(this.endpoints.length);
    this.stats.membershipHealthy.set(this.healthy.length);
    if (config.outlierDetection) {
      const p = `cluster.${config.name}.outlier_detection.`;
      const counters = new Map(OUTLIER_COUNTER_NAMES.map((n) => [n, store.counter(`${p}${n}`)]));
      const active = store.gauge(`${p}ejections_active`);
      this.outliers = new OutlierDetector(config.outlierDetection, this.endpoints, {
        now: Date.now,
        random: Math.random,
        counters: {
          inc: (name) => (counters.get(name) ?? store.counter(`${p}${name}`)).inc(),
          setActive: (n) => active.set(n),
        },
        onChange: () => this.rebuildAvailable(),
      });
      const detector = this.outliers;
      this.outlierTimer = setInterval(() => detector.tick(), config.outlierDetection.intervalMs);
      this.outlierTimer.unref();
    }
  }

  /** An ejection or un-ejection: the balancer's set of available endpoints changes. */
  private rebuildAvailable(): void {
    const o = this.outliers;
    this.available = o ? this.healthy.filter((e) => !o.isEjected(e)) : this.healthy;
    this.stats.membershipHealthy.set(this.available.length);
  }

  /**
   * An attempt's result for outlier detection (Envoy's Outlier::Result, with the HTTP status when there is one).
   * Nothing happens without outlier_detection.
   */
  report(endpoint: Endpoint, result: OutlierResult, code?: number): void {
    this.outliers?.putResult(endpoint, result, code);
  }

  /**
   * Envoy's max_retries circuit breaker (default 3 retries in flight per cluster; Istio sets 4294967295): a retry
   * takes a unit, and gives it back when its attempt ends.
   */
  tryTakeRetry(): boolean {
    if (this.retriesActive >= this.maxRetries) return false;
    this.retriesActive++;
    return true;
  }

  releaseRetry(): void {
    if (this.retriesActive > 0) this.retriesActive--;
  }

  /** Whether every TLS transport of the cluster has its material. */
  get ready(): boolean {
    return this.transports.every((t) => t.ready);
  }

  close(): void {
    for (const t of this.transports) t.close();
    if (this.outlierTimer) clearInterval(this.outlierTimer);
  }

  /**
   * The endpoints the balancer picks from: the available ones, or every endpoint in panic mode — when the
   * available share, times Envoy's overprovisioning factor, is under 100% and the share itself is under the
   * panic threshold (Envoy's recalculatePerPriorityPanic). A threshold of 0 never panics.
   */
  private candidates(): Endpoint[] {
    const total = this.endpoints.length;
    if (total === 0) return this.available;
    const share = (this.available.length / total) * 100;
    if (share * OVERPROVISIONING >= 100 || share >= this.panicThreshold) return this.available;
    this.stats.lbHealthyPanic.inc();
    return this.endpoints;
  }

  /**
   * The load balancer's choice for one attempt. A retry may name hosts to avoid (retry_host_predicate
   * previous_hosts): the balancer picks up to `picks` times for one that is not among them, and keeps the last
   * pick when every one is (Envoy's chooseHost).
   */
  choose(opts: ConnectOptions = {}): Endpoint | undefined {
    const picks = Math.max(1, opts.picks ?? 1);
    let host: Endpoint | undefined;
    for (let i = 0; i < picks; i++) {
      host = this.pick();
      if (host === undefined || opts.avoid === undefined || !opts.avoid.has(host)) return host;
    }
    return host;
  }

  /**
   * The load balancer's choice: round robin, or least request as Envoy's power of two choices. With differing
   * endpoint weights, a weighted round robin — for least request over weight / (active requests + 1), Envoy's
   * default active_request_bias of 1.
   */
  pick(): Endpoint | undefined {
    const hosts = this.candidates();
    if (hosts.length === 0) return undefined;
    if (this.weighted && hosts.length > 1) return this.pickWeighted(hosts);
    if (this.config.lbPolicy === 'LEAST_REQUEST' && hosts.length > 1) {
      const a = hosts[Math.floor(Math.random() * hosts.length)] as Endpoint;
      const b = hosts[Math.floor(Math.random() * hosts.length)] as Endpoint;
      return b.active < a.active ? b : a;
    }
    const host = hosts[this.next % hosts.length];
    this.next = (this.next + 1) % hosts.length;
    return host;
  }

  /** Smooth weighted round robin (each pick: add every weight, take the largest, subtract the total from it). */
  private pickWeighted(hosts: readonly Endpoint[]): Endpoint {
    const leastRequest = this.config.lbPolicy === 'LEAST_REQUEST';
    let total = 0;
    let best = hosts[0] as Endpoint;
    for (const h of hosts) {
      const w = leastRequest ? h.weight / (h.active + 1) : h.weight;
      h.current += w;
      total += w;
      if (h.current > best.current) best = h;
    }
    best.current -= total;
    return best;
  }

  /**
   * Connects to a picked endpoint within connect_timeout — TCP, then TLS when the endpoint's transport says so.
   * The socket allows half-open connections.
   */
  connect(done: (result: ConnectResult) => void, opts: ConnectOptions = {}): void {
    const endpoint = this.choose(opts);
    if (!endpoint) {
      done(this.noneHealthy());
      return;
    }
    this.connectTo(endpoint, done, opts.origin, opts.alpn);
  }

  /** The answer when the balancer has no endpoint to give (counted as upstream_cx_none_healthy). */
  noneHealthy(): Extract<ConnectResult, { ok: false }> {
    this.stats.upstreamCxNoneHealthy.inc();
    return {
      ok: false,
      reason: 'none-healthy',
      detail: `cluster ${this.config.name} has no healthy endpoint`,
    };
  }

  private warnConnectFailed(detail: string): void {
    const now = Date.now();
    if (now - this.lastWarnAt < CONNECT_WARN_INTERVAL_MS) {
      this.unwarnedFailures++;
      return;
    }
    const others = this.unwarnedFailures;
    this.lastWarnAt = now;
    this.unwarnedFailures = 0;
    this.log.warn('upstream connect failed', {
      cluster: this.config.name,
      error: detail,
      ...(others > 0 ? { moreFailuresSinceLastWarning: others } : {}),
    });
  }

  /**
   * Connects to an endpoint the balancer chose (connection pools choose first, then reuse or connect); `alpn`
   * replaces the ALPN list of a TLS transport.
   */
  connectTo(
    endpoint: Endpoint,
    done: (result: ConnectResult) => void,
    origin: ConnectOrigin = 'router',
    alpn?: readonly string[],
  ): void {
    const s = this.stats;
    s.upstreamCxTotal.inc();
    const { host, port } = endpoint.config.address;
    const bind = this.config.upstreamBind;
    const socket = net.connect({
      host,
      port,
      allowHalfOpen: true,
      noDelay: true,
      ...(bind ? { localAddress: bind.host, ...(bind.port ? { localPort: bind.port } : {}) } : {}),
    });
    let settled = false;
    const failed = (
      reason: Exclude<ConnectResult, { ok: true }>['reason'],
      detail: string,
      local = false,
    ) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.upstreamCxConnectFail.inc();
      // Outlier detection hears of a connect failure or timeout; tcp_proxy does not report its local failures
      // (a TLS handshake or a bind), as Envoy's tcp_proxy does not.
      if (reason === 'timeout') this.report(endpoint, 'local-origin-timeout');
      else if (!(local && origin === 'tcp_proxy')) this.report(endpoint, 'local-origin-connect-failed');
      this.warnConnectFailed(detail);
      socket.destroy();
      done({ ok: false, reason, detail, endpoint });
    };
    const timer = setTimeout(() => {
      if (settled) return;
      s.upstreamCxConnectTimeout.inc();
      failed('timeout', `connect to ${host}:${port} timed out after ${this.config.connectTimeoutMs} ms`);
    }, this.config.connectTimeoutMs);
    const established = (conn: Socket, peerIdentity: string | undefined, localIdentity?: string) => {
      if (settled) {
        conn.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      this.report(
        endpoint,
        origin === 'tcp_proxy' ? 'local-origin-connect-success-final' : 'local-origin-connect-success',
      );
      endpoint.active++;
      s.upstreamCxActive.inc();
      conn.once('close', () => {
        endpoint.active--;
        s.upstreamCxActive.dec();
        s.upstreamCxDestroy.inc();
      });
      done({ ok: true, socket: conn, endpoint, peerIdentity, localIdentity });
    };
    socket.once('error', (e: NodeJS.ErrnoException) => {
      if (e.syscall === 'bind') {
        // Envoy: "failed to bind to <addr>", counted as the cluster's bind_errors and a connect failure.
        s.bindErrors.inc();
        failed(
          'connect-fail',
          `failed to bind to ${bind?.host}:${bind?.port ?? 0}: ${e.code ?? e.message}`,
          true,
        );
      } else failed('connect-fail', `connect to ${host}:${port}: ${e.code ?? e.message}`);
    });
    socket.once('connect', () => {
      if (!endpoint.tls) {
        established(socket, undefined);
        return;
      }
      endpoint.tls.handshake(
        socket,
        (outcome) => {
          if (outcome.ok) established(outcome.socket, outcome.peerIdentity, outcome.localIdentity);
          else failed('tls', `TLS to ${host}:${port}: ${outcome.detail}`, true);
        },
        alpn,
      );
    });
  }
}

export class ClusterManager {
  private readonly clusters = new Map<string, Cluster>();

  constructor(
    configs: readonly ClusterConfig[],
    store: StatsStore,
    secrets: SecretStore = new SecretStore(),
    log: Logger = silentLogger,
  ) {
    for (const c of configs) this.clusters.set(c.name, new Cluster(c, store, secrets, log));
  }

  get(name: string): Cluster | undefined {
    return this.clusters.get(name);
  }

  all(): Cluster[] {
    return [...this.clusters.values()];
  }

  get ready(): boolean {
    return this.all().every((c) => c.ready);
  }

  close(): void {
    for (const c of this.clusters.values()) c.close();
  }
}
