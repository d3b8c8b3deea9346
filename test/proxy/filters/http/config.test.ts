// `envoy.filters.network.http_connection_manager` as a registered extension: every HttpConnectionManager field
// of its support table, Envoy's defaults, the HTTP filter chain (Istio's filters, the router last), routes inline
// or by RDS name, the clusters and route configuration it names, and each problem at its path.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../../../src/proxy/config/json.js';
import type { HttpConnectionManagerConfig } from '../../../../src/proxy/config/model.js';
import { HTTP_CONNECTION_MANAGER } from '../../../../src/proxy/filters/http/config.js';
import { HTTP_CONNECTION_MANAGER_EXTENSION } from '../../../../src/proxy/filters/http/index.js';
import {
  any,
  type EntryOptions,
  error,
  hcmFilter,
  type Problem,
  problems,
  refsOf,
  routerFilter,
  routeTable,
  T,
  translateEntry,
  typedStruct,
} from '../../config/fixtures.js';

const run = (fields: JsonObject, options?: EntryOptions) =>
  translateEntry('envoy.filters.network', hcmFilter(fields), options);

function ok(fields: JsonObject, options?: EntryOptions): HttpConnectionManagerConfig {
  const t = run(fields, options);
  assert.deepEqual(problems(t.diagnostics), []);
  assert.ok(t.value?.kind === 'http_connection_manager');
  return t.value;
}

const AT = 'filters[0].typed_config';
const stats = { name: 'istio.stats', typed_config: typedStruct(T.istioStats, {}) };
const exchange = {
  name: 'istio.metadata_exchange',
  typed_config: typedStruct(T.peerMetadata, { upstream_discovery: [{ istio_headers: {} }] }),
};

describe('http_connection_manager: registration', () => {
  it('is a network filter found by HttpConnectionManager, named as Envoy names it, with its runtime', () => {
    assert.equal(HTTP_CONNECTION_MANAGER.name, 'envoy.filters.network.http_connection_manager');
    assert.deepEqual(HTTP_CONNECTION_MANAGER.aliases, ['envoy.http_connection_manager']);
    assert.equal(HTTP_CONNECTION_MANAGER.category, 'envoy.filters.network');
    assert.deepEqual(HTTP_CONNECTION_MANAGER.types, [T.hcm]);
    assert.equal(HTTP_CONNECTION_MANAGER_EXTENSION.runtime?.kind, 'http_connection_manager');
  });
});

describe('http_connection_manager: defaults (Envoy’s)', () => {
  it('AUTO codec, SANITIZE for XFCC, 60 KiB of headers, no header timeout, 5 min stream idle, 1 h connection idle, HTTP/1.0 refused, absolute URLs taken, no upgrades, `server: envoy` on every response, no access log', () => {
    const h = ok({});
    assert.deepEqual(
      { ...h, virtualHosts: h.virtualHosts.length },
      {
        kind: 'http_connection_manager',
        statPrefix: 'in',
        codec: 'AUTO',
        routeConfigName: 'local',
        virtualHosts: 1,
        ignorePortInHostMatching: false,
        rds: false,
        forwardClientCertDetails: 'SANITIZE',
        clientCertDetails: { subject: false, cert: false, chain: false, dns: false, uri: false },
        maxRequestHeadersKb: 60,
        requestHeadersTimeoutMs: 0,
        streamIdleTimeoutMs: 300_000,
        idleTimeoutMs: 3_600_000,
        allowCustomMethods: false,
        acceptHttp10: false,
        defaultHostForHttp10: '',
        allowAbsoluteUrl: true,
        useRemoteAddress: false,
        upgrades: [],
        serverName: 'envoy',
        serverHeaderTransformation: 'OVERWRITE',
        istioStats: undefined,
        peerMetadata: undefined,
        accessLogs: [],
      },
    );
  });
});

