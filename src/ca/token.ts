// Bootstrap tokens: an identity, a lifetime and an HMAC-SHA256 over both with the CA's token key, so the
// signing service verifies them without a database. Format: skiff1.<base64url JSON>.<base64url MAC>.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { WorkloadIdentity } from './identity.js';

const PREFIX = 'skiff1';

export interface TokenClaims extends WorkloadIdentity {
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Expires at, seconds since the epoch. */
  exp: number;
  /** Random, so two tokens for one identity differ. */
  nonce: string;
}

export function createToken(
  key: Buffer,
  identity: WorkloadIdentity,
  ttlSeconds: number,
  now = new Date(),
): string {
  const iat = Math.floor(now.getTime() / 1000);
  const claims: TokenClaims = {
    ...identity,
    iat,
    exp: iat + ttlSeconds,
    nonce: randomBytes(8).toString('hex'),
  };
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${PREFIX}.${payload}.${mac(key, payload)}`;
}

export type TokenCheck =
  | { ok: true; claims: TokenClaims }
  | { ok: false; reason: 'unknown_token' | 'expired_token'; message: string };

export function verifyToken(key: Buffer, token: string, now = new Date()): TokenCheck {
  const claims = readTokenClaims(token);
  const [, payload = '', signature = ''] = token.split('.');
  const expected = Buffer.from(mac(key, payload));
  const given = Buffer.from(signature);
  if (!claims || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return {
      ok: false,
      reason: 'unknown_token',
      message: 'the token was not issued by this CA (bad format or signature)',
    };
  }
  if (claims.exp * 1000 <= now.getTime()) {
    return {
      ok: false,
      reason: 'expired_token',
      message: `the token expired at ${new Date(claims.exp * 1000).toISOString()}`,
    };
  }
  return { ok: true, claims };
}

/** The claims of a token, unverified (the agent reads its own identity from it). */
export function readTokenClaims(token: string): TokenClaims | undefined {
  const parts = token.trim().split('.');
  if (parts.length !== 3 || parts[0] !== PREFIX) return undefined;
  try {
    const c = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8')) as Partial<TokenClaims>;
    const strings = [c.trustDomain, c.namespace, c.serviceAccount, c.nonce].every(
      (v) => typeof v === 'string' && v !== '',
    );
    if (!strings || typeof c.iat !== 'number' || typeof c.exp !== 'number') return undefined;
    return c as TokenClaims;
  } catch {
    return undefined;
  }
}

function mac(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(`${PREFIX}.${payload}`).digest('base64url');
}
