// The Secret resource (SDS, or `static_resources.secrets`): a TLS certificate and key, or a validation context
// (trusted CAs, SAN rules). Transport sockets name secrets; data sources stay references until load.ts reads
// them.

import type { FieldPath } from '../../../core/field-path.js';
import type { SupportTable } from '../../../xds/decode.js';
import { translateTlsCertificate, translateValidationContext } from '../../transport/tls-config.js';
import type { TranslateContext } from '../context.js';
import { type JsonObject, obj, str } from '../json.js';
import type { SecretConfig } from '../model.js';

export const SECRET_SUPPORT: SupportTable = {
  'envoy.extensions.transport_sockets.tls.v3.Secret': {
    name: 'The name SDS configs use.',
    tls_certificate: 'A certificate and key.',
    validation_context: 'Trusted CAs and SAN rules.',
  },
};

/** Translates a Secret at `path`. */
export function translateSecret(s: JsonObject, path: FieldPath, ctx: TranslateContext): SecretConfig {
  const name = str(s.name);
  if (name === '') ctx.error([...path, 'name'], 'proxy.secret', 'a secret needs a name');
  const out: SecretConfig = { name };
  if (s.tls_certificate !== undefined)
    out.tlsCertificate = translateTlsCertificate(obj(s.tls_certificate), [...path, 'tls_certificate'], ctx);
  else if (s.validation_context !== undefined) {
    out.validationContext = translateValidationContext(
      obj(s.validation_context),
      [...path, 'validation_context'],
      ctx,
    );
  } else ctx.error(path, 'proxy.secret', 'a secret needs tls_certificate or validation_context');
  return out;
}
