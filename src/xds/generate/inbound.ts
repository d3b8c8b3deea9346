// The inbound side of a sidecar: the `virtualInbound` listener (one set of filter chains per workload port,
// matched on destination port, transport protocol and ALPN as the port's merged PeerAuthentication mode and its
// protocol say) and the `inbound|<port>||` clusters to the app behind the sidecar. Pure: model + policy + proxy
// → Envoy v3 resources in proto3 JSON form; bad input is skipped and reported as a problem, never thrown.
//
// Istio: pilot/pkg/networking/core/listener_inbound.go (buildInboundListeners, buildInboundChainConfigs,
// getFilterChainsByServicePort, inboundChainForOpts, buildInboundPassthroughChains, populateListenerFilters,
// buildSidecarInboundHTTPOpts, buildInboundNetworkFilters), filterchain_options.go (getFilterChainMatchOptions),
// pilot/pkg/security/authn/utils/utils.go (BuildInboundTLS), httproute.go (buildSidecarInboundHTTPRouteConfig),
// route/route.go (BuildDefaultHTTPInboundRoute), cluster.go (buildInboundClustersFromServiceInstances),
// cluster_builder.go (buildInboundCluster, addTelemetryMetadata), cluster_traffic_policy.go
// (getDefaultCircuitBreakerThresholds).
//
// Local mode (the runtime's contract, local-mode.md) changes a few of Istio's shapes; each substitution is commented
// where it is made:
// - no iptables capture: the listener binds `<podIP>:<port>` for every workload port (`address` the lowest,
//   `additional_addresses` the others) instead of 0.0.0.0:15006 with `original_dst`;
// - a workload port no Service selects gets Istio's passthrough chains matched on that port (there is no
//   port-less catch-all: nothing else reaches the listener), and a STATIC cluster `inbound|<port>||` to the app
//   instead of the ORIGINAL_DST `InboundPassthroughCluster`;
// - the app listens on 127.0.0.1 at `workload.appPorts[port] ?? port`: every inbound cluster is STATIC to it
//   (Istio's `inboundTrafficPolicy: LOCALHOST` shape).

import type { Protocol } from '../../config/kinds/workload.js';
import { parseIp } from '../../core/ip.js';
import type { WorkloadModel } from '../../model/types.js';
import { effectivePeerAuthentication } from '../../policy/peer-authentication.js';
import type { Mode } from '../../policy/types.js';
import type { JsonObject } from '../decode.js';
import { accessLog } from './access-log.js';
import type { GenerationContext, ServiceTarget } from './context.js';
import { protoDuration } from './duration.js';
import { istioStatsFilter, sidecarHttpFilters } from './filters.js';
import {
  ALPN,
  HTTP_PROTOCOL_OPTIONS_KEY,
  inboundClusterName,
  SECRET_DEFAULT,
  SECRET_ROOTCA,
  STAT_PREFIX_DELIMITER,
  TYPE,
  VIRTUAL_INBOUND,
} from './names.js';
import type { ProxyNode } from './proxy.js';
import type { GenerationProblem } from './types.js';

export interface InboundResources {
  /** The `virtualInbound` listener, or none when the proxy has no known workload or the workload no port. */
  listeners: JsonObject[];
  /** `inbound|<port>||` for every port the listener binds, sorted by port. */
  clusters: JsonObject[];
  problems: GenerationProblem[];
}

/** Istio's passthrough chain names (pilot/pkg/model/listener.go VirtualInboundCatchAllHTTPFilterChainName). */
export const VIRTUAL_INBOUND_CATCHALL_HTTP = 'virtualInbound-catchall-http';
/** The server name Istio's inbound connection manager announces (util/proxy_headers.go). */
export const ISTIO_SERVER_NAME = 'istio-envoy';
/** Where the app listens behind its sidecar in local mode. */
export const APP_HOST = '127.0.0.1';
/** Istio's default inbound retry policy (route/retry/retry.go cachedDefaultInboundPolicy). */
export const INBOUND_RETRY_ON = 'reset-before-request';
/** The cipher suites Istio's inbound TLS context offers (pilot/pkg/security/authn/utils/utils.go SupportedCiphers). */
export const ISTIO_INBOUND_CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'AES256-GCM-SHA384',
  'AES128-GCM-SHA256',
] as const;
/** Server ALPN (pilot/pkg/networking/util/util.go ALPNDownstreamWithMxc, ALPNHttp). */
export const SERVER_ALPN_TCP = ['istio-peer-exchange', 'h2', 'http/1.1'] as const;
export const SERVER_ALPN_HTTP = ['h2', 'http/1.1'] as const;
/** Circuit breaker thresholds are unlimited by default (cluster_traffic_policy.go getDefaultCircuitBreakerThresholds). */
const MAX_UINT32 = 4294967295;

