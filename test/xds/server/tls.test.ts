// ADS with TLS credentials (what 15012 will build on): a server certificate from a test root, a client that
// trusts the root gets its clusters; insecure credentials keep the plaintext rule (loopback only).

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  createLeafCertificate,
  createRootCertificate,
  generateKeyPair,
  privateKeyToPem,
  toPem,
} from '../../../src/ca/x509.js';
import type { JsonObject } from '../../../src/xds/decode.js';
import { envoyRoot } from '../../../src/xds/protos.js';
import { CLUSTER_TYPE, type DiscoveryRequest } from '../../../src/xds/server/protocol.js';
import { AdsServer } from '../../../src/xds/server/server.js';
import { ADS_METHOD, adsServiceDefinition, type DecodedResponse } from '../../../src/xds/server/service.js';
import { contextFrom } from '../generate/fixtures.js';

const YAML = `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 80}]
`;

describe('ADS over TLS', { timeout: 30_000 }, () => {
  const server = new AdsServer({ context: contextFrom(YAML) });
  after(() => server.close());

  it('serves a client that trusts the server certificate', async () => {
    const now = new Date();
    const later = new Date(now.getTime() + 3600_000);
    const rootKeys = await generateKeyPair('ec-p256');
    const rootCert = await createRootCertificate({
      trustDomain: 'cluster.local',
      keys: rootKeys,
      notBefore: now,
      notAfter: later,
    });
    const keys = await generateKeyPair('ec-p256');
    const leaf = await createLeafCertificate({
      publicKey: keys.publicKey,
      uris: ['spiffe://cluster.local/ns/istio-system/sa/istiod'],
      ips: ['127.0.0.1'],
      issuer: { certificate: rootCert, privateKey: rootKeys.privateKey },
      notBefore: now,
      notAfter: later,
    });
    const credentials = grpc.ServerCredentials.createSsl(null, [
      {
        private_key: Buffer.from(await privateKeyToPem(keys.privateKey)),
        cert_chain: Buffer.from(toPem([leaf])),
      },
    ]);
    const { address } = await server.listenSecure('127.0.0.1:0', credentials);
    const Client = grpc.makeGenericClientConstructor(adsServiceDefinition(envoyRoot()), 'ADS');
    const client = new Client(address, grpc.credentials.createSsl(Buffer.from(toPem([rootCert]))));
    try {
      const call = (
        client as unknown as Record<string, () => grpc.ClientDuplexStream<DiscoveryRequest, DecodedResponse>>
      )[ADS_METHOD]?.call(client);
      assert.ok(call);
      const first = new Promise<DecodedResponse>((resolve, reject) => {
        call.on('data', resolve);
        call.on('error', reject);
        setTimeout(() => reject(new Error('no response within 5 s')), 5000).unref();
      });
      const node: JsonObject = {
        id: 'sidecar~127.0.1.9~client.default~default.svc.cluster.local',
        metadata: {},
      };
      call.write({ node, type_url: CLUSTER_TYPE });
      const response = await first;
      assert.ok(response.resources.some((c) => c.name === 'outbound|80||echo.default.svc.cluster.local'));
      call.on('error', () => {});
      call.cancel();
    } finally {
      client.close();
    }
  });

  it('insecure credentials keep the loopback-only rule', async () => {
    await assert.rejects(
      () => server.listenSecure('0.0.0.0:0', grpc.ServerCredentials.createInsecure()),
      /loopback only/,
    );
  });
});
