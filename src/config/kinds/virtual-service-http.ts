// VirtualService HTTP routes: the HTTPRoute schema (match, route, redirect, directResponse, delegate, rewrite,
// timeout, retries, fault, mirror(s), corsPolicy, headers) and Istio's `validateHTTPRoute` with its helpers
// (pkg/config/validation/virtualservice.go and validation.go), with Istio's messages.

import type { FieldPath } from '../../core/field-path.js';
import {
  array,
  boolean,
  type Checker,
  type Infer,
  integer,
  notEnforced,
  object,
  optional,
  record,
  required,
  type Schema,
  string,
  uint32,
} from '../schema.js';
import { duration, isIstioDns1123Label } from './istio-common.js';
import {
  checkCors,
  checkHeaderOperations,
  corsPolicy,
  headers,
  isAuthorityHeader,
} from './virtual-service-headers.js';
import {
  checkDestination,
  checkGatewayNames,
  checkMatchHeaderName,
  checkPort,
  checkSourceLabels,
  checkStringMatch,
  checkStringMatchRegexp,
  destination,
  nullableMatch,
  stringMatch,
} from './virtual-service-match.js';
import {
  checkDirectResponse,
  checkFault,
  checkMirrorPercentage,
  checkRedirect,
  checkRetries,
  checkRewrite,
  delegate,
  directResponse,
  fault,
  mirrorPolicy,
  percent,
  redirect,
  retries,
  rewrite,
} from './virtual-service-policies.js';

const int32 = () => integer(-2147483648, 2147483647);
const istioDuration = () => duration({ istioMinimum: true });

/** An array item Istio refuses when null, with its message. */
export function nonNull<T>(inner: Schema<T>, message: string): Schema<T> {
  return {
    expected: inner.expected,
    parse(value, path, c) {
      if (value !== null) return inner.parse(value, path, c);
      c.error(path, 'ISTIO_VS_NULL', message);
      return undefined;
    },
  };
}

export const httpMatchRequest = object(
  {
    name: optional(string()),
    uri: optional(stringMatch),
    scheme: optional(stringMatch),
    method: optional(stringMatch),
    authority: optional(stringMatch),
    headers: optional(
      record(
        nullableMatch((path, c) =>
          c.error(path, 'ISTIO_VS_NULL', `header match ${String(path[path.length - 1])} cannot be null`),
        ),
      ),
    ),
    port: optional(uint32()),
    sourceLabels: optional(record(string())),
    gateways: optional(array(string())),
    queryParams: optional(record(nullableMatch())),
    ignoreUriCase: optional(boolean()),
    withoutHeaders: optional(record(nullableMatch())),
    sourceNamespace: optional(string()),
    statPrefix: notEnforced(string(), 'statPrefix (route statistics)'),
  },
  'an HTTP match request',
);
export type HTTPMatchRequest = Infer<typeof httpMatchRequest>;

/** Istio accepts a null match (`match: [null]`): it is read as an empty one. */
const httpMatchItem: Schema<HTTPMatchRequest> = {
  expected: httpMatchRequest.expected,
  parse: (value, path, c) => (value === null ? {} : httpMatchRequest.parse(value, path, c)),
};

const httpRouteDestination = object(
  {
    destination: required(destination),
    weight: optional(int32()),
    headers: notEnforced(headers, 'header manipulation'),
  },
  'an HTTP route destination ({destination, weight, headers})',
);
export type HTTPRouteDestination = Infer<typeof httpRouteDestination>;

export const httpRoute = object(
  {
    name: optional(string()),
    match: optional(array(httpMatchItem)),
    route: optional(array(nonNull(httpRouteDestination, 'weight may not be nil'))),
    redirect: notEnforced(redirect, 'HTTP redirects'),
    directResponse: notEnforced(directResponse, 'direct responses'),
    delegate: notEnforced(delegate, 'delegation to another VirtualService'),
    rewrite: notEnforced(rewrite, 'URI and authority rewrites'),
    timeout: notEnforced(istioDuration(), 'request timeouts'),
    retries: notEnforced(retries, 'retries'),
    fault: notEnforced(fault, 'fault injection'),
    mirror: notEnforced(destination, 'traffic mirroring'),
    mirrors: notEnforced(array(nonNull(mirrorPolicy, 'mirror cannot be null')), 'traffic mirroring'),
    mirrorPercent: notEnforced(uint32(), 'traffic mirroring'),
    mirror_percent: notEnforced(uint32(), 'traffic mirroring'),
    mirrorPercentage: notEnforced(percent, 'traffic mirroring'),
    corsPolicy: notEnforced(corsPolicy, 'CORS policies'),
    headers: notEnforced(headers, 'header manipulation'),
  },
  'an HTTP route',
);
export type HTTPRoute = Infer<typeof httpRoute>;

