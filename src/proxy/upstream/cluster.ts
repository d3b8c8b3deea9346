// Upstream clusters: endpoints, the load balancer's pick, connecting within `connect_timeout`, and the
// transport to each endpoint — the cluster's transport socket, or the first `transport_socket_matches` entry
// whose `match` the endpoint's `envoy.transport_socket_match` metadata satisfies. That per-endpoint choice is
// the mechanism of auto mTLS: one cluster can hold sidecar endpoints (`tlsMode: istio` → mTLS) and plain ones.
// Counted as Envoy counts (`cluster.<name>.upstream_cx_*`, `cluster.<name>.ssl.*`).
//
// Outlier handling, built in and simple: an endpoint whose connection fails (refused, timed out, TLS refused)
// is skipped for 5 s, doubling while it keeps failing (up to 5 min); when every endpoint is skipped, all are
// tried again (Envoy's panic mode). `outlier_detection.ejections_enforced_total` counts ejections.

import type { Socket } from 'node:net';
import net from 'node:net';
import { type Logger, silentLogger } from '../../core/log.js';
import type { Json, JsonObject } from '../../xds/decode.js';
import type { ClusterConfig, EndpointConfig, UpstreamTransport } from '../config/model.js';
import type { Counter, Gauge, StatsStore } from '../stats/index.js';
import { sslStats } from '../transport/downstream-tls.js';
import { SecretStore } from '../transport/secrets.js';
import { UpstreamTls } from './upstream-tls.js';

export const BASE_EJECTION_MS = 5_000;
export const MAX_EJECTION_MS = 300_000;

export interface Endpoint {
  config: EndpointConfig;
  /** Open connections to this endpoint (least request reads it). */
  active: number;
  /** TLS for this endpoint, or undefined for plaintext; chosen once from the transport socket matches. */
  tls: UpstreamTls | undefined;
  /** Name of the transport socket match that chose the transport (or `default`). */
  transportName: string;
  ejectedUntil: number;
  ejections: number;
}

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
  ejectionsEnforced: Counter;
  ejectionsActive: Gauge;
  sslHandshakeError: Counter;
  bindErrors: Counter;
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
    ejectionsEnforced: store.counter(`${p}outlier_detection.ejections_enforced_total`),
    ejectionsActive: store.gauge(`${p}outlier_detection.ejections_active`),
    sslHandshakeError: store.counter(`${p}ssl_handshake_error`),
    bindErrors: store.counter(`${p}bind_errors`),
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
  | { ok: false; reason: 'none-healthy' | 'connect-fail' | 'timeout' | 'tls'; detail: string };

export class Cluster {
  readonly stats: ClusterStats;
  readonly endpoints: Endpoint[];
  private readonly healthy: Endpoint[];
  private readonly transports: UpstreamTls[] = [];
  private next = 0;

  constructor(
    readonly config: ClusterConfig,
    store: StatsStore,
    secrets: SecretStore = new SecretStore(),
    log: Logger = silentLogger,
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
        ejectedUntil: 0,
        ejections: 0,
      };
    });
    this.healthy = this.endpoints.filter((e) => e.config.healthy);
    this.stats.membershipTotal.set(this.endpoints.length);
    this.stats.membershipHealthy.set(this.healthy.length);
  }

  /** Whether every TLS transport of the cluster has its material. */
  get ready(): boolean {
    return this.transports.every((t) => t.ready);
  }

  close(): void {
    for (const t of this.transports) t.close();
  }

  /** Healthy endpoints not currently ejected; all healthy ones when every one is ejected (panic). */
  private candidates(now: number): Endpoint[] {
    const hosts = this.healthy;
    let available = 0;
    for (const h of hosts) if (h.ejectedUntil <= now) available++;
    if (available === hosts.length || available === 0) return hosts;
    return hosts.filter((h) => h.ejectedUntil <= now);
  }

  /** The load balancer's choice: round robin, or least request as Envoy's power of two choices. */
  pick(now = Date.now()): Endpoint | undefined {
    const hosts = this.candidates(now);
    if (hosts.length === 0) return undefined;
    if (this.config.lbPolicy === 'LEAST_REQUEST' && hosts.length > 1) {
      const a = hosts[Math.floor(Math.random() * hosts.length)] as Endpoint;
      const b = hosts[Math.floor(Math.random() * hosts.length)] as Endpoint;
      return b.active < a.active ? b : a;
    }
    const host = hosts[this.next % hosts.length];
    this.next = (this.next + 1) % hosts.length;
    return host;
  }

  private eject(endpoint: Endpoint): void {
    const now = Date.now();
    if (endpoint.ejectedUntil > now) return;
    const ms = Math.min(BASE_EJECTION_MS * 2 ** endpoint.ejections, MAX_EJECTION_MS);
    endpoint.ejections++;
    endpoint.ejectedUntil = now + ms;
    this.stats.ejectionsEnforced.inc();
    this.stats.ejectionsActive.inc();
    setTimeout(() => this.stats.ejectionsActive.dec(), ms).unref();
  }

  /**
   * Connects to a picked endpoint within connect_timeout — TCP, then TLS when the endpoint's transport says so.
   * The socket allows half-open connections.
   */
  connect(done: (result: ConnectResult) => void): void {
    const endpoint = this.pick();
    const s = this.stats;
    if (!endpoint) {
      s.upstreamCxNoneHealthy.inc();
      done({
        ok: false,
        reason: 'none-healthy',
        detail: `cluster ${this.config.name} has no healthy endpoint`,
      });
      return;
    }
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
    const failed = (reason: Exclude<ConnectResult, { ok: true }>['reason'], detail: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.upstreamCxConnectFail.inc();
      this.eject(endpoint);
      socket.destroy();
      done({ ok: false, reason, detail });
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
      endpoint.ejections = 0;
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
        failed('connect-fail', `failed to bind to ${bind?.host}:${bind?.port ?? 0}: ${e.code ?? e.message}`);
      } else failed('connect-fail', `connect to ${host}:${port}: ${e.code ?? e.message}`);
    });
    socket.once('connect', () => {
      if (!endpoint.tls) {
        established(socket, undefined);
        return;
      }
      endpoint.tls.handshake(socket, (outcome) => {
        if (outcome.ok) established(outcome.socket, outcome.peerIdentity, outcome.localIdentity);
        else failed('tls', `TLS to ${host}:${port}: ${outcome.detail}`);
      });
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
