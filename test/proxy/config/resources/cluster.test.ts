// The Cluster resource alone: every field of its support table, Envoy's defaults, each problem at its path, the
// secrets its transport sockets name and their inline material as secrets.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../../../src/proxy/config/json.js';
import type { ClusterConfig } from '../../../../src/proxy/config/model.js';
import { parseResource } from '../../../../src/proxy/config/resource.js';
import { CONNECT_TIMEOUT_MS, translateCluster } from '../../../../src/proxy/config/resources/cluster.js';
import { TYPE_URL } from '../../../../src/proxy/config/resources/index.js';
import {
  any,
  certificateFiles,
  cluster,
  context,
  error,
  type Problem,
  problems,
  refsOf,
  socketAddress,
  T,
  warning,
} from '../fixtures.js';

const parse = (input: unknown) => parseResource(TYPE_URL.cluster, input);

function ok(input: JsonObject): ClusterConfig {
  const r = parse(input);
  assert.deepEqual(problems(r.diagnostics), []);
  assert.ok(r.value);
  return r.value;
}

const upstreamTls = (fields: JsonObject) => ({
  name: 'envoy.transport_sockets.tls',
  typed_config: any(T.upstreamTls, fields),
});
const protocolOptions = (fields: JsonObject) => ({
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': any(T.httpProtocolOptions, fields),
  },
});

const withoutLoadAssignment = (fields: JsonObject = {}) => {
  const c = cluster(fields);
  delete c.load_assignment;
  return c;
};

describe('Cluster: defaults (Envoy’s)', () => {
  it('is STATIC, round robin, connects within 5s in plaintext and speaks HTTP/1.1', () => {
    const c = ok(cluster());
    assert.equal(c.name, 'app');
    assert.equal(c.type, 'STATIC');
    assert.equal(c.connectTimeoutMs, 5000);
    assert.equal(CONNECT_TIMEOUT_MS, 5000);
    assert.equal(c.lbPolicy, 'ROUND_ROBIN');
    assert.deepEqual(c.transport, { kind: 'raw' });
    assert.deepEqual(c.transportSocketMatches, []);
    assert.equal(c.httpProtocol, 'http1');
    assert.deepEqual(c.filterMetadata, {});
    assert.deepEqual(c.endpoints, [
      { address: { host: '127.0.0.1', port: 9080 }, healthy: true, metadata: {}, transportMatch: {} },
    ]);
  });
});

describe('Cluster: every field of its support table', () => {
  const cases: [string, JsonObject, (c: ClusterConfig) => unknown, unknown][] = [
    [
      'name',
      cluster({ name: 'inbound|9080||', load_assignment: { cluster_name: 'inbound|9080||' } }),
      (c) => c.name,
      'inbound|9080||',
    ],
    ['type STATIC written out', cluster({ type: 'STATIC' }), (c) => c.type, 'STATIC'],
    [
      'type EDS: over xDS its endpoints come from its ClusterLoadAssignment, named after the cluster',
      withoutLoadAssignment({ type: 'EDS' }),
      (c) => [c.type, c.edsServiceName, c.endpoints],
      ['EDS', 'app', []],
    ],
    [
      'eds_cluster_config: service_name names the ClusterLoadAssignment',
      withoutLoadAssignment({
        type: 'EDS',
        eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: 'app' },
      }),
      (c) => [c.type, c.edsServiceName],
      ['EDS', 'app'],
    ],
    [
      'circuit_breakers: max_retries enforced, unlimited connections and requests accepted (Istio’s defaults)',
      cluster({
        circuit_breakers: {
          thresholds: [
            {
              max_connections: 4294967295,
              max_pending_requests: 4294967295,
              max_requests: 4294967295,
              max_retries: 4294967295,
              track_remaining: false,
            },
          ],
        },
      }),
      (c) => c.maxRetries,
      4294967295,
    ],
    ['connect_timeout', cluster({ connect_timeout: '0.25s' }), (c) => c.connectTimeoutMs, 250],
    ['lb_policy LEAST_REQUEST', cluster({ lb_policy: 'LEAST_REQUEST' }), (c) => c.lbPolicy, 'LEAST_REQUEST'],
    [
      'lb_policy ROUND_ROBIN written out',
      cluster({ lb_policy: 'ROUND_ROBIN' }),
      (c) => c.lbPolicy,
      'ROUND_ROBIN',
    ],
    [
      'metadata: filter_metadata kept whole',
      cluster({
        metadata: {
          filter_metadata: {
            istio: { services: [{ host: 'app.ns.svc.cluster.local', name: 'app', namespace: 'ns' }] },
          },
        },
      }),
      (c) => c.filterMetadata,
      { istio: { services: [{ host: 'app.ns.svc.cluster.local', name: 'app', namespace: 'ns' }] } },
    ],
    [
      'load_assignment: every endpoint of every locality',
      cluster({
        load_assignment: {
          cluster_name: 'app',
          endpoints: [
            { lb_endpoints: [{ endpoint: { address: socketAddress('10.0.0.1', 80) } }] },
            {
              lb_endpoints: [
                { endpoint: { address: socketAddress('10.0.0.2', 80) } },
                { endpoint: { address: socketAddress('::1', 81) } },
              ],
            },
          ],
        },
      }),
      (c) => c.endpoints.map((e) => `${e.address.host}:${e.address.port}`),
      ['10.0.0.1:80', '10.0.0.2:80', '::1:81'],
    ],
    [
      'load_assignment without endpoints',
      cluster({ load_assignment: { cluster_name: 'app' } }),
      (c) => c.endpoints,
      [],
    ],
    [
      'transport_socket: TLS with SNI',
      cluster({ transport_socket: upstreamTls({ sni: 'outbound_.9080_._.app.ns.svc.cluster.local' }) }),
      (c) => (c.transport.kind === 'tls' ? c.transport.tls.sni : c.transport.kind),
      'outbound_.9080_._.app.ns.svc.cluster.local',
    ],
    [
      'transport_socket: raw_buffer by name',
      cluster({ transport_socket: { name: 'envoy.transport_sockets.raw_buffer' } }),
      (c) => c.transport,
      { kind: 'raw' },
    ],
    [
      'transport_socket_matches: name, match, transport socket, in order',
      cluster({
        transport_socket_matches: [
          { name: 'tlsMode-istio', match: { tlsMode: 'istio' }, transport_socket: upstreamTls({ sni: 'x' }) },
          {
            name: 'tlsMode-disabled',
            match: {},
            transport_socket: { name: 'envoy.transport_sockets.raw_buffer' },
          },
          { name: 'no-socket', match: { a: 'b' } },
        ],
      }),
      (c) => c.transportSocketMatches.map((m) => [m.name, m.match, m.transport.kind]),
      [
        ['tlsMode-istio', { tlsMode: 'istio' }, 'tls'],
        ['tlsMode-disabled', {}, 'raw'],
        ['no-socket', { a: 'b' }, 'raw'],
      ],
    ],
    [
      'typed_extension_protocol_options: HTTP/2',
      cluster(protocolOptions({ explicit_http_config: { http2_protocol_options: {} } })),
      (c) => c.httpProtocol,
      'http2',
    ],
    [
      'typed_extension_protocol_options: the downstream protocol',
      cluster(
        protocolOptions({
          use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
        }),
      ),
      (c) => c.httpProtocol,
      'downstream',
    ],
  ];
  for (const [what, input, pick, expected] of cases) {
    it(`reads ${what}`, () => assert.deepEqual(pick(ok(input)), expected));
  }
});

