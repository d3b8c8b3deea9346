// What a generated inbound listener does with one connection, decided by the Skiff proxy's own code: the listener
// is translated with parseResource (as the sidecar loads it), its listener filters are applied as the proxy
// applies them (tls_inspector / http_inspector per destination port, filter_disabled predicates), and the chain is
// chosen with the proxy's FilterChainSelector (src/policy/filter-chain-match.ts, as src/proxy/listener does).
// Then, as Istio's simulation does (pilot/pkg/simulation/traffic.go Simulation.Run), the chain's transport and
// terminal filter say what happens: TLS terminated with a client certificate required, TLS passed through,
// plaintext, or refused; which tcp_proxy cluster or connection manager route takes it; and Istio's simulation
// errors (no filter chain, invalid mTLS, protocol error).
//
// API (small on purpose, for golden-file checks too):
//   const sim = new InboundSimulation(listenerJson);   // throws if the proxy refuses the listener
//   sim.run({ port: 8080, protocol: 'http', tls: 'mtls' }) → InboundResult

import { parseIp } from '../../../src/core/ip.js';
import { type ConnectionFacts, FilterChainSelector } from '../../../src/policy/filter-chain-match.js';
import { selectRoute, VirtualHostIndex } from '../../../src/policy/routes.js';
import type {
  FilterChainConfig,
  ListenerConfig,
  PortPredicate,
  RouteActionConfig,
} from '../../../src/proxy/config/model.js';
import { parseResource } from '../../../src/proxy/config/resource.js';
import { TYPE_URL } from '../../../src/proxy/config/resources/index.js';
import type { JsonObject } from '../../../src/xds/decode.js';
import { SECRET_DEFAULT } from '../../../src/xds/generate/names.js';

/** One connection to the sidecar (Istio's simulation.Call with CallModeInbound). */
export interface InboundCall {
  /** The destination port: a workload port the listener binds. */
  port: number;
  /** What the client speaks inside the connection: opaque bytes, HTTP/1.1, or HTTP/2 (h2c in plaintext). */
  protocol: 'tcp' | 'http' | 'http2';
  /**
   * `none`: plaintext; `tls`: the client's own TLS (no mesh certificate); `mtls`: a client sidecar (a mesh
   * certificate, Istio's ALPN).
   */
  tls: 'none' | 'tls' | 'mtls';
  /**
   * ALPN in the ClientHello (TLS only). Default, as a Skiff client sidecar sends it: mtls → TCP
   * `istio-peer-exchange, istio`, HTTP `istio-http/1.1, istio, http/1.1`, HTTP/2 `istio-h2, istio, h2`; tls → HTTP
   * `http/1.1`, HTTP/2 `h2`, TCP none.
   */
  alpn?: readonly string[];
  /** SNI in the ClientHello (TLS only). */
  sni?: string;
  /** The address dialled; default the listener's own address. */
  address?: string;
  /** The Host header of an HTTP request; default `example`. */
  host?: string;
}

/**
 * `terminate-mtls`: TLS terminated by a chain that requires a client certificate; `terminate-tls`: terminated
 * without requiring one (never generated for the mesh); `passthrough`: TLS handed on untouched; `plaintext`;
 * `refused`: no chain matched (the connection is closed).
 */
export type InboundOutcome = 'terminate-mtls' | 'terminate-tls' | 'passthrough' | 'plaintext' | 'refused';

export type InboundFilter =
  | { kind: 'tcp_proxy'; cluster: string }
  | {
      kind: 'http_connection_manager';
      /** The route configuration's name. */
      routeConfig: string;
      /** The virtual host and cluster the request is routed to (absent when the simulation error stops it). */
      virtualHost?: string;
      cluster?: string;
    };

export interface InboundResult {
  outcome: InboundOutcome;
  /** The selected chain: its name and index in filter_chains. */
  chain?: { name: string; index: number };
  filter?: InboundFilter;
  /**
   * Istio's simulation errors: `no-filter-chain` (refused), `tls-error` (plaintext meets a TLS chain),
   * `mtls-error` (a TLS client without a mesh certificate meets a chain that requires one, or a mesh client a
   * chain that does not terminate mTLS), `protocol-error` (a connection manager gets bytes that are not HTTP:
   * TCP, or TLS it does not terminate).
   */
  error?: 'no-filter-chain' | 'tls-error' | 'mtls-error' | 'protocol-error';
}

function predicateMatches(p: PortPredicate, port: number): boolean {
  switch (p.kind) {
    case 'any':
      return true;
    case 'or':
      return p.rules.some((r) => predicateMatches(r, port));
    case 'and':
      return p.rules.every((r) => predicateMatches(r, port));
    case 'not':
      return !predicateMatches(p.rule, port);
    case 'port-range':
      return port >= p.start && port < p.end;
  }
}

