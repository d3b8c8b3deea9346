// The kinds Skiff reads and how far: validated fully, kept for a later stage, accepted without effect, or
// not used. One table, so the loader and docs/configuration.md agree.

import type { ObjectMeta } from '../object-meta.js';
import type { Checker, Schema } from '../schema.js';
import { checkDestinationRule, destinationRuleSpec } from './destination-rule.js';
import { checkGateway, gatewaySpec } from './gateway.js';
import { meshConfigSpec } from './mesh-config.js';
import { peerAuthenticationSpec } from './peer-authentication.js';
import { checkService, serviceSpec } from './service.js';
import { checkServiceEntry, serviceEntrySpec } from './service-entry.js';
import { checkVirtualService, virtualServiceSpec } from './virtual-service.js';
import { workloadSpec } from './workload.js';
import { checkWorkloadEntry, workloadEntrySpec } from './workload-entry.js';

/**
 * Rules that need the resource's metadata (its namespace, name or annotations), run after the spec parsed.
 * Paths are from the resource root (`['spec', 'hosts', 0]`, `['metadata', 'name']`).
 */
// biome-ignore lint/suspicious/noExplicitAny: each kind's check takes its own typed spec
export type ResourceCheck = (spec: any, metadata: ObjectMeta & { namespace: string }, c: Checker) => void;

export type Support =
  /** Parsed and validated with Istio's (or Skiff's) rules. */
  | {
      level: 'validated';
      spec: Schema<unknown>;
      specRequired: boolean;
      namespaced: boolean;
      check?: ResourceCheck;
    }
  /** A valid Istio kind Skiff does not act on: accepted, with a warning. */
  | { level: 'not-enforced'; note: string };

export interface KindEntry {
  group: string;
  versions: readonly string[];
  kind: string;
  support: Support;
}

const ISTIO_NETWORKING_VERSIONS = ['v1alpha3', 'v1beta1', 'v1'] as const;

/** A networking.istio.io kind: one schema under v1alpha3, v1beta1 and v1. */
function networking(kind: string, spec: Schema<unknown>, check: ResourceCheck): KindEntry {
  return {
    group: 'networking.istio.io',
    versions: ISTIO_NETWORKING_VERSIONS,
    kind,
    support: { level: 'validated', spec, specRequired: true, namespaced: true, check },
  };
}

export const KINDS: readonly KindEntry[] = [
  {
    group: 'security.istio.io',
    versions: ['v1beta1', 'v1'],
    kind: 'PeerAuthentication',
    support: { level: 'validated', spec: peerAuthenticationSpec, specRequired: false, namespaced: true },
  },
  {
    group: 'skiff.dev',
    versions: ['v1alpha1'],
    kind: 'MeshConfig',
    support: { level: 'validated', spec: meshConfigSpec, specRequired: false, namespaced: false },
  },
  {
    group: 'skiff.dev',
    versions: ['v1alpha1'],
    kind: 'Workload',
    support: { level: 'validated', spec: workloadSpec, specRequired: true, namespaced: true },
  },
  networking('DestinationRule', destinationRuleSpec, checkDestinationRule),
  networking('ServiceEntry', serviceEntrySpec, checkServiceEntry),
  networking('WorkloadEntry', workloadEntrySpec, checkWorkloadEntry),
  networking('Gateway', gatewaySpec, checkGateway),
  networking('VirtualService', virtualServiceSpec, checkVirtualService),
  {
    group: '',
    versions: ['v1'],
    kind: 'Service',
    support: {
      level: 'validated',
      spec: serviceSpec,
      specRequired: false,
      namespaced: true,
      check: checkService,
    },
  },
  ...['Sidecar', 'EnvoyFilter', 'WorkloadGroup', 'ProxyConfig'].map((kind) => ({
    group: 'networking.istio.io',
    versions: kind === 'ProxyConfig' ? ['v1beta1'] : ISTIO_NETWORKING_VERSIONS,
    kind,
    support: { level: 'not-enforced', note: `Skiff does not implement ${kind}` } as const,
  })),
  ...['AuthorizationPolicy', 'RequestAuthentication'].map((kind) => ({
    group: 'security.istio.io',
    versions: ['v1beta1', 'v1'],
    kind,
    support: { level: 'not-enforced', note: `Skiff does not implement ${kind} yet` } as const,
  })),
  {
    group: 'telemetry.istio.io',
    versions: ['v1alpha1', 'v1'],
    kind: 'Telemetry',
    support: { level: 'not-enforced', note: 'Skiff always reports Istio standard metrics' },
  },
];

/** Groups whose kinds Skiff knows: an unknown kind or version there is an error (a typo), not an unrelated kind. */
export const OWNED_GROUPS: ReadonlySet<string> = new Set([
  'security.istio.io',
  'networking.istio.io',
  'skiff.dev',
  'telemetry.istio.io',
]);

export function findKind(group: string, kind: string): KindEntry | undefined {
  return KINDS.find((k) => k.group === group && k.kind === kind);
}
