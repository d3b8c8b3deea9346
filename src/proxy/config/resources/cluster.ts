// The Cluster resource: type (STATIC, or EDS with its endpoints from a ClusterLoadAssignment), load balancing,
// connect timeout, the transport to each endpoint (the cluster's socket or the first transport socket match on
// the endpoint's metadata: auto mTLS), upstream HTTP protocol options and Istio's service metadata.

import { showValue } from '../../../core/diagnostics.js';
import type { FieldPath } from '../../../core/field-path.js';
import type { SupportTable } from '../../../xds/decode.js';
import { OUTLIER_DEFAULTS, type OutlierDetectionConfig } from '../../upstream/outlier-detector.js';
import { translateSocketAddress } from '../common.js';
import type { TranslateContext } from '../context.js';
import { durationOr, type JsonObject, list, num, obj, str, typeOf, wrapped } from '../json.js';
import type { ClusterConfig, TransportSocketMatch, UpstreamTransport } from '../model.js';
import { translateLoadAssignment } from './endpoint.js';

/** Envoy's default `connect_timeout`. */
export const CONNECT_TIMEOUT_MS = 5_000;

export const CLUSTER_SUPPORT: SupportTable = {
  'envoy.config.cluster.v3.Cluster': {
    name: 'Cluster name (`inbound|9080||`, `outbound|9080||host`).',
    type: 'STATIC or EDS (over xDS an EDS cluster’s endpoints are a ClusterLoadAssignment resource; in a static bootstrap, its `load_assignment`).',
    eds_cluster_config:
      '`service_name`: the ClusterLoadAssignment resource to use (default: the cluster’s name); `eds_config` is recorded.',
    transport_socket:
      'Transport to endpoints no transport socket match selects: an extension of category `envoy.transport_sockets.upstream`.',
    transport_socket_matches: 'Per-endpoint transport by endpoint metadata (auto mTLS).',
    connect_timeout: 'Time allowed to connect to an endpoint (default 5s).',
    load_assignment: 'The endpoints.',
    lb_policy: 'ROUND_ROBIN or LEAST_REQUEST.',
    metadata:
      '`filter_metadata.istio.services[0]` (`host`, `name`, `namespace`) names the destination service in Istio’s metrics; the rest is recorded.',
    typed_extension_protocol_options:
      '`envoy.extensions.upstreams.http.v3.HttpProtocolOptions`: the HTTP protocol towards the endpoints.',
    upstream_bind_config: 'The source address of connections to the endpoints.',
    outlier_detection: 'Ejects failing endpoints for a while (none without it, as Envoy).',
    common_lb_config: 'The healthy panic threshold.',
    circuit_breakers:
      'Default-priority thresholds: `max_retries` is enforced; connections, pending and active requests are not limited by Skiff, so only their “unlimited” value (4294967295, what Istio sets) is accepted.',
  },
  'envoy.config.cluster.v3.CircuitBreakers': {
    thresholds: 'One entry per priority; only DEFAULT (Skiff has one priority).',
  },
  'envoy.config.cluster.v3.CircuitBreakers.Thresholds': {
    priority: 'DEFAULT only.',
    max_connections: '4294967295 only (Skiff does not limit connections per cluster).',
    max_pending_requests: '4294967295 only (Skiff does not queue requests).',
    max_requests: '4294967295 only (Skiff does not limit requests per cluster).',
    max_retries:
      'Retries in flight at once across the cluster (default 3); over it a retry is not made (`upstream_rq_retry_overflow`).',
    track_remaining: 'Accepted (Skiff publishes no `remaining_*` gauges).',
  },
  'envoy.config.cluster.v3.Cluster.CommonLbConfig': {
    healthy_panic_threshold:
      'Below this share of available endpoints (default 50%), the balancer uses every endpoint, ejected and unhealthy ones too; 0 turns panic off (Istio).',
  },
  'envoy.type.v3.Percent': { value: 'Percent, 0 to 100.' },
  'envoy.config.cluster.v3.OutlierDetection': {
    consecutive_5xx:
      'Consecutive 5xx (connect failures count as 503, timeouts as 504) that eject an endpoint (default 5).',
    consecutive_gateway_failure:
      'Consecutive 502/503/504 that eject (default 5; enforced only with enforcing_consecutive_gateway_failure).',
    consecutive_local_origin_failure:
      'With split_external_local_origin_errors: consecutive connect failures and timeouts (default 5).',
    split_external_local_origin_errors: 'Count the proxy’s own failures apart from the endpoint’s responses.',
    interval: 'How often ejections are reviewed and success rates computed (default 10s).',
    base_ejection_time: 'An ejection lasts this times the number of ejections (default 30s).',
    max_ejection_time: 'The longest ejection (default 300s or base_ejection_time).',
    max_ejection_time_jitter: 'Random extra ejection time up to this.',
    max_ejection_percent:
      'At most this share of the endpoints ejected at once (default 10: fewer than 10 endpoints never eject).',
    always_eject_one_host: 'One endpoint may be ejected whatever max_ejection_percent says.',
    enforcing_consecutive_5xx: 'Percent chance a consecutive-5xx detection ejects (default 100).',
    enforcing_consecutive_gateway_failure: 'Percent chance a gateway-failure detection ejects (default 0).',
    enforcing_consecutive_local_origin_failure: 'Percent for local-origin failures (default 100).',
    enforcing_success_rate: 'Percent for success-rate outliers (default 100; Istio sets 0).',
    enforcing_local_origin_success_rate: 'Percent for local-origin success-rate outliers (default 100).',
    success_rate_minimum_hosts:
      'Endpoints with enough requests needed for the success-rate check (default 5).',
    success_rate_request_volume: 'Requests in an interval for an endpoint to count (default 100).',
    success_rate_stdev_factor: 'Ejected below mean − factor/1000 × stdev (default 1900).',
    failure_percentage_threshold: 'Failure percentage that ejects (default 85).',
    enforcing_failure_percentage: 'Percent for failure-percentage outliers (default 0).',
    enforcing_failure_percentage_local_origin:
      'Percent for local-origin failure-percentage outliers (default 0).',
    failure_percentage_minimum_hosts: 'Endpoints needed for the failure-percentage check (default 5).',
    failure_percentage_request_volume: 'Requests in an interval for an endpoint to count (default 50).',
    successful_active_health_check_uneject_host: 'Accepted (Skiff has no active health checks).',
  },
  'envoy.config.core.v3.BindConfig': {
    source_address:
      'Bound before connecting (port 0: any); a failed bind counts `bind_errors` and fails the connection.',
  },
  'envoy.config.cluster.v3.Cluster.EdsClusterConfig': {
    eds_config: 'Where EDS comes from (`ads: {}`); recorded.',
    service_name: 'The EDS resource name; recorded.',
  },
  'envoy.config.cluster.v3.Cluster.TransportSocketMatch': {
    name: 'Match name (statistics, config dump).',
    match:
      'Key/values that must all equal the endpoint’s `envoy.transport_socket_match` metadata; `{}` matches all.',
    transport_socket: 'The transport for matching endpoints.',
  },
};

