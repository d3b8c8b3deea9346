// networking.istio.io VirtualService (v1alpha3, v1beta1, v1: one schema). Shape from the CRD, rules from
// Istio's `ValidateVirtualService`, `validateTCPRoute` and `validateTLSRoute` (pkg/config/validation).
// HTTP routes are in virtual-service-http.ts, shared pieces in virtual-service-match.ts.

import type { FieldPath } from '../../core/field-path.js';
import type { ObjectMeta } from '../object-meta.js';
import {
  array,
  type Checker,
  type Infer,
  integer,
  notEnforced,
  object,
  optional,
  record,
  refine,
  required,
  type Schema,
  string,
  uint32,
} from '../schema.js';
import { validateExportTo } from './export-to.js';
import { isIpAddress, validateIpSubnet, validateWildcardDomain } from './istio-common.js';
import { analyzeHttpRules, analyzeL4Rules } from './virtual-service-analysis.js';
import { checkHttpRoute, checkWeights, httpRoute, nonNull } from './virtual-service-http.js';
import {
  checkGatewayNames,
  checkPort,
  checkSourceLabels,
  destination,
  hostSubsetOf,
  hostsMatch,
  isJwtClaimHeader,
  validateGatewayBoundDomain,
} from './virtual-service-match.js';

const routeDestination = object(
  { destination: required(destination), weight: optional(integer(-2147483648, 2147483647)) },
  'a route destination ({destination, weight})',
);

const l4Match = object(
  {
    destinationSubnets: optional(array(string())),
    port: optional(uint32()),
    sourceLabels: optional(record(string())),
    gateways: optional(array(string())),
    sourceNamespace: optional(string()),
    sourceSubnet: notEnforced(string(), 'sourceSubnet is deprecated'),
  },
  'an L4 match ({destinationSubnets, port, sourceLabels, gateways, sourceNamespace})',
);

const tlsMatch = object(
  {
    sniHosts: required(array(string())),
    destinationSubnets: optional(array(string())),
    port: optional(uint32()),
    sourceLabels: optional(record(string())),
    gateways: optional(array(string())),
    sourceNamespace: optional(string()),
  },
  'a TLS match ({sniHosts, destinationSubnets, port, sourceLabels, gateways, sourceNamespace})',
);

const tcpRoute = object(
  {
    match: optional(array(nonNull(l4Match, 'tcp match may not be nil'))),
    route: optional(array(nonNull(routeDestination, 'weight may not be nil'))),
  },
  'a TCP route ({match, route})',
);

const tlsRoute = object(
  {
    match: required(array(nonNull(tlsMatch, 'TLS match may not be null'))),
    route: optional(array(nonNull(routeDestination, 'weight may not be nil'))),
  },
  'a TLS route ({match, route})',
);

const httpItem: Schema<Infer<typeof httpRoute>> = nonNull(httpRoute, 'http route may not be null');

const shape = object({
  hosts: optional(array(string())),
  gateways: optional(array(string())),
  http: optional(array(httpItem)),
  tls: optional(array(tlsRoute)),
  tcp: optional(array(tcpRoute)),
  exportTo: notEnforced(array(string()), 'exportTo (VirtualServices are visible in every namespace)'),
});

export type VirtualServiceSpec = Infer<typeof shape>;
export type TCPRoute = Infer<typeof tcpRoute>;
export type TLSRoute = Infer<typeof tlsRoute>;

export const virtualServiceSpec: Schema<VirtualServiceSpec> = refine(shape, (spec, path, c) => {
  const before = c.issues.length;
  checkSpec(spec, path, c);
  return !c.issues.slice(before).some((i) => i.severity === 'error');
});

/** isGateway: true unless `mesh` is one of the gateways (so also with no gateways at all). */
const boundToGateways = (spec: VirtualServiceSpec) => !(spec.gateways ?? []).includes('mesh');

