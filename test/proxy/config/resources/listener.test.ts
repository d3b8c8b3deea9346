// The Listener resource alone (parseResource, as ADS will deliver it): every field of its support table, Envoy's
// defaults, each problem at its path, the clusters and secrets it names, and inline TLS material as secrets.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIp } from '../../../../src/core/ip.js';
import type { JsonObject } from '../../../../src/proxy/config/json.js';
import type { ListenerConfig, NetworkFilterConfig } from '../../../../src/proxy/config/model.js';
import { parseResource } from '../../../../src/proxy/config/resource.js';
import { TYPE_URL } from '../../../../src/proxy/config/resources/index.js';
import { LISTENER_FILTERS_TIMEOUT_MS } from '../../../../src/proxy/config/resources/listener.js';
import {
  any,
  certificateFiles,
  error,
  hcmFilter,
  listener,
  type Problem,
  problems,
  refsOf,
  socketAddress,
  T,
  tcpProxyFilter,
  typedStruct,
  warning,
} from '../fixtures.js';

const parse = (input: unknown) => parseResource(TYPE_URL.listener, input);

/** Parses `input`, asserting it has no diagnostic, and gives the listener. */
function ok(input: JsonObject): ListenerConfig {
  const r = parse(input);
  assert.deepEqual(problems(r.diagnostics), []);
  assert.ok(r.value);
  return r.value;
}

const tls = (common: JsonObject = { tls_certificate_sds_secret_configs: [{ name: 'default' }] }) => ({
  name: 'envoy.transport_sockets.tls',
  typed_config: any(T.downstreamTls, { common_tls_context: common }),
});

const chain = (fields: JsonObject = {}): JsonObject => ({ filters: [tcpProxyFilter()], ...fields });

describe('Listener: defaults (Envoy’s)', () => {
  const l = ok(listener());
  const c = l.filterChains[0];

  it('names its statistics after the address, waits 15s for listener filters, then closes', () => {
    assert.equal(l.name, 'l');
    assert.deepEqual(l.address, { host: '127.0.0.1', port: 15006 });
    assert.deepEqual(l.additionalAddresses, []);
    assert.equal(l.statPrefix, '127.0.0.1_15006');
    assert.deepEqual(l.listenerFilters, []);
    assert.equal(l.listenerFiltersTimeoutMs, 15_000);
    assert.equal(LISTENER_FILTERS_TIMEOUT_MS, 15_000);
    assert.equal(l.continueOnListenerFiltersTimeout, false);
    assert.equal(l.defaultFilterChain, undefined);
  });

  it('gives a chain without settings: its index as name, any match, plaintext, no handshake timeout', () => {
    assert.ok(c);
    assert.equal(c.name, '#0');
    assert.equal(c.index, 0);
    assert.deepEqual(c.match, {
      prefixRanges: [],
      serverNames: [],
      transportProtocol: '',
      applicationProtocols: [],
      directSourcePrefixRanges: [],
      sourceType: 'ANY',
      sourcePrefixRanges: [],
      sourcePorts: [],
    });
    assert.equal('destinationPort' in c.match, false);
    assert.deepEqual(c.transport, { kind: 'raw' });
    assert.equal(c.handshakeTimeoutMs, 0);
    assert.deepEqual(
      c.filters.map((f) => f.kind),
      ['tcp_proxy'],
    );
  });
});

