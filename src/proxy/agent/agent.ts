// The proxy's certificate agent: makes its key in-process (it never leaves), asks the signing service for a
// certificate over gRPC, keeps key, chain and trust bundle in memory, and renews at about half the lifetime
// (with jitter), retrying with back-off while the CA is down and serving the old certificate until it expires.
// Before the first certificate, a refusal (a token that is not a Skiff token, or the CA saying no) ends start():
// retrying cannot fix a wrong token or a wrong CA, and the caller reports it once as a configuration error.

import { EventEmitter } from 'node:events';
import { CaClient, CaClientError } from '../../ca/client.js';
import { spiffeId, type WorkloadIdentity } from '../../ca/identity.js';
import { readTokenClaims } from '../../ca/token.js';
import {
  createCsr,
  generateKeyPair,
  type KeyType,
  parseCertificates,
  privateKeyToPem,
  toPem,
} from '../../ca/x509.js';
import { type Logger, silentLogger } from '../../core/log.js';

/** What a TLS endpoint needs: the SDS secrets `default` (key + chain) and `ROOTCA` (bundle). */
export interface WorkloadMaterial {
  identity: string;
  keyPem: string;
  /** Leaf first, then intermediates (no root). */
  certChainPem: string;
  /** The trust bundle: every root the mesh accepts. */
  rootPem: string;
  notBefore: Date;
  notAfter: Date;
}

export interface AgentOptions {
  /** host:port of the signing service. */
  caAddress: string;
  /** PEM roots: verify the signing service, and part of the trust bundle. */
  rootCertPem: string;
  /** Reads the bootstrap token (again on each request, so a refreshed token file is picked up). */
  token: () => string | Promise<string>;
  /** Default: the identity the token is bound to. */
  identity?: WorkloadIdentity;
  keyType?: KeyType;
  /** Requested certificate lifetime in seconds (default 24 h; the CA may cut it). */
  ttlSeconds?: number;
  /** Renew after this share of the remaining lifetime (default 0.5), give or take `jitter` (default 0.1). */
  renewAt?: number;
  jitter?: number;
  minRetryMs?: number;
  maxRetryMs?: number;
  logger?: Logger;
  random?: () => number;
}

interface AgentEvents {
  /** New material is in force (first fetch and every rotation). */
  material: [WorkloadMaterial];
  /** A fetch failed; the agent retries on its own. */
  error: [Error];
  /** The agent stopped: by stop(), or refused before its first certificate (the refusal is given). */
  stopped: [AgentRefusedError | undefined];
}

/**
 * A failure that retrying cannot fix: the bootstrap token is not a Skiff token, or the signing service refused
 * the request. Istio's CA client likewise retries only Canceled, DeadlineExceeded, ResourceExhausted, Aborted,
 * Internal and Unavailable (istio/istio security/pkg/nodeagent/caclient/retry.go).
 */
export class AgentRefusedError extends Error {
  override name = 'AgentRefusedError';
  readonly code = 'SKIFF_AGENT_REFUSED';
}

const RETRIED_STATUSES = new Set([
  'CANCELLED',
  'DEADLINE_EXCEEDED',
  'RESOURCE_EXHAUSTED',
  'ABORTED',
  'INTERNAL',
  'UNAVAILABLE',
]);

/** The error as a refusal when retrying cannot fix it; undefined when it is transient. */
function refusalOf(e: unknown): AgentRefusedError | undefined {
  if (e instanceof AgentRefusedError) return e;
  if (e instanceof CaClientError && !RETRIED_STATUSES.has(e.code)) {
    return new AgentRefusedError(`the signing service refused the certificate request: ${e.message}`);
  }
  return undefined;
}

export class CertificateAgent extends EventEmitter<AgentEvents> {
  private readonly client: CaClient;
  private material: WorkloadMaterial | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;

  constructor(private readonly o: AgentOptions) {
    super();
    this.client = new CaClient({ address: o.caAddress, rootCertPem: o.rootCertPem });
  }

  current(): WorkloadMaterial | undefined {
    return this.material;
  }

