// The extension registry: an entry `{name, typed_config}` finds its extension by the type of its typed_config
// (a TypedStruct's inner type for Istio's filters), by name or alias only for extensions that take no settings;
// a type of another category, an unknown type or an unknown name is refused with its path.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatPath } from '../../../src/core/field-path.js';
import { TranslateContext } from '../../../src/proxy/config/context.js';
import {
  type AnyExtension,
  type ExtensionCategory,
  ExtensionRegistry,
} from '../../../src/proxy/config/extension.js';
import type { JsonObject } from '../../../src/proxy/config/json.js';
import { PROXY_EXTENSIONS } from '../../../src/proxy/extensions.js';
import { HTTP_CONNECTION_MANAGER_EXTENSION } from '../../../src/proxy/filters/http/index.js';
import { TCP_PROXY_EXTENSION } from '../../../src/proxy/filters/tcp-proxy/index.js';
import { any, context, ENTRY_PATH, error, problems, T, typedStruct } from './fixtures.js';

/** A registry of two listener filters that record what they were given. */
function recordingRegistry() {
  const calls: { name: string; typed: JsonObject; path: string }[] = [];
  const make = (name: string, type: string, byName: boolean): AnyExtension => ({
    name,
    aliases: [`old.${name}`],
    category: 'envoy.filters.listener',
    types: [type],
    byName,
    summary: '',
    support: {},
    translate: (typed, path) => {
      calls.push({ name, typed, path: formatPath(path) });
      return 'tls_inspector';
    },
  });
  const registry = new ExtensionRegistry([
    make('plain', 'x.Plain', true),
    make('settings', 'x.Settings', false),
  ]);
  return { registry, calls };
}

describe('ExtensionRegistry.find', () => {
  const cases: [string, ExtensionCategory, string, string | undefined][] = [
    [
      'tcp_proxy among network filters',
      'envoy.filters.network',
      T.tcpProxy,
      'envoy.filters.network.tcp_proxy',
    ],
    ['the router among HTTP filters', 'envoy.filters.http', T.router, 'envoy.filters.http.router'],
    ['stats.PluginConfig among HTTP filters', 'envoy.filters.http', T.istioStats, 'istio.stats'],
    ['stats.PluginConfig among network filters', 'envoy.filters.network', T.istioStats, 'istio.stats'],
    ['the router among network filters', 'envoy.filters.network', T.router, undefined],
    ['a listener TLS context on a cluster', 'envoy.transport_sockets.upstream', T.downstreamTls, undefined],
    [
      'a type that exists nowhere',
      'envoy.filters.http',
      'envoy.extensions.filters.http.fault.v3.HTTPFault',
      undefined,
    ],
    [
      'an extension name instead of a type',
      'envoy.filters.network',
      'envoy.filters.network.tcp_proxy',
      undefined,
    ],
  ];
  for (const [what, category, type, expected] of cases) {
    it(`finds ${what}: ${expected ?? 'nothing'}`, () => {
      const e = PROXY_EXTENSIONS.find(category, type);
      assert.equal(e?.name, expected);
      if (e) assert.equal(e.category, category);
    });
  }

  it('keeps one type apart per category (istio.stats is two extensions)', () => {
    const http = PROXY_EXTENSIONS.find('envoy.filters.http', T.istioStats);
    const tcp = PROXY_EXTENSIONS.find('envoy.filters.network', T.istioStats);
    assert.ok(http && tcp);
    assert.notEqual(http, tcp);
  });
});

describe('ExtensionRegistry.namesOf', () => {
  it("lists a category's extensions in registration order, for messages", () => {
    assert.deepEqual(PROXY_EXTENSIONS.namesOf('envoy.filters.listener'), [
      'envoy.filters.listener.tls_inspector',
      'envoy.filters.listener.http_inspector',
    ]);
    assert.deepEqual(PROXY_EXTENSIONS.namesOf('envoy.filters.http'), [
      'istio.metadata_exchange',
      'istio.stats',
      'istio.alpn',
      'envoy.filters.http.router',
    ]);
  });
});

describe('ExtensionRegistry.translate: by type', () => {
  it('picks the extension by the typed_config’s type and passes it the typed_config and its path', () => {
    const { registry, calls } = recordingRegistry();
    const ctx = new TranslateContext(registry);
    const typed = any('x.Settings', { a: 1 });
    const out = registry.translate(
      'envoy.filters.listener',
      { name: 'whatever', typed_config: typed },
      ENTRY_PATH,
      ctx,
    );
    assert.equal(out, 'tls_inspector');
    assert.deepEqual(calls, [{ name: 'settings', typed, path: 'filters[0].typed_config' }]);
    assert.deepEqual(ctx.diagnostics, []);
  });

  it('ignores the name when a typed_config is given, as Envoy does', () => {
    const ctx = context();
    const out = PROXY_EXTENSIONS.translate(
      'envoy.filters.listener',
      { name: 'envoy.filters.listener.http_inspector', typed_config: any(T.tlsInspector) },
      ENTRY_PATH,
      ctx,
    );
    assert.equal(out, 'tls_inspector');
    assert.deepEqual(ctx.diagnostics, []);
  });

  it('finds Istio’s filters by the inner type of a TypedStruct, udpa or xds', () => {
    for (const wrapper of [T.udpaTypedStruct, T.xdsTypedStruct]) {
      const ctx = context('INBOUND');
      const out = PROXY_EXTENSIONS.translate(
        'envoy.filters.http',
        { name: 'istio.stats', typed_config: typedStruct(T.istioStats, {}, wrapper) },
        ENTRY_PATH,
        ctx,
      );
      assert.equal(out?.kind, 'istio.stats', wrapper);
      assert.deepEqual(ctx.diagnostics, []);
    }
  });
});

