// The listener filters `envoy.filters.listener.tls_inspector` (client-hello.ts) and
// `envoy.filters.listener.http_inspector` (http-inspector.ts) as extensions: neither takes settings that change
// what it decides; the listener runs them over peeked bytes (listener/listener.ts).

import type { Extension } from '../config/extension.js';

export const TLS_INSPECTOR: Extension<'envoy.filters.listener'> = {
  name: 'envoy.filters.listener.tls_inspector',
  aliases: ['envoy.listener.tls_inspector'],
  category: 'envoy.filters.listener',
  types: ['envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector'],
  byName: true,
  summary: 'Reads the ClientHello without consuming it: TLS or not, SNI, ALPN (for filter chain matching).',
  support: {
    'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector': {
      initial_read_buffer_size:
        'Accepted (Istio sets 512): Skiff reads what has arrived, up to the 64 KiB ClientHello limit, whatever its size.',
    },
  },
  translate: () => 'tls_inspector',
};

export const HTTP_INSPECTOR: Extension<'envoy.filters.listener'> = {
  name: 'envoy.filters.listener.http_inspector',
  aliases: ['envoy.listener.http_inspector'],
  category: 'envoy.filters.listener',
  types: ['envoy.extensions.filters.listener.http_inspector.v3.HttpInspector'],
  byName: true,
  summary: 'Tells plaintext HTTP/1.x and h2c from other bytes, for `application_protocols` matching.',
  support: { 'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector': {} },
  translate: () => 'http_inspector',
};