const TLS_TRANSPORT = 'tls';
const RAW_TRANSPORT = 'raw_buffer';

/** networking.ListenerProtocol: what a chain terminates with (HCM or tcp_proxy); AUTO splits into both. */
type ListenerProtocol = 'HTTP' | 'TCP' | 'AUTO';

/** One FilterChainMatchOptions of filterchain_options.go. */
interface MatchOption {
  alpn: readonly string[];
  transport: typeof TLS_TRANSPORT | typeof RAW_TRANSPORT;
  protocol: 'HTTP' | 'TCP';
  /** Terminate mesh mTLS on this chain. */
  tls: boolean;
}

const opt = (
  transport: MatchOption['transport'],
  protocol: MatchOption['protocol'],
  tls: boolean,
  alpn: readonly string[] = [],
): MatchOption => ({ alpn, transport, protocol, tls });

// filterchain_options.go, table for table (the permissive ones are Istio's "WithMxc" variants).
const PERMISSIVE_AUTO = [
  opt(TLS_TRANSPORT, 'HTTP', true, ALPN.mtlsHttp),
  opt(RAW_TRANSPORT, 'HTTP', false, ALPN.plaintextHttp),
  opt(TLS_TRANSPORT, 'TCP', true, ALPN.mtlsTcp),
  opt(RAW_TRANSPORT, 'TCP', false),
  opt(TLS_TRANSPORT, 'TCP', false),
];
const PERMISSIVE_HTTP = [
  opt(TLS_TRANSPORT, 'HTTP', true, ALPN.allIstioMtls),
  opt(RAW_TRANSPORT, 'HTTP', false),
];
const PERMISSIVE_TCP = [
  opt(TLS_TRANSPORT, 'TCP', true, ALPN.allIstioMtls),
  opt(TLS_TRANSPORT, 'TCP', false),
  opt(RAW_TRANSPORT, 'TCP', false),
];
const STRICT_AUTO = [opt(TLS_TRANSPORT, 'HTTP', true, ALPN.mtlsHttp), opt(TLS_TRANSPORT, 'TCP', true)];
const STRICT_HTTP = [opt(TLS_TRANSPORT, 'HTTP', true)];
const STRICT_TCP = [opt(TLS_TRANSPORT, 'TCP', true)];
const PLAINTEXT_AUTO = [
  opt(RAW_TRANSPORT, 'HTTP', false, ALPN.plaintextHttp),
  opt(RAW_TRANSPORT, 'TCP', false),
];
const PLAINTEXT_HTTP = [opt(RAW_TRANSPORT, 'HTTP', false)];
const PLAINTEXT_TCP = [opt(RAW_TRANSPORT, 'TCP', false)];

/** getFilterChainMatchOptions: the chains of one port, by its mode and listener protocol. */
export function matchOptions(mode: Mode, protocol: ListenerProtocol): readonly MatchOption[] {
  if (protocol === 'HTTP') {
    return mode === 'STRICT' ? STRICT_HTTP : mode === 'PERMISSIVE' ? PERMISSIVE_HTTP : PLAINTEXT_HTTP;
  }
  if (protocol === 'AUTO') {
    return mode === 'STRICT' ? STRICT_AUTO : mode === 'PERMISSIVE' ? PERMISSIVE_AUTO : PLAINTEXT_AUTO;
  }
  return mode === 'STRICT' ? STRICT_TCP : mode === 'PERMISSIVE' ? PERMISSIVE_TCP : PLAINTEXT_TCP;
}

