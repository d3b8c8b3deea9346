// CDS for a sidecar's outbound side: one cluster per service port `outbound|PORT||HOST` and one per
// DestinationRule subset `outbound|PORT|SUBSET|HOST`, shaped as istiod shapes them (EDS, LEAST_REQUEST,
// unlimited circuit breakers, panic threshold 0, Istio's service metadata, the upstream HTTP protocol, outlier
// detection and TLS: a DestinationRule's, or auto mTLS through transport socket matches), then
// `BlackHoleCluster` and `PassthroughCluster`. Pure. What does not depend on the proxy is cached per
// (service, port, proxy namespace); each proxy then gets its own copy binding its replica's address.
// Istio: pilot/pkg/networking/core/cluster.go (buildClusters, buildOutboundClusters, convertResolution,
// buildServiceMetadata), cluster_builder.go (buildCluster, applyDestinationRule, buildSubsetCluster,
// setUpstreamProtocol, buildBlackHoleCluster, buildDefaultPassthroughCluster, maybeApplyEdsConfig),
// cluster_traffic_policy.go (applyTrafficPolicy, applyConnectionPool, applyLoadBalancer, applyOutlierDetection),
// cluster_tls.go (applyUpstreamTLSSettings, buildUpstreamClusterTLSContext, constructUpstreamTLS).

import type {
  ClientTlsSettings,
  DestinationRuleSpec,
  TrafficPolicy,
} from '../../config/kinds/destination-rule.js';
import { isIpAddress } from '../../config/kinds/istio-common.js';
import type { MeshConfigSpec } from '../../config/kinds/mesh-config.js';
import type { Protocol } from '../../config/kinds/workload.js';
import type { Resource } from '../../config/resource.js';
import type { ServiceModel, ServicePortModel } from '../../model/types.js';
import type { DestinationRuleSpec as PolicyDestinationRule } from '../../policy/types.js';
import { mergeSubsetTrafficPolicy, upstreamTls } from '../../policy/upstream-tls.js';
import type { JsonObject } from '../decode.js';
import type { GenerationContext } from './context.js';
import { protoDuration } from './duration.js';
import { buildLoadAssignment, localityLbEndpoints, type SubsetRef } from './endpoints.js';
import {
  ALPN,
  BLACKHOLE_CLUSTER,
  clusterName,
  HTTP_PROTOCOL_OPTIONS_KEY,
  PASSTHROUGH_CLUSTER,
  SECRET_DEFAULT,
  SECRET_ROOTCA,
  sniName,
  TYPE,
} from './names.js';
import type { ProxyNode } from './proxy.js';
import type { GenerationProblem } from './types.js';

export interface OutboundClusters {
  clusters: JsonObject[];
  problems: GenerationProblem[];
}

/** Istio's unlimited circuit breaker thresholds (math.MaxUint32). */
export const MAX_UINT32 = 4294967295;
const TLS_SOCKET = 'envoy.transport_sockets.tls';
const RAW_BUFFER_SOCKET = 'envoy.transport_sockets.raw_buffer';

/** `buildOutboundClusters`: the outbound clusters of `proxy`, then BlackHoleCluster and PassthroughCluster. */
export function buildOutboundClusters(ctx: GenerationContext, proxy: ProxyNode): JsonObject[] {
  return outboundClusters(ctx, proxy).clusters;
}

/** The outbound clusters of `proxy` and what could not be generated as Istio would. Never throws. */
export function outboundClusters(ctx: GenerationContext, proxy: ProxyNode): OutboundClusters {
  const clusters: JsonObject[] = [];
  const problems: GenerationProblem[] = [];
  const seen = new Set<string>();
  const source = proxy.ips[0];
  // One service per host name (Istio's SidecarScope keeps one per host).
  for (const service of ctx.services()) {
    for (const port of service.ports) {
      const built = ctx.memo(service, `cds|${proxy.namespace}|${port.port}`, () =>
        guarded(service, port, () => serviceClusters(ctx, service, port, proxy.namespace)),
      );
      problems.push(...built.problems);
      for (const c of built.clusters) {
        const name = String(c.name);
        // normalizeClusters: the first cluster of a name wins.
        if (seen.has(name)) {
          problems.push({
            severity: 'warning',
            code: 'SKIFF_CDS_DUPLICATE',
            message: `cluster ${name} is defined twice (${service.kind} ${service.namespace}/${service.name}); the first is kept`,
          });
          continue;
        }
        seen.add(name);
        clusters.push(source === undefined ? c : withSourceAddress(c, source));
      }
    }
  }
  const mesh = ctx.model.meshConfig;
  clusters.push(blackHoleCluster(mesh), passthroughCluster(mesh));
  return { clusters, problems };
}

