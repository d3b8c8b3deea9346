// Proxyless gRPC clients and servers (node metadata `GENERATOR: grpc`): the Listener, RouteConfiguration and
// Cluster resources gRPC's own xDS client understands, built for exactly the names it subscribes to (gRPC
// always subscribes by name, for LDS and CDS too). EDS is the sidecar's generator, as in Istio.
// RDS takes its virtual hosts and routes from the sidecar's builders in routes.ts (as grpcgen's rds.go calls
// BuildSidecarOutboundVirtualHosts), with the proxyless differences there.
// Istio: pilot/pkg/networking/grpcgen (grpcgen.go Generate, lds.go, rds.go, cds.go); the gRPC bootstrap the
// agent writes: pkg/istio-agent/grpcxds/grpc_bootstrap.go (server listener name template, certificate
// provider instance `default`).
//
// What gRPC refuses (a NACK) is checked against @grpc/grpc-js-xds's own validators in the tests; where Istio's
// output would be refused by grpc-js, the deviation is written next to the code (LEAST_REQUEST, MAGLEV here;
// redirect / direct-response routes and empty weighted clusters in routes.ts).

import type { TrafficPolicy } from '../../config/kinds/destination-rule.js';
import { hostsMatch } from '../../config/kinds/virtual-service-match.js';
import type { ServiceModel, ServicePortModel, WorkloadModel } from '../../model/types.js';
import { mergeSubsetTrafficPolicy, portLevelTrafficPolicy } from '../../policy/upstream-tls.js';
import type { JsonObject } from '../decode.js';
import type { GenerationContext, ServiceTarget } from './context.js';
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
  defaultRoute,
  httpRoutesForVirtualService,
  ipv6Compliant,
  isHttpOrSniffed,
  type MeshVirtualService,
  meshVirtualServices,
  type RouteTarget,
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
  node: ProxyNode,
  typeUrl: string,
  names: readonly string[],
): GrpcResult {
  const proxy = ctx.resolveProxy(node);
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
  const workload = ctx.workloadAt(proxy.ips, proxy.namespace, proxy.workloadName);
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
  const target: RouteTarget = { client: 'proxyless', problem: (p) => problems.push(p) };
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
    const routes = httpRoutesForVirtualService(ctx, proxy, vs, listenerPort, target);
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
    const routes = [defaultRoute(ctx, proxy, s.svc, s.port, target)];
    wrappers.push({ services: [s], virtualServiceHosts: [], routes });
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
    const svc = ctx.service(group.host);
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
    if ((policy.tls?.subjectAltNames ?? []).length > 0 || policy.tls?.sni) {
      // cds.go uses the service's accounts only: the rule's own SANs and SNI are ignored for proxyless clients.
      problems.push({
        severity: 'warning',
        code: 'SKIFF_GRPC_TLS_SANS',
        message: `${where}: tls subjectAltNames and sni are not applied to proxyless gRPC (Istio does not either); the server must present one of the service's accounts (${svc.serviceAccounts.join(', ') || 'none'})`,
      });
    }
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
