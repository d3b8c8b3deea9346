// DestinationRule loadBalancer: LoadBalancerSettings from the CRD, with Istio's `validateLoadBalancer`
// (pkg/config/validation/validation.go) and `agent.ValidateLocalityLbSetting`. Only `simple` is enforced by Skiff.

import type { FieldPath } from '../../core/field-path.js';
import {
  array,
  boolean,
  type Checker,
  checkOneOf,
  type Infer,
  int64,
  notEnforced,
  number,
  object,
  oneOf,
  optional,
  record,
  refine,
  required,
  string,
  uint32,
} from '../schema.js';
import { duration } from './istio-common.js';

export const SIMPLE_LB = [
  'UNSPECIFIED',
  'LEAST_CONN',
  'RANDOM',
  'PASSTHROUGH',
  'ROUND_ROBIN',
  'LEAST_REQUEST',
] as const;

const httpCookie = object(
  {
    name: required(string()),
    path: optional(string()),
    ttl: optional(duration()),
    attributes: optional(array(object({ name: required(string()), value: optional(string()) }))),
  },
  'an HTTP cookie ({name, path, ttl, attributes})',
);

const consistentHashShape = object(
  {
    httpHeaderName: optional(string()),
    httpCookie: optional(httpCookie),
    useSourceIp: optional(boolean()),
    httpQueryParameterName: optional(string()),
    ringHash: optional(object({ minimumRingSize: optional(int64(0)) })),
    maglev: optional(object({ tableSize: optional(int64(0)) })),
    minimumRingSize: optional(int64(0)),
  },
  'consistent hash settings',
);

const consistentHash = refine(consistentHashShape, (h, path, c) => {
  let ok = checkOneOf(h, ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'], path, c, {
    what: 'consistentHash',
  });
  ok = checkOneOf(h, ['ringHash', 'maglev'], path, c, { what: 'consistentHash' }) && ok;
  const fail = (at: FieldPath, code: string, message: string) => {
    c.error(at, code, message);
    ok = false;
  };
  if (h.httpCookie !== undefined && h.httpCookie.name === '')
    fail([...path, 'httpCookie', 'name'], 'ISTIO_DR_COOKIE_NAME', 'name required for HttpCookie');
  if (h.minimumRingSize !== undefined && h.minimumRingSize !== 0) {
    c.warn(
      [...path, 'minimumRingSize'],
      'ISTIO_DR_MIN_RING_SIZE_DEPRECATED',
      "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead",
    );
    if (h.ringHash !== undefined || h.maglev !== undefined)
      fail(
        [...path, 'minimumRingSize'],
        'ISTIO_DR_RING_SIZE_CONFLICT',
        'only one of MinimumRingSize or Maglev/Ringhash can be specified',
      );
  }
  if (h.maglev !== undefined) {
    const size = h.maglev.tableSize ?? 0;
    const at = [...path, 'maglev', 'tableSize'];
    if (size === 0) fail(at, 'ISTIO_DR_MAGLEV_TABLE_SIZE', 'tableSize must be set for maglev');
    if (size >= 5000011)
      fail(at, 'ISTIO_DR_MAGLEV_TABLE_SIZE', `tableSize must be less than 5000011 for maglev, got ${size}`);
    if (!isPrime(size))
      fail(at, 'ISTIO_DR_MAGLEV_TABLE_SIZE', `tableSize must be a prime number for maglev, got ${size}`);
  }
  return ok;
});

/** Envoy's (and Istio's) isPrime: 1, 2 and 3 count as prime. */
function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  const limit = Math.floor(Math.sqrt(x));
  for (let f = 3; f <= limit; f += 2) if (x % f === 0) return false;
  return true;
}

export const localityLbSetting = object(
  {
    distribute: optional(
      array(
        object(
          { from: optional(string()), to: optional(record(uint32())) },
          'a distribute rule ({from, to})',
        ),
      ),
    ),
    failover: optional(
      array(object({ from: optional(string()), to: optional(string()) }, 'a failover rule')),
    ),
    failoverPriority: optional(array(string())),
    /** google.protobuf.BoolValue. */
    enabled: optional(boolean()),
  },
  'locality load balancer settings',
);

export type LocalityLbSetting = Infer<typeof localityLbSetting>;

const TOPOLOGY_LABELS = [
  'topology.kubernetes.io/region',
  'topology.kubernetes.io/zone',
  'topology.istio.io/subzone',
];

/**
 * agent.ValidateLocalityLbSetting. `hasOutlierDetection`: whether the same traffic policy has one (failover
 * without it is a warning). Returns false when it reported an error.
 */
