// The Envoy bootstraps the harness runs, shaped as Istio's sidecar shapes them (docs/proxy-config.md,
// examples/proxy/*.yaml, test/e2e/helpers/inbound.ts): proxy B holds the inbound ports under attack, proxy A an
// outbound HTTP port whose cluster sends ISTIO_MUTUAL to B. Every chain forwards to its own lane of the
// recording app, so what reached the app is known per chain.

import { CLIENT_ID, SERVER_ID, TD } from './pki.mjs';

const ISTIO_MTLS_ALPN = ['istio', 'istio-peer-exchange', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2'];

const any = (type, fields = {}) => ({ '@type': `type.googleapis.com/${type}`, ...fields });
const address = (port) => ({ socket_address: { address: '127.0.0.1', port_value: port } });

/** Istio's inbound server context (BuildInboundTLS): SDS default + ROOTCA, SAN prefix of the trust domain. */
function downstreamTls(http, { sabotage = false } = {}) {
  const common = {
    alpn_protocols: http ? ['h2', 'http/1.1'] : ['istio-peer-exchange', 'h2', 'http/1.1'],
    tls_params: { tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_3' },
    tls_certificate_sds_secret_configs: [{ name: 'default' }],
  };
  if (!sabotage) {
    common.combined_validation_context = {
      default_validation_context: {
        match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { prefix: `spiffe://${TD}/` } }],
      },
      validation_context_sds_secret_config: { name: 'ROOTCA' },
    };
  }
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: any('envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext', {
      // The self-check (--sabotage) removes what STRICT is: a client certificate required and verified.
      require_client_certificate: !sabotage,
      common_tls_context: common,
    }),
  };
}

function tcpProxy(statPrefix, cluster) {
  return {
    name: 'envoy.filters.network.tcp_proxy',
    typed_config: any('envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', {
      stat_prefix: statPrefix,
      cluster,
    }),
  };
}

/** Istio's HTTP connection manager, reduced to what matters here: XFCC as Istio sets it, websocket upgrades. */
function hcm(statPrefix, cluster) {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: any('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', {
      stat_prefix: statPrefix,
      forward_client_cert_details: 'APPEND_FORWARD',
      set_current_client_cert_details: { subject: true, uri: true, dns: true },
      upgrade_configs: [{ upgrade_type: 'websocket' }],
      use_remote_address: false,
      route_config: {
        name: statPrefix,
        virtual_hosts: [
          {
            name: 'all',
            domains: ['*'],
            routes: [{ match: { prefix: '/' }, route: { cluster, timeout: '5s' } }],
          },
        ],
      },
      http_filters: [
        {
          name: 'envoy.filters.http.router',
          typed_config: any('envoy.extensions.filters.http.router.v3.Router'),
        },
      ],
    }),
  };
}

const listenerFilters = (http) => [
  {
    name: 'envoy.filters.listener.tls_inspector',
    typed_config: any('envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector'),
  },
  ...(http
    ? [
        {
          name: 'envoy.filters.listener.http_inspector',
          typed_config: any('envoy.extensions.filters.listener.http_inspector.v3.HttpInspector'),
        },
      ]
    : []),
];

/** One inbound listener; `chains` as [name, transport, terminate, network filter, alpn?]. */
function listener(name, port, chains, http) {
  return {
    name,
    address: address(port),
    stat_prefix: name,
    listener_filters: listenerFilters(http),
    listener_filters_timeout: '1s',
    continue_on_listener_filters_timeout: true,
    filter_chains: chains.map(({ chain, transport, tls, filter, alpn }) => ({
      name: `${name}-${chain}`,
      filter_chain_match: {
        destination_port: port,
        transport_protocol: transport,
        ...(alpn ? { application_protocols: alpn } : {}),
      },
      ...(tls ? { transport_socket: tls } : {}),
      filters: [filter],
    })),
  };
}

function staticCluster(name, port, transportSocket) {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '2s',
    ...(transportSocket ? { transport_socket: transportSocket } : {}),
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: address(port) } }] }],
    },
  };
}

function secrets(dir) {
  return [
    {
      name: 'default',
      tls_certificate: {
        certificate_chain: { filename: `${dir}/cert-chain.pem` },
        private_key: { filename: `${dir}/key.pem` },
      },
    },
    { name: 'ROOTCA', validation_context: { trusted_ca: { filename: `${dir}/root-cert.pem` } } },
  ];
}

/** Lanes of the recording app, one per chain that forwards to it; `workers` copies of the PERMISSIVE HTTP ones. */
export function lanesFor(workers) {
  const lanes = ['strict-tcp', 'strict-http', 'perm-tcp'];
  for (let w = 0; w < workers; w++) lanes.push(`perm-mtls-${w}`, `perm-plain-${w}`, `ab-${w}`);
  return lanes;
}

/** Ports to allocate: B's listeners and A's outbound listeners. */
export function portNames(workers) {
  const names = ['strict-tcp', 'strict-http', 'perm-tcp'];
  for (let w = 0; w < workers; w++) names.push(`perm-http-${w}`, `perm-http-ab-${w}`, `outbound-${w}`);
  return names;
}

