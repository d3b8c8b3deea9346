// `envoy.extensions.upstreams.http.v3.HttpProtocolOptions` in a cluster's `typed_extension_protocol_options`:
// which HTTP protocol the connection manager's upstream pools speak to the cluster's endpoints (upstream.ts).

import type { Extension } from '../config/extension.js';
import type { ClusterConfig } from '../config/model.js';

const TYPE = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

export const HTTP_PROTOCOL_OPTIONS: Extension<'envoy.upstreams.http.http_protocol_options'> = {
  name: TYPE,
  category: 'envoy.upstreams.http.http_protocol_options',
  types: [TYPE],
  summary: 'The HTTP protocol towards a cluster’s endpoints (default HTTP/1.1).',
  support: {
    [TYPE]: {
      explicit_http_config: 'Always HTTP/1.1 or always HTTP/2 (h2 over TLS, h2c in plaintext).',
      use_downstream_protocol_config: 'The protocol of the downstream request.',
      auto_config: 'Refused: the protocol by ALPN is not implemented (use one of the two above).',
    },
    [`${TYPE}.AutoHttpConfig`]: {},
    [`${TYPE}.ExplicitHttpConfig`]: {
      http_protocol_options: 'HTTP/1.1.',
      http2_protocol_options: 'HTTP/2.',
    },
    [`${TYPE}.UseDownstreamHttpConfig`]: {
      http_protocol_options: 'HTTP/1.1 for HTTP/1 requests.',
      http2_protocol_options: 'HTTP/2 for HTTP/2 requests.',
    },
    'envoy.config.core.v3.Http2ProtocolOptions': {},
  },
  translate(typed, path, ctx): ClusterConfig['httpProtocol'] | undefined {
    if (typed.explicit_http_config !== undefined) {
      const explicit = typed.explicit_http_config as Record<string, unknown>;
      return explicit.http2_protocol_options !== undefined ? 'http2' : 'http1';
    }
    if (typed.use_downstream_protocol_config !== undefined) return 'downstream';
    if (typed.auto_config !== undefined) {
      ctx.error(
        [...path, 'auto_config'],
        'proxy.unsupported',
        'auto_config (protocol by ALPN) is not implemented; use explicit_http_config or use_downstream_protocol_config',
      );
    }
    return 'http1';
  },
};
