// A small schema language for configuration documents: parse `unknown` JSON-shaped data into typed values
// while collecting every problem with its field path. Istio and Skiff kinds are declared with it; rules that
// span fields (Istio's validation) run afterwards on the typed value.

import { showValue } from '../core/diagnostics.js';
import type { FieldPath } from '../core/field-path.js';

/** A problem found while checking one document; the loader adds file, document and resource. */
export interface Issue {
  severity: 'error' | 'warning';
  code: string;
  path: FieldPath;
  message: string;
}

/** Collects issues for one document. */
export class Checker {
  readonly issues: Issue[] = [];

  error(path: FieldPath, code: string, message: string): void {
    this.issues.push({ severity: 'error', code, path: [...path], message });
  }

  warn(path: FieldPath, code: string, message: string): void {
    this.issues.push({ severity: 'warning', code, path: [...path], message });
  }

  get failed(): boolean {
    return this.issues.some((i) => i.severity === 'error');
  }
}

export interface Schema<T> {
  /** What a valid value looks like, for messages: "a string", "an integer in 1-65535". */
  readonly expected: string;
  /** Returns the typed value, or `undefined` after reporting why the value is not valid. */
  parse(value: unknown, path: FieldPath, c: Checker): T | undefined;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${showValue(value)}`;
}

function mismatch(c: Checker, path: FieldPath, expected: string, value: unknown): undefined {
  c.error(path, 'SKIFF_CONFIG_TYPE', `expected ${expected}, got ${describeType(value)}`);
  return undefined;
}

export interface StringOptions {
  nonEmpty?: boolean;
  maxLength?: number;
  pattern?: RegExp;
  /** Says in words what `pattern` allows. */
  patternText?: string;
}

export function string(options: StringOptions = {}): Schema<string> {
  const expected = options.patternText ?? (options.nonEmpty ? 'a non-empty string' : 'a string');
  return {
    expected,
    parse(value, path, c) {
      if (typeof value !== 'string') return mismatch(c, path, 'a string', value);
      if (options.nonEmpty && value === '') {
        c.error(path, 'SKIFF_CONFIG_EMPTY', `must not be empty: expected ${expected}`);
        return undefined;
      }
      if (options.maxLength !== undefined && value.length > options.maxLength) {
        c.error(
          path,
          'SKIFF_CONFIG_TOO_LONG',
          `value ${showValue(value)} is ${value.length} characters long: at most ${options.maxLength} allowed`,
        );
        return undefined;
      }
      if (options.pattern && !options.pattern.test(value)) {
        c.error(path, 'SKIFF_CONFIG_FORMAT', `invalid value ${showValue(value)}: expected ${expected}`);
        return undefined;
      }
      return value;
    },
  };
}

export function boolean(): Schema<boolean> {
  return {
    expected: 'true or false',
    parse: (value, path, c) =>
      typeof value === 'boolean' ? value : mismatch(c, path, 'true or false', value),
  };
}

export function integer(min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): Schema<number> {
  const expected = `an integer in ${min}-${max}`;
  return {
    expected,
    parse(value, path, c) {
      if (typeof value !== 'number' || !Number.isInteger(value)) return mismatch(c, path, expected, value);
      if (value < min || value > max) {
        c.error(path, 'SKIFF_CONFIG_RANGE', `value ${value} is out of range: expected ${expected}`);
        return undefined;
      }
      return value;
    },
  };
}

/** A JSON number (protobuf double/float); integers are numbers too. */
export function number(min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY): Schema<number> {
  const bounded = Number.isFinite(min) || Number.isFinite(max);
  const expected = bounded ? `a number in ${min}-${max}` : 'a number';
  return {
    expected,
    parse(value, path, c) {
      if (typeof value !== 'number' || !Number.isFinite(value)) return mismatch(c, path, expected, value);
      if (value < min || value > max) {
        c.error(path, 'SKIFF_CONFIG_RANGE', `value ${value} is out of range: expected ${expected}`);
        return undefined;
      }
      return value;
    },
  };
}

/** protobuf uint32. */
export const uint32 = (): Schema<number> => integer(0, 4294967295);

/**
 * protobuf int64/uint64 in JSON: a number or a decimal string (proto3 JSON writes 64-bit integers as strings).
 */
export function int64(min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): Schema<number> {
  const inner = integer(min, max);
  return {
    expected: inner.expected,
    parse(value, path, c) {
      const n = typeof value === 'string' && /^-?[0-9]+$/.test(value) ? Number(value) : value;
      return inner.parse(n, path, c);
    },
  };
}

/**
 * Reports an error when more than one of `fields` is set (protobuf `oneof`); with `required`, also when none is.
 * Returns false when it reported.
 */
export function checkOneOf(
  value: Record<string, unknown>,
  fields: readonly string[],
  path: FieldPath,
  c: Checker,
  options: { required?: boolean; what?: string } = {},
): boolean {
  const set = fields.filter((f) => value[f] !== undefined && value[f] !== null);
  if (set.length > 1) {
    c.error(
      path,
      'SKIFF_CONFIG_ONE_OF',
      `only one of ${fields.join(', ')} may be set${options.what ? ` in ${options.what}` : ''}, got ${set.join(' and ')}`,
    );
    return false;
  }
  if (options.required && set.length === 0) {
    c.error(
      path,
      'SKIFF_CONFIG_ONE_OF',
      `one of ${fields.join(', ')} is required${options.what ? ` in ${options.what}` : ''}`,
    );
    return false;
  }
  return true;
}

export function oneOf<const V extends string>(values: readonly V[]): Schema<V> {
  const expected = `one of ${values.join(', ')}`;
  return {
    expected,
    parse(value, path, c) {
      if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as V;
      if (typeof value !== 'string') return mismatch(c, path, expected, value);
      c.error(path, 'SKIFF_CONFIG_ENUM', `invalid value ${showValue(value)}: expected ${expected}`);
      return undefined;
    },
  };
}

/** Any JSON value, kept as is (free-form fields such as annotations' values or `status`). */
export function json(): Schema<unknown> {
  return { expected: 'any value', parse: (value) => value };
}

export function array<T>(item: Schema<T>, options: { minItems?: number } = {}): Schema<T[]> {
  const expected = `a list of ${item.expected}`;
  return {
    expected,
    parse(value, path, c) {
      if (!Array.isArray(value)) return mismatch(c, path, expected, value);
      if (options.minItems !== undefined && value.length < options.minItems) {
        c.error(path, 'SKIFF_CONFIG_EMPTY', `must have at least ${options.minItems} item(s)`);
        return undefined;
      }
      const out: T[] = [];
      let ok = true;
      value.forEach((v, i) => {
        const parsed = item.parse(v, [...path, i], c);
        if (parsed === undefined) ok = false;
        else out.push(parsed);
      });
      return ok ? out : undefined;
    },
  };
}

/** A mapping with free keys (labels, portLevelMtls). Keys are strings, as in JSON. */
export function record<T>(
  valueSchema: Schema<T>,
  options: { minProperties?: number; key?: (key: string, path: FieldPath, c: Checker) => boolean } = {},
): Schema<Record<string, T>> {
  const expected = `a mapping of ${valueSchema.expected}`;
  return {
    expected,
    parse(value, path, c) {
      if (!isPlainObject(value)) return mismatch(c, path, expected, value);
      const entries = Object.entries(value);
      if (options.minProperties !== undefined && entries.length < options.minProperties) {
        c.error(path, 'SKIFF_CONFIG_EMPTY', `must have at least ${options.minProperties} entr(ies)`);
        return undefined;
      }
      const out: Record<string, T> = {};
      let ok = true;
      for (const [k, v] of entries) {
        if (options.key && !options.key(k, [...path, k], c)) ok = false;
        const parsed = valueSchema.parse(v, [...path, k], c);
        if (parsed === undefined) ok = false;
        else out[k] = parsed;
      }
      return ok ? out : undefined;
    },
  };
}

export interface FieldSpec<T> {
  schema: Schema<T>;
  required: boolean;
  /** A valid field Skiff does not act on yet: accepted, with a warning naming it. */
  notEnforced?: string;
}

export function required<T>(schema: Schema<T>): FieldSpec<T> & { required: true } {
  return { schema, required: true };
}

export function optional<T>(schema: Schema<T>): FieldSpec<T> & { required: false } {
  return { schema, required: false };
}

/** An optional field that is accepted and reported as "accepted, not enforced". `why` is added to the warning. */
export function notEnforced<T>(schema: Schema<T>, why = ''): FieldSpec<T> & { required: false } {
  return { schema, required: false, notEnforced: why };
}

type Fields = Record<string, FieldSpec<unknown>>;
type RequiredKeys<F extends Fields> = {
  [K in keyof F]: F[K] extends { required: true } ? K : never;
}[keyof F];
type OptionalKeys<F extends Fields> = Exclude<keyof F, RequiredKeys<F>>;
type Simplify<T> = { [K in keyof T]: T[K] };
export type ObjectOf<F extends Fields> = Simplify<
  { [K in RequiredKeys<F>]: F[K] extends FieldSpec<infer T> ? T : never } & {
    [K in OptionalKeys<F>]?: F[K] extends FieldSpec<infer T> ? T : never;
  }
>;

/**
 * A mapping with a fixed set of fields. A field outside the set is an error naming the allowed ones; `null`
 * counts as absent (as Kubernetes reads JSON); a missing required field is an error, unless a misspelling of it
 * was reported already ("did you mean …?"): one message per mistake.
 */
export function object<F extends Fields>(fields: F, name = 'a mapping'): Schema<ObjectOf<F>> {
  const allowed = Object.keys(fields);
  return {
    expected: name,
    parse(value, path, c) {
      if (!isPlainObject(value)) return mismatch(c, path, name, value);
      const out: Record<string, unknown> = {};
      const misspelled = new Set<string>();
      let ok = true;
      for (const [key, v] of Object.entries(value)) {
        const spec = Object.hasOwn(fields, key) ? fields[key] : undefined;
        if (spec === undefined) {
          c.error([...path, key], 'SKIFF_CONFIG_UNKNOWN_FIELD', unknownFieldMessage(key, allowed));
          const near = closestField(key, allowed);
          if (near !== undefined) misspelled.add(near);
          ok = false;
          continue;
        }
        if (v === null || v === undefined) continue;
        const parsed = spec.schema.parse(v, [...path, key], c);
        if (parsed === undefined) {
          ok = false;
          continue;
        }
        out[key] = parsed;
        if (spec.notEnforced !== undefined) {
          const why = spec.notEnforced === '' ? '' : `: ${spec.notEnforced}`;
          c.warn([...path, key], 'SKIFF_CONFIG_NOT_ENFORCED', `accepted, not enforced by Skiff yet${why}`);
        }
      }
      for (const [key, spec] of Object.entries(fields)) {
        if (spec.required && !misspelled.has(key) && (value[key] === undefined || value[key] === null)) {
          c.error(
            [...path, key],
            'SKIFF_CONFIG_REQUIRED',
            `required field is missing: expected ${spec.schema.expected}`,
          );
          ok = false;
        }
      }
      return ok ? (out as ObjectOf<F>) : undefined;
    },
  };
}

/** Runs `check` on the value `inner` parsed; `check` reports through the checker and returns false to reject. */
export function refine<T>(
  inner: Schema<T>,
  check: (value: T, path: FieldPath, c: Checker) => boolean,
): Schema<T> {
  return {
    expected: inner.expected,
    parse(value, path, c) {
      const parsed = inner.parse(value, path, c);
      if (parsed === undefined) return undefined;
      return check(parsed, path, c) ? parsed : undefined;
    },
  };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function unknownFieldMessage(key: string, allowed: readonly string[]): string {
  const near = closestField(key, allowed);
  const hint = near === undefined ? '' : ` (did you mean "${near}"?)`;
  return `unknown field ${showValue(key)}${hint}: allowed fields are ${allowed.join(', ')}`;
}

/** The allowed name closest to a misspelling, if it is close enough to be a likely typo. */
export function closestField(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
