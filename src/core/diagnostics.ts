// Problems found in user input (configuration, arguments), with where they are and what was expected.
// Pure data: parsers collect them, the loader adds the file and resource, the CLI prints them.

import { type FieldPath, formatPath } from './field-path.js';

export type Severity = 'error' | 'warning';

/** Where a problem was found: file, document (1-based, as a person counts), line, resource, field. */
export interface Location {
  file?: string;
  document?: number;
  line?: number;
  /** `Kind namespace/name` of the resource, when known. */
  resource?: string;
  path?: FieldPath;
}

/**
 * One problem. `code` is stable (scripts may match on it); `message` says what is wrong and what is allowed,
 * and includes the bad value when there is one.
 */
export interface Diagnostic extends Location {
  severity: Severity;
  code: string;
  message: string;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** `file.yaml:12 (document 2) PeerAuthentication ns/name: spec.mtls.mode: message` */
export function formatDiagnostic(d: Diagnostic): string {
  const where: string[] = [];
  if (d.file !== undefined) {
    let f = d.file;
    if (d.line !== undefined) f += `:${d.line}`;
    if (d.document !== undefined) f += ` (document ${d.document})`;
    where.push(f);
  }
  if (d.resource !== undefined) where.push(d.resource);
  const path = d.path !== undefined && d.path.length > 0 ? `${formatPath(d.path)}: ` : '';
  const prefix = where.length > 0 ? `${where.join(' ')}: ` : '';
  return `${d.severity}: ${prefix}${path}${d.message} [${d.code}]`;
}

/** Quotes a value for a message: strings in JSON quotes, everything else as compact JSON. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
