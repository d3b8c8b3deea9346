// Builds the mesh model from one loaded configuration snapshot: Kubernetes Services and ServiceEntries become
// services, WorkloadEntries become workloads and, selected by label, the endpoints of those services. Pure.
// Unchanged services keep the object of the previous model, so caches keyed by service survive a change that
// did not touch them (invalidation per change, not per push).
// Istio: pilot/pkg/serviceregistry/kube/conversion.go (ConvertService), pilot/pkg/serviceregistry/serviceentry
// (convertServices, convertWorkloadEntryToWorkloadInstance), pilot/pkg/model/service.go.

import { spiffeId } from '../../ca/identity.js';
import type { DestinationRuleSpec } from '../../config/kinds/destination-rule.js';
import type { ServiceSpec } from '../../config/kinds/service.js';
import type { ServiceEntrySpec } from '../../config/kinds/service-entry.js';
import type { VirtualServiceSpec } from '../../config/kinds/virtual-service.js';
import type { WorkloadEntrySpec } from '../../config/kinds/workload-entry.js';
import type { ConfigSnapshot } from '../../config/load.js';
import type { Resource } from '../../config/resource.js';
import { kubernetesPortProtocol, serviceEntryPortProtocol } from './protocol.js';
import type {
  EndpointModel,
  MeshModel,
  ModelProblem,
  Resolution,
  ServiceModel,
  ServicePortModel,
  WorkloadModel,
} from './types.js';

/** Istio's DNS domain suffix (`--domain`, default `cluster.local`): `<name>.<ns>.svc.cluster.local`. */
export const DOMAIN_SUFFIX = 'cluster.local';
/** The label that says a workload has a sidecar. */
export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';

