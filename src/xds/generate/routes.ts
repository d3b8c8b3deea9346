// RDS for sidecars: the RouteConfiguration each outbound HTTP connection manager names, as istiod builds it from
// services and VirtualServices. Pure: model + proxy → resources, and problems for what cannot be generated.
//
// Local mode (docs: /work/shared/local-mode.md, "Outbound") gives every service port its own listener on
// 127.0.0.1, so every HTTP or sniffed port gets Istio's *sniffed-VIP* route shape: RDS name `host:port`, one
// virtual host whose domains are `["*"]` (getVirtualHostsForSniffedServicePort), no catch-all. Istio names the
// route of an HTTP port `"PORT"` and matches vhosts by Host; locally an app that dials 127.0.0.1:15123 sends that
// as Host, so routing by Host would fail — the listener already says which service it is.
// Plus `http_proxy`, the route of the HTTP proxy listener: every HTTP service by Host, Istio's catch-all last.
//
// The builders are also proxyless gRPC's (grpc.ts), as in Istio, where grpcgen calls the sidecar's: virtual
// hosts (virtualHostBuilder, virtualHostDomains), VirtualService routes (httpRoutesForVirtualService) and the
// default route. Where Istio treats a proxyless node differently, or the Skiff proxy lacks what Istio writes for
// a sidecar, they take a RouteClient and say why at the spot.
//
// Istio: pilot/pkg/networking/core/httproute.go (buildSidecarOutboundHTTPRouteConfig,
// BuildSidecarOutboundVirtualHosts, getVirtualHostsForSniffedServicePort, generateVirtualHostDomains,
// GenerateAltVirtualHosts, mergeAllVirtualHosts, buildCatchAllVirtualHost), pilot/pkg/networking/core/route/route.go
// (BuildSidecarVirtualHostWrapper, BuildHTTPRoutesForVirtualService, TranslateRoute, TranslateRouteMatch,
// GetDestinationCluster, BuildDefaultHTTPOutboundRoute, HashForHTTPDestination, ConsistentHashToHashPolicy),
// pilot/pkg/networking/core/route/retry/retry.go (ConvertPolicy).

import type { DestinationRuleSpec, TrafficPolicy } from '../../config/kinds/destination-rule.js';
import { isIpAddress, isIpv4 } from '../../config/kinds/istio-common.js';
import { isHttpProtocol } from '../../config/kinds/protocol.js';
import type { VirtualServiceSpec } from '../../config/kinds/virtual-service.js';
import type { HTTPMatchRequest, HTTPRoute } from '../../config/kinds/virtual-service-http.js';
import { type Destination, hostsMatch, type StringMatch } from '../../config/kinds/virtual-service-match.js';
import type { Resource } from '../../config/resource.js';
import type { ServiceModel, ServicePortModel } from '../../model/types.js';
import type { JsonObject } from '../decode.js';
import type { GenerationContext } from './context.js';
import { protoDuration } from './duration.js';
import {
  BLACKHOLE_CLUSTER,
  clusterName,
  domainName,
  HTTP_PROXY_ROUTE,
  PASSTHROUGH_CLUSTER,
  TYPE,
} from './names.js';
import type { ProxyNode } from './proxy.js';
import type { GenerationProblem } from './types.js';

/**
 * Where the http_proxy route's catch-all (`allow_any`, mesh outboundTrafficPolicy ALLOW_ANY) sends requests for
 * hosts outside the registry. Istio: PassthroughCluster (ORIGINAL_DST). Local mode may have no such cluster (the
 * clusters generator decides); with `validate_clusters: false` a missing cluster answers 503 NC.
 */
export const ALLOW_ANY_CLUSTER: string = PASSTHROUGH_CLUSTER;
/**
 * Where the catch-all of REGISTRY_ONLY (`block_all`) sends requests. Istio answers `direct_response: {status:
 * 502}`; the Skiff proxy has no direct_response, so the route names BlackHoleCluster (no endpoints: 503 UH, or
 * 503 NC when the cluster is not generated) — refused either way, with 503 instead of 502.
 */
export const BLOCK_ALL_CLUSTER: string = BLACKHOLE_CLUSTER;

/** Istio's default outbound retry policy (retry.go DefaultPolicy). */
export const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';
/** route.go DefaultRouteName. */
export const DEFAULT_ROUTE_NAME = 'default';
/** util.Passthrough / util.BlackHole: the catch-all virtual host and route names. */
export const ALLOW_ANY = 'allow_any';
export const BLOCK_ALL = 'block_all';

const RDS_TYPE = 'envoy.filters.network.http_connection_manager';

// ---------------------------------------------------------------------------------------------------------------
// Shared with outbound.ts: VirtualServices as Istio's PushContext holds them.

/** A VirtualService with its hosts resolved to FQDNs in its namespace (initVirtualServices resolves short names). */
export interface MeshVirtualService {
  resource: Resource<VirtualServiceSpec>;
  hosts: string[];
}

/**
 * The VirtualServices sidecars use: bound to `mesh` (no gateways, or `mesh` among them), with hosts (a VirtualService
 * without hosts is a delegate), in Istio's order: creation time, then name, then namespace
 * (pilot/pkg/model/config.go sortConfigByCreationTime). exportTo is not enforced by Skiff: all are visible.
 */
export function meshVirtualServices(ctx: GenerationContext): MeshVirtualService[] {
  const cached = MESH_VS.get(ctx);
  if (cached) return cached;
  const list = ctx.model.virtualServices
    .filter((vs) => {
      const gateways = vs.spec.gateways ?? [];
      return (gateways.length === 0 || gateways.includes('mesh')) && (vs.spec.hosts?.length ?? 0) > 0;
    })
    .slice()
    .sort(compareByCreation)
    .map((resource) => ({
      resource,
      hosts: (resource.spec.hosts ?? []).map((h) =>
        ctx.resolveHost(h.toLowerCase(), resource.metadata.namespace),
      ),
    }));
  MESH_VS.set(ctx, list);
  return list;
}

/** Per context (one model): the sorted, resolved VirtualServices. */
const MESH_VS = new WeakMap<GenerationContext, MeshVirtualService[]>();

