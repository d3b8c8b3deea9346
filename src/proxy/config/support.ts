// The subset of Envoy's v3 API the Skiff proxy implements, field by field, composed from where each part is
// implemented: the bootstrap, each resource type, the common messages and every extension. A message type listed
// here may carry only these fields (at a non-default value); a type not listed may not appear with content at
// all (xds/decode.ts enforces both). docs/proxy-config.md is generated from these groups
// (scripts/gen-proxy-config-doc.mjs; a test keeps the two together).

import type { SupportTable } from '../../xds/decode.js';
import { ACCESS_LOG_SUPPORT } from '../access-log/config.js';
import { PROXY_EXTENSIONS } from '../extensions.js';
import { BOOTSTRAP_SUPPORT } from './bootstrap.js';
import { COMMON_SUPPORT } from './common.js';
import { OVERLOAD_SUPPORT } from './overload.js';
import { CLUSTER_SUPPORT } from './resources/cluster.js';
import { ENDPOINT_SUPPORT } from './resources/endpoint.js';
import { LISTENER_SUPPORT } from './resources/listener.js';
import { ROUTE_SUPPORT } from './resources/route.js';
import { SECRET_SUPPORT } from './resources/secret.js';

/** One part of the implemented subset, as the docs present it. */
export interface SupportGroup {
  title: string;
  /** What it is (extensions: their one-line summary). */
  summary: string;
  types: SupportTable;
}

export const SUPPORT_GROUPS: readonly SupportGroup[] = [
  { title: 'Bootstrap', summary: 'The file `skiff proxy --config` reads.', types: BOOTSTRAP_SUPPORT },
  {
    title: 'Bootstrap: overload manager and runtime',
    summary: 'The proxy-wide downstream connection limit.',
    types: OVERLOAD_SUPPORT,
  },
  {
    title: 'Resource: Listener',
    summary: 'Addresses, listener filters, filter chains.',
    types: LISTENER_SUPPORT,
  },
  {
    title: 'Resource: Cluster',
    summary: 'Upstream endpoints and how to reach them.',
    types: CLUSTER_SUPPORT,
  },
  {
    title: 'Resource: ClusterLoadAssignment',
    summary: 'A cluster’s endpoints (EDS, or inline `load_assignment`).',
    types: ENDPOINT_SUPPORT,
  },
  {
    title: 'Resource: RouteConfiguration',
    summary: 'HTTP routes (RDS, or inline `route_config`).',
    types: ROUTE_SUPPORT,
  },
  {
    title: 'Resource: Secret',
    summary: 'Certificates and validation contexts (SDS).',
    types: SECRET_SUPPORT,
  },
  {
    title: 'Common messages',
    summary: 'Used by the resources and extensions above and below.',
    types: COMMON_SUPPORT,
  },
  {
    title: 'Access logs',
    summary:
      'An `access_log` entry on a listener, an HTTP connection manager or a tcp_proxy, and its filter.',
    types: ACCESS_LOG_SUPPORT,
  },
  ...PROXY_EXTENSIONS.extensions.map((e) => ({
    title: `Extension \`${e.name}\` (${e.category})`,
    summary: e.summary,
    types: e.support,
  })),
];

/** Every group's types in one table, for the decoder. */
export const PROXY_SUPPORT: SupportTable = Object.assign({}, ...SUPPORT_GROUPS.map((g) => g.types));
