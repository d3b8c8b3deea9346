// Proxyless gRPC clients and servers (node metadata `GENERATOR: grpc`): the Listener, RouteConfiguration and
// Cluster resources gRPC's own xDS client understands, built for exactly the names it subscribes to (gRPC
// always subscribes by name, for LDS and CDS too). EDS is the sidecar's generator, as in Istio.
// Istio: pilot/pkg/networking/grpcgen (grpcgen.go Generate, lds.go, rds.go, cds.go); the gRPC bootstrap the
// agent writes: pkg/istio-agent/grpcxds/grpc_bootstrap.go (server listener name template, certificate
// provider instance `default`).
//
// What gRPC refuses (a NACK) is checked against @grpc/grpc-js-xds's own validators in the tests; where Istio's
// output would be refused by grpc-js, the deviation is written next to the code (LEAST_REQUEST, MAGLEV,
// redirect / direct-response routes, empty weighted clusters).

import type { DestinationRuleSpec, TrafficPolicy } from '../../config/kinds/destination-rule.js';
import type { HTTPMatchRequest, HTTPRoute } from '../../config/kinds/virtual-service-http.js';
import { type Destination, hostsMatch, type StringMatch } from '../../config/kinds/virtual-service-match.js';
import type { ServiceModel, ServicePortModel, WorkloadModel } from '../../model/types.js';
import { mergeSubsetTrafficPolicy, portLevelTrafficPolicy } from '../../policy/upstream-tls.js';
import type { JsonObject } from '../decode.js';
import type { GenerationContext, ServiceTarget } from './context.js';
import { protoDuration } from './duration.js';
import {
  clusterName,
  domainName,
  parseClusterName,
  SECRET_DEFAULT,
  SECRET_ROOTCA,
  TYPE,
  TYPE_URL,
} from './names.js';
import type { ProxyNode } from './proxy.js';
import {
  ipv6Compliant,
  isHttpOrSniffed,
  type MeshVirtualService,
  meshVirtualServices,
  serviceAddresses,
  virtualHostBuilder,
  virtualServiceFor,
  visibleServices,
} from './routes.js';
import type { GenerationProblem } from './types.js';

/** What could not be generated (the resource is skipped), or was generated differently from what was asked. */
export type GrpcProblem = GenerationProblem;

export interface GrpcResult {
  resources: JsonObject[];
  problems: GrpcProblem[];
}

/** gRPC servers ask for `xds.istio.io/grpc/lds/inbound/<ip>:<port>` (grpc_bootstrap.go ServerListenerNamePrefix). */
export const SERVER_LISTENER_NAME_PREFIX = 'xds.istio.io/grpc/lds/inbound/';
/** The bootstrap's `certificate_providers` key the TLS contexts name (grpc_bootstrap.go, grpcgen.go). */
export const CERTIFICATE_PROVIDER_INSTANCE = 'default';
/** gRPC reads a transport socket only under this name (grpc cds.go transportSocketName). */
const TLS_TRANSPORT_SOCKET = 'envoy.transport_sockets.tls';
/** gRPC's ring_hash refuses larger rings (grpc-js ClusterResourceType.validateResource). */
const GRPC_MAX_RING_SIZE = 8_388_608;

/**
 * The resources of type `typeUrl` a proxyless gRPC client asked for by `names` (Istio grpcgen.go Generate).
 * Names that name nothing are skipped and reported; nothing throws.
 */
export function generateGrpc(
  ctx: GenerationContext,
  proxy: ProxyNode,
  typeUrl: string,
  names: readonly string[],
): GrpcResult {
  const problems: GrpcProblem[] = [];
  const requested = [...new Set(names)];
  switch (typeUrl) {
    case TYPE_URL.listener:
      return { resources: grpcListeners(ctx, proxy, requested, problems), problems };
    case TYPE_URL.route:
      return { resources: grpcRouteConfigurations(ctx, proxy, requested, problems), problems };
    case TYPE_URL.cluster:
      return { resources: grpcClusters(ctx, proxy, requested, problems), problems };
    case TYPE_URL.endpoint:
      // Istio serves proxyless EDS with the sidecars' generator (pilot/pkg/bootstrap/discovery.go).
      problems.push({
        severity: 'error',
        code: 'SKIFF_GRPC_EDS',
        message: 'EDS for proxyless gRPC is served by the sidecar EDS generator, not by generateGrpc',
      });
      return { resources: [], problems };
    default:
      problems.push({
        severity: 'error',
        code: 'SKIFF_GRPC_TYPE',
        message: `type ${JSON.stringify(typeUrl)} is not served to proxyless gRPC (LDS, RDS, CDS and EDS are)`,
      });
      return { resources: [], problems };
  }
}

// ---------------------------------------------------------------------------------------------------------
// LDS — lds.go BuildListeners

/** What one requested host asks for: the names to echo, and the ports (empty: every port). */
export interface ListenerNameMatch {
  requestedNames: Set<string>;
  ports: Set<string>;
}

/**
 * Istio's listener name filter (lds.go:379 newListenerNameFilter): each `host[:port]` under its own name and,
 * for a short name, under the FQDN it expands to; server names as they are. A name asked for without a port
 * clears the port restriction, and it stays clear.
 */
export function listenerNameFilter(
  names: readonly string[],
  proxy: Pick<ProxyNode, 'namespace' | 'dnsDomain'>,
): Map<string, ListenerNameMatch> {
  const filter = new Map<string, ListenerNameMatch>();
  for (const name of names) {
    if (name.startsWith(SERVER_LISTENER_NAME_PREFIX)) {
      filter.set(name, { requestedNames: new Set([name]), ports: new Set() });
      continue;
    }
    const hostPort = splitHostPort(name);
    const requested = hostPort ? hostPort.host : name;
    const all = [requested];
    const fqdn = tryFindFqdn(requested, proxy);
    if (fqdn !== '') all.push(fqdn);
    for (const key of all) {
      const known = filter.get(key);
      const entry = known ?? { requestedNames: new Set<string>(), ports: new Set<string>() };
      entry.requestedNames.add(requested);
      if (hostPort && (!known || entry.ports.size !== 0)) entry.ports.add(hostPort.port);
      else if (!hostPort) entry.ports = new Set();
      filter.set(key, entry);
    }
  }
  return filter;
}

