// The Listener resource: addresses, listener filters, filter chains (match, transport socket, network filters)
// and the default chain, with what Envoy checks on them (a terminal filter last, no two chains with the same
// match). Filters and transport sockets are extensions (extension.ts); clusters they name are references.

import { showValue } from '../../../core/diagnostics.js';
import type { FieldPath } from '../../../core/field-path.js';
import type { Cidr } from '../../../core/ip.js';
import { ANY_MATCH, type ChainMatch, type SourceType } from '../../../policy/filter-chain-match.js';
import type { SupportTable } from '../../../xds/decode.js';
import { translateAccessLogs } from '../../access-log/config.js';
import { envoyAddressStatName, translateAddress, translateCidrs } from '../common.js';
import type { TranslateContext } from '../context.js';
import { canonicalKey, durationOr, type Json, type JsonObject, list, num, obj, str } from '../json.js';
import type {
  FilterChainConfig,
  IstioStatsConfig,
  ListenerConfig,
  ListenerFilterConfig,
  NetworkFilterConfig,
  PortPredicate,
  SocketAddress,
  TransportConfig,
} from '../model.js';

/** Envoy's default `listener_filters_timeout`. */
export const LISTENER_FILTERS_TIMEOUT_MS = 15_000;

export const LISTENER_SUPPORT: SupportTable = {
  'envoy.config.listener.v3.Listener': {
    name: 'Listener name (config dump, logs).',
    address: 'Where the listener binds.',
    additional_addresses:
      'More addresses bound by the same listener; `destination_port` and `prefix_ranges` see the one each connection arrived on.',
    stat_prefix: 'Replaces the address in `listener.<address>.*` statistics.',
    filter_chains: 'Chains chosen per connection by `filter_chain_match`.',
    default_filter_chain: 'The chain used when no filter chain matches.',
    listener_filters: '`tls_inspector`, `http_inspector`.',
    listener_filters_timeout: 'Time the listener filters may wait for bytes (default 15s; 0s: no limit).',
    continue_on_listener_filters_timeout: 'On that timeout, go on as `raw_buffer` instead of closing.',
    traffic_direction:
      'INBOUND or OUTBOUND: the reporter of Istio’s metrics (destination or source); recorded otherwise.',
    access_log:
      'A line per connection when it ends, and for one no chain matched (flag NR; Istio filters on it).',
    metadata: 'Recorded.',
  },
  'envoy.config.listener.v3.AdditionalAddress': {
    address: 'The address.',
  },
  'envoy.config.listener.v3.ListenerFilter': {
    name: 'Filter name.',
    typed_config: 'The filter configuration (an extension of category `envoy.filters.listener`).',
    filter_disabled: 'A predicate on the connection (destination port) that skips the filter.',
  },
  'envoy.config.listener.v3.ListenerFilterChainMatchPredicate': {
    or_match: 'Any of the rules.',
    and_match: 'All of the rules.',
    not_match: 'Not the rule.',
    any_match: 'Always.',
    destination_port_range: 'The connection’s destination port in [start, end).',
  },
  'envoy.config.listener.v3.ListenerFilterChainMatchPredicate.MatchSet': {
    rules: 'The rules.',
  },
  'envoy.type.v3.Int32Range': {
    start: 'Inclusive start.',
    end: 'Exclusive end.',
  },
  'envoy.config.listener.v3.FilterChain': {
    name: 'Chain name (statistics, config dump, logs).',
    filter_chain_match: 'When this chain is chosen.',
    filters:
      'Network filters (extensions of category `envoy.filters.network`): Istio’s `istio.stats` before `tcp_proxy`, or `http_connection_manager`; the terminal filter last.',
    transport_socket: 'An extension of category `envoy.transport_sockets.downstream` (TLS or raw_buffer).',
    transport_socket_connect_timeout: 'Time allowed for the downstream TLS handshake.',
    metadata: 'Recorded.',
  },
  'envoy.config.listener.v3.FilterChainMatch': {
    destination_port: 'The port the connection was made to.',
    prefix_ranges: 'The address the connection was made to.',
    server_names: 'SNI, exact or `*.suffix`.',
    transport_protocol: '`tls` or `raw_buffer` (as `tls_inspector` found it).',
    application_protocols: 'ALPN offered by the client (or found by `http_inspector`).',
    direct_source_prefix_ranges: 'The peer address of the socket.',
    source_type: 'ANY, SAME_IP_OR_LOOPBACK or EXTERNAL.',
    source_prefix_ranges: 'The client address.',
    source_ports: 'The client port.',
  },
  'envoy.config.listener.v3.Filter': {
    name: 'Filter name.',
    typed_config: 'The filter configuration (an extension of category `envoy.filters.network`).',
  },
  'envoy.config.core.v3.TransportSocket': {
    name: '`envoy.transport_sockets.tls` or `envoy.transport_sockets.raw_buffer`.',
    typed_config:
      'The socket’s configuration (`DownstreamTlsContext` on listeners, `UpstreamTlsContext` on clusters).',
  },
};

