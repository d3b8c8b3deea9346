// SPIFFE identities as Istio writes them: spiffe://<trust domain>/ns/<namespace>/sa/<service account>.

export interface WorkloadIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export function spiffeId(id: WorkloadIdentity): string {
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

const SPIFFE = /^spiffe:\/\/([a-z0-9._-]+)\/ns\/([^/]+)\/sa\/([^/]+)$/;

/** The identity in an Istio-style SPIFFE ID, or undefined for any other URI. */
export function parseSpiffeId(uri: string): WorkloadIdentity | undefined {
  const m = SPIFFE.exec(uri);
  if (!m) return undefined;
  const [, trustDomain = '', namespace = '', serviceAccount = ''] = m;
  return { trustDomain, namespace, serviceAccount };
}
