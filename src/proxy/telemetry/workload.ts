// Who a proxy and its peers are, for Istio's telemetry. Three sources, as Istio has them:
// - the proxy's own Envoy node metadata (istio/istio pkg/model NodeMetadata: NAME, NAMESPACE, WORKLOAD_NAME,
//   CLUSTER_ID, LABELS, OWNER, …), parsed and type-checked in src/xds/node-metadata.ts;
// - the workload object Istio's proxy builds from a Struct of those keys (istio/proxy
//   extensions/common/metadata_object.cc `convertStructToWorkloadMetadata`), which is what travels to peers;
// - EDS endpoint metadata `istio.workload` = `workload;namespace;canonical-name;canonical-revision;cluster-id`
//   (metadata_object.cc `convertEndpointMetadata`, istio/istio AppendLbEndpointMetadata).
// Canonical service names are derived in two places in Istio, both here: the sidecar injector writes
// `service.istio.io/canonical-*` pod labels, and pkg/kube/labels.CanonicalService names workloads without one.
// The stats filter itself reads the labels verbatim (istio_stats.cc `Context`). Pure: no I/O.

import { isPlainObject, type NodeMetadata } from '../../xds/node-metadata.js';

export {
  type NodeMetadata,
  NodeMetadataError,
  type NodeMetadataIssue,
  parseNodeMetadata,
} from '../../xds/node-metadata.js';

export const CANONICAL_NAME_LABEL = 'service.istio.io/canonical-name';
export const CANONICAL_REVISION_LABEL = 'service.istio.io/canonical-revision';
export const APP_LABEL = 'app';
export const VERSION_LABEL = 'version';
export const APP_NAME_QUALIFIED_LABEL = 'app.kubernetes.io/name';
export const APP_VERSION_QUALIFIED_LABEL = 'app.kubernetes.io/version';

/** Kubernetes controller kinds Istio recognises in OWNER (metadata_object.h `WorkloadType`). */
export type WorkloadType = 'pod' | 'deployment' | 'job' | 'cronjob';
const WORKLOAD_TYPES: ReadonlySet<string> = new Set<WorkloadType>(['pod', 'deployment', 'job', 'cronjob']);

/** `kubernetes://apis/apps/v1/namespaces/` (metadata_object.h `OwnerPrefix`). */
export const OWNER_PREFIX = 'kubernetes://apis/apps/v1/namespaces/';

/**
 * A workload as Istio's proxy holds it (metadata_object.h `WorkloadMetadataObject`): every field is a string, ""
 * when unknown. Telemetry turns "" into `unknown` (or `latest`) for peers and prints it as is for the proxy itself.
 */
export interface WorkloadMetadata {
  /** NAME: the pod (instance) name. */
  readonly instanceName: string;
  readonly namespace: string;
  /** WORKLOAD_NAME: the owning controller (deployment) name. */
  readonly workloadName: string;
  /** CLUSTER_ID. */
  readonly clusterId: string;
  /** LABELS[service.istio.io/canonical-name]. */
  readonly canonicalName: string;
  /** LABELS[service.istio.io/canonical-revision]. */
  readonly canonicalRevision: string;
  readonly appName: string;
  readonly appVersion: string;
  /** From OWNER; undefined when OWNER names no kind Istio knows. */
  readonly workloadType: WorkloadType | undefined;
  /** Labels beyond the four above that travel with the workload (Istio's `additional_labels`); usually none. */
  readonly extraLabels: Readonly<Record<string, string>>;
}

/** A workload with nothing known: what an empty Struct decodes to. */
export const EMPTY_WORKLOAD: WorkloadMetadata = Object.freeze({
  instanceName: '',
  namespace: '',
  workloadName: '',
  clusterId: '',
  canonicalName: '',
  canonicalRevision: '',
  appName: '',
  appVersion: '',
  workloadType: undefined,
  extraLabels: Object.freeze({}),
});

/**
 * The kind in an OWNER value, as Istio reads it (metadata_object.cc `parseOwner`): drop `s/<workload>` from the
 * end and take what follows the last `/`. Istio does not check that the dropped part really is `s/<workload>`.
 */
