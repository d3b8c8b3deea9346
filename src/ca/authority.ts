// The mesh CA at work: signs workload CSRs (after the pure checks in issuance.ts) and issues its own server
// certificate. Holds the signing certificate and key, the chain up to a root, and the trust bundle.

import { spiffeId, type WorkloadIdentity } from './identity.js';
import { type CsrFacts, checkCsr, planValidity, type RefusalReason } from './issuance.js';
import {
  createLeafCertificate,
  generateKeyPair,
  type KeyType,
  keyTypeOf,
  privateKeyToPem,
  subjectAltNames,
  toPem,
  x509,
} from './x509.js';

export interface CaMaterial {
  trustDomain: string;
  /** The root the signer's chain leads to (the signer itself when it is the root); last in every cert_chain. */
  root: x509.X509Certificate;
  signer: { certificate: x509.X509Certificate; privateKey: CryptoKey };
  /** Certificates from the signer up to (not including) a root; empty when the signer is the root. */
  chain: x509.X509Certificate[];
  /** The trust bundle: every root peers accept (old and new, during a root rotation). */
  roots: x509.X509Certificate[];
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
}

export type SignResult =
  | { ok: true; leaf: x509.X509Certificate; certChain: string[]; warning?: string }
  | { ok: false; reason: RefusalReason; message: string };

export class CertificateAuthority {
  constructor(readonly material: CaMaterial) {}

  get trustDomain(): string {
    return this.material.trustDomain;
  }

  /** The trust bundle as PEM (root-cert.pem). */
  rootsPem(): string {
    return toPem(this.material.roots);
  }

  /** The certificates to send after a leaf: the signer chain, without the root. */
  intermediates(): x509.X509Certificate[] {
    return this.material.chain;
  }

  /**
   * Signs `csrPem` for `caller` (its SPIFFE identity, from an authenticated token). The answer is Istio's
   * cert_chain: leaf first, then intermediates, root last.
   */
  async signCsr(
    csrPem: string,
    caller: WorkloadIdentity,
    requestedSeconds?: number,
    now = new Date(),
  ): Promise<SignResult> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (e) {
      return {
        ok: false,
        reason: 'malformed_csr',
        message: `not a PEM certificate signing request: ${(e as Error).message}`,
      };
    }
    const facts = await csrFacts(csr);
    const verdict = checkCsr(facts, spiffeId(caller));
    if (!verdict.ok) return verdict;
    const plan = planValidity({
      now,
      ...(requestedSeconds !== undefined ? { requestedSeconds } : {}),
      defaultSeconds: this.material.defaultTtlSeconds,
      maxSeconds: this.material.maxTtlSeconds,
      signerNotAfter: this.material.signer.certificate.notAfter,
    });
    const leaf = await createLeafCertificate({
      publicKey: csr.publicKey,
      uris: [spiffeId(caller)],
      issuer: this.material.signer,
      notBefore: plan.notBefore,
      notAfter: plan.notAfter,
    });
    const chain = [leaf, ...this.material.chain, this.material.root];
    const result: SignResult = { ok: true, leaf, certChain: chain.map((c) => c.toString('pem')) };
    if (plan.warning) result.warning = plan.warning;
    return result;
  }

  /** A key and certificate made here, for a server of the mesh itself (the CA service, later istiod). */
  async issueServerCertificate(o: {
    identity: WorkloadIdentity;
    dnsNames: string[];
    ips: string[];
    ttlSeconds: number;
    keyType?: KeyType;
    now?: Date;
  }): Promise<{ keyPem: string; certChainPem: string; notAfter: Date }> {
    const keys = await generateKeyPair(o.keyType ?? 'ec-p256');
    const plan = planValidity({
      now: o.now ?? new Date(),
      requestedSeconds: o.ttlSeconds,
      maxSeconds: this.material.maxTtlSeconds,
      signerNotAfter: this.material.signer.certificate.notAfter,
    });
    const leaf = await createLeafCertificate({
      publicKey: keys.publicKey,
      uris: [spiffeId(o.identity)],
      dnsNames: o.dnsNames,
      ips: o.ips,
      issuer: this.material.signer,
      notBefore: plan.notBefore,
      notAfter: plan.notAfter,
    });
    return {
      keyPem: await privateKeyToPem(keys.privateKey),
      certChainPem: toPem([leaf, ...this.material.chain]),
      notAfter: plan.notAfter,
    };
  }
}

const BASIC_CONSTRAINTS_OID = '2.5.29.19';

async function csrFacts(csr: x509.Pkcs10CertificateRequest): Promise<CsrFacts> {
  let signatureValid = false;
  try {
    signatureValid = await csr.verify();
  } catch {
    signatureValid = false;
  }
  const sans = subjectAltNames(csr);
  const bc = csr.getExtension(BASIC_CONSTRAINTS_OID);
  let keyType: KeyType | undefined;
  try {
    keyType = keyTypeOf(await csr.publicKey.export());
  } catch {
    keyType = undefined;
  }
  return {
    signatureValid,
    uris: sans.filter((n) => n.type === 'url').map((n) => n.value),
    otherSans: sans.filter((n) => n.type !== 'url').map((n) => `${n.type}:${n.value}`),
    requestsCa: bc !== null && new x509.BasicConstraintsExtension(bc.rawData).ca,
    keyType,
  };
}
