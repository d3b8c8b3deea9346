// One xDS resource from its proto3 JSON form (what an ADS response's resource decodes to): decoded
// strictly against Envoy's protos with the proxy's implemented subset, then translated by its type's module.
// Every problem comes back with its field path; nothing throws on bad input.

import type { FieldPath } from '../../core/field-path.js';
import { decodeMessage } from '../../xds/decode.js';
import { envoyRoot } from '../../xds/protos.js';
import { PROXY_EXTENSIONS } from '../extensions.js';
import type { Translated } from './context.js';
import type { ExtensionRegistry } from './extension.js';
import {
  RESOURCE_TYPES,
  type ResourceTypeUrl,
  type ResourceValues,
  translateResource,
} from './resources/index.js';
import { PROXY_SUPPORT } from './support.js';

/** Decodes and translates `input` as a resource of type `url`. */
export function parseResource<U extends ResourceTypeUrl>(
  url: U,
  input: unknown,
  path: FieldPath = [],
  registry: ExtensionRegistry = PROXY_EXTENSIONS,
): Translated<ResourceValues[U]> & { name: string } {
  const type = RESOURCE_TYPES[url];
  const decoded = decodeMessage(envoyRoot(), type.message, input, { support: PROXY_SUPPORT }, path);
  const name = type.nameOf(decoded.value);
  if (decoded.diagnostics.some((d) => d.severity === 'error')) {
    return { value: undefined, diagnostics: decoded.diagnostics, refs: [], inlineSecrets: [], name };
  }
  const t = translateResource(registry, url, decoded.value, path, 'xds');
  return { ...t, diagnostics: [...decoded.diagnostics, ...t.diagnostics], name };
}
