// The label values of Istio's standard metrics, as istio/proxy's stats filter computes them
// (source/extensions/filters/http/istio_stats/istio_stats.cc `populatePeerInfo`, `log`, `reportHelper`,
// `populateFlagsAndConnectionSecurity`), in the order it pushes them, which is the order Envoy prints:
// 20 workload/service labels, then `request_protocol`, `response_code`, `grpc_response_status`,
// `response_flags`, `connection_security_policy` (TCP: no response code nor gRPC status). Also the helpers for
// the inputs: gRPC detection and status (envoy source/common/grpc/common.cc), the destination service
// (Host header or cluster metadata `istio.services`), the namespace in a SPIFFE principal.
// One deliberate difference: on reporter="source" Istio leaves `connection_security_policy` at `unknown`
// (istio/istio#12452); Skiff says `mutual_tls` or `none` from the upstream connection (docs/telemetry.md). Pure.

import type { WorkloadMetadata } from './workload.js';

export type Reporter = 'source' | 'destination';
export type RequestProtocol = 'http' | 'grpc' | 'tcp';
export type SecurityPolicy = 'mutual_tls' | 'none' | 'unknown';

/** The 20 labels every Istio metric starts with, in Istio's order. */
export const WORKLOAD_LABEL_NAMES: readonly string[] = Object.freeze([
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_service_name',
  'destination_service_namespace',
  'destination_cluster',
]);

/** The 25 labels of the HTTP/gRPC metrics, in Istio's order. */
export const HTTP_LABEL_NAMES: readonly string[] = Object.freeze([
  ...WORKLOAD_LABEL_NAMES,
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
]);

/** The 23 labels of the TCP metrics, in Istio's order. */
export const TCP_LABEL_NAMES: readonly string[] = Object.freeze([
  ...WORKLOAD_LABEL_NAMES,
  'request_protocol',
  'response_flags',
  'connection_security_policy',
]);

const UNKNOWN = 'unknown';
const LATEST = 'latest';

/** Where the request went, for `destination_service` / `destination_service_name`; "" = not known. */
export interface ServiceRef {
  readonly host: string;
  readonly name: string;
}

/** What one report's labels depend on besides the proxy's own workload. */
export interface TrafficFacts {
  readonly reporter: Reporter;
  /**
   * The other side's workload: destination reporter, from the request's `x-envoy-peer-metadata`; source
   * reporter, from the response's, else from the endpoint's `istio.workload` metadata (parseEndpointWorkload).
   */
  readonly peer: WorkloadMetadata | undefined;
  /**
   * The other side's identity (first URI SAN): destination reporter, the downstream client certificate's;
   * source reporter, the upstream server certificate's (verified). Undefined over plaintext.
   */
  readonly peerPrincipal: string | undefined;
  /**
   * This proxy's identity on that connection (first URI SAN of its own certificate): destination reporter, the
   * certificate it served downstream; source reporter, the client certificate it presented upstream.
   */
  readonly localPrincipal: string | undefined;
  /**
   * Source reporter only (Skiff's deviation): what the upstream connection was, from `upstreamSecurityPolicy`.
   * Default `unknown` (Istio's value). Ignored on reporter="destination".
   */
  readonly upstreamSecurity?: SecurityPolicy;
  readonly service: ServiceRef | undefined;
}

/** `<ns>` in `…/ns/<ns>/…` (istio_stats.cc `getNamespace`); undefined without `/ns/`. */
export function namespaceFromPrincipal(principal: string): string | undefined {
  const at = principal.indexOf('/ns/');
  if (at < 0) return undefined;
  const begin = at + 4;
  const end = principal.indexOf('/', begin);
  return end < 0 ? principal.slice(begin) : principal.slice(begin, end);
}

/**
 * `connection_security_policy` on reporter="destination" (Istio): `mutual_tls` when the downstream connection
 * had both a peer and a local URI SAN, else `none`.
 */
export function destinationSecurityPolicy(
  peerPrincipal: string | undefined,
  localPrincipal: string | undefined,
): SecurityPolicy {
  return peerPrincipal !== undefined &&
    peerPrincipal !== '' &&
    localPrincipal !== undefined &&
    localPrincipal !== ''
    ? 'mutual_tls'
    : 'none';
}

