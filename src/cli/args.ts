// Parsers for CLI argument values; each throws UsageError naming the option, the value and what is allowed.

import { isDns1123Label, labelKeyProblem, labelValueProblem } from '../config/names.js';
import { parseDuration } from '../core/duration.js';
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

/** A Go-style duration (90m, 24h, 1h30m) as whole seconds, at least one second. */
export function parseDurationArg(option: string, text: string): number {
  const seconds = parseDuration(text);
  if (seconds === undefined || seconds < 1 || !Number.isInteger(seconds)) {
    throw new UsageError(
      `${option}: invalid duration ${JSON.stringify(text)}: expected a whole number of seconds or more in Go syntax, e.g. 90m, 24h, 1h30m`,
    );
  }
  return seconds;
}

/** host:port, with the host an IP or localhost ([::1]:port for IPv6); port 0 lets the system pick. */
export function parseListen(option: string, text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new UsageError(
      `${option}: invalid address ${JSON.stringify(text)}: expected host:port, e.g. 127.0.0.1:15012`,
    );
  }
  return { host: m[1] ?? m[2] ?? '', port };
}
