// Envoy's HTTP route selection (source/common/router/config_impl.cc), as pure decisions: which virtual host a
// Host/:authority picks, and which route of it a request takes.
//
// Virtual hosts: an exact domain wins, then the longest `*.suffix`/`*suffix` wildcard, then the longest
// `prefix*` wildcard, then `*`; domains compare case-insensitively. When no domain matches the host as sent and
// the host carries a port, Envoy does not retry without it (Istio lists both `reviews` and `reviews:9080`).
// Routes: in order, the first whose path matcher, header matchers and query parameter matchers all hold.

import { type StringMatch, stringMatches } from './string-match.js';

/** A route's HeaderMatcher: present / absent, or a string check; `invert` flips the outcome. */
export interface HeaderCheck {
  name: string;
  /** undefined: presence only. */
  check: StringMatch | undefined;
  present: boolean;
  invert: boolean;
}

export interface PathCheck {
  kind: 'prefix' | 'path' | 'regex' | 'separated-prefix';
  value: string;
  regex?: RegExp;
}

export interface RouteMatch {
  path: PathCheck;
  caseSensitive: boolean;
  headers: HeaderCheck[];
  queryParameters: { name: string; check: StringMatch | undefined }[];
}

export interface RouteEntry<A> {
  name: string;
  match: RouteMatch;
  action: A;
}

export interface VirtualHostEntry<A> {
  name: string;
  domains: string[];
  routes: RouteEntry<A>[];
}

/** A request as route matching sees it. */
export interface RouteRequest {
  /** `:path` with the query string. */
  path: string;
  /** Lower-case header names; repeated headers joined with `,` as Envoy's matcher sees them. */
  header: (name: string) => string | undefined;
}

/** Precomputed virtual host lookup. */
export class VirtualHostIndex<A> {
  private readonly exact = new Map<string, VirtualHostEntry<A>>();
  private readonly suffix: [string, VirtualHostEntry<A>][] = [];
  private readonly prefix: [string, VirtualHostEntry<A>][] = [];
  private readonly any: VirtualHostEntry<A> | undefined;

  /**
   * `ignorePort`: Envoy's `ignore_port_in_host_matching` (Istio sets it on every sidecar route table): a port in
   * the host is dropped before matching.
   */
  constructor(
    hosts: readonly VirtualHostEntry<A>[],
    private readonly ignorePort = false,
  ) {
    let any: VirtualHostEntry<A> | undefined;
    for (const h of hosts) {
      for (const raw of h.domains) {
        const d = raw.toLowerCase();
        if (d === '*') any ??= h;
        else if (d.startsWith('*')) this.suffix.push([d.slice(1), h]);
        else if (d.endsWith('*')) this.prefix.push([d.slice(0, -1), h]);
        else if (!this.exact.has(d)) this.exact.set(d, h);
      }
    }
    // Longest first; ties keep configuration order (stable sort).
    this.suffix.sort((a, b) => b[0].length - a[0].length);
    this.prefix.sort((a, b) => b[0].length - a[0].length);
    this.any = any;
  }

  find(host: string): VirtualHostEntry<A> | undefined {
    const h = (this.ignorePort ? withoutPort(host) : host).toLowerCase();
    const exact = this.exact.get(h);
    if (exact) return exact;
    // A wildcard matches at least one character (Envoy: "*.foo.com" does not match ".foo.com"? it requires a
    // non-empty remainder).
    for (const [s, v] of this.suffix) if (h.length > s.length && h.endsWith(s)) return v;
    for (const [p, v] of this.prefix) if (h.length > p.length && h.startsWith(p)) return v;
    return this.any;
  }
}

/** `reviews:9080` → `reviews`, `[::1]:80` → `[::1]`; a host without a numeric port stays as it is. */
export function withoutPort(host: string): string {
  const colon = host.lastIndexOf(':');
  if (colon < 0 || host.endsWith(']')) return host;
  for (let i = colon + 1; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c < 48 || c > 57) return host;
  }
  // A bare IPv6 address (`::1`) has colons but no brackets: it has no port to drop.
  return host.indexOf(':') === colon || host.startsWith('[') ? host.slice(0, colon) : host;
}

function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

function pathMatches(m: RouteMatch, fullPath: string): boolean {
  const path = pathOnly(fullPath);
  const p = m.path;
  const cmp = (a: string) => (m.caseSensitive ? a : a.toLowerCase());
  switch (p.kind) {
    case 'prefix':
      return cmp(path).startsWith(cmp(p.value));
    case 'path':
      return cmp(path) === cmp(p.value);
    case 'separated-prefix': {
      const v = cmp(p.value);
      const x = cmp(path);
      return x === v || (x.startsWith(v) && x[v.length] === '/');
    }
    case 'regex':
      return p.regex?.test(path) ?? false;
  }
}

function queryValue(path: string, name: string): string | undefined {
  const q = path.indexOf('?');
  if (q < 0) return undefined;
  for (const part of path.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (key === name) return eq < 0 ? '' : part.slice(eq + 1);
  }
  return undefined;
}

export function headerMatches(h: HeaderCheck, value: string | undefined): boolean {
  let ok: boolean;
  if (value === undefined) ok = !h.present && h.check === undefined;
  else if (h.check === undefined) ok = h.present;
  else ok = stringMatches(h.check, value);
  return h.invert ? !ok : ok;
}

export function routeMatches(m: RouteMatch, req: RouteRequest): boolean {
  if (!pathMatches(m, req.path)) return false;
  for (const h of m.headers) if (!headerMatches(h, req.header(h.name))) return false;
  for (const q of m.queryParameters) {
    const v = queryValue(req.path, q.name);
    if (v === undefined || (q.check && !stringMatches(q.check, v))) return false;
  }
  return true;
}

/** The first route of the virtual host that matches, or undefined (Envoy: 404, response flag NR). */
export function selectRoute<A>(vhost: VirtualHostEntry<A>, req: RouteRequest): RouteEntry<A> | undefined {
  return vhost.routes.find((r) => routeMatches(r.match, req));
}
