// What each access log operator prints (Envoy's command parsers and formatter providers) and how a value becomes
// bytes and JSON, for the format compiler (format.ts). Pure; every operator is built once at config time.
// Sources (E = envoy @ 321a098d81): source/common/formatter/stream_info_formatter.cc, http_specific_formatter.cc,
// substitution_format_utility.cc, source/common/json/json_sanitizer.cc, source/common/buffer/buffer_util.h.

import { isUtf8 } from 'node:buffer';
import type { LogContext } from './format.js';
import { compileTimeFormat } from './start-time.js';

// ---- bytes and JSON ---------------------------------------------------------------------------------------------

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}
/** A JS string as its UTF-8 bytes, one char per byte. */
export function toBytes(s: string): string {
  return isAscii(s) ? s : Buffer.from(s, 'utf8').toString('latin1');
}
/** Bytes back to a JS string, for messages. */
function fromBytes(s: string): string {
  return isAscii(s) ? s : Buffer.from(s, 'latin1').toString('utf8');
}

const needsEscape = (c: number): boolean => c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x7f;

/**
 * A byte string escaped for the inside of a JSON string as Envoy's Json::sanitize does: untouched unless it has a
 * control char, `"`, `\` or a byte ≥ 0x7f; valid UTF-8 then gets JSON's escapes (bytes ≥ 0x7f kept), invalid UTF-8
 * gets `\u00XX` for each such byte (E json_sanitizer.cc:51-106).
 */
export function jsonEscape(s: string): string {
  let i = 0;
  while (i < s.length && !needsEscape(s.charCodeAt(i))) i++;
  if (i === s.length) return s;
  if (isUtf8(Buffer.from(s, 'latin1'))) return JSON.stringify(s).slice(1, -1);
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += needsEscape(c) ? `\\u${c.toString(16).padStart(4, '0')}` : s[i];
  }
  return out;
}

/**
 * A number as Envoy writes it into JSON (Buffer::Util::serializeDouble, std::to_chars): the shortest digits in
 * fixed or scientific notation, whichever is shorter, fixed on a tie — so 1000000 is written `1e+06`.
 */
