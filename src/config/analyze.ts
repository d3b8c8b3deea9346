// Checks across resources, after each one parsed: duplicates, and PeerAuthentications Istio would ignore.

import type { Diagnostic } from '../core/diagnostics.js';
import { sortPolicies } from '../policy/peer-authentication.js';
import type { ConfigSnapshot } from './load.js';
import { groupOf, type Resource, resourceName } from './resource.js';

export function analyzeConfig(snapshot: ConfigSnapshot): Diagnostic[] {
  const out: Diagnostic[] = [];
  const at = (r: Resource<unknown>): Pick<Diagnostic, 'file' | 'document' | 'line' | 'resource'> => ({
    file: r.source.file,
    document: r.source.document,
    line: r.source.line,
    resource: resourceName(r),
  });
  const where = (r: Resource<unknown>) => `${r.source.file}:${r.source.line}`;

  const seen = new Map<string, Resource<unknown>>();
  const duplicates = new Set<Resource<unknown>>();
  for (const r of snapshot.resources) {
    const key = `${groupOf(r.apiVersion)}/${r.kind}/${r.kind === 'MeshConfig' ? '' : r.metadata.namespace}/${r.kind === 'MeshConfig' ? '' : r.metadata.name}`;
    const first = seen.get(key);
    if (!first) {
      seen.set(key, r);
      continue;
    }
    duplicates.add(r);
    const message =
      r.kind === 'MeshConfig'
        ? `a second MeshConfig: only one is allowed (the first is at ${where(first)})`
        : `duplicate ${r.kind} ${r.metadata.namespace}/${r.metadata.name} (also at ${where(first)})`;
    out.push({
      severity: 'error',
      code: 'SKIFF_CONFIG_DUPLICATE',
      ...at(r),
      path: ['metadata', 'name'],
      message,
    });
  }

  const root = snapshot.meshConfig.rootNamespace;
  const firstSelectorLess = new Map<string, Resource<unknown>>();
  const sorted = sortPolicies(snapshot.peerAuthentications) as typeof snapshot.peerAuthentications;
  for (const pa of sorted) {
    if (duplicates.has(pa)) continue;
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
