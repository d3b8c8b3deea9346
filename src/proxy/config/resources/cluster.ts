// The Cluster resource: type (STATIC, or EDS with its endpoints from a ClusterLoadAssignment), load balancing,
// connect timeout, the transport to each endpoint (the cluster's socket or the first transport socket match on
// the endpoint's metadata: auto mTLS), upstream HTTP protocol options and Istio's service metadata.

import { showValue } from '../../../core/diagnostics.js';
import type { FieldPath } from '../../../core/field-path.js';
import type { SupportTable } from '../../../xds/decode.js';
import { translateSocketAddress } from '../common.js';
import type { TranslateContext } from '../context.js';
import { durationOr, type JsonObject, list, obj, str, typeOf } from '../json.js';
import type { ClusterConfig, TransportSocketMatch, UpstreamTransport } from '../model.js';
import { translateLoadAssignment } from './endpoint.js';

/** Envoy's default `connect_timeout`. */
export const CONNECT_TIMEOUT_MS = 5_000;

export const CLUSTER_SUPPORT: SupportTable = {
  'envoy.config.cluster.v3.Cluster': {
    name: 'Cluster name (`inbound|9080||`, `outbound|9080||host`).',
    type: 'STATIC or EDS (in a static bootstrap an EDS cluster takes its ClusterLoadAssignment from `load_assignment`).',
    eds_cluster_config: 'Recorded (the EDS service name for the control plane).',
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
  const la = obj(c.load_assignment);
  if (c.load_assignment === undefined) {
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
    endpoints: translateLoadAssignment(la, [...path, 'load_assignment'], ctx).endpoints,
    transport: translateUpstreamTransport(
      c.transport_socket === undefined ? undefined : obj(c.transport_socket),
      [...path, 'transport_socket'],
      ctx,
    ),
    transportSocketMatches,
    httpProtocol: translateProtocolOptions(c, path, ctx),
    filterMetadata: obj(obj(c.metadata).filter_metadata),
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
