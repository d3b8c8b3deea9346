// Envoy's access log format strings (the substitution formatter) as a pure compiler: a text or JSON format is
// parsed once when the config is read, with Envoy's own error messages, and then formats one line per stream
// (HCM) or connection (tcp_proxy, listener) with no parsing and no regex. Sits between a logger and its writer.
// Here: the grammar, text and JSON lines; operators.ts: what each operator prints; start-time.ts: START_TIME.
// Sources (E = envoy @ 321a098d81): source/common/formatter/substitution_formatter.cc (parser, text, JSON),
// source/extensions/formatter/req_without_query/.
//
// Operators Skiff has (any other is refused as Envoy refuses an unknown one, `Not supported field in StreamInfo`):
//   START_TIME[(fmt)], REQ/REQUEST_HEADER, RESP/RESPONSE_HEADER, TRAILER/RESPONSE_TRAILER (X?Y, :N),
//   REQ_WITHOUT_QUERY (only with its formatter), PROTOCOL, RESPONSE_CODE, RESPONSE_FLAGS,
//   RESPONSE_CODE_DETAILS[(ALLOW_WHITESPACES)], CONNECTION_TERMINATION_DETAILS, UPSTREAM_TRANSPORT_FAILURE_REASON,
//   BYTES_RECEIVED, BYTES_SENT, DURATION, UPSTREAM_HOST, UPSTREAM_CLUSTER, UPSTREAM_CLUSTER_RAW,
//   {UPSTREAM_LOCAL,DOWNSTREAM_LOCAL,DOWNSTREAM_REMOTE,DOWNSTREAM_DIRECT_REMOTE}_ADDRESS[_WITHOUT_PORT] and their
//   _PORT forms, REQUESTED_SERVER_NAME, ROUTE_NAME, DOWNSTREAM_PEER_URI_SAN, UPSTREAM_PEER_URI_SAN,
//   DOWNSTREAM_LOCAL_URI_SAN, DOWNSTREAM_TLS_VERSION, CONNECTION_ID, FILTER_CHAIN_NAME, UPSTREAM_REQUEST_ATTEMPT_COUNT.
// UPSTREAM_CLUSTER prints the same as UPSTREAM_CLUSTER_RAW: Envoy's differs only by a cluster's alt_stat_name
// (its observability name), and Skiff does not accept alt_stat_name on a cluster.
//
// Bytes: a line is a byte string (one char per byte, 0-255): write it with LOG_LINE_ENCODING. Header values are
// taken as the codec gives them (latin1, so already bytes: `:N` truncates bytes, as Envoy); every other string
// (literal text of the format, cluster and route names, SNI, SANs, details) is a JS string, written as UTF-8.

import type { Json, JsonObject } from '../../xds/decode.js';
import {
  headerOp,
  jsonEscape,
  jsonNumber,
  OPERATORS,
  type Op,
  type Piece,
  REQUEST,
  toBytes,
  verifySyntax,
} from './operators.js';

/** What one access log line can say about a stream (HTTP) or a connection (TCP, listener). Absent → undefined. */
export interface LogContext {
  startTime: number; // ms since epoch
  durationMs: number | undefined;
  /** Lower-case name; pseudo-headers :method :path :authority :scheme. First value when repeated; latin1. */
  requestHeader(name: string): string | undefined;
  responseHeader(name: string): string | undefined;
  responseTrailer(name: string): string | undefined;
  protocol: string | undefined; // 'HTTP/1.1', 'HTTP/2', …
  responseCode: number; // 0 when none
  responseFlags: readonly string[]; // short flags in the order they were set
  responseCodeDetails: string | undefined;
  connectionTerminationDetails: string | undefined;
  upstreamTransportFailureReason: string | undefined;
  bytesReceived: number;
  bytesSent: number;
  /** Addresses as Envoy prints them: `10.0.0.1:80`, `[::1]:80`. */
  upstreamHost: string | undefined;
  upstreamCluster: string | undefined;
  upstreamLocalAddress: string | undefined;
  downstreamLocalAddress: string | undefined;
  downstreamRemoteAddress: string | undefined;
  downstreamDirectRemoteAddress: string | undefined;
  requestedServerName: string | undefined;
  routeName: string | undefined;
  downstreamPeerUriSan: string | undefined; // URI SANs joined by ','
  upstreamPeerUriSan: string | undefined;
  downstreamLocalUriSan: string | undefined;
  downstreamTlsVersion: string | undefined;
  connectionId: number;
  filterChainName: string | undefined;
  upstreamRequestAttemptCount: number;
}

export type LogFormatSpec =
  | { kind: 'text'; format: string; omitEmptyValues: boolean }
  | { kind: 'json'; fields: JsonObject /* the json_format Struct */; omitEmptyValues: boolean };