describe('ExtensionRegistry.translate: by name, without typed_config', () => {
  it('selects an extension that takes no settings by its name or an alias, with the typed_config path', () => {
    const { registry, calls } = recordingRegistry();
    for (const name of ['plain', 'old.plain']) {
      const ctx = new TranslateContext(registry);
      assert.equal(registry.translate('envoy.filters.listener', { name }, ENTRY_PATH, ctx), 'tls_inspector');
      assert.deepEqual(ctx.diagnostics, []);
    }
    assert.deepEqual(calls, [
      { name: 'plain', typed: {}, path: 'filters[0].typed_config' },
      { name: 'plain', typed: {}, path: 'filters[0].typed_config' },
    ]);
  });

  const byName: [string, ExtensionCategory, string, unknown][] = [
    ['tls_inspector', 'envoy.filters.listener', 'envoy.filters.listener.tls_inspector', 'tls_inspector'],
    ['tls_inspector (old name)', 'envoy.filters.listener', 'envoy.listener.tls_inspector', 'tls_inspector'],
    ['http_inspector', 'envoy.filters.listener', 'envoy.filters.listener.http_inspector', 'http_inspector'],
    [
      'http_inspector (old name)',
      'envoy.filters.listener',
      'envoy.listener.http_inspector',
      'http_inspector',
    ],
    [
      'raw_buffer on a listener',
      'envoy.transport_sockets.downstream',
      'envoy.transport_sockets.raw_buffer',
      { kind: 'raw' },
    ],
    [
      'raw_buffer (short name) on a cluster',
      'envoy.transport_sockets.upstream',
      'raw_buffer',
      { kind: 'raw' },
    ],
  ];
  for (const [what, category, name, expected] of byName) {
    it(`selects ${what}`, () => {
      const ctx = context();
      assert.deepEqual(PROXY_EXTENSIONS.translate(category, { name }, ENTRY_PATH, ctx), expected);
      assert.deepEqual(ctx.diagnostics, []);
    });
  }

  const refused: [string, ExtensionCategory, string, ReturnType<typeof error>][] = [
    [
      'an extension that needs settings (tcp_proxy)',
      'envoy.filters.network',
      'envoy.filters.network.tcp_proxy',
      error(
        'filters[0].typed_config',
        'proxy.required',
        'network filter "envoy.filters.network.tcp_proxy" needs a typed_config',
      ),
    ],
    [
      'an extension that needs settings, by its old name',
      'envoy.filters.network',
      'envoy.tcp_proxy',
      error(
        'filters[0].typed_config',
        'proxy.required',
        'network filter "envoy.tcp_proxy" needs a typed_config',
      ),
    ],
    [
      'TLS without a context',
      'envoy.transport_sockets.downstream',
      'envoy.transport_sockets.tls',
      error(
        'filters[0].typed_config',
        'proxy.required',
        'transport socket "envoy.transport_sockets.tls" needs a typed_config',
      ),
    ],
    [
      'an unknown name',
      'envoy.filters.listener',
      'envoy.filters.listener.original_dst',
      error(
        'filters[0].name',
        'proxy.unsupported',
        'listener filter "envoy.filters.listener.original_dst" is not implemented; expected envoy.filters.listener.tls_inspector, envoy.filters.listener.http_inspector',
      ),
    ],
    [
      'a name of another category',
      'envoy.filters.http',
      'envoy.filters.listener.tls_inspector',
      error(
        'filters[0].name',
        'proxy.unsupported',
        'HTTP filter "envoy.filters.listener.tls_inspector" is not implemented; expected istio.metadata_exchange, istio.stats, istio.alpn, envoy.filters.http.router',
      ),
    ],
  ];
  for (const [what, category, name, expected] of refused) {
    it(`refuses ${what}`, () => {
      const ctx = context();
      assert.equal(PROXY_EXTENSIONS.translate(category, { name }, ENTRY_PATH, ctx), undefined);
      assert.deepEqual(problems(ctx.diagnostics), [expected]);
    });
  }

  it('does not call a settings-taking extension that is only named', () => {
    const { registry, calls } = recordingRegistry();
    const ctx = new TranslateContext(registry);
    assert.equal(
      registry.translate('envoy.filters.listener', { name: 'old.settings' }, ENTRY_PATH, ctx),
      undefined,
    );
    assert.deepEqual(calls, []);
    assert.deepEqual(problems(ctx.diagnostics), [
      error(
        'filters[0].typed_config',
        'proxy.required',
        'listener filter "old.settings" needs a typed_config',
      ),
    ]);
  });
});

