// Shared by the HTTP filter tests: a connection manager config with one virtual host, a one-endpoint STATIC
// cluster config, ports, and polling.

import type http from 'node:http';
import type http2 from 'node:http2';
import net from 'node:net';
import type { RouteEntry } from '../../../../src/policy/routes.js';
import type {
  ClusterConfig,
  HttpConnectionManagerConfig,
  RouteActionConfig,
} from '../../../../src/proxy/config/model.js';

type RouteConfig = RouteEntry<RouteActionConfig>;

/** A route on a path prefix to `cluster`. */
export function route(name: string, pathPrefix: string, cluster: string, timeoutMs = 0): RouteConfig {
  return {
    name,
    match: {
      path: { kind: 'prefix', value: pathPrefix },
      caseSensitive: true,
      headers: [],
      queryParameters: [],
    },
    action: { cluster, timeoutMs },
  };
}

/** An inbound connection manager (stat prefix `inbound_0.0.0.0_9080`) with one `*` virtual host of `routes`. */
export function hcmConfig(
  routes: RouteConfig[],
  o: Partial<HttpConnectionManagerConfig> = {},
): HttpConnectionManagerConfig {
  return {
    kind: 'http_connection_manager',
    statPrefix: 'inbound_0.0.0.0_9080',
    codec: 'AUTO',
    routeConfigName: 'inbound|9080||',
    virtualHosts: [{ name: 'inbound|http|9080', domains: ['*'], routes }],
    forwardClientCertDetails: 'APPEND_FORWARD',
    clientCertDetails: { subject: true, uri: true, dns: true, cert: false, chain: false },
    maxRequestHeadersKb: 8,
    requestHeadersTimeoutMs: 0,
    streamIdleTimeoutMs: 300_000,
    idleTimeoutMs: 3_600_000,
    allowCustomMethods: false,
    acceptHttp10: false,
    defaultHostForHttp10: '',
    allowAbsoluteUrl: true,
    useRemoteAddress: false,
    upgrades: ['websocket'],
    istioStats: undefined,
    peerMetadata: undefined,
    ...o,
  };
}

/** A STATIC cluster with one plaintext endpoint on 127.0.0.1:`port`. */
export function staticCluster(
  name: string,
  port: number,
  httpProtocol: ClusterConfig['httpProtocol'],
  o: {
    filterMetadata?: ClusterConfig['filterMetadata'];
    endpointMetadata?: ClusterConfig['filterMetadata'];
  } = {},
): ClusterConfig {
  return {
    name,
    type: 'STATIC',
    connectTimeoutMs: 500,
    lbPolicy: 'ROUND_ROBIN',
    endpoints: [
      {
        address: { host: '127.0.0.1', port },
        healthy: true,
        metadata: o.endpointMetadata ? { filter_metadata: o.endpointMetadata } : {},
        transportMatch: {},
      },
    ],
    transport: { kind: 'raw' },
    transportSocketMatches: [],
    httpProtocol,
    filterMetadata: o.filterMetadata ?? {},
  };
}

export const portOf = (s: net.Server | http.Server | http2.Http2Server) =>
  (s.address() as net.AddressInfo).port;

/** A port nothing listens on. */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = portOf(s);
  await new Promise((r) => s.close(r));
  return port;
}

/** Resolves once `predicate` holds; rejects after `ms`. */
export function until(predicate: () => boolean, what: string, ms = 2000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      if (predicate()) resolve();
      else if (Date.now() - started > ms) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 5);
    };
    poll();
  });
}
