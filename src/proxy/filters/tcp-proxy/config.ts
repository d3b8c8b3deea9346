// `envoy.filters.network.tcp_proxy`: its configuration (TcpProxy) and the extension entry that builds the
// runtime filter (tcp-proxy.ts).

import { translateAccessLogs } from '../../access-log/config.js';
import type { Extension } from '../../config/extension.js';
import { durationOr, str } from '../../config/json.js';
import type { TcpProxyConfig } from '../../config/model.js';

/** Envoy's default `idle_timeout`. */
export const TCP_IDLE_TIMEOUT_MS = 3_600_000;

export const TCP_PROXY: Extension<'envoy.filters.network'> = {
  name: 'envoy.filters.network.tcp_proxy',
  aliases: ['envoy.tcp_proxy'],
  category: 'envoy.filters.network',
  types: ['envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy'],
  summary: 'Relays bytes both ways to an endpoint of one cluster (terminal).',
  support: {
    'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy': {
      stat_prefix: 'Statistics under `tcp.<stat_prefix>.`.',
      cluster: 'The upstream cluster.',
      idle_timeout: 'Close both sides after this long without bytes either way (default 1h; 0s: never).',
      access_log: 'A line per connection when it ends (UF,URX on a failed connect, UH, NC).',
    },
  },
  translate(typed, path, ctx): TcpProxyConfig {
    const cluster = str(typed.cluster);
    if (cluster === '') {
      ctx.error(
        [...path, 'cluster'],
        'proxy.unsupported',
        'tcp_proxy needs a cluster (weighted_clusters and on-demand are not implemented)',
      );
    } else ctx.ref('cluster', cluster, [...path, 'cluster'], 'tcp.*.downstream_cx_no_route');
    return {
      kind: 'tcp_proxy',
      statPrefix: str(typed.stat_prefix),
      cluster,
      idleTimeoutMs: durationOr(typed.idle_timeout, TCP_IDLE_TIMEOUT_MS),
      istioStats: undefined,
      accessLogs: translateAccessLogs(typed.access_log, [...path, 'access_log'], ctx),
    };
  },
};
