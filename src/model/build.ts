// Builds the mesh model from one loaded configuration snapshot: Kubernetes Services and ServiceEntries become
// services, WorkloadEntries become workloads and, selected by label, the endpoints of those services. Pure.
// Unchanged services, workloads, policies and mesh config keep the objects of the previous model, so caches keyed
// by them survive a change that did not touch them, and a change is told by identity (invalidation per change,
// not per push).
// Istio: pilot/pkg/serviceregistry/kube/conversion.go ConvertService, pilot/pkg/serviceregistry/kube/controller
// (serviceInstancesFromWorkloadInstances), pilot/pkg/serviceregistry/serviceentry/conversion.go
// (convertServices, convertServiceEntryToInstances, convertWorkloadEntryToWorkloadInstance), model/service.go.

import { spiffeId } from '../ca/identity.js';
import type { DestinationRuleSpec } from '../config/kinds/destination-rule.js';
import { isIpAddress } from '../config/kinds/istio-common.js';
import type { ServicePort, ServiceSpec } from '../config/kinds/service.js';
import type { ServiceEntrySpec } from '../config/kinds/service-entry.js';
import type { VirtualServiceSpec } from '../config/kinds/virtual-service.js';
import { UNIX_PREFIX, type WorkloadEntrySpec } from '../config/kinds/workload-entry.js';
import type { ConfigSnapshot } from '../config/load.js';
import type { Resource } from '../config/resource.js';
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
/** The annotation the runtime writes on each WorkloadEntry: where its app listens behind the sidecar. */
export const APP_PORTS_ANNOTATION = 'skiff.dev/app-ports';
/** A Kubernetes Service's extra identities: SPIFFE IDs as written, and service account names of its namespace. */
export const CANONICAL_SERVICE_ACCOUNTS_ANNOTATION = 'alpha.istio.io/canonical-serviceaccounts';
export const KUBERNETES_SERVICE_ACCOUNTS_ANNOTATION = 'alpha.istio.io/kubernetes-serviceaccounts';
/** Locality labels, read when a WorkloadEntry has no `locality` (pkg/model/proxy.go GetLocalityLabel). */
const LOCALITY_LABELS = ['topology.istio.io/locality', 'istio-locality'];

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
  // The loader only passes valid resources; a conversion that throws anyway is reported, never thrown.
  const guarded = <T>(r: Resource<unknown>, convert: () => T): T | undefined => {
    try {
      return convert();
    } catch (e) {
      problems.push({
        severity: 'error',
        code: 'SKIFF_MODEL_UNREADABLE',
        message: `${describe(r)}: could not be added to the mesh model: ${(e as Error)?.message ?? String(e)}`,
        resource: r,
      });
      return undefined;
    }
  };

  const fresh: WorkloadModel[] = [];
  for (const r of ofKind<WorkloadEntrySpec>('WorkloadEntry')) {
    const w = guarded(r, () => workloadFromEntry(r, problems));
    if (w) fresh.push(w);
  }
  fresh.sort((a, b) => compare(a.namespace, b.namespace) || compare(a.name, b.name));
  // Workloads first: a reused workload's `source` is the one its services' endpoints will carry.
  const workloads = reuseWorkloads(fresh, previous?.workloads ?? []);

  const services: ServiceModel[] = [];
  for (const r of ofKind<ServiceSpec>('Service')) {
    const s = guarded(r, () => kubernetesService(r, workloads, trustDomain, problems));
    if (s) services.push(s);
  }
  for (const r of ofKind<ServiceEntrySpec>('ServiceEntry')) {
    services.push(...(guarded(r, () => serviceEntryServices(r, workloads, trustDomain)) ?? []));
  }
  services.sort((a, b) => compare(a.hostname, b.hostname) || compare(a.namespace, b.namespace));

  return {
    meshConfig: same(snapshot.meshConfig, previous?.meshConfig),
    services: reuseServices(services, previous?.services ?? []),
    workloads,
    peerAuthentications: sameResources(snapshot.peerAuthentications, previous?.peerAuthentications),
    destinationRules: sameResources(
      ofKind<DestinationRuleSpec>('DestinationRule'),
      previous?.destinationRules,
    ),
    virtualServices: sameResources(ofKind<VirtualServiceSpec>('VirtualService'), previous?.virtualServices),
    problems,
  };
}

