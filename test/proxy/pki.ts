// In-process mesh identities for proxy unit tests: a CA folder made with the project's own CA code, and
// SPIFFE workload certificates from it (PEM), as `skiff ca issue` writes them.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spiffeId } from '../../src/ca/identity.js';
import { initCa, type LoadedCa, loadCa } from '../../src/ca/store.js';
import { createCsr, generateKeyPair, privateKeyToPem, toPem } from '../../src/ca/x509.js';

export interface Identity {
  chain: Buffer;
  key: Buffer;
  root: Buffer;
  spiffe: string;
}

/** A new CA, in memory: its folder (with the CA key) is removed once it is loaded. */
export async function makeCa(trustDomain = 'cluster.local'): Promise<{ ca: LoadedCa }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-test-ca-'));
  try {
    await initCa(dir, { trustDomain, keyType: 'ec-p256' });
    return { ca: await loadCa(dir) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A workload certificate for namespace/serviceAccount from `ca`. */
export async function issue(ca: LoadedCa, namespace: string, serviceAccount: string): Promise<Identity> {
  const identity = { trustDomain: ca.record.trustDomain, namespace, serviceAccount };
  const keys = await generateKeyPair('ec-p256');
  const result = await ca.authority.signCsr(await createCsr(keys, [spiffeId(identity)]), identity, 3600);
  if (!result.ok) throw new Error(result.message);
  return {
    chain: Buffer.from(toPem([result.leaf, ...ca.authority.intermediates()])),
    key: Buffer.from(await privateKeyToPem(keys.privateKey)),
    root: Buffer.from(ca.authority.rootsPem()),
    spiffe: spiffeId(identity),
  };
}
