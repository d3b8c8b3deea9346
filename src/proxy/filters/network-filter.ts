// What a listener hands a connection to: the chain's terminal network filter (tcp_proxy, http_connection_manager),
// made once per filter chain by its extension's factory.

import type { Socket } from 'node:net';
import type { Logger } from '../../core/log.js';
import type { AccessLogWriters } from '../access-log/writer.js';
import type { NetworkFilterConfig } from '../config/model.js';
import type { StatsStore } from '../stats/index.js';
import type { ProxyTelemetry } from '../telemetry/context.js';
import type { PeerInfo } from '../transport/downstream-tls.js';
import type { ClusterManager } from '../upstream/cluster.js';

/** One accepted downstream connection, as the listener knows it (the admin server lists them). */
export interface ConnectionInfo {
  /** Envoy's connection id: a process-wide count of accepted connections. */
  id: number;
  listener: string;
  filterChain: string;
  sourceAddress: string;
  sourcePort: number;
  /** The local address the connection came to. */
  destinationAddress: string;
  destinationPort: number;
  transport: 'tls' | 'raw_buffer';
  /** The SNI tls_inspector read, if any. */
  serverName: string | undefined;
  /** Set when the listener terminated TLS. */
  peer: PeerInfo | undefined;
  openedAt: number;
  /** No filter chain matched (Envoy's NR on the listener's access log). */
  noChain?: boolean;
}

/** What the listener learned about a connection before handing it over. */
export interface DownstreamFacts {
  /** Set when the listener terminated TLS. */
  peer: PeerInfo | undefined;
  tls: boolean;
  /** The listener's record of the connection (access logs read it). */
  connection?: ConnectionInfo;
}

export interface NetworkFilter {
  /** Takes over the connection (paused, possibly with bytes put back) until it closes. */
  handle(socket: Socket, facts: DownstreamFacts): void;
  /** Releases what the filter holds (upstream pools) when its listener goes away. */
  close?(): void;
}

/** What a network filter's factory may use. */
export interface NetworkFilterDeps {
  clusters: ClusterManager;
  stats: StatsStore;
  log: Logger;
  /** The proxy's Istio telemetry (made on first use by a filter with Istio's filters). */
  telemetry?: () => ProxyTelemetry;
  /** Where access logs are written. */
  accessLogs?: AccessLogWriters;
}

/** The runtime half of a terminal network filter's extension: its configs (by `kind`) become filters. */
export interface NetworkFilterRuntime {
  kind: NetworkFilterConfig['kind'];
  create(config: NetworkFilterConfig, deps: NetworkFilterDeps): NetworkFilter;
}
