// proto3 JSON ⇄ protobuf bytes over protobufjs reflection, for what an ADS server sends and receives: a
// generated resource (snake_case proto3 JSON, `@type` on every Any) becomes a `google.protobuf.Any`, and a
// DiscoveryRequest's bytes become proto3 JSON again (node metadata as free JSON).
//
// protobufjs' own `fromObject` is not used: it drops misspelled fields and unknown enum names silently, throws on
// Durations written "1s", and reads Struct and nested Anys in its own object form (environment.md). This walker
// turns proto3 JSON into the plain objects protobufjs' `encode` writes, refusing what proto3 JSON would not
// parse (an unknown field, a wrong type, an enum name the type lacks, an Any of an unknown type, two members of
// one oneof), with the path of the mistake. Scalars at their default value are left off the wire, as proto3
// encoders do. Pure: the Root is given.

import protobuf from 'protobufjs';
import type { Json, JsonObject } from '../decode.js';
import { jsonName, parseProtoDuration, WRAPPERS } from '../decode.js';

/** A proto3-JSON value the encoder refuses, with where it is (`clusters[0].connect_timeout`). */
export class EncodeError extends Error {
  constructor(
    public path: string,
    readonly reason: string,
  ) {
    super(`${path === '' ? '' : `${path}: `}${reason}`);
    this.name = 'EncodeError';
  }

  /**
   * The same mistake seen from one level up: `segment` (a field, `[3]`, `<Type>`) goes in front of the path.
   * Paths are built only when something is wrong: encoding builds none.
   */
  within(segment: string): this {
    if (segment === '') return this;
    const rest = this.path;
    this.path =
      rest === ''
        ? segment
        : rest.startsWith('[') || rest.startsWith('<')
          ? segment + rest
          : `${segment}.${rest}`;
    this.message = `${this.path}: ${this.reason}`;
    return this;
  }
}

/** Rethrows `e` with `segment` in front of its path (an EncodeError), or as it is. */
function rethrow(e: unknown, segment: string): never {
  throw e instanceof EncodeError ? e.within(segment) : e;
}

/** An Any as protobufjs writes and reads it. */
export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

