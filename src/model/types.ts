// The mesh model: what the control plane knows about every service and endpoint, built from the config sources
// (the user's folder and the runtime's registry of WorkloadEntries). Immutable once built; generation reads it.
// Istio: pilot/pkg/model/service.go (Service, Port, IstioEndpoint), pilot/pkg/serviceregistry.

import type { DestinationRuleSpec } from '../config/kinds/destination-rule.js';
import type { MeshConfigSpec } from '../config/kinds/mesh-config.js';
import type { VirtualServiceSpec } from '../config/kinds/virtual-service.js';
import type { Protocol } from '../config/kinds/workload.js';
import type { Resource } from '../config/resource.js';
import type { PeerAuthentication } from '../policy/types.js';

/** How a port's protocol was decided (Istio's rules, in this order). */
export type ProtocolSource = 'appProtocol' | 'protocol' | 'name' | 'sniffed';

export interface ServicePortModel {
  /** The port name (`http-api`); empty when the service declares none (Kubernetes allows one unnamed port). */
  name: string;
  /** The service port, what clients dial. */
  port: number;
  /** Kubernetes `targetPort` (a number or a container port name); ServiceEntry `targetPort`. */
  targetPort?: number | string;
  /** Istio's protocol; undefined: detected per connection (Istio's "auto", protocol sniffing). */
  protocol: Protocol | undefined;
  protocolSource: ProtocolSource;
}

export type Location = 'MESH_INTERNAL' | 'MESH_EXTERNAL';
/** Istio's service resolution: ClientSideLB (EDS), DNS, DNS round robin, Passthrough (headless / NONE). */
export type Resolution = 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'NONE';

/** One workload instance behind a service (Istio's IstioEndpoint, before it is split per port). */
export interface EndpointModel {
  /** An IP address (local mode: the replica's loopback address) or, for DNS resolution, a host name. */
  address: string;
  /** Service port name → the endpoint's port for it. Missing names use the port's targetPort, else the port. */
  ports: Readonly<Record<string, number>>;
  labels: Readonly<Record<string, string>>;
  namespace: string;
  serviceAccount: string;
  /** `istio` when the workload has a sidecar (`security.istio.io/tlsMode`), else `disabled`. */
  tlsMode: 'istio' | 'disabled';
  /** WorkloadEntry name (`name` for inline ServiceEntry endpoints: `<entry>-<index>`). */
  workloadName: string;
  /** `region/zone/subzone`, empty when unknown. */
  locality: string;
  /** Load-balancing weight, default 1. */
  weight: number;
  /** The WorkloadEntry it came from, when there is one (inline ServiceEntry endpoints have none). */
  source?: Resource<unknown>;
}

export interface ServiceModel {
  /** The fully qualified host: `<name>.<ns>.svc.<domain>` for a Kubernetes Service, each host of a ServiceEntry. */
  hostname: string;
  /** The Kubernetes Service name, or the ServiceEntry's name. */
  name: string;
  namespace: string;
  kind: 'Service' | 'ServiceEntry';
  /** Virtual IPs (Kubernetes clusterIP(s), ServiceEntry addresses); local mode usually has none. */
  addresses: readonly string[];
  ports: readonly ServicePortModel[];
  location: Location;
  resolution: Resolution;
  /** Kubernetes headless Service (`clusterIP: None`). */
  headless: boolean;
  /** The workloads behind it, sorted by address. */
  endpoints: readonly EndpointModel[];
  /** SPIFFE identities of its workloads (and a ServiceEntry's subjectAltNames), sorted and unique. */
  serviceAccounts: readonly string[];
  /** Labels of the Kubernetes Service / ServiceEntry itself. */
  labels: Readonly<Record<string, string>>;
  /** Its source resource, for messages and the debug API. */
  source: Resource<unknown>;
}

/** A workload the registry knows (a WorkloadEntry): the proxies that may connect are these. */
export interface WorkloadModel {
  name: string;
  namespace: string;
  address: string;
  labels: Readonly<Record<string, string>>;
  serviceAccount: string;
  tlsMode: 'istio' | 'disabled';
  /** Port name → port, as the WorkloadEntry declares them. */
  ports: Readonly<Record<string, number>>;
  locality: string;
  weight: number;
  /**
   * Workload port → the port its app listens on at 127.0.0.1 behind the sidecar (local mode; the runtime writes
   * them as the annotation `skiff.dev/app-ports: "8080=18080,9090=19090"`). A port not listed: the same number.
   */
  appPorts: Readonly<Record<number, number>>;
  source: Resource<unknown>;
}

/** A Skiff-wide problem found while building the model (the loader's own diagnostics stay with the snapshot). */
export interface ModelProblem {
  severity: 'error' | 'warning';
  code: string;
  message: string;
  resource?: Resource<unknown>;
}

export interface MeshModel {
  meshConfig: MeshConfigSpec;
  /** Sorted by hostname, then namespace. */
  services: readonly ServiceModel[];
  workloads: readonly WorkloadModel[];
  peerAuthentications: readonly PeerAuthentication[];
  destinationRules: readonly Resource<DestinationRuleSpec>[];
  virtualServices: readonly Resource<VirtualServiceSpec>[];
  problems: readonly ModelProblem[];
}
