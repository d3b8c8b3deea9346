// The ADS server (state of the world): the codec, the protocol as pure state, the resources per proxy, the gRPC
// binding. What `skiff control-plane` builds on (docs/control-plane.md).

export {
  type AnyMessage,
  anyToJson,
  decodeToJson,
  EncodeError,
  encodeMessage,
  encodeResource,
} from './codec.js';
export {
  AdsStream,
  CLUSTER_TYPE,
  type DiscoveryRequest,
  type DiscoveryResponse,
  ENDPOINT_TYPE,
  KnownVersions,
  LISTENER_TYPE,
  PUSH_ORDER,
  ROUTE_TYPE,
  type StreamStatus,
  shortType,
  type TypeStatus,
} from './protocol.js';
export { ProxyResources, ResourceEncoder } from './resources.js';
export {
  type AdsCall,
  AdsServer,
  type AdsServerOptions,
  type Authorizer,
  type ConnectionStatus,
  checkPlaintextAddress,
  type Refusal,
} from './server.js';
export { ADS_PATH, adsServiceDefinition, type DecodedResponse } from './service.js';
