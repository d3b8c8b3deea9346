// networking.istio.io DestinationRule (v1alpha3, v1beta1, v1: one schema). Shape from the CRD, rules from Istio's
// `ValidateDestinationRule` (pkg/config/validation/validation.go); traffic policies in destination-rule-traffic.ts,
// load balancing in destination-rule-lb.ts, client TLS in destination-rule-tls.ts.

import type { FieldPath } from '../../core/field-path.js';
import type { ObjectMeta } from '../object-meta.js';
import {
  array,
  type Checker,
  type Infer,
  notEnforced,
  object,
  optional,
  record,
  refine,
  required,
  string,
} from '../schema.js';
import { checkClientTlsNamespace } from './destination-rule-tls.js';
import { type TrafficPolicy, tlsBlocks, trafficPolicy } from './destination-rule-traffic.js';
import { validateExportTo } from './export-to.js';
import { isIstioDns1123Label, istioLabelProblems, validateWildcardDomain } from './istio-common.js';
import { workloadSelector } from './workload-selector.js';

export type {
  ClientTlsSettings,
  LoadBalancerSettings,
  PortTrafficPolicy,
  TrafficPolicy,
} from './destination-rule-traffic.js';

const host = refine(string(), (value, path, c) => {
  const problem = validateWildcardDomain(value);
  if (problem === undefined) return true;
  c.error(path, 'ISTIO_DR_HOST', problem);
  return false;
});

const subsetShape = object(
  {
    name: required(string()),
    labels: optional(record(string())),
    trafficPolicy: optional(trafficPolicy),
  },
  'a subset ({name, labels, trafficPolicy})',
);

/** validateSubset: the name is a DNS-1123 label, labels are valid label keys and values. */
const subset = refine(subsetShape, (s, path, c) => {
  let ok = true;
  if (s.name === '') {
    c.error([...path, 'name'], 'ISTIO_DR_SUBSET_NAME', 'subset name cannot be empty');
    ok = false;
  } else if (!isIstioDns1123Label(s.name)) {
    c.error([...path, 'name'], 'ISTIO_DR_SUBSET_NAME', `subset name is invalid: ${s.name}`);
    ok = false;
  }
  for (const { key, message } of istioLabelProblems(s.labels ?? {})) {
    c.error([...path, 'labels', key], 'ISTIO_DR_SUBSET_LABEL', message);
    ok = false;
  }
  return ok;
});

const shape = object({
  host: required(host),
  trafficPolicy: optional(trafficPolicy),
  subsets: optional(array(subset)),
  exportTo: notEnforced(array(string()), 'Skiff applies every DestinationRule to every namespace'),
  workloadSelector: notEnforced(workloadSelector, 'Skiff applies the rule to every client workload'),
});

export type DestinationRuleSpec = Infer<typeof shape>;
export type Subset = NonNullable<DestinationRuleSpec['subsets']>[number];

export const destinationRuleSpec = refine(shape, checkSpec);

/** Rules over the whole spec that do not need the namespace: duplicate subset names. */
function checkSpec(spec: DestinationRuleSpec, path: FieldPath, c: Checker): boolean {
  let ok = true;
  const seen = new Set<string>();
  spec.subsets?.forEach((s, i) => {
    if (seen.has(s.name)) {
      c.error(
        [...path, 'subsets', i, 'name'],
        'ISTIO_DR_SUBSET_DUPLICATE',
        `duplicate subset names: ${s.name}`,
      );
      ok = false;
    }
    seen.add(s.name);
  });
  return ok;
}

/** Rules that need the namespace: exportTo (Istio's validateExportTo) and `configmap://` credential names. */
export function checkDestinationRule(
  spec: DestinationRuleSpec,
  metadata: ObjectMeta & { namespace: string },
  c: Checker,
): void {
  const namespace = metadata.namespace;
  for (const message of validateExportTo(namespace, spec.exportTo ?? [], {
    destinationRuleWithSelector: spec.workloadSelector !== undefined,
  })) {
    c.error(['spec', 'exportTo'], 'ISTIO_DR_EXPORT_TO', message);
  }
  const policies: [TrafficPolicy | undefined, FieldPath][] = [
    [spec.trafficPolicy, ['spec', 'trafficPolicy']],
  ];
  spec.subsets?.forEach((s, i) => {
    policies.push([s.trafficPolicy, ['spec', 'subsets', i, 'trafficPolicy']]);
  });
  for (const [policy, path] of policies) {
    for (const [tls, at] of tlsBlocks(policy, path)) checkClientTlsNamespace(tls, namespace, at, c);
  }
}
