// `envoy.filters.network.tcp_proxy`: bytes both ways between the downstream connection (plain or TLS) and an
// endpoint of one cluster. Half-close is passed through (a FIN from one side ends the other's writing side;
// the connection ends when both have), back-pressure pauses the faster side, and `idle_timeout` closes both
// after a quiet period. Statistics as Envoy's: `tcp.<stat_prefix>.*` beside the cluster's `upstream_cx_*`.

import type { Socket } from 'node:net';
import type { Logger } from '../../core/log.js';
import type { TcpProxyConfig } from '../config/model.js';
import type { Counter, Gauge, StatsStore } from '../stats/index.js';
import type { ClusterManager } from '../upstream/cluster.js';
import type { NetworkFilter } from './network-filter.js';

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

  constructor(
    private readonly config: TcpProxyConfig,
    private readonly clusters: ClusterManager,
    store: StatsStore,
    private readonly log: Logger,
  ) {
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
  handle(downstream: Socket): void {
    const stats = this.stats;
    stats.downstreamCxTotal.inc();
    const cluster = this.clusters.get(this.config.cluster);
    if (!cluster) {
      stats.downstreamCxNoRoute.inc();
      downstream.destroy();
      return;
    }
    downstream.pause();
    downstream.once('error', () => {});
    let downstreamGone = false;
    downstream.once('close', () => {
      downstreamGone = true;
    });
    cluster.connect((result) => {
      if (!result.ok) {
        this.log.debug('upstream connection failed', { cluster: this.config.cluster, reason: result.detail });
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
      );
    });
  }

  private relay(down: Socket, up: Socket, upRx: Counter, upTx: Counter): void {
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
      upTx.inc(chunk.length);
      if (!up.write(chunk)) {
        stats.downstreamFlowControlPausedReadingTotal.inc();
        down.pause();
      }
    });
    up.on('data', (chunk: Buffer) => {
      upRx.inc(chunk.length);
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
