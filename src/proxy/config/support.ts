// The subset of Envoy's v3 API the Skiff proxy implements, field by field. A message type listed here may carry
// only these fields (at a non-default value); a type not listed may not appear with content at all. The text is
// what the field does in Skiff; docs/proxy-config.md says the same (a test keeps the two together).
// Values the proxy accepts only in part (cluster types, lb policies, socket protocol) are checked when the
// decoded configuration is compiled (bootstrap.ts).

import type { SupportTable } from '../../xds/decode.js';

export const PROXY_SUPPORT: SupportTable = {
  'envoy.config.bootstrap.v3.Bootstrap': {
    node: 'Who this proxy is; metadata feeds identity and telemetry labels.',
    admin: 'The admin server (statistics, config dump, readiness, drain).',
    static_resources: 'Listeners, clusters and secrets given in the file.',
  },
  'envoy.config.bootstrap.v3.Bootstrap.StaticResources': {
    listeners: 'Listeners to open.',
    clusters: 'Upstream clusters.',
    secrets: 'Secrets that transport sockets name through SDS configs (`default`, `ROOTCA`).',
  },
  'envoy.config.bootstrap.v3.Admin': {
    address: 'Where the admin server listens (TCP socket address).',
  },
  'envoy.config.core.v3.Node': {
    id: 'Node id (Istio: `sidecar~IP~POD.NS~NS.svc.cluster.local`).',
    cluster: 'Service cluster name (Istio: `APP.NS`).',
    metadata: 'Free JSON; NAMESPACE, SERVICE_ACCOUNT, WORKLOAD_NAME, LABELS are read.',
    locality: 'Recorded and shown in the config dump.',
  },
  'envoy.config.core.v3.Locality': {
    region: 'Recorded.',
    zone: 'Recorded.',
    sub_zone: 'Recorded.',
  },
  'envoy.config.core.v3.Address': {
    socket_address: 'A TCP address.',
  },
  'envoy.config.core.v3.SocketAddress': {
    address: 'IP address (a listener binds it; an endpoint connects to it).',
    port_value: 'Port.',
    protocol: 'TCP only.',
  },
  'envoy.config.core.v3.Metadata': {
    filter_metadata: 'Free JSON per filter name; shown in the config dump.',
  },
  'envoy.config.listener.v3.Listener': {
    name: 'Listener name (config dump, logs).',
    address: 'Where the listener binds.',
    stat_prefix: 'Replaces the address in `listener.<address>.*` statistics.',
    filter_chains: 'Chains chosen per connection by `filter_chain_match`.',
    default_filter_chain: 'The chain used when no filter chain matches.',
    listener_filters: '`tls_inspector`, `http_inspector`.',
    listener_filters_timeout: 'Time the listener filters may wait for bytes (default 15s; 0s: no limit).',
    continue_on_listener_filters_timeout: 'On that timeout, go on as `raw_buffer` instead of closing.',
    traffic_direction:
      'INBOUND or OUTBOUND: the reporter of Istio’s metrics (destination or source); recorded otherwise.',
    metadata: 'Recorded.',
  },
  'envoy.config.listener.v3.ListenerFilter': {
    name: 'Filter name.',
    typed_config: 'The filter configuration (`TlsInspector`, `HttpInspector`).',
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
      'Network filters: Istio’s `istio.stats` (TypedStruct `stats.PluginConfig`) before `tcp_proxy`, or `http_connection_manager`; the terminal filter last.',
    transport_socket: '`envoy.transport_sockets.tls` (DownstreamTlsContext) or `raw_buffer`.',
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
  'envoy.config.core.v3.CidrRange': {
    address_prefix: 'IPv4 or IPv6 address.',
    prefix_len: 'Prefix length.',
  },
  'envoy.config.listener.v3.Filter': {
    name: 'Filter name.',
    typed_config:
      'The filter configuration (`TcpProxy`, `HttpConnectionManager`, or a TypedStruct of `stats.PluginConfig`).',
  },
  'envoy.config.core.v3.TransportSocket': {
    name: '`envoy.transport_sockets.tls` or `envoy.transport_sockets.raw_buffer`.',
    typed_config: '`DownstreamTlsContext` (listeners), `UpstreamTlsContext` (clusters), `RawBuffer`.',
  },
  'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector': {},
  'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector': {},
  'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer': {},
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy': {
    stat_prefix: 'Statistics under `tcp.<stat_prefix>.`.',
    cluster: 'The upstream cluster.',
    idle_timeout: 'Close both sides after this long without bytes either way (default 1h; 0s: never).',
  },
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager': {
    stat_prefix: 'Statistics under `http.<stat_prefix>.`.',
    codec_type:
      'AUTO (HTTP/2 when TLS negotiated `h2` or the connection opens with the HTTP/2 preface, else HTTP/1.1), HTTP1 or HTTP2.',
    route_config: 'The routes, inline (RDS is not implemented yet).',
    http_filters:
      'Istio’s `istio.metadata_exchange` (TypedStruct `io.istio.http.peer_metadata.Config`) and `istio.stats` (TypedStruct `stats.PluginConfig`), then `envoy.filters.http.router`, last.',
    forward_client_cert_details: 'x-forwarded-client-cert handling (Istio: APPEND_FORWARD).',
    set_current_client_cert_details:
      'What an appended XFCC element carries (subject, uri, dns, cert, chain).',
    max_request_headers_kb: 'Largest request header block (default 60); larger → 431.',
    request_headers_timeout: 'Time to receive the request headers (default none); over → 408.',
    stream_idle_timeout:
      'A stream with no bytes either way for this long (default 5m) gets 408 SI before its response starts, else is reset; HTTP/1.1 also closes idle keep-alive connections after it.',
    upgrade_configs: 'Upgrades passed through (`websocket`).',
    use_remote_address: 'Recorded (sidecars set false).',
  },
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.SetCurrentClientCertDetails':
    {
      subject: 'Subject="…".',
      cert: 'Cert="<URL-encoded PEM>".',
      chain: 'Chain="<URL-encoded PEM chain>".',
      dns: 'DNS=<each DNS SAN>.',
      uri: 'URI=<the URI SAN>.',
    },
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.UpgradeConfig': {
    upgrade_type: 'The Upgrade header value (`websocket`).',
    enabled: 'On or off.',
  },
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter': {
    name: 'Filter name.',
    typed_config:
      '`Router`, or a TypedStruct of Istio’s `stats.PluginConfig` or `io.istio.http.peer_metadata.Config`.',
  },
  'envoy.extensions.filters.http.router.v3.Router': {},
  'envoy.config.route.v3.RouteConfiguration': {
    name: 'Route configuration name (config dump).',
    virtual_hosts: 'Virtual hosts by domain.',
    validate_clusters: 'Recorded.',
  },
  'envoy.config.route.v3.VirtualHost': {
    name: 'Name (statistics, config dump).',
    domains: 'Host/:authority values: exact, `*.suffix`, `prefix*`, `*`.',
    routes: 'Routes, first match wins.',
  },
  'envoy.config.route.v3.Route': {
    name: 'Route name.',
    match: 'When the route applies.',
    route: 'Forward to a cluster.',
    decorator: 'Recorded.',
    metadata: 'Recorded.',
  },
  'envoy.config.route.v3.Decorator': {
    operation: 'Recorded.',
  },
  'envoy.config.route.v3.RouteMatch': {
    prefix: 'Path prefix.',
    path: 'Exact path (query excluded).',
    safe_regex: 'RE2 over the whole path.',
    path_separated_prefix: 'Prefix ending at a `/` boundary.',
    case_sensitive: 'Default true.',
    headers: 'Header matchers, all must hold.',
    query_parameters: 'Query parameter matchers, all must hold.',
  },
  'envoy.config.route.v3.HeaderMatcher': {
    name: 'Header name.',
    string_match: 'How the value matches.',
    exact_match: 'Deprecated form of string_match.exact.',
    prefix_match: 'Deprecated form of string_match.prefix.',
    suffix_match: 'Deprecated form of string_match.suffix.',
    contains_match: 'Deprecated form of string_match.contains.',
    safe_regex_match: 'Deprecated form of string_match.safe_regex.',
    present_match: 'The header is present (true) or absent (false).',
    invert_match: 'Negate.',
  },
  'envoy.config.route.v3.QueryParameterMatcher': {
    name: 'Parameter name.',
    string_match: 'How the value matches.',
    present_match: 'The parameter is present.',
  },
  'envoy.config.route.v3.RouteAction': {
    cluster: 'The upstream cluster.',
    timeout: 'Whole-request timeout (default 15s; 0s none); over → 504 UT.',
  },
  'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext': {
    common_tls_context: 'Certificates, validation, ALPN, versions and ciphers.',
    require_client_certificate: 'Refuse a client without a certificate.',
    disable_stateless_session_resumption:
      'No TLS session tickets (default: issued, as Envoy). Saves their cost on every full handshake.',
  },
  'envoy.extensions.transport_sockets.tls.v3.CommonTlsContext': {
    tls_params: 'Versions, ciphers, curves.',
    tls_certificates: 'The certificate and key, inline or from files.',
    tls_certificate_sds_secret_configs: 'The certificate by secret name (static secrets).',
    validation_context: 'How peer certificates are validated.',
    validation_context_sds_secret_config: 'The validation context by secret name.',
    combined_validation_context: 'A validation context plus one by secret name, merged.',
    alpn_protocols: 'ALPN offered (server: preference order).',
  },
  'envoy.extensions.transport_sockets.tls.v3.CommonTlsContext.CombinedCertificateValidationContext': {
    default_validation_context: 'Fields merged over the secret’s.',
    validation_context_sds_secret_config: 'The secret holding trusted CAs.',
  },
  'envoy.extensions.transport_sockets.tls.v3.TlsParameters': {
    tls_minimum_protocol_version: 'TLSv1_0 … TLSv1_3 (TLS_AUTO: 1.2).',
    tls_maximum_protocol_version: 'TLSv1_0 … TLSv1_3 (TLS_AUTO: 1.3 for servers, 1.2 for clients, as Envoy).',
    cipher_suites: 'TLS 1.2 cipher suites, OpenSSL names.',
    ecdh_curves: 'Key exchange groups (X25519, P-256, P-384, P-521).',
  },
  'envoy.extensions.transport_sockets.tls.v3.TlsCertificate': {
    certificate_chain: 'PEM chain, leaf first.',
    private_key: 'PEM private key.',
  },
  'envoy.extensions.transport_sockets.tls.v3.SdsSecretConfig': {
    name: 'A secret from `static_resources.secrets`.',
  },
  'envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext': {
    trusted_ca: 'PEM roots (the trust bundle); without it no chain is verified.',
    match_typed_subject_alt_names: 'The peer certificate must have a SAN of this type matching.',
    match_subject_alt_names: 'The peer certificate must have a SAN (any type) matching.',
  },
  'envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher': {
    san_type: 'URI, DNS, EMAIL or IP_ADDRESS.',
    matcher: 'How the value matches.',
  },
  'envoy.type.matcher.v3.StringMatcher': {
    exact: 'Equal.',
    prefix: 'Starts with.',
    suffix: 'Ends with.',
    contains: 'Contains.',
    safe_regex: 'RE2 regular expression, whole value (JavaScript RegExp over the RE2 subset).',
    ignore_case: 'Compare without case (not for safe_regex).',
  },
  'envoy.type.matcher.v3.RegexMatcher': {
    regex: 'The expression.',
    google_re2: 'Accepted (the RE2 engine is the only one).',
  },
  'envoy.type.matcher.v3.RegexMatcher.GoogleRE2': {},
  'envoy.config.core.v3.DataSource': {
    filename: 'A file, relative to the working folder.',
    inline_string: 'The text itself.',
    inline_bytes: 'Base64 bytes.',
    environment_variable: 'An environment variable of the proxy.',
  },
  'envoy.extensions.transport_sockets.tls.v3.Secret': {
    name: 'The name SDS configs use.',
    tls_certificate: 'A certificate and key.',
    validation_context: 'Trusted CAs and SAN rules.',
  },
  'envoy.config.cluster.v3.Cluster': {
    name: 'Cluster name (`inbound|9080||`, `outbound|9080||host`).',
    type: 'STATIC or EDS (in a static bootstrap an EDS cluster takes its ClusterLoadAssignment from `load_assignment`).',
    eds_cluster_config: 'Recorded (the EDS service name for the control plane).',
    transport_socket:
      'Transport to endpoints no transport socket match selects: `raw_buffer` or `UpstreamTlsContext`.',
    transport_socket_matches: 'Per-endpoint transport by endpoint metadata (auto mTLS).',
    connect_timeout: 'Time allowed to connect to an endpoint (default 5s).',
    load_assignment: 'The endpoints.',
    lb_policy: 'ROUND_ROBIN or LEAST_REQUEST.',
    metadata:
      '`filter_metadata.istio.services[0]` (`host`, `name`, `namespace`) names the destination service in Istio’s metrics; the rest is recorded.',
    typed_extension_protocol_options:
      '`envoy.extensions.upstreams.http.v3.HttpProtocolOptions`: the HTTP protocol towards the endpoints.',
  },
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    explicit_http_config: 'Always HTTP/1.1 or always HTTP/2 (h2 over TLS, h2c in plaintext).',
    use_downstream_protocol_config: 'The protocol of the downstream request.',
  },
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions.ExplicitHttpConfig': {
    http_protocol_options: 'HTTP/1.1.',
    http2_protocol_options: 'HTTP/2.',
  },
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions.UseDownstreamHttpConfig': {
    http_protocol_options: 'HTTP/1.1 for HTTP/1 requests.',
    http2_protocol_options: 'HTTP/2 for HTTP/2 requests.',
  },
  'envoy.config.core.v3.Http1ProtocolOptions': {},
  'envoy.config.core.v3.Http2ProtocolOptions': {},
  'udpa.type.v1.TypedStruct': {
    type_url:
      'Istio’s filter types: `type.googleapis.com/stats.PluginConfig`, `type.googleapis.com/io.istio.http.peer_metadata.Config`.',
    value:
      'stats.PluginConfig: `reporter` (UNSPECIFIED), `tcp_reporting_duration`, `disable_host_header_fallback`; peer_metadata.Config: `downstream_discovery`, `downstream_propagation`, `upstream_discovery`, `upstream_propagation` with `istio_headers`. Other fields are refused.',
  },
  'xds.type.v3.TypedStruct': {
    type_url: 'As udpa.type.v1.TypedStruct.',
    value: 'As udpa.type.v1.TypedStruct.',
  },
  'envoy.config.cluster.v3.Cluster.EdsClusterConfig': {
    eds_config: 'Where EDS comes from (`ads: {}`); recorded.',
    service_name: 'The EDS resource name; recorded.',
  },
  'envoy.config.core.v3.ConfigSource': {
    ads: 'Aggregated discovery (recorded until xDS lands).',
    resource_api_version: 'V3.',
  },
  'envoy.config.core.v3.AggregatedConfigSource': {},
  'envoy.config.cluster.v3.Cluster.TransportSocketMatch': {
    name: 'Match name (statistics, config dump).',
    match:
      'Key/values that must all equal the endpoint’s `envoy.transport_socket_match` metadata; `{}` matches all.',
    transport_socket: 'The transport for matching endpoints.',
  },
  'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext': {
    common_tls_context:
      'Client certificate, server validation (trusted CA, SAN matchers), ALPN, versions, ciphers.',
    sni: 'Server name sent (Istio: `outbound_.PORT_._.HOST`).',
  },
  'envoy.config.endpoint.v3.ClusterLoadAssignment': {
    cluster_name: 'The cluster these endpoints are for.',
    endpoints: 'Endpoints by locality.',
  },
  'envoy.config.endpoint.v3.LocalityLbEndpoints': {
    locality: 'Recorded.',
    lb_endpoints: 'The endpoints.',
  },
  'envoy.config.endpoint.v3.LbEndpoint': {
    endpoint: 'Address of the endpoint.',
    health_status: 'UNHEALTHY, DRAINING and TIMEOUT endpoints get no new connections.',
    metadata: 'Recorded (transport socket matches read it).',
  },
  'envoy.config.endpoint.v3.Endpoint': {
    address: 'Where to connect.',
    hostname: 'Recorded.',
  },
};
