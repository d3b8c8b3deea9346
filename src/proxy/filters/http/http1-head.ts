// HTTP/1.1 message heads and chunked bodies, pure (no sockets): what the lean HTTP/1.1 codecs (h1-server.ts
// downstream, upstream.ts's HTTP/1.1 pool) read off raw sockets instead of node:http (docs/performance.md).
//
// Strict in the way Envoy's HTTP/1 codec on llhttp (strict mode) is, since a relay that is more lenient than the
// server behind it is a request-smuggling hole (RFC 9112 §11.2):
// - request line `method SP target SP HTTP/1.x` with single spaces, method a token, target without CTL/SP;
// - versions other than HTTP/1.0 and HTTP/1.1 → 400 (llhttp's HPE_INVALID_VERSION, which Envoy answers with its
//   default protocol-error code 400, not 505);
// - every line ends in CRLF: a bare LF or a bare CR → 400; obs-fold (a line starting with SP/HTAB) → 400;
// - field names are tokens, no whitespace before the colon; values are HTAB / SP / VCHAR / obs-text only;
// - Content-Length: exactly one field of 1*DIGIT, at most 2^53-1; anything else → 400. As llhttp (Envoy's H1
//   codec) refuses any second Content-Length, identical or not ("Duplicate Content-Length"), and any list, so
//   does this (RFC 9110 §8.6 would allow identical repeats; Envoy does not);
// - Content-Length and Transfer-Encoding together → 400 (Envoy codec_impl.cc "both 'Content-Length' and
//   'Transfer-Encoding' are set"); a Transfer-Encoding that is not exactly `chunked`, or one on CONNECT → 501
//   (Envoy: `error_code_ = Http::Code::NotImplemented`, "unsupported transfer encoding");
// - HTTP/1.1 without Host, or with more than one Host → 400 (RFC 9112 §3.2);
// - more than `maxHeaders` fields → 431; request target + field names + values over `maxHeaderBytes` → 431
//   (Envoy `checkMaxHeadersSize` plus `getHeadersSize`, no CRLF/colon overhead).
// A response that breaks any of these is an upstream protocol error: status 502.

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
  body: RequestBody;
  /** The Upgrade header's value when `Connection` nominates `upgrade` (HTTP/1.1 only, RFC 9110 §7.8). */
  upgrade: string | undefined;
  /** `Expect: 100-continue` on HTTP/1.1 (RFC 9110 §10.1.1: ignored on HTTP/1.0). */
  expectContinue: boolean;
}

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
/** request-target bytes: anything visible (llhttp's strict URL table also refuses CTL, SP and DEL). */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0xff; c++) TARGET[c] = c === 0x7f ? 0 : 1;

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
 * Parses the request head that starts at `buf[start]` (leading empty lines are skipped, RFC 9112 §2.2).
 * `need-more` until the blank line has arrived; the caller keeps the bytes and calls again with more.
 */
export function parseRequestHead(buf: Buffer, start: number, limits: HeadLimits): RequestHeadResult {
  let from = start;
  while (buf[from] === CR && buf[from + 1] === LF) from += 2;
  if (from >= buf.length || (buf[from] === CR && from + 1 === buf.length)) {
    return from - start > limits.maxHeaderBytes ? err(431, 'header block too large') : NEED_MORE;
  }
  const found = findEnd(buf, from, start, limits);
  if (typeof found !== 'number') return found;
  const end = found + 4;
  const s = buf.toString('latin1', from, end);

  // method SP request-target SP HTTP-version CRLF
  let i = 0;
  while (TCHAR[s.charCodeAt(i)] === 1) i++;
  if (i === 0 || s.charCodeAt(i) !== SP) return err(400, 'invalid method');
  const method = s.slice(0, i);
  const ts = ++i;
  while (TARGET[s.charCodeAt(i)] === 1) i++;
  if (i === ts || s.charCodeAt(i) !== SP) return err(400, 'invalid request target');
  const target = s.slice(ts, i);
  i++;
  let version: '1.0' | '1.1';
  if (s.startsWith('HTTP/1.1\r\n', i)) version = '1.1';
  else if (s.startsWith('HTTP/1.0\r\n', i)) version = '1.0';
  else if (/^HTTP\/\d\.\d\r\n/.test(s.slice(i, i + 10))) return err(400, 'unsupported HTTP version');
  else return err(400, 'invalid request line');

  const f = parseFields(s, i + 10, target.length, limits);
  if ('kind' in f) return f;

  if (version === '1.1' && f.hosts === 0) return err(400, 'missing Host header');
  if (f.hosts > 1) return err(400, 'multiple Host headers');

  let body: RequestBody = { kind: 'none' };
  let keepAlive = keepAliveOf(version, f.connection);
  if (f.transferEncoding !== undefined) {
    if (f.contentLength !== undefined) return err(400, 'both Content-Length and Transfer-Encoding');
    if (method === 'CONNECT') return err(501, 'Transfer-Encoding on CONNECT');
    if (f.transferEncoding.toLowerCase() !== 'chunked') return err(501, 'unsupported Transfer-Encoding');
    body = { kind: 'chunked' };
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing; close after this message.
    if (version === '1.0') keepAlive = false;
  } else if (f.contentLength !== undefined && f.contentLength > 0) {
    body = { kind: 'length', length: f.contentLength };
  }

  const upgrade =
    version === '1.1' &&
    f.upgrade !== undefined &&
    f.connection !== undefined &&
    hasToken(f.connection, 'upgrade')
      ? f.upgrade
      : undefined;
  const expectContinue =
    version === '1.1' && f.expect !== undefined && f.expect.toLowerCase() === '100-continue';
  return {
    kind: 'head',
    method,
    target,
    version,
    headers: f.headers,
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
  const found = findEnd(buf, start, start, limits);
  if (typeof found !== 'number') return found.kind === 'error' ? err(502, found.reason) : found;
  const end = found + 4;
  const s = buf.toString('latin1', start, end);

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
const C_EXT = 3;
const C_SIZE_LF = 4;
const C_DATA = 5;
const C_DATA_CR = 6;
const C_DATA_LF = 7;
const C_TRAILER = 8;
const C_TRAILER_LF = 9;
const C_DONE = 10;
const C_ERROR = 11;

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
 * Decodes a chunked body (RFC 9112 §7.1) pushed in pieces split anywhere: chunk extensions are checked and
 * dropped, sizes over 16 hex digits or 2^53-1 are refused, trailers are parsed like header fields and limited
 * like a head (`maxHeaderBytes` for names + values, `maxHeaders` fields).
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
          if (c === CR) this.state = C_SIZE_LF;
          else if (VALUE[c] !== 1) return this.fail(data, i, 'invalid character in a chunk extension');
          else if (++this.extBytes > MAX_EXTENSION_BYTES)
            return this.fail(data, i, 'chunk extension too long');
          break;
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
