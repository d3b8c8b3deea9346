// Kubernetes core/v1 Service: the ports, selector and cluster IP the mesh routes by. Shape from the core/v1
// API; rules from Kubernetes' ValidateService (ports, names, target ports, ExternalName, cluster IPs).

import type { FieldPath } from '../../core/field-path.js';
import { isDns1123Label, isDns1123Subdomain, labelKeyProblem } from '../names.js';
import type { ObjectMeta } from '../object-meta.js';
import {
  array,
  boolean,
  type Checker,
  integer,
  json,
  object,
  oneOf,
  optional,
  record,
  required,
  type Schema,
  string,
} from '../schema.js';
import { isIpAddress } from './istio-common.js';

export interface ServicePort {
  name?: string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
  port: number;
  /** A container port number, or the name of a container port. */
  targetPort?: number | string;
  nodePort?: number;
}

export interface ServiceSpec {
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  selector?: Record<string, string>;
  ports?: ServicePort[];
  /** `None` makes the service headless. */
  clusterIP?: string;
  clusterIPs?: string[];
  externalName?: string;
  [other: string]: unknown;
}

/** A port number, or an IANA service name (what a container port may be called). */
const targetPort: Schema<number | string> = {
  expected: 'a port number (1-65535) or a port name',
  parse(value, path, c) {
    if (typeof value === 'number') return integer(1, 65535).parse(value, path, c);
    if (typeof value === 'string' && /^[0-9]+$/.test(value))
      return integer(1, 65535).parse(Number(value), path, c);
    if (typeof value === 'string' && isIanaServiceName(value)) return value;
    c.error(
      path,
      'K8S_SERVICE_TARGET_PORT',
      `invalid targetPort ${JSON.stringify(value)}: expected a port number (1-65535) or a port name (at most 15 lower case letters, digits and "-", with a letter)`,
    );
    return undefined;
  },
};

const port = object({
  name: optional(string()),
  protocol: optional(oneOf(['TCP', 'UDP', 'SCTP'] as const)),
  appProtocol: optional(string()),
  port: required(integer(1, 65535)),
  targetPort: optional(targetPort),
  nodePort: optional(integer(0, 65535)),
});

export const serviceSpec: Schema<ServiceSpec> = object({
  type: optional(oneOf(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const)),
  selector: optional(record(string())),
  ports: optional(array(port)),
  clusterIP: optional(string()),
  clusterIPs: optional(array(string())),
  externalName: optional(string()),
  externalIPs: optional(array(string())),
  externalTrafficPolicy: optional(oneOf(['Cluster', 'Local'] as const)),
  internalTrafficPolicy: optional(oneOf(['Cluster', 'Local'] as const)),
  sessionAffinity: optional(oneOf(['None', 'ClientIP'] as const)),
  sessionAffinityConfig: optional(json()),
  loadBalancerIP: optional(string()),
  loadBalancerSourceRanges: optional(array(string())),
  loadBalancerClass: optional(string()),
  allocateLoadBalancerNodePorts: optional(boolean()),
  healthCheckNodePort: optional(integer(0, 65535)),
  publishNotReadyAddresses: optional(boolean()),
  ipFamilies: optional(array(oneOf(['IPv4', 'IPv6'] as const))),
  ipFamilyPolicy: optional(oneOf(['SingleStack', 'PreferDualStack', 'RequireDualStack'] as const)),
  trafficDistribution: optional(string()),
}) as Schema<ServiceSpec>;

/** Fields whose non-default values change behaviour the mesh does not reproduce: accepted with a warning. */
const NOT_ENFORCED: Record<string, (v: unknown) => boolean> = {
  type: (v) => v !== 'ClusterIP',
  externalIPs: (v) => Array.isArray(v) && v.length > 0,
  externalTrafficPolicy: (v) => v !== 'Cluster',
  internalTrafficPolicy: (v) => v !== 'Cluster',
  sessionAffinity: (v) => v !== 'None',
  loadBalancerSourceRanges: (v) => Array.isArray(v) && v.length > 0,
  publishNotReadyAddresses: (v) => v === true,
};

