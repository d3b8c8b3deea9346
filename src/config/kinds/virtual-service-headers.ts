// VirtualService header manipulation and CORS: the Headers and CorsPolicy schemas and Istio's checks of header
// names and values (ValidateHTTPHeader*OperationName, ValidateHTTPHeaderValue with Envoy's %VAR% syntax) and
// of CORS policies (validateCORSPolicy), from pkg/config/validation/validation.go.

import type { FieldPath } from '../../core/field-path.js';
import {
  array,
  boolean,
  type Checker,
  type Infer,
  object,
  oneOf,
  optional,
  record,
  string,
} from '../schema.js';
import { duration, parseDuration } from './istio-common.js';
import { checkCorsHeaderName, checkStringMatchRegexp, stringMatch } from './virtual-service-match.js';

const istioDuration = () => duration({ istioMinimum: true });

const headerOperations = object(
  { set: optional(record(string())), add: optional(record(string())), remove: optional(array(string())) },
  'header operations ({set, add, remove})',
);
export const headers = object(
  { request: optional(headerOperations), response: optional(headerOperations) },
  'header operations ({request, response})',
);
export type Headers = Infer<typeof headers>;

export const corsPolicy = object(
  {
    allowOrigin: optional(array(string())),
    allowOrigins: optional(array(stringMatch)),
    allowMethods: optional(array(string())),
    allowHeaders: optional(array(string())),
    exposeHeaders: optional(array(string())),
    maxAge: optional(istioDuration()),
    allowCredentials: optional(boolean()),
    unmatchedPreflights: optional(oneOf(['UNSPECIFIED', 'FORWARD', 'IGNORE'])),
  },
  'a CORS policy',
);

const isInternalHeader = (name: string) => name.startsWith(':') || name.toLowerCase() === 'host';
export const isAuthorityHeader = (name: string) =>
  name.toLowerCase() === ':authority' || name.toLowerCase() === 'host';

/** ValidateHTTPHeaderWithAuthorityOperationName (request add/set) and ValidateHTTPHeaderOperationName (others). */
function checkHeaderOperationName(name: string, allowAuthority: boolean, path: FieldPath, c: Checker): void {
  if (name === '') c.error(path, 'ISTIO_VS_HEADER_NAME', 'header name cannot be empty');
  else if (!allowAuthority && name.toLowerCase() === 'host')
    c.error(path, 'ISTIO_VS_HEADER_NAME', `invalid header ${JSON.stringify(name)}: cannot set Host header`);
  else if (isInternalHeader(name) && !(allowAuthority && isAuthorityHeader(name)))
    c.error(
      path,
      'ISTIO_VS_HEADER_NAME',
      `invalid header ${JSON.stringify(name)}: header cannot have ":" prefix`,
    );
}

/** ValidateHTTPHeaderValue: no control characters, and Envoy's `%VARIABLE%` syntax. */
export function headerValueProblem(value: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this looks for
  if (/[\u0000-\u0008\u000A-\u001F\u007F]/.test(value))
    return `header value configuration ${value} is invalid`;
  const problem = envoyHeaderValueProblem(value);
  return problem ? `header value configuration: ${problem}` : undefined;
}

/** validateHeaderValue: a port of Envoy's header_parser state machine. */
function envoyHeaderValueProblem(value: string): string | undefined {
  type State = 'literal' | 'name' | 'array' | 'string' | 'inString' | 'delimiter' | 'argsEnd' | 'varEnd';
  let state: State = 'literal';
  for (let pos = 0; pos < value.length; pos++) {
    const ch = value[pos];
    const hasNext = pos + 1 < value.length;
    switch (state) {
      case 'literal':
        if (ch !== '%') break;
        if (!hasNext) return 'invalid header configuration. Un-escaped %';
        if (value[pos + 1] === '%') pos++;
        else state = 'name';
        break;
      case 'name':
        if (ch === '%') state = 'literal';
        else if (ch === '(') state = 'array';
        break;
      case 'array':
        if (ch === '[') state = 'string';
        else if (ch !== ' ') state = 'inString';
        break;
      case 'delimiter':
        if (ch === ',') state = 'string';
        else if (ch === ']') state = 'argsEnd';
        else if (ch !== ' ') return "invalid header configuration. Expecting ',', ']', or whitespace";
        break;
      case 'string':
        if (ch === '"') state = 'inString';
        else if (ch !== ' ') return `invalid header configuration. Expecting '"'`;
        break;
      case 'inString':
        if (ch === '\\') {
          if (!hasNext) return 'invalid header configuration. Un-terminated backslash in JSON string';
          pos++;
        } else if (ch === ')') state = 'varEnd';
        else if (ch === '"') state = 'delimiter';
        break;
      case 'argsEnd':
        if (ch === ')') state = 'varEnd';
        else if (ch !== ' ')
          return "invalid header configuration. Expecting ')' or whitespace after '{}', but found '{}'";
        break;
      case 'varEnd':
        if (ch === '%') state = 'literal';
        else if (ch !== ' ') return "invalid header configuration. Expecting '%' or whitespace after";
        break;
    }
  }
  return state === 'literal'
    ? undefined
    : `invalid header configuration. Un-terminated variable expression '${value}'`;
}

export function checkHeaderOperations(h: Headers | undefined, path: FieldPath, c: Checker): void {
  for (const side of ['request', 'response'] as const) {
    const ops = h?.[side];
    const at = [...path, side];
    for (const op of ['add', 'set'] as const) {
      for (const [name, value] of Object.entries(ops?.[op] ?? {})) {
        checkHeaderOperationName(name, side === 'request', [...at, op, name], c);
        const problem = headerValueProblem(value);
        if (problem) c.error([...at, op, name], 'ISTIO_VS_HEADER_VALUE', problem);
      }
    }
    for (const [i, name] of (ops?.remove ?? []).entries())
      checkHeaderOperationName(name, false, [...at, 'remove', i], c);
  }
}

const CORS_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  '*',
]);

export function checkCors(cors: Infer<typeof corsPolicy> | undefined, path: FieldPath, c: Checker): void {
  if (cors === undefined) return;
  for (const [i, origin] of (cors.allowOrigins ?? []).entries()) {
    const at = [...path, 'allowOrigins', i];
    const text = origin.exact ?? origin.prefix ?? origin.regex ?? '';
    if (text === '')
      c.error(
        at,
        'ISTIO_VS_CORS_ORIGIN',
        `'' is not a valid match type for CORS allow origins: set exact, prefix or regex`,
      );
    else checkStringMatchRegexp(origin, 'corsPolicy.allowOrigins', at, c);
  }
  for (const [i, method] of (cors.allowMethods ?? []).entries()) {
    if (!CORS_METHODS.has(method))
      c.error(
        [...path, 'allowMethods', i],
        'ISTIO_VS_CORS_METHOD',
        `${JSON.stringify(method)} is not a supported HTTP method: expected one of ${[...CORS_METHODS].join(', ')}`,
      );
  }
  for (const field of ['allowHeaders', 'exposeHeaders'] as const)
    for (const [i, name] of (cors[field] ?? []).entries()) checkCorsHeaderName(name, [...path, field, i], c);
  const maxAge = cors.maxAge === undefined ? undefined : parseDuration(cors.maxAge);
  if (maxAge !== undefined && !Number.isInteger(maxAge))
    c.error(
      [...path, 'maxAge'],
      'ISTIO_VS_CORS_MAX_AGE',
      `max_age duration is accurate only to seconds precision, got ${JSON.stringify(cors.maxAge)}`,
    );
}
