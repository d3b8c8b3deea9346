// Shared by the generation tests: what a client sidecar would do with a generated outbound cluster and its
// ClusterLoadAssignment — both read through the proxy's own translation of xDS resources (parseResource), then,
// for each endpoint, the transport the proxy's cluster picks (src/proxy/upstream/cluster.ts: the first transport socket
// match whose `match` the endpoint's `envoy.transport_socket_match` metadata holds, else the cluster's socket).

import type { Diagnostic } from '../../../src/core/diagnostics.js';
import type { EndpointConfig, UpstreamTransport } from '../../../src/proxy/config/model.js';
import { parseResource } from '../../../src/proxy/config/resource.js';
import { TYPE_URL } from '../../../src/proxy/config/resources/index.js';
import { transportMatches } from '../../../src/proxy/upstream/cluster.js';
import type { JsonObject } from '../../../src/xds/decode.js';

export interface EndpointTransport {
  /** `address:port`. */
  endpoint: string;
  /** The transport socket match that chose the transport, or `default` (the cluster's own socket). */
  match: string;
  /** `mtls`: TLS presenting a client certificate; `tls`: TLS without one; `plaintext`: raw_buffer. */
  transport: 'mtls' | 'tls' | 'plaintext';
  /** TLS only: SNI sent ('' for none), ALPN offered, exact SANs required of the server, secret names used. */
  sni?: string;
  alpn?: string[];
  sans?: string[];
  /** Certificate secrets (`default` for the workload certificate; `inline:…` for files). */
  certificates?: string[];
  /** Validation secrets (`ROOTCA` for the mesh roots; `inline:…` for a DestinationRule's CA file). */
  validation?: string[];
}

export interface OutboundSimulation {
  /** Every diagnostic of both translations (tests assert there is no error among them). */
  diagnostics: Diagnostic[];
  endpoints: EndpointTransport[];
}

/**
 * Translates `cluster` and (for an EDS cluster) its `loadAssignment` as the proxy does with resources from xDS,
 * and reports each endpoint's transport: an EDS cluster's endpoints are its ClusterLoadAssignment's (named by
 * `eds_cluster_config.service_name`, else the cluster's name — a mismatch is reported as an error here); a STATIC
 * cluster's are its own `load_assignment`.
 */
export function simulateOutbound(cluster: JsonObject, loadAssignment?: JsonObject): OutboundSimulation {
  const diagnostics: Diagnostic[] = [];
  const c = parseResource(TYPE_URL.cluster, cluster);
  diagnostics.push(...c.diagnostics);
  const config = c.value;
  let endpoints: EndpointConfig[] = config?.endpoints ?? [];
  if (loadAssignment !== undefined) {
    const la = parseResource(TYPE_URL.endpoint, loadAssignment);
    diagnostics.push(...la.diagnostics);
    if (config?.edsServiceName !== undefined) {
      if (la.name !== config.edsServiceName) {
        diagnostics.push({
          severity: 'error',
          code: 'simulate.eds',
          message: `the ClusterLoadAssignment is ${JSON.stringify(la.name)}, the cluster subscribes to ${JSON.stringify(config.edsServiceName)}`,
          path: [],
        });
      }
      endpoints = la.value?.endpoints ?? [];
    }
  }
  if (!config) return { diagnostics, endpoints: [] };
  const inlineSans = new Map(c.inlineSecrets.map((s) => [s.name, s.validationContext?.sanMatchers ?? []]));
  const transports = endpoints.map((e): EndpointTransport => {
    const m = config.transportSocketMatches.find((t) => transportMatches(t.match, e.transportMatch));
    const transport: UpstreamTransport = m ? m.transport : config.transport;
    const endpoint = `${e.address.host}:${e.address.port}`;
    const match = m ? m.name : 'default';
    if (transport.kind === 'raw') return { endpoint, match, transport: 'plaintext' };
    const tls = transport.tls;
    return {
      endpoint,
      match,
      transport: tls.certificateSecrets.length > 0 ? 'mtls' : 'tls',
      sni: tls.sni,
      alpn: tls.alpn,
      sans: tls.validationSecrets.flatMap((name) =>
        (inlineSans.get(name) ?? []).filter((s) => s.match.kind === 'exact').map((s) => s.match.value),
      ),
      certificates: tls.certificateSecrets,
      validation: tls.validationSecrets,
    };
  });
  return { diagnostics, endpoints: transports };
}

/** Only the error diagnostics, as `severity code path: message` lines (for assert messages). */
export function errorsOf(diagnostics: readonly Diagnostic[]): string[] {
  return diagnostics
    .filter((d) => d.severity === 'error')
    .map((d) => `${d.code} ${JSON.stringify(d.path)}: ${d.message}`);
}
