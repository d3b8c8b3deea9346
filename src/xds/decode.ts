// A strict proto3-JSON decoder over protobufjs reflection, with Envoy's rules: field names in snake_case or
// lowerCamelCase, Durations as "1s", `Any` as {"@type": …, fields}, `Struct` as free JSON, enums by name (or
// number), wrappers as bare values, 64-bit integers as numbers or strings, bytes as base64. It checks what
// Envoy's loader checks: unknown fields (inside `typed_config` too), types, ranges, oneofs, and the common
// protoc-gen-validate rules written on the fields. protobufjs's own `fromObject` checks none of this.
//
// The result is the canonical proto3 JSON of the message (snake_case names, as Envoy's /config_dump prints
// them), so later stages read plain JSON and the admin server can show it back. Pure: the Root is given.

import type protobuf from 'protobufjs';
import { type Diagnostic, showValue } from '../core/diagnostics.js';
import type { FieldPath } from '../core/field-path.js';

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

/**
 * Which fields the consumer implements, by message full name (no leading dot). A message type named here may
 * only carry the fields listed; a type not named here may not appear with content at all. Values are the
 * documentation of each field. Omitted: no restriction (decode only).
 */
export type SupportTable = Readonly<Record<string, Readonly<Record<string, string>>>>;

export interface DecodeOptions {
  support?: SupportTable;
}

export interface DecodeResult {
  value: JsonObject;
  diagnostics: Diagnostic[];
}

