// VirtualService HTTP policies Skiff accepts without enforcing: redirect, directResponse, delegate, rewrite,
// retries, fault injection and mirroring, with Istio's checks (validateHTTPRedirect, validateHTTPDirectResponse,
// validateHTTPRetry, validateHTTPRewrite, validateHTTPFaultInjection, validatePercentage).

import type { FieldPath } from '../../core/field-path.js';
import { ENVOY_RETRY_ON } from '../../core/retry-on.js';
import {
  boolean,
  type Checker,
  checkOneOf,
  type Infer,
  integer,
  number,
  object,
  oneOf,
  optional,
  refine,
  required,
  string,
  uint32,
} from '../schema.js';
import { duration } from './istio-common.js';
import { checkPort, checkRegex, destination } from './virtual-service-match.js';

const istioDuration = () => duration({ istioMinimum: true });

const int32 = () => integer(-2147483648, 2147483647);

export const percent = object({ value: optional(number()) }, 'a percentage ({value: ...})');

export const redirect = refine(
  object(
    {
      uri: optional(string()),
      authority: optional(string()),
      port: optional(uint32()),
      derivePort: optional(oneOf(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT'])),
      scheme: optional(string()),
      redirectCode: optional(uint32()),
    },
    'an HTTP redirect',
  ),
  (r, path, c) => checkOneOf(r, ['port', 'derivePort'], path, c, { what: 'a redirect' }),
);

export const directResponse = object(
  {
    status: required(uint32()),
    body: optional(
      refine(
        object({ string: optional(string()), bytes: optional(string()) }, 'a body ({string|bytes})'),
        (b, p, c) => checkOneOf(b, ['string', 'bytes'], p, c, { what: 'a direct response body' }),
      ),
    ),
  },
  'a direct response ({status, body})',
);

export const delegate = object(
  { name: optional(string()), namespace: optional(string()) },
  'a delegate ({name, namespace})',
);

export const rewrite = object(
  {
    uri: optional(string()),
    authority: optional(string()),
    uriRegexRewrite: optional(
      object(
        { match: optional(string()), rewrite: optional(string()) },
        'a regex rewrite ({match, rewrite})',
      ),
    ),
  },
  'an HTTP rewrite',
);

export const retries = object(
  {
    attempts: optional(int32()),
    perTryTimeout: optional(istioDuration()),
    retryOn: optional(string()),
    retryRemoteLocalities: optional(boolean()),
    retryIgnorePreviousHosts: optional(boolean()),
    backoff: optional(istioDuration()),
  },
  'a retry policy',
);

export const fault = object(
  {
    delay: optional(
      refine(
        object(
          {
            fixedDelay: optional(istioDuration()),
            exponentialDelay: optional(istioDuration()),
            percent: optional(int32()),
            percentage: optional(percent),
          },
          'a fault delay',
        ),
        (d, p, c) => checkOneOf(d, ['fixedDelay', 'exponentialDelay'], p, c, { what: 'a fault delay' }),
      ),
    ),
    abort: optional(
      refine(
        object(
          {
            httpStatus: optional(int32()),
            grpcStatus: optional(string()),
            http2Error: optional(string()),
            percentage: optional(percent),
          },
          'a fault abort',
        ),
        (a, p, c) =>
          checkOneOf(a, ['httpStatus', 'grpcStatus', 'http2Error'], p, c, { what: 'a fault abort' }),
      ),
    ),
  },
  'a fault injection policy ({delay, abort})',
);

export const mirrorPolicy = object(
  { destination: required(destination), percentage: optional(percent) },
  'a mirror policy ({destination, percentage})',
);

/** validatePercentage. */
function checkPercentage(value: number | undefined, path: FieldPath, c: Checker): void {
  if (value === undefined) return;
  if (value < 0 || value > 100 || (value > 0 && value < 0.0001))
    c.error(path, 'ISTIO_VS_PERCENTAGE', `percentage ${value} is neither 0.0, nor in range [0.0001, 100.0]`);
}

export function checkMirrorPercentage(
  value: number | undefined,
  what: string,
  path: FieldPath,
  c: Checker,
): void {
  if (value === undefined) return;
  if (value > 100)
    c.error(
      path,
      'ISTIO_VS_MIRROR_PERCENT',
      `${what} must have a max value of 100 (it has ${value.toFixed(6)})`,
    );
  if (value < 0)
    c.error(
      path,
      'ISTIO_VS_MIRROR_PERCENT',
      `${what} must have a min value of 0 (it has ${value.toFixed(6)})`,
    );
}

const GRPC_STATUSES = new Set([
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
]);

/** validateHTTPStatus: Istio allows 200..600. */
function checkHttpStatus(status: number, path: FieldPath, c: Checker): void {
  if (status < 200 || status > 600)
    c.error(path, 'ISTIO_VS_HTTP_STATUS', `HTTP status ${status} is not in range 200-599`);
}

export function checkFault(f: Infer<typeof fault> | undefined, path: FieldPath, c: Checker): void {
  if (f === undefined) return;
  if (f.abort === undefined && f.delay === undefined)
    c.error(path, 'ISTIO_VS_FAULT_EMPTY', 'HTTP fault injection must have an abort and/or a delay');
  const abort = f.abort;
  if (abort !== undefined) {
    const at = [...path, 'abort'];
    checkPercentage(abort.percentage?.value, [...at, 'percentage', 'value'], c);
    if (abort.grpcStatus !== undefined) {
      if (!GRPC_STATUSES.has(abort.grpcStatus))
        c.error(
          [...at, 'grpcStatus'],
          'ISTIO_VS_FAULT_GRPC_STATUS',
          `gRPC status ${JSON.stringify(abort.grpcStatus)} is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'`,
        );
    } else if (abort.http2Error !== undefined) {
      c.error(
        [...at, 'http2Error'],
        'ISTIO_VS_FAULT_HTTP2',
        'HTTP/2 abort fault injection not supported yet',
      );
    } else if (abort.httpStatus !== undefined) {
      checkHttpStatus(abort.httpStatus, [...at, 'httpStatus'], c);
    } else {
      c.warn(
        at,
        'ISTIO_VS_FAULT_ABORT_TYPE',
        'abort configured, but error type not set: set httpStatus or grpcStatus',
      );
    }
  }
  const delay = f.delay;
  if (delay !== undefined) {
    checkPercentage(delay.percentage?.value, [...path, 'delay', 'percentage', 'value'], c);
    if (delay.exponentialDelay !== undefined)
      c.error(
        [...path, 'delay', 'exponentialDelay'],
        'ISTIO_VS_FAULT_EXPONENTIAL',
        'exponentialDelay not supported yet',
      );
  }
}

/** validateHTTPRedirect: Istio stops at the first problem. */
export function checkRedirect(r: Infer<typeof redirect> | undefined, path: FieldPath, c: Checker): void {
  if (r === undefined) return;
  if (!r.uri && !r.authority && r.port === undefined && r.derivePort === undefined && !r.scheme) {
    c.error(path, 'ISTIO_VS_REDIRECT_EMPTY', 'redirect must specify URI, authority, scheme, or port');
    return;
  }
  if (
    r.redirectCode !== undefined &&
    r.redirectCode !== 0 &&
    (r.redirectCode < 300 || r.redirectCode > 399)
  ) {
    c.error(
      [...path, 'redirectCode'],
      'ISTIO_VS_REDIRECT_CODE',
      `${r.redirectCode} is not a valid redirect code, must be 3xx`,
    );
    return;
  }
  if (r.scheme && r.scheme !== 'http' && r.scheme !== 'https') {
    c.error(
      [...path, 'scheme'],
      'ISTIO_VS_REDIRECT_SCHEME',
      `invalid redirect scheme, must be "http" or "https", got ${JSON.stringify(r.scheme)}`,
    );
    return;
  }
  checkPort(r.port, [...path, 'port'], c);
}

/** The size in bytes of a direct response body (bytes are base64). */
function bodySize(body: { string?: string; bytes?: string }): number {
  if (body.string !== undefined) return new TextEncoder().encode(body.string).length;
  const b64 = (body.bytes ?? '').replace(/=+$/, '');
  return Math.floor((b64.length * 3) / 4);
}

export function checkDirectResponse(
  d: Infer<typeof directResponse> | undefined,
  path: FieldPath,
  c: Checker,
): void {
  if (d === undefined) return;
  if (d.body !== undefined) {
    const size = bodySize(d.body);
    if (size > 1024 * 1024)
      c.error(
        [...path, 'body'],
        'ISTIO_VS_DIRECT_RESPONSE_SIZE',
        `large direct_responses may impact control plane performance, must be less than 1MB (got ${size} bytes)`,
      );
    else if (size > 100 * 1024)
      c.warn(
        [...path, 'body'],
        'ISTIO_VS_DIRECT_RESPONSE_LARGE',
        'large direct_responses may impact control plane performance',
      );
  }
  checkHttpStatus(d.status, [...path, 'status'], c);
}

/** http.StatusText(code) != "": the status codes Go knows. */
function isKnownHttpStatus(code: number): boolean {
  const known = [
    [100, 103],
    [200, 208],
    [226, 226],
    [300, 305],
    [307, 308],
    [400, 418],
    [421, 426],
    [428, 429],
    [431, 431],
    [451, 451],
    [500, 508],
    [510, 511],
  ];
  return known.some(([lo = 0, hi = 0]) => code >= lo && code <= hi);
}

/** Istio's supportedRetryOnPolicies: Envoy's names. */
const RETRY_ON: ReadonlySet<string> = new Set(ENVOY_RETRY_ON);

export function checkRetries(r: Infer<typeof retries> | undefined, path: FieldPath, c: Checker): void {
  if (r === undefined) return;
  const attempts = r.attempts ?? 0;
  if (attempts < 0) c.error([...path, 'attempts'], 'ISTIO_VS_RETRY_ATTEMPTS', 'attempts cannot be negative');
  if (
    attempts === 0 &&
    (r.perTryTimeout !== undefined || (r.retryOn ?? '') !== '' || r.retryRemoteLocalities !== undefined)
  )
    c.error(
      path,
      'ISTIO_VS_RETRY_DISABLED',
      'http retry policy configured when attempts are set to 0 (disabled): set attempts to 1 or more',
    );
  if (r.retryOn !== undefined && r.retryOn !== '') {
    for (const policy of r.retryOn.split(',')) {
      const code = /^[+-]?[0-9]+$/.test(policy) ? Number(policy) : 0;
      if (!isKnownHttpStatus(code) && !RETRY_ON.has(policy))
        c.error(
          [...path, 'retryOn'],
          'ISTIO_VS_RETRY_ON',
          `${JSON.stringify(policy)} is not a valid retryOn policy: expected an HTTP status code or one of ${[...RETRY_ON].join(', ')}`,
        );
    }
  }
}

export function checkRewrite(r: Infer<typeof rewrite> | undefined, path: FieldPath, c: Checker): void {
  if (r === undefined) return;
  const uri = r.uri ?? '';
  if (uri !== '' && r.uriRegexRewrite !== undefined) {
    c.error(path, 'ISTIO_VS_REWRITE_CONFLICT', 'rewrite may only contain one of URI or UriRegexRewrite');
    return;
  }
  if (uri === '' && r.uriRegexRewrite === undefined && (r.authority ?? '') === '') {
    c.error(
      path,
      'ISTIO_VS_REWRITE_EMPTY',
      'rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified',
    );
    return;
  }
  const regex = r.uriRegexRewrite;
  if (regex === undefined) return;
  if (!regex.match || !regex.rewrite) {
    c.error(
      [...path, 'uriRegexRewrite'],
      'ISTIO_VS_REWRITE_REGEX',
      'UriRegexRewrite has errors: UriRegexRewrite requires both Rewrite and Match fields to be specified',
    );
    return;
  }
  checkRegex(regex.match, 'HTTPRewrite.UriRegexRewrite.Match', [...path, 'uriRegexRewrite', 'match'], c);
}