const INT32_RANGES: Record<string, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  sint32: [-(2 ** 31), 2 ** 31 - 1],
  sfixed32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  fixed32: [0, 2 ** 32 - 1],
};
const INT64 = new Set(['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const fullNames = new WeakMap<protobuf.ReflectionObject, string>();

/** A type's name without the leading dot (protobufjs computes `fullName` anew on every read: cached here). */
function fullName(t: protobuf.ReflectionObject): string {
  let name = fullNames.get(t);
  if (name === undefined) {
    name = t.fullName.replace(/^\./, '');
    fullNames.set(t, name);
  }
  return name;
}

function show(v: unknown): string {
  const text = JSON.stringify(v);
  return text === undefined ? String(v) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * google.protobuf.Value's field names in this root: protobufjs' bundled copy of struct.proto (which the loader
 * prefers to the file) names them in camelCase (`stringValue`), a root loaded from the file in snake_case.
 */
interface ValueNames {
  null: string;
  number: string;
  string: string;
  bool: string;
  struct: string;
  list: string;
}

const valueNamesCache = new WeakMap<protobuf.Root, ValueNames>();

function valueNames(root: protobuf.Root): ValueNames {
  let names = valueNamesCache.get(root);
  if (!names) {
    const type = lookupType(root, 'google.protobuf.Value');
    const byId = (id: number, fallback: string) => type?.fieldsById[id]?.name ?? fallback;
    names = {
      null: byId(1, 'null_value'),
      number: byId(2, 'number_value'),
      string: byId(3, 'string_value'),
      bool: byId(4, 'bool_value'),
      struct: byId(5, 'struct_value'),
      list: byId(6, 'list_value'),
    };
    valueNamesCache.set(root, names);
  }
  return names;
}

const byNameCache = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

/** A type's fields by proto name and by lowerCamelCase JSON name (proto3 JSON parsers accept both). */
function fieldsByName(type: protobuf.Type): Map<string, protobuf.Field> {
  let map = byNameCache.get(type);
  if (!map) {
    map = new Map();
    for (const field of type.fieldsArray) {
      field.resolve();
      map.set(field.name, field);
      map.set(jsonName(field.name), field);
    }
    byNameCache.set(type, map);
  }
  return map;
}

function lookupType(root: protobuf.Root, name: string): protobuf.Type | undefined {
  try {
    return root.lookupType(name);
  } catch {
    return undefined;
  }
}

const byUrl = new WeakMap<protobuf.Root, Map<string, protobuf.Type | undefined>>();

/** The message type an Any's type URL names, or undefined when the root does not hold it. */
export function typeOfUrl(root: protobuf.Root, url: string): protobuf.Type | undefined {
  let types = byUrl.get(root);
  if (!types) {
    types = new Map();
    byUrl.set(root, types);
  }
  if (types.has(url)) return types.get(url);
  const type = lookupType(root, url.slice(url.lastIndexOf('/') + 1));
  types.set(url, type);
  return type;
}

/** Encodes proto3 JSON as the message `typeName` (e.g. `envoy.config.cluster.v3.Cluster`). Throws EncodeError. */
export function encodeMessage(root: protobuf.Root, typeName: string, json: unknown, path = ''): Uint8Array {
  const type = lookupType(root, typeName);
  if (!type) throw new EncodeError(path, `unknown message type ${typeName}`);
  try {
    return type.encode(new Encoder(root).message(type, json) as Record<string, unknown>).finish();
  } catch (e) {
    rethrow(e, path);
  }
}

/**
 * A resource as the Any of its type: `typeUrl` names the type. The resource may carry the same `@type` (a
 * different one is refused), or none, as generated resources do.
 */
export function encodeResource(root: protobuf.Root, typeUrl: string, json: unknown, path = ''): AnyMessage {
  const type = typeOfUrl(root, typeUrl);
  if (!type) throw new EncodeError(path, `unknown type ${show(typeUrl)}`);
  let body = json;
  if (isObject(json) && '@type' in json) {
    if (json['@type'] !== typeUrl)
      throw new EncodeError(path, `${show(json['@type'])} is not ${typeUrl}`).within('@type');
    const { '@type': _url, ...rest } = json;
    body = rest;
  }
  try {
    return {
      type_url: typeUrl,
      value: type.encode(new Encoder(root).message(type, body) as object).finish(),
    };
  } catch (e) {
    rethrow(e, path);
  }
}

class Encoder {
  private readonly names: ValueNames;

  constructor(private readonly root: protobuf.Root) {
    this.names = valueNames(root);
  }

  /** proto3 JSON → protobufjs' plain object form of `type`. Errors carry the path below this message. */
  message(type: protobuf.Type, json: unknown): unknown {
    const name = fullName(type);
    if (name.startsWith('google.protobuf.')) {
      switch (name) {
        case 'google.protobuf.Any':
          return this.any(json);
        case 'google.protobuf.Duration': {
          const d = typeof json === 'string' ? parseProtoDuration(json) : undefined;
          if (!d) throw new EncodeError('', `${show(json)} is not a duration (such as "1s" or "0.250s")`);
          return { seconds: d.seconds, nanos: d.nanos };
        }
        case 'google.protobuf.Timestamp':
          return timestamp(json);
        case 'google.protobuf.Struct':
          if (!isObject(json)) throw new EncodeError('', `expected an object (Struct), got ${show(json)}`);
          return structValue(this.names, json);
        case 'google.protobuf.Value':
          return protoValue(this.names, json);
        case 'google.protobuf.ListValue':
          if (!Array.isArray(json))
            throw new EncodeError('', `expected a list (ListValue), got ${show(json)}`);
          return { values: listValues(this.names, json) };
        case 'google.protobuf.Empty':
          if (!isObject(json) || Object.keys(json).length > 0)
            throw new EncodeError('', `expected {} (Empty), got ${show(json)}`);
          return {};
        case 'google.protobuf.FieldMask':
          if (typeof json !== 'string')
            throw new EncodeError('', `expected a string (FieldMask), got ${show(json)}`);
          return {
            paths:
              json === ''
                ? []
                : json.split(',').map((p) => p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)),
          };
      }
      if (WRAPPERS.has(name)) {
        const inner = type.fields.value;
        if (!inner) throw new EncodeError('', `${name} has no value field`);
        return { value: this.scalar(inner, json) };
      }
    }
    if (!isObject(json)) throw new EncodeError('', `expected an object (${name}), got ${show(json)}`);
    return this.fields(type, json, false);
  }

  private fields(type: protobuf.Type, json: Record<string, unknown>, isAny: boolean): object {
    const byName = fieldsByName(type);
    const out: Record<string, unknown> = {};
    let oneofs: Map<string, string> | undefined;
    for (const key in json) {
      if (isAny && key === '@type') continue;
      const raw = json[key];
      const field = byName.get(key);
      if (!field) throw new EncodeError(key, `unknown field ${show(key)} of ${fullName(type)}`);
      if (field.name in out) throw new EncodeError(key, `field ${show(field.name)} is given twice`);
      // proto3 JSON: null is the field's default (except for a Value, where it is the null value).
      if (raw === null && field.type !== 'google.protobuf.Value') continue;
      if (field.partOf) {
        oneofs ??= new Map();
        const other = oneofs.get(field.partOf.name);
        if (other !== undefined && !field.partOf.name.startsWith('_')) {
          throw new EncodeError(
            key,
            `only one of ${field.partOf.oneof.join(', ')} may be set; ${show(other)} is set too`,
          );
        }
        oneofs.set(field.partOf.name, field.name);
      }
      let value: unknown;
      try {
        value = this.field(field, raw);
      } catch (e) {
        rethrow(e, key);
      }
      if (value !== undefined) out[field.name] = value;
    }
    return out;
  }

  private field(field: protobuf.Field, raw: unknown): unknown {
    if (field.map) {
      if (!isObject(raw)) throw new EncodeError('', `expected a map (object), got ${show(raw)}`);
      const keyType = (field as unknown as protobuf.MapField).keyType;
      const out: Record<string, unknown> = {};
      let any = false;
      for (const k in raw) {
        if (keyType !== 'string' && keyType !== 'bool' && !/^-?[0-9]+$/.test(k))
          throw new EncodeError(k, `map key ${show(k)} is not a ${keyType}`);
        try {
          out[k] = this.single(field, raw[k]);
        } catch (e) {
          rethrow(e, k);
        }
        any = true;
      }
      return any ? out : undefined;
    }
    if (field.repeated) {
      if (!Array.isArray(raw)) throw new EncodeError('', `expected a list, got ${show(raw)}`);
      if (raw.length === 0) return undefined;
      const out = new Array<unknown>(raw.length);
      for (let i = 0; i < raw.length; i++) {
        try {
          out[i] = this.single(field, raw[i]);
        } catch (e) {
          rethrow(e, `[${i}]`);
        }
      }
      return out;
    }
    const value = this.single(field, raw);
    // proto3 leaves a scalar at its default off the wire, unless it has presence (a oneof member, `optional`).
    if (!field.partOf && !field.resolvedType && isScalarDefault(value)) return undefined;
    if (!field.partOf && field.resolvedType instanceof protobuf.Enum && value === 0) return undefined;
    return value;
  }

  private single(field: protobuf.Field, raw: unknown): unknown {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) return this.message(resolved, raw);
    if (resolved instanceof protobuf.Enum) return enumNumber(resolved, raw);
    return this.scalar(field, raw);
  }

  private scalar(field: protobuf.Field, raw: unknown): unknown {
    const t = field.type;
    switch (t) {
      case 'string':
        if (typeof raw !== 'string') throw new EncodeError('', `expected a string, got ${show(raw)}`);
        return raw;
      case 'bool':
        if (typeof raw !== 'boolean') throw new EncodeError('', `expected true or false, got ${show(raw)}`);
        return raw;
      case 'bytes':
        if (typeof raw !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(raw))
          throw new EncodeError('', `expected base64 bytes, got ${show(raw)}`);
        return Buffer.from(raw, 'base64');
      case 'double':
      case 'float': {
        if (typeof raw === 'number') return raw;
        if (raw === 'NaN' || raw === 'Infinity' || raw === '-Infinity') return Number(raw);
        if (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
        throw new EncodeError('', `expected a number, got ${show(raw)}`);
      }
    }
    const isInt =
      typeof raw === 'number' ? Number.isInteger(raw) : typeof raw === 'string' && /^-?[0-9]+$/.test(raw);
    if (!isInt) throw new EncodeError('', `expected an integer (${t}), got ${show(raw)}`);
    const range = INT32_RANGES[t];
    const n = Number(raw);
    if (range && (n < range[0] || n > range[1]))
      throw new EncodeError('', `${show(raw)} is out of range for ${t}`);
    if (INT64.has(t)) {
      if (t.startsWith('u') || t === 'fixed64') {
        if (n < 0) throw new EncodeError('', `${show(raw)} is negative; ${t} is unsigned`);
      }
      // Beyond 2^53 a number has lost digits already; a string keeps them (protobufjs reads it with Long).
      return typeof raw === 'string' && !Number.isSafeInteger(n) ? raw : n;
    }
    return n;
  }

  private any(json: unknown): AnyMessage {
    if (!isObject(json)) throw new EncodeError('', `expected an object with "@type", got ${show(json)}`);
    const url = json['@type'];
    if (typeof url !== 'string' || url === '') throw new EncodeError('', '"@type" is required in an Any');
    const type = typeOfUrl(this.root, url);
    if (!type) throw new EncodeError('@type', `unknown type ${show(url)}`);
    // An Any of a well-known type with its own JSON form carries that form under "value".
    const name = fullName(type);
    const wellKnown = name.startsWith('google.protobuf.') && name !== 'google.protobuf.Empty';
    if (wellKnown) {
      const extra = Object.keys(json).filter((k) => k !== '@type' && k !== 'value');
      if (extra.length > 0) throw new EncodeError(extra[0] ?? '', `unknown field in an Any of ${type.name}`);
    }
    let object: unknown;
    try {
      object = wellKnown ? this.message(type, json.value) : this.fields(type, json, true);
    } catch (e) {
      rethrow(e, `<${type.name}>`);
    }
    return { type_url: url, value: type.encode(object as object).finish() };
  }
}

function isScalarDefault(v: unknown): boolean {
  return v === 0 || v === '' || v === false || (v instanceof Uint8Array && v.length === 0);
}

function enumNumber(e: protobuf.Enum, raw: unknown): number {
  if (typeof raw === 'string' && Object.hasOwn(e.values, raw)) return e.values[raw] as number;
  if (typeof raw === 'number' && Number.isInteger(raw)) {
    // proto3 enums are open: an unknown number is kept as it is.
    if (raw >= -(2 ** 31) && raw < 2 ** 31) return raw;
  }
  const names = Object.keys(e.values);
  const allowed = names.length <= 16 ? `; expected one of ${names.join(', ')}` : '';
  throw new EncodeError('', `${show(raw)} is not a value of ${fullName(e)}${allowed}`);
}

function structValue(names: ValueNames, json: Record<string, unknown>): object {
  const fields: Record<string, unknown> = {};
  for (const k in json) {
    try {
      fields[k] = protoValue(names, json[k]);
    } catch (e) {
      rethrow(e, k);
    }
  }
  return { fields };
}

function listValues(names: ValueNames, list: readonly unknown[]): object[] {
  const out = new Array<object>(list.length);
  for (let i = 0; i < list.length; i++) {
    try {
      out[i] = protoValue(names, list[i]);
    } catch (e) {
      rethrow(e, `[${i}]`);
    }
  }
  return out;
}

function protoValue(names: ValueNames, v: unknown): object {
  if (v === null) return { [names.null]: 0 };
  if (typeof v === 'string') return { [names.string]: v };
  if (typeof v === 'boolean') return { [names.bool]: v };
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new EncodeError('', `${v} is not a JSON number`);
    return { [names.number]: v };
  }
  if (Array.isArray(v)) return { [names.list]: { values: listValues(names, v) } };
  if (isObject(v)) return { [names.struct]: structValue(names, v) };
  throw new EncodeError('', `${show(v)} is not JSON`);
}

const RFC3339 =
  /^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,9}))?(Z|[+-][0-9]{2}:[0-9]{2})$/i;

