import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../../../src/core/diagnostics.js';
import { parseBootstrap } from '../../../src/proxy/config/load.js';
import { PROXY_SUPPORT, SUPPORT_GROUPS } from '../../../src/proxy/config/support.js';
import { renderSupportDoc, SUPPORT_DOC_HEADING } from '../../../src/proxy/config/support-doc.js';
import { OUTLIER_DEFAULTS } from '../../../src/proxy/upstream/outlier-detector.js';
import { repoRoot } from '../../helpers.js';

/** The reference bootstrap, kept in the repository as an unchanged copy of shared/examples/ (CI has no shared/). */
const REFERENCE = `${repoRoot}examples/proxy/inbound-permissive.yaml`;
const SHARED_REFERENCE = `${repoRoot}../shared/examples/inbound-permissive.yaml`;

function errorsOf(yaml: string): string[] {
  return parseBootstrap(yaml, 'b.yaml')
    .diagnostics.filter((d) => d.severity === 'error')
    .map(formatDiagnostic);
}

const base = (listener: string, extra = '') => `
static_resources:
  clusters:
  - name: app
    connect_timeout: 1s
    load_assignment:
      cluster_name: app
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 9080}}}
  listeners:
  - name: l
    address: {socket_address: {address: 127.0.0.1, port_value: 15006}}
${listener}
${extra}`;

const tcp = `
      filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: app
          cluster: app`;

describe('the reference bootstrap (shared/examples/inbound-permissive.yaml)', () => {
  it('is kept in examples/proxy/ byte for byte', (t) => {
    if (!existsSync(SHARED_REFERENCE)) {
      t.skip('shared/examples is not next to this checkout');
      return;
    }
    assert.equal(readFileSync(REFERENCE, 'utf8'), readFileSync(SHARED_REFERENCE, 'utf8'));
  });

  it('loads as is, with the node, secrets, chains and cluster compiled', () => {
    const loaded = parseBootstrap(readFileSync(REFERENCE, 'utf8'), 'inbound-permissive.yaml');
    assert.deepEqual(loaded.diagnostics, []);
    const c = loaded.config;
    assert.ok(c);
    assert.equal(c.node.namespace, 'bookinfo');
    assert.equal(c.node.serviceAccount, 'bookinfo-ratings');
    assert.deepEqual(c.node.labels, { app: 'ratings', version: 'v1' });
    assert.deepEqual(c.admin, { host: '127.0.0.1', port: 15000 });
    const l = c.listeners[0];
    assert.ok(l);
    assert.equal(l.statPrefix, '127.0.0.1_15006');
    assert.equal(l.listenerFiltersTimeoutMs, 5000);
    assert.equal(l.continueOnListenerFiltersTimeout, true);
    assert.deepEqual(
      l.filterChains.map((f) => [f.name, f.match.transportProtocol, f.transport.kind]),
      [
        ['0.0.0.0_9080_mtls', 'tls', 'tls'],
        ['0.0.0.0_9080_passthrough_tls', 'tls', 'raw'],
        ['0.0.0.0_9080_plaintext', 'raw_buffer', 'raw'],
      ],
    );
    const mtls = l.filterChains[0]?.transport;
    assert.ok(mtls?.kind === 'tls');
    assert.equal(mtls.tls.requireClientCertificate, true);
    assert.equal(mtls.tls.sessionTickets, true, "Envoy's default: session tickets issued");
    assert.deepEqual(mtls.tls.alpn, ['istio-peer-exchange', 'h2', 'http/1.1']);
    assert.deepEqual(mtls.tls.certificateSecrets, ['default']);
    assert.equal(mtls.tls.validationSecrets.length, 2);
    assert.equal(mtls.tls.validationSecrets[1], 'ROOTCA');
    assert.equal(mtls.tls.params.minVersion, 'TLSv1.2');
    const inline = c.secrets.find((s) => s.name === mtls.tls.validationSecrets[0]);
    assert.equal(inline?.inline, true);
    assert.deepEqual(
      inline?.validationContext?.sanMatchers.map((m) => [m.type, m.match.kind, m.match.value]),
      [['URI', 'prefix', 'spiffe://cluster.local/']],
    );
    assert.equal(c.clusters[0]?.name, 'inbound|9080||');
    assert.equal(c.clusters[0]?.connectTimeoutMs, 1000);
  });
});