describe('Listener: every field of its support table', () => {
  const cases: [string, JsonObject, (l: ListenerConfig) => unknown, unknown][] = [
    ['name', listener({ name: 'virtualInbound' }), (l) => l.name, 'virtualInbound'],
    [
      'address (IPv6)',
      listener({ address: socketAddress('::1', 15001) }),
      (l) => [l.address, l.statPrefix],
      [{ host: '::1', port: 15001 }, '[__1]_15001'],
    ],
    [
      'additional_addresses',
      listener({
        additional_addresses: [
          { address: socketAddress('127.0.0.2', 15006) },
          { address: socketAddress('::1', 15006) },
        ],
      }),
      (l) => l.additionalAddresses,
      [
        { host: '127.0.0.2', port: 15006 },
        { host: '::1', port: 15006 },
      ],
    ],
    ['stat_prefix', listener({ stat_prefix: 'virtualInbound' }), (l) => l.statPrefix, 'virtualInbound'],
    [
      'listener_filters_timeout',
      listener({ listener_filters_timeout: '5s' }),
      (l) => l.listenerFiltersTimeoutMs,
      5000,
    ],
    [
      'listener_filters_timeout 0s (no limit)',
      listener({ listener_filters_timeout: '0s' }),
      (l) => l.listenerFiltersTimeoutMs,
      0,
    ],
    [
      'continue_on_listener_filters_timeout',
      listener({ continue_on_listener_filters_timeout: true }),
      (l) => l.continueOnListenerFiltersTimeout,
      true,
    ],
    [
      'metadata (recorded)',
      listener({ metadata: { filter_metadata: { istio: { a: 1 } } } }),
      (l) => l.name,
      'l',
    ],
    [
      'traffic_direction (recorded without istio.stats)',
      listener({ traffic_direction: 'OUTBOUND' }),
      (l) => l.name,
      'l',
    ],
    [
      'listener_filters: by type and by name',
      listener({
        listener_filters: [
          {
            name: 'envoy.filters.listener.tls_inspector',
            typed_config: any(T.tlsInspector, { initial_read_buffer_size: 512 }),
          },
          { name: 'envoy.filters.listener.http_inspector' },
        ],
      }),
      (l) => l.listenerFilters,
      [
        { kind: 'tls_inspector', name: 'envoy.filters.listener.tls_inspector', disabled: undefined },
        { kind: 'http_inspector', name: 'envoy.filters.listener.http_inspector', disabled: undefined },
      ],
    ],
    [
      'filter_disabled: a destination port range, not, or, and, any',
      listener({
        listener_filters: [
          {
            name: 'envoy.filters.listener.http_inspector',
            filter_disabled: {
              or_match: {
                rules: [
                  { destination_port_range: { start: 80, end: 81 } },
                  { not_match: { any_match: true } },
                  {
                    and_match: {
                      rules: [
                        { destination_port_range: { start: 1, end: 9 } },
                        { destination_port_range: { start: 5, end: 7 } },
                      ],
                    },
                  },
                ],
              },
            },
          },
        ],
      }),
      (l) => l.listenerFilters[0]?.disabled,
      {
        kind: 'or',
        rules: [
          { kind: 'port-range', start: 80, end: 81 },
          { kind: 'not', rule: { kind: 'any' } },
          {
            kind: 'and',
            rules: [
              { kind: 'port-range', start: 1, end: 9 },
              { kind: 'port-range', start: 5, end: 7 },
            ],
          },
        ],
      },
    ],
    [
      'filter_chains, in order, with their names and indices',
      listener({
        filter_chains: [chain({ name: 'a', filter_chain_match: { destination_port: 15006 } }), chain()],
      }),
      (l) => l.filterChains.map((c) => [c.name, c.index]),
      [
        ['a', 0],
        ['#1', 1],
      ],
    ],
    [
      'default_filter_chain',
      listener({ default_filter_chain: chain() }),
      (l) => [
        l.defaultFilterChain?.name,
        l.defaultFilterChain?.index,
        l.defaultFilterChain?.filters[0]?.kind,
      ],
      ['default', -1, 'tcp_proxy'],
    ],
    [
      'default_filter_chain alone, with a name',
      listener({ filter_chains: [], default_filter_chain: chain({ name: 'catch-all' }) }),
      (l) => [l.filterChains.length, l.defaultFilterChain?.name],
      [0, 'catch-all'],
    ],
    [
      'filter chain transport_socket_connect_timeout',
      listener({ filter_chains: [chain({ transport_socket_connect_timeout: '2.5s' })] }),
      (l) => l.filterChains[0]?.handshakeTimeoutMs,
      2500,
    ],
    [
      'filter chain metadata (recorded)',
      listener({ filter_chains: [chain({ metadata: { filter_metadata: { a: {} } } })] }),
      (l) => l.filterChains.length,
      1,
    ],
    [
      'filter chain transport_socket: TLS',
      listener({ filter_chains: [chain({ transport_socket: tls() })] }),
      (l) => l.filterChains[0]?.transport.kind,
      'tls',
    ],
    [
      'filter chain transport_socket: raw_buffer by name',
      listener({
        filter_chains: [chain({ transport_socket: { name: 'envoy.transport_sockets.raw_buffer' } })],
      }),
      (l) => l.filterChains[0]?.transport,
      { kind: 'raw' },
    ],
    [
      'filters: an http_connection_manager',
      listener({ filter_chains: [{ filters: [hcmFilter()] }] }),
      (l) => l.filterChains[0]?.filters.map((f) => f.kind),
      ['http_connection_manager'],
    ],
  ];
  for (const [what, input, pick, expected] of cases) {
    it(`reads ${what}`, () => assert.deepEqual(pick(ok(input)), expected));
  }

  it('reads every field of filter_chain_match', () => {
    const l = ok(
      listener({
        listener_filters: [{ name: 'envoy.filters.listener.tls_inspector' }],
        filter_chains: [
          chain({
            filter_chain_match: {
              destination_port: 15006,
              prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 8 }],
              server_names: ['*.Example.com', 'API.example.org'],
              transport_protocol: 'tls',
              application_protocols: ['istio-peer-exchange', 'h2'],
              direct_source_prefix_ranges: [{ address_prefix: '127.0.0.1', prefix_len: 32 }],
              source_type: 'SAME_IP_OR_LOOPBACK',
              source_prefix_ranges: [{ address_prefix: '::1', prefix_len: 128 }],
              source_ports: [1234, 5678],
            },
          }),
        ],
      }),
    );
    const m = l.filterChains[0]?.match;
    assert.ok(m);
    const cidrs = (rs: readonly { bytes: Uint8Array; prefixLen: number }[]) =>
      rs.map((r) => [[...r.bytes], r.prefixLen]);
    const ip = (text: string) => [...(parseIp(text) ?? [])];
    assert.equal(m.destinationPort, 15006);
    assert.deepEqual(cidrs(m.prefixRanges), [[ip('10.0.0.0'), 8]]);
    assert.deepEqual(m.serverNames, ['*.example.com', 'api.example.org'], 'lower-cased, as Envoy does');
    assert.equal(m.transportProtocol, 'tls');
    assert.deepEqual(m.applicationProtocols, ['istio-peer-exchange', 'h2']);
    assert.deepEqual(cidrs(m.directSourcePrefixRanges), [[ip('127.0.0.1'), 32]]);
    assert.equal(m.sourceType, 'SAME_IP_OR_LOOPBACK');
    assert.deepEqual(cidrs(m.sourcePrefixRanges), [[ip('::1'), 128]]);
    assert.deepEqual(m.sourcePorts, [1234, 5678]);
  });

  it('reads source_type EXTERNAL', () => {
    const l = ok(listener({ filter_chains: [chain({ filter_chain_match: { source_type: 'EXTERNAL' } })] }));
    assert.equal(l.filterChains[0]?.match.sourceType, 'EXTERNAL');
  });

  it('takes the reporter of istio.stats from traffic_direction', () => {
    const stats = { name: 'istio.stats', typed_config: typedStruct(T.istioStats, {}) };
    const reporter = (direction: string) => {
      const f = ok(
        listener({ traffic_direction: direction, filter_chains: [{ filters: [stats, tcpProxyFilter()] }] }),
      ).filterChains[0]?.filters[0];
      assert.ok(f?.kind === 'tcp_proxy');
      return f.istioStats?.reporter;
    };
    assert.equal(reporter('INBOUND'), 'destination');
    assert.equal(reporter('OUTBOUND'), 'source');
  });

  it('puts the TCP istio.stats filter on the tcp_proxy after it, not as a filter of its own', () => {
    const l = ok(
      listener({
        traffic_direction: 'INBOUND',
        filter_chains: [
          {
            filters: [{ name: 'istio.stats', typed_config: typedStruct(T.istioStats, {}) }, tcpProxyFilter()],
          },
        ],
      }),
    );
    const filters: NetworkFilterConfig[] = l.filterChains[0]?.filters ?? [];
    assert.equal(filters.length, 1);
    assert.ok(filters[0]?.kind === 'tcp_proxy');
    assert.deepEqual(filters[0].istioStats, {
      reporter: 'destination',
      tcpReportingMs: 5000,
      disableHostHeaderFallback: false,
    });
  });
});

