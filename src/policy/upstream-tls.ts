// What a client sidecar sends to one endpoint: Istio decides per cluster (CDS: DestinationRule TLS, else auto
// mTLS from the service namespace's mode) and then per endpoint (EDS: the endpoint's sidecar label and its
// workload's merged mode select mTLS or plaintext through transport_socket_matches). Pure.
// Istio: pilot/pkg/networking/core/cluster_tls.go (buildUpstreamTLSSettings), pilot/pkg/model/push_context.go
// (BestEffortInferServiceMTLSMode), pilot/pkg/xds/endpoints/mtls_checker.go (checkMtlsEnabled),
// pilot/pkg/networking/util/util.go (GetPortLevelTrafficPolicy, MergeSubsetTrafficPolicy).

import type { ClientTlsMode, ClientTlsSettings, DestinationRuleSpec, Mode, TrafficPolicy } from './types.js';

export interface UpstreamTlsInput {
  /** meshConfig.enableAutoMtls */
  autoMtls: boolean;
  /** The `spec` of the DestinationRule for the host, or null. */
  destinationRule: DestinationRuleSpec | null;
  /** The subset the traffic is routed to, if any. */
  subset?: string;
  /** The service port. */
  port: number;
  /** Mesh/namespace-level mode of the service's namespace (UNKNOWN: no mesh or namespace policy). */
  serviceNamespaceMode: Mode | 'UNKNOWN';
  /** The endpoint workload's merged mode at the endpoint port. */
  serverMode: Mode | 'UNKNOWN';
  /** The endpoint is labelled security.istio.io/tlsMode=istio (it has a sidecar). */
  endpointHasSidecar: boolean;
  /** A MESH_EXTERNAL ServiceEntry host. */
  meshExternal?: boolean;
  /** Headless service, or DestinationRule loadBalancer PASSTHROUGH (an ORIGINAL_DST cluster). */
  passthrough?: boolean;
}

export interface UpstreamTlsDecision {
  clientTls: 'ISTIO_MUTUAL' | 'MUTUAL' | 'SIMPLE' | 'plaintext';
  /** Istio's auto-detected mTLS context: true even where this endpoint gets plaintext. */
  autoDetected: boolean;
  /** Only when the DestinationRule sets it. */
  sni?: string;
  /** Only when the DestinationRule sets them. */
  subjectAltNames?: string[];
}

export function upstreamTls(input: UpstreamTlsInput): UpstreamTlsDecision {
  const dr = input.destinationRule;
  const subset = input.subset ? dr?.subsets?.find((s) => s.name === input.subset) : undefined;
  const cluster = mergeSubsetTrafficPolicy(
    dr?.trafficPolicy ?? undefined,
    subset?.trafficPolicy ?? undefined,
    input.port,
  );

  // 1. The DestinationRule's TLS, when it has one, is used as written for every endpoint ("user supplied").
  const tls = cluster?.tls;
  if (tls) {
    const mode: ClientTlsMode = tls.mode ?? 'DISABLE';
    if (mode === 'DISABLE') return { clientTls: 'plaintext', autoDetected: false };
    const decision: UpstreamTlsDecision = { clientTls: mode, autoDetected: false };
    if (tls.sni) decision.sni = tls.sni;
    if (tls.subjectAltNames && tls.subjectAltNames.length > 0)
      decision.subjectAltNames = [...tls.subjectAltNames];
    return decision;
  }

  // 2. No TLS in the DestinationRule: auto mTLS, from the service's inferred mode. Istio infers it from the
  // traffic policy as written (the subset's own for a subset cluster), not the merged one.
  const written = input.subset ? subset?.trafficPolicy : dr?.trafficPolicy;
  const inferPassthrough = input.passthrough === true || written?.loadBalancer?.simple === 'PASSTHROUGH';
  const serviceMode = inferServiceMode(input, inferPassthrough);
  if (!input.autoMtls || serviceMode === 'UNKNOWN' || serviceMode === 'DISABLE') {
    return { clientTls: 'plaintext', autoDetected: false };
  }
  // An ORIGINAL_DST cluster (the merged policy says PASSTHROUGH) has no per-endpoint choice: the auto-detected
  // context applies to every endpoint.
  if (input.passthrough === true || cluster?.loadBalancer?.simple === 'PASSTHROUGH') {
    return { clientTls: 'ISTIO_MUTUAL', autoDetected: true };
  }

  // 3. Per endpoint (EDS): the tlsMode=istio metadata survives only where mTLS is enabled for the endpoint.
  const drMode = tlsModeForDestinationRule(dr, input.subset, input.port);
  const enabled = drMode !== undefined ? drMode === 'ISTIO_MUTUAL' : input.serverMode !== 'DISABLE';
  return {
    clientTls: enabled && input.endpointHasSidecar ? 'ISTIO_MUTUAL' : 'plaintext',
    autoDetected: true,
  };
}

