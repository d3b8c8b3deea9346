// Istio's HTTP peer metadata exchange, the header values (istio/proxy source/extensions/filters/http/peer_metadata
// `MXPropagationMethod::computeValue`, `MXMethod::lookup`; extensions/common/metadata_object.cc
// `convertWorkloadMetadataToStruct`, `serializeToStringDeterministic`):
// - `x-envoy-peer-metadata-id`: the sender's Envoy node id;
// - `x-envoy-peer-metadata`: base64 (standard alphabet, `=` padding) of the deterministic protobuf serialization
//   of a google.protobuf.Struct {NAME, NAMESPACE, WORKLOAD_NAME, CLUSTER_ID, LABELS{canonical-name,
//   canonical-revision, app, version}, OWNER}, each present only when not empty except LABELS, always there.
// Encoding is done once per proxy, so it favours exactness: map entries are written sorted by their UTF-8 bytes
// as protobuf's deterministic mode does, with protobufjs' Writer. Decoding never throws: anything that is not a
// Struct gives `undefined` and a reason. Pure: no I/O.

import protobuf from 'protobufjs';
import {
  APP_LABEL,
  CANONICAL_NAME_LABEL,
  CANONICAL_REVISION_LABEL,
  formatOwner,
  VERSION_LABEL,
  type WorkloadMetadata,
  workloadFromFields,
} from './workload.js';

export const PEER_METADATA_HEADER = 'x-envoy-peer-metadata';
export const PEER_METADATA_ID_HEADER = 'x-envoy-peer-metadata-id';

/** Istio's per-worker cache size for decoded peers (peer_metadata filter.h `max_peer_cache_size_`). */
export const DEFAULT_PEER_CACHE_SIZE = 500;

const TAG_STRUCT_FIELDS = 0x0a; // Struct.fields = 1, length-delimited (a map entry)
const TAG_ENTRY_KEY = 0x0a; // map entry key = 1
const TAG_ENTRY_VALUE = 0x12; // map entry value = 2
const TAG_STRING_VALUE = 0x1a; // Value.string_value = 3
const TAG_STRUCT_VALUE = 0x2a; // Value.struct_value = 5

/** A Struct to encode: string values or nested structs. */
type StructEntries = ReadonlyArray<readonly [string, string | StructEntries]>;

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function writeStruct(w: protobuf.Writer, entries: StructEntries): void {
  const sorted = [...entries].sort((x, y) => utf8Compare(x[0], y[0]));
  for (const [key, value] of sorted) {
    w.uint32(TAG_STRUCT_FIELDS).fork();
    w.uint32(TAG_ENTRY_KEY).string(key);
    w.uint32(TAG_ENTRY_VALUE).fork();
    if (typeof value === 'string') w.uint32(TAG_STRING_VALUE).string(value);
    else {
      w.uint32(TAG_STRUCT_VALUE).fork();
      writeStruct(w, value);
      w.ldelim();
    }
    w.ldelim();
    w.ldelim();
  }
}

/** The Struct Istio's proxy sends for a workload (metadata_object.cc `convertWorkloadMetadataToStruct`). */
function workloadEntries(w: WorkloadMetadata): StructEntries {
  const top: Array<readonly [string, string | StructEntries]> = [];
  if (w.instanceName !== '') top.push(['NAME', w.instanceName]);
  if (w.namespace !== '') top.push(['NAMESPACE', w.namespace]);
  if (w.workloadName !== '') top.push(['WORKLOAD_NAME', w.workloadName]);
  if (w.clusterId !== '') top.push(['CLUSTER_ID', w.clusterId]);
  const labels = new Map<string, string>();
  if (w.canonicalName !== '') labels.set(CANONICAL_NAME_LABEL, w.canonicalName);
  if (w.canonicalRevision !== '') labels.set(CANONICAL_REVISION_LABEL, w.canonicalRevision);
  if (w.appName !== '') labels.set(APP_LABEL, w.appName);
  if (w.appVersion !== '') labels.set(VERSION_LABEL, w.appVersion);
  for (const [k, v] of Object.entries(w.extraLabels)) labels.set(k, v);
  top.push(['LABELS', [...labels]]);
  const owner = formatOwner(w);
  if (owner !== undefined) top.push(['OWNER', owner]);
  return top;
}

/** The deterministic protobuf bytes of the workload's Struct. */
export function peerMetadataBytes(workload: WorkloadMetadata): Uint8Array {
  const w = protobuf.Writer.create();
  writeStruct(w, workloadEntries(workload));
  return w.finish();
}

/** The `x-envoy-peer-metadata` value for a workload: compute it once per proxy, not per request. */
export function encodePeerMetadata(workload: WorkloadMetadata): string {
  return Buffer.from(peerMetadataBytes(workload)).toString('base64');
}