function compareByCreation(a: Resource<unknown>, b: Resource<unknown>): number {
  const ta = a.metadata.creationTimestamp ? Date.parse(a.metadata.creationTimestamp) : 0;
  const tb = b.metadata.creationTimestamp ? Date.parse(b.metadata.creationTimestamp) : 0;
  if (ta !== tb) return ta - tb;
  if (a.metadata.name !== b.metadata.name) return a.metadata.name < b.metadata.name ? -1 : 1;
  if (a.metadata.namespace === b.metadata.namespace) return 0;
  return a.metadata.namespace < b.metadata.namespace ? -1 : 1;
}

/** `/apis/networking.istio.io/v1/namespaces/NS/virtual-service/NAME` (util.go BuildConfigInfoMetadata). */
export function configPath(vs: Resource<unknown>): string {
  return `/apis/networking.istio.io/v1/namespaces/${vs.metadata.namespace}/virtual-service/${vs.metadata.name}`;
}

export function configMetadata(vs: Resource<unknown>): JsonObject {
  return { filter_metadata: { istio: { config: configPath(vs) } } };
}

/** `VirtualService ns/name` for messages. */
export function vsLabel(vs: Resource<unknown>): string {
  return `VirtualService ${vs.metadata.namespace}/${vs.metadata.name}`;
}

/** Adds a problem once (generation runs per route name and per proxy; one message per cause is enough). */
export function report(problems: GenerationProblem[] | undefined, p: GenerationProblem): void {
  if (problems && !problems.some((q) => q.code === p.code && q.message === p.message)) problems.push(p);
}

/** Istio's IsHTTPOrSniffed: the ports that get HTTP routes. */
export function isHttpOrSniffed(port: ServicePortModel): boolean {
  return port.protocol === undefined || isHttpProtocol(port.protocol);
}

/**
 * route.go GetDestinationCluster: `outbound|PORT|SUBSET|HOST`, PORT = destination.port, else the only port of
 * the destination service as `lookup` sees it, else the listener port. `lookup` is Istio's view: for a sidecar
 * route on port P only the services with port P, reduced to that port; for tcp_proxy the whole service.
 */
export function destinationCluster(
  dest: Destination,
  host: string,
  listenerPort: number,
  lookup: (host: string) => { ports: readonly { port: number }[] } | undefined,
): string {
  if (host === '') return 'UnknownService';
  let port = listenerPort;
  const service = lookup(host);
  if (dest.port?.number !== undefined && dest.port.number !== 0) port = dest.port.number;
  else if (service && service.ports.length === 1) port = service.ports[0]?.port ?? listenerPort;
  return clusterName('outbound', port, dest.subset ?? '', host);
}

// ---------------------------------------------------------------------------------------------------------------
// Route names.

/** The RDS names the listeners' HTTP connection managers ask for, unique and sorted. */
export function routeNames(listeners: readonly JsonObject[]): string[] {
  const names = new Set<string>();
  for (const l of listeners) {
    const chains = [
      ...asList(l.filter_chains),
      ...(isObject(l.default_filter_chain) ? [l.default_filter_chain] : []),
    ];
    for (const chain of chains) {
      if (!isObject(chain)) continue;
      for (const f of asList(chain.filters)) {
        if (!isObject(f) || f.name !== RDS_TYPE || !isObject(f.typed_config)) continue;
        const rds = f.typed_config.rds;
        if (isObject(rds) && typeof rds.route_config_name === 'string') names.add(rds.route_config_name);
      }
    }
  }
  return [...names].sort();
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------------------------
// RouteConfigurations.

/**
 * The RouteConfiguration of each requested name, in the order asked (a name asked twice is answered once):
 * `host:port` (a service port's own route), `http_proxy`, and for any other name an empty configuration
 * (httproute.go BuildHTTPRoutes answers unknown names so that the proxy does not wait for them).
 */
export function buildRoutes(
  ctx: GenerationContext,
  proxy: ProxyNode,
  names: readonly string[],
  problems?: GenerationProblem[],
): JsonObject[] {
  const out: JsonObject[] = [];
  for (const name of new Set(names)) {
    if (name === HTTP_PROXY_ROUTE) {
      out.push(httpProxyRoute(ctx, proxy, problems));
      continue;
    }
    const parsed = parseRouteName(name);
    if (!parsed) {
      // extractListenerPort fails: Istio answers an empty table.
      out.push({ name, virtual_hosts: [], validate_clusters: false });
      continue;
    }
    out.push(sniffedRoute(ctx, proxy, name, parsed.host, parsed.port, problems));
  }
  return out;
}

function parseRouteName(name: string): { host: string; port: number } | undefined {
  const colon = name.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const port = Number(name.slice(colon + 1));
  if (!/^\d{1,5}$/.test(name.slice(colon + 1)) || port < 1 || port > 65535) return undefined;
  let host = name.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port };
}

/** Fields every sidecar outbound RouteConfiguration has (buildSidecarOutboundHTTPRouteConfig). */
function routeConfiguration(name: string, virtualHosts: JsonObject[], ignorePort: boolean): JsonObject {
  return {
    name,
    virtual_hosts: virtualHosts,
    validate_clusters: false,
    // Istio also sets max_direct_response_body_size_bytes: 1048576; omitted: not implemented by the Skiff proxy.
    ignore_port_in_host_matching: ignorePort,
  };
}

/**
 * `host:port`: the one virtual host of that service port, domains `["*"]`, no catch-all
 * (getVirtualHostsForSniffedServicePort). An unknown host or a port that is not HTTP gives no virtual host.
 */
function sniffedRoute(
  ctx: GenerationContext,
  proxy: ProxyNode,
  name: string,
  host: string,
  port: number,
  problems: GenerationProblem[] | undefined,
): JsonObject {
  const service = ctx.service(host);
  const servicePort = service?.ports.find((p) => p.port === port);
  if (!service || !servicePort || !isHttpOrSniffed(servicePort)) return routeConfiguration(name, [], true);
  const routes = serviceRoutes(ctx, proxy, service, servicePort, port, problems);
  return routeConfiguration(
    name,
    [
      {
        name: domainName(service.hostname, port),
        domains: ['*'],
        routes,
        include_request_attempt_count: true,
      },
    ],
    true,
  );
}