describe('compiling a bootstrap: what decoding cannot see', () => {
  it('disable_stateless_session_resumption turns session tickets off', () => {
    const yaml = readFileSync(REFERENCE, 'utf8').replace(
      'require_client_certificate: true',
      'require_client_certificate: true\n          disable_stateless_session_resumption: true',
    );
    const loaded = parseBootstrap(yaml, 'inbound-permissive.yaml');
    assert.deepEqual(loaded.diagnostics, []);
    const mtls = loaded.config?.listeners[0]?.filterChains[0]?.transport;
    assert.ok(mtls?.kind === 'tls');
    assert.equal(mtls.tls.sessionTickets, false);
  });

  it('accepts a small valid listener', () => {
    assert.deepEqual(errorsOf(base(`    filter_chains:\n    - ${tcp.trim()}`)), []);
  });

  const cases: [string, string, RegExp][] = [
    [
      'misspelled field inside typed_config, with its line',
      base(`    filter_chains:\n    - ${tcp.trim().replace('cluster: app', 'clustr: app')}`),
      /b\.yaml:\d+: static_resources\.listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.clustr: unknown field "clustr"/,
    ],
    [
      'a field the proxy does not implement',
      base(`    per_connection_buffer_limit_bytes: 1024\n    filter_chains:\n    - ${tcp.trim()}`),
      /listeners\[0\]\.per_connection_buffer_limit_bytes: field "per_connection_buffer_limit_bytes" of envoy\.config\.listener\.v3\.Listener is not implemented/,
    ],
    [
      'a listener filter the proxy does not implement',
      base(
        `    listener_filters:\n    - name: envoy.filters.listener.proxy_protocol\n      typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol}\n    filter_chains:\n    - ${tcp.trim()}`,
      ),
      /listener_filters\[0\]\.typed_config\["@type"\]: unknown type/,
    ],
    [
      'duplicate filter chain matches',
      base(`    filter_chains:\n    - ${tcp.trim()}\n    - ${tcp.trim()}`),
      /filter_chains\[1\]\.filter_chain_match: multiple filter chains with the same matching rules are defined/,
    ],
    [
      'a listener without chains',
      base('    filter_chains: []'),
      /listeners\[0\]\.filter_chains: a listener needs at least one filter chain/,
    ],
    [
      'an SDS secret that is not defined',
      base(
        `    filter_chains:\n    - transport_socket:\n        name: envoy.transport_sockets.tls\n        typed_config:\n          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext\n          common_tls_context:\n            tls_certificate_sds_secret_configs: [{name: default}]\n      ${tcp.trim()}`,
      ),
      /tls_certificate_sds_secret_configs\[0\]\.name: secret "default" is not in static_resources\.secrets/,
    ],
    [
      'an SDS config pointing at a server',
      base(
        `    filter_chains:\n    - transport_socket:\n        name: envoy.transport_sockets.tls\n        typed_config:\n          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext\n          common_tls_context:\n            tls_certificate_sds_secret_configs: [{name: default, sds_config: {ads: {}}}]\n      ${tcp.trim()}`,
      ),
      /tls_certificate_sds_secret_configs\[0\]\.name: secret "default" is not in static_resources\.secrets; SDS from a server is not implemented/,
    ],
    [
      'a server TLS context without a certificate',
      base(
        `    filter_chains:\n    - transport_socket:\n        name: envoy.transport_sockets.tls\n        typed_config:\n          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext\n          require_client_certificate: true\n      ${tcp.trim()}`,
      ),
      /common_tls_context: a server TLS context needs a certificate/,
    ],
    [
      'an unknown cipher',
      base(
        `    filter_chains:\n    - transport_socket:\n        name: envoy.transport_sockets.tls\n        typed_config:\n          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext\n          common_tls_context:\n            tls_params: {cipher_suites: [ECDHE-ECDSA-AES128-GCM-SHA256, NOT-A-CIPHER]}\n            tls_certificates: [{certificate_chain: {filename: c.pem}, private_key: {filename: k.pem}}]\n      ${tcp.trim()}`,
      ),
      /cipher_suites\[1\]: unknown cipher suite "NOT-A-CIPHER"/,
    ],
    [
      'min TLS version above max',
      base(
        `    filter_chains:\n    - transport_socket:\n        name: envoy.transport_sockets.tls\n        typed_config:\n          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext\n          common_tls_context:\n            tls_params: {tls_minimum_protocol_version: TLSv1_3, tls_maximum_protocol_version: TLSv1_2}\n            tls_certificates: [{certificate_chain: {filename: c.pem}, private_key: {filename: k.pem}}]\n      ${tcp.trim()}`,
      ),
      /tls_params: tls_minimum_protocol_version TLSv1\.3 is above tls_maximum_protocol_version TLSv1\.2/,
    ],
    [
      'a cluster type not implemented',
      base(`    filter_chains:\n    - ${tcp.trim()}`).replace(
        'connect_timeout: 1s',
        'connect_timeout: 1s\n    type: STRICT_DNS',
      ),
      /clusters\[0\]\.type: cluster type STRICT_DNS is not implemented; expected STATIC/,
    ],
    [
      'an address that is not an IP',
      base(`    filter_chains:\n    - ${tcp.trim()}`).replace(
        'address: 127.0.0.1, port_value: 9080',
        'address: app.local, port_value: 9080',
      ),
      /socket_address\.address: "app\.local" is not an IP address/,
    ],
    [
      'duplicate listener names',
      base(`    filter_chains:\n    - ${tcp.trim()}`) +
        `\n  - name: l\n    address: {socket_address: {address: 127.0.0.1, port_value: 15007}}\n    filter_chains:\n    - ${tcp.trim()}`,
      /listeners\[1\]\.name: listener name "l" is already used at \[0\]/,
    ],
    [
      'an invalid RE2 SAN matcher',
      base(
        `    filter_chains:\n    - transport_socket:\n        name: envoy.transport_sockets.tls\n        typed_config:\n          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext\n          common_tls_context:\n            tls_certificates: [{certificate_chain: {filename: c.pem}, private_key: {filename: k.pem}}]\n            validation_context:\n              match_typed_subject_alt_names: [{san_type: URI, matcher: {safe_regex: {regex: "(?=x)"}}}]\n      ${tcp.trim()}`,
      ),
      /safe_regex\.regex: invalid RE2 expression/,
    ],
    [
      'a listener transport socket on a cluster',
      base(`    filter_chains:\n    - ${tcp.trim()}`).replace(
        'connect_timeout: 1s',
        'connect_timeout: 1s\n    transport_socket:\n      name: tls\n      typed_config: {"@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext}',
      ),
      /clusters\[0\]\.transport_socket: transport socket "tls" \(envoy\.extensions\.transport_sockets\.tls\.v3\.DownstreamTlsContext\) does not belong here: it is an envoy\.transport_sockets\.downstream extension; expected envoy\.transport_sockets\.tls, envoy\.transport_sockets\.raw_buffer/,
    ],
    [
      'an EDS cluster without endpoints in a static bootstrap',
      base(`    filter_chains:\n    - ${tcp.trim()}`).replace(
        / {4}load_assignment:[\s\S]*?port_value: 9080}}}\n/,
        '    type: EDS\n',
      ),
      /clusters\[0\]\.load_assignment: an EDS cluster in a static bootstrap takes its ClusterLoadAssignment from load_assignment/,
    ],
    [
      'an upstream SDS secret that is not defined',
      base(`    filter_chains:\n    - ${tcp.trim()}`).replace(
        'connect_timeout: 1s',
        'connect_timeout: 1s\n    transport_socket:\n      name: tls\n      typed_config:\n        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext\n        common_tls_context: {tls_certificate_sds_secret_configs: [{name: default}]}',
      ),
      /clusters\[0\]\.transport_socket\.typed_config\.common_tls_context\.tls_certificate_sds_secret_configs\[0\]\.name: secret "default" is not in static_resources\.secrets/,
    ],
    [
      'an HTTP/3 codec',
      base(
        `    filter_chains:\n    - ${`      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: in
          EXTRA
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}`
          .trim()
          .replace('EXTRA', 'codec_type: HTTP3\n          route_config: {virtual_hosts: []}')}`,
      ),
      /typed_config\.codec_type: codec_type HTTP3 is not implemented; expected AUTO, HTTP1 or HTTP2/,
    ],
    [
      'RDS in a static bootstrap (nothing could serve it)',
      base(
        `    filter_chains:\n    - ${`      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: in
          EXTRA
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}`
          .trim()
          .replace('EXTRA', 'rds: {route_config_name: x, config_source: {ads: {}}}')}`,
      ),
      /typed_config\.rds\.route_config_name: route configuration "x" would come over RDS, and a static bootstrap has no source for it/,
    ],
    [
      'a route to a redirect',
      base(
        `    filter_chains:\n    - ${`      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: in
          EXTRA
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}`
          .trim()
          .replace(
            'EXTRA',
            'route_config: {virtual_hosts: [{name: v, domains: ["*"], routes: [{match: {prefix: /}, redirect: {path_redirect: /x}}]}]}',
          )}`,
      ),
      /routes\[0\]\.redirect: field "redirect" of envoy\.config\.route\.v3\.Route is not implemented/,
    ],
    [
      'node metadata LABELS not a map',
      `node: {metadata: {LABELS: [a]}}\n${base(`    filter_chains:\n    - ${tcp.trim()}`)}`,
      /node\.metadata\.LABELS: expected a map/,
    ],
    [
      'two YAML documents',
      `${base(`    filter_chains:\n    - ${tcp.trim()}`)}\n---\n{}`,
      /expected one YAML document \(a Bootstrap\), found 2/,
    ],
  ];
  for (const [name, yaml, expected] of cases) {
    it(`refuses ${name}`, () => {
      const errors = errorsOf(yaml);
      assert.ok(
        errors.some((e) => expected.test(e)),
        `expected ${expected}, got:\n${errors.join('\n')}`,
      );
    });
  }

  it('compiles auto mTLS: transport socket matches, endpoint metadata, the client defaults of Envoy', () => {
    const yaml = base(`    filter_chains:\n    - ${tcp.trim()}`)
      .replace(
        '    connect_timeout: 1s',
        `    connect_timeout: 1s
    type: EDS
    transport_socket_matches:
    - name: tlsMode-istio
      match: {tlsMode: istio}
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
          sni: outbound_.9080_._.app.default.svc.cluster.local
          common_tls_context:
            alpn_protocols: [istio-peer-exchange, istio]
            tls_certificate_sds_secret_configs: [{name: default}]
            combined_validation_context:
              default_validation_context: {match_subject_alt_names: [{exact: "spiffe://cluster.local/ns/default/sa/app"}]}
              validation_context_sds_secret_config: {name: ROOTCA}
    - name: tlsMode-disabled
      match: {}
      transport_socket: {name: envoy.transport_sockets.raw_buffer}`,
      )
      .replace(
        '        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 9080}}}',
        `        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 9080}}}
          metadata: {filter_metadata: {envoy.transport_socket_match: {tlsMode: istio}}}
        - endpoint: {address: {socket_address: {address: 127.0.0.2, port_value: 9080}}}`,
      );
    const agent = parseBootstrap(yaml, 'b.yaml', { providedSecrets: ['default', 'ROOTCA'] });
    assert.deepEqual(
      agent.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    const cluster = agent.config?.clusters[0];
    assert.ok(cluster);
    assert.equal(cluster.type, 'EDS');
    assert.deepEqual(
      cluster.endpoints.map((e) => e.transportMatch),
      [{ tlsMode: 'istio' }, {}],
    );
    const [istio, disabled] = cluster.transportSocketMatches;
    assert.equal(disabled?.transport.kind, 'raw');
    assert.ok(istio?.transport.kind === 'tls');
    assert.equal(istio.transport.tls.sni, 'outbound_.9080_._.app.default.svc.cluster.local');
    assert.deepEqual(istio.transport.tls.alpn, ['istio-peer-exchange', 'istio']);
    assert.equal(istio.transport.tls.params.maxVersion, 'TLSv1.2', "Envoy's client default maximum");
    assert.deepEqual(istio.transport.tls.certificateSecrets, ['default']);
    assert.equal(istio.transport.tls.validationSecrets.at(-1), 'ROOTCA');
    // Without the agent, `default` and `ROOTCA` must be static secrets.
    assert.match(errorsOf(yaml).join('\n'), /secret "default" is not in static_resources\.secrets/);
  });

  it('JSON works the same way', () => {
    const loaded = parseBootstrap(
      JSON.stringify({ static_resources: { listeners: [{ name: 'l', bogus: 1 }] } }),
      'b.json',
    );
    assert.match(
      loaded.diagnostics.map(formatDiagnostic).join('\n'),
      /b\.json: static_resources\.listeners\[0\]\.bogus: unknown field/,
    );
    assert.match(parseBootstrap('{', 'b.json').diagnostics.map(formatDiagnostic).join(), /b\.json: .*JSON/);
  });
});

