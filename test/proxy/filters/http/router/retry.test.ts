// The router's retry decisions as Envoy's RetryStateImpl makes them (retry_state_impl.cc wouldRetryFromHeaders,
// wouldRetryFromReset, shouldRetry) and its back-off, as tables of cases.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RetryPolicyConfig } from '../../../../../src/proxy/config/model.js';
import {
  type AttemptOutcome,
  isRetriable,
  type ResetReason,
  RetryState,
} from '../../../../../src/proxy/filters/http/router/retry.js';

function policy(retryOn: string, o: Partial<RetryPolicyConfig> = {}): RetryPolicyConfig {
  return {
    retryOn: new Set(retryOn.split(',').filter(Boolean)),
    numRetries: 2,
    perTryTimeoutMs: 0,
    retriableStatusCodes: [],
    previousHosts: false,
    hostSelectionMaxAttempts: 1,
    backOffBaseMs: 25,
    backOffMaxMs: 250,
    ...o,
  };
}

const response = (status: number, headers: Record<string, string> = {}): AttemptOutcome => ({
  kind: 'response',
  status,
  header: (n) => headers[n],
});
const reset = (reason: ResetReason, requestSent = true): AttemptOutcome => ({
  kind: 'reset',
  reason,
  requestSent,
});

/** Istio's outbound default (pilot route/retry/retry.go). */
const ISTIO = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

describe('which outcomes retry_on covers', () => {
  const cases: [string, string, AttemptOutcome, boolean, Partial<RetryPolicyConfig>?][] = [
    ['5xx: 500', '5xx', response(500), true],
    ['5xx: 599', '5xx', response(599), true],
    ['5xx: not 404', '5xx', response(404), false],
    ['gateway-error: 502, 503, 504', 'gateway-error', response(503), true],
    ['gateway-error: not 500', 'gateway-error', response(500), false],
    ['retriable-4xx: 409 only', 'retriable-4xx', response(409), true],
    ['retriable-4xx: not 429', 'retriable-4xx', response(429), false],
    [
      'retriable-status-codes: listed',
      'retriable-status-codes',
      response(418),
      true,
      { retriableStatusCodes: [418] },
    ],
    ['retriable-status-codes: none listed never matches', 'retriable-status-codes', response(503), false],
    ['a listed code without the token', '5xx', response(418), false, { retriableStatusCodes: [418] }],
    ['unavailable: grpc-status 14 in headers', 'unavailable', response(200, { 'grpc-status': '14' }), true],
    ['cancelled: grpc-status 1', 'cancelled', response(200, { 'grpc-status': '1' }), true],
    ['deadline-exceeded: 4', 'deadline-exceeded', response(200, { 'grpc-status': '4' }), true],
    ['resource-exhausted: 8', 'resource-exhausted', response(200, { 'grpc-status': '8' }), true],
    ['internal: 13', 'internal', response(200, { 'grpc-status': '13' }), true],
    ['unavailable does not match another code', 'unavailable', response(200, { 'grpc-status': '13' }), false],
    ['a non-numeric grpc-status never matches', 'unavailable', response(200, { 'grpc-status': 'x' }), false],
    ['x-envoy-ratelimited stops a 5xx retry', '5xx', response(503, { 'x-envoy-ratelimited': '' }), false],
    [
      'envoy-ratelimited retries it',
      'envoy-ratelimited',
      response(429, { 'x-envoy-ratelimited': 'true' }),
      true,
    ],
    ['connect-failure: connection refused', 'connect-failure', reset('connection-failure', false), true],
    ['connect-failure: connect timeout', 'connect-failure', reset('connection-timeout', false), true],
    ['connect-failure: not a termination', 'connect-failure', reset('connection-termination'), false],
    ['reset: any reset', 'reset', reset('connection-termination'), true],
    ['reset: a per-try timeout (local reset)', 'reset', reset('local-reset'), true],
    ['5xx covers a reset', '5xx', reset('remote-reset'), true],
    ['gateway-error covers a reset', 'gateway-error', reset('local-reset'), true],
    [
      'reset-before-request: nothing sent',
      'reset-before-request',
      reset('connection-termination', false),
      true,
    ],
    [
      'reset-before-request: something sent',
      'reset-before-request',
      reset('connection-termination', true),
      false,
    ],
    ['refused-stream: REFUSED_STREAM', 'refused-stream', reset('remote-refused-stream'), true],
    ['refused-stream: another RST_STREAM', 'refused-stream', reset('remote-reset'), false],
    ["Istio's default: a refused connection", ISTIO, reset('connection-failure', false), true],
    ["Istio's default: not a plain 503", ISTIO, response(503), false],
    ["Istio's default: not a per-try timeout", ISTIO, reset('local-reset'), false],
    ["Istio's default: trailers-only UNAVAILABLE", ISTIO, response(200, { 'grpc-status': '14' }), true],
  ];
  for (const [name, on, outcome, expected, o] of cases) {
    it(name, () => assert.equal(isRetriable(policy(on, o), outcome), expected));
  }
});

describe('RetryState', () => {
  it('retries num_retries times, then says limit-exceeded (URX); a final outcome is final', () => {
    const r = new RetryState(policy('5xx', { numRetries: 2 }));
    assert.equal(r.decide(response(200)), 'final');
    assert.equal(r.decide(response(503)), 'retry');
    assert.equal(r.decide(response(503)), 'retry');
    assert.equal(r.decide(response(503)), 'limit-exceeded');
    assert.equal(r.retries, 2);
  });

  it('num_retries 0 with a retry_on: every retriable failure is limit-exceeded', () => {
    assert.equal(new RetryState(policy('5xx', { numRetries: 0 })).decide(response(500)), 'limit-exceeded');
  });

  it('a full circuit breaker is overflow, and the retry is spent anyway (Envoy)', () => {
    const r = new RetryState(policy('5xx', { numRetries: 1 }));
    assert.equal(
      r.decide(response(500), () => false),
      'overflow',
    );
    assert.equal(r.decide(response(500)), 'limit-exceeded');
  });

  it('backs off uniformly in [0, window), the window doubling to the maximum', () => {
    const draws = [0.999, 0.999, 0.999, 0.999, 0.999, 0.5, 0];
    const r = new RetryState(policy('5xx'), () => draws.shift() ?? 0);
    assert.deepEqual(
      Array.from({ length: 7 }, () => r.nextBackoffMs()),
      [24, 49, 99, 199, 249, 125, 0],
    );
  });

  it('previous_hosts: nothing to avoid on the first attempt; the hosts tried, on retries', () => {
    const r = new RetryState<string>(policy('5xx', { previousHosts: true, hostSelectionMaxAttempts: 5 }));
    assert.equal(r.avoid, undefined);
    assert.equal(r.picks, 1);
    r.attempted.add('a');
    r.decide(response(500));
    assert.deepEqual([...(r.avoid ?? [])], ['a']);
    assert.equal(r.picks, 6);
    const plain = new RetryState<string>(policy('5xx'));
    plain.attempted.add('a');
    plain.decide(response(500));
    assert.equal(plain.avoid, undefined, 'without the predicate nothing is avoided');
  });
});