/** Generation never throws: an unexpected failure for one service port skips its clusters, with a problem. */
function guarded(
  service: ServiceModel,
  port: ServicePortModel,
  build: () => OutboundClusters,
): OutboundClusters {
  try {
    return build();
  } catch (e) {
    return {
      clusters: [],
      problems: [
        {
          severity: 'error',
          code: 'SKIFF_CDS_INTERNAL',
          message: `${service.kind} ${service.namespace}/${service.name} port ${port.port}: no cluster generated: ${e instanceof Error ? e.message : String(e)}`,
        },
      ],
    };
  }
}

/**
 * The ClusterLoadAssignment of every EDS cluster `buildOutboundClusters` returns, by cluster name (what the
 * proxy subscribes to). Here rather than in endpoints.ts so that endpoints.ts does not import this module.
 */
export function allLoadAssignments(ctx: GenerationContext, proxy: ProxyNode): Map<string, JsonObject> {
  const out = new Map<string, JsonObject>();
  for (const c of buildOutboundClusters(ctx, proxy)) {
    if (c.type !== 'EDS') continue;
    const name = String(c.name);
    out.set(name, buildLoadAssignment(ctx, proxy, name));
  }
  return out;
}

/**
 * Local mode: upstream connections bind the replica's address, so a server sees which replica called (in
 * Kubernetes the pod IP does this; ../shared/local-mode.md "Outbound"). Istio sets no upstream_bind_config on
 * outbound clusters. A shallow copy: the cached cluster is shared by every proxy of the namespace.
 */
function withSourceAddress(c: JsonObject, address: string): JsonObject {
  return { ...c, upstream_bind_config: { source_address: { address, port_value: 0 } } };
}

/** The clusters of one service port (default, then one per subset) as a proxy in `proxyNamespace` gets them. */
function serviceClusters(
  ctx: GenerationContext,
  service: ServiceModel,
  port: ServicePortModel,
  proxyNamespace: string,
): OutboundClusters {
  const problems: GenerationProblem[] = [];
  const rule = ctx.destinationRule(service, proxyNamespace);
  const what = `${service.kind} ${service.namespace}/${service.name} (${service.hostname}) port ${port.port}`;
  const discovery = discoveryOf(service, what, problems);
  if (discovery === undefined) return { clusters: [], problems };
  const clusters: JsonObject[] = [];
  const dr = rule?.spec;
  const base: ClusterInput = { ctx, service, port, rule, discovery, what, problems };
  const main = buildCluster(base, undefined);
  if (main) clusters.push(main);
  for (const s of dr?.subsets ?? []) {
    const c = buildCluster(base, { name: s.name, labels: s.labels ?? {} });
    if (c) clusters.push(c);
  }
  return { clusters, problems };
}

type Discovery = 'EDS' | 'STATIC';

