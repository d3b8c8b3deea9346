// networking.istio.io Gateway `servers[].tls` (ServerTLSSettings): its shape from the CRD and Istio's
// `validateTLSOptions` (pkg/config/validation/validation.go), with Istio's messages and errors vs warnings.

import type { FieldPath } from '../../core/field-path.js';
import {
  array,
  boolean,
  type Checker,
  type Infer,
  notEnforced,
  object,
  oneOf,
  optional,
  refine,
  type Schema,
  string,
} from '../schema.js';

export const SERVER_TLS_MODES = [
  'PASSTHROUGH',
  'SIMPLE',
  'MUTUAL',
  'AUTO_PASSTHROUGH',
  'ISTIO_MUTUAL',
  'OPTIONAL_MUTUAL',
] as const;
export type ServerTlsMode = (typeof SERVER_TLS_MODES)[number];

export const TLS_PROTOCOL_VERSIONS = ['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'] as const;
export type TlsProtocolVersion = (typeof TLS_PROTOCOL_VERSIONS)[number];

export interface ServerTlsCertificate {
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
}

export interface ServerTlsSettings {
  httpsRedirect?: boolean;
  /** Absent means PASSTHROUGH (the enum's zero value), as Istio reads it. */
  mode?: ServerTlsMode;
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  caCertCredentialName?: string;
  caCrl?: string;
  credentialName?: string;
  credentialNames?: string[];
  tlsCertificates?: ServerTlsCertificate[];
  subjectAltNames?: string[];
  verifyCertificateSpki?: string[];
  verifyCertificateHash?: string[];
  minProtocolVersion?: TlsProtocolVersion;
  maxProtocolVersion?: TlsProtocolVersion;
  cipherSuites?: string[];
}

/** The CRD's `maxItems` (the DSL's `array` only knows `minItems`). */
function atMost<T>(inner: Schema<T[]>, max: number): Schema<T[]> {
  return refine(inner, (items, path, c) => {
    if (items.length <= max) return true;
    c.error(path, 'SKIFF_CONFIG_TOO_MANY', `${items.length} items: at most ${max} allowed`);
    return false;
  });
}

const tlsCertificate = object(
  {
    serverCertificate: optional(string()),
    privateKey: optional(string()),
    caCertificates: optional(string()),
  },
  'a TLS certificate ({serverCertificate, privateKey, caCertificates})',
);

const CERTS = 'Skiff does not terminate TLS at gateways yet';

const tlsShape = object(
  {
    httpsRedirect: notEnforced(boolean(), 'Skiff does not send HTTPS redirects yet'),
    mode: optional(oneOf(SERVER_TLS_MODES)),
    serverCertificate: notEnforced(string(), CERTS),
    privateKey: notEnforced(string(), CERTS),
    caCertificates: notEnforced(string(), CERTS),
    caCertCredentialName: notEnforced(string(), CERTS),
    caCrl: notEnforced(string(), CERTS),
    credentialName: notEnforced(string(), CERTS),
    credentialNames: notEnforced(atMost(array(string(), { minItems: 1 }), 2), CERTS),
    tlsCertificates: notEnforced(atMost(array(tlsCertificate, { minItems: 1 }), 2), CERTS),
    subjectAltNames: notEnforced(array(string()), CERTS),
    verifyCertificateSpki: notEnforced(array(string()), CERTS),
    verifyCertificateHash: notEnforced(array(string()), CERTS),
    minProtocolVersion: notEnforced(oneOf(TLS_PROTOCOL_VERSIONS), CERTS),
    maxProtocolVersion: notEnforced(oneOf(TLS_PROTOCOL_VERSIONS), CERTS),
    cipherSuites: notEnforced(array(string()), CERTS),
  },
  'server TLS settings',
);

/** The shape only: the Gateway's server check runs `validateTlsOptions` with the server's other rules. */
export const serverTlsSettings: Schema<ServerTlsSettings> = tlsShape;

// Both shapes must agree; this line fails to compile if they drift apart.
const _sameShape: ServerTlsSettings = {} as Infer<typeof tlsShape>;
void _sameShape;

