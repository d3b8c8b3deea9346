// networking.istio.io ClientTLSSettings (DestinationRule trafficPolicy.tls, portLevelSettings[].tls), with the
// rules of Istio's `agent.ValidateTLS` (pkg/config/validation/agent/validation.go). The `configmap://`
// credentialName rule needs the resource's namespace: see `checkClientTlsNamespace`.

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
  string,
} from '../schema.js';

export const CLIENT_TLS_MODES = ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'] as const;

const CERTS = 'Skiff does not load certificates or keys';

const clientTlsShape = object(
  {
    mode: optional(oneOf(CLIENT_TLS_MODES)),
    clientCertificate: notEnforced(string(), CERTS),
    privateKey: notEnforced(string(), CERTS),
    caCertificates: notEnforced(string(), CERTS),
    credentialName: notEnforced(string(), CERTS),
    subjectAltNames: optional(array(string())),
    sni: optional(string()),
    /** google.protobuf.BoolValue: a plain boolean in YAML. */
    insecureSkipVerify: notEnforced(boolean(), 'Skiff does not verify server certificates'),
    caCrl: notEnforced(string(), CERTS),
  },
  'client TLS settings ({mode: DISABLE | SIMPLE | MUTUAL | ISTIO_MUTUAL, ...})',
);

export type ClientTlsSettings = Infer<typeof clientTlsShape>;

export const clientTls = refine(clientTlsShape, checkClientTls);

/** A string field Go would see as set (proto3: empty means unset). */
const set = (s: string | undefined): boolean => s !== undefined && s !== '';
/** A repeated field Go would see as non-nil (an empty JSON list decodes to nil). */
const setList = (l: unknown[] | undefined): boolean => l !== undefined && l.length > 0;

/** agent.ValidateTLS, except the configmap:// rule. */
function checkClientTls(tls: ClientTlsSettings, path: FieldPath, c: Checker): boolean {
  let ok = true;
  const fail = (code: string, message: string) => {
    c.error(path, code, message);
    ok = false;
  };
  const mode = tls.mode ?? 'DISABLE';
  if (tls.insecureSkipVerify === true) {
    if (
      mode === 'SIMPLE' &&
      (set(tls.caCertificates) || set(tls.credentialName) || setList(tls.subjectAltNames))
    )
      fail(
        'ISTIO_DR_TLS_INSECURE_SKIP_VERIFY',
        'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true',
      );
    if (mode === 'MUTUAL' && (set(tls.caCertificates) || setList(tls.subjectAltNames)))
      fail(
        'ISTIO_DR_TLS_INSECURE_SKIP_VERIFY',
        'cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true',
      );
  }
  if ((mode === 'SIMPLE' || mode === 'MUTUAL') && set(tls.credentialName)) {
    if (set(tls.clientCertificate) || set(tls.caCertificates) || set(tls.privateKey) || set(tls.caCrl))
      fail(
        'ISTIO_DR_TLS_CREDENTIAL_WITH_FILES',
        'cannot specify client certificates or CA certificate or CA CRL If credentialName is set',
      );
    // The credential holds the certificates: nothing else is required.
    return ok;
  }
  if (mode === 'MUTUAL') {
    if (!set(tls.clientCertificate))
      fail('ISTIO_DR_TLS_MUTUAL_CERTIFICATE', 'client certificate required for mutual tls');
    if (!set(tls.privateKey)) fail('ISTIO_DR_TLS_MUTUAL_KEY', 'private key required for mutual tls');
  }
  return ok;
}

/**
 * The configmap:// part of agent.ValidateTLS: `configmap://<namespace>/<name>`, in the resource's own namespace.
 * Returns false when it reported.
 */
export function checkClientTlsNamespace(
  tls: ClientTlsSettings | undefined,
  namespace: string,
  path: FieldPath,
  c: Checker,
): boolean {
  const name = tls?.credentialName;
  const prefix = 'configmap://';
  if (name === undefined || !name.startsWith(prefix)) return true;
  const parts = name.slice(prefix.length).split('/');
  let problem: string | undefined;
  if (parts.length <= 1)
    problem = `invalid resource name ${JSON.stringify(name)}. Expected namespace and name`;
  else if (parts[0] === '') problem = `invalid resource name ${JSON.stringify(name)}. Expected namespace`;
  else if (parts[1] === '') problem = `invalid resource name ${JSON.stringify(name)}. Expected name`;
  else if (parts[0] !== namespace)
    problem = `namespace must match the configuration namespace ${JSON.stringify(namespace)}`;
  if (problem === undefined) return true;
  c.error(
    [...path, 'credentialName'],
    'ISTIO_DR_TLS_CONFIGMAP',
    `invalid configmap:// credentialName: ${problem}`,
  );
  return false;
}
