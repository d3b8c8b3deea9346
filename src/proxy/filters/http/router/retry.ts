// The router's retry decisions, as Envoy's RetryStateImpl makes them (source/common/router/retry_state_impl.cc):
// whether an attempt's outcome — response headers, or a reset before them — is retriable under the route's
// `retry_on`, whether a retry is left, and how long to back off. Pure: randomness is injected; the connection
// manager (hcm.ts) runs the attempts, timers and counters. /work/notes/envoy-semantics.md §1 has the sources.

import { ENVOY_RETRY_ON, type EnvoyRetryOn } from '../../../../core/retry-on.js';
import type { RetryPolicyConfig } from '../../../config/model.js';

/** Envoy's stream reset reasons, as far as Skiff's upstream produces them. */
export type ResetReason =
  /** The connection could not be made (refused, TLS refused, bind failed): a pool failure. */
  | 'connection-failure'
  /** connect_timeout passed: a pool failure. */
  | 'connection-timeout'
  /** The connection closed or reset under the request. */
  | 'connection-termination'
  /** HTTP/2 RST_STREAM from the upstream. */
  | 'remote-reset'
  /** HTTP/2 RST_STREAM REFUSED_STREAM: the server did not process the request. */
  | 'remote-refused-stream'
  /** The upstream broke HTTP. */
  | 'protocol-error'
  /** The proxy reset the stream itself (a per-try timeout). */
  | 'local-reset';

export type AttemptOutcome =
  | { kind: 'response'; status: number; header: (name: string) => string | undefined }
  | {
      kind: 'reset';
      reason: ResetReason;
      /** A byte of the request was sent upstream (in any attempt so far: Envoy keeps it sticky). */
      requestSent: boolean;
    };

/** Tokens Envoy knows that need settings Skiff does not implement (they would change behaviour): refused. */
export const RETRY_ON_NOT_IMPLEMENTED = ['retriable-headers'] as const;

export type RetryOn = Exclude<EnvoyRetryOn, (typeof RETRY_ON_NOT_IMPLEMENTED)[number]>;

/** The retry_on tokens Envoy knows that Skiff's router honours. */
export const RETRY_ON_TOKENS: readonly RetryOn[] = ENVOY_RETRY_ON.filter(
  (t): t is RetryOn => !(RETRY_ON_NOT_IMPLEMENTED as readonly string[]).includes(t),
);

const GRPC_CODES: Partial<Record<RetryOn, number>> = {
  cancelled: 1,
  'deadline-exceeded': 4,
  'resource-exhausted': 8,
  internal: 13,
  unavailable: 14,
};

/** Envoy's wouldRetryFromHeaders: the response headers of an attempt. */
function retriableResponse(
  p: RetryPolicyConfig,
  status: number,
  header: (n: string) => string | undefined,
): boolean {
  const on = p.retryOn;
  // A rate-limited response is retried only on envoy-ratelimited, whatever else would match.
  if (header('x-envoy-ratelimited') !== undefined) return on.has('envoy-ratelimited');
  if (on.has('5xx') && status >= 500 && status <= 599) return true;
  if (on.has('gateway-error') && status >= 502 && status <= 504) return true;
  if (on.has('retriable-4xx') && status === 409) return true;
  if (on.has('retriable-status-codes') && p.retriableStatusCodes.includes(status)) return true;
  const grpc = header('grpc-status');
  if (grpc !== undefined && /^\d+$/.test(grpc)) {
    const code = Number(grpc);
    for (const [token, c] of Object.entries(GRPC_CODES))
      if (c === code && on.has(token as RetryOn)) return true;
  }
  return false;
}

const POOL_FAILURES: ReadonlySet<ResetReason> = new Set(['connection-failure', 'connection-timeout']);

/** Envoy's wouldRetryFromReset: a reset (or pool failure) before the response headers. */
function retriableReset(p: RetryPolicyConfig, reason: ResetReason, requestSent: boolean): boolean {
  const on = p.retryOn;
  if (on.has('connect-failure') && POOL_FAILURES.has(reason)) return true;
  if (on.has('reset-before-request') && !requestSent) return true;
  if (on.has('reset')) return true;
  // "A reset counts as a 5xx."
  if (on.has('5xx') || on.has('gateway-error')) return true;
  return on.has('refused-stream') && reason === 'remote-refused-stream';
}

/** Whether the policy's retry_on covers this outcome. */
export function isRetriable(p: RetryPolicyConfig, outcome: AttemptOutcome): boolean {
  return outcome.kind === 'response'
    ? retriableResponse(p, outcome.status, outcome.header)
    : retriableReset(p, outcome.reason, outcome.requestSent);
}

/** What to do after an attempt's outcome. */
export type RetryDecision =
  /** Not retriable: the outcome is final. */
  | 'final'
  /** Retriable and a retry is left: back off, then try again. */
  | 'retry'
  /** Retriable, but num_retries is used up (Envoy's URX). */
  | 'limit-exceeded'
  /** Retriable, but the cluster's max_retries circuit breaker is full (Envoy's UO); the retry is still spent. */
  | 'overflow';

/** One request's retries: how many are left, the back-off window, the hosts tried. */
export class RetryState<H = unknown> {
  private remaining: number;
  private window: number;
  /** Retries done so far. */
  retries = 0;
  /** Hosts attempted, for retry_host_predicate previous_hosts. */
  readonly attempted = new Set<H>();

  constructor(
    readonly policy: RetryPolicyConfig,
    private readonly random: () => number = Math.random,
  ) {
    this.remaining = policy.numRetries;
    this.window = policy.backOffBaseMs;
  }

  /**
   * Envoy's shouldRetry: `canTake` says whether the circuit breaker has room for one more retry. A retry is
   * counted as spent before the breaker is asked, as in Envoy.
   */
  decide(outcome: AttemptOutcome, canTake: () => boolean = () => true): RetryDecision {
    if (!isRetriable(this.policy, outcome)) return 'final';
    if (this.remaining === 0) return 'limit-exceeded';
    this.remaining--;
    if (!canTake()) return 'overflow';
    this.retries++;
    return 'retry';
  }

  /** Fully jittered exponential back-off: uniform in [0, window), the window doubling up to the maximum. */
  nextBackoffMs(): number {
    const wait = Math.floor(this.random() * this.window);
    this.window = this.window < this.policy.backOffMaxMs / 2 ? this.window * 2 : this.policy.backOffMaxMs;
    return wait;
  }

  /** Hosts a retry must avoid (previous_hosts), or none. */
  get avoid(): ReadonlySet<H> | undefined {
    return this.policy.previousHosts && this.retries > 0 ? this.attempted : undefined;
  }

  /** How many times the load balancer may pick to avoid those hosts (host_selection_retry_max_attempts + 1). */
  get picks(): number {
    return this.retries > 0 ? this.policy.hostSelectionMaxAttempts + 1 : 1;
  }
}
