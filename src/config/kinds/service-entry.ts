// networking.istio.io ServiceEntry (v1alpha3, v1beta1, v1: one schema). Shape and CEL rules from the CRD; the
// webhook rules of Istio's `ValidateServiceEntry` (pkg/config/validation/validation.go) are in
// service-entry-rules.ts. Endpoints are WorkloadEntry specs (workload-entry.ts).

import type { FieldPath } from '../../core/field-path.js';
import type { ObjectMeta } from '../object-meta.js';
import {
  array,
  type Checker,
  type Infer,
  notEnforced,
  object,
  oneOf,
  optional,
  record,
  refine,
  required,
  string,
  uint32,
} from '../schema.js';
import { validateExportTo } from './export-to.js';
import { checkServiceEntryRules } from './service-entry-rules.js';
import { type WorkloadEntrySpec, workloadEntryShape } from './workload-entry.js';
import { checkSelectorLabels } from './workload-selector.js';

export const LOCATIONS = ['MESH_EXTERNAL', 'MESH_INTERNAL'] as const;
export const RESOLUTIONS = ['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export interface ServicePort {
  number: number;
  /** HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, MYSQL, REDIS, TCP, TLS, UDP (any case); empty: sniffed. */
  protocol?: string;
  name: string;
  targetPort?: number;
}

/** networking.v1alpha3.WorkloadSelector (`labels`, unlike the security kinds' `matchLabels`). */
export interface NetworkingWorkloadSelector {
  labels?: Record<string, string>;
}

export interface ServiceEntrySpec {
  hosts: string[];
  addresses?: string[];
  ports?: ServicePort[];
  location?: (typeof LOCATIONS)[number];
  resolution?: Resolution;
  endpoints?: WorkloadEntrySpec[];
  workloadSelector?: NetworkingWorkloadSelector;
  exportTo?: string[];
  subjectAltNames?: string[];
}

const servicePort = object(
  {
    number: required(uint32()),
    protocol: optional(string({ maxLength: 256 })),
    name: required(string({ maxLength: 256 })),
    targetPort: optional(uint32()),
  },
  'a service port ({number, name, protocol, targetPort})',
);

const MAX_SELECTOR_LABELS = 256;

const selector = refine(
  object({ labels: optional(record(string({ maxLength: 63 }))) }, 'a workload selector ({labels: ...})'),
  checkSelector,
);

/** Istio's ValidateAlphaWorkloadSelector and the CRD's limits. */
function checkSelector(value: NetworkingWorkloadSelector, path: FieldPath, c: Checker): boolean {
  return checkSelectorLabels(value.labels, path, c, {
    field: 'labels',
    max: MAX_SELECTOR_LABELS,
    noLabels:
      'service entry: workload selector specified without labels, will be applied to all services in namespace',
  });
}

const shape = object({
  hosts: required(array(string())),
  addresses: optional(array(string({ maxLength: 64 }))),
  ports: optional(array(servicePort)),
  location: optional(oneOf(LOCATIONS)),
  resolution: optional(oneOf(RESOLUTIONS)),
  endpoints: optional(array(workloadEntryShape)),
  // The control plane's model takes the entry's endpoints from the WorkloadEntries it selects.
  workloadSelector: optional(selector),
  exportTo: notEnforced(array(string()), 'exportTo (visibility across namespaces)'),
  // Clients require these SANs of the entry's endpoints (added to the service accounts, as Istio does).
  subjectAltNames: optional(array(string())),
});

// Both shapes must agree; this line fails to compile if they drift apart.
const _sameShape: ServiceEntrySpec = {} as Infer<typeof shape>;
void _sameShape;

export const serviceEntrySpec = refine(shape, checkServiceEntryRules);

/** Rules that need the resource's namespace or labels: exportTo, and DNS auto-allocation opt-out. */
export function checkServiceEntry(
  spec: ServiceEntrySpec,
  metadata: ObjectMeta & { namespace: string },
  c: Checker,
): void {
  for (const message of validateExportTo(metadata.namespace, spec.exportTo ?? [], { serviceEntry: true })) {
    c.error(['spec', 'exportTo'], 'ISTIO_SE_EXPORT_TO', message);
  }
  // Istio warns when TCP (or sniffed) ports have no address to match on and none will be auto-allocated:
  // never with resolution NONE, nor when the ServiceEntry opts out with the label below.
  const optOut = metadata.labels?.['networking.istio.io/enable-autoallocate-ip']?.toLowerCase() === 'false';
  const resolution = spec.resolution ?? 'NONE';
  if ((spec.addresses ?? []).length > 0 || (resolution !== 'NONE' && !optOut)) return;
  (spec.ports ?? []).forEach((port, i) => {
    if (port.protocol === undefined || port.protocol === '' || port.protocol === 'TCP') {
      c.warn(
        ['spec', 'ports', i, 'protocol'],
        'ISTIO_SE_ADDRESSES_FOR_TCP',
        'addresses are required for ports serving TCP (or unset) protocol when ISTIO_META_DNS_AUTO_ALLOCATE is not set on a proxy',
      );
    }
  });
}
