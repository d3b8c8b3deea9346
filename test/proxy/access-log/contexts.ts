// Log contexts the access log tests share: an outbound HTTP request that succeeded, one that matched no route (NR),
// one whose upstream refused the connection (UF,URX), and a TCP connection (no headers, no protocol).

import { connectionLogContext } from '../../../src/proxy/access-log/context.js';
import type { LogContext } from '../../../src/proxy/access-log/format.js';

type Headers = Record<string, string>;

export interface ContextInit
  extends Partial<Omit<LogContext, 'requestHeader' | 'responseHeader' | 'responseTrailer'>> {
  request?: Headers;
  response?: Headers;
  trailers?: Headers;
}

/** A context with nothing set but the start time; `init` fills what a test needs. */
export function context(init: ContextInit = {}): LogContext {
  const { request, response, trailers, ...fields } = init;
  const lookup = (headers: Headers | undefined) => (name: string) => headers?.[name];
  return {
    // A connection the listener knows nothing about: every field unset (the proxy's own blank context).
    ...connectionLogContext(undefined, 1_672_531_200_123), // 2023-01-01T00:00:00.123Z
    requestHeader: lookup(request),
    responseHeader: lookup(response),
    responseTrailer: lookup(trailers),
    ...fields,
  };
}

const CLUSTER = 'outbound|9080||productpage.default.svc.cluster.local';

export const success = context({
  request: {
    ':method': 'GET',
    ':path': '/productpage?u=normal',
    ':authority': 'productpage:9080',
    ':scheme': 'http',
    'user-agent': 'curl/8.0.1',
    'x-request-id': '5f1d2c3b-0e4a-4f7e-9a51-7d3c2b1a0f9e',
  },
  response: { ':status': '200', 'x-envoy-upstream-service-time': '12' },
  protocol: 'HTTP/1.1',
  responseCode: 200,
  responseCodeDetails: 'via_upstream',
  bytesReceived: 0,
  bytesSent: 1683,
  durationMs: 14.7,
  upstreamHost: '10.0.0.7:9080',
  upstreamCluster: CLUSTER,
  upstreamLocalAddress: '10.0.0.5:45678',
  downstreamLocalAddress: '10.96.0.20:9080',
  downstreamRemoteAddress: '10.0.0.5:38412',
  downstreamDirectRemoteAddress: '10.0.0.5:38412',
  routeName: 'default',
  connectionId: 42,
  upstreamRequestAttemptCount: 1,
});

export const noRoute = context({
  request: {
    ':method': 'GET',
    ':path': '/nowhere',
    ':authority': 'unknown:9080',
    'user-agent': 'curl/8.0.1',
    'x-request-id': 'req-2',
  },
  protocol: 'HTTP/1.1',
  responseCode: 404,
  responseFlags: ['NR'],
  responseCodeDetails: 'route_not_found',
  durationMs: 0,
  downstreamLocalAddress: '10.96.0.20:9080',
  downstreamRemoteAddress: '10.0.0.5:38414',
  downstreamDirectRemoteAddress: '10.0.0.5:38414',
  connectionId: 43,
});

export const upstreamFailure = context({
  request: {
    ':method': 'POST',
    ':path': '/reviews/0',
    ':authority': 'reviews:9080',
    'user-agent': 'python-requests/2.31',
    'x-request-id': 'req-3',
    'x-forwarded-for': '192.168.1.10',
  },
  response: { ':status': '503' },
  protocol: 'HTTP/2',
  responseCode: 503,
  responseFlags: ['UF', 'URX'],
  responseCodeDetails: 'upstream_reset_before_response_started{remote connection failure}',
  upstreamTransportFailureReason: 'delayed connect error: Connection refused',
  bytesReceived: 18,
  bytesSent: 91,
  durationMs: 3,
  upstreamHost: '10.0.0.9:9080',
  upstreamCluster: 'outbound|9080||reviews.default.svc.cluster.local',
  downstreamLocalAddress: '10.96.0.21:9080',
  downstreamRemoteAddress: '10.0.0.5:38416',
  downstreamDirectRemoteAddress: '10.0.0.5:38416',
  routeName: 'default',
  connectionId: 44,
  upstreamRequestAttemptCount: 2,
});

export const tcp = context({
  durationMs: 2051,
  bytesReceived: 12,
  bytesSent: 1_000_000,
  upstreamHost: '10.0.0.8:5432',
  upstreamCluster: 'outbound|5432||db.default.svc.cluster.local',
  upstreamLocalAddress: '10.0.0.5:51000',
  downstreamLocalAddress: '10.96.3.7:5432',
  downstreamRemoteAddress: '10.0.0.5:40000',
  downstreamDirectRemoteAddress: '10.0.0.5:40000',
  requestedServerName: 'db.default.svc.cluster.local',
  downstreamPeerUriSan: 'spiffe://cluster.local/ns/default/sa/web',
  downstreamLocalUriSan: 'spiffe://cluster.local/ns/default/sa/db',
  downstreamTlsVersion: 'TLSv1.3',
  filterChainName: 'inbound-tcp',
  connectionId: 45,
});