describe('Cluster: problems, each at its path', () => {
  const cases: [string, JsonObject, Problem[]][] = [
    ['no name', cluster({ name: '' }), [error('name', 'proxy.validate', 'must not be empty')]],
    [
      'a cluster type Skiff does not implement',
      cluster({ type: 'STRICT_DNS' }),
      [
        error(
          'type',
          'proxy.unsupported',
          'cluster type STRICT_DNS is not implemented; expected STATIC or EDS',
        ),
      ],
    ],
    [
      'a load balancing policy Skiff does not implement',
      cluster({ lb_policy: 'RING_HASH' }),
      [
        error(
          'lb_policy',
          'proxy.unsupported',
          'lb_policy RING_HASH is not implemented; expected ROUND_ROBIN or LEAST_REQUEST',
        ),
      ],
    ],
    [
      'a STATIC cluster without endpoints',
      withoutLoadAssignment(),
      [error('load_assignment', 'proxy.cluster', 'a STATIC cluster needs load_assignment')],
    ],
    [
      'an EDS cluster over xDS with a load_assignment (a warning: Envoy does not read it)',
      cluster({ type: 'EDS' }),
      [
        warning(
          'load_assignment',
          'proxy.cluster',
          'ignored: an EDS cluster takes its endpoints from its ClusterLoadAssignment resource',
        ),
      ],
    ],
    [
      'circuit breakers Skiff does not enforce (a finite connection limit, another priority)',
      cluster({
        circuit_breakers: { thresholds: [{ max_connections: 100 }, { priority: 'HIGH', max_retries: 1 }] },
      }),
      [
        error(
          'circuit_breakers.thresholds[0].max_connections',
          'proxy.unsupported',
          'max_connections 100 is not implemented: Skiff does not limit this; expected 4294967295 (unlimited) or nothing',
        ),
        error(
          'circuit_breakers.thresholds[1].priority',
          'proxy.unsupported',
          'priority HIGH is not implemented; expected DEFAULT',
        ),
      ],
    ],
    [
      'a load assignment for another cluster (a warning)',
      cluster({ load_assignment: { cluster_name: 'other' } }),
      [
        warning(
          'load_assignment.cluster_name',
          'proxy.cluster',
          'cluster_name "other" differs from the cluster\'s name "app"',
        ),
      ],
    ],
    [
      'a listener transport socket',
      cluster({ transport_socket: { name: 'tls', typed_config: any(T.downstreamTls) } }),
      [
        error(
          'transport_socket',
          'proxy.unsupported',
          'transport socket "tls" (envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext) does not belong here: it is an envoy.transport_sockets.downstream extension; expected envoy.transport_sockets.tls, envoy.transport_sockets.raw_buffer',
        ),
      ],
    ],
    [
      'a transport socket match with a listener transport socket',
      cluster({
        transport_socket_matches: [
          { name: 'm', transport_socket: { name: 'x', typed_config: any(T.downstreamTls) } },
        ],
      }),
      [
        error(
          'transport_socket_matches[0].transport_socket',
          'proxy.unsupported',
          'transport socket "x" (envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext) does not belong here: it is an envoy.transport_sockets.downstream extension; expected envoy.transport_sockets.tls, envoy.transport_sockets.raw_buffer',
        ),
      ],
    ],
    [
      'protocol options of another kind',
      cluster({
        typed_extension_protocol_options: {
          'envoy.filters.network.tcp_proxy': any(T.tcpProxy, { stat_prefix: 's', cluster: 'c' }),
        },
      }),
      [
        error(
          'typed_extension_protocol_options["envoy.filters.network.tcp_proxy"]',
          'proxy.unsupported',
          'protocol options envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy are not implemented; expected envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        ),
      ],
    ],
    [
      'protocol options by ALPN',
      cluster(protocolOptions({ auto_config: {} })),
      [
        error(
          'typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].auto_config',
          'proxy.unsupported',
          'auto_config (protocol by ALPN) is not implemented; use explicit_http_config or use_downstream_protocol_config',
        ),
      ],
    ],
    [
      'a field Skiff does not implement',
      cluster({ per_connection_buffer_limit_bytes: 1024 }),
      [
        error(
          'per_connection_buffer_limit_bytes',
          'proxy.unsupported',
          'field "per_connection_buffer_limit_bytes" of envoy.config.cluster.v3.Cluster is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
        ),
      ],
    ],
    [
      'an endpoint that is not an IP address',
      cluster({
        load_assignment: {
          cluster_name: 'app',
          endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress('app.local', 80) } }] }],
        },
      }),
      [
        error(
          'load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address',
          'proxy.address',
          '"app.local" is not an IP address',
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

  it('refuses a nameless cluster in its own translation too (the decoder usually says it first)', () => {
    const ctx = context();
    translateCluster({ load_assignment: { cluster_name: '' } }, ['c'], ctx);
    assert.deepEqual(problems(ctx.diagnostics), [error('c.name', 'proxy.cluster', 'a cluster needs a name')]);
  });

  // Envoy: `connect_timeout = 4 [(validate.rules).duration = {gt {}}]` — a zero timeout is refused.
  it('refuses connect_timeout 0s, as Envoy does', {}, () => {
    const r = parse(cluster({ connect_timeout: '0s' }));
    assert.deepEqual(
      problems(r.diagnostics).map((p) => [p.path, p.code]),
      [['connect_timeout', 'proxy.validate']],
    );
  });
});