/**
 * The routes of one service port: the routes of the VirtualService that owns its host (if it yields any for this
 * port and proxy), else Istio's default route.
 */
function serviceRoutes(
  ctx: GenerationContext,
  proxy: ProxyNode,
  service: ServiceModel,
  servicePort: ServicePortModel,
  listenerPort: number,
  problems: GenerationProblem[] | undefined,
): JsonObject[] {
  const target = sidecarTarget(problems);
  const vs = virtualServiceFor(ctx, service.hostname);
  if (vs) {
    const routes = httpRoutesForVirtualService(ctx, proxy, vs, listenerPort, target);
    if (routes.length > 0) return routes;
  }
  return [defaultRoute(ctx, proxy, service, servicePort, target)];
}

/**
 * The VirtualService whose routes a service's virtual host takes: the oldest with the exact host, else the one
 * with the most specific wildcard host matching it (ties: the oldest) — BuildSidecarVirtualHostWrapper with
 * separateVSHostsAndServices and the SidecarScope's mostSpecificWildcardVsIndex.
 */
export function virtualServiceFor(ctx: GenerationContext, hostname: string): MeshVirtualService | undefined {
  const all = meshVirtualServices(ctx);
  const exact = all.find((vs) => vs.hosts.includes(hostname));
  if (exact) return exact;
  let best: { vs: MeshVirtualService; length: number } | undefined;
  for (const vs of all) {
    for (const h of vs.hosts) {
      if (!h.startsWith('*') || !hostsMatch(h, hostname)) continue;
      if (!best || h.length > best.length) best = { vs, length: h.length };
    }
  }
  return best?.vs;
}

/** How a route table is built: for whom, and where its problems go. */
export interface RouteTarget {
  client: RouteClient;
  /** Sidecar tables report each problem once (`report`); proxyless generation lists each as it comes. */
  problem(p: GenerationProblem): void;
}

function sidecarTarget(problems: GenerationProblem[] | undefined): RouteTarget {
  return { client: 'sidecar', problem: (p) => report(problems, p) };
}

/**
 * buildSidecarVirtualHostForService: BuildDefaultHTTPOutboundRoute to the service port's cluster, with the hash
 * policy of the service's DestinationRule (hashForService).
 */
export function defaultRoute(
  ctx: GenerationContext,
  proxy: ProxyNode,
  service: ServiceModel,
  port: ServicePortModel,
  target: RouteTarget,
): JsonObject {
  const hash = hashForService(ctx, proxy, service, port.port);
  const action: JsonObject = {
    cluster: clusterName('outbound', port.port, '', service.hostname),
    timeout: '0s',
    // ConvertPolicy(meshConfig.defaultHttpRetryPolicy, false) (not modelled: Istio's default policy); the
    // previous_hosts predicate stays even with a consistent hash.
    retry_policy: defaultRetryPolicy(false),
  };
  if (target.client === 'proxyless') {
    const hashPolicy = consistentHashToHashPolicy(hash);
    if (hashPolicy) action.hash_policy = [hashPolicy];
    // setTimeout(…, nil): the default route is built without the node, so max_grpc_timeout (which gRPC
    // ignores) rather than max_stream_duration; 0s means the caller's deadline either way.
    action.max_grpc_timeout = '0s';
  } else {
    // Istio also sets max_grpc_timeout: 0s; omitted: not implemented by the Skiff proxy.
    // Istio also sets hash_policy when the DestinationRule has consistentHash; omitted: not implemented by the
    // Skiff proxy.
    if (hash) {
      target.problem({
        severity: 'warning',
        code: 'SKIFF_GEN_HASH_POLICY',
        message: `DestinationRule for ${service.hostname}: loadBalancer.consistentHash is not applied: the route's hash_policy is not implemented by the Skiff proxy`,
      });
    }
  }
  return {
    name: DEFAULT_ROUTE_NAME,
    match: { prefix: '/' },
    route: action,
    // telemetry.TraceOperation: `host:port/*`, the host as it is.
    decorator: { operation: `${service.hostname}:${port.port}/*` },
  };
}

type Retries = HTTPRoute['retries'];