/** Translates a Listener at `path`. */
export function translateListener(l: JsonObject, path: FieldPath, ctx: TranslateContext): ListenerConfig {
  const name = str(l.name);
  if (name === '') ctx.error([...path, 'name'], 'proxy.listener', 'a listener needs a name');
  const address =
    l.address === undefined
      ? { host: '', port: 0 }
      : translateAddress(obj(l.address), [...path, 'address'], ctx);
  if (l.address === undefined)
    ctx.error([...path, 'address'], 'proxy.listener', 'a listener needs an address');
  const additionalAddresses = translateAdditionalAddresses(l, address, path, ctx);
  const listenerFilters = list(l.listener_filters).map((f, i) =>
    translateListenerFilter(obj(f), [...path, 'listener_filters', i], ctx),
  );
  ctx.direction = str(l.traffic_direction) || 'UNSPECIFIED';
  const chains = list(l.filter_chains).map((c, i) =>
    translateFilterChain(obj(c), [...path, 'filter_chains', i], i, ctx),
  );
  const defaultChain =
    l.default_filter_chain === undefined
      ? undefined
      : translateFilterChain(obj(l.default_filter_chain), [...path, 'default_filter_chain'], -1, ctx);
  overlappingMatches(list(l.filter_chains), chains, [...path, 'filter_chains'], ctx);
  if (chains.length === 0 && !defaultChain) {
    ctx.error(
      [...path, 'filter_chains'],
      'proxy.listener',
      'a listener needs at least one filter chain or a default_filter_chain',
    );
  }
  const usesTls = chains.some((c) => c.match.transportProtocol === 'tls' || c.match.serverNames.length > 0);
  if (usesTls && !listenerFilters.some((f) => f.kind === 'tls_inspector')) {
    ctx.warn(
      [...path, 'listener_filters'],
      'proxy.listener',
      'filter chains match on TLS but there is no tls_inspector: every connection will look like raw_buffer',
    );
  }
  unreachablePorts(chains, [address, ...additionalAddresses], path, ctx);
  return {
    name,
    address,
    additionalAddresses,
    statPrefix: l.stat_prefix !== undefined ? str(l.stat_prefix) : envoyAddressStatName(address),
    listenerFilters,
    listenerFiltersTimeoutMs: durationOr(l.listener_filters_timeout, LISTENER_FILTERS_TIMEOUT_MS),
    continueOnListenerFiltersTimeout: l.continue_on_listener_filters_timeout === true,
    filterChains: chains,
    defaultFilterChain: defaultChain,
    accessLogs: translateAccessLogs(l.access_log, [...path, 'access_log'], ctx),
  };
}

function translateAdditionalAddresses(
  l: JsonObject,
  address: SocketAddress,
  path: FieldPath,
  ctx: TranslateContext,
): SocketAddress[] {
  const seen = new Set([`${address.host}:${address.port}`]);
  return list(l.additional_addresses).map((a, i) => {
    const at = [...path, 'additional_addresses', i, 'address'];
    const extra = translateAddress(obj(obj(a).address), at, ctx);
    const key = `${extra.host}:${extra.port}`;
    // Envoy refuses a listener whose addresses repeat (each is bound once).
    if (seen.has(key) && extra.port !== 0) {
      ctx.error(at, 'proxy.listener', `address ${key} is already one of this listener's addresses`);
    }
    seen.add(key);
    return extra;
  });
}

/**
 * A chain matching a `destination_port` none of the listener's addresses has can never be chosen (every
 * connection arrives on one of them): Envoy loads it anyway; Skiff warns, since it is almost always a mistake.
 * A port-0 address can be any port, so it says nothing.
 */
