// HTTP/1.1 message heads and chunked bodies, pure (no sockets): what the lean HTTP/1.1 codecs (h1-server.ts
// downstream, upstream.ts's HTTP/1.1 pool) read off raw sockets instead of node:http (docs/performance.md).
//
// Strict in the way Envoy's HTTP/1 codec on llhttp (strict mode) is, since a relay that is more lenient than the
// server behind it is a request-smuggling hole (RFC 9112 §11.2):
// - request line `method SP target SP HTTP/1.x` with single spaces, checked byte by byte as it arrives
//   (`RequestLine`), so that garbage is refused at its first byte instead of waiting for a blank line: the
//   method one Envoy's codec knows (balsa_parser.cc isMethodValid; any token with allow_custom_methods), the
//   target in origin form (`/…`, `*`), absolute form (`scheme://host…`) or, for CONNECT, authority form, its
//   bytes visible ASCII only (llhttp's URL_CHAR, Envoy's isUrlValid: no CTL, SP, DEL or byte ≥ 0x80);
// - the version is `HTTP/` DIGIT `.` DIGIT, or none at all (HTTP/0.9's `GET /path` line, whose head ends with
//   it: no fields); anything else → 400 (balsa_parser.cc isVersionValid, HPE_INVALID_VERSION). HTTP/1.1 is
//   HTTP/1.1 and every other version, none included, is HTTP/1.0, as Envoy's codec takes it (balsa_parser.cc
//   isHttp11: the request line ends in `HTTP/1.1`; codec_impl.cc onHeadersCompleteImpl: "not necessarily true,
//   but it's good enough"). Whether HTTP/1.0 is served at all is the server's decision (http1-target.ts: 426
//   unless accept_http_10);
// - every line ends in CRLF: a bare LF or a bare CR → 400; obs-fold (a line starting with SP/HTAB) → 400;
// - field names are tokens, no whitespace before the colon; values are HTAB / SP / VCHAR / obs-text only;
// - Content-Length: exactly one field of 1*DIGIT, at most 2^53-1; anything else → 400. As llhttp (Envoy's H1
//   codec) refuses any second Content-Length, identical or not ("Duplicate Content-Length"), and any list, so
//   does this (RFC 9110 §8.6 would allow identical repeats; Envoy does not);
// - Content-Length and Transfer-Encoding together → 400 (Envoy codec_impl.cc "both 'Content-Length' and
//   'Transfer-Encoding' are set"); a Transfer-Encoding that is not exactly `chunked`, or one on CONNECT → 501
//   (Envoy: `error_code_ = Http::Code::NotImplemented`, "unsupported transfer encoding");
// - HTTP/1.1 without Host (unless its target is in absolute form, which names the host: http1-target.ts), or
//   with more than one Host → 400 (RFC 9112 §3.2);
// - more than `maxHeaders` fields → 431; request target + field names + values over `maxHeaderBytes` → 431
//   (Envoy `checkMaxHeadersSize` plus `getHeadersSize`, no CRLF/colon overhead).
// - `Upgrade: h2c` (with `Connection: upgrade`) is not an upgrade: its Upgrade and HTTP2-Settings fields and the
//   matching Connection tokens are removed and the request is served as HTTP/1.1 (Envoy codec_impl.cc,
//   "removing unsupported h2c upgrade headers");
// - CONNECT is an upgrade (Envoy: "codec entering upgrade mode for CONNECT request"): a Content-Length other
//   than 0 → 400 (a CONNECT body has no defined semantics), `Content-Length: 0` is removed.
// A response that breaks any of these is an upstream protocol error: status 502. Empty lines before a status line
// are skipped, as llhttp skips CR and LF before a message.

export interface HeadLimits {
  /** Envoy `max_request_headers_kb` × 1024: target + names + values, in bytes (Envoy default 60 KiB). */
  readonly maxHeaderBytes: number;
  /** Envoy `max_headers_count` (default 100). */
  readonly maxHeaders: number;
}

export const DEFAULT_HEAD_LIMITS: HeadLimits = { maxHeaderBytes: 60 * 1024, maxHeaders: 100 };

/** [lower-case name, value without leading/trailing OWS], in arrival order. */
export type HeaderField = [name: string, value: string];

export type RequestBody = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };
/** `close`: the body runs until the upstream closes the connection (RFC 9112 §6.3 rule 8). */
export type ResponseBody = RequestBody | { kind: 'close' };

export interface NeedMore {
  kind: 'need-more';
}

export interface HeadError {
  kind: 'error';
  /** 400/431/501 for requests (the status to answer with, then close); always 502 for responses. */
  status: 400 | 431 | 501 | 502;
  reason: string;
}

interface HeadCommon {
  kind: 'head';
  /** `1.0` for a request: any version but HTTP/1.1, or none (HTTP/0.9), as Envoy's Protocol::Http10. */
  version: '1.0' | '1.1';
  headers: HeaderField[];
  /** Offset in the buffer just after the blank line that ends the head. */
  end: number;
  /** Whether the connection may carry another message after this one. */
  keepAlive: boolean;
}

export interface RequestHead extends HeadCommon {
  method: string;
  target: string;
  /** The target holds a `#fragment` (the connection manager refuses it, as Envoy does). */
  fragment: boolean;
  body: RequestBody;
  /**
   * The Upgrade header's value when `Connection` nominates `upgrade` (HTTP/1.1 only, RFC 9110 §7.8; never
   * `h2c`, which is removed), else `CONNECT` for a CONNECT request: what follows the head is not HTTP/1.1.
   */
  upgrade: string | undefined;
  /** `Expect: 100-continue` on HTTP/1.1 (RFC 9110 §10.1.1: ignored on HTTP/1.0). */
  expectContinue: boolean;
}

