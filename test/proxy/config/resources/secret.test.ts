// The Secret resource alone (SDS): a certificate and key, or a validation context; data sources stay references
// with their paths (load.ts reads them); each problem at its path.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../../../src/proxy/config/json.js';
import type { SecretConfig } from '../../../../src/proxy/config/model.js';
import { parseResource } from '../../../../src/proxy/config/resource.js';
import { TYPE_URL } from '../../../../src/proxy/config/resources/index.js';
import { certificateFiles, error, type Problem, problems } from '../fixtures.js';

const parse = (input: unknown) => parseResource(TYPE_URL.secret, input);

function ok(input: JsonObject): SecretConfig {
  const r = parse(input);
  assert.deepEqual(problems(r.diagnostics), []);
  assert.deepEqual([r.refs, r.inlineSecrets], [[], []], 'a secret names nothing and makes no other secret');
  assert.ok(r.value);
  return r.value;
}

describe('Secret: every field of its support table', () => {
  it('is named by name, as SDS configs name it', () => {
    const r = parse({ name: 'default', tls_certificate: certificateFiles });
    assert.equal(r.name, 'default');
    assert.equal(r.value?.name, 'default');
  });

  it('reads tls_certificate: the chain and key as references with their paths', () => {
    assert.deepEqual(ok({ name: 'default', tls_certificate: certificateFiles }), {
      name: 'default',
      tlsCertificate: {
        certificateChain: {
          kind: 'file',
          filename: 'cert.pem',
          path: ['tls_certificate', 'certificate_chain'],
        },
        privateKey: { kind: 'file', filename: 'key.pem', path: ['tls_certificate', 'private_key'] },
      },
    });
  });

  it('reads each kind of data source', () => {
    const s = ok({
      name: 'default',
      tls_certificate: {
        certificate_chain: { inline_string: 'PEM' },
        private_key: { environment_variable: 'KEY' },
      },
    });
    assert.deepEqual(s.tlsCertificate?.certificateChain, {
      kind: 'inline',
      data: Buffer.from('PEM'),
      path: ['tls_certificate', 'certificate_chain'],
    });
    assert.deepEqual(s.tlsCertificate?.privateKey, {
      kind: 'env',
      name: 'KEY',
      path: ['tls_certificate', 'private_key'],
    });
    const bytes = ok({
      name: 'ROOTCA',
      validation_context: { trusted_ca: { inline_bytes: Buffer.from('CA').toString('base64') } },
    });
    assert.deepEqual(bytes.validationContext?.trustedCa, {
      kind: 'inline',
      data: Buffer.from('CA'),
      path: ['validation_context', 'trusted_ca'],
    });
  });

  it('reads validation_context: trusted CAs and SAN matchers, typed and untyped', () => {
    const s = ok({
      name: 'ROOTCA',
      validation_context: {
        trusted_ca: { filename: 'root.pem' },
        match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { prefix: 'spiffe://cluster.local/' } }],
      },
    });
    assert.deepEqual(s, {
      name: 'ROOTCA',
      validationContext: {
        trustedCa: { kind: 'file', filename: 'root.pem', path: ['validation_context', 'trusted_ca'] },
        sanMatchers: [
          { type: 'URI', match: { kind: 'prefix', value: 'spiffe://cluster.local/', ignoreCase: false } },
        ],
      },
    });
    const untyped = ok({
      name: 'v',
      validation_context: { match_subject_alt_names: [{ exact: 'a.example' }] },
    });
    assert.deepEqual(untyped.validationContext, {
      sanMatchers: [{ type: 'ANY', match: { kind: 'exact', value: 'a.example', ignoreCase: false } }],
    });
  });

  it('reads an empty validation context as no trusted CA and no SAN rule', () => {
    assert.deepEqual(ok({ name: 'v', validation_context: {} }).validationContext, { sanMatchers: [] });
  });
});

describe('Secret: problems, each at its path', () => {
  const cases: [string, JsonObject, Problem[]][] = [
    [
      'no name',
      { tls_certificate: certificateFiles },
      [error('name', 'proxy.secret', 'a secret needs a name')],
    ],
    [
      'neither a certificate nor a validation context',
      { name: 's' },
      [error('', 'proxy.secret', 'a secret needs tls_certificate or validation_context')],
    ],
    [
      'a data source with nothing in it',
      { name: 's', tls_certificate: { certificate_chain: {}, private_key: { filename: 'k' } } },
      [
        error(
          'tls_certificate.certificate_chain',
          'proxy.required',
          'envoy.config.core.v3.DataSource: one of filename, inline_bytes, inline_string, environment_variable is required',
        ),
      ],
    ],
    [
      'a SAN type Skiff does not match',
      {
        name: 'v',
        validation_context: {
          match_typed_subject_alt_names: [{ san_type: 'OTHER_NAME', matcher: { exact: 'x' } }],
        },
      },
      [
        error(
          'validation_context.match_typed_subject_alt_names[0].san_type',
          'proxy.tls',
          'san_type "OTHER_NAME" is not implemented; expected URI, DNS, EMAIL or IP_ADDRESS',
        ),
      ],
    ],
    [
      'a generic secret',
      { name: 'g', generic_secret: { secret: { inline_string: 'x' } } },
      [
        error(
          'generic_secret',
          'proxy.unsupported',
          'field "generic_secret" of envoy.extensions.transport_sockets.tls.v3.Secret is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
        ),
      ],
    ],
    [
      'a certificate and a validation context in one secret',
      { name: 's', tls_certificate: certificateFiles, validation_context: {} },
      [
        error(
          'validation_context',
          'proxy.oneof',
          'only one of tls_certificate, session_ticket_keys, validation_context, generic_secret may be set in envoy.extensions.transport_sockets.tls.v3.Secret; "tls_certificate" is set too',
        ),
      ],
    ],
  ];
  for (const [what, input, expected] of cases) {
    it(`refuses ${what}`, () => {
      const r = parse(input);
      assert.equal(r.value, undefined);
      if (what === 'a generic secret') {
        // The decoder also names the unimplemented GenericSecret type; the field's refusal is what counts here.
        assert.ok(problems(r.diagnostics).some((p) => JSON.stringify(p) === JSON.stringify(expected[0])));
      } else assert.deepEqual(problems(r.diagnostics), expected);
    });
  }

  it('refuses a certificate without its chain and key, naming each', () => {
    const r = parse({ name: 's', tls_certificate: {} });
    assert.equal(r.value, undefined);
    const found = problems(r.diagnostics);
    for (const f of ['certificate_chain', 'private_key']) {
      assert.ok(
        found.some(
          (p) =>
            JSON.stringify(p) ===
            JSON.stringify(error(`tls_certificate.${f}`, 'proxy.required', `${f} is required`)),
        ),
        f,
      );
    }
  });

  it('refuses a certificate without its key once, at private_key', {}, () => {
    const r = parse({ name: 's', tls_certificate: { certificate_chain: { filename: 'c.pem' } } });
    assert.deepEqual(problems(r.diagnostics), [
      error('tls_certificate.private_key', 'proxy.required', 'private_key is required'),
    ]);
  });
});
