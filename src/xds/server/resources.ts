// One proxy's resources at one configuration, as the ADS protocol asks for them: generated (sidecars through
// generateSidecar, proxyless gRPC through generateGrpc by the names asked for), encoded as Anys, and hashed so
// that a push can tell which types changed for this proxy.
// Istio: pilot/pkg/xds (the generators per type and per GENERATOR; EDS for proxyless clients is the sidecar's).

import { createHash } from 'node:crypto';
import type protobuf from 'protobufjs';
import type { JsonObject } from '../decode.js';
import type { GenerationContext } from '../generate/context.js';
import { buildLoadAssignment } from '../generate/endpoints.js';
import { generateGrpc } from '../generate/grpc.js';
import { generateSidecar, type SidecarGeneration } from '../generate/index.js';
import type { ProxyNode } from '../generate/proxy.js';
import type { GenerationProblem } from '../generate/types.js';
import { type AnyMessage, EncodeError, encodeResource } from './codec.js';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  type Resource,
  type ResourceSource,
  ROUTE_TYPE,
  type Subscription,
} from './protocol.js';

/** A service port and the address this proxy's outbound listener for it binds. */
export interface OutboundAddress {
  service: string;
  port: number;
  address: string;
}

type Encoded = { ok: true; resource: Resource<AnyMessage> } | { ok: false; message: string };

/**
 * Encodes generated resources once per object: generation shares unchanged objects between proxies and between
 * configurations (clusters and endpoints cached per service), so most of a push is not encoded again.
 */
export class ResourceEncoder {
  private readonly cache = new WeakMap<object, Map<string, Encoded>>();

  constructor(private readonly root: protobuf.Root) {}

  encode(typeUrl: string, json: JsonObject): Encoded {
    let byType = this.cache.get(json);
    if (!byType) {
      byType = new Map();
      this.cache.set(json, byType);
    }
    const cached = byType.get(typeUrl);
    if (cached) return cached;
    const name = resourceName(json);
    let result: Encoded;
    try {
      const any = encodeResource(this.root, typeUrl, json);
      const hash = createHash('sha1').update(any.value).digest('base64');
      const refs = typeUrl === LISTENER_TYPE || typeUrl === ROUTE_TYPE ? clusterRefs(json) : [];
      result = { ok: true, resource: { name, hash, body: any, ...(refs.length > 0 ? { refs } : {}) } };
    } catch (e) {
      const message = e instanceof EncodeError ? e.message : String((e as Error)?.message ?? e);
      result = {
        ok: false,
        message: `${typeUrl.slice(typeUrl.lastIndexOf('.') + 1)} ${JSON.stringify(name)}: ${message}`,
      };
    }
    byType.set(typeUrl, result);
    return result;
  }
}

/**
 * The clusters a listener or route configuration names: every `cluster` (a TCP proxy's, a route's) and every
 * `weighted_clusters.clusters[].name`, anywhere in it (filters' typed configs included). Sorted, each once.
 */
export function clusterRefs(json: JsonObject): string[] {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    for (const [key, x] of Object.entries(v)) {
      if (key === 'cluster' && typeof x === 'string') out.add(x);
      else if (key === 'weighted_clusters' && typeof x === 'object' && x !== null) {
        const clusters = (x as { clusters?: unknown }).clusters;
        if (Array.isArray(clusters))
          for (const c of clusters) {
            const name = (c as { name?: unknown } | null)?.name;
            if (typeof name === 'string') out.add(name);
          }
      } else walk(x);
    }
  };
  walk(json);
  return [...out].sort();
}

/** A resource's name: `name`, or a ClusterLoadAssignment's `cluster_name`. */
export function resourceName(json: JsonObject): string {
  const name = json.name ?? json.cluster_name;
  return typeof name === 'string' ? name : '';
}

/**
 * What one proxy is served at one configuration version. Generation is lazy and done once: a sidecar's whole
 * configuration on the first type asked, a proxyless client's per type and set of names. Problems (generation's,
 * and resources that could not be encoded, which are left out) go to `report`.
 */
export class ProxyResources implements ResourceSource<AnyMessage> {
  private sidecar: SidecarGeneration | undefined;
  private readonly grpc = new Map<string, Resource<AnyMessage>[]>();

