// `envoy.filters.http.router` as a registered extension: found by its Router type, takes no settings Skiff
// honours (any set field is refused), and is an HTTP filter only.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../../../../src/proxy/config/json.js';
import { ROUTER } from '../../../../../src/proxy/filters/http/router/config.js';
import {
  any,
  error,
  type Problem,
  problems,
  routerFilter,
  T,
  translateEntry,
} from '../../../config/fixtures.js';

const run = (entry: JsonObject) => translateEntry('envoy.filters.http', entry);

describe('router: registration', () => {
  it('is an HTTP filter found by Router, with no field implemented', () => {
    assert.equal(ROUTER.name, 'envoy.filters.http.router');
    assert.equal(ROUTER.category, 'envoy.filters.http');
    assert.deepEqual(ROUTER.types, [T.router]);
    assert.deepEqual(ROUTER.support, { [T.router]: {} });
  });
});

describe('router: its config', () => {
  const accepted: [string, JsonObject][] = [
    ['by its type', routerFilter],
    ['by its type under any name', { name: 'router', typed_config: any(T.router) }],
    [
      'with fields at their defaults',
      { name: 'r', typed_config: any(T.router, { suppress_envoy_headers: false, strict_check_headers: [] }) },
    ],
  ];
  for (const [what, entry] of accepted) {
    it(`translates ${what} to the router`, () => {
      const t = run(entry);
      assert.deepEqual(problems(t.diagnostics), []);
      assert.deepEqual(t.value, { kind: 'router' });
      assert.deepEqual([t.refs, t.inlineSecrets], [[], []]);
    });
  }

  const refused: [string, JsonObject, Problem[]][] = [
    [
      'a setting Skiff does not honour',
      { name: 'r', typed_config: any(T.router, { suppress_envoy_headers: true }) },
      [
        error(
          'filters[0].typed_config.suppress_envoy_headers',
          'proxy.unsupported',
          'field "suppress_envoy_headers" of envoy.extensions.filters.http.router.v3.Router is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
        ),
      ],
    ],
    [
      'a misspelled field',
      { name: 'r', typed_config: any(T.router, { dynamic_stat: true }) },
      [
        error(
          'filters[0].typed_config.dynamic_stat',
          'proxy.unknown-field',
          'unknown field "dynamic_stat" in envoy.extensions.filters.http.router.v3.Router (did you mean "dynamic_stats"?)',
        ),
      ],
    ],
    [
      'its name without a typed_config (the router has settings in Envoy)',
      { name: 'envoy.filters.http.router' },
      [
        error(
          'filters[0].typed_config',
          'proxy.required',
          'HTTP filter "envoy.filters.http.router" needs a typed_config',
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

  it('is not a network filter', () => {
    const t = translateEntry('envoy.filters.network', routerFilter);
    assert.equal(t.value, undefined);
    assert.deepEqual(
      problems(t.diagnostics).map((p) => [p.path, p.code]),
      [['filters[0]', 'proxy.unsupported']],
    );
    assert.match(
      t.diagnostics[0]?.message ?? '',
      /does not belong here: it is an envoy\.filters\.http extension/,
    );
  });
});
