// The ClusterLoadAssignment resource (EDS, or a cluster's inline `load_assignment`): a cluster's endpoints with
// their health and metadata (transport socket matches read `envoy.transport_socket_match`).

import type { FieldPath } from '../../../core/field-path.js';
import type { SupportTable } from '../../../xds/decode.js';
import { translateAddress } from '../common.js';
import type { TranslateContext } from '../context.js';
import { type JsonObject, list, num, obj, str } from '../json.js';
import type { EndpointConfig } from '../model.js';

export const ENDPOINT_SUPPORT: SupportTable = {
  'envoy.config.endpoint.v3.ClusterLoadAssignment': {
    cluster_name: 'The cluster these endpoints are for.',
    endpoints: 'Endpoints by locality.',
  },
  'envoy.config.endpoint.v3.LocalityLbEndpoints': {
    locality: 'Recorded.',
    lb_endpoints: 'The endpoints.',
    load_balancing_weight:
      'Recorded: locality weights apply only with the cluster’s locality_weighted_lb_config, which Skiff does not implement (Envoy ignores them too then).',
  },
  'envoy.config.endpoint.v3.LbEndpoint': {
    endpoint: 'Address of the endpoint.',
    health_status: 'UNHEALTHY, DRAINING and TIMEOUT endpoints get no new connections.',
    load_balancing_weight:
      'The endpoint’s share of picks relative to the others (default 1): weighted round robin, or for LEAST_REQUEST weight divided by active requests + 1, as Envoy.',
    metadata: 'Recorded (transport socket matches read it).',
  },
  'envoy.config.endpoint.v3.Endpoint': {
    address: 'Where to connect.',
    hostname: 'Recorded.',
  },
  'envoy.config.core.v3.Locality': {
    region: 'Recorded.',
    zone: 'Recorded.',
    sub_zone: 'Recorded.',
  },
};

export interface LoadAssignmentConfig {
  clusterName: string;
  endpoints: EndpointConfig[];
}

const NOT_SERVING = ['UNHEALTHY', 'DRAINING', 'TIMEOUT'];

/** Translates a ClusterLoadAssignment at `path`. */
export function translateLoadAssignment(
  la: JsonObject,
  path: FieldPath,
  ctx: TranslateContext,
): LoadAssignmentConfig {
  const endpoints: EndpointConfig[] = [];
  list(la.endpoints).forEach((group, g) => {
    list(obj(group).lb_endpoints).forEach((e, i) => {
      const lb = obj(e);
      const at = [...path, 'endpoints', g, 'lb_endpoints', i];
      const metadata = obj(lb.metadata);
      const weight = lb.load_balancing_weight;
      endpoints.push({
        address: translateAddress(obj(obj(lb.endpoint).address), [...at, 'endpoint', 'address'], ctx),
        healthy: !NOT_SERVING.includes(str(lb.health_status) || 'UNKNOWN'),
        ...(weight === undefined ? {} : { weight: Math.max(1, num(weight)) }),
        metadata,
        transportMatch: obj(obj(metadata.filter_metadata)['envoy.transport_socket_match']),
      });
    });
  });
  return { clusterName: str(la.cluster_name), endpoints };
}
