// What the server side of Envoy's HTTP/1 codec does with a request head once it is parsed (http1-head.ts), before
// the connection manager sees it: the target becomes :path and, in absolute form, :authority (replacing Host);
// HTTP/1.0 — any version but 1.1, or none — is refused with 426 Upgrade Required unless accept_http_10, and then
// may be given a Host. Pure: h1-server.ts applies it, test/proxy/filters/http/http1-target.test.ts tables it.
//
// Read from Envoy 1.37.0-dev (agrawroh/envoy @ 321a098d81, an exact mirror of upstream main):
// - source/common/http/http1/settings.cc:17-20 parseHttp1Settings: `allow_absolute_url` (a BoolValue) defaults
//   to true, `accept_http_10` to false, `default_host_for_http_10` to "" (none). The HCM's codec sets
//   `validate_scheme` to `xff_num_trusted_hops == 0 && use_remote_address`
//   (source/extensions/filters/network/http_connection_manager/config.cc:378-381).
// - source/common/http/http1/codec_impl.cc:1115-1178 ServerConnectionImpl::handlePath: a target starting with
//   `/` (or `*` for OPTIONS) is the path as sent. Otherwise, unless allow_absolute_url is off (then the target is
//   the path as sent: the connection manager answers 404, below), the target is parsed as a URL
//   (Utility::Url::initialize, source/common/http/utility.cc:399-441, over http_parser_parse_url in
//   bazel/external/http_parser/http_parser.c, built strict); one it cannot parse → 400 `http1.invalid_url`.
//   Host is then set to the URL's host[:port] whatever Host the request had (RFC 9112 §3.2.2), :scheme to the
//   URL's scheme lower-cased — not http or https → 400 `http1.invalid_scheme`; https on a plaintext connection
//   with validate_scheme → 403 `http1.https_url_on_plaintext_connection` — and :path to the URL's path and query
//   (`/` when it has none). CONNECT's `host:port` target is always parsed that way (port required, no userinfo).
// - codec_impl.cc:1180-1199 checkProtocolVersion, after handlePath (:1230-1234): HTTP/1.0 without
//   accept_http_10 → 426 `low_version` (StreamInfo::ResponseCodeDetails LowVersion, envoy/stream_info/
//   stream_info.h:171); with it, a request without Host gets `default_host_for_http_10` when that is set.
// - Every refusal is sendProtocolError (codec_impl.cc:1376-1392): a local reply with the code's reason phrase as
//   its body (`Upgrade Required`), then a codec protocol error: `downstream_cx_protocol_error` and the
//   connection closed after the reply (conn_manager_impl.cc:537-540, :473-481). The 426 status line says
//   HTTP/1.1: only an accepted HTTP/1.0 request is answered in HTTP/1.0 (codec_impl.cc:417-421).
// What the connection manager then does with a request without Host (400 `missing_host_header`) or a path not
// starting with `/` (404 `absolute_path_rejected`) is in hcm.ts.

import { isIP } from 'node:net';
import type { HeaderField, RequestHead, RequestOptions } from './http1-head.js';

/** How the server side of the codec treats requests: Envoy's Http1ProtocolOptions on the connection manager. */
export interface ServerRequestOptions extends RequestOptions {
  /** `accept_http_10`: HTTP/1.0 (any version but 1.1, or none) is served, else answered 426. */
  readonly acceptHttp10: boolean;
  /** `default_host_for_http_10`: the Host of an accepted HTTP/1.0 request that has none ('' : none). */
  readonly defaultHostForHttp10: string;
  /** `allow_absolute_url`: an absolute-form target gives Host and the path; else it is the path as sent. */
  readonly allowAbsoluteUrl: boolean;
  /** `https://` targets are refused on plaintext connections (`use_remote_address`, no trusted XFF hops). */
  readonly validateScheme: boolean;
}

/** Envoy's defaults (settings.cc parseHttp1Settings). */
export const DEFAULT_SERVER_REQUEST_OPTIONS: ServerRequestOptions = {
  allowCustomMethods: false,
  acceptHttp10: false,
  defaultHostForHttp10: '',
  allowAbsoluteUrl: true,
  validateScheme: false,
};

/** A request target as http_parser and Envoy's Utility::Url read it. */
export interface ParsedUrl {
  /** As sent (Envoy lower-cases it for :scheme); '' for CONNECT. */
  scheme: string;
  /** host[:port] as sent, without userinfo; an IPv6 host in its brackets. */
  hostAndPort: string;
  /** From the first `/` or `?` after the host to the end (fragment included); `/` when empty; '' for CONNECT. */
  pathAndQuery: string;
}