function unreachablePorts(
  chains: FilterChainConfig[],
  addresses: SocketAddress[],
  path: FieldPath,
  ctx: TranslateContext,
): void {
  if (addresses.some((a) => a.port === 0)) return;
  const ports = new Set(addresses.map((a) => a.port));
  for (const c of chains) {
    const port = c.match.destinationPort;
    if (port !== undefined && !ports.has(port)) {
      ctx.warn(
        [...path, 'filter_chains', c.index, 'filter_chain_match', 'destination_port'],
        'proxy.unreachable-chain',
        `no address of this listener has port ${port} (it binds ${[...ports].join(', ')}) and there is no original_dst: the chain can never match`,
      );
    }
  }
}

/** A CIDR list as match-tree branches ('*' when empty). */
function cidrKeys(ranges: readonly Cidr[]): string[] {
  return ranges.length === 0 ? ['*'] : [...new Set(ranges.map((r) => `${r.bytes.join('.')}/${r.prefixLen}`))];
}

/** A list as match-tree branches ('*' when empty). */
function branches(values: readonly (string | number)[]): string[] {
  return values.length === 0 ? ['*'] : [...new Set(values.map(String))];
}

/**
 * Envoy builds a tree of the chains' criteria, one branch per listed value (a wildcard for none), and refuses a
 * listener where two chains reach the same leaf: "multiple filter chains with the same matching rules" when the
 * matches are identical, "with overlapping matching rules" when they share a leaf (filter_chain_manager_impl.cc).
 */
function overlappingMatches(
  raw: Json[],
  chains: FilterChainConfig[],
  path: FieldPath,
  ctx: TranslateContext,
): void {
  const leaves = new Map<string, number>();
  const canonical = raw.map((c) => canonicalKey(obj(c).filter_chain_match ?? {}));
  for (const c of chains) {
    const m = c.match;
    const dims = [
      [m.destinationPort === undefined ? '*' : String(m.destinationPort)],
      cidrKeys(m.prefixRanges),
      branches(m.serverNames),
      [m.transportProtocol || '*'],
      branches(m.applicationProtocols),
      cidrKeys(m.directSourcePrefixRanges),
      [m.sourceType],
      cidrKeys(m.sourcePrefixRanges),
      branches(m.sourcePorts),
    ];
    let keys = [''];
    for (const d of dims) keys = keys.flatMap((k) => d.map((v) => `${k}|${v}`));
    for (const k of keys) {
      const before = leaves.get(k);
      if (before === undefined) {
        leaves.set(k, c.index);
        continue;
      }
      const same = canonical[before] === canonical[c.index];
      ctx.error(
        [...path, c.index, 'filter_chain_match'],
        'proxy.duplicate-match',
        `multiple filter chains with ${same ? 'the same' : 'overlapping'} matching rules are defined (the same as filter_chains[${before}]${same ? '' : ` for ${k.slice(1).replace(/\|/g, ', ')}`})`,
      );
      break;
    }
  }
}

function translateListenerFilter(
  f: JsonObject,
  path: FieldPath,
  ctx: TranslateContext,
): ListenerFilterConfig {
  const kind = ctx.registry.translate('envoy.filters.listener', f, path, ctx);
  return {
    kind: kind ?? 'tls_inspector',
    name: str(f.name),
    disabled:
      f.filter_disabled === undefined
        ? undefined
        : translatePredicate(obj(f.filter_disabled), [...path, 'filter_disabled'], ctx),
  };
}

function translatePredicate(p: JsonObject, path: FieldPath, ctx: TranslateContext): PortPredicate {
  if (p.any_match === true) return { kind: 'any' };
  const rules = (set: Json | undefined, at: FieldPath) =>
    list(obj(set).rules).map((r, i) => translatePredicate(obj(r), [...at, 'rules', i], ctx));
  if (p.or_match !== undefined) return { kind: 'or', rules: rules(p.or_match, [...path, 'or_match']) };
  if (p.and_match !== undefined) return { kind: 'and', rules: rules(p.and_match, [...path, 'and_match']) };
  if (p.not_match !== undefined)
    return { kind: 'not', rule: translatePredicate(obj(p.not_match), [...path, 'not_match'], ctx) };
  const range = obj(p.destination_port_range);
  if (num(range.end) <= num(range.start)) {
    ctx.error(
      [...path, 'destination_port_range'],
      'proxy.range',
      `end ${num(range.end)} must be greater than start ${num(range.start)}`,
    );
  }
  return { kind: 'port-range', start: num(range.start), end: num(range.end) };
}

