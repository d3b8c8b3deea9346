// The secure xDS port (15012) over real loopback gRPC+TLS: ADS and CSRs on one server with a certificate from
// the mesh CA; a bootstrap token or a workload certificate authenticates; the node must match the identity and
// a known WorkloadEntry.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { CaClient } from '../../../src/ca/client.js';
import {
  type CertificateRequest,
  type CertificateResponse,
  certificateService,
} from '../../../src/ca/proto.js';
import type { LoadedCa } from '../../../src/ca/store.js';
import { createToken } from '../../../src/ca/token.js';
import { createCsr, generateKeyPair, parseCertificates, uriSans } from '../../../src/ca/x509.js';
import type { JsonObject } from '../../../src/xds/decode.js';
import { envoyRoot } from '../../../src/xds/protos.js';
import { CLUSTER_TYPE, type DiscoveryRequest, ENDPOINT_TYPE } from '../../../src/xds/server/protocol.js';
import { ISTIOD_DNS_NAME, type SecureXds, startSecureXds } from '../../../src/xds/server/secure.js';
import { type AdsEvent, AdsServer } from '../../../src/xds/server/server.js';
import { ADS_METHOD, adsServiceDefinition, type DecodedResponse } from '../../../src/xds/server/service.js';
import { type Identity, issue, makeCa } from '../../proxy/pki.js';
import { contextFrom, modelFrom } from '../generate/fixtures.js';

const YAML = `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 80}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: client-0, namespace: default}
spec:
  address: 127.0.1.9
  serviceAccount: client
  labels: {app: client}
`;

const CLIENT_NODE = 'sidecar~127.0.1.9~client-0.default~default.svc.cluster.local';

function node(o: { ip?: string; namespace?: string; serviceAccount?: string } = {}): JsonObject {
  const ip = o.ip ?? '127.0.1.9';
  const ns = o.namespace ?? 'default';
  return {
    id: `sidecar~${ip}~client-0.${ns}~${ns}.svc.cluster.local`,
    metadata: { NAMESPACE: ns, SERVICE_ACCOUNT: o.serviceAccount ?? 'client', INSTANCE_IPS: ip },
  };
}

interface Credential {
  token?: string;
  cert?: Identity;
}

function channelCredentials(ca: LoadedCa, c: Credential): grpc.ChannelCredentials {
  const root = Buffer.from(ca.authority.rootsPem());
  return c.cert
    ? grpc.credentials.createSsl(root, c.cert.key, c.cert.chain)
    : grpc.credentials.createSsl(root);
}

/** Verify the server as istiod's DNS name (as Istio's agent does), over 127.0.0.1. */
const CHANNEL_OPTIONS = { 'grpc.ssl_target_name_override': ISTIOD_DNS_NAME };

type Outcome = { response: DecodedResponse } | { error: grpc.ServiceError };

/** Opens an ADS stream, sends a CDS request for `n`, and resolves with the first response or the status. */
async function adsFirst(address: string, ca: LoadedCa, c: Credential, n: JsonObject): Promise<Outcome> {
  const Client = grpc.makeGenericClientConstructor(adsServiceDefinition(envoyRoot()), 'ADS');
  const client = new Client(address, channelCredentials(ca, c), CHANNEL_OPTIONS);
  const metadata = new grpc.Metadata();
  if (c.token) metadata.set('authorization', `Bearer ${c.token}`);
  try {
    const open = (
      client as unknown as Record<
        string,
        (m: grpc.Metadata) => grpc.ClientDuplexStream<DiscoveryRequest, DecodedResponse>
      >
    )[ADS_METHOD];
    assert.ok(open);
    const call = open.call(client, metadata);
    const outcome = new Promise<Outcome>((resolve, reject) => {
      call.on('data', (response: DecodedResponse) => resolve({ response }));
      call.on('error', (error: grpc.ServiceError) => resolve({ error }));
      setTimeout(() => reject(new Error('no response or status within 5 s')), 5000).unref();
    });
    call.write({ node: n, type_url: CLUSTER_TYPE });
    const result = await outcome;
    call.on('error', () => {});
    call.cancel();
    return result;
  } finally {
    client.close();
  }
}

