// Istio's own filters as registered extensions, TypedStructs around Istio's protos: `istio.stats`
// (stats.PluginConfig; HTTP, and network before tcp_proxy) and `istio.metadata_exchange`
// (io.istio.http.peer_metadata.Config, HTTP). Only the fields Skiff honours may be set; the reporter comes from
// the listener's traffic_direction, as in Istio's sidecars.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExtensionCategory } from '../../../src/proxy/config/extension.js';
import type { JsonObject } from '../../../src/proxy/config/json.js';
import {
  ISTIO_METADATA_EXCHANGE,
  ISTIO_STATS_HTTP,
  ISTIO_STATS_TCP,
} from '../../../src/proxy/telemetry/istio-filters.js';
import { error, type Problem, problems, T, translateEntry, typedStruct } from '../config/fixtures.js';

const statsEntry = (value?: JsonObject, wrapper?: string): JsonObject => ({
  name: 'istio.stats',
  typed_config: typedStruct(T.istioStats, value, wrapper),
});
const exchangeEntry = (value?: JsonObject): JsonObject => ({
  name: 'istio.metadata_exchange',
  typed_config: typedStruct(T.peerMetadata, value),
});
const VALUE = 'filters[0].typed_config.value';

describe('registrations', () => {
  it('registers istio.stats as an HTTP and a network filter, istio.metadata_exchange as an HTTP filter', () => {
    assert.deepEqual(
      [ISTIO_STATS_HTTP, ISTIO_STATS_TCP, ISTIO_METADATA_EXCHANGE].map((e) => [e.name, e.category, e.types]),
      [
        ['istio.stats', 'envoy.filters.http', ['stats.PluginConfig']],
        ['istio.stats', 'envoy.filters.network', ['stats.PluginConfig']],
        ['istio.metadata_exchange', 'envoy.filters.http', ['io.istio.http.peer_metadata.Config']],
      ],
    );
  });

  it('lists both TypedStruct wrappers once, with their type_url and value', () => {
    assert.deepEqual(
      Object.entries(ISTIO_STATS_HTTP.support).map(([type, fields]) => [type, Object.keys(fields)]),
      [
        [T.udpaTypedStruct, ['type_url', 'value']],
        [T.xdsTypedStruct, ['type_url', 'value']],
      ],
    );
    assert.deepEqual([ISTIO_STATS_TCP.support, ISTIO_METADATA_EXCHANGE.support], [{}, {}]);
  });
});

