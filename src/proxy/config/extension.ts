// Envoy's extension model: every filter, transport socket, access logger, … is an extension of a category,
// found by the type of its `typed_config` (for Istio's own filters, the `type_url` inside a TypedStruct) or, for
// the few that take no configuration, by name. Each extension owns its translation and the proto fields it
// implements, next to its runtime code; src/proxy/extensions.ts lists them. A type no extension of the
// category takes is refused with its path.

import { showValue } from '../../core/diagnostics.js';
import type { FieldPath } from '../../core/field-path.js';
import type { SupportTable } from '../../xds/decode.js';
import type { NetworkFilterRuntime } from '../filters/network-filter.js';
import type { TranslateContext } from './context.js';
import { extensionTypeOf, type JsonObject, obj, str } from './json.js';
import type {
  AccessLoggerConfig,
  ClusterConfig,
  HttpFilterConfig,
  ListenerFilterConfig,
  NetworkFilterPart,
  TransportConfig,
  UpstreamTransport,
} from './model.js';

/** What an extension of each category translates to. */
export interface ExtensionOutputs {
  'envoy.filters.listener': ListenerFilterConfig['kind'];
  'envoy.filters.network': NetworkFilterPart;
  'envoy.filters.http': HttpFilterConfig;
  'envoy.transport_sockets.downstream': TransportConfig;
  'envoy.transport_sockets.upstream': UpstreamTransport;
  'envoy.upstreams.http.http_protocol_options': ClusterConfig['httpProtocol'];
  'envoy.resource_monitors': { kind: 'downstream_connections'; max: number };
  'envoy.retry_host_predicates': 'previous_hosts';
  'envoy.access_loggers': AccessLoggerConfig;
}

export type ExtensionCategory = keyof ExtensionOutputs;

/** How messages name each category. */
const NOUN: Record<ExtensionCategory, string> = {
  'envoy.filters.listener': 'listener filter',
  'envoy.filters.network': 'network filter',
  'envoy.filters.http': 'HTTP filter',
  'envoy.transport_sockets.downstream': 'transport socket',
  'envoy.transport_sockets.upstream': 'transport socket',
  'envoy.upstreams.http.http_protocol_options': 'protocol options',
  'envoy.resource_monitors': 'resource monitor',
  'envoy.retry_host_predicates': 'retry host predicate',
  'envoy.access_loggers': 'access logger',
};

export interface Extension<K extends ExtensionCategory = ExtensionCategory> {
  /** Envoy's name for it (`envoy.filters.network.tcp_proxy`, `istio.stats`). */
  name: string;
  /** Older names Envoy still accepts. */
  aliases?: readonly string[];
  category: K;
  /** The `typed_config` message types it takes (a TypedStruct's inner type for Istio's filters). */
  types: readonly string[];
  /** It takes no settings, so `name` alone (no typed_config) selects it, as Envoy allows for such filters. */
  byName?: boolean;
  /** One line: what it does in Skiff (docs). */
  summary: string;
  /** The proto messages of its configuration, field by field: what the decoder lets through and the docs list. */
  support: SupportTable;
  /** Translates its decoded `typed_config` (the TypedStruct whole, for Istio's filters). */
  translate(typed: JsonObject, path: FieldPath, ctx: TranslateContext): ExtensionOutputs[K] | undefined;
  /** Terminal network filters: what makes the running filter from the translated config. */
  runtime?: NetworkFilterRuntime;
}

/** Any extension, whatever its category (for lists). */
export type AnyExtension = { [K in ExtensionCategory]: Extension<K> }[ExtensionCategory];

export class ExtensionRegistry {
  private readonly byType = new Map<string, AnyExtension>();
  private readonly byName = new Map<string, AnyExtension>();

  constructor(readonly extensions: readonly AnyExtension[]) {
    for (const e of extensions) {
      for (const t of e.types) this.byType.set(`${e.category} ${t}`, e);
      for (const n of [e.name, ...(e.aliases ?? [])]) this.byName.set(`${e.category} ${n}`, e);
    }
  }

  /** Names of the category's extensions, for "expected …" in messages. */
  namesOf(category: ExtensionCategory): string[] {
    return this.extensions.filter((e) => e.category === category).map((e) => e.name);
  }

  /** The factory of a terminal network filter's config. */
  networkFilter(kind: string): NetworkFilterRuntime | undefined {
    return this.extensions.find((e) => e.runtime?.kind === kind)?.runtime;
  }

  find<K extends ExtensionCategory>(category: K, type: string): Extension<K> | undefined {
    return this.byType.get(`${category} ${type}`) as Extension<K> | undefined;
  }

  /**
   * Translates an extension entry `{name, typed_config}` at `path` (a filter, a transport socket, an access
   * log, …). A typed_config picks the extension by type; without one, only an extension that takes no settings
   * may be named. Undefined (with the problem recorded) when no extension of the category fits.
   */
  translate<K extends ExtensionCategory>(
    category: K,
    entry: JsonObject,
    path: FieldPath,
    ctx: TranslateContext,
  ): ExtensionOutputs[K] | undefined {
    const name = str(entry.name);
    const noun = NOUN[category];
    const expected = `expected ${this.namesOf(category).join(', ')}`;
    if (entry.typed_config === undefined) {
      const e = this.byName.get(`${category} ${name}`) as Extension<K> | undefined;
      if (e?.byName) return e.translate({}, [...path, 'typed_config'], ctx);
      ctx.error(
        [...path, e ? 'typed_config' : 'name'],
        e ? 'proxy.required' : 'proxy.unsupported',
        e
          ? `${noun} ${showValue(name)} needs a typed_config`
          : `${noun} ${showValue(name)} is not implemented; ${expected}`,
      );
      return undefined;
    }
    const typed = obj(entry.typed_config);
    const type = extensionTypeOf(typed);
    const e = this.find(category, type);
    const elsewhere = e ? undefined : this.extensions.find((x) => x.types.includes(type));
    if (elsewhere) {
      ctx.error(
        path,
        'proxy.unsupported',
        `${noun} ${showValue(name)} (${type}) does not belong here: it is an ${elsewhere.category} extension; ${expected}`,
      );
      return undefined;
    }
    if (!e) {
      ctx.error(
        path,
        'proxy.unsupported',
        `${noun} ${showValue(name)} (${type || 'no type'}) is not implemented; ${expected}`,
      );
      return undefined;
    }
    return e.translate(typed, [...path, 'typed_config'], ctx);
  }
}
