// Reading decoded configuration: total accessors (a wrong shape is "absent", never a throw), the type of an Any
// and of a TypedStruct's content, durations, both proto3 JSON spellings of a field, and a stable key.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalKey,
  durationOr,
  extensionTypeOf,
  field,
  type Json,
  list,
  num,
  obj,
  protoName,
  safeDuration,
  str,
  typedStructOf,
  typeOf,
  wrapped,
} from '../../../src/proxy/config/json.js';
import { any, T, typedStruct } from './fixtures.js';

describe('total accessors', () => {
  // value → [obj, list, str, num, wrapped(…, 42)]
  const values: [string, Json | undefined, [Json, Json, string, number, number]][] = [
    ['absent', undefined, [{}, [], '', 0, 42]],
    ['null', null, [{}, [], '', 0, 42]],
    ['true', true, [{}, [], '', 0, 42]],
    ['0', 0, [{}, [], '', 0, 0]],
    ['7', 7, [{}, [], '', 7, 7]],
    ['""', '', [{}, [], '', 0, 42]],
    ['"x"', 'x', [{}, [], 'x', 0, 42]],
    ['"7"', '7', [{}, [], '7', 0, 42]],
    ['[]', [], [{}, [], '', 0, 42]],
    ['[1]', [1], [{}, [1], '', 0, 42]],
    ['{}', {}, [{}, [], '', 0, 42]],
    ['{a: 1}', { a: 1 }, [{ a: 1 }, [], '', 0, 42]],
  ];
  for (const [what, v, [o, l, s, n, w]] of values) {
    it(`read ${what} as its own type or the empty value`, () => {
      assert.deepEqual(obj(v), o);
      assert.deepEqual(list(v), l);
      assert.equal(str(v), s);
      assert.equal(num(v), n);
      assert.equal(wrapped(v, 42), w);
    });
  }
});

describe('typeOf, typedStructOf, extensionTypeOf', () => {
  const cases: [string, Json, string, string, string][] = [
    ['an Envoy type', any(T.tcpProxy), T.tcpProxy, '', T.tcpProxy],
    ['a URL with another host', { '@type': 'example.com/a/b.C' }, 'b.C', '', 'b.C'],
    ['a bare name', { '@type': 'b.C' }, 'b.C', '', 'b.C'],
    ['no @type', {}, '', '', ''],
    ['a udpa TypedStruct', typedStruct(T.istioStats), T.udpaTypedStruct, T.istioStats, T.istioStats],
    [
      'an xds TypedStruct',
      typedStruct(T.peerMetadata, {}, T.xdsTypedStruct),
      T.xdsTypedStruct,
      T.peerMetadata,
      T.peerMetadata,
    ],
    ['a TypedStruct without type_url', any(T.udpaTypedStruct), T.udpaTypedStruct, '', T.udpaTypedStruct],
    ['a type_url outside a TypedStruct', any(T.tcpProxy, { type_url: 'x/y.Z' }), T.tcpProxy, '', T.tcpProxy],
  ];
  for (const [what, input, type, inner, extension] of cases) {
    it(`read ${what}`, () => {
      const o = obj(input);
      assert.equal(typeOf(o), type);
      assert.equal(typedStructOf(o), inner);
      assert.equal(extensionTypeOf(o), extension);
    });
  }
});

describe('durations', () => {
  const cases: [Json | undefined, number][] = [
    [undefined, 9],
    ['0s', 0],
    ['1s', 1000],
    ['0.250s', 250],
    ['1.5s', 1500],
    ['3600s', 3_600_000],
  ];
  for (const [v, ms] of cases) {
    it(`durationOr(${JSON.stringify(v)}, 9) is ${ms} ms`, () => assert.equal(durationOr(v, 9), ms));
  }

  const free: [string, number][] = [
    ['2s', 2000],
    ['0.001s', 1],
    ['soon', Number.NaN],
    ['5', Number.NaN],
    ['5ms', Number.NaN],
    ['', Number.NaN],
  ];
  for (const [text, ms] of free) {
    it(`safeDuration(${JSON.stringify(text)}) is ${ms}, never a throw`, () =>
      assert.deepEqual(safeDuration(text), ms));
  }
});

describe('field names', () => {
  const names: [string, string][] = [
    ['tcpReportingDuration', 'tcp_reporting_duration'],
    ['tcp_reporting_duration', 'tcp_reporting_duration'],
    ['reporter', 'reporter'],
    ['disableHostHeaderFallback', 'disable_host_header_fallback'],
  ];
  for (const [key, proto] of names) {
    it(`protoName(${key}) is ${proto}`, () => assert.equal(protoName(key), proto));
  }

  it('field() reads a field by its proto name or its lowerCamelCase JSON name', () => {
    assert.equal(field({ tcp_reporting_duration: '1s' }, 'tcp_reporting_duration'), '1s');
    assert.equal(field({ tcpReportingDuration: '2s' }, 'tcp_reporting_duration'), '2s');
    assert.equal(
      field({ tcp_reporting_duration: '1s', tcpReportingDuration: '2s' }, 'tcp_reporting_duration'),
      '1s',
    );
    assert.equal(field({ other: 1 }, 'tcp_reporting_duration'), undefined);
    assert.equal(field({ reporter: false }, 'reporter'), false);
  });
});

describe('canonicalKey', () => {
  it('is the same for objects with the same content, whatever the key order', () => {
    assert.equal(
      canonicalKey({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: null } }),
      canonicalKey({ a: { c: null, d: [1, { e: 3, f: 2 }] }, b: 1 }),
    );
    assert.equal(canonicalKey({ b: 1, a: 'x' }), '{"a":"x","b":1}');
  });

  const different: [Json, Json][] = [
    [{ a: 1 }, { a: '1' }],
    [
      [1, 2],
      [2, 1],
    ],
    [{ a: [] }, { a: {} }],
    [{ a: null }, {}],
    ['x', ['x']],
  ];
  for (const [a, b] of different) {
    it(`tells ${JSON.stringify(a)} from ${JSON.stringify(b)}`, () =>
      assert.notEqual(canonicalKey(a), canonicalKey(b)));
  }
});