/** networking.ModelProtocolToListenerProtocol; undefined (detected per connection) is AUTO. */
export function listenerProtocol(p: Protocol | undefined): ListenerProtocol {
  if (p === undefined) return 'AUTO';
  if (p === 'HTTP' || p === 'HTTP2' || p === 'HTTP_PROXY' || p === 'GRPC' || p === 'GRPC-Web') return 'HTTP';
  return 'TCP';
}

/** protocol.Instance.IsHTTP2 (HTTP/2 to the app). */
function isHttp2(p: Protocol | undefined): boolean {
  return p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-Web';
}

/** Istio's inboundChainConfig: the chains of one workload port. */
interface ChainConfig {
  /** The workload port: what the chains match as destination_port and the cluster is named after. */
  targetPort: number;
  /** The first service's port (vhost name, trace decorator); 0 for passthrough, as Istio. */
  servicePort: number;
  protocol: Protocol | undefined;
  clusterName: string;
  /** Undeclared port: Istio's passthrough chains (names, stat prefixes, AUTO protocol). */
  passthrough: boolean;
  /** The first service's host ('' for passthrough): telemetryMetadata.InstanceHostname. */
  hostname: string;
  /** The services for `metadata.istio.services` (none for passthrough). */
  services: ServiceTarget[];
  mode: Mode;
}

function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 1 && p <= 65535;
}

function socketAddress(address: string, port: number): JsonObject {
  return { socket_address: { address, port_value: port } };
}

/** The inbound listener and clusters of `proxy`'s workload. */
export function buildInbound(ctx: GenerationContext, proxy: ProxyNode): InboundResources {
  const problems: GenerationProblem[] = [];
  try {
    return build(ctx, proxy, problems);
  } catch (e) {
    // Generation does not throw on bad input; an exception here is a bug, reported rather than propagated.
    problems.push({
      severity: 'error',
      code: 'SKIFF_GEN_INBOUND_INTERNAL',
      message: `inbound generation for ${proxy.id} failed: ${e instanceof Error ? e.message : String(e)}`,
    });
    return { listeners: [], clusters: [], problems };
  }
}

function build(ctx: GenerationContext, proxy: ProxyNode, problems: GenerationProblem[]): InboundResources {
  const none: InboundResources = { listeners: [], clusters: [], problems };
  const workload = ctx.workloadAt(proxy.ips, proxy.namespace, proxy.workloadName);
  if (!workload) {
    problems.push({
      severity: 'error',
      code: 'SKIFF_GEN_INBOUND_NO_WORKLOAD',
      message: `proxy ${proxy.id}: no WorkloadEntry in namespace ${proxy.namespace} has address ${proxy.ips.join(', ') || '(none)'}: no inbound listener or clusters`,
    });
    return none;
  }
  const where = `WorkloadEntry ${workload.namespace}/${workload.name}`;
  if (!parseIp(workload.address)) {
    problems.push({
      severity: 'error',
      code: 'SKIFF_GEN_INBOUND_ADDRESS',
      message: `${where}: address ${JSON.stringify(workload.address)} is not an IP address; local mode binds the sidecar's inbound listener there: no inbound listener or clusters`,
    });
    return none;
  }

  const configs = chainConfigs(ctx, workload, where, problems);
  reportUnboundPortLevelMtls(ctx, workload, configs, where, problems);
  if (configs.length === 0) {
    problems.push({
      severity: 'warning',
      code: 'SKIFF_GEN_INBOUND_NO_PORTS',
      message: `${where} declares no ports and no Service selects it: no inbound listener`,
    });
    return none;
  }

  // Istio puts the passthrough chains first, then the service chains by target port (buildInboundListeners).
  const ordered = [...configs.filter((c) => c.passthrough), ...configs.filter((c) => !c.passthrough)];
  const chains = ordered.flatMap((cc) =>
    matchOptions(cc.mode, cc.passthrough ? 'AUTO' : listenerProtocol(cc.protocol)).map((o) =>
      filterChain(ctx, cc, o),
    ),
  );
  const ports = configs.map((c) => c.targetPort).sort((a, b) => a - b);
  const listener = virtualInbound(ctx, workload.address, ports, chains, problems);
  const clusters = [...configs]
    .sort((a, b) => a.targetPort - b.targetPort)
    .map((cc) => inboundCluster(ctx, workload, cc, problems));
  return { listeners: [listener], clusters, problems };
}

