import assert from 'node:assert/strict';
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  createCsr,
  createLeafCertificate,
  createRootCertificate,
  fingerprint,
  generateKeyPair,
  importPrivateKeyPem,
  keyTypeOf,
  parseCertificates,
  privateKeyToPem,
  randomSerial,
  subjectAltNames,
  toPem,
  uriSans,
  x509,
} from '../../src/ca/x509.js';

const NOW = new Date();
const HOUR = 3600 * 1000;
const SPIFFE = 'spiffe://cluster.local/ns/shop/sa/cart';

async function makeRoot(keyType: 'ec-p256' | 'rsa2048' = 'ec-p256') {
  const keys = await generateKeyPair(keyType);
  const certificate = await createRootCertificate({
    trustDomain: 'cluster.local',
    keys,
    notBefore: new Date(NOW.getTime() - HOUR),
    notAfter: new Date(NOW.getTime() + 24 * HOUR),
  });
  return { certificate, keys };
}

describe('x509: root certificate', () => {
  it('is self-signed, O=<trust domain>, CA:TRUE (critical), keyCertSign + cRLSign (critical), with a SKID', async () => {
    const { certificate: root } = await makeRoot();
    assert.equal(root.subject, 'O=cluster.local');
    assert.equal(root.issuer, root.subject);
    assert.equal(await root.verify({ signatureOnly: true }), true);
    const bc = root.getExtension(x509.BasicConstraintsExtension);
    assert.equal(bc?.ca, true);
    assert.equal(bc?.critical, true);
    const ku = root.getExtension(x509.KeyUsagesExtension);
    assert.equal(ku?.critical, true);
    assert.ok(ku && ku.usages & x509.KeyUsageFlags.keyCertSign);
    assert.ok(ku && ku.usages & x509.KeyUsageFlags.cRLSign);
    assert.ok(root.getExtension(x509.SubjectKeyIdentifierExtension));
  });

  it('an RSA root signs with RSASSA-PKCS1-v1_5 / SHA-256', async () => {
    const { certificate: root, keys } = await makeRoot('rsa2048');
    assert.equal(keyTypeOf(keys.privateKey), 'rsa2048');
    assert.equal(root.signatureAlgorithm.name, 'RSASSA-PKCS1-v1_5');
    assert.equal(await root.verify({ signatureOnly: true }), true);
  });
});

describe('x509: workload certificate', () => {
  it('empty subject, one critical SPIFFE URI SAN, CA:FALSE, digitalSignature + keyEncipherment, server + client auth', async () => {
    const root = await makeRoot();
    const keys = await generateKeyPair('ec-p256');
    const leaf = await createLeafCertificate({
      publicKey: keys.publicKey,
      uris: [SPIFFE],
      issuer: { certificate: root.certificate, privateKey: root.keys.privateKey },
      notBefore: new Date(NOW.getTime() - 5 * 60 * 1000),
      notAfter: new Date(NOW.getTime() + HOUR),
    });
    assert.equal(leaf.subject, '');
    assert.equal(leaf.issuer, 'O=cluster.local');
    assert.equal(await leaf.verify({ publicKey: root.certificate.publicKey, signatureOnly: true }), true);
    const san = leaf.getExtension(x509.SubjectAlternativeNameExtension);
    assert.equal(san?.critical, true);
    assert.deepEqual(subjectAltNames(leaf), [{ type: 'url', value: SPIFFE }]);
    const bc = leaf.getExtension(x509.BasicConstraintsExtension);
    assert.equal(bc?.ca, false);
    const ku = leaf.getExtension(x509.KeyUsagesExtension);
    assert.equal(ku?.usages, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
    const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension);
    assert.deepEqual(
      [...(eku?.usages ?? [])].sort(),
      [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth].sort(),
    );
    const aki = leaf.getExtension(x509.AuthorityKeyIdentifierExtension);
    const skid = root.certificate.getExtension(x509.SubjectKeyIdentifierExtension);
    assert.equal(aki?.keyId, skid?.keyId);
    assert.equal(leaf.notBefore.getTime(), Math.floor((NOW.getTime() - 5 * 60 * 1000) / 1000) * 1000);
  });

  it('a server certificate may add DNS names and IPs after the URI', async () => {
    const root = await makeRoot();
    const keys = await generateKeyPair('ec-p256');
    const leaf = await createLeafCertificate({
      publicKey: keys.publicKey,
      uris: [SPIFFE],
      dnsNames: ['localhost'],
      ips: ['127.0.0.1'],
      issuer: { certificate: root.certificate, privateKey: root.keys.privateKey },
      notBefore: NOW,
      notAfter: new Date(NOW.getTime() + HOUR),
    });
    assert.deepEqual(subjectAltNames(leaf), [
      { type: 'url', value: SPIFFE },
      { type: 'dns', value: 'localhost' },
      { type: 'ip', value: '127.0.0.1' },
    ]);
    assert.deepEqual(uriSans(leaf), [SPIFFE]);
  });

  it('two certificates get different positive serials of at most 128 bits', async () => {
    const root = await makeRoot();
    const a = root.certificate.serialNumber;
    const b = (await makeRoot()).certificate.serialNumber;
    assert.notEqual(a, b);
    for (const serial of [a, b]) {
      assert.match(serial, /^[0-9a-f]+$/);
      assert.ok(serial.length <= 32, serial);
    }
  });
});

