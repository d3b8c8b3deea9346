// istio.type.v1beta1.WorkloadSelector, shared by PeerAuthentication and (later) other security kinds.
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
  const labels = Object.entries(selector.matchLabels ?? {});
  const at = [...path, 'matchLabels'];
  let ok = true;
  if (labels.length > MAX_LABELS) {
    c.error(at, 'ISTIO_SELECTOR_TOO_MANY', `${labels.length} labels: at most ${MAX_LABELS} are allowed`);
    ok = false;
  }
  for (const [key, value] of labels) {
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
  if (labels.length === 0) {
    c.warn(
      path,
      'ISTIO_SELECTOR_NO_LABELS',
      'workload selector specified without labels (it selects every workload)',
    );
  }
  return ok;
}
