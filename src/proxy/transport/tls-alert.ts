// The TLS alert Envoy sends when it refuses a peer certificate, and the one case where a Node server can send it
// too. Envoy verifies inside the handshake and fails it with an alert: a chain that does not verify gets BoringSSL's
// SSL_alert_from_verify_result(X509 error) (DefaultCertValidator::doVerifyCertChain), a SAN matcher miss gets
// SSL_AD_CERTIFICATE_UNKNOWN (the validator's default `tls_alert`). Node 20 verifies after the handshake (its verify
// callback always returns 1), so the alert has to be written by us: docs/reliability.md ("TLS alerts") says what is
// possible and why TLS 1.3 gets none.

/** TLS AlertDescription values (RFC 8446 §6). */
export const ALERT = {
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  unknown_ca: 48,
  decrypt_error: 51,
  internal_error: 80,
} as const;

export type AlertName = keyof typeof ALERT;

// BoringSSL's SSL_alert_from_verify_result (ssl/ssl_x509.cc), keyed by the X509_V_ERR_* names without their prefix,
// which is how Node reports a verification error (`verifyError().code`). Anything else: certificate_unknown.
// Not OpenSSL's table (ssl_x509err2alert), which differs: a not-yet-valid certificate is bad_certificate there,
// certificate_expired in BoringSSL, and Envoy runs BoringSSL.
const FROM_VERIFY_RESULT: Record<string, AlertName> = {
  CERT_CHAIN_TOO_LONG: 'unknown_ca',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'unknown_ca',
  INVALID_CA: 'unknown_ca',
  PATH_LENGTH_EXCEEDED: 'unknown_ca',
  SELF_SIGNED_CERT_IN_CHAIN: 'unknown_ca',
  UNABLE_TO_GET_CRL: 'unknown_ca',
  UNABLE_TO_GET_CRL_ISSUER: 'unknown_ca',
  UNABLE_TO_GET_ISSUER_CERT: 'unknown_ca',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unknown_ca',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unknown_ca',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: 'bad_certificate',
  UNABLE_TO_DECRYPT_CRL_SIGNATURE: 'bad_certificate',
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: 'bad_certificate',
  ERROR_IN_CERT_NOT_BEFORE_FIELD: 'bad_certificate',
  ERROR_IN_CERT_NOT_AFTER_FIELD: 'bad_certificate',
  ERROR_IN_CRL_LAST_UPDATE_FIELD: 'bad_certificate',
  ERROR_IN_CRL_NEXT_UPDATE_FIELD: 'bad_certificate',
  CERT_UNTRUSTED: 'bad_certificate',
  CERT_REJECTED: 'bad_certificate',
  HOSTNAME_MISMATCH: 'bad_certificate',
  EMAIL_MISMATCH: 'bad_certificate',
  IP_ADDRESS_MISMATCH: 'bad_certificate',
  CERT_SIGNATURE_FAILURE: 'decrypt_error',
  CRL_SIGNATURE_FAILURE: 'decrypt_error',
  CERT_HAS_EXPIRED: 'certificate_expired',
  CERT_NOT_YET_VALID: 'certificate_expired',
  CRL_HAS_EXPIRED: 'certificate_expired',
  CRL_NOT_YET_VALID: 'certificate_expired',
  CERT_REVOKED: 'certificate_revoked',
  UNSPECIFIED: 'internal_error',
  OUT_OF_MEM: 'internal_error',
  INVALID_CALL: 'internal_error',
  STORE_LOOKUP: 'internal_error',
  APPLICATION_VERIFICATION: 'handshake_failure',
  INVALID_PURPOSE: 'unsupported_certificate',
};

/** The alert Envoy (BoringSSL) sends for a chain that failed with `code` (Node's name of the X509 error). */
export function alertForVerifyError(code: string): AlertName {
  return (
    (Object.hasOwn(FROM_VERIFY_RESULT, code) ? FROM_VERIFY_RESULT[code] : undefined) ?? 'certificate_unknown'
  );
}

/** Record-layer versions of the protocol names `TLSSocket.getProtocol()` returns, for TLS 1.2 and below. */
const RECORD_VERSION: Record<string, number> = { TLSv1: 0x0301, 'TLSv1.1': 0x0302, 'TLSv1.2': 0x0303 };

/**
 * A fatal alert record in the clear, or undefined when the protocol cannot carry one. Up to TLS 1.2 the server's
 * records stay unprotected until it sends ChangeCipherSpec, and Node emits 'secure' on a full handshake before its
 * last flight (ChangeCipherSpec, Finished) has left the process: a plain alert written then is exactly what OpenSSL
 * or BoringSSL would have sent had they refused the client certificate themselves. Under TLS 1.3 the server's
 * Finished went out in its first flight, so every later record must be encrypted (docs/reliability.md, "TLS alerts").
 */
export function plaintextAlert(protocol: string | null, alert: AlertName): Buffer | undefined {
  const version = protocol === null ? undefined : RECORD_VERSION[protocol];
  if (version === undefined) return undefined;
  // ContentType alert (21), version, length 2, AlertLevel fatal (2), AlertDescription.
  return Buffer.from([21, version >> 8, version & 0xff, 0, 2, 2, ALERT[alert]]);
}
