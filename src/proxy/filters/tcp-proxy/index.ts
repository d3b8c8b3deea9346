// The tcp_proxy extension whole: its configuration (config.ts) and its runtime filter (tcp-proxy.ts).

import type { Extension } from '../../config/extension.js';
import type { TcpProxyConfig } from '../../config/model.js';
import { TCP_PROXY } from './config.js';
import { TcpProxy } from './tcp-proxy.js';

export const TCP_PROXY_EXTENSION: Extension<'envoy.filters.network'> = {
  ...TCP_PROXY,
  runtime: {
    kind: 'tcp_proxy',
    create: (config, deps) =>
      new TcpProxy(
        config as TcpProxyConfig,
        deps.clusters,
        deps.stats,
        deps.log,
        deps.telemetry,
        deps.accessLogs,
      ),
  },
};
