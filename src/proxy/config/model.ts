// The proxy's configuration after decoding and compiling: what the data path runs. Built once per config
// (bootstrap now, xDS later); nothing here is re-parsed per connection.

import type { FieldPath } from '../../core/field-path.js';
import type { ChainMatch } from '../../policy/filter-chain-match.js';
import type { VirtualHostEntry } from '../../policy/routes.js';
import type { StringMatch } from '../../policy/string-match.js';
import type { JsonObject } from '../../xds/decode.js';

export interface SocketAddress {
  host: string;
  port: number;
}

export interface NodeInfo {
  id: string;
  cluster: string;
  metadata: JsonObject;
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

export interface TcpProxyConfig {
  kind: 'tcp_proxy';
  statPrefix: string;
  cluster: string;
  idleTimeoutMs: number;
}

export interface RouteActionConfig {
  cluster: string;
  /** Whole-request timeout (0: none). */
  timeoutMs: number;
}

export type ForwardClientCertDetails =
  | 'SANITIZE'
  | 'FORWARD_ONLY'
  | 'APPEND_FORWARD'
  | 'SANITIZE_SET'
  | 'ALWAYS_FORWARD_ONLY';

export interface HttpConnectionManagerConfig {
  kind: 'http_connection_manager';
  statPrefix: string;
  codec: 'AUTO' | 'HTTP1';
  routeConfigName: string;
  virtualHosts: VirtualHostEntry<RouteActionConfig>[];
  forwardClientCertDetails: ForwardClientCertDetails;
  clientCertDetails: { subject: boolean; cert: boolean; chain: boolean; dns: boolean; uri: boolean };
  maxRequestHeadersKb: number;
  /** 0: none. */
  requestHeadersTimeoutMs: number;
  streamIdleTimeoutMs: number;
  upgrades: string[];
}

export type NetworkFilterConfig = TcpProxyConfig | HttpConnectionManagerConfig;

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
  /** `listener.<statPrefix>.` — the address as Envoy writes it (`127.0.0.1_15006`) or the stat_prefix. */
  statPrefix: string;
  listenerFilters: ListenerFilterConfig[];
  listenerFiltersTimeoutMs: number;
  continueOnListenerFiltersTimeout: boolean;
  filterChains: FilterChainConfig[];
  defaultFilterChain: FilterChainConfig | undefined;
}

export interface EndpointConfig {
  address: SocketAddress;
  healthy: boolean;
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
  /** The decoded configuration as canonical JSON, for /config_dump. */
  bootstrap: JsonObject;
}