export function kubernetesHostname(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.${DOMAIN_SUFFIX}`;
}

/** Every label of `selector` is on `labels` (an empty selector selects everything). */
export function selects(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

export function buildModel(snapshot: ConfigSnapshot, previous?: MeshModel): MeshModel {
  const problems: ModelProblem[] = [];
  const trustDomain = snapshot.meshConfig.trustDomain;
  const ofKind = <T>(kind: string) => snapshot.resources.filter((r) => r.kind === kind) as Resource<T>[];

  const workloads = ofKind<WorkloadEntrySpec>('WorkloadEntry')
    .map((r) => workloadFromEntry(r, problems))
    .sort((a, b) => compare(a.namespace, b.namespace) || compare(a.name, b.name));

  const services: ServiceModel[] = [];
  for (const r of ofKind<ServiceSpec>('Service')) {
    const s = kubernetesService(r, workloads, trustDomain, problems);
    if (s) services.push(s);
  }
  for (const r of ofKind<ServiceEntrySpec>('ServiceEntry')) {
    services.push(...serviceEntryServices(r, workloads, trustDomain));
  }
  services.sort((a, b) => compare(a.hostname, b.hostname) || compare(a.namespace, b.namespace));

  return {
    meshConfig: snapshot.meshConfig,
    services: reuseUnchanged(services, previous?.services ?? []),
    workloads,
    peerAuthentications: snapshot.peerAuthentications,
    destinationRules: ofKind<DestinationRuleSpec>('DestinationRule'),
    virtualServices: ofKind<VirtualServiceSpec>('VirtualService'),
    problems,
  };
}

/** The annotation the runtime writes on each WorkloadEntry: where its app listens behind the sidecar. */
export const APP_PORTS_ANNOTATION = 'skiff.dev/app-ports';

function workloadFromEntry(r: Resource<WorkloadEntrySpec>, problems: ModelProblem[]): WorkloadModel {
  const spec = r.spec ?? {};
  // Istio selects a WorkloadEntry by its spec labels (metadata labels are the object's own).
  const labels = spec.labels ?? {};
  return {
    name: r.metadata.name,
    namespace: r.metadata.namespace,
    address: spec.address ?? '',
    labels,
    serviceAccount: spec.serviceAccount ?? '',
    tlsMode: labels[TLS_MODE_LABEL] === 'istio' ? 'istio' : 'disabled',
    ports: spec.ports ?? {},
    locality: spec.locality ?? '',
    weight: spec.weight && spec.weight > 0 ? spec.weight : 1,
    appPorts: parseAppPorts(r, problems),
    source: r,
  };
}

/** `8080=18080,9090=19090`; a malformed entry is reported and skipped (that port keeps its own number). */
function parseAppPorts(r: Resource<unknown>, problems: ModelProblem[]): Record<number, number> {
  const text = r.metadata.annotations?.[APP_PORTS_ANNOTATION];
  const out: Record<number, number> = {};
  if (text === undefined || text.trim() === '') return out;
  for (const item of text.split(',')) {
    const m = /^\s*(\d{1,5})\s*=\s*(\d{1,5})\s*$/.exec(item);
    const from = Number(m?.[1]);
    const to = Number(m?.[2]);
    if (!m || from < 1 || from > 65535 || to < 1 || to > 65535) {
      problems.push({
        severity: 'warning',
        code: 'SKIFF_MODEL_APP_PORTS',
        message: `${r.kind} ${r.metadata.namespace}/${r.metadata.name}: annotation ${APP_PORTS_ANNOTATION} entry ${JSON.stringify(item.trim())} ignored: expected PORT=APP_PORT (e.g. 8080=18080)`,
        resource: r,
      });
      continue;
    }
    out[from] = to;
  }
  return out;
}

function endpointFromWorkload(w: WorkloadModel): EndpointModel {
  return {
    address: w.address,
    ports: w.ports,
    labels: w.labels,
    namespace: w.namespace,
    serviceAccount: w.serviceAccount,
    tlsMode: w.tlsMode,
    workloadName: w.name,
    locality: w.locality,
    weight: w.weight,
    source: w.source,
  };
}

function kubernetesService(
  r: Resource<ServiceSpec>,
  workloads: readonly WorkloadModel[],
  trustDomain: string,
  problems: ModelProblem[],
): ServiceModel | undefined {
  const spec = r.spec ?? {};
  const ns = r.metadata.namespace;
  if (spec.type === 'ExternalName') {
    problems.push({
      severity: 'warning',
      code: 'SKIFF_MODEL_EXTERNAL_NAME',
      message: `${r.kind} ${ns}/${r.metadata.name}: type ExternalName is not served by the mesh yet (no listeners or clusters are generated for it)`,
      resource: r,
    });
    return undefined;
  }
  const ports: ServicePortModel[] = [];
  for (const p of spec.ports ?? []) {
    const proto = kubernetesPortProtocol(p);
    if (!proto) continue;
    ports.push({
      name: p.name ?? '',
      port: p.port,
      ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
      protocol: proto.protocol,
      protocolSource: proto.source,
    });
  }
  const headless = spec.clusterIP === 'None';
  const addresses = headless
    ? []
    : unique([...(spec.clusterIP ? [spec.clusterIP] : []), ...(spec.clusterIPs ?? [])]);
  // A Service without a selector has no endpoints Kubernetes would fill in (manual EndpointSlices are not read).
  const selector = spec.selector;
  const endpoints =
    selector && Object.keys(selector).length > 0
      ? workloads
          .filter((w) => w.namespace === ns && w.address !== '' && selects(selector, w.labels))
          .map(endpointFromWorkload)
      : [];
  return {
    hostname: kubernetesHostname(r.metadata.name, ns),
    name: r.metadata.name,
    namespace: ns,
    kind: 'Service',
    addresses,
    ports,
    location: 'MESH_INTERNAL',
    resolution: headless ? 'NONE' : 'STATIC',
    headless,
    endpoints: sortEndpoints(endpoints),
    serviceAccounts: identities(endpoints, trustDomain, []),
    labels: r.metadata.labels ?? {},
    source: r,
  };
}

function serviceEntryServices(
  r: Resource<ServiceEntrySpec>,
  workloads: readonly WorkloadModel[],
  trustDomain: string,
): ServiceModel[] {
  const spec = r.spec;
  const ns = r.metadata.namespace;
  const ports: ServicePortModel[] = [];
  for (const p of spec.ports ?? []) {
    const proto = serviceEntryPortProtocol(p);
    if (!proto) continue;
    ports.push({
      name: p.name,
      port: p.number,
      ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
      protocol: proto.protocol,
      protocolSource: proto.source,
    });
  }
  const resolution: Resolution =
    spec.resolution === 'DNS' || spec.resolution === 'DNS_ROUND_ROBIN' || spec.resolution === 'STATIC'
      ? spec.resolution
      : 'NONE';
  let endpoints: EndpointModel[];
  if (spec.workloadSelector) {
    const selector = spec.workloadSelector.labels ?? {};
    endpoints = workloads
      .filter((w) => w.namespace === ns && w.address !== '' && selects(selector, w.labels))
      .map(endpointFromWorkload);
  } else {
    endpoints = (spec.endpoints ?? []).map((e, i) => {
      const labels = e.labels ?? {};
      return {
        address: e.address ?? '',
        ports: e.ports ?? {},
        labels,
        namespace: ns,
        serviceAccount: e.serviceAccount ?? '',
        tlsMode: labels[TLS_MODE_LABEL] === 'istio' ? 'istio' : 'disabled',
        workloadName: `${r.metadata.name}-${i}`,
        locality: e.locality ?? '',
        weight: e.weight && e.weight > 0 ? e.weight : 1,
      } satisfies EndpointModel;
    });
  }
  const sorted = sortEndpoints(endpoints);
  const accounts = identities(endpoints, trustDomain, spec.subjectAltNames ?? []);
  return spec.hosts.map((hostname) => ({
    hostname,
    name: r.metadata.name,
    namespace: ns,
    kind: 'ServiceEntry' as const,
    addresses: spec.addresses ?? [],
    ports,
    location: spec.location ?? 'MESH_EXTERNAL',
    resolution,
    headless: false,
    endpoints: sorted,
    serviceAccounts: accounts,
    labels: r.metadata.labels ?? {},
    source: r,
  }));
}

function identities(
  endpoints: readonly EndpointModel[],
  trustDomain: string,
  extra: readonly string[],
): string[] {
  const ids = endpoints
    .filter((e) => e.serviceAccount !== '')
    .map((e) => spiffeId({ trustDomain, namespace: e.namespace, serviceAccount: e.serviceAccount }));
  return unique([...ids, ...extra]).sort();
}

function sortEndpoints(endpoints: EndpointModel[]): EndpointModel[] {
  return endpoints.sort((a, b) => compare(a.address, b.address) || compare(a.workloadName, b.workloadName));
}

/** Keeps the previous object for every service whose content did not change. */
function reuseUnchanged(next: ServiceModel[], previous: readonly ServiceModel[]): ServiceModel[] {
  if (previous.length === 0) return next;
  const before = new Map<string, ServiceModel>();
  for (const s of previous) before.set(fingerprint(s), s);
  return next.map((s) => before.get(fingerprint(s)) ?? s);
}

const fingerprints = new WeakMap<ServiceModel, string>();

/** The content of a service, without where it was read (moving a document in its file changes nothing). */
export function fingerprint(s: ServiceModel): string {
  let f = fingerprints.get(s);
  if (f === undefined) {
    f = JSON.stringify(s, (key, value) => (key === 'source' ? undefined : value));
    fingerprints.set(s, f);
  }
  return f;
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
