// Envoy's v3 API protos, loaded with protobufjs reflection from the copies `@grpc/grpc-js-xds` ships under
// `deps/` (envoy-api, xds, googleapis, protoc-gen-validate). Only the files Skiff implements are loaded:
// every file costs memory, and an `Any` naming a type outside them is refused as unknown.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';

/**
 * The files whose messages Skiff's proxy reads, and the ADS service the control plane serves them over; their
 * imports come along.
 */
export const ENVOY_PROTO_FILES: readonly string[] = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/service/discovery/v3/ads.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/resource_monitors/downstream_connections/v3/downstream_connections.proto',
  'envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto',
  'envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/formatter/req_without_query/v3/req_without_query.proto',
  'udpa/type/v1/typed_struct.proto',
  'xds/type/v3/typed_struct.proto',
];

const require = createRequire(import.meta.url);

function protoDirs(): string[] {
  const xdsPackage = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  const protobufjsPackage = path.dirname(require.resolve('protobufjs/package.json'));
  return [
    ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(xdsPackage, 'deps', d)),
    protobufjsPackage,
  ];
}

let cached: protobuf.Root | undefined;

/** The Envoy API root, loaded once per process (about 0.2 s). Field names are kept as written (snake_case). */
export function envoyRoot(): protobuf.Root {
  if (cached) return cached;
  const dirs = protoDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of dirs) {
      const candidate = path.join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync([...ENVOY_PROTO_FILES], { keepCase: true });
  root.resolveAll();
  cached = root;
  return root;
}

/**
 * Forgets the loaded root, so that its ~650 types (about 5 MB of heap, more at peak) can be collected: the proxy
 * decodes its bootstrap once and never needs them again. The next `envoyRoot()` loads them anew.
 */
export function releaseEnvoyRoot(): void {
  cached = undefined;
}
