// The proxy's configuration after decoding and compiling: what the data path runs. Built once per config
// (bootstrap now, xDS later); nothing here is re-parsed per connection.

import type { FieldPath } from '../../core/field-path.js';
import type { ChainMatch } from '../../policy/filter-chain-match.js';
import type { VirtualHostEntry } from '../../policy/routes.js';
import type { StringMatch } from '../../policy/string-match.js';
import type { JsonObject } from '../../xds/decode.js';
import type { CompiledFilter } from '../access-log/filter.js';
import type { CompiledFormat } from '../access-log/format.js';
import type { NodeMetadata } from '../telemetry/workload.js';
import type { OutlierDetectionConfig } from '../upstream/outlier-detector.js';

export interface SocketAddress {
  host: string;
  port: number;
}

export interface NodeInfo {
  id: string;
  cluster: string;
  metadata: JsonObject;
  /** The metadata as Istio's keys say (NAME, NAMESPACE, WORKLOAD_NAME, LABELS, …). */
  parsed: NodeMetadata;
  namespace: string | undefined;
  serviceAccount: string | undefined;
  workloadName: string | undefined;
  labels: Record<string, string>;
}

/** Where bytes come from: a file (relative to the working folder), inline text or bytes, the environment. */
export type DataSource = (
  | { kind: 'file'; filename: string }
  | { kind: 'inline'; data: Buffer }
  | { kind: 'env'; name: string }
) & { path?: FieldPath };

export interface TlsCertificateConfig {
  certificateChain: DataSource;
  privateKey: DataSource;
}

export type SanType = 'URI' | 'DNS' | 'EMAIL' | 'IP_ADDRESS' | 'ANY';

export type { StringMatch };

export interface SanMatcher {
  type: SanType;
  match: StringMatch;
}

export interface ValidationContextConfig {
  trustedCa?: DataSource;
  sanMatchers: SanMatcher[];
}

export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

export interface TlsParams {
  minVersion: TlsVersion;
  maxVersion: TlsVersion;
  /** OpenSSL cipher list (TLS 1.2 and below). */
  ciphers: string;
  /** OpenSSL group list. */
  curves: string;
}

/** What client and server TLS contexts share (CommonTlsContext), secrets by name. */
export interface CommonTlsConfig {
  alpn: string[];
  params: TlsParams;
  /** Secret names of the certificates (inline ones become secrets named `inline:<path>`). */
  certificateSecrets: string[];
  /**
   * Secret names of the validation contexts, merged in order as Envoy's combined context does: later trusted
   * CAs replace earlier ones, SAN matchers add up. Empty: no client certificate is asked for unless required.
   */
  validationSecrets: string[];
}

export interface DownstreamTlsConfig extends CommonTlsConfig {
  requireClientCertificate: boolean;
  /**
   * Issue TLS session tickets (stateless resumption), as Envoy does unless `disable_stateless_session_resumption`.
   * Off, a TLS 1.3 handshake skips encrypting two tickets with the client's certificate in them.
   */
  sessionTickets: boolean;
}

/** UpstreamTlsContext: the client side of TLS to an endpoint. */
export interface UpstreamTlsConfig extends CommonTlsConfig {
  /** SNI sent to the server ('' for none). */
  sni: string;
}

/** A cluster's transport to an endpoint: plaintext or TLS. */
export type UpstreamTransport = { kind: 'raw' } | { kind: 'tls'; tls: UpstreamTlsConfig };

/** Cluster.TransportSocketMatch: endpoints whose `envoy.transport_socket_match` metadata holds every pair. */
export interface TransportSocketMatch {
  name: string;
  match: JsonObject;
  transport: UpstreamTransport;
}

export type TransportConfig = { kind: 'raw' } | { kind: 'tls'; tls: DownstreamTlsConfig };

/** Istio's `istio.stats` filter (stats.PluginConfig, given as a TypedStruct) on an HTTP or TCP chain. */
export interface IstioStatsConfig {
  /** From the listener's traffic_direction: INBOUND → destination, OUTBOUND → source. */
  reporter: 'source' | 'destination';
  /** How often a TCP connection's metrics are reported (Istio's default 5s). */
  tcpReportingMs: number;
  /** Do not take the service from the Host header when the cluster names none. */
  disableHostHeaderFallback: boolean;
}