/**
 * getFilterChainsByServicePort, then the undeclared workload ports. One config per target port: the first
 * service target decides (Istio: the oldest Service; here the model's order, by host name), a second one with
 * another protocol and another host is reported as Istio's ProxyStatusConflictInboundListener.
 */
function chainConfigs(
  ctx: GenerationContext,
  workload: WorkloadModel,
  where: string,
  problems: GenerationProblem[],
): ChainConfig[] {
  const byPort = new Map<number, ServiceTarget[]>();
  for (const t of ctx.serviceTargets(workload)) {
    if (!validPort(t.targetPort)) {
      problems.push({
        severity: 'warning',
        code: 'SKIFF_GEN_INBOUND_PORT',
        message: `${where}: service ${t.service.hostname} port ${t.port.port} targets port ${t.targetPort}, not a port number: skipped`,
      });
      continue;
    }
    const list = byPort.get(t.targetPort);
    if (!list) {
      byPort.set(t.targetPort, [t]);
      continue;
    }
    const first = list[0] as ServiceTarget;
    if (first.port.protocol !== t.port.protocol && first.service.hostname !== t.service.hostname) {
      problems.push({
        severity: 'warning',
        code: 'SKIFF_GEN_INBOUND_CONFLICT',
        message: `${where}: conflicting inbound listener:${t.targetPort}. existing: ${first.service.hostname} (${first.port.protocol ?? 'auto'}), incoming: ${t.service.hostname} (${t.port.protocol ?? 'auto'}); the existing one is used`,
      });
    }
    list.push(t);
  }

  const configs: ChainConfig[] = [];
  for (const [targetPort, targets] of byPort) {
    const first = targets[0] as ServiceTarget;
    // addTelemetryMetadata: only the services on the first one's service port, one per host.
    const services: ServiceTarget[] = [];
    for (const t of targets) {
      if (t.port.port !== first.port.port) continue;
      if (services.some((s) => s.service.hostname === t.service.hostname)) continue;
      services.push(t);
    }
    services.sort((a, b) => (a.service.hostname < b.service.hostname ? -1 : 1));
    configs.push({
      targetPort,
      servicePort: first.port.port,
      protocol: first.port.protocol,
      clusterName: inboundClusterName(targetPort),
      passthrough: false,
      hostname: first.service.hostname,
      services,
      mode: ctx.workloadMode(workload, targetPort),
    });
  }

  // Local mode: Istio's catch-all passthrough chains have no destination port (every captured port reaches
  // them); here only the bound ports reach the listener, so each undeclared workload port gets the passthrough
  // chains matched on its own port, with its own mode — Istio's per-port passthrough chains
  // (plugin/authn/authentication.go ForPassthrough), whose mode is the port's or else the workload's.
  const undeclared = new Set<number>();
  for (const [name, port] of Object.entries(workload.ports)) {
    if (!validPort(port)) {
      problems.push({
        severity: 'warning',
        code: 'SKIFF_GEN_INBOUND_PORT',
        message: `${where}: port ${name}: ${port} is not a port number: skipped`,
      });
      continue;
    }
    if (!byPort.has(port)) undeclared.add(port);
  }
  for (const port of undeclared) {
    configs.push({
      targetPort: port,
      servicePort: 0,
      protocol: undefined,
      clusterName: inboundClusterName(port),
      passthrough: true,
      hostname: '',
      services: [],
      mode: ctx.workloadMode(workload, port),
    });
  }
  return configs.sort((a, b) => a.targetPort - b.targetPort);
}

/**
 * Istio builds a passthrough chain for every `portLevelMtls` port no service declares, and traffic captured for
 * that port meets it. Local mode has no capture: a port the workload does not declare is bound by nobody, so
 * the policy's port has no effect there — said, rather than left silent.
 */