describe('http_connection_manager: every field of its support table', () => {
  const cases: [string, JsonObject, (h: HttpConnectionManagerConfig) => unknown, unknown][] = [
    ['stat_prefix', { stat_prefix: 'inbound_0.0.0.0_8080' }, (h) => h.statPrefix, 'inbound_0.0.0.0_8080'],
    ['codec_type HTTP1', { codec_type: 'HTTP1' }, (h) => h.codec, 'HTTP1'],
    ['codec_type HTTP2', { codec_type: 'HTTP2' }, (h) => h.codec, 'HTTP2'],
    ['codec_type AUTO written out', { codec_type: 'AUTO' }, (h) => h.codec, 'AUTO'],
    [
      'route_config inline, whole',
      { route_config: routeTable('app', { name: 'inbound|8080||', ignore_port_in_host_matching: true }) },
      (h) => [h.routeConfigName, h.ignorePortInHostMatching, h.rds, h.virtualHosts[0]?.routes[0]?.action],
      ['inbound|8080||', true, false, { cluster: 'app', timeoutMs: 15_000 }],
    ],
    [
      'rds: the routes by name, none inline',
      {
        route_config: null,
        rds: { route_config_name: '8080', config_source: { ads: {}, resource_api_version: 'V3' } },
      },
      (h) => [h.rds, h.routeConfigName, h.virtualHosts, h.ignorePortInHostMatching],
      [true, '8080', [], false],
    ],
    [
      'forward_client_cert_details',
      { forward_client_cert_details: 'APPEND_FORWARD' },
      (h) => h.forwardClientCertDetails,
      'APPEND_FORWARD',
    ],
    [
      'set_current_client_cert_details, each part',
      { set_current_client_cert_details: { subject: true, cert: true, chain: true, dns: true, uri: true } },
      (h) => h.clientCertDetails,
      { subject: true, cert: true, chain: true, dns: true, uri: true },
    ],
    [
      'set_current_client_cert_details, some parts',
      { set_current_client_cert_details: { uri: true, dns: true } },
      (h) => h.clientCertDetails,
      { subject: false, cert: false, chain: false, dns: true, uri: true },
    ],
    ['max_request_headers_kb', { max_request_headers_kb: 96 }, (h) => h.maxRequestHeadersKb, 96],
    ['request_headers_timeout', { request_headers_timeout: '10s' }, (h) => h.requestHeadersTimeoutMs, 10_000],
    ['stream_idle_timeout', { stream_idle_timeout: '0s' }, (h) => h.streamIdleTimeoutMs, 0],
    [
      'upgrade_configs: enabled ones, lower-cased',
      {
        upgrade_configs: [
          { upgrade_type: 'WebSocket' },
          { upgrade_type: 'CONNECT', enabled: false },
          { upgrade_type: 'h2c', enabled: true },
        ],
      },
      (h) => h.upgrades,
      ['websocket', 'h2c'],
    ],
    ['use_remote_address false', { use_remote_address: false }, (h) => h.useRemoteAddress, false],
    ['use_remote_address true', { use_remote_address: true }, (h) => h.useRemoteAddress, true],
    [
      'server_name, as Istio’s inbound listeners set it',
      { server_name: 'istio-envoy' },
      (h) => [h.serverName, h.serverHeaderTransformation],
      ['istio-envoy', 'OVERWRITE'],
    ],
    ['server_name empty: Envoy’s default', { server_name: '' }, (h) => h.serverName, 'envoy'],
    [
      'server_name with spaces, tabs and punctuation',
      { server_name: 'my proxy\t(v1.2; +x)' },
      (h) => h.serverName,
      'my proxy\t(v1.2; +x)',
    ],
    [
      'server_header_transformation OVERWRITE written out',
      { server_header_transformation: 'OVERWRITE' },
      (h) => h.serverHeaderTransformation,
      'OVERWRITE',
    ],
    [
      'server_header_transformation APPEND_IF_ABSENT',
      { server_header_transformation: 'APPEND_IF_ABSENT', server_name: 'front' },
      (h) => [h.serverName, h.serverHeaderTransformation],
      ['front', 'APPEND_IF_ABSENT'],
    ],
    [
      'server_header_transformation PASS_THROUGH, by number',
      { server_header_transformation: 2 },
      (h) => h.serverHeaderTransformation,
      'PASS_THROUGH',
    ],
    [
      'http_protocol_options: allow_custom_methods',
      { http_protocol_options: { allow_custom_methods: true } },
      (h) => h.allowCustomMethods,
      true,
    ],
    [
      'http_protocol_options: accept_http_10 and default_host_for_http_10',
      { http_protocol_options: { accept_http_10: true, default_host_for_http_10: 'ratings.default:9080' } },
      (h) => [h.acceptHttp10, h.defaultHostForHttp10],
      [true, 'ratings.default:9080'],
    ],
    [
      'http_protocol_options: allow_absolute_url false',
      { http_protocol_options: { allow_absolute_url: false } },
      (h) => h.allowAbsoluteUrl,
      false,
    ],
    [
      'http_protocol_options: allow_absolute_url true, as Istio writes it',
      { http_protocol_options: { allow_absolute_url: true } },
      (h) => [h.allowAbsoluteUrl, h.acceptHttp10],
      [true, false],
    ],
    [
      'http_filters: the router alone',
      { http_filters: [routerFilter] },
      (h) => [h.istioStats, h.peerMetadata],
      [undefined, undefined],
    ],
  ];
  for (const [what, fields, pick, expected] of cases) {
    it(`reads ${what}`, () => assert.deepEqual(pick(ok(fields)), expected));
  }

  it('reads Istio’s HTTP filters before the router; istio.stats takes the listener’s direction', () => {
    const h = ok({ http_filters: [exchange, stats, routerFilter] }, { direction: 'OUTBOUND' });
    assert.deepEqual(h.istioStats, {
      reporter: 'source',
      tcpReportingMs: 5000,
      disableHostHeaderFallback: false,
    });
    assert.deepEqual(h.peerMetadata, {
      downstreamDiscovery: false,
      downstreamPropagation: false,
      upstreamDiscovery: true,
      upstreamPropagation: false,
    });
  });
});

