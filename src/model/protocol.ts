// Which protocol a service port carries, by Istio's rules: a Kubernetes port's `appProtocol` when set (else its
// name), read as `<protocol>[-<suffix>]`, a TCP default for a few well-known ports, else detected per connection;
// a ServiceEntry port's `protocol` field as written.
// Istio: pkg/config/kube/conversion.go ConvertProtocol, pkg/config/protocol/instance.go Parse,
// pilot/pkg/serviceregistry/serviceentry/conversion.go convertPort.

import { parseIstioProtocol } from '../config/kinds/protocol.js';
import type { Protocol } from '../config/kinds/workload.js';
import type { ProtocolSource } from './types.js';

export interface PortProtocol {
  protocol: Protocol | undefined;
  source: ProtocolSource;
}

const SNIFFED: PortProtocol = { protocol: undefined, source: 'sniffed' };

/**
 * Ports whose apps break under protocol sniffing (server-first protocols): TCP when nothing else is declared.
 * Istio: pkg/config/kube/conversion.go wellKnownPorts (SMTP, DNS, MySQL, MongoDB).
 */
export const WELL_KNOWN_TCP_PORTS: ReadonlySet<number> = new Set([25, 53, 3306, 27017]);

const GRPC_WEB = 'grpc-web';

/**
 * A Kubernetes Service port. Undefined: the port is not carried by the mesh (UDP, SCTP), and the model leaves
 * it out. Istio keeps a UDP port in its model with protocol UDP and skips it when building listeners; a port
 * *named* `udp-…` on a TCP Service is UDP to Istio as well. SCTP is read by name in Istio (an SCTP port named
 * `http` would get an HTTP listener); Skiff leaves SCTP ports out, as the sidecar carries TCP only.
 */
export function kubernetesPortProtocol(port: {
  name?: string;
  port?: number;
  protocol?: string;
  appProtocol?: string;
}): PortProtocol | undefined {
  if (port.protocol === 'UDP' || port.protocol === 'SCTP') return undefined;
  let name = port.name ?? '';
  let source: ProtocolSource = 'name';
  // A set appProtocol replaces the name entirely: an unknown appProtocol does not fall back to the port name.
  if (port.appProtocol !== undefined) {
    name = port.appProtocol;
    source = 'appProtocol';
    // Kubernetes' own appProtocol values (KEP-3726), recognised for appProtocol only.
    switch (name) {
      case 'kubernetes.io/h2c':
        return { protocol: 'HTTP2', source };
      case 'kubernetes.io/ws':
        return { protocol: 'HTTP', source };
      case 'kubernetes.io/wss':
        return { protocol: 'HTTPS', source };
    }
  }
  // `grpc-web` contains the separator, so it is checked before cutting the name at the first `-`.
  if (name.length >= GRPC_WEB.length && name.slice(0, GRPC_WEB.length).toLowerCase() === GRPC_WEB) {
    return { protocol: 'GRPC-Web', source };
  }
  const dash = name.indexOf('-');
  const parsed = parseIstioProtocol(dash >= 0 ? name.slice(0, dash) : name);
  if (parsed === 'UDP') return undefined;
  if (parsed !== undefined) return { protocol: parsed, source };
  // Istio decides this inside the name rule; 'protocol' here means "Kubernetes' TCP on a well-known port" (the
  // ProtocolSource union has no value of its own for it yet).
  if (port.port !== undefined && WELL_KNOWN_TCP_PORTS.has(port.port))
    return { protocol: 'TCP', source: 'protocol' };
  return SNIFFED;
}

/**
 * A ServiceEntry port: its `protocol` field, whole and in any case (no name prefixes, no well-known ports);
 * empty or unknown is detected per connection, UDP is left out (see above).
 */
export function serviceEntryPortProtocol(port: { protocol?: string }): PortProtocol | undefined {
  if (!port.protocol) return SNIFFED;
  const parsed = parseIstioProtocol(port.protocol);
  if (parsed === 'UDP') return undefined;
  return parsed !== undefined ? { protocol: parsed, source: 'protocol' } : SNIFFED;
}
