// VirtualService building blocks shared by HTTP, TCP and TLS routes: StringMatch, Destination, header names,
// RE2 regexes, gateway names and host-name matching, with the checks of Istio's pkg/config/validation
// (validation.go: validateStringMatch*, validateDestination, validateGatewayNames, ValidateHTTPHeader*).

import type { FieldPath } from '../../core/field-path.js';
import { compileRe2 } from '../../core/re2.js';
import {
  type Checker,
  checkOneOf,
  type Infer,
  object,
  optional,
  refine,
  required,
  type Schema,
  string,
  uint32,
} from '../schema.js';
import {
  isIstioDns1123Label,
  istioLabelProblems,
  validateFqdn,
  validateWildcardDomain,
} from './istio-common.js';

/** istio.networking.v1alpha3.StringMatch: at most one of exact, prefix, regex (the CRD's oneOf). */
export const stringMatch = refine(
  object(
    { exact: optional(string()), prefix: optional(string()), regex: optional(string()) },
    'a string match ({exact|prefix|regex: ...})',
  ),
  (m, path, c) => checkOneOf(m, ['exact', 'prefix', 'regex'], path, c, { what: 'a string match' }),
);
export type StringMatch = Infer<typeof stringMatch>;

/** A map value that may be null: Istio reports `onNull` (an error) or, without it, accepts it as `{}`. */
export function nullableMatch(onNull?: (path: FieldPath, c: Checker) => void): Schema<StringMatch> {
  return {
    expected: stringMatch.expected,
    parse(value, path, c) {
      if (value !== null) return stringMatch.parse(value, path, c);
      if (onNull) {
        onNull(path, c);
        return undefined;
      }
      return {};
    },
  };
}

export const portSelector = object({ number: optional(uint32()) }, 'a port selector ({number: ...})');

/** istio.networking.v1alpha3.Destination. */
export const destination = object(
  { host: required(string()), subset: optional(string()), port: optional(portSelector) },
  'a destination ({host, subset, port})',
);
export type Destination = Infer<typeof destination>;

export function checkPort(port: number | undefined, path: FieldPath, c: Checker): void {
  if (port !== undefined && port !== 0 && (port < 1 || port > 65535))
    c.error(path, 'ISTIO_VS_PORT', `port number ${port} must be in the range 1..65535`);
}

/** validateDestination (skipped by Istio for Gateway API routes, which Skiff does not read). */
export function checkDestination(d: Destination | undefined, path: FieldPath, c: Checker): void {
  if (d === undefined) return;
  if (d.host === '*') {
    c.error([...path, 'host'], 'ISTIO_VS_DESTINATION_HOST', `invalid destination host ${d.host}`);
  } else {
    const problem = validateWildcardDomain(d.host);
    if (problem) c.error([...path, 'host'], 'ISTIO_VS_DESTINATION_HOST', problem);
  }
  if (d.subset !== undefined && d.subset !== '' && !isIstioDns1123Label(d.subset)) {
    c.error(
      [...path, 'subset'],
      'ISTIO_VS_SUBSET_NAME',
      `subset name is invalid: ${d.subset} (expected a DNS-1123 label)`,
    );
  }
  if (d.port !== undefined) {
    const n = d.port.number ?? 0;
    if (n < 1 || n > 65535)
      c.error([...path, 'port', 'number'], 'ISTIO_VS_PORT', `port number ${n} must be in the range 1..65535`);
  }
}

