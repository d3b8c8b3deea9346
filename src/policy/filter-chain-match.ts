// Envoy's filter-chain selection (filter_chain_manager_impl.cc findFilterChain), as a pure decision.
//
// The criteria are tried in a fixed order — destination port, destination IP, server name, transport protocol,
// application protocols, direct source IP, source type, source IP, source port — and at each step the chains
// that name the connection's value most specifically win over the chains that leave the criterion empty; the
// chains that leave it empty are only considered when no chain names the value. There is no backtracking: once
// the destination port 15006 has chains, a connection to 15006 that fits none of them is not given to a
// port-less chain. Nothing left at the end means the listener's default chain, or a closed connection
// (`no_filter_chain_match`) — how STRICT refuses plaintext.
//
// References are to envoyproxy/envoy source/common/listener_manager/filter_chain_manager_impl.cc (before 1.27:
// source/server/filter_chain_manager_impl.cc), source/common/network/utility.cc and cidr_range.cc.

import { type Cidr, cidrContains, isCanonicalLoopback, sameIp } from '../core/ip.js';

export type SourceType = 'ANY' | 'SAME_IP_OR_LOOPBACK' | 'EXTERNAL';

/** A `filter_chain_match`, compiled: empty lists and '' mean "any". */
export interface ChainMatch {
  destinationPort?: number;
  prefixRanges: readonly Cidr[];
  serverNames: readonly string[];
  transportProtocol: string;
  applicationProtocols: readonly string[];
  directSourcePrefixRanges: readonly Cidr[];
  sourceType: SourceType;
  sourcePrefixRanges: readonly Cidr[];
  sourcePorts: readonly number[];
}

/** What the listener knows about a connection after its listener filters ran. */
export interface ConnectionFacts {
  destinationPort: number;
  destinationIp: Uint8Array;
  /** SNI from tls_inspector, lower-cased. */
  serverName?: string | undefined;
  /** `tls` from tls_inspector, else `raw_buffer`. */
  transportProtocol: string;
  /** ALPN from tls_inspector (the client's order), or what http_inspector found. */
  applicationProtocols: readonly string[];
  sourceIp: Uint8Array;
  directSourceIp: Uint8Array;
  sourcePort: number;
}

export const ANY_MATCH: ChainMatch = {
  prefixRanges: [],
  serverNames: [],
  transportProtocol: '',
  applicationProtocols: [],
  directSourcePrefixRanges: [],
  sourceType: 'ANY',
  sourcePrefixRanges: [],
  sourcePorts: [],
};

/**
 * Keeps the candidates with the best specific score (higher is better); when none has one, the candidates for
 * which `empty` holds. `score` returns undefined for "does not name this value".
 */
function narrow<T>(
  candidates: readonly T[],
  score: (c: T) => number | undefined,
  empty: (c: T) => boolean,
): T[] {
  let best = -1;
  let winners: T[] = [];
  for (const c of candidates) {
    const s = score(c);
    if (s === undefined) continue;
    if (s > best) {
      best = s;
      winners = [c];
    } else if (s === best) winners.push(c);
  }
  return best >= 0 ? winners : candidates.filter(empty);
}

/**
 * The longest prefix of `ranges` holding `ip`. Envoy puts all ranges of one level in an LC trie and takes only
 * the longest match (`LcTrie(list, exclusive=true)`); a chain without ranges is entered as 0.0.0.0/0 and ::/0,
 * so it is reached exactly when no named range holds the address. Families never match each other.
 */
function longestPrefix(ranges: readonly Cidr[], ip: Uint8Array): number | undefined {
  let best: number | undefined;
  for (const r of ranges) {
    if (cidrContains(r, ip) && (best === undefined || r.prefixLen > best)) best = r.prefixLen;
  }
  return best;
}

/**
 * The keys a chain is filed under for server names, as in addFilterChainForServerNames: names lower-cased
 * (setupFilterChainMatcher lowercases them), `*.example.com` filed as `.example.com`. A name given as
 * `.example.com` is filed under that same key, so Envoy treats it like `*.example.com` (a suffix match); it is
 * kept that way here. Partial wildcards (`*w.example.com`, `*`) are refused by Envoy's config checks; here they
 * are exact keys that no SNI carries.
 */
function serverNameKeys(names: readonly string[]): Set<string> {
  const keys = new Set<string>();
  for (const raw of names) {
    const name = raw.toLowerCase();
    keys.add(name.startsWith('*.') ? name.slice(1) : name);
  }
  return keys;
}

/**
 * The keys Envoy looks up for an SNI, in order (findFilterChainForServerName): the name itself, then every
 * suffix that starts at a dot, longest first — `a.b.example.com` tries `.b.example.com`, `.example.com`,
 * `.com`. So `*.example.com` matches any number of labels (`a.b.example.com`) but not `example.com` itself,
 * an exact name beats every wildcard, and a longer wildcard beats a shorter one. The first key that any chain
 * is filed under decides; a later (shorter) key is never tried even if nothing under the first one fits the
 * remaining criteria. No SNI: only chains without server names.
 */
function sniLookupOrder(sni: string): string[] {
  const keys = [sni];
  let pos = sni.indexOf('.', 1);
  while (pos !== -1 && pos < sni.length - 1) {
    keys.push(sni.slice(pos));
    pos = sni.indexOf('.', pos + 1);
  }
  return keys;
}

