// `envoy.extensions.upstreams.http.v3.HttpProtocolOptions` as a registered extension (a cluster's
// typed_extension_protocol_options): the HTTP protocol towards the endpoints, HTTP/1.1 by default.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../../src/proxy/config/json.js';
import { HTTP_PROTOCOL_OPTIONS } from '../../../src/proxy/upstream/http-protocol-options.js';
import { any, error, type Problem, problems, T, translateEntry } from '../config/fixtures.js';

const CATEGORY = 'envoy.upstreams.http.http_protocol_options';
const run = (fields: JsonObject) =>
  translateEntry(CATEGORY, { name: T.httpProtocolOptions, typed_config: any(T.httpProtocolOptions, fields) });
const AT = 'filters[0].typed_config';

describe('HttpProtocolOptions: registration', () => {
  it('is the only protocol options extension, found by its type', () => {
    assert.equal(HTTP_PROTOCOL_OPTIONS.name, T.httpProtocolOptions);
    assert.equal(HTTP_PROTOCOL_OPTIONS.category, CATEGORY);
    assert.deepEqual(HTTP_PROTOCOL_OPTIONS.types, [T.httpProtocolOptions]);
    assert.deepEqual(Object.keys(HTTP_PROTOCOL_OPTIONS.support[T.httpProtocolOptions] ?? {}), [
      'explicit_http_config',
      'use_downstream_protocol_config',
      'auto_config',
    ]);
  });
});

describe('HttpProtocolOptions: the protocol', () => {
  const cases: [string, JsonObject, string][] = [
    ['explicit HTTP/1.1', { explicit_http_config: { http_protocol_options: {} } }, 'http1'],
    ['explicit HTTP/2', { explicit_http_config: { http2_protocol_options: {} } }, 'http2'],
    ['explicit HTTP/2 by its JSON name', { explicitHttpConfig: { http2ProtocolOptions: {} } }, 'http2'],
    [
      'the downstream’s, both given',
      { use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} } },
      'downstream',
    ],
    // Envoy (ClusterInfoImpl::upstreamHttpProtocol) answers the downstream protocol whichever options are given.
    [
      'the downstream’s, only HTTP/1 options given',
      { use_downstream_protocol_config: { http_protocol_options: {} } },
      'downstream',
    ],
    ['the downstream’s, no options given', { use_downstream_protocol_config: {} }, 'downstream'],
  ];
  for (const [what, fields, protocol] of cases) {
    it(`reads ${what}: ${protocol}`, () => {
      const t = run(fields);
      assert.deepEqual(problems(t.diagnostics), []);
      assert.equal(t.value, protocol);
    });
  }
});

describe('HttpProtocolOptions: problems, each at its path', () => {
  const cases: [string, JsonObject, Problem[]][] = [
    [
      'no protocol at all (Envoy requires one)',
      {},
      [
        error(
          AT,
          'proxy.required',
          'envoy.extensions.upstreams.http.v3.HttpProtocolOptions: one of explicit_http_config, use_downstream_protocol_config, auto_config is required',
        ),
      ],
    ],
    [
      'the protocol by ALPN',
      { auto_config: {} },
      [
        error(
          `${AT}.auto_config`,
          'proxy.unsupported',
          'auto_config (protocol by ALPN) is not implemented; use explicit_http_config or use_downstream_protocol_config',
        ),
      ],
    ],
    [
      'an HTTP/2 setting Skiff does not honour',
      { explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 10 } } },
      [
        error(
          `${AT}.explicit_http_config.http2_protocol_options.max_concurrent_streams`,
          'proxy.unsupported',
          'field "max_concurrent_streams" of envoy.config.core.v3.Http2ProtocolOptions is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
        ),
      ],
    ],
  ];
  for (const [what, fields, expected] of cases) {
    it(`refuses ${what}`, () => {
      const t = run(fields);
      assert.equal(t.value, undefined);
      assert.deepEqual(problems(t.diagnostics), expected);
    });
  }

  it('refuses common options Skiff does not honour on a cluster, naming the field', () => {
    const t = run({
      explicit_http_config: { http_protocol_options: {} },
      common_http_protocol_options: { idle_timeout: '1s' },
    });
    assert.equal(t.value, undefined);
    assert.ok(
      problems(t.diagnostics).some(
        (p) =>
          p.path === `${AT}.common_http_protocol_options` &&
          p.message ===
            'field "common_http_protocol_options" of envoy.extensions.upstreams.http.v3.HttpProtocolOptions is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
      ),
    );
  });

  it('is no transport socket or filter', () => {
    for (const category of ['envoy.transport_sockets.upstream', 'envoy.filters.network'] as const) {
      const t = translateEntry(category, {
        name: 'p',
        typed_config: any(T.httpProtocolOptions, { explicit_http_config: { http_protocol_options: {} } }),
      });
      assert.match(
        t.diagnostics[0]?.message ?? '',
        /does not belong here: it is an envoy\.upstreams\.http\.http_protocol_options extension/,
      );
    }
  });
});
