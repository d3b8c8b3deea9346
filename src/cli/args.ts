// Parsers for CLI argument values; each throws UsageError naming the option, the value and what is allowed.

import { isDns1123Label, labelKeyProblem, labelValueProblem } from '../config/names.js';
import { UsageError } from './io.js';

export function parseLabels(option: string, text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text.trim() === '') return labels;
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new UsageError(
        `${option}: invalid label ${JSON.stringify(pair)}: expected key=value pairs separated by commas, e.g. app=reviews,version=v1`,
      );
    }
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem) throw new UsageError(`${option}: invalid label ${JSON.stringify(pair)}: ${problem}`);
    if (Object.hasOwn(labels, key))
      throw new UsageError(`${option}: label ${JSON.stringify(key)} is given twice`);
    labels[key] = value;
  }
  return labels;
}

export function parsePort(option: string, text: string): number {
  const n = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new UsageError(`${option}: invalid port ${JSON.stringify(text)}: expected an integer in 1-65535`);
  }
  return n;
}

export function parseNamespace(option: string, text: string): string {
  if (!isDns1123Label(text)) {
    throw new UsageError(
      `${option}: invalid namespace ${JSON.stringify(text)}: expected a DNS-1123 label (lower case alphanumerics and "-")`,
    );
  }
  return text;
}

export function parseChoice<const C extends string>(option: string, text: string, choices: readonly C[]): C {
  const found = choices.find((c) => c === text);
  if (!found)
    throw new UsageError(
      `${option}: invalid value ${JSON.stringify(text)}: expected one of ${choices.join(', ')}`,
    );
  return found;
}
