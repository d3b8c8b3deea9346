// Secrets by name, as Envoy's SDS gives them to transport sockets: certificates (`default`) and validation
// contexts (`ROOTCA`). Static secrets come from the bootstrap; the agent (later xDS) replaces them at run time,
// and whoever built a TLS context from a secret rebuilds it on `change` — new connections get the new
// material, open ones keep theirs.

import { EventEmitter } from 'node:events';
import { readDataSource } from '../config/load.js';
import type {
  ProxyConfig,
  SanMatcher,
  TlsCertificateConfig,
  ValidationContextConfig,
} from '../config/model.js';

export interface CertificateMaterial {
  chain: Buffer;
  key: Buffer;
}

export interface ValidationMaterial {
  trustedCa: Buffer | undefined;
  sanMatchers: SanMatcher[];
}

export class SecretStore extends EventEmitter<{ change: [name: string] }> {
  private readonly certificates = new Map<string, CertificateMaterial>();
  private readonly validations = new Map<string, ValidationMaterial>();

  certificate(name: string): CertificateMaterial | undefined {
    return this.certificates.get(name);
  }

  validation(name: string): ValidationMaterial | undefined {
    return this.validations.get(name);
  }

  setCertificate(name: string, material: CertificateMaterial): void {
    this.certificates.set(name, material);
    this.emit('change', name);
  }

  setValidation(name: string, material: ValidationMaterial): void {
    this.validations.set(name, material);
    this.emit('change', name);
  }

  /**
   * Fills the store with the bootstrap's static secrets, reading their files. Every secret is read before any is
   * stored, so a failure (naming the secret and the file) leaves the store as it was.
   */
  async loadStatic(config: ProxyConfig): Promise<void> {
    const read: Array<{ name: string; cert?: CertificateMaterial; validation?: ValidationMaterial }> = [];
    for (const secret of config.secrets) {
      try {
        read.push({
          name: secret.name,
          ...(secret.tlsCertificate ? { cert: await readCertificate(secret.tlsCertificate) } : {}),
          ...(secret.validationContext ? { validation: await readValidation(secret.validationContext) } : {}),
        });
      } catch (e) {
        throw new Error(`secret ${secret.name}: ${(e as Error).message}`);
      }
    }
    for (const { name, cert, validation } of read) {
      if (cert) this.setCertificate(name, cert);
      if (validation) this.setValidation(name, validation);
    }
  }
}

export async function readCertificate(c: TlsCertificateConfig): Promise<CertificateMaterial> {
  return { chain: await readDataSource(c.certificateChain), key: await readDataSource(c.privateKey) };
}

export async function readValidation(v: ValidationContextConfig): Promise<ValidationMaterial> {
  return {
    trustedCa: v.trustedCa ? await readDataSource(v.trustedCa) : undefined,
    sanMatchers: v.sanMatchers,
  };
}
