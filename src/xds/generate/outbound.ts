// LDS for sidecars, outbound side: one listener per service port the proxy may call, and the HTTP proxy
// listener. Pure: model + proxy → Envoy Listener resources (proto3 JSON), problems for what cannot be generated.
//
// Local mode (docs: /work/shared/local-mode.md, "Outbound") has no traffic capture and no service VIPs. Istio's
// per-service listeners are keyed by the VIP (`10.96.3.7_5432`) or share `0.0.0.0_PORT`, and are reached through
// `virtualOutbound` (ORIGINAL_DST); locally each service port gets a listener of its own that binds for real on
// `127.0.0.1:<port the context allocates for this proxy>` and is named after it (`127.0.0.1_15123`, Istio's
// getListenerName), which is what Istio generates for a Sidecar egress listener with a `bind` address. So:
// - no `virtualOutbound` (nothing to hand connections over) and no `bind_to_port: false`;
// - every listener serves exactly one service port, like Istio's per-VIP listener: HTTP ports get the sniffed-VIP
//   route `host:port` (routes.ts) instead of the shared per-port route `"PORT"`;
// - TLS ports need no SNI match (Istio adds one only when a service has no VIP and the listener is shared);
// - where Istio falls through to PassthroughCluster (the connection's original destination), the original
//   destination here is the service itself: the fall-through chain goes to the service's default cluster.
// Each listener carries `metadata.filter_metadata.skiff: {service, port}` for the debug API (the proxy records
// listener metadata and shows it in its config dump).
//
// Istio: pilot/pkg/networking/core/listener.go (buildSidecarOutboundListener, buildListenerFromEntry,
// buildSidecarOutboundHTTPListenerOpts, buildHTTPProxy), listener_builder.go (buildHTTPConnectionManager),
// tls.go (buildSidecarOutboundTLSFilterChainOpts, buildSidecarOutboundTCPFilterChainOpts, matchTCP, matchTLS),
// networkfilter.go (buildOutboundNetworkFiltersWithSingleDestination, buildOutboundNetworkFiltersWithWeightedClusters).

import { isHttpProtocol, isTlsProtocol } from '../../config/kinds/protocol.js';
import type { TCPRoute, TLSRoute } from '../../config/kinds/virtual-service.js';
import { hostsMatch } from '../../config/kinds/virtual-service-match.js';
import type { ServiceModel, ServicePortModel } from '../../model/types.js';
import type { JsonObject } from '../decode.js';
import { accessLog } from './access-log.js';
import type { GenerationContext } from './context.js';
import { protoDuration } from './duration.js';
import { istioStatsFilter, sidecarHttpFilters } from './filters.js';
import {
  ALPN,
  BLACKHOLE_CLUSTER,
  clusterName,
  HTTP_PROXY_ROUTE,
  listenerName,
  STAT_PREFIX_DELIMITER,
  TYPE,
} from './names.js';
import type { ProxyNode } from './proxy.js';
import {
  configMetadata,
  destinationCluster,
  type MeshVirtualService,
  meshVirtualServices,
  report,
  visibleServices,
  vsLabel,
} from './routes.js';
import type { GenerationProblem } from './types.js';

/** Where every local-mode outbound listener binds (Istio's actualLocalHost for a bound egress listener). */
export const OUTBOUND_BIND = '127.0.0.1';
/** The key the HTTP proxy listener's port is allocated under: `portFor(proxyId, HTTP_PROXY_KEY, 0)`. */
export const HTTP_PROXY_KEY = 'http_proxy';
/** PILOT_GATEWAY_TRANSPORT_SOCKET_CONNECT_TIMEOUT, applied to sidecar outbound chains too (listener.go). */
const TRANSPORT_SOCKET_CONNECT_TIMEOUT = '15s';
/** util.PassthroughFilterChain. */
export const PASSTHROUGH_FILTER_CHAIN = 'PassthroughFilterChain';

const HCM = 'envoy.filters.network.http_connection_manager';
const TCP_PROXY = 'envoy.filters.network.tcp_proxy';

type ListenerProtocol = 'HTTP' | 'TCP' | 'AUTO';

