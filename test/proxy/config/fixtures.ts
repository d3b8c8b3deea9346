// What the sidecar configuration tests share: Envoy's type names, small builders for the JSON an xDS resource
// or a bootstrap carries, an extension entry run the way the pipeline runs it (typed_config decoded against
// Envoy's protos with the implemented subset, then the registry), and diagnostics in a form a table can state.

import type { Diagnostic } from '../../../src/core/diagnostics.js';
import { type FieldPath, formatPath } from '../../../src/core/field-path.js';
import { TranslateContext, type Translated } from '../../../src/proxy/config/context.js';
import type { ExtensionCategory, ExtensionOutputs } from '../../../src/proxy/config/extension.js';
import type { JsonObject } from '../../../src/proxy/config/json.js';
import { PROXY_SUPPORT } from '../../../src/proxy/config/support.js';
import { PROXY_EXTENSIONS } from '../../../src/proxy/extensions.js';
import { decodeMessage } from '../../../src/xds/decode.js';
import { envoyRoot } from '../../../src/xds/protos.js';

/** Message types of the `typed_config`s the proxy implements. */
export const T = {
  tlsInspector: 'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  httpInspector: 'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  originalDst: 'envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
  tcpProxy: 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  hcm: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  router: 'envoy.extensions.filters.http.router.v3.Router',
  downstreamTls: 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  upstreamTls: 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  rawBuffer: 'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  httpProtocolOptions: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  udpaTypedStruct: 'udpa.type.v1.TypedStruct',
  xdsTypedStruct: 'xds.type.v3.TypedStruct',
  istioStats: 'stats.PluginConfig',
  peerMetadata: 'io.istio.http.peer_metadata.Config',
} as const;

/** An `Any` of `type` with `fields`. */
export function any(type: string, fields: JsonObject = {}): JsonObject {
  return { '@type': `type.googleapis.com/${type}`, ...fields };
}

/** Istio's way of carrying its own filters' settings: a TypedStruct around `inner`. */
export function typedStruct(
  inner: string,
  value?: JsonObject,
  wrapper: string = T.udpaTypedStruct,
): JsonObject {
  return any(wrapper, { type_url: `type.googleapis.com/${inner}`, ...(value ? { value } : {}) });
}

export function socketAddress(address: string, port: number): JsonObject {
  return { socket_address: { address, port_value: port } };
}

export function tcpProxyFilter(cluster = 'app', extra: JsonObject = {}): JsonObject {
  return {
    name: 'envoy.filters.network.tcp_proxy',
    typed_config: any(T.tcpProxy, { stat_prefix: 'app', cluster, ...extra }),
  };
}

export const routerFilter: JsonObject = { name: 'envoy.filters.http.router', typed_config: any(T.router) };

/** One route table: every request to `cluster`. */
export function routeTable(cluster = 'app', extra: JsonObject = {}): JsonObject {
  return {
    name: 'local',
    virtual_hosts: [
      { name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] },
    ],
    ...extra,
  };
}

/** An http_connection_manager entry with an inline route table and the router; `fields` override. */
export function hcmFilter(fields: JsonObject = {}): JsonObject {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: any(T.hcm, {
      stat_prefix: 'in',
      route_config: routeTable(),
      http_filters: [routerFilter],
      ...fields,
    }),
  };
}

export const certificateFiles: JsonObject = {
  certificate_chain: { filename: 'cert.pem' },
  private_key: { filename: 'key.pem' },
};

/** A listener that translates without a diagnostic; `fields` override. */
export function listener(fields: JsonObject = {}): JsonObject {
  return {
    name: 'l',
    address: socketAddress('127.0.0.1', 15006),
    filter_chains: [{ filters: [tcpProxyFilter()] }],
    ...fields,
  };
}

/** A STATIC cluster with one endpoint that translates without a diagnostic; `fields` override. */
export function cluster(fields: JsonObject = {}): JsonObject {
  return {
    name: 'app',
    load_assignment: {
      cluster_name: 'app',
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress('127.0.0.1', 9080) } }] }],
    },
    ...fields,
  };
}

/** A diagnostic as a table states it: the path as a person writes it. */
export interface Problem {
  severity: Diagnostic['severity'];
  path: string;
  code: string;
  message: string;
}

export function problems(diagnostics: readonly Diagnostic[]): Problem[] {
  return diagnostics.map((d) => ({
    severity: d.severity,
    path: formatPath(d.path ?? []),
    code: d.code,
    message: d.message,
  }));
}

export const error = (path: string, code: string, message: string): Problem => ({
  severity: 'error',
  path,
  code,
  message,
});

export const warning = (path: string, code: string, message: string): Problem => ({
  severity: 'warning',
  path,
  code,
  message,
});

/** A fresh context over the proxy's registry, as each resource gets. */
export function context(direction?: string): TranslateContext {
  const ctx = new TranslateContext(PROXY_EXTENSIONS);
  if (direction !== undefined) ctx.direction = direction;
  return ctx;
}

/** Where extension entries sit in the tests (a chain's first filter): paths read `filters[0].typed_config.…`. */
export const ENTRY_PATH: FieldPath = ['filters', 0];

export interface EntryOptions {
  path?: FieldPath;
  /** The listener's traffic_direction (Istio's stats filter reads it). */
  direction?: string;
}

/**
 * One extension entry `{name, typed_config}` of `category`, as a resource's translation meets it: the typed_config
 * decoded strictly (unknown and unimplemented fields refused there), then `PROXY_EXTENSIONS.translate`.
 */
export function translateEntry<K extends ExtensionCategory>(
  category: K,
  entry: JsonObject,
  options: EntryOptions = {},
): Translated<ExtensionOutputs[K]> {
  const path = options.path ?? ENTRY_PATH;
  const ctx = context(options.direction);
  let input = entry;
  if (entry.typed_config !== undefined) {
    const decoded = decodeMessage(
      envoyRoot(),
      'google.protobuf.Any',
      entry.typed_config,
      { support: PROXY_SUPPORT },
      [...path, 'typed_config'],
    );
    if (decoded.diagnostics.length > 0) {
      return { value: undefined, diagnostics: decoded.diagnostics, refs: [], inlineSecrets: [] };
    }
    input = { ...entry, typed_config: decoded.value };
  }
  const value = PROXY_EXTENSIONS.translate(category, input, path, ctx);
  return {
    value: ctx.failed ? undefined : value,
    diagnostics: ctx.diagnostics,
    refs: ctx.refs,
    inlineSecrets: ctx.inlineSecrets,
  };
}

/** References as `[kind, name, path, effect]`, easy to state in a table. */
export function refsOf(t: Pick<Translated<unknown>, 'refs'>): [string, string, string, string | undefined][] {
  return t.refs.map((r) => [r.kind, r.name, formatPath(r.path), r.effect]);
}