describe('Listener: problems, each at its path', () => {
  const cases: [string, JsonObject, Problem[]][] = [
    ['no name', listener({ name: '' }), [error('name', 'proxy.listener', 'a listener needs a name')]],
    [
      'an additional address that repeats the address',
      listener({ additional_addresses: [{ address: socketAddress('127.0.0.1', 15006) }] }),
      [
        error(
          'additional_addresses[0].address',
          'proxy.listener',
          "address 127.0.0.1:15006 is already one of this listener's addresses",
        ),
      ],
    ],
    [
      'an additional address that repeats another',
      listener({
        additional_addresses: [
          { address: socketAddress('127.0.0.2', 1) },
          { address: socketAddress('127.0.0.2', 1) },
        ],
      }),
      [
        error(
          'additional_addresses[1].address',
          'proxy.listener',
          "address 127.0.0.2:1 is already one of this listener's addresses",
        ),
      ],
    ],
    [
      'no filter chain and no default',
      listener({ filter_chains: [] }),
      [
        error(
          'filter_chains',
          'proxy.listener',
          'a listener needs at least one filter chain or a default_filter_chain',
        ),
      ],
    ],
    [
      'chains matching TLS without tls_inspector (a warning)',
      listener({ filter_chains: [chain({ filter_chain_match: { transport_protocol: 'tls' } })] }),
      [
        warning(
          'listener_filters',
          'proxy.listener',
          'filter chains match on TLS but there is no tls_inspector: every connection will look like raw_buffer',
        ),
      ],
    ],
    [
      'chains matching SNI without tls_inspector (a warning)',
      listener({
        listener_filters: [{ name: 'envoy.filters.listener.http_inspector' }],
        filter_chains: [chain({ filter_chain_match: { server_names: ['a.example'] } })],
      }),
      [
        warning(
          'listener_filters',
          'proxy.listener',
          'filter chains match on TLS but there is no tls_inspector: every connection will look like raw_buffer',
        ),
      ],
    ],
    [
      'a chain for a port no address has (a warning)',
      listener({
        additional_addresses: [{ address: socketAddress('127.0.0.1', 15007) }],
        filter_chains: [chain({ filter_chain_match: { destination_port: 9090 } })],
      }),
      [
        warning(
          'filter_chains[0].filter_chain_match.destination_port',
          'proxy.unreachable-chain',
          'no address of this listener has port 9090 (it binds 15006, 15007) and there is no original_dst: the chain can never match',
        ),
      ],
    ],
    [
      'two chains with the same match',
      listener({
        filter_chains: [
          chain({ filter_chain_match: { destination_port: 15006 } }),
          chain({ filter_chain_match: { destination_port: 15006 } }),
        ],
      }),
      [
        error(
          'filter_chains[1].filter_chain_match',
          'proxy.duplicate-match',
          'multiple filter chains with the same matching rules are defined (the same as filter_chains[0])',
        ),
      ],
    ],
    [
      'a chain without a match next to one with an empty match',
      listener({ filter_chains: [chain(), chain({ filter_chain_match: {} })] }),
      [
        error(
          'filter_chains[1].filter_chain_match',
          'proxy.duplicate-match',
          'multiple filter chains with the same matching rules are defined (the same as filter_chains[0])',
        ),
      ],
    ],
    [
      'a port range that is empty',
      listener({
        listener_filters: [
          {
            name: 'envoy.filters.listener.tls_inspector',
            filter_disabled: { destination_port_range: { start: 90, end: 90 } },
          },
        ],
      }),
      [
        error(
          'listener_filters[0].filter_disabled.destination_port_range',
          'proxy.range',
          'end 90 must be greater than start 90',
        ),
      ],
    ],
    [
      'a terminal filter before another filter',
      listener({ filter_chains: [{ filters: [tcpProxyFilter('a'), tcpProxyFilter('b')] }] }),
      [
        error(
          'filter_chains[0].filters[0]',
          'proxy.filter-chain',
          "tcp_proxy is a terminal filter and must be the last of the chain's filters",
        ),
      ],
    ],
    [
      'a chain without filters',
      listener({ filter_chains: [{ filter_chain_match: { destination_port: 15006 } }] }),
      [
        error(
          'filter_chains[0].filters',
          'proxy.filter-chain',
          'a filter chain needs a terminal network filter (tcp_proxy or http_connection_manager)',
        ),
      ],
    ],
    [
      'a chain with istio.stats only',
      listener({
        traffic_direction: 'INBOUND',
        filter_chains: [{ filters: [{ name: 'istio.stats', typed_config: typedStruct(T.istioStats) }] }],
      }),
      [
        error(
          'filter_chains[0].filters',
          'proxy.filter-chain',
          'a filter chain needs a terminal network filter (tcp_proxy or http_connection_manager)',
        ),
      ],
    ],
    [
      'the TCP istio.stats before an http_connection_manager',
      listener({
        traffic_direction: 'INBOUND',
        filter_chains: [
          { filters: [{ name: 'istio.stats', typed_config: typedStruct(T.istioStats) }, hcmFilter()] },
        ],
      }),
      [
        error(
          'filter_chains[0].filters',
          'proxy.filter-chain',
          'the istio.stats network filter goes with tcp_proxy; for HTTP put it in http_connection_manager.http_filters',
        ),
      ],
    ],
    [
      'istio.stats on a listener without traffic_direction',
      listener({
        filter_chains: [
          { filters: [{ name: 'istio.stats', typed_config: typedStruct(T.istioStats) }, tcpProxyFilter()] },
        ],
      }),
      [
        error(
          'filter_chains[0].filters[0].typed_config',
          'proxy.istio-stats',
          'istio.stats needs the listener\'s traffic_direction INBOUND (reporter="destination") or OUTBOUND (reporter="source"), got UNSPECIFIED',
        ),
      ],
    ],
    [
      'a partial wildcard server name',
      listener({
        listener_filters: [{ name: 'envoy.filters.listener.tls_inspector' }],
        filter_chains: [chain({ filter_chain_match: { server_names: ['a.example', 'api.*.example', '*'] } })],
      }),
      [
        error(
          'filter_chains[0].filter_chain_match.server_names[1]',
          'proxy.server-name',
          '"api.*.example": a wildcard is only allowed as the first label ("*.example.com")',
        ),
        error(
          'filter_chains[0].filter_chain_match.server_names[2]',
          'proxy.server-name',
          '"*": a wildcard is only allowed as the first label ("*.example.com")',
        ),
      ],
    ],
    [
      'a prefix range that is not an address',
      listener({
        filter_chains: [
          chain({ filter_chain_match: { source_prefix_ranges: [{ address_prefix: 'x', prefix_len: 1 }] } }),
        ],
      }),
      [
        error(
          'filter_chains[0].filter_chain_match.source_prefix_ranges[0]',
          'proxy.cidr',
          '"x/1" is not a valid CIDR range',
        ),
      ],
    ],
    [
      'a cluster transport socket on a listener',
      listener({
        filter_chains: [chain({ transport_socket: { name: 'tls', typed_config: any(T.upstreamTls) } })],
      }),
      [
        error(
          'filter_chains[0].transport_socket',
          'proxy.unsupported',
          'transport socket "tls" (envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext) does not belong here: it is an envoy.transport_sockets.upstream extension; expected envoy.transport_sockets.tls, envoy.transport_sockets.raw_buffer',
        ),
      ],
    ],
    [
      'a listener filter Skiff does not have, by name',
      listener({ listener_filters: [{ name: 'envoy.filters.listener.proxy_protocol' }] }),
      [
        error(
          'listener_filters[0].name',
          'proxy.unsupported',
          'listener filter "envoy.filters.listener.proxy_protocol" is not implemented; expected envoy.filters.listener.tls_inspector, envoy.filters.listener.http_inspector',
        ),
      ],
    ],
    [
      'the original_dst listener filter (its proto is known, the filter is not implemented)',
      listener({
        listener_filters: [{ name: 'envoy.filters.listener.original_dst', typed_config: any(T.originalDst) }],
      }),
      [
        error(
          'listener_filters[0].typed_config["@type"]',
          'proxy.unsupported',
          'envoy.extensions.filters.listener.original_dst.v3.OriginalDst is not implemented by the Skiff proxy (docs/proxy-config.md)',
        ),
      ],
    ],
    [
      'a misspelled field',
      listener({ stat_prefx: 'x' }),
      [
        error(
          'stat_prefx',
          'proxy.unknown-field',
          'unknown field "stat_prefx" in envoy.config.listener.v3.Listener (did you mean "stat_prefix"?)',
        ),
      ],
    ],
    [
      'a field Skiff does not implement',
      listener({ per_connection_buffer_limit_bytes: 1024 }),
      [
        error(
          'per_connection_buffer_limit_bytes',
          'proxy.unsupported',
          'field "per_connection_buffer_limit_bytes" of envoy.config.listener.v3.Listener is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
        ),
      ],
    ],
  ];
  for (const [what, input, expected] of cases) {
    it(`${expected.some((p) => p.severity === 'error') ? 'refuses' : 'warns about'} ${what}`, () => {
      const r = parse(input);
      assert.deepEqual(problems(r.diagnostics), expected);
      assert.equal(
        r.value === undefined,
        expected.some((p) => p.severity === 'error'),
      );
    });
  }

  it('says nothing of a chain’s port when the listener binds port 0 (any port), or an additional address has it', () => {
    ok(
      listener({
        address: socketAddress('0.0.0.0', 0),
        filter_chains: [chain({ filter_chain_match: { destination_port: 9090 } })],
      }),
    );
    ok(
      listener({
        additional_addresses: [{ address: socketAddress('127.0.0.1', 9090) }],
        filter_chains: [chain({ filter_chain_match: { destination_port: 9090 } })],
      }),
    );
  });

  it('lets additional addresses repeat port 0 (each bind picks its own port)', () => {
    ok(
      listener({
        address: socketAddress('127.0.0.1', 0),
        additional_addresses: [{ address: socketAddress('127.0.0.1', 0) }],
      }),
    );
  });

  it('refuses a refused filter once, without also asking for a terminal filter', () => {
    const r = parse(
      listener({ filter_chains: [{ filters: [{ name: 'envoy.filters.network.redis_proxy' }] }] }),
    );
    assert.deepEqual(
      problems(r.diagnostics).map((p) => [p.path, p.code]),
      [['filter_chains[0].filters[0].name', 'proxy.unsupported']],
    );
  });

  it('refuses a listener without an address once, at address', {}, () => {
    const input = listener();
    delete input.address;
    assert.deepEqual(problems(parse(input).diagnostics), [
      error('address', 'proxy.listener', 'a listener needs an address'),
    ]);
  });

  // Envoy builds its filter chain tree from every combination of each chain's repeated match fields (server names,
  // ranges, protocols, ports) and refuses a listener in which two chains reach the same leaf: "multiple filter
  // chains with overlapping matching rules are defined" (source/common/listener_manager/
  // filter_chain_manager_impl.cc, addFilterChainForSourcePorts). Ranges are compared masked, a missing
  // destination_port is port 0.
  const overlapping: [string, JsonObject, JsonObject][] = [
    [
      'server names in another order',
      { server_names: ['a.example', 'b.example'] },
      { server_names: ['b.example', 'a.example'] },
    ],
    [
      'one server name in common',
      { server_names: ['a.example', 'b.example'] },
      { server_names: ['b.example'] },
    ],
    ['server names differing only in case', { server_names: ['A.example'] }, { server_names: ['a.example'] }],
    [
      'the same range written unmasked',
      { prefix_ranges: [{ address_prefix: '10.1.2.3', prefix_len: 16 }] },
      { prefix_ranges: [{ address_prefix: '10.1.0.0', prefix_len: 16 }] },
    ],
    ['one source port in common', { source_ports: [1, 2] }, { source_ports: [2, 3] }],
  ];
  for (const [what, a, b] of overlapping) {
    it(`refuses two chains whose matches overlap: ${what}, as Envoy does`, {}, () => {
      const r = parse(
        listener({
          listener_filters: [{ name: 'envoy.filters.listener.tls_inspector' }],
          filter_chains: [chain({ filter_chain_match: a }), chain({ filter_chain_match: b })],
        }),
      );
      assert.deepEqual(
        problems(r.diagnostics).map((p) => [p.path, p.code]),
        [['filter_chains[1].filter_chain_match', 'proxy.duplicate-match']],
      );
    });
  }
});