/**
 * Proxy B: `strict-tcp` and `strict-http` (STRICT: one mTLS chain each), `perm-tcp` (PERMISSIVE TCP with
 * application TLS passed through), and per worker `perm-http-W` (PERMISSIVE HTTP: an mTLS chain and a plaintext
 * chain, to two lanes) and `perm-http-ab-W` (the same shape, the port A's cluster W reaches).
 */
export function bootstrapB({ ports, app, pki, sabotage, workers }) {
  const cluster = (lane) => `inbound|${lane}`;
  const http = (lane) => hcm(`inbound_${lane}`, cluster(lane));
  const tcp = (lane) => tcpProxy(`inbound_${lane}`, cluster(lane));
  const permissiveHttp = (name, mtlsLane, plainLane) =>
    listener(
      name,
      ports[name],
      [
        {
          chain: 'mtls',
          transport: 'tls',
          tls: downstreamTls(true),
          filter: http(mtlsLane),
          alpn: ISTIO_MTLS_ALPN,
        },
        { chain: 'plaintext', transport: 'raw_buffer', filter: http(plainLane) },
      ],
      false,
    );
  const listeners = [
    listener(
      'strict-tcp',
      ports['strict-tcp'],
      [
        {
          chain: 'mtls',
          transport: 'tls',
          tls: downstreamTls(false, { sabotage }),
          filter: tcp('strict-tcp'),
        },
      ],
      false,
    ),
    listener(
      'strict-http',
      ports['strict-http'],
      [{ chain: 'mtls', transport: 'tls', tls: downstreamTls(true), filter: http('strict-http') }],
      false,
    ),
    listener(
      'perm-tcp',
      ports['perm-tcp'],
      [
        {
          chain: 'mtls',
          transport: 'tls',
          tls: downstreamTls(false),
          filter: tcp('perm-tcp'),
          alpn: ISTIO_MTLS_ALPN,
        },
        { chain: 'passthrough', transport: 'tls', filter: tcp('perm-tcp') },
        { chain: 'plaintext', transport: 'raw_buffer', filter: tcp('perm-tcp') },
      ],
      false,
    ),
  ];
  for (let w = 0; w < workers; w++) {
    listeners.push(permissiveHttp(`perm-http-${w}`, `perm-mtls-${w}`, `perm-plain-${w}`));
    listeners.push(permissiveHttp(`perm-http-ab-${w}`, `ab-${w}`, `ab-${w}`));
  }
  return {
    node: {
      id: 'sidecar~127.0.0.1~ratings-v1-0.bookinfo~bookinfo.svc.cluster.local',
      metadata: { NAMESPACE: 'bookinfo', SERVICE_ACCOUNT: 'bookinfo-ratings' },
    },
    admin: { address: address(0) },
    static_resources: {
      secrets: secrets(pki.server),
      listeners,
      clusters: lanesFor(workers).map((lane) => staticCluster(cluster(lane), app[lane])),
    },
  };
}

export const OUTBOUND_CLUSTER = 'outbound|9080||ratings.bookinfo.svc.cluster.local';

/** Proxy A: per worker an outbound HTTP port whose cluster speaks ISTIO_MUTUAL to B's `perm-http-ab-W`. */
export function bootstrapA({ ports, pki, workers }) {
  const upstreamTls = {
    name: 'envoy.transport_sockets.tls',
    typed_config: any('envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', {
      sni: 'outbound_.9080_._.ratings.bookinfo.svc.cluster.local',
      common_tls_context: {
        alpn_protocols: ['istio-http/1.1', 'istio', 'http/1.1'],
        tls_certificate_sds_secret_configs: [{ name: 'default' }],
        combined_validation_context: {
          default_validation_context: { match_subject_alt_names: [{ exact: SERVER_ID }] },
          validation_context_sds_secret_config: { name: 'ROOTCA' },
        },
      },
    }),
  };
  const listeners = [];
  const clusters = [];
  for (let w = 0; w < workers; w++) {
    const name = `${OUTBOUND_CLUSTER}-${w}`;
    listeners.push({
      name: `outbound-${w}`,
      address: address(ports[`outbound-${w}`]),
      stat_prefix: `outbound-${w}`,
      filter_chains: [{ filters: [hcm(`outbound_${w}`, name)] }],
    });
    clusters.push(staticCluster(name, ports[`perm-http-ab-${w}`], upstreamTls));
  }
  return {
    node: {
      id: 'sidecar~127.0.0.1~productpage-v1-0.bookinfo~bookinfo.svc.cluster.local',
      metadata: { NAMESPACE: 'bookinfo', SERVICE_ACCOUNT: 'productpage' },
    },
    admin: { address: address(0) },
    static_resources: { secrets: secrets(pki.client), listeners, clusters },
  };
}

export { CLIENT_ID, SERVER_ID };
