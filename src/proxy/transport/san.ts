// Subject alternative names of a peer certificate and Envoy's SAN matchers (`match_typed_subject_alt_names`,
// `match_subject_alt_names`): the certificate passes when any SAN satisfies any matcher; no matchers, no check.
// Pure: the SAN text is what Node's X509Certificate.subjectAltName gives.

import type { SanMatcher, SanType, StringMatch } from '../config/model.js';

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
 * a comma or quote as a JSON string; those are unquoted. Unknown kinds (othername, DirName) are skipped.
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
    if (type) out.push({ type, value });
    i = text.startsWith(', ', j) ? j + 2 : j + 1;
  }
  return out;
}

export function stringMatches(m: StringMatch, value: string): boolean {
  const v = m.ignoreCase ? value.toLowerCase() : value;
  switch (m.kind) {
    case 'exact':
      return v === m.value;
    case 'prefix':
      return v.startsWith(m.value);
    case 'suffix':
      return v.endsWith(m.value);
    case 'contains':
      return v.includes(m.value);
    case 'regex':
      return m.regex?.test(value) ?? false;
  }
}

/** Whether the SANs satisfy the matchers (true when there are none). DNS wildcards in the certificate are not
 * expanded for `exact` matchers of the typed form except as Envoy does for DNS: `*.example.com` matches one label. */
export function sansMatch(matchers: readonly SanMatcher[], sans: readonly SubjectAltName[]): boolean {
  if (matchers.length === 0) return true;
  for (const matcher of matchers) {
    for (const san of sans) {
      if (matcher.type !== 'ANY' && matcher.type !== san.type) continue;
      if (stringMatches(matcher.match, san.value)) return true;
      if (
        san.type === 'DNS' &&
        matcher.match.kind === 'exact' &&
        dnsWildcardMatches(san.value, matcher.match.value)
      ) {
        return true;
      }
    }
  }
  return false;
}

/** Envoy's dnsNameMatch: a certificate name `*.example.com` covers exactly one label. */
function dnsWildcardMatches(certName: string, wanted: string): boolean {
  if (!certName.startsWith('*.')) return false;
  const suffix = certName.slice(1).toLowerCase();
  const w = wanted.toLowerCase();
  if (!w.endsWith(suffix)) return false;
  const label = w.slice(0, w.length - suffix.length);
  return label.length > 0 && !label.includes('.');
}

/** The peer's SPIFFE identity: its first `spiffe://` URI SAN. */
export function spiffeIdOf(sans: readonly SubjectAltName[]): string | undefined {
  return sans.find((s) => s.type === 'URI' && s.value.startsWith('spiffe://'))?.value;
}
