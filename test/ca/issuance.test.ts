import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BACKDATE_SECONDS,
  type CsrFacts,
  checkCsr,
  DEFAULT_CERT_TTL_SECONDS,
  DEFAULT_MAX_CERT_TTL_SECONDS,
  planValidity,
} from '../../src/ca/issuance.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

describe('planValidity', () => {
  it('Istio’s defaults: 24 h by default, at most 90 days, back-dated 5 minutes', () => {
    assert.equal(DEFAULT_CERT_TTL_SECONDS, 24 * 3600);
    assert.equal(DEFAULT_MAX_CERT_TTL_SECONDS, 90 * 24 * 3600);
    assert.equal(BACKDATE_SECONDS, 300);
  });

  /** [name, input (without now), notAfter offset in seconds, warning pattern or undefined] */
  const TABLE: [string, Omit<Parameters<typeof planValidity>[0], 'now'>, number, RegExp | undefined][] = [
    ['no request: the 24 h default', {}, 24 * 3600, undefined],
    ['0 means the default', { requestedSeconds: 0 }, 24 * 3600, undefined],
    ['a negative request means the default', { requestedSeconds: -5 }, 24 * 3600, undefined],
    ['the CA’s own default', { defaultSeconds: 3600 }, 3600, undefined],
    ['90 minutes as asked', { requestedSeconds: 5400 }, 5400, undefined],
    ['exactly the maximum is not cut', { requestedSeconds: 7200, maxSeconds: 7200 }, 7200, undefined],
    [
      'a request over the maximum is cut to it, with a warning',
      { requestedSeconds: 100 * 24 * 3600 },
      90 * 24 * 3600,
      /^requested lifetime 2400h exceeds the maximum 2160h: cut to 2160h$/,
    ],
    [
      'a default over a small maximum is cut too',
      { maxSeconds: 3600 },
      3600,
      /requested lifetime 24h exceeds the maximum 1h: cut to 1h/,
    ],
    [
      'never past the signing certificate’s end',
      { requestedSeconds: 48 * 3600, signerNotAfter: at(3600) },
      3600,
      /ends after the signing certificate \(2030-01-01T01:00:00\.000Z\): cut to it/,
    ],
    [
      'a signer ending later changes nothing',
      { requestedSeconds: 3600, signerNotAfter: at(7200) },
      3600,
      undefined,
    ],
  ];
  for (const [name, input, seconds, warning] of TABLE) {
    it(name, () => {
      const plan = planValidity({ now: NOW, ...input });
      assert.equal(plan.notBefore.toISOString(), at(-BACKDATE_SECONDS).toISOString());
      assert.equal(plan.notAfter.toISOString(), at(seconds).toISOString());
      if (warning) assert.match(plan.warning ?? '(no warning)', warning);
      else assert.equal(plan.warning, undefined);
      assert.equal('warning' in plan, warning !== undefined);
    });
  }
});

describe('checkCsr', () => {
  const ID = 'spiffe://cluster.local/ns/shop/sa/cart';
  const good: CsrFacts = {
    signatureValid: true,
    uris: [ID],
    otherSans: [],
    requestsCa: false,
    keyType: 'ec-p256',
  };

  it('a CSR for exactly the caller’s SPIFFE ID is accepted (EC and RSA keys)', () => {
    assert.deepEqual(checkCsr(good, ID), { ok: true });
    assert.deepEqual(checkCsr({ ...good, keyType: 'rsa2048' }, ID), { ok: true });
    assert.deepEqual(checkCsr({ ...good, keyType: 'rsa4096' }, ID), { ok: true });
  });

  /** [name, facts, reason, message pattern] */
  const REFUSED: [string, CsrFacts, string, RegExp][] = [
    ['bad signature', { ...good, signatureValid: false }, 'bad_csr_signature', /signature does not verify/],
    [
      'CA:TRUE requested',
      { ...good, requestsCa: true },
      'ca_requested',
      /CA certificate \(basicConstraints CA:TRUE\)/,
    ],
    ['unsupported key', { ...good, keyType: undefined }, 'unsupported_key', /neither EC P-256 nor RSA/],
    [
      'another SPIFFE ID',
      { ...good, uris: ['spiffe://cluster.local/ns/shop/sa/admin'] },
      'identity_mismatch',
      /asks for spiffe:\/\/cluster\.local\/ns\/shop\/sa\/admin; the caller may only get spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart/,
    ],
    ['no SAN at all', { ...good, uris: [] }, 'identity_mismatch', /asks for no SAN/],
    [
      'its own ID plus another URI',
      { ...good, uris: [ID, 'spiffe://cluster.local/ns/x/sa/y'] },
      'identity_mismatch',
      /may only get/,
    ],
    [
      'its own ID plus a DNS name',
      { ...good, otherSans: ['dns:evil.example'] },
      'identity_mismatch',
      /dns:evil\.example/,
    ],
    [
      'the right path in another trust domain',
      { ...good, uris: ['spiffe://other.td/ns/shop/sa/cart'] },
      'identity_mismatch',
      /other\.td/,
    ],
  ];
  for (const [name, facts, reason, message] of REFUSED) {
    it(`refuses: ${name} → ${reason}`, () => {
      const verdict = checkCsr(facts, ID);
      assert.equal(verdict.ok, false);
      if (verdict.ok) return;
      assert.equal(verdict.reason, reason);
      assert.match(verdict.message, message);
    });
  }

  it('the signature is checked before anything else', () => {
    const verdict = checkCsr(
      { signatureValid: false, uris: [], otherSans: ['dns:x'], requestsCa: true, keyType: undefined },
      ID,
    );
    assert.equal(verdict.ok ? 'ok' : verdict.reason, 'bad_csr_signature');
  });
});
