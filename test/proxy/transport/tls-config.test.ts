// `envoy.transport_sockets.tls` (DownstreamTlsContext on listeners, UpstreamTlsContext on clusters) and
// `envoy.transport_sockets.raw_buffer` as registered extensions: every field of their support tables, Envoy's
// defaults per side, certificates and validation contexts as secrets (by SDS name, or inline ones named after
// their path), and each problem at its path.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExtensionCategory } from '../../../src/proxy/config/extension.js';
import type { JsonObject } from '../../../src/proxy/config/json.js';
import type { DownstreamTlsConfig, UpstreamTlsConfig } from '../../../src/proxy/config/model.js';
import {
  DOWNSTREAM_RAW,
  DOWNSTREAM_TLS,
  TLS_DEFAULTS,
  UPSTREAM_RAW,
  UPSTREAM_TLS,
} from '../../../src/proxy/transport/tls-config.js';
import {
  any,
  certificateFiles,
  error,
  type Problem,
  problems,
  refsOf,
  T,
  translateEntry,
  warning,
} from '../config/fixtures.js';

const DOWN = 'envoy.transport_sockets.downstream';
const UP = 'envoy.transport_sockets.upstream';
const CTX = 'filters[0].typed_config.common_tls_context';
const sds = (name: string) => ({ name });
/** A server context with the agent's certificate; `common` and `fields` add to it. */
const server = (common: JsonObject = {}, fields: JsonObject = {}): JsonObject => ({
  name: 'envoy.transport_sockets.tls',
  typed_config: any(T.downstreamTls, {
    common_tls_context: { tls_certificate_sds_secret_configs: [sds('default')], ...common },
    ...fields,
  }),
});
const client = (fields: JsonObject = {}): JsonObject => ({
  name: 'envoy.transport_sockets.tls',
  typed_config: any(T.upstreamTls, fields),
});

function downstream(entry: JsonObject): DownstreamTlsConfig {
  const t = translateEntry(DOWN, entry);
  assert.deepEqual(problems(t.diagnostics), []);
  assert.ok(t.value?.kind === 'tls');
  return t.value.tls;
}

function upstream(entry: JsonObject): UpstreamTlsConfig {
  const t = translateEntry(UP, entry);
  assert.deepEqual(problems(t.diagnostics), []);
  assert.ok(t.value?.kind === 'tls');
  return t.value.tls;
}

describe('registrations', () => {
  it('registers TLS and raw_buffer on each side under Envoy’s names', () => {
    assert.deepEqual(
      [DOWNSTREAM_TLS, UPSTREAM_TLS, DOWNSTREAM_RAW, UPSTREAM_RAW].map((e) => [
        e.name,
        e.category,
        e.types,
        e.byName === true,
      ]),
      [
        ['envoy.transport_sockets.tls', DOWN, [T.downstreamTls], false],
        ['envoy.transport_sockets.tls', UP, [T.upstreamTls], false],
        ['envoy.transport_sockets.raw_buffer', DOWN, [T.rawBuffer], true],
        ['envoy.transport_sockets.raw_buffer', UP, [T.rawBuffer], true],
      ],
    );
  });
});

describe('raw_buffer', () => {
  const entries: [string, JsonObject][] = [
    ['by name', { name: 'envoy.transport_sockets.raw_buffer' }],
    ['by its short name', { name: 'raw_buffer' }],
    ['by type', { name: 'x', typed_config: any(T.rawBuffer) }],
  ];
  for (const category of [DOWN, UP] as const) {
    for (const [what, entry] of entries) {
      it(`is plaintext ${what} (${category})`, () => {
        const t = translateEntry(category as ExtensionCategory, entry);
        assert.deepEqual(problems(t.diagnostics), []);
        assert.deepEqual(t.value, { kind: 'raw' });
      });
    }
  }
});

describe('DownstreamTlsContext: defaults (Envoy’s, server side)', () => {
  it('TLS 1.2 to 1.3, Envoy’s cipher and curve lists, session tickets, no client certificate required', () => {
    assert.deepEqual(downstream(server()), {
      alpn: [],
      params: {
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.3',
        ciphers: TLS_DEFAULTS.ciphers.join(':'),
        curves: 'X25519:P-256',
      },
      certificateSecrets: ['default'],
      validationSecrets: [],
      requireClientCertificate: false,
      sessionTickets: true,
    });
    assert.deepEqual(TLS_DEFAULTS.ciphers, [
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      'ECDHE-ECDSA-CHACHA20-POLY1305',
      'ECDHE-RSA-AES128-GCM-SHA256',
      'ECDHE-RSA-CHACHA20-POLY1305',
      'ECDHE-ECDSA-AES256-GCM-SHA384',
      'ECDHE-RSA-AES256-GCM-SHA384',
    ]);
  });
});

