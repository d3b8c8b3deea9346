// `envoy.filters.network.http_connection_manager`: its configuration (HttpConnectionManager) — codec, routes
// (inline or RDS), the HTTP filter chain (Istio's filters, then the router, last), XFCC, limits and timeouts.
// The runtime is hcm.ts.

import { showValue } from '../../../core/diagnostics.js';
import type { FieldPath } from '../../../core/field-path.js';
import { translateAccessLogs } from '../../access-log/config.js';
import type { TranslateContext } from '../../config/context.js';
import type { Extension } from '../../config/extension.js';
import { durationOr, type JsonObject, list, num, obj, str } from '../../config/json.js';
import type {
  AlpnOverrideConfig,
  HttpConnectionManagerConfig,
  IstioStatsConfig,
  PeerMetadataConfig,
  RouteConfigurationConfig,
  ServerHeaderTransformation,
} from '../../config/model.js';
import { translateRouteConfiguration } from '../../config/resources/route.js';
import { isValidAuthority } from './http1-target.js';

/** Envoy's defaults. */
const MAX_REQUEST_HEADERS_KB = 60;
const STREAM_IDLE_TIMEOUT_MS = 300_000;
/** common_http_protocol_options.idle_timeout: a connection with no stream. */
const IDLE_TIMEOUT_MS = 3_600_000;

function translateFilters(
  h: JsonObject,
  path: FieldPath,
  ctx: TranslateContext,
): {
  istioStats: IstioStatsConfig | undefined;
  peerMetadata: PeerMetadataConfig | undefined;
  alpnOverride: AlpnOverrideConfig | undefined;
} {
  const filters = list(h.http_filters);
  let istioStats: IstioStatsConfig | undefined;
  let peerMetadata: PeerMetadataConfig | undefined;
  let alpnOverride: AlpnOverrideConfig | undefined;
  filters.forEach((f, i) => {
    const at = [...path, 'http_filters', i];
    const filter = ctx.registry.translate('envoy.filters.http', obj(f), at, ctx);
    const last = i === filters.length - 1;
    if (filter?.kind === 'router') {
      if (!last) ctx.error(at, 'proxy.filter-order', 'the router must be the last HTTP filter');
    } else if (filter?.kind === 'istio.stats') istioStats = filter.stats;
    else if (filter?.kind === 'istio.metadata_exchange') peerMetadata = filter.exchange;
    else if (filter?.kind === 'istio.alpn') {
      // Envoy's second istio.alpn would set a read-only filter state twice and fail every request.
      if (alpnOverride) ctx.error(at, 'proxy.duplicate', 'istio.alpn appears twice; one is allowed');
      alpnOverride = filter.alpn;
    }
    if (last && filter?.kind !== 'router') {
      ctx.error(
        [...path, 'http_filters'],
        'proxy.required',
        'the router filter (envoy.filters.http.router) must be the last HTTP filter',
      );
    }
  });
  if (filters.length === 0)
    ctx.error(
      [...path, 'http_filters'],
      'proxy.required',
      'the router filter (envoy.filters.http.router) is required',
    );
  return { istioStats, peerMetadata, alpnOverride };
}

/** The route table: inline (`route_config`), or a reference to an RDS resource (`rds`). */
function translateRoutes(
  h: JsonObject,
  path: FieldPath,
  ctx: TranslateContext,
): RouteConfigurationConfig & { rds: boolean } {
  if (h.rds !== undefined) {
    const name = str(obj(h.rds).route_config_name);
    ctx.ref('route_configuration', name, [...path, 'rds', 'route_config_name']);
    return { name, virtualHosts: [], ignorePortInHostMatching: false, rds: true };
  }
  if (h.route_config === undefined) {
    ctx.error([...path, 'route_config'], 'proxy.required', 'route_config (inline) or rds is required');
  }
  const rc = translateRouteConfiguration(obj(h.route_config), [...path, 'route_config'], 'inline', ctx);
  return { ...rc, rds: false };
}

/**
 * `http_protocol_options` (Http1ProtocolOptions) as the connection manager's codec reads them, with Envoy's
 * defaults (source/common/http/http1/settings.cc:17-20: allow_absolute_url true, the others off).
 */
function translateHttp1Options(
  o: JsonObject,
  path: FieldPath,
  ctx: TranslateContext,
): Pick<
  HttpConnectionManagerConfig,
  'allowCustomMethods' | 'acceptHttp10' | 'defaultHostForHttp10' | 'allowAbsoluteUrl'
> {
  const host = str(o.default_host_for_http_10);
  // Envoy takes any string, and then refuses every request it gives a Host to: 400 http.invalid_authority
  // (codec_impl.cc:1237 HeaderUtility::requestHeadersValid). Refused here instead.
  if (host !== '' && !isValidAuthority(host)) {
    ctx.error(
      [...path, 'default_host_for_http_10'],
      'proxy.host',
      `${JSON.stringify(host)} is not a valid Host: a host[:port] of letters, digits and !$%&'()*+,-.:;=@[]_~`,
    );
  }
  return {
    allowCustomMethods: o.allow_custom_methods === true,
    acceptHttp10: o.accept_http_10 === true,
    defaultHostForHttp10: host,
    allowAbsoluteUrl: o.allow_absolute_url !== false,
  };
}

