// security.istio.io PeerAuthentication (v1beta1 and v1: one schema). Shape from the CRD, rules from Istio's
// `ValidatePeerAuthentication` (pkg/config/validation/validation.go) and the CRD's CEL rules.

import type { FieldPath } from '../../core/field-path.js';
import { type Checker, type Infer, object, oneOf, optional, record, refine } from '../schema.js';
import type { WorkloadSelector } from './workload-selector.js';
import { workloadSelector } from './workload-selector.js';

export const MTLS_MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;
export type MtlsModeSetting = (typeof MTLS_MODES)[number];

const mutualTls = object({ mode: optional(oneOf(MTLS_MODES)) }, 'mutual TLS settings ({mode: ...})');

export interface PeerAuthenticationSpec {
  selector?: WorkloadSelector;
  mtls?: { mode?: MtlsModeSetting };
  /** Keys are workload (container) port numbers, as strings. */
  portLevelMtls?: Record<string, { mode?: MtlsModeSetting }>;
}

const shape = object({
  selector: optional(workloadSelector),
  mtls: optional(mutualTls),
  portLevelMtls: optional(record(mutualTls)),
});

export const peerAuthenticationSpec = refine(shape, checkPeerAuthenticationSpec);

// Both shapes must agree; this line fails to compile if they drift apart.
const _sameShape: PeerAuthenticationSpec = {} as Infer<typeof shape>;
void _sameShape;

function checkPeerAuthenticationSpec(spec: PeerAuthenticationSpec, path: FieldPath, c: Checker): boolean {
  let ok = true;
  const ports = spec.portLevelMtls;
  const hasLabels = Object.keys(spec.selector?.matchLabels ?? {}).length > 0;
  if (ports !== undefined && Object.keys(ports).length > 0 && !hasLabels) {
    c.error(
      [...path, 'portLevelMtls'],
      'ISTIO_PA_PORTS_WITHOUT_SELECTOR',
      'mesh/namespace peer authentication cannot have port level mTLS: portLevelMtls requires a selector with matchLabels',
    );
    ok = false;
  }
  if (ports !== undefined && Object.keys(ports).length === 0) {
    c.error(
      [...path, 'portLevelMtls'],
      'ISTIO_PA_PORTS_EMPTY',
      'port level mTLS, if defined, must have at least one element',
    );
    ok = false;
  }
  for (const key of Object.keys(ports ?? {})) {
    if (!/^[0-9]+$/.test(key)) {
      c.error(
        [...path, 'portLevelMtls', key],
        'ISTIO_PA_PORT_NOT_NUMBER',
        `port ${JSON.stringify(key)} is not a number: portLevelMtls keys are workload port numbers in 1..65535`,
      );
      ok = false;
    } else if (Number(key) < 1 || Number(key) > 65535) {
      c.error(
        [...path, 'portLevelMtls', key],
        'ISTIO_PA_PORT_RANGE',
        `port must be in range 1..65535, got ${key}`,
      );
      ok = false;
    }
  }
  return ok;
}
