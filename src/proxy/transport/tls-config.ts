// `envoy.transport_sockets.tls` (DownstreamTlsContext on listeners, UpstreamTlsContext on clusters) and
// `envoy.transport_sockets.raw_buffer`: their translation and the fields Skiff implements. Certificates and
// validation contexts are secrets by name (SDS, or the agent's `default`/`ROOTCA`); inline ones become secrets
// named after where they were written, so one code path serves both. The Secret resource reads its TLS
// certificate and validation context with the same functions.

import { getCiphers } from 'node:tls';
import { showValue } from '../../core/diagnostics.js';
import type { FieldPath } from '../../core/field-path.js';
import type { SupportTable } from '../../xds/decode.js';
import { translateDataSource, translateStringMatch } from '../config/common.js';
import type { TranslateContext } from '../config/context.js';
import type { Extension } from '../config/extension.js';
import { type JsonObject, list, obj, str } from '../config/json.js';
import type {
  CommonTlsConfig,
  DataSource,
  DownstreamTlsConfig,
  SanMatcher,
  SanType,
  TlsCertificateConfig,
  TlsParams,
  TlsVersion,
  ValidationContextConfig,
} from '../config/model.js';

/** Envoy's defaults. */
export const TLS_DEFAULTS = {
  /** Envoy's server-side cipher list for TLS 1.2 (BoringSSL equal-preference groups flattened). */
  ciphers: [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-RSA-CHACHA20-POLY1305',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
  ],
  curves: ['X25519', 'P-256'],
};

const CURVES = new Set(['X25519', 'P-256', 'P-384', 'P-521']);
const VERSIONS: Record<string, TlsVersion | undefined> = {
  TLS_AUTO: undefined,
  TLSv1_0: 'TLSv1',
  TLSv1_1: 'TLSv1.1',
  TLSv1_2: 'TLSv1.2',
  TLSv1_3: 'TLSv1.3',
};
const VERSION_ORDER: TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

const COMMON_TLS_SUPPORT: SupportTable = {
  'envoy.extensions.transport_sockets.tls.v3.CommonTlsContext': {
    tls_params: 'Versions, ciphers, curves.',
    tls_certificates: 'The certificate and key, inline or from files.',
    tls_certificate_sds_secret_configs: 'The certificate by secret name (SDS, or the agent’s `default`).',
    validation_context: 'How peer certificates are validated.',
    validation_context_sds_secret_config: 'The validation context by secret name.',
    combined_validation_context: 'A validation context plus one by secret name, merged.',
    alpn_protocols: 'ALPN offered (server: preference order).',
  },
  'envoy.extensions.transport_sockets.tls.v3.CommonTlsContext.CombinedCertificateValidationContext': {
    default_validation_context: 'Fields merged over the secret’s.',
    validation_context_sds_secret_config: 'The secret holding trusted CAs.',
  },
  'envoy.extensions.transport_sockets.tls.v3.TlsParameters': {
    tls_minimum_protocol_version: 'TLSv1_0 … TLSv1_3 (TLS_AUTO: 1.2).',
    tls_maximum_protocol_version: 'TLSv1_0 … TLSv1_3 (TLS_AUTO: 1.3 for servers, 1.2 for clients, as Envoy).',
    cipher_suites: 'TLS 1.2 cipher suites, OpenSSL names.',
    ecdh_curves: 'Key exchange groups (X25519, P-256, P-384, P-521).',
  },
  'envoy.extensions.transport_sockets.tls.v3.TlsCertificate': {
    certificate_chain: 'PEM chain, leaf first.',
    private_key: 'PEM private key.',
  },
  'envoy.extensions.transport_sockets.tls.v3.SdsSecretConfig': {
    name: 'The secret’s name: a static secret, or one the agent provides (`default`, `ROOTCA`).',
    sds_config: 'Where the secret comes from (recorded; secrets come from static resources or the agent).',
  },
  'envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext': {
    trusted_ca: 'PEM roots (the trust bundle); without it no chain is verified.',
    match_typed_subject_alt_names: 'The peer certificate must have a SAN of this type matching.',
    match_subject_alt_names: 'The peer certificate must have a SAN (any type) matching.',
  },
  'envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher': {
    san_type: 'URI, DNS, EMAIL or IP_ADDRESS.',
    matcher: 'How the value matches.',
  },
};