/** The chain's filters: the terminal one last; Istio's TCP istio.stats before tcp_proxy rides on it. */
function translateNetworkFilters(
  c: JsonObject,
  path: FieldPath,
  ctx: TranslateContext,
): NetworkFilterConfig[] {
  let istioStats: IstioStatsConfig | undefined;
  const filters: NetworkFilterConfig[] = [];
  const raw = list(c.filters);
  let refused = 0;
  raw.forEach((f, i) => {
    const at = [...path, 'filters', i];
    const part = ctx.registry.translate('envoy.filters.network', obj(f), at, ctx);
    if (!part) {
      refused++;
      return;
    }
    if (part.kind === 'istio.stats') {
      istioStats = part.stats;
      return;
    }
    if (i !== raw.length - 1) {
      ctx.error(
        at,
        'proxy.filter-chain',
        `${part.kind} is a terminal filter and must be the last of the chain's filters`,
      );
    }
    filters.push(part);
  });
  if (filters.length === 0 && refused === 0) {
    ctx.error(
      [...path, 'filters'],
      'proxy.filter-chain',
      'a filter chain needs a terminal network filter (tcp_proxy or http_connection_manager)',
    );
  }
  const terminal = filters[0];
  if (istioStats && terminal?.kind === 'tcp_proxy') terminal.istioStats = istioStats;
  else if (istioStats && terminal?.kind === 'http_connection_manager') {
    ctx.error(
      [...path, 'filters'],
      'proxy.filter-chain',
      'the istio.stats network filter goes with tcp_proxy; for HTTP put it in http_connection_manager.http_filters',
    );
  }
  return filters;
}

function translateTransport(c: JsonObject, path: FieldPath, ctx: TranslateContext): TransportConfig {
  if (c.transport_socket === undefined) return { kind: 'raw' };
  const at = [...path, 'transport_socket'];
  return (
    ctx.registry.translate('envoy.transport_sockets.downstream', obj(c.transport_socket), at, ctx) ?? {
      kind: 'raw',
    }
  );
}

function translateFilterChain(
  c: JsonObject,
  path: FieldPath,
  index: number,
  ctx: TranslateContext,
): FilterChainConfig {
  return {
    name: c.name === undefined ? (index < 0 ? 'default' : `#${index}`) : str(c.name),
    index,
    match: translateChainMatch(obj(c.filter_chain_match), [...path, 'filter_chain_match'], ctx),
    transport: translateTransport(c, path, ctx),
    filters: translateNetworkFilters(c, path, ctx),
    handshakeTimeoutMs: durationOr(c.transport_socket_connect_timeout, 0),
  };
}

function translateChainMatch(m: JsonObject, path: FieldPath, ctx: TranslateContext): ChainMatch {
  const serverNames = list(m.server_names).map(str);
  serverNames.forEach((n, i) => {
    if (n.includes('*') && !(n.startsWith('*.') && !n.slice(2).includes('*'))) {
      ctx.error(
        [...path, 'server_names', i],
        'proxy.server-name',
        `${showValue(n)}: a wildcard is only allowed as the first label ("*.example.com")`,
      );
    }
  });
  return {
    ...ANY_MATCH,
    ...(m.destination_port === undefined ? {} : { destinationPort: num(m.destination_port) }),
    prefixRanges: translateCidrs(m.prefix_ranges, [...path, 'prefix_ranges'], ctx),
    serverNames: serverNames.map((n) => n.toLowerCase()),
    transportProtocol: str(m.transport_protocol),
    applicationProtocols: list(m.application_protocols).map(str),
    directSourcePrefixRanges: translateCidrs(
      m.direct_source_prefix_ranges,
      [...path, 'direct_source_prefix_ranges'],
      ctx,
    ),
    sourceType: (str(m.source_type) || 'ANY') as SourceType,
    sourcePrefixRanges: translateCidrs(m.source_prefix_ranges, [...path, 'source_prefix_ranges'], ctx),
    sourcePorts: list(m.source_ports).map(num),
  };
}
