// The secret store: static secrets from a bootstrap's data sources (files, inline text and bytes, environment
// variables), a missing file named in the error, and `change` events for whoever built a context from them.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseBootstrap } from '../../../src/proxy/config/load.js';
import type { ProxyConfig, SecretConfig } from '../../../src/proxy/config/model.js';
import { readCertificate, readValidation, SecretStore } from '../../../src/proxy/transport/secrets.js';

/** loadStatic reads only `secrets`; the rest of a ProxyConfig does not matter to it. */
const withSecrets = (secrets: SecretConfig[]) => ({ secrets }) as unknown as ProxyConfig;

describe('SecretStore', () => {
  let dir: string;
  const env = 'SKIFF_SECRETS_TEST_CA';

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'skiff-secrets-'));
    writeFileSync(path.join(dir, 'cert-chain.pem'), 'CHAIN FROM FILE\n');
    writeFileSync(path.join(dir, 'key.pem'), 'KEY FROM FILE\n');
    process.env[env] = 'CA FROM ENV\n';
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
    delete process.env[env];
  });

  it("loadStatic reads a bootstrap's secrets from files, inline strings and bytes, and the environment", async () => {
    const yaml = `
static_resources:
  secrets:
  - name: default
    tls_certificate:
      certificate_chain: {filename: ${JSON.stringify(path.join(dir, 'cert-chain.pem'))}}
      private_key: {filename: ${JSON.stringify(path.join(dir, 'key.pem'))}}
  - name: ROOTCA
    validation_context:
      trusted_ca: {environment_variable: ${env}}
      match_typed_subject_alt_names:
      - san_type: URI
        matcher: {prefix: "spiffe://cluster.local/"}
  - name: other
    tls_certificate:
      certificate_chain: {inline_string: "INLINE CHAIN"}
      private_key: {inline_bytes: ${Buffer.from('INLINE KEY').toString('base64')}}
`;
    const loaded = parseBootstrap(yaml, 'b.yaml');
    assert.deepEqual(
      loaded.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    assert.ok(loaded.config);
    const store = new SecretStore();
    await store.loadStatic(loaded.config);
    assert.equal(store.certificate('default')?.chain.toString(), 'CHAIN FROM FILE\n');
    assert.equal(store.certificate('default')?.key.toString(), 'KEY FROM FILE\n');
    assert.equal(store.certificate('other')?.chain.toString(), 'INLINE CHAIN');
    assert.equal(store.certificate('other')?.key.toString(), 'INLINE KEY');
    const rootCa = store.validation('ROOTCA');
    assert.equal(rootCa?.trustedCa?.toString(), 'CA FROM ENV\n');
    assert.equal(rootCa?.sanMatchers.length, 1);
    assert.deepEqual(
      { type: rootCa?.sanMatchers[0]?.type, kind: rootCa?.sanMatchers[0]?.match.kind },
      { type: 'URI', kind: 'prefix' },
    );
    assert.equal(store.validation('default'), undefined, 'a certificate secret is not a validation context');
    assert.equal(store.certificate('ROOTCA'), undefined);
    assert.equal(store.certificate('nope'), undefined);
  });

  it('a missing file fails loadStatic with an error naming the secret and the file; nothing is stored', async () => {
    const missing = path.join(dir, 'no-such-key.pem');
    const store = new SecretStore();
    const seen: string[] = [];
    store.on('change', (name) => seen.push(name));
    await assert.rejects(
      store.loadStatic(
        withSecrets([
          {
            name: 'ROOTCA',
            validationContext: { trustedCa: { kind: 'inline', data: Buffer.from('CA') }, sanMatchers: [] },
          },
          {
            name: 'default',
            tlsCertificate: {
              certificateChain: { kind: 'file', filename: path.join(dir, 'cert-chain.pem') },
              privateKey: { kind: 'file', filename: missing },
            },
          },
        ]),
      ),
      (e: Error) =>
        e.message.startsWith('secret default: ') && e.message.includes(missing) && /ENOENT/.test(e.message),
    );
    assert.equal(store.certificate('default'), undefined);
    assert.equal(
      store.validation('ROOTCA'),
      undefined,
      'the secret read before the failure is not stored either',
    );
    assert.deepEqual(seen, []);
  });

  it('an unset environment variable fails with its name', async () => {
    await assert.rejects(
      readValidation({ trustedCa: { kind: 'env', name: 'SKIFF_SECRETS_TEST_UNSET' }, sanMatchers: [] }),
      /SKIFF_SECRETS_TEST_UNSET/,
    );
  });

  it('a validation context without trusted_ca has none', async () => {
    assert.deepEqual(await readValidation({ sanMatchers: [] }), { trustedCa: undefined, sanMatchers: [] });
  });

  it("fires 'change' with the name on every set, and on loadStatic for each secret", async () => {
    const store = new SecretStore();
    const seen: string[] = [];
    store.on('change', (name) => seen.push(name));
    const material = await readCertificate({
      certificateChain: { kind: 'inline', data: Buffer.from('C') },
      privateKey: { kind: 'inline', data: Buffer.from('K') },
    });
    store.setCertificate('default', material);
    assert.equal(store.certificate('default'), material);
    store.setValidation('ROOTCA', { trustedCa: Buffer.from('CA'), sanMatchers: [] });
    store.setCertificate('default', { chain: Buffer.from('C2'), key: Buffer.from('K2') });
    assert.equal(
      store.certificate('default')?.chain.toString(),
      'C2',
      'the newest material replaces the old',
    );
    await store.loadStatic(
      withSecrets([
        {
          name: 'a',
          validationContext: { trustedCa: { kind: 'inline', data: Buffer.from('X') }, sanMatchers: [] },
        },
        {
          name: 'b',
          tlsCertificate: {
            certificateChain: { kind: 'inline', data: Buffer.from('Y') },
            privateKey: { kind: 'inline', data: Buffer.from('Z') },
          },
        },
      ]),
    );
    assert.deepEqual(seen, ['default', 'ROOTCA', 'default', 'a', 'b']);
  });
});
