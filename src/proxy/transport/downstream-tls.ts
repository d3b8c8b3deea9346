// `envoy.transport_sockets.tls` on a listener: a DownstreamTlsContext turned into one Node SecureContext (built
// when the config or a secret changes, never per connection) and the per-connection handshake with Envoy's
// checks and statistics (`listener.<addr>.ssl.*`).
//
// Node's `tls.TLSSocket` does not enforce `rejectUnauthorized` by itself (only tls.Server does), so the
// checks are ours, done after the handshake and before a byte is read from the connection: chain to the trusted
// CA (`fail_verify_error`), SAN matchers (`fail_verify_san`). A missing certificate where one is required fails
// inside OpenSSL (`fail_verify_no_cert`), as in Envoy.
//
// ALPN: Envoy picks the first of its own protocols the client offers, and when none is offered it carries on
// without ALPN. Node would abort such a handshake (no_application_protocol), so the choice is made here from
// the ClientHello tls_inspector read, and the socket is offered only that protocol (or none).

import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../../core/log.js';
import type { DownstreamTlsConfig, SanMatcher } from '../config/model.js';
import type { Counter, StatsStore } from '../stats/index.js';
import { parseSubjectAltNames, type SubjectAltName, sansMatch, spiffeIdOf } from './san.js';
import type { SecretStore } from './secrets.js';

export interface SslStats {
  handshake: Counter;
  connectionError: Counter;
  failVerifyNoCert: Counter;
  failVerifyError: Counter;
  failVerifySan: Counter;
  noCertificate: Counter;
  handshakeTimeout: Counter;
  /** `ssl.versions.TLSv1.3`, `ssl.ciphers.<name>`, `ssl.curves.<name>`: created on first use. */
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
    handshakeTimeout: store.counter(`${prefix}handshake_timeout`),
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
  /** The client's `spiffe://` URI SAN, when it sent a certificate with one. */
  spiffeId: string | undefined;
  sans: SubjectAltName[];
  /** The client certificate (DER), when one was sent. */
  certificate: Buffer | undefined;
  alpn: string | undefined;
  version: string | undefined;
  cipher: string | undefined;
}

export type TlsOutcome =
  | { ok: true; socket: tls.TLSSocket; peer: PeerInfo }
  | {
      ok: false;
      reason: 'no-context' | 'handshake' | 'no-cert' | 'verify' | 'san' | 'timeout' | 'closed';
      detail: string;
    };

/**
 * OpenSSL's verdict on the peer chain (against the context's `ca`), as tls.Server reads it for `authorized`:
 * a bare TLSSocket never sets `authorized`, so read the same handle method Node's server does.
 */
function verifyError(socket: tls.TLSSocket): string | undefined {
  const handle = (
    socket as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } }
  )._handle;
  if (typeof handle?.verifyError !== 'function') return 'cannot read the certificate verification result';
  const e = handle.verifyError();
  return e ? (e.code ?? e.message) : undefined;
}

interface Built {
  context: tls.SecureContext;
  sanMatchers: SanMatcher[];
  verifyChain: boolean;
}

export class DownstreamTls {
  private built: Built | undefined;
  private readonly onSecretChange: (name: string) => void;

  constructor(
    private readonly config: DownstreamTlsConfig,
    private readonly secrets: SecretStore,
    private readonly stats: SslStats,
    private readonly log: Logger,
  ) {
    this.rebuild();
    this.onSecretChange = (name) => {
      if (this.uses(name)) this.rebuild();
    };
    secrets.on('change', this.onSecretChange);
  }

  /** Stops following secret changes (the listener is gone). */
  close(): void {
    this.secrets.off('change', this.onSecretChange);
  }

  get ready(): boolean {
    return this.built !== undefined;
  }

  private uses(name: string): boolean {
    return this.config.certificateSecrets.includes(name) || this.config.validationSecrets.includes(name);
  }