/** How requests are read (Envoy's Http1ProtocolOptions). */
export interface RequestOptions {
  /** `allow_custom_methods`: any token is a method, not only those Envoy's codec knows. */
  readonly allowCustomMethods: boolean;
}

export const DEFAULT_REQUEST_OPTIONS: RequestOptions = { allowCustomMethods: false };

export interface ResponseHead extends HeadCommon {
  status: number;
  reason: string;
  body: ResponseBody;
  /** The Upgrade header's value on a 101. */
  upgrade: string | undefined;
}

export type RequestHeadResult = NeedMore | HeadError | RequestHead;
export type ResponseHeadResult = NeedMore | HeadError | ResponseHead;

const NEED_MORE: NeedMore = { kind: 'need-more' };
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const LFLF = Buffer.from('\n\n', 'latin1');
const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
/** Bytes a head may take on the wire beyond what the limit counts (request line, ": ", CRLFs, some OWS). */
const RAW_SLACK = 1024;
const RAW_PER_FIELD = 4;

/** tchar (RFC 9110 §5.6.2). */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
/** field-content bytes: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5). */
const VALUE = new Uint8Array(256);
VALUE[HTAB] = 1;
for (let c = 0x20; c <= 0x7e; c++) VALUE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) VALUE[c] = 1;
/**
 * Path and query bytes of a request target: visible ASCII (llhttp's URL_CHAR plus `?` and `#`; Envoy's
 * isUrlValid). CTL, SP, DEL and every byte ≥ 0x80 are refused.
 */
const PATH = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) PATH[c] = 1;
/** Authority bytes of an absolute-form or CONNECT target (Envoy's isUrlValid valid_host_char; `@` apart). */
const HOST = new Uint8Array(256);
for (const c of "!$%&'()*+,-.:;=[]_~") HOST[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) HOST[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) HOST[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) HOST[c] = 1;
/** Scheme bytes after the first (RFC 3986 §3.1: ALPHA / DIGIT / "+" / "-" / "."). */
const SCHEME = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) SCHEME[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) SCHEME[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) SCHEME[c] = 1;
for (const c of '+-.') SCHEME[c.charCodeAt(0)] = 1;
const ALPHA = new Uint8Array(256);
for (let c = 0x41; c <= 0x5a; c++) ALPHA[c] = ALPHA[c + 0x20] = 1;

function err(status: HeadError['status'], reason: string): HeadError {
  return { kind: 'error', status, reason };
}

/**
 * One field line `s[a, b)` (no CRLF) as [lower-case name, trimmed value], or the reason it is invalid.
 * Shared by heads and chunked trailers.
 */
function fieldLine(s: string, a: number, b: number): HeaderField | string {
  const first = s.charCodeAt(a);
  if (first === SP || first === HTAB) return 'obsolete line folding';
  let i = a;
  while (i < b && TCHAR[s.charCodeAt(i)] === 1) i++;
  if (i === b) return 'header line without a colon';
  const c = s.charCodeAt(i);
  if (c !== 0x3a) {
    if (c === SP || c === HTAB) return 'whitespace before the colon';
    return c === LF ? 'bare LF line ending' : 'invalid character in a header name';
  }
  if (i === a) return 'empty header name';
  const name = s.slice(a, i).toLowerCase();
  let vs = i + 1;
  while (vs < b && (s.charCodeAt(vs) === SP || s.charCodeAt(vs) === HTAB)) vs++;
  let ve = b;
  while (ve > vs && (s.charCodeAt(ve - 1) === SP || s.charCodeAt(ve - 1) === HTAB)) ve--;
  for (let j = vs; j < ve; j++) {
    const v = s.charCodeAt(j);
    if (VALUE[v] !== 1) return v === LF ? 'bare LF line ending' : 'invalid character in a header value';
  }
  return [name, s.slice(vs, ve)];
}

/** Whether a comma-separated token list (Connection) holds `token` (lower-case), case-insensitively. */
function hasToken(list: string, token: string): boolean {
  const lower = list.toLowerCase();
  let from = 0;
  while (from <= lower.length) {
    let to = lower.indexOf(',', from);
    if (to === -1) to = lower.length;
    let a = from;
    let b = to;
    while (a < b && (lower.charCodeAt(a) === SP || lower.charCodeAt(a) === HTAB)) a++;
    while (b > a && (lower.charCodeAt(b - 1) === SP || lower.charCodeAt(b - 1) === HTAB)) b--;
    if (b - a === token.length && lower.startsWith(token, a)) return true;
    from = to + 1;
  }
  return false;
}

/** Content-Length value (1*DIGIT, OWS around it already trimmed from the field), or -1 when invalid. */
function contentLength(value: string): number {
  if (value.length === 0 || value.length > 16) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n > Number.MAX_SAFE_INTEGER ? -1 : n;
}

interface Fields {
  headers: HeaderField[];
  contentLength: number | undefined;
  transferEncoding: string | undefined;
  hosts: number;
  connection: string | undefined;
  upgrade: string | undefined;
  expect: string | undefined;
}

/** The most bytes a head may take on the wire under `limits`; a buffer past this without its end is 431. */
export function headWireCap(limits: HeadLimits): number {
  return limits.maxHeaderBytes + limits.maxHeaders * RAW_PER_FIELD + RAW_SLACK;
}

