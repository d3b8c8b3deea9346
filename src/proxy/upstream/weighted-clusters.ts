// Envoy's pick among `weighted_clusters` (router: WeightedClusterSpecifierPlugin's pickClusterIndex; tcp_proxy:
// WeightedClusterUtil::pickCluster): a random value modulo the sum of the weights falls in one cluster's interval,
// [0, w1), [w1, w1 + w2), … in configuration order — each cluster is picked with probability weight / sum, a
// weight of 0 never. The router picks once per request (the stream's route is cached, so its retries stay on the
// cluster picked), tcp_proxy once per connection. Pure.

import type { WeightedClustersConfig } from '../config/model.js';

/** The cluster whose interval holds `selected` (an integer in [0, totalWeight)). */
export function clusterAt(w: WeightedClustersConfig, selected: number): string {
  let end = 0;
  for (const c of w.clusters) {
    end += c.weight;
    if (selected < end) return c.name;
  }
  // Unreachable with selected < totalWeight (the translation makes totalWeight the sum of the weights).
  return w.clusters[w.clusters.length - 1]?.name ?? '';
}

/** One cluster, at random in proportion to the weights; `random` gives a number in [0, 1) (Math.random). */
export function pickWeightedCluster(w: WeightedClustersConfig, random: () => number = Math.random): string {
  return clusterAt(w, Math.min(Math.floor(random() * w.totalWeight), w.totalWeight - 1));
}

/** The cluster of a route action or tcp_proxy: its one cluster, or one picked from its weighted clusters. */
export function pickCluster(
  target: { cluster: string; weightedClusters?: WeightedClustersConfig },
  random?: () => number,
): string {
  return target.weightedClusters ? pickWeightedCluster(target.weightedClusters, random) : target.cluster;
}