/** CommonTlsContext, shared by both sides; `side` picks Envoy's defaults (a client's maximum is TLS 1.2). */
function translateCommonTls(
  common: JsonObject,
  at: FieldPath,
  side: 'server' | 'client',
  ctx: TranslateContext,
): CommonTlsConfig {
  const certificateSecrets = [
    ...list(common.tls_certificates).map((c, i) => {
      const where = [...at, 'tls_certificates', i];
      return ctx.inlineSecret({ tlsCertificate: translateTlsCertificate(obj(c), where, ctx) }, where);
    }),
    ...list(common.tls_certificate_sds_secret_configs).map((s, i) =>
      secretName(obj(s), [...at, 'tls_certificate_sds_secret_configs', i], ctx),
    ),
  ];
  const validationSecrets: string[] = [];
  const inlineValidation = (v: JsonObject, where: FieldPath) =>
    ctx.inlineSecret({ validationContext: translateValidationContext(v, where, ctx) }, where);
  if (common.validation_context !== undefined) {
    validationSecrets.push(inlineValidation(obj(common.validation_context), [...at, 'validation_context']));
  } else if (common.validation_context_sds_secret_config !== undefined) {
    validationSecrets.push(
      secretName(
        obj(common.validation_context_sds_secret_config),
        [...at, 'validation_context_sds_secret_config'],
        ctx,
      ),
    );
  } else if (common.combined_validation_context !== undefined) {
    const combined = obj(common.combined_validation_context);
    const cat = [...at, 'combined_validation_context'];
    validationSecrets.push(
      inlineValidation(obj(combined.default_validation_context), [...cat, 'default_validation_context']),
    );
    if (combined.validation_context_sds_secret_config === undefined) {
      ctx.error(
        [...cat, 'validation_context_sds_secret_config'],
        'proxy.required',
        'validation_context_sds_secret_config is required',
      );
    } else {
      validationSecrets.push(
        secretName(
          obj(combined.validation_context_sds_secret_config),
          [...cat, 'validation_context_sds_secret_config'],
          ctx,
        ),
      );
    }
  }
  return {
    alpn: list(common.alpn_protocols).map(str),
    params: translateTlsParams(obj(common.tls_params), [...at, 'tls_params'], side, ctx),
    certificateSecrets,
    validationSecrets,
  };
}

function secretName(s: JsonObject, path: FieldPath, ctx: TranslateContext): string {
  const name = str(s.name);
  ctx.ref('secret', name, [...path, 'name']);
  return name;
}

function translateTlsParams(
  p: JsonObject,
  path: FieldPath,
  side: 'server' | 'client',
  ctx: TranslateContext,
): TlsParams {
  const min = VERSIONS[str(p.tls_minimum_protocol_version) || 'TLS_AUTO'] ?? 'TLSv1.2';
  const max =
    VERSIONS[str(p.tls_maximum_protocol_version) || 'TLS_AUTO'] ??
    (side === 'server' ? 'TLSv1.3' : 'TLSv1.2');
  if (VERSION_ORDER.indexOf(min) > VERSION_ORDER.indexOf(max)) {
    ctx.error(
      path,
      'proxy.tls',
      `tls_minimum_protocol_version ${min} is above tls_maximum_protocol_version ${max}`,
    );
  }
  const known = new Set(getCiphers().map((c) => c.toUpperCase()));
  const ciphers: string[] = [];
  list(p.cipher_suites).forEach((entry, i) => {
    for (const name of str(entry)
      .replace(/^\[|\]$/g, '')
      .split('|')) {
      if (!known.has(name.toUpperCase()) || name.startsWith('TLS_')) {
        ctx.error(
          [...path, 'cipher_suites', i],
          'proxy.tls',
          `unknown cipher suite ${showValue(name)}: expected an OpenSSL TLS 1.2 name such as ECDHE-ECDSA-AES128-GCM-SHA256 (TLS 1.3 suites are not configurable, as in Envoy)`,
        );
      } else ciphers.push(name);
    }
  });
  const curves = list(p.ecdh_curves).map(str);
  curves.forEach((c, i) => {
    if (!CURVES.has(c))
      ctx.error(
        [...path, 'ecdh_curves', i],
        'proxy.tls',
        `unknown curve ${showValue(c)}; expected one of ${[...CURVES].join(', ')}`,
      );
  });
  return {
    minVersion: min,
    maxVersion: max,
    ciphers: (ciphers.length > 0 ? ciphers : TLS_DEFAULTS.ciphers).join(':'),
    curves: (curves.length > 0 ? curves : TLS_DEFAULTS.curves).join(':'),
  };
}

export function translateTlsCertificate(
  c: JsonObject,
  path: FieldPath,
  ctx: TranslateContext,
): TlsCertificateConfig {
  const source = (f: 'certificate_chain' | 'private_key'): DataSource => {
    if (c[f] !== undefined) return translateDataSource(obj(c[f]), [...path, f], ctx);
    ctx.error([...path, f], 'proxy.required', `${f} is required`);
    return { kind: 'inline', data: Buffer.alloc(0) };
  };
  return { certificateChain: source('certificate_chain'), privateKey: source('private_key') };
}

