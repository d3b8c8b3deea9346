// Checks across resources, after each one parsed: duplicates, and PeerAuthentications Istio would ignore.

import type { Diagnostic } from '../core/diagnostics.js';
import { sortPolicies } from '../policy/peer-authentication.js';
import type { ConfigSnapshot } from './load.js';
import { groupOf, type Resource, resourceName } from './resource.js';

const at = (r: Resource<unknown>): Pick<Diagnostic, 'file' | 'document' | 'line' | 'resource'> => ({
  file: r.source.file,
  document: r.source.document,
  line: r.source.line,
  resource: resourceName(r),
});
const where = (r: Resource<unknown>) => `${r.source.file}:${r.source.line}`;

/**
 * One resource per kind, namespace and name, as in a cluster: a later document with the same identity replaces
 * the earlier one, as `kubectl apply` of the files in order would (a warning says which). A second MeshConfig
 * under another name is an error: the mesh has one.
 */
export function dedupeResources(resources: readonly Resource<unknown>[]): {
  resources: Resource<unknown>[];
  diagnostics: Diagnostic[];
} {
  const diagnostics: Diagnostic[] = [];
  const byKey = new Map<string, Resource<unknown>>();
  let meshConfig: Resource<unknown> | undefined;
  for (const r of resources) {
    if (r.kind === 'MeshConfig' && meshConfig && meshConfig.metadata.name !== r.metadata.name) {
      diagnostics.push({
        severity: 'error',
        code: 'SKIFF_CONFIG_DUPLICATE',
        ...at(r),
        path: ['metadata', 'name'],
        message: `a second MeshConfig: only one is allowed (the first, ${meshConfig.metadata.name}, is at ${where(meshConfig)})`,
      });
      continue;
    }
    if (r.kind === 'MeshConfig') meshConfig = r;
    const key = `${groupOf(r.apiVersion)}/${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
    const earlier = byKey.get(key);
    if (earlier) {
      diagnostics.push({
        severity: 'warning',
        code: 'SKIFF_CONFIG_DUPLICATE',
        ...at(r),
        path: ['metadata', 'name'],
        message: `replaces the ${r.kind} of the same name at ${where(earlier)}, as kubectl apply would: only this one is used`,
      });
      byKey.delete(key);
    }
    byKey.set(key, r);
  }
  const kept = new Set(byKey.values());
  return { resources: resources.filter((r) => kept.has(r)), diagnostics };
}

export function analyzeConfig(snapshot: ConfigSnapshot): Diagnostic[] {
  const out: Diagnostic[] = [];
  const root = snapshot.meshConfig.rootNamespace;
  const firstSelectorLess = new Map<string, Resource<unknown>>();
  const sorted = sortPolicies(snapshot.peerAuthentications) as typeof snapshot.peerAuthentications;
  for (const pa of sorted) {
    const hasLabels = Object.keys(pa.spec.selector?.matchLabels ?? {}).length > 0;
    if (hasLabels && pa.metadata.namespace === root) {
      out.push({
        severity: 'warning',
        code: 'ISTIO_PA_ROOT_SELECTOR_IGNORED',
        ...at(pa),
        path: ['spec', 'selector'],
        message: `ignored: Istio ignores PeerAuthentications with a selector in the root namespace (${root}); move it to the workload's namespace`,
      });
    }
    if (!hasLabels) {
      const first = firstSelectorLess.get(pa.metadata.namespace);
      if (first) {
        const level = pa.metadata.namespace === root ? 'mesh' : 'namespace';
        out.push({
          severity: 'warning',
          code: 'ISTIO_PA_LEVEL_DUPLICATE',
          ...at(pa),
          message: `ignored: ${level}-level PeerAuthentication ${first.metadata.name} (${where(first)}) is older or first by name; Istio uses only one per namespace`,
        });
      } else firstSelectorLess.set(pa.metadata.namespace, pa);
    }
  }
  return out;
}
