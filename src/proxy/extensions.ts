// Every extension the Skiff proxy implements, explicitly: a new filter, transport socket or logger is one folder
// and one line here. The translation (config/) finds them by category and type; the listener builds terminal
// network filters with their runtime factories.

import { FILE_ACCESS_LOG, STDERR_ACCESS_LOG, STDOUT_ACCESS_LOG } from './access-log/config.js';
import { ExtensionRegistry } from './config/extension.js';
import { HTTP_INSPECTOR, TLS_INSPECTOR } from './detect/listener-filters.js';
import { ISTIO_ALPN } from './filters/http/alpn.js';
import { HTTP_CONNECTION_MANAGER_EXTENSION } from './filters/http/index.js';
import { ROUTER } from './filters/http/router/config.js';
import { PREVIOUS_HOSTS } from './filters/http/router/retry-config.js';
import { TCP_PROXY_EXTENSION } from './filters/tcp-proxy/index.js';
import { DOWNSTREAM_CONNECTIONS_MONITOR } from './listener/connection-limit.js';
import { ISTIO_METADATA_EXCHANGE, ISTIO_STATS_HTTP, ISTIO_STATS_TCP } from './telemetry/istio-filters.js';
import { DOWNSTREAM_RAW, DOWNSTREAM_TLS, UPSTREAM_RAW, UPSTREAM_TLS } from './transport/tls-config.js';
import { HTTP_PROTOCOL_OPTIONS } from './upstream/http-protocol-options.js';

export const PROXY_EXTENSIONS = new ExtensionRegistry([
  TLS_INSPECTOR,
  HTTP_INSPECTOR,
  TCP_PROXY_EXTENSION,
  HTTP_CONNECTION_MANAGER_EXTENSION,
  ISTIO_STATS_TCP,
  ISTIO_METADATA_EXCHANGE,
  ISTIO_STATS_HTTP,
  ISTIO_ALPN,
  ROUTER,
  DOWNSTREAM_TLS,
  DOWNSTREAM_RAW,
  UPSTREAM_TLS,
  UPSTREAM_RAW,
  HTTP_PROTOCOL_OPTIONS,
  DOWNSTREAM_CONNECTIONS_MONITOR,
  PREVIOUS_HOSTS,
  FILE_ACCESS_LOG,
  STDOUT_ACCESS_LOG,
  STDERR_ACCESS_LOG,
]);