describe('Listener: references and inline secrets', () => {
  it('reports the clusters its filters name, with their effect, and the secrets its TLS names', () => {
    const r = parse(
      listener({
        filter_chains: [
          chain({ transport_socket: tls() }),
          { filter_chain_match: { destination_port: 15006 }, filters: [hcmFilter()] },
        ],
        default_filter_chain: { filters: [tcpProxyFilter('fallback')] },
      }),
    );
    assert.deepEqual(problems(r.diagnostics), []);
    assert.deepEqual(refsOf(r), [
      [
        'secret',
        'default',
        'filter_chains[0].transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].name',
        undefined,
      ],
      ['cluster', 'app', 'filter_chains[0].filters[0].typed_config.cluster', 'tcp.*.downstream_cx_no_route'],
      [
        'cluster',
        'app',
        'filter_chains[1].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster',
        'validate_clusters',
      ],
      [
        'cluster',
        'fallback',
        'default_filter_chain.filters[0].typed_config.cluster',
        'tcp.*.downstream_cx_no_route',
      ],
    ]);
  });

  it('makes inline certificates and validation contexts secrets named after their paths', () => {
    const r = parse(
      listener({
        filter_chains: [
          chain({
            transport_socket: tls({
              tls_certificates: [certificateFiles],
              validation_context: { trusted_ca: { filename: 'ca.pem' } },
            }),
          }),
        ],
      }),
    );
    assert.deepEqual(problems(r.diagnostics), []);
    const at = 'inline:filter_chains[0].transport_socket.typed_config.common_tls_context';
    assert.deepEqual(
      r.inlineSecrets.map((s) => [
        s.name,
        s.inline,
        Object.keys(s).filter((k) => k !== 'name' && k !== 'inline'),
      ]),
      [
        [`${at}.tls_certificates[0]`, true, ['tlsCertificate']],
        [`${at}.validation_context`, true, ['validationContext']],
      ],
    );
    const t = r.value?.filterChains[0]?.transport;
    assert.ok(t?.kind === 'tls');
    assert.deepEqual(t.tls.certificateSecrets, [`${at}.tls_certificates[0]`]);
    assert.deepEqual(t.tls.validationSecrets, [`${at}.validation_context`]);
    assert.deepEqual(
      refsOf(r).filter((x) => x[0] === 'secret'),
      [],
    );
  });

  it('prefixes every path with where the resource sits', () => {
    const r = parseResource(TYPE_URL.listener, listener({ name: '' }), ['resources', 3]);
    assert.deepEqual(problems(r.diagnostics), [
      error('resources[3].name', 'proxy.listener', 'a listener needs a name'),
    ]);
    assert.deepEqual(
      refsOf(r).map((x) => x[2]),
      ['resources[3].filter_chains[0].filters[0].typed_config.cluster'],
    );
  });
});