/** Envoy's default format (used when a logger has none), E source/common/formatter/http_formatter_context.cc:12-25. */
export const DEFAULT_ACCESS_LOG_FORMAT =
  '[%START_TIME%] "%REQUEST_HEADER(:METHOD)% %REQUEST_HEADER(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ' +
  '%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ' +
  '%RESPONSE_HEADER(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQUEST_HEADER(X-FORWARDED-FOR)%" ' +
  '"%REQUEST_HEADER(USER-AGENT)%" "%REQUEST_HEADER(X-REQUEST-ID)%" "%REQUEST_HEADER(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';

// Istio's default formats are the control plane's to generate; the proxy's tests and docs use them too.
export { ISTIO_ACCESS_LOG_FORMAT, ISTIO_ACCESS_LOG_JSON_FORMAT } from '../../xds/generate/access-log.js';

export { jsonEscape, jsonNumber, SUPPORTED_OPERATORS } from './operators.js';

/** How to write a formatted line: it is a byte string (see the header). */
export const LOG_LINE_ENCODING = 'latin1';

/** The whole line: JSON gets its newline; text exactly as substituted. */
export interface CompiledFormat {
  format(ctx: LogContext): string;
}

// ---- the parser -------------------------------------------------------------------------------------------------

const UINT64_MAX = 18_446_744_073_709_551_615n;
const isCommandChar = (c: number): boolean =>
  (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f;

interface Command {
  command: string;
  arg: string;
  length: number | undefined;
  end: number;
}

// `:N%` or `%` at k. N must fit a size_t, as RE2 parses it.
function matchTail(f: string, k: number): { length: number | undefined; end: number } | undefined {
  if (f[k] === '%') return { length: undefined, end: k + 1 };
  if (f[k] !== ':') return undefined;
  let d = k + 1;
  while (d < f.length && f.charCodeAt(d) >= 0x30 && f.charCodeAt(d) <= 0x39) d++;
  if (d === k + 1 || f[d] !== '%') return undefined;
  const digits = f.slice(k + 1, d);
  if (BigInt(digits) > UINT64_MAX) return undefined;
  return { length: Number(digits), end: d + 1 };
}

/**
 * Envoy's `^%([A-Z0-9_]+)(?:\((.*?)\))?(?::([0-9]+))?%` at `pos` (substitution_formatter.cc:6-55): the argument is
 * the shortest text up to a `)` that the rest of the operator can follow, so it may contain `)` and `%` but never
 * a newline (RE2's `.`).
 */
function matchCommand(f: string, pos: number): Command | undefined {
  let i = pos + 1;
  while (i < f.length && isCommandChar(f.charCodeAt(i))) i++;
  if (i === pos + 1) return undefined;
  const command = f.slice(pos + 1, i);
  if (f[i] !== '(') {
    const tail = matchTail(f, i);
    return tail && { command, arg: '', ...tail };
  }
  for (let j = i + 1; j < f.length && f[j] !== '\n'; j++) {
    if (f[j] !== ')') continue;
    const tail = matchTail(f, j + 1);
    if (tail) return { command, arg: f.slice(i + 1, j), ...tail };
  }
  return undefined;
}

interface Formatters {
  reqWithoutQuery?: boolean;
}

/** SubstitutionFormatParser::parse (substitution_formatter.cc:275-354): pieces, or Envoy's message for the first error. */
function parse(format: string, formatters: Formatters): Piece[] | string {
  const f = toBytes(format);
  const pieces: Piece[] = [];
  let literal = '';
  let pos = 0;
  while (pos < f.length) {
    const percent = f.indexOf('%', pos);
    if (percent === -1) {
      literal += f.slice(pos);
      break;
    }
    literal += f.slice(pos, percent);
    pos = percent;
    if (f[pos + 1] === '%') {
      literal += '%';
      pos += 2;
      continue;
    }
    if (literal !== '') pieces.push(literal);
    literal = '';
    const m = matchCommand(f, pos);
    if (!m) return `Incorrect configuration: ${format}. Couldn't find valid command at position ${pos}`;
    let op: Op | string;
    // Extension formatters first, then the built-ins; REQ_WITHOUT_QUERY checks no syntax flags (req_without_query.cc:69-77).
    if (formatters.reqWithoutQuery && m.command === 'REQ_WITHOUT_QUERY')
      op = headerOp(REQUEST, m.arg, m.length, true);
    else {
      const def = OPERATORS.get(m.command);
      if (!def) return `Not supported field in StreamInfo: ${m.command}`;
      op = verifySyntax(def.syntax, m.command, m.arg, m.length) ?? def.create(m.arg, m.length);
    }
    if (typeof op === 'string') return op;
    pieces.push(op);
    pos = m.end;
  }
  if (literal !== '' || f === '') pieces.push(literal);
  return pieces;
}

// ---- text and JSON ----------------------------------------------------------------------------------------------

/** FormatterImpl::format (substitution_formatter.cc:366-383): absent → `-`, or nothing with omit_empty_values. */
function textFormat(pieces: Piece[], omitEmptyValues: boolean): CompiledFormat {
  const absent = omitEmptyValues ? '' : '-';
  return {
    format(ctx) {
      let out = '';
      for (const piece of pieces) {
        if (typeof piece === 'string') out += piece;
        else {
          const v = piece.text(ctx);
          out += v === undefined ? absent : v;
        }
      }
      return out;
    },
  };
}

type JsonPart = string | ((ctx: LogContext) => string);

/**
 * JsonFormatBuilder + JsonFormatterImpl (substitution_formatter.cc:185-273, :385-449): keys sorted at every level,
 * literals serialized once; a string with `%` is a template — exactly one operator keeps its type (absent → null,
 * even with omit_empty_values), anything else is a JSON string of its pieces, each escaped on its own.
 */
function jsonFormat(fields: JsonObject, omitEmptyValues: boolean, formatters: Formatters, errors: string[]) {
  const absent = omitEmptyValues ? '' : '-';
  const parts: JsonPart[] = [];
  let raw = '';
  const template = (value: string): void => {
    const pieces = parse(value, formatters);
    if (typeof pieces === 'string') {
      errors.push(pieces);
      return;
    }
    const [first] = pieces;
    if (pieces.length === 1 && typeof first === 'string') {
      raw += `"${jsonEscape(first)}"`;
      return;
    }
    parts.push(raw);
    raw = '';
    if (pieces.length === 1 && first !== undefined && typeof first !== 'string') {
      parts.push(first.json);
      return;
    }
    const escaped = pieces.map((p) => (typeof p === 'string' ? jsonEscape(p) : p));
    parts.push((ctx) => {
      let out = '"';
      for (const piece of escaped) {
        if (typeof piece === 'string') out += piece;
        else {
          const v = piece.text(ctx);
          out += v === undefined ? absent : jsonEscape(v);
        }
      }
      return `${out}"`;
    });
  };
  const walk = (value: Json): void => {
    if (value === null || value === undefined) raw += 'null';
    else if (typeof value === 'number') raw += jsonNumber(value);
    else if (typeof value === 'boolean') raw += value ? 'true' : 'false';
    else if (typeof value === 'string') {
      if (value.includes('%')) template(value);
      else raw += `"${jsonEscape(toBytes(value))}"`;
    } else if (Array.isArray(value)) {
      raw += '[';
      value.forEach((item, i) => {
        if (i > 0) raw += ',';
        walk(item);
      });
      raw += ']';
    } else {
      const keys = Object.keys(value)
        .map((key) => [toBytes(key), key] as const)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      raw += '{';
      keys.forEach(([bytes, key], i) => {
        raw += `${i > 0 ? ',' : ''}"${jsonEscape(bytes)}":`;
        walk(value[key] as Json);
      });
      raw += '}';
    }
  };
  walk(fields);
  parts.push(`${raw}\n`);
  const live = parts.filter((p) => p !== '');
  return {
    format(ctx: LogContext): string {
      let out = '';
      for (const part of live) out += typeof part === 'string' ? part : part(ctx);
      return out;
    },
  };
}

const NOTHING: CompiledFormat = { format: () => '' };

/**
 * Compiles a log format once. `errors` holds Envoy's messages (one per format string: Envoy stops at the first
 * error of a string; a JSON format reports each of its templates); with errors the logger must be refused, and
 * `format` then returns ''. `formatters.reqWithoutQuery` is `envoy.formatter.req_without_query` in `formatters`.
 */
export function compileFormat(
  spec: LogFormatSpec,
  formatters: Formatters = {},
): { format: CompiledFormat; errors: string[] } {
  const errors: string[] = [];
  let format: CompiledFormat = NOTHING;
  if (spec.kind === 'text') {
    const pieces = parse(spec.format, formatters);
    if (typeof pieces === 'string') errors.push(pieces);
    else format = textFormat(pieces, spec.omitEmptyValues);
  } else if (spec.kind === 'json') {
    format = jsonFormat(spec.fields, spec.omitEmptyValues, formatters, errors);
  } else {
    errors.push(`unknown log format kind ${JSON.stringify((spec as { kind: unknown }).kind)}`);
  }
  return { format: errors.length > 0 ? NOTHING : format, errors };
}
