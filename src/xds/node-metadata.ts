// An Envoy node's Istio metadata (istio/istio pkg/model/proxy.go NodeMetadata: NAME, NAMESPACE, WORKLOAD_NAME,
// CLUSTER_ID, LABELS, OWNER, INSTANCE_IPS, …), type-checked: what a proxy announces in its bootstrap and on every
// xDS stream. Read by the proxy (its own telemetry) and by the control plane (who is connecting). Pure.

import { showValue } from '../core/diagnostics.js';
import { type FieldPath, formatPath } from '../core/field-path.js';
/**
 * The Istio keys of an Envoy node's metadata, type-checked. Keys not listed here are allowed and ignored (Istio
 * puts many: INTERCEPTION_MODE, PROXY_CONFIG, ANNOTATIONS, …).
 */
export interface NodeMetadata {
  /** NAME: pod name. */
  readonly name: string | undefined;
  readonly namespace: string | undefined;
  readonly workloadName: string | undefined;
  readonly clusterId: string | undefined;
  /** OWNER: `kubernetes://apis/apps/v1/namespaces/<ns>/<kind>s/<name>`. */
  readonly owner: string | undefined;
  readonly serviceAccount: string | undefined;
  readonly meshId: string | undefined;
  /** ISTIO_VERSION: the `tag` of `istio_build`. */
  readonly istioVersion: string | undefined;
  /** IDENTITY: the workload's SPIFFE identity where the node has one (ambient); sidecars usually do not. */
  readonly identity: string | undefined;
  /** INSTANCE_IPS, a comma-separated string in Istio's JSON. */
  readonly instanceIps: readonly string[];
  /** APP_CONTAINERS, a comma-separated string in Istio's JSON. */
  readonly appContainers: readonly string[];
  /** LABELS: the pod's labels. */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly platformMetadata: Readonly<Record<string, string>>;
}

export interface NodeMetadataIssue {
  readonly path: FieldPath;
  readonly value: unknown;
  readonly message: string;
}

/** Node metadata with a value of the wrong type; `issues` lists every one, each with its field path. */
export class NodeMetadataError extends Error {
  constructor(readonly issues: readonly NodeMetadataIssue[]) {
    super(issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; '));
    this.name = 'NodeMetadataError';
  }
}

const STRING_KEYS = {
  name: 'NAME',
  namespace: 'NAMESPACE',
  workloadName: 'WORKLOAD_NAME',
  clusterId: 'CLUSTER_ID',
  owner: 'OWNER',
  serviceAccount: 'SERVICE_ACCOUNT',
  meshId: 'MESH_ID',
  istioVersion: 'ISTIO_VERSION',
  identity: 'IDENTITY',
} as const;
const LIST_KEYS = { instanceIps: 'INSTANCE_IPS', appContainers: 'APP_CONTAINERS' } as const;
const MAP_KEYS = {
  labels: 'LABELS',
  annotations: 'ANNOTATIONS',
  platformMetadata: 'PLATFORM_METADATA',
} as const;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads the Istio keys of an Envoy node's `metadata` (a JSON object, as the bootstrap or xDS gives it). Every
 * value of the wrong type is reported at once, with its path under `path` (default `node.metadata`), in a thrown
 * NodeMetadataError. Missing keys are undefined (or empty); unknown keys are ignored.
 */
export function parseNodeMetadata(metadata: unknown, path: FieldPath = ['node', 'metadata']): NodeMetadata {
  const issues: NodeMetadataIssue[] = [];
  if (metadata === undefined || metadata === null) metadata = {};
  if (!isPlainObject(metadata)) {
    throw new NodeMetadataError([
      { path, value: metadata, message: `expected an object, got ${showValue(metadata)}` },
    ]);
  }
  const m = metadata;
  const text = (key: string): string | undefined => {
    const v = m[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    issues.push({ path: [...path, key], value: v, message: `expected a string, got ${showValue(v)}` });
    return undefined;
  };
  const list = (key: string): readonly string[] => {
    const v = text(key);
    // Istio's StringList: "" is the empty list, otherwise split at every comma.
    return v === undefined || v === '' ? [] : v.split(',');
  };
  const map = (key: string): Readonly<Record<string, string>> => {
    const v = m[key];
    const out: Record<string, string> = {};
    if (v === undefined || v === null) return out;
    if (!isPlainObject(v)) {
      issues.push({
        path: [...path, key],
        value: v,
        message: `expected a map of names to string values, got ${showValue(v)}`,
      });
      return out;
    }
    for (const [k, value] of Object.entries(v)) {
      if (typeof value === 'string') out[k] = value;
      else
        issues.push({
          path: [...path, key, k],
          value,
          message: `expected a string, got ${showValue(value)}`,
        });
    }
    return out;
  };
  const node: NodeMetadata = {
    name: text(STRING_KEYS.name),
    namespace: text(STRING_KEYS.namespace),
    workloadName: text(STRING_KEYS.workloadName),
    clusterId: text(STRING_KEYS.clusterId),
    owner: text(STRING_KEYS.owner),
    serviceAccount: text(STRING_KEYS.serviceAccount),
    meshId: text(STRING_KEYS.meshId),
    istioVersion: text(STRING_KEYS.istioVersion),
    identity: text(STRING_KEYS.identity),
    instanceIps: list(LIST_KEYS.instanceIps),
    appContainers: list(LIST_KEYS.appContainers),
    labels: map(MAP_KEYS.labels),
    annotations: map(MAP_KEYS.annotations),
    platformMetadata: map(MAP_KEYS.platformMetadata),
  };
  if (issues.length > 0) throw new NodeMetadataError(issues);
  return node;
}