/**
 * Locates the head that starts at `from` (CRLFCRLF), or says why it cannot complete.
 * Returns the index of the final CRLFCRLF.
 */
function findEnd(
  buf: Buffer,
  from: number,
  start: number,
  limits: HeadLimits,
): number | NeedMore | HeadError {
  const rawCap = headWireCap(limits);
  const idx = buf.indexOf(CRLFCRLF, from);
  if (idx === -1) {
    if (buf.indexOf(LFLF, from) !== -1) return err(400, 'bare LF line ending');
    if (buf.length - start > rawCap) return err(431, 'header block too large');
    return NEED_MORE;
  }
  if (idx + 4 - start > rawCap) return err(431, 'header block too large');
  return idx;
}

/**
 * Field lines of `s` from `pos` (each ending in CRLF, the last one followed by the empty line's CRLF).
 * `size` is what the start line already counts against `maxHeaderBytes`.
 */
function parseFields(s: string, pos: number, size: number, limits: HeadLimits): Fields | HeadError {
  const f: Fields = {
    headers: [],
    contentLength: undefined,
    transferEncoding: undefined,
    hosts: 0,
    connection: undefined,
    upgrade: undefined,
    expect: undefined,
  };
  const last = s.length - 2; // the empty line's CRLF
  while (pos < last) {
    const cr = s.indexOf('\r', pos);
    if (s.charCodeAt(cr + 1) !== LF) return err(400, 'bare CR in the header block');
    const field = fieldLine(s, pos, cr);
    if (typeof field === 'string') return err(400, field);
    pos = cr + 2;
    if (f.headers.length === limits.maxHeaders) return err(431, 'too many headers');
    size += field[0].length + field[1].length;
    if (size > limits.maxHeaderBytes) return err(431, 'header block too large');
    f.headers.push(field);
    const [name, value] = field;
    switch (name) {
      case 'host':
        f.hosts++;
        break;
      case 'content-length': {
        const n = contentLength(value);
        if (n === -1) return err(400, 'invalid Content-Length');
        if (f.contentLength !== undefined) return err(400, 'duplicate Content-Length');
        f.contentLength = n;
        break;
      }
      case 'transfer-encoding':
        f.transferEncoding = f.transferEncoding === undefined ? value : `${f.transferEncoding}, ${value}`;
        break;
      case 'connection':
        f.connection = f.connection === undefined ? value : `${f.connection}, ${value}`;
        break;
      case 'upgrade':
        f.upgrade = value;
        break;
      case 'expect':
        f.expect = value;
        break;
    }
  }
  return f;
}

function keepAliveOf(version: '1.0' | '1.1', connection: string | undefined): boolean {
  if (connection === undefined) return version === '1.1';
  if (hasToken(connection, 'close')) return false;
  return version === '1.1' || hasToken(connection, 'keep-alive');
}

/**
 * The methods Envoy's HTTP/1 codec knows, the only ones it takes without allow_custom_methods (balsa_parser.cc
 * kValidMethods: note `MSEARCH`, not llhttp's `M-SEARCH`, and no RTSP methods). Case-sensitive (RFC 9110 §9.1).
 */
const KNOWN_METHODS = [
  'ACL',
  'BIND',
  'CHECKOUT',
  'CONNECT',
  'COPY',
  'DELETE',
  'GET',
  'HEAD',
  'LINK',
  'LOCK',
  'MERGE',
  'MKACTIVITY',
  'MKCALENDAR',
  'MKCOL',
  'MOVE',
  'MSEARCH',
  'NOTIFY',
  'OPTIONS',
  'PATCH',
  'POST',
  'PROPFIND',
  'PROPPATCH',
  'PURGE',
  'PUT',
  'REBIND',
  'REPORT',
  'SEARCH',
  'SOURCE',
  'SUBSCRIBE',
  'TRACE',
  'UNBIND',
  'UNLINK',
  'UNLOCK',
  'UNSUBSCRIBE',
] as const;
const CONNECT_ID = KNOWN_METHODS.indexOf('CONNECT') + 1;

/**
 * The known methods as a trie over `A`–`Z`, walked a byte at a time: the child of `node` for a letter is
 * `METHOD_NEXT[node * 26 + letter]` (0: none; the root is 0), `METHOD_AT[node]` the method ending there (its
 * index in KNOWN_METHODS + 1; 0: none).
 */
const { METHOD_NEXT, METHOD_AT } = (() => {
  const next: number[] = new Array(26).fill(0);
  const at: number[] = [0];
  KNOWN_METHODS.forEach((m, i) => {
    let node = 0;
    for (let j = 0; j < m.length; j++) {
      const k = node * 26 + m.charCodeAt(j) - 0x41;
      if (next[k] === 0) {
        next[k] = at.length;
        at.push(0);
        for (let z = 0; z < 26; z++) next.push(0);
      }
      node = next[k] as number;
    }
    at[node] = i + 1;
  });
  return { METHOD_NEXT: Int16Array.from(next), METHOD_AT: Int16Array.from(at) };
})();

const L_START = 0;
const L_EMPTY_LF = 1;
const L_METHOD = 2;
const L_METHOD_CUSTOM = 3;
const L_TARGET = 4;
const L_PATH = 5;
const L_SCHEME = 6;
const L_SCHEME_COLON = 7;
const L_SCHEME_SLASH = 8;
const L_HOST = 9;
const L_VERSION = 10;
const L_CR = 11;
const L_LF = 12;
const L_DONE = 13;
const HTTP_SLASH = Buffer.from('HTTP/', 'latin1');

