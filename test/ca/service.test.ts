import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CaClient, CaClientError } from '../../src/ca/client.js';
import { certificateService } from '../../src/ca/proto.js';
import type { CaService } from '../../src/ca/service.js';
import { boundPort, serveMetrics } from '../../src/ca/service.js';
import { initCa, type LoadedCa, loadCa } from '../../src/ca/store.js';
import { createToken } from '../../src/ca/token.js';
import {
  createCsr,
  fingerprint,
  generateKeyPair,
  signingAlgorithm,
  subjectAltNames,
  x509,
} from '../../src/ca/x509.js';
import { startCaService } from '../../src/cli/commands/ca.js';

const ID = { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'cart' };
const SPIFFE = 'spiffe://cluster.local/ns/shop/sa/cart';

const base = mkdtempSync(path.join(tmpdir(), 'skiff-ca-service-'));
let ca: LoadedCa;
let otherCa: LoadedCa;
let service: CaService;
let client: CaClient;
let metrics: http.Server | undefined;

before(async () => {
  await initCa(path.join(base, 'ca'), { trustDomain: 'cluster.local', keyType: 'ec-p256' });
  await initCa(path.join(base, 'other'), { trustDomain: 'cluster.local', keyType: 'ec-p256' });
  ca = await loadCa(path.join(base, 'ca'));
  otherCa = await loadCa(path.join(base, 'other'));
  service = await startCaService(ca, { host: '127.0.0.1', port: 0 });
  client = new CaClient({
    address: `127.0.0.1:${service.port}`,
    rootCertPem: ca.authority.rootsPem(),
    timeoutMs: 10_000,
  });
});

after(async () => {
  client?.close();
  metrics?.close();
  await service?.close();
  rmSync(base, { recursive: true, force: true });
});

