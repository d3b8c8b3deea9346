// The push queue across a push made while no proxy is connected (what `skiff control-plane` does when the config
// folder changes before the first proxy connects): a later push still reaches the proxies connected by then.
// Found by the grpc-js-xds end-to-end test (test/e2e/grpc-xds.test.ts): the drain finished synchronously, before
// its promise was recorded, and the server never pushed again.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { JsonObject } from '../../../src/xds/decode.js';
import { envoyRoot } from '../../../src/xds/protos.js';
import { CLUSTER_TYPE, type DiscoveryRequest } from '../../../src/xds/server/protocol.js';
import { AdsServer } from '../../../src/xds/server/server.js';
import { ADS_METHOD, adsServiceDefinition, type DecodedResponse } from '../../../src/xds/server/service.js';
import { contextFrom } from '../generate/fixtures.js';

const service = (name: string) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: 80}]
`;

describe('ADS push queue', { timeout: 30_000 }, () => {
  it('pushes to proxies connected after a push that found no connection', async () => {
    const server = new AdsServer({ context: contextFrom(service('echo')) });
    // Nothing is connected: this push has no one to send to.
    server.push(contextFrom(service('echo')));
    // The queue is idle again (before the fix it stayed "draining" for good, and `settled()` and `close()`
    // never returned: checked here first, so that the test fails instead of hanging).
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal((server as unknown as { draining?: Promise<void> }).draining, undefined);
    const { address } = await server.listen('127.0.0.1:0');
    const Client = grpc.makeGenericClientConstructor(adsServiceDefinition(envoyRoot()), 'ADS');
    const client = new Client(address, grpc.credentials.createInsecure());
    const call = (
      client as unknown as Record<string, () => grpc.ClientDuplexStream<DiscoveryRequest, DecodedResponse>>
    )[ADS_METHOD]?.call(client);
    assert.ok(call);
    call.on('error', () => {});
    const received: DecodedResponse[] = [];
    call.on('data', (r: DecodedResponse) => received.push(r));
    const next = async (count: number) => {
      const end = Date.now() + 5000;
      while (received.length < count) {
        if (Date.now() > end) assert.fail(`response ${count} did not arrive within 5 s`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return received[count - 1] as DecodedResponse;
    };
    try {
      const node: JsonObject = {
        id: 'sidecar~127.0.1.9~client.default~default.svc.cluster.local',
        metadata: {},
      };
      call.write({ node, type_url: CLUSTER_TYPE });
      const first = await next(1);
      call.write({ type_url: CLUSTER_TYPE, version_info: first.version_info, response_nonce: first.nonce });
      // A new service: the connected proxy is pushed its clusters again.
      server.push(contextFrom(`${service('echo')}---\n${service('other')}`));
      const second = await next(2);
      assert.notEqual(second.version_info, first.version_info);
      assert.ok(second.resources.some((c) => c.name === 'outbound|80||other.default.svc.cluster.local'));
      await server.settled();
    } finally {
      call.cancel();
      client.close();
      await server.close();
    }
  });
});
