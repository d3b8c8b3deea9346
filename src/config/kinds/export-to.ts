// Istio's `validateExportTo` (pkg/config/validation/validation.go) and visibility.Instance.Validate, shared by
// DestinationRule, ServiceEntry and VirtualService: returns Istio's error messages, in Istio's order.

import { isIstioDns1123Label } from './istio-common.js';

export interface ExportToOptions {
  /** ServiceEntry: `~` (visible to no one) is allowed, alone. */
  serviceEntry?: boolean;
  /** A DestinationRule with a workloadSelector may only be exported to its own namespace. */
  destinationRuleWithSelector?: boolean;
}

/** visibility.Instance.Validate: `.`, `*` or a DNS-1123 label (namespace); `~` is refused. */
function visibilityProblem(value: string): string | undefined {
  if (value === '.' || value === '*') return undefined;
  if (value === '~') return 'exportTo ~ (none) is not allowed for Istio configuration objects';
  if (!isIstioDns1123Label(value))
    return 'only .,*,~, or a valid DNS 1123 label is allowed as exportTo entry';
  return undefined;
}

/** The errors Istio reports for `exportTo` in a resource of `namespace`; empty when valid. */
export function validateExportTo(
  namespace: string,
  exportTo: string[],
  options: { serviceEntry?: boolean; destinationRuleWithSelector?: boolean },
): string[] {
  const errors: string[] = [];
  if (exportTo.length === 0) return errors;
  const seen = new Set<string>();
  for (const entry of exportTo) {
    // `.` means the resource's own namespace: `.` and `<namespace>` together are duplicates.
    const key = entry === '.' ? namespace : entry;
    if (seen.has(key)) {
      errors.push(
        key !== entry
          ? `duplicate entries in exportTo: . and current namespace ${namespace}`
          : `duplicate entries in exportTo for entry ${entry}`,
      );
      continue;
    }
    if (options.serviceEntry && entry === '~') {
      seen.add(key);
      continue;
    }
    const problem = visibilityProblem(key);
    if (problem) errors.push(problem);
    else seen.add(key);
  }

  if (options.destinationRuleWithSelector && seen.size > 0) {
    if (seen.has(namespace)) {
      if (seen.size > 1)
        errors.push('destination rule with workload selector cannot have multiple entries in exportTo');
    } else {
      errors.push('destination rule with workload selector cannot have exportTo beyond current namespace');
    }
  }
  if (seen.has('*') && exportTo.length > 1)
    errors.push('cannot have both public (*) and non-public exportTo values for a resource');
  if (seen.has('~') && exportTo.length > 1)
    errors.push('cannot export service entry to no one (~) and someone');
  return errors;
}