/** networking.go ModelProtocolToListenerProtocol: unset (sniffed) → AUTO, HTTP family → HTTP, the rest TCP. */
export function listenerProtocol(port: ServicePortModel): ListenerProtocol {
  if (port.protocol === undefined) return 'AUTO';
  return isHttpProtocol(port.protocol) ? 'HTTP' : 'TCP';
}

/**
 * Every outbound listener of a sidecar: one per port of every service it sees (MESH_EXTERNAL ServiceEntries
 * included — egress goes through the sidecar — and the proxy's own services, as Istio), sorted by host then
 * port, then the HTTP proxy listener. Routers (gateways) get none from here.
 */
export function buildOutboundListeners(
  ctx: GenerationContext,
  proxy: ProxyNode,
  problems?: GenerationProblem[],
): JsonObject[] {
  if (proxy.type !== 'sidecar') return [];
  const out: JsonObject[] = [];
  for (const service of visibleServices(ctx, proxy)) {
    for (const port of service.ports) {
      const bindPort = allocate(ctx, proxy, service.hostname, port.port, problems);
      if (bindPort !== undefined && bindPort === proxy.httpProxyPort) {
        // The proxy asked for its HTTP proxy listener on a port the allocator gave this service port: two
        // listeners cannot share 127.0.0.1:PORT, so the proxy's own choice wins and this one is reported.
        report(problems, {
          severity: 'error',
          code: 'SKIFF_GEN_PORT_CONFLICT',
          message: `proxy ${proxy.id}: outbound port ${bindPort} for ${service.hostname}:${port.port} is its HTTP_PROXY_PORT; that service port gets no listener (choose an HTTP_PROXY_PORT outside the outbound range)`,
        });
        continue;
      }
      if (bindPort !== undefined) out.push(serviceListener(ctx, proxy, service, port, bindPort, problems));
    }
  }
  const proxyPort = proxy.httpProxyPort ?? allocate(ctx, proxy, HTTP_PROXY_KEY, 0, problems);
  if (proxyPort !== undefined) out.push(httpProxyListener(ctx, proxyPort));
  return out;
}

/** The port the context allocates; when it cannot (its range is used up), the listener is skipped and reported. */
function allocate(
  ctx: GenerationContext,
  proxy: ProxyNode,
  host: string,
  port: number,
  problems: GenerationProblem[] | undefined,
): number | undefined {
  try {
    return ctx.outboundPorts.portFor(proxy.proxyId, host, port);
  } catch (e) {
    report(problems, {
      severity: 'error',
      code: 'SKIFF_GEN_OUTBOUND_PORT',
      message: `proxy ${proxy.proxyId}: no outbound listener for ${host}:${port}: ${e instanceof Error ? e.message : String(e)}`,
    });
    return undefined;
  }
}

/** One chain before assembly (Istio's filterChainOpts). */
interface ChainOpts {
  /** undefined: matches everything. */
  match?: JsonObject;
  filters: JsonObject[];
  metadata?: JsonObject;
  name?: string;
}

function serviceListener(
  ctx: GenerationContext,
  proxy: ProxyNode,
  service: ServiceModel,
  port: ServicePortModel,
  bindPort: number,
  problems: GenerationProblem[] | undefined,
): JsonObject {
  const name = listenerName(OUTBOUND_BIND, bindPort);
  const protocol = listenerProtocol(port);
  let chains: ChainOpts[];
  if (protocol === 'HTTP') {
    // Istio's HTTP listener on 0.0.0.0 matches application_protocols [http/1.1, h2c] and falls through to
    // PassthroughFilterChain; bound to an address (a Sidecar egress `bind`, as here) it is one match-all chain.
    chains = [{ filters: [httpConnectionManager(ctx, name, `${service.hostname}:${port.port}`)] }];
  } else {
    chains = tcpChains(ctx, proxy, service, port, problems);
    if (protocol === 'AUTO') {
      // Sniffed: the HTTP chain for what http_inspector recognises, the TCP chain as the default chain.
      chains.push({
        match: { application_protocols: [...ALPN.plaintextHttp], transport_protocol: 'raw_buffer' },
        filters: [httpConnectionManager(ctx, name, `${service.hostname}:${port.port}`)],
      });
    }
  }
  const fallthrough = fallthroughFilters(ctx, service, port);
  return assembleListener(ctx, name, bindPort, chains, fallthrough, {
    skiff: { service: service.hostname, port: port.port },
  });
}

