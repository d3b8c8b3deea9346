// Kubernetes object metadata as it appears in manifests and in `kubectl get -o yaml` output.

import { checkLabels, isDns1123Label, isDns1123Subdomain } from './names.js';
import { json, object, optional, record, refine, required, type Schema, string } from './schema.js';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** RFC 3339, as Kubernetes writes it; decides ties between PeerAuthentications of one level. */
  creationTimestamp?: string;
  [other: string]: unknown;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[-+]\d{2}:\d{2})$/;

/** How a resource's name must look: DNS-1123 subdomain for custom resources, DNS-1123 label for Services. */
export type NameRule = 'subdomain' | 'label';

export function objectMeta(nameRule: NameRule = 'subdomain'): Schema<ObjectMeta> {
  const name =
    nameRule === 'label'
      ? string({
          patternText:
            'a DNS-1123 label (at most 63 lower case alphanumerics or "-", starting and ending with an alphanumeric)',
        })
      : string({
          patternText:
            'a DNS-1123 subdomain (lower case alphanumerics, "-" or ".", starting and ending with an alphanumeric)',
        });
  const check = nameRule === 'label' ? isDns1123Label : isDns1123Subdomain;
  const nameSchema: Schema<string> = {
    expected: name.expected,
    parse(value, path, c) {
      const s = name.parse(value, path, c);
      if (s === undefined) return undefined;
      if (!check(s)) {
        c.error(path, 'SKIFF_CONFIG_NAME', `invalid name ${JSON.stringify(s)}: expected ${name.expected}`);
        return undefined;
      }
      return s;
    },
  };
  const namespace = refine(string(), (ns, path, c) => {
    if (isDns1123Label(ns)) return true;
    c.error(path, 'SKIFF_CONFIG_NAME', `invalid namespace ${JSON.stringify(ns)}: expected a DNS-1123 label`);
    return false;
  });
  return object(
    {
      name: required(nameSchema),
      namespace: optional(namespace),
      labels: optional(refine(record(string()), checkLabels)),
      annotations: optional(record(string())),
      creationTimestamp: optional(
        refine(string(), (ts, path, c) => {
          if (RFC3339.test(ts) && !Number.isNaN(Date.parse(ts))) return true;
          c.error(
            path,
            'SKIFF_CONFIG_FORMAT',
            `invalid timestamp ${JSON.stringify(ts)}: expected RFC 3339, e.g. 2026-01-02T15:04:05Z`,
          );
          return false;
        }),
      ),
      // Written by the API server; accepted so that `kubectl get -o yaml` output loads unchanged.
      uid: optional(string()),
      resourceVersion: optional(string()),
      generation: optional(json()),
      generateName: optional(string()),
      selfLink: optional(string()),
      deletionTimestamp: optional(string()),
      deletionGracePeriodSeconds: optional(json()),
      ownerReferences: optional(json()),
      finalizers: optional(json()),
      managedFields: optional(json()),
    },
    'object metadata (a mapping with at least `name`)',
  );
}
