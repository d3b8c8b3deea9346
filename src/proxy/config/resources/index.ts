// Envoy's xDS resource types, one module each, by type URL: what a static bootstrap's resources and (next) an
// ADS response's resources go through. Each translates one decoded resource, collecting every problem with its
// field path; none throws on bad input.

import type { FieldPath } from '../../../core/field-path.js';
import { type ResourceOrigin, type Translated, translated } from '../context.js';
import type { ExtensionRegistry } from '../extension.js';
import { type JsonObject, str } from '../json.js';
import type { ClusterConfig, ListenerConfig, RouteConfigurationConfig, SecretConfig } from '../model.js';
import { translateCluster } from './cluster.js';
import { type LoadAssignmentConfig, translateLoadAssignment } from './endpoint.js';
import { translateListener } from './listener.js';
import { translateRouteConfiguration } from './route.js';
import { translateSecret } from './secret.js';

const PREFIX = 'type.googleapis.com/';

export const TYPE_URL = {
  listener: `${PREFIX}envoy.config.listener.v3.Listener`,
  cluster: `${PREFIX}envoy.config.cluster.v3.Cluster`,
  endpoint: `${PREFIX}envoy.config.endpoint.v3.ClusterLoadAssignment`,
  route: `${PREFIX}envoy.config.route.v3.RouteConfiguration`,
  secret: `${PREFIX}envoy.extensions.transport_sockets.tls.v3.Secret`,
} as const;

/** What each resource type translates to. */
export interface ResourceValues {
  [TYPE_URL.listener]: ListenerConfig;
  [TYPE_URL.cluster]: ClusterConfig;
  [TYPE_URL.endpoint]: LoadAssignmentConfig;
  [TYPE_URL.route]: RouteConfigurationConfig;
  [TYPE_URL.secret]: SecretConfig;
}

export type ResourceTypeUrl = keyof ResourceValues;

interface ResourceType<U extends ResourceTypeUrl> {
  /** The proto message (for decoding). */
  message: string;
  /** The resource's name, as xDS subscriptions and references use it. */
  nameOf(resource: JsonObject): string;
  translate(
    resource: JsonObject,
    path: FieldPath,
    ctx: Parameters<typeof translateListener>[2],
  ): ResourceValues[U];
}

export const RESOURCE_TYPES: { [U in ResourceTypeUrl]: ResourceType<U> } = {
  [TYPE_URL.listener]: {
    message: 'envoy.config.listener.v3.Listener',
    nameOf: (r) => str(r.name),
    translate: translateListener,
  },
  [TYPE_URL.cluster]: {
    message: 'envoy.config.cluster.v3.Cluster',
    nameOf: (r) => str(r.name),
    translate: translateCluster,
  },
  [TYPE_URL.endpoint]: {
    message: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
    nameOf: (r) => str(r.cluster_name),
    translate: translateLoadAssignment,
  },
  [TYPE_URL.route]: {
    message: 'envoy.config.route.v3.RouteConfiguration',
    nameOf: (r) => str(r.name),
    // Over RDS a route table does not validate its clusters unless it says so (Envoy).
    translate: (r, path, ctx) => translateRouteConfiguration(r, path, 'rds', ctx),
  },
  [TYPE_URL.secret]: {
    message: 'envoy.extensions.transport_sockets.tls.v3.Secret',
    nameOf: (r) => str(r.name),
    translate: translateSecret,
  },
};

/** Translates one decoded resource of type `url` found at `path`. */
export function translateResource<U extends ResourceTypeUrl>(
  registry: ExtensionRegistry,
  url: U,
  resource: JsonObject,
  path: FieldPath,
  origin: ResourceOrigin = 'static',
): Translated<ResourceValues[U]> {
  const type: ResourceType<U> = RESOURCE_TYPES[url];
  return translated(registry, (ctx) => type.translate(resource, path, ctx), origin);
}