/** convertResolution, with what the Skiff proxy can do (STATIC and EDS clusters only). */
function discoveryOf(
  service: ServiceModel,
  what: string,
  problems: GenerationProblem[],
): Discovery | undefined {
  switch (service.resolution) {
    case 'STATIC':
      return 'EDS';
    case 'NONE':
      // Istio: ORIGINAL_DST (connect to the address the app dialled). Local mode has no original destination
      // (no capture): with endpoints, an EDS cluster over them stands in, as Istio itself does for gateways and
      // for headless Services with PILOT_ENABLE_EDS_FOR_HEADLESS_SERVICES; without endpoints there is nothing
      // to connect to.
      if (service.endpoints.some((e) => isIpAddress(e.address))) return 'EDS';
      problems.push({
        severity: 'warning',
        code: 'SKIFF_CDS_PASSTHROUGH',
        message: `${what}: resolution NONE without endpoints needs an ORIGINAL_DST cluster (Istio forwards to the address the client dialled), which local mode has no way to know; no cluster is generated`,
      });
      return undefined;
    default: {
      // DNS, DNS_ROUND_ROBIN: Istio's STRICT_DNS / LOGICAL_DNS with the endpoints inline. Endpoints that are all
      // IP addresses resolve to themselves: a STATIC cluster with the same endpoints is the same thing. Host
      // names (or no endpoints: Istio resolves the service's own host) need DNS, which the proxy lacks.
      const names = service.endpoints.filter((e) => !isIpAddress(e.address)).map((e) => e.address);
      if (service.endpoints.length > 0 && names.length === 0) return 'STATIC';
      problems.push({
        severity: 'warning',
        code: 'SKIFF_CDS_DNS',
        message: `${what}: resolution ${service.resolution} needs the proxy to resolve ${names.length > 0 ? names.join(', ') : service.hostname} (a STRICT_DNS cluster), which the Skiff proxy does not implement; no cluster is generated`,
      });
      return undefined;
    }
  }
}

interface ClusterInput {
  ctx: GenerationContext;
  service: ServiceModel;
  port: ServicePortModel;
  rule: Resource<DestinationRuleSpec> | undefined;
  discovery: Discovery;
  what: string;
  problems: GenerationProblem[];
}