/** labels.Instance.Validate on sourceLabels. */
export function checkSourceLabels(
  labels: Record<string, string> | undefined,
  path: FieldPath,
  c: Checker,
): void {
  for (const p of istioLabelProblems(labels ?? {}))
    c.error([...path, p.key], 'ISTIO_VS_SOURCE_LABELS', p.message);
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;
const PSEUDO_HEADERS = new Set([':method', ':scheme', ':authority', ':path', ':status']);

/** jwt.ToRoutingClaim(name).Match: `@request.auth.claims.a.b` or `@request.auth.claims[a][b]`. */
export function isJwtClaimHeader(name: string): boolean {
  const prefix = '@request.auth.claims';
  if (!name.toLowerCase().startsWith(prefix)) return false;
  const rest = name.slice(prefix.length);
  return (
    (rest.startsWith('.') && rest.length > 1) ||
    (rest.startsWith('[') && rest.endsWith(']') && rest.length > 2)
  );
}

/** ValidateHTTPHeaderNameOrJwtClaimRoute: names in match headers and withoutHeaders. */
export function checkMatchHeaderName(name: string, path: FieldPath, c: Checker): void {
  if (name === '') c.error(path, 'ISTIO_VS_HEADER_NAME', 'header name cannot be empty');
  else if (!isJwtClaimHeader(name) && !PSEUDO_HEADERS.has(name) && !HEADER_NAME.test(name))
    c.error(path, 'ISTIO_VS_HEADER_NAME', `header name ${name} is not a valid header name`);
}

/** ValidateCORSHTTPHeaderName. */
export function checkCorsHeaderName(name: string, path: FieldPath, c: Checker): void {
  if (name === '') c.error(path, 'ISTIO_VS_CORS_HEADER', 'header name cannot be empty');
  else if (name !== '*' && !HEADER_NAME.test(name))
    c.error(path, 'ISTIO_VS_CORS_HEADER', `header name ${name} is not a valid header name`);
}

const RE2_HINT = 'Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)';
/**
 * Why Go's regexp (RE2) would refuse `re` (core/re2.ts): lookaround, backreferences, unknown escapes, repeat
 * counts over 1000, and what JavaScript itself cannot parse after RE2's own syntax is rewritten. Valid RE2 that
 * Skiff cannot run exactly is not a problem here: Istio's validation accepts it.
 */
export function re2Problem(re: string): string | undefined {
  const r = compileRe2(re);
  return 'problem' in r && r.kind === 'invalid' ? r.problem : undefined;
}

/** validateStringRegexp. */
export function checkRegex(re: string, where: string, path: FieldPath, c: Checker): void {
  if (re.length > 1024) {
    c.error(path, 'ISTIO_VS_REGEX', `"${where}": regex is too large, max length allowed is 1024`);
    return;
  }
  const problem = re2Problem(re);
  if (problem)
    c.error(
      path,
      'ISTIO_VS_REGEX',
      `"${where}": error parsing regexp: ${problem} in ${JSON.stringify(re)}; ${RE2_HINT}`,
    );
}

/** validateStringMatchRegexp: only the regex is checked (the uri and CORS origins accept an empty prefix). */
export function checkStringMatchRegexp(
  m: StringMatch | undefined,
  where: string,
  path: FieldPath,
  c: Checker,
): void {
  if (m?.regex === undefined) return;
  if (m.regex === '')
    c.error(
      [...path, 'regex'],
      'ISTIO_VS_STRING_MATCH_EMPTY',
      `"${where}": regex string match should not be empty`,
    );
  else checkRegex(m.regex, where, [...path, 'regex'], c);
}

/** validateStringMatch: also refuses an empty prefix. */
export function checkStringMatch(
  m: StringMatch | undefined,
  where: string,
  path: FieldPath,
  c: Checker,
): void {
  if (m?.prefix === '')
    c.error(
      [...path, 'prefix'],
      'ISTIO_VS_STRING_MATCH_EMPTY',
      `"${where}": prefix string match should not be empty`,
    );
  checkStringMatchRegexp(m, where, path, c);
}

/**
 * validateGatewayNames: `mesh`, `<namespace>/<name>` or a (legacy) FQDN. Like Istio, checking stops after the
 * first name without a slash.
 */
export function checkGatewayNames(names: readonly string[] | undefined, path: FieldPath, c: Checker): void {
  for (const [i, name] of (names ?? []).entries()) {
    const at = [...path, i];
    const slash = name.indexOf('/');
    if (slash < 0) {
      if (name.includes('.')) {
        const parts = name.split('.');
        c.warn(
          at,
          'ISTIO_VS_GATEWAY_LEGACY',
          `using legacy gatewayName format ${JSON.stringify(name)}; prefer the <namespace>/<name> format: ${JSON.stringify(`${parts[1]}/${parts[0]}`)}`,
        );
      }
      const problem = validateFqdn(name);
      if (problem) c.error(at, 'ISTIO_VS_GATEWAY_NAME', problem);
      return;
    }
    const namespace = name.slice(0, slash);
    const gateway = name.slice(slash + 1);
    if (namespace === '' || gateway === '')
      c.error(at, 'ISTIO_VS_GATEWAY_NAME', 'config namespace and gateway name cannot be empty');
    if (!isIstioDns1123Label(namespace))
      c.error(at, 'ISTIO_VS_GATEWAY_NAME', `invalid value for namespace: ${JSON.stringify(namespace)}`);
    if (!isIstioDns1123Label(gateway))
      c.error(at, 'ISTIO_VS_GATEWAY_NAME', `invalid value for gateway name: ${JSON.stringify(gateway)}`);
  }
}

/** host.Name.Matches: the two names (either may be a `*` wildcard) overlap. */
export function hostsMatch(a: string, b: string): boolean {
  const aw = a.startsWith('*');
  const bw = b.startsWith('*');
  if (aw && bw)
    return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aw) return b.endsWith(a.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

/** host.Name.SubsetOf: every name `a` matches is matched by `b`. */
export function hostSubsetOf(a: string, b: string): boolean {
  if (b.startsWith('*')) {
    if (a.startsWith('*')) return a.length >= b.length && a.slice(1).endsWith(b.slice(1));
    return a.endsWith(b.slice(1));
  }
  return a === b;
}

/**
 * ValidateWildcardDomainForVirtualServiceBoundToGateway: like validateWildcardDomain, but with `sni` also the
 * auto-generated `outbound_.<PORT>_._.<HOSTNAME>` names of AUTO_PASSTHROUGH gateways.
 */
export function validateGatewayBoundDomain(sni: boolean, domain: string): string | undefined {
  if (domain.length > 255) return `domain name ${JSON.stringify(domain)} too long (max 255)`;
  if (domain === '') return 'empty domain name not allowed';
  if (sni && domain.startsWith('outbound_')) {
    const format = 'outbound_.<PORT>_._.<HOSTNAME>';
    const parts = domain.split('_');
    if (parts.length < 4) return `domain name ${domain} invalid, should follow '${format}' format`;
    const trim = (s: string) => s.replace(/^\.+|\.+$/g, '');
    const port = trim(parts[1] ?? '');
    const hostname = trim(parts[3] ?? '');
    if (parts[0] !== 'outbound')
      return `domain name ${JSON.stringify(domain)} invalid (label ${JSON.stringify(parts[0])} invalid)`;
    if (!/[0-9]/.test(port))
      return `domain name ${JSON.stringify(domain)} invalid (label ${JSON.stringify(port)} invalid). should follow ${format} format`;
    if (!/[a-zA-Z]/.test(hostname))
      return `domain name ${JSON.stringify(domain)} invalid (label ${JSON.stringify(hostname)} invalid). should follow ${format} format`;
    return undefined;
  }
  return validateWildcardDomain(domain);
}
