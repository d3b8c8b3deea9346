// Upstream clusters: endpoints, the load balancer's pick, and connecting with `connect_timeout`, counted as
// Envoy counts them (`cluster.<name>.upstream_cx_*`). STATIC clusters now; EDS and upstream TLS build on this.

import net from 'node:net';
import type { ClusterConfig, EndpointConfig } from '../config/model.js';
import type { Counter, Gauge, StatsStore } from '../stats/index.js';

export interface Endpoint {
  config: EndpointConfig;
  /** Open connections to this endpoint (least request reads it). */
  active: number;
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
  };
}

export type ConnectResult =
  | { ok: true; socket: net.Socket; endpoint: Endpoint }
  | { ok: false; reason: 'none-healthy' | 'connect-fail' | 'timeout'; detail: string };

export class Cluster {
  readonly stats: ClusterStats;
  private readonly healthy: Endpoint[];
  private next = 0;

  constructor(
    readonly config: ClusterConfig,
    store: StatsStore,
  ) {
    this.stats = clusterStats(store, config.name);
    const endpoints = config.endpoints.map((e) => ({ config: e, active: 0 }));
    this.healthy = endpoints.filter((e) => e.config.healthy);
    this.stats.membershipTotal.set(endpoints.length);
    this.stats.membershipHealthy.set(this.healthy.length);
  }

  /** The load balancer's choice: round robin, or least request as Envoy's power of two choices. */
  pick(): Endpoint | undefined {
    const hosts = this.healthy;
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

  /** Connects to a picked endpoint within connect_timeout. The socket allows half-open connections. */
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
    const socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      s.upstreamCxConnectTimeout.inc();
      s.upstreamCxConnectFail.inc();
      socket.destroy();
      done({
        ok: false,
        reason: 'timeout',
        detail: `connect to ${host}:${port} timed out after ${this.config.connectTimeoutMs} ms`,
      });
    }, this.config.connectTimeoutMs);
    socket.once('error', (e: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.upstreamCxConnectFail.inc();
      done({
        ok: false,
        reason: 'connect-fail',
        detail: `connect to ${host}:${port}: ${e.code ?? e.message}`,
      });
    });
    socket.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      endpoint.active++;
      s.upstreamCxActive.inc();
      socket.once('close', () => {
        endpoint.active--;
        s.upstreamCxActive.dec();
        s.upstreamCxDestroy.inc();
      });
      done({ ok: true, socket, endpoint });
    });
  }
}

export class ClusterManager {
  private readonly clusters = new Map<string, Cluster>();

  constructor(configs: readonly ClusterConfig[], store: StatsStore) {
    for (const c of configs) this.clusters.set(c.name, new Cluster(c, store));
  }

  get(name: string): Cluster | undefined {
    return this.clusters.get(name);
  }

  all(): Cluster[] {
    return [...this.clusters.values()];
  }
}
