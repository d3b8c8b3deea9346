// HTTP/1.1 readers for the attack harness, written apart from the proxy's own codec so that the proxy is judged by
// a second opinion: `RequestReader` is the recording app's parser (RFC 9112, strict about framing: anything a
// lenient server could read two ways is an error, so a proxy that forwards it is caught), `ResponseReader` is
// the attacking client's (lenient: it only needs to count responses and tell the app's from the proxy's).

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^ ]+) HTTP\/(1\.[01])$/;

/** request-target bytes: visible (obs-text allowed, as many servers do); no CTL, SP or DEL. */
function validTarget(t) {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return false;
  }
  return true;
}
// field-value: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const CHUNK_SIZE_LINE = /^([0-9A-Fa-f]{1,16})(?:[ \t]*;[\t\x20-\x7e\x80-\xff]*)?$/;
const MAX_HEAD = 80 * 1024;
const CRLF = Buffer.from('\r\n', 'latin1');
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/** A bare LF (not after CR) or a bare CR (not before LF) in `s`, or -1. */
function bareLineBreak(s) {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 10 && (i === 0 || s.charCodeAt(i - 1) !== 13)) return i;
    if (c === 13 && s.charCodeAt(i + 1) !== 10) return i;
  }
  return -1;
}

/**
 * Parses one request head (text up to and including the blank line). Returns the request fields or
 * `{ error }` with the reason a strict server refuses it.
 */
export function parseHead(text) {
  const bad = bareLineBreak(text);
  if (bad !== -1) return { error: `bare ${text[bad] === '\n' ? 'LF' : 'CR'} in the head` };
  const lines = text.slice(0, -4).split('\r\n');
  const m = REQUEST_LINE.exec(lines[0] ?? '');
  if (!m || !validTarget(m[2]))
    return { error: `invalid request line ${JSON.stringify((lines[0] ?? '').slice(0, 80))}` };
  const headers = [];
  const lengths = [];
  const codings = [];
  let hosts = 0;
  for (const line of lines.slice(1)) {
    if (line.startsWith(' ') || line.startsWith('\t')) return { error: 'obs-fold' };
    const colon = line.indexOf(':');
    if (colon <= 0)
      return { error: `header line without a name and colon ${JSON.stringify(line.slice(0, 40))}` };
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return { error: `invalid header name ${JSON.stringify(name.slice(0, 40))}` };
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!FIELD_VALUE.test(value)) return { error: `invalid header value for ${name}` };
    const lower = name.toLowerCase();
    headers.push([lower, value]);
    if (lower === 'content-length') lengths.push(value);
    else if (lower === 'transfer-encoding') codings.push(value);
    else if (lower === 'host') hosts++;
  }
  const [, method, target, version] = m;
  if (hosts > 1) return { error: 'more than one Host' };
  if (version === '1.1' && hosts === 0) return { error: 'HTTP/1.1 without Host' };
  if (lengths.length > 1) return { error: `${lengths.length} Content-Length fields` };
  if (lengths.length === 1 && !/^[0-9]{1,15}$/.test(lengths[0])) return { error: 'invalid Content-Length' };
  let framing = 'none';
  let length = 0;
  if (codings.length > 0) {
    if (lengths.length > 0) return { error: 'Content-Length and Transfer-Encoding' };
    if (codings.join(',').trim().toLowerCase() !== 'chunked')
      return { error: `Transfer-Encoding ${JSON.stringify(codings.join(', '))}` };
    framing = 'chunked';
  } else if (lengths.length === 1) {
    length = Number(lengths[0]);
    if (length > 0) framing = 'length';
  }
  const connection = headers
    .filter(([n]) => n === 'connection')
    .map(([, v]) => v.toLowerCase())
    .join(',');
  const close = /(^|,)\s*close\s*(,|$)/.test(connection);
  const keepAlive = version === '1.1' ? !close : /(^|,)\s*keep-alive\s*(,|$)/.test(connection);
  return { method, target, version, headers, framing, length, keepAlive };
}

