// What generation produces for one proxy: Envoy v3 resources in their proto3 JSON form (snake_case field
// names, `@type` on every Any), exactly what an ADS response carries and what the sidecar's per-resource
// translation reads.

import type { JsonObject } from '../decode.js';

export interface ProxyResources {
  /** LDS: every listener (a wildcard type). */
  listeners: JsonObject[];
  /** CDS: every cluster (a wildcard type). */
  clusters: JsonObject[];
  /** EDS: the ClusterLoadAssignment of each EDS cluster, by cluster name (proxies subscribe by name). */
  endpoints: Map<string, JsonObject>;
  /** RDS: each RouteConfiguration the listeners name, by name (proxies subscribe by name). */
  routes: Map<string, JsonObject>;
}

/** Something generation skipped (error) or changed (warning), for the operator: the control plane reports it. */
export interface GenerationProblem {
  severity: 'error' | 'warning';
  code: string;
  message: string;
}