/** BestEffortInferServiceMTLSMode, for what one endpoint can tell of a passthrough service. */
function inferServiceMode(input: UpstreamTlsInput, passthrough: boolean): Mode | 'UNKNOWN' {
  if (input.meshExternal) return 'UNKNOWN';
  // Passthrough: DISABLE when any endpoint has no sidecar (this one is the one we know).
  if (passthrough && !input.endpointHasSidecar) return 'DISABLE';
  return input.serviceNamespaceMode === 'UNKNOWN' ? 'PERMISSIVE' : input.serviceNamespaceMode;
}

/**
 * A port-level entry for the service port replaces the whole traffic policy: its fields, and nothing inherited
 * (GetPortLevelTrafficPolicy). Returns whether such an entry was found.
 */
export function portLevelTrafficPolicy(
  policy: TrafficPolicy | undefined,
  port: number,
): { policy: TrafficPolicy | undefined; portMatched: boolean } {
  if (!policy) return { policy, portMatched: false };
  const entry = policy.portLevelSettings?.find((p) => p?.port?.number === port);
  if (!entry) return { policy, portMatched: false };
  const { port: _port, ...fields } = entry;
  return { policy: fields, portMatched: true };
}

/**
 * The traffic policy of cluster `outbound|port|subset|host` (MergeSubsetTrafficPolicy): the subset's fields over
 * the DestinationRule's, each after its own port-level selection; a subset port-level entry replaces a field
 * even where it leaves it unset.
 */
export function mergeSubsetTrafficPolicy(
  destination: TrafficPolicy | undefined,
  subset: TrafficPolicy | undefined,
  port: number,
): TrafficPolicy | undefined {
  const base = portLevelTrafficPolicy(destination, port).policy;
  if (!subset) return base;
  const { policy: sub, portMatched } = portLevelTrafficPolicy(subset, port);
  if (!base) return sub;
  if (!sub) return base;
  const merged: Record<string, unknown> = { ...base };
  const from: Record<string, unknown> = sub;
  for (const field of ['tls', 'loadBalancer', 'connectionPool', 'outlierDetection']) {
    if (from[field] !== undefined && from[field] !== null) merged[field] = from[field];
    else if (portMatched) delete merged[field];
  }
  for (const field of ['tunnel', 'proxyProtocol']) {
    if (from[field] !== undefined && from[field] !== null) merged[field] = from[field];
  }
  return merged as TrafficPolicy;
}

/**
 * The TLS mode EDS reads from a DestinationRule (tlsModeForDestinationRule): the subset's own traffic policy
 * for a subset cluster (no fall-back to the top level), else the top level; a port-level entry counts only when
 * it sets `tls`.
 */
export function tlsModeForDestinationRule(
  dr: DestinationRuleSpec | null,
  subsetName: string | undefined,
  port: number,
): ClientTlsMode | undefined {
  if (!dr) return undefined;
  if (!subsetName) return trafficPolicyTlsMode(dr.trafficPolicy ?? undefined, port);
  const subset = dr.subsets?.find((s) => s.name === subsetName);
  return subset ? trafficPolicyTlsMode(subset.trafficPolicy ?? undefined, port) : undefined;
}

function trafficPolicyTlsMode(policy: TrafficPolicy | undefined, port: number): ClientTlsMode | undefined {
  if (!policy) return undefined;
  let mode = tlsModeOf(policy.tls);
  const entry = policy.portLevelSettings?.find((p) => p?.port?.number === port && p.tls);
  if (entry) mode = tlsModeOf(entry.tls);
  return mode;
}

function tlsModeOf(tls: ClientTlsSettings | null | undefined): ClientTlsMode | undefined {
  return tls ? (tls.mode ?? 'DISABLE') : undefined;
}
