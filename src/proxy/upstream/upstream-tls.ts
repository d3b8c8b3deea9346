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
import { parseSubjectAltNames, sansMatch, spiffeIdOf } from '../transport/san.js';
import type { SecretStore } from '../transport/secrets.js';
import { TlsContextHolder } from '../transport/tls-material.js';

export type UpstreamTlsOutcome =
  | { ok: true; socket: tls.TLSSocket; peerIdentity: string | undefined }
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

  /** Runs the client handshake over a connected socket; calls back once. */
  handshake(raw: Socket, done: (outcome: UpstreamTlsOutcome) => void): void {
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
    const socket = tls.connect({
      socket: raw,
      secureContext: built.context,
      ...(this.config.sni ? { servername: this.config.sni } : {}),
      ...(this.alpn ? { ALPNProtocols: this.alpn } : {}),
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
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
    socket.once('secureConnect', () => {
      if (settled) return;
      const cert = socket.getPeerX509Certificate();
      const sans = cert ? parseSubjectAltNames(cert.subjectAltName) : [];
      if (built.verifyChain && !socket.authorized) {
        stats.failVerifyError.inc();
        fail('verify', `server certificate not trusted: ${String(socket.authorizationError)}`);
        return;
      }
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
      done({ ok: true, socket, peerIdentity: spiffeIdOf(sans) });
    });
  }
}