describe("Istio's HTTP filters, the TCP stats filter and upstream HTTP protocol options", () => {
  const hcm = (filters: string, direction = 'INBOUND') =>
    base(`    traffic_direction: ${direction}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: in
          codec_type: HTTP2
          route_config: {virtual_hosts: [{name: v, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: app}}]}]}
          http_filters:
${filters}
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}`);
  const typed = (name: string, typeUrl: string, value: string) => `          - name: ${name}
            typed_config:
              "@type": type.googleapis.com/udpa.type.v1.TypedStruct
              type_url: type.googleapis.com/${typeUrl}
              value: ${value}`;
  const mx = (value: string) => typed('istio.metadata_exchange', 'io.istio.http.peer_metadata.Config', value);
  const stats = (value: string) => typed('istio.stats', 'stats.PluginConfig', value);

  it('compiles istio.metadata_exchange and istio.stats; the reporter comes from traffic_direction', () => {
    const inbound = parseBootstrap(
      hcm(
        `${mx('{downstream_discovery: [{istio_headers: {}}], downstream_propagation: [{istio_headers: {}}]}')}\n${stats('{tcpReportingDuration: 2s}')}`,
      ),
      'b.yaml',
    );
    assert.deepEqual(inbound.diagnostics, []);
    const f = inbound.config?.listeners[0]?.filterChains[0]?.filters[0];
    assert.ok(f?.kind === 'http_connection_manager');
    assert.equal(f.codec, 'HTTP2');
    assert.deepEqual(f.istioStats, {
      reporter: 'destination',
      tcpReportingMs: 2000,
      disableHostHeaderFallback: false,
    });
    assert.deepEqual(f.peerMetadata, {
      downstreamDiscovery: true,
      downstreamPropagation: true,
      upstreamDiscovery: false,
      upstreamPropagation: false,
    });
    const outbound = parseBootstrap(hcm(stats('{}'), 'OUTBOUND'), 'b.yaml').config?.listeners[0]
      ?.filterChains[0]?.filters[0];
    assert.ok(outbound?.kind === 'http_connection_manager');
    assert.equal(outbound.istioStats?.reporter, 'source');
    assert.equal(outbound.istioStats?.tcpReportingMs, 5000);
  });

  it('puts the TCP istio.stats filter on the tcp_proxy after it', () => {
    const yaml = base(`    traffic_direction: OUTBOUND
    filter_chains:
    - filters:
      - name: istio.stats
        typed_config:
          "@type": type.googleapis.com/xds.type.v3.TypedStruct
          type_url: type.googleapis.com/stats.PluginConfig
          value: {disable_host_header_fallback: true}
${tcp.trim().replace(/^filters:\n/, '')}`);
    const loaded = parseBootstrap(yaml, 'b.yaml');
    assert.deepEqual(loaded.diagnostics.map(formatDiagnostic), []);
    const f = loaded.config?.listeners[0]?.filterChains[0]?.filters;
    assert.equal(f?.length, 1);
    assert.ok(f?.[0]?.kind === 'tcp_proxy');
    assert.deepEqual(f[0].istioStats, {
      reporter: 'source',
      tcpReportingMs: 5000,
      disableHostHeaderFallback: true,
    });
  });

  const refused: [string, string, RegExp][] = [
    [
      'istio.stats on a listener without a traffic direction',
      hcm(stats('{}'), 'UNSPECIFIED'),
      /http_filters\[0\]\.typed_config: istio\.stats needs the listener's traffic_direction INBOUND .* got UNSPECIFIED/,
    ],
    [
      'a stats.PluginConfig field Skiff does not honour',
      hcm(stats('{metrics: [{name: requests_total}]}')),
      /http_filters\[0\]\.typed_config\.value\.metrics: stats\.PluginConfig field metrics is not implemented/,
    ],
    [
      'a gateway reporter',
      hcm(stats('{reporter: SERVER_GATEWAY}')),
      /value\.reporter: reporter "SERVER_GATEWAY" is not implemented/,
    ],
    [
      'a bad tcp_reporting_duration',
      hcm(stats('{tcp_reporting_duration: soon}')),
      /value\.tcp_reporting_duration: tcp_reporting_duration "soon" is not a positive duration/,
    ],
    [
      'a peer metadata method other than istio_headers',
      hcm(mx('{downstream_discovery: [{workload_discovery: {}}]}')),
      /value\.downstream_discovery\[0\]: method .* is not implemented; expected \{istio_headers: \{\}\}/,
    ],
    [
      'an HTTP filter Skiff does not have',
      hcm(typed('envoy.filters.http.fault', 'envoy.extensions.filters.http.fault.v3.HTTPFault', '{}')),
      /http_filters\[0\]: HTTP filter "envoy\.filters\.http\.fault" \(envoy\.extensions\.filters\.http\.fault\.v3\.HTTPFault\) is not implemented/,
    ],
    [
      'protocol options by ALPN',
      base(`    filter_chains:\n    - ${tcp.trim()}`).replace(
        'connect_timeout: 1s',
        'connect_timeout: 1s\n    typed_extension_protocol_options:\n      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\n        auto_config: {}',
      ),
      /typed_extension_protocol_options\["envoy\.extensions\.upstreams\.http\.v3\.HttpProtocolOptions"\]\.auto_config: auto_config \(protocol by ALPN\) is not implemented/,
    ],
  ];
  for (const [what, yaml, expected] of refused) {
    it(`refuses ${what}`, () => {
      const errors = errorsOf(yaml);
      assert.ok(
        errors.some((e) => expected.test(e)),
        `expected ${expected}, got:\n${errors.join('\n')}`,
      );
    });
  }

  it("reads the connection idle timeout and allow_custom_methods, with Envoy's defaults", () => {
    const withOptions = (extra: string) =>
      hcm('').replace('          codec_type: HTTP2\n', `          codec_type: HTTP2\n${extra}`);
    const of = (extra: string) => {
      const loaded = parseBootstrap(withOptions(extra), 'b.yaml');
      assert.deepEqual(loaded.diagnostics.map(formatDiagnostic), []);
      const f = loaded.config?.listeners[0]?.filterChains[0]?.filters[0];
      assert.ok(f?.kind === 'http_connection_manager');
      return f;
    };
    const defaults = of('');
    assert.equal(defaults.idleTimeoutMs, 3_600_000);
    assert.equal(defaults.allowCustomMethods, false);
    const set = of(
      '          common_http_protocol_options: {idle_timeout: 90s}\n          http_protocol_options: {allow_custom_methods: true}\n',
    );
    assert.equal(set.idleTimeoutMs, 90_000);
    assert.equal(set.allowCustomMethods, true);
    assert.equal(of('          common_http_protocol_options: {idle_timeout: 0s}\n').idleTimeoutMs, 0);
    assert.deepEqual(of('          upgrade_configs: [{upgrade_type: websocket}]\n').upgrades, ['websocket']);
  });

  it("reads accept_http_10, default_host_for_http_10 and allow_absolute_url (a BoolValue), with Envoy's defaults", () => {
    const of = (extra: string) => {
      const yaml = hcm('').replace('          codec_type: HTTP2\n', `          codec_type: HTTP2\n${extra}`);
      const loaded = parseBootstrap(yaml, 'b.yaml');
      assert.deepEqual(loaded.diagnostics.map(formatDiagnostic), []);
      const f = loaded.config?.listeners[0]?.filterChains[0]?.filters[0];
      assert.ok(f?.kind === 'http_connection_manager');
      return [f.acceptHttp10, f.defaultHostForHttp10, f.allowAbsoluteUrl];
    };
    assert.deepEqual(of(''), [false, '', true]);
    assert.deepEqual(
      of(
        '          http_protocol_options: {accept_http_10: true, default_host_for_http_10: "app.local", allow_absolute_url: false}\n',
      ),
      [true, 'app.local', false],
    );
    assert.deepEqual(of('          http_protocol_options: {allow_absolute_url: true}\n'), [false, '', true]);
    const bad = hcm('').replace(
      '          codec_type: HTTP2\n',
      '          codec_type: HTTP2\n          http_protocol_options: {accept_http_10: true, default_host_for_http_10: "a b"}\n',
    );
    assert.ok(
      errorsOf(bad).some((e) =>
        /http_protocol_options\.default_host_for_http_10: "a b" is not a valid Host/.test(e),
      ),
      errorsOf(bad).join('\n'),
    );
  });

  it('refuses a CONNECT upgrade and connection options it does not implement', () => {
    const withOptions = (extra: string) =>
      hcm('').replace('          codec_type: HTTP2\n', `          codec_type: HTTP2\n${extra}`);
    assert.ok(
      errorsOf(withOptions('          upgrade_configs: [{upgrade_type: CONNECT}]\n')).some((e) =>
        /upgrade_configs\[0\]\.upgrade_type: CONNECT upgrades are not implemented/.test(e),
      ),
    );
    assert.ok(
      errorsOf(withOptions('          common_http_protocol_options: {max_headers_count: 50}\n')).some((e) =>
        /common_http_protocol_options\.max_headers_count: field "max_headers_count" of envoy\.config\.core\.v3\.HttpProtocolOptions is not implemented/.test(
          e,
        ),
      ),
    );
  });

  it('reads the upstream protocol and the Istio service of a cluster', () => {
    const cluster = (options: string) =>
      base(`    filter_chains:\n    - ${tcp.trim()}`).replace(
        'connect_timeout: 1s',
        `connect_timeout: 1s\n    metadata: {filter_metadata: {istio: {services: [{host: ratings.bookinfo.svc.cluster.local, name: ratings, namespace: bookinfo}]}}}\n    typed_extension_protocol_options:\n      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\n        ${options}`,
      );
    const of = (options: string) => parseBootstrap(cluster(options), 'b.yaml').config?.clusters[0];
    assert.equal(of('explicit_http_config: {http2_protocol_options: {}}')?.httpProtocol, 'http2');
    assert.equal(of('explicit_http_config: {http_protocol_options: {}}')?.httpProtocol, 'http1');
    assert.equal(
      of('use_downstream_protocol_config: {http_protocol_options: {}, http2_protocol_options: {}}')
        ?.httpProtocol,
      'downstream',
    );
    assert.deepEqual(of('explicit_http_config: {http2_protocol_options: {}}')?.filterMetadata, {
      istio: {
        services: [{ host: 'ratings.bookinfo.svc.cluster.local', name: 'ratings', namespace: 'bookinfo' }],
      },
    });
  });
});

