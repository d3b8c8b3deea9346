// Shared by the generation tests: a model and a generation context from YAML text, and proxy nodes as a
// sidecar announces them.

import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/load.js';
import { buildModel } from '../../../src/model/build.js';
import type { MeshModel } from '../../../src/model/types.js';
import { GenerationContext } from '../../../src/xds/generate/context.js';
import { OutboundPortAllocator } from '../../../src/xds/generate/outbound-ports.js';
import { type ProxyNode, parseProxyNode } from '../../../src/xds/generate/proxy.js';

/** Loads YAML (one or more documents); any error diagnostic fails the test with the loader's message. */
export function modelFrom(yaml: string, path = 'test.yaml'): MeshModel {
  const snapshot = loadConfig([{ path, text: yaml }]);
  const errors = snapshot.diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(errors, [], `the fixture must load without errors:\n${yaml}`);
  return buildModel(snapshot);
}

export function contextFrom(yaml: string): GenerationContext {
  return new GenerationContext(modelFrom(yaml), new OutboundPortAllocator());
}

export interface NodeOptions {
  namespace?: string;
  serviceAccount?: string;
  labels?: Record<string, string>;
  generator?: string;
  httpProxyPort?: number;
  workloadName?: string;
}

/** A sidecar's node as Skiff's agent announces it: `sidecar~IP~NAME.NS~NS.svc.cluster.local`. */
export function sidecarNode(ip: string, name: string, o: NodeOptions = {}): ProxyNode {
  const ns = o.namespace ?? 'default';
  return parseProxyNode({
    id: `sidecar~${ip}~${name}.${ns}~${ns}.svc.cluster.local`,
    metadata: {
      NAMESPACE: ns,
      SERVICE_ACCOUNT: o.serviceAccount ?? 'default',
      WORKLOAD_NAME: o.workloadName ?? name,
      INSTANCE_IPS: ip,
      LABELS: o.labels ?? {},
      ...(o.generator ? { GENERATOR: o.generator } : {}),
      ...(o.httpProxyPort ? { HTTP_PROXY_PORT: String(o.httpProxyPort) } : {}),
    },
  });
}
