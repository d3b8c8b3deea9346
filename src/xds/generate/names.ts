// Istio's names for generated resources, and the constant values its generators share.
// Istio: pilot/pkg/model/service.go (BuildSubsetKey, BuildInboundSubsetKey, BuildDNSSrvSubsetKey),
// pilot/pkg/networking/util/util.go (DomainName), pilot/pkg/networking/core/listener.go (ALPN sets).

export type Direction = 'inbound' | 'outbound';

/** `outbound|8080||foo.ns.svc.cluster.local`, `outbound|8080|v1|foo…` (BuildSubsetKey). */
export function clusterName(direction: Direction, port: number, subset: string, host: string): string {
  return `${direction}|${port}|${subset}|${host}`;
}

/** `inbound|8080||` (BuildInboundSubsetKey). */
export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}

/** `outbound_.8080_._.foo.ns.svc.cluster.local`: the SNI a client sidecar sends (BuildDNSSrvSubsetKey). */
export function sniName(direction: Direction, port: number, subset: string, host: string): string {
  return `${direction}_.${port}_.${subset}_.${host}`;
}

/** Parses a cluster name made by `clusterName`; undefined for any other name. */
export function parseClusterName(
  name: string,
): { direction: Direction; port: number; subset: string; host: string } | undefined {
  const parts = name.split('|');
  if (parts.length !== 4) return undefined;
  const [direction, port, subset = '', host = ''] = parts;
  if (direction !== 'inbound' && direction !== 'outbound') return undefined;
  // Only what clusterName writes: decimal digits without a leading zero (Number() would read 0x1F90 or 8e3).
  if (!/^[1-9][0-9]{0,4}$/.test(port ?? '')) return undefined;
  const n = Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535) return undefined;
  return { direction, port: n, subset, host };
}

/** `127.0.0.1_15101`: a listener named after where it binds (Istio's getListenerName). */
export function listenerName(bind: string, port: number): string {
  return `${bind}_${port}`;
}

/** `foo.ns.svc.cluster.local:8080` (DomainName; IPv6 bracketed). */
export function domainName(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export const VIRTUAL_INBOUND = 'virtualInbound';
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';
export const INBOUND_PASSTHROUGH_CLUSTER = 'InboundPassthroughCluster';
/** The secret names each proxy's agent serves over SDS: the workload certificate and the mesh roots. */
export const SECRET_DEFAULT = 'default';
export const SECRET_ROOTCA = 'ROOTCA';
/** The route configuration of the HTTP proxy listener (Istio's RDSHttpProxy). */
export const HTTP_PROXY_ROUTE = 'http_proxy';

/** ALPN values a client sidecar offers for mesh mTLS, by upstream protocol (listener.go). */
export const ALPN = {
  /** Mesh mTLS carrying HTTP (istio.alpn rewrites). */
  mtlsHttp: ['istio-http/1.0', 'istio-http/1.1', 'istio-h2'],
  /** Any mesh mTLS. */
  allIstioMtls: ['istio', 'istio-peer-exchange', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2'],
  /** Mesh mTLS carrying TCP. */
  mtlsTcp: ['istio-peer-exchange', 'istio'],
  /** What http_inspector reports for plaintext HTTP. */
  plaintextHttp: ['http/1.1', 'h2c'],
  /** What a client sidecar's UpstreamTlsContext offers (ALPNInMeshWithMxc); HTTP/2 clusters add h2. */
  inMeshWithMx: ['istio-peer-exchange', 'istio'],
} as const;

/** The `;` Istio appends to alt_stat_name and HCM stat prefixes, for its stats tag extraction. */
export const STAT_PREFIX_DELIMITER = ';';

/** The xDS resource types: the type_url of a DiscoveryRequest and of each resource in the response. */
export const TYPE_URL = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;

/** The `@type` of the Anys generated resources carry (and the `type_url` inside a TypedStruct). */
export const TYPE = {
  tcpProxy: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  tlsInspector: 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  httpInspector: 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  downstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  upstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  rawBuffer: 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  httpProtocolOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  fileAccessLog: 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
  previousHosts: 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
  previousPriorities:
    'type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig',
  /** Istio's istio.metadata_exchange filter config (Istio's own proto: the Skiff proxy reads it in a TypedStruct). */
  peerMetadata: 'type.googleapis.com/io.istio.http.peer_metadata.Config',
  /** Istio's istio.stats filter config (likewise). */
  statsPlugin: 'type.googleapis.com/stats.PluginConfig',
  typedStruct: 'type.googleapis.com/udpa.type.v1.TypedStruct',
} as const;

/** The typed_extension_protocol_options key of HttpProtocolOptions: its type name, without the URL prefix. */
export const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