  constructor(
    readonly version: string,
    readonly ctx: GenerationContext,
    readonly proxy: ProxyNode,
    private readonly encoder: ResourceEncoder,
    private readonly report: (problems: readonly GenerationProblem[]) => void,
  ) {}

  /**
   * Where this sidecar's outbound listeners bind, per service port (what an app on this replica dials), from
   * the listeners' `skiff` metadata; empty for proxyless clients and before anything was generated.
   */
  outboundAddresses(): OutboundAddress[] {
    const out: OutboundAddress[] = [];
    for (const listener of this.sidecar?.resources.listeners ?? []) {
      const meta = (listener.metadata as JsonObject | undefined)?.filter_metadata as JsonObject | undefined;
      const skiff = meta?.skiff as JsonObject | undefined;
      const socket = (listener.address as JsonObject | undefined)?.socket_address as JsonObject | undefined;
      if (!skiff || !socket || typeof skiff.service !== 'string' || typeof skiff.port !== 'number') continue;
      out.push({
        service: skiff.service,
        port: skiff.port,
        address: `${socket.address}:${socket.port_value}`,
      });
    }
    return out;
  }

  resources(typeUrl: string, subscription: Subscription): Resource<AnyMessage>[] {
    return this.proxy.generator === 'grpc'
      ? this.grpcResources(typeUrl, subscription)
      : this.sidecarResources(typeUrl, subscription);
  }

  private sidecarResources(typeUrl: string, subscription: Subscription): Resource<AnyMessage>[] {
    if (!this.sidecar) {
      this.sidecar = generateSidecar(this.ctx, this.proxy);
      if (this.sidecar.problems.length > 0) this.report(this.sidecar.problems);
    }
    const { listeners, clusters, endpoints, routes } = this.sidecar.resources;
    const pick = (all: readonly JsonObject[]) =>
      subscription.wildcard ? all : all.filter((r) => subscription.names.has(resourceName(r)));
    const byName = (map: ReadonlyMap<string, JsonObject>) =>
      subscription.wildcard
        ? [...map.values()]
        : [...subscription.names].flatMap((n) => {
            const r = map.get(n);
            return r ? [r] : [];
          });
    switch (typeUrl) {
      case LISTENER_TYPE:
        return this.encodeAll(typeUrl, pick(listeners));
      case CLUSTER_TYPE:
        return this.encodeAll(typeUrl, pick(clusters));
      case ENDPOINT_TYPE:
        return this.encodeAll(typeUrl, byName(endpoints));
      case ROUTE_TYPE:
        return this.encodeAll(typeUrl, byName(routes));
      default:
        return [];
    }
  }

  private grpcResources(typeUrl: string, subscription: Subscription): Resource<AnyMessage>[] {
    // gRPC always subscribes by name; a wildcard request is generateGrpc without names (what Istio's grpcgen
    // does with no names: every client listener).
    const names = subscription.wildcard ? [] : [...subscription.names].sort();
    const key = `${typeUrl}\n${names.join('\n')}`;
    const cached = this.grpc.get(key);
    if (cached) return cached;
    let generated: JsonObject[];
    if (typeUrl === ENDPOINT_TYPE) {
      // Istio serves proxyless EDS with the sidecars' generator (pilot/pkg/bootstrap/discovery.go).
      generated = names.map((n) => buildLoadAssignment(this.ctx, this.proxy, n));
    } else {
      const result = generateGrpc(this.ctx, this.proxy, typeUrl, names);
      if (result.problems.length > 0) this.report(result.problems);
      generated = result.resources;
    }
    const resources = this.encodeAll(typeUrl, generated);
    this.grpc.set(key, resources);
    return resources;
  }

  private encodeAll(typeUrl: string, list: readonly JsonObject[]): Resource<AnyMessage>[] {
    const out: Resource<AnyMessage>[] = [];
    const failed: GenerationProblem[] = [];
    for (const json of list) {
      const encoded = this.encoder.encode(typeUrl, json);
      if (encoded.ok) out.push(encoded.resource);
      else
        failed.push({ severity: 'error', code: 'SKIFF_XDS_ENCODE', message: `left out: ${encoded.message}` });
    }
    if (failed.length > 0) this.report(failed);
    return out;
  }
}