function timestamp(json: unknown): object {
  const m = typeof json === 'string' ? RFC3339.exec(json) : null;
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : Number.NaN;
  if (!m || Number.isNaN(ms)) throw new EncodeError('', `${show(json)} is not an RFC 3339 timestamp`);
  return { seconds: Math.floor(ms / 1000), nanos: Number((m[2] ?? '').padEnd(9, '0')) };
}

// ---------------------------------------------------------------------------------------------------------
// bytes → proto3 JSON

/** Decodes `bytes` as `typeName` into canonical proto3 JSON (snake_case names, `@type` on Anys). Throws on bad bytes. */
export function decodeToJson(root: protobuf.Root, typeName: string, bytes: Uint8Array): JsonObject {
  const type = lookupType(root, typeName);
  if (!type) throw new Error(`unknown message type ${typeName}`);
  const value = messageJson(root, type, type.decode(bytes));
  return isObject(value) ? (value as JsonObject) : {};
}

/** A message protobufjs decoded (of type `typeName`) as canonical proto3 JSON. */
export function messageToJson(root: protobuf.Root, typeName: string, message: unknown): JsonObject {
  const type = lookupType(root, typeName);
  if (!type) throw new Error(`unknown message type ${typeName}`);
  const value = messageJson(root, type, message);
  return isObject(value) ? (value as JsonObject) : {};
}

