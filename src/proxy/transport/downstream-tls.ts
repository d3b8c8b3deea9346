// `envoy.transport_sockets.tls` on a listener: a DownstreamTlsContext turned into one Node SecureContext (built
// when the config or a secret changes, never per connection) and the per-connection handshake with Envoy's
// checks and statistics (`listener.<addr>.ssl.*`).
//
// Node's `tls.TLSSocket` does not enforce `rejectUnauthorized` by itself (only tls.Server does), so the
// checks are ours, done after the handshake and before a byte is read from the connection: chain to the trusted
// CA (`fail_verify_error`), SAN matchers (`fail_verify_san`). A missing certificate where one is required fails
// inside OpenSSL (`fail_verify_no_cert`), as in Envoy.
//
// Which certificate is asked for, as Envoy's DefaultCertValidator sets the verify mode: no validation context →
// none is requested (SSL_VERIFY_NONE: a TLS client only sends one when asked, so `no_certificate` counts the
// connection); a trusted CA → requested, verified when sent; SAN matchers → required (SSL_VERIFY_PEER |
// SSL_VERIFY_FAIL_IF_NO_PEER_CERT), and refused without a trusted CA ("SAN-based verification of peer
// certificates without trusted CA is insecure and not allowed"); `require_client_certificate` → required.
// Envoy ignores `require_client_certificate` without a trusted CA; we still require a certificate then (the
// stricter reading), but never record an identity from a certificate no CA vouched for.
//
// Counters as Envoy's SslSocket::drainErrorQueue: a handshake refused for a missing or unverified certificate
// counts `fail_verify_*` only; `connection_error` counts the other TLS failures (not a peer that resets or
// closes, which the listener counts).
//
// The alert a refused client gets. Envoy fails the handshake with BoringSSL's alert for the verification error
// (unknown_ca, certificate_expired, unsupported_certificate, …; certificate_unknown for a SAN mismatch). A missing
// certificate is refused by OpenSSL itself, with the same alerts as BoringSSL (handshake_failure up to TLS 1.2,
// certificate_required in TLS 1.3). The chain and SAN checks are ours, after OpenSSL finished: up to TLS 1.2 our
// last flight has not left the process yet, so the alert is written in the clear where OpenSSL would have put it
// and the flight is dropped (the client sees the alert, as from Envoy); in TLS 1.3 no alert is sent (the records
// after the server's Finished are encrypted, with keys Node gives out only through its key log) and the client
// sees the connection closed. docs/reliability.md ("TLS alerts") has the details and what was tried.
//
// ALPN: Envoy picks the first of its own protocols the client offers, and when none is offered it carries on
// without ALPN. Node would abort such a handshake (no_application_protocol), so the choice is made here from
// the ClientHello tls_inspector read, and the socket is offered only that protocol (or none).

import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../../core/log.js';
import type { DownstreamTlsConfig } from '../config/model.js';
import type { Counter, StatsStore } from '../stats/index.js';
import { peerCertificate, verifyError } from './peer-certificate.js';
import { type SubjectAltName, sansMatch, spiffeIdOf } from './san.js';
import type { SecretStore } from './secrets.js';
import { type AlertName, alertForVerifyError, plaintextAlert } from './tls-alert.js';
import { TlsContextHolder } from './tls-material.js';

export interface SslStats {
  handshake: Counter;
  connectionError: Counter;
  failVerifyNoCert: Counter;
  failVerifyError: Counter;
  failVerifySan: Counter;
  noCertificate: Counter;
  /** `listener.<addr>.downstream_cx_transport_socket_connect_timeout` (listeners only). */
  handshakeTimeout: Counter | undefined;
  /** `ssl.versions.TLSv1.3`, `ssl.ciphers.<name>` (OpenSSL name, as Envoy's SSL_get_cipher_name),
   * `ssl.curves.<name>`: created on first use. */
  named(kind: 'versions' | 'ciphers' | 'curves', name: string): Counter;
}

