// The rules of Istio's `ValidateServiceEntry` (pkg/config/validation/validation.go) and the ServiceEntry CRD's
// CEL rules, on a parsed spec: hosts, addresses, ports, resolution against endpoints and workloadSelector.
// Also Istio's protocol names (pkg/config/protocol), which other kinds may share.

import type { FieldPath } from '../../core/field-path.js';
import type { Checker } from '../schema.js';
import {
  isIstioDns1123Label,
  validateFqdn,
  validateIpSubnet,
  validatePartialWildcard,
  validatePort,
  validateWildcardDomain,
} from './istio-common.js';
import { isHttpProtocol, isTcpProtocol, isTlsProtocol, parseIstioProtocol } from './protocol.js';
import type { ServiceEntrySpec } from './service-entry.js';
import {
  checkAddressIpOrFqdn,
  UNIX_PREFIX,
  type WorkloadEntrySpec,
  warnAddressUnset,
} from './workload-entry.js';

/** Istio's protocol.Instance names, as protocol.Parse reads them (case-insensitive). */
const MAX_LIST = { hosts: 256, addresses: 256, ports: 256, endpoints: 4096 } as const;

export function checkServiceEntryRules(se: ServiceEntrySpec, path: FieldPath, c: Checker): boolean {
  const before = c.issues.filter((i) => i.severity === 'error').length;
  const at = (...rest: (string | number)[]): FieldPath => [...path, ...rest];
  const resolution = se.resolution ?? 'NONE';
  const endpoints = se.endpoints ?? [];

  for (const [field, max] of Object.entries(MAX_LIST)) {
    const list = se[field as keyof typeof MAX_LIST] ?? [];
    if (list.length > max)
      c.error(at(field), 'ISTIO_SE_TOO_MANY', `${list.length} ${field}: at most ${max} are allowed`);
  }

  if (se.workloadSelector !== undefined && endpoints.length > 0) {
    c.error(
      at('endpoints'),
      'ISTIO_SE_SELECTOR_AND_ENDPOINTS',
      'only one of WorkloadSelector or Endpoints is allowed in Service Entry',
    );
  }

  checkHosts(se, at, c);
  checkAddresses(se, resolution, at, c);
  const portNames = checkPorts(se, resolution, at, c);

  switch (resolution) {
    case 'NONE':
      if (endpoints.length > 0)
        c.error(
          at('endpoints'),
          'ISTIO_SE_NONE_ENDPOINTS',
          'no endpoints should be provided for resolution type none',
        );
      if (se.workloadSelector !== undefined) warnSelector(resolution, at, c);
      break;
    case 'STATIC':
      endpoints.forEach((e, i) => {
        checkStaticEndpoint(e, i, portNames, at, c);
      });
      break;
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
      checkDns(se, resolution, portNames, at, c);
      break;
    case 'DYNAMIC_DNS':
      c.warn(
        at('resolution'),
        'SKIFF_CONFIG_NOT_ENFORCED',
        'accepted, not enforced by Skiff yet: DYNAMIC_DNS resolution (resolving wildcard hosts from the request)',
      );
      break;
  }

  // Plain TCP cannot tell hosts apart, so several hosts need HTTP or TLS ports unless resolution is NONE.
  if (resolution !== 'NONE' && se.hosts.length > 1) {
    const i = (se.ports ?? []).findIndex((p) => {
      const proto = parseIstioProtocol(p.protocol ?? '');
      return !isHttpProtocol(proto) && !isTlsProtocol(proto);
    });
    if (i >= 0) {
      c.error(
        at('ports', i, 'protocol'),
        'ISTIO_SE_MULTI_HOST_PROTOCOL',
        `multiple hosts provided with non-HTTP, non-TLS ports (resolution ${resolution}): use HTTP or TLS protocols, one host, or resolution NONE`,
      );
    }
  }
  return c.issues.filter((i) => i.severity === 'error').length === before;
}

