// The material a TLS context is built from, resolved from secrets by name — the one place both sides of TLS
// (listeners' DownstreamTlsContext, clusters' UpstreamTlsContext) turn a CommonTlsContext into a Node
// SecureContext, and rebuild it when a secret it names changes.

import { constants as cryptoConstants, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { Logger } from '../../core/log.js';
import type { CommonTlsConfig, SanMatcher } from '../config/model.js';
import { parseSubjectAltNames } from './san.js';
import type { SecretStore } from './secrets.js';

export interface BuiltTls {
  context: tls.SecureContext;
  sanMatchers: SanMatcher[];
  /** A trusted CA is configured: the peer's chain must verify against it. */
  verifyChain: boolean;
  /** A certificate of our own is configured. */
  hasCertificate: boolean;
  /** The URI SAN of our own certificate (the SPIFFE identity we present), read once per context. */
  localIdentity: string | undefined;
}

/** The first URI SAN of the first certificate of a PEM chain. */
function uriSanOf(chain: Buffer): string | undefined {
  try {
    const sans = parseSubjectAltNames(new X509Certificate(chain).subjectAltName);
    return sans.find((x) => x.type === 'URI')?.value;
  } catch {
    return undefined;
  }
}

/**
 * Builds the SecureContext from the current secrets; undefined while a named secret is missing (the agent has
 * not delivered it yet). Throws when OpenSSL refuses the material.
 */
export function buildTls(
  config: CommonTlsConfig & { sessionTickets?: boolean },
  secrets: SecretStore,
): BuiltTls | undefined {
  const certs: Buffer[] = [];
  const keys: Buffer[] = [];
  for (const name of config.certificateSecrets) {
    const material = secrets.certificate(name);
    if (!material) return undefined;
    certs.push(material.chain);
    keys.push(material.key);
  }
  let trustedCa: Buffer | undefined;
  const sanMatchers: SanMatcher[] = [];
  for (const name of config.validationSecrets) {
    const v = secrets.validation(name);
    if (!v) return undefined;
    trustedCa = v.trustedCa ?? trustedCa;
    sanMatchers.push(...v.sanMatchers);
  }
  if (sanMatchers.length > 0 && !trustedCa) {
    // Envoy refuses this configuration, with these words.
    throw new Error(
      'SAN-based verification of peer certificates without trusted CA is insecure and not allowed',
    );
  }
  const context = tls.createSecureContext({
    ...(certs.length > 0 ? { cert: certs, key: keys } : {}),
    // Envoy trusts an intermediate in trusted_ca as an anchor (X509_V_FLAG_PARTIAL_CHAIN).
    ...(trustedCa ? { ca: trustedCa, allowPartialTrustChain: true } : {}),
    minVersion: config.params.minVersion,
    maxVersion: config.params.maxVersion,
    ciphers: config.params.ciphers,
    ecdhCurve: config.params.curves,
    honorCipherOrder: true,
    // Server side: Envoy's disable_stateless_session_resumption. OpenSSL resumes a session with a verified
    // client certificate only under a session ID context; without one every ticket is refused.
    ...(config.sessionTickets === undefined
      ? {}
      : config.sessionTickets
        ? { sessionIdContext: 'skiff' }
        : { secureOptions: cryptoConstants.SSL_OP_NO_TICKET }),
  });
  return {
    context,
    sanMatchers,
    verifyChain: trustedCa !== undefined,
    hasCertificate: certs.length > 0,
    localIdentity: certs[0] ? uriSanOf(certs[0]) : undefined,
  };
}

/** Keeps a BuiltTls current: rebuilt when a secret it names changes; a refused rebuild keeps the last good one. */
export class TlsContextHolder {
  private value: BuiltTls | undefined;
  private readonly onChange: (name: string) => void;

  constructor(
    private readonly config: CommonTlsConfig & { sessionTickets?: boolean },
    private readonly secrets: SecretStore,
    private readonly log: Logger,
  ) {
    this.onChange = (name) => {
      if (config.certificateSecrets.includes(name) || config.validationSecrets.includes(name)) this.rebuild();
    };
    secrets.on('change', this.onChange);
    this.rebuild();
  }

  get current(): BuiltTls | undefined {
    return this.value;
  }

  rebuild(): void {
    try {
      const built = buildTls(this.config, this.secrets);
      if (built) this.value = built;
    } catch (e) {
      this.log.error('TLS context rejected; keeping the previous one', { error: (e as Error).message });
    }
  }

  close(): void {
    this.secrets.off('change', this.onChange);
  }
}
