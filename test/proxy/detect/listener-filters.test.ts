// The listener filters `envoy.filters.listener.tls_inspector` and `envoy.filters.listener.http_inspector` as
// registered extensions: found by type or, taking no settings, by name (and Envoy's older names); the one field
// Istio sets (initial_read_buffer_size) accepted.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../../src/proxy/config/json.js';
import { HTTP_INSPECTOR, TLS_INSPECTOR } from '../../../src/proxy/detect/listener-filters.js';
import { any, error, type Problem, problems, T, translateEntry } from '../config/fixtures.js';

const run = (entry: JsonObject) => translateEntry('envoy.filters.listener', entry);

describe('listener filters: registration', () => {
  it('registers both inspectors under Envoy’s names, selectable by name', () => {
    assert.deepEqual(
      [TLS_INSPECTOR, HTTP_INSPECTOR].map((e) => [e.name, e.aliases, e.category, e.types, e.byName]),
      [
        [
          'envoy.filters.listener.tls_inspector',
          ['envoy.listener.tls_inspector'],
          'envoy.filters.listener',
          [T.tlsInspector],
          true,
        ],
        [
          'envoy.filters.listener.http_inspector',
          ['envoy.listener.http_inspector'],
          'envoy.filters.listener',
          [T.httpInspector],
          true,
        ],
      ],
    );
    assert.deepEqual(Object.keys(TLS_INSPECTOR.support[T.tlsInspector] ?? {}), ['initial_read_buffer_size']);
    assert.deepEqual(HTTP_INSPECTOR.support, { [T.httpInspector]: {} });
  });
});

describe('listener filters: selection', () => {
  const cases: [string, JsonObject, string][] = [
    ['tls_inspector by type', { name: 'x', typed_config: any(T.tlsInspector) }, 'tls_inspector'],
    [
      'tls_inspector with Istio’s initial_read_buffer_size',
      { name: 'x', typed_config: any(T.tlsInspector, { initial_read_buffer_size: 512 }) },
      'tls_inspector',
    ],
    ['tls_inspector by name', { name: 'envoy.filters.listener.tls_inspector' }, 'tls_inspector'],
    ['tls_inspector by its old name', { name: 'envoy.listener.tls_inspector' }, 'tls_inspector'],
    ['http_inspector by type', { name: 'x', typed_config: any(T.httpInspector) }, 'http_inspector'],
    ['http_inspector by name', { name: 'envoy.filters.listener.http_inspector' }, 'http_inspector'],
    ['http_inspector by its old name', { name: 'envoy.listener.http_inspector' }, 'http_inspector'],
  ];
  for (const [what, entry, kind] of cases) {
    it(`selects ${what}`, () => {
      const t = run(entry);
      assert.deepEqual(problems(t.diagnostics), []);
      assert.equal(t.value, kind);
    });
  }

  const refused: [string, JsonObject, Problem[]][] = [
    [
      'an initial_read_buffer_size out of Envoy’s range',
      { name: 'x', typed_config: any(T.tlsInspector, { initial_read_buffer_size: 100 }) },
      [
        error(
          'filters[0].typed_config.initial_read_buffer_size',
          'proxy.validate',
          '100 must be greater than 255',
        ),
      ],
    ],
    [
      'a tls_inspector setting Skiff does not honour',
      { name: 'x', typed_config: any(T.tlsInspector, { enable_ja3_fingerprinting: true }) },
      [
        error(
          'filters[0].typed_config.enable_ja3_fingerprinting',
          'proxy.unsupported',
          'field "enable_ja3_fingerprinting" of envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
        ),
      ],
    ],
    [
      'original_dst, whose proto is loaded but which is not implemented',
      { name: 'envoy.filters.listener.original_dst', typed_config: any(T.originalDst) },
      [
        error(
          'filters[0].typed_config["@type"]',
          'proxy.unsupported',
          'envoy.extensions.filters.listener.original_dst.v3.OriginalDst is not implemented by the Skiff proxy (docs/proxy-config.md)',
        ),
      ],
    ],
    [
      'original_dst by name',
      { name: 'envoy.filters.listener.original_dst' },
      [
        error(
          'filters[0].name',
          'proxy.unsupported',
          'listener filter "envoy.filters.listener.original_dst" is not implemented; expected envoy.filters.listener.tls_inspector, envoy.filters.listener.http_inspector',
        ),
      ],
    ],
  ];
  for (const [what, entry, expected] of refused) {
    it(`refuses ${what}`, () => {
      const t = run(entry);
      assert.equal(t.value, undefined);
      assert.deepEqual(problems(t.diagnostics), expected);
    });
  }
});