const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** Decodes `input` as the message `typeName` (e.g. `envoy.config.bootstrap.v3.Bootstrap`). */
export function decodeMessage(
  root: protobuf.Root,
  typeName: string,
  input: unknown,
  options: DecodeOptions = {},
  basePath: FieldPath = [],
): DecodeResult {
  const type = root.lookupType(typeName);
  const walker = new Walker(root, options);
  const value = walker.message(type, input, [...basePath]);
  return { value: isObject(value) ? value : {}, diagnostics: walker.diagnostics };
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** proto3 JSON's name for a field: lowerCamelCase of the proto name. */
export function jsonName(protoName: string): string {
  return protoName.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

interface FieldIndex {
  byName: Map<string, protobuf.Field>;
}

const indexes = new WeakMap<protobuf.Type, FieldIndex>();

function fieldIndex(type: protobuf.Type): FieldIndex {
  let index = indexes.get(type);
  if (!index) {
    const byName = new Map<string, protobuf.Field>();
    for (const field of type.fieldsArray) {
      byName.set(field.name, field);
      byName.set(jsonName(field.name), field);
    }
    index = { byName };
    indexes.set(type, index);
  }
  return index;
}

const INT_RANGES: Record<string, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  sint32: [-(2 ** 31), 2 ** 31 - 1],
  sfixed32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  fixed32: [0, 2 ** 32 - 1],
};
const INT64 = new Set(['int64', 'sint64', 'sfixed64']);
const UINT64 = new Set(['uint64', 'fixed64']);

/** google.protobuf wrapper types: written in proto3 JSON as their bare value. */
export const WRAPPERS: ReadonlySet<string> = new Set([
  'google.protobuf.DoubleValue',
  'google.protobuf.FloatValue',
  'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);

/** Duration's JSON form: seconds with up to 9 fractional digits and an `s`. */
const DURATION = /^(-)?([0-9]+)(?:\.([0-9]{1,9}))?s$/;
const MAX_DURATION_SECONDS = 315_576_000_000;

/** Parses a proto3-JSON Duration into seconds and nanos, or undefined. */
export function parseProtoDuration(text: string): { seconds: number; nanos: number } | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  const seconds = Number(m[2]);
  if (seconds > MAX_DURATION_SECONDS) return undefined;
  const nanos = Number((m[3] ?? '').padEnd(9, '0'));
  const sign = m[1] ? -1 : 1;
  return { seconds: sign * seconds, nanos: sign * nanos };
}

/** A proto3-JSON Duration in milliseconds ("1.5s" → 1500). */
export function durationMs(text: string): number {
  const d = parseProtoDuration(text);
  if (!d) throw new Error(`not a duration: ${text}`);
  return d.seconds * 1000 + d.nanos / 1e6;
}

function canonicalDuration(d: { seconds: number; nanos: number }): string {
  const negative = d.seconds < 0 || d.nanos < 0;
  const s = Math.abs(d.seconds);
  const n = Math.abs(d.nanos);
  let frac = '';
  if (n !== 0) {
    const digits = String(n).padStart(9, '0');
    frac = `.${digits.endsWith('000000') ? digits.slice(0, 3) : digits.endsWith('000') ? digits.slice(0, 6) : digits}`;
  }
  return `${negative ? '-' : ''}${s}${frac}s`;
}

function typeName(t: protobuf.Type | protobuf.Enum): string {
  return t.fullName.replace(/^\./, '');
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_v, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] ?? 0;
      row[j] = Math.min(cur + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] ?? 0;
}

function suggestion(name: string, type: protobuf.Type): string {
  const best = closestField(name, type);
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

/** The field of `type` a misspelled `name` most likely meant, if one is close enough. */
function closestField(name: string, type: protobuf.Type): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const snake = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  for (const field of type.fieldsArray) {
    const d = Math.min(distance(name, field.name), distance(snake, field.name));
    if (d < bestDistance) {
      bestDistance = d;
      best = field.name;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}

/** Whether a decoded value is the proto3 default (so it cannot change behaviour). */
function isDefault(field: protobuf.Field, value: Json): boolean {
  if (value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (field.map) return isObject(value) && Object.keys(value).length === 0;
  if (field.resolvedType instanceof Object && 'fieldsArray' in field.resolvedType) {
    // Messages have presence; an empty one is treated as absent for the "implemented" check only — except as
    // a oneof member, where choosing it is the setting (`not_health_check_filter: {}`, `ads: {}`).
    return !field.partOf && isObject(value) && Object.keys(value).length === 0;
  }
  if (field.resolvedType && 'values' in field.resolvedType) {
    const first = Object.entries(field.resolvedType.values).find(([, n]) => n === 0);
    return first !== undefined && value === first[0];
  }
  return value === 0 || value === '' || value === false || value === '0';
}

type Rules = Record<string, unknown>;

function rulesOf(options: Record<string, unknown> | undefined, prefix: string): Rules | undefined {
  if (!options) return undefined;
  const out: Rules = {};
  let any = false;
  for (const [key, value] of Object.entries(options)) {
    if (key.startsWith(prefix)) {
      out[key.slice(prefix.length)] = value;
      any = true;
    }
  }
  return any ? out : undefined;
}

class Walker {
  readonly diagnostics: Diagnostic[] = [];
  private support: SupportTable | undefined;

  constructor(
    private readonly root: protobuf.Root,
    options: DecodeOptions,
  ) {
    this.support = options.support;
  }

  /** Decodes without the support table: for the value of a field already reported as not implemented. */
  private withoutSupport<T>(decode: () => T): T {
    const table = this.support;
    this.support = undefined;
    try {
      return decode();
    } finally {
      this.support = table;
    }
  }

  private error(path: FieldPath, code: string, message: string): undefined {
    this.diagnostics.push({ severity: 'error', code, message, path: [...path] });
    return undefined;
  }

  message(type: protobuf.Type, input: unknown, path: PathSegmentList): Json | undefined {
    const name = typeName(type);
    switch (name) {
      case 'google.protobuf.Duration':
        return this.duration(input, path);
      case 'google.protobuf.Any':
        return this.any(input, path);
      case 'google.protobuf.Struct':
        if (!isObject(input))
          return this.error(path, 'proxy.type', `expected an object (Struct), got ${showValue(input)}`);
        return this.freeJson(input, path);
      case 'google.protobuf.Value':
        return this.freeJson(input, path);
      case 'google.protobuf.ListValue':
        if (!Array.isArray(input))
          return this.error(path, 'proxy.type', `expected a list, got ${showValue(input)}`);
        return this.freeJson(input, path);
      case 'google.protobuf.Empty':
        if (!isObject(input) || Object.keys(input).length > 0)
          return this.error(path, 'proxy.type', `expected {} (Empty), got ${showValue(input)}`);
        return {};
      case 'google.protobuf.Timestamp':
        if (typeof input !== 'string' || Number.isNaN(Date.parse(input)))
          return this.error(path, 'proxy.type', `expected an RFC 3339 timestamp, got ${showValue(input)}`);
        return input;
    }
    if (WRAPPERS.has(name)) {
      const inner = type.fields.value;
      return inner ? this.scalar(inner, input, path) : undefined;
    }
    if (!isObject(input)) {
      return this.error(path, 'proxy.type', `expected an object (${name}), got ${showValue(input)}`);
    }
    return this.fields(type, input, path, new Set());
  }

  /** The fields of a message given as a JSON object; `skip` names keys handled by the caller (`@type`). */
  private fields(
    type: protobuf.Type,
    input: JsonObject,
    path: PathSegmentList,
    skip: Set<string>,
  ): JsonObject {
    const name = typeName(type);
    const index = fieldIndex(type);
    const out: JsonObject = {};
    const oneofSeen = new Map<string, string>();
    // Fields a misspelling was taken for ("did you mean …?"): their absence is that one mistake, said once.
    const misspelled = new Set<string>();
    const supported = this.support ? this.support[name] : undefined;
    for (const [key, raw] of Object.entries(input)) {
      if (skip.has(key)) continue;
      const field = index.byName.get(key);
      const at = [...path, key];
      if (!field) {
        this.error(at, 'proxy.unknown-field', `unknown field "${key}" in ${name}${suggestion(key, type)}`);
        const meant = closestField(key, type);
        if (meant !== undefined) misspelled.add(meant);
        continue;
      }
      if (field.name in out) {
        this.error(
          at,
          'proxy.duplicate-field',
          `field "${field.name}" is given twice (as "${key}" and another spelling)`,
        );
        continue;
      }
      if (raw === null && field.type !== 'google.protobuf.Value') continue;
      // A field Skiff does not implement is one problem, said once at the field: its value is still decoded
      // (a bad value is its own mistake), but what is inside it is not checked against the support table too.
      const unsupported = this.support !== undefined && !(supported && field.name in supported);
      const value = unsupported
        ? this.withoutSupport(() => this.field(field, raw, at))
        : this.field(field, raw, at);
      if (value === undefined) continue;
      out[field.name] = value;
      if (field.partOf) {
        const other = oneofSeen.get(field.partOf.name);
        if (other !== undefined) {
          this.error(
            at,
            'proxy.oneof',
            `only one of ${field.partOf.oneof.join(', ')} may be set in ${name}; "${other}" is set too`,
          );
        }
        oneofSeen.set(field.partOf.name, field.name);
      }
      this.fieldRules(field, value, at);
      if (this.support && !isDefault(field, value)) {
        if (!supported) {
          this.error(
            path,
            'proxy.unsupported',
            `${name} is not implemented by the Skiff proxy (docs/proxy-config.md)`,
          );
          break;
        }
        if (!(field.name in supported)) {
          this.error(
            at,
            'proxy.unsupported',
            `field "${field.name}" of ${name} is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)`,
          );
        }
      }
    }
    for (const field of type.fieldsArray) {
      if (field.partOf || field.name in out || misspelled.has(field.name)) continue;
      const rules = rulesOf(field.options, '(validate.rules).message.');
      if (rules?.required === true) {
        this.error([...path, field.name], 'proxy.required', `${name}.${field.name} is required`);
      } else if (!field.repeated && !field.map && !field.resolvedType) {
        // protoc-gen-validate checks an unset scalar as its default value ("" or 0).
        const fallback = field.type === 'string' ? '' : field.type === 'bool' ? false : 0;
        const before = this.diagnostics.length;
        this.fieldRules(field, fallback, [...path, field.name]);
        for (const d of this.diagnostics.slice(before)) d.message = `is required (${d.message})`;
      }
    }
    for (const oneof of type.oneofsArray) {
      if (oneof.oneof.some((f) => misspelled.has(f))) continue;
      if (oneof.options?.['(validate.required)'] === true && !oneofSeen.has(oneof.name)) {
        this.error(path, 'proxy.required', `${name}: one of ${oneof.oneof.join(', ')} is required`);
      }
    }
    return out;
  }

  private field(field: protobuf.Field, raw: unknown, path: PathSegmentList): Json | undefined {
    if (field.map) {
      if (!isObject(raw))
        return this.error(path, 'proxy.type', `expected a map (object), got ${showValue(raw)}`);
      const out: JsonObject = {};
      const mapField = field as unknown as protobuf.MapField;
      for (const [k, v] of Object.entries(raw)) {
        if (mapField.keyType !== 'string' && !/^-?[0-9]+$/.test(k)) {
          this.error([...path, k], 'proxy.type', `map key ${showValue(k)} is not a ${mapField.keyType}`);
          continue;
        }
        const value = this.single(field, v, [...path, k]);
        if (value !== undefined) out[k] = value;
      }
      return out;
    }
    if (field.repeated) {
      if (!Array.isArray(raw))
        return this.error(path, 'proxy.type', `expected a list, got ${showValue(raw)}`);
      const out: Json[] = [];
      raw.forEach((item, i) => {
        const value = this.single(field, item, [...path, i]);
        if (value !== undefined) out.push(value);
      });
      return out;
    }
    return this.single(field, raw, path);
  }

  private single(field: protobuf.Field, raw: unknown, path: PathSegmentList): Json | undefined {
    const resolved = field.resolvedType;
    if (resolved && 'fieldsArray' in resolved) return this.message(resolved as protobuf.Type, raw, path);
    if (resolved && 'values' in resolved) return this.enumValue(resolved as protobuf.Enum, raw, path);
    return this.scalar(field, raw, path);
  }

  private enumValue(e: protobuf.Enum, raw: unknown, path: PathSegmentList): Json | undefined {
    const names = Object.keys(e.values);
    if (typeof raw === 'string' && raw in e.values) return raw;
    if (typeof raw === 'number' && Number.isInteger(raw)) {
      const name = names.find((n) => e.values[n] === raw);
      if (name !== undefined) return name;
    }
    const allowed = names.length <= 16 ? `; expected one of ${names.join(', ')}` : '';
    return this.error(path, 'proxy.enum', `${showValue(raw)} is not a value of ${typeName(e)}${allowed}`);
  }

  private scalar(field: protobuf.Field, raw: unknown, path: PathSegmentList): Json | undefined {
    const t = field.type;
    if (t === 'string') {
      if (typeof raw !== 'string')
        return this.error(path, 'proxy.type', `expected a string, got ${showValue(raw)}`);
      return raw;
    }
    if (t === 'bool') {
      if (typeof raw !== 'boolean')
        return this.error(path, 'proxy.type', `expected true or false, got ${showValue(raw)}`);
      return raw;
    }
    if (t === 'bytes') {
      if (typeof raw !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(raw))
        return this.error(path, 'proxy.type', `expected base64 bytes, got ${showValue(raw)}`);
      return raw;
    }
    if (t === 'double' || t === 'float') {
      if (typeof raw === 'number') return raw;
      if (typeof raw === 'string' && (raw === 'NaN' || raw === 'Infinity' || raw === '-Infinity')) return raw;
      if (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
      return this.error(path, 'proxy.type', `expected a number, got ${showValue(raw)}`);
    }
    const n =
      typeof raw === 'number'
        ? raw
        : typeof raw === 'string' && /^-?[0-9]+$/.test(raw)
          ? Number(raw)
          : Number.NaN;
    if (!Number.isInteger(n))
      return this.error(path, 'proxy.type', `expected an integer (${t}), got ${showValue(raw)}`);
    const range = INT_RANGES[t];
    if (range && (n < range[0] || n > range[1])) {
      return this.error(
        path,
        'proxy.range',
        `${showValue(raw)} is out of range for ${t} (${range[0]}..${range[1]})`,
      );
    }
    if (UINT64.has(t) && n < 0)
      return this.error(path, 'proxy.range', `${showValue(raw)} is negative; ${t} is unsigned`);
    if ((INT64.has(t) || UINT64.has(t)) && !Number.isSafeInteger(n)) {
      return this.error(path, 'proxy.range', `${showValue(raw)} is larger than Skiff handles (2^53)`);
    }
    return n;
  }

  private duration(input: unknown, path: PathSegmentList): Json | undefined {
    const d = typeof input === 'string' ? parseProtoDuration(input) : undefined;
    if (!d) {
      return this.error(
        path,
        'proxy.duration',
        `${showValue(input)} is not a duration; expected seconds with an "s" suffix, such as "1s" or "0.250s"`,
      );
    }
    return canonicalDuration(d);
  }

  private any(input: unknown, path: PathSegmentList): Json | undefined {
    if (!isObject(input))
      return this.error(path, 'proxy.type', `expected an object with "@type", got ${showValue(input)}`);
    const url = input['@type'];
    if (typeof url !== 'string' || url === '') {
      return this.error(path, 'proxy.any', `"@type" is required, such as "${TYPE_URL_PREFIX}envoy.…"`);
    }
    const name = url.slice(url.lastIndexOf('/') + 1);
    let type: protobuf.Type | undefined;
    try {
      type = this.root.lookupType(name);
    } catch {
      type = undefined;
    }
    if (!type) {
      return this.error(
        [...path, '@type'],
        'proxy.any',
        `unknown type ${showValue(url)}: the Skiff proxy does not implement it (docs/proxy-config.md)`,
      );
    }
    const inner = typeName(type);
    if (this.support && !(inner in this.support)) {
      return this.error(
        [...path, '@type'],
        'proxy.unsupported',
        `${inner} is not implemented by the Skiff proxy (docs/proxy-config.md)`,
      );
    }
    if (inner.startsWith('google.protobuf.') && inner !== 'google.protobuf.Empty') {
      const value = this.message(type, input.value, [...path, 'value']);
      return value === undefined ? undefined : { '@type': url, value };
    }
    return { '@type': url, ...this.fields(type, input, path, new Set(['@type'])) };
  }

  private freeJson(input: unknown, path: PathSegmentList): Json | undefined {
    if (input === null || typeof input === 'boolean' || typeof input === 'string') return input;
    if (typeof input === 'number') {
      return Number.isFinite(input) ? input : this.error(path, 'proxy.type', `${input} is not valid JSON`);
    }
    if (Array.isArray(input)) {
      const out: Json[] = [];
      input.forEach((item, i) => {
        const v = this.freeJson(item, [...path, i]);
        if (v !== undefined) out.push(v);
      });
      return out;
    }
    if (isObject(input)) {
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(input)) {
        const value = this.freeJson(v, [...path, k]);
        if (value !== undefined) out[k] = value;
      }
      return out;
    }
    return this.error(path, 'proxy.type', `${showValue(input)} is not JSON`);
  }

  /** protoc-gen-validate rules written on a field, the common ones (others are not checked). */
  private fieldRules(field: protobuf.Field, value: Json, path: PathSegmentList): void {
    const options = field.options as Record<string, unknown> | undefined;
    if (!options) return;
    if (field.repeated && Array.isArray(value)) {
      const r = rulesOf(options, '(validate.rules).repeated.');
      if (!r) return;
      if (typeof r.min_items === 'number' && value.length < r.min_items) {
        this.error(path, 'proxy.validate', `needs at least ${r.min_items} item(s), got ${value.length}`);
      }
      if (typeof r.max_items === 'number' && value.length > r.max_items) {
        this.error(path, 'proxy.validate', `allows at most ${r.max_items} item(s), got ${value.length}`);
      }
      const itemRules = rulesOf(options, '(validate.rules).repeated.items.');
      if (itemRules) {
        for (const [i, item] of value.entries()) this.valueRules(itemRules, item, [...path, i]);
      }
      return;
    }
    const r = rulesOf(options, '(validate.rules).');
    if (r) this.valueRules(r, value, path);
  }

  /** Rules keyed like `uint32.lte`, `string.min_len`, `duration.gt.seconds`. */
  private valueRules(rules: Rules, value: Json, path: PathSegmentList): void {
    for (const [key, bound] of Object.entries(rules)) {
      const [kind, rule, sub] = key.split('.');
      if (kind === 'string' && typeof value === 'string') {
        const len = [...value].length;
        if (rule === 'min_len' && typeof bound === 'number' && len < bound) {
          this.error(
            path,
            'proxy.validate',
            bound === 1 ? 'must not be empty' : `must be at least ${bound} characters`,
          );
        } else if (rule === 'min_bytes' && typeof bound === 'number' && Buffer.byteLength(value) < bound) {
          this.error(
            path,
            'proxy.validate',
            bound === 1 ? 'must not be empty' : `must be at least ${bound} bytes`,
          );
        } else if (rule === 'max_len' && typeof bound === 'number' && len > bound) {
          this.error(path, 'proxy.validate', `must be at most ${bound} characters, got ${len}`);
        } else if (rule === 'max_bytes' && typeof bound === 'number' && Buffer.byteLength(value) > bound) {
          this.error(path, 'proxy.validate', `must be at most ${bound} bytes`);
        }
      } else if (
        kind === 'duration' &&
        typeof value === 'string' &&
        rule !== undefined &&
        rule !== 'required'
      ) {
        const d = parseProtoDuration(value);
        const limit =
          typeof bound === 'object' && bound !== null ? (bound as { seconds?: number; nanos?: number }) : {};
        const limitValue = (limit.seconds ?? 0) + (limit.nanos ?? 0) / 1e9;
        if (d && sub === undefined)
          this.compare(rule, d.seconds + d.nanos / 1e9, limitValue, value, `${limitValue}s`, path);
      } else if (kind === 'bool' && rule === 'const' && typeof value === 'boolean' && value !== bound) {
        this.error(path, 'proxy.validate', `must be ${String(bound)}`);
      } else if (typeof value === 'number' && typeof bound === 'number' && rule !== undefined) {
        this.compare(rule, value, bound, value, String(bound), path);
      } else if (
        rule === 'in' &&
        Array.isArray(bound) &&
        typeof value === 'number' &&
        !bound.includes(value)
      ) {
        this.error(path, 'proxy.validate', `${value} must be one of ${bound.join(', ')}`);
      }
    }
  }

  private compare(
    rule: string,
    n: number,
    bound: number,
    shown: Json,
    boundText: string,
    path: PathSegmentList,
  ): void {
    const fail: Record<string, [boolean, string]> = {
      lt: [n >= bound, `less than ${boundText}`],
      lte: [n > bound, `at most ${boundText}`],
      gt: [n <= bound, `greater than ${boundText}`],
      gte: [n < bound, `at least ${boundText}`],
      const: [n !== bound, `exactly ${boundText}`],
    };
    const check = fail[rule];
    if (check?.[0]) this.error(path, 'proxy.validate', `${showValue(shown)} must be ${check[1]}`);
  }
}

type PathSegmentList = (string | number)[];