describe('Cluster: references and inline secrets', () => {
  it('reports the secrets of its transport socket and of each transport socket match, and no cluster', () => {
    const r = parse(
      cluster({
        transport_socket: upstreamTls({
          common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'default' }] },
        }),
        transport_socket_matches: [
          {
            name: 'istio',
            match: { tlsMode: 'istio' },
            transport_socket: upstreamTls({
              common_tls_context: {
                combined_validation_context: {
                  default_validation_context: {
                    match_subject_alt_names: [{ exact: 'spiffe://cluster.local/ns/a/sa/b' }],
                  },
                  validation_context_sds_secret_config: { name: 'ROOTCA' },
                },
              },
            }),
          },
        ],
      }),
    );
    assert.deepEqual(problems(r.diagnostics), []);
    assert.deepEqual(refsOf(r), [
      [
        'secret',
        'ROOTCA',
        'transport_socket_matches[0].transport_socket.typed_config.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name',
        undefined,
      ],
      [
        'secret',
        'default',
        'transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].name',
        undefined,
      ],
    ]);
    assert.deepEqual(
      r.inlineSecrets.map((s) => s.name),
      [
        'inline:transport_socket_matches[0].transport_socket.typed_config.common_tls_context.combined_validation_context.default_validation_context',
      ],
    );
  });

  it('makes an inline client certificate a secret named after its path', () => {
    const r = parse(
      cluster({
        transport_socket: upstreamTls({ common_tls_context: { tls_certificates: [certificateFiles] } }),
      }),
    );
    assert.deepEqual(problems(r.diagnostics), []);
    const name = 'inline:transport_socket.typed_config.common_tls_context.tls_certificates[0]';
    assert.deepEqual(
      r.inlineSecrets.map((s) => [s.name, s.tlsCertificate?.certificateChain]),
      [
        [
          name,
          {
            kind: 'file',
            filename: 'cert.pem',
            path: [
              'transport_socket',
              'typed_config',
              'common_tls_context',
              'tls_certificates',
              0,
              'certificate_chain',
            ],
          },
        ],
      ],
    );
    assert.ok(r.value?.transport.kind === 'tls');
    assert.deepEqual(r.value.transport.tls.certificateSecrets, [name]);
  });
});
