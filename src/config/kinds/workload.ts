// skiff.dev/v1alpha1 Workload: the local-mode stand-in for a pod. Its labels (metadata.labels) select
// policies; `sidecar: false` makes it a workload without a proxy, as the seed's service C and legacy client.

import type { FieldPath } from '../../core/field-path.js';
import { isDns1123Subdomain } from '../names.js';
import {
  array,
  boolean,
  type Checker,
  integer,
  object,
  optional,
  record,
  refine,
  required,
  type Schema,
  string,
} from '../schema.js';
import { ISTIO_PROTOCOLS, type IstioProtocol, parseIstioProtocol } from './protocol.js';

/** Istio's protocol names a workload port may declare (UDP is not carried by the mesh). */
export const PROTOCOLS = ISTIO_PROTOCOLS.filter((p) => p !== 'UDP');
export type Protocol = Exclude<IstioProtocol, 'UDP'>;

export interface WorkloadPort {
  name?: string;
  containerPort: number;
  /** Declared or derived from the name (`http-api` → HTTP); undefined means protocol sniffing. */
  protocol?: Protocol;
}

export interface WorkloadSpec {
  serviceAccount: string;
  command: string[];
  env: Record<string, string>;
  ports: WorkloadPort[];
  sidecar: boolean;
  replicas: number;
}

/** Case-insensitive, as Istio's protocol.Parse. */
const protocol: Schema<Protocol> = {
  expected: `one of ${PROTOCOLS.join(', ')} (any case)`,
  parse(value, path, c) {
    const found = typeof value === 'string' ? parseIstioProtocol(value) : undefined;
    if (found && found !== 'UDP') return found;
    const hint =
      found === 'UDP' || String(value).toUpperCase() === 'SCTP' ? ' (the mesh carries TCP only)' : '';
    c.error(
      path,
      'SKIFF_CONFIG_ENUM',
      `invalid protocol ${JSON.stringify(value)}${hint}: expected ${this.expected}`,
    );
    return undefined;
  },
};

const portName = string({
  pattern: /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
  patternText: 'a port name: lower case alphanumerics and "-" (e.g. http-api)',
});

const port = object({
  name: optional(portName),
  containerPort: required(integer(1, 65535)),
  protocol: optional(protocol),
});

const serviceAccount = refine(string({ nonEmpty: true }), (sa: string, path: FieldPath, c: Checker) => {
  if (isDns1123Subdomain(sa)) return true;
  c.error(
    path,
    'SKIFF_CONFIG_NAME',
    `invalid service account ${JSON.stringify(sa)}: expected a DNS-1123 subdomain`,
  );
  return false;
});

const shape = object({
  serviceAccount: optional(serviceAccount),
  command: required(array(string(), { minItems: 1 })),
  env: optional(record(string())),
  ports: optional(array(port)),
  sidecar: optional(boolean()),
  replicas: optional(integer(0, 1000)),
});

export const workloadSpec: Schema<WorkloadSpec> = {
  expected: 'a Workload spec',
  parse(value, path, c) {
    const s = shape.parse(value, path, c);
    if (s === undefined) return undefined;
    const ports = (s.ports ?? []).map((p) => ({ ...p, protocol: p.protocol ?? protocolFromName(p.name) }));
    if (!checkPorts(ports, [...path, 'ports'], c)) return undefined;
    return {
      serviceAccount: s.serviceAccount ?? 'default',
      command: s.command,
      env: s.env ?? {},
      ports,
      sidecar: s.sidecar ?? true,
      replicas: s.replicas ?? 1,
    };
  },
};

/** Istio's port-name convention: `<protocol>[-<suffix>]` (e.g. `http`, `grpc-api`); otherwise undefined. */
export function protocolFromName(name: string | undefined): Protocol | undefined {
  if (!name) return undefined;
  const prefix = name.toLowerCase().startsWith('grpc-web') ? 'grpc-web' : (name.split('-')[0] ?? '');
  const found = parseIstioProtocol(prefix);
  return found === 'UDP' ? undefined : found;
}

function checkPorts(ports: WorkloadPort[], path: FieldPath, c: Checker): boolean {
  let ok = true;
  const names = new Map<string, number>();
  const numbers = new Map<number, number>();
  ports.forEach((p, i) => {
    if (p.name !== undefined) {
      const seen = names.get(p.name);
      if (seen !== undefined) {
        c.error(
          [...path, i, 'name'],
          'SKIFF_CONFIG_DUPLICATE',
          `duplicate port name ${JSON.stringify(p.name)} (also ports[${seen}])`,
        );
        ok = false;
      } else names.set(p.name, i);
    }
    const seen = numbers.get(p.containerPort);
    if (seen !== undefined) {
      c.error(
        [...path, i, 'containerPort'],
        'SKIFF_CONFIG_DUPLICATE',
        `duplicate containerPort ${p.containerPort} (also ports[${seen}])`,
      );
      ok = false;
    } else numbers.set(p.containerPort, i);
  });
  return ok;
}