/**
 * The request line of one head, read byte by byte as the bytes arrive (llhttp's way: a request is refused at the
 * first byte that cannot continue a valid request line, not when its blank line or a size limit comes). Offsets
 * count from the head's first byte (before any leading empty lines). The state is kept across reads, so no byte
 * is looked at twice; `reset()` before the next head.
 */
export class RequestLine {
  /** Offset of the next byte to read. */
  pos = 0;
  private state = L_START;
  /** Offset of the method's first byte (after leading empty lines). */
  lineStart = 0;
  methodEnd = 0;
  targetStart = 0;
  targetEnd = 0;
  /** Offset just after the request line's CRLF. */
  lineEnd = 0;
  /** A known method: its index in KNOWN_METHODS + 1 (0: a custom method). */
  method = 0;
  /** The target holds a `#`. */
  fragment = false;
  /** The target is in absolute form (`scheme://…`). */
  absolute = false;
  /** The line has no version (HTTP/0.9): the head ends with it. */
  noVersion = false;
  /** `1.0`: any version but HTTP/1.1, or none (Envoy's Protocol::Http10). */
  version: '1.0' | '1.1' = '1.1';
  private node = 0;
  private major = 0;
  private atSign = false;
  private vpos = 0;

  /** The whole request line has been read. */
  get done(): boolean {
    return this.state === L_DONE;
  }

  /** The method as a string (known methods are shared constants). */
  methodName(head: string): string {
    return this.method > 0
      ? (KNOWN_METHODS[this.method - 1] as string)
      : head.slice(0, this.methodEnd - this.lineStart);
  }

  reset(): void {
    this.pos = 0;
    this.state = L_START;
    this.lineStart = 0;
    this.methodEnd = 0;
    this.targetStart = 0;
    this.targetEnd = 0;
    this.lineEnd = 0;
    this.method = 0;
    this.fragment = false;
    this.absolute = false;
    this.noVersion = false;
    this.version = '1.1';
    this.node = 0;
    this.major = 0;
    this.atSign = false;
    this.vpos = 0;
  }

  /**
   * Reads `bytes[from…]`, where `bytes[from]` is the byte at offset `pos`. Returns `undefined` once the line is
   * complete (`lineEnd` is set; bytes after it are not read), `need-more` when every byte was fine, or the error
   * (400; 431 for a line beyond what a head may take). After an error the state is meaningless.
   */
  scan(
    bytes: Uint8Array,
    from: number,
    options: RequestOptions,
    limits: HeadLimits,
  ): NeedMore | HeadError | undefined {
    const base = this.pos - from;
    const n = bytes.length;
    let state = this.state;
    let i = from;
    for (; i < n; i++) {
      const c = bytes[i] as number;
      if (state === L_START) {
        // Empty lines before a request line are ignored (RFC 9112 §2.2).
        if (c === CR) {
          state = L_EMPTY_LF;
          continue;
        }
        this.lineStart = base + i;
        state = L_METHOD;
      }
      switch (state) {
        case L_METHOD: {
          if (c === SP && this.node !== 0) {
            const m = METHOD_AT[this.node] as number;
            if (m === 0 && !options.allowCustomMethods) return err(400, 'invalid method');
            this.method = m;
            this.methodEnd = base + i;
            state = L_TARGET;
            break;
          }
          const k = c - 0x41;
          const next = k >= 0 && k < 26 ? (METHOD_NEXT[this.node * 26 + k] as number) : 0;
          if (next !== 0) {
            this.node = next;
            break;
          }
          // Not (the start of) a known method: Envoy's codec refuses it (HPE_INVALID_METHOD) unless
          // allow_custom_methods, where any token is one (RFC 9110 §9.1).
          if (!options.allowCustomMethods || TCHAR[c] !== 1) return err(400, 'invalid method');
          state = L_METHOD_CUSTOM;
          break;
        }
        case L_METHOD_CUSTOM:
          if (c === SP) {
            this.methodEnd = base + i;
            state = L_TARGET;
          } else if (TCHAR[c] !== 1) return err(400, 'invalid method');
          break;
        case L_TARGET:
          // `/…` origin form or `*`; for CONNECT the authority form; else the absolute form's scheme.
          this.targetStart = base + i;
          if (c === 0x2f || c === 0x2a) state = L_PATH;
          else if (this.method === CONNECT_ID && (HOST[c] === 1 || c === 0x40)) {
            state = L_HOST;
            this.atSign = c === 0x40;
          } else if (ALPHA[c] === 1) {
            state = L_SCHEME;
            this.absolute = true;
          } else return err(400, 'invalid request target');
          break;
        case L_PATH: {
          // Most of a request line: path and query bytes, in a loop of their own.
          let d = c;
          while (PATH[d] === 1) {
            if (d === 0x23) this.fragment = true;
            if (++i === n) break;
            d = bytes[i] as number;
          }
          if (i === n) {
            i--; // every byte read; the loop's i++ ends it
            break;
          }
          if (d === CR) state = this.endWithoutVersion(base + i, limits);
          else if (d !== SP) return err(400, targetError(d));
          else state = this.endTarget(base + i, limits);
          break;
        }
        case L_SCHEME:
          if (c === 0x3a) state = L_SCHEME_COLON;
          else if (SCHEME[c] !== 1) return err(400, 'invalid request target');
          break;
        case L_SCHEME_COLON:
        case L_SCHEME_SLASH:
          if (c !== 0x2f) return err(400, 'invalid request target');
          state = state === L_SCHEME_COLON ? L_SCHEME_SLASH : L_HOST;
          this.atSign = false;
          break;
        case L_HOST:
          if (HOST[c] === 1) this.atSign = false;
          else if (c === 0x40) {
            // Any number of `@`, never two in a row (http-parser's rule, kept by Envoy).
            if (this.atSign) return err(400, 'invalid request target');
            this.atSign = true;
          } else if (c === 0x2f || c === 0x3f) state = L_PATH;
          else if (c === SP) state = this.endTarget(base + i, limits);
          else if (c === CR) state = this.endWithoutVersion(base + i, limits);
          else return err(400, targetError(c));
          break;
        case L_VERSION: {
          // The usual case at once: the whole `HTTP/1.1\r\n` (or 1.0) in this read.
          if (this.vpos === 0 && i + 10 <= n && bytes[i + 9] === LF && isVersion11or10(bytes, i)) {
            this.version = bytes[i + 7] === 0x31 ? '1.1' : '1.0';
            this.state = L_DONE;
            this.lineEnd = this.pos = base + i + 10;
            return undefined;
          }
          const v = this.vpos++;
          if (v < 5) {
            if (c !== HTTP_SLASH[v]) return err(400, 'invalid request line');
          } else if (v === 6) {
            if (c !== 0x2e) return err(400, 'invalid request line');
          } else {
            const d = c - 0x30;
            if (d < 0 || d > 9) return err(400, 'invalid request line');
            // Any DIGIT.DIGIT (balsa isVersionValid); all but 1.1 are HTTP/1.0 to Envoy (balsa isHttp11).
            if (v === 5) this.major = d;
            else {
              this.version = this.major === 1 && d === 1 ? '1.1' : '1.0';
              state = L_CR;
            }
          }
          break;
        }
        case L_CR:
          if (c !== CR) return err(400, c === LF ? 'bare LF line ending' : 'invalid request line');
          state = L_LF;
          break;
        case L_LF:
        case L_EMPTY_LF:
          if (c !== LF) return err(400, 'bare CR in the request line');
          if (state === L_EMPTY_LF) state = L_START;
          else {
            this.state = L_DONE;
            this.lineEnd = this.pos = base + i + 1;
            return undefined;
          }
          break;
      }
      if (state === -1) return err(431, 'header block too large');
    }
    this.state = state;
    this.pos = base + i;
    return this.pos > headWireCap(limits) ? err(431, 'header block too large') : NEED_MORE;
  }

