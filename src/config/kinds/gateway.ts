// networking.istio.io Gateway (v1alpha3, v1beta1, v1: one schema). Shape from the CRD, rules from Istio's
// `ValidateGateway`, `validateServer`, `validateServerPort` and `validateServerBind`
// (pkg/config/validation/validation.go); the TLS settings are in gateway-tls.ts.

import type { FieldPath } from '../../core/field-path.js';
import type { ObjectMeta } from '../object-meta.js';
import {
  array,
  type Checker,
  type Infer,
  notEnforced,
  object,
  optional,
  record,
  refine,
  required,
  string,
  uint32,
} from '../schema.js';
import { type ServerTlsSettings, serverTlsSettings, validateTlsOptions } from './gateway-tls.js';
import {
  isIstioDns1123Label,
  validateIpAddress,
  validateNamespaceSlashWildcardHostname,
  validatePort,
} from './istio-common.js';
import { isHttpProtocol, isTlsProtocol, parseIstioProtocol } from './protocol.js';

export type { ServerTlsMode, ServerTlsSettings, TlsProtocolVersion } from './gateway-tls.js';

export {
  ISTIO_PROTOCOLS,
  type IstioProtocol,
  isHttpProtocol,
  isTlsProtocol,
  parseIstioProtocol,
} from './protocol.js';

export interface GatewayPort {
  number: number;
  protocol: string;
  name: string;
  /** Deprecated; Istio refuses a non-zero value on Gateways. */
  targetPort?: number;
}

export interface GatewayServer {
  port: GatewayPort;
  bind?: string;
  hosts: string[];
  tls?: ServerTlsSettings;
  defaultEndpoint?: string;
  name?: string;
}

export interface GatewaySpec {
  selector?: Record<string, string>;
  servers?: GatewayServer[];
}

const port = object(
  {
    number: required(uint32()),
    protocol: required(string()),
    name: required(string()),
    targetPort: optional(uint32()),
  },
  'a port ({number, protocol, name})',
);

const server = object(
  {
    port: required(port),
    bind: notEnforced(string(), 'Skiff gateways listen on all addresses'),
    hosts: required(array(string())),
    tls: optional(serverTlsSettings),
    defaultEndpoint: notEnforced(string(), 'Skiff does not forward to a default endpoint'),
    name: notEnforced(string(), 'server names only prefix statistics in Istio'),
  },
  'a server ({port, hosts, tls, ...})',
);

const shape = object({
  selector: optional(record(string())),
  servers: optional(array(server)),
});

export const gatewaySpec = refine(shape, checkGatewaySpec);

// Both shapes must agree; this line fails to compile if they drift apart.
const _sameShape: GatewaySpec = {} as Infer<typeof shape>;
void _sameShape;

const UNIX_PREFIX = 'unix://';
const PROTOCOL_HELP =
  'supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP (and HTTPS, TLS, HTTP_PROXY, UDP; any case)';

/** ValidateGateway's spec rules. Returns false when it reported an error. */
function checkGatewaySpec(spec: GatewaySpec, path: FieldPath, c: Checker): boolean {
  const errorsBefore = countErrors(c);
  const servers = spec.servers ?? [];
  if (servers.length === 0) {
    c.error(
      [...path, 'servers'],
      'ISTIO_GW_NO_SERVERS',
      'gateway must have at least one server: add servers with a port and hosts',
    );
  }
  servers.forEach((s, i) => {
    validateServer(s, [...path, 'servers', i], c);
  });

  const portNames = new Set<string>();
  servers.forEach((s, i) => {
    const at = [...path, 'servers', i];
    if (portNames.has(s.port.name)) {
      c.error(
        [...at, 'port', 'name'],
        'ISTIO_GW_PORT_NAME_DUPLICATE',
        `port names in servers must be unique: duplicate name ${s.port.name}`,
      );
    }
    portNames.add(s.port.name);
    if (!isHttpProtocol(parseIstioProtocol(s.port.protocol)) && s.tls?.httpsRedirect === true) {
      c.warn(
        [...at, 'tls', 'httpsRedirect'],
        'ISTIO_GW_HTTPS_REDIRECT_NOT_HTTP',
        `tls.httpsRedirect should only be used with http servers, got protocol ${JSON.stringify(s.port.protocol)}`,
      );
    }
  });
  return countErrors(c) === errorsBefore;
}

