// `skiff proxy` with the certificate agent: a bootstrap token that cannot work is a configuration error — exit 2
// and one message — whether the proxy sees it (not a Skiff token, expired) or the signing service refuses it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CaService } from '../../../src/ca/service.js';
import { initCa, type LoadedCa, loadCa } from '../../../src/ca/store.js';
import { createToken } from '../../../src/ca/token.js';
import { startCaService } from '../../../src/cli/commands/ca.js';
import { runCli } from '../helpers.js';

describe('skiff proxy: the bootstrap token', { timeout: 60_000 }, () => {
  let dir: string;
  let ca: LoadedCa;
  let service: CaService;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'skiff-cli-proxy-'));
    await initCa(`${dir}/ca`, { trustDomain: 'cluster.local', keyType: 'ec-p256' });
    await initCa(`${dir}/other-ca`, { trustDomain: 'cluster.local', keyType: 'ec-p256' });
    ca = await loadCa(`${dir}/ca`);
    service = await startCaService(ca, { host: '127.0.0.1', port: 0 });
    writeFileSync(`${dir}/root-cert.pem`, ca.authority.rootsPem());
    writeFileSync(`${dir}/bootstrap.yaml`, 'node: {id: web, cluster: web}\n');
  });

  after(async () => {
    await service?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const proxyWith = (token: string) => {
    writeFileSync(`${dir}/token`, token);
    return runCli([
      'proxy',
      '--config',
      `${dir}/bootstrap.yaml`,
      '--ca-address',
      `127.0.0.1:${service.port}`,
      '--token-file',
      `${dir}/token`,
      '--root-cert',
      `${dir}/root-cert.pem`,
    ]);
  };
  const identity = { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'web' };

  it('not a Skiff token: exit 2, one line saying how to make one', async () => {
    const r = await proxyWith('eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n');
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.match(
      r.err,
      /^error: --token-file \S+token: not a Skiff bootstrap token \(skiff1\.<claims>\.<signature>\): make one with `skiff ca token --dir CA --namespace NS --service-account SA`\n$/,
    );
  });

  it('an expired token: exit 2, one line', async () => {
    const old = createToken(ca.tokenKey, identity, 60, new Date(Date.now() - 3600_000));
    const r = await proxyWith(old);
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: --token-file \S+: the bootstrap token expired at \S+: make one with .*\n$/);
  });

  it('a token of another CA, refused by the signing service: exit 2 at once, one line, asked once', async () => {
    const other = await loadCa(`${dir}/other-ca`);
    const r = await proxyWith(createToken(other.tokenKey, identity, 3600));
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /^error: --token-file \S+: the signing service refused the certificate request: 127\.0\.0\.1:\d+: unknown_token: .*\n$/,
    );
    const refused = await service.registry.getSingleMetric('skiff_ca_csr_refused_total')?.get();
    assert.deepEqual(
      refused?.values.map((v) => [v.labels.reason, v.value]),
      [['unknown_token', 1]],
    );
  });
});
