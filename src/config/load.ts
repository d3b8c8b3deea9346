// Turns the text of configuration files into typed resources and diagnostics: every document of every file,
// every problem at once. Pure (the folder walk is in sources/files.ts).

import { type Diagnostic, showValue } from '../core/diagnostics.js';
import type { FieldPath } from '../core/field-path.js';
import { analyzeConfig, dedupeResources } from './analyze.js';
import { findKind, KINDS, OWNED_GROUPS } from './kinds/index.js';
import { DEFAULT_MESH_CONFIG, type MeshConfigSpec, withMeshDefaults } from './kinds/mesh-config.js';
import type { PeerAuthenticationSpec } from './kinds/peer-authentication.js';
import type { WorkloadSpec } from './kinds/workload.js';
import { objectMeta } from './object-meta.js';
import { groupOf, type Resource, resourceName, type SourceRef } from './resource.js';
import { Checker, closestField, isPlainObject, unknownFieldMessage } from './schema.js';
import { lineOf, parseYamlStream, type YamlStream } from './yaml.js';

export interface ConfigFile {
  /** As shown in messages. */
  path: string;
  text: string;
}

export interface ConfigSnapshot {
  meshConfig: MeshConfigSpec;
  peerAuthentications: Resource<PeerAuthenticationSpec>[];
  workloads: Resource<WorkloadSpec>[];
  /** Everything read, in file order, including MeshConfig and accepted-but-not-enforced kinds. */
  resources: Resource<unknown>[];
  diagnostics: Diagnostic[];
}

const ENVELOPE = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];

/** Loads every document of every file. Never throws on bad input: problems are in `diagnostics`. */
export function loadConfig(files: readonly ConfigFile[]): ConfigSnapshot {
  const diagnostics: Diagnostic[] = [];
  let resources: Resource<unknown>[] = [];
  for (const file of files) {
    const isJson = file.path.toLowerCase().endsWith('.json');
    const stream = isJson ? parseJsonFile(file.text) : parseYamlStream(file.text);
    for (const p of stream.problems) {
      diagnostics.push({
        severity: 'error',
        code: 'SKIFF_CONFIG_SYNTAX',
        file: file.path,
        document: p.document,
        line: p.line,
        message: `not valid ${isJson ? 'JSON' : 'YAML'}: ${p.message}`,
      });
    }
    for (const w of stream.warnings) {
      diagnostics.push({
        severity: 'warning',
        code: 'SKIFF_CONFIG_DUPLICATE_KEY',
        file: file.path,
        document: w.document,
        line: w.line,
        message: w.message,
      });
    }
    for (const doc of stream.documents) {
      const at = (path: FieldPath) => ({ file: file.path, document: doc.index, line: lineOf(doc, path) });
      // kubectl expands any list (`kind: List`, `PeerAuthenticationList`, ...) into its items.
      if (
        isPlainObject(doc.value) &&
        Array.isArray(doc.value.items) &&
        String(doc.value.kind).endsWith('List')
      ) {
        doc.value.items.forEach((item, i) => {
          readResource(item, ['items', i], at, diagnostics, resources, i);
        });
      } else {
        readResource(doc.value, [], at, diagnostics, resources);
      }
    }
  }

  const deduped = dedupeResources(resources);
  diagnostics.push(...deduped.diagnostics);
  resources = deduped.resources;
  const meshConfigs = resources.filter((r) => r.kind === 'MeshConfig');
  const snapshot: ConfigSnapshot = {
    meshConfig: withMeshDefaults(meshConfigs[0]?.spec as Partial<MeshConfigSpec> | undefined),
    peerAuthentications: resources.filter(
      (r) => r.kind === 'PeerAuthentication',
    ) as Resource<PeerAuthenticationSpec>[],
    workloads: resources.filter((r) => r.kind === 'Workload') as Resource<WorkloadSpec>[],
    resources,
    diagnostics,
  };
  diagnostics.push(...analyzeConfig(snapshot));
  return snapshot;
}

type At = (path: FieldPath) => { file: string; document: number; line: number };

