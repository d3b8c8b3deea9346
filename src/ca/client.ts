// A client of the signing service (Istio's CreateCertificate), over TLS verified against the mesh roots.

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
    const credentials = grpc.credentials.createSsl(Buffer.from(o.rootCertPem));
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