export function jsonNumber(n: number): string {
  if (Number.isInteger(n) && n >= 0 && n < 100_000) return String(n);
  if (Number.isNaN(n)) return 'null';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  const [mantissa = '', exponent = '0'] = n.toExponential().split('e');
  const e = Number(exponent);
  const sci = `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  let fixed: string;
  if (Number.isInteger(n)) fixed = BigInt(n).toString();
  else {
    const digits = mantissa.replace('-', '').replace('.', '');
    fixed = e >= 0 ? `${digits.slice(0, e + 1)}.${digits.slice(e + 1)}` : `0.${'0'.repeat(-e - 1)}${digits}`;
    if (n < 0) fixed = `-${fixed}`;
  }
  return sci.length < fixed.length ? sci : fixed;
}

// ---- operators --------------------------------------------------------------------------------------------------

/** One compiled operator: its text (a byte string, undefined when absent) and its typed JSON value. */
export interface Op {
  text(ctx: LogContext): string | undefined;
  json(ctx: LogContext): string;
}
export type Piece = string | Op; // a string is literal bytes

function stringOp(get: (ctx: LogContext) => string | undefined): Op {
  return {
    text: get,
    json: (ctx) => {
      const v = get(ctx);
      return v === undefined ? 'null' : `"${jsonEscape(v)}"`;
    },
  };
}
function numberOp(get: (ctx: LogContext) => number): Op {
  return { text: (ctx) => String(get(ctx)), json: (ctx) => jsonNumber(get(ctx)) };
}
/** A JS string as bytes, absent when undefined or empty (most StreamInfo strings in Envoy). */
const nonEmpty = (v: string | undefined): string | undefined =>
  v === undefined || v === '' ? undefined : toBytes(v);

// `ip:port` / `[v6]:port` → [host, port]; undefined for anything else (Envoy's non-IP addresses, e.g. a pipe).
function splitAddress(a: string): [string, string] | undefined {
  const colon = a.lastIndexOf(':');
  if (colon <= 0 || colon === a.length - 1) return undefined;
  for (let i = colon + 1; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  const host = a.slice(0, colon);
  return [host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host, a.slice(colon + 1)];
}

/** X_ADDRESS, X_ADDRESS_WITHOUT_PORT, X_PORT over one address (stream_info_formatter.cc:697-766). */
function addressOps(name: string, get: (ctx: LogContext) => string | undefined): [string, Op][] {
  const port = name.endsWith('_ADDRESS') ? `${name.slice(0, -'_ADDRESS'.length)}_PORT` : `${name}_PORT`;
  return [
    [name, stringOp((ctx) => nonEmpty(get(ctx)))],
    [
      `${name}_WITHOUT_PORT`,
      stringOp((ctx) => {
        const a = nonEmpty(get(ctx));
        return a === undefined ? undefined : (splitAddress(a)?.[0] ?? a);
      }),
    ],
    [
      port,
      {
        text: (ctx) => {
          const a = nonEmpty(get(ctx));
          return a === undefined ? undefined : (splitAddress(a)?.[1] ?? '');
        },
        json: (ctx) => {
          const p = splitAddress(nonEmpty(get(ctx)) ?? '')?.[1];
          return p === undefined ? 'null' : jsonNumber(Number(p));
        },
      },
    ],
  ];
}

/** Whitespace → `_` (StringUtil::replaceAllEmptySpace: space, \t, \f, \v, \n, \r). */
function underscoreWhitespace(s: string): string {
  const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
  let i = 0;
  while (i < s.length && !isSpace(s.charCodeAt(i))) i++;
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) out += isSpace(s.charCodeAt(i)) ? '_' : s[i];
  return out;
}

/** SNI as Envoy logs it: bytes other than alnum `.-_` become `_`, and then `invalid:` goes in front (utility.cc:589-603). */
function sanitizeHostname(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    out += alnum || c === 0x2e || c === 0x2d || c === 0x5f ? s[i] : '_';
  }
  return out === s ? out : `invalid:${out}`;
}

// RFC 9110 tchar, as Envoy's kGenericHeaderNameCharTable (source/common/http/character_set_validation.h).
const isTchar = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) ||
  (c >= 0x41 && c <= 0x5a) ||
  (c >= 0x61 && c <= 0x7a) ||
  "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c));
function headerNameIsValid(name: string): boolean {
  const bare = name.startsWith(':') ? name.slice(1) : name;
  if (name.startsWith(':') && bare === '') return false;
  for (let i = 0; i < bare.length; i++) if (!isTchar(bare.charCodeAt(i))) return false;
  return true;
}

type HeaderGetter = (ctx: LogContext, name: string) => string | undefined;
export const REQUEST: HeaderGetter = (ctx, name) => ctx.requestHeader(name);
const RESPONSE: HeaderGetter = (ctx, name) => ctx.responseHeader(name);
const TRAILER: HeaderGetter = (ctx, name) => ctx.responseTrailer(name);

/** REQ(X?Y):N and friends (substitution_format_utility.cc:95-114, http_specific_formatter.cc:41-82). */
export function headerOp(
  get: HeaderGetter,
  arg: string,
  length: number | undefined,
  stripQuery = false,
): Op | string {
  const names = arg.split('?');
  if (names.length > 2) return `More than 1 alternative header specified in token: ${fromBytes(arg)}`;
  const main = (names[0] ?? '').toLowerCase();
  const alternative = (names[1] ?? '').toLowerCase();
  if (!headerNameIsValid(main) || !headerNameIsValid(alternative))
    return 'Invalid header configuration. Format string contains invalid characters.';
  return stringOp((ctx) => {
    let v = main === '' ? undefined : get(ctx, main);
    if (v === undefined && alternative !== '') v = get(ctx, alternative);
    if (v === undefined) return undefined;
    if (stripQuery) {
      const query = v.indexOf('?');
      if (query !== -1) v = v.slice(0, query);
    }
    return length !== undefined && v.length > length ? v.slice(0, length) : v;
  });
}

// CommandSyntaxChecker flags (substitution_format_utility.cc:16-35).
const COMMAND_ONLY = 0;
const PARAMS_OPTIONAL = 1;
const PARAMS_REQUIRED = 2;
const LENGTH_ALLOWED = 4;

interface OperatorDef {
  syntax: number;
  create(arg: string, length: number | undefined): Op | string;
}
const fixed = (op: Op): OperatorDef => ({ syntax: COMMAND_ONLY, create: () => op });
const header = (get: HeaderGetter): OperatorDef => ({
  syntax: PARAMS_REQUIRED | LENGTH_ALLOWED,
  create: (arg, length) => headerOp(get, arg, length),
});

export const OPERATORS = new Map<string, OperatorDef>([
  [
    'START_TIME',
    {
      syntax: PARAMS_OPTIONAL,
      create: (arg) => {
        const compiled = compileTimeFormat(arg);
        if ('error' in compiled) return fromBytes(compiled.error);
        const time = compiled.format;
        return stringOp((ctx) => time(ctx.startTime));
      },
    },
  ],
  ['REQ', header(REQUEST)],
  ['REQUEST_HEADER', header(REQUEST)],
  ['RESP', header(RESPONSE)],
  ['RESPONSE_HEADER', header(RESPONSE)],
  ['TRAILER', header(TRAILER)],
  ['RESPONSE_TRAILER', header(TRAILER)],
  ['PROTOCOL', fixed(stringOp((ctx) => nonEmpty(ctx.protocol)))],
  ['RESPONSE_CODE', fixed(numberOp((ctx) => ctx.responseCode))],
  [
    'RESPONSE_FLAGS',
    fixed(stringOp((ctx) => (ctx.responseFlags.length ? ctx.responseFlags.join(',') : '-'))),
  ],
  [
    'RESPONSE_CODE_DETAILS',
    {
      syntax: PARAMS_OPTIONAL,
      create: (arg) => {
        const keepWhitespace = arg === 'ALLOW_WHITESPACES';
        return stringOp((ctx) => {
          const details = ctx.responseCodeDetails;
          if (details === undefined) return undefined;
          return keepWhitespace ? toBytes(details) : underscoreWhitespace(toBytes(details));
        });
      },
    },
  ],
  [
    'CONNECTION_TERMINATION_DETAILS',
    fixed(
      stringOp((ctx) =>
        ctx.connectionTerminationDetails === undefined
          ? undefined
          : toBytes(ctx.connectionTerminationDetails),
      ),
    ),
  ],
  [
    'UPSTREAM_TRANSPORT_FAILURE_REASON',
    fixed(stringOp((ctx) => nonEmpty(ctx.upstreamTransportFailureReason)?.replaceAll(' ', '_'))),
  ],
  ['BYTES_RECEIVED', fixed(numberOp((ctx) => ctx.bytesReceived))],
  ['BYTES_SENT', fixed(numberOp((ctx) => ctx.bytesSent))],
  [
    'DURATION',
    fixed({
      text: (ctx) => (ctx.durationMs === undefined ? undefined : String(Math.trunc(ctx.durationMs))),
      json: (ctx) => (ctx.durationMs === undefined ? 'null' : jsonNumber(Math.trunc(ctx.durationMs))),
    }),
  ],
  ['UPSTREAM_HOST', fixed(stringOp((ctx) => nonEmpty(ctx.upstreamHost)))],
  ['UPSTREAM_CLUSTER', fixed(stringOp((ctx) => nonEmpty(ctx.upstreamCluster)))],
  ['UPSTREAM_CLUSTER_RAW', fixed(stringOp((ctx) => nonEmpty(ctx.upstreamCluster)))],
  ...[
    ...addressOps('UPSTREAM_LOCAL_ADDRESS', (ctx) => ctx.upstreamLocalAddress),
    ...addressOps('DOWNSTREAM_LOCAL_ADDRESS', (ctx) => ctx.downstreamLocalAddress),
    ...addressOps('DOWNSTREAM_REMOTE_ADDRESS', (ctx) => ctx.downstreamRemoteAddress),
    ...addressOps('DOWNSTREAM_DIRECT_REMOTE_ADDRESS', (ctx) => ctx.downstreamDirectRemoteAddress),
  ].map(([name, op]): [string, OperatorDef] => [name, fixed(op)]),
  [
    'REQUESTED_SERVER_NAME',
    fixed(
      stringOp((ctx) =>
        ctx.requestedServerName ? sanitizeHostname(toBytes(ctx.requestedServerName)) : undefined,
      ),
    ),
  ],
  ['ROUTE_NAME', fixed(stringOp((ctx) => nonEmpty(ctx.routeName)))],
  ['DOWNSTREAM_PEER_URI_SAN', fixed(stringOp((ctx) => nonEmpty(ctx.downstreamPeerUriSan)))],
  ['UPSTREAM_PEER_URI_SAN', fixed(stringOp((ctx) => nonEmpty(ctx.upstreamPeerUriSan)))],
  ['DOWNSTREAM_LOCAL_URI_SAN', fixed(stringOp((ctx) => nonEmpty(ctx.downstreamLocalUriSan)))],
  ['DOWNSTREAM_TLS_VERSION', fixed(stringOp((ctx) => nonEmpty(ctx.downstreamTlsVersion)))],
  ['CONNECTION_ID', fixed(numberOp((ctx) => ctx.connectionId))],
  ['FILTER_CHAIN_NAME', fixed(stringOp((ctx) => nonEmpty(ctx.filterChainName)))],
  ['UPSTREAM_REQUEST_ATTEMPT_COUNT', fixed(numberOp((ctx) => ctx.upstreamRequestAttemptCount))],
]);

/** The operators Skiff implements, for docs and messages (REQ_WITHOUT_QUERY needs its formatter). */
export const SUPPORTED_OPERATORS: readonly string[] = [...OPERATORS.keys(), 'REQ_WITHOUT_QUERY'];

export function verifySyntax(
  syntax: number,
  command: string,
  arg: string,
  length: number | undefined,
): string | undefined {
  if (syntax === COMMAND_ONLY && (arg !== '' || length !== undefined))
    return `${command} does not take any parameters or length`;
  if (syntax & PARAMS_REQUIRED && arg === '') return `${command} requires parameters`;
  if (!(syntax & LENGTH_ALLOWED) && length !== undefined)
    return `${command} does not allow length to be specified.`;
  return undefined;
}
