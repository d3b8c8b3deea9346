// DestinationRule TrafficPolicy (top level and per subset) and its port-level settings, with Istio's
// `validateTrafficPolicy`, `validatePortTrafficPolicies`, `validateConnectionPool`, `validateOutlierDetection`,
// `validateTunnelSettings` (pkg/config/validation/validation.go). Skiff enforces `tls` and `loadBalancer.simple`.

import type { FieldPath } from '../../core/field-path.js';
import {
  array,
  boolean,
  type Checker,
  type Infer,
  integer,
  notEnforced,
  number,
  object,
  oneOf,
  optional,
  refine,
  required,
  type Schema,
  string,
  uint32,
} from '../schema.js';
import { checkLocalityLbSetting, type LoadBalancerSettings, loadBalancer } from './destination-rule-lb.js';
import { type ClientTlsSettings, clientTls } from './destination-rule-tls.js';
import {
  duration,
  isIpAddress,
  parseDuration,
  validateDuration,
  validateFqdn,
  validatePort,
} from './istio-common.js';

const int32 = () => integer(-2147483648, 2147483647);

/** A duration where `0s` means "disabled" and anything else follows ValidateDuration (tcp.idleTimeout). */
function durationOrZero(): Schema<string> {
  const inner = duration();
  return {
    expected: inner.expected,
    parse(value, path, c) {
      const text = inner.parse(value, path, c);
      if (text === undefined) return undefined;
      const seconds = parseDuration(text) ?? 0;
      if (Math.round(seconds * 1000) === 0) return text;
      const problem = validateDuration(seconds);
      if (problem) {
        c.error(path, 'ISTIO_DURATION', `${problem}, got ${JSON.stringify(text)}`);
        return undefined;
      }
      return text;
    },
  };
}

const tcpSettings = object(
  {
    maxConnections: optional(int32()),
    connectTimeout: optional(duration({ istioMinimum: true })),
    tcpKeepalive: optional(
      object({
        probes: optional(uint32()),
        time: optional(duration({ istioMinimum: true })),
        interval: optional(duration({ istioMinimum: true })),
      }),
    ),
    maxConnectionDuration: optional(duration({ istioMinimum: true })),
    idleTimeout: optional(durationOrZero()),
  },
  'TCP connection pool settings',
);