export function checkLocalityLbSetting(
  lb: LocalityLbSetting,
  hasOutlierDetection: boolean,
  path: FieldPath,
  c: Checker,
): boolean {
  const fail = (message: string, at: FieldPath = path) => {
    c.error(at, 'ISTIO_DR_LOCALITY_LB', message);
    return false;
  };
  const distribute = lb.distribute ?? [];
  const failover = lb.failover ?? [];
  const priority = lb.failoverPriority ?? [];
  if (distribute.length > 0 && failover.length > 0)
    return fail("can not simultaneously specify 'distribute' and 'failover'");
  if (failover.length > 0) {
    const label = priority.find((p) => TOPOLOGY_LABELS.includes(p));
    if (label !== undefined)
      return fail(
        `can not simultaneously set 'failover' and topology label '${label}' in 'failover_priority'`,
      );
  }
  let ok = true;
  const sources: string[] = [];
  for (const [i, rule] of distribute.entries()) {
    sources.push(rule.from ?? '');
    let total = 0;
    for (const weight of Object.values(rule.to ?? {})) {
      if (weight <= 0 || weight > 100)
        return fail('locality weight must be in range [1, 100]', [...path, 'distribute', i, 'to']);
      total += weight;
    }
    if (total !== 100) return fail(`total locality weight ${total} != 100`, [...path, 'distribute', i, 'to']);
    const problem = localitiesProblem(Object.keys(rule.to ?? {}));
    if (problem) ok = fail(problem, [...path, 'distribute', i, 'to']);
  }
  const problem = localitiesProblem(sources);
  if (problem) ok = fail(problem, [...path, 'distribute']);
  if ((failover.length > 0 || priority.length > 0) && !hasOutlierDetection)
    c.warn(path, 'ISTIO_DR_LOCALITY_NO_OUTLIER', 'outlier detection policy must be provided for failover');
  for (const [i, rule] of failover.entries()) {
    const from = rule.from ?? '';
    const to = rule.to ?? '';
    const at = [...path, 'failover', i];
    if (from === to) ok = fail('locality lb failover settings must specify different regions', at);
    if (from.includes('/') || to.includes('/')) ok = fail('locality lb failover only specify region', at);
    if (from.includes('*') || to.includes('*'))
      ok = fail("locality lb failover region should not contain '*' wildcard", at);
  }
  return ok;
}

/** validateLocalities: `region[/zone[/subzone]]`, one trailing `*` at most, no overlaps. */
function localitiesProblem(localities: string[]): string | undefined {
  const map = new Map<string, Map<string, Set<string>>>();
  for (const locality of localities) {
    const stars = locality.split('*').length - 1;
    if (stars > 0 && (stars > 1 || !locality.endsWith('*')))
      return `locality ${locality} wildcard '*' number can not exceed 1 and must be in the end`;
    const overlap = `locality ${locality} overlap with previous specified ones`;
    if (map.has('*')) return overlap;
    const items = splitN(locality, '/', 3);
    if (items.some((item) => item === ''))
      return `locality ${locality} must not contain empty region/zone/subzone info`;
    const [region = '', zone = '', subZone = ''] = items;
    const zones = map.get(region);
    if (items.length === 1) {
      if (zones) return overlap;
      map.set(region, new Map([['*', new Set(['*'])]]));
    } else if (items.length === 2) {
      if (zones) {
        if (zones.has('*') || zones.has(zone)) return overlap;
        zones.set(zone, new Set(['*']));
      } else map.set(region, new Map([[zone, new Set(['*'])]]));
    } else if (zones) {
      if (zones.has('*')) return overlap;
      const subZones = zones.get(zone);
      if (subZones) {
        if (subZones.has('*') || subZones.has(subZone)) return overlap;
        subZones.add(subZone);
      } else zones.set(zone, new Set([subZone]));
    } else map.set(region, new Map([[zone, new Set([subZone])]]));
  }
  return undefined;
}

/** Go's strings.SplitN. */
function splitN(s: string, sep: string, n: number): string[] {
  const parts = s.split(sep);
  return parts.length <= n ? parts : [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}

const warmup = refine(
  object(
    {
      duration: required(duration({ istioMinimum: true })),
      minimumPercent: optional(number(0)),
      aggression: optional(number(0)),
    },
    'warmup settings ({duration, minimumPercent, aggression})',
  ),
  (w, path, c) => {
    let ok = true;
    if (w.minimumPercent !== undefined && w.minimumPercent > 100) {
      c.error(
        [...path, 'minimumPercent'],
        'ISTIO_DR_WARMUP',
        `minimumPercent value should be less than or equal to 100, got ${w.minimumPercent}`,
      );
      ok = false;
    }
    if (w.aggression !== undefined && w.aggression < 1) {
      c.error(
        [...path, 'aggression'],
        'ISTIO_DR_WARMUP',
        `aggression should be greater than or equal to 1, got ${w.aggression}`,
      );
      ok = false;
    }
    return ok;
  },
);

const LB_KNOB = 'Skiff balances requests with the simple algorithms only';

export const loadBalancerShape = object(
  {
    simple: optional(oneOf(SIMPLE_LB)),
    consistentHash: notEnforced(consistentHash, LB_KNOB),
    localityLbSetting: notEnforced(localityLbSetting, 'Skiff does not route by locality'),
    warmupDurationSecs: notEnforced(duration({ istioMinimum: true }), LB_KNOB),
    warmup: notEnforced(warmup, LB_KNOB),
  },
  'load balancer settings ({simple | consistentHash, ...})',
);

export type LoadBalancerSettings = Infer<typeof loadBalancerShape>;

/** loadBalancer: `simple` and `consistentHash` are a oneof. Locality rules run with the traffic policy. */
export const loadBalancer = refine(loadBalancerShape, (lb, path, c) =>
  checkOneOf(lb, ['simple', 'consistentHash'], path, c, { what: 'loadBalancer' }),
);