function checkSpec(spec: VirtualServiceSpec, path: FieldPath, c: Checker): void {
  const hosts = spec.hosts ?? [];
  const gateways = spec.gateways ?? [];
  const delegate = hosts.length === 0;
  if (delegate) {
    // A VirtualService without hosts is a delegate, used only through another one's `delegate`.
    if (gateways.length > 0)
      c.error(
        [...path, 'gateways'],
        'ISTIO_VS_DELEGATE',
        'delegate virtual service must have no gateways specified',
      );
    if ((spec.tls?.length ?? 0) > 0)
      c.error(
        [...path, 'tls'],
        'ISTIO_VS_DELEGATE',
        'delegate virtual service must have no tls route specified',
      );
    if ((spec.tcp?.length ?? 0) > 0)
      c.error(
        [...path, 'tcp'],
        'ISTIO_VS_DELEGATE',
        'delegate virtual service must have no tcp route specified',
      );
  }
  let appliesToGateway = false;
  if (gateways.length > 0) {
    checkGatewayNames(gateways, [...path, 'gateways'], c);
    appliesToGateway = boundToGateways(spec);
  }
  const appliesToMesh = !appliesToGateway;
  if (!appliesToGateway) checkJwtClaimRoutes(spec, path, c);
  checkHosts(spec, appliesToGateway, appliesToMesh, path, c);

  if ((spec.http?.length ?? 0) === 0 && (spec.tcp?.length ?? 0) === 0 && (spec.tls?.length ?? 0) === 0)
    c.error(path, 'ISTIO_VS_NO_ROUTES', 'http, tcp or tls must be provided in virtual service');
  for (const [i, http] of (spec.http ?? []).entries())
    checkHttpRoute(http, [...path, 'http', i], c, delegate);
  for (const [i, tls] of (spec.tls ?? []).entries()) checkTlsRoute(tls, spec, [...path, 'tls', i], c);
  for (const [i, tcp] of (spec.tcp ?? []).entries()) checkTcpRoute(tcp, [...path, 'tcp', i], c);

  analyzeHttpRules(spec.http ?? [], [...path, 'http'], c);
  analyzeL4Rules(spec.tcp ?? [], [...path, 'tcp'], c);
  analyzeL4Rules(spec.tls ?? [], [...path, 'tls'], c);
}

/** JWT claim routing (`@request.auth.claims.*` headers) works at gateways only. */
function checkJwtClaimRoutes(spec: VirtualServiceSpec, path: FieldPath, c: Checker): void {
  for (const [i, http] of (spec.http ?? []).entries()) {
    for (const [j, match] of (http.match ?? []).entries()) {
      for (const field of ['headers', 'withoutHeaders'] as const) {
        for (const key of Object.keys(match[field] ?? {})) {
          if (isJwtClaimHeader(key))
            c.error(
              [...path, 'http', i, 'match', j, field, key],
              'ISTIO_VS_JWT_CLAIM_MESH',
              `JWT claim based routing (key: ${key}) is only supported for gateway, found no gateways: [${(spec.gateways ?? []).join(' ')}]`,
            );
        }
      }
    }
  }
}

function checkHosts(
  spec: VirtualServiceSpec,
  appliesToGateway: boolean,
  appliesToMesh: boolean,
  path: FieldPath,
  c: Checker,
): void {
  const hosts = spec.hosts ?? [];
  const sni = (spec.tls ?? []).some((t) => t.match.some((m) => m.sniHosts.length > 0));
  let allValid = true;
  for (const [i, host] of hosts.entries()) {
    const problem = appliesToGateway ? validateGatewayBoundDomain(sni, host) : validateWildcardDomain(host);
    if (problem) {
      if (!isIpAddress(host)) {
        c.error([...path, 'hosts', i], 'ISTIO_VS_HOST', problem);
        allValid = false;
      }
    } else if (appliesToMesh && host === '*') {
      c.error(
        [...path, 'hosts', i],
        'ISTIO_VS_HOST_WILDCARD_MESH',
        'wildcard host * is not allowed for virtual services bound to the mesh gateway',
      );
      allValid = false;
    }
  }
  if (!allValid) return;
  for (let i = 0; i < hosts.length; i++) {
    for (let j = i + 1; j < hosts.length; j++) {
      const a = hosts[i] ?? '';
      const b = hosts[j] ?? '';
      if (hostsMatch(a, b))
        c.error(
          [...path, 'hosts', j],
          'ISTIO_VS_HOST_DUPLICATE',
          `duplicate hosts in virtual service: ${a} & ${b}`,
        );
    }
  }
}