describe('examples/proxy', () => {
  for (const name of readdirSync(`${repoRoot}examples/proxy`).filter((n) => n.endsWith('.yaml'))) {
    it(`${name} loads without a diagnostic`, () => {
      const loaded = parseBootstrap(readFileSync(`${repoRoot}examples/proxy/${name}`, 'utf8'), name);
      assert.deepEqual(loaded.diagnostics.map(formatDiagnostic), []);
      assert.ok(loaded.config);
    });
  }
});

describe('docs/proxy-config.md', () => {
  it('its field reference is the one the registrations generate (scripts/gen-proxy-config-doc.mjs)', () => {
    const doc = readFileSync(`${repoRoot}docs/proxy-config.md`, 'utf8');
    const at = doc.indexOf(SUPPORT_DOC_HEADING);
    assert.ok(at >= 0);
    assert.equal(
      doc.slice(at),
      renderSupportDoc(SUPPORT_GROUPS),
      'run: npm run build && node scripts/gen-proxy-config-doc.mjs',
    );
  });

  it('documents every implemented type and field', () => {
    const doc = readFileSync(`${repoRoot}docs/proxy-config.md`, 'utf8');
    for (const [type, fields] of Object.entries(PROXY_SUPPORT)) {
      const at = doc.indexOf(`#### \`${type}\``);
      assert.ok(at >= 0, `docs/proxy-config.md has no section for ${type}`);
      const next = doc.indexOf('\n#', at + 1);
      const section = doc.slice(at, next < 0 ? undefined : next);
      for (const field of Object.keys(fields)) {
        assert.ok(section.includes(`\`${field}\``), `docs/proxy-config.md: ${type} does not list ${field}`);
      }
    }
  });
});