/** Envoy's server_name when none is given (Http::DefaultServerString). */
export const DEFAULT_SERVER_NAME = 'envoy';

/**
 * `server_name` and `server_header_transformation`. Envoy's proto refuses NUL, CR and LF in server_name
 * (HTTP_HEADER_VALUE); Skiff also refuses the other control characters and non-ASCII, which its codecs cannot
 * write in a header. Empty is Envoy's default, `envoy`.
 */
function translateServerHeader(
  h: JsonObject,
  path: FieldPath,
  ctx: TranslateContext,
): Required<Pick<HttpConnectionManagerConfig, 'serverName' | 'serverHeaderTransformation'>> {
  const name = str(h.server_name);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is refused.
  const bad = /[\u0000-\u0008\u000a-\u001f\u007f-\uffff]/.exec(name);
  if (bad) {
    const envoy = bad[0] === '\0' || bad[0] === '\r' || bad[0] === '\n';
    ctx.error(
      [...path, 'server_name'],
      'proxy.header-value',
      `${showValue(name)} cannot be a header value: it has ${showValue(bad[0])}${envoy ? ' (Envoy refuses NUL, CR and LF)' : ' (Skiff takes printable ASCII, space and tab only)'}`,
    );
  }
  const transformation = (str(h.server_header_transformation) || 'OVERWRITE') as ServerHeaderTransformation;
  if (!['OVERWRITE', 'APPEND_IF_ABSENT', 'PASS_THROUGH'].includes(transformation)) {
    ctx.error(
      [...path, 'server_header_transformation'],
      'proxy.unsupported',
      `server_header_transformation ${showValue(transformation)} is not one of OVERWRITE, APPEND_IF_ABSENT, PASS_THROUGH`,
    );
  }
  return { serverName: name || DEFAULT_SERVER_NAME, serverHeaderTransformation: transformation };
}

function translateHcm(h: JsonObject, path: FieldPath, ctx: TranslateContext): HttpConnectionManagerConfig {
  const codec = str(h.codec_type) || 'AUTO';
  if (codec !== 'AUTO' && codec !== 'HTTP1' && codec !== 'HTTP2') {
    ctx.error(
      [...path, 'codec_type'],
      'proxy.unsupported',
      `codec_type ${codec} is not implemented; expected AUTO, HTTP1 or HTTP2`,
    );
  }
  const { istioStats, peerMetadata, alpnOverride } = translateFilters(h, path, ctx);
  const routes = translateRoutes(h, path, ctx);
  const details = obj(h.set_current_client_cert_details);
  return {
    kind: 'http_connection_manager',
    statPrefix: str(h.stat_prefix),
    codec: codec === 'HTTP1' || codec === 'HTTP2' ? codec : 'AUTO',
    routeConfigName: routes.name,
    virtualHosts: routes.virtualHosts,
    ignorePortInHostMatching: routes.ignorePortInHostMatching,
    rds: routes.rds,
    forwardClientCertDetails: (str(h.forward_client_cert_details) ||
      'SANITIZE') as HttpConnectionManagerConfig['forwardClientCertDetails'],
    clientCertDetails: {
      subject: details.subject === true,
      cert: details.cert === true,
      chain: details.chain === true,
      dns: details.dns === true,
      uri: details.uri === true,
    },
    maxRequestHeadersKb:
      h.max_request_headers_kb === undefined ? MAX_REQUEST_HEADERS_KB : num(h.max_request_headers_kb),
    requestHeadersTimeoutMs: durationOr(h.request_headers_timeout, 0),
    streamIdleTimeoutMs: durationOr(h.stream_idle_timeout, STREAM_IDLE_TIMEOUT_MS),
    idleTimeoutMs: durationOr(obj(h.common_http_protocol_options).idle_timeout, IDLE_TIMEOUT_MS),
    ...translateHttp1Options(obj(h.http_protocol_options), [...path, 'http_protocol_options'], ctx),
    useRemoteAddress: h.use_remote_address === true,
    upgrades: list(h.upgrade_configs)
      .map(obj)
      .filter((u, i) => {
        if (u.enabled === false) return false;
        // CONNECT termination and forwarding are not implemented: CONNECT is always refused.
        if (str(u.upgrade_type).toUpperCase() !== 'CONNECT') return true;
        ctx.error(
          [...path, 'upgrade_configs', i, 'upgrade_type'],
          'proxy.unsupported',
          'CONNECT upgrades are not implemented (CONNECT requests are refused)',
        );
        return false;
      })
      .map((u) => str(u.upgrade_type).toLowerCase()),
    ...translateServerHeader(h, path, ctx),
    istioStats,
    peerMetadata,
    ...(alpnOverride ? { alpnOverride } : {}),
    accessLogs: translateAccessLogs(h.access_log, [...path, 'access_log'], ctx),
  };
}

const HCM_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