/**
 * Incremental reader of the requests on one connection. `push(bytes)` returns what completed: requests (with
 * their body and trailers) and at most one error, after which the reader stops. `pending()` says what is held.
 */
export class RequestReader {
  constructor() {
    this.buf = Buffer.alloc(0);
    this.head = undefined;
    this.body = [];
    this.bodyBytes = 0;
    this.chunk = { state: 'size', remaining: 0, trailers: [] };
    this.failed = false;
  }

  /** Bytes held and what they are: '' (nothing), 'head' (an incomplete head), 'body' (a head without its body). */
  pending() {
    if (this.head) return { state: 'body', bytes: this.buf.length + this.bodyBytes, head: this.head };
    return { state: this.buf.length > 0 ? 'head' : '', bytes: this.buf.length };
  }

  push(chunk) {
    const out = [];
    if (this.failed) return out;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (!this.head) {
        // Empty lines before a request line are allowed (RFC 9112 §2.2).
        let start = 0;
        while (this.buf[start] === 13 && this.buf[start + 1] === 10) start += 2;
        if (start > 0) this.buf = this.buf.subarray(start);
        if (this.buf.length === 0) return out;
        const end = this.buf.indexOf(CRLFCRLF);
        if (end === -1) {
          const text = this.buf.toString('latin1');
          const bad = bareLineBreak(text.endsWith('\r') ? text.slice(0, -1) : text);
          if (bad !== -1) return this.fail(out, `bare ${text[bad] === '\n' ? 'LF' : 'CR'} in the head`);
          if (this.buf.length > MAX_HEAD) return this.fail(out, 'head too large');
          return out;
        }
        const text = this.buf.toString('latin1', 0, end + 4);
        const head = parseHead(text);
        if (head.error) return this.fail(out, head.error, text);
        head.rawHead = text;
        this.head = head;
        this.buf = this.buf.subarray(end + 4);
        this.body = [];
        this.bodyBytes = 0;
        this.chunk = { state: 'size', remaining: 0, trailers: [] };
      }
      const head = this.head;
      if (head.framing === 'length') {
        const take = Math.min(head.length - this.bodyBytes, this.buf.length);
        this.body.push(this.buf.subarray(0, take));
        this.bodyBytes += take;
        this.buf = this.buf.subarray(take);
        if (this.bodyBytes < head.length) return out;
      } else if (head.framing === 'chunked') {
        const r = this.readChunked();
        if (r === 'error') return this.fail(out, this.chunk.error);
        if (r === 'more') return out;
      }
      out.push({ ...head, body: Buffer.concat(this.body), trailers: this.chunk.trailers });
      this.head = undefined;
      this.body = [];
      this.bodyBytes = 0;
    }
  }

  /** Advances the chunked body: 'done', 'more' or 'error'. */
  readChunked() {
    const c = this.chunk;
    for (;;) {
      if (c.state === 'data') {
        const take = Math.min(c.remaining, this.buf.length);
        this.body.push(this.buf.subarray(0, take));
        this.bodyBytes += take;
        this.buf = this.buf.subarray(take);
        c.remaining -= take;
        if (c.remaining > 0) return 'more';
        c.state = 'data-crlf';
      }
      if (c.state === 'data-crlf') {
        if (this.buf.length < 2) return 'more';
        if (this.buf[0] !== 13 || this.buf[1] !== 10) return this.chunkError('no CRLF after chunk data');
        this.buf = this.buf.subarray(2);
        c.state = 'size';
      }
      const eol = this.buf.indexOf(CRLF);
      if (eol === -1) {
        if (this.buf.includes(10) || (this.buf.includes(13) && this.buf.indexOf(13) < this.buf.length - 1))
          return this.chunkError('bare CR or LF in a chunk line');
        if (this.buf.length > 8192) return this.chunkError('chunk line too long');
        return 'more';
      }
      const line = this.buf.toString('latin1', 0, eol);
      if (/[\r\n]/.test(line)) return this.chunkError('bare CR or LF in a chunk line');
      this.buf = this.buf.subarray(eol + 2);
      if (c.state === 'size') {
        const m = CHUNK_SIZE_LINE.exec(line);
        if (!m) return this.chunkError(`invalid chunk size line ${JSON.stringify(line.slice(0, 40))}`);
        const size = Number.parseInt(m[1], 16);
        if (!Number.isSafeInteger(size)) return this.chunkError('chunk size too large');
        if (size === 0) c.state = 'trailers';
        else {
          c.remaining = size;
          c.state = 'data';
        }
        continue;
      }
      // Trailers: field lines up to an empty line.
      if (line === '') return 'done';
      const colon = line.indexOf(':');
      const name = line.slice(0, colon);
      if (colon <= 0 || !TOKEN.test(name)) return this.chunkError('invalid trailer line');
      const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
      if (!FIELD_VALUE.test(value)) return this.chunkError('invalid trailer value');
      c.trailers.push([name.toLowerCase(), value]);
    }
  }

  chunkError(reason) {
    this.chunk.error = reason;
    return 'error';
  }

  fail(out, reason, text) {
    this.failed = true;
    out.push({ error: reason, near: (text ?? this.buf.toString('latin1', 0, 200)).slice(0, 200) });
    return out;
  }
}