describe('ExtensionRegistry.translate: refused types', () => {
  const cases: [string, ExtensionCategory, JsonObject, ReturnType<typeof error>][] = [
    [
      'an HTTP filter as a network filter',
      'envoy.filters.network',
      { name: 'r', typed_config: any(T.router) },
      error(
        'filters[0]',
        'proxy.unsupported',
        'network filter "r" (envoy.extensions.filters.http.router.v3.Router) does not belong here: it is an envoy.filters.http extension; expected envoy.filters.network.tcp_proxy, envoy.filters.network.http_connection_manager, istio.stats',
      ),
    ],
    [
      'a listener TLS context on a cluster',
      'envoy.transport_sockets.upstream',
      { name: 'tls', typed_config: any(T.downstreamTls) },
      error(
        'filters[0]',
        'proxy.unsupported',
        'transport socket "tls" (envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext) does not belong here: it is an envoy.transport_sockets.downstream extension; expected envoy.transport_sockets.tls, envoy.transport_sockets.raw_buffer',
      ),
    ],
    [
      'Istio’s peer metadata filter before tcp_proxy (it is HTTP only)',
      'envoy.filters.network',
      { name: 'istio.metadata_exchange', typed_config: typedStruct(T.peerMetadata, {}) },
      error(
        'filters[0]',
        'proxy.unsupported',
        'network filter "istio.metadata_exchange" (io.istio.http.peer_metadata.Config) does not belong here: it is an envoy.filters.http extension; expected envoy.filters.network.tcp_proxy, envoy.filters.network.http_connection_manager, istio.stats',
      ),
    ],
    [
      'an unknown type',
      'envoy.filters.http',
      {
        name: 'envoy.filters.http.fault',
        typed_config: any('envoy.extensions.filters.http.fault.v3.HTTPFault'),
      },
      error(
        'filters[0]',
        'proxy.unsupported',
        'HTTP filter "envoy.filters.http.fault" (envoy.extensions.filters.http.fault.v3.HTTPFault) is not implemented; expected istio.metadata_exchange, istio.stats, istio.alpn, envoy.filters.http.router',
      ),
    ],
    [
      'an unknown type inside a TypedStruct',
      'envoy.filters.http',
      { name: 'wasm', typed_config: typedStruct('envoy.extensions.wasm.v3.PluginConfig', {}) },
      error(
        'filters[0]',
        'proxy.unsupported',
        'HTTP filter "wasm" (envoy.extensions.wasm.v3.PluginConfig) is not implemented; expected istio.metadata_exchange, istio.stats, istio.alpn, envoy.filters.http.router',
      ),
    ],
    [
      'a TypedStruct without its type_url',
      'envoy.filters.http',
      { name: 'istio.stats', typed_config: any(T.udpaTypedStruct, { value: {} }) },
      error(
        'filters[0]',
        'proxy.unsupported',
        'HTTP filter "istio.stats" (udpa.type.v1.TypedStruct) is not implemented; expected istio.metadata_exchange, istio.stats, istio.alpn, envoy.filters.http.router',
      ),
    ],
    [
      'a typed_config without a type',
      'envoy.filters.listener',
      { name: 'envoy.filters.listener.tls_inspector', typed_config: {} },
      error(
        'filters[0]',
        'proxy.unsupported',
        'listener filter "envoy.filters.listener.tls_inspector" (no type) is not implemented; expected envoy.filters.listener.tls_inspector, envoy.filters.listener.http_inspector',
      ),
    ],
  ];
  for (const [what, category, entry, expected] of cases) {
    it(`refuses ${what}, at the entry's path`, () => {
      const ctx = context();
      assert.equal(PROXY_EXTENSIONS.translate(category, entry, ENTRY_PATH, ctx), undefined);
      assert.deepEqual(problems(ctx.diagnostics), [expected]);
    });
  }
});

describe('ExtensionRegistry.networkFilter', () => {
  it('gives the runtime factory of each terminal network filter by its config kind', () => {
    assert.equal(PROXY_EXTENSIONS.networkFilter('tcp_proxy'), TCP_PROXY_EXTENSION.runtime);
    assert.equal(
      PROXY_EXTENSIONS.networkFilter('http_connection_manager'),
      HTTP_CONNECTION_MANAGER_EXTENSION.runtime,
    );
    assert.equal(PROXY_EXTENSIONS.networkFilter('tcp_proxy')?.kind, 'tcp_proxy');
  });

  it('has none for a filter that is not terminal, or an unknown kind', () => {
    assert.equal(PROXY_EXTENSIONS.networkFilter('istio.stats'), undefined);
    assert.equal(PROXY_EXTENSIONS.networkFilter('redis_proxy'), undefined);
  });
});
