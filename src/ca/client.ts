// A client of the signing service (Istio's CreateCertificate), over TLS verified against the mesh roots.

import net from 'node:net';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { type CertificateRequest, type CertificateResponse, certificateService } from './proto.js';

export class CaClientError extends Error {
  override name = 'CaClientError';
  constructor(
    message: string,
    /** gRPC status name, e.g. UNAUTHENTICATED, UNAVAILABLE, DEADLINE_EXCEEDED. */
    readonly code: string,
  ) {
    super(message);
  }
}

export interface CaClientOptions {
  /** host:port of the signing service. */
  address: string;
  /** PEM roots that sign the service's certificate. */
  rootCertPem: string;
  /** Deadline per request, in milliseconds (default 10 s). */
  timeoutMs?: number;
}

export class CaClient {
  private readonly client: grpc.Client & {
    CreateCertificate: (
      req: CertificateRequest,
      meta: grpc.Metadata,
      options: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res?: CertificateResponse) => void,
    ) => void;
  };

  constructor(private readonly o: CaClientOptions) {
    const Service = certificateService();
    const credentials = new CaCredentials(tls.createSecureContext({ ca: o.rootCertPem }), hostOf(o.address));
    this.client = new Service(o.address, credentials) as unknown as typeof this.client;
  }

  /** Sends a CSR with a bearer token; resolves with the PEM chain (leaf first, root last). */
  createCertificate(csrPem: string, token: string, validitySeconds: number): Promise<string[]> {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const deadline = new Date(Date.now() + (this.o.timeoutMs ?? 10_000));
    return new Promise((resolve, reject) => {
      this.client.CreateCertificate(
        { csr: csrPem, validity_duration: validitySeconds },
        metadata,
        { deadline },
        (err, res) => {
          if (err)
            reject(
              new CaClientError(
                `${this.o.address}: ${err.details || err.message}`,
                grpc.status[err.code] ?? String(err.code),
              ),
            );
          else if (!res || res.cert_chain.length === 0)
            reject(new CaClientError(`${this.o.address}: empty certificate chain`, 'INTERNAL'));
          else resolve(res.cert_chain);
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/** The host of `host:port` or `[v6]:port`. */
function hostOf(address: string): string {
  const host = address.slice(0, Math.max(0, address.lastIndexOf(':')));
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

type ConnectorArgs = Parameters<grpc.ChannelCredentials['_createSecureConnector']>;
type SecureConnector = ReturnType<grpc.ChannelCredentials['_createSecureConnector']>;

/**
 * TLS to the signing service with SNI only for a host name. grpc-js's own credentials set the TLS ServerName
 * to the target's host even when it is an IP address (grpc/grpc-node#1919), which RFC 6066 §3 forbids and
 * Node reports as DEP0123 on stderr, in the middle of JSON logs. As Go's crypto/tls does for Istio's agent,
 * an IP address gets no SNI and the server certificate is checked against that IP (tls.connect checks `host`
 * when there is no `servername`); a name is sent and checked as before.
 */
class CaCredentials extends grpc.ChannelCredentials {
  constructor(
    private readonly context: tls.SecureContext,
    private readonly host: string,
  ) {
    super();
  }

  override _isSecure(): boolean {
    return true;
  }

  override _equals(other: grpc.ChannelCredentials): boolean {
    return other === this;
  }

  override _createSecureConnector(...[, , callCredentials]: ConnectorArgs): SecureConnector {
    const { context, host } = this;
    return {
      connect: (socket: net.Socket) =>
        new Promise((resolve, reject) => {
          const secure = tls.connect(
            {
              socket,
              secureContext: context,
              host,
              ...(net.isIP(host) === 0 ? { servername: host } : {}),
              ALPNProtocols: ['h2'],
            },
            () => resolve({ socket: secure, secure: true }),
          );
          // Kept, as grpc-js keeps its own: a later error is the session's, and must not go unhandled.
          secure.on('error', reject);
        }),
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => callCredentials ?? grpc.credentials.createEmpty(),
      destroy: () => {},
    };
  }
}
