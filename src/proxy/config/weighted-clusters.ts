// `weighted_clusters` as a route action (envoy.config.route.v3.WeightedCluster) and a tcp_proxy
// (TcpProxy.WeightedCluster) write them: clusters with weights, one picked per request or connection in proportion
// to its weight (upstream/weighted-clusters.ts). Checked as Envoy checks them: the router refuses a cluster without
// a name or a weight, a sum of 0 and a sum above 2^32 - 1 (WeightedClusterSpecifierPlugin); tcp_proxy's proto asks
// a name and a weight of at least 1. Every name is a cluster reference (references.ts).

import { showValue } from '../../core/diagnostics.js';
import type { FieldPath } from '../../core/field-path.js';
import type { SupportTable } from '../../xds/decode.js';
import type { TranslateContext } from './context.js';
import { type JsonObject, list, num, obj, str } from './json.js';
import type { ClusterWeightConfig, WeightedClustersConfig } from './model.js';

/** The largest sum of weights Envoy's router takes (uint32). */
export const MAX_TOTAL_WEIGHT = 4_294_967_295;

export const ROUTE_WEIGHTED_CLUSTERS_SUPPORT: SupportTable = {
  'envoy.config.route.v3.WeightedCluster': {
    clusters:
      'The clusters: each request goes to one, picked at random in proportion to its weight (as Envoy: a random value modulo the sum of the weights); its retries stay on it. The sum must be above 0 and at most 4294967295.',
    total_weight:
      'Deprecated in v3: Envoy uses the sum of the weights. Accepted when it is that sum (or 0); another value is refused, since it says the weights are not what was meant.',
  },
  'envoy.config.route.v3.WeightedCluster.ClusterWeight': {
    name: 'The cluster (required: `cluster_header` is not implemented).',
    weight: 'Its share: weight / the sum of the weights (required, as in Envoy; 0: never picked).',
  },
};

export const TCP_WEIGHTED_CLUSTERS_SUPPORT: SupportTable = {
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster': {
    clusters:
      'The clusters: each connection goes to one, picked at random in proportion to its weight (as Envoy).',
  },
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster.ClusterWeight': {
    name: 'The cluster.',
    weight: 'Its share: weight / the sum of the weights (at least 1).',
  },
};

/**
 * A `weighted_clusters` at `path`: of a route action (`route`) or of a tcp_proxy (`tcp_proxy`). `effect` is what
 * a missing cluster does, for its reference.
 */
export function translateWeightedClusters(
  wc: JsonObject,
  path: FieldPath,
  owner: 'route' | 'tcp_proxy',
  effect: string,
  ctx: TranslateContext,
): WeightedClustersConfig {
  const clusters: ClusterWeightConfig[] = [];
  let totalWeight = 0;
  list(wc.clusters).forEach((c, i) => {
    const cw = obj(c);
    const at = [...path, 'clusters', i];
    const name = str(cw.name);
    if (name === '') {
      ctx.error(
        [...at, 'name'],
        'proxy.required',
        owner === 'route'
          ? 'a weighted cluster needs a name (cluster_header is not implemented; Envoy: "At least one of name or cluster_header need to be specified")'
          : 'a weighted cluster needs a name',
      );
    } else ctx.ref('cluster', name, [...at, 'name'], effect);
    if (cw.weight === undefined && owner === 'route') {
      ctx.error(
        [...at, 'weight'],
        'proxy.required',
        'a weighted cluster needs a weight (Envoy refuses it without)',
      );
    }
    const weight = num(cw.weight);
    if (owner === 'tcp_proxy' && weight < 1) {
      ctx.error([...at, 'weight'], 'proxy.weight', `weight ${showValue(weight)} must be at least 1`);
    }
    clusters.push({ name, weight });
    totalWeight += weight;
  });
  if (clusters.length === 0) {
    ctx.error([...path, 'clusters'], 'proxy.required', 'weighted_clusters needs at least one cluster');
  } else if (totalWeight === 0) {
    ctx.error(
      [...path, 'clusters'],
      'proxy.weight',
      'the sum of the weights must be above 0 (Envoy: "Sum of weights in the weighted_cluster must be greater than 0.")',
    );
  } else if (owner === 'route' && totalWeight > MAX_TOTAL_WEIGHT) {
    ctx.error(
      [...path, 'clusters'],
      'proxy.weight',
      `the sum of the weights, ${totalWeight}, exceeds ${MAX_TOTAL_WEIGHT} (Envoy refuses it)`,
    );
  }
  if (owner === 'route' && wc.total_weight !== undefined) {
    const declared = num(wc.total_weight);
    if (declared !== 0 && declared !== totalWeight) {
      ctx.error(
        [...path, 'total_weight'],
        'proxy.weight',
        `total_weight ${declared} is not the sum of the weights (${totalWeight}): Envoy's v3 router ignores this deprecated field and uses the sum; give the weights you mean and drop total_weight`,
      );
    }
  }
  return { clusters, totalWeight };
}
