// Shared by tests: the repository root (tests run from dist/test) and small builders.

import { fileURLToPath } from 'node:url';
import type { ModeSetting, PeerAuthentication } from '../src/policy/index.js';

/** The repository root, whether running from dist/test or elsewhere. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export function fixture(...parts: string[]): string {
  return fileURLToPath(new URL(`../../test/fixtures/${parts.join('/')}`, import.meta.url));
}

export interface PaOptions {
  selector?: Record<string, string>;
  mode?: ModeSetting;
  ports?: Record<string, ModeSetting | null>;
  ts?: string;
}

/** A PeerAuthentication shaped like its YAML. `ports` values of null mean `{}` (no mode). */
export function pa(namespace: string, name: string, o: PaOptions = {}): PeerAuthentication {
  const spec: NonNullable<PeerAuthentication['spec']> = {};
  if (o.selector) spec.selector = { matchLabels: o.selector };
  if (o.mode) spec.mtls = { mode: o.mode };
  if (o.ports) {
    spec.portLevelMtls = Object.fromEntries(
      Object.entries(o.ports).map(([p, m]) => [p, m === null ? {} : { mode: m }]),
    );
  }
  return {
    apiVersion: 'security.istio.io/v1beta1',
    kind: 'PeerAuthentication',
    metadata: { name, namespace, ...(o.ts ? { creationTimestamp: o.ts } : {}) },
    spec,
  };
}
