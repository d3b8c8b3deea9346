// The certificate agent against a real signing service on loopback: first fetch, identity from the token,
// back-off while the CA is down, the old certificate kept meanwhile, renewal before expiry.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CaService } from '../../../src/ca/service.js';
import { initCa, type LoadedCa, loadCa } from '../../../src/ca/store.js';
import { createToken } from '../../../src/ca/token.js';
import { parseCertificates, uriSans } from '../../../src/ca/x509.js';
import { startCaService } from '../../../src/cli/commands/ca.js';
import { CertificateAgent } from '../../../src/proxy/agent/agent.js';

describe('CertificateAgent', { timeout: 60_000 }, () => {
  let dir: string;
  let ca: LoadedCa;
  const services: CaService[] = [];
  const agents: CertificateAgent[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'skiff-agent-'));
    await initCa(dir, { trustDomain: 'cluster.local', keyType: 'ec-p256' });
    ca = await loadCa(dir);
  });

  after(async () => {
    for (const a of agents) a.stop();
    for (const s of services) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const token = (sa: string) =>
    createToken(ca.tokenKey, { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: sa }, 3600);
  const agent = (
    address: string,
    sa: string,
    extra: Partial<ConstructorParameters<typeof CertificateAgent>[0]> = {},
  ) => {
    const a = new CertificateAgent({
      caAddress: address,
      rootCertPem: ca.authority.rootsPem(),
      token: () => token(sa),
      ...extra,
    });
    agents.push(a);
    return a;
  };

  it('fetches a certificate for the identity its token is bound to; the key stays in the process', async () => {
    const service = await startCaService(ca, { host: '127.0.0.1', port: 0 });
    services.push(service);
    const material = await agent(`127.0.0.1:${service.port}`, 'reviews').start();
    assert.equal(material.identity, 'spiffe://cluster.local/ns/shop/sa/reviews');
    const [leaf, ...rest] = parseCertificates(material.certChainPem);
    assert.ok(leaf);
    assert.deepEqual(uriSans(leaf), ['spiffe://cluster.local/ns/shop/sa/reviews']);
    assert.equal(rest.length, 0, 'the chain holds no root');
    assert.equal(material.rootPem, ca.authority.rootsPem());
    assert.match(material.keyPem, /BEGIN PRIVATE KEY/);
    assert.ok(material.notAfter.getTime() - Date.now() > 23 * 3600 * 1000, '24 h by default');
  });

  it('retries with back-off while the CA is down, then gets a certificate', async () => {
    const probe = await startCaService(ca, { host: '127.0.0.1', port: 0 });
    const port = probe.port;
    await probe.close();
    const errors: Error[] = [];
    const a = agent(`127.0.0.1:${port}`, 'late', { minRetryMs: 100, maxRetryMs: 400 });
    a.on('error', (e) => errors.push(e));
    const started = a.start();
    await new Promise((r) => setTimeout(r, 1200));
    assert.ok(
      errors.length >= 2 && errors.length <= 6,
      `${errors.length} failed attempts in 1.2 s with back-off`,
    );
    const service = await startCaService(ca, { host: '127.0.0.1', port });
    services.push(service);
    const material = await started;
    assert.equal(material.identity, 'spiffe://cluster.local/ns/shop/sa/late');
  });

  it('keeps serving the old certificate while the CA is down, and renews when it is back', async () => {
    let service = await startCaService(ca, { host: '127.0.0.1', port: 0 });
    const port = service.port;
    const a = agent(`127.0.0.1:${port}`, 'steady', {
      ttlSeconds: 4,
      minRetryMs: 100,
      maxRetryMs: 200,
      jitter: 0,
    });
    const errors: Error[] = [];
    a.on('error', (e) => errors.push(e));
    const first = await a.start();
    await service.close();
    await new Promise((r) => setTimeout(r, 2600));
    assert.ok(errors.length > 0, 'renewal was attempted and failed');
    assert.equal(a.current(), first, 'the old certificate is still in force');
    const next = new Promise<unknown>((resolve) => a.once('material', resolve));
    service = await startCaService(ca, { host: '127.0.0.1', port });
    services.push(service);
    await next;
    assert.notEqual(a.current(), first);
    assert.ok((a.current()?.notAfter.getTime() ?? 0) > first.notAfter.getTime());
  });

  it('a refused token is reported and retried, not fatal', async () => {
    const service = await startCaService(ca, { host: '127.0.0.1', port: 0 });
    services.push(service);
    const a = new CertificateAgent({
      caAddress: `127.0.0.1:${service.port}`,
      rootCertPem: ca.authority.rootsPem(),
      token: () => 'skiff1.bad.token',
      identity: { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'x' },
      minRetryMs: 50,
      maxRetryMs: 50,
    });
    agents.push(a);
    const error = await new Promise<Error>((resolve) => {
      a.once('error', resolve);
      void a.start().catch(() => {});
    });
    assert.match(error.message, /unknown_token/);
    a.stop();
  });
});