describe('istio.stats: its settings', () => {
  const categories: ExtensionCategory[] = ['envoy.filters.http', 'envoy.filters.network'];
  for (const category of categories) {
    it(`reports as destination on INBOUND, as source on OUTBOUND, every 5s by default (${category})`, () => {
      for (const [direction, reporter] of [
        ['INBOUND', 'destination'],
        ['OUTBOUND', 'source'],
      ] as const) {
        const t = translateEntry(category, statsEntry(), { direction });
        assert.deepEqual(problems(t.diagnostics), []);
        assert.deepEqual(t.value, {
          kind: 'istio.stats',
          stats: { reporter, tcpReportingMs: 5000, disableHostHeaderFallback: false },
        });
      }
    });
  }

  const settings: [string, JsonObject | undefined, string, object][] = [
    [
      'no value at all',
      undefined,
      'udpa.type.v1.TypedStruct',
      { tcpReportingMs: 5000, disableHostHeaderFallback: false },
    ],
    ['the xds TypedStruct', {}, 'xds.type.v3.TypedStruct', { tcpReportingMs: 5000 }],
    [
      'tcp_reporting_duration',
      { tcp_reporting_duration: '2.5s' },
      T.udpaTypedStruct,
      { tcpReportingMs: 2500 },
    ],
    [
      'tcpReportingDuration (JSON name)',
      { tcpReportingDuration: '1s' },
      T.udpaTypedStruct,
      { tcpReportingMs: 1000 },
    ],
    [
      'disable_host_header_fallback',
      { disable_host_header_fallback: true },
      T.udpaTypedStruct,
      { disableHostHeaderFallback: true },
    ],
    [
      'disableHostHeaderFallback false',
      { disableHostHeaderFallback: false },
      T.udpaTypedStruct,
      { disableHostHeaderFallback: false },
    ],
    ['reporter UNSPECIFIED', { reporter: 'UNSPECIFIED' }, T.udpaTypedStruct, { reporter: 'destination' }],
    ['reporter 0', { reporter: 0 }, T.udpaTypedStruct, { reporter: 'destination' }],
  ];
  for (const [what, value, wrapper, expected] of settings) {
    it(`reads ${what}`, () => {
      const t = translateEntry('envoy.filters.http', statsEntry(value, wrapper), { direction: 'INBOUND' });
      assert.deepEqual(problems(t.diagnostics), []);
      assert.ok(t.value?.kind === 'istio.stats');
      assert.deepEqual({ ...t.value.stats, ...expected }, t.value.stats);
    });
  }

  const refused: [string, JsonObject, Problem[], string?][] = [
    [
      'a listener without traffic_direction',
      {},
      [
        error(
          'filters[0].typed_config',
          'proxy.istio-stats',
          'istio.stats needs the listener\'s traffic_direction INBOUND (reporter="destination") or OUTBOUND (reporter="source"), got UNSPECIFIED',
        ),
      ],
      'UNSPECIFIED',
    ],
    [
      'a gateway reporter',
      { reporter: 'SERVER_GATEWAY' },
      [
        error(
          `${VALUE}.reporter`,
          'proxy.unsupported',
          'reporter "SERVER_GATEWAY" is not implemented; expected UNSPECIFIED (from the listener\'s traffic_direction)',
        ),
      ],
    ],
    [
      'a field Skiff does not honour',
      { metrics: [{ name: 'requests_total' }], tcpReportingDuration: '1s' },
      [
        error(
          `${VALUE}.metrics`,
          'proxy.unsupported',
          'stats.PluginConfig field metrics is not implemented; Skiff honours reporter, tcp_reporting_duration, disable_host_header_fallback',
        ),
      ],
    ],
    [
      'a tcp_reporting_duration that is not a duration',
      { tcp_reporting_duration: 'soon' },
      [
        error(
          `${VALUE}.tcp_reporting_duration`,
          'proxy.istio-stats',
          'tcp_reporting_duration "soon" is not a positive duration such as "5s"',
        ),
      ],
    ],
    [
      'a zero tcp_reporting_duration',
      { tcp_reporting_duration: '0s' },
      [
        error(
          `${VALUE}.tcp_reporting_duration`,
          'proxy.istio-stats',
          'tcp_reporting_duration "0s" is not a positive duration such as "5s"',
        ),
      ],
    ],
    [
      'a tcp_reporting_duration given as a number',
      { tcp_reporting_duration: 5 },
      [
        error(
          `${VALUE}.tcp_reporting_duration`,
          'proxy.istio-stats',
          'tcp_reporting_duration 5 is not a positive duration such as "5s"',
        ),
      ],
    ],
    [
      'disable_host_header_fallback that is not a boolean',
      { disable_host_header_fallback: 'yes' },
      [
        error(
          `${VALUE}.disable_host_header_fallback`,
          'proxy.istio-stats',
          'disable_host_header_fallback must be true or false, got "yes"',
        ),
      ],
    ],
  ];
  for (const [what, value, expected, direction] of refused) {
    it(`refuses ${what}`, () => {
      const t = translateEntry('envoy.filters.http', statsEntry(value), {
        direction: direction ?? 'INBOUND',
      });
      assert.equal(t.value, undefined);
      assert.deepEqual(problems(t.diagnostics), expected);
    });
  }

  it('reports a bad value at the key as written (tcpReportingDuration), so the line can be found', {}, () => {
    const t = translateEntry('envoy.filters.http', statsEntry({ tcpReportingDuration: 'soon' }), {
      direction: 'INBOUND',
    });
    assert.deepEqual(
      problems(t.diagnostics).map((p) => p.path),
      [`${VALUE}.tcpReportingDuration`],
    );
  });
});

