// Which protocol a service port carries, by Istio's rules: a Kubernetes port's `appProtocol` first, then its
// name (`<protocol>[-<suffix>]`), else detected per connection; a ServiceEntry port's `protocol` field.
// Istio: pkg/config/kube/conversion.go (ConvertProtocol), pkg/config/protocol/instance.go (Parse),
// pilot/pkg/serviceregistry/serviceentry/conversion.go (convertPort).

import { parseIstioProtocol } from '../../config/kinds/protocol.js';
import { type Protocol, protocolFromName } from '../../config/kinds/workload.js';
import type { ProtocolSource } from './types.js';

export interface PortProtocol {
  protocol: Protocol | undefined;
  source: ProtocolSource;
}

const SNIFFED: PortProtocol = { protocol: undefined, source: 'sniffed' };

/** A Kubernetes Service port. UDP and SCTP ports are not carried by the mesh: undefined. */
export function kubernetesPortProtocol(port: {
  name?: string;
  protocol?: string;
  appProtocol?: string;
}): PortProtocol | undefined {
  if (port.protocol === 'UDP' || port.protocol === 'SCTP') return undefined;
  if (port.appProtocol !== undefined) {
    const app = port.appProtocol;
    // Kubernetes' own names for HTTP/2 without TLS and WebSockets (KEP-3726).
    if (app === 'kubernetes.io/h2c') return { protocol: 'HTTP2', source: 'appProtocol' };
    if (app === 'kubernetes.io/ws' || app === 'kubernetes.io/wss')
      return { protocol: 'HTTP', source: 'appProtocol' };
    const parsed = parseIstioProtocol(app);
    if (parsed !== undefined && parsed !== 'UDP') return { protocol: parsed, source: 'appProtocol' };
  }
  const byName = protocolFromName(port.name);
  return byName !== undefined ? { protocol: byName, source: 'name' } : SNIFFED;
}

/** A ServiceEntry port: its `protocol` field (any case); empty or unknown is detected per connection. */
export function serviceEntryPortProtocol(port: { protocol?: string }): PortProtocol | undefined {
  if (!port.protocol) return SNIFFED;
  const parsed = parseIstioProtocol(port.protocol);
  if (parsed === 'UDP') return undefined;
  return parsed !== undefined ? { protocol: parsed, source: 'protocol' } : SNIFFED;
}
