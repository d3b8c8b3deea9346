// networking.istio.io WorkloadEntry (v1alpha3, v1beta1, v1: one schema), also the shape of a ServiceEntry's
// `endpoints`. Shape and CEL rules from the CRD, the rest from Istio's `validateWorkloadEntry`
// (pkg/config/validation/validation.go).

import type { FieldPath } from '../../core/field-path.js';
import type { ObjectMeta } from '../object-meta.js';
import {
  type Checker,
  type Infer,
  notEnforced,
  object,
  optional,
  record,
  refine,
  string,
  uint32,
} from '../schema.js';
import {
  isIpAddress,
  isIstioDns1123Label,
  istioLabelProblems,
  validateFqdn,
  validatePort,
} from './istio-common.js';

export interface WorkloadEntrySpec {
  /** An IP address, a host name (DNS resolution only) or `unix:///path` / `unix://@abstract`. */
  address?: string;
  /** Service port name → this endpoint's port. */
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  network?: string;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
}

/** The prefix of a Unix domain socket address (Istio's UnixAddressPrefix). */
export const UNIX_PREFIX = 'unix://';

const MAX_PORTS = 128;
/** The CRD: `size(key) < 63`. */
const MAX_PORT_NAME = 63;
const MAX_LABELS = 256;

const shape = object(
  {
    address: optional(string({ maxLength: 256 })),
    ports: optional(record(uint32())),
    labels: optional(record(string())),
    network: notEnforced(string({ maxLength: 2048 }), 'multi-network endpoints'),
    locality: notEnforced(string({ maxLength: 2048 }), 'locality-aware load balancing'),
    weight: notEnforced(uint32(), 'endpoint load-balancing weights'),
    serviceAccount: optional(string({ maxLength: 253 })),
  },
  'a workload entry',
);

// Both shapes must agree; this line fails to compile if they drift apart.
const _sameShape: WorkloadEntrySpec = {} as Infer<typeof shape>;
void _sameShape;

/**
 * A workload entry with the rules its CRD enforces wherever it appears (as a WorkloadEntry or as a ServiceEntry
 * endpoint): an address or a network, Unix socket paths, port names and numbers, label syntax and counts.
 */
export const workloadEntryShape = refine(shape, checkEntryShape);

export const workloadEntrySpec = refine(workloadEntryShape, checkStandalone);

/** WorkloadEntry has no rule that needs its metadata (the dry-run annotation is checked by the loader). */
export function checkWorkloadEntry(
  _spec: WorkloadEntrySpec,
  _metadata: ObjectMeta & { namespace: string },
  _c: Checker,
): void {}

/** Istio's ValidateUnixAddress on the part after `unix://`. */
export function unixAddressProblem(path: string): string | undefined {
  if (path === '') return 'unix address must not be empty';
  if (path.startsWith('@')) return undefined;
  if (!path.startsWith('/') || path.endsWith('/')) return `${path} is not an absolute path to a file`;
  return undefined;
}

function checkEntryShape(we: WorkloadEntrySpec, path: FieldPath, c: Checker): boolean {
  let ok = true;
  const fail = (at: FieldPath, code: string, message: string) => {
    c.error(at, code, message);
    ok = false;
  };
  const address = we.address ?? '';
  if (address === '' && (we.network ?? '') === '') {
    fail([...path, 'address'], 'ISTIO_WE_ADDRESS_REQUIRED', 'address is required (or set network)');
  }
  const ports = Object.entries(we.ports ?? {});
  if (address.startsWith(UNIX_PREFIX)) {
    const problem = unixAddressProblem(address.slice(UNIX_PREFIX.length));
    if (problem)
      fail([...path, 'address'], 'ISTIO_WE_UNIX_ADDRESS', `${problem} (in ${JSON.stringify(address)})`);
    // The CRD refuses any `ports` here, even an empty map (`!has(self.ports)`); the webhook only a non-empty one.
    if (we.ports !== undefined) {
      fail([...path, 'ports'], 'ISTIO_WE_UNIX_PORTS', `unix endpoint ${address} must not include ports`);
    }
  }
  if (ports.length > MAX_PORTS) {
    fail(
      [...path, 'ports'],
      'ISTIO_WE_TOO_MANY_PORTS',
      `${ports.length} ports: at most ${MAX_PORTS} are allowed`,
    );
  }
  for (const [name, port] of ports) {
    if (name.length >= MAX_PORT_NAME) {
      // The CRD's rule is `size(key) < 63`: one character shorter than a DNS-1123 label may be.
      fail(
        [...path, 'ports', name],
        'ISTIO_WE_PORT_NAME',
        `port name must be valid: ${name} has ${name.length} characters, at most ${MAX_PORT_NAME - 1} are allowed`,
      );
    } else if (!isIstioDns1123Label(name)) {
      fail(
        [...path, 'ports', name],
        'ISTIO_WE_PORT_NAME',
        `invalid port name: ${name} (expected a DNS-1123 label: letters, digits and "-", at most 63 characters)`,
      );
    }
    const problem = validatePort(port);
    if (problem) fail([...path, 'ports', name], 'ISTIO_WE_PORT_RANGE', problem);
  }
  const labels = we.labels ?? {};
  if (Object.keys(labels).length > MAX_LABELS) {
    fail(
      [...path, 'labels'],
      'ISTIO_WE_TOO_MANY_LABELS',
      `${Object.keys(labels).length} labels: at most ${MAX_LABELS} are allowed`,
    );
  }
  for (const { key, message } of istioLabelProblems(labels)) {
    fail([...path, 'labels', key], 'ISTIO_WE_LABEL', message);
  }
  return ok;
}

/**
 * A WorkloadEntry on its own (Istio's validateWorkloadEntry with FQDN addresses allowed): the address is an IP,
 * a Unix socket or a fully qualified host name.
 */
function checkStandalone(we: WorkloadEntrySpec, path: FieldPath, c: Checker): boolean {
  warnAddressUnset(we, path, c);
  return checkAddressIpOrFqdn(we.address ?? '', [...path, 'address'], c, true);
}

/** Istio warns when an entry relies on `network` alone. */
export function warnAddressUnset(we: WorkloadEntrySpec, path: FieldPath, c: Checker): void {
  if ((we.address ?? '') === '' && (we.network ?? '') !== '') {
    c.warn(
      [...path, 'address'],
      'ISTIO_WE_ADDRESS_UNSET',
      `address is unset with network ${JSON.stringify(we.network)}`,
    );
  }
}

/**
 * An address that is not a Unix socket must be an IP address or, where `allowFqdn`, a fully qualified host
 * name. An empty address is left to the "address is required" rule unless `emptyIsError`.
 */
export function checkAddressIpOrFqdn(
  address: string,
  at: FieldPath,
  c: Checker,
  allowFqdn: boolean,
  emptyIsError = false,
): boolean {
  if (address.startsWith(UNIX_PREFIX)) return true;
  if (address === '' && !emptyIsError) return true;
  if (isIpAddress(address)) return true;
  if (!allowFqdn) {
    c.error(
      at,
      'ISTIO_SE_ENDPOINT_NOT_IP',
      `endpoint address ${JSON.stringify(address)} is not a valid IP address`,
    );
    return false;
  }
  const problem = validateFqdn(address);
  if (problem === undefined) return true;
  c.error(
    at,
    'ISTIO_WE_ADDRESS_INVALID',
    `endpoint address ${JSON.stringify(address)} is not a valid FQDN or an IP address: ${problem}`,
  );
  return false;
}