function validateServer(s: GatewayServer, path: FieldPath, c: Checker): void {
  if (s.hosts.length === 0) {
    c.error(
      [...path, 'hosts'],
      'ISTIO_GW_SERVER_NO_HOSTS',
      'server config must contain at least one host: e.g. "*", "example.com" or "ns/*.example.com"',
    );
  }
  s.hosts.forEach((host, j) => {
    for (const problem of validateNamespaceSlashWildcardHostname(host, true)) {
      c.error([...path, 'hosts', j], 'ISTIO_GW_HOST', `${problem}: got ${JSON.stringify(host)}`);
    }
  });
  const portOk = validateServerPort(s.port, s.bind ?? '', [...path, 'port'], c);
  validateServerBind(s.port, s.bind ?? '', path, c);
  if (s.tls !== undefined) validateTlsOptions(s.tls, [...path, 'tls'], c);

  if (!portOk) return;
  const protocol = parseIstioProtocol(s.port.protocol);
  if (isTlsProtocol(protocol) && s.tls === undefined) {
    c.error(
      [...path, 'tls'],
      'ISTIO_GW_TLS_REQUIRED',
      `server must have TLS settings for HTTPS/TLS protocols: protocol ${s.port.protocol} needs tls (e.g. {mode: SIMPLE, credentialName: ...})`,
    );
  } else if (!isTlsProtocol(protocol) && s.tls !== undefined) {
    if (isHttpProtocol(protocol)) {
      const mode = s.tls.mode ?? 'PASSTHROUGH';
      const passthrough = mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH';
      const files = [s.tls.caCertificates, s.tls.privateKey, s.tls.serverCertificate].some(
        (v) => v !== undefined && v !== '',
      );
      if (!passthrough || files) {
        c.error(
          [...path, 'tls'],
          'ISTIO_GW_TLS_ON_HTTP',
          `server cannot have TLS settings for plain text HTTP ports: protocol ${s.port.protocol} only takes tls.httpsRedirect; use HTTPS to terminate TLS`,
        );
      }
    } else {
      c.error(
        [...path, 'tls'],
        'ISTIO_GW_TLS_ON_NON_TLS',
        `server cannot have TLS settings for non HTTPS/TLS ports: protocol ${s.port.protocol} takes no tls; use HTTPS or TLS`,
      );
    }
  }
}

/** The way Go prints a networking.Port in Istio's messages: `number:80 protocol:"HTTP"`. */
function showPort(p: GatewayPort): string {
  const parts: string[] = [];
  if (p.number !== 0) parts.push(`number:${p.number}`);
  if (p.protocol !== '') parts.push(`protocol:${JSON.stringify(p.protocol)}`);
  if (p.name !== '') parts.push(`name:${JSON.stringify(p.name)}`);
  if (p.targetPort) parts.push(`target_port:${p.targetPort}`);
  return parts.join(' ');
}

/** validateServerPort. Returns false when it reported an error (Istio then skips the TLS/protocol checks). */
function validateServerPort(p: GatewayPort, bind: string, path: FieldPath, c: Checker): boolean {
  const before = countErrors(c);
  if (parseIstioProtocol(p.protocol) === undefined) {
    c.error(
      [...path, 'protocol'],
      'ISTIO_GW_PORT_PROTOCOL',
      `invalid protocol ${JSON.stringify(p.protocol)}, ${PROTOCOL_HELP}`,
    );
  }
  if (p.number > 0 || !bind.startsWith(UNIX_PREFIX)) {
    const problem = validatePort(p.number);
    if (problem)
      c.error([...path, 'number'], 'ISTIO_GW_PORT_NUMBER', `${problem} (0 only with a unix:// bind)`);
  }
  if ((p.targetPort ?? 0) > 0) {
    c.error(
      [...path, 'targetPort'],
      'ISTIO_GW_TARGET_PORT',
      'targetPort has no impact on Gateways: remove it (the gateway listens on port.number)',
    );
  }
  if (p.name === '') {
    c.error([...path, 'name'], 'ISTIO_GW_PORT_NAME', `port name must be set: ${showPort(p)}`);
  }
  return countErrors(c) === before;
}

/** validateServerBind (and ValidateUnixAddress). */
function validateServerBind(p: GatewayPort, bind: string, path: FieldPath, c: Checker): void {
  const at = [...path, 'bind'];
  if (bind.startsWith(UNIX_PREFIX)) {
    const address = bind.slice(UNIX_PREFIX.length);
    if (address === '') {
      c.error(
        at,
        'ISTIO_GW_BIND_UNIX',
        'unix address must not be empty: expected unix:///path or unix://@name',
      );
    } else if (!address.startsWith('@') && (!address.startsWith('/') || address.endsWith('/'))) {
      c.error(at, 'ISTIO_GW_BIND_UNIX', `${address} is not an absolute path to a file`);
    }
    if (p.number !== 0) {
      c.error(
        [...path, 'port', 'number'],
        'ISTIO_GW_BIND_UNIX_PORT',
        `port number must be 0 for unix domain socket: ${showPort(p)}`,
      );
    }
  } else if (bind !== '') {
    const problem = validateIpAddress(bind);
    if (problem) {
      c.error(at, 'ISTIO_GW_BIND_IP', `${problem}: bind takes an IP address or unix:///path`);
    }
  }
}

function countErrors(c: Checker): number {
  return c.issues.filter((i) => i.severity === 'error').length;
}

/** ValidateGateway's rule on the name: a DNS-1123 label (no dots). */
export function checkGateway(
  _spec: GatewaySpec,
  metadata: ObjectMeta & { namespace: string },
  c: Checker,
): void {
  const semantics = metadata.annotations?.['internal.istio.io/gateway-semantics'] === 'gateway';
  if (!isIstioDns1123Label(metadata.name) && !semantics) {
    c.error(
      ['metadata', 'name'],
      'ISTIO_GW_NAME',
      `invalid gateway name: ${JSON.stringify(metadata.name)}: a Gateway name must be a DNS-1123 label (no dots, at most 63 characters)`,
    );
  }
}
