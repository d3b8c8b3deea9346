// Istio's own filters as Envoy receives them, TypedStructs around protos that are not Envoy's: `istio.stats`
// (stats.PluginConfig; an HTTP filter, and a network filter before tcp_proxy) and `istio.metadata_exchange`
// (io.istio.http.peer_metadata.Config, HTTP). Only the fields Skiff honours may be set; the reporter comes from
// the listener's traffic_direction, as in Istio's sidecars.

import { showValue } from '../../core/diagnostics.js';
import type { FieldPath } from '../../core/field-path.js';
import type { SupportTable } from '../../xds/decode.js';
import type { TranslateContext } from '../config/context.js';
import type { Extension } from '../config/extension.js';
import { field, type JsonObject, keyOf, obj, protoName, safeDuration } from '../config/json.js';
import type { IstioStatsConfig, PeerMetadataConfig } from '../config/model.js';

/** Istio's default `tcp_reporting_duration`. */
const TCP_REPORTING_MS = 5_000;

/** The TypedStruct wrappers, listed once with istio.stats' HTTP filter (the decoder needs them for any of these). */
const TYPED_STRUCT_SUPPORT: SupportTable = {
  'udpa.type.v1.TypedStruct': {
    type_url:
      'Istio’s filter types: `type.googleapis.com/stats.PluginConfig`, `type.googleapis.com/io.istio.http.peer_metadata.Config`, `type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig`.',
    value:
      'The filter’s settings as free JSON; only the fields listed for each filter are honoured, others refused.',
  },
  'xds.type.v3.TypedStruct': {
    type_url: 'As udpa.type.v1.TypedStruct.',
    value: 'As udpa.type.v1.TypedStruct.',
  },
};

/** A TypedStruct's value may carry only the fields Skiff honours (by proto or JSON name); others are errors. */
export function onlyFields(
  v: JsonObject,
  at: FieldPath,
  type: string,
  known: readonly string[],
  ctx: TranslateContext,
): void {
  for (const k of Object.keys(v)) {
    if (!known.includes(protoName(k))) {
      ctx.error(
        [...at, k],
        'proxy.unsupported',
        `${type} field ${k} is not implemented; Skiff honours ${known.join(', ')}`,
      );
    }
  }
}

/** Istio's `istio.stats` (stats.PluginConfig as a TypedStruct): the reporter comes from the listener. */
export function translateIstioStats(
  typed: JsonObject,
  path: FieldPath,
  ctx: TranslateContext,
): IstioStatsConfig {
  const v = obj(typed.value);
  const at = [...path, 'value'];
  onlyFields(
    v,
    at,
    'stats.PluginConfig',
    ['reporter', 'tcp_reporting_duration', 'disable_host_header_fallback'],
    ctx,
  );
  const reporterField = field(v, 'reporter');
  if (reporterField !== undefined && reporterField !== 'UNSPECIFIED' && reporterField !== 0) {
    ctx.error(
      [...at, keyOf(v, 'reporter')],
      'proxy.unsupported',
      `reporter ${showValue(reporterField)} is not implemented; expected UNSPECIFIED (from the listener's traffic_direction)`,
    );
  }
  const direction = ctx.direction;
  if (direction !== 'INBOUND' && direction !== 'OUTBOUND') {
    ctx.error(
      path,
      'proxy.istio-stats',
      `istio.stats needs the listener's traffic_direction INBOUND (reporter="destination") or OUTBOUND (reporter="source"), got ${direction}`,
    );
  }
  const duration = field(v, 'tcp_reporting_duration');
  let tcpReportingMs = TCP_REPORTING_MS;
  if (duration !== undefined) {
    tcpReportingMs = typeof duration === 'string' ? safeDuration(duration) : Number.NaN;
    if (!(tcpReportingMs > 0)) {
      ctx.error(
        [...at, keyOf(v, 'tcp_reporting_duration')],
        'proxy.istio-stats',
        `tcp_reporting_duration ${showValue(duration)} is not a positive duration such as "5s"`,
      );
      tcpReportingMs = TCP_REPORTING_MS;
    }
  }
  const fallback = field(v, 'disable_host_header_fallback');
  if (fallback !== undefined && typeof fallback !== 'boolean') {
    ctx.error(
      [...at, keyOf(v, 'disable_host_header_fallback')],
      'proxy.istio-stats',
      `disable_host_header_fallback must be true or false, got ${showValue(fallback)}`,
    );
  }
  return {
    reporter: direction === 'OUTBOUND' ? 'source' : 'destination',
    tcpReportingMs,
    disableHostHeaderFallback: fallback === true,
  };
}

