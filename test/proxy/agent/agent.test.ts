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
import { createLogger } from '../../../src/core/log.js';
import { AgentRefusedError, CertificateAgent } from '../../../src/proxy/agent/agent.js';

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

  const refusedCount = async (service: CaService) =>
    ((await service.registry.getSingleMetric('skiff_ca_csr_refused_total')?.get())?.values ?? []).reduce(
      (n, v) => n + v.value,
      0,
    );

  it('a token the CA refuses ends start() before the first certificate, asked once and logged by nobody', async () => {
    const service = await startCaService(ca, { host: '127.0.0.1', port: 0 });
    services.push(service);
    const lines: string[] = [];
    const errors: Error[] = [];
    const a = new CertificateAgent({
      caAddress: `127.0.0.1:${service.port}`,
      rootCertPem: ca.authority.rootsPem(),
      token: () => 'skiff1.bad.token',
      identity: { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'x' },
      minRetryMs: 50,
      maxRetryMs: 50,
      logger: createLogger({ sink: (l) => lines.push(l), level: 'debug' }),
    });
    agents.push(a);
    a.on('error', (e) => errors.push(e));
    const refusal = await a.start().then(
      () => assert.fail('no certificate for a refused token'),
      (e: Error) => e,
    );
    assert.ok(refusal instanceof AgentRefusedError, String(refusal));
    assert.match(refusal.message, /refused the certificate request: .*unknown_token/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await refusedCount(service), 1, 'not retried');
    assert.deepEqual(errors, []);
    assert.deepEqual(lines, [], 'the caller reports it, once');
  });

  it('a token that is not a Skiff token is refused without asking the CA, with no advice it cannot follow', async () => {
    const lines: string[] = [];
    const a = new CertificateAgent({
      caAddress: '127.0.0.1:1',
      rootCertPem: ca.authority.rootsPem(),
      token: () => 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln',
      minRetryMs: 50,
      logger: createLogger({ sink: (l) => lines.push(l), level: 'debug' }),
    });
    agents.push(a);
    const refusal = await a.start().then(
      () => assert.fail('no certificate for a foreign token'),
      (e: Error) => e,
    );
    assert.ok(refusal instanceof AgentRefusedError);
    assert.match(refusal.message, /not a Skiff token .*skiff ca token/);
    assert.doesNotMatch(refusal.message, /give the identity explicitly/);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(lines, []);
  });

  it('a renewal the CA refuses is retried (the token file may be refreshed) and logged once per try', async () => {
    const service = await startCaService(ca, { host: '127.0.0.1', port: 0 });
    services.push(service);
    let current = token('renewing');
    const lines: string[] = [];
    const a = agent(`127.0.0.1:${service.port}`, 'renewing', {
      token: () => current,
      ttlSeconds: 2,
      jitter: 0,
      minRetryMs: 100,
      maxRetryMs: 100,
      logger: createLogger({ sink: (l) => lines.push(l) }),
    });
    const first = await a.start();
    current = 'skiff1.bad.token';
    const refusedTwice = new Promise<void>((resolve) => {
      let n = 0;
      a.on('error', () => {
        if (++n === 2) resolve();
      });
    });
    await refusedTwice;
    const refused = lines.filter((l) => l.includes('certificate request refused; retrying'));
    assert.equal(refused.length, 2, lines.join(''));
    assert.equal(JSON.parse(refused[0] ?? '{}').level, 'error');
    assert.equal(a.current(), first, 'the old certificate is still in force');
    const next = new Promise((resolve) => a.once('material', resolve));
    current = token('renewing');
    await next;
    assert.notEqual(a.current(), first);
  });
});