function workloadFromEntry(r: Resource<WorkloadEntrySpec>, problems: ModelProblem[]): WorkloadModel {
  const spec = r.spec ?? {};
  // Istio merges the object's labels over the spec's (metadata wins) and selects by the result.
  // Istio: pilot/pkg/serviceregistry/serviceentry/conversion.go ConvertWorkloadEntry.
  const labels = { ...(spec.labels ?? {}), ...(r.metadata.labels ?? {}) };
  return {
    name: r.metadata.name,
    namespace: r.metadata.namespace,
    address: spec.address ?? '',
    labels,
    serviceAccount: spec.serviceAccount ?? '',
    tlsMode: tlsModeOf(labels, spec.serviceAccount),
    ports: spec.ports ?? {},
    locality: localityOf(spec.locality, labels),
    weight: spec.weight && spec.weight > 0 ? spec.weight : 1,
    appPorts: parseAppPorts(r, problems),
    source: r,
  };
}

/**
 * The `security.istio.io/tlsMode` label when present (only `istio` means a sidecar); without it, a workload
 * with a service account is taken to have one. Istio: serviceentry/conversion.go getTLSModeFromWorkloadEntry.
 */
function tlsModeOf(
  labels: Readonly<Record<string, string>>,
  serviceAccount: string | undefined,
): 'istio' | 'disabled' {
  const label = labels[TLS_MODE_LABEL];
  if (label !== undefined) return label === 'istio' ? 'istio' : 'disabled';
  return serviceAccount ? 'istio' : 'disabled';
}

/** `locality`, else the locality label with `.` read as `/` (labels cannot hold `/`). */
function localityOf(locality: string | undefined, labels: Readonly<Record<string, string>>): string {
  if (locality) return locality;
  for (const key of LOCALITY_LABELS) {
    const value = labels[key];
    if (value !== undefined) return value.includes('/') ? value : value.replaceAll('.', '/');
  }
  return '';
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
        message: `${describe(r)}: annotation ${APP_PORTS_ANNOTATION} entry ${JSON.stringify(item.trim())} ignored: expected PORT=APP_PORT (e.g. 8080=18080)`,
        resource: r,
      });
      continue;
    }
    out[from] = to;
  }
  return out;
}

/**
 * Kubernetes Services and non-DNS ServiceEntries select only workloads with an IP address; a host name or a
 * Unix socket is for DNS ServiceEntries. Istio: convertWorkloadEntryToWorkloadInstance (DNSServiceEntryOnly).
 */
function dnsOnly(w: WorkloadModel): boolean {
  return w.address.startsWith(UNIX_PREFIX) || (w.address !== '' && !isIpAddress(w.address));
}

function endpointFromWorkload(
  w: WorkloadModel,
  ports: Readonly<Record<string, number>> = w.ports,
): EndpointModel {
  return {
    address: w.address,
    ports,
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
    // Istio makes it a MESH_EXTERNAL alias of externalName (kube/conversion.go ConvertService).
    problems.push({
      severity: 'warning',
      code: 'SKIFF_MODEL_EXTERNAL_NAME',
      message: `${describe(r)}: type ExternalName is not served by the mesh yet (no listeners or clusters are generated for it)`,
      resource: r,
    });
    return undefined;
  }
  const declared = (spec.ports ?? []).filter((p) => kubernetesPortProtocol(p) !== undefined);
  const ports: ServicePortModel[] = declared.map((p) => {
    const proto = kubernetesPortProtocol(p) ?? { protocol: undefined, source: 'sniffed' as const };
    return {
      name: p.name ?? '',
      port: p.port,
      ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
      protocol: proto.protocol,
      protocolSource: proto.source,
    };
  });
  const headless = spec.clusterIP === 'None';
  const addresses = headless
    ? []
    : unique([...(spec.clusterIP ? [spec.clusterIP] : []), ...(spec.clusterIPs ?? [])]);
  // A Service without a selector has no endpoints Kubernetes would fill in (manual EndpointSlices are not read).
  // Istio selects WorkloadEntries for ClientSideLB Services only; here WorkloadEntries stand in for pods (local
  // mode), whose endpoints a headless Service has too, so headless Services select them as well.
  const selector = spec.selector;
  const endpoints: EndpointModel[] = [];
  if (selector && Object.keys(selector).length > 0) {
    for (const w of workloads) {
      if (w.namespace !== ns || w.address === '' || dnsOnly(w) || !selects(selector, w.labels)) continue;
      const resolved = resolveTargetPorts(declared, w);
      if (resolved.missing.length > 0 && resolved.missing.length === declared.length) continue;
      if (resolved.missing.length > 0) {
        problems.push({
          severity: 'warning',
          code: 'SKIFF_MODEL_TARGET_PORT',
          message: `${describe(r)}: WorkloadEntry ${w.namespace}/${w.name} has no port named ${resolved.missing.map((n) => JSON.stringify(n)).join(', ')} (the Service's targetPort); Istio leaves it out of those ports, Skiff sends them to the service port number`,
          resource: r,
        });
      }
      endpoints.push(endpointFromWorkload(w, resolved.ports));
    }
  }
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
    serviceAccounts: identities(endpoints, trustDomain, annotatedAccounts(r, trustDomain)),
    labels: r.metadata.labels ?? {},
    source: r,
  };
}