/** Gateway.server.tls.cipherSuites Istio knows (pkg/config/security: ValidCipherSuites). */
export const VALID_CIPHER_SUITES: ReadonlySet<string> = new Set([
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-RSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA',
  'ECDHE-RSA-AES256-SHA',
  'AES128-GCM-SHA256',
  'AES256-GCM-SHA384',
  'AES128-SHA',
  'AES256-SHA',
  'DES-CBC3-SHA',
]);

/** Istio's security.IsValidCipherSuite: "", "ALL", expressions (`-X`, `+X`, `!X`) and the names above. */
export function isValidCipherSuite(suite: string): boolean {
  if (suite === '' || suite === 'ALL') return true;
  if (!/^[\p{L}\p{N}]/u.test(suite)) return true;
  return VALID_CIPHER_SUITES.has(suite);
}

/** Go's `%v` of a string slice: `[a b]`. */
const goList = (items: Iterable<string>) => `[${[...items].sort().join(' ')}]`;

const set = (s: string | undefined): s is string => s !== undefined && s !== '';

/** validateTLSOptions. Returns false when it reported an error. */
export function validateTlsOptions(tls: ServerTlsSettings, path: FieldPath, c: Checker): boolean {
  const before = c.issues.filter((i) => i.severity === 'error').length;
  const at = (...rest: (string | number)[]) => [...path, ...rest];
  const mode: ServerTlsMode = tls.mode ?? 'PASSTHROUGH';
  const ciphers = tls.cipherSuites ?? [];

  if (
    (tls.minProtocolVersion === 'TLSV1_0' || tls.minProtocolVersion === 'TLSV1_1') &&
    ciphers.length === 0
  ) {
    c.warn(
      at('minProtocolVersion'),
      'ISTIO_GW_TLS_OLD_VERSION_CIPHERS',
      'TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.',
    );
  }
  checkVersionRange(tls, path, c);
  checkCipherSuites(ciphers, at('cipherSuites'), c);

  if (mode === 'ISTIO_MUTUAL') {
    const forbidden: [keyof ServerTlsSettings, string][] = [
      ['serverCertificate', 'server certificate'],
      ['privateKey', 'private key'],
      ['caCertificates', 'CA bundle'],
      ['tlsCertificates', 'tlsCertificates'],
      ['credentialName', 'credentialName'],
      ['credentialNames', 'credentialNames'],
    ];
    for (const [field, what] of forbidden) {
      const value = tls[field];
      if (Array.isArray(value) ? value.length > 0 : typeof value === 'string' && value !== '') {
        c.error(
          at(field),
          'ISTIO_GW_TLS_ISTIO_MUTUAL_CERTS',
          `ISTIO_MUTUAL TLS cannot have associated ${what}: ISTIO_MUTUAL uses the mesh's own certificates, remove ${field}`,
        );
      }
    }
    return errorsSince(c, before);
  }

  const credentialNames = tls.credentialNames ?? [];
  const tlsCertificates = tls.tlsCertificates ?? [];
  if (mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') {
    const certFields = [
      'caCrl',
      'serverCertificate',
      'privateKey',
      'caCertificates',
      'tlsCertificates',
      'credentialName',
      'credentialNames',
    ] as const;
    const present = certFields.filter((f) => {
      const v = tls[f];
      return Array.isArray(v) ? v.length > 0 : set(v);
    });
    if (present.length > 0) {
      c.warn(
        path,
        'ISTIO_GW_TLS_PASSTHROUGH_CERTS',
        `${mode} mode does not use certificates, they will be ignored: ${present.join(', ')}${tls.mode === undefined ? ' (mode is not set, so it is PASSTHROUGH)' : ''}`,
      );
    }
  }

  const sources: string[] = [];
  if (set(tls.serverCertificate) && set(tls.privateKey)) sources.push('serverCertificate/privateKey');
  if (set(tls.credentialName)) sources.push('credentialName');
  if (credentialNames.length > 0) sources.push('credentialNames');
  if (tlsCertificates.length > 0) sources.push('tlsCertificates');
  if (sources.length > 1) {
    c.error(
      path,
      'ISTIO_GW_TLS_CERT_SOURCES',
      `only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should be specified, got ${sources.join(' and ')}`,
    );
  }

  const terminates = mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL';
  // With a credential, certificates are fetched remotely (SDS): nothing else is required.
  if (terminates && (set(tls.credentialName) || credentialNames.length > 0)) return errorsSince(c, before);

  if (terminates) {
    const prefix = mode === 'SIMPLE' ? 'SIMPLE TLS' : 'MUTUAL TLS';
    // caCertCredentialName (Istio 1.28) names the client CA too: accepted in place of caCertificates.
    if (mode !== 'SIMPLE' && !set(tls.caCertificates) && !set(tls.caCertCredentialName)) {
      c.error(
        at('caCertificates'),
        'ISTIO_GW_TLS_CA_REQUIRED',
        `${prefix} requires a client CA bundle: set caCertificates (or use credentialName)`,
      );
    }
    const certs: [ServerTlsCertificate, FieldPath][] =
      tlsCertificates.length > 0
        ? tlsCertificates.map((cert, i) => [cert, at('tlsCertificates', i)])
        : [[tls, path]];
    for (const [cert, certPath] of certs) {
      if (!set(cert.serverCertificate)) {
        c.error(
          [...certPath, 'serverCertificate'],
          'ISTIO_GW_TLS_CERT_REQUIRED',
          `${prefix} requires a server certificate: set serverCertificate (or use credentialName)`,
        );
      }
      if (!set(cert.privateKey)) {
        c.error(
          [...certPath, 'privateKey'],
          'ISTIO_GW_TLS_KEY_REQUIRED',
          `${prefix} requires a private key: set privateKey (or use credentialName)`,
        );
      }
    }
  }
  if (set(tls.caCrl)) {
    if (set(tls.credentialName)) {
      c.error(
        at('caCrl'),
        'ISTIO_GW_TLS_CRL_WITH_CREDENTIAL',
        'CRL is not supported with credentialName. CRL has to be specified in the credential',
      );
    }
    if (mode === 'SIMPLE') {
      c.error(
        at('caCrl'),
        'ISTIO_GW_TLS_CRL_SIMPLE',
        'CRL is not supported with SIMPLE TLS: client certificates are only checked in MUTUAL and OPTIONAL_MUTUAL modes',
      );
    }
  }
  return errorsSince(c, before);
}