describe('what the control plane will generate: addresses, bind, connection limit', () => {
  const warningsOf = (yaml: string) =>
    parseBootstrap(yaml, 'b.yaml')
      .diagnostics.filter((d) => d.severity === 'warning')
      .map(formatDiagnostic);

  it('reads additional_addresses and a cluster’s upstream_bind_config', () => {
    const yaml = base(
      `    additional_addresses:\n    - address: {socket_address: {address: 127.0.1.2, port_value: 8080}}\n    filter_chains:\n    - ${tcp.trim()}`,
    ).replace(
      'connect_timeout: 1s',
      'connect_timeout: 1s\n    upstream_bind_config: {source_address: {address: 127.0.1.2, port_value: 0}}',
    );
    const loaded = parseBootstrap(yaml, 'b.yaml');
    assert.deepEqual(loaded.diagnostics.map(formatDiagnostic), []);
    assert.deepEqual(loaded.config?.listeners[0]?.additionalAddresses, [{ host: '127.0.1.2', port: 8080 }]);
    assert.deepEqual(loaded.config?.clusters[0]?.upstreamBind, { host: '127.0.1.2', port: 0 });
  });

  it('refuses a repeated address and a bind address that is not an IP, with their paths', () => {
    const yaml = base(
      `    additional_addresses:\n    - address: {socket_address: {address: 127.0.0.1, port_value: 15006}}\n    filter_chains:\n    - ${tcp.trim()}`,
    ).replace(
      'connect_timeout: 1s',
      'connect_timeout: 1s\n    upstream_bind_config: {source_address: {address: localhost, port_value: 0}}',
    );
    const errors = errorsOf(yaml).join('\n');
    assert.match(
      errors,
      /listeners\[0\]\.additional_addresses\[0\]\.address: address 127\.0\.0\.1:15006 is already one of this listener's addresses/,
    );
    assert.match(
      errors,
      /clusters\[0\]\.upstream_bind_config\.source_address\.address: "localhost" is not an IP address/,
    );
  });

  it('warns about a chain whose destination_port no address of the listener has (it could never match)', () => {
    const yaml = base(
      `    additional_addresses:\n    - address: {socket_address: {address: 127.0.1.2, port_value: 8080}}\n    filter_chains:\n    - filter_chain_match: {destination_port: 8080}\n      ${tcp.trim()}\n    - filter_chain_match: {destination_port: 9999}\n      ${tcp.trim()}`,
    );
    assert.deepEqual(errorsOf(yaml), []);
    const warnings = warningsOf(yaml);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(
      warnings[0] ?? '',
      /filter_chains\[1\]\.filter_chain_match\.destination_port: no address of this listener has port 9999 \(it binds 15006, 8080\)/,
    );
  });

  const limitOf = (extra: string) =>
    parseBootstrap(base(`    filter_chains:\n    - ${tcp.trim()}`, extra), 'b.yaml');
  const monitor = (n: number | string) =>
    `overload_manager:\n  resource_monitors:\n  - name: envoy.resource_monitors.global_downstream_max_connections\n    typed_config:\n      "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig\n      max_active_downstream_connections: ${n}`;
  const runtime = (value: string, key = 'overload.global_downstream_max_connections') =>
    `layered_runtime:\n  layers:\n  - name: global config\n    static_layer:\n      ${key}: ${value}\n  - name: admin\n    admin_layer: {}`;

  it('reads the global connection limit from the resource monitor or the runtime key (the monitor wins, as Envoy)', () => {
    assert.equal(limitOf(monitor(100)).config?.maxDownstreamConnections, 100);
    assert.equal(limitOf(runtime('2147483647')).config?.maxDownstreamConnections, 2147483647);
    assert.equal(limitOf(runtime('"250"')).config?.maxDownstreamConnections, 250);
    const both = limitOf(`${monitor(100)}\n${runtime('5')}`);
    assert.equal(both.config?.maxDownstreamConnections, 100);
    assert.match(
      both.diagnostics.map(formatDiagnostic).join('\n'),
      /the resource monitor's \(100\) is used, as in Envoy/,
    );
    assert.equal(limitOf('').config?.maxDownstreamConnections, undefined);
  });

  it('refuses a bad limit; warns about runtime keys it does not implement', () => {
    assert.match(
      errorsOf(base(`    filter_chains:\n    - ${tcp.trim()}`, monitor(0))).join('\n'),
      /max_active_downstream_connections: 0 must be greater than 0/,
    );
    assert.match(
      errorsOf(base(`    filter_chains:\n    - ${tcp.trim()}`, runtime('lots'))).join('\n'),
      /static_layer\["overload\.global_downstream_max_connections"\]: "lots" is not a positive whole number/,
    );
    const w = limitOf(runtime('"32768"', 're2.max_program_size.error_level'));
    assert.ok(w.config);
    assert.match(
      w.diagnostics.map(formatDiagnostic).join('\n'),
      /warning: .*static_layer\["re2\.max_program_size\.error_level"\]: runtime key "re2\.max_program_size\.error_level" is not implemented by Skiff: ignored/,
    );
  });
});

