// Envoy's retry_on policy names (x-envoy-retry-on, RetryPolicy.retry_on): one list for both layers that read
// them — Istio's VirtualService validation (retries.retryOn accepts exactly these and HTTP status codes, as
// Istio's supportedRetryOnPolicies does) and the sidecar's router (which honours all but the ones it names as
// not implemented).

export const ENVOY_RETRY_ON = [
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'envoy-ratelimited',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
] as const;

export type EnvoyRetryOn = (typeof ENVOY_RETRY_ON)[number];