/**
 * A short name as the FQDN it means (lds.go:424 tryFindFQDN): `foo` → `foo.<dnsDomain>`; `foo.NS` and `foo.NS.svc`
 * → `foo.<dnsDomain>` when the proxy's DNS domain starts with that suffix; anything else → ''.
 */
export function tryFindFqdn(name: string, proxy: Pick<ProxyNode, 'namespace' | 'dnsDomain'>): string {
  if (!name.includes('.')) return `${name}.${proxy.dnsDomain}`;
  for (const suffix of [proxy.namespace, `${proxy.namespace}.svc`]) {
    const tail = `.${suffix}`;
    if (name.endsWith(tail) && proxy.dnsDomain.startsWith(suffix)) {
      return `${name.slice(0, -tail.length)}.${proxy.dnsDomain}`;
    }
  }
  return '';
}

/** Go's net.SplitHostPort: `host:port`, `[v6]:port`; undefined without a port or with a bare IPv6 address. */
export function splitHostPort(hostPort: string): { host: string; port: string } | undefined {
  const colon = hostPort.lastIndexOf(':');
  if (colon < 0) return undefined;
  let host: string;
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    if (end < 0 || end + 1 !== colon) return undefined;
    host = hostPort.slice(1, end);
  } else {
    host = hostPort.slice(0, colon);
    if (host.includes(':')) return undefined;
  }
  const port = hostPort.slice(colon + 1);
  if (/[[\]]/.test(host) || /[[\]]/.test(port)) return undefined;
  return { host, port };
}

/** Go's net.JoinHostPort. */
function joinHostPort(host: string, port: string | number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function grpcListeners(
  ctx: GenerationContext,
  proxy: ProxyNode,
  names: readonly string[],
  problems: GrpcProblem[],
): JsonObject[] {
  const filter = listenerNameFilter(names, proxy);
  const out = clientListeners(ctx, proxy, filter);
  const built = new Set(out.map((l) => String(l.name)));
  for (const name of names) {
    if (name.startsWith(SERVER_LISTENER_NAME_PREFIX)) continue;
    const hostPort = splitHostPort(name);
    const found = hostPort
      ? built.has(joinHostPort(hostPort.host, hostPort.port))
      : [...built].some((n) => splitHostPort(n)?.host === name);
    if (!found) {
      problems.push({
        severity: 'warning',
        code: 'SKIFF_GRPC_UNKNOWN_LISTENER',
        message: `listener ${JSON.stringify(name)}: no service ${hostPort ? `with port ${hostPort.port} ` : ''}has this host (short names are read relative to ${proxy.dnsDomain}); skipped`,
      });
    }
  }
  const inbound = names.filter((n) => n.startsWith(SERVER_LISTENER_NAME_PREFIX));
  out.push(...serverListeners(ctx, proxy, inbound, problems));
  return out;
}

/** lds.go:279 buildOutboundListeners: one api_listener per requested name and service port. */
function clientListeners(
  ctx: GenerationContext,
  proxy: ProxyNode,
  filter: Map<string, ListenerNameMatch>,
): JsonObject[] {
  const out: JsonObject[] = [];
  for (const svc of visibleServices(ctx, proxy)) {
    const match =
      filter.size === 0
        ? { requestedNames: new Set([svc.hostname]), ports: new Set<string>() }
        : filter.get(svc.hostname);
    if (!match) continue;
    // One listener per requested host: gRPC may watch both `foo` and `foo.ns` (lds.go).
    for (const requested of [...match.requestedNames].sort()) {
      for (const port of svc.ports) {
        if (match.ports.size > 0 && !match.ports.has(String(port.port))) continue;
        out.push(clientListener(joinHostPort(requested, port.port), svc, port));
      }
    }
  }
  return out;
}

function clientListener(name: string, svc: ServiceModel, port: ServicePortModel): JsonObject {
  // Istio binds the service's default address (GetAddressForProxy), 0.0.0.0 when it has none. Local mode
  // usually has no VIPs: gRPC never binds or matches an api_listener's address (grpc-js reads only
  // api_listener), so 0.0.0.0 stays what gRPC accepts. Istio also sets additional_addresses for the other IP
  // family of a dual-stack service; omitted: the proxy is IPv4-only here.
  const address = serviceAddresses(svc)[0] ?? '0.0.0.0';
  return {
    name,
    address: { socket_address: { address, port_value: port.port } },
    api_listener: {
      api_listener: {
        '@type': TYPE.hcm,
        // Istio also sets envoy.filters.http.fault first; omitted: no fault is generated for proxyless routes
        // (a VirtualService fault is reported and skipped), and gRPC does not need the filter to route.
        // Istio also puts envoy.filters.http.stateful_session first for persistent-session services; omitted:
        // PILOT_ENABLE_PERSISTENT_SESSION_FILTER is off by default and the model has no such services.
        http_filters: [routerFilter()],
        rds: {
          config_source: { ads: {} },
          route_config_name: clusterName('outbound', port.port, '', svc.hostname),
        },
      },
    },
  };
}

function routerFilter(): JsonObject {
  return { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE.router } };
}

