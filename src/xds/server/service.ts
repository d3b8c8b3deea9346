// The gRPC method `envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources`, with its
// messages (de)serialized by Skiff's codec rather than proto-loader's object form: a request's node metadata
// arrives as free JSON (what parseProxyNode reads), a response's resources leave as the Anys already encoded.
// The same definition serves the server and the tests' raw client.

import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import type { JsonObject } from '../decode.js';
import { type AnyMessage, decodeToJson, encodeMessage, messageToJson } from './codec.js';
import type { DiscoveryRequest, DiscoveryResponse } from './protocol.js';

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
export const ADS_METHOD = 'StreamAggregatedResources';
export const ADS_PATH = `/${ADS_SERVICE}/${ADS_METHOD}`;
const REQUEST = 'envoy.service.discovery.v3.DiscoveryRequest';
const RESPONSE = 'envoy.service.discovery.v3.DiscoveryResponse';
const NODE = 'envoy.config.core.v3.Node';

/** A request that could not be read: the stream is ended with InvalidArgument and this message. */
export interface MalformedRequest {
  malformed: string;
}

export type IncomingRequest = DiscoveryRequest | MalformedRequest;

export function isMalformed(r: IncomingRequest): r is MalformedRequest {
  return 'malformed' in r;
}

/** A response as a client reads it: each resource as proto3 JSON with its `@type`. */
export type DecodedResponse = DiscoveryResponse<JsonObject>;

/**
 * Reads a DiscoveryRequest's bytes. The node is read as proto3 JSON (its metadata a Struct); of error_detail
 * only the code and message are kept (its `details` may be of any type). Never throws.
 */
export function decodeRequest(root: protobuf.Root, bytes: Uint8Array): IncomingRequest {
  try {
    const type = root.lookupType(REQUEST);
    const m = type.decode(bytes) as unknown as Record<string, unknown>;
    const out: DiscoveryRequest = {
      version_info: typeof m.version_info === 'string' ? m.version_info : '',
      resource_names: Array.isArray(m.resource_names) ? (m.resource_names as string[]) : [],
      type_url: typeof m.type_url === 'string' ? m.type_url : '',
      response_nonce: typeof m.response_nonce === 'string' ? m.response_nonce : '',
    };
    if (m.node) out.node = messageToJson(root, NODE, m.node);
    const status = m.error_detail as { code?: number; message?: string } | undefined;
    if (status) out.error_detail = { code: Number(status.code ?? 0), message: String(status.message ?? '') };
    return out;
  } catch (e) {
    return { malformed: `malformed DiscoveryRequest: ${(e as Error)?.message ?? String(e)}` };
  }
}

/** The ADS method definition: requests and responses (de)serialized with `root` (Envoy's protos with ADS). */
export function adsServiceDefinition(
  root: protobuf.Root,
): grpc.ServiceDefinition<grpc.UntypedServiceImplementation> {
  const responseType = root.lookupType(RESPONSE);
  const method: grpc.MethodDefinition<IncomingRequest, DiscoveryResponse<AnyMessage> | DecodedResponse> = {
    path: ADS_PATH,
    requestStream: true,
    responseStream: true,
    originalName: ADS_METHOD,
    requestSerialize: (req) => Buffer.from(encodeMessage(root, REQUEST, req)),
    requestDeserialize: (bytes) => decodeRequest(root, bytes),
    responseSerialize: (res) => Buffer.from(responseType.encode(res as object).finish()),
    responseDeserialize: (bytes) => decodeToJson(root, RESPONSE, bytes) as unknown as DecodedResponse,
  };
  return { [ADS_METHOD]: method } as grpc.ServiceDefinition<grpc.UntypedServiceImplementation>;
}
