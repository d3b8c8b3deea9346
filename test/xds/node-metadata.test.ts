// Node metadata (src/xds/node-metadata.ts): Istio's keys, typed, every bad value reported with its path. Read by
// the proxy (its own telemetry) and the control plane (who is connecting).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NodeMetadataError, parseNodeMetadata } from '../../src/xds/node-metadata.js';
import { ISTIO_1_24_NODE_METADATA } from '../proxy/telemetry/fixtures.js';

describe('parseNodeMetadata', () => {
  it('reads the Istio keys of a real sidecar and ignores the others (numbers, lists, objects)', () => {
    const node = parseNodeMetadata(ISTIO_1_24_NODE_METADATA);
    assert.deepEqual(node, {
      name: 'demo-a-prodcatapi-57868f9d7c-67fsc',
      namespace: 'components',
      workloadName: 'demo-a-prodcatapi',
      clusterId: 'Kubernetes',
      owner: 'kubernetes://apis/apps/v1/namespaces/components/deployments/demo-a-prodcatapi',
      serviceAccount: 'default',
      meshId: 'cluster.local',
      istioVersion: '1.24.0',
      identity: undefined,
      instanceIps: ['10.88.3.242'],
      appContainers: ['demo-a-prodcatapi'],
      labels: ISTIO_1_24_NODE_METADATA.LABELS,
      annotations: ISTIO_1_24_NODE_METADATA.ANNOTATIONS,
      platformMetadata: ISTIO_1_24_NODE_METADATA.PLATFORM_METADATA,
    });
  });

  it('takes missing metadata as empty, and splits INSTANCE_IPS at commas as Istio', () => {
    const empty = parseNodeMetadata(undefined);
    assert.equal(empty.name, undefined);
    assert.deepEqual(empty.labels, {});
    assert.deepEqual(empty.instanceIps, []);
    assert.deepEqual(parseNodeMetadata({ INSTANCE_IPS: '10.0.0.1,fe80::1' }).instanceIps, [
      '10.0.0.1',
      'fe80::1',
    ]);
    assert.deepEqual(parseNodeMetadata({ INSTANCE_IPS: '' }).instanceIps, []);
  });

  it('reports every value of the wrong type at once, each with its field path and value', () => {
    assert.throws(
      () =>
        parseNodeMetadata({
          NAMESPACE: 7,
          LABELS: { app: 'a', version: 2 },
          OWNER: ['x'],
          ANNOTATIONS: 'nope',
          UNKNOWN_KEY: { anything: [1, 2] },
        }),
      (err: unknown) => {
        assert.ok(err instanceof NodeMetadataError);
        assert.deepEqual(
          err.issues.map((i) => [i.path.join('/'), i.value]),
          [
            ['node/metadata/NAMESPACE', 7],
            ['node/metadata/OWNER', ['x']],
            ['node/metadata/LABELS/version', 2],
            ['node/metadata/ANNOTATIONS', 'nope'],
          ],
        );
        assert.equal(
          err.message,
          'node.metadata.NAMESPACE: expected a string, got 7; node.metadata.OWNER: expected a string, got ["x"]; ' +
            'node.metadata.LABELS.version: expected a string, got 2; node.metadata.ANNOTATIONS: expected a map of ' +
            'names to string values, got "nope"',
        );
        return true;
      },
    );
  });

  it('names the path it was given, and refuses metadata that is not an object', () => {
    assert.throws(
      () => parseNodeMetadata({ CLUSTER_ID: true }, ['bootstrap', 'node', 'metadata']),
      /^NodeMetadataError: bootstrap\.node\.metadata\.CLUSTER_ID: expected a string, got true$/,
    );
    assert.throws(() => parseNodeMetadata('x'), /node\.metadata: expected an object, got "x"/);
    assert.throws(() => parseNodeMetadata([]), /node\.metadata: expected an object, got \[\]/);
  });
});