/** Istio's `istio.metadata_exchange` HTTP filter: only the `istio_headers` method exists in sidecars. */
function translatePeerMetadata(
  typed: JsonObject,
  path: FieldPath,
  ctx: TranslateContext,
): PeerMetadataConfig {
  const v = obj(typed.value);
  const at = [...path, 'value'];
  const lists = [
    'downstream_discovery',
    'downstream_propagation',
    'upstream_discovery',
    'upstream_propagation',
  ];
  onlyFields(v, at, 'peer_metadata.Config', lists, ctx);
  const uses = (name: string): boolean => {
    const methods = field(v, name);
    if (methods === undefined) return false;
    if (!Array.isArray(methods)) {
      ctx.error([...at, keyOf(v, name)], 'proxy.type', `${name} must be a list, got ${showValue(methods)}`);
      return false;
    }
    methods.forEach((m, i) => {
      const keys = Object.keys(obj(m));
      if (keys.length !== 1 || field(obj(m), 'istio_headers') === undefined) {
        ctx.error(
          [...at, keyOf(v, name), i],
          'proxy.unsupported',
          `method ${showValue(m)} is not implemented; expected {istio_headers: {}}`,
        );
      }
    });
    return methods.length > 0;
  };
  return {
    downstreamDiscovery: uses('downstream_discovery'),
    downstreamPropagation: uses('downstream_propagation'),
    upstreamDiscovery: uses('upstream_discovery'),
    upstreamPropagation: uses('upstream_propagation'),
  };
}

const STATS_SUMMARY =
  'Istio’s standard metrics (`stats.PluginConfig` in a TypedStruct; fields `reporter` UNSPECIFIED, `tcp_reporting_duration`, `disable_host_header_fallback`).';

export const ISTIO_STATS_HTTP: Extension<'envoy.filters.http'> = {
  name: 'istio.stats',
  category: 'envoy.filters.http',
  types: ['stats.PluginConfig'],
  summary: `${STATS_SUMMARY} Reports each HTTP request.`,
  support: TYPED_STRUCT_SUPPORT,
  translate: (typed, path, ctx) => ({ kind: 'istio.stats', stats: translateIstioStats(typed, path, ctx) }),
};

export const ISTIO_STATS_TCP: Extension<'envoy.filters.network'> = {
  name: 'istio.stats',
  category: 'envoy.filters.network',
  types: ['stats.PluginConfig'],
  summary: `${STATS_SUMMARY} Before tcp_proxy: reports that proxy's connections.`,
  support: {},
  translate: (typed, path, ctx) => ({ kind: 'istio.stats', stats: translateIstioStats(typed, path, ctx) }),
};

export const ISTIO_METADATA_EXCHANGE: Extension<'envoy.filters.http'> = {
  name: 'istio.metadata_exchange',
  category: 'envoy.filters.http',
  types: ['io.istio.http.peer_metadata.Config'],
  summary:
    'Istio’s peer metadata in `x-envoy-peer-metadata` headers (`io.istio.http.peer_metadata.Config`: `downstream_discovery`, `downstream_propagation`, `upstream_discovery`, `upstream_propagation`, each `[{istio_headers: {}}]`).',
  support: {},
  translate: (typed, path, ctx) => ({
    kind: 'istio.metadata_exchange',
    exchange: translatePeerMetadata(typed, path, ctx),
  }),
};
