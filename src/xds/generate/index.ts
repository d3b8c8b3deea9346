// Generation for one proxy: the mesh model, the policies and the proxy → the Envoy v3 resources istiod would send
// it, in local mode's shape (docs/control-plane.md). Pure. A sidecar gets everything here (LDS and CDS are
// wildcard types; EDS and RDS are served by name from the maps); a proxyless gRPC client (node metadata
// GENERATOR=grpc) asks by name and gets what gRPC understands from `generateGrpc`.
// Istio: pilot/pkg/networking/core (BuildListeners, BuildClusters, BuildHTTPRoutes), pilot/pkg/xds/endpoints.

import type { JsonObject } from '../decode.js';
import { outboundClusters } from './clusters.js';
import type { GenerationContext } from './context.js';
import { buildLoadAssignment } from './endpoints.js';
import { buildInbound } from './inbound.js';
import { buildOutboundListeners } from './outbound.js';
import type { ProxyNode } from './proxy.js';
import { buildRoutes, routeNames } from './routes.js';
import type { GenerationProblem, ProxyResources } from './types.js';

export { generateGrpc } from './grpc.js';
export type { GenerationProblem, ProxyResources } from './types.js';

export interface SidecarGeneration {
  resources: ProxyResources;
  /** What could not be generated as Istio would, each once (the control plane logs and shows them). */
  problems: GenerationProblem[];
}

/**
 * Everything a sidecar subscribes to, in Istio's order: outbound listeners, then the HTTP proxy listener, then
 * inbound (listener_builder.go getListeners); outbound clusters, BlackHoleCluster and PassthroughCluster, then
 * inbound (cluster.go buildClusters); a ClusterLoadAssignment for every EDS cluster; every route configuration a
 * listener names.
 */
export function generateSidecar(ctx: GenerationContext, node: ProxyNode): SidecarGeneration {
  const proxy = ctx.resolveProxy(node);
  const problems: GenerationProblem[] = [];
  const inbound = buildInbound(ctx, proxy);
  const outbound = outboundClusters(ctx, proxy);
  const listeners: JsonObject[] = [...buildOutboundListeners(ctx, proxy, problems), ...inbound.listeners];
  const clusters: JsonObject[] = [...outbound.clusters, ...inbound.clusters];
  const endpoints = new Map<string, JsonObject>();
  for (const c of outbound.clusters) {
    if (c.type === 'EDS') endpoints.set(String(c.name), buildLoadAssignment(ctx, proxy, String(c.name)));
  }
  const routes = new Map<string, JsonObject>();
  for (const r of buildRoutes(ctx, proxy, routeNames(listeners), problems)) routes.set(String(r.name), r);
  problems.push(...outbound.problems, ...inbound.problems);
  return { resources: { listeners, clusters, endpoints, routes }, problems: unique(problems) };
}

function unique(problems: GenerationProblem[]): GenerationProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.severity} ${p.code} ${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