function reportUnboundPortLevelMtls(
  ctx: GenerationContext,
  workload: WorkloadModel,
  configs: readonly ChainConfig[],
  where: string,
  problems: GenerationProblem[],
): void {
  const merged = effectivePeerAuthentication(
    ctx.model.peerAuthentications,
    { namespace: workload.namespace, labels: { ...workload.labels } },
    { rootNamespace: ctx.rootNamespace },
  );
  const bound = new Set(configs.map((c) => c.targetPort));
  const unbound = Object.keys(merged.perPort)
    .map(Number)
    .filter((p) => !bound.has(p))
    .sort((a, b) => a - b);
  for (const port of unbound) {
    problems.push({
      severity: 'warning',
      code: 'SKIFF_GEN_INBOUND_PORT_LEVEL_MTLS',
      message: `${where}: PeerAuthentication portLevelMtls names port ${port}, which is not one of the workload's ports (${[...bound].join(', ') || 'none'}): local mode binds only those, so nothing is generated for it (add the port to the WorkloadEntry to have the sidecar accept it)`,
    });
  }
}

function virtualInbound(
  ctx: GenerationContext,
  podIp: string,
  ports: readonly number[],
  chains: JsonObject[],
  problems: GenerationProblem[],
): JsonObject {
  const mesh = ctx.model.meshConfig;
  let timeout = protoDuration(mesh.protocolDetectionTimeout);
  if (timeout === undefined) {
    problems.push({
      severity: 'warning',
      code: 'SKIFF_GEN_INBOUND_DETECTION_TIMEOUT',
      message: `meshConfig.protocolDetectionTimeout ${JSON.stringify(mesh.protocolDetectionTimeout)} is not a duration: 0s (no timeout) used, as Istio's default`,
    });
    timeout = '0s';
  }
  const [first = 0, ...rest] = ports;
  const listener: JsonObject = {
    name: VIRTUAL_INBOUND,
    // Local mode: bound at the replica's own address, one port per workload port, instead of Istio's
    // 0.0.0.0:15006 reached through iptables (buildInboundListener with bindToPort; Envoy's
    // additional_addresses carry the other ports).
    address: socketAddress(podIp, first),
    ...(rest.length > 0
      ? { additional_addresses: rest.map((p) => ({ address: socketAddress(podIp, p) })) }
      : {}),
    traffic_direction: 'INBOUND',
    // Istio's virtualInbound starts with envoy.filters.listener.original_dst; omitted: local mode binds each
    // port itself (a bound listener has none in Istio either, populateListenerFilters with bindToPort).
    listener_filters: listenerFilters(chains),
    listener_filters_timeout: timeout,
    continue_on_listener_filters_timeout: true,
    filter_chains: chains,
    // No default_filter_chain: a connection no chain matches is closed (how STRICT refuses plaintext).
  };
  // Istio also sets max_connections_to_accept_per_socket_event (1, MAX_CONNECTIONS_PER_SOCKET_EVENT_LOOP);
  // omitted: not implemented by the Skiff proxy.
  const log = accessLog(mesh, 'listener');
  if (log) listener.access_log = log;
  return listener;
}

/** Int32Range predicates as listener_inbound.go listenerPredicateExcludePorts writes them. */
function excludePorts(ports: readonly number[]): JsonObject {
  const ranges = ports.map((p) => ({ destination_port_range: { start: p, end: p + 1 } }));
  return ranges.length > 1 ? { or_match: { rules: ranges } } : (ranges[0] as JsonObject);
}

/**
 * populateListenerFilters: tls_inspector on the ports where a chain matches `transport_protocol: tls`,
 * http_inspector (after it) on the ports where a chain matches plaintext HTTP ALPN, each disabled elsewhere by a
 * destination-port predicate. Local mode has no port-0 (catch-all) chains, so Istio's "enabled by default"
 * branch of buildTLSInspector never applies: the TLS inspector is always an include list.
 */
