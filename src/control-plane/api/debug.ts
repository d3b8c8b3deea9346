// The debug API's documents (docs/control-plane.md, "Running it"): plain JSON built from the ADS server's
// connection status, the model and the policies. Pure functions; the HTTP server (http.ts) serves them.
// Istio: pilot/pkg/xds/debug.go (syncz, config_dump, registryz, authenticationz), with Skiff's fields.

import type { MeshModel, ServiceModel, WorkloadModel } from '../../model/types.js';
import {
  explainPeerAuthentication,
  type PeerAuthenticationExplanation,
  type PolicyRef,
} from '../../policy/peer-authentication.js';
import type { Mode } from '../../policy/types.js';
import type { JsonObject } from '../../xds/decode.js';
import type { GenerationContext } from '../../xds/generate/context.js';
import type { ProxyNode } from '../../xds/generate/proxy.js';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  shortType,
  type TypeStatus,
} from '../../xds/server/protocol.js';
import type { ConnectionStatus } from '../../xds/server/server.js';

/** A debug answer: a status code and a JSON body (errors are `{error: message}`). */
export interface DebugResult {
  status: number;
  body: unknown;
}

export const notFound = (message: string): DebugResult => ({ status: 404, body: { error: message } });
export const badRequest = (message: string): DebugResult => ({ status: 400, body: { error: message } });

/** A connected proxy: its status and the node it announced (undefined if it was not recorded). */
export interface ConnectedProxy {
  status: ConnectionStatus;
  node: ProxyNode | undefined;
}

/** `spiffe://<trust domain>/ns/<ns>/sa/<sa>`, or '' without a service account. */
export function identityOf(node: ProxyNode | undefined, trustDomain: string): string {
  if (!node?.serviceAccount) return '';
  return `spiffe://${trustDomain}/ns/${node.namespace}/sa/${node.serviceAccount}`;
}

function typeEntry(t: TypeStatus): JsonObject {
  return {
    typeUrl: t.typeUrl,
    wildcard: t.wildcard,
    names: [...t.names],
    ...(t.sent ? { sent: { ...t.sent } } : {}),
    ...(t.acked ? { acked: { ...t.acked } } : {}),
    ...(t.nacked ? { nacked: { ...t.nacked } } : {}),
    responses: t.responses,
    staleNonces: t.staleNonces,
  };
}

/** `/debug/syncz`: every connected proxy, what it was sent per type and what it said about it. */
export function syncz(
  proxies: readonly ConnectedProxy[],
  o: { version: string; trustDomain: string },
): JsonObject {
  return {
    version: o.version,
    proxies: proxies.map((p) => {
      const s = p.status;
      const types: JsonObject = {};
      for (const t of s.types) types[shortType(t.typeUrl)] = typeEntry(t);
      return {
        id: s.id,
        proxyId: s.proxyId,
        nodeId: s.nodeId,
        // Authenticated (the TLS port): the identity it proved; else the one its node claims.
        identity: s.authenticated?.identity ?? identityOf(p.node, o.trustDomain),
        authenticated: s.authenticated !== undefined,
        ...(s.authenticated ? { authenticatedBy: s.authenticated.method } : {}),
        namespace: p.node?.namespace ?? '',
        serviceAccount: p.node?.serviceAccount ?? '',
        address: s.address,
        peer: s.peer,
        generator: s.generator,
        istioVersion: p.node?.istioVersion ?? '',
        connectedAt: s.connectedAt,
        configVersion: s.version,
        pushes: s.pushes,
        types,
        // The last response of some type was rejected (a NACK of an older one stays in `types` for history).
        nacked: s.types.some((t) => t.nacked !== undefined && t.nacked.nonce === t.sent?.nonce),
        problems: s.problems.map((x) => ({ ...x })),
        outbound: s.outbound.map((x) => ({ ...x })),
      };
    }),
  };
}

/**
 * The connection a `proxyID` names: a connection id (`b-0.shop-3`), a proxy id (`b-0.shop`, Istio's proxyID)
 * or a full node id; the newest connection when the proxy has several.
 */