describe('retry policies (RetryPolicy on a route or a virtual host)', () => {
  const withRoutes = (vhost: string, route: string) =>
    base(`    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: out
          route_config:
            virtual_hosts:
            - name: v
              domains: ["*"]
${vhost}
              routes:
              - {match: {prefix: /a}, route: {cluster: app${route}}}
              - {match: {prefix: /}, route: {cluster: app}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}`);
  const istio = `retry_policy:
                retry_on: connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes
                num_retries: 2
                retry_host_predicate:
                - name: envoy.retry_host_predicates.previous_hosts
                  typed_config: {"@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate}
                host_selection_retry_max_attempts: 5`;
  const actions = (yaml: string) => {
    const loaded = parseBootstrap(yaml, 'b.yaml');
    const f = loaded.config?.listeners[0]?.filterChains[0]?.filters[0];
    assert.ok(f?.kind === 'http_connection_manager', loaded.diagnostics.map(formatDiagnostic).join('\n'));
    return { diagnostics: loaded.diagnostics.map(formatDiagnostic), routes: f.virtualHosts[0]?.routes ?? [] };
  };

  it("reads Istio's default retry policy on a virtual host; every route without its own takes it", () => {
    const { diagnostics, routes } = actions(
      withRoutes(`              include_request_attempt_count: true\n              ${istio}`, ''),
    );
    assert.deepEqual(diagnostics, []);
    for (const r of routes) {
      assert.deepEqual(
        { ...r.action.retryPolicy, retryOn: [...(r.action.retryPolicy?.retryOn ?? [])] },
        {
          retryOn: [
            'connect-failure',
            'refused-stream',
            'unavailable',
            'cancelled',
            'retriable-status-codes',
          ],
          numRetries: 2,
          perTryTimeoutMs: 0,
          retriableStatusCodes: [],
          previousHosts: true,
          hostSelectionMaxAttempts: 5,
          backOffBaseMs: 25,
          backOffMaxMs: 250,
        },
      );
      assert.equal(r.action.includeAttemptCount, true);
    }
  });

  it("a route's own policy replaces the virtual host's whole (no merge), with Envoy's defaults", () => {
    const { routes } = actions(
      withRoutes(
        `              ${istio}`,
        ', retry_policy: {retry_on: "5xx", per_try_timeout: 0.25s, retry_back_off: {base_interval: 0.01s}}',
      ),
    );
    const own = routes[0]?.action.retryPolicy;
    assert.deepEqual([...(own?.retryOn ?? [])], ['5xx']);
    assert.equal(own?.numRetries, 1, "Envoy's default num_retries");
    assert.equal(own?.previousHosts, false);
    assert.equal(own?.hostSelectionMaxAttempts, 1);
    assert.equal(own?.perTryTimeoutMs, 250);
    assert.deepEqual([own?.backOffBaseMs, own?.backOffMaxMs], [10, 100]);
    assert.equal(routes[1]?.action.retryPolicy?.numRetries, 2, 'the other route keeps the virtual host’s');
  });

  it('warns about retry_on tokens Envoy would ignore; refuses what Skiff cannot honour', () => {
    const unknown = actions(withRoutes('', ', retry_policy: {retry_on: "5xx,retriable-status-code,503"}'));
    assert.match(
      unknown.diagnostics.join('\n'),
      /warning: .*route\.retry_policy\.retry_on: unknown retry_on "retriable-status-code", "503": ignored, as Envoy ignores them/,
    );
    assert.deepEqual([...(unknown.routes[0]?.action.retryPolicy?.retryOn ?? [])], ['5xx']);
    const errors = errorsOf(
      withRoutes(
        '',
        ', retry_policy: {retry_on: "retriable-headers", retry_back_off: {base_interval: 1s, max_interval: 0.5s}}',
      ),
    ).join('\n');
    assert.match(errors, /retry_policy\.retry_on: retry_on "retriable-headers" is not implemented/);
    assert.match(
      errors,
      /retry_back_off\.max_interval: retry_policy\.max_interval must greater than or equal to the base_interval/,
    );
    assert.match(
      errorsOf(
        withRoutes(
          '',
          ', retry_policy: {retry_on: "5xx", retry_priority: {name: envoy.retry_priorities.previous_priorities}}',
        ),
      ).join('\n'),
      /retry_priority: field "retry_priority" of envoy\.config\.route\.v3\.RetryPolicy is not implemented/,
    );
  });
});

