// `envoy.filters.network.tcp_proxy`: bytes both ways between the downstream connection (plain or TLS) and an
// endpoint of its cluster, or of one of its weighted clusters picked per connection. Half-close is passed through
// (a FIN from one side ends the other's writing side; the connection ends when both have), back-pressure pauses
// the faster side, and `idle_timeout` closes both after a quiet period. Statistics as Envoy's:
// `tcp.<stat_prefix>.*` beside the cluster's `upstream_cx_*`.

import type { Socket } from 'node:net';
import type { Logger } from '../../../core/log.js';
import { addressText, connectionLogContext } from '../../access-log/context.js';
import type { LogContext } from '../../access-log/format.js';
import type { AccessLoggers, AccessLogWriters } from '../../access-log/writer.js';
import type { TcpProxyConfig } from '../../config/model.js';
import type { Counter, Gauge, StatsStore } from '../../stats/index.js';
import type { ProxyTelemetry } from '../../telemetry/context.js';
import {
  endpointWorkloadFromMetadata,
  type PeerLabels,
  type ServiceRef,
  type TcpSeries,
  upstreamSecurityPolicy,
} from '../../telemetry/index.js';
import type { Cluster, ClusterManager, ConnectResult } from '../../upstream/cluster.js';
import { pickCluster } from '../../upstream/weighted-clusters.js';
import type { DownstreamFacts, NetworkFilter } from '../network-filter.js';

/**
 * What a connect attempt adds to the connection's access log line, with tcp_proxy's flags as Envoy sets them
 * (max_connect_attempts 1): a refused or timed-out connect is UF then URX, a local failure (TLS, bind) URX only,
 * no endpoint UH.
 */
function recordUpstream(record: LogContext, result: ConnectResult): void {
  if (result.ok) {
    const { host, port } = result.endpoint.config.address;
    record.upstreamHost = addressText(host, port);
    record.upstreamLocalAddress = addressText(result.socket.localAddress, result.socket.localPort);
    record.upstreamPeerUriSan = result.peerIdentity;
    return;
  }
  if (result.endpoint) {
    const { host, port } = result.endpoint.config.address;
    record.upstreamHost = addressText(host, port);
  }
  record.upstreamTransportFailureReason = result.detail;
  record.responseFlags =
    result.reason === 'none-healthy'
      ? ['UH']
      : result.reason === 'tls' || /^failed to bind/.test(result.detail)
        ? ['URX']
        : ['UF', 'URX'];
}

/** Bytes relayed on one connection (Istio's TCP byte metrics read it). */
interface ByteMeter {
  received: number;
  sent: number;
}

export interface TcpProxyStats {
  downstreamCxTotal: Counter;
  downstreamCxNoRoute: Counter;
  downstreamCxRxBytesTotal: Counter;
  downstreamCxTxBytesTotal: Counter;
  downstreamFlowControlPausedReadingTotal: Counter;
  idleTimeout: Counter;
  upstreamFlushActive: Gauge;
}

export class TcpProxy implements NetworkFilter {
  private readonly stats: TcpProxyStats;
  /** Istio's TCP metrics (the istio.stats network filter before this one). */
  private readonly telemetry: ProxyTelemetry | undefined;
  /** The destination service of each cluster (by name), worked out on its first connection and kept. */
  private readonly services = new Map<string, ServiceRef>();
  private readonly accessLog: AccessLoggers | undefined;

  constructor(
    private readonly config: TcpProxyConfig,
    private readonly clusters: ClusterManager,
    store: StatsStore,
    private readonly log: Logger,
    telemetry?: () => ProxyTelemetry,
    accessLogs?: AccessLogWriters,
  ) {
    this.telemetry = config.istioStats ? telemetry?.() : undefined;
    this.accessLog = accessLogs?.loggers(config.accessLogs);
    const p = `tcp.${config.statPrefix}.`;
    this.stats = {
      downstreamCxTotal: store.counter(`${p}downstream_cx_total`),
      downstreamCxNoRoute: store.counter(`${p}downstream_cx_no_route`),
      downstreamCxRxBytesTotal: store.counter(`${p}downstream_cx_rx_bytes_total`),
      downstreamCxTxBytesTotal: store.counter(`${p}downstream_cx_tx_bytes_total`),
      downstreamFlowControlPausedReadingTotal: store.counter(
        `${p}downstream_flow_control_paused_reading_total`,
      ),
      idleTimeout: store.counter(`${p}idle_timeout`),
      upstreamFlushActive: store.gauge(`${p}upstream_flush_active`),
    };
  }