const has = (v: unknown): boolean => v !== undefined;

/** validateHTTPRoute. `delegate`: the route belongs to a delegate VirtualService (one without hosts). */
export function checkHttpRoute(http: HTTPRoute, path: FieldPath, c: Checker, delegate: boolean): void {
  checkConflicts(http, path, c, delegate);
  for (const [i, match] of (http.match ?? []).entries()) checkHttpMatch(match, [...path, 'match', i], c);
  checkHeaderOperations(http.headers, [...path, 'headers'], c);
  checkCors(http.corsPolicy, [...path, 'corsPolicy'], c);
  checkFault(http.fault, [...path, 'fault'], c);
  const mirrorPercent = http.mirrorPercent ?? http.mirror_percent;
  if (mirrorPercent !== undefined) {
    const at = [...path, http.mirrorPercent !== undefined ? 'mirrorPercent' : 'mirror_percent'];
    if (mirrorPercent > 100)
      c.error(
        at,
        'ISTIO_VS_MIRROR_PERCENT',
        `mirror_percent must have a max value of 100 (it has ${mirrorPercent})`,
      );
    c.warn(
      at,
      'ISTIO_VS_MIRROR_PERCENT_DEPRECATED',
      'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead',
    );
  }
  checkMirrorPercentage(
    http.mirrorPercentage?.value,
    'mirror_percentage',
    [...path, 'mirrorPercentage', 'value'],
    c,
  );
  checkDestination(http.mirror, [...path, 'mirror'], c);
  for (const [i, mirror] of (http.mirrors ?? []).entries()) {
    checkDestination(mirror.destination, [...path, 'mirrors', i, 'destination'], c);
    checkMirrorPercentage(
      mirror.percentage?.value,
      'mirror percentage',
      [...path, 'mirrors', i, 'percentage'],
      c,
    );
  }
  checkRedirect(http.redirect, [...path, 'redirect'], c);
  checkDirectResponse(http.directResponse, [...path, 'directResponse'], c);
  checkRetries(http.retries, [...path, 'retries'], c);
  checkRewrite(http.rewrite, [...path, 'rewrite'], c);
  checkAuthorityRewrite(http, path, c);
  checkHttpDestinations(http.route ?? [], [...path, 'route'], c);
}

function checkConflicts(http: HTTPRoute, path: FieldPath, c: Checker, delegate: boolean): void {
  const conflict = (field: string, message: string) =>
    c.error([...path, field], 'ISTIO_VS_ROUTE_CONFLICT', message);
  const routes = http.route?.length ?? 0;
  if (!delegate && has(http.delegate)) {
    // A root route: only the delegate may say where requests go.
    const name = http.name ?? '';
    if (has(http.redirect)) conflict('redirect', `root HTTP route ${name} must not specify redirect`);
    if (http.route !== undefined) conflict('route', `root HTTP route ${name} must not specify route`);
    return;
  }
  if (delegate && has(http.delegate))
    c.error([...path, 'delegate'], 'ISTIO_VS_DELEGATE_NESTED', 'delegate HTTP route cannot contain delegate');
  if (has(http.redirect)) {
    if (routes > 0) conflict('route', 'HTTP route cannot contain both route and redirect');
    if (has(http.fault)) conflict('fault', 'HTTP route cannot contain both fault and redirect');
    if (has(http.rewrite)) conflict('rewrite', 'HTTP route rule cannot contain both rewrite and redirect');
    if (has(http.directResponse))
      conflict('directResponse', 'HTTP route rule cannot contain both direct_response and redirect');
  } else if (has(http.directResponse)) {
    if (routes > 0) conflict('route', 'HTTP route cannot contain both route and direct_response');
    if (has(http.fault)) conflict('fault', 'HTTP route cannot contain both fault and direct_response');
    if (has(http.rewrite))
      conflict('rewrite', 'HTTP route rule cannot contain both rewrite and direct_response');
  } else if (routes === 0) {
    c.error(
      path,
      'ISTIO_VS_ROUTE_REQUIRED',
      'HTTP route, redirect or direct_response is required: set route (destinations), redirect, directResponse or delegate',
    );
  }
  if (has(http.mirror) && (http.mirrors?.length ?? 0) > 0)
    c.error(
      [...path, 'mirrors'],
      'ISTIO_VS_MIRROR_CONFLICT',
      'HTTP route cannot contain both mirror and mirrors',
    );
}