/** The server's certificate, verified against the mesh roots as istiod's DNS name. */
function serverCertificate(address: string, ca: LoadedCa): Promise<tls.PeerCertificate> {
  const host = address.slice(0, address.lastIndexOf(':'));
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host, port, ca: ca.authority.rootsPem(), servername: ISTIOD_DNS_NAME, ALPNProtocols: ['h2'] },
      () => {
        if (!socket.authorized) reject(new Error(`not verified: ${socket.authorizationError}`));
        else resolve(socket.getPeerCertificate());
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}

function refusedWith(outcome: Outcome, code: grpc.status, message: RegExp): void {
  assert.ok('error' in outcome, `expected ${grpc.status[code]}, got a response`);
  assert.equal(grpc.status[outcome.error.code], grpc.status[code], outcome.error.details);
  assert.match(outcome.error.details, message);
}

function served(outcome: Outcome): void {
  assert.ok('response' in outcome, `expected a response, got ${'error' in outcome && outcome.error.details}`);
  assert.ok(outcome.response.resources.some((r) => r.name === 'outbound|80||echo.default.svc.cluster.local'));
}

describe('the secure xDS port (15012)', { timeout: 60_000 }, () => {
  let ca: LoadedCa;
  let ads: AdsServer;
  let xds: SecureXds;
  let token: string;
  const events: AdsEvent[] = [];
  const connects = () => events.filter((e) => e.kind === 'connect');
  before(async () => {
    ({ ca } = await makeCa());
    ads = new AdsServer({ context: contextFrom(YAML), onEvent: (e) => events.push(e) });
    const model = modelFrom(YAML);
    xds = await startSecureXds({ address: '127.0.0.1:0', ads, ca, model: () => model });
    token = createToken(
      ca.tokenKey,
      { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'client' },
      3600,
    );
  });
  after(async () => {
    await xds?.close();
    await ads?.close();
  });

  it('serves a proxy that sends its bootstrap token; the ADS server is told who it authenticated as', async () => {
    const before = connects().length;
    served(await adsFirst(xds.address, ca, { token }, node()));
    assert.deepEqual(connects().slice(before), [
      {
        kind: 'connect',
        proxy: CLIENT_NODE,
        connection: connects()[before]?.connection,
        version: '',
        authenticated: { identity: 'spiffe://cluster.local/ns/default/sa/client', method: 'token' },
      },
    ]);
  });

  it('serves a proxy that presents its workload certificate, without a token (mTLS)', async () => {
    const cert = await issue(ca, 'default', 'client');
    const before = connects().length;
    served(await adsFirst(xds.address, ca, { cert }, node()));
    const connect = connects()[before];
    assert.ok(connect?.kind === 'connect');
    assert.deepEqual(connect.authenticated, {
      identity: 'spiffe://cluster.local/ns/default/sa/client',
      method: 'certificate',
    });
  });

  it('refuses a stream without a credential: UNAUTHENTICATED', async () => {
    refusedWith(await adsFirst(xds.address, ca, {}, node()), grpc.status.UNAUTHENTICATED, /no credential/);
  });

  it('refuses a certificate from another CA, and a bad token: UNAUTHENTICATED', async () => {
    const other = await makeCa();
    const cert = await issue(other.ca, 'default', 'client');
    refusedWith(
      await adsFirst(xds.address, ca, { cert }, node()),
      grpc.status.UNAUTHENTICATED,
      /no credential/,
    );
    const forged = createToken(
      other.ca.tokenKey,
      { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'client' },
      3600,
    );
    refusedWith(
      await adsFirst(xds.address, ca, { token: forged }, node()),
      grpc.status.UNAUTHENTICATED,
      /unknown_token/,
    );
  });

  it('refuses a node whose namespace or service account is not the identity: PERMISSION_DENIED', async () => {
    refusedWith(
      await adsFirst(xds.address, ca, { token }, node({ namespace: 'shop' })),
      grpc.status.PERMISSION_DENIED,
      /namespace "shop" does not match .*ns\/default\/sa\/client/,
    );
    const cert = await issue(ca, 'default', 'client');
    refusedWith(
      await adsFirst(xds.address, ca, { cert }, node({ serviceAccount: 'admin' })),
      grpc.status.PERMISSION_DENIED,
      /SERVICE_ACCOUNT "admin" does not match/,
    );
  });

  it('refuses a node that is no known WorkloadEntry, or another identity’s: PERMISSION_DENIED', async () => {
    refusedWith(
      await adsFirst(xds.address, ca, { token }, node({ ip: '127.0.1.77' })),
      grpc.status.PERMISSION_DENIED,
      /no WorkloadEntry in namespace "default" at the node's address 127\.0\.1\.77/,
    );
    const intruder = createToken(
      ca.tokenKey,
      { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'intruder' },
      3600,
    );
    refusedWith(
      await adsFirst(xds.address, ca, { token: intruder }, node({ serviceAccount: 'intruder' })),
      grpc.status.PERMISSION_DENIED,
      /client-0 with service account "client"\) does not run as .*sa\/intruder/,
    );
  });

  it('signs a CSR on the same port, by token and (renewal) by the current certificate', async () => {
    const identity = { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'client' };
    const spiffe = 'spiffe://cluster.local/ns/default/sa/client';
    const keys = await generateKeyPair('ec-p256');
    const csr = await createCsr(keys, [spiffe]);
    const byToken = new CaClient({ address: xds.address, rootCertPem: ca.authority.rootsPem() });
    try {
      const chain = await byToken.createCertificate(csr, createToken(ca.tokenKey, identity, 600), 3600);
      const [leaf] = parseCertificates(chain.join('\n'));
      assert.ok(leaf);
      assert.deepEqual(uriSans(leaf), [spiffe]);
    } finally {
      byToken.close();
    }
    const cert = await issue(ca, 'default', 'client');
    const Service = certificateService();
    const client = new Service(
      xds.address,
      channelCredentials(ca, { cert }),
      CHANNEL_OPTIONS,
    ) as unknown as grpc.Client & {
      CreateCertificate: (
        req: CertificateRequest,
        cb: (err: grpc.ServiceError | null, res?: CertificateResponse) => void,
      ) => void;
    };
    try {
      const renewed = await new Promise<CertificateResponse>((resolve, reject) =>
        client.CreateCertificate({ csr, validity_duration: 3600 }, (err, res) =>
          err || !res ? reject(err ?? new Error('no response')) : resolve(res),
        ),
      );
      const [leaf] = parseCertificates(renewed.cert_chain.join('\n'));
      assert.ok(leaf);
      assert.deepEqual(uriSans(leaf), [spiffe]);
      // Without a credential: refused.
      const anonymous = new Service(
        xds.address,
        channelCredentials(ca, {}),
        CHANNEL_OPTIONS,
      ) as unknown as typeof client;
      try {
        const err = await new Promise<grpc.ServiceError>((resolve, reject) =>
          anonymous.CreateCertificate({ csr, validity_duration: 3600 }, (e) =>
            e ? resolve(e) : reject(new Error('signed without a credential')),
          ),
        );
        assert.equal(err.code, grpc.status.UNAUTHENTICATED);
      } finally {
        anonymous.close();
      }
    } finally {
      client.close();
    }
  });

  it('has a server certificate that verifies against the mesh root, with istiod’s SAN and its address', async () => {
    const [host, port] = [xds.address.slice(0, xds.address.lastIndexOf(':')), xds.address.split(':').pop()];
    const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const socket = tls.connect(
        {
          host,
          port: Number(port),
          ca: ca.authority.rootsPem(),
          servername: ISTIOD_DNS_NAME,
          ALPNProtocols: ['h2'],
        },
        () => {
          assert.equal(socket.authorized, true, String(socket.authorizationError));
          resolve(socket.getPeerCertificate());
          socket.end();
        },
      );
      socket.on('error', reject);
    });
    const sans = peer.subjectaltname ?? '';
    assert.match(sans, /DNS:istiod\.istio-system\.svc/);
    assert.match(sans, /IP Address:127\.0\.0\.1/);
    assert.match(sans, /URI:spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/istiod/);
    // And by the address itself (IP SAN), as a client without a name override checks it.
    const byIp = await new Promise<boolean>((resolve, reject) => {
      const socket = tls.connect(
        { host, port: Number(port), ca: ca.authority.rootsPem(), ALPNProtocols: ['h2'] },
        () => {
          resolve(socket.authorized);
          socket.end();
        },
      );
      socket.on('error', reject);
    });
    assert.equal(byIp, true);
  });

  it('passes every request of an authorized stream to the ADS server, in order (ACK, then EDS)', async () => {
    const Client = grpc.makeGenericClientConstructor(adsServiceDefinition(envoyRoot()), 'ADS');
    const client = new Client(xds.address, channelCredentials(ca, { token }), CHANNEL_OPTIONS);
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    try {
      const call = (
        client as unknown as Record<
          string,
          (m: grpc.Metadata) => grpc.ClientDuplexStream<DiscoveryRequest, DecodedResponse>
        >
      )[ADS_METHOD]?.call(client, metadata);
      assert.ok(call);
      const responses: DecodedResponse[] = [];
      const waiter = (n: number) =>
        new Promise<void>((resolve, reject) => {
          const check = () => responses.length >= n && resolve();
          call.on('data', (r: DecodedResponse) => {
            responses.push(r);
            check();
          });
          call.on('error', reject);
          setTimeout(
            () => reject(new Error(`${responses.length} of ${n} responses within 5 s`)),
            5000,
          ).unref();
        });
      const two = waiter(2);
      // Written back to back: the gate holds the later requests until the first is authorized.
      call.write({ node: node(), type_url: CLUSTER_TYPE });
      call.write({
        type_url: ENDPOINT_TYPE,
        resource_names: ['outbound|80||echo.default.svc.cluster.local'],
      });
      await two;
      assert.deepEqual(
        responses.map((r) => r.type_url),
        [CLUSTER_TYPE, ENDPOINT_TYPE],
      );
      const status = ads.status().find((c) => c.proxyId === 'client-0.default' && c.types.length === 2);
      assert.ok(status);
      assert.deepEqual(status.authenticated, {
        identity: 'spiffe://cluster.local/ns/default/sa/client',
        method: 'token',
      });
      call.on('error', () => {});
      call.cancel();
    } finally {
      client.close();
    }
  });

  it('refuses a bad address and a port in use, with the address; nothing is left listening', async () => {
    await assert.rejects(
      () => startSecureXds({ address: 'localhost', ads, ca, model: () => undefined }),
      /"localhost": expected HOST:PORT/,
    );
    await assert.rejects(
      () => startSecureXds({ address: xds.address, ads, ca, model: () => undefined }),
      new RegExp(`${xds.address.replace(/[.[\]]/g, '\\$&')}: cannot listen`),
    );
  });

  it('renews its server certificate at half its lifetime; new handshakes get the new one', async () => {
    const short = await startSecureXds({
      address: '127.0.0.1:0',
      ads,
      ca,
      model: () => undefined,
      serverCertTtlSeconds: 4,
    });
    try {
      const serial = async () => (await serverCertificate(short.address, ca)).serialNumber;
      const first = await serial();
      const deadline = Date.now() + 8000;
      let now = first;
      while (now === first && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        now = await serial();
      }
      assert.notEqual(now, first, 'the server certificate was not renewed within 8 s');
    } finally {
      await short.close();
    }
  });

  it('leaves the same AdsServer’s plaintext port unauthenticated (loopback only)', async () => {
    const plain = await ads.listen('127.0.0.1:0');
    const before = connects().length;
    const Client = grpc.makeGenericClientConstructor(adsServiceDefinition(envoyRoot()), 'ADS');
    const client = new Client(plain.address, grpc.credentials.createInsecure());
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
      call.write({ node: { id: CLIENT_NODE, metadata: {} }, type_url: CLUSTER_TYPE });
      assert.ok((await first).resources.length > 0);
      const connect = connects()[before];
      assert.ok(connect?.kind === 'connect');
      assert.equal(connect.authenticated, undefined, 'a plaintext stream is not authenticated');
      const status = ads.status().find((c) => c.id === connect.connection);
      assert.ok(status);
      assert.equal(status.authenticated, undefined);
      call.on('error', () => {});
      call.cancel();
    } finally {
      client.close();
    }
  });
});