describe('DownstreamTlsContext: every field of its support table', () => {
  const cases: [string, JsonObject, (t: DownstreamTlsConfig) => unknown, unknown][] = [
    [
      'require_client_certificate',
      server({}, { require_client_certificate: true }),
      (t) => t.requireClientCertificate,
      true,
    ],
    [
      'disable_stateless_session_resumption',
      server({}, { disable_stateless_session_resumption: true }),
      (t) => t.sessionTickets,
      false,
    ],
    [
      'alpn_protocols, in order',
      server({ alpn_protocols: ['istio-peer-exchange', 'h2', 'http/1.1'] }),
      (t) => t.alpn,
      ['istio-peer-exchange', 'h2', 'http/1.1'],
    ],
    [
      'tls_certificate_sds_secret_configs, several, with sds_config recorded',
      server({
        tls_certificate_sds_secret_configs: [sds('rsa'), { name: 'ecdsa', sds_config: { ads: {} } }],
      }),
      (t) => t.certificateSecrets,
      ['rsa', 'ecdsa'],
    ],
    [
      'tls_certificates inline, as secrets named after their path',
      server({
        tls_certificate_sds_secret_configs: [],
        tls_certificates: [certificateFiles, certificateFiles],
      }),
      (t) => t.certificateSecrets,
      [`inline:${CTX}.tls_certificates[0]`, `inline:${CTX}.tls_certificates[1]`],
    ],
    [
      'tls_certificates before tls_certificate_sds_secret_configs',
      server({ tls_certificates: [certificateFiles] }),
      (t) => t.certificateSecrets,
      [`inline:${CTX}.tls_certificates[0]`, 'default'],
    ],
    [
      'validation_context inline',
      server({ validation_context: { trusted_ca: { filename: 'ca.pem' } } }),
      (t) => t.validationSecrets,
      [`inline:${CTX}.validation_context`],
    ],
    [
      'validation_context_sds_secret_config',
      server({ validation_context_sds_secret_config: sds('ROOTCA') }),
      (t) => t.validationSecrets,
      ['ROOTCA'],
    ],
    [
      'combined_validation_context: the inline part first, then the secret (merged in that order)',
      server({
        combined_validation_context: {
          default_validation_context: {},
          validation_context_sds_secret_config: sds('ROOTCA'),
        },
      }),
      (t) => t.validationSecrets,
      [`inline:${CTX}.combined_validation_context.default_validation_context`, 'ROOTCA'],
    ],
  ];
  for (const [what, entry, pick, expected] of cases) {
    it(`reads ${what}`, () => assert.deepEqual(pick(downstream(entry)), expected));
  }
});

