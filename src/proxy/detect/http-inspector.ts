// Plain-text HTTP detection for the sidecar's `envoy.filters.listener.http_inspector`: does the connection start
// with an HTTP/2 prior-knowledge preface (h2c) or an HTTP/1.x request line, and which version. Pure; the listener
// accumulates what the client sent and asks again after every read. (Envoy runs it only when no transport
// protocol was detected or it is raw_buffer; that choice is the caller's.)
//
// It mirrors envoy source/extensions/filters/listener/http_inspector/http_inspector.cc (Filter::parseHttpHeader)
// with the request parser Envoy now uses by default, Http1::BalsaParser (runtime guard
// envoy.reloadable_features.http_inspector_use_balsa_parser, built with allow_custom_methods and trailers on;
// source/common/http/http1/balsa_parser.cc over quiche's BalsaFrame):
//
// 1. If the bytes so far are a prefix of "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (24 bytes): need more until all 24
//    are there, then h2c ("HTTP/2", announced to filter chains as ALPN "h2c"). Bytes after the preface are not
//    looked at.
// 2. Otherwise the first byte must not be CR or LF (the inspector's own check) nor any other byte <= 0x20
//    (BalsaFrame NO_REQUEST_LINE_IN_REQUEST): otherwise not HTTP.
// 3. Nothing else is judged until the first LF: need more. Only the bytes up to that LF (the request line) are
//    fed to the parser; headers are never inspected.
// 4. The request line, without its trailing CR/LF, splits on runs of bytes <= 0x20 into method, target and
//    version (everything after the target, trailing blanks dropped). BalsaParser then requires:
//    - method: one or more RFC 9110 token characters (custom methods allowed);
//    - target: non-empty; "/..." or "*..." with every further byte in 0x21..0x7e (http-parser's rule);
//      otherwise, except for CONNECT, a scheme (letter, then letters, digits, "+-.") and "://"; then a host of
//      letters, digits and "!$%&'()*+,-.:;=@[]_~" without "@@", and a path/query from the first "/" or "?" on,
//      again 0x21..0x7e;
//    - version: empty (an HTTP/0.9 request line) or exactly "HTTP/<digit>.<digit>".
//    Any failure: not HTTP.
// 5. The protocol is http/1.1 when the request line ends with "HTTP/1.1" (BalsaParser::isHttp11), else
//    http/1.0 ("Set other HTTP protocols to HTTP/1.0": HTTP/0.9, HTTP/1.0, even "HTTP/2.0" on a request line).
//
// Size: Envoy reads at most Config::MAX_INSPECT_SIZE (64 KiB). If the request line has not ended by then it
// counts `read_error` and closes the connection ("reached max buffer without determining HTTP version"). This
// function looks at the first MAX_HTTP_INSPECT_SIZE bytes only; `need-more` with that many bytes received
// means the caller must close, as Envoy does.
//
// (With the runtime guard off Envoy uses the legacy http-parser instead, which only knows its fixed list of
// methods and rejects an unknown one from its first bytes. Skiff follows the default.)

export type HttpInspectResult =
  | { kind: 'need-more' }
  | { kind: 'http'; protocol: 'http/1.0' | 'http/1.1' | 'h2c' }
  | { kind: 'not-http' };

/** Envoy's http_inspector Config::MAX_INSPECT_SIZE: still `need-more` at this size means close the connection. */
export const MAX_HTTP_INSPECT_SIZE = 64 * 1024;

const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const HTTP_VERSION_PREFIX = 'HTTP/';
const HTTP11 = 'HTTP/1.1';
/** RFC 9110 tchar: what Balsa accepts in a custom method (kValidCharacters). */
const TOKEN_CHARS = new Set("!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~");
const HOST_SPECIALS = new Set("!$%&'()*+,-.:;=@[]_~");

/** Decides whether `data` (every byte received so far on the connection) starts an HTTP connection. Never throws. */
export function inspectHttp(data: Buffer): HttpInspectResult {
  const bytes = data.length > MAX_HTTP_INSPECT_SIZE ? data.subarray(0, MAX_HTTP_INSPECT_SIZE) : data;
  const compared = Math.min(bytes.length, HTTP2_PREFACE.length);
  if (bytes.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared))) {
    return compared < HTTP2_PREFACE.length ? { kind: 'need-more' } : { kind: 'http', protocol: 'h2c' };
  }
  if ((bytes[0] as number) <= SPACE) return { kind: 'not-http' }; // CR, LF, or no request line at all
  const lineEnd = bytes.indexOf(LF);
  if (lineEnd < 0) return { kind: 'need-more' };
  return inspectRequestLine(trimLineEnd(bytes.subarray(0, lineEnd)).toString('latin1'));
}

