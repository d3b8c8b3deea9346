// Checks that certificates form a chain to a trusted root, and that a key belongs to a certificate.

import { createPrivateKey, createPublicKey } from 'node:crypto';
import { x509 } from './x509.js';

/**
 * Why `chain` (signer first, then its issuers) does not lead to one of `roots` at `now`, or undefined when
 * it does: every link signed by the next, each one in its validity period, each issuer a CA.
 */
export async function chainProblem(
  chain: readonly x509.X509Certificate[],
  roots: readonly x509.X509Certificate[],
  now = new Date(),
): Promise<string | undefined> {
  if (chain.length === 0) return 'the chain is empty';
  for (const cert of chain) {
    const problem = validityProblem(cert, now);
    if (problem) return problem;
  }
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i] as x509.X509Certificate;
    const next = chain[i + 1];
    if (next) {
      if (!isCa(next))
        return `"${next.subject}" signs certificates but is not a CA (basicConstraints CA:TRUE)`;
      if (!(await cert.verify({ publicKey: next.publicKey, signatureOnly: true }))) {
        return `the signature of "${cert.subject}" does not verify with its issuer "${cert.issuer}"`;
      }
      continue;
    }
    const root = await issuingRoot(cert, roots);
    if (typeof root === 'string') return root;
    const problem = validityProblem(root, now);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * The root of `roots` that signed `cert` (itself, when `cert` is a root in the bundle), or why there is none.
 * Other roots in the bundle may be anything — older ones during a rotation may even have expired.
 */
export async function issuingRoot(
  cert: x509.X509Certificate,
  roots: readonly x509.X509Certificate[],
): Promise<x509.X509Certificate | string> {
  const candidates = roots.filter((r) => r.subject === cert.issuer);
  if (candidates.length === 0)
    return `no root in the bundle issued "${cert.subject}" (its issuer is "${cert.issuer}")`;
  for (const root of candidates) {
    if (!isCa(root)) return `"${root.subject}" signs certificates but is not a CA (basicConstraints CA:TRUE)`;
    if (await cert.verify({ publicKey: root.publicKey, signatureOnly: true })) return root;
  }
  return `the signature of "${cert.subject}" does not verify with any root named "${cert.issuer}"`;
}

function validityProblem(cert: x509.X509Certificate, now: Date): string | undefined {
  if (now >= cert.notBefore && now <= cert.notAfter) return undefined;
  return `certificate "${cert.subject || '(empty subject)'}" is not valid now (valid ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()})`;
}

export function isCa(cert: x509.X509Certificate): boolean {
  return cert.getExtension(x509.BasicConstraintsExtension)?.ca === true;
}

export function isSelfSigned(cert: x509.X509Certificate): boolean {
  return cert.subject === cert.issuer;
}

/** Whether the PEM private key is the one whose public half `cert` carries. */
export function keyMatchesCertificate(keyPem: string, cert: x509.X509Certificate): boolean {
  const spki = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  return Buffer.from(cert.publicKey.rawData).equals(spki);
}
