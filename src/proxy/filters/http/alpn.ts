// Istio's `istio.alpn` HTTP filter (istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig, Envoy's
// contrib/istio/filters/http/alpn): per request, the ALPN list the upstream TLS connection offers, chosen by the
// HTTP protocol spoken to the cluster — Istio's outbound listeners set HTTP/1.1 → `istio-http/1.1, istio,
// http/1.1` and HTTP/2 → `istio-h2, istio, h2`, which is what lands mesh HTTP on the server sidecar's HTTP chain
// (its chains match `istio-http/1.0, istio-http/1.1, istio-h2`; the cluster's own `istio-peer-exchange, istio`
// lands on the TCP chain). A cluster whose `filter_metadata.istio.alpn_override` is "false" (Istio marks
// DestinationRule SIMPLE and MUTUAL TLS so) keeps its own ALPN; plaintext offers nothing.
//
// Istio sends it as a bare Any of its own type, which is not among the Envoy protos the decoder knows: Skiff takes
// it in a udpa/xds TypedStruct with that type_url, as istio.stats.

import { showValue } from '../../../core/diagnostics.js';
import type { FieldPath } from '../../../core/field-path.js';
import type { TranslateContext } from '../../config/context.js';
import type { Extension } from '../../config/extension.js';
import { field, type JsonObject, keyOf, obj } from '../../config/json.js';
import type { AlpnOverrideConfig, AlpnUpstreamProtocol, ClusterConfig } from '../../config/model.js';
import { onlyFields } from '../../telemetry/istio-filters.js';

export const ALPN_FILTER_TYPE = 'istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig';

/** FilterConfig.Protocol by name and number (proto3 JSON gives either; absent is 0, HTTP10). */
const PROTOCOLS: readonly AlpnUpstreamProtocol[] = ['HTTP10', 'HTTP11', 'HTTP2'];

/** A TLS ALPN protocol name is 1 to 255 bytes (RFC 7301 3.1). */
function alpnNameProblem(v: unknown): string | undefined {
  if (typeof v !== 'string') return `${showValue(v)} is not a string`;
  const bytes = Buffer.byteLength(v);
  if (bytes === 0) return 'an ALPN protocol name cannot be empty';
  if (bytes > 255) return `an ALPN protocol name is at most 255 bytes, this one is ${bytes}`;
  return undefined;
}

function translateAlpn(typed: JsonObject, path: FieldPath, ctx: TranslateContext): AlpnOverrideConfig {
  const v = obj(typed.value);
  const at = [...path, 'value'];
  onlyFields(v, at, 'alpn.v2alpha1.FilterConfig', ['alpn_override'], ctx);
  const out: AlpnOverrideConfig = {};
  const entries = field(v, 'alpn_override');
  if (entries === undefined) return out;
  const listAt = [...at, keyOf(v, 'alpn_override')];
  if (!Array.isArray(entries)) {
    ctx.error(listAt, 'proxy.type', `alpn_override must be a list, got ${showValue(entries)}`);
    return out;
  }
  const seen = new Set<AlpnUpstreamProtocol>();
  entries.forEach((raw, i) => {
    const entryAt = [...listAt, i];
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      ctx.error(entryAt, 'proxy.type', `an alpn_override entry must be an object, got ${showValue(raw)}`);
      return;
    }
    const e = raw;
    onlyFields(e, entryAt, 'FilterConfig.AlpnOverride', ['upstream_protocol', 'alpn_override'], ctx);
    const p = field(e, 'upstream_protocol') ?? 'HTTP10';
    const protocol = typeof p === 'number' ? PROTOCOLS[p] : PROTOCOLS.find((name) => name === p);
    if (protocol === undefined) {
      ctx.error(
        [...entryAt, keyOf(e, 'upstream_protocol')],
        'proxy.unsupported',
        `upstream_protocol ${showValue(p)} is not one of HTTP10, HTTP11, HTTP2`,
      );
    }
    const names = field(e, 'alpn_override') ?? [];
    const namesAt = [...entryAt, keyOf(e, 'alpn_override')];
    let valid = true;
    if (!Array.isArray(names)) {
      ctx.error(namesAt, 'proxy.type', `alpn_override must be a list of strings, got ${showValue(names)}`);
      valid = false;
    } else {
      names.forEach((n, j) => {
        const problem = alpnNameProblem(n);
        if (problem) {
          ctx.error([...namesAt, j], 'proxy.alpn', problem);
          valid = false;
        }
      });
    }
    if (protocol === undefined || !valid || !Array.isArray(names)) return;
    // Envoy's filter keeps the first entry of a protocol (a map insert); a later one would silently do nothing.
    if (seen.has(protocol)) {
      ctx.error(
        [...entryAt, keyOf(e, 'upstream_protocol')],
        'proxy.duplicate',
        `upstream_protocol ${protocol} has an earlier entry; Envoy would ignore this one`,
      );
      return;
    }
    seen.add(protocol);
    // An empty list overrides nothing (Envoy: "ALPN override is empty"): the transport's ALPN stays.
    if (names.length > 0) out[protocol] = names as string[];
  });
  return out;
}

/**
 * The ALPN list an upstream connection of `cluster` speaking `protocol` offers under the filter's `config`, or
 * undefined for the transport's own: no filter, a cluster marked `istio.alpn_override: "false"`, or no entry for
 * the protocol. The pools key their connections by it, so offers never share a connection. (Whether the endpoint
 * is TLS at all is the cluster's business: plaintext ignores it.)
 */
export function alpnOffer(
  config: AlpnOverrideConfig | undefined,
  cluster: ClusterConfig,
  protocol: 'http1' | 'http2',
): readonly string[] | undefined {
  if (config === undefined) return undefined;
  if (obj(cluster.filterMetadata.istio).alpn_override === 'false') return undefined;
  // HTTP/1.0 requests go upstream as HTTP/1.1 (Envoy's upstreamHttpProtocol: "HTTP10 upstream is not supported").
  return protocol === 'http2' ? config.HTTP2 : config.HTTP11;
}

export const ISTIO_ALPN: Extension<'envoy.filters.http'> = {
  name: 'istio.alpn',
  category: 'envoy.filters.http',
  types: [ALPN_FILTER_TYPE],
  summary:
    'Istio’s ALPN override (`istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig` in a TypedStruct; `alpn_override: [{upstream_protocol: HTTP10 | HTTP11 | HTTP2, alpn_override: [names]}]`): upstream TLS connections offer the list of the protocol they speak (HTTP/1.0 requests go as HTTP/1.1) instead of the transport’s ALPN, except on clusters with `filter_metadata.istio.alpn_override: "false"`.',
  support: {},
  translate: (typed, path, ctx) => ({ kind: 'istio.alpn', alpn: translateAlpn(typed, path, ctx) }),
};
