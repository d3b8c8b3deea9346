// Reading decoded Envoy configuration (canonical proto3 JSON from xds/decode.ts): total accessors that never
// throw (decoding already checked types, so a wrong shape here only means "absent"), and the few conversions
// every translator needs. Pure.

import { durationMs, type Json, type JsonObject } from '../../xds/decode.js';

export type { Json, JsonObject };

export function obj(v: Json | undefined): JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
}
export function list(v: Json | undefined): Json[] {
  return Array.isArray(v) ? v : [];
}
export function str(v: Json | undefined): string {
  return typeof v === 'string' ? v : '';
}
export function num(v: Json | undefined): number {
  return typeof v === 'number' ? v : 0;
}

/** The message name of an `Any` (`type.googleapis.com/envoy.….TcpProxy` → `envoy.….TcpProxy`). */
export function typeOf(any: JsonObject): string {
  const url = str(any['@type']);
  return url.slice(url.lastIndexOf('/') + 1);
}

export const TYPED_STRUCT_TYPES: readonly string[] = ['udpa.type.v1.TypedStruct', 'xds.type.v3.TypedStruct'];

/** The inner type of a TypedStruct (`stats.PluginConfig`), or '' when `any` is not one. */
export function typedStructOf(any: JsonObject): string {
  if (!TYPED_STRUCT_TYPES.includes(typeOf(any))) return '';
  const url = str(any.type_url);
  return url.slice(url.lastIndexOf('/') + 1);
}

/** The type an extension is registered under: a TypedStruct's inner type, else the Any's own. */
export function extensionTypeOf(any: JsonObject): string {
  return typedStructOf(any) || typeOf(any);
}

/** A duration field in milliseconds, or `fallback` when the field is absent. */
export function durationOr(v: Json | undefined, fallback: number): number {
  return v === undefined ? fallback : durationMs(str(v));
}

/** A duration from free JSON (a Struct has no Duration type): NaN when it is not one. */
export function safeDuration(text: string): number {
  try {
    return durationMs(text);
  } catch {
    return Number.NaN;
  }
}

/** A field's proto name from either of its proto3 JSON spellings (`tcpReportingDuration` → `tcp_reporting_duration`). */
export function protoName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A proto3 JSON field by its proto name or its lowerCamelCase JSON name (a Struct keeps either). */
export function field(o: JsonObject, name: string): Json | undefined {
  return o[name] ?? o[name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())];
}

/** The key a Struct uses for a field: its proto name or its lowerCamelCase JSON name, as written. */
export function keyOf(o: JsonObject, name: string): string {
  const camel = name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
  return name in o || !(camel in o) ? name : camel;
}

/** A wrapper (UInt32Value, …) decodes to its bare value; absent gives `fallback`. */
export function wrapped(v: Json | undefined, fallback: number): number {
  return typeof v === 'number' ? v : fallback;
}

/** A stable text for a JSON value, keys sorted. */
export function canonicalKey(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonicalKey).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalKey(v[k] ?? null)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
