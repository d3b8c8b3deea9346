// What translating one Envoy resource collects besides its value: every problem with its field path (never an
// exception), the names it refers to in other resources (clusters, route configurations, secrets — checked at
// one place, references.ts), and the secrets made from inline TLS material. One context per resource, so that
// a later update of one resource re-translates that resource only.

import type { Diagnostic } from '../../core/diagnostics.js';
import { type FieldPath, formatPath } from '../../core/field-path.js';
import type { ExtensionRegistry } from './extension.js';
import type { SecretConfig } from './model.js';

export type RefKind = 'cluster' | 'route_configuration' | 'secret';

export type ResourceOrigin = 'static' | 'xds';

/** A name one resource uses to refer to another. */
export interface Ref {
  kind: RefKind;
  name: string;
  path: FieldPath;
  /** What the data path does while the named resource is missing (for messages), e.g. `503 NC`. */
  effect?: string;
}

export class TranslateContext {
  readonly diagnostics: Diagnostic[] = [];
  readonly refs: Ref[] = [];
  /** Secrets made from inline certificates and validation contexts. */
  readonly inlineSecrets: SecretConfig[] = [];
  /** The traffic direction of the listener being translated (Istio's reporters read it). */
  direction = 'UNSPECIFIED';

  /**
   * Where the resource came from: a static bootstrap, or an xDS response (where an EDS cluster's endpoints come
   * from its own ClusterLoadAssignment resource instead of `load_assignment`).
   */
  constructor(
    readonly registry: ExtensionRegistry,
    readonly origin: ResourceOrigin = 'static',
  ) {}

  error(path: FieldPath, code: string, message: string): void {
    this.diagnostics.push({ severity: 'error', code, message, path: [...path] });
  }

  warn(path: FieldPath, code: string, message: string): void {
    this.diagnostics.push({ severity: 'warning', code, message, path: [...path] });
  }

  get failed(): boolean {
    return this.diagnostics.some((d) => d.severity === 'error');
  }

  ref(kind: RefKind, name: string, path: FieldPath, effect?: string): void {
    this.refs.push({ kind, name, path: [...path], ...(effect ? { effect } : {}) });
  }

  /** Inline material becomes a secret named after where it was written, so one code path serves both. */
  inlineSecret(content: Omit<SecretConfig, 'name'>, path: FieldPath): string {
    const name = `inline:${formatPath(path)}`;
    this.inlineSecrets.push({ name, inline: true, ...content });
    return name;
  }
}

/** One translated resource: its value (undefined when it has errors) and what translating it found. */
export interface Translated<T> {
  value: T | undefined;
  diagnostics: Diagnostic[];
  refs: Ref[];
  inlineSecrets: SecretConfig[];
}

/** Runs `translate` in a fresh context and packs the result. */
export function translated<T>(
  registry: ExtensionRegistry,
  translate: (ctx: TranslateContext) => T,
  origin: ResourceOrigin = 'static',
): Translated<T> {
  const ctx = new TranslateContext(registry, origin);
  const value = translate(ctx);
  return {
    value: ctx.failed ? undefined : value,
    diagnostics: ctx.diagnostics,
    refs: ctx.refs,
    inlineSecrets: ctx.inlineSecrets,
  };
}