  /**
   * A CR right after the target: an HTTP/0.9 line, no version (balsa takes it; its head ends with the line, and
   * Envoy's codec takes it as HTTP/1.0). Its LF comes next (-1: the target alone is over the size limit).
   */
  private endWithoutVersion(at: number, limits: HeadLimits): number {
    this.targetEnd = at;
    if (at - this.targetStart > limits.maxHeaderBytes) return -1;
    this.noVersion = true;
    this.version = '1.0';
    return L_LF;
  }

  /** The SP after the target: the version comes next (-1: the target alone is over the size limit). */
  private endTarget(at: number, limits: HeadLimits): number {
    this.targetEnd = at;
    if (at - this.targetStart > limits.maxHeaderBytes) return -1;
    this.vpos = 0;
    return L_VERSION;
  }
}

/** `HTTP/1.1\r\n` or `HTTP/1.0\r\n` at `bytes[i]` (ten bytes there). */
function isVersion11or10(bytes: Uint8Array, i: number): boolean {
  return (
    bytes[i] === 0x48 &&
    bytes[i + 1] === 0x54 &&
    bytes[i + 2] === 0x54 &&
    bytes[i + 3] === 0x50 &&
    bytes[i + 4] === 0x2f &&
    bytes[i + 5] === 0x31 &&
    bytes[i + 6] === 0x2e &&
    (bytes[i + 7] === 0x31 || bytes[i + 7] === 0x30) &&
    bytes[i + 8] === CR
  );
}

function targetError(c: number): string {
  if (c === CR || c === LF) return 'invalid request line';
  return c >= 0x80 ? 'non-ASCII byte in the request target' : 'invalid character in the request target';
}

/**
 * The fields of a request that asked for `Upgrade: h2c`, without it: Envoy does not upgrade to h2c and serves the
 * request as HTTP/1.1 (codec_impl.cc: Upgrade and HTTP2-Settings removed, `upgrade` and `http2-settings` taken out
 * of Connection, which goes when nothing is left).
 */
function withoutH2cUpgrade(headers: HeaderField[]): HeaderField[] {
  const out: HeaderField[] = [];
  for (const field of headers) {
    const [name, value] = field;
    if (name === 'upgrade' || name === 'http2-settings') continue;
    if (name === 'connection') {
      const kept = value
        .split(',')
        .map((t) => t.trim())
        .filter((t) => {
          const token = t.toLowerCase();
          return token !== '' && token !== 'upgrade' && token !== 'http2-settings';
        });
      if (kept.length > 0) out.push([name, kept.join(',')]);
      continue;
    }
    out.push(field);
  }
  return out;
}

/**
 * Parses the request head that starts at `buf[start]` (leading empty lines are skipped, RFC 9112 §2.2).
 * `need-more` until the blank line has arrived; the caller keeps the bytes and calls again with more. The request
 * line is read into `line`: a caller that keeps it between calls (and resets it for the next head) has no byte
 * of it read twice, and hears of a bad request line as soon as its first bad byte is there.
 */