let structType: protobuf.Type | undefined;

function structMessage(): protobuf.Type {
  if (structType === undefined) {
    const descriptor = protobuf.common.get('google/protobuf/struct.proto');
    if (descriptor === null) throw new Error('protobufjs has no google/protobuf/struct.proto');
    structType = protobuf.Root.fromJSON(descriptor).lookupType('google.protobuf.Struct');
  }
  return structType;
}

interface DecodedValue {
  kind?: string;
  stringValue?: string;
  structValue?: DecodedStruct | null;
}
interface DecodedStruct {
  fields?: Record<string, DecodedValue | null | undefined>;
}

/** `Value.string_value()`: "" unless the value holds a string, as protobuf's accessor answers. */
function stringOf(v: DecodedValue | null | undefined): string {
  return v?.kind === 'stringValue' && typeof v.stringValue === 'string' ? v.stringValue : '';
}

/** What decoding a header value gave: the peer, or why there is none. */
export type PeerDecodeResult =
  | { readonly peer: WorkloadMetadata; readonly reason?: undefined }
  | { readonly peer: undefined; readonly reason: string };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The peer workload in a received `x-envoy-peer-metadata` value (padded or not, as Envoy's
 * `Base64::decodeWithoutPadding` takes it). Unknown keys are ignored and non-string values read as "", as
 * Istio's `convertStructToWorkloadMetadata` does; labels beyond the four Istio reads are kept only when named in
 * `additionalLabels`. Never throws: a value that is not base64 or not a Struct gives a reason instead.
 */
export function decodePeerMetadata(value: string, additionalLabels?: ReadonlySet<string>): PeerDecodeResult {
  if (value === '') return { peer: undefined, reason: 'empty value' };
  const unpadded = value.replace(/=+$/, '');
  if (!BASE64.test(value) || unpadded.length % 4 === 1) {
    return { peer: undefined, reason: 'not base64' };
  }
  let decoded: DecodedStruct;
  try {
    decoded = structMessage().decode(Buffer.from(unpadded, 'base64')) as DecodedStruct;
  } catch (err) {
    return {
      peer: undefined,
      reason: `not a google.protobuf.Struct (${err instanceof Error ? err.message : String(err)})`,
    };
  }
  const fields = decoded.fields ?? {};
  const labelsValue = fields.LABELS;
  const labelFields =
    labelsValue?.kind === 'structValue' ? (labelsValue.structValue?.fields ?? undefined) : undefined;
  const labels: Record<string, string> = {};
  if (labelFields !== undefined) {
    for (const [k, v] of Object.entries(labelFields)) labels[k] = stringOf(v);
  }
  const peer = workloadFromFields(
    {
      name: stringOf(fields.NAME),
      namespace: stringOf(fields.NAMESPACE),
      workloadName: stringOf(fields.WORKLOAD_NAME),
      clusterId: stringOf(fields.CLUSTER_ID),
      owner: stringOf(fields.OWNER),
    },
    labels,
    additionalLabels,
  );
  return { peer };
}

const ABSENT: PeerDecodeResult = Object.freeze({ peer: undefined, reason: 'no header' });

/**
 * Decoded peers by header value, so that a peer's metadata is decoded once and then found with one Map lookup
 * (Istio keeps the same per-worker cache, keyed by the id header; keying by the value itself also notices a peer
 * that restarted with new labels under the same id). Holds at most `maxSize` values; when full, the oldest quarter
 * goes, as Istio evicts. Failures are cached too, so repeated garbage is not decoded again.
 */
export class PeerMetadataCache {
  private readonly cache = new Map<string, PeerDecodeResult>();
  private readonly maxSize: number;
  private readonly additionalLabels: ReadonlySet<string> | undefined;

  constructor(options: { maxSize?: number; additionalLabels?: Iterable<string> } = {}) {
    this.maxSize = Math.max(1, options.maxSize ?? DEFAULT_PEER_CACHE_SIZE);
    this.additionalLabels =
      options.additionalLabels === undefined ? undefined : new Set(options.additionalLabels);
  }

  /** The peer behind a received header value (undefined or "" when the header was absent). */
  lookup(value: string | undefined): PeerDecodeResult {
    if (value === undefined || value === '') return ABSENT;
    const hit = this.cache.get(value);
    if (hit !== undefined) return hit;
    const result = decodePeerMetadata(value, this.additionalLabels);
    if (this.cache.size >= this.maxSize) {
      let drop = Math.max(1, Math.floor(this.maxSize / 4));
      for (const key of this.cache.keys()) {
        this.cache.delete(key);
        if (--drop === 0) break;
      }
    }
    this.cache.set(value, result);
    return result;
  }

  get size(): number {
    return this.cache.size;
  }
}