/** An Any (`{type_url, value}`) as proto3 JSON with its `@type`. Throws when the type is unknown or the bytes bad. */
export function anyToJson(root: protobuf.Root, any: { type_url: string; value: Uint8Array }): JsonObject {
  const type = typeOfUrl(root, any.type_url);
  if (!type) throw new Error(`unknown type ${show(any.type_url)}`);
  const inner = messageJson(root, type, type.decode(any.value));
  if (fullName(type).startsWith('google.protobuf.') && fullName(type) !== 'google.protobuf.Empty') {
    return { '@type': any.type_url, value: inner };
  }
  return { '@type': any.type_url, ...(inner as JsonObject) };
}

function toNumber(v: unknown): number | string {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  if (typeof v === 'object' && v !== null && 'low' in v && 'high' in v) {
    const text = String(v);
    return Number.isSafeInteger(Number(text)) ? Number(text) : text;
  }
  return Number(v);
}

function messageJson(root: protobuf.Root, type: protobuf.Type, msg: unknown): Json {
  const m = msg as Record<string, unknown>;
  const name = fullName(type);
  switch (name) {
    case 'google.protobuf.Any':
      return anyToJson(root, m as unknown as AnyMessage);
    case 'google.protobuf.Duration':
      return durationJson(Number(toNumber(m.seconds ?? 0)), Number(m.nanos ?? 0));
    case 'google.protobuf.Timestamp': {
      const seconds = Number(toNumber(m.seconds ?? 0));
      const nanos = Number(m.nanos ?? 0);
      const base = new Date(seconds * 1000).toISOString().replace(/\.000Z$/, '');
      return `${base}${fraction(nanos)}Z`;
    }
    case 'google.protobuf.Struct':
      return structJson(valueNames(root), m);
    case 'google.protobuf.Value':
      return valueJson(valueNames(root), m);
    case 'google.protobuf.ListValue':
      return ((m.values as unknown[]) ?? []).map((v) =>
        valueJson(valueNames(root), v as Record<string, unknown>),
      );
    case 'google.protobuf.FieldMask':
      return ((m.paths as string[]) ?? []).map(jsonName).join(',');
  }
  if (WRAPPERS.has(name)) {
    const inner = type.fields.value;
    return inner ? scalarJson(inner, m.value ?? defaultOf(inner)) : null;
  }
  const out: JsonObject = {};
  for (const field of type.fieldsArray) {
    if (!Object.hasOwn(m, field.name)) continue;
    const v = m[field.name];
    if (v === undefined || v === null) continue;
    field.resolve();
    const one = (x: unknown): Json => {
      const r = field.resolvedType;
      if (r instanceof protobuf.Type) return messageJson(root, r, x);
      if (r instanceof protobuf.Enum) return r.valuesById[x as number] ?? (x as number);
      return scalarJson(field, x);
    };
    if (field.map) {
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length > 0) out[field.name] = Object.fromEntries(entries.map(([k, x]) => [k, one(x)]));
    } else if (field.repeated) {
      const list = v as unknown[];
      if (list.length > 0) out[field.name] = list.map(one);
    } else {
      const value = one(v);
      if (!field.partOf && !(field.resolvedType instanceof protobuf.Type) && isJsonDefault(field, value))
        continue;
      out[field.name] = value;
    }
  }
  return out;
}

