// Inbound listeners shaped as Istio builds them per mode and port protocol (shared/research/istio-semantics.md
// part (c), from pilot's filterchain_options.go getFilterChainMatchOptions and BuildInboundTLS). The network
// filter is tcp_proxy everywhere: the HTTP chains get http_connection_manager in sidecar part 3; what this
// part proves is which chain a connection lands on, and what the transport does.

export type Mode = 'PERMISSIVE' | 'STRICT' | 'DISABLE';
export type PortKind = 'http' | 'tcp' | 'auto';

const MTLS_HTTP = ['istio-http/1.0', 'istio-http/1.1', 'istio-h2'];
const MTLS_TCP = ['istio-peer-exchange', 'istio'];
const ALL_ISTIO_MTLS = ['istio', 'istio-peer-exchange', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2'];
const PLAINTEXT_HTTP = ['http/1.1', 'h2c'];

interface ChainSpec {
  name: string;
  transport: 'tls' | 'raw_buffer';
  alpn?: string[];
  terminate: boolean;
  http: boolean;
}

/** The chains of one port, as the table in istio-semantics.md c2 lists them. */
export function chainsFor(mode: Mode, kind: PortKind): ChainSpec[] {
  const c = (
    name: string,
    transport: ChainSpec['transport'],
    terminate: boolean,
    http: boolean,
    alpn?: string[],
  ) => ({
    name,
    transport,
    terminate,
    http,
    ...(alpn ? { alpn } : {}),
  });
  if (mode === 'PERMISSIVE') {
    if (kind === 'http')
      return [
        c('mtls-http', 'tls', true, true, ALL_ISTIO_MTLS),
        c('plaintext-http', 'raw_buffer', false, true),
      ];
    if (kind === 'tcp') {
      return [
        c('mtls-tcp', 'tls', true, false, ALL_ISTIO_MTLS),
        c('passthrough-tls', 'tls', false, false),
        c('plaintext-tcp', 'raw_buffer', false, false),
      ];
    }
    return [
      c('mtls-http', 'tls', true, true, MTLS_HTTP),
      c('plaintext-http', 'raw_buffer', false, true, PLAINTEXT_HTTP),
      c('mtls-tcp', 'tls', true, false, MTLS_TCP),
      c('plaintext-tcp', 'raw_buffer', false, false),
      c('passthrough-tls', 'tls', false, false),
    ];
  }
  if (mode === 'STRICT') {
    if (kind === 'http') return [c('mtls-http', 'tls', true, true)];
    if (kind === 'tcp') return [c('mtls-tcp', 'tls', true, false)];
    return [c('mtls-http', 'tls', true, true, MTLS_HTTP), c('mtls-tcp', 'tls', true, false)];
  }
  if (kind === 'http') return [c('plaintext-http', 'raw_buffer', false, true)];
  if (kind === 'tcp') return [c('plaintext-tcp', 'raw_buffer', false, false)];
  return [
    c('plaintext-http', 'raw_buffer', false, true, PLAINTEXT_HTTP),
    c('plaintext-tcp', 'raw_buffer', false, false),
  ];
}

/** Istio's server TLS context (BuildInboundTLS): SDS default + ROOTCA, SAN prefix of the trust domain. */
export function downstreamTls(http: boolean) {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      require_client_certificate: true,
      common_tls_context: {
        alpn_protocols: http ? ['h2', 'http/1.1'] : ['istio-peer-exchange', 'h2', 'http/1.1'],
        tls_params: { tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_3' },
        tls_certificate_sds_secret_configs: [{ name: 'default' }],
        combined_validation_context: {
          default_validation_context: {
            match_typed_subject_alt_names: [
              { san_type: 'URI', matcher: { prefix: 'spiffe://cluster.local/' } },
            ],
          },
          validation_context_sds_secret_config: { name: 'ROOTCA' },
        },
      },
    },
  };
}

/** A tcp_proxy network filter to `cluster`. */
export function tcpProxyFilter(statPrefix: string, cluster: string) {
  return {
    name: 'envoy.filters.network.tcp_proxy',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
      stat_prefix: statPrefix,
      cluster,
    },
  };
}

/** A plain listener (an outbound port the app reaches) with tcp_proxy to `cluster`. */
export function outboundListener(name: string, port: number, cluster: string) {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{ filters: [tcpProxyFilter(name, cluster)] }],
  };
}

/** One inbound listener on `port` for a mode and port kind, forwarding to `cluster`. */
export function inboundListener(mode: Mode, kind: PortKind, port: number, cluster: string, timeout = '1s') {
  const chains = chainsFor(mode, kind);
  const name = `${mode.toLowerCase()}-${kind}`;
  const listenerFilters: object[] = [];
  if (chains.some((c) => c.transport === 'tls')) {
    listenerFilters.push({
      name: 'envoy.filters.listener.tls_inspector',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
      },
    });
  }
  if (chains.some((c) => c.alpn?.includes('http/1.1'))) {
    listenerFilters.push({
      name: 'envoy.filters.listener.http_inspector',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
      },
    });
  }
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    listener_filters: listenerFilters,
    listener_filters_timeout: timeout,
    continue_on_listener_filters_timeout: true,
    filter_chains: chains.map((c) => ({
      name: `${name}-${c.name}`,
      filter_chain_match: {
        destination_port: port,
        transport_protocol: c.transport,
        ...(c.alpn ? { application_protocols: c.alpn } : {}),
      },
      ...(c.terminate ? { transport_socket: downstreamTls(c.http) } : {}),
      filters: [tcpProxyFilter(name, cluster)],
    })),
  };
}

/** A STATIC cluster with one endpoint on 127.0.0.1:port, optionally with a transport socket (upstream TLS). */
export function staticCluster(name: string, port: number, transportSocket?: object) {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    ...(transportSocket ? { transport_socket: transportSocket } : {}),
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } },
          ],
        },
      ],
    },
  };
}

/**
 * An http_connection_manager whose one route sends everything to `cluster` (5 s timeout) through the router;
 * `options` adds HttpConnectionManager fields (forward_client_cert_details, timeouts, codec_type …).
 */
export function httpConnectionManager(statPrefix: string, cluster: string, options: object = {}) {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type':
        'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      stat_prefix: statPrefix,
      ...options,
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
          typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
        },
      ],
    },
  };
}

export function meshSecrets(dir: string) {
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