  /** Builds the SecureContext from the current secrets; until all exist it is not ready; on failure the last
   * good one stays. */
  rebuild(): void {
    const certs: Buffer[] = [];
    const keys: Buffer[] = [];
    for (const name of this.config.certificateSecrets) {
      const material = this.secrets.certificate(name);
      if (!material) return;
      certs.push(material.chain);
      keys.push(material.key);
    }
    let trustedCa: Buffer | undefined;
    const sanMatchers: SanMatcher[] = [];
    for (const name of this.config.validationSecrets) {
      const v = this.secrets.validation(name);
      if (!v) return;
      trustedCa = v.trustedCa ?? trustedCa;
      sanMatchers.push(...v.sanMatchers);
    }
    try {
      const context = tls.createSecureContext({
        cert: certs,
        key: keys,
        ...(trustedCa ? { ca: trustedCa } : {}),
        minVersion: this.config.params.minVersion,
        maxVersion: this.config.params.maxVersion,
        ciphers: this.config.params.ciphers,
        ecdhCurve: this.config.params.curves,
        honorCipherOrder: true,
      });
      this.built = { context, sanMatchers, verifyChain: trustedCa !== undefined };
    } catch (e) {
      this.log.error('TLS context rejected; keeping the previous one', { error: (e as Error).message });
    }
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
    const built = this.built;
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
    const require = this.config.requireClientCertificate;
    const socket = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: built.context,
      requestCert: require || built.verifyChain || built.sanMatchers.length > 0,
      rejectUnauthorized: require,
      ...(selected ? { ALPNProtocols: [selected] } : {}),
    });
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const fail = (reason: Exclude<TlsOutcome, { ok: true }>['reason'], detail: string) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      socket.destroy();
      done({ ok: false, reason, detail });
    };
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        stats.handshakeTimeout.inc();
        fail('timeout', `no TLS handshake within ${timeoutMs} ms`);
      }, timeoutMs);
    }
    socket.once('error', (e: NodeJS.ErrnoException) => {
      if (settled) return;
      stats.connectionError.inc();
      const text = `${e.code ?? ''} ${e.message}`;
      if (/PEER_DID_NOT_RETURN_A_CERTIFICATE|CERTIFICATE_REQUIRED/i.test(text)) {
        stats.failVerifyNoCert.inc();
        fail('no-cert', 'the client sent no certificate');
      } else fail('handshake', e.code ?? e.message);
    });
    socket.once('close', () => fail('closed', 'the client closed the connection during the handshake'));
    socket.once('secure', () => {
      if (settled) return;
      const cert = socket.getPeerX509Certificate();
      const sans = cert ? parseSubjectAltNames(cert.subjectAltName) : [];
      if (!cert) {
        if (require) {
          stats.connectionError.inc();
          stats.failVerifyNoCert.inc();
          fail('no-cert', 'the client sent no certificate');
          return;
        }
        stats.noCertificate.inc();
      } else if (built.verifyChain && verifyError(socket)) {
        stats.connectionError.inc();
        stats.failVerifyError.inc();
        fail('verify', `client certificate not trusted: ${verifyError(socket)}`);
        return;
      } else if (!sansMatch(built.sanMatchers, sans)) {
        stats.connectionError.inc();
        stats.failVerifySan.inc();
        fail(
          'san',
          `client certificate SANs ${sans.map((s) => s.value).join(', ') || '(none)'} match no SAN matcher`,
        );
        return;
      }
      settled = true;
      if (timer) clearTimeout(timer);
      stats.handshake.inc();
      const version = socket.getProtocol() ?? undefined;
      const cipher = socket.getCipher()?.standardName;
      if (version) stats.named('versions', version).inc();
      if (cipher) stats.named('ciphers', cipher).inc();
      const alpn = socket.alpnProtocol;
      done({
        ok: true,
        socket,
        peer: {
          spiffeId: spiffeIdOf(sans),
          sans,
          certificate: cert?.raw,
          alpn: typeof alpn === 'string' ? alpn : undefined,
          version,
          cipher,
        },
      });
    });
  }
}