/** Envoy's SSL statistics under `prefix` (e.g. `listener.127.0.0.1_15006.ssl.`). */
export function sslStats(store: StatsStore, prefix: string): SslStats {
  const cache = new Map<string, Counter>();
  return {
    handshake: store.counter(`${prefix}handshake`),
    connectionError: store.counter(`${prefix}connection_error`),
    failVerifyNoCert: store.counter(`${prefix}fail_verify_no_cert`),
    failVerifyError: store.counter(`${prefix}fail_verify_error`),
    failVerifySan: store.counter(`${prefix}fail_verify_san`),
    noCertificate: store.counter(`${prefix}no_certificate`),
    // Envoy counts transport_socket_connect_timeout on the listener, not under ssl; a cluster has no such stat.
    handshakeTimeout: prefix.startsWith('listener.')
      ? store.counter(`${prefix.replace(/ssl\.$/, '')}downstream_cx_transport_socket_connect_timeout`)
      : undefined,
    named(kind, name) {
      const key = `${kind}.${name}`;
      let c = cache.get(key);
      if (!c) {
        c = store.counter(`${prefix}${key}`);
        cache.set(key, c);
      }
      return c;
    },
  };
}

/** What the handshake established about the peer; recorded on the connection. */
export interface PeerInfo {
  /** The client's `spiffe://` URI SAN, when it sent a certificate with one that chains to the trusted CA. */
  spiffeId: string | undefined;
  sans: SubjectAltName[];
  /** The client certificate (DER), when one was sent. */
  certificate: Buffer | undefined;
  /** Our own URI SAN on this connection (the identity we presented). */
  localSpiffeId: string | undefined;
  alpn: string | undefined;
  version: string | undefined;
  /** The IETF name (`TLS_AES_128_GCM_SHA256`, `TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384`), as Envoy's
   * `%DOWNSTREAM_TLS_CIPHER%`. */
  cipher: string | undefined;
}

export type TlsOutcome =
  | { ok: true; socket: tls.TLSSocket; peer: PeerInfo }
  | {
      ok: false;
      reason: 'no-context' | 'handshake' | 'no-cert' | 'verify' | 'san' | 'timeout' | 'closed';
      detail: string;
    };

/** Errors of the socket itself, not of TLS: Envoy's drainErrorQueue does not count them as connection_error. */
const SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT']);
function isSocketError(e: NodeJS.ErrnoException): boolean {
  return e.code !== undefined && SOCKET_ERRORS.has(e.code);
}

export class DownstreamTls {
  private readonly holder: TlsContextHolder;

  constructor(
    private readonly config: DownstreamTlsConfig,
    secrets: SecretStore,
    private readonly stats: SslStats,
    log: Logger,
  ) {
    this.holder = new TlsContextHolder(config, secrets, log);
  }

  /** Stops following secret changes (the listener is gone). */
  close(): void {
    this.holder.close();
  }

  get ready(): boolean {
    return this.holder.current !== undefined;
  }

  /** Rebuilds the context from the current secrets (the holder also does it on every secret change). */
  rebuild(): void {
    this.holder.rebuild();
  }

  /** Server preference: the first of our protocols the client offers; none → no ALPN (Envoy's NOACK). */
  selectAlpn(offered: readonly string[]): string | undefined {
    for (const p of this.config.alpn) if (offered.includes(p)) return p;
    return undefined;
  }