function readResource(
  value: unknown,
  base: FieldPath,
  at: At,
  diagnostics: Diagnostic[],
  resources: Resource<unknown>[],
  item?: number,
): void {
  const report = (
    severity: Diagnostic['severity'],
    path: FieldPath,
    code: string,
    message: string,
    resource?: string,
  ) => {
    const full = [...base, ...path];
    diagnostics.push({ severity, code, ...at(full), ...(resource ? { resource } : {}), path: full, message });
  };
  if (!isPlainObject(value)) {
    report(
      'error',
      [],
      'SKIFF_CONFIG_NOT_RESOURCE',
      `expected a resource (a mapping with apiVersion, kind, metadata), got ${showValue(value)}`,
    );
    return;
  }
  const { apiVersion, kind } = value;
  if (typeof apiVersion !== 'string' || apiVersion === '' || typeof kind !== 'string' || kind === '') {
    const missing = typeof apiVersion !== 'string' || apiVersion === '' ? 'apiVersion' : 'kind';
    report(
      'error',
      [missing],
      'SKIFF_CONFIG_REQUIRED',
      `required field is missing: every resource needs apiVersion and kind`,
    );
    return;
  }
  const group = groupOf(apiVersion);
  const version = apiVersion.slice(apiVersion.indexOf('/') + 1);
  const entry = findKind(group, kind);
  // The namespace may be anything here (it is checked later): a mapping is shown as JSON, never converted with
  // String() (a mapping with a `toString` key made that throw).
  const ns = isPlainObject(value.metadata) ? value.metadata.namespace : undefined;
  const nsText = ns === undefined || ns === null ? 'default' : typeof ns === 'string' ? ns : showValue(ns);
  const label = `${kind}${isPlainObject(value.metadata) && typeof value.metadata.name === 'string' ? ` ${nsText}/${value.metadata.name}` : ''}`;
  if (!entry) {
    if (OWNED_GROUPS.has(group)) {
      const known = KINDS.filter((k) => k.group === group).map((k) => k.kind);
      report(
        'error',
        ['kind'],
        'SKIFF_CONFIG_UNKNOWN_KIND',
        `unknown kind ${showValue(kind)} in ${group}: expected one of ${known.join(', ')}`,
        label,
      );
    } else {
      report(
        'warning',
        ['kind'],
        'SKIFF_CONFIG_IGNORED_KIND',
        `${apiVersion} ${kind} is not used by Skiff; ignored`,
        label,
      );
    }
    return;
  }
  if (!entry.versions.includes(version)) {
    const allowed = entry.versions.map((v) => (entry.group ? `${entry.group}/${v}` : v)).join(', ');
    report(
      'error',
      ['apiVersion'],
      'SKIFF_CONFIG_VERSION',
      `${kind} is not served at ${showValue(apiVersion)}: expected ${allowed}`,
      label,
    );
    return;
  }

  const c = new Checker();
  const misspelled = new Set<string>();
  for (const key of Object.keys(value)) {
    if (!ENVELOPE.includes(key)) {
      c.error([key], 'SKIFF_CONFIG_UNKNOWN_FIELD', unknownFieldMessage(key, ENVELOPE));
      misspelled.add(closestField(key, ENVELOPE) ?? '');
    }
  }
  // A misspelled `metadata:` or `spec:` said "did you mean …?" already: nothing more is said about the missing one.
  const metadata =
    value.metadata == null && misspelled.has('metadata')
      ? undefined
      : objectMeta(kind === 'Service' ? 'label' : 'subdomain').parse(value.metadata, ['metadata'], c);
  const support = entry.support;
  let spec: unknown = value.spec;
  if (support.level === 'validated') {
    if (value.spec === undefined || value.spec === null) {
      if (misspelled.has('spec')) spec = undefined;
      else if (support.specRequired)
        c.error(
          ['spec'],
          'SKIFF_CONFIG_REQUIRED',
          `required field is missing: expected ${support.spec.expected}`,
        );
      else spec = support.spec.parse({}, ['spec'], c);
    } else {
      spec = support.spec.parse(value.spec, ['spec'], c);
    }
    // Istio's validateMetadata, run before every kind's validation: only AuthorizationPolicy may be dry-run.
    if (group.endsWith('istio.io') && metadata?.annotations?.['istio.io/dry-run'] !== undefined) {
      c.error(
        ['metadata', 'annotations', 'istio.io/dry-run'],
        'ISTIO_DRY_RUN_UNSUPPORTED',
        `${metadata.namespace ?? 'default'}/${metadata.name} has unsupported annotation istio.io/dry-run, please remove the annotation (only AuthorizationPolicy supports dry-run)`,
      );
    }
    if (support.check && metadata !== undefined && spec !== undefined && !c.failed) {
      support.check(spec, { ...metadata, namespace: metadata.namespace ?? 'default' }, c);
    }
  } else {
    c.warn([], 'SKIFF_CONFIG_NOT_ENFORCED', `accepted, not enforced: ${support.note}`);
  }

  // Cluster-scoped kinds (MeshConfig) have no namespace.
  const clusterScoped = support.level === 'validated' && !support.namespaced;
  const namespace = clusterScoped ? '' : (metadata?.namespace ?? 'default');
  const resourceLabel = metadata
    ? resourceName({ kind, metadata: { name: metadata.name, namespace } })
    : label;
  for (const issue of c.issues) report(issue.severity, issue.path, issue.code, issue.message, resourceLabel);
  if (c.failed || metadata === undefined) return;
  const source: SourceRef = { ...at(base), ...(item !== undefined ? { item } : {}) };
  resources.push({ apiVersion, kind, metadata: { ...metadata, namespace }, spec: spec ?? {}, source });
}

function parseJsonFile(text: string): YamlStream {
  try {
    const value: unknown = JSON.parse(text);
    return { documents: [{ index: 1, line: 1, value, lines: new Map() }], problems: [], warnings: [] };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const position = /position (\d+)/.exec(message);
    const line = position ? text.slice(0, Number(position[1])).split('\n').length : 1;
    return { documents: [], problems: [{ document: 1, line, message }], warnings: [] };
  }
}

export { DEFAULT_MESH_CONFIG, resourceName };