function previousHostsPredicate(): JsonObject[] {
  return [
    { name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': TYPE.previousHosts } },
  ];
}

/** retry.go DefaultPolicy / DefaultConsistentHashPolicy (no previous_hosts predicate with a consistent hash). */
export function defaultRetryPolicy(consistentHash: boolean): JsonObject {
  return {
    retry_on: DEFAULT_RETRY_ON,
    num_retries: 2,
    ...(consistentHash ? {} : { retry_host_predicate: previousHostsPredicate() }),
    // An int64: a string in proto3 JSON.
    host_selection_retry_max_attempts: '5',
  };
}

/**
 * retry.go ConvertPolicy; undefined when the VirtualService disables retries (attempts <= 0). Sidecars leave out
 * retryRemoteLocalities (`onDropped` is told).
 */
export function retryPolicy(
  retries: Retries,
  consistentHash: boolean,
  client: RouteClient = 'sidecar',
  onDropped?: (field: string) => void,
): JsonObject | undefined {
  if (!retries) return defaultRetryPolicy(consistentHash);
  if ((retries.attempts ?? 0) <= 0) return undefined;
  const out: JsonObject = { retry_on: DEFAULT_RETRY_ON, num_retries: retries.attempts ?? 2 };
  if (retries.retryOn !== undefined && retries.retryOn !== '') {
    const { retryOn, codes } = parseRetryOn(retries.retryOn);
    out.retry_on =
      codes.length > 0 && !retryOn.includes('retriable-status-codes')
        ? `${retryOn},retriable-status-codes`
        : retryOn;
    if (codes.length > 0) out.retriable_status_codes = codes;
  }
  if (retries.perTryTimeout !== undefined) {
    const d = protoDuration(retries.perTryTimeout);
    if (d !== undefined) out.per_try_timeout = d;
  }
  let withPredicate = !consistentHash;
  if (retries.retryIgnorePreviousHosts !== undefined) withPredicate = retries.retryIgnorePreviousHosts;
  if (withPredicate) out.retry_host_predicate = previousHostsPredicate();
  out.host_selection_retry_max_attempts = '5';
  if (retries.retryRemoteLocalities === true) {
    if (client === 'proxyless') {
      out.retry_priority = {
        name: 'envoy.retry_priorities.previous_priorities',
        typed_config: { '@type': TYPE.previousPriorities, update_frequency: 2 },
      };
    } else {
      // Istio also sets retry_priority envoy.retry_priorities.previous_priorities {update_frequency: 2};
      // omitted: not implemented by the Skiff proxy (it has no locality priorities to move between).
      onDropped?.('retries.retryRemoteLocalities');
    }
  }
  if (retries.backoff !== undefined) {
    const d = protoDuration(retries.backoff);
    if (d !== undefined) out.retry_back_off = { base_interval: d };
  }
  return out;
}

/** retry.go parseRetryOn: integer tokens that are HTTP status codes go to retriable_status_codes. */
function parseRetryOn(text: string): { retryOn: string; codes: number[] } {
  const codes: number[] = [];
  const rest: string[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const n = /^[+-]?\d+$/.test(part) ? Number(part) : Number.NaN;
    if (HTTP_STATUS_TEXT.has(n)) codes.push(n);
    else rest.push(part);
  }
  return { retryOn: rest.join(','), codes };
}

/** The codes Go's http.StatusText knows (net/http/status.go). */
const HTTP_STATUS_TEXT = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307,
  308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421,
  422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

// ---------------------------------------------------------------------------------------------------------------
// VirtualService HTTP routes.

/** HTTPRoute fields the Skiff proxy cannot honour: the route element is skipped (never silently). */
const UNSUPPORTED_HTTP: readonly [keyof HTTPRoute, string][] = [
  ['redirect', 'redirect (the proxy has no redirect action)'],
  ['directResponse', 'directResponse (the proxy has no direct_response action)'],
  ['delegate', 'delegate (delegate VirtualServices are not merged)'],
  ['rewrite', 'rewrite (prefix_rewrite, regex_rewrite and host_rewrite_literal are not implemented)'],
  ['fault', 'fault (the envoy.filters.http.fault filter is not implemented)'],
  ['mirror', 'mirror (request_mirror_policies are not implemented)'],
  ['mirrors', 'mirrors (request_mirror_policies are not implemented)'],
  ['corsPolicy', 'corsPolicy (the envoy.filters.http.cors filter is not implemented)'],
  ['headers', 'headers (request/response header manipulation is not implemented)'],
];

/**
 * BuildHTTPRoutesForVirtualService for one listener port and proxy: one route per match (one for a match-less
 * rule), stopping after the first catch-all. What the client cannot carry out is skipped with a problem: for
 * sidecars a rule using a field the Skiff proxy does not implement, whole (sidecarRefuses); for proxyless
 * clients a route gRPC would refuse (proxylessRefuses, and a route without a weighted destination).
 */
export function httpRoutesForVirtualService(
  ctx: GenerationContext,
  proxy: ProxyNode,
  vs: MeshVirtualService,
  listenerPort: number,
  target: RouteTarget,
): JsonObject[] {
  const out: JsonObject[] = [];
  const rules = vs.resource.spec.http ?? [];
  for (const [i, http] of rules.entries()) {
    // Reported whether or not one of its matches applies to this port and proxy.
    const skipped = target.client === 'sidecar' && sidecarRefuses(vs, http, i, target);
    const matches = http.match ?? [];
    if (matches.length === 0) {
      const r = skipped
        ? undefined
        : translateRoute(ctx, proxy, vs, http, i, undefined, listenerPort, target);
      if (r) out.push(r);
      // Istio sets catchall for a rule without matches whether or not a route came of it: the rules after it
      // are never reached, so a skipped one ends the table too.
      break;
    }
    if (skipped) continue;
    let catchAll = false;
    for (const match of matches) {
      const r = translateRoute(ctx, proxy, vs, http, i, match, listenerPort, target);
      if (!r) continue;
      out.push(r);
      if (isCatchAllRoute(r)) {
        catchAll = true;
        break;
      }
    }
    if (catchAll) break;
  }
  return out;
}

/** A sidecar rule using a field the Skiff proxy does not implement: reported as an error, and true. */
function sidecarRefuses(
  vs: MeshVirtualService,
  http: HTTPRoute,
  index: number,
  target: RouteTarget,
): boolean {
  const unsupported = unsupportedField(http);
  if (!unsupported) return false;
  target.problem({
    severity: 'error',
    code: 'SKIFF_GEN_VS_UNSUPPORTED',
    message: `${vsLabel(vs.resource)}: http[${index}].${unsupported}: not implemented by the Skiff proxy; the route is not generated`,
  });
  return true;
}

function unsupportedField(http: HTTPRoute): string | undefined {
  for (const [field, what] of UNSUPPORTED_HTTP) if (http[field] !== undefined) return what;
  if (
    http.mirrorPercent !== undefined ||
    http.mirror_percent !== undefined ||
    http.mirrorPercentage !== undefined
  )
    return 'mirrorPercentage (request_mirror_policies are not implemented)';
  for (const [j, d] of (http.route ?? []).entries())
    if (d.headers !== undefined) return `route[${j}].headers (header manipulation is not implemented)`;
  if ((http.route ?? []).length === 0) return 'route (no destination)';
  return undefined;
}

/** `VirtualService ns/name route "name"`, for proxyless messages. */
function routeLabel(vs: MeshVirtualService, http: HTTPRoute): string {
  return `${vsLabel(vs.resource)} route ${JSON.stringify(http.name ?? '')}`;
}

/**
 * A route proxyless gRPC cannot carry out: Istio emits redirect and direct_response actions, and gRPC refuses the
 * whole route table for them ("unsupported action"), so such a route is left out (a delegate is not merged).
 * Fields gRPC does not apply are reported and the route kept.
 */
function proxylessRefuses(vs: MeshVirtualService, http: HTTPRoute, target: RouteTarget): boolean {
  const refused = http.redirect
    ? 'redirect'
    : http.directResponse
      ? 'directResponse'
      : http.delegate
        ? 'delegate'
        : '';
  if (refused !== '') {
    target.problem({
      severity: 'warning',
      code: 'SKIFF_GRPC_ROUTE_ACTION',
      message: `${routeLabel(vs, http)}: ${refused} is not carried out by proxyless gRPC; route skipped`,
    });
    return true;
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
      // Istio also sets these; omitted: gRPC ignores them (fault: the HCM has no fault filter for it).
      target.problem({
        severity: 'warning',
        code: 'SKIFF_GRPC_ROUTE_IGNORED',
        message: `${routeLabel(vs, http)}: ${field} ignored for proxyless gRPC (Istio would set ${istio}, which gRPC does not apply)`,
      });
    }
  }
  return false;
}