describe('http_connection_manager: references', () => {
  it('reports each inline route’s cluster, validated by default (an inline table, as Envoy)', () => {
    assert.deepEqual(refsOf(run({})), [
      ['cluster', 'app', `${AT}.route_config.virtual_hosts[0].routes[0].route.cluster`, 'validate_clusters'],
    ]);
  });

  it('reports a 503 NC instead when the inline table sets validate_clusters false (Istio)', () => {
    assert.deepEqual(
      refsOf(run({ route_config: routeTable('nope', { validate_clusters: false }) })).map((r) => [
        r[1],
        r[3],
      ]),
      [['nope', '503 NC']],
    );
  });

  it('reports the RDS route configuration it names', () => {
    assert.deepEqual(
      refsOf(run({ route_config: null, rds: { route_config_name: '8080', config_source: { ads: {} } } })),
      [['route_configuration', '8080', `${AT}.rds.route_config_name`, undefined]],
    );
  });
});

describe('http_connection_manager: problems, each at its path', () => {
  const cases: [string, JsonObject, Problem[], EntryOptions?][] = [
    [
      'HTTP/3',
      { codec_type: 'HTTP3' },
      [
        error(
          `${AT}.codec_type`,
          'proxy.unsupported',
          'codec_type HTTP3 is not implemented; expected AUTO, HTTP1 or HTTP2',
        ),
      ],
    ],
    [
      'no HTTP filters',
      { http_filters: [] },
      [
        error(
          `${AT}.http_filters`,
          'proxy.required',
          'the router filter (envoy.filters.http.router) is required',
        ),
      ],
    ],
    [
      'a filter after the router',
      { http_filters: [routerFilter, stats] },
      [
        error(`${AT}.http_filters[0]`, 'proxy.filter-order', 'the router must be the last HTTP filter'),
        error(
          `${AT}.http_filters`,
          'proxy.required',
          'the router filter (envoy.filters.http.router) must be the last HTTP filter',
        ),
      ],
      { direction: 'INBOUND' },
    ],
    [
      'no router',
      { http_filters: [stats] },
      [
        error(
          `${AT}.http_filters`,
          'proxy.required',
          'the router filter (envoy.filters.http.router) must be the last HTTP filter',
        ),
      ],
      { direction: 'INBOUND' },
    ],
    [
      'an HTTP filter Skiff does not have',
      { http_filters: [{ name: 'envoy.filters.http.cors' }, routerFilter] },
      [
        error(
          `${AT}.http_filters[0].name`,
          'proxy.unsupported',
          'HTTP filter "envoy.filters.http.cors" is not implemented; expected istio.metadata_exchange, istio.stats, istio.alpn, envoy.filters.http.router',
        ),
      ],
    ],
    [
      'a network filter among the HTTP filters',
      {
        http_filters: [
          { name: 'tcp', typed_config: any(T.tcpProxy, { stat_prefix: 's', cluster: 'c' }) },
          routerFilter,
        ],
      },
      [
        error(
          `${AT}.http_filters[0]`,
          'proxy.unsupported',
          'HTTP filter "tcp" (envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy) does not belong here: it is an envoy.filters.network extension; expected istio.metadata_exchange, istio.stats, istio.alpn, envoy.filters.http.router',
        ),
      ],
    ],
    [
      'neither route_config nor rds',
      { route_config: null },
      [
        error(
          AT,
          'proxy.required',
          'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager: one of rds, route_config, scoped_routes is required',
        ),
      ],
    ],
    [
      'no stat_prefix',
      { stat_prefix: '' },
      [error(`${AT}.stat_prefix`, 'proxy.validate', 'must not be empty')],
    ],
    [
      'max_request_headers_kb 0',
      { max_request_headers_kb: 0 },
      [error(`${AT}.max_request_headers_kb`, 'proxy.validate', '0 must be greater than 0')],
    ],
    [
      'max_request_headers_kb over 8192',
      { max_request_headers_kb: 8193 },
      [error(`${AT}.max_request_headers_kb`, 'proxy.validate', '8193 must be at most 8192')],
    ],
    [
      'a field Skiff does not implement',
      { generate_request_id: true },
      [
        error(
          `${AT}.generate_request_id`,
          'proxy.unsupported',
          'field "generate_request_id" of envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
        ),
      ],
    ],
    [
      'a default_host_for_http_10 that is no valid Host',
      { http_protocol_options: { accept_http_10: true, default_host_for_http_10: 'bad host/x' } },
      [
        error(
          `${AT}.http_protocol_options.default_host_for_http_10`,
          'proxy.host',
          `"bad host/x" is not a valid Host: a host[:port] of letters, digits and !$%&'()*+,-.:;=@[]_~`,
        ),
      ],
    ],
    [
      'a server_name with CR LF (Envoy refuses NUL, CR, LF)',
      { server_name: 'envoy\r\nx-injected: 1' },
      [
        error(
          `${AT}.server_name`,
          'proxy.header-value',
          '"envoy\\r\\nx-injected: 1" cannot be a header value: it has "\\r" (Envoy refuses NUL, CR and LF)',
        ),
      ],
    ],
    [
      'a server_name with a NUL',
      { server_name: 'a\u0000' },
      [
        error(
          `${AT}.server_name`,
          'proxy.header-value',
          '"a\\u0000" cannot be a header value: it has "\\u0000" (Envoy refuses NUL, CR and LF)',
        ),
      ],
    ],
    [
      'a server_name with another control character',
      { server_name: 'a\u0001' },
      [
        error(
          `${AT}.server_name`,
          'proxy.header-value',
          '"a\\u0001" cannot be a header value: it has "\\u0001" (Skiff takes printable ASCII, space and tab only)',
        ),
      ],
    ],
    [
      'a server_name that is not ASCII',
      { server_name: 'prox\u00ff' },
      [
        error(
          `${AT}.server_name`,
          'proxy.header-value',
          '"prox\u00ff" cannot be a header value: it has "\u00ff" (Skiff takes printable ASCII, space and tab only)',
        ),
      ],
    ],
    [
      'a server_header_transformation Envoy does not define',
      { server_header_transformation: 'REPLACE' },
      [
        error(
          `${AT}.server_header_transformation`,
          'proxy.enum',
          '"REPLACE" is not a value of envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.ServerHeaderTransformation; expected one of OVERWRITE, APPEND_IF_ABSENT, PASS_THROUGH',
        ),
      ],
    ],
    [
      'a server_header_transformation number Envoy does not define',
      { server_header_transformation: 7 },
      [
        error(
          `${AT}.server_header_transformation`,
          'proxy.enum',
          '7 is not a value of envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.ServerHeaderTransformation; expected one of OVERWRITE, APPEND_IF_ABSENT, PASS_THROUGH',
        ),
      ],
    ],
    [
      'istio.stats on a listener without a direction',
      { http_filters: [stats, routerFilter] },
      [
        error(
          `${AT}.http_filters[0].typed_config`,
          'proxy.istio-stats',
          'istio.stats needs the listener\'s traffic_direction INBOUND (reporter="destination") or OUTBOUND (reporter="source"), got UNSPECIFIED',
        ),
      ],
    ],
  ];
  for (const [what, fields, expected, options] of cases) {
    it(`refuses ${what}`, () => {
      const t = run(fields, options);
      assert.equal(t.value, undefined);
      assert.deepEqual(problems(t.diagnostics), expected);
    });
  }
});