describe('weighted clusters in a static bootstrap: their names are checked like a cluster', () => {
  const http = (weighted: string, validate = '') =>
    base(`    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: out
          route_config:${validate}
            virtual_hosts:
            - name: v
              domains: ["*"]
              routes:
              - {match: {prefix: /}, route: {weighted_clusters: {clusters: ${weighted}}}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}`);
  const tcpWeighted = (weighted: string) =>
    base(`    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: app
          weighted_clusters: {clusters: ${weighted}}`);
  const AT = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';

  it('loads weighted clusters that exist', () => {
    assert.deepEqual(errorsOf(http('[{name: app, weight: 1}, {name: app, weight: 3}]')), []);
    assert.deepEqual(errorsOf(tcpWeighted('[{name: app, weight: 1}]')), []);
  });

  it('refuses an unknown one in an inline route table (validate_clusters), at its name', () => {
    const errors = errorsOf(http('[{name: app, weight: 1}, {name: nope, weight: 1}]'));
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.ok(
      errors[0]?.includes(
        `${AT}.route_config.virtual_hosts[0].routes[0].route.weighted_clusters.clusters[1].name: cluster "nope" is not defined, and the route table validates its clusters`,
      ),
      errors[0],
    );
  });

  it('warns about an unknown one where Envoy loads it: 503 NC, or a tcp_proxy connection refused', () => {
    const warnings = (yaml: string) =>
      parseBootstrap(yaml, 'b.yaml')
        .diagnostics.filter((d) => d.severity === 'warning')
        .map((d) => d.message);
    assert.deepEqual(warnings(http('[{name: nope, weight: 1}]', '\n            validate_clusters: false')), [
      'cluster "nope" is not defined: its traffic will be refused (503 NC)',
    ]);
    assert.deepEqual(warnings(tcpWeighted('[{name: nope, weight: 1}, {name: app, weight: 1}]')), [
      'cluster "nope" is not defined: its traffic will be refused (tcp.*.downstream_cx_no_route)',
    ]);
  });
});

