// Checks Istio's validation shares between kinds: host names (FQDN, wildcard, namespace/host), ports, IP
// addresses and subnets, durations and label maps. Messages follow Istio's wording.
// Istio: pkg/config/validation/agent/validation.go, pkg/config/labels/instance.go.

import { parseDuration } from '../../core/duration.js';
import type { FieldPath } from '../../core/field-path.js';
import type { Checker, Schema } from '../schema.js';

/** Istio's DNS-1123 label: like Kubernetes', but upper case is allowed. */
const ISTIO_DNS1123_LABEL = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
/** `*`, or a DNS-1123 label with a leading `*` or `*-`, or a plain label. */
const WILDCARD_LABEL = /^(\*|(\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;

export function isIstioDns1123Label(value: string): boolean {
  return value.length <= 63 && ISTIO_DNS1123_LABEL.test(value);
}

export function isWildcardDns1123Label(value: string): boolean {
  return value.length <= 63 && WILDCARD_LABEL.test(value);
}

/** CheckDNS1123Preconditions. */
function checkDnsPreconditions(name: string): string | undefined {
  if (name.length > 255) return `domain name ${JSON.stringify(name)} too long (max 255)`;
  if (name.length === 0) return 'empty domain name not allowed';
  return undefined;
}

/** ValidateDNS1123Labels: every label valid, the top-level one not all digits; a trailing dot is allowed. */
export function validateDns1123Labels(domain: string): string | undefined {
  const parts = domain.split('.');
  const top = parts[parts.length - 1] ?? '';
  if (/^[-+]?[0-9]+$/.test(top)) {
    return `domain name ${JSON.stringify(domain)} invalid (top level domain ${JSON.stringify(top)} cannot be all-numeric)`;
  }
  for (let i = 0; i < parts.length; i++) {
    const label = parts[i] ?? '';
    if (i === parts.length - 1 && label === '') return undefined;
    if (!isIstioDns1123Label(label))
      return `domain name ${JSON.stringify(domain)} invalid (label ${JSON.stringify(label)} invalid)`;
  }
  return undefined;
}

/** ValidateFQDN. */
export function validateFqdn(fqdn: string): string | undefined {
  return checkDnsPreconditions(fqdn) ?? validateDns1123Labels(fqdn);
}

/** ValidateWildcardDomain: a valid FQDN whose first label may be a wildcard (`*`, `*.example.com`, `*-x.y`). */
export function validateWildcardDomain(domain: string): string | undefined {
  const pre = checkDnsPreconditions(domain);
  if (pre) return pre;
  const dot = domain.indexOf('.');
  const first = dot < 0 ? domain : domain.slice(0, dot);
  if (!isWildcardDns1123Label(first))
    return `domain name ${JSON.stringify(domain)} invalid (label ${JSON.stringify(first)} invalid)`;
  return dot < 0 ? undefined : validateDns1123Labels(domain.slice(dot + 1));
}

/** ValidatePartialWildCard: `*` alone or a leading `*.`; `*foo.com` or `foo.*.com` are refused. */
export function validatePartialWildcard(host: string): string | undefined {
  if (host.includes('*') && host.length !== 1 && !host.startsWith('*.'))
    return `partial wildcard ${JSON.stringify(host)} not allowed`;
  return undefined;
}

/** ValidatePort. */
export function validatePort(port: number): string | undefined {
  return Number.isInteger(port) && port >= 1 && port <= 65535
    ? undefined
    : `port number ${port} must be in the range 1..65535`;
}

const IPV4 =
  /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

/** Go's netip.ParseAddr: dotted IPv4 (no leading zeros), IPv6 (optionally with an IPv4 tail and a zone). */
export function isIpAddress(text: string): boolean {
  if (IPV4.test(text)) return true;
  const percent = text.indexOf('%');
  const addr = percent < 0 ? text : text.slice(0, percent);
  if (percent >= 0 && percent === text.length - 1) return false;
  return isIpv6(addr);
}

export function isIpv4(text: string): boolean {
  return IPV4.test(text);
}

function isIpv6(text: string): boolean {
  if (!text.includes(':')) return false;
  let body = text;
  let extra = 0;
  const lastColon = body.lastIndexOf(':');
  const tail = body.slice(lastColon + 1);
  if (tail.includes('.')) {
    if (!IPV4.test(tail)) return false;
    body = `${body.slice(0, lastColon + 1)}0`;
    extra = 1;
  }
  const doubleColon = body.indexOf('::');
  if (doubleColon !== body.lastIndexOf('::')) return false;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const hex = /^[0-9a-fA-F]{1,4}$/;
  if (doubleColon >= 0) {
    const left = groups(body.slice(0, doubleColon));
    const right = groups(body.slice(doubleColon + 2));
    if (![...left, ...right].every((g) => hex.test(g))) return false;
    return left.length + right.length + extra <= 7;
  }
  const all = groups(body);
  return all.length === 8 && all.every((g) => hex.test(g));
}

/** ValidateIPAddress. */
export function validateIpAddress(addr: string): string | undefined {
  return isIpAddress(addr) ? undefined : `${addr} is not a valid IP`;
}

/** ValidateIPSubnet: CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address. */
export function validateIpSubnet(subnet: string): string | undefined {
  const parts = subnet.split('/');
  if (parts.length === 2) {
    const [addr = '', bits = ''] = parts;
    const max = isIpv4(addr) ? 32 : 128;
    const ok =
      /^[0-9]{1,3}$/.test(bits) &&
      Number(bits) <= max &&
      !addr.includes('%') &&
      (isIpv4(addr) || isIpv6(addr));
    return ok ? undefined : `${subnet} is not a valid CIDR block`;
  }
  return validateIpAddress(subnet);
}

/**
 * ValidateNamespaceSlashWildcardHostname for Gateway and Sidecar hosts: `namespace/dnsName`, where a Gateway
 * also takes a bare `dnsName` (old style) and an IP address.
 */
export function validateNamespaceSlashWildcardHostname(hostname: string, isGateway: boolean): string[] {
  const slash = hostname.indexOf('/');
  if (slash < 0) {
    return isGateway ? validateHostnamePart(hostname, true) : ['host must be of form namespace/dnsName'];
  }
  const namespace = hostname.slice(0, slash);
  const dnsName = hostname.slice(slash + 1);
  const errors: string[] = [];
  if (namespace === '' || dnsName === '')
    errors.push('config namespace and dnsName in host entry cannot be empty');
  const special = isGateway ? ['*', '.'] : ['*', '.', '~'];
  if (!special.includes(namespace) && !isIstioDns1123Label(namespace)) {
    errors.push(
      `invalid namespace value ${JSON.stringify(namespace)} in ${isGateway ? 'gateway' : 'sidecar'}`,
    );
  }
  errors.push(...validateHostnamePart(dnsName, isGateway));
  return errors;
}

function validateHostnamePart(hostname: string, isGateway: boolean): string[] {
  const errors: string[] = [];
  if (hostname !== '*' && !hostname.includes('.')) errors.push('short names (non FQDN) are not allowed');
  const wildcard = validateWildcardDomain(hostname);
  if (wildcard) {
    if (!isGateway) errors.push(wildcard);
    if (!isIpAddress(hostname)) errors.push(wildcard);
  }
  const partial = validatePartialWildcard(hostname);
  if (partial) errors.push(partial);
  return [...new Set(errors)];
}

/**
 * Istio's labels.Instance.Validate (used where Istio checks label syntax, e.g. sourceLabels and subset labels):
 * keys `[dnsPrefix/]name`, values empty or qualified names; one message per bad key or value.
 */
export function istioLabelProblems(labels: Record<string, string>): { key: string; message: string }[] {
  const out: { key: string; message: string }[] = [];
  const label = '[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?';
  const qualified = '(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
  const keyPattern = new RegExp(`^(${label}(?:\\.${label})*/)?(${qualified})$`);
  const valuePattern = new RegExp(`^(${qualified})?$`);
  for (const [key, value] of Object.entries(labels)) {
    const m = keyPattern.exec(key);
    if (!m) out.push({ key, message: `invalid tag key: ${JSON.stringify(key)}` });
    else if ((m[1]?.length ?? 0) - 1 > 253)
      out.push({ key, message: `invalid tag key: ${JSON.stringify(key)} (DNS prefix is too long)` });
    else if ((m[2]?.length ?? 0) > 63)
      out.push({ key, message: `invalid tag key: ${JSON.stringify(key)} (name is too long)` });
    if (!valuePattern.test(value)) out.push({ key, message: `invalid tag value: ${JSON.stringify(value)}` });
  }
  return out;
}

export { parseDuration };

export interface DurationOptions {
  /** Istio's ValidateDuration: at least 1ms, whole milliseconds. */
  istioMinimum?: boolean;
}

/** A duration field: kept as written (`"30s"`), checked like Istio; `seconds` gives the value. */
export function duration(options: DurationOptions = {}): Schema<string> {
  const expected = 'a duration such as "100ms", "5s", "1m" or "1h30m"';
  return {
    expected,
    parse(value: unknown, path: FieldPath, c: Checker) {
      const seconds = typeof value === 'string' ? parseDuration(value) : undefined;
      if (typeof value !== 'string' || seconds === undefined) {
        c.error(
          path,
          'SKIFF_CONFIG_DURATION',
          `invalid duration ${JSON.stringify(value)}: expected ${expected}`,
        );
        return undefined;
      }
      if (seconds < 0) {
        c.error(
          path,
          'SKIFF_CONFIG_DURATION',
          `invalid duration ${JSON.stringify(value)}: must not be negative`,
        );
        return undefined;
      }
      if (options.istioMinimum) {
        const problem = validateDuration(seconds);
        if (problem) {
          c.error(path, 'ISTIO_DURATION', `${problem}, got ${JSON.stringify(value)}`);
          return undefined;
        }
      }
      return value;
    },
  };
}

/** Istio's ValidateDuration on a value in seconds. */
export function validateDuration(seconds: number): string | undefined {
  if (seconds < 0.001) return 'duration must be greater than 1ms';
  if (Math.abs(Math.round(seconds * 1000) - seconds * 1000) > 1e-6)
    return 'only durations to ms precision are supported';
  return undefined;
}