export function parseRequestHead(
  buf: Buffer,
  start: number,
  limits: HeadLimits,
  options: RequestOptions = DEFAULT_REQUEST_OPTIONS,
  line: RequestLine = new RequestLine(),
): RequestHeadResult {
  if (!line.done) {
    const r = line.scan(buf, start + line.pos, options, limits);
    if (r !== undefined) return r;
  }
  // The head ends at the first empty line: right after the request line when there are no fields. An HTTP/0.9
  // line (no version) is the whole head (balsa_frame.cc ProcessFirstLine: MESSAGE_FULLY_READ).
  let end: number;
  if (line.noVersion) end = start + line.lineEnd;
  else {
    const found = findEnd(buf, start + line.lineEnd - 2, start, limits);
    if (typeof found !== 'number') return found;
    end = found + 4;
  }
  const from = start + line.lineStart;
  const s = buf.toString('latin1', from, end);
  const method = line.methodName(s);
  const target = s.slice(line.targetStart - line.lineStart, line.targetEnd - line.lineStart);
  const version = line.version;

  const f = parseFields(s, line.lineEnd - line.lineStart, target.length, limits);
  if ('kind' in f) return f;

  // An absolute-form target names the host itself (it becomes Host: http1-target.ts).
  if (version === '1.1' && f.hosts === 0 && !line.absolute) return err(400, 'missing Host header');
  if (f.hosts > 1) return err(400, 'multiple Host headers');

  let headers = f.headers;
  const connect = line.method === CONNECT_ID;
  if (connect && f.contentLength !== undefined) {
    // RFC 9110 §9.3.6: a CONNECT body has no defined semantics; Envoy refuses one (400) and drops
    // `Content-Length: 0`.
    if (f.contentLength > 0) return err(400, 'CONNECT with a body');
    headers = headers.filter((h) => h[0] !== 'content-length');
  }
  let body: RequestBody = { kind: 'none' };
  let keepAlive = keepAliveOf(version, f.connection);
  if (f.transferEncoding !== undefined) {
    if (f.contentLength !== undefined) return err(400, 'both Content-Length and Transfer-Encoding');
    if (connect) return err(501, 'Transfer-Encoding on CONNECT');
    if (f.transferEncoding.toLowerCase() !== 'chunked') return err(501, 'unsupported Transfer-Encoding');
    body = { kind: 'chunked' };
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing; close after this message.
    if (version === '1.0') keepAlive = false;
  } else if (f.contentLength !== undefined && f.contentLength > 0) {
    body = { kind: 'length', length: f.contentLength };
  }

  let upgrade =
    version === '1.1' &&
    f.upgrade !== undefined &&
    f.connection !== undefined &&
    hasToken(f.connection, 'upgrade')
      ? f.upgrade
      : undefined;
  if (upgrade !== undefined && upgrade.toLowerCase() === 'h2c') {
    headers = withoutH2cUpgrade(headers);
    upgrade = undefined;
  }
  // Envoy treats CONNECT as an upgrade of its own kind (filter_manager.cc createFilterChain).
  if (upgrade === undefined && connect) upgrade = 'CONNECT';
  const expectContinue =
    version === '1.1' && f.expect !== undefined && f.expect.toLowerCase() === '100-continue';
  return {
    kind: 'head',
    method,
    target,
    fragment: line.fragment,
    version,
    headers,
    end,
    body,
    keepAlive,
    upgrade,
    expectContinue,
  };
}

/**
 * Parses the response head at `buf[start]` to a request made with `requestMethod`. A 1xx other than 101 is
 * interim: the caller relays it and parses the next head. Every error is a 502 (upstream protocol error).
 */
export function parseResponseHead(
  buf: Buffer,
  start: number,
  limits: HeadLimits,
  requestMethod: string,
): ResponseHeadResult {
  // CR and LF before a status line are skipped, as llhttp skips them before any message (its `start` state):
  // some servers end a body, or a 100 Continue, with an extra CRLF.
  let from = start;
  while (buf[from] === CR || buf[from] === LF) from++;
  const found = findEnd(buf, from, start, limits);
  if (typeof found !== 'number') return found.kind === 'error' ? err(502, found.reason) : found;
  const end = found + 4;
  const s = buf.toString('latin1', from, end);

  // HTTP-version SP status-code [SP reason-phrase] CRLF (a missing SP before an empty reason is accepted,
  // RFC 9112 §4)
  let version: '1.0' | '1.1';
  if (s.startsWith('HTTP/1.1 ')) version = '1.1';
  else if (s.startsWith('HTTP/1.0 ')) version = '1.0';
  else if (/^HTTP\/\d\.\d /.test(s)) return err(502, 'unsupported HTTP version');
  else return err(502, 'invalid status line');
  const d0 = s.charCodeAt(9) - 0x30;
  const d1 = s.charCodeAt(10) - 0x30;
  const d2 = s.charCodeAt(11) - 0x30;
  if (!(d0 >= 1 && d0 <= 9 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9))
    return err(502, 'invalid status code');
  const status = d0 * 100 + d1 * 10 + d2;
  const cr = s.indexOf('\r', 12);
  if (s.charCodeAt(cr + 1) !== LF) return err(502, 'bare CR in the status line');
  let reason = '';
  if (cr > 12) {
    if (s.charCodeAt(12) !== SP) return err(502, 'invalid status code');
    for (let j = 13; j < cr; j++) {
      if (VALUE[s.charCodeAt(j)] !== 1) return err(502, 'invalid character in the reason phrase');
    }
    reason = s.slice(13, cr);
  }

  const f = parseFields(s, cr + 2, 0, limits);
  if ('kind' in f) return err(502, f.reason);

  const te = f.transferEncoding;
  if (te !== undefined) {
    if (f.contentLength !== undefined) return err(502, 'both Content-Length and Transfer-Encoding');
    if (te.toLowerCase() !== 'chunked') return err(502, 'unsupported Transfer-Encoding');
  }
  let body: ResponseBody;
  if (
    requestMethod === 'HEAD' ||
    status < 200 ||
    status === 204 ||
    status === 304 ||
    (requestMethod === 'CONNECT' && status < 300)
  ) {
    body = { kind: 'none' };
  } else if (te !== undefined) {
    body = { kind: 'chunked' };
  } else if (f.contentLength !== undefined) {
    body = f.contentLength > 0 ? { kind: 'length', length: f.contentLength } : { kind: 'none' };
  } else {
    body = { kind: 'close' };
  }
  return {
    kind: 'head',
    status,
    reason,
    version,
    headers: f.headers,
    end,
    body,
    keepAlive: body.kind !== 'close' && keepAliveOf(version, f.connection),
    upgrade: status === 101 ? f.upgrade : undefined,
  };
}

