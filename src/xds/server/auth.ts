// Who may use the secure xDS port (15012), as istiod decides:
// - Authentication (Istio's security.Authenticator chain: the client certificate first, then the token): the
//   client's workload certificate, verified by TLS against the mesh roots, names the caller by its SPIFFE URI
//   SAN, so a mesh outlives its bootstrap tokens; otherwise an `authorization: Bearer <token>` bootstrap token.
// - Authorization of an ADS stream (pilot/pkg/xds/auth.go:59 checkConnectionIdentity): the node's NAMESPACE and
//   SERVICE_ACCOUNT must match the authenticated identity (the trust domain is not compared), and, as local mode
//   adds (local-mode.md "Registry"), the node must be a known WorkloadEntry: at one of its addresses, in its
//   namespace, with that service account. The control plane never registers a proxy because it said so.

import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { parseSpiffeId, spiffeId, type WorkloadIdentity } from '../../ca/identity.js';
import type { RefusalReason } from '../../ca/issuance.js';
import { type Authenticator, type CallPeer, tokenAuthenticator } from '../../ca/service.js';
import type { LoadedCa } from '../../ca/store.js';
import type { MeshModel, WorkloadModel } from '../../model/types.js';
import type { ProxyNode } from '../generate/proxy.js';
import type { Refusal } from './server.js';

/** An authenticated caller: who, and how it proved it. */
export type Authentication =
  | { ok: true; identity: WorkloadIdentity; method: 'certificate' | 'token' }
  | { ok: false; reason: RefusalReason; message: string };

/**
 * The SPIFFE identity of a verified client certificate (its first `spiffe://…/ns/…/sa/…` URI SAN), or undefined
 * when the call has no client certificate that verified against the server's roots.
 */
export function certificateIdentity(call: CallPeer | undefined): WorkloadIdentity | undefined {
  let cert: PeerCertificate | undefined;
  try {
    cert = call?.getAuthContext()?.sslPeerCertificate;
  } catch {
    return undefined;
  }
  // grpc-js only reports a certificate the TLS handshake verified (socket.authorized).
  if (!cert?.subjectaltname) return undefined;
  for (const san of cert.subjectaltname.split(/,\s*/)) {
    if (!san.startsWith('URI:')) continue;
    const identity = parseSpiffeId(san.slice(4));
    if (identity) return identity;
  }
  return undefined;
}

/**
 * Authenticates a call as istiod does: a verified client certificate of the mesh (renewal, and xDS after the
 * bootstrap token expired), else the bootstrap token in `authorization: Bearer <token>`. A certificate from
 * another trust domain is not taken (the roots are this CA's, so it cannot verify anyway); a refusal names what
 * was missing.
 */
export function authenticate(
  ca: LoadedCa,
  metadata: grpc.Metadata,
  call: CallPeer | undefined,
  clock: () => Date = () => new Date(),
): Authentication {
  const fromCert = certificateIdentity(call);
  if (fromCert) return { ok: true, identity: fromCert, method: 'certificate' };
  const header = metadata.get('authorization')[0];
  if (header === undefined || String(header).trim() === '') {
    return {
      ok: false,
      reason: 'missing_token',
      message:
        'no credential: send "authorization: Bearer <token>" (a bootstrap token) or present a workload certificate from the mesh CA',
    };
  }
  const byToken = tokenAuthenticator(ca, clock)(metadata);
  return byToken.ok ? { ...byToken, method: 'token' } : byToken;
}

/** `authenticate` as the signing service's Authenticator (CSRs on 15012: a renewal may use the current certificate). */
export function meshAuthenticator(ca: LoadedCa, clock?: () => Date): Authenticator {
  return (metadata, call) => {
    const result = authenticate(ca, metadata, call, clock);
    return result.ok ? { ok: true, identity: result.identity } : result;
  };
}

/**
 * Istio's checkConnectionIdentity plus the registry check: undefined when `node` may connect as `identity`,
 * else the refusal (PERMISSION_DENIED naming the mismatch; UNAVAILABLE while no model is loaded yet).
 */
export function checkConnectionIdentity(
  node: ProxyNode,
  identity: WorkloadIdentity,
  model: MeshModel | undefined,
): Refusal | undefined {
  const who = spiffeId(identity);
  // ConfigNamespace is NAMESPACE, else the DNS domain's first label (parseProxyNode); Istio skips empty values.
  if (node.namespace !== '' && node.namespace !== identity.namespace) {
    return denied(
      `authorization failed: the node's namespace ${JSON.stringify(node.namespace)} does not match the authenticated identity ${who} (namespace ${JSON.stringify(identity.namespace)})`,
    );
  }
  if (node.serviceAccount !== '' && node.serviceAccount !== identity.serviceAccount) {
    return denied(
      `authorization failed: the node's SERVICE_ACCOUNT ${JSON.stringify(node.serviceAccount)} does not match the authenticated identity ${who} (service account ${JSON.stringify(identity.serviceAccount)})`,
    );
  }
  if (!model) {
    return {
      code: grpc.status.UNAVAILABLE,
      message: 'the registry is not loaded yet: no WorkloadEntry can be checked; retry',
    };
  }
  const namespace = identity.namespace;
  const here = model.workloads.filter((w) => w.namespace === namespace && node.ips.includes(w.address));
  const addresses = node.ips.join(', ') || '(none)';
  if (here.length === 0) {
    return denied(
      `authorization failed: no WorkloadEntry in namespace ${JSON.stringify(namespace)} at the node's address ${addresses} (node ${node.id}): the control plane serves only workloads its registry knows`,
    );
  }
  const mine = here.filter((w) => w.serviceAccount === identity.serviceAccount);
  if (mine.length === 0) {
    const theirs = [...new Set(here.map((w) => describe(w)))].join(', ');
    return denied(
      `authorization failed: the WorkloadEntry at ${addresses} in namespace ${JSON.stringify(namespace)} (${theirs}) does not run as the authenticated identity ${who}`,
    );
  }
  return undefined;
}

function describe(w: WorkloadModel): string {
  return `${w.name} with service account ${JSON.stringify(w.serviceAccount || '(none)')}`;
}

function denied(message: string): Refusal {
  return { code: grpc.status.PERMISSION_DENIED, message };
}
