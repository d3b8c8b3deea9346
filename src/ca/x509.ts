// X.509 building blocks for the mesh CA and the agent, over WebCrypto with @peculiar/x509: key pairs, a
// self-signed root, workload certificates from CSRs, CSRs, PEM conversion and inspection.

// @peculiar/x509 resolves its services with tsyringe, which needs the Reflect metadata polyfill first.
import 'reflect-metadata';
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export type KeyType = 'ec-p256' | 'rsa2048' | 'rsa4096';
export const KEY_TYPES: readonly KeyType[] = ['ec-p256', 'rsa2048', 'rsa4096'];

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const RSA = (bits: number) =>
  ({
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: bits,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  }) as const;

export async function generateKeyPair(type: KeyType): Promise<CryptoKeyPair> {
  const algorithm = type === 'ec-p256' ? EC : RSA(type === 'rsa2048' ? 2048 : 4096);
  return (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** The signature algorithm a key signs with: ECDSA with SHA-256, or RSASSA-PKCS1-v1_5 with SHA-256. */
export function signingAlgorithm(key: CryptoKey): Algorithm | EcdsaParams {
  return key.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
}

export function keyTypeOf(key: CryptoKey): KeyType | undefined {
  if (key.algorithm.name === 'ECDSA')
    return (key.algorithm as EcKeyAlgorithm).namedCurve === 'P-256' ? 'ec-p256' : undefined;
  const bits = (key.algorithm as RsaHashedKeyAlgorithm).modulusLength;
  return bits === 2048 ? 'rsa2048' : bits === 4096 ? 'rsa4096' : undefined;
}

export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/**
 * Imports a private key in any PEM form OpenSSL writes (PKCS#8, SEC1 "EC PRIVATE KEY", PKCS#1 "RSA PRIVATE
 * KEY"), as Istio's cacerts may hold any of them. Throws with a reason when the key is unusable.
 */
export async function importPrivateKeyPem(pem: string): Promise<CryptoKey> {
  const keyObject = createPrivateKey(pem);
  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  if (keyObject.asymmetricKeyType === 'ec') {
    if (keyObject.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new Error(`unsupported EC curve ${keyObject.asymmetricKeyDetails?.namedCurve}: expected P-256`);
    }
    return webcrypto.subtle.importKey('pkcs8', der, EC, true, ['sign']);
  }
  if (keyObject.asymmetricKeyType === 'rsa') {
    return webcrypto.subtle.importKey('pkcs8', der, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, [
      'sign',
    ]);
  }
  throw new Error(`unsupported key type ${keyObject.asymmetricKeyType}: expected EC P-256 or RSA`);
}

/** A random 128-bit serial number, as hex; a leading zero byte keeps it positive in DER when the top bit is set. */
export function randomSerial(): string {
  const hex = randomBytes(16).toString('hex');
  return Number.parseInt(hex.slice(0, 2), 16) >= 0x80 ? `00${hex}` : hex;
}

export interface RootOptions {
  trustDomain: string;
  keys: CryptoKeyPair;
  notBefore: Date;
  notAfter: Date;
}

/** A self-signed root: O=<trust domain>, CA:TRUE, keyCertSign and cRLSign. */
export async function createRootCertificate(o: RootOptions): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ O: [o.trustDomain] }],
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    keys: o.keys,
    signingAlgorithm: signingAlgorithm(o.keys.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(o.keys.publicKey),
    ],
  });
}

export interface LeafOptions {
  publicKey: x509.PublicKey | CryptoKey;
  /** URI SANs (the SPIFFE ID first); DNS names and IPs for servers such as the CA service. */
  uris: string[];
  dnsNames?: string[];
  ips?: string[];
  issuer: { certificate: x509.X509Certificate; privateKey: CryptoKey };
  notBefore: Date;
  notAfter: Date;
}

/**
 * A workload certificate: empty subject, the SANs (critical, as the subject is empty), CA:FALSE,
 * digitalSignature + keyEncipherment, serverAuth + clientAuth, random serial.
 */
export async function createLeafCertificate(o: LeafOptions): Promise<x509.X509Certificate> {
  const names: x509.JsonGeneralName[] = [
    ...o.uris.map((value) => ({ type: 'url' as const, value })),
    ...(o.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(o.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [],
    issuer: o.issuer.certificate.subjectName,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    publicKey: o.publicKey,
    signingKey: o.issuer.privateKey,
    signingAlgorithm: signingAlgorithm(o.issuer.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(o.issuer.certificate, false),
      new x509.SubjectAlternativeNameExtension(names, true),
    ],
  });
}

/** A CSR with an empty subject and the given URI SANs, signed with the key pair's private key. */
export async function createCsr(keys: CryptoKeyPair, uris: string[]): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [],
    keys,
    signingAlgorithm: signingAlgorithm(keys.privateKey),
    extensions: [
      new x509.SubjectAlternativeNameExtension(
        uris.map((value) => ({ type: 'url' as const, value })),
        true,
      ),
    ],
  });
  return csr.toString('pem');
}

/** Splits a PEM bundle into certificates; throws on anything that is not a certificate. */
export function parseCertificates(pem: string): x509.X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new x509.X509Certificate(block));
}

export function toPem(certs: readonly x509.X509Certificate[]): string {
  return `${certs.map((c) => c.toString('pem')).join('\n')}\n`;
}

/** SHA-256 fingerprint as colon-separated upper-case hex, as `openssl x509 -fingerprint -sha256` prints it. */
export async function fingerprint(cert: x509.X509Certificate): Promise<string> {
  const digest = Buffer.from(await cert.getThumbprint('SHA-256'));
  return [...digest].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
}

/** The URI SANs of a certificate or CSR. */
export function uriSans(item: x509.X509Certificate | x509.Pkcs10CertificateRequest): string[] {
  return subjectAltNames(item)
    .filter((n) => n.type === 'url')
    .map((n) => n.value);
}

/** Every SAN of a certificate or CSR, as {type, value}. */
export function subjectAltNames(
  item: x509.X509Certificate | x509.Pkcs10CertificateRequest,
): x509.JsonGeneralName[] {
  const ext = item.getExtension(SAN_OID);
  return ext ? new x509.SubjectAlternativeNameExtension(ext.rawData).names.toJSON() : [];
}

const SAN_OID = '2.5.29.17';

export { x509 };
