// The agent as the proxy's SDS: every certificate the agent obtains (first, then each rotation) becomes the
// secrets `default` (key and chain) and `ROOTCA` (the trust bundle), the names Istio's generated configuration
// uses. TLS contexts that name them are rebuilt on the change; open connections keep theirs.

import type { Logger } from '../../core/log.js';
import type { SecretStore } from '../transport/secrets.js';
import type { AgentRefusedError, CertificateAgent, WorkloadMaterial } from './agent.js';

/** The SDS names Istio's sidecars use for the workload certificate and the trust bundle. */
export const WORKLOAD_SECRET = 'default';
export const ROOT_SECRET = 'ROOTCA';
export const AGENT_SECRETS: readonly string[] = [WORKLOAD_SECRET, ROOT_SECRET];

export function publishMaterial(secrets: SecretStore, m: WorkloadMaterial): void {
  secrets.setCertificate(WORKLOAD_SECRET, { chain: Buffer.from(m.certChainPem), key: Buffer.from(m.keyPem) });
  secrets.setValidation(ROOT_SECRET, { trustedCa: Buffer.from(m.rootPem), sanMatchers: [] });
}

/**
 * Publishes every certificate the agent delivers, and starts it. Resolves with the first certificate, or after
 * `initialFetchTimeoutMs` (Envoy's SDS initial_fetch_timeout, 15 s) without one — the proxy then starts not
 * ready and becomes ready when the certificate arrives. Rejects with the agent's AgentRefusedError when its
 * first request is refused within that time (a configuration error: the proxy does not start).
 */
export async function startAgentSds(
  agent: CertificateAgent,
  secrets: SecretStore,
  log: Logger,
  initialFetchTimeoutMs = 15_000,
): Promise<WorkloadMaterial | undefined> {
  agent.on('material', (m) => {
    publishMaterial(secrets, m);
    log.info('workload certificate installed', { identity: m.identity, notAfter: m.notAfter.toISOString() });
  });
  // Failed requests are logged by the agent itself, once each. A refusal after the initial fetch timeout leaves
  // the proxy running but never ready: say why.
  let starting = true;
  agent.on('stopped', (refusal) => {
    if (refusal && !starting) log.error('certificate agent stopped', { error: refusal.message });
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      log.warn('no workload certificate yet; starting without it (not ready)', {
        waitedMs: initialFetchTimeoutMs,
      });
      resolve(undefined);
    }, initialFetchTimeoutMs);
  });
  // By its code: agent.js (gRPC, X.509) is loaded only by proxies that run an agent.
  const first = agent.start().catch((e: Error) => {
    if ((e as Partial<AgentRefusedError>).code === 'SKIFF_AGENT_REFUSED') throw e;
    return undefined;
  });
  try {
    return await Promise.race([first, timeout]);
  } finally {
    starting = false;
    if (timer) clearTimeout(timer);
  }
}
