// What every generator reads besides the proxy: the model, with the lookups Istio's PushContext precomputes
// (DestinationRule per host, namespace and workload mTLS modes, service targets of a workload) and a cache of
// per-service results. A context is made once per model; a new model's context takes over the previous one's
// per-service entries for services that did not change, as long as the policies (mesh config, PeerAuthentication,
// DestinationRule, VirtualService) are the same — so an endpoint change costs one service, not the mesh.
// Istio: pilot/pkg/model/push_context.go (destinationRule, GetNamespaceMutualTLSMode, ServiceTargets).

import type { DestinationRuleSpec } from '../../config/kinds/destination-rule.js';
import { isIpAddress } from '../../config/kinds/istio-common.js';
import type { Resource } from '../../config/resource.js';
import { DOMAIN_SUFFIX, selects } from '../../model/build.js';
import type {
  EndpointModel,
  MeshModel,
  ServiceModel,
  ServicePortModel,
  WorkloadModel,
} from '../../model/types.js';
import { effectivePeerAuthentication, namespaceMutualTlsMode } from '../../policy/peer-authentication.js';
import type { Mode } from '../../policy/types.js';

/** A service port a workload serves (Istio's ServiceTarget). */
export interface ServiceTarget {
  service: ServiceModel;
  port: ServicePortModel;
  /** The workload's port for it (where its sidecar accepts, and its app listens behind the sidecar). */
  targetPort: number;
}

/** Where each proxy's outbound listener for one service port binds: deterministic, stable across changes. */
export interface OutboundPorts {
  portFor(proxyId: string, host: string, port: number): number;
}

export class GenerationContext {
  readonly model: MeshModel;
  readonly outboundPorts: OutboundPorts;
  private readonly policyKey: string;
  private readonly perService = new Map<ServiceModel, Map<string, unknown>>();
  private readonly namespaceModes = new Map<string, Mode | 'UNKNOWN'>();
  private readonly byHost = new Map<string, ServiceModel[]>();

  constructor(model: MeshModel, outboundPorts: OutboundPorts, previous?: GenerationContext) {
    this.model = model;
    this.outboundPorts = outboundPorts;
    this.policyKey = JSON.stringify([
      model.meshConfig,
      model.peerAuthentications.map((p) => [p.metadata, p.spec]),
      model.destinationRules.map((r) => [r.metadata, r.spec]),
      model.virtualServices.map((r) => [r.metadata, r.spec]),
    ]);
    for (const s of model.services) {
      const list = this.byHost.get(s.hostname);
      if (list) list.push(s);
      else this.byHost.set(s.hostname, [s]);
    }
    if (previous && previous.policyKey === this.policyKey) {
      const live = new Set(model.services);
      for (const [s, entries] of previous.perService) if (live.has(s)) this.perService.set(s, entries);
    }
  }

  get rootNamespace(): string {
    return this.model.meshConfig.rootNamespace;
  }

  /** A per-service result, computed once per service for as long as the service and the policies stay the same. */
  memo<T>(service: ServiceModel, key: string, build: () => T): T {
    let entries = this.perService.get(service);
    if (!entries) {
      entries = new Map();
      this.perService.set(service, entries);
    }
    if (entries.has(key)) return entries.get(key) as T;
    const value = build();
    entries.set(key, value);
    return value;
  }

  /** The service for a host; when several namespaces declare it, the one in `namespace` first, else the oldest read. */
  service(hostname: string, namespace?: string): ServiceModel | undefined {
    const list = this.byHost.get(hostname);
    if (!list) return undefined;
    return (namespace !== undefined ? list.find((s) => s.namespace === namespace) : undefined) ?? list[0];
  }

  /** Istio's ResolveShortnameToFQDN: a name without a dot is a Kubernetes service of `namespace`. */
  resolveHost(host: string, namespace: string): string {
    if (host === '*' || host.includes('.') || isIpAddress(host)) return host;
    return `${host}.${namespace}.svc.${DOMAIN_SUFFIX}`;
  }