function errorsSince(c: Checker, before: number): boolean {
  return c.issues.filter((i) => i.severity === 'error').length === before;
}

function checkCipherSuites(ciphers: readonly string[], path: FieldPath, c: Checker): void {
  const invalid = new Set<string>();
  const valid = new Set<string>();
  const duplicate = new Set<string>();
  for (const suite of ciphers) {
    if (!isValidCipherSuite(suite)) invalid.add(suite);
    else if (valid.has(suite)) duplicate.add(suite);
    else valid.add(suite);
  }
  if (invalid.size > 0) {
    c.warn(
      path,
      'ISTIO_GW_TLS_CIPHER_INVALID',
      `ignoring invalid cipher suites: ${goList(invalid)}; known suites are ${[...VALID_CIPHER_SUITES].join(', ')}`,
    );
  }
  if (duplicate.size > 0) {
    c.warn(path, 'ISTIO_GW_TLS_CIPHER_DUPLICATE', `ignoring duplicate cipher suites: ${goList(duplicate)}`);
  }
}

/** Skiff's own check (Istio has none): a minimum above the maximum leaves no version to negotiate. */
function checkVersionRange(tls: ServerTlsSettings, path: FieldPath, c: Checker): void {
  const { minProtocolVersion: min, maxProtocolVersion: max } = tls;
  if (min === undefined || max === undefined || min === 'TLS_AUTO' || max === 'TLS_AUTO') return;
  if (TLS_PROTOCOL_VERSIONS.indexOf(min) > TLS_PROTOCOL_VERSIONS.indexOf(max)) {
    c.warn(
      [...path, 'minProtocolVersion'],
      'SKIFF_GW_TLS_VERSION_RANGE',
      `minProtocolVersion ${min} is above maxProtocolVersion ${max}: no TLS version can be negotiated`,
    );
  }
}