  /** Runs the server handshake on `raw` and Envoy's checks; calls back once. */
  accept(
    raw: Socket,
    offeredAlpn: readonly string[],
    timeoutMs: number,
    done: (outcome: TlsOutcome) => void,
  ): void {
    const built = this.holder.current;
    const stats = this.stats;
    if (!built) {
      stats.connectionError.inc();
      raw.destroy();
      done({
        ok: false,
        reason: 'no-context',
        detail: 'the TLS certificate or trust bundle is not available yet',
      });
      return;
    }
    const selected = this.selectAlpn(offeredAlpn);
    const require = this.config.requireClientCertificate || built.sanMatchers.length > 0;
    const socket = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: built.context,
      requestCert: require || built.verifyChain,
      rejectUnauthorized: require,
      ...(selected ? { ALPNProtocols: [selected] } : {}),
    });
    // The TLSSocket now owns `raw`'s handle. Destroying `raw` while the TLSSocket is open (a drain closing
    // every accepted socket) frees the TLS state under a read still in flight: Node 20 crashes (SIGSEGV in
    // TLSWrap::OnStreamRead → SSL_read). So whoever destroys `raw` destroys the TLSSocket first.
    const destroyRaw = raw.destroy.bind(raw);
    raw.destroy = (error?: Error) => {
      if (!socket.destroyed) socket.destroy(error);
      return destroyRaw(error);
    };
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const onError = (e: NodeJS.ErrnoException) => {
      if (settled) return;
      const text = `${e.code ?? ''} ${e.message}`;
      if (/PEER_DID_NOT_RETURN_A_CERTIFICATE|CERTIFICATE_REQUIRED/i.test(text)) {
        stats.failVerifyNoCert.inc();
        fail('no-cert', 'the client sent no certificate');
      } else if (isSocketError(e)) {
        fail('closed', `the connection failed during the handshake: ${e.code}`);
      } else {
        stats.connectionError.inc();
        fail('handshake', e.code ?? e.message);
      }
    };
    const onClose = () => fail('closed', 'the client closed the connection during the handshake');
    // The listener accepts with allowHalfOpen (for tcp_proxy's half-close), and the TLS socket inherits it: a
    // peer's FIN before the handshake is over would leave the socket open (CLOSE-WAIT) for good. Envoy's
    // handshake fails on end-of-stream; so does ours (counted by the listener, not as a TLS error).
    const onEnd = () => fail('closed', 'the client closed its side during the handshake');
    const fail = (reason: Exclude<TlsOutcome, { ok: true }>['reason'], detail: string, alert?: AlertName) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      socket.off('close', onClose);
      socket.off('end', onEnd);
      // Errors after this point (a write racing the close) have no one to tell.
      socket.on('error', () => {});
      raw.on('error', () => {});
      const sent = alert !== undefined && sendAlert(socket, raw, alert);
      socket.destroy();
      raw.destroy();
      done({ ok: false, reason, detail: sent ? `${detail} (alert ${alert} sent)` : detail });
    };
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        stats.handshakeTimeout?.inc();
        fail('timeout', `no TLS handshake within ${timeoutMs} ms`);
      }, timeoutMs);
    }
    socket.on('error', onError);
    socket.once('close', onClose);
    socket.once('end', onEnd);
    socket.once('secure', () => {
      if (settled) return;
      const cert = peerCertificate(socket);
      const sans = cert ? cert.sans : [];
      if (!cert) {
        if (require) {
          stats.failVerifyNoCert.inc();
          fail('no-cert', 'the client sent no certificate');
          return;
        }
        stats.noCertificate.inc();
      } else if (built.verifyChain) {
        const problem = verifyError(socket);
        if (problem) {
          stats.failVerifyError.inc();
          fail('verify', `client certificate not trusted: ${problem}`, alertForVerifyError(problem));
          return;
        }
      }
      if (cert && !sansMatch(built.sanMatchers, sans)) {
        stats.failVerifySan.inc();
        // Envoy's DefaultCertValidator leaves its default alert, certificate_unknown, for a SAN matcher miss.
        fail(
          'san',
          `client certificate SANs ${sans.map((s) => s.value).join(', ') || '(none)'} match no SAN matcher`,
          'certificate_unknown',
        );
        return;
      }
      settled = true;
      if (timer) clearTimeout(timer);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.off('end', onEnd);
      stats.handshake.inc();
      const version = socket.getProtocol() ?? undefined;
      const suite = socket.getCipher();
      if (version) stats.named('versions', version).inc();
      if (suite?.name) stats.named('ciphers', suite.name).inc();
      const alpn = socket.alpnProtocol;
      done({
        ok: true,
        socket,
        peer: {
          spiffeId: cert && built.verifyChain ? spiffeIdOf(sans) : undefined,
          sans,
          certificate: cert?.der,
          localSpiffeId: built.localIdentity,
          alpn: typeof alpn === 'string' ? alpn : undefined,
          version,
          cipher: suite?.standardName,
        },
      });
    });
  }
}

/**
 * Writes the fatal alert for a client certificate refused at 'secure', when the protocol still allows one in the
 * clear: TLS 1.2 and below, on a full handshake. Node emits 'secure' from inside the read that completed the
 * handshake, before its last flight (ChangeCipherSpec, Finished, and a session ticket) is flushed; the TLS socket is
 * destroyed right after this, which drops that flight, so the alert written straight onto the TCP socket is the
 * next and last record the client reads — as if OpenSSL had refused the certificate in the handshake. A resumed
 * session sent its ChangeCipherSpec first (a plain alert would then be garbage to the client), and TLS 1.3 encrypts
 * everything after the server's first flight: both are closed without an alert. True when the alert was written.
 */
function sendAlert(socket: tls.TLSSocket, raw: Socket, alert: AlertName): boolean {
  if (socket.isSessionReused()) return false;
  const record = plaintextAlert(socket.getProtocol(), alert);
  if (!record || raw.destroyed || !raw.writable) return false;
  raw.write(record);
  return true;
}