describe('outlier_detection and the panic threshold of a cluster', () => {
  const cluster = (extra: string) =>
    base(`    filter_chains:\n    - ${tcp.trim()}`).replace(
      'connect_timeout: 1s',
      `connect_timeout: 1s\n${extra}`,
    );

  it("fills Envoy's defaults around what is given (Istio's DestinationRule mapping)", () => {
    const loaded = parseBootstrap(
      cluster(
        '    outlier_detection: {consecutive_5xx: 3, enforcing_consecutive_5xx: 100, enforcing_success_rate: 0, interval: 5s, base_ejection_time: 60s, max_ejection_percent: 50}\n    common_lb_config: {healthy_panic_threshold: {value: 0}}',
      ),
      'b.yaml',
    );
    assert.deepEqual(loaded.diagnostics.map(formatDiagnostic), []);
    const c = loaded.config?.clusters[0];
    assert.equal(c?.healthyPanicThreshold, 0);
    assert.deepEqual(c?.outlierDetection, {
      ...OUTLIER_DEFAULTS,
      consecutive5xx: 3,
      enforcingSuccessRate: 0,
      intervalMs: 5000,
      baseEjectionMs: 60_000,
      maxEjectionMs: 300_000,
      maxEjectionPercent: 50,
    });
    assert.equal(parseBootstrap(cluster(''), 'b.yaml').config?.clusters[0]?.outlierDetection, undefined);
    assert.equal(
      parseBootstrap(cluster('    outlier_detection: {base_ejection_time: 400s}'), 'b.yaml').config
        ?.clusters[0]?.outlierDetection?.maxEjectionMs,
      400_000,
      'max_ejection_time defaults to at least base_ejection_time',
    );
  });

  it('refuses a max_ejection_time under base_ejection_time, and monitors (not implemented)', () => {
    assert.match(
      errorsOf(cluster('    outlier_detection: {base_ejection_time: 60s, max_ejection_time: 10s}')).join(
        '\n',
      ),
      /outlier_detection\.max_ejection_time: outlier detector's max_ejection_time cannot be smaller than base_ejection_time/,
    );
    assert.match(
      errorsOf(cluster('    outlier_detection: {monitors: [{name: x}]}')).join('\n'),
      /outlier_detection\.monitors: field "monitors" of envoy\.config\.cluster\.v3\.OutlierDetection is not implemented/,
    );
  });
});
