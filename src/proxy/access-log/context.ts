// What an access log line is made from, filled in by whoever logs: the listener (a connection it closed or no
// chain matched), tcp_proxy (a connection) and the HTTP connection manager (a stream). The connection's part comes
// from the listener's record of it; the rest is set by the caller. Only built when a logger is configured.

import type { ConnectionInfo } from '../filters/network-filter.js';
import type { LogContext } from './format.js';

/** `ip:port` as Envoy prints an address (`[::1]:80` for IPv6). */
export function addressText(host: string | undefined, port: number | undefined): string | undefined {
  if (!host) return undefined;
  const h = host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
  return h.includes(':') ? `[${h}]:${port ?? 0}` : `${h}:${port ?? 0}`;
}

const none = (): undefined => undefined;

/** A log context for one connection (and, with headers set, one HTTP stream on it). */
export function connectionLogContext(info: ConnectionInfo | undefined, now = Date.now()): LogContext {
  const peer = info?.peer;
  const remote = addressText(info?.sourceAddress, info?.sourcePort);
  const uriSans = peer?.sans.filter((s) => s.type === 'URI').map((s) => s.value) ?? [];
  return {
    startTime: info?.openedAt ?? now,
    durationMs: info ? now - info.openedAt : undefined,
    requestHeader: none,
    responseHeader: none,
    responseTrailer: none,
    protocol: undefined,
    responseCode: 0,
    responseFlags: [],
    responseCodeDetails: undefined,
    connectionTerminationDetails: undefined,
    upstreamTransportFailureReason: undefined,
    bytesReceived: 0,
    bytesSent: 0,
    upstreamHost: undefined,
    upstreamCluster: undefined,
    upstreamLocalAddress: undefined,
    downstreamLocalAddress: addressText(info?.destinationAddress, info?.destinationPort),
    downstreamRemoteAddress: remote,
    downstreamDirectRemoteAddress: remote,
    requestedServerName: info?.serverName || undefined,
    routeName: undefined,
    downstreamPeerUriSan: uriSans.length > 0 ? uriSans.join(',') : undefined,
    upstreamPeerUriSan: undefined,
    downstreamLocalUriSan: peer?.localSpiffeId,
    downstreamTlsVersion: peer?.version,
    connectionId: info?.id ?? 0,
    filterChainName: info?.filterChain || undefined,
    upstreamRequestAttemptCount: 0,
  };
}
