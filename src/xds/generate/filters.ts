// The HTTP and network filters both sides of a sidecar share, as Istio configures them, limited to what the Skiff
// proxy implements. Istio: pilot/pkg/networking/core/listener_builder.go (buildHTTPConnectionManager: filter
// order), pilot/pkg/xds/filters/filters.go (typed configs), pilot/pkg/model/telemetry.go (stats.PluginConfig).

import type { JsonObject } from '../decode.js';
import { TYPE } from './names.js';

export type Side = 'inbound' | 'outbound';

/**
 * `istio.stats` (HTTP filter, and network filter before tcp_proxy). Istio sends stats.PluginConfig as its own Any;
 * the Skiff proxy reads it as a TypedStruct with the same fields, since stats.PluginConfig is not one of Envoy's
 * protos. `disable_host_header_fallback` is set on the inbound side (and gateways), not outbound
 * (telemetry.go disableHostHeaderFallback).
 */
export function istioStatsFilter(side: Side): JsonObject {
  return {
    name: 'istio.stats',
    typed_config: {
      '@type': TYPE.typedStruct,
      type_url: TYPE.statsPlugin,
      value: side === 'inbound' ? { disable_host_header_fallback: true } : {},
    },
  };
}

/**
 * The HTTP `istio.metadata_exchange` filter (io.istio.http.peer_metadata.Config): peer metadata read from and
 * written to Istio's headers, downstream on the inbound side, upstream outbound. Istio also lists
 * `{workload_discovery: {}}` among the discovery methods; omitted: not implemented by the Skiff proxy.
 */
export function peerMetadataFilter(side: Side): JsonObject {
  const way = side === 'inbound' ? 'downstream' : 'upstream';
  return {
    name: 'istio.metadata_exchange',
    typed_config: {
      '@type': TYPE.typedStruct,
      type_url: TYPE.peerMetadata,
      value: {
        [`${way}_discovery`]: [{ istio_headers: {} }],
        [`${way}_propagation`]: [{ istio_headers: {} }],
      },
    },
  };
}

/**
 * `istio.alpn` (outbound and gateways, never sidecar inbound): per request, the ALPN the upstream mTLS connection
 * offers, by the upstream protocol — what lets a server sidecar's auto-detected and STRICT ports tell HTTP from TCP
 * (filters.go:562). Sent as a TypedStruct (its proto is Istio's own). Clusters with DestinationRule SIMPLE/MUTUAL TLS
 * opt out with metadata `istio.alpn_override: "false"` (clusters.ts).
 */
export function istioAlpnFilter(): JsonObject {
  return {
    name: 'istio.alpn',
    typed_config: {
      '@type': TYPE.typedStruct,
      type_url: 'type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig',
      value: {
        alpn_override: [
          { upstream_protocol: 'HTTP10', alpn_override: ['istio-http/1.0', 'istio', 'http/1.0'] },
          { upstream_protocol: 'HTTP11', alpn_override: ['istio-http/1.1', 'istio', 'http/1.1'] },
          { upstream_protocol: 'HTTP2', alpn_override: ['istio-h2', 'istio', 'h2'] },
        ],
      },
    },
  };
}

/**
 * A sidecar's HTTP filters in Istio's order: metadata exchange, istio.alpn (outbound), istio.stats, router. Istio
 * also adds envoy.filters.http.grpc_stats, envoy.filters.http.fault and envoy.filters.http.cors, and
 * envoy.filters.http.grpc_web on gRPC-Web ports; omitted: not implemented by the Skiff proxy.
 */
export function sidecarHttpFilters(side: Side): JsonObject[] {
  return [
    peerMetadataFilter(side),
    ...(side === 'outbound' ? [istioAlpnFilter()] : []),
    istioStatsFilter(side),
    { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE.router } },
  ];
}
