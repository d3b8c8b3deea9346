// What one proxy's filters share for Istio's telemetry: the metric families, this proxy's peer metadata headers
// (encoded once), the cache of peers' headers, and each route's service resolver. Made on first use, so a proxy
// without Istio's filters exports no Istio metric.

import type { NodeInfo } from '../config/model.js';
import type { StatsStore } from '../stats/index.js';
import { IstioMetrics } from './istio-metrics.js';
import { clusterServiceInfo, type ServiceRef, serviceResolver } from './labels.js';
import { encodePeerMetadata, PeerMetadataCache } from './peer-metadata.js';
import { statsWorkloadFromNode, workloadFromNode } from './workload.js';

export class ProxyTelemetry {
  readonly metrics: IstioMetrics;
  /** The `x-envoy-peer-metadata` value this proxy sends. */
  readonly peerMetadata: string;
  /** The `x-envoy-peer-metadata-id` value this proxy sends (its node id). */
  readonly peerMetadataId: string;
  readonly peers = new PeerMetadataCache();
  private readonly resolvers = new Map<string, (host: string | undefined) => ServiceRef>();

  constructor(store: StatsStore, node: NodeInfo) {
    this.metrics = new IstioMetrics(store, statsWorkloadFromNode(node.parsed), {
      istioVersion: node.parsed.istioVersion,
    });
    this.peerMetadata = encodePeerMetadata(workloadFromNode(node.parsed));
    this.peerMetadataId = node.id;
  }

  /** The destination service resolver of one route name and cluster (made once, then shared). */
  resolver(
    routeName: string | undefined,
    cluster: { name: string; filterMetadata: unknown } | undefined,
  ): (host: string | undefined) => ServiceRef {
    const key = `${routeName ?? ''}\u0000${cluster?.name ?? ''}`;
    let r = this.resolvers.get(key);
    if (r === undefined) {
      r = serviceResolver(
        routeName,
        cluster ? clusterServiceInfo(cluster.name, cluster.filterMetadata) : undefined,
      );
      this.resolvers.set(key, r);
    }
    return r;
  }
}