describe('TlsParameters', () => {
  const params = (p: JsonObject) => downstream(server({ tls_params: p })).params;
  const versions: [JsonObject, string, string][] = [
    [{ tls_minimum_protocol_version: 'TLSv1_0' }, 'TLSv1', 'TLSv1.3'],
    [{ tls_minimum_protocol_version: 'TLSv1_1' }, 'TLSv1.1', 'TLSv1.3'],
    [{ tls_minimum_protocol_version: 'TLSv1_3' }, 'TLSv1.3', 'TLSv1.3'],
    [{ tls_maximum_protocol_version: 'TLSv1_2' }, 'TLSv1.2', 'TLSv1.2'],
    [
      { tls_minimum_protocol_version: 'TLS_AUTO', tls_maximum_protocol_version: 'TLS_AUTO' },
      'TLSv1.2',
      'TLSv1.3',
    ],
    [
      { tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_2' },
      'TLSv1.2',
      'TLSv1.2',
    ],
  ];
  for (const [p, min, max] of versions) {
    it(`reads ${JSON.stringify(p)} as ${min} … ${max} on a server`, () => {
      const v = params(p);
      assert.deepEqual([v.minVersion, v.maxVersion], [min, max]);
    });
  }

  it('reads cipher_suites, equal-preference groups flattened, and ecdh_curves', () => {
    const v = params({
      cipher_suites: [
        '[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]',
        'ECDHE-RSA-AES256-GCM-SHA384',
      ],
      ecdh_curves: ['P-384', 'X25519', 'P-521', 'P-256'],
    });
    assert.equal(
      v.ciphers,
      'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384',
    );
    assert.equal(v.curves, 'P-384:X25519:P-521:P-256');
  });

  const refused: [string, JsonObject, Problem[]][] = [
    [
      'a minimum above the maximum',
      { tls_minimum_protocol_version: 'TLSv1_3', tls_maximum_protocol_version: 'TLSv1_2' },
      [
        error(
          `${CTX}.tls_params`,
          'proxy.tls',
          'tls_minimum_protocol_version TLSv1.3 is above tls_maximum_protocol_version TLSv1.2',
        ),
      ],
    ],
    [
      'an unknown cipher, at its index',
      { cipher_suites: ['ECDHE-RSA-AES128-GCM-SHA256', 'NOT-A-CIPHER'] },
      [
        error(
          `${CTX}.tls_params.cipher_suites[1]`,
          'proxy.tls',
          'unknown cipher suite "NOT-A-CIPHER": expected an OpenSSL TLS 1.2 name such as ECDHE-ECDSA-AES128-GCM-SHA256 (TLS 1.3 suites are not configurable, as in Envoy)',
        ),
      ],
    ],
    [
      'a TLS 1.3 suite',
      { cipher_suites: ['TLS_AES_128_GCM_SHA256'] },
      [
        error(
          `${CTX}.tls_params.cipher_suites[0]`,
          'proxy.tls',
          'unknown cipher suite "TLS_AES_128_GCM_SHA256": expected an OpenSSL TLS 1.2 name such as ECDHE-ECDSA-AES128-GCM-SHA256 (TLS 1.3 suites are not configurable, as in Envoy)',
        ),
      ],
    ],
    [
      'an unknown cipher inside a group',
      { cipher_suites: ['[ECDHE-RSA-AES128-GCM-SHA256|BOGUS]'] },
      [
        error(
          `${CTX}.tls_params.cipher_suites[0]`,
          'proxy.tls',
          'unknown cipher suite "BOGUS": expected an OpenSSL TLS 1.2 name such as ECDHE-ECDSA-AES128-GCM-SHA256 (TLS 1.3 suites are not configurable, as in Envoy)',
        ),
      ],
    ],
    [
      'an unknown curve',
      { ecdh_curves: ['X25519', 'secp256k1'] },
      [
        error(
          `${CTX}.tls_params.ecdh_curves[1]`,
          'proxy.tls',
          'unknown curve "secp256k1"; expected one of X25519, P-256, P-384, P-521',
        ),
      ],
    ],
  ];
  for (const [what, p, expected] of refused) {
    it(`refuses ${what}`, () => {
      const t = translateEntry(DOWN, server({ tls_params: p }));
      assert.equal(t.value, undefined);
      assert.deepEqual(problems(t.diagnostics), expected);
    });
  }
});

describe('CertificateValidationContext', () => {
  /** The validation context's inline secret, as translating it made it. */
  function validation(v: JsonObject) {
    const t = translateEntry(DOWN, server({ validation_context: v }));
    return { t, secret: t.inlineSecrets.find((s) => s.name === `inline:${CTX}.validation_context`) };
  }

  it('reads trusted_ca as a reference with its path', () => {
    const { t, secret } = validation({ trusted_ca: { filename: 'root.pem' } });
    assert.deepEqual(problems(t.diagnostics), []);
    assert.deepEqual(secret, {
      name: `inline:${CTX}.validation_context`,
      inline: true,
      validationContext: {
        trustedCa: {
          kind: 'file',
          filename: 'root.pem',
          path: ['filters', 0, 'typed_config', 'common_tls_context', 'validation_context', 'trusted_ca'],
        },
        sanMatchers: [],
      },
    });
  });

  it('reads match_typed_subject_alt_names of every type Skiff matches', () => {
    const { t, secret } = validation({
      match_typed_subject_alt_names: ['URI', 'DNS', 'EMAIL', 'IP_ADDRESS'].map((san_type) => ({
        san_type,
        matcher: { exact: 'x' },
      })),
    });
    assert.deepEqual(problems(t.diagnostics), []);
    assert.deepEqual(
      secret?.validationContext?.sanMatchers.map((m) => m.type),
      ['URI', 'DNS', 'EMAIL', 'IP_ADDRESS'],
    );
  });

  it('reads match_subject_alt_names as matchers of any SAN type', () => {
    const { t, secret } = validation({ match_subject_alt_names: [{ suffix: '.example' }, { exact: 'a' }] });
    assert.deepEqual(problems(t.diagnostics), []);
    assert.deepEqual(secret?.validationContext?.sanMatchers, [
      { type: 'ANY', match: { kind: 'suffix', value: '.example', ignoreCase: false } },
      { type: 'ANY', match: { kind: 'exact', value: 'a', ignoreCase: false } },
    ]);
  });

  it('ignores match_subject_alt_names next to typed ones, as Envoy does, and warns', () => {
    const { t, secret } = validation({
      match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'a' } }],
      match_subject_alt_names: [{ exact: 'b' }],
    });
    assert.deepEqual(problems(t.diagnostics), [
      warning(
        `${CTX}.validation_context.match_subject_alt_names`,
        'proxy.tls',
        'ignored: match_typed_subject_alt_names is set, and Envoy then ignores match_subject_alt_names',
      ),
    ]);
    assert.deepEqual(
      secret?.validationContext?.sanMatchers.map((m) => [m.type, m.match.value]),
      [['DNS', 'a']],
    );
  });

  const refused: [string, JsonObject, Problem[]][] = [
    [
      'a SAN type Skiff does not match',
      { match_typed_subject_alt_names: [{ san_type: 'OTHER_NAME', matcher: { exact: 'x' } }] },
      [
        error(
          `${CTX}.validation_context.match_typed_subject_alt_names[0].san_type`,
          'proxy.tls',
          'san_type "OTHER_NAME" is not implemented; expected URI, DNS, EMAIL or IP_ADDRESS',
        ),
      ],
    ],
    [
      'a SAN matcher without a type',
      { match_typed_subject_alt_names: [{ matcher: { exact: 'x' } }] },
      [
        error(
          `${CTX}.validation_context.match_typed_subject_alt_names[0].san_type`,
          'proxy.tls',
          'san_type "" is not implemented; expected URI, DNS, EMAIL or IP_ADDRESS',
        ),
      ],
    ],
    [
      'an invalid RE2 SAN regex',
      { match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { safe_regex: { regex: '(?<=x)' } } }] },
      [
        error(
          `${CTX}.validation_context.match_typed_subject_alt_names[0].matcher.safe_regex.regex`,
          'proxy.regex',
          'invalid RE2 expression "(?<=x)": invalid or unsupported Perl syntax: `(?<=`',
        ),
      ],
    ],
    [
      'a field Skiff does not implement (CRLs)',
      { crl: { filename: 'crl.pem' } },
      [
        error(
          `${CTX}.validation_context.crl`,
          'proxy.unsupported',
          'field "crl" of envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
        ),
      ],
    ],
  ];
  for (const [what, v, expected] of refused) {
    it(`refuses ${what}`, () => {
      const { t } = validation(v);
      assert.equal(t.value, undefined);
      assert.deepEqual(problems(t.diagnostics), expected);
    });
  }
});