/** `method target HTTP/1.1`, the fields, the empty line: one buffer, one write. Fields are not re-validated. */
export function serializeRequestHead(
  method: string,
  target: string,
  headers: readonly HeaderField[],
): Buffer {
  let s = `${method} ${target} HTTP/1.1\r\n`;
  for (const [name, value] of headers) s += `${name}: ${value}\r\n`;
  return Buffer.from(`${s}\r\n`, 'latin1');
}

/** `HTTP/1.1 status reason`, the fields, the empty line: one buffer, one write. */
export function serializeResponseHead(
  status: number,
  reason: string,
  headers: readonly HeaderField[],
): Buffer {
  let s = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (const [name, value] of headers) s += `${name}: ${value}\r\n`;
  return Buffer.from(`${s}\r\n`, 'latin1');
}

/** The chunk-extension state after byte `c` (C_SIZE_LF at the CR that ends the size line; C_ERROR). */
function extensionState(state: number, c: number): number {
  switch (state) {
    case C_EXT: // the name's first byte: never whitespace or the end of the line (llhttp chunk_extensions)
      if (TCHAR[c] === 1) return C_EXT_NAME;
      return c === 0x3d ? C_EXT_VALUE : c === 0x3b ? C_EXT : C_ERROR;
    case C_EXT_NAME:
      if (TCHAR[c] === 1) return C_EXT_NAME;
      return c === 0x3d ? C_EXT_VALUE : c === 0x3b ? C_EXT : c === CR ? C_SIZE_LF : C_ERROR;
    case C_EXT_VALUE:
      if (TCHAR[c] === 1) return C_EXT_VALUE;
      return c === 0x22 ? C_EXT_QUOTED : c === 0x3b ? C_EXT : c === CR ? C_SIZE_LF : C_ERROR;
    case C_EXT_QUOTED:
      if (QDTEXT[c] === 1) return C_EXT_QUOTED;
      return c === 0x22 ? C_EXT_QUOTED_DONE : c === 0x5c ? C_EXT_QUOTED_PAIR : C_ERROR;
    case C_EXT_QUOTED_PAIR:
      return VALUE[c] === 1 ? C_EXT_QUOTED : C_ERROR;
    default: // C_EXT_QUOTED_DONE
      return c === 0x3b ? C_EXT : c === CR ? C_SIZE_LF : C_ERROR;
  }
}

export interface ChunkedResult {
  /** Payload slices of this push (views into the pushed buffer, not copies). */
  data: Buffer[];
  /** The last chunk and the trailer section have been read. */
  done: boolean;
  /** Bytes of this push that belonged to the body; after `done`, the rest is the next message. */
  consumed: number;
  /** The trailer fields, once `done`. */
  trailers?: HeaderField[];
  /** Malformed chunked body; sticky. The payload slices before the fault are still in `data`. */
  error?: string;
}

const C_SIZE = 0;
const C_SIZE_DIGITS = 1;
const C_SIZE_BWS = 2;
/** Just after a `;`: an extension name must follow. */
const C_EXT = 3;
const C_SIZE_LF = 4;
const C_DATA = 5;
const C_DATA_CR = 6;
const C_DATA_LF = 7;
const C_TRAILER = 8;
const C_TRAILER_LF = 9;
const C_DONE = 10;
const C_ERROR = 11;
const C_EXT_NAME = 12;
const C_EXT_VALUE = 13;
const C_EXT_QUOTED = 14;
const C_EXT_QUOTED_PAIR = 15;
const C_EXT_QUOTED_DONE = 16;

/** qdtext (RFC 9110 §5.6.4): HTAB, SP, VCHAR but `"` and `\`, obs-text. */
const QDTEXT = new Uint8Array(256);
for (let c = 0; c < 256; c++) QDTEXT[c] = VALUE[c] === 1 && c !== 0x22 && c !== 0x5c ? 1 : 0;

/** Hex value of a byte, or -1. */
const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c;
  HEX[0x61 + c] = 10 + c;
}
const MAX_SIZE_DIGITS = 16;
const MAX_EXTENSION_BYTES = 4096;

