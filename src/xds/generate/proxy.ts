// The proxy a configuration is generated for, from what it announces (Envoy's node: id and metadata) and what
// the registry knows about it. Istio: pilot/pkg/model/context.go (ParseServiceNodeWithMetadata), pkg/model/proxy.go.

import type { JsonObject } from '../decode.js';
import { parseNodeMetadata } from '../node-metadata.js';

export type ProxyType = 'sidecar' | 'router';

export interface ProxyNode {
  /** The node id as sent: `sidecar~127.0.1.2~b-0.default~default.svc.cluster.local`. */
  id: string;
  type: ProxyType;
  /** The proxy id (3rd field): `<workload>.<namespace>`. */
  proxyId: string;
  /** INSTANCE_IPS, else the node id's IP. */
  ips: string[];
  namespace: string;
  serviceAccount: string;
  workloadName: string;
  labels: Readonly<Record<string, string>>;
  /** The node id's DNS domain (4th field), e.g. `default.svc.cluster.local`: short host names are relative to it. */
  dnsDomain: string;
  /** `grpc` for proxyless gRPC clients (metadata GENERATOR). */
  generator: string | undefined;
  /** HTTP_PROXY_PORT metadata: the HTTP proxy listener's port, when the proxy asks for one. */
  httpProxyPort: number | undefined;
  istioVersion: string | undefined;
}

/** A problem is thrown as an Error naming the field and the value (the caller refuses the stream with it). */
export function parseProxyNode(node: { id?: string; metadata?: JsonObject | null }): ProxyNode {
  const id = node.id ?? '';
  const parts = id.split('~');
  if (parts.length !== 4) {
    throw new Error(
      `node.id ${JSON.stringify(id)}: expected TYPE~IP~ID~DNSDOMAIN (e.g. sidecar~127.0.1.2~b-0.default~default.svc.cluster.local)`,
    );
  }
  const [type = '', ip = '', proxyId = '', dnsDomain = ''] = parts;
  if (type !== 'sidecar' && type !== 'router') {
    throw new Error(
      `node.id ${JSON.stringify(id)}: type ${JSON.stringify(type)}: expected sidecar or router`,
    );
  }
  const md = parseNodeMetadata(node.metadata ?? {});
  const raw = (node.metadata ?? {}) as Record<string, unknown>;
  // Istio's GetProxyConfigNamespace: an empty NAMESPACE is absent; then the DNS domain's first label.
  const namespace = md.namespace || (dnsDomain.split('.')[0] ?? '');
  // Istio's metadata holds it as a string of digits; a JSON number is taken too. Nothing else is a port.
  const portValue = raw.HTTP_PROXY_PORT;
  const httpProxyPort =
    portValue === undefined
      ? undefined
      : typeof portValue === 'number' || (typeof portValue === 'string' && /^[0-9]{1,5}$/.test(portValue))
        ? Number(portValue)
        : Number.NaN;
  if (
    httpProxyPort !== undefined &&
    !(Number.isInteger(httpProxyPort) && httpProxyPort > 0 && httpProxyPort < 65536)
  ) {
    throw new Error(
      `node.metadata.HTTP_PROXY_PORT ${JSON.stringify(raw.HTTP_PROXY_PORT)}: expected a port number`,
    );
  }
  const generator = typeof raw.GENERATOR === 'string' ? raw.GENERATOR : undefined;
  return {
    id,
    type,
    proxyId,
    ips: md.instanceIps.length > 0 ? [...md.instanceIps] : ip ? [ip] : [],
    namespace,
    serviceAccount: md.serviceAccount ?? '',
    workloadName: md.workloadName ?? proxyId.split('.')[0] ?? '',
    labels: md.labels,
    dnsDomain,
    generator,
    httpProxyPort,
    istioVersion: md.istioVersion,
  };
}