  /**
   * The DestinationRule a proxy in `proxyNamespace` uses for `service`: Istio looks in the proxy's namespace,
   * then the service's, then the root namespace; within one namespace the exact host beats the longest
   * matching wildcard, and the oldest rule wins ties (read order when no creation time is set).
   */
  destinationRule(service: ServiceModel, proxyNamespace: string): Resource<DestinationRuleSpec> | undefined {
    for (const ns of unique([proxyNamespace, service.namespace, this.rootNamespace])) {
      let best: { rule: Resource<DestinationRuleSpec>; score: number } | undefined;
      for (const rule of this.model.destinationRules) {
        if (rule.metadata.namespace !== ns) continue;
        const score = hostMatchScore(this.resolveHost(rule.spec.host, ns), service.hostname);
        if (score > 0 && (!best || score > best.score || (score === best.score && older(rule, best.rule)))) {
          best = { rule, score };
        }
      }
      if (best) return best.rule;
    }
    return undefined;
  }

  /** GetNamespaceMutualTLSMode: the namespace (else mesh) policy's mode, UNKNOWN when there is neither. */
  namespaceMode(namespace: string): Mode | 'UNKNOWN' {
    let mode = this.namespaceModes.get(namespace);
    if (mode === undefined) {
      mode = namespaceMutualTlsMode(this.model.peerAuthentications, namespace, {
        rootNamespace: this.rootNamespace,
      });
      this.namespaceModes.set(namespace, mode);
    }
    return mode;
  }

  /** The merged PeerAuthentication of a workload (or endpoint) at one of its ports. */
  workloadMode(w: { namespace: string; labels: Readonly<Record<string, string>> }, port: number): Mode {
    const merged = effectivePeerAuthentication(
      this.model.peerAuthentications,
      { namespace: w.namespace, labels: { ...w.labels } },
      { rootNamespace: this.rootNamespace },
    );
    return merged.perPort[String(port)] ?? merged.mode;
  }

  /** The registry's workload at one of these addresses in `namespace`. */
  workloadAt(ips: readonly string[], namespace: string): WorkloadModel | undefined {
    return this.model.workloads.find((w) => w.namespace === namespace && ips.includes(w.address));
  }

  /** Every service port the workload serves, with its port for it. */
  serviceTargets(w: WorkloadModel): ServiceTarget[] {
    const out: ServiceTarget[] = [];
    for (const service of this.model.services) {
      if (service.namespace !== w.namespace) continue;
      const endpoint = service.endpoints.find((e) => e.source === w.source && e.address === w.address);
      if (!endpoint) continue;
      for (const port of service.ports) out.push({ service, port, targetPort: endpointPort(endpoint, port) });
    }
    return out;
  }
}

/** The endpoint's port for a service port: its own port of that name, else the targetPort, else the port. */
export function endpointPort(endpoint: Pick<EndpointModel, 'ports'>, port: ServicePortModel): number {
  const named = port.name !== '' ? endpoint.ports[port.name] : undefined;
  if (named !== undefined) return named;
  if (typeof port.targetPort === 'number') return port.targetPort;
  if (typeof port.targetPort === 'string') {
    const byTargetName = endpoint.ports[port.targetPort];
    if (byTargetName !== undefined) return byTargetName;
  }
  return port.port;
}

/** Services selecting a workload by label (for callers that have labels only). */
export function selectsWorkload(selector: Readonly<Record<string, string>>, w: WorkloadModel): boolean {
  return selects(selector, w.labels);
}

/** 0: no match; otherwise larger is more specific (exact beats any wildcard, longer wildcards beat shorter). */
function hostMatchScore(pattern: string, host: string): number {
  if (pattern === host) return Number.MAX_SAFE_INTEGER;
  if (pattern === '*') return 1;
  if (pattern.startsWith('*.') && host.endsWith(pattern.slice(1))) return pattern.length;
  return 0;
}

function older(a: Resource<unknown>, b: Resource<unknown>): boolean {
  const ta = a.metadata.creationTimestamp;
  const tb = b.metadata.creationTimestamp;
  return ta !== undefined && tb !== undefined && Date.parse(ta) < Date.parse(tb);
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}