/** Istio's `istio.metadata_exchange` HTTP filter (io.istio.http.peer_metadata.Config): which headers it reads and writes. */
export interface PeerMetadataConfig {
  /** Read the client proxy's `x-envoy-peer-metadata` request headers (and remove them). */
  downstreamDiscovery: boolean;
  /** Add this proxy's metadata to responses. */
  downstreamPropagation: boolean;
  /** Read the server proxy's metadata from response headers (and remove them). */
  upstreamDiscovery: boolean;
  /** Add this proxy's metadata to upstream requests. */
  upstreamPropagation: boolean;
}

/**
 * Istio's `istio.alpn` HTTP filter (istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig): the ALPN list an
 * upstream TLS connection offers instead of its transport's own, by the HTTP protocol spoken on it. Protocols
 * without an entry (or with an empty list) keep the transport's ALPN.
 */
export type AlpnOverrideConfig = Partial<Record<AlpnUpstreamProtocol, string[]>>;

/** FilterConfig.Protocol. Skiff, as Envoy, sends HTTP/1.0 requests upstream as HTTP/1.1: HTTP10 is never used. */
export type AlpnUpstreamProtocol = 'HTTP10' | 'HTTP11' | 'HTTP2';

/** One entry of a `weighted_clusters`: a cluster and its weight. */
export interface ClusterWeightConfig {
  name: string;
  /** Its share of picks is weight / the sum of the weights (0: never picked). */
  weight: number;
}

/**
 * `weighted_clusters` (a route action's or a tcp_proxy's): one cluster is picked per request (per connection for
 * a tcp_proxy) at random, in proportion to its weight, as Envoy picks (upstream/weighted-clusters.ts).
 */
export interface WeightedClustersConfig {
  clusters: ClusterWeightConfig[];
  /** The sum of the weights (above 0). */
  totalWeight: number;
}

export interface TcpProxyConfig {
  kind: 'tcp_proxy';
  statPrefix: string;
  /** The cluster ('' when `weightedClusters` picks one per connection). */
  cluster: string;
  /** `weighted_clusters`: one cluster picked per connection by weight. */
  weightedClusters?: WeightedClustersConfig;
  idleTimeoutMs: number;
  istioStats: IstioStatsConfig | undefined;
  /** A line per connection, when it ends. */
  accessLogs?: AccessLogConfig[];
}

/** A route's (or its virtual host's) RetryPolicy. */
export interface RetryPolicyConfig {
  /** The `retry_on` tokens Skiff honours (filters/http/router/retry.ts). */
  retryOn: ReadonlySet<string>;
  numRetries: number;
  /** Each attempt's timeout once it is sent (0: none). */
  perTryTimeoutMs: number;
  retriableStatusCodes: number[];
  /** retry_host_predicate previous_hosts: a retry avoids the hosts tried before. */
  previousHosts: boolean;
  /** How many extra times the load balancer picks to avoid those hosts. */
  hostSelectionMaxAttempts: number;
  backOffBaseMs: number;
  backOffMaxMs: number;
}

export interface RouteActionConfig {
  /** The cluster ('' when `weightedClusters` picks one per request). */
  cluster: string;
  /** `weighted_clusters`: one cluster picked per request by weight; its retries stay on it. */
  weightedClusters?: WeightedClustersConfig;
  /** Whole-request timeout (0: none). */
  timeoutMs: number;
  /** The route's retry policy, or its virtual host's (a route's replaces the virtual host's whole). */
  retryPolicy?: RetryPolicyConfig;
  /** The virtual host's include_request_attempt_count: `x-envoy-attempt-count` on upstream requests. */
  includeAttemptCount?: boolean;
  /** The virtual host's include_attempt_count_in_response: `x-envoy-attempt-count` on responses. */
  includeAttemptCountInResponse?: boolean;
}

export type ForwardClientCertDetails =
  | 'SANITIZE'
  | 'FORWARD_ONLY'
  | 'APPEND_FORWARD'
  | 'SANITIZE_SET'
  | 'ALWAYS_FORWARD_ONLY';

/** A RouteConfiguration: inline in a connection manager, or an RDS resource. */
export interface RouteConfigurationConfig {
  name: string;
  virtualHosts: VirtualHostEntry<RouteActionConfig>[];
  /** Drop the port of Host/:authority before picking a virtual host. */
  ignorePortInHostMatching: boolean;
}