export function listenerFilters(chains: readonly JsonObject[]): JsonObject[] {
  const inspectors = new Map<number, { tls: boolean; http: boolean }>();
  for (const c of chains) {
    const m = (c.filter_chain_match ?? {}) as JsonObject;
    const port = typeof m.destination_port === 'number' ? m.destination_port : 0;
    const alpn = Array.isArray(m.application_protocols) ? m.application_protocols : [];
    const i = inspectors.get(port) ?? { tls: false, http: false };
    i.tls ||= m.transport_protocol === TLS_TRANSPORT;
    i.http ||= alpn.some((a) => a === 'http/1.1' || a === 'h2c');
    inspectors.set(port, i);
  }
  const filters: JsonObject[] = [];
  const all = [...inspectors.keys()].sort((a, b) => a - b);
  const tlsPorts = all.filter((p) => p !== 0 && inspectors.get(p)?.tls);
  if (tlsPorts.length > 0) {
    filters.push({
      name: 'envoy.filters.listener.tls_inspector',
      // Istio reads at most 512 bytes at first (xds/filters/filters.go TLSInspector).
      typed_config: { '@type': TYPE.tlsInspector, initial_read_buffer_size: 512 },
      filter_disabled: { not_match: excludePorts(tlsPorts) },
    });
  }
  if (all.some((p) => inspectors.get(p)?.http)) {
    const withoutHttp = all.filter((p) => !inspectors.get(p)?.http);
    filters.push({
      name: 'envoy.filters.listener.http_inspector',
      typed_config: { '@type': TYPE.httpInspector },
      ...(withoutHttp.length > 0 ? { filter_disabled: excludePorts(withoutHttp) } : {}),
    });
  }
  return filters;
}

/** inboundChainForOpts for one option. */
function filterChain(ctx: GenerationContext, cc: ChainConfig, o: MatchOption): JsonObject {
  const match: JsonObject = { destination_port: cc.targetPort, transport_protocol: o.transport };
  if (o.alpn.length > 0) match.application_protocols = [...o.alpn];
  const chain: JsonObject = { name: chainName(cc, o.protocol), filter_chain_match: match };
  if (o.tls) chain.transport_socket = downstreamTls(ctx, o.protocol);
  chain.filters = o.protocol === 'HTTP' ? httpNetworkFilters(ctx, cc) : tcpNetworkFilters(ctx, cc);
  return chain;
}

/** inboundChainConfig.Name: `0.0.0.0_<targetPort>`, or the fixed passthrough names. */
function chainName(cc: ChainConfig, protocol: 'HTTP' | 'TCP'): string {
  if (cc.passthrough) return protocol === 'HTTP' ? VIRTUAL_INBOUND_CATCHALL_HTTP : VIRTUAL_INBOUND;
  // Istio names chains after the wildcard bind (getListenerName), not the pod address: kept, since users and
  // Istio's stats (inbound_0.0.0.0_<port>) know these names.
  return `0.0.0.0_${cc.targetPort}`;
}

/** inboundChainConfig.StatPrefix: `inbound_0.0.0.0_<port>;`, passthrough: the cluster name and `;`. */
function hcmStatPrefix(cc: ChainConfig): string {
  return `${cc.passthrough ? cc.clusterName : `inbound_${chainName(cc, 'HTTP')}`}${STAT_PREFIX_DELIMITER}`;
}

/** The SPIFFE prefixes a client certificate may have (plugin/authn/util.go TrustDomainsForValidation). */
function trustDomainPrefixes(ctx: GenerationContext): string[] {
  const mesh = ctx.model.meshConfig;
  const domains = [...new Set([mesh.trustDomain, ...mesh.trustDomainAliases].filter((d) => d !== ''))];
  return domains.map((d) => `spiffe://${d}/`);
}