export const HTTP_CONNECTION_MANAGER: Extension<'envoy.filters.network'> = {
  name: 'envoy.filters.network.http_connection_manager',
  aliases: ['envoy.http_connection_manager'],
  category: 'envoy.filters.network',
  types: [HCM_TYPE],
  summary: 'HTTP/1.1 and HTTP/2: routes each request through the HTTP filters to a cluster (terminal).',
  support: {
    [HCM_TYPE]: {
      stat_prefix: 'Statistics under `http.<stat_prefix>.`.',
      codec_type:
        'AUTO (HTTP/2 when TLS negotiated `h2` or the connection opens with the HTTP/2 preface, else HTTP/1.1), HTTP1 or HTTP2.',
      route_config: 'The routes, inline.',
      rds: 'The routes from a RouteConfiguration resource (RDS over ADS; not in a static bootstrap).',
      http_filters:
        'Istio’s `istio.metadata_exchange`, `istio.alpn` and `istio.stats` (TypedStructs), then `envoy.filters.http.router`, last.',
      forward_client_cert_details: 'x-forwarded-client-cert handling (Istio: APPEND_FORWARD).',
      set_current_client_cert_details:
        'What an appended XFCC element carries (subject, uri, dns, cert, chain).',
      max_request_headers_kb: 'Largest request header block (default 60); larger → 431.',
      request_headers_timeout:
        'Time from a request head’s first byte to its end (default none); over → 408, `downstream_rq_header_timeout`.',
      stream_idle_timeout:
        'A stream with no bytes either way for this long (default 5m), from its first byte to the end of its response, gets 408 SI before its response starts, else is reset.',
      common_http_protocol_options: 'Connection options: `idle_timeout`.',
      http_protocol_options:
        'HTTP/1 options: `allow_custom_methods`, `accept_http_10`, `default_host_for_http_10`, `allow_absolute_url`.',
      upgrade_configs: 'Upgrades passed through (`websocket`); CONNECT is refused.',
      access_log: 'A line per stream when it ends (see the access loggers below).',
      server_name:
        'The `server` response header’s value (default `envoy`; Istio’s inbound listeners set `istio-envoy`). No NUL, CR, LF (Envoy) nor other control characters or non-ASCII (Skiff).',
      server_header_transformation:
        'What happens to a response’s `server` header, on proxied responses and the proxy’s own replies, HTTP/1.1 and HTTP/2 (and an upgrade’s answer): OVERWRITE (default) sets it to server_name, replacing the upstream’s; APPEND_IF_ABSENT keeps the upstream’s, else sets server_name (so a local reply gets it); PASS_THROUGH keeps the upstream’s and adds none.',
      use_remote_address:
        'Recorded (sidecars set false; gateways true); with it, an `https://` absolute-form target on a plaintext connection is 403 (Envoy’s validate_scheme, no trusted XFF hops).',
    },
    [`${HCM_TYPE}.SetCurrentClientCertDetails`]: {
      subject: 'Subject="…".',
      cert: 'Cert="<URL-encoded PEM>".',
      chain: 'Chain="<URL-encoded PEM chain>".',
      dns: 'DNS=<each DNS SAN>.',
      uri: 'URI=<the URI SAN>.',
    },
    [`${HCM_TYPE}.UpgradeConfig`]: {
      upgrade_type: 'The Upgrade header value (`websocket`).',
      enabled: 'On or off.',
    },
    'envoy.config.core.v3.HttpProtocolOptions': {
      idle_timeout:
        'A connection with no open stream for this long is closed, an HTTP/2 one after a GOAWAY (default 1h; 0s: never); `downstream_cx_idle_timeout`.',
    },
    'envoy.config.core.v3.Http1ProtocolOptions': {
      allow_custom_methods:
        'Any token is a request method, not only those Envoy’s HTTP/1 codec knows (a connection manager’s; on a cluster it changes nothing, as in Envoy).',
      accept_http_10:
        'HTTP/1.0 requests (any version but HTTP/1.1, and HTTP/0.9’s `GET /path` line) are served and answered in HTTP/1.0; without it (the default) they get 426 Upgrade Required and the connection closes (`downstream_cx_protocol_error`). A connection manager’s; on a cluster it changes nothing, as in Envoy.',
      default_host_for_http_10:
        'With `accept_http_10`, the Host of an HTTP/1.0 request that has none (without it such a request gets 400 `missing_host_header`); must be a valid Host.',
      allow_absolute_url:
        'An absolute-form target (`http://host:port/path?q`, proxy form) gives Host (replacing the request’s) and the path (`/` when empty), so the virtual host is the URL’s; a scheme other than http/https or a URL that does not parse → 400. Default true; false: the target is the path as sent (404 `absolute_path_rejected`).',
    },
    'envoy.extensions.filters.network.http_connection_manager.v3.Rds': {
      config_source: 'Where the RouteConfiguration comes from (`ads: {}`).',
      route_config_name: 'The RouteConfiguration resource’s name.',
    },
    'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter': {
      name: 'Filter name.',
      typed_config: 'The filter’s configuration (an extension of category `envoy.filters.http`, below).',
    },
  },
  translate: translateHcm,
};