  /** Takes over `downstream` (paused, possibly with bytes put back) until both sides are closed. */
  handle(downstream: Socket, facts?: DownstreamFacts): void {
    const stats = this.stats;
    stats.downstreamCxTotal.inc();
    // One cluster per connection: the configured one, or one picked by weight (Envoy's tcp_proxy).
    const name = pickCluster(this.config);
    const cluster = this.clusters.get(name);
    const record = this.accessLog ? this.logOnClose(downstream, facts) : undefined;
    if (!cluster) {
      stats.downstreamCxNoRoute.inc();
      if (record) record.responseFlags = ['NC'];
      downstream.destroy();
      return;
    }
    if (record) record.upstreamCluster = cluster.config.name;
    const meter = this.telemetry ? this.report(downstream, facts, cluster) : undefined;
    downstream.pause();
    downstream.once('error', () => {});
    let downstreamGone = false;
    downstream.once('close', () => {
      downstreamGone = true;
    });
    cluster.connect(
      (result) => {
        meter?.connected(result);
        if (record) recordUpstream(record, result);
        if (!result.ok) {
          this.log.debug('upstream connection failed', {
            cluster: name,
            reason: result.detail,
          });
          downstream.destroy();
          return;
        }
        if (downstreamGone) {
          result.socket.destroy();
          return;
        }
        this.relay(
          downstream,
          result.socket,
          cluster.stats.upstreamCxRxBytesTotal,
          cluster.stats.upstreamCxTxBytesTotal,
          meter?.bytes,
        );
      },
      { origin: 'tcp_proxy' },
    );
  }

  /** The access log line of this connection, written when it closes; the caller fills in the upstream side. */
  private logOnClose(downstream: Socket, facts: DownstreamFacts | undefined): LogContext {
    const record = connectionLogContext(facts?.connection);
    const log = this.accessLog as AccessLoggers;
    downstream.once('close', () => {
      record.durationMs = Date.now() - record.startTime;
      record.bytesReceived = downstream.bytesRead;
      record.bytesSent = downstream.bytesWritten;
      log.log(record);
    });
    return record;
  }

  /**
   * Istio's TCP metrics for one connection: labels from the certificates (there is no TCP metadata exchange, so
   * the peer workload is `unknown` but for what its SAN and, outbound, the endpoint's `istio.workload` tell),
   * reported at the first tick of tcp_reporting_duration or at close, byte deltas at each tick and at close.
   */
  private report(
    downstream: Socket,
    facts: DownstreamFacts | undefined,
    cluster: Cluster,
  ): { bytes: ByteMeter; connected(r: ConnectResult): void } {
    const t = this.telemetry as ProxyTelemetry;
    const stats = this.config.istioStats as NonNullable<TcpProxyConfig['istioStats']>;
    let service = this.services.get(cluster.config.name);
    if (service === undefined) {
      service = t.resolver(undefined, cluster.config)(undefined);
      this.services.set(cluster.config.name, service);
    }
    const bytes: ByteMeter = { received: 0, sent: 0 };
    let labels: PeerLabels | undefined;
    let flags = '-';
    if (stats.reporter === 'destination') {
      const peer = facts?.peer;
      labels = t.metrics
        .connection('destination', peer?.spiffeId, peer?.localSpiffeId)
        .labels(undefined, service);
    }
    const report = t.metrics.openTcpConnection(
      {
        series: (final: boolean): TcpSeries | undefined => {
          if (labels === undefined && final) {
            labels = t.metrics
              .connection('source', undefined, undefined, 'unknown')
              .labels(undefined, service);
          }
          return labels?.tcp(flags);
        },
        sentBytes: () => bytes.sent,
        receivedBytes: () => bytes.received,
      },
      stats.tcpReportingMs,
    );
    downstream.once('close', () => report.close());
    return {
      bytes,
      connected: (r) => {
        if (!r.ok) {
          flags = r.reason === 'none-healthy' ? 'UH' : 'UF';
          return;
        }
        if (stats.reporter !== 'source') return;
        const tls = 'encrypted' in r.socket;
        const local = r.localIdentity;
        const security = upstreamSecurityPolicy({
          tls,
          peerPrincipal: r.peerIdentity,
          localPrincipal: local,
        });
        const peer = endpointWorkloadFromMetadata(r.endpoint.config.metadata.filter_metadata);
        labels = t.metrics.connection('source', r.peerIdentity, local, security).labels(peer, service);
      },
    };
  }

  private relay(down: Socket, up: Socket, upRx: Counter, upTx: Counter, meter?: ByteMeter): void {
    const stats = this.stats;
    const closeBoth = () => {
      down.destroy();
      up.destroy();
    };
    down.on('error', closeBoth);
    up.on('error', closeBoth);
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
    down.on('data', (chunk: Buffer) => {
      stats.downstreamCxRxBytesTotal.inc(chunk.length);
      if (meter) meter.received += chunk.length;
      upTx.inc(chunk.length);
      if (!up.write(chunk)) {
        stats.downstreamFlowControlPausedReadingTotal.inc();
        down.pause();
      }
    });
    up.on('data', (chunk: Buffer) => {
      upRx.inc(chunk.length);
      if (meter) meter.sent += chunk.length;
      stats.downstreamCxTxBytesTotal.inc(chunk.length);
      if (!down.write(chunk)) up.pause();
    });
    up.on('drain', () => down.resume());
    down.on('drain', () => up.resume());
    // Half-close: a FIN from one side ends the other side's writing; Node closes each socket once both
    // directions are done (allowHalfOpen on both).
    down.on('end', () => up.end());
    up.on('end', () => down.end());
    if (this.config.idleTimeoutMs > 0) {
      // Node resets the timer on activity of `down`, which every relayed byte is (read or written).
      down.setTimeout(this.config.idleTimeoutMs, () => {
        stats.idleTimeout.inc();
        closeBoth();
      });
    }
    down.resume();
  }
}