function translateUpstreamTransport(
  ts: JsonObject | undefined,
  path: FieldPath,
  ctx: TranslateContext,
): UpstreamTransport {
  if (!ts) return { kind: 'raw' };
  return ctx.registry.translate('envoy.transport_sockets.upstream', ts, path, ctx) ?? { kind: 'raw' };
}

/** `typed_extension_protocol_options`: each entry an extension found by its type. */
function translateProtocolOptions(
  c: JsonObject,
  path: FieldPath,
  ctx: TranslateContext,
): ClusterConfig['httpProtocol'] {
  let protocol: ClusterConfig['httpProtocol'] = 'http1';
  for (const [key, value] of Object.entries(obj(c.typed_extension_protocol_options))) {
    const at = [...path, 'typed_extension_protocol_options', key];
    const typed = obj(value);
    const category = 'envoy.upstreams.http.http_protocol_options';
    const e = ctx.registry.find(category, typeOf(typed));
    if (!e) {
      ctx.error(
        at,
        'proxy.unsupported',
        `protocol options ${typeOf(typed) || key} are not implemented; expected ${ctx.registry.namesOf(category).join(', ')}`,
      );
      continue;
    }
    protocol = e.translate(typed, at, ctx) ?? protocol;
  }
  return protocol;
}

/** OutlierDetection with Envoy's defaults for what it leaves out. */
function translateOutlierDetection(
  o: JsonObject,
  path: FieldPath,
  ctx: TranslateContext,
): OutlierDetectionConfig {
  const d = OUTLIER_DEFAULTS;
  const n = (field: string, fallback: number) => wrapped(o[field], fallback);
  const baseEjectionMs = durationOr(o.base_ejection_time, d.baseEjectionMs);
  const maxEjectionMs = durationOr(o.max_ejection_time, Math.max(d.maxEjectionMs, baseEjectionMs));
  if (maxEjectionMs < baseEjectionMs) {
    ctx.error(
      [...path, 'max_ejection_time'],
      'proxy.outlier',
      "outlier detector's max_ejection_time cannot be smaller than base_ejection_time",
    );
  }
  return {
    consecutive5xx: n('consecutive_5xx', d.consecutive5xx),
    enforcingConsecutive5xx: n('enforcing_consecutive_5xx', d.enforcingConsecutive5xx),
    consecutiveGatewayFailure: n('consecutive_gateway_failure', d.consecutiveGatewayFailure),
    enforcingConsecutiveGatewayFailure: n(
      'enforcing_consecutive_gateway_failure',
      d.enforcingConsecutiveGatewayFailure,
    ),
    splitExternalLocalOriginErrors: o.split_external_local_origin_errors === true,
    consecutiveLocalOriginFailure: n('consecutive_local_origin_failure', d.consecutiveLocalOriginFailure),
    enforcingConsecutiveLocalOriginFailure: n(
      'enforcing_consecutive_local_origin_failure',
      d.enforcingConsecutiveLocalOriginFailure,
    ),
    intervalMs: durationOr(o.interval, d.intervalMs),
    baseEjectionMs,
    maxEjectionMs,
    maxEjectionJitterMs: durationOr(o.max_ejection_time_jitter, d.maxEjectionJitterMs),
    maxEjectionPercent: n('max_ejection_percent', d.maxEjectionPercent),
    alwaysEjectOneHost: o.always_eject_one_host === true,
    enforcingSuccessRate: n('enforcing_success_rate', d.enforcingSuccessRate),
    successRateMinimumHosts: n('success_rate_minimum_hosts', d.successRateMinimumHosts),
    successRateRequestVolume: n('success_rate_request_volume', d.successRateRequestVolume),
    successRateStdevFactor: n('success_rate_stdev_factor', d.successRateStdevFactor),
    enforcingLocalOriginSuccessRate: n(
      'enforcing_local_origin_success_rate',
      d.enforcingLocalOriginSuccessRate,
    ),
    failurePercentageThreshold: n('failure_percentage_threshold', d.failurePercentageThreshold),
    enforcingFailurePercentage: n('enforcing_failure_percentage', d.enforcingFailurePercentage),
    enforcingFailurePercentageLocalOrigin: n(
      'enforcing_failure_percentage_local_origin',
      d.enforcingFailurePercentageLocalOrigin,
    ),
    failurePercentageMinimumHosts: n('failure_percentage_minimum_hosts', d.failurePercentageMinimumHosts),
    failurePercentageRequestVolume: n('failure_percentage_request_volume', d.failurePercentageRequestVolume),
  };
}