describe('x509: randomSerial', () => {
  it('128 random bits, kept positive with a leading zero byte when the top bit is set, never repeated', () => {
    const seen = new Set<string>();
    let topBitSet = 0;
    for (let i = 0; i < 2000; i++) {
      const s = randomSerial();
      assert.match(s, /^([0-7][0-9a-f]{31}|00[89a-f][0-9a-f]{31})$/);
      if (s.length === 34) topBitSet++;
      seen.add(s);
    }
    assert.equal(seen.size, 2000);
    assert.ok(topBitSet > 800 && topBitSet < 1200, `top bit set in ${topBitSet} of 2000`);
  });
});

describe('x509: CSR', () => {
  it('has an empty subject, the URI SANs, a valid signature', async () => {
    const keys = await generateKeyPair('ec-p256');
    const pem = await createCsr(keys, [SPIFFE]);
    assert.match(pem, /^-----BEGIN CERTIFICATE REQUEST-----/);
    const csr = new x509.Pkcs10CertificateRequest(pem);
    assert.equal(csr.subject, '');
    assert.deepEqual(uriSans(csr), [SPIFFE]);
    assert.deepEqual(subjectAltNames(csr), [{ type: 'url', value: SPIFFE }]);
    assert.equal(await csr.verify(), true);
  });

  it('an RSA CSR verifies too', async () => {
    const keys = await generateKeyPair('rsa2048');
    const csr = new x509.Pkcs10CertificateRequest(
      await createCsr(keys, [SPIFFE, 'spiffe://cluster.local/ns/a/sa/b']),
    );
    assert.equal(await csr.verify(), true);
    assert.deepEqual(uriSans(csr), [SPIFFE, 'spiffe://cluster.local/ns/a/sa/b']);
  });
});

describe('x509: PEM', () => {
  it('parseCertificates splits a bundle; toPem joins it; text around the blocks is ignored', async () => {
    const a = (await makeRoot()).certificate;
    const b = (await makeRoot()).certificate;
    const pem = `subject=whatever\n${toPem([a, b])}`;
    const parsed = parseCertificates(pem);
    assert.equal(parsed.length, 2);
    assert.equal(await fingerprint(parsed[0] as x509.X509Certificate), await fingerprint(a));
    assert.equal(await fingerprint(parsed[1] as x509.X509Certificate), await fingerprint(b));
    assert.deepEqual(parseCertificates(''), []);
  });

  it('fingerprint is the SHA-256 of the DER, colon-separated upper-case hex', async () => {
    const root = (await makeRoot()).certificate;
    const digest = Buffer.from(await webcrypto.subtle.digest('SHA-256', root.rawData));
    const expected = [...digest].map((x) => x.toString(16).padStart(2, '0').toUpperCase()).join(':');
    assert.equal(await fingerprint(root), expected);
    assert.match(expected, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('a garbage certificate block throws', () => {
    assert.throws(() => parseCertificates('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'));
  });
});

describe('x509: importPrivateKeyPem', () => {
  async function signsLike(pem: string, expected: string) {
    const key = await importPrivateKeyPem(pem);
    assert.equal(keyTypeOf(key), expected);
    assert.equal(key.type, 'private');
    // The imported key signs, and its PKCS#8 export is the same key.
    const again = await importPrivateKeyPem(await privateKeyToPem(key));
    assert.equal(keyTypeOf(again), expected);
  }

  it('EC P-256 in PKCS#8 ("PRIVATE KEY")', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.match(pem, /BEGIN PRIVATE KEY/);
    await signsLike(pem, 'ec-p256');
  });

  it('EC P-256 in SEC1 ("EC PRIVATE KEY")', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = privateKey.export({ type: 'sec1', format: 'pem' }).toString();
    assert.match(pem, /BEGIN EC PRIVATE KEY/);
    await signsLike(pem, 'ec-p256');
  });

  it('RSA 2048 in PKCS#1 ("RSA PRIVATE KEY") and PKCS#8', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    assert.match(pkcs1, /BEGIN RSA PRIVATE KEY/);
    await signsLike(pkcs1, 'rsa2048');
    await signsLike(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'rsa2048');
  });

  it('a key made here round-trips through privateKeyToPem', async () => {
    const keys = await generateKeyPair('ec-p256');
    const pem = await privateKeyToPem(keys.privateKey);
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----/);
    await signsLike(pem, 'ec-p256');
  });

  it('refuses another EC curve, naming it', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    await assert.rejects(
      importPrivateKeyPem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      /unsupported EC curve secp384r1: expected P-256/,
    );
  });

  it('refuses Ed25519', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    await assert.rejects(
      importPrivateKeyPem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      /unsupported key type ed25519/,
    );
  });

  it('refuses garbage', async () => {
    await assert.rejects(
      importPrivateKeyPem('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'),
    );
    await assert.rejects(importPrivateKeyPem('not a key'));
  });
});