function checkHosts(se: ServiceEntrySpec, at: (...r: (string | number)[]) => FieldPath, c: Checker): void {
  if (se.hosts.length === 0)
    c.error(at('hosts'), 'ISTIO_SE_HOSTS_EMPTY', 'service entry must have at least one host');
  se.hosts.forEach((host, i) => {
    if (host === '*') {
      c.error(
        at('hosts', i),
        'ISTIO_SE_HOST_WILDCARD',
        'invalid host *: a ServiceEntry cannot match every host (use a wildcard domain such as "*.example.com")',
      );
      return;
    }
    const problem = validateWildcardDomain(host);
    if (problem) {
      const context = problem.includes(JSON.stringify(host)) ? '' : ` in host ${JSON.stringify(host)}`;
      c.error(at('hosts', i), 'ISTIO_SE_HOST_INVALID', `${problem}${context}`);
    }
    const partial = validatePartialWildcard(host);
    if (partial) c.warn(at('hosts', i), 'ISTIO_SE_HOST_PARTIAL_WILDCARD', partial);
  });
}

function checkAddresses(
  se: ServiceEntrySpec,
  resolution: string,
  at: (...r: (string | number)[]) => FieldPath,
  c: Checker,
): void {
  const addresses = se.addresses ?? [];
  addresses.forEach((address, i) => {
    const problem = validateIpSubnet(address);
    if (problem) c.error(at('addresses', i), 'ISTIO_SE_ADDRESS_INVALID', problem);
  });
  const cidr = addresses.findIndex((a) => a.includes('/'));
  if (cidr >= 0 && resolution !== 'NONE' && resolution !== 'STATIC') {
    c.error(
      at('addresses', cidr),
      'ISTIO_SE_CIDR_RESOLUTION',
      `CIDR addresses are allowed only for NONE/STATIC resolution types, got ${resolution}`,
    );
  }
}

/** Service port rules; returns the declared port names. */
function checkPorts(
  se: ServiceEntrySpec,
  resolution: string,
  at: (...r: (string | number)[]) => FieldPath,
  c: Checker,
): Set<string> {
  const names = new Set<string>();
  const numbers = new Set<number>();
  (se.ports ?? []).forEach((port, i) => {
    if (names.has(port.name))
      c.error(
        at('ports', i, 'name'),
        'ISTIO_SE_PORT_NAME_DUPLICATE',
        `service entry port name ${JSON.stringify(port.name)} already defined`,
      );
    names.add(port.name);
    if (numbers.has(port.number))
      c.error(
        at('ports', i, 'number'),
        'ISTIO_SE_PORT_NUMBER_DUPLICATE',
        `service entry port ${port.number} already defined`,
      );
    numbers.add(port.number);
    if (!isIstioDns1123Label(port.name)) {
      c.error(
        at('ports', i, 'name'),
        'ISTIO_SE_PORT_NAME_INVALID',
        `invalid port name: ${port.name} (expected a DNS-1123 label: letters, digits and "-", at most 63 characters)`,
      );
    }
    const protocol = port.protocol ?? '';
    if (protocol !== '' && parseIstioProtocol(protocol) === undefined) {
      c.error(
        at('ports', i, 'protocol'),
        'ISTIO_SE_PROTOCOL_UNSUPPORTED',
        `unsupported protocol: ${protocol} (expected one of HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, UDP, MONGO, MYSQL, REDIS)`,
      );
    }
    const numberProblem = validatePort(port.number);
    if (numberProblem) c.error(at('ports', i, 'number'), 'ISTIO_SE_PORT_RANGE', numberProblem);
    if (port.targetPort !== undefined) {
      const targetProblem = validatePort(port.targetPort);
      if (targetProblem) c.error(at('ports', i, 'targetPort'), 'ISTIO_SE_TARGET_PORT_RANGE', targetProblem);
      else if (resolution === 'NONE')
        c.warn(
          at('ports', i, 'targetPort'),
          'ISTIO_SE_TARGET_PORT_IGNORED',
          'targetPort has no effect when resolution mode is NONE',
        );
    }
  });
  return names;
}