  /** Fetches the first certificate (retrying with back-off) and schedules renewals. */
  async start(): Promise<WorkloadMaterial> {
    return new Promise((resolve, reject) => {
      const onMaterial = (m: WorkloadMaterial) => {
        this.off('stopped', onStop);
        resolve(m);
      };
      const onStop = (refusal: AgentRefusedError | undefined) =>
        reject(refusal ?? new Error('the agent was stopped before it had a certificate'));
      this.once('material', onMaterial);
      this.once('stopped', onStop);
      void this.fetch();
    });
  }

  stop(refusal?: AgentRefusedError): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.client.close();
    this.emit('stopped', refusal);
  }

  private async fetch(): Promise<void> {
    if (this.stopped) return;
    const log = this.o.logger ?? silentLogger;
    try {
      const token = (await this.o.token()).trim();
      const identity = this.o.identity ?? identityOf(token);
      const keys = await generateKeyPair(this.o.keyType ?? 'ec-p256');
      const csr = await createCsr(keys, [spiffeId(identity)]);
      const chain = await this.client.createCertificate(csr, token, this.o.ttlSeconds ?? 24 * 3600);
      const certs = chain.flatMap((pem) => parseCertificates(pem));
      const [leaf] = certs;
      if (!leaf) throw new Error('the CA answered with an empty chain');
      const roots = dedupe([
        ...parseCertificates(this.o.rootCertPem),
        ...certs.slice(1).filter((c) => c.subject === c.issuer),
      ]);
      const material: WorkloadMaterial = {
        identity: spiffeId(identity),
        keyPem: await privateKeyToPem(keys.privateKey),
        certChainPem: toPem(certs.filter((c) => c.subject !== c.issuer)),
        rootPem: toPem(roots),
        notBefore: leaf.notBefore,
        notAfter: leaf.notAfter,
      };
      if (this.stopped) return;
      this.material = material;
      this.failures = 0;
      log.info('certificate in force', {
        identity: material.identity,
        notAfter: material.notAfter.toISOString(),
      });
      this.emit('material', material);
      this.schedule(this.renewalDelay(material));
    } catch (e) {
      if (this.stopped) return;
      const refusal = refusalOf(e);
      if (refusal && !this.material) {
        this.stop(refusal);
        return;
      }
      this.failures++;
      const delay = Math.min(
        (this.o.minRetryMs ?? 1000) * 2 ** (this.failures - 1),
        this.o.maxRetryMs ?? 30_000,
      );
      const expired = this.material !== undefined && this.material.notAfter.getTime() <= Date.now();
      // A renewal refused (most often a token that expired since): the token file is read again at each try.
      const fields = {
        error: (e as Error).message,
        retryInMs: delay,
        ...(this.material ? { servingUntil: this.material.notAfter.toISOString(), expired } : {}),
      };
      if (refusal) log.error('certificate request refused; retrying', fields);
      else log.warn('certificate request failed; retrying', fields);
      if (this.listenerCount('error') > 0) this.emit('error', e as Error);
      this.schedule(delay);
    }
  }

  /** About half of the remaining lifetime, with jitter so a fleet does not renew at one instant. */
  private renewalDelay(m: WorkloadMaterial): number {
    const remaining = Math.max(0, m.notAfter.getTime() - Date.now());
    const share =
      (this.o.renewAt ?? 0.5) + ((this.o.random ?? Math.random)() * 2 - 1) * (this.o.jitter ?? 0.1);
    return Math.max(100, remaining * Math.min(0.95, Math.max(0.05, share)));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.fetch(), ms);
    this.timer.unref();
  }
}

function identityOf(token: string): WorkloadIdentity {
  const claims = readTokenClaims(token);
  if (!claims) {
    throw new AgentRefusedError(
      'the bootstrap token is not a Skiff token (skiff1.<claims>.<signature>, as `skiff ca token` prints it)',
    );
  }
  return {
    trustDomain: claims.trustDomain,
    namespace: claims.namespace,
    serviceAccount: claims.serviceAccount,
  };
}

function dedupe<T extends { toString(format: 'pem'): string }>(certs: T[]): T[] {
  const seen = new Set<string>();
  return certs.filter((c) => {
    const pem = c.toString('pem');
    if (seen.has(pem)) return false;
    seen.add(pem);
    return true;
  });
}