/**
 * Skiff's `connection_security_policy` on reporter="source" (Istio always says `unknown` there): `mutual_tls`
 * when the request went over a TLS upstream connection on which this proxy presented a certificate with a URI
 * SAN and the server's identity was verified (`peerPrincipal` is only set after verification), the rule the
 * destination side applies; `none` for any other upstream connection (plaintext, or TLS that is not mutual);
 * `unknown` when there was no upstream connection (the request failed before one: NR, NC, UF, UH…).
 */
export function upstreamSecurityPolicy(
  upstream:
    | { tls: boolean; peerPrincipal: string | undefined; localPrincipal: string | undefined }
    | undefined,
): SecurityPolicy {
  if (upstream === undefined) return 'unknown';
  if (!upstream.tls) return 'none';
  return destinationSecurityPolicy(upstream.peerPrincipal, upstream.localPrincipal);
}

/** The value `connection_security_policy` takes for these facts. */
export function securityPolicyOf(f: TrafficFacts): SecurityPolicy {
  return f.reporter === 'destination'
    ? destinationSecurityPolicy(f.peerPrincipal, f.localPrincipal)
    : (f.upstreamSecurity ?? 'unknown');
}

function or(value: string | undefined, fallback: string): string {
  return value === undefined || value === '' ? fallback : value;
}

/** The first 20 label values, in WORKLOAD_LABEL_NAMES order. `own` is the proxy's stats view (verbatim values). */
export function workloadLabelValues(own: WorkloadMetadata, f: TrafficFacts): string[] {
  const peer = f.peer;
  const peerPrincipal = f.peerPrincipal ?? '';
  const localPrincipal = f.localPrincipal ?? '';
  // Namespace from the peer's SAN first, then from its metadata.
  let peerNamespace = peerPrincipal === '' ? '' : (namespaceFromPrincipal(peerPrincipal) ?? '');
  if (peerNamespace === '' && peer !== undefined) peerNamespace = peer.namespace;
  const host = f.service?.host ?? '';
  const name = f.service?.name ?? '';
  if (f.reporter === 'destination') {
    return [
      'destination',
      or(peer?.workloadName, UNKNOWN),
      or(peer?.canonicalName, UNKNOWN),
      or(peer?.canonicalRevision, LATEST),
      or(peerNamespace, UNKNOWN),
      or(peerPrincipal, UNKNOWN),
      or(peer?.appName, UNKNOWN),
      or(peer?.appVersion, UNKNOWN),
      or(peer?.clusterId, UNKNOWN),
      own.workloadName,
      own.namespace,
      or(localPrincipal, UNKNOWN),
      own.appName,
      own.appVersion,
      or(host, own.canonicalName),
      own.canonicalName,
      own.canonicalRevision,
      or(name, own.canonicalName),
      own.namespace,
      own.clusterId,
    ];
  }
  return [
    'source',
    own.workloadName,
    own.canonicalName,
    own.canonicalRevision,
    own.namespace,
    or(localPrincipal, UNKNOWN),
    own.appName,
    own.appVersion,
    own.clusterId,
    or(peer?.workloadName, UNKNOWN),
    or(peerNamespace, UNKNOWN),
    or(peerPrincipal, UNKNOWN),
    or(peer?.appName, UNKNOWN),
    or(peer?.appVersion, UNKNOWN),
    or(host, UNKNOWN),
    or(peer?.canonicalName, UNKNOWN),
    or(peer?.canonicalRevision, LATEST),
    or(name, UNKNOWN),
    or(peerNamespace, UNKNOWN),
    or(peer?.clusterId, UNKNOWN),
  ];
}

/** `grpc_response_status` as printed: the number, or "" when there is none (HTTP, or no response at all). */
export function grpcStatusLabel(status: number | undefined): string {
  return status === undefined ? '' : String(status);
}

/** The 25 HTTP label values, in HTTP_LABEL_NAMES order. `responseCode` 0 = no response was started. */
export function httpLabelValues(
  own: WorkloadMetadata,
  f: TrafficFacts,
  protocol: 'http' | 'grpc',
  responseCode: number,
  grpcStatus: number | undefined,
  responseFlags: string,
): string[] {
  return [
    ...workloadLabelValues(own, f),
    protocol,
    String(responseCode),
    protocol === 'grpc' ? grpcStatusLabel(grpcStatus) : '',
    responseFlags,
    securityPolicyOf(f),
  ];
}

