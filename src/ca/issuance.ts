// The CA's pure rules: how long a certificate lives, and whether a CSR may be signed for a caller.

import { formatDuration as formatSeconds } from '../core/duration.js';
import type { KeyType } from './x509.js';

/** Istio's defaults: 24 h workload certificates (DEFAULT_WORKLOAD_CERT_TTL), at most 90 days (MAX_WORKLOAD_CERT_TTL). */
export const DEFAULT_CERT_TTL_SECONDS = 24 * 3600;
export const DEFAULT_MAX_CERT_TTL_SECONDS = 90 * 24 * 3600;
/** notBefore is back-dated so a peer whose clock runs a little behind still accepts a fresh certificate. */
export const BACKDATE_SECONDS = 5 * 60;

export interface ValidityPlan {
  notBefore: Date;
  notAfter: Date;
  /** Set when the request was shortened. */
  warning?: string;
}

/**
 * When a certificate starts and ends: `requested` seconds (0 or absent: the default), cut to the maximum and
 * to the signing certificate's own end, with a warning saying why.
 */
export function planValidity(o: {
  now: Date;
  requestedSeconds?: number;
  defaultSeconds?: number;
  maxSeconds?: number;
  signerNotAfter?: Date;
}): ValidityPlan {
  const max = o.maxSeconds ?? DEFAULT_MAX_CERT_TTL_SECONDS;
  const wanted =
    o.requestedSeconds && o.requestedSeconds > 0
      ? o.requestedSeconds
      : (o.defaultSeconds ?? DEFAULT_CERT_TTL_SECONDS);
  let seconds = wanted;
  let warning: string | undefined;
  if (seconds > max) {
    seconds = max;
    warning = `requested lifetime ${formatSeconds(wanted)} exceeds the maximum ${formatSeconds(max)}: cut to ${formatSeconds(max)}`;
  }
  let notAfter = new Date(o.now.getTime() + seconds * 1000);
  if (o.signerNotAfter && notAfter > o.signerNotAfter) {
    notAfter = o.signerNotAfter;
    warning = `requested lifetime ends after the signing certificate (${o.signerNotAfter.toISOString()}): cut to it`;
  }
  const plan: ValidityPlan = { notBefore: new Date(o.now.getTime() - BACKDATE_SECONDS * 1000), notAfter };
  if (warning) plan.warning = warning;
  return plan;
}

/** Why a certificate signing request is refused; the values label `skiff_ca_csr_refused_total{reason}`. */
export type RefusalReason =
  | 'missing_token'
  | 'unknown_token'
  | 'expired_token'
  | 'malformed_csr'
  | 'bad_csr_signature'
  | 'identity_mismatch'
  | 'ca_requested'
  | 'unsupported_key';

export interface CsrFacts {
  signatureValid: boolean;
  uris: string[];
  /** Other SANs (DNS, IP, e-mail): a workload certificate carries only its SPIFFE ID. */
  otherSans: string[];
  /** The CSR asks for basicConstraints CA:TRUE. */
  requestsCa: boolean;
  keyType: KeyType | undefined;
}

/** Whether a CSR may be signed for `identity` (the caller's SPIFFE ID), and if not, why. */
export function checkCsr(
  facts: CsrFacts,
  identity: string,
): { ok: true } | { ok: false; reason: RefusalReason; message: string } {
  if (!facts.signatureValid)
    return { ok: false, reason: 'bad_csr_signature', message: 'the CSR signature does not verify' };
  if (facts.requestsCa)
    return {
      ok: false,
      reason: 'ca_requested',
      message: 'the CSR asks for a CA certificate (basicConstraints CA:TRUE)',
    };
  if (facts.keyType === undefined) {
    return {
      ok: false,
      reason: 'unsupported_key',
      message: 'the CSR key is neither EC P-256 nor RSA 2048/4096',
    };
  }
  const others = [...facts.uris.filter((u) => u !== identity), ...facts.otherSans];
  if (!facts.uris.includes(identity) || others.length > 0) {
    const asked = [...facts.uris, ...facts.otherSans].join(', ') || 'no SAN';
    return {
      ok: false,
      reason: 'identity_mismatch',
      message: `the CSR asks for ${asked}; the caller may only get ${identity}`,
    };
  }
  return { ok: true };
}