/** sourceMatchHTTP: gateways (`mesh` for sidecars), else sourceLabels ⊆ proxy labels and sourceNamespace. */
function sourceMatches(match: HTTPMatchRequest | undefined, proxy: ProxyNode): boolean {
  if (!match) return true;
  if ((match.gateways ?? []).length > 0) return (match.gateways ?? []).includes('mesh');
  for (const [k, v] of Object.entries(match.sourceLabels ?? {})) if (proxy.labels[k] !== v) return false;
  return !match.sourceNamespace || match.sourceNamespace === proxy.namespace;
}

/** TranslateRoute with applyHTTPRouteDestination: undefined when the match does not apply to this port or proxy. */
function translateRoute(
  ctx: GenerationContext,
  proxy: ProxyNode,
  vs: MeshVirtualService,
  http: HTTPRoute,
  index: number,
  match: HTTPMatchRequest | undefined,
  listenerPort: number,
  target: RouteTarget,
): JsonObject | undefined {
  if (match?.port !== undefined && match.port !== 0 && match.port !== listenerPort) return undefined;
  if (!sourceMatches(match, proxy)) return undefined;
  if (target.client === 'proxyless' && proxylessRefuses(vs, http, target)) return undefined;
  const vsNamespace = vs.resource.metadata.namespace;
  const name = (http.name ?? '') + (match?.name ? `.${match.name}` : '');
  if (match?.statPrefix && target.client === 'sidecar') {
    // Istio also sets the route's stat_prefix; omitted: not implemented by the Skiff proxy (gRPC ignores it).
    target.problem({
      severity: 'warning',
      code: 'SKIFF_GEN_VS_FIELD_DROPPED',
      message: `${vsLabel(vs.resource)}: http[${index}].match.statPrefix: route statistics are not implemented by the Skiff proxy; ignored`,
    });
  }
  // The route's clusters: Istio's lookup for a route on port P sees only services with port P.
  const lookup = (host: string) => {
    const s = ctx.service(host);
    const p = listenerPort === 0 ? s?.ports : s?.ports.filter((x) => x.port === listenerPort);
    return s && p && p.length > 0 ? { ports: p } : undefined;
  };
  const destinations = (http.route ?? []).map((d) => ({
    d,
    host: ctx.resolveHost(d.destination.host, vsNamespace),
  }));
  const timeout = http.timeout !== undefined ? (protoDuration(http.timeout) ?? '0s') : '0s';
  const action: JsonObject = { timeout };
  // Weight 0 destinations are dropped when there are several.
  const live = destinations.length === 1 ? destinations : destinations.filter((x) => (x.d.weight ?? 0) !== 0);
  const hashes = live.map((x) => hashForDestination(ctx, proxy, x.host, x.d.destination));
  // Sidecars route several destinations of which one has a weight to that one as a plain cluster: Istio writes
  // weighted_clusters with that one entry, which routes the same.
  const single =
    destinations.length === 1 || (target.client === 'sidecar' && live.length === 1) ? live[0] : undefined;
  if (single) {
    action.cluster = destinationCluster(single.d.destination, single.host, listenerPort, lookup);
  } else if (target.client === 'proxyless' && live.length === 0) {
    // Istio writes weighted_clusters without clusters; gRPC refuses a route whose weights sum to 0.
    target.problem({
      severity: 'warning',
      code: 'SKIFF_GRPC_ROUTE_NO_DESTINATION',
      message: `${routeLabel(vs, http)}: no destination with a weight above 0; route skipped (gRPC refuses a route whose weights sum to 0)`,
    });
    return undefined;
  } else {
    action.weighted_clusters = {
      clusters: live.map((x) => ({
        name: destinationCluster(x.d.destination, x.host, listenerPort, lookup),
        weight: x.d.weight ?? 0,
      })),
    };
  }
  if (target.client === 'sidecar' && hashes.some((h) => h !== undefined)) {
    // Istio also sets hash_policy from the destination's DestinationRule consistentHash; omitted: not
    // implemented by the Skiff proxy.
    target.problem({
      severity: 'warning',
      code: 'SKIFF_GEN_HASH_POLICY',
      message: `${vsLabel(vs.resource)}: http[${index}]: the destination's DestinationRule consistentHash is not applied: the route's hash_policy is not implemented by the Skiff proxy`,
    });
  }
  // A consistent hash on the only destination drops retries' previous_hosts predicate: any consistentHash, with
  // or without a hash key (applyHTTPRouteDestination: `hash != nil`).
  const consistentHash = destinations.length === 1 && hashes[0] !== undefined;
  const retry = retryPolicy(http.retries, consistentHash, target.client, (field) =>
    target.problem({
      severity: 'warning',
      code: 'SKIFF_GEN_VS_FIELD_DROPPED',
      message: `${vsLabel(vs.resource)}: http[${index}].${field}: retry priorities are not implemented by the Skiff proxy; ignored`,
    }),
  );
  if (retry) action.retry_policy = retry;
  if (target.client === 'proxyless') {
    // processDestination / processWeightedDestination: each destination's hash policy.
    const policies = hashes.flatMap((h) => consistentHashToHashPolicy(h) ?? []);
    if (policies.length > 0) action.hash_policy = policies;
    // setTimeout for a proxyless node: the timeout (0s: none) as max_stream_duration, which is what gRPC reads.
    action.max_stream_duration = { max_stream_duration: timeout };
  }
  // Istio also sets max_grpc_timeout (= timeout) for sidecars; omitted: not implemented by the Skiff proxy.
  const out: JsonObject = {
    ...(name !== '' ? { name } : {}),
    match: translateRouteMatch(match, target.client),
    route: action,
    metadata: configMetadata(vs.resource),
  };
  // Istio's operation names the VirtualService when the route has weighted_clusters (even with one entry left).
  out.decorator = {
    operation:
      destinations.length > 1
        ? `${vs.resource.metadata.name}:${listenerPort}${operationPath(out)}`
        : routeOperation(out, vs.resource.metadata.name, listenerPort),
  };
  return out;
}

