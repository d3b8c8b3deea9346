// Kubernetes naming rules (apimachinery `validation`): DNS-1123 labels and subdomains, label keys and values.

import { showValue } from '../core/diagnostics.js';
import type { FieldPath } from '../core/field-path.js';
import type { Checker } from './schema.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

export function isDns1123Subdomain(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

/** Why `key` is not a valid label key (`[prefix/]name`), or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix === '' || !isDns1123Subdomain(prefix))) {
    return 'its prefix must be a DNS-1123 subdomain (lower case alphanumerics, "-" and ".")';
  }
  if (name === '' || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return 'its name must be 1-63 characters of alphanumerics, "-", "_" or ".", starting and ending with an alphanumeric';
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    return 'a label value must be empty or 1-63 characters of alphanumerics, "-", "_" or ".", starting and ending with an alphanumeric';
  }
  return undefined;
}

/** Checks a map of labels; reports each bad key or value under `path`. */
export function checkLabels(labels: Record<string, string>, path: FieldPath, c: Checker): boolean {
  let ok = true;
  for (const [key, value] of Object.entries(labels)) {
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) {
      c.error([...path, key], 'SKIFF_CONFIG_LABEL', `invalid label key ${showValue(key)}: ${keyProblem}`);
      ok = false;
    }
    const valueProblem = labelValueProblem(value);
    if (valueProblem) {
      c.error(
        [...path, key],
        'SKIFF_CONFIG_LABEL',
        `invalid label value ${showValue(value)}: ${valueProblem}`,
      );
      ok = false;
    }
  }
  return ok;
}