const isAlpha = (c: number) => (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isAlnum = (c: number) => isAlpha(c) || isDigit(c);
const isHex = (c: number) => isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
/** http_parser IS_SCHEMA_CHAR. */
const isSchemeChar = (c: number) => isAlnum(c) || c === 0x2e || c === 0x2d || c === 0x2b;
/** http_parser IS_USERINFO_CHAR: alphanum, mark (`-_.!~*'()`), `%;:&=+$,`. */
const isUserinfoChar = (c: number) => isAlnum(c) || "-_.!~*'()%;:&=+$,".includes(String.fromCharCode(c));
/** http_parser IS_HOST_CHAR in strict mode (Envoy's default build): no `_`. */
const isHostChar = (c: number) => isAlnum(c) || c === 0x2e || c === 0x2d;
/** http_parser IS_URL_CHAR in strict mode, with `?` and `#` (which only move between path, query, fragment). */
const isUrlChar = (c: number) => c >= 0x21 && c <= 0x7e;

const H_USERINFO_START = 0;
const H_USERINFO = 1;
const H_HOST_START = 2;
const H_HOST = 3;
const H_V6_START = 4;
const H_V6 = 5;
const H_V6_END = 6;
const H_ZONE_START = 7;
const H_ZONE = 8;
const H_PORT_START = 9;
const H_PORT = 10;

/**
 * The authority part of a URL (`[userinfo@]host[:port]`) as http_parser's http_parse_host reads it: host, port
 * and whether there was userinfo, or undefined when it does not parse.
 */
function parseHost(
  s: string,
  foundAt: boolean,
): { host: string; port: string; userinfo: boolean; ipv6: boolean } | undefined {
  let state = foundAt ? H_USERINFO_START : H_HOST_START;
  let hostStart = -1;
  let hostEnd = -1;
  let portStart = -1;
  let userinfo = false;
  let ipv6 = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let next = -1;
    switch (state) {
      case H_USERINFO_START:
      case H_USERINFO:
        if (c === 0x40) next = H_HOST_START;
        else if (isUserinfoChar(c)) next = H_USERINFO;
        break;
      case H_HOST_START:
        if (c === 0x5b) next = H_V6_START;
        else if (isHostChar(c)) next = H_HOST;
        break;
      case H_HOST:
      case H_V6_END:
        if (state === H_HOST && isHostChar(c)) next = H_HOST;
        else if (c === 0x3a) next = H_PORT_START;
        break;
      case H_V6_START:
      case H_V6:
        if (state === H_V6 && c === 0x5d) next = H_V6_END;
        else if (isHex(c) || c === 0x3a || c === 0x2e) next = H_V6;
        else if (state === H_V6 && c === 0x25) next = H_ZONE_START;
        break;
      case H_ZONE_START:
      case H_ZONE:
        if (state === H_ZONE && c === 0x5d) next = H_V6_END;
        // RFC 6874 ZoneID: unreserved or pct-encoded.
        else if (isAlnum(c) || c === 0x25 || c === 0x2e || c === 0x2d || c === 0x5f || c === 0x7e)
          next = H_ZONE;
        break;
      case H_PORT_START:
      case H_PORT:
        if (isDigit(c)) next = H_PORT;
        break;
    }
    if (next === -1) return undefined;
    if ((next === H_HOST || next === H_V6) && next !== state) hostStart = i;
    if (next === H_HOST || next === H_V6 || next === H_ZONE_START || next === H_ZONE) hostEnd = i + 1;
    if (next === H_PORT && state !== H_PORT) portStart = i;
    if (next === H_USERINFO) userinfo = true;
    if (next === H_V6_START) ipv6 = true;
    state = next;
  }
  switch (state) {
    case H_HOST_START:
    case H_V6_START:
    case H_V6:
    case H_ZONE_START:
    case H_ZONE:
    case H_PORT_START:
    case H_USERINFO:
    case H_USERINFO_START:
      return undefined;
  }
  if (hostStart === -1) return undefined;
  const port = portStart === -1 ? '' : s.slice(portStart);
  // Ports have a max value of 2^16 - 1.
  if (port !== '' && Number(port) > 0xffff) return undefined;
  return { host: s.slice(hostStart, hostEnd), port, userinfo, ipv6 };
}

/**
 * Parses a request target as Envoy's Utility::Url::initialize does (http_parser_parse_url, strict): an absolute
 * URL `scheme://[userinfo@]host[:port][/path][?query][#fragment]`, or for CONNECT exactly `host:port`.
 * Undefined when it does not parse: Envoy's 400 `http1.invalid_url`.
 */
