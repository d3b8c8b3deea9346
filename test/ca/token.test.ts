import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createToken, readTokenClaims, verifyToken } from '../../src/ca/token.js';

const KEY = randomBytes(32);
const ID = { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'cart' };

describe('bootstrap tokens', () => {
  it('a fresh token verifies and carries its identity and lifetime', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const token = createToken(KEY, ID, 3600, now);
    assert.match(token, /^skiff1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const check = verifyToken(KEY, token, new Date(now.getTime() + 1000));
    assert.equal(check.ok, true);
    if (!check.ok) return;
    assert.equal(check.claims.trustDomain, 'cluster.local');
    assert.equal(check.claims.namespace, 'shop');
    assert.equal(check.claims.serviceAccount, 'cart');
    assert.equal(check.claims.iat, now.getTime() / 1000);
    assert.equal(check.claims.exp, now.getTime() / 1000 + 3600);
  });

  it('two tokens for one identity differ (nonce)', () => {
    assert.notEqual(createToken(KEY, ID, 60), createToken(KEY, ID, 60));
  });

  it('readTokenClaims reads the identity without the key', () => {
    const claims = readTokenClaims(createToken(KEY, ID, 60));
    assert.equal(claims?.serviceAccount, 'cart');
    assert.equal(readTokenClaims('nonsense'), undefined);
    assert.equal(readTokenClaims('skiff1.e30.abc'), undefined);
  });

  it('an expired token is refused with expired_token and its expiry', () => {
    const past = new Date(Date.now() - 2 * 3600 * 1000);
    const check = verifyToken(KEY, createToken(KEY, ID, 3600, past));
    assert.equal(check.ok, false);
    if (check.ok) return;
    assert.equal(check.reason, 'expired_token');
    assert.match(check.message, /the token expired at \d{4}-\d\d-\d\dT/);
  });

  it('a token is expired at exactly its exp', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const token = createToken(KEY, ID, 60, now);
    assert.equal(verifyToken(KEY, token, new Date(now.getTime() + 59_999)).ok, true);
    const check = verifyToken(KEY, token, new Date(now.getTime() + 60_000));
    assert.equal(check.ok ? 'ok' : check.reason, 'expired_token');
  });

  it('a token signed with another key is unknown_token', () => {
    const check = verifyToken(KEY, createToken(randomBytes(32), ID, 3600));
    assert.equal(check.ok ? 'ok' : check.reason, 'unknown_token');
    if (!check.ok) assert.match(check.message, /not issued by this CA/);
  });

  it('a tampered payload (another service account) is unknown_token', () => {
    const [prefix, payload = '', mac] = createToken(KEY, ID, 3600).split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    claims.serviceAccount = 'admin';
    const forged = `${prefix}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${mac}`;
    assert.equal(readTokenClaims(forged)?.serviceAccount, 'admin');
    const check = verifyToken(KEY, forged);
    assert.equal(check.ok ? 'ok' : check.reason, 'unknown_token');
  });

  it('a tampered MAC is unknown_token', () => {
    const token = createToken(KEY, ID, 3600);
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    const check = verifyToken(KEY, `${token.slice(0, -1)}${last}`);
    assert.equal(check.ok ? 'ok' : check.reason, 'unknown_token');
  });

  it('an expired token with a bad MAC is unknown_token (the MAC is checked first)', () => {
    const token = createToken(randomBytes(32), ID, 1, new Date(Date.now() - 3600_000));
    const check = verifyToken(KEY, token);
    assert.equal(check.ok ? 'ok' : check.reason, 'unknown_token');
  });

  for (const garbage of ['', 'skiff1', 'skiff1..', 'skiff2.e30.x', 'a.b.c.d', 'Bearer x']) {
    it(`garbage ${JSON.stringify(garbage)} is unknown_token`, () => {
      const check = verifyToken(KEY, garbage);
      assert.equal(check.ok ? 'ok' : check.reason, 'unknown_token');
    });
  }
});