/**
 * A selected workload's port for each Service port, keyed by the Service port's name (the workload's own named
 * ports stay, for an unnamed port whose targetPort is a name). A numeric (or defaulted) targetPort: the workload's
 * port of the Service port's name, else that number; a named targetPort: the workload's port of that name, else
 * the workload does not serve that port (`missing`).
 * Istio: kube/controller/controller.go serviceInstanceFromWorkloadInstance, util.go findServiceTargetPort.
 */
function resolveTargetPorts(
  declared: readonly ServicePort[],
  w: WorkloadModel,
): { ports: Record<string, number>; missing: string[] } {
  const ports: Record<string, number> = { ...w.ports };
  const missing: string[] = [];
  for (const p of declared) {
    const name = p.name ?? '';
    if (typeof p.targetPort === 'string') {
      const found = w.ports[p.targetPort];
      if (found !== undefined && found > 0) ports[name] = found;
      else missing.push(p.targetPort);
    } else {
      // Kubernetes defaults an unset targetPort to the port.
      const own = name !== '' ? w.ports[name] : undefined;
      ports[name] = own !== undefined && own > 0 ? own : (p.targetPort ?? p.port);
    }
  }
  // An unnamed port has no name to be looked up by (GenerationContext.endpointPort skips '').
  delete ports[''];
  return { ports, missing };
}