/**
 * buildListenerFromEntry: listener filters from what the chains match on, every chain with the transport socket
 * connect timeout, the match-all chain as default_filter_chain (or the only chain), else a PassthroughFilterChain.
 */
function assembleListener(
  ctx: GenerationContext,
  name: string,
  port: number,
  chains: ChainOpts[],
  fallthrough: JsonObject[] | undefined,
  metadata: JsonObject,
): JsonObject {
  const needTls = chains.some((c) => Array.isArray(c.match?.server_names));
  const needHttp = chains.some((c) => Array.isArray(c.match?.application_protocols));
  const listenerFilters: JsonObject[] = [];
  if (needTls) {
    listenerFilters.push({
      name: 'envoy.filters.listener.tls_inspector',
      typed_config: { '@type': TYPE.tlsInspector, initial_read_buffer_size: 512 },
    });
  }
  if (needHttp) {
    listenerFilters.push({
      name: 'envoy.filters.listener.http_inspector',
      typed_config: { '@type': TYPE.httpInspector },
    });
  }
  let defaultChain: JsonObject | undefined;
  const filterChains: JsonObject[] = [];
  for (const c of chains) {
    const chain: JsonObject = {
      ...(c.name ? { name: c.name } : {}),
      filters: c.filters,
      transport_socket_connect_timeout: TRANSPORT_SOCKET_CONNECT_TIMEOUT,
      ...(c.metadata ? { metadata: c.metadata } : {}),
    };
    if (!c.match || Object.keys(c.match).length === 0) defaultChain = chain;
    else filterChains.push({ ...chain, filter_chain_match: c.match });
  }
  if (defaultChain && filterChains.length === 0) {
    filterChains.push(defaultChain);
    defaultChain = undefined;
  } else if (!defaultChain && fallthrough) {
    defaultChain = { name: PASSTHROUGH_FILTER_CHAIN, filter_chain_match: {}, filters: fallthrough };
  }
  const logs = accessLog(ctx.model.meshConfig, 'listener');
  return {
    name,
    address: { socket_address: { address: OUTBOUND_BIND, port_value: port } },
    traffic_direction: 'OUTBOUND',
    continue_on_listener_filters_timeout: true,
    // Istio also sets max_connections_to_accept_per_socket_event: 1 on listeners that bind; omitted: not
    // implemented by the Skiff proxy.
    ...(listenerFilters.length > 0 ? { listener_filters: listenerFilters } : {}),
    // Istio: meshConfig.protocolDetectionTimeout with an http_inspector, else 0s (no limit).
    listener_filters_timeout: needHttp
      ? (protoDuration(ctx.model.meshConfig.protocolDetectionTimeout) ?? '0s')
      : '0s',
    filter_chains: filterChains,
    ...(defaultChain ? { default_filter_chain: defaultChain } : {}),
    ...(logs ? { access_log: logs } : {}),
    metadata: { filter_metadata: metadata },
  };
}

/**
 * The catch-all of a listener whose chains all match on something (VirtualService `tls` SNI routes, `tcp`
 * destinationSubnets): Istio's PassthroughFilterChain to PassthroughCluster (ALLOW_ANY) or BlackHoleCluster
 * (REGISTRY_ONLY). Local mode: the original destination of a connection to this listener is the service itself,
 * so ALLOW_ANY falls through to the service's default cluster.
 */
function fallthroughFilters(
  ctx: GenerationContext,
  service: ServiceModel,
  port: ServicePortModel,
): JsonObject[] {
  const allowAny = ctx.model.meshConfig.outboundTrafficPolicy.mode !== 'REGISTRY_ONLY';
  const cluster = allowAny ? defaultClusterOf(service, port) : BLACKHOLE_CLUSTER;
  return [istioStatsFilter('outbound'), tcpProxy(ctx, cluster, cluster, undefined)];
}