const httpSettings = object(
  {
    http1MaxPendingRequests: optional(int32()),
    http2MaxRequests: optional(int32()),
    maxRequestsPerConnection: optional(int32()),
    maxRetries: optional(int32()),
    idleTimeout: optional(duration({ istioMinimum: true })),
    h2UpgradePolicy: optional(oneOf(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE'])),
    useClientProtocol: optional(boolean()),
    maxConcurrentStreams: optional(int32()),
    http2KeepAlive: optional(object({ interval: optional(duration()), timeout: optional(duration()) })),
  },
  'HTTP connection pool settings',
);

const NON_NEGATIVE: [keyof Infer<typeof httpSettings> | 'maxConnections', string][] = [
  ['http1MaxPendingRequests', 'http1 max pending requests must be non-negative'],
  ['http2MaxRequests', 'http2 max requests must be non-negative'],
  ['maxRequestsPerConnection', 'max requests per connection must be non-negative'],
  ['maxRetries', 'max retries must be non-negative'],
  ['maxConcurrentStreams', 'max concurrent streams must be non-negative'],
];

export const connectionPool = refine(
  object(
    { tcp: optional(tcpSettings), http: optional(httpSettings) },
    'connection pool settings ({tcp, http})',
  ),
  (pool, path, c) => {
    if (pool.tcp === undefined && pool.http === undefined) {
      c.error(path, 'ISTIO_DR_CONNECTION_POOL_EMPTY', 'connection pool must have at least one field');
      return false;
    }
    let ok = true;
    const http = pool.http as Record<string, unknown> | undefined;
    for (const [field, message] of NON_NEGATIVE) {
      const v = http?.[field];
      if (typeof v === 'number' && v < 0) {
        c.error([...path, 'http', field], 'ISTIO_DR_CONNECTION_POOL_NEGATIVE', `${message}, got ${v}`);
        ok = false;
      }
    }
    if (pool.http?.h2UpgradePolicy === 'UPGRADE' && pool.http.useClientProtocol === true) {
      c.error(
        [...path, 'http'],
        'ISTIO_DR_H2_UPGRADE_CLIENT_PROTOCOL',
        'use client protocol must not be true when H2UpgradePolicy is UPGRADE',
      );
      ok = false;
    }
    if (pool.tcp?.maxConnections !== undefined && pool.tcp.maxConnections < 0) {
      c.error(
        [...path, 'tcp', 'maxConnections'],
        'ISTIO_DR_CONNECTION_POOL_NEGATIVE',
        `max connections must be non-negative, got ${pool.tcp.maxConnections}`,
      );
      ok = false;
    }
    return ok;
  },
);

export const outlierDetection = refine(
  object(
    {
      consecutiveErrors: optional(int32()),
      splitExternalLocalOriginErrors: optional(boolean()),
      consecutiveLocalOriginFailures: optional(uint32()),
      consecutiveGatewayErrors: optional(uint32()),
      consecutive5xxErrors: optional(uint32()),
      interval: optional(duration({ istioMinimum: true })),
      baseEjectionTime: optional(duration({ istioMinimum: true })),
      maxEjectionPercent: optional(int32()),
      minHealthPercent: optional(int32()),
    },
    'outlier detection settings',
  ),
  (o, path, c) => {
    let ok = true;
    if (o.consecutiveErrors !== undefined && o.consecutiveErrors !== 0)
      c.warn(
        [...path, 'consecutiveErrors'],
        'ISTIO_DR_OUTLIER_CONSECUTIVE_ERRORS_DEPRECATED',
        'outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead',
      );
    if (o.splitExternalLocalOriginErrors !== true && (o.consecutiveLocalOriginFailures ?? 0) > 0) {
      c.error(
        [...path, 'consecutiveLocalOriginFailures'],
        'ISTIO_DR_OUTLIER_LOCAL_ORIGIN',
        'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false',
      );
      ok = false;
    }
    for (const field of ['maxEjectionPercent', 'minHealthPercent'] as const) {
      const v = o[field];
      if (v !== undefined && (v < 0 || v > 100)) {
        c.error([...path, field], 'ISTIO_DR_OUTLIER_PERCENT', `percentage ${v} is not in range 0..100`);
        ok = false;
      }
    }
    return ok;
  },
);

const tunnel = refine(
  object(
    { protocol: optional(string()), targetHost: required(string()), targetPort: required(uint32()) },
    'tunnel settings ({protocol, targetHost, targetPort})',
  ),
  (t, path, c) => {
    let ok = true;
    if (t.protocol !== undefined && t.protocol !== '' && t.protocol !== 'CONNECT' && t.protocol !== 'POST') {
      c.error([...path, 'protocol'], 'ISTIO_DR_TUNNEL', 'tunnel protocol must be "CONNECT" or "POST"');
      ok = false;
    }
    const fqdn = validateFqdn(t.targetHost);
    if (fqdn !== undefined && !isIpAddress(t.targetHost)) {
      c.error(
        [...path, 'targetHost'],
        'ISTIO_DR_TUNNEL',
        `tunnel target host must be valid FQDN or IP address: ${fqdn}; ${t.targetHost} is not a valid IP`,
      );
      ok = false;
    }
    const port = validatePort(t.targetPort);
    if (port !== undefined) {
      c.error([...path, 'targetPort'], 'ISTIO_DR_TUNNEL', `tunnel target port is invalid: ${port}`);
      ok = false;
    }
    return ok;
  },
);

const NOT_YET = 'Skiff does not implement it yet';

const portTrafficPolicyShape = object(
  {
    port: optional(object({ number: optional(uint32()) }, 'a port selector ({number})')),
    loadBalancer: optional(loadBalancer),
    connectionPool: notEnforced(connectionPool, NOT_YET),
    outlierDetection: notEnforced(outlierDetection, NOT_YET),
    tls: optional(clientTls),
  },
  'a port traffic policy ({port, tls, loadBalancer, ...})',
);

export type PortTrafficPolicy = Infer<typeof portTrafficPolicyShape>;

const portTrafficPolicy = refine(portTrafficPolicyShape, (p, path, c) => {
  let ok = true;
  if (p.port === undefined) {
    c.error([...path, 'port'], 'ISTIO_DR_PORT_REQUIRED', 'portTrafficPolicy must have valid port');
    ok = false;
  }
  if (
    p.outlierDetection === undefined &&
    p.connectionPool === undefined &&
    p.loadBalancer === undefined &&
    p.tls === undefined
  ) {
    c.error(path, 'ISTIO_DR_PORT_POLICY_EMPTY', 'port traffic policy must have at least one field');
    return false;
  }
  return checkLocality(p.loadBalancer, p.outlierDetection !== undefined, [...path, 'loadBalancer'], c) && ok;
});

const trafficPolicyShape = object(
  {
    loadBalancer: optional(loadBalancer),
    connectionPool: notEnforced(connectionPool, NOT_YET),
    outlierDetection: notEnforced(outlierDetection, NOT_YET),
    tls: optional(clientTls),
    portLevelSettings: optional(array(portTrafficPolicy)),
    tunnel: notEnforced(tunnel, NOT_YET),
    proxyProtocol: notEnforced(object({ version: optional(oneOf(['V1', 'V2'])) }), NOT_YET),
    retryBudget: notEnforced(
      object({
        percent: optional(number(0, 100)),
        minRetryConcurrency: optional(uint32()),
        budgetInterval: optional(duration()),
      }),
      NOT_YET,
    ),
  },
  'a traffic policy ({loadBalancer, connectionPool, outlierDetection, tls, portLevelSettings, ...})',
);

export type TrafficPolicy = Infer<typeof trafficPolicyShape>;
export type { ClientTlsSettings, LoadBalancerSettings };

const MAX_PORT_LEVEL_SETTINGS = 4096;

export const trafficPolicy = refine(trafficPolicyShape, (p, path, c) => {
  const ports = p.portLevelSettings ?? [];
  const fields = [p.outlierDetection, p.connectionPool, p.loadBalancer, p.tls, p.tunnel, p.proxyProtocol];
  if (fields.every((f) => f === undefined) && ports.length === 0 && p.retryBudget === undefined) {
    c.error(path, 'ISTIO_DR_TRAFFIC_POLICY_EMPTY', 'traffic policy must have at least one field');
    return false;
  }
  if (p.tunnel !== undefined && p.proxyProtocol !== undefined) {
    c.error(path, 'ISTIO_DR_TUNNEL_WITH_PROXY_PROTOCOL', 'tunnel and proxyProtocol must not be set together');
    return false;
  }
  let ok = true;
  if (ports.length > MAX_PORT_LEVEL_SETTINGS) {
    c.error(
      [...path, 'portLevelSettings'],
      'ISTIO_DR_PORT_LEVEL_SETTINGS_TOO_MANY',
      `${ports.length} port level settings: at most ${MAX_PORT_LEVEL_SETTINGS} are allowed`,
    );
    ok = false;
  }
  return checkLocality(p.loadBalancer, p.outlierDetection !== undefined, [...path, 'loadBalancer'], c) && ok;
});

function checkLocality(
  lb: LoadBalancerSettings | undefined,
  hasOutlierDetection: boolean,
  path: FieldPath,
  c: Checker,
): boolean {
  if (lb?.localityLbSetting === undefined) return true;
  return checkLocalityLbSetting(lb.localityLbSetting, hasOutlierDetection, [...path, 'localityLbSetting'], c);
}

/** Every TLS settings block of a traffic policy, with its path (for rules that need the namespace). */
export function tlsBlocks(
  policy: TrafficPolicy | undefined,
  path: FieldPath,
): [ClientTlsSettings, FieldPath][] {
  const out: [ClientTlsSettings, FieldPath][] = [];
  if (policy?.tls) out.push([policy.tls, [...path, 'tls']]);
  policy?.portLevelSettings?.forEach((p, i) => {
    if (p.tls) out.push([p.tls, [...path, 'portLevelSettings', i, 'tls']]);
  });
  return out;
}
