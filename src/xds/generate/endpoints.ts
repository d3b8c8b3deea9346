// EDS: the ClusterLoadAssignment of an outbound cluster — a service port's endpoints (a subset's, for a subset
// cluster) grouped by locality, each with its weight, health and the metadata the client sidecar reads: the
// `envoy.transport_socket_match` that selects mTLS for it (auto mTLS) and the `istio.workload` telemetry names.
// Pure; cached per service (and proxy namespace, which picks the DestinationRule).
// Istio: pilot/pkg/xds/endpoints/endpoint_builder.go (BuildClusterLoadAssignment, generate, buildEnvoyLbEndpoint),
// pilot/pkg/xds/endpoints/mtls_checker.go (checkMtlsEnabled, tlsModeForDestinationRule),
// pilot/pkg/networking/util/util.go (AppendLbEndpointMetadata, ConvertLocality).

import type { DestinationRuleSpec } from '../../config/kinds/destination-rule.js';
import { isIpAddress } from '../../config/kinds/istio-common.js';
import { selects } from '../../model/build.js';
import type { EndpointModel, ServiceModel, ServicePortModel } from '../../model/types.js';
import type { DestinationRuleSpec as PolicyDestinationRule } from '../../policy/types.js';
import { tlsModeForDestinationRule } from '../../policy/upstream-tls.js';
import type { JsonObject } from '../decode.js';
import { endpointPort, type GenerationContext } from './context.js';
import { parseClusterName } from './names.js';
import type { ProxyNode } from './proxy.js';

/** Istio's default cluster ID (pkg/config/constants DefaultClusterName), the last field of `istio.workload`. */
export const DEFAULT_CLUSTER_ID = 'Kubernetes';
/** The endpoint metadata key transport socket matches read (util.EnvoyTransportSocketMetadataKey). */
export const TRANSPORT_SOCKET_MATCH_KEY = 'envoy.transport_socket_match';
const MAX_UINT32 = 4294967295;

/** A subset cluster's subset: its name (for the DestinationRule's TLS) and the labels its endpoints carry. */
export interface SubsetRef {
  name: string;
  labels: Readonly<Record<string, string>>;
}

/**
 * `BuildClusterLoadAssignment` for `outbound|PORT|SUBSET|HOST` as `proxy` sees it. A name that is not an
 * outbound cluster of a known service port (or subset), a service resolved by DNS (its cluster carries its
 * endpoints inline) or a port without endpoints gives `{cluster_name}` only, as Istio's empty assignment.
 */
export function buildLoadAssignment(
  ctx: GenerationContext,
  proxy: ProxyNode,
  clusterName: string,
): JsonObject {
  const empty: JsonObject = { cluster_name: clusterName };
  const parsed = parseClusterName(clusterName);
  if (parsed?.direction !== 'outbound') return empty;
  const service = ctx.service(parsed.host);
  const port = service?.ports.find((p) => p.port === parsed.port);
  if (!service || !port) return empty;
  // Istio's findShards: a DNS cluster is not served over EDS.
  if (service.resolution === 'DNS' || service.resolution === 'DNS_ROUND_ROBIN') return empty;
  // Cached per service: what follows depends on the proxy only through its namespace (the DestinationRule).
  return ctx.memo(service, `eds|${proxy.namespace}|${clusterName}`, () => {
    try {
      return assignment(ctx, proxy, service, port, parsed.subset, clusterName);
    } catch {
      // Generation never throws; CDS reports what fails for the same service (an empty assignment here).
      return empty;
    }
  });
}

/** The assignment of a known service port (and subset, '' for none). */
function assignment(
  ctx: GenerationContext,
  proxy: ProxyNode,
  service: ServiceModel,
  port: ServicePortModel,
  subsetName: string,
  clusterName: string,
): JsonObject {
  const empty: JsonObject = { cluster_name: clusterName };
  const dr = ctx.destinationRule(service, proxy.namespace)?.spec;
  let subset: SubsetRef | undefined;
  if (subsetName !== '') {
    const found = dr?.subsets?.find((s) => s.name === subsetName);
    if (!found) return empty;
    subset = { name: found.name, labels: found.labels ?? {} };
  }
  const groups = localityLbEndpoints(ctx, service, port, subset, dr);
  return groups.length === 0 ? empty : { cluster_name: clusterName, endpoints: groups };
}

/**
 * The `LocalityLbEndpoints` of one service port (`generate`): endpoints with an IP address (Istio drops host
 * names from EDS), of the subset when there is one, grouped by locality label and sorted by it; each group's
 * weight is the sum of its endpoints' (capped at 2^32-1, as Istio's addUint32).
 */
