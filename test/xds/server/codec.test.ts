// The ADS codec: proto3 JSON → protobuf bytes (what a DiscoveryResponse carries) and back, checked by round trip
// against the strict decoder (src/xds/decode.ts) for every resource of every golden file and for proxyless gRPC
// resources, and case by case for the well-known types protobufjs' fromObject gets wrong.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { decodeMessage, type Json, type JsonObject } from '../../../src/xds/decode.js';
import { generateGrpc } from '../../../src/xds/generate/grpc.js';
import { TYPE_URL } from '../../../src/xds/generate/names.js';
import { envoyRoot } from '../../../src/xds/protos.js';
import {
  anyToJson,
  decodeToJson,
  EncodeError,
  encodeMessage,
  encodeResource,
} from '../../../src/xds/server/codec.js';
import { contextFrom, sidecarNode } from '../generate/fixtures.js';
import { TESTDATA } from '../generate/golden.js';

const root = envoyRoot();

function typeName(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

/** The canonical JSON proto3 would write: no scalar or enum at its default, no empty list or map (no presence). */
function withoutDefaults(type: protobuf.Type, json: Json): Json {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return json;
  const full = type.fullName.slice(1);
  if (full === 'google.protobuf.Struct' || full === 'google.protobuf.Value') return json;
  if (full === 'google.protobuf.Any') {
    const inner = root.lookupType(typeName(String(json['@type'])));
    if (inner.fullName.startsWith('.google.protobuf.')) return json;
    return { '@type': json['@type'] ?? null, ...(withoutDefaults(inner, omit(json, '@type')) as JsonObject) };
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(json)) {
    const field = type.fields[key];
    assert.ok(field, `${full}.${key}`);
    field.resolve();
    const r = field.resolvedType;
    const one = (v: Json): Json => (r instanceof protobuf.Type ? withoutDefaults(r, v) : v);
    if (field.map) {
      if (Object.keys(value as JsonObject).length === 0) continue;
      out[key] = Object.fromEntries(Object.entries(value as JsonObject).map(([k, v]) => [k, one(v)]));
    } else if (field.repeated) {
      if ((value as Json[]).length === 0) continue;
      out[key] = (value as Json[]).map(one);
    } else {
      const isDefault =
        r instanceof protobuf.Enum
          ? r.values[String(value)] === 0
          : !r && (value === 0 || value === '' || value === false);
      if (isDefault && !field.partOf) continue;
      out[key] = one(value);
    }
  }
  return out;
}

function omit(o: JsonObject, key: string): JsonObject {
  const { [key]: _dropped, ...rest } = o;
  return rest;
}

/**
 * encode → bytes → JSON → the strict decoder: no diagnostics, and the same message as the input. Proxyless gRPC
 * resources leave out what only Envoy requires (an HCM's stat_prefix): protoc-gen-validate's rules are not
 * checked for them, as gRPC does not check them.
 */
function assertRoundTrip(typeUrl: string, resource: JsonObject, label: string, pgv = true): void {
  const type = root.lookupType(typeName(typeUrl));
  const problems = (ds: { code: string }[]) =>
    ds.filter((d) => pgv || !/^proxy\.(validate|required)$/.test(d.code));
  const input = decodeMessage(root, typeName(typeUrl), resource);
  assert.deepEqual(problems(input.diagnostics), [], `${label}: the generated resource must decode`);
  const any = encodeResource(root, typeUrl, resource, label);
  const back = anyToJson(root, any);
  assert.equal(back['@type'], typeUrl);
  const output = decodeMessage(root, typeName(typeUrl), omit(back, '@type'));
  assert.deepEqual(problems(output.diagnostics), [], `${label}: what came back must decode`);
  assert.deepEqual(output.value, withoutDefaults(type, input.value), label);
}

describe('round trip: every resource of every golden file', () => {
  const files = readdirSync(TESTDATA).filter((f) => f.endsWith('.out.json'));
  it('has golden files', () => assert.ok(files.length >= 5));
  for (const file of files) {
    it(file, () => {
      const golden = JSON.parse(readFileSync(path.join(TESTDATA, file), 'utf8')) as Record<
        string,
        JsonObject
      >;
      let count = 0;
      for (const [proxy, out] of Object.entries(golden)) {
        const lists: [string, Json][] = [
          [TYPE_URL.listener, out.listeners ?? []],
          [TYPE_URL.cluster, out.clusters ?? []],
          [TYPE_URL.endpoint, Object.values((out.endpoints ?? {}) as JsonObject)],
          [TYPE_URL.route, Object.values((out.routes ?? {}) as JsonObject)],
        ];
        for (const [url, resources] of lists) {
          for (const r of resources as JsonObject[]) {
            assertRoundTrip(url, r, `${proxy} ${String(r.name ?? r.cluster_name)}`);
            count++;
          }
        }
      }
      assert.ok(count > 10, `${file}: ${count} resources`);
    });
  }
});

describe('round trip: proxyless gRPC resources', () => {
  const ctx = contextFrom(`apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports: [{name: grpc, port: 7070}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-0, namespace: default}
spec: {address: 127.0.1.5, labels: {app: echo}, serviceAccount: echo}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo.default.svc.cluster.local
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
`);
  const client = sidecarNode('127.0.1.9', 'client', { generator: 'grpc' });
  const server = sidecarNode('127.0.1.5', 'echo-0', { generator: 'grpc', serviceAccount: 'echo' });
  const cases: [string, typeof client, string, string[]][] = [
    ['client listener', client, TYPE_URL.listener, ['echo:7070', 'echo.default.svc.cluster.local:7070']],
    ['server listener', server, TYPE_URL.listener, ['xds.istio.io/grpc/lds/inbound/127.0.1.5:7070']],
    ['route', client, TYPE_URL.route, ['outbound|7070||echo.default.svc.cluster.local']],
    ['cluster', client, TYPE_URL.cluster, ['outbound|7070||echo.default.svc.cluster.local']],
  ];
  for (const [name, proxy, url, names] of cases) {
    it(name, () => {
      const { resources } = generateGrpc(ctx, proxy, url, names);
      assert.ok(resources.length > 0, `${name}: something generated`);
      for (const r of resources) assertRoundTrip(url, r, `${name} ${String(r.name)}`, false);
    });
  }
});

describe('well-known types and mistakes', () => {
  const CLUSTER = 'envoy.config.cluster.v3.Cluster';
  const back = (type: string, json: unknown) => decodeToJson(root, type, encodeMessage(root, type, json));

  it('Durations written as proto3 JSON strings, with fractions', () => {
    assert.deepEqual(back(CLUSTER, { name: 'c', connect_timeout: '10s' }), {
      name: 'c',
      connect_timeout: '10s',
    });
    assert.deepEqual(back(CLUSTER, { connect_timeout: '0.250s' }), { connect_timeout: '0.250s' });
    assert.deepEqual(back(CLUSTER, { connect_timeout: '0s' }), { connect_timeout: '0s' });
    assert.throws(
      () => encodeMessage(root, CLUSTER, { connect_timeout: 10 }),
      /connect_timeout: 10 is not a duration/,
    );
    assert.throws(() => encodeMessage(root, CLUSTER, { connect_timeout: '10ms' }), /not a duration/);
  });

  it('Struct and Value as free JSON (null, nested lists and objects)', () => {
    const metadata = {
      filter_metadata: { istio: { a: 'x', n: 1.5, t: true, z: null, l: [1, 'two', { three: [] }], o: {} } },
    };
    assert.deepEqual(back(CLUSTER, { metadata }), { metadata });
  });

  it('wrappers as bare values; enums by name (and their default left off); lowerCamelCase names accepted', () => {
    const json = {
      per_connection_buffer_limit_bytes: 32768,
      lb_policy: 'LEAST_REQUEST',
      respectDnsTtl: true,
      common_lb_config: { healthy_panic_threshold: { value: 0 } },
    };
    assert.deepEqual(back(CLUSTER, json), {
      per_connection_buffer_limit_bytes: 32768,
      lb_policy: 'LEAST_REQUEST',
      respect_dns_ttl: true,
      // Percent's value 0 is its default, so it is not on the wire; the message itself is (it has presence).
      common_lb_config: { healthy_panic_threshold: {} },
    });
    assert.deepEqual(back(CLUSTER, { lb_policy: 'ROUND_ROBIN' }), {});
    assert.throws(
      () => encodeMessage(root, CLUSTER, { lb_policy: 'FASTEST' }),
      /lb_policy: "FASTEST" is not a value/,
    );
  });

  it('a nested Any by its @type, a misspelling inside it refused with its path', () => {
    const socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: 'outbound_.80_._.a',
        common_tls_context: { alpn_protocols: ['istio'] },
      },
    };
    assert.deepEqual(back(CLUSTER, { transport_socket: socket }), { transport_socket: socket });
    const bad = { ...socket, typed_config: { ...socket.typed_config, snii: 'x' } };
    assert.throws(
      () => encodeMessage(root, CLUSTER, { transport_socket: bad }),
      (e: unknown) =>
        e instanceof EncodeError &&
        /transport_socket\.typed_config<UpstreamTlsContext>\.snii/.test(e.message),
    );
    assert.throws(
      () =>
        encodeMessage(root, CLUSTER, {
          transport_socket: { name: 'x', typed_config: { '@type': 'type.googleapis.com/no.Such' } },
        }),
      /unknown type "type.googleapis.com\/no.Such"/,
    );
  });

  it('a TypedStruct (a Struct inside an Any) and an Any of a well-known type', () => {
    const typedStruct = {
      '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct',
      type_url: 'type.googleapis.com/istio.stats.v1.PluginConfig',
      value: { disable_host_header_fallback: true, metrics: [{ dimensions: { a: 'b' } }] },
    };
    const any = encodeResource(root, 'type.googleapis.com/udpa.type.v1.TypedStruct', typedStruct);
    assert.deepEqual(anyToJson(root, any), typedStruct);
    const wrapped = { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '1.5s' };
    const listener = {
      name: 'l',
      listener_filters: [{ name: 'x', typed_config: wrapped }],
    };
    // Durations come back in their canonical form: 3, 6 or 9 fractional digits.
    const canonical = {
      ...listener,
      listener_filters: [{ name: 'x', typed_config: { ...wrapped, value: '1.500s' } }],
    };
    assert.deepEqual(back('envoy.config.listener.v3.Listener', listener), canonical);
  });

  it('Timestamps, 64-bit integers as numbers or strings, bytes as base64', () => {
    const ts = '2026-01-02T03:04:05.250Z';
    assert.deepEqual(back('envoy.service.discovery.v3.Resource', { name: 'r', ttl: '5s', version: 'v1' }), {
      name: 'r',
      ttl: '5s',
      version: 'v1',
    });
    assert.deepEqual(back('envoy.config.core.v3.RuntimeUInt32', { default_value: 5, runtime_key: 'k' }), {
      default_value: 5,
      runtime_key: 'k',
    });
    const events = back('envoy.data.accesslog.v3.AccessLogCommon', { start_time: ts });
    assert.deepEqual(events, { start_time: ts });
    assert.deepEqual(
      back('envoy.config.cluster.v3.CircuitBreakers.Thresholds', { max_connections: 4294967295 }),
      {
        max_connections: 4294967295,
      },
    );
    assert.deepEqual(back('envoy.config.core.v3.DataSource', { inline_bytes: 'AQID' }), {
      inline_bytes: 'AQID',
    });
    assert.throws(
      () => encodeMessage(root, 'envoy.config.core.v3.DataSource', { inline_bytes: '%%' }),
      /base64/,
    );
  });

  it('type mistakes, ranges and oneofs are refused with the path', () => {
    assert.throws(() => encodeMessage(root, CLUSTER, { name: 5 }), /^EncodeError: name: expected a string/);
    assert.throws(
      () => encodeMessage(root, 'envoy.config.core.v3.SocketAddress', { port_value: 4294967296 }),
      /port_value: 4294967296 is out of range for uint32/,
    );
    assert.throws(
      () => encodeMessage(root, 'envoy.config.core.v3.SocketAddress', { port_value: 80, named_port: 'http' }),
      /only one of port_value, named_port may be set/,
    );
    assert.throws(
      () => encodeMessage(root, CLUSTER, { load_assignment: [] }),
      /load_assignment: expected an object/,
    );
    assert.throws(
      () => encodeMessage(root, CLUSTER, { metadata: { filter_metadata: { a: 1 } } }),
      /expected an object/,
    );
  });
});