export function translateValidationContext(
  v: JsonObject,
  path: FieldPath,
  ctx: TranslateContext,
): ValidationContextConfig {
  const sanMatchers: SanMatcher[] = list(v.match_typed_subject_alt_names).map((m, i) => {
    const matcher = obj(m);
    const type = str(matcher.san_type);
    const at = [...path, 'match_typed_subject_alt_names', i];
    if (!['URI', 'DNS', 'EMAIL', 'IP_ADDRESS'].includes(type)) {
      ctx.error(
        [...at, 'san_type'],
        'proxy.tls',
        `san_type ${showValue(type)} is not implemented; expected URI, DNS, EMAIL or IP_ADDRESS`,
      );
    }
    return {
      type: type as SanType,
      match: translateStringMatch(obj(matcher.matcher), [...at, 'matcher'], ctx),
    };
  });
  if (sanMatchers.length > 0 && list(v.match_subject_alt_names).length > 0) {
    // Envoy reads the deprecated untyped list only when the typed one is empty.
    ctx.warn(
      [...path, 'match_subject_alt_names'],
      'proxy.tls',
      'ignored: match_typed_subject_alt_names is set, and Envoy then ignores match_subject_alt_names',
    );
  } else {
    list(v.match_subject_alt_names).forEach((m, i) => {
      sanMatchers.push({
        type: 'ANY',
        match: translateStringMatch(obj(m), [...path, 'match_subject_alt_names', i], ctx),
      });
    });
  }
  return {
    ...(v.trusted_ca === undefined
      ? {}
      : { trustedCa: translateDataSource(obj(v.trusted_ca), [...path, 'trusted_ca'], ctx) }),
    sanMatchers,
  };
}

function translateDownstreamTls(d: JsonObject, path: FieldPath, ctx: TranslateContext): DownstreamTlsConfig {
  const at = [...path, 'common_tls_context'];
  const common = translateCommonTls(obj(d.common_tls_context), at, 'server', ctx);
  if (common.certificateSecrets.length === 0) {
    ctx.error(
      at,
      'proxy.tls',
      'a server TLS context needs a certificate: tls_certificates or tls_certificate_sds_secret_configs',
    );
  }
  return {
    ...common,
    requireClientCertificate: d.require_client_certificate === true,
    sessionTickets: d.disable_stateless_session_resumption !== true,
  };
}

const TLS_NAME = 'envoy.transport_sockets.tls';
const RAW_NAME = 'envoy.transport_sockets.raw_buffer';

export const DOWNSTREAM_TLS: Extension<'envoy.transport_sockets.downstream'> = {
  name: TLS_NAME,
  aliases: ['tls'],
  category: 'envoy.transport_sockets.downstream',
  types: ['envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext'],
  summary:
    'TLS on a listener’s filter chain: certificates, client certificate checks, ALPN, versions, ciphers.',
  support: {
    'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext': {
      common_tls_context: 'Certificates, validation, ALPN, versions and ciphers.',
      require_client_certificate: 'Refuse a client without a certificate.',
      disable_stateless_session_resumption:
        'No TLS session tickets (default: issued, as Envoy). Saves their cost on every full handshake.',
    },
    ...COMMON_TLS_SUPPORT,
  },
  translate: (typed, path, ctx) => ({ kind: 'tls', tls: translateDownstreamTls(typed, path, ctx) }),
};

export const UPSTREAM_TLS: Extension<'envoy.transport_sockets.upstream'> = {
  name: TLS_NAME,
  aliases: ['tls'],
  category: 'envoy.transport_sockets.upstream',
  types: ['envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext'],
  summary: 'TLS to an endpoint: client certificate, server validation (trusted CA, SANs), SNI, ALPN.',
  support: {
    'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext': {
      common_tls_context:
        'Client certificate, server validation (trusted CA, SAN matchers), ALPN, versions, ciphers.',
      sni: 'Server name sent (Istio: `outbound_.PORT_._.HOST`).',
    },
  },
  translate: (typed, path, ctx) => ({
    kind: 'tls',
    tls: {
      ...translateCommonTls(obj(typed.common_tls_context), [...path, 'common_tls_context'], 'client', ctx),
      sni: str(typed.sni),
    },
  }),
};

const RAW_SUPPORT: SupportTable = { 'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer': {} };

export const DOWNSTREAM_RAW: Extension<'envoy.transport_sockets.downstream'> = {
  name: RAW_NAME,
  aliases: ['raw_buffer'],
  category: 'envoy.transport_sockets.downstream',
  types: ['envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer'],
  byName: true,
  summary: 'Plaintext.',
  support: RAW_SUPPORT,
  translate: () => ({ kind: 'raw' }),
};

export const UPSTREAM_RAW: Extension<'envoy.transport_sockets.upstream'> = {
  ...DOWNSTREAM_RAW,
  category: 'envoy.transport_sockets.upstream',
  translate: () => ({ kind: 'raw' }),
};
