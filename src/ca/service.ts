// The signing service: Istio's IstioCertificateService over gRPC with TLS (a server certificate from the same
// CA). Only authenticated callers, only for their own identity; every refusal is counted by reason.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { Counter, Registry } from 'prom-client';
import { shutdownGrpcServer } from '../core/grpc-shutdown.js';
import { type Logger, silentLogger } from '../core/log.js';
import { spiffeId, type WorkloadIdentity } from './identity.js';
import type { RefusalReason } from './issuance.js';
import { type CertificateRequest, type CertificateResponse, certificateService } from './proto.js';
import type { LoadedCa } from './store.js';
import { verifyToken } from './token.js';

/** What an authenticator may read of a call besides its metadata: the peer and its verified TLS certificate. */
export interface CallPeer {
  getPeer(): string;
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
}

/**
 * Checks the caller of a request; local mode uses bootstrap tokens, Kubernetes will add TokenReview. `call` is
 * the request itself, for authenticators that read its TLS peer (a client certificate, on the control plane).
 */
export type Authenticator = (
  metadata: grpc.Metadata,
  call?: CallPeer,
) => { ok: true; identity: WorkloadIdentity } | { ok: false; reason: RefusalReason; message: string };

/** Bearer bootstrap tokens signed with the CA's token key, for its own trust domain. */
export function tokenAuthenticator(ca: LoadedCa, clock: () => Date = () => new Date()): Authenticator {
  return (metadata) => {
    const header = metadata.get('authorization')[0];
    if (header === undefined || String(header).trim() === '') {
      return {
        ok: false,
        reason: 'missing_token',
        message: 'no token: send "authorization: Bearer <token>"',
      };
    }
    const token = String(header)
      .replace(/^Bearer\s+/i, '')
      .trim();
    const check = verifyToken(ca.tokenKey, token, clock());
    if (!check.ok) return check;
    if (check.claims.trustDomain !== ca.record.trustDomain) {
      return {
        ok: false,
        reason: 'unknown_token',
        message: `the token is for trust domain ${check.claims.trustDomain}, not ${ca.record.trustDomain}`,
      };
    }
    const { trustDomain, namespace, serviceAccount } = check.claims;
    return { ok: true, identity: { trustDomain, namespace, serviceAccount } };
  };
}

const STATUS_FOR: Record<RefusalReason, grpc.status> = {
  missing_token: grpc.status.UNAUTHENTICATED,
  unknown_token: grpc.status.UNAUTHENTICATED,
  expired_token: grpc.status.UNAUTHENTICATED,
  malformed_csr: grpc.status.INVALID_ARGUMENT,
  bad_csr_signature: grpc.status.INVALID_ARGUMENT,
  ca_requested: grpc.status.INVALID_ARGUMENT,
  unsupported_key: grpc.status.INVALID_ARGUMENT,
  identity_mismatch: grpc.status.PERMISSION_DENIED,
};

export interface CaServiceOptions {
  ca: LoadedCa;
  /** Where `start()` listens (not needed to `register` on another server). */
  host?: string;
  port?: number;
  /** The TLS identity of the service itself (for `start()`). */
  tls?: { keyPem: string; certChainPem: string };
  authenticate?: Authenticator;
  logger?: Logger;
  registry?: Registry;
  clock?: () => Date;
}

export class CaService {
  readonly registry: Registry;
  private readonly refused: Counter<'reason'>;
  private readonly issued: Counter;
  /** Istio's citadel_server_* counters (security/pkg/server/ca/monitoring.go), beside Skiff's own. */
  private readonly citadel: {
    csrs: Counter;
    issued: Counter;
    authenticationFailures: Counter;
    parsingErrors: Counter;
  };
  private server: grpc.Server | undefined;
  private boundPort = 0;