export function localityLbEndpoints(
  ctx: GenerationContext,
  service: ServiceModel,
  port: ServicePortModel,
  subset: SubsetRef | undefined,
  dr: DestinationRuleSpec | undefined,
): JsonObject[] {
  const drMode = endpointTlsModeFromRule(dr, subset?.name, port.port);
  const byLocality = new Map<string, { endpoints: JsonObject[]; weight: number }>();
  for (const e of service.endpoints) {
    if (!isIpAddress(e.address)) continue;
    if (subset && !selects(subset.labels, e.labels)) continue;
    const target = endpointPort(e, port);
    // checkMtlsEnabled: the DestinationRule's mode for the port (subset first) decides when it has one;
    // else an endpoint with a sidecar whose merged PeerAuthentication at the endpoint port is not DISABLE.
    const mtlsEnabled =
      drMode !== undefined
        ? drMode === 'ISTIO_MUTUAL'
        : e.tlsMode === 'istio' && ctx.workloadMode(e, target) !== 'DISABLE';
    let group = byLocality.get(e.locality);
    if (!group) {
      group = { endpoints: [], weight: 0 };
      byLocality.set(e.locality, group);
    }
    group.endpoints.push(lbEndpoint(e, target, mtlsEnabled));
    group.weight = Math.min(MAX_UINT32, group.weight + e.weight);
  }
  return [...byLocality.keys()]
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((label) => {
      const group = byLocality.get(label) as { endpoints: JsonObject[]; weight: number };
      return {
        locality: locality(label),
        lb_endpoints: group.endpoints,
        load_balancing_weight: group.weight,
      };
    });
}

/**
 * The TLS mode EDS reads from the DestinationRule (mtls_checker.go tlsModeForDestinationRule): a port-level
 * entry counts only when it sets `tls`; for a subset, the subset's own policy first, then (istio/istio#60792,
 * in Istio's master since 2026-07) the rule's top level. `tlsModeForDestinationRule` of src/policy does not
 * fall back yet, so the fall-back is added here.
 */
export function endpointTlsModeFromRule(
  dr: DestinationRuleSpec | undefined,
  subset: string | undefined,
  port: number,
): string | undefined {
  if (!dr) return undefined;
  const rule = dr as PolicyDestinationRule;
  const own = tlsModeForDestinationRule(rule, subset, port);
  if (own !== undefined || subset === undefined) return own;
  if (!dr.subsets?.some((s) => s.name === subset)) return undefined;
  return tlsModeForDestinationRule(rule, undefined, port);
}

/** buildEnvoyLbEndpoint + AppendLbEndpointMetadata. */
function lbEndpoint(e: EndpointModel, port: number, mtlsEnabled: boolean): JsonObject {
  const filterMetadata: JsonObject = {};
  // Only where EDS enabled mTLS and the endpoint has a sidecar; never written as `disabled`.
  if (mtlsEnabled && e.tlsMode === 'istio') filterMetadata[TRANSPORT_SOCKET_MATCH_KEY] = { tlsMode: 'istio' };
  filterMetadata.istio = { workload: endpointWorkload(e) };
  return {
    endpoint: { address: { socket_address: { address: e.address, port_value: port } } },
    // The model has no readiness yet: every endpoint is HEALTHY (Istio sends UNHEALTHY ones too).
    health_status: 'HEALTHY',
    metadata: { filter_metadata: filterMetadata },
    load_balancing_weight: e.weight,
  };
}

/**
 * `istio.workload` (AppendLbEndpointMetadata): `WORKLOAD;NAMESPACE;CANONICAL_NAME;CANONICAL_REVISION;CLUSTER_ID`,
 * the canonical service from the labels as pkg/kube/labels CanonicalService reads them (the first label present,
 * even empty, else the workload name / `latest`), `latest` written empty. The proxy reads it back with
 * src/proxy/telemetry/workload.ts (whose formatEndpointWorkload is the same rule; src/xds does not import the
 * proxy).
 */
export function endpointWorkload(e: Pick<EndpointModel, 'workloadName' | 'namespace' | 'labels'>): string {
  const first = (keys: readonly string[]) => {
    for (const k of keys) if (Object.hasOwn(e.labels, k)) return e.labels[k];
    return undefined;
  };
  const name = first(CANONICAL_NAME_LABELS) ?? e.workloadName;
  const revision = first(CANONICAL_REVISION_LABELS) ?? 'latest';
  return `${e.workloadName};${e.namespace};${name};${revision === 'latest' ? '' : revision};${DEFAULT_CLUSTER_ID}`;
}

const CANONICAL_NAME_LABELS = ['service.istio.io/canonical-name', 'app.kubernetes.io/name', 'app'];
const CANONICAL_REVISION_LABELS = [
  'service.istio.io/canonical-revision',
  'app.kubernetes.io/version',
  'version',
];

/** util.ConvertLocality: `region/zone/subzone` → Locality (empty fields left out, as proto3 JSON does). */
function locality(label: string): JsonObject {
  if (label === '') return {};
  const [region = '', zone = '', subZone = ''] = label.split('/');
  const out: JsonObject = {};
  if (region !== '') out.region = region;
  if (zone !== '') out.zone = zone;
  if (subZone !== '') out.sub_zone = subZone;
  return out;
}