describe('istio.metadata_exchange: its settings', () => {
  const none = {
    downstreamDiscovery: false,
    downstreamPropagation: false,
    upstreamDiscovery: false,
    upstreamPropagation: false,
  };
  const headers = [{ istio_headers: {} }];
  const settings: [string, JsonObject | undefined, object][] = [
    ['no value', undefined, none],
    ['empty lists', { downstream_discovery: [], upstream_propagation: [] }, none],
    ['downstream_discovery', { downstream_discovery: headers }, { ...none, downstreamDiscovery: true }],
    ['downstream_propagation', { downstream_propagation: headers }, { ...none, downstreamPropagation: true }],
    ['upstream_discovery', { upstream_discovery: headers }, { ...none, upstreamDiscovery: true }],
    ['upstream_propagation', { upstream_propagation: headers }, { ...none, upstreamPropagation: true }],
    [
      'JSON names and istioHeaders',
      { downstreamDiscovery: [{ istioHeaders: {} }], upstreamPropagation: headers },
      { ...none, downstreamDiscovery: true, upstreamPropagation: true },
    ],
  ];
  for (const [what, value, expected] of settings) {
    it(`reads ${what}`, () => {
      const t = translateEntry('envoy.filters.http', exchangeEntry(value));
      assert.deepEqual(problems(t.diagnostics), []);
      assert.deepEqual(t.value, { kind: 'istio.metadata_exchange', exchange: expected });
    });
  }

  it('does not need a traffic direction', () => {
    const t = translateEntry('envoy.filters.http', exchangeEntry({ downstream_discovery: headers }), {
      direction: 'UNSPECIFIED',
    });
    assert.deepEqual(problems(t.diagnostics), []);
  });

  const refused: [string, JsonObject, Problem[]][] = [
    [
      'a discovery method other than istio_headers',
      { downstream_discovery: [{ workload_discovery: {} }] },
      [
        error(
          `${VALUE}.downstream_discovery[0]`,
          'proxy.unsupported',
          'method {"workload_discovery":{}} is not implemented; expected {istio_headers: {}}',
        ),
      ],
    ],
    [
      'a method with two kinds',
      { upstream_discovery: [{ istio_headers: {}, workload_discovery: {} }] },
      [
        error(
          `${VALUE}.upstream_discovery[0]`,
          'proxy.unsupported',
          'method {"istio_headers":{},"workload_discovery":{}} is not implemented; expected {istio_headers: {}}',
        ),
      ],
    ],
    [
      'methods that are not a list',
      { upstream_propagation: { istio_headers: {} } },
      [
        error(
          `${VALUE}.upstream_propagation`,
          'proxy.type',
          'upstream_propagation must be a list, got {"istio_headers":{}}',
        ),
      ],
    ],
    [
      'a field Skiff does not honour',
      { shared_with_upstream: true },
      [
        error(
          `${VALUE}.shared_with_upstream`,
          'proxy.unsupported',
          'peer_metadata.Config field shared_with_upstream is not implemented; Skiff honours downstream_discovery, downstream_propagation, upstream_discovery, upstream_propagation',
        ),
      ],
    ],
  ];
  for (const [what, value, expected] of refused) {
    it(`refuses ${what}`, () => {
      const t = translateEntry('envoy.filters.http', exchangeEntry(value));
      assert.equal(t.value, undefined);
      assert.deepEqual(problems(t.diagnostics), expected);
    });
  }

  it('is not a network filter', () => {
    const t = translateEntry('envoy.filters.network', exchangeEntry({}));
    assert.deepEqual(
      problems(t.diagnostics).map((p) => [p.path, p.code]),
      [['filters[0]', 'proxy.unsupported']],
    );
  });
});