/** The 23 TCP label values, in TCP_LABEL_NAMES order. */
export function tcpLabelValues(own: WorkloadMetadata, f: TrafficFacts, responseFlags: string): string[] {
  return [...workloadLabelValues(own, f), 'tcp', responseFlags, securityPolicyOf(f)];
}

// ---------------------------------------------------------------------------------------------------------------
// gRPC (envoy source/common/grpc/common.cc, status.cc)

/** Envoy's `Grpc::Status::WellKnownGrpcStatus::InvalidCode`: a grpc-status that is not 0..16. */
export const GRPC_INVALID_CODE = -1;
const GRPC_MAXIMUM_KNOWN = 16;

/**
 * `request_protocol` of an HTTP request (`Grpc::Common::isGrpcRequestHeaders`): `grpc` when it has a path and its
 * content-type is exactly `application/grpc` or starts with `application/grpc+` (so not `application/grpc-web`,
 * nor `application/grpc; …`), else `http`.
 */
export function requestProtocol(path: string | undefined, contentType: string | undefined): 'http' | 'grpc' {
  if (path === undefined || contentType === undefined) return 'http';
  if (!contentType.startsWith('application/grpc')) return 'http';
  return contentType.length === 16 || contentType.charCodeAt(16) === 0x2b /* + */ ? 'grpc' : 'http';
}

/**
 * A `grpc-status` header value as Envoy reads it (`Grpc::Common::getGrpcStatus(headers)`): undefined when absent
 * or empty; the code when it is a number 0..16 (absl::SimpleAtoi: surrounding ASCII whitespace and a `+` allowed);
 * GRPC_INVALID_CODE for anything else.
 */
export function parseGrpcStatus(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const m = /^[ \t\n\v\f\r]*\+?([0-9]+)[ \t\n\v\f\r]*$/.exec(value);
  if (m === null) return GRPC_INVALID_CODE;
  const digits = (m[1] as string).replace(/^0+(?=\d)/, '');
  if (digits.length > 2) return GRPC_INVALID_CODE;
  const code = Number(digits);
  return code <= GRPC_MAXIMUM_KNOWN ? code : GRPC_INVALID_CODE;
}

/** `Grpc::Utility::httpToGrpcStatus` (grpc's http-grpc-status-mapping.md). */
export function httpToGrpcStatus(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return 13; // Internal
    case 401:
      return 16; // Unauthenticated
    case 403:
      return 7; // PermissionDenied
    case 404:
      return 12; // Unimplemented
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // Unavailable
    default:
      return 2; // Unknown
  }
}

/** `Grpc::Utility::grpcToHttpStatus`: the HTTP status a gRPC status stands for (outlier detection reads it). */
export function grpcToHttpStatus(grpcStatus: number): number {
  const map: Record<number, number> = {
    0: 200,
    1: 499,
    2: 500,
    3: 400,
    4: 504,
    5: 404,
    6: 409,
    7: 403,
    8: 429,
    9: 400,
    10: 409,
    11: 400,
    12: 501,
    13: 500,
    14: 503,
    15: 500,
    16: 401,
  };
  return map[grpcStatus] ?? 500;
}

/**
 * `grpc_response_status` of a gRPC stream (`Grpc::Common::getGrpcStatus(trailers, headers, info)`): the
 * trailers' grpc-status, else the response headers' (trailers-only response), else inferred from the HTTP
 * status, else undefined when no response was started (`responseCode` 0).
 */
