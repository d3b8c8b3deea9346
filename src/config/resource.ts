// A loaded configuration resource: the Kubernetes envelope, the typed spec, and where it came from.

import type { ObjectMeta } from './object-meta.js';

/** Where a resource was read: for messages, and for Workload commands (run from the file's folder). */
export interface SourceRef {
  file: string;
  /** 1-based document in the file. */
  document: number;
  /** 1-based line where the resource starts. */
  line: number;
  /** Index in `items` when the document is a `kind: List`. */
  item?: number;
}

export interface Resource<Spec = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta & { namespace: string };
  spec: Spec;
  source: SourceRef;
}

/** `PeerAuthentication payments/strict` — how messages name a resource. */
export function resourceName(r: { kind: string; metadata: { name?: string; namespace?: string } }): string {
  const name = r.metadata.name ?? '(unnamed)';
  return r.metadata.namespace ? `${r.kind} ${r.metadata.namespace}/${name}` : `${r.kind} ${name}`;
}

export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}