export function findProxy(proxies: readonly ConnectedProxy[], id: string): ConnectedProxy | undefined {
  const matching = proxies.filter(
    (p) => p.status.id === id || p.status.proxyId === id || p.status.nodeId === id,
  );
  return matching.sort((a, b) => connectionNumber(b.status.id) - connectionNumber(a.status.id))[0];
}

function connectionNumber(id: string): number {
  const n = Number(id.slice(id.lastIndexOf('-') + 1));
  return Number.isFinite(n) ? n : 0;
}

export function unknownProxy(id: string, proxies: readonly ConnectedProxy[]): DebugResult {
  const known = [...new Set(proxies.map((p) => p.status.proxyId))].sort();
  return notFound(
    `proxyID ${JSON.stringify(id)}: no connected proxy has that id (connected: ${known.length > 0 ? known.join(', ') : 'none'})`,
  );
}

const DUMP_TYPES: readonly { typeUrl: string; dump: string }[] = [
  { typeUrl: CLUSTER_TYPE, dump: 'ClustersConfigDump' },
  { typeUrl: LISTENER_TYPE, dump: 'ListenersConfigDump' },
  { typeUrl: ROUTE_TYPE, dump: 'RoutesConfigDump' },
  { typeUrl: ENDPOINT_TYPE, dump: 'EndpointsConfigDump' },
];

/**
 * `/debug/config_dump`: what a proxy was sent, in Envoy's admin ConfigDump shape (clusters, listeners, routes,
 * then endpoints as Envoy's `include_eds` adds them). `resources(typeUrl)` gives the resources of a type for
 * the proxy's subscription, as proto3 JSON with `@type`. Only types it was sent appear; each resource carries
 * the version last sent for its type.
 */
export function configDump(
  status: ConnectionStatus,
  resources: (t: TypeStatus) => readonly JsonObject[],
): JsonObject {
  const configs: JsonObject[] = [];
  for (const { typeUrl, dump } of DUMP_TYPES) {
    const t = status.types.find((x) => x.typeUrl === typeUrl);
    if (!t?.sent) continue;
    const version = t.sent.version;
    const list = resources(t);
    const header = { '@type': `type.googleapis.com/envoy.admin.v3.${dump}` };
    switch (typeUrl) {
      case CLUSTER_TYPE:
        configs.push({
          ...header,
          version_info: version,
          dynamic_active_clusters: list.map((cluster) => ({ version_info: version, cluster })),
        });
        break;
      case LISTENER_TYPE:
        configs.push({
          ...header,
          version_info: version,
          dynamic_listeners: list.map((listener) => ({
            name: String(listener.name ?? ''),
            active_state: { version_info: version, listener },
          })),
        });
        break;
      case ROUTE_TYPE:
        configs.push({
          ...header,
          dynamic_route_configs: list.map((route_config) => ({ version_info: version, route_config })),
        });
        break;
      default:
        configs.push({
          ...header,
          dynamic_endpoint_configs: list.map((endpoint_config) => ({
            version_info: version,
            endpoint_config,
          })),
        });
    }
  }
  return { configs };
}

/** `/debug/registryz`: every service with its ports and endpoints (tlsMode included), by host then namespace. */
export function registryz(model: MeshModel, ctx: GenerationContext): JsonObject {
  const services = [...model.services].sort(
    (a, b) => compare(a.hostname, b.hostname) || compare(a.namespace, b.namespace),
  );
  return {
    services: services.map((s) => serviceEntry(s, ctx.service(s.hostname) === s)),
    workloads: [...model.workloads]
      .sort((a, b) => compare(a.namespace, b.namespace) || compare(a.name, b.name))
      .map((w) => ({
        name: w.name,
        namespace: w.namespace,
        address: w.address,
        serviceAccount: w.serviceAccount,
        tlsMode: w.tlsMode,
        labels: { ...w.labels },
        ports: { ...w.ports },
        appPorts: { ...w.appPorts },
        locality: w.locality,
        weight: w.weight,
      })),
  };
}