/**
 * The client's reader of responses: status, headers, body by Content-Length, chunked, or to the close. Interim
 * 1xx responses are returned too. Anything unreadable ends it (`garbage`).
 */
export class ResponseReader {
  constructor() {
    this.buf = Buffer.alloc(0);
    this.current = undefined;
    this.garbage = false;
  }

  /** Feeds bytes; returns the responses completed by them. */
  push(chunk) {
    const out = [];
    this.buf = Buffer.concat([this.buf, chunk]);
    while (!this.garbage) {
      if (!this.current) {
        const end = this.buf.indexOf(CRLFCRLF);
        if (end === -1) break;
        const text = this.buf.toString('latin1', 0, end);
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
        if (!m) {
          this.garbage = true;
          break;
        }
        const headers = {};
        for (const line of text.split('\r\n').slice(1)) {
          const colon = line.indexOf(':');
          if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        const status = Number(m[1]);
        this.buf = this.buf.subarray(end + 4);
        let framing = 'close';
        if (status < 200 || status === 204 || status === 304) framing = 'none';
        else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) framing = 'chunked';
        else if (headers['content-length'] !== undefined) framing = 'length';
        this.current = { status, headers, framing, length: Number(headers['content-length'] ?? 0), body: '' };
      }
      const r = this.current;
      if (r.framing === 'none') {
        out.push(r);
        this.current = undefined;
        continue;
      }
      if (r.framing === 'length') {
        if (this.buf.length < r.length) break;
        r.body = this.buf.toString('latin1', 0, r.length);
        this.buf = this.buf.subarray(r.length);
        out.push(r);
        this.current = undefined;
        continue;
      }
      if (r.framing === 'chunked') {
        const end = this.buf.indexOf(Buffer.from('\r\n0\r\n\r\n', 'latin1'));
        const empty = this.buf.indexOf(Buffer.from('0\r\n\r\n', 'latin1')) === 0;
        if (end === -1 && !empty) break;
        const stop = empty ? 5 : end + 7;
        r.body = this.buf.toString('latin1', 0, stop);
        this.buf = this.buf.subarray(stop);
        out.push(r);
        this.current = undefined;
        continue;
      }
      break; // close-delimited: completed by end()
    }
    return out;
  }

  /** The connection ended: a close-delimited body completes. */
  end() {
    if (this.current?.framing === 'close') {
      this.current.body = this.buf.toString('latin1');
      const r = this.current;
      this.current = undefined;
      return [r];
    }
    return [];
  }
}