function warnSelector(resolution: string, at: (...r: (string | number)[]) => FieldPath, c: Checker): void {
  c.warn(
    at('workloadSelector'),
    'ISTIO_SE_SELECTOR_IGNORED',
    `workloadSelector should not be set when resolution mode is ${resolution}`,
  );
}

/** Endpoint ports must name a port of the ServiceEntry. */
function checkEndpointPorts(
  e: WorkloadEntrySpec,
  i: number,
  portNames: Set<string>,
  at: (...r: (string | number)[]) => FieldPath,
  c: Checker,
): void {
  for (const [name, port] of Object.entries(e.ports ?? {})) {
    if (!portNames.has(name)) {
      c.error(
        at('endpoints', i, 'ports', name),
        'ISTIO_SE_ENDPOINT_PORT_UNDEFINED',
        `endpoint port ${port} is not defined by the service entry: no port named ${JSON.stringify(name)} in spec.ports`,
      );
    }
  }
}

function checkStaticEndpoint(
  e: WorkloadEntrySpec,
  i: number,
  portNames: Set<string>,
  at: (...r: (string | number)[]) => FieldPath,
  c: Checker,
): void {
  const address = e.address ?? '';
  warnAddressUnset(e, at('endpoints', i), c);
  checkAddressIpOrFqdn(address, at('endpoints', i, 'address'), c, false);
  checkEndpointPorts(e, i, portNames, at, c);
  if (address.startsWith(UNIX_PREFIX) && portNames.size !== 1) {
    c.error(
      at('endpoints', i, 'address'),
      'ISTIO_SE_UNIX_PORTS',
      `exactly 1 service port required for unix endpoints, got ${portNames.size}`,
    );
  }
}

function checkDns(
  se: ServiceEntrySpec,
  resolution: string,
  portNames: Set<string>,
  at: (...r: (string | number)[]) => FieldPath,
  c: Checker,
): void {
  const endpoints = se.endpoints ?? [];
  if (endpoints.length === 0) {
    se.hosts.forEach((host, i) => {
      if (validateFqdn(host) !== undefined) {
        c.error(
          at('hosts', i),
          'ISTIO_SE_DNS_HOST_NOT_FQDN',
          `hosts must be FQDN if no endpoints are provided for resolution mode ${resolution}, got ${JSON.stringify(host)}`,
        );
      }
    });
  }
  if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) {
    c.error(
      at('endpoints'),
      'ISTIO_SE_DNS_RR_ENDPOINTS',
      `there must only be 0 or 1 endpoint for resolution mode ${resolution}, got ${endpoints.length}`,
    );
  }
  endpoints.forEach((e, i) => {
    const address = e.address ?? '';
    if (address.startsWith(UNIX_PREFIX)) {
      c.error(
        at('endpoints', i, 'address'),
        'ISTIO_WE_ADDRESS_INVALID',
        `endpoint address ${JSON.stringify(address)} is not a valid FQDN or an IP address: Unix sockets need resolution STATIC`,
      );
    } else {
      checkAddressIpOrFqdn(address, at('endpoints', i, 'address'), c, true, true);
    }
    checkEndpointPorts(e, i, portNames, at, c);
  });
  if (se.workloadSelector !== undefined) warnSelector(resolution, at, c);
  if ((se.addresses ?? []).length > 0 && se.hosts.length > 1) {
    const tcp = (se.ports ?? []).findIndex((p) => isTcpProtocol(parseIstioProtocol(p.protocol ?? '')));
    if (tcp >= 0) {
      c.warn(
        at('hosts'),
        'ISTIO_SE_MULTI_HOST_TCP_ADDRESS',
        'service entry can not have more than one host specified simultaneously with address and tcp port',
      );
    }
  }
}
