// Istio's unreachable-rule analysis of a VirtualService (warnings only): a rule after a catch-all rule, a
// match repeated from an earlier rule, and an HTTP prefix match covered by an earlier, shorter prefix.
// Istio: analyzeUnreachableHTTPRules / TCP / TLS and coveredValidation in pkg/config/validation/validation.go.

import type { FieldPath } from '../../core/field-path.js';
import type { Checker } from '../schema.js';
import type { HTTPMatchRequest, HTTPRoute } from './virtual-service-http.js';
import type { StringMatch } from './virtual-service-match.js';

/** A JSON form of a match for comparison: keys sorted, empty values (Go's omitempty) and `name` left out. */
function canonical(value: unknown, dropName: boolean): string {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.length === 0 ? undefined : v.map(strip);
    if (typeof v === 'object' && v !== null) {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v).sort()) {
        if (dropName && key === 'name') continue;
        const inner = strip((v as Record<string, unknown>)[key]);
        if (inner !== undefined) out[key] = inner;
      }
      return Object.keys(out).length === 0 ? undefined : out;
    }
    return v === false || v === '' || v === 0 ? undefined : v;
  };
  return JSON.stringify(strip(value) ?? {});
}

interface Reporter {
  unused(at: FieldPath, rule: string, reason: string): void;
  ineffective(at: FieldPath, rule: string, match: string, dup: string): void;
}

function reporter(path: FieldPath, c: Checker): Reporter {
  return {
    unused: (at, rule, reason) =>
      c.warn(
        [...path, ...at],
        'ISTIO_VS_UNREACHABLE_RULE',
        `virtualService rule ${rule} not used (${reason})`,
      ),
    ineffective: (at, rule, match, dup) =>
      c.warn(
        [...path, ...at],
        'ISTIO_VS_INEFFECTIVE_MATCH',
        `virtualService rule ${rule} match ${match} is not used (duplicate/overlapping match in rule ${dup})`,
      ),
  };
}

const routeName = (name: string | undefined, i: number) => (name ? JSON.stringify(name) : `#${i}`);

interface Rule {
  name?: string | undefined;
  match?: readonly unknown[] | undefined;
}

/** The part shared by HTTP, TCP and TLS rules: returns the matches seen first, for the prefix analysis. */
function analyzeRules(
  rules: readonly Rule[],
  http: boolean,
  report: Reporter,
  onFirstMatch?: (rule: number, match: number) => void,
): void {
  const seen = new Map<string, number>();
  let emptyMatch = -1;
  for (const [rulen, rule] of rules.entries()) {
    const name = routeName(http ? rule.name : undefined, rulen);
    const matches = rule.match ?? [];
    if (matches.length === 0) {
      if (emptyMatch >= 0) report.unused([rulen], name, 'only the last rule can have no matches');
      emptyMatch = rulen;
      continue;
    }
    let duplicates = 0;
    for (const [matchn, match] of matches.entries()) {
      if (emptyMatch >= 0) {
        report.unused([rulen, 'match', matchn], name, 'route without matches defined before');
        continue;
      }
      const key = canonical(match, http);
      const dup = seen.get(key);
      if (dup !== undefined) {
        const matchName = http ? (match as HTTPMatchRequest).name : undefined;
        report.ineffective(
          [rulen, 'match', matchn],
          name,
          routeName(matchName, matchn),
          routeName(http ? rules[dup]?.name : undefined, dup),
        );
        duplicates++;
        continue;
      }
      seen.set(key, rulen);
      onFirstMatch?.(rulen, matchn);
    }
    if (duplicates === matches.length) report.unused([rulen], name, 'all matches used by prior rules');
  }
}

export function analyzeL4Rules(rules: readonly Rule[], path: FieldPath, c: Checker): void {
  analyzeRules(rules, false, reporter(path, c));
}

interface PrefixMatch {
  at: FieldPath;
  route: string;
  match: string;
  prefix: string;
  port: number;
  method: string;
  authority: string;
  headers: Map<string, string>;
  queryParams: Map<string, string>;
  withoutHeaders: Map<string, string>;
}

const exactOrPrefix = (m: StringMatch | undefined) =>
  m?.exact ? `exact:${m.exact}` : m?.prefix ? `prefix:${m.prefix}` : '';

const asMap = (r: Record<string, StringMatch> | undefined) =>
  new Map(Object.entries(r ?? {}).map(([k, v]) => [k, exactOrPrefix(v)]));

/** genMatchHTTPRoutes: only matches with a uri prefix take part. */
function prefixMatch(
  route: HTTPRoute,
  rulen: number,
  match: HTTPMatchRequest,
  matchn: number,
): PrefixMatch | undefined {
  const prefix = match.uri?.prefix;
  if (!prefix) return undefined;
  return {
    at: [rulen, 'match', matchn],
    route: routeName(route.name, rulen),
    match: routeName(match.name, matchn),
    prefix,
    port: match.port ?? 0,
    method: exactOrPrefix(match.method) || 'exact:GET',
    authority: exactOrPrefix(match.authority),
    headers: asMap(match.headers),
    queryParams: asMap(match.queryParams),
    withoutHeaders: asMap(match.withoutHeaders),
  };
}

function sameOrPrefixed(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) {
    const other = b.get(key);
    if (other === undefined || (value !== other && !value.startsWith(other))) return false;
  }
  return true;
}

/** coveredValidation: does the earlier match `a` take every request of the later `b`? */
function covers(a: PrefixMatch, b: PrefixMatch): boolean {
  if (!b.prefix.startsWith(a.prefix) || a.port !== b.port) return false;
  if (a.method !== b.method && !a.method.startsWith(b.method)) return false;
  if (a.authority !== b.authority && !a.authority.startsWith(b.authority)) return false;
  return (
    sameOrPrefixed(a.headers, b.headers) &&
    sameOrPrefixed(a.queryParams, b.queryParams) &&
    sameOrPrefixed(a.withoutHeaders, b.withoutHeaders)
  );
}

export function analyzeHttpRules(routes: readonly HTTPRoute[], path: FieldPath, c: Checker): void {
  const report = reporter(path, c);
  const prefixes: PrefixMatch[] = [];
  analyzeRules(routes, true, report, (rulen, matchn) => {
    const route = routes[rulen];
    const match = route?.match?.[matchn];
    const p = route && match ? prefixMatch(route, rulen, match, matchn) : undefined;
    if (p) prefixes.push(p);
  });
  for (const [i, a] of prefixes.entries()) {
    for (const b of prefixes.slice(i + 1)) {
      if (b.prefix === a.prefix) continue;
      if (covers(a, b))
        report.ineffective(
          b.at,
          b.route,
          `${b.match} of prefix ${b.prefix}`,
          `${a.match} of prefix ${a.prefix} on ${a.route}`,
        );
    }
  }
}
