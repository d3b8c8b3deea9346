// ProxyTelemetry: what one proxy's Istio filters share — its peer metadata header values, computed once from the
// node, the peers' cache, the metric families (istio_build on creation), and one service resolver per route and
// cluster.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeInfo } from '../../../src/proxy/config/model.js';
import { renderPrometheus, StatsStore } from '../../../src/proxy/stats/index.js';
import { ProxyTelemetry } from '../../../src/proxy/telemetry/context.js';
import { decodePeerMetadata } from '../../../src/proxy/telemetry/peer-metadata.js';
import { parseNodeMetadata } from '../../../src/proxy/telemetry/workload.js';
import {
  ISTIO_1_24_NODE_ID,
  ISTIO_1_24_NODE_METADATA,
  ISTIO_1_24_PEER_METADATA,
  SERVICE_A_NODE,
  SERVICE_B_CLUSTER_METADATA,
} from './fixtures.js';

function node(id: string, metadata: Record<string, unknown>): NodeInfo {
  const parsed = parseNodeMetadata(metadata);
  return {
    id,
    cluster: 'c',
    metadata: metadata as NodeInfo['metadata'],
    parsed,
    namespace: parsed.namespace,
    serviceAccount: parsed.serviceAccount,
    workloadName: parsed.workloadName,
    labels: { ...parsed.labels },
  };
}

describe('ProxyTelemetry peer metadata headers', () => {
  it('sends, for an Istio 1.24 sidecar’s node, the exact x-envoy-peer-metadata that sidecar sent, and its node id', () => {
    const t = new ProxyTelemetry(new StatsStore(), node(ISTIO_1_24_NODE_ID, ISTIO_1_24_NODE_METADATA));
    assert.equal(t.peerMetadata, ISTIO_1_24_PEER_METADATA);
    assert.equal(t.peerMetadataId, ISTIO_1_24_NODE_ID);
  });

  it('encodes the node’s workload so that a peer decodes it back', () => {
    const id = 'sidecar~10.0.0.1~service-a-7d4f9-abcde.shop~shop.svc.cluster.local';
    const t = new ProxyTelemetry(new StatsStore(), node(id, SERVICE_A_NODE));
    assert.equal(t.peerMetadataId, id);
    const decoded = decodePeerMetadata(t.peerMetadata);
    assert.deepEqual(decoded.peer, {
      instanceName: 'service-a-7d4f9-abcde',
      namespace: 'shop',
      workloadName: 'service-a',
      clusterId: 'Kubernetes',
      canonicalName: 'service-a',
      canonicalRevision: 'v1',
      appName: 'service-a',
      appVersion: 'v1',
      workloadType: 'deployment',
      extraLabels: {},
    });
    // And through the proxy's own cache of peers.
    assert.deepEqual(t.peers.lookup(t.peerMetadata).peer, decoded.peer);
  });

  it('a node without metadata sends a Struct holding only an empty LABELS', () => {
    const t = new ProxyTelemetry(new StatsStore(), node('router~x~y~z', {}));
    // Struct{fields: {"LABELS": Value{struct_value: {}}}}
    assert.equal(t.peerMetadata, 'CgwKBkxBQkVMUxICKgA=');
    assert.equal(t.peerMetadataId, 'router~x~y~z');
  });

  it('registers istio_build with the node’s ISTIO_VERSION (unknown without one)', () => {
    const store = new StatsStore();
    new ProxyTelemetry(store, node(ISTIO_1_24_NODE_ID, ISTIO_1_24_NODE_METADATA));
    assert.ok(renderPrometheus(store).includes('\nistio_build{component="proxy",tag="1.24.0"} 1\n'));
    const bare = new StatsStore();
    new ProxyTelemetry(bare, node('n', SERVICE_A_NODE));
    assert.ok(renderPrometheus(bare).includes('\nistio_build{component="proxy",tag="unknown"} 1\n'));
  });
});

describe('ProxyTelemetry.resolver', () => {
  const t = new ProxyTelemetry(new StatsStore(), node('n', SERVICE_A_NODE));
  const b = {
    name: 'outbound|8080||service-b.shop.svc.cluster.local',
    filterMetadata: SERVICE_B_CLUSTER_METADATA,
  };
  const plain = { name: 'outbound|80||example.com', filterMetadata: {} };

  it('returns the same function for the same route and cluster', () => {
    const r = t.resolver('service-b.shop.svc.cluster.local:8080', b);
    assert.equal(t.resolver('service-b.shop.svc.cluster.local:8080', b), r);
    // The cluster is known by its name.
    assert.equal(t.resolver('service-b.shop.svc.cluster.local:8080', { ...b }), r);
    assert.equal(t.resolver(undefined, undefined), t.resolver(undefined, undefined));
    assert.equal(t.resolver('default', undefined), t.resolver('default', undefined));
  });

  it('returns different functions for a different route or cluster', () => {
    const r = t.resolver('route', b);
    assert.notEqual(t.resolver('other-route', b), r);
    assert.notEqual(t.resolver('route', plain), r);
    assert.notEqual(t.resolver('route', undefined), r);
    assert.notEqual(t.resolver(undefined, b), r);
  });

  it('the resolver names the service from the cluster’s istio.services, else from the Host header', () => {
    const fromCluster = t.resolver('route', b);
    assert.deepEqual(fromCluster('anything:8080'), {
      host: 'service-b.shop.svc.cluster.local',
      name: 'service-b',
    });
    assert.equal(fromCluster(undefined), fromCluster('other'), 'one ServiceRef for every Host');
    const fromHost = t.resolver('route', plain);
    assert.deepEqual(fromHost('example.com'), { host: 'example.com', name: 'example.com' });
    assert.equal(fromHost('example.com'), fromHost('example.com'), 'the same ServiceRef for the same Host');
    assert.deepEqual(fromHost(undefined), { host: '', name: '' });
    assert.deepEqual(t.resolver('allow_any', plain)('example.com'), {
      host: 'example.com',
      name: 'PassthroughCluster',
    });
  });
});