describe('DownstreamTlsContext: problems and references', () => {
  it('refuses a server context without a certificate', () => {
    const t = translateEntry(
      DOWN,
      server({ tls_certificate_sds_secret_configs: [] }, { require_client_certificate: true }),
    );
    assert.equal(t.value, undefined);
    assert.deepEqual(problems(t.diagnostics), [
      error(
        CTX,
        'proxy.tls',
        'a server TLS context needs a certificate: tls_certificates or tls_certificate_sds_secret_configs',
      ),
    ]);
  });

  it('refuses combined_validation_context without its secret', () => {
    const t = translateEntry(
      DOWN,
      server({ combined_validation_context: { default_validation_context: {} } }),
    );
    assert.equal(t.value, undefined);
    assert.deepEqual(
      problems(t.diagnostics).map((p) => [p.path, p.code]),
      [[`${CTX}.combined_validation_context.validation_context_sds_secret_config`, 'proxy.required']],
    );
  });

  it('reports every secret it names, at its name', () => {
    const t = translateEntry(
      DOWN,
      server({
        tls_certificate_sds_secret_configs: [sds('default'), sds('other')],
        combined_validation_context: {
          default_validation_context: {},
          validation_context_sds_secret_config: sds('ROOTCA'),
        },
      }),
    );
    assert.deepEqual(problems(t.diagnostics), []);
    assert.deepEqual(refsOf(t), [
      ['secret', 'default', `${CTX}.tls_certificate_sds_secret_configs[0].name`, undefined],
      ['secret', 'other', `${CTX}.tls_certificate_sds_secret_configs[1].name`, undefined],
      [
        'secret',
        'ROOTCA',
        `${CTX}.combined_validation_context.validation_context_sds_secret_config.name`,
        undefined,
      ],
    ]);
  });

  it('makes no reference for inline material, only inline secrets', () => {
    const t = translateEntry(
      DOWN,
      server({ tls_certificate_sds_secret_configs: [], tls_certificates: [certificateFiles] }),
    );
    assert.deepEqual(problems(t.diagnostics), []);
    assert.deepEqual(t.refs, []);
    assert.deepEqual(t.inlineSecrets, [
      {
        name: `inline:${CTX}.tls_certificates[0]`,
        inline: true,
        tlsCertificate: {
          certificateChain: {
            kind: 'file',
            filename: 'cert.pem',
            path: [
              'filters',
              0,
              'typed_config',
              'common_tls_context',
              'tls_certificates',
              0,
              'certificate_chain',
            ],
          },
          privateKey: {
            kind: 'file',
            filename: 'key.pem',
            path: ['filters', 0, 'typed_config', 'common_tls_context', 'tls_certificates', 0, 'private_key'],
          },
        },
      },
    ]);
  });

  it('refuses a client context on a listener', () => {
    const t = translateEntry(DOWN, client());
    assert.deepEqual(
      problems(t.diagnostics).map((p) => [p.path, p.code]),
      [['filters[0]', 'proxy.unsupported']],
    );
  });
});

