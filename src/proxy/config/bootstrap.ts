// Compiles a decoded Envoy v3 Bootstrap (canonical proto3 JSON, see xds/decode.ts) into what the data path
// runs (model.ts), checking what decoding cannot: values the proxy implements only in part, references between
// resources, duplicate names and duplicate filter-chain matches, Envoy's defaults. Pure: data sources stay
// references here; load.ts reads them.

import { getCiphers } from 'node:tls';
import { re2Problem } from '../../config/kinds/virtual-service-match.js';
import type { Diagnostic } from '../../core/diagnostics.js';
import { showValue } from '../../core/diagnostics.js';
import { type FieldPath, formatPath } from '../../core/field-path.js';
import { type Cidr, parseCidr, parseIp } from '../../core/ip.js';
import { ANY_MATCH, type ChainMatch, type SourceType } from '../../policy/filter-chain-match.js';
import type { HeaderCheck, PathCheck, RouteEntry } from '../../policy/routes.js';
import { durationMs, type Json, type JsonObject } from '../../xds/decode.js';
import { type NodeMetadata, NodeMetadataError, parseNodeMetadata } from '../telemetry/workload.js';
import type {
  ClusterConfig,
  CommonTlsConfig,
  DataSource,
  DownstreamTlsConfig,
  EndpointConfig,
  FilterChainConfig,
  HttpConnectionManagerConfig,
  IstioStatsConfig,
  ListenerConfig,
  ListenerFilterConfig,
  NetworkFilterConfig,
  NodeInfo,
  PeerMetadataConfig,
  PortPredicate,
  ProxyConfig,
  RouteActionConfig,
  SanMatcher,
  SanType,
  SecretConfig,
  SocketAddress,
  StringMatch,
  TlsCertificateConfig,
  TlsParams,
  TlsVersion,
  TransportConfig,
  TransportSocketMatch,
  UpstreamTransport,
  ValidationContextConfig,
} from './model.js';

const TYPE = {
  tlsInspector: 'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  httpInspector: 'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  tcpProxy: 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  downstreamTls: 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  upstreamTls: 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  hcm: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  router: 'envoy.extensions.filters.http.router.v3.Router',
  rawBuffer: 'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  httpProtocolOptions: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  typedStructV1: 'udpa.type.v1.TypedStruct',
  typedStructV3: 'xds.type.v3.TypedStruct',
};

/** Istio's own filters, which Envoy receives as TypedStructs (their protos are not Envoy's). */
const ISTIO_TYPE = {
  stats: 'stats.PluginConfig',
  peerMetadata: 'io.istio.http.peer_metadata.Config',
};

/** Istio's default `tcp_reporting_duration`. */
const TCP_REPORTING_MS = 5_000;

/** Names Envoy (and older configs) use for the extensions, when no typed_config says which. */
const LISTENER_FILTER_NAMES: Record<string, ListenerFilterConfig['kind']> = {
  'envoy.filters.listener.tls_inspector': 'tls_inspector',
  'envoy.listener.tls_inspector': 'tls_inspector',
  'envoy.filters.listener.http_inspector': 'http_inspector',
  'envoy.listener.http_inspector': 'http_inspector',
};

/** Envoy's defaults. */
export const DEFAULTS = {
  listenerFiltersTimeoutMs: 15_000,
  tcpIdleTimeoutMs: 3_600_000,
  connectTimeoutMs: 5_000,
  /** Envoy's server-side cipher list for TLS 1.2 (BoringSSL equal-preference groups flattened). */
  ciphers: [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-RSA-CHACHA20-POLY1305',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
  ],
  curves: ['X25519', 'P-256'],
};

const CURVES = new Set(['X25519', 'P-256', 'P-384', 'P-521']);
const VERSIONS: Record<string, TlsVersion | undefined> = {
  TLS_AUTO: undefined,
  TLSv1_0: 'TLSv1',
  TLSv1_1: 'TLSv1.1',
  TLSv1_2: 'TLSv1.2',
  TLSv1_3: 'TLSv1.3',
};
const VERSION_ORDER: TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export interface CompileOptions {
  /** Secret names something other than static_resources provides (the agent: `default`, `ROOTCA`). */
  providedSecrets?: readonly string[];
}

export interface CompileResult {
  config: ProxyConfig | undefined;
  diagnostics: Diagnostic[];
}

function obj(v: Json | undefined): JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
}
function list(v: Json | undefined): Json[] {
  return Array.isArray(v) ? v : [];
}
function str(v: Json | undefined): string {
  return typeof v === 'string' ? v : '';
}
function num(v: Json | undefined): number {
  return typeof v === 'number' ? v : 0;
}
function typeOf(any: JsonObject): string {
  const url = str(any['@type']);
  return url.slice(url.lastIndexOf('/') + 1);
}

/** The inner type of a TypedStruct (`stats.PluginConfig`), or '' when `any` is not one. */
function typedStructOf(any: JsonObject): string {
  const t = typeOf(any);
  if (t !== TYPE.typedStructV1 && t !== TYPE.typedStructV3) return '';
  const url = str(any.type_url);
  return url.slice(url.lastIndexOf('/') + 1);
}

/** A duration from free JSON (a Struct has no Duration type): NaN when it is not one. */
function safeDuration(text: string): number {
  try {
    return durationMs(text);
  } catch {
    return Number.NaN;
  }
}

/** A field's proto name from either of its proto3 JSON spellings (`tcpReportingDuration` → `tcp_reporting_duration`). */
function protoName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A proto3 JSON field by its proto name or its lowerCamelCase JSON name (a Struct keeps either). */
function field(o: JsonObject, name: string): Json | undefined {
  return o[name] ?? o[name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())];
}

class Compiler {
  readonly diagnostics: Diagnostic[] = [];
  private secretNames = new Set<string>();
  /** Secrets made from inline certificates and validation contexts. */
  private readonly inlineSecrets: SecretConfig[] = [];

  constructor(private readonly options: CompileOptions) {}

  error(path: FieldPath, code: string, message: string): void {
    this.diagnostics.push({ severity: 'error', code, message, path: [...path] });
  }
  warn(path: FieldPath, code: string, message: string): void {
    this.diagnostics.push({ severity: 'warning', code, message, path: [...path] });
  }

