// A RetryPolicy (on a route or a virtual host) as Envoy reads it, and the `previous_hosts` retry host predicate.
// Envoy ignores `retry_on` tokens it does not know; Skiff does too, with a warning naming them. Tokens Envoy knows
// but whose settings Skiff does not implement are refused, since ignoring them would change behaviour.

import { showValue } from '../../../../core/diagnostics.js';
import type { FieldPath } from '../../../../core/field-path.js';
import type { SupportTable } from '../../../../xds/decode.js';
import type { TranslateContext } from '../../../config/context.js';
import type { Extension } from '../../../config/extension.js';
import { durationOr, type JsonObject, list, num, obj, str, wrapped } from '../../../config/json.js';
import type { RetryPolicyConfig } from '../../../config/model.js';
import { RETRY_ON_NOT_IMPLEMENTED, RETRY_ON_TOKENS } from './retry.js';

/** Envoy's defaults: `upstream.base_retry_backoff_ms`, and a maximum of ten times the base. */
const BACKOFF_BASE_MS = 25;

export const RETRY_SUPPORT: SupportTable = {
  'envoy.config.route.v3.RetryPolicy': {
    retry_on:
      'Comma-separated conditions: 5xx, gateway-error, reset, reset-before-request, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, envoy-ratelimited, and the gRPC cancelled, deadline-exceeded, internal, resource-exhausted, unavailable (from response headers). Unknown tokens are ignored, as Envoy does, with a warning.',
    num_retries: 'Retries at most (default 1).',
    per_try_timeout:
      'Each attempt’s timeout, from when its connection is ready and the request complete; over → the attempt is reset (retried on 5xx, gateway-error, reset), else 504 UT.',
    retry_host_predicate: '`envoy.retry_host_predicates.previous_hosts`: a retry avoids hosts tried before.',
    host_selection_retry_max_attempts: 'Extra load balancer picks to avoid those hosts (default 1; Istio 5).',
    retriable_status_codes: 'Statuses retried with retriable-status-codes.',
    retry_back_off:
      'Jittered exponential back-off between attempts (default base 25 ms, maximum 10× the base).',
  },
  'envoy.config.route.v3.RetryPolicy.RetryBackOff': {
    base_interval: 'The first window (each wait is random in [0, window)).',
    max_interval: 'The largest window (default 10× base_interval).',
  },
  'envoy.config.route.v3.RetryPolicy.RetryHostPredicate': {
    name: 'The predicate’s name.',
    typed_config: 'Its configuration (an extension of category `envoy.retry_host_predicates`).',
  },
};

export function translateRetryPolicy(
  p: JsonObject,
  path: FieldPath,
  ctx: TranslateContext,
): RetryPolicyConfig {
  const retryOn = new Set<string>();
  const unknown: string[] = [];
  for (const raw of str(p.retry_on).split(',')) {
    const token = raw.trim();
    if (token === '') continue;
    if ((RETRY_ON_NOT_IMPLEMENTED as readonly string[]).includes(token)) {
      ctx.error(
        [...path, 'retry_on'],
        'proxy.unsupported',
        `retry_on ${showValue(token)} is not implemented (retriable_headers is not supported)`,
      );
    } else if ((RETRY_ON_TOKENS as readonly string[]).includes(token)) retryOn.add(token);
    else unknown.push(token);
  }
  if (unknown.length > 0) {
    ctx.warn(
      [...path, 'retry_on'],
      'proxy.retry-on',
      `unknown retry_on ${unknown.map((t) => showValue(t)).join(', ')}: ignored, as Envoy ignores them; known: ${RETRY_ON_TOKENS.join(', ')}`,
    );
  }
  let previousHosts = false;
  list(p.retry_host_predicate).forEach((e, i) => {
    const at = [...path, 'retry_host_predicate', i];
    if (ctx.registry.translate('envoy.retry_host_predicates', obj(e), at, ctx) === 'previous_hosts') {
      previousHosts = true;
    }
  });
  const backOff = obj(p.retry_back_off);
  const base = Math.max(1, durationOr(backOff.base_interval, BACKOFF_BASE_MS));
  const max = durationOr(backOff.max_interval, base * 10);
  if (max < base) {
    ctx.error(
      [...path, 'retry_back_off', 'max_interval'],
      'proxy.retry',
      'retry_policy.max_interval must greater than or equal to the base_interval',
    );
  }
  return {
    retryOn,
    numRetries: wrapped(p.num_retries, 1),
    perTryTimeoutMs: durationOr(p.per_try_timeout, 0),
    retriableStatusCodes: list(p.retriable_status_codes).map(num),
    previousHosts,
    hostSelectionMaxAttempts:
      p.host_selection_retry_max_attempts === undefined ? 1 : num(p.host_selection_retry_max_attempts),
    backOffBaseMs: base,
    backOffMaxMs: max,
  };
}

const PREVIOUS_HOSTS_TYPE = 'envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate';

export const PREVIOUS_HOSTS: Extension<'envoy.retry_host_predicates'> = {
  name: 'envoy.retry_host_predicates.previous_hosts',
  category: 'envoy.retry_host_predicates',
  types: [PREVIOUS_HOSTS_TYPE],
  byName: true,
  summary:
    'A retry does not go to a host an earlier attempt of the request went to (while the load balancer has others).',
  support: { [PREVIOUS_HOSTS_TYPE]: {} },
  translate: () => 'previous_hosts',
};
