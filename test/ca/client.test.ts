// The signing service's client and its TLS: the mesh roots verify the service, an IP address is never sent as
// the TLS server name (RFC 6066 §3; Node's DEP0123 on stderr otherwise) but is still checked against the
// certificate, and a host name is sent and checked.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { CaClient, CaClientError } from '../../src/ca/client.js';
import type { CaService } from '../../src/ca/service.js';
import { initCa, type LoadedCa, loadCa } from '../../src/ca/store.js';
import { createToken } from '../../src/ca/token.js';
import { createCsr, generateKeyPair } from '../../src/ca/x509.js';
import { startCaService } from '../../src/cli/commands/ca.js';

const ID = { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'cart' };

describe('CaClient over TLS', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-ca-client-'));
  let ca: LoadedCa;
  let service: CaService;
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  const clients: CaClient[] = [];
  const servers: tls.Server[] = [];

  before(async () => {
    await initCa(dir, { trustDomain: 'cluster.local', keyType: 'ec-p256' });
    ca = await loadCa(dir);
    service = await startCaService(ca, { host: '127.0.0.1', port: 0 });
    process.on('warning', onWarning);
  });

  after(async () => {
    process.off('warning', onWarning);
    for (const c of clients) c.close();
    for (const s of servers) s.close();
    await service?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const clientOf = (address: string) => {
    const c = new CaClient({ address, rootCertPem: ca.authority.rootsPem(), timeoutMs: 5_000 });
    clients.push(c);
    return c;
  };
  const csr = async () =>
    createCsr(await generateKeyPair('ec-p256'), ['spiffe://cluster.local/ns/shop/sa/cart']);

  /** A TLS server with a certificate from the CA for these names, recording the server name each client sent. */
  async function recordingServer(dnsNames: string[], ips: string[]) {
    const cert = await ca.authority.issueServerCertificate({
      identity: { ...ID, namespace: 'istio-system', serviceAccount: 'skiff-ca' },
      dnsNames,
      ips,
      ttlSeconds: 3600,
    });
    const names: (string | false)[] = [];
    const server = tls.createServer(
      { key: cert.keyPem, cert: cert.certChainPem, ALPNProtocols: ['h2'] },
      (s) => {
        names.push((s as tls.TLSSocket & { servername?: string | false }).servername ?? false);
        s.destroy();
      },
    );
    server.on('tlsClientError', () => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    return { port: (server.address() as { port: number }).port, names };
  }

  it('gets a certificate from 127.0.0.1 without setting the TLS server name to the IP (no DEP0123)', async () => {
    const chain = await clientOf(`127.0.0.1:${service.port}`).createCertificate(
      await csr(),
      createToken(ca.tokenKey, ID, 3600),
      3600,
    );
    assert.ok(chain.length >= 1);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      warnings.map((w) => `${(w as { code?: string }).code}: ${w.message}`),
      [],
      'no process warning',
    );
  });

  it('sends no SNI to an IP address, and SNI to a host name', async () => {
    const server = await recordingServer(['localhost'], ['127.0.0.1']);
    await clientOf(`127.0.0.1:${server.port}`)
      .createCertificate(await csr(), 'skiff1.x.y', 60)
      .catch(() => {});
    await clientOf(`localhost:${server.port}`)
      .createCertificate(await csr(), 'skiff1.x.y', 60)
      .catch(() => {});
    assert.deepEqual(server.names, [false, 'localhost']);
  });

  it('still checks the IP address against the certificate', async () => {
    const server = await recordingServer(['skiff-ca.istio-system.svc'], []);
    const error = await clientOf(`127.0.0.1:${server.port}`)
      .createCertificate(await csr(), 'skiff1.x.y', 60)
      .then(
        () => assert.fail('a certificate without the IP must be refused'),
        (e: Error) => e,
      );
    assert.ok(error instanceof CaClientError);
    assert.equal(error.code, 'UNAVAILABLE');
    assert.match(error.message, /IP: 127\.0\.0\.1 is not in the cert's list/);
  });
});