export interface HttpConnectionManagerConfig {
  kind: 'http_connection_manager';
  statPrefix: string;
  /** AUTO: HTTP/2 when TLS negotiated h2 or the connection starts with the HTTP/2 preface, else HTTP/1.1. */
  codec: 'AUTO' | 'HTTP1' | 'HTTP2';
  /** The inline route_config's name, or the RDS resource's when `rds` is set. */
  routeConfigName: string;
  /** The inline route table (empty with RDS). */
  virtualHosts: VirtualHostEntry<RouteActionConfig>[];
  /** The inline table's ignore_port_in_host_matching. */
  ignorePortInHostMatching?: boolean;
  /** The routes come from the RDS resource named `routeConfigName`. */
  rds?: boolean;
  forwardClientCertDetails: ForwardClientCertDetails;
  clientCertDetails: { subject: boolean; cert: boolean; chain: boolean; dns: boolean; uri: boolean };
  maxRequestHeadersKb: number;
  /** 0: none. */
  requestHeadersTimeoutMs: number;
  streamIdleTimeoutMs: number;
  /** common_http_protocol_options.idle_timeout: a connection with no stream is closed (Envoy: 1 h; 0: never). */
  idleTimeoutMs: number;
  /** http_protocol_options.allow_custom_methods: any token is an HTTP/1.1 method (Envoy: false). */
  allowCustomMethods: boolean;
  /** http_protocol_options.accept_http_10: HTTP/1.0 (and 0.9) is served, else answered 426 (Envoy: false). */
  acceptHttp10: boolean;
  /** http_protocol_options.default_host_for_http_10: Host of an HTTP/1.0 request without one ('': none). */
  defaultHostForHttp10: string;
  /**
   * http_protocol_options.allow_absolute_url: an absolute-form target gives Host and the path (Envoy: true); off,
   * the target is the path as sent.
   */
  allowAbsoluteUrl: boolean;
  /**
   * use_remote_address (Envoy: false). Only its part in the HTTP/1 codec is implemented: with it (and no trusted
   * XFF hops, which Skiff does not read) an `https://` absolute-form target on a plaintext connection is 403.
   */
  useRemoteAddress: boolean;
  upgrades: string[];
  /** server_name: the `server` response header's value (absent: Envoy's default `envoy`). */
  serverName?: string;
  /** server_header_transformation (absent: OVERWRITE, Envoy's default). */
  serverHeaderTransformation?: ServerHeaderTransformation;
  istioStats: IstioStatsConfig | undefined;
  peerMetadata: PeerMetadataConfig | undefined;
  /** Istio's `istio.alpn` filter, when the chain has it: the ALPN upstream TLS connections offer per protocol. */
  alpnOverride?: AlpnOverrideConfig;
  /** A line per stream, when it ends. */
  accessLogs?: AccessLogConfig[];
}

/**
 * What the connection manager does with a response's `server` header (Envoy's ServerHeaderTransformation):
 * OVERWRITE sets it to server_name, APPEND_IF_ABSENT only when the response has none, PASS_THROUGH leaves it.
 */
export type ServerHeaderTransformation = 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';

/** A terminal network filter: the one that takes the connection over. */
export type NetworkFilterConfig = TcpProxyConfig | HttpConnectionManagerConfig;

/**
 * What one entry of a chain's `filters` translates to: a terminal filter, or Istio's TCP `istio.stats`, which
 * Skiff runs as part of the tcp_proxy after it (it reports that proxy's connections).
 */
export type NetworkFilterPart = NetworkFilterConfig | { kind: 'istio.stats'; stats: IstioStatsConfig };

/** One entry of an HTTP connection manager's `http_filters`. */
export type HttpFilterConfig =
  | { kind: 'router' }
  | { kind: 'istio.stats'; stats: IstioStatsConfig }
  | { kind: 'istio.metadata_exchange'; exchange: PeerMetadataConfig }
  | { kind: 'istio.alpn'; alpn: AlpnOverrideConfig };

export interface FilterChainConfig {
  name: string;
  match: ChainMatch;
  transport: TransportConfig;
  filters: NetworkFilterConfig[];
  handshakeTimeoutMs: number;
  /** Index in the listener's filter_chains (-1: the default chain), for messages and the config dump. */
  index: number;
}