/** lds.go:72 buildInboundListeners: a listener for each requested address whose port the workload serves. */
function serverListeners(
  ctx: GenerationContext,
  proxy: ProxyNode,
  names: readonly string[],
  problems: GrpcProblem[],
): JsonObject[] {
  if (names.length === 0) return [];
  const workload = ctx.workloadAt(proxy.ips, proxy.namespace);
  if (!workload) {
    problems.push({
      severity: 'warning',
      code: 'SKIFF_GRPC_NO_WORKLOAD',
      message: `no workload in namespace ${proxy.namespace} has address ${proxy.ips.join(', ') || '(none)'}: no server listener for ${names.join(', ')}`,
    });
    return [];
  }
  // Istio keys ServiceTargets by target port, the last one winning.
  const byTargetPort = new Map<number, ServiceTarget>();
  for (const t of ctx.serviceTargets(workload)) byTargetPort.set(t.targetPort, t);
  const out: JsonObject[] = [];
  for (const name of names) {
    const hostPort = splitHostPort(name.slice(SERVER_LISTENER_NAME_PREFIX.length));
    const port = hostPort && /^[0-9]+$/.test(hostPort.port) ? Number(hostPort.port) : Number.NaN;
    if (!hostPort || !(port >= 1 && port <= 65535)) {
      problems.push({
        severity: 'warning',
        code: 'SKIFF_GRPC_SERVER_LISTENER_NAME',
        message: `listener ${JSON.stringify(name)}: expected ${SERVER_LISTENER_NAME_PREFIX}<ip>:<port>; skipped`,
      });
      continue;
    }
    const target = byTargetPort.get(port);
    if (!target) {
      // Without a listener the gRPC server never starts serving on that port (lds.go logs and skips too).
      problems.push({
        severity: 'warning',
        code: 'SKIFF_GRPC_NOT_A_SERVICE_PORT',
        message: `listener ${JSON.stringify(name)}: workload ${workload.namespace}/${workload.name} serves no service on port ${port}; skipped`,
      });
      continue;
    }
    // Istio also sets additional_addresses from the service's other-family VIPs; omitted: IPv4-only proxy.
    // listener_filters and use_original_dst stay unset: gRPC NACKs them.
    out.push({
      name,
      address: { socket_address: { address: hostPort.host, port_value: port } },
      filter_chains: [serverFilterChain(ctx, workload, target)],
    });
  }
  return out;
}

/** The mode gRPC serves a port with (lds.go:131 buildInboundFilterChains): STRICT or DISABLE, never both. */
export function grpcServerMode(
  ctx: GenerationContext,
  workload: WorkloadModel,
  port: number,
): 'STRICT' | 'DISABLE' {
  // Istio reads the node's labels; Skiff reads the registry's workload, which a proxy's node must match.
  const mode = ctx.workloadMode(workload, port);
  // Clients send mTLS to a `security.istio.io/tlsMode: istio` workload (auto mTLS), and gRPC cannot match
  // per-connection TLS, so PERMISSIVE is STRICT there and plaintext otherwise.
  if (mode === 'PERMISSIVE') return workload.tlsMode === 'istio' ? 'STRICT' : 'DISABLE';
  return mode;
}

/** lds.go:175 buildInboundFilterChain. */
function serverFilterChain(
  ctx: GenerationContext,
  workload: WorkloadModel,
  target: ServiceTarget,
): JsonObject {
  const strict = grpcServerMode(ctx, workload, target.targetPort) === 'STRICT';
  const suffix = strict ? 'mtls' : 'plaintext';
  const chain: JsonObject = {
    name: `inbound-${suffix}`,
    filters: [
      {
        name: `inbound-hcm${suffix}`,
        typed_config: {
          '@type': TYPE.hcm,
          // Inline routes: gRPC servers need a route table, and non_forwarding_action is the only action they
          // take (grpc-go issue 4924, cited by lds.go).
          route_config: {
            name: 'inbound',
            virtual_hosts: [
              { domains: ['*'], routes: [{ match: { prefix: '/' }, non_forwarding_action: {} }] },
            ],
          },
          // Istio also puts envoy.filters.http.rbac.DENY and envoy.filters.http.rbac first for
          // AuthorizationPolicies (lds.go:257 buildRBAC); omitted: Skiff's model has no AuthorizationPolicy yet.
          http_filters: [routerFilter()],
        },
      },
    ],
  };
  if (strict) {
    chain.transport_socket = {
      name: TLS_TRANSPORT_SOCKET,
      typed_config: {
        '@type': TYPE.downstreamTls,
        // No SAN match on the server (Istio: not supported by gRPC servers).
        common_tls_context: commonTlsContext([]),
        require_client_certificate: true,
      },
    };
  }
  return chain;
}

/**
 * grpcgen.go:77 buildCommonTLSContext: certificates from the bootstrap's provider instance `default` (cert
 * `default`, roots `ROOTCA`), in both the current and the deprecated fields for older gRPC releases.
 */