export function parseOwner(owner: string, workloadName: string): WorkloadType | undefined {
  if (owner.length <= workloadName.length + 2) return undefined;
  const head = owner.slice(0, owner.length - workloadName.length - 2);
  const slash = head.lastIndexOf('/');
  if (slash < 0) return undefined;
  const kind = head.slice(slash + 1);
  return WORKLOAD_TYPES.has(kind) ? (kind as WorkloadType) : undefined;
}

/** OWNER as Istio's proxy writes it (metadata_object.cc `owner()`); undefined without a known kind. */
export function formatOwner(workload: WorkloadMetadata): string | undefined {
  if (workload.workloadType === undefined) return undefined;
  return `${OWNER_PREFIX}${workload.namespace}/${workload.workloadType}s/${workload.workloadName}`;
}

function pickExtraLabels(
  labels: Readonly<Record<string, string>>,
  additionalLabels: Iterable<string> | undefined,
): Readonly<Record<string, string>> {
  if (additionalLabels === undefined) return EMPTY_WORKLOAD.extraLabels;
  const out: Record<string, string> = {};
  for (const name of additionalLabels) {
    if (
      name === CANONICAL_NAME_LABEL ||
      name === CANONICAL_REVISION_LABEL ||
      name === APP_LABEL ||
      name === VERSION_LABEL ||
      name === APP_NAME_QUALIFIED_LABEL ||
      name === APP_VERSION_QUALIFIED_LABEL
    )
      continue;
    const v = labels[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/**
 * The workload a proxy tells its peers it is (metadata_object.cc `convertStructToWorkloadMetadata` over the
 * node metadata, as the peer_metadata filter computes its header value). App and version prefer
 * `app.kubernetes.io/name|version` over `app`/`version` (newest istio/proxy).
 */
export function workloadFromNode(node: NodeMetadata, additionalLabels?: Iterable<string>): WorkloadMetadata {
  return workloadFromFields(
    {
      name: node.name ?? '',
      namespace: node.namespace ?? '',
      workloadName: node.workloadName ?? '',
      clusterId: node.clusterId ?? '',
      owner: node.owner ?? '',
    },
    node.labels,
    additionalLabels,
  );
}

/** The Struct-to-workload step shared by the node and the decoded peer header. */
export function workloadFromFields(
  fields: { name: string; namespace: string; workloadName: string; clusterId: string; owner: string },
  labels: Readonly<Record<string, string>>,
  additionalLabels?: Iterable<string>,
): WorkloadMetadata {
  const qualifiedApp = labels[APP_NAME_QUALIFIED_LABEL] ?? '';
  const qualifiedVersion = labels[APP_VERSION_QUALIFIED_LABEL] ?? '';
  return {
    instanceName: fields.name,
    namespace: fields.namespace,
    workloadName: fields.workloadName,
    clusterId: fields.clusterId,
    canonicalName: labels[CANONICAL_NAME_LABEL] ?? '',
    canonicalRevision: labels[CANONICAL_REVISION_LABEL] ?? '',
    appName: qualifiedApp !== '' ? qualifiedApp : (labels[APP_LABEL] ?? ''),
    appVersion: qualifiedVersion !== '' ? qualifiedVersion : (labels[VERSION_LABEL] ?? ''),
    workloadType: parseOwner(fields.owner, fields.workloadName),
    extraLabels: pickExtraLabels(labels, additionalLabels),
  };
}

/**
 * The proxy's own values as Istio's stats filter reads them (istio_stats.cc `Context`): WORKLOAD_NAME,
 * NAMESPACE, CLUSTER_ID, and LABELS `service.istio.io/canonical-name`, `…/canonical-revision`, `app`,
 * `version`, all verbatim ("" when missing, no derivation: in Istio the injector has already written the
 * canonical labels onto the pod, see `injectedCanonicalLabels`).
 */
export function statsWorkloadFromNode(node: NodeMetadata): WorkloadMetadata {
  return {
    instanceName: node.name ?? '',
    namespace: node.namespace ?? '',
    workloadName: node.workloadName ?? '',
    clusterId: node.clusterId ?? '',
    canonicalName: node.labels[CANONICAL_NAME_LABEL] ?? '',
    canonicalRevision: node.labels[CANONICAL_REVISION_LABEL] ?? '',
    appName: node.labels[APP_LABEL] ?? '',
    appVersion: node.labels[VERSION_LABEL] ?? '',
    workloadType: parseOwner(node.owner ?? '', node.workloadName ?? ''),
    extraLabels: EMPTY_WORKLOAD.extraLabels,
  };
}

/**
 * Istio's canonical service of a workload without the labels (istio/istio pkg/kube/labels `CanonicalService`,
 * used by istiod for EDS metadata): the first of `service.istio.io/canonical-name`, `app.kubernetes.io/name`,
 * `app` that is present (even if empty), else the workload name; revision likewise from
 * `service.istio.io/canonical-revision`, `app.kubernetes.io/version`, `version`, else `latest`.
 */
export function canonicalService(
  labels: Readonly<Record<string, string>>,
  workloadName: string,
): { name: string; revision: string } {
  const first = (keys: readonly string[]) => {
    for (const k of keys) if (Object.hasOwn(labels, k)) return labels[k];
    return undefined;
  };
  return {
    name: first([CANONICAL_NAME_LABEL, APP_NAME_QUALIFIED_LABEL, APP_LABEL]) ?? workloadName,
    revision: first([CANONICAL_REVISION_LABEL, APP_VERSION_QUALIFIED_LABEL, VERSION_LABEL]) ?? 'latest',
  };
}

/**
 * The two canonical labels the sidecar injector writes on a pod (istio/istio injection template): Helm `default`
 * chains, so an empty label counts as missing; the name falls back to the deployment name and is cut to 63
 * characters with one trailing `-` removed; the revision falls back to `latest`. Returns the labels with both set.
 */
export function injectedCanonicalLabels(
  labels: Readonly<Record<string, string>>,
  deploymentName: string,
): Record<string, string> {
  const first = (keys: readonly string[], fallback: string) => {
    for (const k of keys) {
      const v = labels[k];
      if (v !== undefined && v !== '') return v;
    }
    return fallback;
  };
  let name = first([CANONICAL_NAME_LABEL, APP_NAME_QUALIFIED_LABEL, APP_LABEL], deploymentName).slice(0, 63);
  if (name.endsWith('-')) name = name.slice(0, -1);
  return {
    ...labels,
    [CANONICAL_NAME_LABEL]: name,
    [CANONICAL_REVISION_LABEL]: first(
      [CANONICAL_REVISION_LABEL, APP_VERSION_QUALIFIED_LABEL, VERSION_LABEL],
      'latest',
    ),
  };
}

/**
 * The peer behind EDS endpoint metadata `istio.workload`
 * (`workload;namespace;canonical-name;canonical-revision;cluster-id`, metadata_object.cc
 * `convertEndpointMetadata`): undefined with fewer than 5 parts; app and version are not in it.
 */
export function parseEndpointWorkload(encoded: string): WorkloadMetadata | undefined {
  const parts = encoded.split(';');
  if (parts.length < 5) return undefined;
  return {
    ...EMPTY_WORKLOAD,
    workloadName: parts[0] as string,
    namespace: parts[1] as string,
    canonicalName: parts[2] as string,
    canonicalRevision: parts[3] as string,
    clusterId: parts[4] as string,
  };
}

/**
 * `istio.workload` as istiod writes it on an endpoint (istio/istio pilot/pkg/networking/util
 * `AppendLbEndpointMetadata`): the canonical service from the workload's labels (`canonicalService`), its
 * revision left empty when it is `latest`.
 */
export function formatEndpointWorkload(w: {
  workloadName: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  clusterId: string;
}): string {
  const canonical = canonicalService(w.labels, w.workloadName);
  const revision = canonical.revision === 'latest' ? '' : canonical.revision;
  return `${w.workloadName};${w.namespace};${canonical.name};${revision};${w.clusterId}`;
}

/** The peer from an endpoint's `filter_metadata` (`{istio: {workload: "…"}}`), if it has a valid one. */
export function endpointWorkloadFromMetadata(filterMetadata: unknown): WorkloadMetadata | undefined {
  if (!isPlainObject(filterMetadata)) return undefined;
  const istio = filterMetadata.istio;
  if (!isPlainObject(istio)) return undefined;
  const workload = istio.workload;
  return typeof workload === 'string' ? parseEndpointWorkload(workload) : undefined;
}