function defaultAlpn(call: InboundCall): readonly string[] {
  if (call.tls === 'mtls') {
    if (call.protocol === 'http') return ['istio-http/1.1', 'istio', 'http/1.1'];
    if (call.protocol === 'http2') return ['istio-h2', 'istio', 'h2'];
    return ['istio-peer-exchange', 'istio'];
  }
  if (call.tls === 'tls')
    return call.protocol === 'http' ? ['http/1.1'] : call.protocol === 'http2' ? ['h2'] : [];
  return [];
}

export class InboundSimulation {
  readonly config: ListenerConfig;
  private readonly selector: FilterChainSelector<FilterChainConfig>;

  /** Translates `listener` as the sidecar does; any error diagnostic throws (the proxy would refuse it). */
  constructor(listener: JsonObject) {
    const t = parseResource(TYPE_URL.listener, listener);
    const errors = t.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0 || !t.value) {
      throw new Error(
        `the proxy refuses listener ${t.name}: ${errors.map((d) => `${(d.path ?? []).join('.')}: ${d.message}`).join('; ')}`,
      );
    }
    this.config = t.value;
    this.selector = new FilterChainSelector(this.config.filterChains, this.config.defaultFilterChain);
  }

  /** The listener filters that run for a connection to `port` (filter_disabled applied). */
  inspectorsFor(port: number): Array<'tls_inspector' | 'http_inspector'> {
    const kinds: Array<'tls_inspector' | 'http_inspector'> = [];
    for (const lf of this.config.listenerFilters) {
      if (lf.disabled && predicateMatches(lf.disabled, port)) continue;
      if (!kinds.includes(lf.kind)) kinds.push(lf.kind);
    }
    return kinds;
  }

  run(call: InboundCall): InboundResult {
    const inspectors = this.inspectorsFor(call.port);
    const tlsSeen = call.tls !== 'none' && inspectors.includes('tls_inspector');
    // http_inspector reports plaintext HTTP only (TLS bytes, or bytes that are not HTTP, are "not HTTP").
    const httpSeen = call.tls === 'none' && call.protocol !== 'tcp' && inspectors.includes('http_inspector');
    const address = parseIp(call.address ?? this.config.address.host) ?? new Uint8Array([127, 0, 0, 1]);
    const source = new Uint8Array([127, 0, 1, 99]);
    const facts: ConnectionFacts = {
      destinationPort: call.port,
      destinationIp: address,
      serverName: tlsSeen ? call.sni?.toLowerCase() : undefined,
      transportProtocol: tlsSeen ? 'tls' : 'raw_buffer',
      applicationProtocols: tlsSeen
        ? (call.alpn ?? defaultAlpn(call))
        : httpSeen
          ? [call.protocol === 'http2' ? 'h2c' : 'http/1.1']
          : [],
      sourceIp: source,
      directSourceIp: source,
      sourcePort: 40000,
    };
    const chain = this.selector.select(facts);
    if (!chain) return { outcome: 'refused', error: 'no-filter-chain' };
    const result: InboundResult = { outcome: 'plaintext', chain: { name: chain.name, index: chain.index } };
    const terminates = chain.transport.kind === 'tls';
    if (chain.transport.kind === 'tls') {
      const tls = chain.transport.tls;
      const mtls = tls.requireClientCertificate && tls.certificateSecrets[0] === SECRET_DEFAULT;
      result.outcome = mtls ? 'terminate-mtls' : 'terminate-tls';
      if (call.tls === 'none') result.error = 'tls-error';
      else if (mtls !== (call.tls === 'mtls')) result.error = 'mtls-error';
    } else {
      result.outcome = call.tls === 'none' ? 'plaintext' : 'passthrough';
    }
    const filter = chain.filters[0];
    if (filter?.kind === 'tcp_proxy') {
      result.filter = { kind: 'tcp_proxy', cluster: filter.cluster };
    } else if (filter?.kind === 'http_connection_manager') {
      const hcm: InboundFilter & { kind: 'http_connection_manager' } = {
        kind: 'http_connection_manager',
        routeConfig: filter.routeConfigName,
      };
      result.filter = hcm;
      if (result.error) return result;
      if ((call.tls !== 'none' && !terminates) || call.protocol === 'tcp') {
        result.error = 'protocol-error';
        return result;
      }
      const vhost = new VirtualHostIndex<RouteActionConfig>(
        filter.virtualHosts,
        filter.ignorePortInHostMatching === true,
      ).find(call.host ?? 'example');
      if (vhost) {
        hcm.virtualHost = vhost.name;
        const route = selectRoute(vhost, { path: '/', header: () => undefined });
        if (route) hcm.cluster = route.action.cluster;
      }
    }
    return result;
  }
}