type ConsistentHash = NonNullable<NonNullable<TrafficPolicy['loadBalancer']>['consistentHash']>;

/** hashForService: the service DestinationRule's consistent hash, a port-level one first. */
function hashForService(
  ctx: GenerationContext,
  proxy: ProxyNode,
  service: ServiceModel,
  port: number,
): ConsistentHash | undefined {
  const policy = ctx.destinationRule(service, proxy.namespace)?.spec.trafficPolicy;
  const portLevel = policy?.portLevelSettings?.find((p) => p?.port?.number === port);
  return portLevel?.loadBalancer?.consistentHash ?? policy?.loadBalancer?.consistentHash ?? undefined;
}

/**
 * HashForHTTPDestination: the consistent hash of the DestinationRule of `host` (the destination's host, resolved):
 * subset port-level, subset, port-level, then top-level.
 */
function hashForDestination(
  ctx: GenerationContext,
  proxy: ProxyNode,
  host: string,
  destination: Destination,
): ConsistentHash | undefined {
  const service = ctx.service(host);
  if (!service) return undefined;
  const dr: DestinationRuleSpec | undefined = ctx.destinationRule(service, proxy.namespace)?.spec;
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

/** ConsistentHashToHashPolicy (gRPC hashes on headers only; it ignores the other kinds). */
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

/**
 * TranslateRouteMatch (a uri prefix stays a prefix: no gateway semantics). Query parameters are sorted by name
 * (Istio ranges over a Go map: no order).
 */
export function translateRouteMatch(
  match: HTTPMatchRequest | undefined,
  client: RouteClient = 'sidecar',
): JsonObject {
  const out: JsonObject = { prefix: '/' };
  if (!match) return out;
  const headers: JsonObject[] = [];
  for (const [name, sm] of Object.entries(match.headers ?? {})) headers.push(headerMatcher(name, sm));
  for (const [name, sm] of Object.entries(match.withoutHeaders ?? {})) {
    const h: JsonObject = { ...headerMatcher(name, sm), invert_match: true };
    // treat_missing_header_as_empty, unless a presence match (they conflict). Istio sets it for sidecars too;
    // omitted there: not implemented by the Skiff proxy, whose header matcher already treats a missing header as
    // not matching before inverting.
    if (client === 'proxyless' && !isPresentMatch(sm)) h.treat_missing_header_as_empty = true;
    headers.push(h);
  }
  headers.sort((a, b) => (String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0));
  if (match.uri) {
    delete out.prefix;
    if (match.uri.exact !== undefined) out.path = match.uri.exact;
    else if (match.uri.prefix !== undefined) out.prefix = match.uri.prefix;
    else if (match.uri.regex !== undefined) out.safe_regex = { regex: match.uri.regex };
    else out.prefix = '/';
  }
  out.case_sensitive = match.ignoreUriCase !== true;
  if (match.method) headers.push(headerMatcher(':method', match.method));
  if (match.authority) headers.push(headerMatcher(':authority', match.authority));
  if (match.scheme) headers.push(headerMatcher(':scheme', match.scheme));
  if (headers.length > 0) out.headers = headers;
  const query = Object.entries(match.queryParams ?? {})
    // Go map order is random; sorted here for deterministic output.
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(
      ([name, sm]): JsonObject =>
        isPresentMatch(sm)
          ? { name, present_match: true }
          : { name, string_match: stringMatcher(sm) as JsonObject },
    );
  if (query.length > 0) out.query_parameters = query;
  return out;
}

/** canBeConvertedToPresentMatch: an empty match, or the regex `*`, means "present". */
function isPresentMatch(sm: StringMatch | undefined): boolean {
  if (!sm) return true;
  if (sm.exact === undefined && sm.prefix === undefined && sm.regex === undefined) return true;
  return sm.regex === '*';
}

function headerMatcher(name: string, sm: StringMatch): JsonObject {
  if (isPresentMatch(sm)) return { name, present_match: true };
  return { name, string_match: stringMatcher(sm) as JsonObject };
}

/** util.go ConvertToEnvoyMatch. */
function stringMatcher(sm: StringMatch): JsonObject | undefined {
  if (sm.exact !== undefined) return { exact: sm.exact };
  if (sm.prefix !== undefined) return { prefix: sm.prefix };
  if (sm.regex !== undefined) return { safe_regex: { regex: sm.regex } };
  return undefined;
}

/** IsCatchAllRoute: prefix `/` (or regex `.*`) and no header or query parameter matchers. */
function isCatchAllRoute(r: JsonObject): boolean {
  const m = r.match as JsonObject;
  const catchAll =
    m.prefix === '/' ||
    m.path_separated_prefix === '/' ||
    (isObject(m.safe_regex) && m.safe_regex.regex === '.*');
  return catchAll && m.headers === undefined && m.query_parameters === undefined;
}

function operationPath(r: JsonObject): string {
  const m = r.match as JsonObject;
  if (typeof m.prefix === 'string') return `${m.prefix}*`;
  if (typeof m.path === 'string') return m.path;
  if (isObject(m.safe_regex)) return String(m.safe_regex.regex);
  return '/*';
}

/** GetRouteOperation: `host:port/path*` for one cluster, else `vsName:listenerPort/path*`. */
function routeOperation(r: JsonObject, vsName: string, listenerPort: number): string {
  const path = operationPath(r);
  const cluster = (r.route as JsonObject).cluster;
  if (typeof cluster === 'string') {
    const parts = cluster.split('|');
    const port = Number(parts[1]);
    if (parts.length === 4 && Number.isInteger(port) && port > 0) return `${parts[3]}:${port}${path}`;
  }
  return `${vsName}:${listenerPort}${path}`;
}

// ---------------------------------------------------------------------------------------------------------------
// http_proxy.

/**
 * The route of the HTTP proxy listener (listener port 0 in Istio): every HTTP or sniffed service port; port-80
 * virtual hosts keep every domain, the others only their `host:port` domains (mergeAllVirtualHosts); sorted by
 * name; the catch-all last (`allow_any`, or `block_all` for REGISTRY_ONLY).
 *
 * Two deliberate differences from Istio, both so that the route works:
 * - `ignore_port_in_host_matching: false`. Istio sets true on every sidecar route table, which strips the port
 *   from Host before matching and so can never match the `host:port` domains this table is made of (a known
 *   inconsistency: istio/istio PRs #47682, #47684, not merged). Without it, `http://reviews:9080/` matches
 *   `reviews:9080`, and `http://web/` (port 80) matches the port-80 host's bare names.
 * - VirtualService routes are translated per service port (Istio translates them once with listener port 0, so
 *   a multi-port destination without `destination.port` becomes `outbound|0||host` and `match.port` never holds).
 */
function httpProxyRoute(
  ctx: GenerationContext,
  proxy: ProxyNode,
  problems: GenerationProblem[] | undefined,
): JsonObject {
  const services = visibleServices(ctx, proxy);
  const target = sidecarTarget(problems);
  interface Wrapper {
    port: number;
    routes: JsonObject[];
    service?: ServiceModel;
    /** A VirtualService host that is no service in the registry. */
    vsHost?: string;
  }
  const wrappers: Wrapper[] = [];
  const knownFqdn = new Set<string>();
  // Services owned by a VirtualService first (BuildSidecarVirtualHostWrapper builds those first), then the rest.
  const withVs: Wrapper[] = [];
  const plain: Wrapper[] = [];
  const vsHostsDone = new Set<string>();
  for (const service of services) {
    for (const port of service.ports) {
      if (!isHttpOrSniffed(port)) continue;
      knownFqdn.add(service.hostname).add(domainName(service.hostname, port.port));
      const vs = virtualServiceFor(ctx, service.hostname);
      const routes = vs ? httpRoutesForVirtualService(ctx, proxy, vs, port.port, target) : [];
      if (vs && routes.length > 0) {
        withVs.push({ port: port.port, routes, service });
        // The VirtualService's hosts outside the registry get their own virtual host on that port.
        for (const h of vs.hosts) {
          if (h.startsWith('*') ? services.some((s) => hostsMatch(h, s.hostname)) : ctx.service(h)) continue;
          const key = `${h} ${port.port}`;
          if (vsHostsDone.has(key)) continue;
          vsHostsDone.add(key);
          withVs.push({ port: port.port, routes, vsHost: h });
        }
      } else
        plain.push({ port: port.port, routes: [defaultRoute(ctx, proxy, service, port, target)], service });
    }
  }
  wrappers.push(...withVs, ...plain);

  const build = virtualHostBuilder('sidecar', proxy.dnsDomain, knownFqdn);
  const vhosts: JsonObject[] = [];
  for (const w of wrappers) {
    const vh = build(w.service ? w.service.hostname : (w.vsHost ?? ''), w.port, w.routes, w.service);
    if (!vh) continue;
    // mergeAllVirtualHosts: off port 80, only the `host:port` domains.
    if (w.port !== 80) vh.domains = (vh.domains as string[]).filter((d) => d.includes(':'));
    if ((vh.domains as string[]).length > 0) vhosts.push(vh);
  }
  vhosts.sort((a, b) => (String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0));
  vhosts.push(catchAllVirtualHost(ctx));
  return routeConfiguration(HTTP_PROXY_ROUTE, vhosts, false);
}

/** One service per hostname (the proxy's namespace first, as the context resolves it), sorted by hostname. */
export function visibleServices(ctx: GenerationContext, _proxy: ProxyNode): ServiceModel[] {
  // Every service is visible to every proxy (exportTo and Sidecar egress are not modelled); one per host.
  return [...ctx.services()];
}

/** buildCatchAllVirtualHost: ALLOW_ANY → `allow_any`, REGISTRY_ONLY → `block_all`. */
function catchAllVirtualHost(ctx: GenerationContext): JsonObject {
  const allowAny = ctx.model.meshConfig.outboundTrafficPolicy.mode !== 'REGISTRY_ONLY';
  const name = allowAny ? ALLOW_ANY : BLOCK_ALL;
  return {
    name,
    domains: ['*'],
    routes: [
      {
        name,
        match: { prefix: '/' },
        // Istio: allow_any → {cluster: PassthroughCluster, timeout: 0s, max_grpc_timeout: 0s}; block_all →
        // direct_response {status: 502}. The Skiff proxy has no direct_response (nor max_grpc_timeout): block_all
        // routes to BLOCK_ALL_CLUSTER instead (503 rather than 502).
        route: { cluster: allowAny ? ALLOW_ANY_CLUSTER : BLOCK_ALL_CLUSTER, timeout: '0s' },
      },
    ],
    include_request_attempt_count: true,
  };
}

/** Who a route table is for: Istio asks node.IsProxylessGrpc() (SidecarIgnorePort, setTimeout). */
export type RouteClient = 'sidecar' | 'proxyless';

/** What a service's virtual host domains are made of. */
export type DomainSource = Pick<ServiceModel, 'hostname' | 'addresses' | 'resolution' | 'kind' | 'headless'>;

/**
 * BuildSidecarOutboundVirtualHosts' buildVirtualHost, for one route table: the virtual host `host:port` of a
 * service (its generateVirtualHostDomains) or of a VirtualService host outside the registry, keeping only the
 * domains no earlier virtual host of the table took (dedupeDomains). Undefined when the name was built already
 * (Istio counts pilot_vservice_dup_domain and drops it) or no domain is left. `knownFqdn`: the tables' service
 * hosts, with and without `:port`.
 */
export function virtualHostBuilder(
  client: RouteClient,
  proxyDomain: string,
  knownFqdn: ReadonlySet<string>,
): (hostname: string, port: number, routes: JsonObject[], service?: DomainSource) => JsonObject | undefined {
  const names = new Set<string>();
  const used = new Set<string>();
  return (hostname, port, routes, service) => {
    const name = domainName(hostname, port);
    if (names.has(name)) return undefined;
    names.add(name);
    const { domains, alt } = service
      ? virtualHostDomains(service, port, proxyDomain)
      : // A VirtualService host outside the registry: sidecars match Host without its port (SidecarIgnorePort),
        // proxyless clients with it.
        {
          domains: client === 'proxyless' ? [ipv6Compliant(hostname), name] : [ipv6Compliant(hostname)],
          alt: [],
        };
    const kept = dedupeDomains(domains, used, alt, knownFqdn);
    if (kept.length === 0) return undefined;
    // include_request_attempt_count as Istio sets it (gRPC ignores it).
    return { name, domains: kept, routes, include_request_attempt_count: true };
  };
}

/**
 * dedupeDomains: the domains not `used` yet (case-insensitive), and not an expanded short name that is another
 * service's FQDN (`alt` ∩ `knownFqdn`); adds those kept to `used`.
 */
export function dedupeDomains(
  domains: readonly string[],
  used: Set<string>,
  alt: readonly string[],
  knownFqdn: ReadonlySet<string>,
): string[] {
  const out: string[] = [];
  for (const d of domains) {
    const lower = d.toLowerCase();
    if (used.has(lower) || (alt.includes(d) && knownFqdn.has(d))) continue;
    out.push(d);
    used.add(lower);
  }
  return out;
}

/**
 * generateVirtualHostDomains: the Host values that name a service from this proxy, with `:port` variants when
 * `port` is given (the http_proxy route and proxyless tables; sidecar `host:port` routes use `["*"]`). `alt` are
 * the expanded short forms (dropped when they equal another service's FQDN).
 */
export function virtualHostDomains(
  service: DomainSource,
  port: number | undefined,
  proxyDomain: string,
): { domains: string[]; alt: string[] } {
  const domains: string[] = [];
  const altHosts = generateAltVirtualHosts(service.hostname, port, proxyDomain);
  appendDomainPort(domains, service.hostname, port);
  domains.push(...altHosts);
  // Kubernetes headless services (Istio's Passthrough resolution on the Kubernetes registry): `*.` copies.
  if (service.kind === 'Service' && service.headless) {
    for (const d of [...domains]) domains.push(`*.${d}`);
  }
  for (const a of serviceAddresses(service)) if (a !== '0.0.0.0') appendDomainPort(domains, a, port);
  return { domains, alt: altHosts };
}

/**
 * A service's virtual IPs for the proxy: Istio's GetAllAddressesForProxy for an IPv4-only proxy (Skiff's proxies
 * are), which keeps the cluster IPs of the proxy's family. Istio keeps a ServiceEntry's address unfiltered (one
 * service per address, a CIDR too); here IPv6 and CIDR ServiceEntry addresses are left out as well: no IPv4
 * client dials them, and a CIDR is no Host value.
 */
export function serviceAddresses(svc: Pick<ServiceModel, 'addresses'>): string[] {
  return svc.addresses.filter((a) => isIpv4(a));
}

/** util.IPv6Compliant: an IPv6 address in brackets, as it stands in a Host header. */
export function ipv6Compliant(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function appendDomainPort(out: string[], domain: string, port: number | undefined): void {
  out.push(ipv6Compliant(domain));
  if (port !== undefined) out.push(domainName(domain, port));
}

/** GenerateAltVirtualHosts (with PILOT_ENABLE_ABSOLUTE_FQDN_VHOST_DOMAIN, default on). */
export function generateAltVirtualHosts(
  hostname: string,
  port: number | undefined,
  proxyDomain: string,
): string[] {
  const out: string[] = [];
  if (!isIpAddress(hostname)) out.push(`${hostname}.`);
  if (port !== undefined) out.push(domainName(`${hostname}.`, port));
  if (proxyDomain.includes('.svc.')) {
    const svcSuffix = proxyDomain.slice(proxyDomain.indexOf('.svc.'));
    if (hostname.endsWith(svcSuffix)) out.push(...altHostsForKubernetesService(hostname, port, proxyDomain));
    return out;
  }
  const { unique, shared } = uniqueAndSharedDnsDomain(hostname, proxyDomain);
  if (shared.length === 0) return out;
  const uniqueHost = unique.join('.');
  appendDomainPort(out, uniqueHost, port);
  if (unique.length === 2) appendDomainPort(out, `${uniqueHost}.${shared[0]}`, port);
  return out;
}

function altHostsForKubernetesService(
  hostname: string,
  port: number | undefined,
  proxyDomain: string,
): string[] {
  const proxyNs = proxyDomain.slice(0, proxyDomain.indexOf('.svc.'));
  const ih = hostname.indexOf('.svc.');
  if (ih <= 0) return [];
  const ns = hostname.indexOf('.');
  if (ns + 1 >= hostname.length || ns + 1 > ih) return [];
  const forms =
    hostname.slice(ns + 1, ih) === proxyNs
      ? [hostname.slice(0, ns), `${hostname.slice(0, ih)}.svc`, hostname.slice(0, ih)]
      : [hostname.slice(0, ih), `${hostname.slice(0, ih)}.svc`];
  const out: string[] = [];
  for (const f of forms) appendDomainPort(out, f, port);
  return out;
}

function uniqueAndSharedDnsDomain(fqdn: string, proxyDomain: string): { unique: string[]; shared: string[] } {
  const a = fqdn.split('.').reverse();
  const b = proxyDomain.split('.').reverse();
  const sharedRev: string[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) break;
    sharedRev.push(a[i] ?? '');
  }
  if (sharedRev.length === 0) return { unique: fqdn.split('.'), shared: [] };
  return { unique: a.slice(sharedRev.length).reverse(), shared: sharedRev.reverse() };
}
