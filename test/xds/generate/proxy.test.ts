// parseProxyNode (src/xds/generate/proxy.ts): the proxy a configuration is generated for, from its Envoy node id
// and Istio metadata (Istio's ParseServiceNodeWithMetadata).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../../src/xds/decode.js';
import { parseProxyNode } from '../../../src/xds/generate/proxy.js';
import { NodeMetadataError } from '../../../src/xds/node-metadata.js';

const ID = 'sidecar~127.0.1.2~b-0.payments~payments.svc.cluster.local';

/** What Skiff's agent (and Istio's) announces, every key parseProxyNode reads. */
const FULL: JsonObject = {
  NAME: 'b-0',
  NAMESPACE: 'payments',
  WORKLOAD_NAME: 'b',
  SERVICE_ACCOUNT: 'b-sa',
  INSTANCE_IPS: '127.0.1.2,fd00::2',
  LABELS: { app: 'b', version: 'v1' },
  ISTIO_VERSION: '1.24.0',
  GENERATOR: 'grpc',
  HTTP_PROXY_PORT: '15080',
  CLUSTER_ID: 'Kubernetes',
  INTERCEPTION_MODE: 'NONE',
};

describe('parseProxyNode', () => {
  it('reads every field of a full node', () => {
    assert.deepEqual(parseProxyNode({ id: ID, metadata: FULL }), {
      id: ID,
      type: 'sidecar',
      proxyId: 'b-0.payments',
      ips: ['127.0.1.2', 'fd00::2'],
      namespace: 'payments',
      serviceAccount: 'b-sa',
      workloadName: 'b',
      labels: { app: 'b', version: 'v1' },
      dnsDomain: 'payments.svc.cluster.local',
      generator: 'grpc',
      httpProxyPort: 15080,
      istioVersion: '1.24.0',
    });
  });

  it('a router node', () => {
    const p = parseProxyNode({ id: 'router~10.0.0.9~gw-0.istio-system~istio-system.svc.cluster.local' });
    assert.equal(p.type, 'router');
    assert.equal(p.proxyId, 'gw-0.istio-system');
  });

  it('with no metadata: the id alone (IP, namespace from the DNS domain, workload from the proxy id)', () => {
    for (const metadata of [undefined, null, {}]) {
      assert.deepEqual(parseProxyNode({ id: ID, metadata }), {
        id: ID,
        type: 'sidecar',
        proxyId: 'b-0.payments',
        ips: ['127.0.1.2'],
        namespace: 'payments',
        serviceAccount: '',
        workloadName: 'b-0',
        labels: {},
        dnsDomain: 'payments.svc.cluster.local',
        generator: undefined,
        httpProxyPort: undefined,
        istioVersion: undefined,
      });
    }
  });

  it('INSTANCE_IPS wins over the IP of the node id', () => {
    assert.deepEqual(parseProxyNode({ id: ID, metadata: { INSTANCE_IPS: '127.0.9.9' } }).ips, ['127.0.9.9']);
    assert.deepEqual(parseProxyNode({ id: ID, metadata: { INSTANCE_IPS: '' } }).ips, ['127.0.1.2']);
    assert.deepEqual(
      parseProxyNode({ id: 'sidecar~~b-0.payments~payments.svc.cluster.local', metadata: {} }).ips,
      [],
    );
  });

  it('NAMESPACE wins over the DNS domain; without it, the namespace is the DNS domain first label', () => {
    assert.equal(parseProxyNode({ id: ID, metadata: { NAMESPACE: 'other' } }).namespace, 'other');
    assert.equal(parseProxyNode({ id: ID, metadata: {} }).namespace, 'payments');
    assert.equal(
      parseProxyNode({ id: 'sidecar~127.0.1.2~b-0.x~shop.svc.cluster.local', metadata: { NAMESPACE: null } })
        .namespace,
      'shop',
    );
  });

  it('an empty NAMESPACE is read as absent (Istio GetProxyConfigNamespace: len(Namespace) > 0)', () => {
    assert.equal(parseProxyNode({ id: ID, metadata: { NAMESPACE: '' } }).namespace, 'payments');
  });

  it('GENERATOR: grpc marks a proxyless gRPC client; absent or not a string is undefined', () => {
    assert.equal(parseProxyNode({ id: ID, metadata: { GENERATOR: 'grpc' } }).generator, 'grpc');
    assert.equal(parseProxyNode({ id: ID, metadata: {} }).generator, undefined);
    assert.equal(parseProxyNode({ id: ID, metadata: { GENERATOR: 1 } }).generator, undefined);
  });

  it('HTTP_PROXY_PORT: a string or a number', () => {
    assert.equal(parseProxyNode({ id: ID, metadata: { HTTP_PROXY_PORT: '15080' } }).httpProxyPort, 15080);
    assert.equal(parseProxyNode({ id: ID, metadata: { HTTP_PROXY_PORT: 1 } }).httpProxyPort, 1);
    assert.equal(parseProxyNode({ id: ID, metadata: { HTTP_PROXY_PORT: '65535' } }).httpProxyPort, 65535);
  });

  const badIds: Array<[string | undefined, RegExp]> = [
    [undefined, /^Error: node\.id "": expected TYPE~IP~ID~DNSDOMAIN \(e\.g\. sidecar~127\.0\.1\.2~/],
    ['', /^Error: node\.id "": expected TYPE~IP~ID~DNSDOMAIN/],
    [
      'sidecar~127.0.1.2~b-0.payments',
      /^Error: node\.id "sidecar~127\.0\.1\.2~b-0\.payments": expected TYPE~IP~ID~DNSDOMAIN/,
    ],
    [`${ID}~extra`, /^Error: node\.id ".*~extra": expected TYPE~IP~ID~DNSDOMAIN/],
    [
      'waypoint~127.0.1.2~b-0.payments~payments.svc.cluster.local',
      /^Error: node\.id "waypoint~[^"]*": type "waypoint": expected sidecar or router$/,
    ],
    [
      'Sidecar~127.0.1.2~b-0.payments~payments.svc.cluster.local',
      /^Error: node\.id "Sidecar~[^"]*": type "Sidecar": expected sidecar or router$/,
    ],
  ];
  for (const [id, message] of badIds) {
    it(`refuses node.id ${JSON.stringify(id)}, naming the field`, () => {
      assert.throws(() => parseProxyNode({ ...(id === undefined ? {} : { id }), metadata: FULL }), message);
    });
  }

  const badPorts: Array<[unknown, string]> = [
    ['abc', '"abc"'],
    ['0', '"0"'],
    ['65536', '"65536"'],
    ['80.5', '"80.5"'],
    ['-1', '"-1"'],
    ['', '""'],
    [0, '0'],
  ];
  for (const [value, shown] of badPorts) {
    it(`refuses HTTP_PROXY_PORT ${shown}, naming the field`, () => {
      assert.throws(
        () => parseProxyNode({ id: ID, metadata: { HTTP_PROXY_PORT: value as JsonObject[string] } }),
        (e: unknown) => {
          assert.ok(e instanceof Error);
          assert.equal(e.message, `node.metadata.HTTP_PROXY_PORT ${shown}: expected a port number`);
          return true;
        },
      );
    });
  }

  // Number() would read booleans, one-element lists, hexadecimal, exponents and blanks as numbers (`true` is port
  // 1). Istio's metadata holds HTTP_PROXY_PORT as a string of digits.
  const acceptedByNumber: Array<[unknown, string]> = [
    [true, 'true'],
    [[8080], '[8080]'],
    ['0x1F90', '"0x1F90"'],
    ['8e3', '"8e3"'],
    [' 8080', '" 8080"'],
  ];
  for (const [value, shown] of acceptedByNumber) {
    it(`refuses HTTP_PROXY_PORT ${shown}, naming the field`, () => {
      assert.throws(
        () => parseProxyNode({ id: ID, metadata: { HTTP_PROXY_PORT: value as JsonObject[string] } }),
        /^Error: node\.metadata\.HTTP_PROXY_PORT .*: expected a port number$/,
      );
    });
  }

  it('metadata of the wrong type: the NodeMetadataError, with the field path', () => {
    assert.throws(
      () => parseProxyNode({ id: ID, metadata: { NAMESPACE: 7, LABELS: { app: 1 } } }),
      (e: unknown) => {
        assert.ok(e instanceof NodeMetadataError);
        assert.equal(
          e.message,
          'node.metadata.NAMESPACE: expected a string, got 7; node.metadata.LABELS.app: expected a string, got 1',
        );
        return true;
      },
    );
  });
});