/** BuildInboundTLS for STRICT and PERMISSIVE: a client certificate is required in both. */
function downstreamTls(ctx: GenerationContext, protocol: 'HTTP' | 'TCP'): JsonObject {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': TYPE.downstreamTls,
      common_tls_context: {
        // meshMTLS.minProtocolVersion is not in Skiff's MeshConfig: Istio's default, TLS 1.2.
        tls_params: {
          tls_minimum_protocol_version: 'TLSv1_2',
          tls_maximum_protocol_version: 'TLSv1_3',
          cipher_suites: [...ISTIO_INBOUND_CIPHERS],
        },
        // The server never selects `istio`: it only matches it in filter_chain_match (utils.go).
        alpn_protocols: [...(protocol === 'TCP' ? SERVER_ALPN_TCP : SERVER_ALPN_HTTP)],
        // Istio also sets sds_config (api_config_source: GRPC to the agent's `sds-grpc` cluster) on both secret
        // configs; omitted: not implemented by the Skiff proxy, whose own agent serves `default` and `ROOTCA`
        // by name (docs/proxy-config.md, "The certificate agent").
        tls_certificate_sds_secret_configs: [{ name: SECRET_DEFAULT }],
        combined_validation_context: {
          default_validation_context: {
            match_subject_alt_names: trustDomainPrefixes(ctx).map((prefix) => ({ prefix })),
          },
          validation_context_sds_secret_config: { name: SECRET_ROOTCA },
        },
      },
      require_client_certificate: true,
    },
  };
}

/** buildInboundNetworkFilters: [istio.metadata_exchange, istio.stats, tcp_proxy]. */
function tcpNetworkFilters(ctx: GenerationContext, cc: ChainConfig): JsonObject[] {
  const tcpProxy: JsonObject = {
    '@type': TYPE.tcpProxy,
    stat_prefix: cc.clusterName,
    cluster: cc.clusterName,
  };
  const log = accessLog(ctx.model.meshConfig, 'tcp');
  if (log) tcpProxy.access_log = log;
  return [
    // Istio puts the TCP istio.metadata_exchange network filter (envoy.tcp.metadataexchange.config.MetadataExchange)
    // first; omitted: not implemented by the Skiff proxy.
    istioStatsFilter('inbound'),
    { name: 'envoy.filters.network.tcp_proxy', typed_config: tcpProxy },
  ];
}

/** buildInboundNetworkFiltersForHTTP: [istio.metadata_exchange, HCM]. */
function httpNetworkFilters(ctx: GenerationContext, cc: ChainConfig): JsonObject[] {
  return [
    // Istio puts the TCP istio.metadata_exchange network filter first; omitted: not implemented by the Skiff
    // proxy (the HTTP one below carries the peer metadata of HTTP requests).
    { name: 'envoy.filters.network.http_connection_manager', typed_config: connectionManager(ctx, cc) },
  ];
}

/** buildSidecarInboundHTTPOpts + buildHTTPConnectionManager for the inbound class. */
function connectionManager(ctx: GenerationContext, cc: ChainConfig): JsonObject {
  const hcm: JsonObject = {
    '@type': TYPE.hcm,
    stat_prefix: hcmStatPrefix(cc),
    codec_type: 'AUTO',
    route_config: inboundRouteConfig(cc),
    http_filters: sidecarHttpFilters('inbound'),
    use_remote_address: false,
    forward_client_cert_details: 'APPEND_FORWARD',
    set_current_client_cert_details: { subject: true, uri: true, dns: true },
    // util/proxy_headers.go: the inbound side answers as `istio-envoy` (responses' `server` header).
    server_name: ISTIO_SERVER_NAME,
    server_header_transformation: 'OVERWRITE',
    // Istio also sets normalize_path: true and path_with_escaped_slashes_action: KEEP_UNCHANGED; omitted: not
    // implemented by the Skiff proxy.
    // Istio also sets request_id_extension (UuidRequestIdConfig), tracing and proxy_100_continue; omitted: not
    // implemented by the Skiff proxy.
    // Istio also sets http2_protocol_options: {} on HTTP2/gRPC ports; omitted: not implemented by the Skiff proxy
    // (codec AUTO serves HTTP/2 prior knowledge and h2 over TLS).
    stream_idle_timeout: '0s',
    upgrade_configs: [{ upgrade_type: 'websocket' }],
  };
  const log = accessLog(ctx.model.meshConfig, 'http');
  if (log) hcm.access_log = log;
  return hcm;
}