export function grpcResponseStatus(
  trailerStatus: string | undefined,
  headerStatus: string | undefined,
  responseCode: number,
): number | undefined {
  return (
    parseGrpcStatus(trailerStatus) ??
    parseGrpcStatus(headerStatus) ??
    (responseCode > 0 ? httpToGrpcStatus(responseCode) : undefined)
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Destination service (istio_stats.cc `populatePeerInfo`)

/** Clusters Istio names the service after (istio_stats.cc). */
const NAMED_CLUSTERS: ReadonlySet<string> = new Set([
  'BlackHoleCluster',
  'PassthroughCluster',
  'InboundPassthroughCluster',
  'InboundPassthroughClusterIpv4',
  'InboundPassthroughClusterIpv6',
]);

/** What the upstream cluster says about the service, worked out once per cluster (`clusterServiceInfo`). */
export type ClusterService =
  | { readonly kind: 'named'; readonly name: string }
  | { readonly kind: 'service'; readonly host: string | undefined; readonly name: string | undefined }
  | { readonly kind: 'none' };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads a cluster's name and `filter_metadata` (`{istio: {services: [{host, name, namespace}, …]}}`, as istiod
 * writes it on outbound and inbound clusters) into what `destinationService` needs. Values that are not strings
 * read as "", as protobuf's `string_value()` would.
 */
export function clusterServiceInfo(clusterName: string, filterMetadata: unknown): ClusterService {
  if (NAMED_CLUSTERS.has(clusterName)) return { kind: 'named', name: clusterName };
  if (!isPlainObject(filterMetadata)) return { kind: 'none' };
  const istio = filterMetadata.istio;
  if (!isPlainObject(istio) || !Object.hasOwn(istio, 'services')) return { kind: 'none' };
  const services = istio.services;
  if (!Array.isArray(services) || services.length === 0) return { kind: 'none' };
  const first: unknown = services[0];
  const fields = isPlainObject(first) ? first : {};
  const text = (key: string): string | undefined => {
    if (!Object.hasOwn(fields, key)) return undefined;
    const v = fields[key];
    return typeof v === 'string' ? v : '';
  };
  return { kind: 'service', host: text('host'), name: text('name') };
}

/**
 * `destination_service` (host) and `destination_service_name` (name) before the per-reporter fallbacks:
 * start from the Host/:authority header (unless `disable_host_header_fallback`); route `block_all` names
 * `BlackHoleCluster`, `allow_any` names `PassthroughCluster`; else the cluster: Istio's catch-all clusters name
 * themselves, and `istio.services[0]` gives host = its `host`, name = its `name` or the host up to the first `.`.
 */
export function destinationService(
  hostHeader: string | undefined,
  routeName: string | undefined,
  cluster: ClusterService | undefined,
): ServiceRef {
  let host = hostHeader ?? '';
  let name = host;
  if (routeName === 'block_all') name = 'BlackHoleCluster';
  else if (routeName === 'allow_any') name = 'PassthroughCluster';
  else if (cluster?.kind === 'named') name = cluster.name;
  else if (cluster?.kind === 'service') {
    if (cluster.host !== undefined) host = cluster.host;
    if (cluster.name !== undefined) name = cluster.name;
    else {
      const dot = host.indexOf('.');
      name = dot < 0 ? host : host.slice(0, dot);
    }
  }
  return { host, name };
}

/** Host header values remembered per resolver before it starts over. */
const MAX_RESOLVED_HOSTS = 1024;

/**
 * `destinationService` for one route and cluster, made once at config time: it answers the same ServiceRef object
 * for the same Host header (one object in all when the cluster metadata names both host and name, the usual case
 * with istiod's `istio.services`), so the per-request path allocates nothing and the label caches see the same
 * strings again.
 */
export function serviceResolver(
  routeName: string | undefined,
  cluster: ClusterService | undefined,
): (hostHeader: string | undefined) => ServiceRef {
  if (
    routeName !== 'block_all' &&
    routeName !== 'allow_any' &&
    cluster?.kind === 'service' &&
    cluster.host !== undefined &&
    cluster.name !== undefined
  ) {
    const fixed = destinationService(undefined, routeName, cluster);
    return () => fixed;
  }
  const none = destinationService(undefined, routeName, cluster);
  const byHost = new Map<string, ServiceRef>();
  return (hostHeader) => {
    if (hostHeader === undefined || hostHeader === '') return none;
    let ref = byHost.get(hostHeader);
    if (ref === undefined) {
      if (byHost.size >= MAX_RESOLVED_HOSTS) byHost.clear();
      ref = destinationService(hostHeader, routeName, cluster);
      byHost.set(hostHeader, ref);
    }
    return ref;
  };
}
