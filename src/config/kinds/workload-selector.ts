// istio.type.v1beta1.WorkloadSelector (PeerAuthentication, DestinationRule) and the selector rules the
// networking kinds' `workloadSelector.labels` share.
// Rules: the CRD schema (at most 4096 labels, values at most 63 characters) and Istio's
// `validateWorkloadSelector` (pkg/config/validation/validation.go) for empty keys, wildcards and no labels.

import type { FieldPath } from '../../core/field-path.js';
import { type Checker, object, optional, record, refine, string } from '../schema.js';

export interface WorkloadSelector {
  matchLabels?: Record<string, string>;
}

const MAX_LABELS = 4096;
const MAX_VALUE_LENGTH = 63;

export const workloadSelector = refine(
  object({ matchLabels: optional(record(string({ maxLength: MAX_VALUE_LENGTH }))) }, 'a workload selector'),
  checkWorkloadSelector,
);

function checkWorkloadSelector(selector: WorkloadSelector, path: FieldPath, c: Checker): boolean {
  return checkSelectorLabels(selector.matchLabels, path, c, {
    field: 'matchLabels',
    max: MAX_LABELS,
    noLabels: 'workload selector specified without labels (it selects every workload)',
  });
}

/**
 * Istio's selector rules on a label map at `path.field`: at most `max` labels, no empty key, no `*` in keys or
 * values (errors); no labels at all is a warning with the kind's own words.
 */
export function checkSelectorLabels(
  labels: Record<string, string> | undefined,
  path: FieldPath,
  c: Checker,
  o: { field: string; max: number; noLabels: string },
): boolean {
  const entries = Object.entries(labels ?? {});
  const at = [...path, o.field];
  let ok = true;
  if (entries.length > o.max) {
    c.error(at, 'ISTIO_SELECTOR_TOO_MANY', `${entries.length} labels: at most ${o.max} are allowed`);
    ok = false;
  }
  for (const [key, value] of entries) {
    const pair = JSON.stringify(`${key}=${value}`);
    if (key === '') {
      c.error([...at, key], 'ISTIO_SELECTOR_EMPTY_KEY', `empty key is not supported in selector: ${pair}`);
      ok = false;
    }
    if (key.includes('*') || value.includes('*')) {
      c.error([...at, key], 'ISTIO_SELECTOR_WILDCARD', `wildcard is not supported in selector: ${pair}`);
      ok = false;
    }
  }
  if (entries.length === 0) c.warn(path, 'ISTIO_SELECTOR_NO_LABELS', o.noLabels);
  return ok;
}
