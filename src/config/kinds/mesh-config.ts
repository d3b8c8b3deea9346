// skiff.dev/v1alpha1 MeshConfig: the mesh-wide settings Istio keeps in its `meshConfig`, with Istio's defaults.

import type { FieldPath } from '../../core/field-path.js';
import { isDns1123Label } from '../names.js';
import {
  array,
  boolean,
  type Checker,
  notEnforced,
  object,
  oneOf,
  optional,
  refine,
  string,
} from '../schema.js';
import { duration } from './istio-common.js';

export interface MeshConfigSpec {
  trustDomain: string;
  trustDomainAliases: string[];
  rootNamespace: string;
  enableAutoMtls: boolean;
  outboundTrafficPolicy: { mode: 'ALLOW_ANY' | 'REGISTRY_ONLY' };
  /** Envoy access log path for every listener, HTTP connection manager and tcp_proxy; empty: none (Istio). */
  accessLogFile: string;
  accessLogEncoding: 'TEXT' | 'JSON';
  /** Empty: Istio's default format for the encoding. */
  accessLogFormat: string;
  /** How long the sidecar's listener filters wait for a client's first bytes before treating it as plaintext. */
  protocolDetectionTimeout: string;
  /** Time allowed to connect to an endpoint (clusters' connect_timeout). */
  connectTimeout: string;
}

/** Istio's defaults (pkg/config/mesh/mesh.go DefaultMeshConfig). */
export const DEFAULT_MESH_CONFIG: Readonly<MeshConfigSpec> = Object.freeze<MeshConfigSpec>({
  trustDomain: 'cluster.local',
  trustDomainAliases: [],
  rootNamespace: 'istio-system',
  enableAutoMtls: true,
  outboundTrafficPolicy: { mode: 'ALLOW_ANY' },
  accessLogFile: '',
  accessLogEncoding: 'TEXT',
  accessLogFormat: '',
  // Istio's default is 0s (wait forever). Skiff bounds it, so that a silent client or a server-first protocol on
  // a PERMISSIVE port is served as plaintext after a while (design.md, "Where the seed simplifies").
  protocolDetectionTimeout: '5s',
  connectTimeout: '10s',
});

// SPIFFE trust domain names: lower case letters, digits, ".", "-" and "_" (SPIFFE ID spec, section 2.1).
const trustDomain = string({
  nonEmpty: true,
  maxLength: 255,
  pattern: /^[a-z0-9._-]+$/,
  patternText: 'a trust domain: lower case letters, digits, ".", "-" or "_" (e.g. cluster.local)',
});

const rootNamespace = refine(string({ nonEmpty: true }), (ns: string, path: FieldPath, c: Checker) => {
  if (isDns1123Label(ns)) return true;
  c.error(path, 'SKIFF_CONFIG_NAME', `invalid namespace ${JSON.stringify(ns)}: expected a DNS-1123 label`);
  return false;
});

export const meshConfigSpec = object({
  trustDomain: optional(trustDomain),
  trustDomainAliases: notEnforced(array(trustDomain), 'peers are validated against trustDomain only'),
  rootNamespace: optional(rootNamespace),
  enableAutoMtls: optional(boolean()),
  accessLogFile: optional(string()),
  accessLogEncoding: optional(oneOf(['TEXT', 'JSON'] as const)),
  accessLogFormat: optional(string()),
  protocolDetectionTimeout: optional(duration()),
  connectTimeout: optional(duration()),
  outboundTrafficPolicy: notEnforced(
    object({ mode: optional(oneOf(['ALLOW_ANY', 'REGISTRY_ONLY'] as const)) }),
    'the outbound path is not built yet',
  ),
});

export function withMeshDefaults(
  spec: Partial<{ [K in keyof MeshConfigSpec]: unknown }> | undefined,
): MeshConfigSpec {
  const s = (spec ?? {}) as Partial<MeshConfigSpec>;
  return {
    trustDomain: s.trustDomain ?? DEFAULT_MESH_CONFIG.trustDomain,
    trustDomainAliases: s.trustDomainAliases ?? [],
    rootNamespace: s.rootNamespace ?? DEFAULT_MESH_CONFIG.rootNamespace,
    enableAutoMtls: s.enableAutoMtls ?? DEFAULT_MESH_CONFIG.enableAutoMtls,
    outboundTrafficPolicy: { mode: s.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY' },
    accessLogFile: s.accessLogFile ?? DEFAULT_MESH_CONFIG.accessLogFile,
    accessLogEncoding: s.accessLogEncoding ?? DEFAULT_MESH_CONFIG.accessLogEncoding,
    accessLogFormat: s.accessLogFormat ?? DEFAULT_MESH_CONFIG.accessLogFormat,
    protocolDetectionTimeout: s.protocolDetectionTimeout ?? DEFAULT_MESH_CONFIG.protocolDetectionTimeout,
    connectTimeout: s.connectTimeout ?? DEFAULT_MESH_CONFIG.connectTimeout,
  };
}
