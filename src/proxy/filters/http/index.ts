// The HTTP connection manager extension whole: its configuration (config.ts) and its runtime filter (hcm.ts).

import type { Extension } from '../../config/extension.js';
import type { HttpConnectionManagerConfig } from '../../config/model.js';
import { HTTP_CONNECTION_MANAGER } from './config.js';
import { HttpConnectionManager } from './hcm.js';

export const HTTP_CONNECTION_MANAGER_EXTENSION: Extension<'envoy.filters.network'> = {
  ...HTTP_CONNECTION_MANAGER,
  runtime: {
    kind: 'http_connection_manager',
    create: (config, deps) =>
      new HttpConnectionManager(
        config as HttpConnectionManagerConfig,
        deps.clusters,
        deps.stats,
        deps.log,
        deps.telemetry,
        deps.accessLogs,
      ),
  },
};
