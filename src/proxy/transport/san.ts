// Subject alternative names of a peer certificate and Envoy's SAN matchers (`match_typed_subject_alt_names`,
// `match_subject_alt_names`): the certificate passes when any SAN satisfies any matcher; no matchers, no check.
// Pure: the SAN text is what Node's X509Certificate.subjectAltName gives.

import { stringMatches } from '../../policy/string-match.js';
import type { SanMatcher, SanType } from '../config/model.js';

export interface SubjectAltName {
  type: Exclude<SanType, 'ANY'>;
  value: string;
}

const TYPES: Record<string, SubjectAltName['type']> = {
  URI: 'URI',
  DNS: 'DNS',
  email: 'EMAIL',
  'IP Address': 'IP_ADDRESS',
};

/**
 * Parses `DNS:a.example, URI:spiffe://td/ns/x/sa/y, IP Address:127.0.0.1`. Node writes a value that contains
 * a comma, quote, backslash or control character as a JSON string (`URI:"a\u002cb"`); those are unquoted.
 * Unknown kinds (othername, DirName, Registered ID) are skipped. IP addresses are written as Envoy writes them
 * (`Utility::generalNameAsString`: inet_ntop), so an IPv6 SAN reads `2001:db8::1`, not Node's
 * `2001:DB8:0:0:0:0:0:1`.
 */
export function parseSubjectAltNames(text: string | undefined): SubjectAltName[] {
  const out: SubjectAltName[] = [];
  if (!text) return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const kind = text.slice(i, colon);
    let j = colon + 1;
    let value: string;
    if (text[j] === '"') {
      let end = j + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(text.slice(j, end + 1)) as string;
      } catch {
        value = text.slice(j + 1, end);
      }
      j = end + 1;
    } else {
      const comma = text.indexOf(', ', j);
      const end = comma < 0 ? text.length : comma;
      value = text.slice(j, end);
      j = end;
    }
    const type = TYPES[kind];
    if (type) out.push({ type, value: type === 'IP_ADDRESS' ? canonicalIp(value) : value });
    i = text.startsWith(', ', j) ? j + 2 : j + 1;
  }
  return out;
}

/** An IPv6 address as glibc's inet_ntop writes it (RFC 5952 compression, lower case, IPv4-mapped dotted). */
export function canonicalIp(value: string): string {
  if (!value.includes(':')) return value;
  let host: string;
  try {
    host = new URL(`http://[${value}]/`).hostname.slice(1, -1);
  } catch {
    return value;
  }
  // inet_ntop writes ::ffff:a.b.c.d and ::a.b.c.d (but not ::1 or ::) with a dotted IPv4 tail.
  const m = /^::(ffff:)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (m?.[2] && m[3]) {
    const hi = Number.parseInt(m[2], 16);
    const lo = Number.parseInt(m[3], 16);
    return `::${m[1] ?? ''}${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return host;
}

/** Envoy's StringMatcher (one implementation, in policy/string-match.ts). */
export { stringMatches };

/**
 * Whether the SANs satisfy the matchers (true when there are none). As Envoy's `StringSanMatcher::match`: a
 * typed matcher looks only at SANs of its type, an untyped one (`ANY`, from `match_subject_alt_names`) at SANs
 * of every type; a DNS SAN against an `exact` matcher uses `Utility::dnsNameMatch` (no case, wildcards in the
 * certificate cover one label) and nothing else, every other pair the StringMatcher.
 */
export function sansMatch(matchers: readonly SanMatcher[], sans: readonly SubjectAltName[]): boolean {
  if (matchers.length === 0) return true;
  for (const matcher of matchers) {
    for (const san of sans) {
      if (matcher.type !== 'ANY' && matcher.type !== san.type) continue;
      const matched =
        san.type === 'DNS' && matcher.match.kind === 'exact'
          ? dnsNameMatch(matcher.match.value, san.value)
          : stringMatches(matcher.match, san.value);
      if (matched) return true;
    }
  }
  return false;
}

/**
 * Envoy's `Utility::dnsNameMatch(dns_name, pattern)` (source/common/tls/utility.cc): `pattern` is the
 * certificate's DNS SAN. Equal without case, or the pattern's left-most label holds one `*` (not in an A-label
 * `xn--`) matching exactly one label of the name (`*.example.com` covers `a.example.com`, not
 * `a.b.example.com` nor `example.com`; `w*.example.com` covers `www.example.com`).
 */
export function dnsNameMatch(dnsName: string, pattern: string): boolean {
  const name = dnsName.toLowerCase();
  const pat = pattern.toLowerCase();
  if (name === pat) return true;
  const pDot = pat.indexOf('.');
  const nDot = name.indexOf('.');
  if (pDot < 0 || nDot < 0) return false;
  const pLabel = pat.slice(0, pDot);
  const pRest = pat.slice(pDot + 1);
  if (!pLabel.includes('*') || pRest.includes('*') || pLabel.startsWith('xn--')) return false;
  return name.slice(nDot + 1) === pRest && labelWildcardMatch(name.slice(0, nDot), pLabel);
}

/** Envoy's `Utility::labelWildcardMatch`: `*` alone matches any label; otherwise one `*` between a prefix and a
 * suffix of the label. */
function labelWildcardMatch(label: string, pattern: string): boolean {
  if (pattern === '*') return true;
  const parts = pattern.split('*');
  if (parts.length !== 2) return false;
  const [before = '', after = ''] = parts;
  return pattern.length <= label.length + 1 && label.startsWith(before) && label.endsWith(after);
}

/** The peer's SPIFFE identity: its first `spiffe://` URI SAN. */
export function spiffeIdOf(sans: readonly SubjectAltName[]): string | undefined {
  return sans.find((s) => s.type === 'URI' && s.value.startsWith('spiffe://'))?.value;
}