/** buildCluster + applyDestinationRule (default cluster) / buildSubsetCluster; undefined: skipped (a problem says why). */
function buildCluster(input: ClusterInput, subset: SubsetRef | undefined): JsonObject | undefined {
  const { ctx, service, port, rule, discovery, problems } = input;
  const mesh = ctx.model.meshConfig;
  const dr = rule?.spec;
  const subsetName = subset?.name ?? '';
  const name = clusterName('outbound', port.port, subsetName, service.hostname);
  const what = subset ? `${input.what} subset ${subset.name}` : input.what;
  // MergeSubsetTrafficPolicy (src/policy): port-level settings replace the rule's, the subset's overlay them.
  const policyRule = dr as PolicyDestinationRule | undefined;
  const policy = mergeSubsetTrafficPolicy(
    policyRule?.trafficPolicy ?? undefined,
    policyRule?.subsets?.find((s) => s.name === subsetName)?.trafficPolicy ?? undefined,
    port.port,
  ) as TrafficPolicy | undefined;

  const cluster: JsonObject = { name, type: discovery };
  // Istio also sets alt_stat_name `<name>;`; omitted: not implemented by the Skiff proxy.
  if (discovery === 'EDS') {
    cluster.eds_cluster_config = {
      service_name: name,
      eds_config: { ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' },
    };
  } else {
    const groups = localityLbEndpoints(ctx, service, port, subset, dr);
    // buildCluster: a STATIC cluster without endpoints is not built.
    if (groups.length === 0) return undefined;
    cluster.load_assignment = { cluster_name: name, endpoints: groups };
  }

  // applyConnectionPool: the mesh connect timeout, DestinationRule pool settings over the defaults.
  const pool = policy?.connectionPool;
  const connectTimeout = pool?.tcp?.connectTimeout ?? mesh.connectTimeout;
  cluster.connect_timeout = protoDuration(connectTimeout) ?? protoDuration(mesh.connectTimeout) ?? '10s';
  cluster.lb_policy = lbPolicy(policy, what, problems);
  cluster.circuit_breakers = { thresholds: [circuitBreakerThresholds(policy)] };
  unsupportedPoolSettings(policy, what, problems);

  // applyLoadBalancer: panic mode off (PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS); outlier detection may set it.
  const commonLb: JsonObject = { healthy_panic_threshold: { value: 0 } };
  cluster.common_lb_config = commonLb;
  const outlier = policy?.outlierDetection;
  if (outlier) {
    cluster.outlier_detection = outlierDetection(outlier);
    commonLb.healthy_panic_threshold = { value: Math.max(0, outlier.minHealthPercent ?? 0) };
  }

  const protocol = upstreamProtocol(port.protocol, policy);
  if (protocol !== undefined) {
    cluster.typed_extension_protocol_options = {
      [HTTP_PROTOCOL_OPTIONS_KEY]:
        protocol === 'http2'
          ? { '@type': TYPE.httpProtocolOptions, explicit_http_config: { http2_protocol_options: {} } }
          : {
              '@type': TYPE.httpProtocolOptions,
              use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
            },
    };
  }

  if (!applyTls(cluster, input, subset, policy, protocol === 'http2', what)) return undefined;

  // Istio also sets filters [istio.metadata_exchange] (the upstream TCP metadata exchange); omitted: not
  // implemented by the Skiff proxy.
  cluster.metadata = { filter_metadata: { istio: istioMetadata(service, rule, subset, policy) } };
  return cluster;
}

/**
 * addTelemetryMetadata + applyDestinationRule / buildSubsetCluster: the service, the DestinationRule that
 * applies, the subset, `external` for a MESH_EXTERNAL service (on its default cluster only, as Istio sets it in
 * applyDestinationRule and not in buildSubsetCluster), `alpn_override: "false"` when the TLS mode is SIMPLE or
 * MUTUAL.
 */
function istioMetadata(
  service: ServiceModel,
  rule: Resource<DestinationRuleSpec> | undefined,
  subset: SubsetRef | undefined,
  policy: TrafficPolicy | undefined,
): JsonObject {
  const istio: JsonObject = {
    services: [{ host: service.hostname, name: service.name, namespace: service.namespace }],
  };
  if (!subset && service.location === 'MESH_EXTERNAL') istio.external = true;
  if (rule) {
    istio.config = `/apis/networking.istio.io/v1/namespaces/${rule.metadata.namespace}/destination-rule/${rule.metadata.name}`;
  }
  if (subset) istio.subset = subset.name;
  const mode = policy?.tls?.mode;
  if (rule && (mode === 'SIMPLE' || mode === 'MUTUAL')) istio.alpn_override = 'false';
  return istio;
}

/** applyLoadBalancer: LEAST_REQUEST by default; the simple algorithms the proxy has; the rest reported. */
function lbPolicy(policy: TrafficPolicy | undefined, what: string, problems: GenerationProblem[]): string {
  const lb = policy?.loadBalancer;
  const unsupported = (setting: string, istio: string) =>
    problems.push({
      severity: 'warning',
      code: 'SKIFF_CDS_LOAD_BALANCER',
      message: `${what}: loadBalancer ${setting} (Istio: ${istio}) is not implemented by the Skiff proxy; LEAST_REQUEST is used`,
    });
  if (lb?.consistentHash !== undefined) unsupported('consistentHash', 'RING_HASH or MAGLEV');
  if (lb?.localityLbSetting !== undefined)
    unsupported('localityLbSetting', 'locality_weighted_lb_config and endpoint priorities');
  if (lb?.warmup !== undefined || lb?.warmupDurationSecs !== undefined)
    unsupported('warmup', 'slow_start_config');
  switch (lb?.simple) {
    case 'ROUND_ROBIN':
      return 'ROUND_ROBIN';
    case 'RANDOM':
      unsupported('simple RANDOM', 'lb_policy RANDOM');
      return 'LEAST_REQUEST';
    case 'PASSTHROUGH':
      // Istio turns the cluster into ORIGINAL_DST; local mode has no original destination (no capture).
      unsupported('simple PASSTHROUGH', 'an ORIGINAL_DST cluster');
      return 'LEAST_REQUEST';
    default:
      // LEAST_CONN (deprecated alias), LEAST_REQUEST, UNSPECIFIED, unset: defaultLBAlgorithm.
      return 'LEAST_REQUEST';
  }
}

/**
 * getDefaultCircuitBreakerThresholds, with the DestinationRule's `http.maxRetries` where > 0. Istio also puts
 * `tcp.maxConnections`, `http.http1MaxPendingRequests` and `http.http2MaxRequests` (> 0) in max_connections,
 * max_pending_requests and max_requests; the Skiff proxy enforces none of them and accepts only their unlimited
 * value, so they stay unlimited and are reported (unsupportedPoolSettings).
 */
function circuitBreakerThresholds(policy: TrafficPolicy | undefined): JsonObject {
  const maxRetries = policy?.connectionPool?.http?.maxRetries;
  return {
    max_connections: MAX_UINT32,
    max_pending_requests: MAX_UINT32,
    max_requests: MAX_UINT32,
    max_retries: maxRetries !== undefined && maxRetries > 0 ? maxRetries : MAX_UINT32,
    // DISABLE_TRACK_REMAINING_CB_METRICS defaults to true.
    track_remaining: false,
  };
}

/** Connection pool settings Istio turns into fields the Skiff proxy does not implement: reported, omitted. */
function unsupportedPoolSettings(
  policy: TrafficPolicy | undefined,
  what: string,
  problems: GenerationProblem[],
) {
  const pool = policy?.connectionPool;
  const omitted: string[] = [];
  if ((pool?.tcp?.maxConnections ?? 0) > 0)
    omitted.push('tcp.maxConnections (circuit_breakers max_connections)');
  if ((pool?.http?.http1MaxPendingRequests ?? 0) > 0)
    omitted.push('http.http1MaxPendingRequests (circuit_breakers max_pending_requests)');
  if ((pool?.http?.http2MaxRequests ?? 0) > 0)
    omitted.push('http.http2MaxRequests (circuit_breakers max_requests)');
  // tcp.idleTimeout is the listeners' tcp_proxy idle_timeout (outbound.ts); http.idleTimeout is the cluster's.
  if (pool?.http?.idleTimeout !== undefined)
    omitted.push('http.idleTimeout (common_http_protocol_options.idle_timeout)');
  if ((pool?.http?.maxRequestsPerConnection ?? 0) > 0)
    omitted.push('maxRequestsPerConnection (common_http_protocol_options)');
  if (pool?.tcp?.maxConnectionDuration !== undefined)
    omitted.push('maxConnectionDuration (common_http_protocol_options)');
  if ((pool?.http?.maxConcurrentStreams ?? 0) > 0 || pool?.http?.http2KeepAlive !== undefined)
    omitted.push('maxConcurrentStreams / http2KeepAlive (http2_protocol_options)');
  if (pool?.tcp?.tcpKeepalive !== undefined)
    omitted.push('tcpKeepalive (upstream_connection_options.tcp_keepalive)');
  if (policy?.retryBudget !== undefined) omitted.push('retryBudget (circuit_breakers retry_budget)');
  if (policy?.proxyProtocol !== undefined)
    omitted.push('proxyProtocol (the proxy_protocol transport socket)');
  if (policy?.tunnel !== undefined) omitted.push('tunnel');
  for (const o of omitted) {
    problems.push({
      severity: 'warning',
      code: 'SKIFF_CDS_UNSUPPORTED',
      message: `${what}: DestinationRule ${o} is not implemented by the Skiff proxy; omitted`,
    });
  }
}

/** applyOutlierDetection. */
function outlierDetection(o: NonNullable<TrafficPolicy['outlierDetection']>): JsonObject {
  // Success-rate ejection is always off in Istio.
  const out: JsonObject = { enforcing_success_rate: 0 };
  if (o.consecutive5xxErrors !== undefined) {
    out.consecutive_5xx = o.consecutive5xxErrors;
    out.enforcing_consecutive_5xx = o.consecutive5xxErrors > 0 ? 100 : 0;
  }
  if (o.consecutiveGatewayErrors !== undefined) {
    out.consecutive_gateway_failure = o.consecutiveGatewayErrors;
    out.enforcing_consecutive_gateway_failure = o.consecutiveGatewayErrors > 0 ? 100 : 0;
  }
  const interval = o.interval !== undefined ? protoDuration(o.interval) : undefined;
  if (interval !== undefined) out.interval = interval;
  const base = o.baseEjectionTime !== undefined ? protoDuration(o.baseEjectionTime) : undefined;
  if (base !== undefined) out.base_ejection_time = base;
  if ((o.maxEjectionPercent ?? 0) > 0) out.max_ejection_percent = o.maxEjectionPercent as number;
  if (o.splitExternalLocalOriginErrors === true) {
    out.split_external_local_origin_errors = true;
    if ((o.consecutiveLocalOriginFailures ?? 0) > 0) {
      out.consecutive_local_origin_failure = o.consecutiveLocalOriginFailures as number;
      out.enforcing_consecutive_local_origin_failure = 100;
    }
    out.enforcing_local_origin_success_rate = 0;
  }
  return out;
}

/**
 * setUpstreamProtocol + applyH2Upgrade + useClientProtocol: HTTP/2 for HTTP2/gRPC ports (and on
 * `h2UpgradePolicy: UPGRADE`), the downstream protocol for ports detected per connection (sidecars only) or
 * with `useClientProtocol`; undefined: Envoy's default HTTP/1.1 (no options).
 */
function upstreamProtocol(
  protocol: Protocol | undefined,
  policy: TrafficPolicy | undefined,
): 'http2' | 'downstream' | undefined {
  let out: 'http2' | 'downstream' | undefined;
  if (protocol === 'HTTP2' || protocol === 'GRPC' || protocol === 'GRPC-Web') out = 'http2';
  else if (protocol === undefined) out = 'downstream';
  const http = policy?.connectionPool?.http;
  // shouldH2Upgrade: the DestinationRule's UPGRADE wins before the port's protocol is looked at; setH2Options
  // keeps protocol options already set. meshConfig.h2UpgradePolicy is DO_NOT_UPGRADE (Skiff has no setting).
  if (http?.useClientProtocol !== true && http?.h2UpgradePolicy === 'UPGRADE' && out === undefined) {
    out = 'http2';
  }
  if (http?.useClientProtocol === true) out = 'downstream';
  return out;
}

/**
 * buildUpstreamTLSSettings + applyUpstreamTLSSettings: the DestinationRule's TLS (after port-level and subset
 * merging) as one transport socket, or auto mTLS as transport socket matches, or nothing (plaintext). The
 * decision is src/policy's `upstreamTls`. Returns false when the cluster must be skipped.
 */
function applyTls(
  cluster: JsonObject,
  input: ClusterInput,
  subset: SubsetRef | undefined,
  policy: TrafficPolicy | undefined,
  http2: boolean,
  what: string,
): boolean {
  const { ctx, service, port, rule, problems } = input;
  const endpoints = service.endpoints;
  const decision = upstreamTls({
    autoMtls: ctx.model.meshConfig.enableAutoMtls,
    destinationRule: (rule?.spec ?? null) as PolicyDestinationRule | null,
    ...(subset ? { subset: subset.name } : {}),
    port: port.port,
    serviceNamespaceMode: ctx.namespaceMode(service.namespace),
    // Only the per-endpoint answer reads the server's mode; the cluster's shape does not.
    serverMode: 'PERMISSIVE',
    // BestEffortInferServiceMTLSMode for passthrough: DISABLE unless the port has endpoints, all with a sidecar.
    endpointHasSidecar: endpoints.length > 0 && endpoints.every((e) => e.tlsMode === 'istio'),
    meshExternal: service.location === 'MESH_EXTERNAL',
    passthrough: service.resolution === 'NONE',
  });
  const sni = sniName('outbound', port.port, subset?.name ?? '', service.hostname);
  if (decision.autoDetected) {
    // Auto mTLS: per endpoint, by the `tlsMode` EDS writes (buildLoadAssignment). Istio gives an ORIGINAL_DST
    // (headless) cluster one socket for all endpoints; the EDS stand-in keeps the per-endpoint choice.
    cluster.transport_socket_matches = [
      {
        name: 'tlsMode-istio',
        match: { tlsMode: 'istio' },
        transport_socket: istioMutualSocket([...service.serviceAccounts], sni, http2),
      },
      { name: 'tlsMode-disabled', match: {}, transport_socket: rawBufferSocket() },
    ];
    return true;
  }
  const tls = policy?.tls;
  const mode = tls?.mode ?? 'DISABLE';
  if (!tls || mode === 'DISABLE') return true;
  if (mode === 'ISTIO_MUTUAL') {
    const sans =
      tls.subjectAltNames && tls.subjectAltNames.length > 0 ? tls.subjectAltNames : service.serviceAccounts;
    cluster.transport_socket = istioMutualSocket([...sans], tls.sni || sni, http2);
    return true;
  }
  const socket = userTlsSocket(tls, mode === 'MUTUAL', service, http2, what, problems);
  if (socket === 'skip') return false;
  if (socket) cluster.transport_socket = socket;
  return true;
}

/** buildUpstreamClusterTLSContext for ISTIO_MUTUAL: the workload certificate and the mesh roots by SDS name. */
export function istioMutualSocket(sans: string[], sni: string, http2: boolean): JsonObject {
  return {
    name: TLS_SOCKET,
    typed_config: {
      '@type': TYPE.upstreamTls,
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_3' },
        // Istio also sets sds_config (the agent's `sds-grpc` cluster) on both secret configs; omitted: not
        // implemented by the Skiff proxy, whose agent provides `default` and `ROOTCA` by name.
        tls_certificate_sds_secret_configs: [{ name: SECRET_DEFAULT }],
        combined_validation_context: {
          default_validation_context:
            sans.length > 0 ? { match_subject_alt_names: sans.map((exact) => ({ exact })) } : {},
          validation_context_sds_secret_config: { name: SECRET_ROOTCA },
        },
        alpn_protocols: http2 ? [...ALPN.inMeshWithMx, 'h2'] : [...ALPN.inMeshWithMx],
      },
      sni,
    },
  };
}