/** Istio: kube/conversion.go ConvertService (the alpha service-account annotations). */
function annotatedAccounts(r: Resource<unknown>, trustDomain: string): string[] {
  const annotations = r.metadata.annotations ?? {};
  const list = (key: string) =>
    (annotations[key] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  return [
    ...list(CANONICAL_SERVICE_ACCOUNTS_ANNOTATION),
    ...list(KUBERNETES_SERVICE_ACCOUNTS_ANNOTATION).map((serviceAccount) =>
      spiffeId({ trustDomain, namespace: r.metadata.namespace, serviceAccount }),
    ),
  ];
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
  // DYNAMIC_DNS (accepted with a warning by the loader) has no model resolution yet: read as NONE.
  const resolution: Resolution =
    spec.resolution === 'DNS' || spec.resolution === 'DNS_ROUND_ROBIN' || spec.resolution === 'STATIC'
      ? spec.resolution
      : 'NONE';
  const dns = resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN';
  let endpoints: EndpointModel[] | undefined;
  if (spec.workloadSelector) {
    const selector = spec.workloadSelector.labels ?? {};
    endpoints = workloads
      .filter(
        (w) => w.namespace === ns && w.address !== '' && (dns || !dnsOnly(w)) && selects(selector, w.labels),
      )
      .map((w) => endpointFromWorkload(w));
  } else if ((spec.endpoints ?? []).length > 0) {
    endpoints = (spec.endpoints ?? []).map((e, i) => {
      const labels = e.labels ?? {};
      return {
        address: e.address ?? '',
        ports: e.ports ?? {},
        labels,
        namespace: ns,
        serviceAccount: e.serviceAccount ?? '',
        tlsMode: tlsModeOf(labels, e.serviceAccount),
        // Istio names an inline endpoint `<entry>-<index>` (convertServiceEntryToInstances).
        workloadName: `${r.metadata.name}-${i}`,
        locality: localityOf(e.locality, labels),
        weight: e.weight && e.weight > 0 ? e.weight : 1,
      } satisfies EndpointModel;
    });
  }
  const sorted = endpoints ? sortEndpoints(endpoints) : undefined;
  const accounts = identities(endpoints ?? [], trustDomain, spec.subjectAltNames ?? []);
  return (spec.hosts ?? []).map((hostname) => ({
    hostname,
    name: r.metadata.name,
    namespace: ns,
    kind: 'ServiceEntry' as const,
    addresses: (spec.addresses ?? []).map(singleAddress),
    ports,
    location: spec.location ?? 'MESH_EXTERNAL',
    resolution,
    headless: false,
    // A DNS entry with neither endpoints nor a selector resolves its own host: one endpoint per host, whose
    // port is each service port's targetPort, else its number. Istio: convertServiceEntryToInstances.
    endpoints: sorted ?? (dns ? [hostEndpoint(hostname, r)] : []),
    serviceAccounts: accounts,
    labels: r.metadata.labels ?? {},
    source: r,
  }));
}

function hostEndpoint(hostname: string, r: Resource<unknown>): EndpointModel {
  return {
    address: hostname,
    ports: {},
    labels: {},
    namespace: r.metadata.namespace,
    serviceAccount: '',
    tlsMode: 'disabled',
    workloadName: r.metadata.name,
    locality: '',
    weight: 1,
  };
}

/** `10.0.0.1/32` is the address `10.0.0.1` (serviceentry/conversion.go convertServices). */
function singleAddress(address: string): string {
  const m = /^(.*)\/(\d+)$/.exec(address);
  if (!m?.[1]) return address;
  const full = m[1].includes(':') ? 128 : 32;
  return Number(m[2]) === full ? m[1] : address;
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

/** Keeps the previous object of every workload whose content did not change. */
function reuseWorkloads(next: WorkloadModel[], previous: readonly WorkloadModel[]): readonly WorkloadModel[] {
  const before = new Map<string, WorkloadModel>();
  for (const w of previous) before.set(fingerprint(w), w);
  const out = next.map((w) => before.get(fingerprint(w)) ?? w);
  return out.length === previous.length && out.every((w, i) => w === previous[i]) ? previous : out;
}

/**
 * Keeps the previous object of every service whose content did not change and whose endpoints point at the
 * same workload objects (GenerationContext matches a service's endpoints to workloads by `source` identity).
 */
function reuseServices(next: ServiceModel[], previous: readonly ServiceModel[]): readonly ServiceModel[] {
  const before = new Map<string, ServiceModel>();
  for (const s of previous) before.set(fingerprint(s), s);
  const out = next.map((s) => {
    const old = before.get(fingerprint(s));
    return old?.endpoints.every((e, i) => e.source === s.endpoints[i]?.source) ? old : s;
  });
  return out.length === previous.length && out.every((s, i) => s === previous[i]) ? previous : out;
}

/** The previous list when the resources read the same (where they were read does not count). */
function sameResources<T extends { metadata: unknown; spec?: unknown }>(
  next: readonly T[],
  previous: readonly T[] | undefined,
): readonly T[] {
  if (previous === undefined || previous.length !== next.length) return next;
  const key = (list: readonly T[]) => JSON.stringify(list.map((r) => [r.metadata, r.spec]));
  return key(next) === key(previous) ? previous : next;
}

function same<T>(next: T, previous: T | undefined): T {
  return previous !== undefined && JSON.stringify(next) === JSON.stringify(previous) ? previous : next;
}

const fingerprints = new WeakMap<object, string>();

/** The content of a service or workload, without where it was read (moving a document in its file changes nothing). */
export function fingerprint(s: ServiceModel | WorkloadModel): string {
  let f = fingerprints.get(s);
  if (f === undefined) {
    f = JSON.stringify(s, (key, value) => (key === 'source' ? undefined : value));
    fingerprints.set(s, f);
  }
  return f;
}

function describe(r: Resource<unknown>): string {
  return `${r.kind} ${r.metadata.namespace}/${r.metadata.name}`;
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