async function refusedCount(reason: string): Promise<number> {
  const text = await service.registry.getSingleMetricAsString('skiff_ca_csr_refused_total');
  const m = new RegExp(`^skiff_ca_csr_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function issuedCount(): Promise<number> {
  const text = await service.registry.getSingleMetricAsString('skiff_ca_csr_issued_total');
  return Number(/^skiff_ca_csr_issued_total (\d+)$/m.exec(text)?.[1] ?? 0);
}

async function goodCsr(uris = [SPIFFE]): Promise<string> {
  return createCsr(await generateKeyPair('ec-p256'), uris);
}

const token = (o: { key?: Buffer; ttl?: number; now?: Date; id?: typeof ID } = {}) =>
  createToken(o.key ?? ca.tokenKey, o.id ?? ID, o.ttl ?? 3600, o.now);

/** Sends a request that must be refused with `code` and `reason`, and counted once under that reason. */
async function expectRefused(
  send: () => Promise<unknown>,
  code: string,
  reason: string,
  message: RegExp,
): Promise<void> {
  const before = await refusedCount(reason);
  const issued = await issuedCount();
  await assert.rejects(send(), (e: unknown) => {
    assert.ok(e instanceof CaClientError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, new RegExp(`${reason}: `));
    assert.match(e.message, message);
    return true;
  });
  assert.equal(await refusedCount(reason), before + 1, `skiff_ca_csr_refused_total{reason="${reason}"}`);
  assert.equal(await issuedCount(), issued, 'nothing issued');
}

describe('CA service over gRPC (TLS on 127.0.0.1)', { timeout: 60_000 }, () => {
  it('a good CSR gets [leaf, root]: the token’s SPIFFE ID, signed by the root', async () => {
    const issued = await issuedCount();
    const chain = await client.createCertificate(await goodCsr(), token(), 0);
    assert.equal(chain.length, 2);
    const [leaf, root] = chain.map((p) => new x509.X509Certificate(p)) as [
      x509.X509Certificate,
      x509.X509Certificate,
    ];
    assert.deepEqual(subjectAltNames(leaf), [{ type: 'url', value: SPIFFE }]);
    assert.equal(leaf.subject, '');
    assert.equal(
      await fingerprint(root),
      await fingerprint(ca.authority.material.roots[0] as x509.X509Certificate),
    );
    assert.equal(await leaf.verify({ publicKey: root.publicKey, signatureOnly: true }), true);
    const hours = (leaf.notAfter.getTime() - Date.now()) / 3600_000;
    assert.ok(hours > 23.9 && hours <= 24, `default lifetime 24 h, got ${hours} h`);
    assert.equal(await issuedCount(), issued + 1);
  });

  it('validity_duration is honoured, and cut to the maximum', async () => {
    const [short] = await client.createCertificate(await goodCsr(), token(), 5400);
    const minutes = (new x509.X509Certificate(short as string).notAfter.getTime() - Date.now()) / 60_000;
    assert.ok(minutes > 89 && minutes <= 90, `90 minutes, got ${minutes}`);
    const [long] = await client.createCertificate(await goodCsr(), token(), 365 * 24 * 3600);
    const days = (new x509.X509Certificate(long as string).notAfter.getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 89.9 && days <= 90, `cut to 90 days, got ${days}`);
  });

  it('an RSA 2048 CSR is signed', async () => {
    const chain = await client.createCertificate(
      await createCsr(await generateKeyPair('rsa2048'), [SPIFFE]),
      token(),
      0,
    );
    assert.equal(chain.length, 2);
  });

  it('the service’s own certificate is from the same CA, for 127.0.0.1', async () => {
    // The client above verified it against ca's roots; a client trusting another CA cannot connect.
    const stranger = new CaClient({
      address: `127.0.0.1:${service.port}`,
      rootCertPem: otherCa.authority.rootsPem(),
      timeoutMs: 5000,
    });
    try {
      await assert.rejects(stranger.createCertificate(await goodCsr(), token(), 0), (e: unknown) => {
        assert.ok(e instanceof CaClientError);
        assert.equal(e.code, 'UNAVAILABLE');
        return true;
      });
    } finally {
      stranger.close();
    }
  });

  it('refused: no token → UNAUTHENTICATED missing_token', async () => {
    await expectRefused(
      async () => client.createCertificate(await goodCsr(), '', 0),
      'UNAUTHENTICATED',
      'missing_token',
      /no token/,
    );
  });

  it('refused: no authorization header at all (a raw Istio client) → missing_token', async () => {
    const Service = certificateService();
    // By name: grpc-js's own credentials would send the IP address as the TLS server name (Node's DEP0123).
    const raw = new Service(
      `localhost:${service.port}`,
      grpc.credentials.createSsl(Buffer.from(ca.authority.rootsPem())),
    ) as unknown as grpc.Client & {
      CreateCertificate: (
        req: { csr: string; validity_duration: number },
        options: grpc.CallOptions,
        cb: (err: grpc.ServiceError | null) => void,
      ) => void;
    };
    const before = await refusedCount('missing_token');
    const csr = await goodCsr();
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        raw.CreateCertificate({ csr, validity_duration: 0 }, { deadline: Date.now() + 10_000 }, resolve),
      );
      assert.equal(err?.code, grpc.status.UNAUTHENTICATED);
      assert.match(err?.details ?? '', /^missing_token: no token/);
    } finally {
      raw.close();
    }
    assert.equal(await refusedCount('missing_token'), before + 1);
  });

  it('refused: a token signed with another CA’s key → UNAUTHENTICATED unknown_token', async () => {
    await expectRefused(
      async () => client.createCertificate(await goodCsr(), token({ key: otherCa.tokenKey }), 0),
      'UNAUTHENTICATED',
      'unknown_token',
      /not issued by this CA/,
    );
  });

  it('refused: a tampered token (bad signature) → unknown_token', async () => {
    const t = token();
    const forged = `${t.slice(0, -2)}${t.endsWith('AA') ? 'BB' : 'AA'}`;
    await expectRefused(
      async () => client.createCertificate(await goodCsr(), forged, 0),
      'UNAUTHENTICATED',
      'unknown_token',
      /not issued by this CA/,
    );
  });

  it('refused: a token that is not a token → unknown_token', async () => {
    await expectRefused(
      async () => client.createCertificate(await goodCsr(), 'hello', 0),
      'UNAUTHENTICATED',
      'unknown_token',
      /bad format or signature/,
    );
  });

  it('refused: a token for another trust domain, even with this CA’s key → unknown_token', async () => {
    const id = { ...ID, trustDomain: 'other.td' };
    await expectRefused(
      async () =>
        client.createCertificate(await goodCsr(['spiffe://other.td/ns/shop/sa/cart']), token({ id }), 0),
      'UNAUTHENTICATED',
      'unknown_token',
      /trust domain other\.td, not cluster\.local/,
    );
  });

  it('refused: an expired token → UNAUTHENTICATED expired_token', async () => {
    const expired = token({ ttl: 60, now: new Date(Date.now() - 3600_000) });
    await expectRefused(
      async () => client.createCertificate(await goodCsr(), expired, 0),
      'UNAUTHENTICATED',
      'expired_token',
      /the token expired at/,
    );
  });

  it('refused: a CSR for another SPIFFE ID → PERMISSION_DENIED identity_mismatch', async () => {
    await expectRefused(
      async () =>
        client.createCertificate(await goodCsr(['spiffe://cluster.local/ns/shop/sa/admin']), token(), 0),
      'PERMISSION_DENIED',
      'identity_mismatch',
      /asks for spiffe:\/\/cluster\.local\/ns\/shop\/sa\/admin; the caller may only get spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart/,
    );
  });

  it('refused: a CSR with its own ID plus another → identity_mismatch', async () => {
    await expectRefused(
      async () =>
        client.createCertificate(
          await goodCsr([SPIFFE, 'spiffe://cluster.local/ns/kube-system/sa/admin']),
          token(),
          0,
        ),
      'PERMISSION_DENIED',
      'identity_mismatch',
      /may only get/,
    );
  });

  it('refused: a CSR whose signature was tampered with → INVALID_ARGUMENT bad_csr_signature', async () => {
    const csr = new x509.Pkcs10CertificateRequest(await goodCsr());
    const der = Buffer.from(csr.rawData);
    // The signature BIT STRING ends the DER: flip a bit of its last byte.
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
    const tampered = x509.PemConverter.encode(der, 'CERTIFICATE REQUEST');
    assert.equal(
      await new x509.Pkcs10CertificateRequest(tampered).verify(),
      false,
      'the tampered CSR parses but does not verify',
    );
    await expectRefused(
      () => client.createCertificate(tampered, token(), 0),
      'INVALID_ARGUMENT',
      'bad_csr_signature',
      /signature does not verify/,
    );
  });

  it('refused: a CSR asking for CA:TRUE → INVALID_ARGUMENT ca_requested', async () => {
    const keys = await generateKeyPair('ec-p256');
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: [],
      keys,
      signingAlgorithm: signingAlgorithm(keys.privateKey),
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: SPIFFE }], true),
      ],
    });
    assert.equal(await csr.verify(), true);
    await expectRefused(
      () => client.createCertificate(csr.toString('pem'), token(), 0),
      'INVALID_ARGUMENT',
      'ca_requested',
      /CA:TRUE/,
    );
  });

  for (const [name, garbage] of [
    ['garbage text', 'garbage'],
    ['random bytes', Buffer.from([0x30, 0x82, 0xff, 0x00, 0x13, 0x37, 0xde, 0xad]).toString('latin1')],
    [
      'a PEM block that is not a CSR',
      '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n',
    ],
    ['an empty CSR', ''],
  ] as const) {
    it(`refused: ${name} as the CSR → INVALID_ARGUMENT malformed_csr`, async () => {
      await expectRefused(
        () => client.createCertificate(garbage, token(), 0),
        'INVALID_ARGUMENT',
        'malformed_csr',
        garbage === '' ? /the request carries no CSR/ : /not a PEM certificate signing request/,
      );
    });
  }

  it('refused: a certificate (not a CSR) → malformed_csr', async () => {
    await expectRefused(
      () => client.createCertificate(ca.authority.rootsPem(), token(), 0),
      'INVALID_ARGUMENT',
      'malformed_csr',
      /not a PEM certificate signing request/,
    );
  });

  it('the token is checked before the CSR: garbage without a token is missing_token', async () => {
    await expectRefused(
      () => client.createCertificate('garbage', '', 0),
      'UNAUTHENTICATED',
      'missing_token',
      /no token/,
    );
  });

  it('serveMetrics exposes the counters at /metrics (and only there)', async () => {
    metrics = await serveMetrics(service.registry, '127.0.0.1', 0);
    const port = boundPort(metrics);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    assert.match(body, /# TYPE skiff_ca_csr_refused_total counter/);
    for (const reason of [
      'missing_token',
      'unknown_token',
      'expired_token',
      'identity_mismatch',
      'bad_csr_signature',
      'ca_requested',
      'malformed_csr',
    ]) {
      assert.match(
        body,
        new RegExp(`^skiff_ca_csr_refused_total\\{reason="${reason}"\\} [1-9]\\d*$`, 'm'),
        reason,
      );
    }
    assert.match(body, /^skiff_ca_csr_issued_total [1-9]\d*$/m);
    // Istio's names for the same events (security/pkg/server/ca/monitoring.go), for dashboards built on istiod.
    const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(body)?.[1] ?? -1);
    const issued = value('skiff_ca_csr_issued_total');
    assert.equal(value('citadel_server_success_cert_issuance_count'), issued);
    assert.ok(value('citadel_server_csr_count') > issued, 'every CSR counted, refused ones too');
    assert.ok(value('citadel_server_authentication_failure_count') >= 2, 'missing and unknown tokens');
    assert.ok(value('citadel_server_csr_parsing_err_count') >= 1, 'a malformed CSR');
    const other = await fetch(`http://127.0.0.1:${port}/nope`, { signal: AbortSignal.timeout(5000) });
    assert.equal(other.status, 404);
    await other.text();
  });
});