/** validateHTTPRouteMatchRequest for one match. */
function checkHttpMatch(m: HTTPMatchRequest, path: FieldPath, c: Checker): void {
  for (const [name, header] of Object.entries(m.headers ?? {})) {
    checkMatchHeaderName(name, [...path, 'headers', name], c);
    checkStringMatch(header, 'headers', [...path, 'headers', name], c);
  }
  for (const [name, header] of Object.entries(m.withoutHeaders ?? {})) {
    checkMatchHeaderName(name, [...path, 'withoutHeaders', name], c);
    // `regex: "*"` is not a regex: it means "header present".
    if (header.regex !== '*')
      checkStringMatch(header, 'withoutHeaders', [...path, 'withoutHeaders', name], c);
  }
  checkStringMatchRegexp(m.uri, 'uri', [...path, 'uri'], c);
  checkStringMatch(m.scheme, 'scheme', [...path, 'scheme'], c);
  checkStringMatch(m.method, 'method', [...path, 'method'], c);
  checkStringMatch(m.authority, 'authority', [...path, 'authority'], c);
  for (const [name, qp] of Object.entries(m.queryParams ?? {}))
    checkStringMatch(qp, 'queryParams', [...path, 'queryParams', name], c);
  checkPort(m.port, [...path, 'port'], c);
  checkSourceLabels(m.sourceLabels, [...path, 'sourceLabels'], c);
  checkGatewayNames(m.gateways, [...path, 'gateways'], c);
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== '' && !isIstioDns1123Label(m.sourceNamespace))
    c.error(
      [...path, 'sourceNamespace'],
      'ISTIO_VS_SOURCE_NAMESPACE',
      `sourceNamespace match ${m.sourceNamespace} is invalid: expected a DNS-1123 label`,
    );
}

/** validateAuthorityRewrite: the authority is rewritten in one place at most. */
function checkAuthorityRewrite(http: HTTPRoute, path: FieldPath, c: Checker): void {
  let current = http.rewrite?.authority ?? '';
  for (const op of ['set', 'add'] as const) {
    for (const [name, value] of Object.entries(http.headers?.request?.[op] ?? {})) {
      if (!isAuthorityHeader(name)) continue;
      if (current !== '') {
        c.error(
          [...path, 'headers', 'request', op, name],
          'ISTIO_VS_AUTHORITY_TWICE',
          `authority header cannot be set multiple times: have ${JSON.stringify(current)}, attempting to set ${JSON.stringify(value)}`,
        );
        return;
      }
      current = value;
    }
  }
}

/** validateHTTPRouteDestinations. */
function checkHttpDestinations(routes: readonly HTTPRouteDestination[], path: FieldPath, c: Checker): void {
  for (const [i, route] of routes.entries()) checkHeaderOperations(route.headers, [...path, i, 'headers'], c);
  checkWeights(routes, path, c);
}

/** validateRouteDestinations (HTTP, TCP and TLS): destinations, weights not negative and not all 0. */
export function checkWeights(
  routes: readonly { destination: Infer<typeof destination>; weight?: number }[],
  path: FieldPath,
  c: Checker,
): void {
  let total = 0;
  for (const [i, route] of routes.entries()) {
    checkDestination(route.destination, [...path, i, 'destination'], c);
    const weight = route.weight ?? 0;
    if (weight < 0) c.error([...path, i, 'weight'], 'ISTIO_VS_WEIGHT_NEGATIVE', `weight ${weight} < 0`);
    total += weight;
  }
  if (routes.length > 1 && total === 0)
    c.error(
      path,
      'ISTIO_VS_WEIGHT_ZERO',
      'total destination weight = 0: at least one destination needs a weight above 0',
    );
}