function isJsonDefault(field: protobuf.Field, value: Json): boolean {
  if (field.resolvedType instanceof protobuf.Enum)
    return field.resolvedType.values[String(value)] === 0 || value === 0;
  return value === 0 || value === '' || value === false;
}

function defaultOf(field: protobuf.Field): unknown {
  return field.type === 'string' || field.type === 'bytes' ? '' : field.type === 'bool' ? false : 0;
}

function scalarJson(field: protobuf.Field, v: unknown): Json {
  switch (field.type) {
    case 'string':
    case 'bool':
      return v as Json;
    case 'bytes':
      return Buffer.from(v as Uint8Array).toString('base64');
    case 'double':
    case 'float': {
      const n = Number(v);
      return Number.isFinite(n) ? n : String(n);
    }
  }
  return toNumber(v);
}

/** proto3 JSON's fractional seconds: none, or 3, 6 or 9 digits. */
function fraction(nanos: number): string {
  const n = Math.abs(nanos);
  if (n === 0) return '';
  const digits = String(n).padStart(9, '0');
  return `.${digits.endsWith('000000') ? digits.slice(0, 3) : digits.endsWith('000') ? digits.slice(0, 6) : digits}`;
}

function durationJson(seconds: number, nanos: number): string {
  const negative = seconds < 0 || nanos < 0;
  return `${negative ? '-' : ''}${Math.abs(seconds)}${fraction(nanos)}s`;
}

function structJson(names: ValueNames, m: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries((m.fields as Record<string, unknown>) ?? {})) {
    out[k] = valueJson(names, v as Record<string, unknown>);
  }
  return out;
}

function valueJson(names: ValueNames, v: Record<string, unknown>): Json {
  if (Object.hasOwn(v, names.string)) return v[names.string] as string;
  if (Object.hasOwn(v, names.number)) return Number(v[names.number]);
  if (Object.hasOwn(v, names.bool)) return v[names.bool] as boolean;
  if (Object.hasOwn(v, names.struct)) return structJson(names, v[names.struct] as Record<string, unknown>);
  if (Object.hasOwn(v, names.list)) {
    return (((v[names.list] as Record<string, unknown>).values as unknown[]) ?? []).map((x) =>
      valueJson(names, x as Record<string, unknown>),
    );
  }
  return null;
}
