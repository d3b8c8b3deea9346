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
import type { ProxyNode } from './proxy.js';

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
  /** One service per host name, as Istio's SidecarScope keeps them (see `chooseServices`). */
  private readonly byHost: Map<string, ServiceModel>;
  private readonly chosen: readonly ServiceModel[];
  /** DestinationRules by namespace, oldest first (the order Istio merges and breaks ties in). */
  private readonly rulesByNamespace = new Map<string, Resource<DestinationRuleSpec>[]>();
  private readonly ruleCache = new Map<string, Resource<DestinationRuleSpec> | undefined>();

  constructor(model: MeshModel, outboundPorts: OutboundPorts, previous?: GenerationContext) {
    this.model = model;
    this.outboundPorts = outboundPorts;
    this.policyKey = JSON.stringify([
      model.meshConfig,
      model.peerAuthentications.map((p) => [p.metadata, p.spec]),
      model.destinationRules.map((r) => [r.metadata, r.spec]),
      model.virtualServices.map((r) => [r.metadata, r.spec]),
    ]);
    this.byHost = chooseServices(model.services);
    // One per host (merged ServiceEntries are new objects, so they are taken from byHost, not model.services).
    this.chosen = [...this.byHost.values()].sort((a, b) => compareText(a.hostname, b.hostname));
    for (const rule of [...model.destinationRules].sort(byAge)) {
      const list = this.rulesByNamespace.get(rule.metadata.namespace);
      if (list) list.push(rule);
      else this.rulesByNamespace.set(rule.metadata.namespace, [rule]);
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

  /** The service for a host name (one per host, whoever declares it: see `chooseServices`). */
  service(hostname: string): ServiceModel | undefined {
    return this.byHost.get(hostname);
  }

  /** Every service a proxy sees, one per host name, sorted by host name (exportTo is not modelled). */
  services(): readonly ServiceModel[] {
    return this.chosen;
  }

  /** Istio's ResolveShortnameToFQDN: a name without a dot is a Kubernetes service of `namespace`. */
  resolveHost(host: string, namespace: string): string {
    if (host === '*' || host.includes('.') || isIpAddress(host)) return host;
    return `${host}.${namespace}.svc.${DOMAIN_SUFFIX}`;
  }

  /**
   * The DestinationRule a proxy in `proxyNamespace` uses for `service` (push_context.go destinationRule): the
   * proxy's namespace, then the service's, then the root namespace — a proxy in the root namespace starts with the
   * service's (Skiff treats every rule as exported). Within a namespace the exact host beats the most specific
   * wildcard, and the rules for that one host are merged as Istio merges them (mergeDestinationRule).
   */
  destinationRule(service: ServiceModel, proxyNamespace: string): Resource<DestinationRuleSpec> | undefined {
    const key = `${proxyNamespace} ${service.hostname}`;
    if (this.ruleCache.has(key)) return this.ruleCache.get(key);
    const order =
      proxyNamespace === this.rootNamespace
        ? [service.namespace, this.rootNamespace]
        : [proxyNamespace, service.namespace, this.rootNamespace];
    let found: Resource<DestinationRuleSpec> | undefined;
    for (const ns of unique(order)) {
      const rules = this.rulesByNamespace.get(ns) ?? [];
      let best = 0;
      for (const rule of rules)
        best = Math.max(best, hostMatchScore(this.resolveHost(rule.spec.host, ns), service.hostname));
      if (best === 0) continue;
      const same = rules.filter(
        (r) => hostMatchScore(this.resolveHost(r.spec.host, ns), service.hostname) === best,
      );
      found = mergeDestinationRules(same);
      break;
    }
    this.ruleCache.set(key, found);
    return found;
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

  /**
   * The registry's workload of a proxy: at one of its addresses in its namespace — and, where several share an
   * address (local mode's single-address fallback), the one its node names (WORKLOAD_NAME, else its proxy id).
   */
  workloadAt(ips: readonly string[], namespace: string, name?: string): WorkloadModel | undefined {
    const here = this.model.workloads.filter((w) => w.namespace === namespace && ips.includes(w.address));
    if (here.length <= 1 || name === undefined) return here[0];
    return here.find((w) => w.name === name) ?? here[0];
  }

  /**
   * The proxy as generation reads it: its labels are its workload's in the registry, the node's LABELS only when
   * the registry does not know it (Istio's SetWorkloadLabels) — what VirtualService sourceLabels match.
   */
  resolveProxy(proxy: ProxyNode): ProxyNode {
    const w = this.workloadAt(proxy.ips, proxy.namespace, proxy.workloadName);
    return w && Object.keys(w.labels).length > 0 ? { ...proxy, labels: w.labels } : proxy;
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

/**
 * Istio's configCompareByCreationTime: oldest first; equal or unknown times by name, then namespace. (Local
 * files have no creation time: name order decides, as it does for Istio's configs created in the same second.)
 */
function byAge(a: Resource<unknown>, b: Resource<unknown>): number {
  const ta = Date.parse(a.metadata.creationTimestamp ?? '');
  const tb = Date.parse(b.metadata.creationTimestamp ?? '');
  if (!Number.isNaN(ta) && !Number.isNaN(tb) && ta !== tb) return ta - tb;
  return (
    compareText(a.metadata.name, b.metadata.name) || compareText(a.metadata.namespace, b.metadata.namespace)
  );
}

/**
 * destination_rule.go mergeDestinationRule: rules of one namespace for one host (no workload selectors in Skiff)
 * merge into the oldest — a later rule's subsets are added when their names are new, and its traffic policy is used
 * only when the older ones have none.
 */
function mergeDestinationRules(
  rules: readonly Resource<DestinationRuleSpec>[],
): Resource<DestinationRuleSpec> | undefined {
  const [first, ...rest] = rules;
  if (!first || rest.length === 0) return first;
  const subsets = [...(first.spec.subsets ?? [])];
  let trafficPolicy = first.spec.trafficPolicy;
  for (const r of rest) {
    for (const subset of r.spec.subsets ?? []) {
      if (!subsets.some((s) => s.name === subset.name)) subsets.push(subset);
    }
    if (trafficPolicy === undefined && r.spec.trafficPolicy !== undefined)
      trafficPolicy = r.spec.trafficPolicy;
  }
  const spec: DestinationRuleSpec = { ...first.spec, subsets };
  if (trafficPolicy !== undefined) spec.trafficPolicy = trafficPolicy;
  else delete spec.trafficPolicy;
  return { ...first, spec };
}

/**
 * One service per host name, as Istio's SidecarScope builds it (sidecar.go appendServices): services are taken
 * oldest first and the first of a host wins, except that a Kubernetes Service replaces any other kind (no
 * squatting on a Service's name with a ServiceEntry); a later ServiceEntry of the same namespace adds the ports the
 * winner lacks (canMergeServices); anything else is ignored.
 */
function chooseServices(services: readonly ServiceModel[]): Map<string, ServiceModel> {
  const out = new Map<string, ServiceModel>();
  const ordered = [...services].sort(
    (a, b) => byAge(a.source, b.source) || compareText(a.hostname, b.hostname),
  );
  for (const s of ordered) {
    const existing = out.get(s.hostname);
    if (!existing) {
      out.set(s.hostname, s);
      continue;
    }
    if (existing.kind === 'Service') continue;
    if (s.kind === 'Service') {
      out.set(s.hostname, s);
      continue;
    }
    if (s.namespace !== existing.namespace) continue;
    const extra = s.ports.filter((p) => !existing.ports.some((q) => q.port === p.port));
    if (extra.length > 0) out.set(s.hostname, { ...existing, ports: [...existing.ports, ...extra] });
  }
  return out;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}