export function checkService(
  spec: ServiceSpec,
  _metadata: ObjectMeta & { namespace: string },
  c: Checker,
): void {
  const at = (...p: FieldPath) => ['spec', ...p];
  const ports = spec.ports ?? [];
  const headless = spec.clusterIP === 'None';
  if (spec.type === 'ExternalName') {
    if (!spec.externalName)
      c.error(at('externalName'), 'K8S_SERVICE_EXTERNAL_NAME', 'required for type ExternalName: a DNS name');
    else if (!isDns1123Subdomain(spec.externalName.replace(/\.$/, ''))) {
      c.error(
        at('externalName'),
        'K8S_SERVICE_EXTERNAL_NAME',
        `invalid externalName ${JSON.stringify(spec.externalName)}: expected a DNS-1123 subdomain`,
      );
    }
  } else if (ports.length === 0 && !headless) {
    c.error(
      at('ports'),
      'K8S_SERVICE_PORTS_REQUIRED',
      'required value: a Service needs at least one port (unless it is headless or ExternalName)',
    );
  }
  const names = new Map<string, number>();
  const numbers = new Map<string, number>();
  ports.forEach((p, i) => {
    if (p.name === undefined || p.name === '') {
      if (ports.length > 1)
        c.error(
          at('ports', i, 'name'),
          'K8S_SERVICE_PORT_NAME',
          'required value: every port needs a name when a Service has several',
        );
    } else if (!isDns1123Label(p.name)) {
      c.error(
        at('ports', i, 'name'),
        'K8S_SERVICE_PORT_NAME',
        `invalid port name ${JSON.stringify(p.name)}: expected a DNS-1123 label`,
      );
    } else if (names.has(p.name)) {
      c.error(
        at('ports', i, 'name'),
        'K8S_SERVICE_PORT_DUPLICATE',
        `duplicate port name ${JSON.stringify(p.name)} (also ports[${names.get(p.name)}])`,
      );
    } else names.set(p.name, i);
    const key = `${p.port}/${p.protocol ?? 'TCP'}`;
    if (numbers.has(key)) {
      c.error(
        at('ports', i),
        'K8S_SERVICE_PORT_DUPLICATE',
        `duplicate port ${key} (also ports[${numbers.get(key)}])`,
      );
    } else numbers.set(key, i);
    if (p.appProtocol !== undefined && labelKeyProblem(p.appProtocol)) {
      c.error(
        at('ports', i, 'appProtocol'),
        'K8S_SERVICE_APP_PROTOCOL',
        `invalid appProtocol ${JSON.stringify(p.appProtocol)}: expected a qualified name such as http, grpc or kubernetes.io/h2c`,
      );
    }
    if (p.protocol !== undefined && p.protocol !== 'TCP') {
      c.warn(
        at('ports', i, 'protocol'),
        'SKIFF_CONFIG_NOT_ENFORCED',
        `accepted, not enforced: the mesh carries TCP only, ${p.protocol} is not proxied`,
      );
    }
  });
  for (const ip of [spec.clusterIP, ...(spec.clusterIPs ?? [])]) {
    if (ip !== undefined && ip !== '' && ip !== 'None' && !isIpAddress(ip)) {
      c.error(
        at('clusterIP'),
        'K8S_SERVICE_CLUSTER_IP',
        `invalid clusterIP ${JSON.stringify(ip)}: expected an IP address, "None" (headless) or empty`,
      );
    }
  }
  for (const key of Object.keys(spec.selector ?? {})) {
    const problem = labelKeyProblem(key);
    if (problem)
      c.error(
        at('selector', key),
        'K8S_SERVICE_SELECTOR',
        `invalid selector key ${JSON.stringify(key)}: ${problem}`,
      );
  }
  for (const [field, changesBehaviour] of Object.entries(NOT_ENFORCED)) {
    const value = spec[field];
    if (value !== undefined && changesBehaviour(value)) {
      c.warn(
        at(field),
        'SKIFF_CONFIG_NOT_ENFORCED',
        `accepted, not enforced by Skiff: ${field} ${JSON.stringify(value)}`,
      );
    }
  }
}

/** Kubernetes' IsValidPortName: 1-15 characters, lower case letters, digits and "-", at least one letter. */
function isIanaServiceName(name: string): boolean {
  return (
    name.length >= 1 &&
    name.length <= 15 &&
    /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name) &&
    /[a-z]/.test(name) &&
    !name.includes('--')
  );
}
