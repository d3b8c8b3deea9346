// skiff/policy: the pure decisions of Istio's peer-authentication model, usable without the rest of Skiff.

export {
  DEFAULT_NAMESPACE,
  DEFAULT_ROOT_NAMESPACE,
  effectivePeerAuthentication,
  explainPeerAuthentication,
  type IgnoredPolicy,
  type Level,
  modeForPort,
  namespaceMutualTlsMode,
  type PeerAuthenticationExplanation,
  type PolicyOptions,
  type PolicyRef,
  sortPolicies,
  type WorkloadRef,
} from './peer-authentication.js';
export type {
  ClientTlsMode,
  ClientTlsSettings,
  DestinationRuleSpec,
  Mode,
  ModeSetting,
  PeerAuthentication,
  PortTrafficPolicy,
  TrafficPolicy,
} from './types.js';
export {
  mergeSubsetTrafficPolicy,
  portLevelTrafficPolicy,
  tlsModeForDestinationRule,
  type UpstreamTlsDecision,
  type UpstreamTlsInput,
  upstreamTls,
} from './upstream-tls.js';
