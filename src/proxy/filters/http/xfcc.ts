// x-forwarded-client-cert as Envoy writes it (conn_manager_utility.cc mutateXfccRequestHeader), pure:
// on a connection without a client certificate every mode but ALWAYS_FORWARD_ONLY removes the header; on mTLS,
// FORWARD_ONLY keeps it, APPEND_FORWARD appends our element, SANITIZE_SET replaces it, SANITIZE removes it.
// The element is `By=<our URI SAN>;Hash=<hex SHA-256 of the client certificate DER>[;Cert="…"][;Chain="…"]
// [;Subject="…"][;URI=<client URI SAN>][;DNS=<each DNS SAN>]` — Istio: APPEND_FORWARD with subject, uri, dns.

import type { ForwardClientCertDetails } from '../../config/model.js';

export interface ClientCertFacts {
  /** Our own certificate's URI SAN ('' when none). */
  localUri: string;
  /** Hex SHA-256 of the client certificate (DER). */
  hash: string;
  /** RFC 2253 form of the client certificate subject ('' for Istio's empty subjects). */
  subject: string;
  /** The client's URI SAN ('' when none). */
  uri: string;
  dns: string[];
  certPem: string;
  chainPem: string;
}

export interface XfccDetails {
  subject: boolean;
  cert: boolean;
  chain: boolean;
  dns: boolean;
  uri: boolean;
}

/** The element this proxy adds for one mTLS connection. */
export function xfccElement(c: ClientCertFacts, d: XfccDetails): string {
  const parts: string[] = [];
  if (c.localUri) parts.push(`By=${c.localUri}`);
  parts.push(`Hash=${c.hash}`);
  if (d.cert) parts.push(`Cert="${encodeURIComponent(c.certPem)}"`);
  if (d.chain) parts.push(`Chain="${encodeURIComponent(c.chainPem)}"`);
  if (d.subject) parts.push(`Subject="${c.subject.replace(/"/g, '\\"')}"`);
  if (d.uri) parts.push(`URI=${c.uri}`);
  if (d.dns) for (const name of c.dns) parts.push(`DNS=${name}`);
  return parts.join(';');
}

/**
 * The XFCC value to send upstream: undefined removes the header. `incoming` is what the client sent, `element`
 * this proxy's element for the connection (`xfccElement`, made once per connection), undefined on a connection
 * without a (verified) client certificate.
 */
export function mutateXfcc(
  mode: ForwardClientCertDetails,
  incoming: string | undefined,
  element: string | undefined,
): string | undefined {
  if (mode === 'ALWAYS_FORWARD_ONLY') return incoming;
  if (element === undefined) return undefined;
  switch (mode) {
    case 'FORWARD_ONLY':
      return incoming;
    case 'SANITIZE':
      return undefined;
    case 'SANITIZE_SET':
      return element;
    case 'APPEND_FORWARD':
      return incoming ? `${incoming},${element}` : element;
  }
}

/** Node's X509Certificate.subject (`CN=a\nO=b`, certificate order) in RFC 2253 form (`O=b,CN=a`). */
export function rfc2253Subject(nodeSubject: string | undefined): string {
  if (!nodeSubject) return '';
  return nodeSubject
    .split('\n')
    .filter((l) => l !== '')
    .reverse()
    .map((rdn) => rdn.replace(/([,+"\\<>;])/g, '\\$1'))
    .join(',');
}