  constructor(private readonly o: CaServiceOptions) {
    this.registry = o.registry ?? new Registry();
    this.refused = new Counter({
      name: 'skiff_ca_csr_refused_total',
      help: 'Certificate signing requests refused, by reason',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.issued = new Counter({
      name: 'skiff_ca_csr_issued_total',
      help: 'Certificates issued',
      registers: [this.registry],
    });
    const citadel = (name: string, help: string) => new Counter({ name, help, registers: [this.registry] });
    this.citadel = {
      csrs: citadel('citadel_server_csr_count', 'The number of CSRs received by Citadel server.'),
      issued: citadel(
        'citadel_server_success_cert_issuance_count',
        'The number of certificates issuances that have succeeded.',
      ),
      authenticationFailures: citadel(
        'citadel_server_authentication_failure_count',
        'The number of authentication failures.',
      ),
      parsingErrors: citadel(
        'citadel_server_csr_parsing_err_count',
        'The number of errors occurred when parsing the CSR.',
      ),
    };
  }

  get port(): number {
    return this.boundPort;
  }

  /** Adds the signing service to a gRPC server (one that serves other things too, over TLS). */
  register(server: grpc.Server): void {
    const log = this.o.logger ?? silentLogger;
    const authenticate = this.o.authenticate ?? tokenAuthenticator(this.o.ca, this.o.clock);
    server.addService(certificateService().service, {
      CreateCertificate: (
        call: grpc.ServerUnaryCall<CertificateRequest, CertificateResponse>,
        done: grpc.sendUnaryData<CertificateResponse>,
      ) => {
        this.citadel.csrs.inc();
        const refuse = (reason: RefusalReason, message: string) => {
          this.refused.inc({ reason });
          if (reason === 'malformed_csr') this.citadel.parsingErrors.inc();
          log.warn('CSR refused', { reason, detail: message, peer: call.getPeer() });
          done({ code: STATUS_FOR[reason], details: `${reason}: ${message}` });
        };
        const who = authenticate(call.metadata, call);
        if (!who.ok) {
          this.citadel.authenticationFailures.inc();
          return refuse(who.reason, who.message);
        }
        const { csr, validity_duration } = call.request;
        if (typeof csr !== 'string' || csr.trim() === '')
          return refuse('malformed_csr', 'the request carries no CSR');
        this.o.ca.authority
          .signCsr(csr, who.identity, Number(validity_duration) || 0, this.o.clock?.())
          .then((result) => {
            if (!result.ok) return refuse(result.reason, result.message);
            this.issued.inc();
            this.citadel.issued.inc();
            log.info('certificate issued', {
              identity: spiffeId(who.identity),
              notAfter: result.leaf.notAfter.toISOString(),
              ...(result.warning ? { warning: result.warning } : {}),
            });
            done(null, { cert_chain: result.certChain });
          })
          .catch((e: Error) => {
            log.error('signing failed', { error: e.message });
            done({ code: grpc.status.INTERNAL, details: `signing failed: ${e.message}` });
          });
      },
    });
  }

  /** Serves the signing service on its own TLS server at `host:port` (`skiff ca serve`). */
  async start(): Promise<void> {
    const log = this.o.logger ?? silentLogger;
    const { host, port, tls } = this.o;
    if (host === undefined || port === undefined || !tls)
      throw new Error('CaService.start needs host, port and tls (or use register on another server)');
    const server = new grpc.Server();
    this.register(server);
    const credentials = grpc.ServerCredentials.createSsl(null, [
      { private_key: Buffer.from(tls.keyPem), cert_chain: Buffer.from(tls.certChainPem) },
    ]);
    this.boundPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, credentials, (err, port) =>
        err ? reject(err) : resolve(port),
      );
    });
    this.server = server;
    log.info('CA service listening', {
      address: `${host}:${this.boundPort}`,
      trustDomain: this.o.ca.record.trustDomain,
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await shutdownGrpcServer(server);
  }
}

/** Serves a Prometheus registry at /metrics. */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics' && req.url !== '/stats/prometheus') {
      res.writeHead(404).end('not found: try /metrics\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (e: Error) => res.writeHead(500).end(e.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

export function boundPort(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}