/** buildSidecarInboundHTTPRouteConfig + BuildDefaultHTTPInboundRoute. */
function inboundRouteConfig(cc: ChainConfig): JsonObject {
  const action: JsonObject = { cluster: cc.clusterName, timeout: '0s' };
  // Istio also sets max_stream_duration {max_stream_duration: 0s, grpc_timeout_header_max: 0s}; omitted: not
  // implemented by the Skiff proxy.
  // The reset-before-request retry is never set on gRPC ports: it does not suit streaming (route.go).
  if (cc.protocol !== 'GRPC' && cc.protocol !== 'GRPC-Web') {
    action.retry_policy = { retry_on: INBOUND_RETRY_ON, num_retries: 2 };
  }
  return {
    name: cc.clusterName,
    virtual_hosts: [
      {
        name: `inbound|http|${cc.servicePort}`,
        domains: ['*'],
        routes: [
          {
            name: 'default',
            match: { prefix: '/' },
            // telemetry.TraceOperation: `<host>:<service port>/*` (`:0/*` on passthrough chains, as Istio).
            decorator: { operation: `${cc.hostname}:${cc.servicePort}/*` },
            route: action,
          },
        ],
      },
    ],
    validate_clusters: false,
  };
}

/**
 * buildInboundCluster with Istio's LOCALHOST inbound traffic policy shape: STATIC to the app. An undeclared port's
 * cluster stands in for InboundPassthroughCluster (ORIGINAL_DST in Istio; local mode knows where the app is), with
 * its HTTP protocol options and no service metadata.
 */
function inboundCluster(
  ctx: GenerationContext,
  workload: WorkloadModel,
  cc: ChainConfig,
  problems: GenerationProblem[],
): JsonObject {
  const mesh = ctx.model.meshConfig;
  let connectTimeout = protoDuration(mesh.connectTimeout);
  if (connectTimeout === undefined) {
    problems.push({
      severity: 'warning',
      code: 'SKIFF_GEN_INBOUND_CONNECT_TIMEOUT',
      message: `meshConfig.connectTimeout ${JSON.stringify(mesh.connectTimeout)} is not a duration: Istio's default 10s used`,
    });
    connectTimeout = '10s';
  }
  const appPort = workload.appPorts[cc.targetPort] ?? cc.targetPort;
  const cluster: JsonObject = {
    name: cc.clusterName,
    type: 'STATIC',
    // Istio also sets alt_stat_name `inbound|<port>||;`; omitted: not implemented by the Skiff proxy.
    connect_timeout: connectTimeout,
    common_lb_config: {},
    circuit_breakers: {
      thresholds: [
        {
          max_connections: MAX_UINT32,
          max_pending_requests: MAX_UINT32,
          max_requests: MAX_UINT32,
          max_retries: MAX_UINT32,
          // track_remaining: false (Istio's DISABLE_TRACK_REMAINING_CB_METRICS default), the proto default.
        },
      ],
    },
    load_assignment: {
      cluster_name: cc.clusterName,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(APP_HOST, appPort) } }] }],
    },
  };
  if (cc.services.length > 0) {
    cluster.metadata = {
      filter_metadata: {
        istio: {
          services: cc.services.map((t) => ({
            host: t.service.hostname,
            name: t.service.name,
            namespace: t.service.namespace,
          })),
        },
      },
    };
  }
  const options = upstreamHttpOptions(cc);
  if (options) {
    cluster.typed_extension_protocol_options = {
      [HTTP_PROTOCOL_OPTIONS_KEY]: { '@type': TYPE.httpProtocolOptions, ...options },
    };
  }
  // InboundPassthroughCluster also binds 127.0.0.6 (upstream_bind_config) so that iptables lets it through;
  // not needed without capture, so not set.
  return cluster;
}

/** setUpstreamProtocol: HTTP/2 ports speak h2 to the app; auto-detected ports the client's protocol. */
function upstreamHttpOptions(cc: ChainConfig): JsonObject | undefined {
  if (!cc.passthrough && isHttp2(cc.protocol)) {
    return { explicit_http_config: { http2_protocol_options: {} } };
  }
  if (cc.passthrough || cc.protocol === undefined) {
    // Istio's InboundPassthroughCluster also sets common_http_protocol_options.idle_timeout 300s; omitted: not
    // implemented by the Skiff proxy's HttpProtocolOptions.
    return { use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} } };
  }
  return undefined;
}
