import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { CertificateAuthority } from '../../src/ca/authority.js';
import {
  createCsr,
  createRootCertificate,
  fingerprint,
  generateKeyPair,
  signingAlgorithm,
  subjectAltNames,
  x509,
} from '../../src/ca/x509.js';

const NOW = new Date();
const DAY = 86_400_000;
const ID = { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'cart' };
const SPIFFE = 'spiffe://cluster.local/ns/shop/sa/cart';

async function root(): Promise<{ certificate: x509.X509Certificate; keys: CryptoKeyPair }> {
  const keys = await generateKeyPair('ec-p256');
  const certificate = await createRootCertificate({
    trustDomain: 'cluster.local',
    keys,
    notBefore: new Date(NOW.getTime() - DAY),
    notAfter: new Date(NOW.getTime() + 365 * DAY),
  });
  return { certificate, keys };
}

function authority(
  signer: { certificate: x509.X509Certificate; keys: CryptoKeyPair },
  roots: x509.X509Certificate[],
  maxTtlSeconds = 90 * 86_400,
): CertificateAuthority {
  return new CertificateAuthority({
    trustDomain: 'cluster.local',
    root: signer.certificate,
    signer: { certificate: signer.certificate, privateKey: signer.keys.privateKey },
    chain: [],
    roots,
    defaultTtlSeconds: 86_400,
    maxTtlSeconds,
  });
}

describe('CertificateAuthority.signCsr', () => {
  let own: Awaited<ReturnType<typeof root>>;
  let old: Awaited<ReturnType<typeof root>>;
  before(async () => {
    own = await root();
    old = await root();
  });

  it('returns Istio’s cert_chain: the leaf for the caller, then the root', async () => {
    const ca = authority(own, [own.certificate]);
    const result = await ca.signCsr(
      await createCsr(await generateKeyPair('ec-p256'), [SPIFFE]),
      ID,
      undefined,
      NOW,
    );
    assert.equal(result.ok, true);
    if (!result.ok) return;
    assert.equal(result.certChain.length, 2);
    assert.deepEqual(subjectAltNames(result.leaf), [{ type: 'url', value: SPIFFE }]);
    assert.equal(result.certChain[1], own.certificate.toString('pem'));
    assert.equal(result.warning, undefined);
    // 24 h from now, back-dated 5 minutes (both ends truncated to the same second fraction).
    assert.equal(result.leaf.notAfter.getTime() - result.leaf.notBefore.getTime(), DAY + 5 * 60_000);
  });

  it('a request over the maximum is cut, and the warning is returned', async () => {
    const ca = authority(own, [own.certificate], 3600);
    const result = await ca.signCsr(
      await createCsr(await generateKeyPair('ec-p256'), [SPIFFE]),
      ID,
      7200,
      NOW,
    );
    assert.equal(result.ok, true);
    if (!result.ok) return;
    assert.match(result.warning ?? '', /requested lifetime 2h exceeds the maximum 1h: cut to 1h/);
    assert.ok(result.leaf.notAfter.getTime() <= NOW.getTime() + 3600_000);
  });

  it('with a trust bundle listing an older root first, the root last in cert_chain is the one that signed', async () => {
    // A root rotation: root-cert.pem holds the old root and the new one, in either order.
    const ca = authority(own, [old.certificate, own.certificate]);
    const result = await ca.signCsr(
      await createCsr(await generateKeyPair('ec-p256'), [SPIFFE]),
      ID,
      undefined,
      NOW,
    );
    assert.equal(result.ok, true);
    if (!result.ok) return;
    const last = new x509.X509Certificate(result.certChain.at(-1) as string);
    assert.equal(
      await fingerprint(last),
      await fingerprint(own.certificate),
      'cert_chain ends with the root that issued the leaf',
    );
    assert.equal(await result.leaf.verify({ publicKey: last.publicKey, signatureOnly: true }), true);
    assert.equal(
      ca.rootsPem().match(/BEGIN CERTIFICATE/g)?.length,
      2,
      'root-cert.pem still carries both roots',
    );
  });

  it('refuses a CSR whose key is neither P-256 nor RSA 2048/4096 (unsupported_key)', async () => {
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: [],
      keys,
      signingAlgorithm: signingAlgorithm(keys.privateKey),
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: SPIFFE }], true)],
    });
    const result = await authority(own, [own.certificate]).signCsr(csr.toString('pem'), ID);
    assert.equal(result.ok ? 'ok' : result.reason, 'unsupported_key');
  });

  it('issueServerCertificate: the SPIFFE ID first, then DNS names and IPs; the chain has no root', async () => {
    const ca = authority(own, [own.certificate]);
    const server = await ca.issueServerCertificate({
      identity: { trustDomain: 'cluster.local', namespace: 'istio-system', serviceAccount: 'skiff-ca' },
      dnsNames: ['localhost'],
      ips: ['127.0.0.1'],
      ttlSeconds: 3600,
      now: NOW,
    });
    assert.match(server.keyPem, /BEGIN PRIVATE KEY/);
    assert.equal(server.certChainPem.match(/BEGIN CERTIFICATE/g)?.length, 1);
    const leaf = new x509.X509Certificate(server.certChainPem);
    assert.deepEqual(subjectAltNames(leaf), [
      { type: 'url', value: 'spiffe://cluster.local/ns/istio-system/sa/skiff-ca' },
      { type: 'dns', value: 'localhost' },
      { type: 'ip', value: '127.0.0.1' },
    ]);
    assert.equal(server.notAfter.getTime(), NOW.getTime() + 3600_000);
  });
});
