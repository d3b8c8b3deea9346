// `envoy.transport_sockets.tls` on a cluster: an UpstreamTlsContext originating TLS to an endpoint — the
// workload certificate as client certificate, SNI, ALPN, and the server checked as Envoy checks it: the chain
// against the trusted CA (`ssl.fail_verify_error`), the SAN matchers against the expected SPIFFE identities
// (`ssl.fail_verify_san`). Counted under `cluster.<name>.ssl.*`, and every failed handshake also as
// `cluster.<name>.ssl_handshake_error` — the series the seed's query names (`envoy_cluster_ssl_handshake_error`),
// which Envoy itself does not have.

import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../../core/log.js';
import type { UpstreamTlsConfig } from '../config/model.js';
import type { Counter } from '../stats/index.js';
import type { SslStats } from '../transport/downstream-tls.js';
import { peerCertificate, verifyError } from '../transport/peer-certificate.js';
import { sansMatch, spiffeIdOf } from '../transport/san.js';
import type { SecretStore } from '../transport/secrets.js';
import { TlsContextHolder } from '../transport/tls-material.js';

export type UpstreamTlsOutcome =
  | {
      ok: true;
      socket: tls.TLSSocket;
      peerIdentity: string | undefined;
      /** Our own URI SAN presented on the connection. */
      localIdentity: string | undefined;
    }
  | { ok: false; reason: 'no-context' | 'handshake' | 'verify' | 'san'; detail: string };

export class UpstreamTls {
  private readonly holder: TlsContextHolder;
  private readonly alpn: string[] | undefined;

  constructor(
    private readonly config: UpstreamTlsConfig,
    secrets: SecretStore,
    private readonly stats: SslStats,
    private readonly handshakeError: Counter,
    log: Logger,
  ) {
    this.holder = new TlsContextHolder(config, secrets, log);
    this.alpn = config.alpn.length > 0 ? config.alpn : undefined;
  }

  get ready(): boolean {
    return this.holder.current !== undefined;
  }

  close(): void {
    this.holder.close();
  }

  /**
   * Runs the client handshake over a connected socket; calls back once. `alpn` replaces the context's ALPN list
   * for this connection (Istio's `istio.alpn` filter, by the HTTP protocol the connection will carry).
   */
  handshake(raw: Socket, done: (outcome: UpstreamTlsOutcome) => void, alpn?: readonly string[]): void {
    const built = this.holder.current;
    const stats = this.stats;
    const failed = () => {
      stats.connectionError.inc();
      this.handshakeError.inc();
    };
    if (!built) {
      failed();
      raw.destroy();
      done({
        ok: false,
        reason: 'no-context',
        detail: 'the client certificate or trust bundle is not available yet',
      });
      return;
    }
    // A bare client TLSSocket, not tls.connect: tls.connect's own check on every handshake (the peer chain
    // as objects for checkServerIdentity, ~0.6 ms with OpenSSL 3.0) would be thrown away — the identity check
    // is Envoy's SAN matchers, done below, and the chain is OpenSSL's verdict (verifyError).
    const offer = alpn && alpn.length > 0 ? [...alpn] : this.alpn;
    const socket = new tls.TLSSocket(raw, {
      isServer: false,
      secureContext: built.context,
      ...(offer ? { ALPNProtocols: offer } : {}),
    });
    // setServername and _start are what tls.connect calls (public since Node 0.x, missing from @types/node).
    const client = socket as unknown as { setServername(name: string): void; _start(): void };
    if (this.config.sni) client.setServername(this.config.sni);
    let settled = false;
    const fail = (reason: Exclude<UpstreamTlsOutcome, { ok: true }>['reason'], detail: string) => {
      if (settled) return;
      settled = true;
      failed();
      socket.destroy();
      done({ ok: false, reason, detail });
    };
    socket.once('error', (e: NodeJS.ErrnoException) => fail('handshake', e.code ?? e.message));
    socket.once('close', () => fail('handshake', 'the server closed the connection during the handshake'));
    socket.once('secure', () => {
      if (settled) return;
      const problem = built.verifyChain ? verifyError(socket) : undefined;
      if (problem) {
        stats.failVerifyError.inc();
        fail('verify', `server certificate not trusted: ${problem}`);
        return;
      }
      const sans = peerCertificate(socket)?.sans ?? [];
      if (!sansMatch(built.sanMatchers, sans)) {
        stats.failVerifySan.inc();
        fail(
          'san',
          `server identity ${sans.map((s) => s.value).join(', ') || '(none)'} is not an expected one`,
        );
        return;
      }
      settled = true;
      stats.handshake.inc();
      const version = socket.getProtocol();
      // Envoy names ciphers in statistics by their OpenSSL names.
      const cipher = socket.getCipher()?.name;
      if (version) stats.named('versions', version).inc();
      if (cipher) stats.named('ciphers', cipher).inc();
      done({ ok: true, socket, peerIdentity: spiffeIdOf(sans), localIdentity: built.localIdentity });
    });
    // As tls.connect does for a socket that is already connected: send the ClientHello.
    client._start();
  }
}
