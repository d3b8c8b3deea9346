// `envoy.filters.network.tcp_proxy`: its configuration (TcpProxy) and the extension entry that builds the
// runtime filter (tcp-proxy.ts).

import { translateAccessLogs } from '../../access-log/config.js';
import type { Extension } from '../../config/extension.js';
import { durationOr, obj, str } from '../../config/json.js';
import type { TcpProxyConfig, WeightedClustersConfig } from '../../config/model.js';
import { TCP_WEIGHTED_CLUSTERS_SUPPORT, translateWeightedClusters } from '../../config/weighted-clusters.js';

/** Envoy's default `idle_timeout`. */
export const TCP_IDLE_TIMEOUT_MS = 3_600_000;

export const TCP_PROXY: Extension<'envoy.filters.network'> = {
  name: 'envoy.filters.network.tcp_proxy',
  aliases: ['envoy.tcp_proxy'],
  category: 'envoy.filters.network',
  types: ['envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy'],
  summary:
    'Relays bytes both ways to an endpoint of a cluster, or of one picked by weight per connection (terminal).',
  support: {
    'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy': {
      stat_prefix: 'Statistics under `tcp.<stat_prefix>.`.',
      cluster: 'The upstream cluster.',
      weighted_clusters: 'Several upstream clusters: one picked per connection by weight (below).',
      idle_timeout: 'Close both sides after this long without bytes either way (default 1h; 0s: never).',
      access_log: 'A line per connection when it ends (UF,URX on a failed connect, UH, NC).',
    },
    ...TCP_WEIGHTED_CLUSTERS_SUPPORT,
  },
  translate(typed, path, ctx): TcpProxyConfig {
    const cluster = str(typed.cluster);
    const effect = 'tcp.*.downstream_cx_no_route';
    let weightedClusters: WeightedClustersConfig | undefined;
    if (typed.weighted_clusters !== undefined) {
      const at = [...path, 'weighted_clusters'];
      if (cluster !== '')
        ctx.error(at, 'proxy.oneof', 'only one of cluster and weighted_clusters may be set');
      weightedClusters = translateWeightedClusters(
        obj(typed.weighted_clusters),
        at,
        'tcp_proxy',
        effect,
        ctx,
      );
    } else if (cluster === '') {
      ctx.error([...path, 'cluster'], 'proxy.required', 'tcp_proxy needs a cluster or weighted_clusters');
    } else ctx.ref('cluster', cluster, [...path, 'cluster'], effect);
    return {
      kind: 'tcp_proxy',
      statPrefix: str(typed.stat_prefix),
      cluster,
      ...(weightedClusters ? { weightedClusters } : {}),
      idleTimeoutMs: durationOr(typed.idle_timeout, TCP_IDLE_TIMEOUT_MS),
      istioStats: undefined,
      accessLogs: translateAccessLogs(typed.access_log, [...path, 'access_log'], ctx),
    };
  },
};