function serviceEntry(s: ServiceModel, served: boolean): JsonObject {
  return {
    hostname: s.hostname,
    name: s.name,
    namespace: s.namespace,
    kind: s.kind,
    // Whether proxies see this one for its host (one service per host name: see docs/control-plane.md).
    served,
    addresses: [...s.addresses],
    location: s.location,
    resolution: s.resolution,
    headless: s.headless,
    serviceAccounts: [...s.serviceAccounts],
    ports: s.ports.map((p) => ({
      name: p.name,
      port: p.port,
      ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
      protocol: p.protocol ?? 'auto',
      protocolSource: p.protocolSource,
    })),
    endpoints: s.endpoints.map((e) => ({
      address: e.address,
      workload: e.workloadName,
      namespace: e.namespace,
      serviceAccount: e.serviceAccount,
      tlsMode: e.tlsMode,
      ports: { ...e.ports },
      labels: { ...e.labels },
      locality: e.locality,
      weight: e.weight,
    })),
  };
}

/** One port of a workload: its merged mode and the policy that decided it. */
export interface PortAuthentication {
  port: number;
  /** The service ports that target it (`host:port`). */
  services: string[];
  mode: Mode;
  /** The policy whose (port-level) mode applies, or `{level: 'default'}` (PERMISSIVE). */
  decidedBy: PolicyRef | { level: 'default' };
  portLevel: boolean;
}

export interface AuthenticationReport {
  proxyID: string;
  workload: { name: string; namespace: string; address: string; labels: Record<string, string> };
  /** The workload-wide mode and the policy that set it. */
  mode: Mode;
  decidedBy: PolicyRef | { level: 'default' };
  applied: PolicyRef[];
  ignored: PeerAuthenticationExplanation['ignored'];
  ports: PortAuthentication[];
}

/**
 * `/debug/authenticationz`: the merged PeerAuthentication of a proxy's workload, per port (its service target
 * ports and its own ports), and which policy decided (explainPeerAuthentication).
 */
export function authenticationz(
  ctx: GenerationContext,
  proxyId: string,
  workload: WorkloadModel,
): AuthenticationReport {
  const x: PeerAuthenticationExplanation = explainPeerAuthentication(
    ctx.model.peerAuthentications,
    { namespace: workload.namespace, labels: { ...workload.labels } },
    { rootNamespace: ctx.rootNamespace },
  );
  const byPort = new Map<number, string[]>();
  for (const t of ctx.serviceTargets(workload)) {
    const list = byPort.get(t.targetPort) ?? [];
    list.push(`${t.service.hostname}:${t.port.port}`);
    byPort.set(t.targetPort, list);
  }
  for (const p of Object.values(workload.ports)) if (!byPort.has(p)) byPort.set(p, []);
  const workloadWinner = x.applied.find((r) => r.level === 'workload');
  const ports: PortAuthentication[] = [...byPort]
    .sort(([a], [b]) => a - b)
    .map(([port, services]) => {
      const portLevel = Object.hasOwn(x.perPort, String(port));
      return {
        port,
        services: services.sort(),
        mode: portLevel ? (x.perPort[String(port)] as Mode) : x.mode,
        decidedBy: portLevel && workloadWinner ? workloadWinner : x.decidedBy,
        portLevel,
      };
    });
  return {
    proxyID: proxyId,
    workload: {
      name: workload.name,
      namespace: workload.namespace,
      address: workload.address,
      labels: { ...workload.labels },
    },
    mode: x.mode,
    decidedBy: x.decidedBy,
    applied: x.applied,
    ignored: x.ignored,
    ports,
  };
}

/**
 * The registry workload a proxyID names: the connected proxy's (at its address, as generation finds it), else
 * a WorkloadEntry named `<name>.<namespace>`.
 */
export function workloadFor(
  ctx: GenerationContext,
  id: string,
  connected: ConnectedProxy | undefined,
): WorkloadModel | undefined {
  const node = connected?.node;
  if (node) return ctx.workloadAt(node.ips, node.namespace, node.workloadName);
  const dot = id.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const name = id.slice(0, dot);
  const namespace = id.slice(dot + 1);
  return ctx.model.workloads.find((w) => w.name === name && w.namespace === namespace);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