/** What circuit_breakers can say that Skiff does: the retry budget; the other limits only when unlimited. */
const UNLIMITED = 4294967295;

function translateCircuitBreakers(
  c: JsonObject,
  path: FieldPath,
  ctx: TranslateContext,
): { maxRetries?: number } {
  if (c.circuit_breakers === undefined) return {};
  let maxRetries: number | undefined;
  list(obj(c.circuit_breakers).thresholds).forEach((t, i) => {
    const th = obj(t);
    const at = [...path, 'circuit_breakers', 'thresholds', i];
    const priority = str(th.priority) || 'DEFAULT';
    if (priority !== 'DEFAULT') {
      ctx.error(
        [...at, 'priority'],
        'proxy.unsupported',
        `priority ${priority} is not implemented; expected DEFAULT`,
      );
      return;
    }
    for (const f of ['max_connections', 'max_pending_requests', 'max_requests'] as const) {
      const v = th[f];
      if (v !== undefined && num(v) !== UNLIMITED) {
        ctx.error(
          [...at, f],
          'proxy.unsupported',
          `${f} ${showValue(v)} is not implemented: Skiff does not limit this; expected ${UNLIMITED} (unlimited) or nothing`,
        );
      }
    }
    if (th.max_retries !== undefined) maxRetries = num(th.max_retries);
  });
  return maxRetries === undefined ? {} : { maxRetries };
}