export type PortPredicate =
  | { kind: 'any' }
  | { kind: 'or'; rules: PortPredicate[] }
  | { kind: 'and'; rules: PortPredicate[] }
  | { kind: 'not'; rule: PortPredicate }
  | { kind: 'port-range'; start: number; end: number };

export interface ListenerFilterConfig {
  kind: 'tls_inspector' | 'http_inspector';
  name: string;
  disabled: PortPredicate | undefined;
}

export interface ListenerConfig {
  name: string;
  address: SocketAddress;
  /** `additional_addresses`: bound too, by the same listener (its chains see the port a connection came to). */
  additionalAddresses?: SocketAddress[];
  /** `listener.<statPrefix>.` — the address as Envoy writes it (`127.0.0.1_15006`) or the stat_prefix. */
  statPrefix: string;
  listenerFilters: ListenerFilterConfig[];
  listenerFiltersTimeoutMs: number;
  continueOnListenerFiltersTimeout: boolean;
  filterChains: FilterChainConfig[];
  defaultFilterChain: FilterChainConfig | undefined;
  /** The listener's own access logs: every connection when it ends, and those no chain matched (NR). */
  accessLogs?: AccessLogConfig[];
}

export interface EndpointConfig {
  address: SocketAddress;
  healthy: boolean;
  /** `load_balancing_weight`: the endpoint's share of picks relative to the others (absent: 1). */
  weight?: number;
  metadata: JsonObject;
  /** `metadata.filter_metadata["envoy.transport_socket_match"]`, what transport socket matches read. */
  transportMatch: JsonObject;
}

export interface ClusterConfig {
  name: string;
  /** STATIC, or EDS (endpoints from ClusterLoadAssignment resources: inline `load_assignment` in static mode). */
  type: 'STATIC' | 'EDS';
  connectTimeoutMs: number;
  lbPolicy: 'ROUND_ROBIN' | 'LEAST_REQUEST';
  endpoints: EndpointConfig[];
  /** The cluster's transport socket: used for endpoints no transport socket match selects. */
  transport: UpstreamTransport;
  transportSocketMatches: TransportSocketMatch[];
  /** The HTTP protocol towards endpoints (HttpProtocolOptions): fixed, or the downstream request's. */
  httpProtocol: 'http1' | 'http2' | 'downstream';
  /** The cluster's `metadata.filter_metadata` (Istio's `istio.services` names the service in telemetry). */
  filterMetadata: JsonObject;
  /** `upstream_bind_config.source_address`: the local address (and port, 0 for any) of upstream connections. */
  upstreamBind?: SocketAddress;
  /** `outlier_detection`, every default resolved; absent: no host is ever ejected (Envoy). */
  outlierDetection?: OutlierDetectionConfig;
  /** `common_lb_config.healthy_panic_threshold` in percent (Envoy's default 50; Istio sets 0). */
  healthyPanicThreshold?: number;
  /** EDS over xDS: the ClusterLoadAssignment resource that holds the endpoints (`endpoints` is empty until then). */
  edsServiceName?: string;
  /** `circuit_breakers` DEFAULT `max_retries`: retries in flight at once (Envoy's default 3). */
  maxRetries?: number;
}

export interface SecretConfig {
  name: string;
  /** Made from inline material in a transport socket (not listed as a static secret). */
  inline?: boolean;
  tlsCertificate?: TlsCertificateConfig;
  validationContext?: ValidationContextConfig;
}

export interface ProxyConfig {
  node: NodeInfo;
  admin: SocketAddress | undefined;
  listeners: ListenerConfig[];
  clusters: ClusterConfig[];
  secrets: SecretConfig[];
  /** The global downstream connection limit the bootstrap sets (overload manager or runtime), if any. */
  maxDownstreamConnections?: number;
  /** The decoded configuration as canonical JSON, for /config_dump. */
  bootstrap: JsonObject;
}

/** Where an access logger writes, and in which format (compiled once). */
export interface AccessLoggerConfig {
  sink: { kind: 'file'; path: string } | { kind: 'stdout' } | { kind: 'stderr' };
  format: CompiledFormat;
}

/** One `access_log` entry: its logger and the filter that says which lines it writes. */
export interface AccessLogConfig extends AccessLoggerConfig {
  name: string;
  filter: CompiledFilter | undefined;
}