describe('UpstreamTlsContext', () => {
  it('defaults as Envoy’s clients do: TLS 1.2 at most, no SNI, no certificate needed', () => {
    assert.deepEqual(upstream(client()), {
      alpn: [],
      params: {
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        ciphers: TLS_DEFAULTS.ciphers.join(':'),
        curves: 'X25519:P-256',
      },
      certificateSecrets: [],
      validationSecrets: [],
      sni: '',
    });
  });

  it('reads sni, ALPN, its certificate and how it validates the server', () => {
    const t = upstream(
      client({
        sni: 'outbound_.9080_._.app.ns.svc.cluster.local',
        common_tls_context: {
          alpn_protocols: ['istio-peer-exchange', 'istio'],
          tls_certificate_sds_secret_configs: [sds('default')],
          validation_context_sds_secret_config: sds('ROOTCA'),
          tls_params: { tls_maximum_protocol_version: 'TLSv1_3' },
        },
      }),
    );
    assert.equal(t.sni, 'outbound_.9080_._.app.ns.svc.cluster.local');
    assert.deepEqual(t.alpn, ['istio-peer-exchange', 'istio']);
    assert.deepEqual([t.certificateSecrets, t.validationSecrets], [['default'], ['ROOTCA']]);
    assert.equal(t.params.maxVersion, 'TLSv1.3');
  });

  it('refuses a field Skiff does not implement, and a server context on a cluster', () => {
    const t = translateEntry(UP, client({ allow_renegotiation: true }));
    assert.deepEqual(problems(t.diagnostics), [
      error(
        'filters[0].typed_config.allow_renegotiation',
        'proxy.unsupported',
        'field "allow_renegotiation" of envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
      ),
    ]);
    assert.deepEqual(
      problems(translateEntry(UP, server()).diagnostics).map((p) => [p.path, p.code]),
      [['filters[0]', 'proxy.unsupported']],
    );
  });

  it('refuses TLS named without a context', () => {
    assert.deepEqual(problems(translateEntry(UP, { name: 'envoy.transport_sockets.tls' }).diagnostics), [
      error(
        'filters[0].typed_config',
        'proxy.required',
        'transport socket "envoy.transport_sockets.tls" needs a typed_config',
      ),
    ]);
  });
});