/**
 * Decodes a chunked body (RFC 9112 §7.1) pushed in pieces split anywhere: sizes over 16 hex digits or 2^53-1 are
 * refused, trailers are parsed like header fields and limited like a head (`maxHeaderBytes` for names + values,
 * `maxHeaders` fields). Chunk extensions are checked as llhttp (strict) checks them, then dropped: after each
 * `;` a name of token bytes (no whitespace), then optionally `=` and a token or a quoted string that is closed,
 * and the line's end never right after a `;`; so `5;`, `5; a`, `5;a="b` are refused (http.ts chunk_extensions …
 * chunk_extension_quoted_value_done).
 */
export class ChunkedDecoder {
  private state = C_SIZE;
  private remaining = 0;
  private digits = 0;
  private extBytes = 0;
  private line = '';
  private trailers: HeaderField[] = [];
  private trailerBytes = 0;
  private error = '';

  constructor(private readonly limits: HeadLimits = DEFAULT_HEAD_LIMITS) {}

  get done(): boolean {
    return this.state === C_DONE;
  }

  push(buf: Buffer): ChunkedResult {
    const data: Buffer[] = [];
    const n = buf.length;
    let i = 0;
    if (this.state === C_ERROR) return { data, done: false, consumed: 0, error: this.error };
    while (i < n) {
      const state = this.state;
      if (state === C_DATA) {
        const take = Math.min(this.remaining, n - i);
        data.push(buf.subarray(i, i + take));
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = C_DATA_CR;
        continue;
      }
      if (state === C_DONE) return { data, done: true, consumed: i, trailers: this.trailers };
      if (state === C_TRAILER) {
        const cr = buf.indexOf(CR, i);
        const stop = cr === -1 ? n : cr;
        const lf = buf.indexOf(LF, i);
        if (lf !== -1 && lf < stop) return this.fail(data, lf + 1, 'bare LF in the trailers');
        this.trailerBytes += stop - i;
        if (
          this.trailerBytes >
          this.limits.maxHeaderBytes + this.limits.maxHeaders * RAW_PER_FIELD + RAW_SLACK
        ) {
          return this.fail(data, i, 'trailers too large');
        }
        this.line += buf.toString('latin1', i, stop);
        i = stop;
        if (cr !== -1) {
          this.state = C_TRAILER_LF;
          i++;
        }
        continue;
      }
      const c = buf[i] as number;
      i++;
      switch (state) {
        case C_SIZE:
        case C_SIZE_DIGITS: {
          const h = HEX[c] as number;
          if (h !== -1) {
            if (++this.digits > MAX_SIZE_DIGITS) return this.fail(data, i, 'chunk size too long');
            this.remaining = this.remaining * 16 + h;
            if (this.remaining > Number.MAX_SAFE_INTEGER) return this.fail(data, i, 'chunk size too large');
            this.state = C_SIZE_DIGITS;
          } else if (state === C_SIZE) {
            return this.fail(data, i, 'invalid chunk size');
          } else if (c === CR) {
            this.state = C_SIZE_LF;
          } else if (c === 0x3b) {
            this.state = C_EXT;
          } else if (c === SP || c === HTAB) {
            this.state = C_SIZE_BWS;
          } else {
            return this.fail(data, i, 'invalid chunk size');
          }
          break;
        }
        case C_SIZE_BWS:
          if (c === 0x3b) this.state = C_EXT;
          else if (c !== SP && c !== HTAB) return this.fail(data, i, 'invalid chunk size');
          break;
        case C_EXT:
        case C_EXT_NAME:
        case C_EXT_VALUE:
        case C_EXT_QUOTED:
        case C_EXT_QUOTED_PAIR:
        case C_EXT_QUOTED_DONE: {
          if (++this.extBytes > MAX_EXTENSION_BYTES) return this.fail(data, i, 'chunk extension too long');
          const next = extensionState(state, c);
          if (next === C_ERROR) return this.fail(data, i, 'invalid character in a chunk extension');
          this.state = next;
          break;
        }
        case C_SIZE_LF:
          if (c !== LF) return this.fail(data, i, 'bare CR after the chunk size');
          this.state = this.remaining === 0 ? C_TRAILER : C_DATA;
          this.digits = 0;
          this.extBytes = 0;
          break;
        case C_DATA_CR:
          if (c !== CR) return this.fail(data, i, 'missing CRLF after chunk data');
          this.state = C_DATA_LF;
          break;
        case C_DATA_LF:
          if (c !== LF) return this.fail(data, i, 'missing CRLF after chunk data');
          this.state = C_SIZE;
          break;
        case C_TRAILER_LF: {
          if (c !== LF) return this.fail(data, i, 'bare CR in the trailers');
          const line = this.line;
          this.line = '';
          if (line === '') {
            this.state = C_DONE;
            return { data, done: true, consumed: i, trailers: this.trailers };
          }
          const field = fieldLine(line, 0, line.length);
          if (typeof field === 'string') return this.fail(data, i, `trailer: ${field}`);
          if (this.trailers.length === this.limits.maxHeaders) return this.fail(data, i, 'too many trailers');
          this.trailers.push(field);
          this.state = C_TRAILER;
          break;
        }
      }
    }
    if (this.state === C_DONE) return { data, done: true, consumed: n, trailers: this.trailers };
    return { data, done: false, consumed: n };
  }

  private fail(data: Buffer[], consumed: number, error: string): ChunkedResult {
    this.state = C_ERROR;
    this.error = error;
    return { data, done: false, consumed, error };
  }
}