/** BalsaFrame ParseHTTPFirstLine drops every trailing CR and LF. */
function trimLineEnd(line: Buffer): Buffer {
  let end = line.length;
  while (end > 0 && (line[end - 1] === CR || line[end - 1] === LF)) end--;
  return line.subarray(0, end);
}

interface RequestLine {
  method: string;
  target: string;
  version: string;
  /** The line from the method to its last non-blank byte (BalsaHeaders::first_line). */
  firstLine: string;
}

function inspectRequestLine(text: string): HttpInspectResult {
  const line = splitRequestLine(text);
  if (!validMethod(line.method)) return { kind: 'not-http' };
  if (!validTarget(line.target, line.method === 'CONNECT')) return { kind: 'not-http' };
  if (!validVersion(line.version)) return { kind: 'not-http' };
  return { kind: 'http', protocol: line.firstLine.endsWith(HTTP11) ? 'http/1.1' : 'http/1.0' };
}

function isBlank(text: string, i: number): boolean {
  return text.charCodeAt(i) <= SPACE;
}

/** Three "islands" separated by blanks (bytes <= 0x20); the third runs to the last non-blank byte. */
function splitRequestLine(text: string): RequestLine {
  let i = 0;
  const island = (): [number, number] => {
    while (i < text.length && isBlank(text, i)) i++;
    const start = i;
    while (i < text.length && !isBlank(text, i)) i++;
    return [start, i];
  };
  const [methodStart, methodEnd] = island();
  const [targetStart, targetEnd] = island();
  const [versionStart] = island();
  let lastEnd = text.length;
  while (lastEnd > i && isBlank(text, lastEnd - 1)) lastEnd--;
  const versionEnd = Math.max(lastEnd, versionStart);
  return {
    method: text.slice(methodStart, methodEnd),
    target: text.slice(targetStart, targetEnd),
    version: text.slice(versionStart, versionEnd),
    firstLine: text.slice(methodStart, Math.max(versionEnd, targetEnd)),
  };
}

function validMethod(method: string): boolean {
  return method.length > 0 && [...method].every((c) => TOKEN_CHARS.has(c));
}

function isAlpha(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

/** http-parser's path/query bytes: HT, FF or 0x21..0x7e. */
function validPathQuery(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!(c === 9 || c === 12 || (c >= 0x21 && c <= 0x7e))) return false;
  }
  return true;
}

/** BalsaParser isUrlValid (crafted to match http-parser). */
function validTarget(url: string, isConnect: boolean): boolean {
  if (url.length === 0) return false;
  if (url[0] === '/' || url[0] === '*') return validPathQuery(url.slice(1));
  let rest = url;
  if (!isConnect) {
    if (!isAlpha(url[0] as string)) return false;
    let i = 1;
    while (i < url.length && isSchemeChar(url[i] as string)) i++;
    rest = url.slice(i);
    if (!rest.startsWith('://')) return false;
    rest = rest.slice(3);
  }
  const pathStart = rest.search(/[/?]/);
  const host = pathStart < 0 ? rest : rest.slice(0, pathStart);
  const pathQuery = pathStart < 0 ? '' : rest.slice(pathStart);
  return [...host].every(isHostChar) && !host.includes('@@') && validPathQuery(pathQuery);
}

function isSchemeChar(c: string): boolean {
  return isAlpha(c) || isDigit(c) || c === '+' || c === '-' || c === '.';
}

function isHostChar(c: string): boolean {
  return isAlpha(c) || isDigit(c) || HOST_SPECIALS.has(c);
}

/** Empty (HTTP/0.9) or HTTP/<digit>.<digit> (BalsaParser isVersionValid). */
function validVersion(version: string): boolean {
  if (version === '') return true;
  if (!version.startsWith(HTTP_VERSION_PREFIX)) return false;
  const number = version.slice(HTTP_VERSION_PREFIX.length);
  return (
    number.length === 3 && isDigit(number[0] as string) && number[1] === '.' && isDigit(number[2] as string)
  );
}