export function commonTlsContext(subjectAltNames: readonly string[]): JsonObject {
  const cert = { instance_name: CERTIFICATE_PROVIDER_INSTANCE, certificate_name: SECRET_DEFAULT };
  const roots = { instance_name: CERTIFICATE_PROVIDER_INSTANCE, certificate_name: SECRET_ROOTCA };
  return {
    tls_certificate_provider_instance: { ...cert },
    tls_certificate_certificate_provider_instance: { ...cert },
    combined_validation_context: {
      default_validation_context: {
        ...(subjectAltNames.length > 0
          ? { match_subject_alt_names: subjectAltNames.map((san) => ({ exact: san })) }
          : {}),
        ca_certificate_provider_instance: { ...roots },
      },
      validation_context_certificate_provider_instance: { ...roots },
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// RDS — rds.go BuildHTTPRoutes; virtual hosts as httproute.go BuildSidecarOutboundVirtualHosts builds them

function grpcRouteConfigurations(
  ctx: GenerationContext,
  proxy: ProxyNode,
  names: readonly string[],
  problems: GrpcProblem[],
): JsonObject[] {
  const out: JsonObject[] = [];
  const byPort = new Map<number, JsonObject[]>();
  for (const name of names) {
    const parsed = parseClusterName(name);
    if (!parsed || parsed.host === '') {
      problems.push({
        severity: 'warning',
        code: 'SKIFF_GRPC_ROUTE_NAME',
        message: `route ${JSON.stringify(name)}: expected outbound|PORT|SUBSET|HOST; skipped`,
      });
      continue;
    }
    let vhosts = byPort.get(parsed.port);
    if (!vhosts) {
      vhosts = outboundVirtualHosts(ctx, proxy, parsed.port, problems);
      byPort.set(parsed.port, vhosts);
    }
    // gRPC subscribes per host: only the virtual hosts for this host (rds.go:74 filterVirtualHostsForHostname).
    const kept = filterVirtualHostsForHostname(vhosts, parsed.host, parsed.port);
    if (kept.length === 0) {
      problems.push({
        severity: 'warning',
        code: 'SKIFF_GRPC_ROUTE_EMPTY',
        message: `route ${JSON.stringify(name)}: no HTTP service or VirtualService has host ${parsed.host} on port ${parsed.port}; gRPC fails its calls (no matching virtual host)`,
      });
    }
    out.push({ name, virtual_hosts: kept });
  }
  return out;
}

/**
 * The virtual hosts whose domains name `hostname` or `hostname:port`, wildcards included (rds.go:74
 * filterVirtualHostsForHostname). Case-insensitive.
 */
export function filterVirtualHostsForHostname(
  virtualHosts: readonly JsonObject[],
  hostname: string,
  port: number,
): JsonObject[] {
  const h = hostname.toLowerCase();
  const wantHost = ipv6Compliant(h);
  const wantHostPort = domainName(h, port);
  const wantPort = String(port);
  return virtualHosts.filter((vh) => {
    const domains = Array.isArray(vh.domains) ? vh.domains : [];
    for (const d of domains) {
      const domain = String(d).toLowerCase();
      if (domain === wantHost || domain === wantHostPort) return true;
      const split = splitHostPort(domain);
      const domainHost = split ? split.host : domain;
      const domainPort = split ? split.port : '';
      if (domainHost.startsWith('*')) {
        if (domainPort !== '' && domainPort !== wantPort) continue;
        if (hostsMatch(domainHost, h)) return true;
      }
      if (domainHost === wantHost && (domainPort === '' || domainPort === wantPort)) return true;
    }
    return false;
  });
}

interface ServiceOnPort {
  svc: ServiceModel;
  port: ServicePortModel;
}

interface VirtualHostWrapper {
  services: ServiceOnPort[];
  /** VirtualService hosts that are not registry services. */
  virtualServiceHosts: string[];
  routes: JsonObject[];
}

/**
 * Every virtual host of outbound port `listenerPort` for this proxy, with `:port` domains (proxyless clients
 * match ports: httproute.go:561 SidecarIgnorePort is false for them). VirtualService hosts first, then the
 * services without one, as route.go BuildSidecarVirtualHostWrapper orders them.
 */
function outboundVirtualHosts(
  ctx: GenerationContext,
  proxy: ProxyNode,
  listenerPort: number,
  problems: GrpcProblem[],
): JsonObject[] {
  const services = visibleServices(ctx, proxy);
  const registry = new Map<string, ServiceOnPort>();
  for (const svc of services) {
    const port = svc.ports.find((p) => p.port === listenerPort);
    if (port) registry.set(svc.hostname.toLowerCase(), { svc, port });
  }
  const allVirtualServices = meshVirtualServices(ctx);
  // httproute.go:255 selectVirtualServices: off port 80, only VirtualServices naming a service on the port.
  const virtualServices =
    listenerPort === 80
      ? allVirtualServices
      : allVirtualServices.filter((vs) =>
          vs.hosts.some((h) => [...registry.keys()].some((s) => hostsMatch(h, s))),
        );
  // sidecar.go computeWildcardHostVirtualServiceIndex: the VirtualService each service's host belongs to.
  const owners = new Map<string, MeshVirtualService | undefined>();
  const ownerOf = (host: string): MeshVirtualService | undefined => {
    if (!owners.has(host)) owners.set(host, virtualServiceFor(ctx, host));
    return owners.get(host);
  };

  const wrappers: VirtualHostWrapper[] = [];
  for (const vs of virtualServices) {
    const routes = virtualServiceRoutes(ctx, proxy, vs, listenerPort, problems);
    if (routes.length === 0) continue;
    const { nonRegistryHosts, matching } = separateHostsAndServices(vs, registry, ownerOf);
    const httpServices = matching.filter((m) => isHttpOrSniffed(m.port));
    if (httpServices.length > 0 || listenerPort === 80) {
      wrappers.push({ services: httpServices, virtualServiceHosts: nonRegistryHosts, routes });
    }
  }
  for (const w of wrappers) for (const s of w.services) registry.delete(s.svc.hostname.toLowerCase());
  for (const s of registry.values()) {
    if (!isHttpOrSniffed(s.port)) continue;
    wrappers.push({ services: [s], virtualServiceHosts: [], routes: [defaultRoute(ctx, proxy, s)] });
  }

  const knownFqdn = new Set<string>();
  for (const w of wrappers) {
    for (const s of w.services) {
      knownFqdn.add(domainName(s.svc.hostname, listenerPort));
      knownFqdn.add(s.svc.hostname);
    }
  }
  const build = virtualHostBuilder('proxyless', proxy.dnsDomain, knownFqdn);
  const out: JsonObject[] = [];
  for (const w of wrappers) {
    const built = [
      ...w.virtualServiceHosts.map((h) => build(h, listenerPort, w.routes)),
      ...w.services.map((s) => build(s.svc.hostname, listenerPort, w.routes, s.svc)),
    ];
    for (const vh of built) if (vh) out.push(vh);
  }
  return out;
}

/** route.go separateVSHostsAndServices. */
function separateHostsAndServices(
  vs: MeshVirtualService,
  registry: ReadonlyMap<string, ServiceOnPort>,
  ownerOf: (host: string) => MeshVirtualService | undefined,
): { nonRegistryHosts: string[]; matching: ServiceOnPort[] } {
  const nonRegistryHosts: string[] = [];
  const matching: ServiceOnPort[] = [];
  const wildcards: string[] = [];
  for (const h of vs.hosts) {
    if (h.startsWith('*')) {
      wildcards.push(h);
      continue;
    }
    const svc = registry.get(h);
    if (svc) matching.push(svc);
    else nonRegistryHosts.push(h);
  }
  for (const h of wildcards) {
    let found = false;
    for (const [svcHost, svc] of registry) {
      if (!hostsMatch(svcHost, h)) continue;
      found = true;
      if (ownerOf(svcHost) === vs) matching.push(svc);
    }
    if (!found) nonRegistryHosts.push(h);
  }
  return { nonRegistryHosts, matching };
}

/** route.go:328 buildSidecarVirtualHostForService / :1356 BuildDefaultHTTPOutboundRoute. */
function defaultRoute(ctx: GenerationContext, proxy: ProxyNode, s: ServiceOnPort): JsonObject {
  const hash = consistentHashToHashPolicy(hashForService(ctx, proxy, s.svc, s.port.port));
  // The default route's timeout is set without the node (route.go setTimeout(…, nil)): max_grpc_timeout, which
  // gRPC ignores, rather than max_stream_duration; 0s means the caller's deadline either way.
  return {
    name: 'default',
    match: { prefix: '/' },
    route: {
      cluster: clusterName('outbound', s.port.port, '', s.svc.hostname),
      timeout: '0s',
      retry_policy: retryPolicy(undefined, false) ?? {},
      ...(hash ? { hash_policy: [hash] } : {}),
      max_grpc_timeout: '0s',
    },
    decorator: { operation: `${s.svc.hostname}:${s.port.port}/*` },
  };
}

/** route.go:400 BuildHTTPRoutesForVirtualService: one route per match, up to the first catch-all. */
function virtualServiceRoutes(
  ctx: GenerationContext,
  proxy: ProxyNode,
  vs: MeshVirtualService,
  listenerPort: number,
  problems: GrpcProblem[],
): JsonObject[] {
  const out: JsonObject[] = [];
  for (const http of vs.resource.spec.http ?? []) {
    let catchAll = false;
    const matches = http.match ?? [];
    if (matches.length === 0) {
      const r = translateRoute(ctx, proxy, vs, http, undefined, listenerPort, problems);
      if (r) out.push(r);
      catchAll = true;
    } else {
      for (const match of matches) {
        const r = translateRoute(ctx, proxy, vs, http, match, listenerPort, problems);
        if (!r) continue;
        out.push(r);
        if (isCatchAllRoute(r)) {
          catchAll = true;
          break;
        }
      }
    }
    if (catchAll) break;
  }
  return out;
}

function vsName(vs: MeshVirtualService): string {
  return `VirtualService ${vs.resource.metadata.namespace}/${vs.resource.metadata.name}`;
}

/** route.go:467 TranslateRoute, for what gRPC can carry out. */
function translateRoute(
  ctx: GenerationContext,
  proxy: ProxyNode,
  vs: MeshVirtualService,
  http: HTTPRoute,
  match: HTTPMatchRequest | undefined,
  listenerPort: number,
  problems: GrpcProblem[],
): JsonObject | undefined {
  if (match?.port !== undefined && match.port !== 0 && match.port !== listenerPort) return undefined;
  if (!sourceMatches(match, proxy)) return undefined;
  const what = `${vsName(vs)} route ${JSON.stringify(http.name ?? '')}`;
  // Istio emits redirect and direct_response actions; gRPC refuses the whole route table for them
  // ("unsupported action"), so such a route is left out.
  const refused = http.redirect
    ? 'redirect'
    : http.directResponse
      ? 'directResponse'
      : http.delegate
        ? 'delegate'
        : '';
  if (refused !== '') {
    problems.push({
      severity: 'warning',
      code: 'SKIFF_GRPC_ROUTE_ACTION',
      message: `${what}: ${refused} is not carried out by proxyless gRPC; route skipped`,
    });
    return undefined;
  }
  for (const [field, istio] of [
    ['fault', 'fault filter config'],
    ['rewrite', 'prefix/regex/host rewrites'],
    ['headers', 'header operations'],
    ['corsPolicy', 'the CORS filter config'],
    ['mirror', 'request mirror policies'],
    ['mirrors', 'request mirror policies'],
  ] as const) {
    if (http[field] !== undefined) {
      // Istio also sets these; omitted: gRPC ignores them (fault: not generated, see the HCM filters).
      problems.push({
        severity: 'warning',
        code: 'SKIFF_GRPC_ROUTE_IGNORED',
        message: `${what}: ${field} ignored for proxyless gRPC (Istio would set ${istio}, which gRPC does not apply)`,
      });
    }
  }
  const route: JsonObject = {};
  const name = match?.name ? `${http.name ?? ''}.${match.name}` : (http.name ?? '');
  if (name !== '') route.name = name;
  route.match = translateRouteMatch(match);
  // util.go BuildConfigInfoMetadata: where the route came from.
  route.metadata = {
    filter_metadata: {
      istio: {
        config: `/apis/networking.istio.io/v1/namespaces/${vs.resource.metadata.namespace}/virtual-service/${vs.resource.metadata.name}`,
      },
    },
  };
  const action = routeAction(ctx, proxy, vs, http, listenerPort);
  if (!action) {
    problems.push({
      severity: 'warning',
      code: 'SKIFF_GRPC_ROUTE_NO_DESTINATION',
      message: `${what}: no destination with a weight above 0; route skipped (gRPC refuses a route whose weights sum to 0)`,
    });
    return undefined;
  }
  route.route = action;
  route.decorator = { operation: routeOperation(route, vs.resource.metadata.name, listenerPort) };
  return route;
}

/** route.go:447 sourceMatchHTTP: gateways (`mesh`), else source labels and namespace. */
function sourceMatches(match: HTTPMatchRequest | undefined, proxy: ProxyNode): boolean {
  if (!match) return true;
  if ((match.gateways ?? []).length > 0) return (match.gateways ?? []).includes('mesh');
  for (const [k, v] of Object.entries(match.sourceLabels ?? {})) if (proxy.labels[k] !== v) return false;
  return (
    match.sourceNamespace === undefined ||
    match.sourceNamespace === '' ||
    match.sourceNamespace === proxy.namespace
  );
}

/** route.go:1058 TranslateRouteMatch. */
function translateRouteMatch(match: HTTPMatchRequest | undefined): JsonObject {
  if (!match) return { prefix: '/' };
  const headers: JsonObject[] = [];
  for (const [name, m] of Object.entries(match.headers ?? {})) headers.push(headerMatcher(name, m));
  for (const [name, m] of Object.entries(match.withoutHeaders ?? {})) {
    const h = headerMatcher(name, m);
    h.invert_match = true;
    if (!presentMatch(m)) h.treat_missing_header_as_empty = true;
    headers.push(h);
  }
  headers.sort((a, b) => (String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0));
  if (match.method) headers.push(headerMatcher(':method', match.method));
  if (match.authority) headers.push(headerMatcher(':authority', match.authority));
  if (match.scheme) headers.push(headerMatcher(':scheme', match.scheme));
  const out: JsonObject = {};
  const uri = match.uri;
  if (uri?.exact !== undefined) out.path = uri.exact;
  else if (uri?.prefix !== undefined) out.prefix = uri.prefix;
  else if (uri?.regex !== undefined) out.safe_regex = { regex: uri.regex };
  else out.prefix = '/';
  out.case_sensitive = match.ignoreUriCase !== true;
  if (headers.length > 0) out.headers = headers;
  const query = Object.entries(match.queryParams ?? {}).map(([name, m]): JsonObject => {
    if (presentMatch(m)) return { name, present_match: true };
    const sm = stringMatcher(m);
    return sm ? { name, string_match: sm } : { name };
  });
  if (query.length > 0) out.query_parameters = query;
  return out;
}

/** canBeConvertedToPresentMatch: no match type, or the regex `*`. */
function presentMatch(m: StringMatch | undefined): boolean {
  return !m || (m.exact === undefined && m.prefix === undefined && m.regex === undefined) || m.regex === '*';
}

function headerMatcher(name: string, m: StringMatch | undefined): JsonObject {
  if (presentMatch(m)) return { name, present_match: true };
  const sm = m ? stringMatcher(m) : undefined;
  return sm ? { name, string_match: sm } : { name };
}

/** util.go:608 ConvertToEnvoyMatch. */
function stringMatcher(m: StringMatch): JsonObject | undefined {
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined) return { prefix: m.prefix };
  if (m.regex !== undefined) return { safe_regex: { regex: m.regex } };
  return undefined;
}

/** route.go:1630 IsCatchAllRoute. */
function isCatchAllRoute(r: JsonObject): boolean {
  const m = (r.match ?? {}) as JsonObject;
  const regex = (m.safe_regex as JsonObject | undefined)?.regex;
  const catchAll = m.prefix === '/' || m.path_separated_prefix === '/' || regex === '.*';
  return catchAll && m.headers === undefined && m.query_parameters === undefined;
}

/** route.go:604 applyHTTPRouteDestination; undefined when no destination can be routed to. */
function routeAction(
  ctx: GenerationContext,
  proxy: ProxyNode,
  vs: MeshVirtualService,
  http: HTTPRoute,
  listenerPort: number,
): JsonObject | undefined {
  // route.go:1331 setTimeout for a proxyless node: the VirtualService timeout (0s: none) as max_stream_duration,
  // which is what gRPC reads.
  const timeout = http.timeout !== undefined ? (protoDuration(http.timeout) ?? '0s') : '0s';
  const action: JsonObject = { timeout };
  const destinations = http.route ?? [];
  const hashes: JsonObject[] = [];
  let consistentHash = false;
  const first = destinations[0];
  if (destinations.length === 1 && first) {
    action.cluster = destinationCluster(ctx, vs, first.destination, listenerPort);
    const hash = consistentHashToHashPolicy(hashForDestination(ctx, proxy, vs, first.destination));
    if (hash) hashes.push(hash);
    consistentHash = hash !== undefined;
  } else {
    const clusters: JsonObject[] = [];
    for (const d of destinations) {
      if (!d.weight) continue; // weight 0 (or unset) destinations are dropped, as Istio does
      clusters.push({ name: destinationCluster(ctx, vs, d.destination, listenerPort), weight: d.weight });
      const hash = consistentHashToHashPolicy(hashForDestination(ctx, proxy, vs, d.destination));
      if (hash) hashes.push(hash);
    }
    if (clusters.length === 0) return undefined;
    action.weighted_clusters = { clusters };
  }
  const retry = retryPolicy(http.retries, consistentHash);
  if (retry) action.retry_policy = retry;
  if (hashes.length > 0) action.hash_policy = hashes;
  action.max_stream_duration = { max_stream_duration: timeout };
  return action;
}

/** route.go GetDestinationCluster: the destination port, else the listener port. */
function destinationCluster(
  ctx: GenerationContext,
  vs: MeshVirtualService,
  destination: Destination,
  listenerPort: number,
): string {
  const host = ctx.resolveHost(destination.host, vs.resource.metadata.namespace);
  const port = destination.port?.number ?? listenerPort;
  return clusterName('outbound', port, destination.subset ?? '', host);
}

/** route.go:1267 GetRouteOperation. */
function routeOperation(route: JsonObject, vsName: string, port: number): string {
  const m = (route.match ?? {}) as JsonObject;
  let path = '/*';
  if (typeof m.prefix === 'string') path = `${m.prefix}*`;
  else if (typeof m.path === 'string') path = m.path;
  else if (m.safe_regex) path = String((m.safe_regex as JsonObject).regex);
  const cluster = (route.route as JsonObject | undefined)?.cluster;
  const parsed = typeof cluster === 'string' ? parseClusterName(cluster) : undefined;
  if (parsed && parsed.host !== '') return `${parsed.host}:${parsed.port}${path}`;
  return `${vsName}:${port}${path}`;
}

type ConsistentHash = NonNullable<NonNullable<TrafficPolicy['loadBalancer']>['consistentHash']>;
type Retries = NonNullable<HTTPRoute['retries']>;

/** route.go hashForService: the DR's consistent hash, a port-level one first. */
function hashForService(
  ctx: GenerationContext,
  proxy: ProxyNode,
  svc: ServiceModel,
  port: number,
): ConsistentHash | undefined {
  const policy = ctx.destinationRule(svc, proxy.namespace)?.spec.trafficPolicy;
  const portLevel = policy?.portLevelSettings?.find((p) => p?.port?.number === port);
  return portLevel?.loadBalancer?.consistentHash ?? policy?.loadBalancer?.consistentHash ?? undefined;
}

/** route.go HashForHTTPDestination: subset port-level, subset, port-level, then top-level consistent hash. */
function hashForDestination(
  ctx: GenerationContext,
  proxy: ProxyNode,
  vs: MeshVirtualService,
  destination: Destination,
): ConsistentHash | undefined {
  const svc = ctx.service(ctx.resolveHost(destination.host, vs.resource.metadata.namespace), proxy.namespace);
  if (!svc) return undefined;
  const dr: DestinationRuleSpec | undefined = ctx.destinationRule(svc, proxy.namespace)?.spec;
  if (!dr) return undefined;
  const port = destination.port?.number;
  const portHash = (p: TrafficPolicy | undefined) =>
    port === undefined
      ? undefined
      : (p?.portLevelSettings?.find((s) => s?.port?.number === port)?.loadBalancer?.consistentHash ??
        undefined);
  const subset = dr.subsets?.find((s) => s.name === (destination.subset ?? ''));
  return (
    portHash(subset?.trafficPolicy) ??
    subset?.trafficPolicy?.loadBalancer?.consistentHash ??
    portHash(dr.trafficPolicy) ??
    dr.trafficPolicy?.loadBalancer?.consistentHash ??
    undefined
  );
}

/** route.go:1463 ConsistentHashToHashPolicy (gRPC hashes on headers only; it ignores the other kinds). */
function consistentHashToHashPolicy(hash: ConsistentHash | undefined): JsonObject | undefined {
  if (!hash) return undefined;
  if (hash.httpHeaderName !== undefined) return { header: { header_name: hash.httpHeaderName } };
  if (hash.httpCookie) {
    const c = hash.httpCookie;
    return {
      cookie: {
        name: c.name,
        ...(c.ttl !== undefined ? { ttl: protoDuration(c.ttl) ?? '0s' } : {}),
        ...(c.path ? { path: c.path } : {}),
        ...(c.attributes && c.attributes.length > 0
          ? {
              attributes: c.attributes.map((a) => ({ name: a.name, ...(a.value ? { value: a.value } : {}) })),
            }
          : {}),
      },
    };
  }
  if (hash.useSourceIp !== undefined) return { connection_properties: { source_ip: hash.useSourceIp } };
  if (hash.httpQueryParameterName !== undefined)
    return { query_parameter: { name: hash.httpQueryParameterName } };
  return undefined;
}

const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

/** Go's http.StatusText table: the integers retryOn reads as status codes (retry.go parseRetryOn). */
const HTTP_STATUS_CODES = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307,
  308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421,
  422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

/** retry.go:107 ConvertPolicy (meshConfig.defaultHttpRetryPolicy is not modelled: Istio's default applies). */
function retryPolicy(retries: Retries | undefined, consistentHash: boolean): JsonObject | undefined {
  const previousHosts: JsonObject = {
    name: 'envoy.retry_host_predicates.previous_hosts',
    typed_config: { '@type': TYPE.previousHosts },
  };
  const out: JsonObject = {
    retry_on: DEFAULT_RETRY_ON,
    num_retries: 2,
    ...(consistentHash ? {} : { retry_host_predicate: [previousHosts] }),
    host_selection_retry_max_attempts: 5,
  };
  if (!retries) return out;
  if (!retries.attempts || retries.attempts <= 0) return undefined; // explicitly no retries
  out.num_retries = retries.attempts;
  if (retries.retryOn) {
    const codes: number[] = [];
    const tokens: string[] = [];
    for (const raw of retries.retryOn.split(',')) {
      const part = raw.trim();
      if (part === '') continue;
      const n = /^[+-]?[0-9]+$/.test(part) ? Number(part) : Number.NaN;
      if (HTTP_STATUS_CODES.has(n)) codes.push(n);
      else tokens.push(part);
    }
    let retryOn = tokens.join(',');
    if (codes.length > 0 && !retryOn.includes('retriable-status-codes')) retryOn += ',retriable-status-codes';
    out.retry_on = retryOn;
    if (codes.length > 0) out.retriable_status_codes = codes;
  }
  if (retries.perTryTimeout !== undefined) out.per_try_timeout = protoDuration(retries.perTryTimeout) ?? '0s';
  if (retries.retryIgnorePreviousHosts !== undefined) {
    if (retries.retryIgnorePreviousHosts) out.retry_host_predicate = [previousHosts];
    else delete out.retry_host_predicate;
  }
  if (retries.retryRemoteLocalities === true) {
    out.retry_priority = {
      name: 'envoy.retry_priorities.previous_priorities',
      typed_config: { '@type': TYPE.previousPriorities, update_frequency: 2 },
    };
  }
  if (retries.backoff !== undefined)
    out.retry_back_off = { base_interval: protoDuration(retries.backoff) ?? '0s' };
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// CDS — cds.go BuildClusters

function grpcClusters(
  ctx: GenerationContext,
  proxy: ProxyNode,
  names: readonly string[],
  problems: GrpcProblem[],
): JsonObject[] {
  // cds.go newClusterFilter: the names asked for, grouped by their service's default cluster.
  const groups = new Map<string, { host: string; port: number; requested: Set<string> }>();
  for (const name of names) {
    const parsed = parseClusterName(name);
    if (parsed?.direction !== 'outbound' || parsed.host === '') {
      problems.push({
        severity: 'warning',
        code: 'SKIFF_GRPC_CLUSTER_NAME',
        message: `cluster ${JSON.stringify(name)}: expected outbound|PORT|SUBSET|HOST; skipped`,
      });
      continue;
    }
    const key = clusterName('outbound', parsed.port, '', parsed.host);
    const group = groups.get(key) ?? { host: parsed.host, port: parsed.port, requested: new Set<string>() };
    group.requested.add(name);
    groups.set(key, group);
  }
  const out: JsonObject[] = [];
  for (const key of [...groups.keys()].sort()) {
    const group = groups.get(key);
    if (!group) continue;
    const svc = ctx.service(group.host, proxy.namespace);
    const port = svc?.ports.find((p) => p.port === group.port);
    if (!svc || !port) {
      problems.push({
        severity: 'warning',
        code: 'SKIFF_GRPC_UNKNOWN_CLUSTER',
        message: `cluster ${[...group.requested].join(', ')}: ${svc ? `service ${group.host} has no port ${group.port}` : `no service ${group.host}`}; skipped`,
      });
      continue;
    }
    const requested = [...group.requested].sort();
    const built = ctx.memo(svc, `grpc-cds ${proxy.namespace} ${group.port} ${requested.join(' ')}`, () =>
      serviceClusters(ctx, proxy.namespace, svc, port, new Set(requested)),
    );
    out.push(...built.clusters);
    problems.push(...built.problems);
  }
  return out;
}

/** cds.go clusterBuilder.build: the default cluster and the DestinationRule's subsets, those requested. */
function serviceClusters(
  ctx: GenerationContext,
  proxyNamespace: string,
  svc: ServiceModel,
  port: ServicePortModel,
  requested: ReadonlySet<string>,
): { clusters: JsonObject[]; problems: GrpcProblem[] } {
  const problems: GrpcProblem[] = [];
  const clusters: JsonObject[] = [];
  const dr = ctx.destinationRule(svc, proxyNamespace);
  const defaultName = clusterName('outbound', port.port, '', svc.hostname);
  // Istio also sets common_lb_config.override_host_status for persistent-session services; omitted: the
  // persistent-session feature is off by default and not modelled.
  if (requested.has(defaultName)) {
    const c = edsCluster(defaultName);
    // The policy functions read the loose policy shape; the result is made of the rule's own fields.
    const policy = portLevelTrafficPolicy(dr?.spec.trafficPolicy, port.port).policy as
      | TrafficPolicy
      | undefined;
    applyTrafficPolicy(c, policy, svc, problems);
    clusters.push(c);
  }
  if (svc.resolution === 'DNS' || svc.resolution === 'DNS_ROUND_ROBIN') {
    // Istio's gRPC CDS is EDS-only, and EDS carries no endpoints for a DNS-resolved service (findShards).
    problems.push({
      severity: 'warning',
      code: 'SKIFF_GRPC_DNS_SERVICE',
      message: `cluster ${defaultName}: ${svc.hostname} is resolved by DNS; proxyless gRPC gets its clusters over EDS, which has no endpoints for it, so its calls fail`,
    });
  }
  const known = new Set([defaultName]);
  for (const subset of dr?.spec.subsets ?? []) {
    const name = clusterName('outbound', port.port, subset.name, svc.hostname);
    known.add(name);
    if (!requested.has(name)) continue;
    const c = edsCluster(name);
    const policy = mergeSubsetTrafficPolicy(dr?.spec.trafficPolicy, subset.trafficPolicy, port.port) as
      | TrafficPolicy
      | undefined;
    applyTrafficPolicy(c, policy, svc, problems);
    clusters.push(c);
  }
  for (const name of requested) {
    if (!known.has(name)) {
      problems.push({
        severity: 'warning',
        code: 'SKIFF_GRPC_UNKNOWN_SUBSET',
        message: `cluster ${JSON.stringify(name)}: no DestinationRule for ${svc.hostname} defines this subset; skipped`,
      });
    }
  }
  return { clusters, problems };
}

/** cds.go:153 edsCluster: no connect_timeout, circuit breakers, metadata or lb_policy (ROUND_ROBIN). */
function edsCluster(name: string): JsonObject {
  return {
    name,
    alt_stat_name: `${name};`,
    type: 'EDS',
    eds_cluster_config: { service_name: name, eds_config: { ads: {} } },
  };
}

/** cds.go applyTrafficPolicy: TLS, load balancing and max_requests only. */
function applyTrafficPolicy(
  c: JsonObject,
  policy: TrafficPolicy | undefined,
  svc: ServiceModel,
  problems: GrpcProblem[],
): void {
  if (!policy) return;
  const where = `cluster ${String(c.name)}`;
  // cds.go:264 applyTLS: mTLS only when the DestinationRule asks for ISTIO_MUTUAL (no auto mTLS for gRPC).
  const mode = policy.tls ? (policy.tls.mode ?? 'DISABLE') : 'DISABLE';
  if (mode === 'ISTIO_MUTUAL') {
    c.transport_socket = {
      name: TLS_TRANSPORT_SOCKET,
      typed_config: { '@type': TYPE.upstreamTls, common_tls_context: commonTlsContext(svc.serviceAccounts) },
    };
  } else if (mode === 'SIMPLE' || mode === 'MUTUAL') {
    problems.push({
      severity: 'warning',
      code: 'SKIFF_GRPC_TLS_MODE',
      message: `${where}: tls mode ${mode} is not applied to proxyless gRPC (Istio does not either); plaintext`,
    });
  }
  const lb = policy.loadBalancer;
  if (lb?.consistentHash) {
    const hash = lb.consistentHash;
    if (hash.maglev) {
      // Istio sets MAGLEV; grpc-js refuses the cluster for it ("unsupported lb_policy"): round robin instead.
      problems.push({
        severity: 'warning',
        code: 'SKIFF_GRPC_LB',
        message: `${where}: consistentHash.maglev is not supported by gRPC; round robin`,
      });
    } else {
      // cluster_traffic_policy.go:605 ApplyRingHashLoadBalancer.
      c.lb_policy = 'RING_HASH';
      const size = hash.ringHash ? (hash.ringHash.minimumRingSize ?? 0) : hash.minimumRingSize || 1024;
      if (size > GRPC_MAX_RING_SIZE) {
        problems.push({
          severity: 'warning',
          code: 'SKIFF_GRPC_LB',
          message: `${where}: minimumRingSize ${size} is above gRPC's limit ${GRPC_MAX_RING_SIZE}; gRPC's default (1024) is used`,
        });
      } else if (size > 0) {
        c.ring_hash_lb_config = { minimum_ring_size: size };
      }
    }
  } else if (lb?.simple !== undefined && lb.simple !== 'ROUND_ROBIN' && lb.simple !== 'UNSPECIFIED') {
    // Istio sets LEAST_REQUEST (and warns on the others); grpc-js refuses a cluster with lb_policy
    // LEAST_REQUEST, so gRPC keeps its default, round robin.
    problems.push({
      severity: 'warning',
      code: 'SKIFF_GRPC_LB',
      message: `${where}: loadBalancer.simple ${lb.simple} is not applied to proxyless gRPC; round robin`,
    });
  }
  // Per gRFC A32 gRPC reads max_requests only (cds.go applyCircuitBreakers).
  const maxRequests = policy.connectionPool?.http?.http2MaxRequests;
  if (maxRequests !== undefined && maxRequests > 0) {
    c.circuit_breakers = { thresholds: [{ max_requests: maxRequests }] };
  }
}
