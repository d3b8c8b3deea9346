// The alerts Envoy sends for refused peer certificates (BoringSSL's SSL_alert_from_verify_result) and the clear
// alert record written up to TLS 1.2.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ALERT, alertForVerifyError, plaintextAlert } from '../../../src/proxy/transport/tls-alert.js';

describe('tls-alert', () => {
  it("maps Node's verification error codes as BoringSSL maps X509_V_ERR_*", () => {
    const cases: Array<[string, keyof typeof ALERT]> = [
      ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unknown_ca'],
      ['DEPTH_ZERO_SELF_SIGNED_CERT', 'unknown_ca'],
      ['SELF_SIGNED_CERT_IN_CHAIN', 'unknown_ca'],
      ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unknown_ca'],
      ['CERT_HAS_EXPIRED', 'certificate_expired'],
      // OpenSSL's own table says bad_certificate; Envoy runs BoringSSL.
      ['CERT_NOT_YET_VALID', 'certificate_expired'],
      ['INVALID_PURPOSE', 'unsupported_certificate'],
      ['CERT_REVOKED', 'certificate_revoked'],
      ['CERT_SIGNATURE_FAILURE', 'decrypt_error'],
      ['CERT_UNTRUSTED', 'bad_certificate'],
      ['ERROR_IN_CERT_NOT_AFTER_FIELD', 'bad_certificate'],
      ['APPLICATION_VERIFICATION', 'handshake_failure'],
      ['OUT_OF_MEM', 'internal_error'],
    ];
    for (const [code, alert] of cases) assert.equal(alertForVerifyError(code), alert, code);
  });

  it('anything else is certificate_unknown, including names of Object.prototype', () => {
    for (const code of [
      'SOMETHING_NEW',
      'cannot read the certificate verification result',
      'constructor',
      '__proto__',
    ]) {
      assert.equal(alertForVerifyError(code), 'certificate_unknown', code);
    }
  });

  it('a fatal alert record in the clear, with the negotiated version, up to TLS 1.2', () => {
    assert.deepEqual(plaintextAlert('TLSv1.2', 'unknown_ca'), Buffer.from([21, 3, 3, 0, 2, 2, 48]));
    assert.deepEqual(plaintextAlert('TLSv1.1', 'certificate_expired'), Buffer.from([21, 3, 2, 0, 2, 2, 45]));
    assert.deepEqual(plaintextAlert('TLSv1', 'certificate_unknown'), Buffer.from([21, 3, 1, 0, 2, 2, 46]));
  });

  it('none for TLS 1.3 (encrypted after the first flight) or an unknown protocol', () => {
    assert.equal(plaintextAlert('TLSv1.3', 'unknown_ca'), undefined);
    assert.equal(plaintextAlert(null, 'unknown_ca'), undefined);
    assert.equal(plaintextAlert('SSLv3', 'unknown_ca'), undefined);
  });
});