/**
 * Envoy's Network::Utility::isSameIpOrLoopback: the remote (source) address is loopback, or it equals the local
 * (destination) address. isLoopbackAddress accepts only the canonical 127.0.0.1 and ::1 — 127.0.0.6 (what
 * Istio's inbound passthrough binds to) is EXTERNAL unless it is also the destination.
 */
function isSameIpOrLoopback(facts: ConnectionFacts): boolean {
  return isCanonicalLoopback(facts.sourceIp) || sameIp(facts.sourceIp, facts.destinationIp);
}

interface Compiled<T> {
  chain: T;
  serverNames: Set<string>;
}

/** Selects among chains that carry a compiled `match`. */
export class FilterChainSelector<T extends { match: ChainMatch }> {
  private readonly byPort = new Map<number, Compiled<T>[]>();
  private readonly anyPort: Compiled<T>[] = [];

  constructor(
    chains: readonly T[],
    private readonly defaultChain?: T,
  ) {
    for (const chain of chains) {
      const entry = { chain, serverNames: serverNameKeys(chain.match.serverNames) };
      const port = chain.match.destinationPort;
      // Envoy files a chain without destination_port under port 0, the catch-all
      // (PROTOBUF_GET_WRAPPED_OR_DEFAULT(destination_port, 0)); 0 itself is refused by validation (gte: 1), so
      // treat it as "any port" too.
      if (port === undefined || port === 0) this.anyPort.push(entry);
      else {
        const list = this.byPort.get(port) ?? [];
        list.push(entry);
        this.byPort.set(port, list);
      }
    }
  }

  /** The chain for this connection, the default chain, or undefined (close: no_filter_chain_match). */
  select(facts: ConnectionFacts): T | undefined {
    return this.find(facts) ?? this.defaultChain;
  }

  private find(f: ConnectionFacts): T | undefined {
    // findFilterChain: when some chain names the destination port, only those chains are searched; if none of
    // them fits, the result is the default chain — "Instead of matching catch-all port 0, the fallback filter
    // chain is returned". The port-less chains are searched only when no chain names the port.
    let c: Compiled<T>[] = this.byPort.get(f.destinationPort) ?? this.anyPort;
    c = narrow(
      c,
      (x) => longestPrefix(x.chain.match.prefixRanges, f.destinationIp),
      (x) => x.chain.match.prefixRanges.length === 0,
    );
    c = this.byServerName(c, f.serverName);
    // findFilterChainForTransportProtocol: exact transport protocol, else chains without one.
    c = narrow(
      c,
      (x) =>
        x.chain.match.transportProtocol !== '' && x.chain.match.transportProtocol === f.transportProtocol
          ? 0
          : undefined,
      (x) => x.chain.match.transportProtocol === '',
    );
    c = this.byAlpn(c, f.applicationProtocols);
    c = narrow(
      c,
      (x) => longestPrefix(x.chain.match.directSourcePrefixRanges, f.directSourceIp),
      (x) => x.chain.match.directSourcePrefixRanges.length === 0,
    );
    // findFilterChainForSourceTypes: a local connection goes to SAME_IP_OR_LOOPBACK chains if there are any,
    // an external one to EXTERNAL chains if there are any; otherwise to ANY chains.
    const local = isSameIpOrLoopback(f);
    c = narrow(
      c,
      (x) =>
        (x.chain.match.sourceType === 'SAME_IP_OR_LOOPBACK' && local) ||
        (x.chain.match.sourceType === 'EXTERNAL' && !local)
          ? 0
          : undefined,
      (x) => x.chain.match.sourceType === 'ANY',
    );
    c = narrow(
      c,
      (x) => longestPrefix(x.chain.match.sourcePrefixRanges, f.sourceIp),
      (x) => x.chain.match.sourcePrefixRanges.length === 0,
    );
    // findFilterChainForSourceIpAndPort: exact source port, else chains without source ports (filed as port 0).
    c = narrow(
      c,
      (x) => (x.chain.match.sourcePorts.includes(f.sourcePort) ? 0 : undefined),
      (x) => x.chain.match.sourcePorts.length === 0 || x.chain.match.sourcePorts.includes(0),
    );
    // Envoy refuses listeners whose chains overlap, so at most one is left; with overlapping input the first
    // chain in configuration order wins.
    return c[0]?.chain;
  }

  private byServerName(candidates: Compiled<T>[], sni: string | undefined): Compiled<T>[] {
    if (sni !== undefined && sni !== '') {
      for (const key of sniLookupOrder(sni.toLowerCase())) {
        const named = candidates.filter((x) => x.serverNames.has(key));
        if (named.length > 0) return named;
      }
    }
    return candidates.filter((x) => x.serverNames.size === 0);
  }

  /**
   * findFilterChainForApplicationProtocols: the client's protocols are tried in the client's order and the
   * first one that any chain names decides (ALPN [h2, istio] with chains for `istio` only → the `istio` chains);
   * when the client offers none that a chain names, the chains without application protocols.
   */
  private byAlpn(candidates: Compiled<T>[], offered: readonly string[]): Compiled<T>[] {
    for (const protocol of offered) {
      const named = candidates.filter((x) => x.chain.match.applicationProtocols.includes(protocol));
      if (named.length > 0) return named;
    }
    return candidates.filter((x) => x.chain.match.applicationProtocols.length === 0);
  }
}