function rawBufferSocket(): JsonObject {
  return { name: RAW_BUFFER_SOCKET, typed_config: { '@type': TYPE.rawBuffer } };
}

/**
 * constructUpstreamTLS for SIMPLE and MUTUAL with the DestinationRule's files. Istio serves the files through
 * its agent's SDS (`file-root:<ca>`, `file-cert:<cert>~<key>`); the Skiff proxy reads the same files given
 * inline (`trusted_ca`, `tls_certificates`). Undefined: no TLS (Istio's outcome); 'skip': no cluster.
 */
function userTlsSocket(
  tls: ClientTlsSettings,
  mutual: boolean,
  service: ServiceModel,
  http2: boolean,
  what: string,
  problems: GenerationProblem[],
): JsonObject | 'skip' | undefined {
  const mode = mutual ? 'MUTUAL' : 'SIMPLE';
  if (tls.credentialName) {
    if (!tls.credentialName.startsWith('configmap://')) {
      // buildUpstreamClusterTLSContext: on a sidecar, a credentialName DestinationRule without workloadSelector
      // gets no TLS context at all ("privilegedCredentialLookup").
      problems.push({
        severity: 'error',
        code: 'SKIFF_CDS_CREDENTIAL_NAME',
        message: `${what}: tls ${mode} with credentialName ${tls.credentialName}: Istio gives a sidecar no TLS context for it (plaintext), and so does Skiff; use caCertificates/clientCertificate/privateKey files`,
      });
      return undefined;
    }
    problems.push({
      severity: 'error',
      code: 'SKIFF_CDS_CREDENTIAL_NAME',
      message: `${what}: tls ${mode} credentialName ${tls.credentialName} (a ConfigMap served over SDS) is not supported; no cluster is generated`,
    });
    return 'skip';
  }
  if (mutual && (!tls.clientCertificate || !tls.privateKey)) {
    problems.push({
      severity: 'error',
      code: 'SKIFF_CDS_TLS',
      message: `${what}: tls MUTUAL needs clientCertificate and privateKey; no cluster is generated`,
    });
    return 'skip';
  }
  if (tls.caCrl) {
    problems.push({
      severity: 'error',
      code: 'SKIFF_CDS_TLS',
      message: `${what}: tls caCrl (certificate revocation list) is not implemented by the Skiff proxy; no cluster is generated rather than one that ignores revocations`,
    });
    return 'skip';
  }
  const insecure = tls.insecureSkipVerify === true;
  if (!tls.caCertificates && !insecure) {
    problems.push({
      severity: 'error',
      code: 'SKIFF_CDS_TLS',
      message: `${what}: tls ${mode} without caCertificates: Istio verifies the server against the system roots (file-root:system), which the Skiff proxy does not have; set caCertificates (or insecureSkipVerify); no cluster is generated`,
    });
    return 'skip';
  }
  // Without SANs, a ServiceEntry's own subjectAltNames (and workload identities) are used.
  let sans = tls.subjectAltNames ?? [];
  if (sans.length === 0 && service.kind === 'ServiceEntry') sans = [...service.serviceAccounts];
  const common: JsonObject = {
    tls_params: { tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_3' },
  };
  if (mutual) {
    common.tls_certificates = [
      {
        certificate_chain: { filename: tls.clientCertificate as string },
        private_key: { filename: tls.privateKey as string },
      },
    ];
  }
  // insecureSkipVerify: an empty validation context (no chain, no SAN check), as Istio.
  common.validation_context = insecure
    ? {}
    : {
        trusted_ca: { filename: tls.caCertificates as string },
        ...(sans.length > 0 ? { match_subject_alt_names: sans.map((exact) => ({ exact })) } : {}),
      };
  if (http2) common.alpn_protocols = ['h2'];
  const context: JsonObject = { '@type': TYPE.upstreamTls, common_tls_context: common };
  if (tls.sni) {
    context.sni = tls.sni;
  } else {
    // Istio sets auto_sni (the SNI from each request's host) in the cluster's HttpProtocolOptions
    // (setAutoSniAndAutoSanValidation); not implemented by the Skiff proxy: the service's host stands in.
    if (!service.hostname.includes('*')) context.sni = service.hostname;
    if (sans.length === 0 && !insecure) {
      // Istio also sets auto_san_validation (the certificate must name that host); omitted: not implemented.
      problems.push({
        severity: 'warning',
        code: 'SKIFF_CDS_TLS',
        message: `${what}: tls ${mode} without sni or subjectAltNames: Istio checks the server certificate against the request's host (auto_san_validation), which the Skiff proxy does not implement; only its chain is verified — set subjectAltNames`,
      });
    }
  }
  return { name: TLS_SOCKET, typed_config: context };
}

/**
 * buildBlackHoleCluster: STATIC with no endpoints. Istio sets no load_assignment; the Skiff proxy requires one
 * on a STATIC cluster, so an empty one (the same: no endpoints) is given.
 */
export function blackHoleCluster(mesh: MeshConfigSpec): JsonObject {
  // Istio also sets alt_stat_name `BlackHoleCluster;`; omitted: not implemented by the Skiff proxy.
  return {
    name: BLACKHOLE_CLUSTER,
    type: 'STATIC',
    connect_timeout: protoDuration(mesh.connectTimeout) ?? '10s',
    lb_policy: 'ROUND_ROBIN',
    load_assignment: { cluster_name: BLACKHOLE_CLUSTER },
  };
}

/**
 * PassthroughCluster. Istio: ORIGINAL_DST + CLUSTER_PROVIDED, forwarding to the address the app dialled. Local
 * mode has no capture, hence no original destination: a STATIC stand-in with no endpoints keeps Istio's name for
 * listeners and routes that point at it (the `allow_any` route, the outbound default filter chain), whose
 * traffic is refused (503 UH) instead of passed through.
 */
export function passthroughCluster(mesh: MeshConfigSpec): JsonObject {
  // Istio also sets alt_stat_name `PassthroughCluster;`, filters [istio.metadata_exchange] and
  // common_http_protocol_options.idle_timeout 300s; omitted: not implemented by the Skiff proxy.
  return {
    name: PASSTHROUGH_CLUSTER,
    type: 'STATIC',
    connect_timeout: protoDuration(mesh.connectTimeout) ?? '10s',
    lb_policy: 'ROUND_ROBIN',
    circuit_breakers: { thresholds: [circuitBreakerThresholds(undefined)] },
    typed_extension_protocol_options: {
      [HTTP_PROTOCOL_OPTIONS_KEY]: {
        '@type': TYPE.httpProtocolOptions,
        use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
      },
    },
    load_assignment: { cluster_name: PASSTHROUGH_CLUSTER },
  };
}
