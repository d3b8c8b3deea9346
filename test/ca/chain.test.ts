import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { chainProblem, isCa, isSelfSigned, keyMatchesCertificate } from '../../src/ca/chain.js';
import {
  createLeafCertificate,
  createRootCertificate,
  generateKeyPair,
  privateKeyToPem,
  randomSerial,
  signingAlgorithm,
  x509,
} from '../../src/ca/x509.js';

const NOW = new Date();
const DAY = 24 * 3600 * 1000;

interface Ca {
  certificate: x509.X509Certificate;
  keys: CryptoKeyPair;
}

async function root(trustDomain = 'cluster.local', from = -DAY, to = 365 * DAY): Promise<Ca> {
  const keys = await generateKeyPair('ec-p256');
  const certificate = await createRootCertificate({
    trustDomain,
    keys,
    notBefore: new Date(NOW.getTime() + from),
    notAfter: new Date(NOW.getTime() + to),
  });
  return { certificate, keys };
}

async function intermediate(issuer: Ca, name: string, ca = true, from = -DAY, to = 30 * DAY): Promise<Ca> {
  const keys = await generateKeyPair('ec-p256');
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: name,
    issuer: issuer.certificate.subject,
    notBefore: new Date(NOW.getTime() + from),
    notAfter: new Date(NOW.getTime() + to),
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: signingAlgorithm(issuer.keys.privateKey),
    extensions: [new x509.BasicConstraintsExtension(ca, undefined, true)],
  });
  return { certificate, keys };
}

async function leaf(issuer: Ca): Promise<x509.X509Certificate> {
  const keys = await generateKeyPair('ec-p256');
  return createLeafCertificate({
    publicKey: keys.publicKey,
    uris: ['spiffe://cluster.local/ns/a/sa/b'],
    issuer: { certificate: issuer.certificate, privateKey: issuer.keys.privateKey },
    notBefore: new Date(NOW.getTime() - 60_000),
    notAfter: new Date(NOW.getTime() + DAY),
  });
}

describe('chainProblem', () => {
  let r: Ca;
  let other: Ca;
  let mid: Ca;
  before(async () => {
    r = await root();
    other = await root('other.td');
    mid = await intermediate(r, 'O=cluster.local, CN=Intermediate');
  });

  it('a root alone verifies to itself', async () => {
    assert.equal(await chainProblem([r.certificate], [r.certificate]), undefined);
  });

  it('root → intermediate → leaf verifies', async () => {
    assert.equal(await chainProblem([await leaf(mid), mid.certificate], [r.certificate]), undefined);
    assert.equal(await chainProblem([mid.certificate], [r.certificate]), undefined);
  });

  it('a bundle of two roots: either one’s chain verifies', async () => {
    const otherMid = await intermediate(other, 'O=other.td, CN=Intermediate');
    assert.equal(await chainProblem([mid.certificate], [other.certificate, r.certificate]), undefined);
    assert.equal(await chainProblem([otherMid.certificate], [other.certificate, r.certificate]), undefined);
  });

  it('an empty chain', async () => {
    assert.equal(await chainProblem([], [r.certificate]), 'the chain is empty');
  });

  it('no root in the bundle issued it', async () => {
    assert.match(
      (await chainProblem([mid.certificate], [other.certificate])) ?? '',
      /^no root in the bundle issued "O=cluster.local, CN=Intermediate" \(its issuer is "O=cluster.local"\)$/,
    );
  });

  it('a root with the same name but another key: the signature does not verify', async () => {
    const impostor = await root('cluster.local');
    assert.match(
      (await chainProblem([mid.certificate], [impostor.certificate])) ?? '',
      /the signature of "O=cluster.local, CN=Intermediate" does not verify with any root named "O=cluster.local"/,
    );
  });

  it('an issuer that is not a CA', async () => {
    const notCa = await intermediate(r, 'CN=not a CA', false);
    const below = await intermediate(notCa, 'CN=below');
    assert.match(
      (await chainProblem([below.certificate, notCa.certificate], [r.certificate])) ?? '',
      /"CN=not a CA" signs certificates but is not a CA/,
    );
  });

  it('a certificate out of its validity period (expired, or not yet valid)', async () => {
    const expired = await intermediate(r, 'CN=expired', true, -2 * DAY, -DAY);
    assert.match(
      (await chainProblem([expired.certificate], [r.certificate])) ?? '',
      /certificate "CN=expired" is not valid now \(valid .* to .*\)/,
    );
    const future = await intermediate(r, 'CN=future', true, DAY, 2 * DAY);
    assert.match(
      (await chainProblem([future.certificate], [r.certificate])) ?? '',
      /"CN=future" is not valid now/,
    );
    const oldRoot = await root('cluster.local', -2 * DAY, -DAY);
    assert.match(
      (await chainProblem([oldRoot.certificate], [oldRoot.certificate])) ?? '',
      /"O=cluster.local" is not valid now/,
    );
  });

  it('`now` is honoured', async () => {
    assert.equal(
      await chainProblem([mid.certificate], [r.certificate], new Date(NOW.getTime() + DAY)),
      undefined,
    );
    assert.match(
      (await chainProblem([mid.certificate], [r.certificate], new Date(NOW.getTime() + 60 * DAY))) ?? '',
      /not valid now/,
    );
  });

  it('links out of order do not verify', async () => {
    const l = await leaf(mid);
    assert.notEqual(await chainProblem([mid.certificate, l], [r.certificate]), undefined);
  });

  it('isCa / isSelfSigned', async () => {
    assert.equal(isCa(r.certificate), true);
    assert.equal(isSelfSigned(r.certificate), true);
    assert.equal(isCa(mid.certificate), true);
    assert.equal(isSelfSigned(mid.certificate), false);
    const l = await leaf(mid);
    assert.equal(isCa(l), false);
    assert.equal(isSelfSigned(l), false);
  });
});

describe('keyMatchesCertificate', () => {
  it('true for the certificate’s own key, in any PEM form; false for another key', async () => {
    const r = await root();
    assert.equal(keyMatchesCertificate(await privateKeyToPem(r.keys.privateKey), r.certificate), true);
    const other = await generateKeyPair('ec-p256');
    assert.equal(keyMatchesCertificate(await privateKeyToPem(other.privateKey), r.certificate), false);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    assert.equal(
      keyMatchesCertificate(rsa.export({ type: 'pkcs1', format: 'pem' }).toString(), r.certificate),
      false,
    );
  });
});

describe('chainProblem: root rotation bundles', () => {
  it('an expired old root in the bundle does not block a chain to the new root', async () => {
    const expiredOld = await root('old.example', -30 * DAY, -DAY);
    const current = await root('cluster.local');
    const signer = await intermediate(current, 'O=cluster.local, CN=Intermediate');
    assert.equal(
      await chainProblem([signer.certificate], [expiredOld.certificate, current.certificate], NOW),
      undefined,
    );
  });

  it('but an expired issuing root does', async () => {
    const expired = await root('cluster.local', -30 * DAY, -DAY);
    const signer = await intermediate(expired, 'O=cluster.local, CN=Intermediate', true, -2 * DAY, 30 * DAY);
    assert.match(
      (await chainProblem([signer.certificate], [expired.certificate], NOW)) ?? '',
      /is not valid now/,
    );
  });
});