/** tls.go: the default chain's cluster uses the service's only port when it has one, else the listener's. */
function defaultClusterOf(service: ServiceModel, port: ServicePortModel): string {
  const p = service.ports.length === 1 ? (service.ports[0]?.port ?? port.port) : port.port;
  return clusterName('outbound', p, '', service.hostname);
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP.

/**
 * buildHTTPConnectionManager for a sidecar outbound chain, limited to what the Skiff proxy implements. Filters in
 * Istio's order: istio.metadata_exchange, (grpc_stats, istio.alpn, fault, cors), istio.stats, router.
 */
function httpConnectionManager(
  ctx: GenerationContext,
  listener: string,
  route: string,
  extra: JsonObject = {},
): JsonObject {
  const logs = accessLog(ctx.model.meshConfig, 'http');
  return {
    name: HCM,
    typed_config: {
      '@type': TYPE.hcm,
      stat_prefix: `outbound_${listener}${STAT_PREFIX_DELIMITER}`,
      rds: {
        config_source: { ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' },
        route_config_name: route,
      },
      codec_type: 'AUTO',
      http_filters: sidecarHttpFilters('outbound'),
      use_remote_address: false,
      upgrade_configs: [{ upgrade_type: 'websocket' }],
      stream_idle_timeout: '0s',
      // Istio also sets normalize_path: true, path_with_escaped_slashes_action: KEEP_UNCHANGED,
      // request_id_extension (UuidRequestIdConfig), tracing, proxy_100_continue: true; omitted: not implemented
      // by the Skiff proxy.
      ...(logs ? { access_log: logs } : {}),
      ...extra,
    },
  };
}

/**
 * `istio.stats` (stats.PluginConfig). Istio sends it as its own Any; the Skiff proxy reads the same fields inside a
 * TypedStruct. Istio adds it when a Prometheus metrics provider is active (Helm's default; MeshConfig in Skiff
 * has no defaultProviders, so it is always on). Outbound: disable_host_header_fallback false (the default).
 */

/** buildHTTPProxy: `127.0.0.1_<port>`, one match-all chain, RDS `http_proxy`, absolute URLs allowed. */
function httpProxyListener(ctx: GenerationContext, port: number): JsonObject {
  const name = listenerName(OUTBOUND_BIND, port);
  const hcm = httpConnectionManager(ctx, name, HTTP_PROXY_ROUTE, {
    http_protocol_options: { allow_absolute_url: true },
  });
  return assembleListener(ctx, name, port, [{ filters: [hcm] }], undefined, {
    skiff: { service: HTTP_PROXY_KEY, port: 0 },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// TCP and TLS.

/** tls.go getConfigsForHost: the VirtualServices with a host matching the service's. */
function virtualServicesForService(ctx: GenerationContext, hostname: string): MeshVirtualService[] {
  return meshVirtualServices(ctx).filter((vs) => vs.hosts.some((h) => hostsMatch(h, hostname)));
}

interface L4Match {
  port?: number;
  sourceLabels?: Record<string, string>;
  gateways?: string[];
  sourceNamespace?: string;
  destinationSubnets?: string[];
}

/** matchTCP / matchTLS: gateways (`mesh`), source labels, listener (service) port, source namespace. */
function l4Matches(m: L4Match, proxy: ProxyNode, port: number): boolean {
  const gateways = m.gateways ?? [];
  if (gateways.length > 0 && !gateways.includes('mesh')) return false;
  for (const [k, v] of Object.entries(m.sourceLabels ?? {})) if (proxy.labels[k] !== v) return false;
  if (m.port !== undefined && m.port !== 0 && m.port !== port) return false;
  return !m.sourceNamespace || m.sourceNamespace === proxy.namespace;
}

/**
 * buildSidecarOutboundTLSFilterChainOpts + buildSidecarOutboundTCPFilterChainOpts for one service port: the
 * VirtualService `tls` (TLS/HTTPS ports) or `tcp` routes that apply, else one chain to the service's cluster.
 */
function tcpChains(
  ctx: GenerationContext,
  proxy: ProxyNode,
  service: ServiceModel,
  port: ServicePortModel,
  problems: GenerationProblem[] | undefined,
): ChainOpts[] {
  const configs = virtualServicesForService(ctx, service.hostname);
  const out: ChainOpts[] = [];
  let defaultAdded = false;
  if (port.protocol !== undefined && isTlsProtocol(port.protocol)) {
    const handled = new Set<string>();
    for (const vs of configs) {
      for (const [i, tls] of (vs.resource.spec.tls ?? []).entries()) {
        if ((tls.route ?? []).length === 0) continue;
        for (const match of tls.match) {
          if (!l4Matches(match, proxy, port.port)) continue;
          // hashRuntimeTLSMatchPredicates, on sorted names: Istio hashes them in the order written, so [a, b] then
          // [b, a] give two chains with the same (sorted) server_names, a listener Envoy and Skiff refuse.
          const key = `${[...match.sniHosts].sort().join(',')}|${[...(match.destinationSubnets ?? [])].sort().join(',')}`;
          if (handled.has(key)) continue;
          handled.add(key);
          const filters = routeFilters(ctx, proxy, vs, tls, `tls[${i}]`, port, problems);
          if (!filters) continue;
          out.push({
            match: {
              server_names: [...match.sniHosts].sort(),
              ...prefixRanges(match.destinationSubnets),
            },
            filters,
            metadata: configMetadata(vs.resource),
          });
        }
      }
    }
    // No VirtualService tls match: one chain to the service. Istio adds `server_names: [host]` only when the
    // service has no VIP or shares a wildcard listener; the local listener is the service's own (its VIP).
    defaultAdded = out.length > 0;
  } else {
    tcp: for (const vs of configs) {
      for (const [i, tcp] of (vs.resource.spec.tcp ?? []).entries()) {
        if ((tcp.route ?? []).length === 0) continue;
        const matches = tcp.match ?? [];
        const subnets: string[] = [];
        let terminal = matches.length === 0;
        for (const match of matches) {
          if (!l4Matches(match, proxy, port.port)) continue;
          if ((match.destinationSubnets ?? []).length === 0) {
            terminal = true;
            break;
          }
          subnets.push(...(match.destinationSubnets ?? []));
        }
        if (!terminal && subnets.length === 0) continue;
        const filters = routeFilters(ctx, proxy, vs, tcp, `tcp[${i}]`, port, problems);
        if (!filters) continue;
        if (terminal) {
          out.push({ filters, metadata: configMetadata(vs.resource) });
          defaultAdded = true;
          break tcp;
        }
        out.push({ match: prefixRanges(subnets), filters });
      }
    }
  }
  if (!defaultAdded) {
    const cluster = defaultClusterOf(service, port);
    out.push({
      filters: [
        istioStatsFilter('outbound'),
        tcpProxy(ctx, cluster, cluster, tcpSettings(ctx, proxy, service, problems)),
      ],
    });
  }
  return out;
}

/**
 * buildOutboundNetworkFilters for a VirtualService tcp/tls route: one destination → tcp_proxy to its cluster;
 * several → weighted clusters (stat prefix `name.namespace`); none with a weight above 0 → the route is skipped
 * with a problem (undefined).
 */
function routeFilters(
  ctx: GenerationContext,
  proxy: ProxyNode,
  vs: MeshVirtualService,
  route: TCPRoute | TLSRoute,
  where: string,
  port: ServicePortModel,
  problems: GenerationProblem[] | undefined,
): JsonObject[] | undefined {
  const ns = vs.resource.metadata.namespace;
  const dests = (route.route ?? []).map((r) => ({ r, host: ctx.resolveHost(r.destination.host, ns) }));
  const first = dests[0];
  if (!first) return undefined;
  // The destination service as Istio's ServiceForHostname sees it: the whole service (its only port counts).
  const lookup = (host: string) => ctx.service(host);
  const firstService = lookup(first.host);
  const settings = firstService ? tcpSettings(ctx, proxy, firstService, problems) : undefined;
  if (dests.length === 1) {
    const cluster = destinationCluster(first.r.destination, first.host, port.port, lookup);
    return [istioStatsFilter('outbound'), tcpProxy(ctx, cluster, cluster, settings)];
  }
  const weighted = dests.filter((d) => (d.r.weight ?? 0) > 0);
  const statPrefix = `${vs.resource.metadata.name}.${ns}`;
  const clusters = weighted.map((d) => ({
    name: destinationCluster(d.r.destination, d.host, port.port, lookup),
    weight: d.r.weight ?? 0,
  }));
  if (clusters.length === 1 && clusters[0]) {
    // Istio writes weighted_clusters with this one entry; a plain cluster relays the same.
    return [istioStatsFilter('outbound'), tcpProxy(ctx, statPrefix, clusters[0].name, settings)];
  }
  if (clusters.length === 0) {
    // Istio writes weighted_clusters without clusters, which Envoy refuses (at least one is required).
    report(problems, {
      severity: 'error',
      code: 'SKIFF_GEN_VS_UNSUPPORTED',
      message: `${vsLabel(vs.resource)}: ${where}.route: no destination has a weight above 0; the route is not generated`,
    });
    return undefined;
  }
  const proxyFilter = tcpProxy(ctx, statPrefix, '', settings);
  const typed = proxyFilter.typed_config as JsonObject;
  delete typed.cluster;
  typed.weighted_clusters = { clusters };
  return [istioStatsFilter('outbound'), proxyFilter];
}

/** The tcp_proxy settings a DestinationRule gives (top-level trafficPolicy.connectionPool.tcp, as Istio). */
function tcpSettings(
  ctx: GenerationContext,
  proxy: ProxyNode,
  service: ServiceModel,
  problems: GenerationProblem[] | undefined,
): JsonObject | undefined {
  const dr = ctx.destinationRule(service, proxy.namespace);
  const policy = dr?.spec.trafficPolicy;
  if (!dr || !policy) return undefined;
  const out: JsonObject = {};
  const idle = policy.connectionPool?.tcp?.idleTimeout;
  if (idle !== undefined) {
    const d = protoDuration(idle);
    if (d !== undefined) out.idle_timeout = d;
  }
  const label = `DestinationRule ${dr.metadata.namespace}/${dr.metadata.name}`;
  if (policy.connectionPool?.tcp?.maxConnectionDuration !== undefined) {
    // Istio also sets max_downstream_connection_duration; omitted: not implemented by the Skiff proxy.
    report(problems, {
      severity: 'warning',
      code: 'SKIFF_GEN_DR_FIELD_DROPPED',
      message: `${label}: trafficPolicy.connectionPool.tcp.maxConnectionDuration: tcp_proxy max_downstream_connection_duration is not implemented by the Skiff proxy; ignored`,
    });
  }
  if (policy.loadBalancer?.consistentHash?.useSourceIp === true) {
    // Istio also sets hash_policy [{source_ip: {}}]; omitted: not implemented by the Skiff proxy.
    report(problems, {
      severity: 'warning',
      code: 'SKIFF_GEN_HASH_POLICY',
      message: `${label}: trafficPolicy.loadBalancer.consistentHash.useSourceIp: tcp_proxy hash_policy is not implemented by the Skiff proxy; ignored`,
    });
  }
  return out;
}

/** `envoy.filters.network.tcp_proxy` (stat prefix without `;`, as Istio). */
function tcpProxy(
  ctx: GenerationContext,
  statPrefix: string,
  cluster: string,
  settings: JsonObject | undefined,
): JsonObject {
  const logs = accessLog(ctx.model.meshConfig, 'tcp');
  return {
    name: TCP_PROXY,
    typed_config: {
      '@type': TYPE.tcpProxy,
      stat_prefix: statPrefix,
      cluster,
      ...(settings ?? {}),
      ...(logs ? { access_log: logs } : {}),
    },
  };
}

/** CIDRs (`10.0.0.0/8`, a bare IP) as filter_chain_match prefix_ranges; nothing for none. */
function prefixRanges(subnets: readonly string[] | undefined): JsonObject {
  if (!subnets || subnets.length === 0) return {};
  return {
    prefix_ranges: subnets.map((s) => {
      const [address = '', len] = s.split('/');
      return {
        address_prefix: address,
        prefix_len: len !== undefined ? Number(len) : address.includes(':') ? 128 : 32,
      };
    }),
  };
}