  bootstrap(b: JsonObject): ProxyConfig {
    const sr = obj(b.static_resources);
    const secrets = list(sr.secrets).map((s, i) => this.secret(obj(s), ['static_resources', 'secrets', i]));
    this.unique(secrets, ['static_resources', 'secrets'], 'secret');
    this.secretNames = new Set([...secrets.map((s) => s.name), ...(this.options.providedSecrets ?? [])]);
    const clusters = list(sr.clusters).map((c, i) =>
      this.cluster(obj(c), ['static_resources', 'clusters', i]),
    );
    this.unique(clusters, ['static_resources', 'clusters'], 'cluster');
    const clusterNames = new Set(clusters.map((c) => c.name));
    const listeners = list(sr.listeners).map((l, i) =>
      this.listener(obj(l), ['static_resources', 'listeners', i], clusterNames),
    );
    this.unique(listeners, ['static_resources', 'listeners'], 'listener');
    const adminAddress = obj(b.admin).address;
    return {
      node: this.node(obj(b.node)),
      admin: adminAddress === undefined ? undefined : this.address(obj(adminAddress), ['admin', 'address']),
      listeners,
      clusters,
      secrets: [...secrets, ...this.inlineSecrets],
      bootstrap: b,
    };
  }

  private unique(items: { name: string }[], path: FieldPath, what: string): void {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const before = seen.get(item.name);
      if (before !== undefined) {
        this.error(
          [...path, i, 'name'],
          'proxy.duplicate',
          `${what} name ${showValue(item.name)} is already used at [${before}]`,
        );
      } else seen.set(item.name, i);
    });
  }

  /** The node; its metadata is read as Istio writes it (telemetry/workload.ts), every bad value an error. */
  private node(n: JsonObject): NodeInfo {
    const metadata = obj(n.metadata);
    let parsed: NodeMetadata;
    try {
      parsed = parseNodeMetadata(metadata);
    } catch (e) {
      if (!(e instanceof NodeMetadataError)) throw e;
      for (const issue of e.issues) this.error(issue.path, 'proxy.node', issue.message);
      parsed = parseNodeMetadata({});
    }
    return {
      id: str(n.id),
      cluster: str(n.cluster),
      metadata,
      parsed,
      namespace: parsed.namespace,
      serviceAccount: parsed.serviceAccount,
      workloadName: parsed.workloadName,
      labels: { ...parsed.labels },
    };
  }

  address(a: JsonObject, path: FieldPath): SocketAddress {
    const sa = a.socket_address;
    if (sa === undefined) {
      this.error(
        path,
        'proxy.address',
        'socket_address is required (pipes and internal addresses are not implemented)',
      );
      return { host: '', port: 0 };
    }
    const s = obj(sa);
    const at = [...path, 'socket_address'];
    const host = str(s.address);
    if (parseIp(host) === undefined) {
      this.error([...at, 'address'], 'proxy.address', `${showValue(host)} is not an IP address`);
    }
    if (s.protocol !== undefined && s.protocol !== 'TCP') {
      this.error(
        [...at, 'protocol'],
        'proxy.unsupported',
        `protocol ${showValue(s.protocol)} is not implemented; only TCP`,
      );
    }
    if (s.port_value === undefined)
      this.error([...at, 'port_value'], 'proxy.address', 'port_value is required');
    return { host, port: num(s.port_value) };
  }

  private listener(l: JsonObject, path: FieldPath, clusters: Set<string>): ListenerConfig {
    const name = str(l.name);
    if (name === '') this.error([...path, 'name'], 'proxy.listener', 'a listener needs a name');
    const address = this.address(obj(l.address), [...path, 'address']);
    if (l.address === undefined)
      this.error([...path, 'address'], 'proxy.listener', 'a listener needs an address');
    const statPrefix = l.stat_prefix !== undefined ? str(l.stat_prefix) : envoyAddressStatName(address);
    const listenerFilters = list(l.listener_filters).map((f, i) =>
      this.listenerFilter(obj(f), [...path, 'listener_filters', i]),
    );
    const direction = str(l.traffic_direction) || 'UNSPECIFIED';
    const chains = list(l.filter_chains).map((c, i) =>
      this.filterChain(obj(c), [...path, 'filter_chains', i], i, clusters, direction),
    );
    this.duplicateMatches(list(l.filter_chains), [...path, 'filter_chains']);
    const defaultChain =
      l.default_filter_chain === undefined
        ? undefined
        : this.filterChain(
            obj(l.default_filter_chain),
            [...path, 'default_filter_chain'],
            -1,
            clusters,
            direction,
          );
    if (chains.length === 0 && !defaultChain) {
      this.error(
        [...path, 'filter_chains'],
        'proxy.listener',
        'a listener needs at least one filter chain or a default_filter_chain',
      );
    }
    const usesTls = chains.some((c) => c.match.transportProtocol === 'tls' || c.match.serverNames.length > 0);
    if (usesTls && !listenerFilters.some((f) => f.kind === 'tls_inspector')) {
      this.warn(
        [...path, 'listener_filters'],
        'proxy.listener',
        'filter chains match on TLS but there is no tls_inspector: every connection will look like raw_buffer',
      );
    }
    return {
      name,
      address,
      statPrefix,
      listenerFilters,
      listenerFiltersTimeoutMs:
        l.listener_filters_timeout === undefined
          ? DEFAULTS.listenerFiltersTimeoutMs
          : durationMs(str(l.listener_filters_timeout)),
      continueOnListenerFiltersTimeout: l.continue_on_listener_filters_timeout === true,
      filterChains: chains,
      defaultFilterChain: defaultChain,
    };
  }

  /** Envoy refuses two chains with the same match ("multiple filter chains with the same matching rules"). */
  private duplicateMatches(chains: Json[], path: FieldPath): void {
    const seen = new Map<string, number>();
    chains.forEach((c, i) => {
      const key = canonicalKey(obj(c).filter_chain_match ?? {});
      const before = seen.get(key);
      if (before !== undefined) {
        this.error(
          [...path, i, 'filter_chain_match'],
          'proxy.duplicate-match',
          `multiple filter chains with the same matching rules are defined (the same as filter_chains[${before}])`,
        );
      } else seen.set(key, i);
    });
  }

  private listenerFilter(f: JsonObject, path: FieldPath): ListenerFilterConfig {
    const name = str(f.name);
    const typed = f.typed_config === undefined ? undefined : obj(f.typed_config);
    let kind: ListenerFilterConfig['kind'] | undefined;
    if (typed) {
      const t = typeOf(typed);
      kind =
        t === TYPE.tlsInspector ? 'tls_inspector' : t === TYPE.httpInspector ? 'http_inspector' : undefined;
      if (!kind)
        this.error([...path, 'typed_config'], 'proxy.unsupported', `listener filter ${t} is not implemented`);
    } else {
      kind = LISTENER_FILTER_NAMES[name];
      if (!kind)
        this.error(
          [...path, 'name'],
          'proxy.unsupported',
          `listener filter ${showValue(name)} is not implemented; expected tls_inspector or http_inspector`,
        );
    }
    return {
      kind: kind ?? 'tls_inspector',
      name,
      disabled:
        f.filter_disabled === undefined
          ? undefined
          : this.predicate(obj(f.filter_disabled), [...path, 'filter_disabled']),
    };
  }

  private predicate(p: JsonObject, path: FieldPath): PortPredicate {
    if (p.any_match === true) return { kind: 'any' };
    if (p.or_match !== undefined) {
      return {
        kind: 'or',
        rules: list(obj(p.or_match).rules).map((r, i) =>
          this.predicate(obj(r), [...path, 'or_match', 'rules', i]),
        ),
      };
    }
    if (p.and_match !== undefined) {
      return {
        kind: 'and',
        rules: list(obj(p.and_match).rules).map((r, i) =>
          this.predicate(obj(r), [...path, 'and_match', 'rules', i]),
        ),
      };
    }
    if (p.not_match !== undefined)
      return { kind: 'not', rule: this.predicate(obj(p.not_match), [...path, 'not_match']) };
    const range = obj(p.destination_port_range);
    if (num(range.end) <= num(range.start)) {
      this.error(
        [...path, 'destination_port_range'],
        'proxy.range',
        `end ${num(range.end)} must be greater than start ${num(range.start)}`,
      );
    }
    return { kind: 'port-range', start: num(range.start), end: num(range.end) };
  }

  private filterChain(
    c: JsonObject,
    path: FieldPath,
    index: number,
    clusters: Set<string>,
    direction: string,
  ): FilterChainConfig {
    // Istio's TCP `istio.stats` filter sits before tcp_proxy; it becomes part of the terminal filter's config.
    let istioStats: IstioStatsConfig | undefined;
    const filters: NetworkFilterConfig[] = [];
    const raw = list(c.filters);
    raw.forEach((f, i) => {
      const at = [...path, 'filters', i];
      const typed = obj(obj(f).typed_config);
      if (typedStructOf(typed) === ISTIO_TYPE.stats) {
        istioStats = this.istioStats(typed, [...at, 'typed_config'], direction);
        return;
      }
      const filter = this.networkFilter(obj(f), at, clusters, direction);
      if (i !== raw.length - 1) {
        this.error(
          at,
          'proxy.filter-chain',
          `${filter.kind} is a terminal filter and must be the last of the chain's filters`,
        );
      }
      filters.push(filter);
    });
    if (filters.length === 0)
      this.error(
        [...path, 'filters'],
        'proxy.filter-chain',
        'a filter chain needs a terminal network filter (tcp_proxy or http_connection_manager)',
      );
    const terminal = filters[0];
    if (istioStats && terminal?.kind === 'tcp_proxy') terminal.istioStats = istioStats;
    else if (istioStats && terminal?.kind === 'http_connection_manager') {
      this.error(
        [...path, 'filters'],
        'proxy.filter-chain',
        'the istio.stats network filter goes with tcp_proxy; for HTTP put it in http_connection_manager.http_filters',
      );
    }
    const name = c.name === undefined ? (index < 0 ? 'default' : `#${index}`) : str(c.name);
    return {
      name,
      index,
      match: this.chainMatch(obj(c.filter_chain_match), [...path, 'filter_chain_match']),
      transport: this.transport(c.transport_socket === undefined ? undefined : obj(c.transport_socket), [
        ...path,
        'transport_socket',
      ]),
      filters,
      handshakeTimeoutMs:
        c.transport_socket_connect_timeout === undefined
          ? 0
          : durationMs(str(c.transport_socket_connect_timeout)),
    };
  }

  private cidrs(v: Json | undefined, path: FieldPath): Cidr[] {
    const out: Cidr[] = [];
    list(v).forEach((r, i) => {
      const range = obj(r);
      const address = str(range.address_prefix);
      // Envoy reads prefix_len as a UInt32Value's value: unset is 0, a range matching every address of the family.
      const prefixLen = num(range.prefix_len);
      const cidr = parseCidr(address, prefixLen);
      if (!cidr)
        this.error(
          [...path, i],
          'proxy.cidr',
          `${showValue(`${address}/${prefixLen}`)} is not a valid CIDR range`,
        );
      else out.push(cidr);
    });
    return out;
  }

  private chainMatch(m: JsonObject, path: FieldPath): ChainMatch {
    const serverNames = list(m.server_names).map(str);
    serverNames.forEach((n, i) => {
      if (n.includes('*') && !(n.startsWith('*.') && !n.slice(2).includes('*'))) {
        this.error(
          [...path, 'server_names', i],
          'proxy.server-name',
          `${showValue(n)}: a wildcard is only allowed as the first label ("*.example.com")`,
        );
      }
    });
    return {
      ...ANY_MATCH,
      ...(m.destination_port === undefined ? {} : { destinationPort: num(m.destination_port) }),
      prefixRanges: this.cidrs(m.prefix_ranges, [...path, 'prefix_ranges']),
      serverNames: serverNames.map((n) => n.toLowerCase()),
      transportProtocol: str(m.transport_protocol),
      applicationProtocols: list(m.application_protocols).map(str),
      directSourcePrefixRanges: this.cidrs(m.direct_source_prefix_ranges, [
        ...path,
        'direct_source_prefix_ranges',
      ]),
      sourceType: (str(m.source_type) || 'ANY') as SourceType,
      sourcePrefixRanges: this.cidrs(m.source_prefix_ranges, [...path, 'source_prefix_ranges']),
      sourcePorts: list(m.source_ports).map(num),
    };
  }

  private networkFilter(
    f: JsonObject,
    path: FieldPath,
    clusters: Set<string>,
    direction: string,
  ): NetworkFilterConfig {
    const typed = obj(f.typed_config);
    const t = typeOf(typed);
    const at = [...path, 'typed_config'];
    if (t === TYPE.hcm) return this.httpConnectionManager(typed, at, clusters, direction);
    if (t !== TYPE.tcpProxy) {
      this.error(
        [...path, f.typed_config === undefined ? 'name' : 'typed_config'],
        'proxy.unsupported',
        f.typed_config === undefined
          ? `network filter ${showValue(f.name)} needs a typed_config`
          : `network filter ${typedStructOf(typed) || t} is not implemented; expected TcpProxy, HttpConnectionManager or Istio's stats.PluginConfig`,
      );
    }
    const cluster = str(typed.cluster);
    if (t === TYPE.tcpProxy && cluster === '') {
      this.error(
        [...at, 'cluster'],
        'proxy.unsupported',
        'tcp_proxy needs a cluster (weighted_clusters and on-demand are not implemented)',
      );
    } else if (t === TYPE.tcpProxy)
      this.clusterKnown(cluster, clusters, [...at, 'cluster'], 'tcp.*.downstream_cx_no_route');
    return {
      kind: 'tcp_proxy',
      statPrefix: str(typed.stat_prefix),
      cluster,
      idleTimeoutMs:
        typed.idle_timeout === undefined ? DEFAULTS.tcpIdleTimeoutMs : durationMs(str(typed.idle_timeout)),
      istioStats: undefined,
    };
  }

  /** A TypedStruct's value may carry only the fields Skiff honours (by proto or JSON name); others are errors. */
  private onlyFields(v: JsonObject, at: FieldPath, type: string, known: readonly string[]): void {
    for (const k of Object.keys(v)) {
      if (!known.includes(protoName(k))) {
        this.error(
          [...at, k],
          'proxy.unsupported',
          `${type} field ${k} is not implemented; Skiff honours ${known.join(', ')}`,
        );
      }
    }
  }

  /** Istio's `istio.stats` (stats.PluginConfig as a TypedStruct): the reporter comes from the listener. */
  private istioStats(typed: JsonObject, path: FieldPath, direction: string): IstioStatsConfig {
    const v = obj(typed.value);
    const at = [...path, 'value'];
    this.onlyFields(v, at, 'stats.PluginConfig', [
      'reporter',
      'tcp_reporting_duration',
      'disable_host_header_fallback',
    ]);
    const reporterField = field(v, 'reporter');
    if (reporterField !== undefined && reporterField !== 'UNSPECIFIED' && reporterField !== 0) {
      this.error(
        [...at, 'reporter'],
        'proxy.unsupported',
        `reporter ${showValue(reporterField)} is not implemented; expected UNSPECIFIED (from the listener's traffic_direction)`,
      );
    }
    if (direction !== 'INBOUND' && direction !== 'OUTBOUND') {
      this.error(
        path,
        'proxy.istio-stats',
        `istio.stats needs the listener's traffic_direction INBOUND (reporter="destination") or OUTBOUND (reporter="source"), got ${direction}`,
      );
    }
    const duration = field(v, 'tcp_reporting_duration');
    let tcpReportingMs = TCP_REPORTING_MS;
    if (duration !== undefined) {
      tcpReportingMs = typeof duration === 'string' ? safeDuration(duration) : Number.NaN;
      if (!(tcpReportingMs > 0)) {
        this.error(
          [...at, 'tcp_reporting_duration'],
          'proxy.istio-stats',
          `tcp_reporting_duration ${showValue(duration)} is not a positive duration such as "5s"`,
        );
        tcpReportingMs = TCP_REPORTING_MS;
      }
    }
    const fallback = field(v, 'disable_host_header_fallback');
    if (fallback !== undefined && typeof fallback !== 'boolean') {
      this.error(
        [...at, 'disable_host_header_fallback'],
        'proxy.istio-stats',
        `disable_host_header_fallback must be true or false, got ${showValue(fallback)}`,
      );
    }
    return {
      reporter: direction === 'OUTBOUND' ? 'source' : 'destination',
      tcpReportingMs,
      disableHostHeaderFallback: fallback === true,
    };
  }

  /** Istio's `istio.metadata_exchange` HTTP filter: only the `istio_headers` method exists in sidecars. */
  private peerMetadata(typed: JsonObject, path: FieldPath): PeerMetadataConfig {
    const v = obj(typed.value);
    const at = [...path, 'value'];
    const lists = [
      'downstream_discovery',
      'downstream_propagation',
      'upstream_discovery',
      'upstream_propagation',
    ];
    this.onlyFields(v, at, 'peer_metadata.Config', lists);
    const uses = (name: string): boolean => {
      const methods = field(v, name);
      if (methods === undefined) return false;
      if (!Array.isArray(methods)) {
        this.error([...at, name], 'proxy.type', `${name} must be a list, got ${showValue(methods)}`);
        return false;
      }
      methods.forEach((m, i) => {
        const keys = Object.keys(obj(m));
        if (keys.length !== 1 || field(obj(m), 'istio_headers') === undefined) {
          this.error(
            [...at, name, i],
            'proxy.unsupported',
            `method ${showValue(m)} is not implemented; expected {istio_headers: {}}`,
          );
        }
      });
      return methods.length > 0;
    };
    return {
      downstreamDiscovery: uses('downstream_discovery'),
      downstreamPropagation: uses('downstream_propagation'),
      upstreamDiscovery: uses('upstream_discovery'),
      upstreamPropagation: uses('upstream_propagation'),
    };
  }

  /** Envoy allows a reference to a cluster that may arrive later; in a static bootstrap it is worth a warning. */
  private clusterKnown(cluster: string, clusters: Set<string>, path: FieldPath, counted: string): void {
    if (!clusters.has(cluster)) {
      this.warn(
        path,
        'proxy.cluster',
        `cluster ${showValue(cluster)} is not defined: its traffic will be refused (${counted})`,
      );
    }
  }

  private httpConnectionManager(
    h: JsonObject,
    path: FieldPath,
    clusters: Set<string>,
    direction: string,
  ): HttpConnectionManagerConfig {
    const codec = str(h.codec_type) || 'AUTO';
    if (codec !== 'AUTO' && codec !== 'HTTP1' && codec !== 'HTTP2') {
      this.error(
        [...path, 'codec_type'],
        'proxy.unsupported',
        `codec_type ${codec} is not implemented; expected AUTO, HTTP1 or HTTP2`,
      );
    }
    if (h.route_config === undefined) {
      this.error(
        [...path, 'route_config'],
        'proxy.required',
        'route_config is required (RDS is not implemented yet)',
      );
    }
    const filters = list(h.http_filters);
    let istioStats: IstioStatsConfig | undefined;
    let peerMetadata: PeerMetadataConfig | undefined;
    filters.forEach((f, i) => {
      const at = [...path, 'http_filters', i];
      const typed = obj(obj(f).typed_config);
      const t = typeOf(typed);
      const inner = typedStructOf(typed);
      const last = i === filters.length - 1;
      if (t === TYPE.router) {
        if (!last) this.error(at, 'proxy.filter-order', 'the router must be the last HTTP filter');
      } else if (inner === ISTIO_TYPE.stats) {
        istioStats = this.istioStats(typed, [...at, 'typed_config'], direction);
      } else if (inner === ISTIO_TYPE.peerMetadata) {
        peerMetadata = this.peerMetadata(typed, [...at, 'typed_config']);
      } else {
        this.error(
          at,
          'proxy.unsupported',
          `HTTP filter ${showValue(obj(f).name)} (${inner || t || 'no typed_config'}) is not implemented; expected istio.metadata_exchange, istio.stats or envoy.filters.http.router`,
        );
      }
      if (last && t !== TYPE.router) {
        this.error(
          [...path, 'http_filters'],
          'proxy.required',
          'the router filter (envoy.filters.http.router) must be the last HTTP filter',
        );
      }
    });
    if (filters.length === 0)
      this.error(
        [...path, 'http_filters'],
        'proxy.required',
        'the router filter (envoy.filters.http.router) is required',
      );
    const rc = obj(h.route_config);
    const virtualHosts = list(rc.virtual_hosts).map((v, i) => {
      const vh = obj(v);
      const at = [...path, 'route_config', 'virtual_hosts', i];
      return {
        name: str(vh.name),
        domains: list(vh.domains).map(str),
        routes: list(vh.routes).map((r, j) => this.route(obj(r), [...at, 'routes', j], clusters)),
      };
    });
    const details = obj(h.set_current_client_cert_details);
    return {
      kind: 'http_connection_manager',
      statPrefix: str(h.stat_prefix),
      codec: codec === 'HTTP1' || codec === 'HTTP2' ? codec : 'AUTO',
      routeConfigName: str(rc.name),
      virtualHosts,
      forwardClientCertDetails: (str(h.forward_client_cert_details) ||
        'SANITIZE') as HttpConnectionManagerConfig['forwardClientCertDetails'],
      clientCertDetails: {
        subject: details.subject === true,
        cert: details.cert === true,
        chain: details.chain === true,
        dns: details.dns === true,
        uri: details.uri === true,
      },
      maxRequestHeadersKb: h.max_request_headers_kb === undefined ? 60 : num(h.max_request_headers_kb),
      requestHeadersTimeoutMs:
        h.request_headers_timeout === undefined ? 0 : durationMs(str(h.request_headers_timeout)),
      streamIdleTimeoutMs:
        h.stream_idle_timeout === undefined ? 300_000 : durationMs(str(h.stream_idle_timeout)),
      upgrades: list(h.upgrade_configs)
        .map(obj)
        .filter((u) => u.enabled !== false)
        .map((u) => str(u.upgrade_type).toLowerCase()),
      istioStats,
      peerMetadata,
    };
  }

  private route(r: JsonObject, path: FieldPath, clusters: Set<string>): RouteEntry<RouteActionConfig> {
    const m = obj(r.match);
    const mp = [...path, 'match'];
    let pathCheck: PathCheck;
    if (m.prefix !== undefined) pathCheck = { kind: 'prefix', value: str(m.prefix) };
    else if (m.path !== undefined) pathCheck = { kind: 'path', value: str(m.path) };
    else if (m.path_separated_prefix !== undefined)
      pathCheck = { kind: 'separated-prefix', value: str(m.path_separated_prefix) };
    else if (m.safe_regex !== undefined) {
      const sm = this.stringMatch({ safe_regex: m.safe_regex }, [...mp]);
      pathCheck = { kind: 'regex', value: sm.value, ...(sm.regex ? { regex: sm.regex } : {}) };
    } else {
      this.error(
        mp,
        'proxy.required',
        'a route match needs prefix, path, path_separated_prefix or safe_regex',
      );
      pathCheck = { kind: 'prefix', value: '/' };
    }
    const headers: HeaderCheck[] = list(m.headers).map((x, i) => {
      const hm = obj(x);
      const at = [...mp, 'headers', i];
      const legacy: [string, string][] = [
        ['exact_match', 'exact'],
        ['prefix_match', 'prefix'],
        ['suffix_match', 'suffix'],
        ['contains_match', 'contains'],
        ['safe_regex_match', 'safe_regex'],
      ];
      let check: StringMatch | undefined;
      if (hm.string_match !== undefined)
        check = this.stringMatch(obj(hm.string_match), [...at, 'string_match']);
      for (const [field, kind] of legacy) {
        if (hm[field] !== undefined)
          check = this.stringMatch({ [kind]: hm[field] } as JsonObject, [...at, field]);
      }
      return {
        name: str(hm.name).toLowerCase(),
        check,
        present: hm.present_match === true || (check === undefined && hm.present_match === undefined),
        invert: hm.invert_match === true,
      };
    });
    const queryParameters = list(m.query_parameters).map((x, i) => {
      const q = obj(x);
      return {
        name: str(q.name),
        check:
          q.string_match === undefined
            ? undefined
            : this.stringMatch(obj(q.string_match), [...mp, 'query_parameters', i, 'string_match']),
      };
    });
    const action = obj(r.route);
    if (r.route === undefined)
      this.error(
        path,
        'proxy.required',
        'a route needs a route action (redirect and direct_response are not implemented)',
      );
    const cluster = str(action.cluster);
    if (r.route !== undefined && cluster === '') {
      this.error(
        [...path, 'route', 'cluster'],
        'proxy.required',
        'a route action needs a cluster (weighted_clusters and cluster_header are not implemented)',
      );
    } else if (r.route !== undefined)
      this.clusterKnown(cluster, clusters, [...path, 'route', 'cluster'], '503 NC');
    return {
      name: str(r.name),
      match: {
        path: pathCheck,
        caseSensitive: m.case_sensitive !== false,
        headers,
        queryParameters,
      },
      action: { cluster, timeoutMs: action.timeout === undefined ? 15_000 : durationMs(str(action.timeout)) },
    };
  }

  /**
   * A transport socket: undefined for raw_buffer (or none), else the TLS context's typed_config — which must be
   * `tlsType`, the context this side takes (DownstreamTlsContext on listeners, UpstreamTlsContext on clusters).
   */
  private tlsTypedConfig(
    ts: JsonObject | undefined,
    path: FieldPath,
    tlsType: string,
    side: 'listener' | 'cluster',
  ): JsonObject | undefined {
    if (!ts) return undefined;
    const name = str(ts.name);
    if (ts.typed_config === undefined) {
      if (name !== 'envoy.transport_sockets.raw_buffer' && name !== 'raw_buffer') {
        this.error(
          [...path, 'typed_config'],
          'proxy.transport',
          `transport socket ${showValue(name)} needs a typed_config`,
        );
      }
      return undefined;
    }
    const typed = obj(ts.typed_config);
    const t = typeOf(typed);
    if (t === TYPE.rawBuffer) return undefined;
    if (t !== tlsType) {
      const expected = tlsType.slice(tlsType.lastIndexOf('.') + 1);
      this.error(
        [...path, 'typed_config'],
        'proxy.unsupported',
        `transport socket ${t} is not implemented on a ${side}; expected ${expected} or RawBuffer`,
      );
      return undefined;
    }
    return typed;
  }

  private transport(ts: JsonObject | undefined, path: FieldPath): TransportConfig {
    const typed = this.tlsTypedConfig(ts, path, TYPE.downstreamTls, 'listener');
    return typed
      ? { kind: 'tls', tls: this.downstreamTls(typed, [...path, 'typed_config']) }
      : { kind: 'raw' };
  }

  /** CommonTlsContext, shared by both sides; `side` picks Envoy's defaults (a client's maximum is TLS 1.2). */
  private commonTls(common: JsonObject, at: FieldPath, side: 'server' | 'client'): CommonTlsConfig {
    const certificateSecrets = [
      ...list(common.tls_certificates).map((c, i) => {
        const where = [...at, 'tls_certificates', i];
        return this.inlineSecret({ tlsCertificate: this.tlsCertificate(obj(c), where) }, where);
      }),
      ...list(common.tls_certificate_sds_secret_configs).map((s, i) =>
        this.secretName(obj(s), [...at, 'tls_certificate_sds_secret_configs', i]),
      ),
    ];
    const validationSecrets: string[] = [];
    if (common.validation_context !== undefined) {
      const where = [...at, 'validation_context'];
      validationSecrets.push(
        this.inlineSecret(
          { validationContext: this.validationContext(obj(common.validation_context), where) },
          where,
        ),
      );
    } else if (common.validation_context_sds_secret_config !== undefined) {
      validationSecrets.push(
        this.secretName(obj(common.validation_context_sds_secret_config), [
          ...at,
          'validation_context_sds_secret_config',
        ]),
      );
    } else if (common.combined_validation_context !== undefined) {
      const combined = obj(common.combined_validation_context);
      const cat = [...at, 'combined_validation_context'];
      const where = [...cat, 'default_validation_context'];
      validationSecrets.push(
        this.inlineSecret(
          { validationContext: this.validationContext(obj(combined.default_validation_context), where) },
          where,
        ),
      );
      if (combined.validation_context_sds_secret_config === undefined) {
        this.error(
          [...cat, 'validation_context_sds_secret_config'],
          'proxy.required',
          'validation_context_sds_secret_config is required',
        );
      } else {
        validationSecrets.push(
          this.secretName(obj(combined.validation_context_sds_secret_config), [
            ...cat,
            'validation_context_sds_secret_config',
          ]),
        );
      }
    }
    return {
      alpn: list(common.alpn_protocols).map(str),
      params: this.tlsParams(obj(common.tls_params), [...at, 'tls_params'], side),
      certificateSecrets,
      validationSecrets,
    };
  }

  private downstreamTls(d: JsonObject, path: FieldPath): DownstreamTlsConfig {
    const at = [...path, 'common_tls_context'];
    const common = this.commonTls(obj(d.common_tls_context), at, 'server');
    if (common.certificateSecrets.length === 0) {
      this.error(
        at,
        'proxy.tls',
        'a server TLS context needs a certificate: tls_certificates or tls_certificate_sds_secret_configs',
      );
    }
    return {
      ...common,
      requireClientCertificate: d.require_client_certificate === true,
      sessionTickets: d.disable_stateless_session_resumption !== true,
    };
  }

  private upstreamTransport(ts: JsonObject | undefined, path: FieldPath): UpstreamTransport {
    const typed = this.tlsTypedConfig(ts, path, TYPE.upstreamTls, 'cluster');
    if (!typed) return { kind: 'raw' };
    const at = [...path, 'typed_config'];
    const common = this.commonTls(obj(typed.common_tls_context), [...at, 'common_tls_context'], 'client');
    return { kind: 'tls', tls: { ...common, sni: str(typed.sni) } };
  }

  /** Inline material becomes a secret named after where it was written, so one code path serves both. */
  private inlineSecret(content: Omit<SecretConfig, 'name'>, path: FieldPath): string {
    const name = `inline:${formatPath(path)}`;
    this.inlineSecrets.push({ name, inline: true, ...content });
    return name;
  }

  private secretName(s: JsonObject, path: FieldPath): string {
    const name = str(s.name);
    if (!this.secretNames.has(name)) {
      const known = [...this.secretNames];
      this.error(
        [...path, 'name'],
        'proxy.secret',
        `secret ${showValue(name)} is not in static_resources.secrets${known.length > 0 ? ` (there: ${known.join(', ')})` : ''}; SDS from a server is not implemented`,
      );
    }
    return name;
  }

  private tlsParams(p: JsonObject, path: FieldPath, side: 'server' | 'client'): TlsParams {
    const min = VERSIONS[str(p.tls_minimum_protocol_version) || 'TLS_AUTO'] ?? 'TLSv1.2';
    const max =
      VERSIONS[str(p.tls_maximum_protocol_version) || 'TLS_AUTO'] ??
      (side === 'server' ? 'TLSv1.3' : 'TLSv1.2');
    if (VERSION_ORDER.indexOf(min) > VERSION_ORDER.indexOf(max)) {
      this.error(
        path,
        'proxy.tls',
        `tls_minimum_protocol_version ${min} is above tls_maximum_protocol_version ${max}`,
      );
    }
    const known = new Set(getCiphers().map((c) => c.toUpperCase()));
    const ciphers: string[] = [];
    list(p.cipher_suites).forEach((entry, i) => {
      for (const name of str(entry)
        .replace(/^\[|\]$/g, '')
        .split('|')) {
        if (!known.has(name.toUpperCase()) || name.startsWith('TLS_')) {
          this.error(
            [...path, 'cipher_suites', i],
            'proxy.tls',
            `unknown cipher suite ${showValue(name)}: expected an OpenSSL TLS 1.2 name such as ECDHE-ECDSA-AES128-GCM-SHA256 (TLS 1.3 suites are not configurable, as in Envoy)`,
          );
        } else ciphers.push(name);
      }
    });
    const curves = list(p.ecdh_curves).map(str);
    curves.forEach((c, i) => {
      if (!CURVES.has(c))
        this.error(
          [...path, 'ecdh_curves', i],
          'proxy.tls',
          `unknown curve ${showValue(c)}; expected one of ${[...CURVES].join(', ')}`,
        );
    });
    return {
      minVersion: min,
      maxVersion: max,
      ciphers: (ciphers.length > 0 ? ciphers : DEFAULTS.ciphers).join(':'),
      curves: (curves.length > 0 ? curves : DEFAULTS.curves).join(':'),
    };
  }

  private tlsCertificate(c: JsonObject, path: FieldPath): TlsCertificateConfig {
    for (const field of ['certificate_chain', 'private_key']) {
      if (c[field] === undefined) this.error([...path, field], 'proxy.required', `${field} is required`);
    }
    return {
      certificateChain: this.dataSource(obj(c.certificate_chain), [...path, 'certificate_chain']),
      privateKey: this.dataSource(obj(c.private_key), [...path, 'private_key']),
    };
  }

  dataSource(d: JsonObject, path: FieldPath): DataSource {
    const at = { path: [...path] };
    if (d.filename !== undefined) return { kind: 'file', filename: str(d.filename), ...at };
    if (d.inline_string !== undefined)
      return { kind: 'inline', data: Buffer.from(str(d.inline_string)), ...at };
    if (d.inline_bytes !== undefined)
      return { kind: 'inline', data: Buffer.from(str(d.inline_bytes), 'base64'), ...at };
    if (d.environment_variable !== undefined)
      return { kind: 'env', name: str(d.environment_variable), ...at };
    this.error(
      path,
      'proxy.data-source',
      'a data source needs filename, inline_string, inline_bytes or environment_variable',
    );
    return { kind: 'inline', data: Buffer.alloc(0) };
  }

  private validationContext(v: JsonObject, path: FieldPath): ValidationContextConfig {
    const sanMatchers: SanMatcher[] = list(v.match_typed_subject_alt_names).map((m, i) => {
      const matcher = obj(m);
      const type = str(matcher.san_type);
      const at = [...path, 'match_typed_subject_alt_names', i];
      if (!['URI', 'DNS', 'EMAIL', 'IP_ADDRESS'].includes(type)) {
        this.error(
          [...at, 'san_type'],
          'proxy.tls',
          `san_type ${showValue(type)} is not implemented; expected URI, DNS, EMAIL or IP_ADDRESS`,
        );
      }
      return { type: type as SanType, match: this.stringMatch(obj(matcher.matcher), [...at, 'matcher']) };
    });
    if (sanMatchers.length > 0 && list(v.match_subject_alt_names).length > 0) {
      // Envoy reads the deprecated untyped list only when the typed one is empty.
      this.warn(
        [...path, 'match_subject_alt_names'],
        'proxy.tls',
        'ignored: match_typed_subject_alt_names is set, and Envoy then ignores match_subject_alt_names',
      );
    } else {
      list(v.match_subject_alt_names).forEach((m, i) => {
        sanMatchers.push({
          type: 'ANY',
          match: this.stringMatch(obj(m), [...path, 'match_subject_alt_names', i]),
        });
      });
    }
    return {
      ...(v.trusted_ca === undefined
        ? {}
        : { trustedCa: this.dataSource(obj(v.trusted_ca), [...path, 'trusted_ca']) }),
      sanMatchers,
    };
  }

  stringMatch(m: JsonObject, path: FieldPath): StringMatch {
    const ignoreCase = m.ignore_case === true;
    for (const kind of ['exact', 'prefix', 'suffix', 'contains'] as const) {
      if (m[kind] !== undefined)
        return { kind, value: ignoreCase ? str(m[kind]).toLowerCase() : str(m[kind]), ignoreCase };
    }
    if (m.safe_regex !== undefined) {
      const re = str(obj(m.safe_regex).regex);
      const problem = re2Problem(re);
      if (problem)
        this.error(
          [...path, 'safe_regex', 'regex'],
          'proxy.regex',
          `invalid RE2 expression ${showValue(re)}: ${problem}`,
        );
      if (ignoreCase)
        this.error(
          [...path, 'ignore_case'],
          'proxy.regex',
          'ignore_case has no effect on safe_regex (Envoy refuses it)',
        );
      let regex: RegExp | undefined;
      try {
        regex = new RegExp(`^(?:${re})$`);
      } catch (e) {
        if (!problem)
          this.error(
            [...path, 'safe_regex', 'regex'],
            'proxy.regex',
            `invalid expression ${showValue(re)}: ${(e as Error).message}`,
          );
      }
      return { kind: 'regex', value: re, ignoreCase: false, ...(regex ? { regex } : {}) };
    }
    this.error(
      path,
      'proxy.required',
      'a string matcher needs exact, prefix, suffix, contains or safe_regex',
    );
    return { kind: 'exact', value: '', ignoreCase };
  }

  private secret(s: JsonObject, path: FieldPath): SecretConfig {
    const name = str(s.name);
    if (name === '') this.error([...path, 'name'], 'proxy.secret', 'a secret needs a name');
    const out: SecretConfig = { name };
    if (s.tls_certificate !== undefined)
      out.tlsCertificate = this.tlsCertificate(obj(s.tls_certificate), [...path, 'tls_certificate']);
    else if (s.validation_context !== undefined) {
      out.validationContext = this.validationContext(obj(s.validation_context), [
        ...path,
        'validation_context',
      ]);
    } else this.error(path, 'proxy.secret', 'a secret needs tls_certificate or validation_context');
    return out;
  }

  private cluster(c: JsonObject, path: FieldPath): ClusterConfig {
    const name = str(c.name);
    if (name === '') this.error([...path, 'name'], 'proxy.cluster', 'a cluster needs a name');
    const type = str(c.type) || 'STATIC';
    if (type !== 'STATIC' && type !== 'EDS') {
      this.error(
        [...path, 'type'],
        'proxy.unsupported',
        `cluster type ${type} is not implemented; expected STATIC or EDS`,
      );
    }
    const lbPolicy = str(c.lb_policy) || 'ROUND_ROBIN';
    if (lbPolicy !== 'ROUND_ROBIN' && lbPolicy !== 'LEAST_REQUEST') {
      this.error(
        [...path, 'lb_policy'],
        'proxy.unsupported',
        `lb_policy ${lbPolicy} is not implemented; expected ROUND_ROBIN or LEAST_REQUEST`,
      );
    }
    const la = obj(c.load_assignment);
    if (c.load_assignment === undefined) {
      this.error(
        [...path, 'load_assignment'],
        'proxy.cluster',
        type === 'EDS'
          ? 'an EDS cluster in a static bootstrap takes its ClusterLoadAssignment from load_assignment (xDS is not implemented yet)'
          : 'a STATIC cluster needs load_assignment',
      );
    } else if (la.cluster_name !== undefined && str(la.cluster_name) !== name) {
      this.warn(
        [...path, 'load_assignment', 'cluster_name'],
        'proxy.cluster',
        `cluster_name ${showValue(la.cluster_name)} differs from the cluster's name ${showValue(name)}`,
      );
    }
    const endpoints: EndpointConfig[] = [];
    list(la.endpoints).forEach((group, g) => {
      list(obj(group).lb_endpoints).forEach((e, i) => {
        const lb = obj(e);
        const at = [...path, 'load_assignment', 'endpoints', g, 'lb_endpoints', i];
        const status = str(lb.health_status) || 'UNKNOWN';
        const metadata = obj(lb.metadata);
        endpoints.push({
          address: this.address(obj(obj(lb.endpoint).address), [...at, 'endpoint', 'address']),
          healthy: !['UNHEALTHY', 'DRAINING', 'TIMEOUT'].includes(status),
          metadata,
          transportMatch: obj(obj(metadata.filter_metadata)['envoy.transport_socket_match']),
        });
      });
    });
    const transportSocketMatches: TransportSocketMatch[] = list(c.transport_socket_matches).map((m, i) => {
      const match = obj(m);
      const at = [...path, 'transport_socket_matches', i];
      return {
        name: str(match.name),
        match: obj(match.match),
        transport: this.upstreamTransport(
          match.transport_socket === undefined ? undefined : obj(match.transport_socket),
          [...at, 'transport_socket'],
        ),
      };
    });
    return {
      name,
      type: type === 'EDS' ? 'EDS' : 'STATIC',
      connectTimeoutMs:
        c.connect_timeout === undefined ? DEFAULTS.connectTimeoutMs : durationMs(str(c.connect_timeout)),
      lbPolicy: lbPolicy === 'LEAST_REQUEST' ? 'LEAST_REQUEST' : 'ROUND_ROBIN',
      endpoints,
      transport: this.upstreamTransport(
        c.transport_socket === undefined ? undefined : obj(c.transport_socket),
        [...path, 'transport_socket'],
      ),
      transportSocketMatches,
      httpProtocol: this.httpProtocol(c, path),
      filterMetadata: obj(obj(c.metadata).filter_metadata),
    };
  }

  /** `typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]`. */
  private httpProtocol(c: JsonObject, path: FieldPath): ClusterConfig['httpProtocol'] {
    const all = obj(c.typed_extension_protocol_options);
    let protocol: ClusterConfig['httpProtocol'] = 'http1';
    for (const [key, value] of Object.entries(all)) {
      const at = [...path, 'typed_extension_protocol_options', key];
      const typed = obj(value);
      if (typeOf(typed) !== TYPE.httpProtocolOptions) {
        this.error(
          at,
          'proxy.unsupported',
          `protocol options ${typeOf(typed) || key} are not implemented; expected ${TYPE.httpProtocolOptions}`,
        );
        continue;
      }
      if (typed.explicit_http_config !== undefined) {
        const explicit = obj(typed.explicit_http_config);
        protocol = explicit.http2_protocol_options !== undefined ? 'http2' : 'http1';
      } else if (typed.use_downstream_protocol_config !== undefined) protocol = 'downstream';
      else if (typed.auto_config !== undefined) {
        this.error(
          [...at, 'auto_config'],
          'proxy.unsupported',
          'auto_config (protocol by ALPN) is not implemented; use explicit_http_config or use_downstream_protocol_config',
        );
      }
    }
    return protocol;
  }
}

/** `127.0.0.1:15006` as Envoy names it in statistics: `127.0.0.1_15006`; IPv6 `[__1]_15006`. */
export function envoyAddressStatName(a: SocketAddress): string {
  const host = a.host.includes(':') ? `[${a.host}]` : a.host;
  return `${host}:${a.port}`.replace(/:/g, '_');
}

/** A stable text for a JSON value, keys sorted. */
function canonicalKey(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonicalKey).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalKey(v[k] ?? null)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Compiles a decoded Bootstrap; `config` is undefined when there are errors. */
export function compileBootstrap(decoded: JsonObject, options: CompileOptions = {}): CompileResult {
  const compiler = new Compiler(options);
  const config = compiler.bootstrap(decoded);
  const failed = compiler.diagnostics.some((d) => d.severity === 'error');
  return { config: failed ? undefined : config, diagnostics: compiler.diagnostics };
}