export function parseUrl(url: string, connect: boolean): ParsedUrl | undefined {
  const n = url.length;
  if (n === 0) return undefined;
  let i = 0;
  let scheme = '';
  if (!connect) {
    // `/…` and `*…` parse as a path alone: no scheme and no host, which Url::initialize refuses.
    if (!isAlpha(url.charCodeAt(0))) return undefined;
    i = 1;
    while (i < n && isSchemeChar(url.charCodeAt(i))) i++;
    if (!url.startsWith('://', i)) return undefined;
    scheme = url.slice(0, i);
    i += 3;
  }
  // The server part runs to the first `/` or `?`: userinfo characters, `[`, `]`, and `@` but never two in a row.
  const serverStart = i;
  let foundAt = false;
  let lastAt = false;
  for (; i < n; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x2f || c === 0x3f) break;
    if (c === 0x40) {
      if (lastAt) return undefined;
      foundAt = lastAt = true;
    } else if (isUserinfoChar(c) || c === 0x5b || c === 0x5d) lastAt = false;
    else return undefined;
  }
  // "host must be present if there is a schema"; CONNECT is host:port and nothing else.
  if (i === serverStart) return undefined;
  if (connect && i < n) return undefined;
  for (let j = i; j < n; j++) if (!isUrlChar(url.charCodeAt(j))) return undefined;
  const parsed = parseHost(url.slice(serverStart, i), foundAt);
  if (parsed === undefined) return undefined;
  if (connect && (parsed.port === '' || parsed.userinfo)) return undefined;
  let hostAndPort = parsed.host;
  if (parsed.ipv6) {
    // An IPv6 host keeps its brackets, and must be an IP address (Url::initialize: maybeAdjustForIpv6 and
    // parseAuthority). A zone (`%25eth0`) is refused: Envoy leaves it to getaddrinfo() and the host's interfaces.
    if (parsed.host.includes('%') || isIP(parsed.host) === 0) return undefined;
    hostAndPort = `[${parsed.host}]`;
  }
  if (parsed.port !== '') hostAndPort += `:${parsed.port}`;
  const rest = url.slice(i);
  return { scheme, hostAndPort, pathAndQuery: connect ? '' : rest === '' ? '/' : rest };
}

/** HeaderUtility::authorityIsValid (header_utility.cc:156-236): the bytes a Host value may have. */
export function isValidAuthority(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (!(isAlnum(c) || "!$%&'()*+,-.:;=@[]_~".includes(value[i] as string))) return false;
  }
  return true;
}

/** What the server codec makes of a parsed request head. */
export type ServerHeadDecision =
  | {
      kind: 'request';
      /** The request's path (:path): the target, or an absolute URL's path and query. */
      path: string;
      /** The Host the request now has (undefined: the one it came with, or none). */
      host: string | undefined;
      /** :scheme from an absolute-form target (lower-cased), else undefined. */
      scheme: string | undefined;
    }
  | {
      kind: 'refuse';
      /** The local reply's status; the connection closes after it (a codec protocol error). */
      status: 400 | 403 | 426;
      /** Envoy's response code details. */
      details: string;
    };

function hasHost(headers: readonly HeaderField[]): boolean {
  for (const [name] of headers) if (name === 'host') return true;
  return false;
}

/**
 * Envoy's handlePath then checkProtocolVersion for a request head: its path and Host, or the refusal. `tls`: the
 * connection is TLS (for validate_scheme).
 */
export function serverHead(
  head: Pick<RequestHead, 'method' | 'target' | 'version' | 'headers'>,
  options: ServerRequestOptions,
  tls: boolean,
): ServerHeadDecision {
  const { method, target } = head;
  const connect = method === 'CONNECT';
  let path = target;
  let host: string | undefined;
  let scheme: string | undefined;
  const first = target.charCodeAt(0);
  const originForm = !connect && (first === 0x2f || (first === 0x2a && method === 'OPTIONS'));
  if (!originForm && (connect || options.allowAbsoluteUrl)) {
    const url = parseUrl(target, connect);
    if (url === undefined) return { kind: 'refuse', status: 400, details: 'http1.invalid_url' };
    host = url.hostAndPort;
    if (!connect) {
      scheme = url.scheme.toLowerCase();
      if (scheme !== 'http' && scheme !== 'https')
        return { kind: 'refuse', status: 400, details: 'http1.invalid_scheme' };
      if (options.validateScheme && scheme === 'https' && !tls)
        return { kind: 'refuse', status: 403, details: 'http1.https_url_on_plaintext_connection' };
      path = url.pathAndQuery;
    }
  }
  if (head.version === '1.0') {
    if (!options.acceptHttp10) return { kind: 'refuse', status: 426, details: 'low_version' };
    if (host === undefined && options.defaultHostForHttp10 !== '' && !hasHost(head.headers))
      host = options.defaultHostForHttp10;
  }
  return { kind: 'request', path, host, scheme };
}