/** Translates a Cluster at `path`. */
export function translateCluster(c: JsonObject, path: FieldPath, ctx: TranslateContext): ClusterConfig {
  const name = str(c.name);
  if (name === '') ctx.error([...path, 'name'], 'proxy.cluster', 'a cluster needs a name');
  const type = str(c.type) || 'STATIC';
  if (type !== 'STATIC' && type !== 'EDS') {
    ctx.error(
      [...path, 'type'],
      'proxy.unsupported',
      `cluster type ${type} is not implemented; expected STATIC or EDS`,
    );
  }
  const lbPolicy = str(c.lb_policy) || 'ROUND_ROBIN';
  if (lbPolicy !== 'ROUND_ROBIN' && lbPolicy !== 'LEAST_REQUEST') {
    ctx.error(
      [...path, 'lb_policy'],
      'proxy.unsupported',
      `lb_policy ${lbPolicy} is not implemented; expected ROUND_ROBIN or LEAST_REQUEST`,
    );
  }
  // Envoy's proto requires connect_timeout > 0 (validate duration gt {}, which the proto loader loses).
  if (c.connect_timeout !== undefined && durationOr(c.connect_timeout, 1) <= 0) {
    ctx.error(
      [...path, 'connect_timeout'],
      'proxy.validate',
      `${showValue(c.connect_timeout)} must be greater than 0s`,
    );
  }
  const la = obj(c.load_assignment);
  // Over xDS an EDS cluster's endpoints are its own ClusterLoadAssignment resource (by eds_cluster_config's
  // service_name, else the cluster's name); Envoy does not read load_assignment for EDS clusters then.
  const fromEds = type === 'EDS' && ctx.origin === 'xds';
  if (fromEds) {
    if (c.load_assignment !== undefined) {
      ctx.warn(
        [...path, 'load_assignment'],
        'proxy.cluster',
        'ignored: an EDS cluster takes its endpoints from its ClusterLoadAssignment resource',
      );
    }
  } else if (c.load_assignment === undefined) {
    ctx.error(
      [...path, 'load_assignment'],
      'proxy.cluster',
      type === 'EDS'
        ? 'an EDS cluster in a static bootstrap takes its ClusterLoadAssignment from load_assignment (xDS is not implemented yet)'
        : 'a STATIC cluster needs load_assignment',
    );
  } else if (la.cluster_name !== undefined && str(la.cluster_name) !== name) {
    ctx.warn(
      [...path, 'load_assignment', 'cluster_name'],
      'proxy.cluster',
      `cluster_name ${showValue(la.cluster_name)} differs from the cluster's name ${showValue(name)}`,
    );
  }
  const transportSocketMatches: TransportSocketMatch[] = list(c.transport_socket_matches).map((m, i) => {
    const match = obj(m);
    const at = [...path, 'transport_socket_matches', i, 'transport_socket'];
    return {
      name: str(match.name),
      match: obj(match.match),
      transport: translateUpstreamTransport(
        match.transport_socket === undefined ? undefined : obj(match.transport_socket),
        at,
        ctx,
      ),
    };
  });
  return {
    name,
    type: type === 'EDS' ? 'EDS' : 'STATIC',
    connectTimeoutMs: durationOr(c.connect_timeout, CONNECT_TIMEOUT_MS),
    lbPolicy: lbPolicy === 'LEAST_REQUEST' ? 'LEAST_REQUEST' : 'ROUND_ROBIN',
    endpoints: fromEds ? [] : translateLoadAssignment(la, [...path, 'load_assignment'], ctx).endpoints,
    ...(fromEds ? { edsServiceName: str(obj(c.eds_cluster_config).service_name) || name } : {}),
    ...translateCircuitBreakers(c, path, ctx),
    transport: translateUpstreamTransport(
      c.transport_socket === undefined ? undefined : obj(c.transport_socket),
      [...path, 'transport_socket'],
      ctx,
    ),
    transportSocketMatches,
    httpProtocol: translateProtocolOptions(c, path, ctx),
    filterMetadata: obj(obj(c.metadata).filter_metadata),
    ...(c.outlier_detection === undefined
      ? {}
      : {
          outlierDetection: translateOutlierDetection(
            obj(c.outlier_detection),
            [...path, 'outlier_detection'],
            ctx,
          ),
        }),
    ...(c.common_lb_config === undefined
      ? {}
      : { healthyPanicThreshold: num(obj(obj(c.common_lb_config).healthy_panic_threshold).value ?? 50) }),
    ...(c.upstream_bind_config === undefined
      ? {}
      : {
          upstreamBind: translateSocketAddress(
            obj(obj(c.upstream_bind_config).source_address),
            [...path, 'upstream_bind_config', 'source_address'],
            ctx,
          ),
        }),
  };
}
