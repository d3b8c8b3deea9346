// The RouteConfiguration resource (RDS, or inline in an HTTP connection manager): virtual hosts by domain,
// routes in order with their matchers and actions (one cluster, or weighted clusters picked per request). Every
// cluster a route names is a reference, checked at one place (references.ts): Envoy refuses a route table naming
// an unknown cluster when `validate_clusters` is on (the default for an inline table), and answers 503 NC at
// request time when it is off (Istio's setting).

import type { FieldPath } from '../../../core/field-path.js';
import type { HeaderCheck, PathCheck, RouteEntry } from '../../../policy/routes.js';
import type { SupportTable } from '../../../xds/decode.js';
import { RETRY_SUPPORT, translateRetryPolicy } from '../../filters/http/router/retry-config.js';
import { translateRegexMatcher, translateStringMatch } from '../common.js';
import type { TranslateContext } from '../context.js';
import { durationOr, type JsonObject, list, obj, str } from '../json.js';
import type {
  RouteActionConfig,
  RouteConfigurationConfig,
  StringMatch,
  WeightedClustersConfig,
} from '../model.js';
import { ROUTE_WEIGHTED_CLUSTERS_SUPPORT, translateWeightedClusters } from '../weighted-clusters.js';

/** Envoy's default route timeout. */
export const ROUTE_TIMEOUT_MS = 15_000;

export const ROUTE_SUPPORT: SupportTable = {
  'envoy.config.route.v3.RouteConfiguration': {
    name: 'Route configuration name (RDS, config dump).',
    virtual_hosts: 'Virtual hosts by domain.',
    validate_clusters:
      'Refuse the table when a route names an unknown cluster (default: on for an inline table, off over RDS); off: 503 NC at request time.',
    ignore_port_in_host_matching:
      'Drop the port of Host/:authority before picking a virtual host (Istio sets it).',
  },
  'envoy.config.route.v3.VirtualHost': {
    name: 'Name (statistics, config dump).',
    domains: 'Host/:authority values: exact, `*.suffix`, `prefix*`, `*`.',
    routes: 'Routes, first match wins.',
    retry_policy: 'The retry policy of routes that have none of their own (a route’s replaces it whole).',
    include_request_attempt_count: '`x-envoy-attempt-count` on upstream requests (Istio sets it).',
    include_attempt_count_in_response: '`x-envoy-attempt-count` on responses.',
  },
  'envoy.config.route.v3.Route': {
    name: 'Route name.',
    match: 'When the route applies.',
    route: 'Forward to a cluster.',
    decorator: 'Recorded.',
    metadata: 'Recorded.',
  },
  'envoy.config.route.v3.Decorator': {
    operation: 'Recorded.',
  },
  'envoy.config.route.v3.RouteMatch': {
    prefix: 'Path prefix.',
    path: 'Exact path (query excluded).',
    safe_regex: 'RE2 over the whole path.',
    path_separated_prefix: 'Prefix ending at a `/` boundary.',
    case_sensitive: 'Default true.',
    headers: 'Header matchers, all must hold.',
    query_parameters: 'Query parameter matchers, all must hold.',
  },
  'envoy.config.route.v3.HeaderMatcher': {
    name: 'Header name; the pseudo-headers `:method`, `:path` (with the query), `:authority` (also as `host`) and `:scheme` (an absolute-form target’s, an HTTP/2 request’s own, else https with TLS) are there over HTTP/1.1 too, as in Envoy’s header map.',
    string_match: 'How the value matches.',
    exact_match: 'Deprecated form of string_match.exact.',
    prefix_match: 'Deprecated form of string_match.prefix.',
    suffix_match: 'Deprecated form of string_match.suffix.',
    contains_match: 'Deprecated form of string_match.contains.',
    safe_regex_match: 'Deprecated form of string_match.safe_regex.',
    present_match: 'The header is present (true) or absent (false).',
    invert_match: 'Negate.',
  },
  'envoy.config.route.v3.QueryParameterMatcher': {
    name: 'Parameter name.',
    string_match: 'How the value matches.',
    present_match: 'The parameter is present.',
  },
  'envoy.config.route.v3.RouteAction': {
    cluster: 'The upstream cluster.',
    weighted_clusters: 'Several upstream clusters: one picked per request by weight (below).',
    timeout: 'Whole-request timeout (default 15s; 0s none); over → 504 UT.',
    retry_policy: 'When and how to retry the request.',
  },
  ...ROUTE_WEIGHTED_CLUSTERS_SUPPORT,
  ...RETRY_SUPPORT,
};

/** Where a route table comes from: inline in a connection manager (validates clusters by default) or RDS. */
export type RouteTableSource = 'inline' | 'rds';