function checkL4Match(
  m: {
    destinationSubnets?: string[];
    port?: number;
    sourceLabels?: Record<string, string>;
    gateways?: string[];
  },
  path: FieldPath,
  c: Checker,
): void {
  for (const [i, subnet] of (m.destinationSubnets ?? []).entries()) {
    const problem = validateIpSubnet(subnet);
    if (problem) c.error([...path, 'destinationSubnets', i], 'ISTIO_VS_SUBNET', problem);
  }
  checkPort(m.port, [...path, 'port'], c);
  checkSourceLabels(m.sourceLabels, [...path, 'sourceLabels'], c);
  checkGatewayNames(m.gateways, [...path, 'gateways'], c);
}

function checkTcpRoute(tcp: TCPRoute, path: FieldPath, c: Checker): void {
  for (const [i, match] of (tcp.match ?? []).entries()) checkL4Match(match, [...path, 'match', i], c);
  if ((tcp.route?.length ?? 0) === 0) c.error(path, 'ISTIO_VS_TCP_ROUTE_REQUIRED', 'TCP route is required');
  checkWeights(tcp.route ?? [], [...path, 'route'], c);
}

function checkTlsRoute(tls: TLSRoute, spec: VirtualServiceSpec, path: FieldPath, c: Checker): void {
  if (tls.match.length === 0)
    c.error(
      [...path, 'match'],
      'ISTIO_VS_TLS_MATCH_REQUIRED',
      'TLS route must have at least one match condition',
    );
  for (const [i, match] of tls.match.entries()) {
    const at = [...path, 'match', i];
    if (match.sniHosts.length === 0)
      c.error([...at, 'sniHosts'], 'ISTIO_VS_TLS_SNI_REQUIRED', 'TLS match must have at least one SNI host');
    for (const [j, sni] of match.sniHosts.entries()) checkSniHost(sni, spec, [...at, 'sniHosts', j], c);
    checkL4Match(match, at, c);
  }
  if ((tls.route?.length ?? 0) === 0) c.error(path, 'ISTIO_VS_TLS_ROUTE_REQUIRED', 'TLS route is required');
  checkWeights(tls.route ?? [], [...path, 'route'], c);
}

/** validateSniHost: a valid (wildcard) domain within one of the VirtualService's hosts; an IP is a warning. */
function checkSniHost(sni: string, spec: VirtualServiceSpec, path: FieldPath, c: Checker): void {
  const problem = boundToGateways(spec) ? validateGatewayBoundDomain(true, sni) : validateWildcardDomain(sni);
  if (problem) {
    if (isIpAddress(sni))
      c.warn(
        path,
        'ISTIO_VS_SNI_IP',
        `using an IP address (${JSON.stringify(sni)}) goes against SNI spec and most clients do not support this`,
      );
    else c.error(path, 'ISTIO_VS_SNI_HOST', problem);
    return;
  }
  const hosts = spec.hosts ?? [];
  if (!hosts.some((h) => hostSubsetOf(sni, h)))
    c.error(
      path,
      'ISTIO_VS_SNI_NOT_SUBSET',
      `SNI host ${JSON.stringify(sni)} is not a compatible subset of any of the virtual service hosts: [${hosts.join(', ')}]`,
    );
}

/** Rules that need the metadata: exportTo against the namespace. */
export function checkVirtualService(
  spec: VirtualServiceSpec,
  metadata: ObjectMeta & { namespace: string },
  c: Checker,
): void {
  for (const message of validateExportTo(metadata.namespace, spec.exportTo ?? [], {}))
    c.error(['spec', 'exportTo'], 'ISTIO_VS_EXPORT_TO', message);
}
