// A decoded Envoy v3 Bootstrap (canonical proto3 JSON, see xds/decode.ts) composed into what the data path runs
// (model.ts): the node, the admin address, and the static resources, each through its resource type's module
// (resources/), then duplicate names and references checked across them (references.ts). Pure: data sources
// stay references here; load.ts reads them.

import { showValue } from '../../core/diagnostics.js';
import type { FieldPath } from '../../core/field-path.js';
import type { SupportTable } from '../../xds/decode.js';
import { type NodeMetadata, NodeMetadataError, parseNodeMetadata } from '../telemetry/workload.js';
import { translateAddress } from './common.js';
import { TranslateContext, type Translated } from './context.js';
import type { ExtensionRegistry } from './extension.js';
import { type Json, type JsonObject, list, obj, str } from './json.js';
import type { NodeInfo, ProxyConfig } from './model.js';
import { translateConnectionLimit } from './overload.js';
import { checkStaticReferences } from './references.js';
import { type ResourceTypeUrl, type ResourceValues, TYPE_URL, translateResource } from './resources/index.js';

export const BOOTSTRAP_SUPPORT: SupportTable = {
  'envoy.config.bootstrap.v3.Bootstrap': {
    node: 'Who this proxy is; metadata feeds identity and telemetry labels.',
    admin: 'The admin server (statistics, config dump, readiness, drain).',
    static_resources: 'Listeners, clusters and secrets given in the file.',
    overload_manager: 'The global downstream connection limit.',
    layered_runtime: 'Runtime keys (the connection limit’s older form).',
  },
  'envoy.config.bootstrap.v3.Bootstrap.StaticResources': {
    listeners: 'Listeners to open.',
    clusters: 'Upstream clusters.',
    secrets: 'Secrets that transport sockets name through SDS configs (`default`, `ROOTCA`).',
  },
  'envoy.config.bootstrap.v3.Admin': {
    address: 'Where the admin server listens (TCP socket address).',
  },
  'envoy.config.core.v3.Node': {
    id: 'Node id (Istio: `sidecar~IP~POD.NS~NS.svc.cluster.local`).',
    cluster: 'Service cluster name (Istio: `APP.NS`).',
    metadata: 'Free JSON; NAMESPACE, SERVICE_ACCOUNT, WORKLOAD_NAME, LABELS are read.',
    locality: 'Recorded and shown in the config dump.',
  },
};

export interface CompileOptions {
  /** Secret names something other than static_resources provides (the agent: `default`, `ROOTCA`). */
  providedSecrets?: readonly string[];
}

export interface CompileResult {
  config: ProxyConfig | undefined;
  diagnostics: Translated<unknown>['diagnostics'];
}

/** The node; its metadata is read as Istio writes it (telemetry/workload.ts), every bad value an error. */
function translateNode(n: JsonObject, ctx: TranslateContext): NodeInfo {
  const metadata = obj(n.metadata);
  let parsed: NodeMetadata;
  try {
    parsed = parseNodeMetadata(metadata);
  } catch (e) {
    if (!(e instanceof NodeMetadataError)) throw e;
    for (const issue of e.issues) ctx.error(issue.path, 'proxy.node', issue.message);
    parsed = parseNodeMetadata({});
  }
  return {
    id: str(n.id),
    cluster: str(n.cluster),
    metadata,
    parsed,
    namespace: parsed.namespace,
    serviceAccount: parsed.serviceAccount,
    workloadName: parsed.workloadName,
    labels: { ...parsed.labels },
  };
}

/** Two resources of one type with the same name: Envoy refuses the bootstrap. */
function duplicateNames(names: string[], path: FieldPath, what: string, ctx: TranslateContext): void {
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    const before = seen.get(name);
    if (before !== undefined) {
      ctx.error(
        [...path, i, 'name'],
        'proxy.duplicate',
        `${what} name ${showValue(name)} is already used at [${before}]`,
      );
    } else seen.set(name, i);
  });
}

/** Compiles a decoded Bootstrap; `config` is undefined when there are errors. */
export function compileBootstrap(
  b: JsonObject,
  registry: ExtensionRegistry,
  options: CompileOptions = {},
): CompileResult {
  const ctx = new TranslateContext(registry);
  const parts: Translated<unknown>[] = [];
  const sr = obj(b.static_resources);
  const each = <U extends ResourceTypeUrl>(url: U, field: string): ResourceValues[U][] =>
    list(sr[field]).map((r: Json, i) => {
      const t = translateResource(registry, url, obj(r), ['static_resources', field, i]);
      parts.push(t);
      return t.value as ResourceValues[U];
    });
  const secrets = each(TYPE_URL.secret, 'secrets');
  const clusters = each(TYPE_URL.cluster, 'clusters');
  const listeners = each(TYPE_URL.listener, 'listeners');
  duplicateNames(
    list(sr.secrets).map((s) => str(obj(s).name)),
    ['static_resources', 'secrets'],
    'secret',
    ctx,
  );
  duplicateNames(
    list(sr.clusters).map((c) => str(obj(c).name)),
    ['static_resources', 'clusters'],
    'cluster',
    ctx,
  );
  duplicateNames(
    list(sr.listeners).map((l) => str(obj(l).name)),
    ['static_resources', 'listeners'],
    'listener',
    ctx,
  );
  const node = translateNode(obj(b.node), ctx);
  const adminAddress = obj(b.admin).address;
  const admin =
    adminAddress === undefined ? undefined : translateAddress(obj(adminAddress), ['admin', 'address'], ctx);
  const maxDownstreamConnections = translateConnectionLimit(b, ctx);
  const references = checkStaticReferences(
    parts.flatMap((p) => p.refs),
    {
      clusters: new Set(list(sr.clusters).map((c) => str(obj(c).name))),
      secrets: new Set([
        ...list(sr.secrets).map((s) => str(obj(s).name)),
        ...(options.providedSecrets ?? []),
      ]),
    },
  );
  const diagnostics = [...parts.flatMap((p) => p.diagnostics), ...ctx.diagnostics, ...references];
  if (diagnostics.some((d) => d.severity === 'error')) return { config: undefined, diagnostics };
  return {
    config: {
      node,
      admin,
      listeners,
      clusters,
      secrets: [...secrets, ...parts.flatMap((p) => p.inlineSecrets)],
      ...(maxDownstreamConnections === undefined ? {} : { maxDownstreamConnections }),
      bootstrap: b,
    },
    diagnostics,
  };
}