/** Translates a RouteConfiguration at `path`. */
export function translateRouteConfiguration(
  rc: JsonObject,
  path: FieldPath,
  source: RouteTableSource,
  ctx: TranslateContext,
): RouteConfigurationConfig {
  const validate = rc.validate_clusters === undefined ? source === 'inline' : rc.validate_clusters === true;
  const virtualHosts = list(rc.virtual_hosts).map((v, i) => {
    const vh = obj(v);
    const at = [...path, 'virtual_hosts', i];
    // What the virtual host gives each of its routes' actions.
    const shared: Partial<RouteActionConfig> = {
      ...(vh.retry_policy === undefined
        ? {}
        : { retryPolicy: translateRetryPolicy(obj(vh.retry_policy), [...at, 'retry_policy'], ctx) }),
      ...(vh.include_request_attempt_count === true ? { includeAttemptCount: true } : {}),
      ...(vh.include_attempt_count_in_response === true ? { includeAttemptCountInResponse: true } : {}),
    };
    return {
      name: str(vh.name),
      domains: list(vh.domains).map(str),
      routes: list(vh.routes).map((r, j) =>
        translateRoute(obj(r), [...at, 'routes', j], validate, shared, ctx),
      ),
    };
  });
  return {
    name: str(rc.name),
    virtualHosts,
    ignorePortInHostMatching: rc.ignore_port_in_host_matching === true,
  };
}

function translatePathMatch(m: JsonObject, mp: FieldPath, ctx: TranslateContext): PathCheck {
  if (m.prefix !== undefined) return { kind: 'prefix', value: str(m.prefix) };
  if (m.path !== undefined) return { kind: 'path', value: str(m.path) };
  if (m.path_separated_prefix !== undefined)
    return { kind: 'separated-prefix', value: str(m.path_separated_prefix) };
  if (m.safe_regex !== undefined) {
    const sm = translateStringMatch({ safe_regex: m.safe_regex }, [...mp], ctx);
    return { kind: 'regex', value: sm.value, ...(sm.regex ? { regex: sm.regex } : {}) };
  }
  ctx.error(mp, 'proxy.required', 'a route match needs prefix, path, path_separated_prefix or safe_regex');
  return { kind: 'prefix', value: '/' };
}

const LEGACY_HEADER_MATCHES: [string, string][] = [
  ['exact_match', 'exact'],
  ['prefix_match', 'prefix'],
  ['suffix_match', 'suffix'],
  ['contains_match', 'contains'],
  ['safe_regex_match', 'safe_regex'],
];

function translateHeaderMatch(hm: JsonObject, at: FieldPath, ctx: TranslateContext): HeaderCheck {
  let check: StringMatch | undefined;
  if (hm.string_match !== undefined)
    check = translateStringMatch(obj(hm.string_match), [...at, 'string_match'], ctx);
  for (const [f, kind] of LEGACY_HEADER_MATCHES) {
    if (hm[f] === undefined) continue;
    check =
      kind === 'safe_regex'
        ? translateRegexMatcher(obj(hm[f]), [...at, f], ctx)
        : translateStringMatch({ [kind]: hm[f] } as JsonObject, [...at, f], ctx);
  }
  return {
    name: str(hm.name).toLowerCase(),
    check,
    present: hm.present_match === true || (check === undefined && hm.present_match === undefined),
    invert: hm.invert_match === true,
  };
}

function translateRoute(
  r: JsonObject,
  path: FieldPath,
  validateClusters: boolean,
  shared: Partial<RouteActionConfig>,
  ctx: TranslateContext,
): RouteEntry<RouteActionConfig> {
  const m = obj(r.match);
  const mp = [...path, 'match'];
  const headers = list(m.headers).map((x, i) => translateHeaderMatch(obj(x), [...mp, 'headers', i], ctx));
  const queryParameters = list(m.query_parameters).map((x, i) => {
    const q = obj(x);
    return {
      name: str(q.name),
      check:
        q.string_match === undefined
          ? undefined
          : translateStringMatch(obj(q.string_match), [...mp, 'query_parameters', i, 'string_match'], ctx),
    };
  });
  const action = obj(r.route);
  if (r.route === undefined)
    ctx.error(
      path,
      'proxy.required',
      'a route needs a route action (redirect and direct_response are not implemented)',
    );
  const cluster = str(action.cluster);
  const effect = validateClusters ? 'validate_clusters' : '503 NC';
  let weightedClusters: WeightedClustersConfig | undefined;
  if (r.route !== undefined && action.weighted_clusters !== undefined) {
    const at = [...path, 'route', 'weighted_clusters'];
    if (cluster !== '') {
      ctx.error(at, 'proxy.oneof', 'only one of cluster and weighted_clusters may be set');
    }
    weightedClusters = translateWeightedClusters(obj(action.weighted_clusters), at, 'route', effect, ctx);
  } else if (r.route !== undefined && cluster === '') {
    ctx.error(
      [...path, 'route', 'cluster'],
      'proxy.required',
      'a route action needs a cluster or weighted_clusters (cluster_header and cluster specifier plugins are not implemented)',
    );
  } else if (r.route !== undefined) {
    ctx.ref('cluster', cluster, [...path, 'route', 'cluster'], effect);
  }
  return {
    name: str(r.name),
    match: {
      path: translatePathMatch(m, mp, ctx),
      caseSensitive: m.case_sensitive !== false,
      headers,
      queryParameters,
    },
    action: {
      ...shared,
      cluster,
      ...(weightedClusters ? { weightedClusters } : {}),
      timeoutMs: durationOr(action.timeout, ROUTE_TIMEOUT_MS),
      // A route's own policy replaces the virtual host's whole, as Envoy ("values are not inherited").
      ...(action.retry_policy === undefined
        ? {}
        : {
            retryPolicy: translateRetryPolicy(
              obj(action.retry_policy),
              [...path, 'route', 'retry_policy'],
              ctx,
            ),
          }),
    },
  };
}
