import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ChunkedDecoder,
  type ChunkedResult,
  DEFAULT_REQUEST_OPTIONS,
  type HeaderField,
  type HeadLimits,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  RequestLine,
  type RequestOptions,
  type ResponseHead,
  serializeRequestHead,
  serializeResponseHead,
} from '../../../../src/proxy/filters/http/http1-head.js';

const LIMITS: HeadLimits = { maxHeaderBytes: 200, maxHeaders: 8 };
const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const req = (s: string, limits = LIMITS) => parseRequestHead(b(s), 0, limits);
const res = (s: string, method = 'GET', limits = LIMITS) => parseResponseHead(b(s), 0, limits, method);
const CUSTOM: RequestOptions = { allowCustomMethods: true };

function head(r: ReturnType<typeof req>): RequestHead {
  assert.equal(r.kind, 'head', JSON.stringify(r));
  return r as RequestHead;
}
function rhead(r: ReturnType<typeof res>): ResponseHead {
  assert.equal(r.kind, 'head', JSON.stringify(r));
  return r as ResponseHead;
}

describe('parseRequestHead: accepted heads', () => {
  const cases: [string, string, Partial<RequestHead>][] = [
    [
      'simple GET',
      'GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n',
      {
        method: 'GET',
        target: '/a?b=c',
        version: '1.1',
        headers: [['host', 'x']],
        body: { kind: 'none' },
        keepAlive: true,
        upgrade: undefined,
        expectContinue: false,
      },
    ],
    [
      'names lower-cased, values trimmed of OWS only, order kept, repeats kept',
      'GET / HTTP/1.1\r\nHost: x\r\nX-A:\t a b \t\r\nx-a: 2\r\nEmpty:\r\nLatin: \xa0\xe9\xa0\r\n\r\n',
      {
        headers: [
          ['host', 'x'],
          ['x-a', 'a b'],
          ['x-a', '2'],
          ['empty', ''],
          ['latin', '\xa0\xe9\xa0'],
        ],
      },
    ],
    ['leading empty lines skipped', '\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n', { method: 'GET', end: 31 }],
    ['end is after CRLFCRLF', 'GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY', { end: 27 }],
    ['HTTP/1.0 closes by default', 'GET / HTTP/1.0\r\n\r\n', { version: '1.0', keepAlive: false }],
    [
      'HTTP/1.0 keep-alive in a token list',
      'GET / HTTP/1.0\r\nConnection: foo, Keep-Alive\r\n\r\n',
      { keepAlive: true },
    ],
    [
      'HTTP/1.1 Connection: close',
      'GET / HTTP/1.1\r\nHost: x\r\nConnection: CLOSE\r\n\r\n',
      { keepAlive: false },
    ],
    [
      'close in a second Connection header',
      'GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nConnection: te ,close\r\n\r\n',
      { keepAlive: false },
    ],
    ['closed is not close', 'GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n', { keepAlive: true }],
    [
      'Content-Length',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0012\r\n\r\n',
      { body: { kind: 'length', length: 12 } },
    ],
    [
      'Content-Length 0 is no body',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n',
      { body: { kind: 'none' } },
    ],
    [
      'Content-Length 2^53-1',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9007199254740991\r\n\r\n',
      { body: { kind: 'length', length: 9007199254740991 } },
    ],
    [
      'chunked, any case',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n',
      { body: { kind: 'chunked' }, keepAlive: true },
    ],
    [
      'chunked on HTTP/1.0 closes after (RFC 9112 6.1)',
      'POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n',
      { body: { kind: 'chunked' }, keepAlive: false },
    ],
    [
      'websocket upgrade',
      'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n',
      { upgrade: 'websocket' },
    ],
    [
      'Upgrade without Connection: upgrade is ignored',
      'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n',
      { upgrade: undefined },
    ],
    [
      'Upgrade on HTTP/1.0 is ignored',
      'GET /ws HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n',
      { upgrade: undefined },
    ],
    [
      'Expect: 100-continue',
      'PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n',
      { expectContinue: true },
    ],
    [
      'Expect on HTTP/1.0 is ignored',
      'PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n',
      { expectContinue: false },
    ],
    ['extension method, absolute form', 'PURGE http://a/b HTTP/1.1\r\nHost: a\r\n\r\n', { method: 'PURGE' }],
    ['CONNECT authority form', 'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n', { target: 'a:443' }],
    ['asterisk form', 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n', { target: '*' }],
    // Balsa takes any HTTP/DIGIT.DIGIT and no version at all; Envoy's codec takes all but HTTP/1.1 as HTTP/1.0
    // (balsa_parser.cc isVersionValid, isHttp11; codec_impl.cc:848-852), which it answers 426 unless
    // accept_http_10 (http1-target.ts).
    ['HTTP/1.2 is HTTP/1.0', 'GET / HTTP/1.2\r\nHost: x\r\n\r\n', { version: '1.0', keepAlive: false }],
    ['HTTP/2.0 in a request line is HTTP/1.0', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', { version: '1.0' }],
    ['HTTP/0.9 written out is HTTP/1.0', 'GET / HTTP/0.9\r\n\r\n', { version: '1.0' }],
    ['HTTP/9.9 is HTTP/1.0', 'GET / HTTP/9.9\r\n\r\n', { version: '1.0' }],
    [
      'HTTP/1.0 with Connection: keep-alive stays HTTP/1.0',
      'GET / HTTP/3.1\r\nConnection: keep-alive\r\n\r\n',
      { version: '1.0', keepAlive: true },
    ],
    [
      'an HTTP/0.9 line (no version) is a whole head: no fields, what follows is not read',
      'GET /old\r\nHost: x\r\n\r\n',
      { method: 'GET', target: '/old', version: '1.0', headers: [], end: 10, keepAlive: false },
    ],
    [
      'an HTTP/0.9 line in absolute form',
      'GET http://a/b\r\n',
      { target: 'http://a/b', version: '1.0', headers: [], end: 16 },
    ],
    ['an HTTP/0.9 line after empty lines', '\r\nGET /\r\n', { target: '/', version: '1.0', end: 9 }],
    [
      'absolute form without Host on HTTP/1.1: the URL names the host',
      'GET http://a/b HTTP/1.1\r\n\r\n',
      { target: 'http://a/b', version: '1.1', headers: [] },
    ],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      const h = head(req(input));
      for (const [k, v] of Object.entries(expected)) assert.deepEqual(h[k as keyof RequestHead], v, k);
    });
  }
});

describe('parseRequestHead: rejected heads (smuggling, RFC 9112, limits)', () => {
  const H = 'Host: x\r\n';
  const cases: [string, string, number][] = [
    ['bare LF line endings', 'GET / HTTP/1.1\nHost: x\n\n', 400],
    ['bare LF after the request line', 'GET / HTTP/1.1\nHost: x\r\n\r\n', 400],
    ['bare LF ending a header', `GET / HTTP/1.1\r\n${H}X: a\nY: b\r\n\r\n`, 400],
    ['bare CR in a header', `GET / HTTP/1.1\r\n${H}X: a\rY: b\r\n\r\n`, 400],
    ['NUL in a value', `GET / HTTP/1.1\r\n${H}X: a\0b\r\n\r\n`, 400],
    ['CTL in a value', `GET / HTTP/1.1\r\n${H}X: a\x01b\r\n\r\n`, 400],
    ['DEL in a value', `GET / HTTP/1.1\r\n${H}X: a\x7fb\r\n\r\n`, 400],
    ['obs-fold', `GET / HTTP/1.1\r\n${H}X: a\r\n b\r\n\r\n`, 400],
    ['obs-fold with HTAB', `GET / HTTP/1.1\r\n${H}X: a\r\n\tb\r\n\r\n`, 400],
    ['whitespace before the colon', `GET / HTTP/1.1\r\n${H}Content-Length : 5\r\n\r\n`, 400],
    ['tab before the colon', `GET / HTTP/1.1\r\n${H}X\t: 5\r\n\r\n`, 400],
    ['empty header name', `GET / HTTP/1.1\r\n${H}: 5\r\n\r\n`, 400],
    ['no colon', `GET / HTTP/1.1\r\n${H}X\r\n\r\n`, 400],
    ['non-token in a name', `GET / HTTP/1.1\r\n${H}X(y): 5\r\n\r\n`, 400],
    ['non-token method', 'G@T / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['empty method', ' / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['two spaces after the method', 'GET  / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['two spaces after the target', 'GET /  HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['tab as separator', 'GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['control char in the target', 'GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['HTTP/10.0', 'GET / HTTP/10.0\r\nHost: x\r\n\r\n', 400],
    ['HTTP/1.10', 'GET / HTTP/1.10\r\nHost: x\r\n\r\n', 400],
    ['HTTP/1', 'GET / HTTP/1\r\nHost: x\r\n\r\n', 400],
    ['HTTP/0.9 line ending in a bare LF', 'GET /\n\n', 400],
    ['HTTP/0.9 line ending in a bare CR', 'GET /\rX', 400],
    ['asterisk form without Host on HTTP/1.1', 'OPTIONS * HTTP/1.1\r\n\r\n', 400],
    ['lower-case http', 'GET / http/1.1\r\nHost: x\r\n\r\n', 400],
    ['trailing space after the version', 'GET / HTTP/1.1 \r\nHost: x\r\n\r\n', 400],
    ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\nX: y\r\n\r\n', 400],
    ['two Host headers', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['CL and TE', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`, 400],
    ['TE and CL', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n`, 400],
    [
      'different Content-Lengths',
      `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\n`,
      400,
    ],
    ['different Content-Length list', `POST / HTTP/1.1\r\n${H}Content-Length: 5, 6\r\n\r\n`, 400],
    [
      'identical Content-Length repeats (llhttp and Envoy refuse them)',
      `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\ncontent-length: 5\r\n\r\n`,
      400,
    ],
    ['identical Content-Length list', `POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\n`, 400],
    ['empty Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length:\r\n\r\n`, 400],
    ['signed Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\n`, 400],
    ['negative Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, 400],
    ['hex Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: 0x5\r\n\r\n`, 400],
    ['Content-Length with inner space', `POST / HTTP/1.1\r\n${H}Content-Length: 1 2\r\n\r\n`, 400],
    ['Content-Length over 2^53-1', `POST / HTTP/1.1\r\n${H}Content-Length: 9007199254740992\r\n\r\n`, 400],
    ['Content-Length of 17 digits', `POST / HTTP/1.1\r\n${H}Content-Length: 00000000000000001\r\n\r\n`, 400],
    ['TE gzip', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`, 501],
    [
      'TE gzip, chunked (Envoy: only exactly chunked)',
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`,
      501,
    ],
    ['TE chunked, gzip', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n`, 501],
    [
      'TE chunked twice',
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`,
      501,
    ],
    ['TE xchunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n`, 501],
    ['TE empty', `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n\r\n`, 501],
    ['TE on CONNECT', 'CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\nTransfer-Encoding: chunked\r\n\r\n', 501],
    [
      'CL+TE with bad TE is 400 first (Envoy order)',
      `POST / HTTP/1.1\r\n${H}Content-Length: 1\r\nTransfer-Encoding: gzip\r\n\r\n`,
      400,
    ],
    ['too many headers', `GET / HTTP/1.1\r\n${H}${'a: 1\r\n'.repeat(8)}\r\n`, 431],
    ['names + values over the limit', `GET / HTTP/1.1\r\n${H}a: ${'v'.repeat(195)}\r\n\r\n`, 431],
    [
      'target counts against the limit',
      `GET /${'p'.repeat(190)} HTTP/1.1\r\nHost: x\r\nab: cdef\r\n\r\n`,
      431,
    ],
  ];
  for (const [name, input, status] of cases) {
    it(`${name} → ${status}`, () => {
      const r = req(input);
      assert.equal(r.kind, 'error', JSON.stringify(r));
      assert.equal(r.kind === 'error' && r.status, status, JSON.stringify(r));
    });
  }

  it('the size limit is exact: names + values + target (Envoy getHeadersSize)', () => {
    // target '/' (1) + 'host' 'x' (5) + 'a' + value: 1 + 5 + 1 + 193 = 200 = maxHeaderBytes
    assert.equal(req(`GET / HTTP/1.1\r\nHost: x\r\na:   ${'v'.repeat(193)}  \r\n\r\n`).kind, 'head');
    assert.equal(req(`GET / HTTP/1.1\r\nHost: x\r\na: ${'v'.repeat(194)}\r\n\r\n`).kind, 'error');
    assert.equal(req(`GET / HTTP/1.1\r\n${'a: 1\r\n'.repeat(7)}Host: x\r\n\r\n`).kind, 'head');
  });

  it('an unterminated head over the raw cap is 431 without waiting for the end', () => {
    const r = req(`GET / HTTP/1.1\r\nHost: x\r\na: ${'v'.repeat(2000)}`);
    assert.deepEqual(r, { kind: 'error', status: 431, reason: 'header block too large' });
  });

  it('bare LF inside a CRLF-terminated head is named as such', () => {
    for (const input of [
      'GET / HTTP/1.1\r\nHost: x\r\nX: a\nY: b\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nX\nY: b\r\n\r\n',
    ]) {
      assert.deepEqual(req(input), { kind: 'error', status: 400, reason: 'bare LF line ending' });
    }
  });

  it('a bare-LF blank line is 400 without waiting for a CRLFCRLF', () => {
    assert.equal(req('GET / HTTP/1.1\nHost: x\n\n').kind, 'error');
  });
});

describe('parseRequestHead: incremental feeding', () => {
  const message =
    'POST /upload HTTP/1.1\r\nHost: example\r\nContent-Length: 5\r\nX-Long:  some value \r\n\r\nhello' +
    'GET /next HTTP/1.1\r\nHost: example\r\n\r\n';
  const whole = b(message);
  const first = head(parseRequestHead(whole, 0, LIMITS));

  it('every split point: need-more until CRLFCRLF, then the same head', () => {
    for (let k = 0; k <= whole.length; k++) {
      const r = parseRequestHead(whole.subarray(0, k), 0, LIMITS);
      if (k < first.end) assert.deepEqual(r, { kind: 'need-more' }, `k=${k}`);
      else assert.deepEqual(r, first, `k=${k}`);
    }
  });

  it('parses at an offset (pipelined request after a body)', () => {
    const second = head(parseRequestHead(whole, first.end + 5, LIMITS));
    assert.equal(second.target, '/next');
    assert.equal(second.end, whole.length);
    for (let k = first.end + 5; k < whole.length; k++) {
      assert.equal(parseRequestHead(whole.subarray(0, k), first.end + 5, LIMITS).kind, 'need-more', `k=${k}`);
    }
  });

  it('every split point of a bad request: need-more, then the error', () => {
    const bad = b('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (let k = 0; k < bad.length; k++)
      assert.equal(parseRequestHead(bad.subarray(0, k), 0, LIMITS).kind, 'need-more');
    assert.equal(parseRequestHead(bad, 0, LIMITS).kind, 'error');
  });
});

describe('RequestLine: a request that cannot be valid is refused at its first bad byte (llhttp)', () => {
  // [what, bytes, offset of the first byte that makes the request invalid, status, options]
  const cases: [string, string, number, number, RequestOptions?][] = [
    ['binary garbage', '\x01\x02garbage', 0, 400],
    ['TLS sent to a plaintext port', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', 0, 400],
    ['a lower-case method', 'get / HTTP/1.1\r\nHost: x\r\n\r\n', 0, 400],
    ['a method no known one starts with', 'FOO / HTTP/1.1\r\nHost: x\r\n\r\n', 0, 400],
    ['an RTSP method', 'ANNOUNCE / HTTP/1.1\r\nHost: x\r\n\r\n', 1, 400],
    ["llhttp's M-SEARCH (Envoy knows MSEARCH)", 'M-SEARCH * HTTP/1.1\r\nHost: x\r\n\r\n', 1, 400],
    ['the HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 2, 400],
    ['a known method with more letters', 'GETS / HTTP/1.1\r\nHost: x\r\n\r\n', 3, 400],
    ['a prefix of a known method', 'GE / HTTP/1.1\r\nHost: x\r\n\r\n', 2, 400],
    ['a custom method with a non-token byte', 'GE(T / HTTP/1.1\r\nHost: x\r\n\r\n', 2, 400, CUSTOM],
    ['a space before the method', ' GET / HTTP/1.1\r\nHost: x\r\n\r\n', 0, 400],
    ['a bare CR before the request line', '\r\rGET / HTTP/1.1\r\n', 1, 400],
    ['two spaces after the method', 'GET  / HTTP/1.1\r\nHost: x\r\n\r\n', 4, 400],
    ['a target that is no URL', 'GET %2F HTTP/1.1\r\nHost: x\r\n\r\n', 4, 400],
    ['a control byte in the target', 'GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n', 6, 400],
    ['DEL in the target', 'GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n', 6, 400],
    ['a tab in the target', 'GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n', 6, 400],
    ['a non-ASCII byte in the path', 'GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n', 8, 400],
    ['a non-ASCII byte in the query', 'GET /a?q=\xe9 HTTP/1.1\r\nHost: x\r\n\r\n', 9, 400],
    ['a non-ASCII byte after a fragment', 'GET /a#\xe9 HTTP/1.1\r\nHost: x\r\n\r\n', 7, 400],
    ['a scheme without ://', 'GET http:/a HTTP/1.1\r\nHost: x\r\n\r\n', 10, 400],
    ['authority form on GET', 'GET a:443 HTTP/1.1\r\nHost: x\r\n\r\n', 6, 400],
    ['a quote in the host', 'GET http://a"b/ HTTP/1.1\r\nHost: x\r\n\r\n', 12, 400],
    ['two @ in a row in the host', 'GET http://u@@h/ HTTP/1.1\r\nHost: x\r\n\r\n', 13, 400],
    ['a non-ASCII host', 'CONNECT \xe9:443 HTTP/1.1\r\n', 8, 400],
    ['a bare CR after the target (HTTP/0.9 without its LF)', 'GET /\rHost: x\r\n\r\n', 6, 400],
    ['a second space before the version', 'GET /  HTTP/1.1\r\nHost: x\r\n\r\n', 6, 400],
    ['lower-case http', 'GET / http/1.1\r\nHost: x\r\n\r\n', 6, 400],
    ['HTTP/x.1', 'GET / HTTP/x.1\r\nHost: x\r\n\r\n', 11, 400],
    ['HTTP/1.10', 'GET / HTTP/1.10\r\nHost: x\r\n\r\n', 14, 400],
    ['HTTP/1.x', 'GET / HTTP/1.x\r\nHost: x\r\n\r\n', 13, 400],
    ['a space after the version', 'GET / HTTP/1.1 \r\nHost: x\r\n\r\n', 14, 400],
    ['a bare LF after the version', 'GET / HTTP/1.1\nHost: x\r\n\r\n', 14, 400],
    ['a bare CR after the version', 'GET / HTTP/1.1\rHost: x\r\n\r\n', 15, 400],
  ];
  for (const [name, input, at, status, options = DEFAULT_REQUEST_OPTIONS] of cases) {
    it(`${name}: ${status} at byte ${at}, with one read or split anywhere`, () => {
      const whole = b(input);
      // One call per arrival: need-more while every byte so far can start a valid request, then the error.
      for (let k = 0; k <= at; k++) {
        const r = parseRequestHead(whole.subarray(0, k), 0, LIMITS, options);
        assert.deepEqual(r, { kind: 'need-more' }, `k=${k}`);
      }
      for (const k of [at + 1, whole.length]) {
        const r = parseRequestHead(whole.subarray(0, k), 0, LIMITS, options);
        assert.equal(r.kind === 'error' && r.status, status, `k=${k}: ${JSON.stringify(r)}`);
      }
      // The line kept across two reads split at every point: the first read is taken in full, the second
      // goes on from there and fails on the same byte.
      for (let j = 0; j <= at; j++) {
        const line = new RequestLine();
        assert.equal(parseRequestHead(whole.subarray(0, j), 0, LIMITS, options, line).kind, 'need-more');
        assert.equal(line.pos, j, `j=${j}`);
        const r = parseRequestHead(whole, 0, LIMITS, options, line);
        assert.equal(r.kind === 'error' && r.status, status, `j=${j}: ${JSON.stringify(r)}`);
      }
    });
  }

  it('a target alone over max_request_headers_kb is 431 as soon as it ends', () => {
    const r = parseRequestHead(b(`GET /${'p'.repeat(200)} `), 0, LIMITS);
    assert.deepEqual(r, { kind: 'error', status: 431, reason: 'header block too large' });
  });

  it('a request line that never ends is 431 past what a head may take on the wire', () => {
    const line = new RequestLine();
    const custom = b(`X${'X'.repeat(3000)}`);
    const r = parseRequestHead(custom, 0, LIMITS, CUSTOM, line);
    assert.equal(r.kind === 'error' && r.status, 431);
  });

  it('an HTTP/0.9 line is a whole head once its LF is there, however it was split', () => {
    const whole = b('GET /old\r\nGET /next HTTP/1.1\r\n');
    const expected = head(parseRequestHead(whole, 0, LIMITS));
    assert.equal(expected.end, 10);
    for (let j = 0; j <= whole.length; j++) {
      const line = new RequestLine();
      const first = parseRequestHead(whole.subarray(0, j), 0, LIMITS, DEFAULT_REQUEST_OPTIONS, line);
      assert.equal(first.kind, j >= 10 ? 'head' : 'need-more', `j=${j}`);
      if (j < 10)
        assert.deepEqual(parseRequestHead(whole, 0, LIMITS, DEFAULT_REQUEST_OPTIONS, line), expected);
    }
  });

  it('bytes already read are not read again: a second read goes on from where the first stopped', () => {
    const line = new RequestLine();
    assert.equal(parseRequestHead(b('GET /ab'), 0, LIMITS, DEFAULT_REQUEST_OPTIONS, line).kind, 'need-more');
    // Were the first seven bytes read again, the NUL put there now would be refused.
    const h = head(
      parseRequestHead(
        b('\0\0\0\0\0\0\0c HTTP/1.1\r\nHost: x\r\n\r\n'),
        0,
        LIMITS,
        DEFAULT_REQUEST_OPTIONS,
        line,
      ),
    );
    assert.equal(h.method, 'GET');
    assert.equal(h.target.slice(-1), 'c');
  });

  it('every pair of split points of a pipelined head with a kept line gives the same head', () => {
    const whole = b(
      '\r\nPOST http://a.example:8080/p?q#f HTTP/1.1\r\nHost: a.example\r\nContent-Length: 0\r\n\r\n',
    );
    const expected = head(parseRequestHead(whole, 0, LIMITS));
    for (let i = 0; i < whole.length; i++) {
      for (let j = i; j <= whole.length; j++) {
        const line = new RequestLine();
        for (const k of [i, j]) {
          const r = parseRequestHead(whole.subarray(0, k), 0, LIMITS, DEFAULT_REQUEST_OPTIONS, line);
          assert.equal(r.kind, k === whole.length ? 'head' : 'need-more', `${i},${j},${k}`);
        }
        assert.deepEqual(parseRequestHead(whole, 0, LIMITS, DEFAULT_REQUEST_OPTIONS, line), expected);
      }
    }
  });
});

describe('parseRequestHead: methods as Envoy knows them (allow_custom_methods)', () => {
  const known = [
    'ACL',
    'BIND',
    'CHECKOUT',
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
  ];
  it("every method of Envoy's codec is taken, as a shared string", () => {
    for (const m of known) {
      const a = head(req(`${m} / HTTP/1.1\r\nHost: x\r\n\r\n`));
      const again = head(req(`${m} /b HTTP/1.1\r\nHost: x\r\n\r\n`));
      assert.equal(a.method, m);
      assert.equal(again.method, m);
    }
  });
  for (const m of ['get', 'Get', 'FOO', 'ANNOUNCE', 'DESCRIBE', 'M-SEARCH', 'PRI', 'QUERY', 'GETS']) {
    it(`${m}: 400 without allow_custom_methods; with it, taken as sent`, () => {
      const input = `${m} / HTTP/1.1\r\nHost: x\r\n\r\n`;
      assert.deepEqual(req(input), { kind: 'error', status: 400, reason: 'invalid method' });
      assert.equal(head(parseRequestHead(b(input), 0, LIMITS, CUSTOM)).method, m);
    });
  }
  it('with allow_custom_methods a method is still a token', () => {
    for (const m of ['G@T', 'GET/', 'GÉT', '"GET"']) {
      const r = parseRequestHead(b(`${m} / HTTP/1.1\r\nHost: x\r\n\r\n`), 0, LIMITS, CUSTOM);
      assert.equal(r.kind === 'error' && r.status, 400, m);
    }
  });
});

describe('parseRequestHead: request targets', () => {
  const ok: [string, string, string, boolean][] = [
    [
      'origin form with every visible ASCII byte',
      'GET /!"$%&\'()*+,-./:;<=>?@[\\]^_`{|}~ HTTP/1.1',
      '/!"$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
      false,
    ],
    ['a fragment is read (the connection manager refuses it)', 'GET /a?b#c HTTP/1.1', '/a?b#c', true],
    ['absolute form', 'GET http://user@a.example:80/p?q HTTP/1.1', 'http://user@a.example:80/p?q', false],
    ['absolute form, scheme with + - . and digits', 'GET svn+ssh-2.x://h HTTP/1.1', 'svn+ssh-2.x://h', false],
    ['absolute form, fragment', 'GET http://h/p#f HTTP/1.1', 'http://h/p#f', true],
    ['IPv6 host', 'GET http://[::1]:80/ HTTP/1.1', 'http://[::1]:80/', false],
    ['asterisk form', 'OPTIONS * HTTP/1.1', '*', false],
    ['CONNECT authority form', 'CONNECT a.example:443 HTTP/1.1', 'a.example:443', false],
  ];
  for (const [name, line, target, fragment] of ok) {
    it(name, () => {
      const h = head(req(`${line}\r\nHost: x\r\n\r\n`));
      assert.equal(h.target, target);
      assert.equal(h.fragment, fragment);
    });
  }
});

describe('parseRequestHead: Upgrade: h2c is served as HTTP/1.1 (Envoy removes the upgrade)', () => {
  const curl =
    'GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n' +
    'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n';
  it("curl --http2's request: no upgrade; Upgrade, HTTP2-Settings and Connection removed; keep-alive", () => {
    const h = head(req(curl));
    assert.equal(h.upgrade, undefined);
    assert.deepEqual(h.headers, [
      ['host', 'x'],
      ['user-agent', 'curl/7.88.1'],
      ['accept', '*/*'],
    ]);
    assert.equal(h.keepAlive, true);
  });
  it('other Connection tokens stay; the value is matched without regard to case', () => {
    const h = head(
      req(
        'GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, UPGRADE ,http2-settings, x-y\r\nUpgrade: H2C\r\n\r\n',
      ),
    );
    assert.equal(h.upgrade, undefined);
    assert.deepEqual(h.headers, [
      ['host', 'x'],
      ['connection', 'keep-alive,x-y'],
    ]);
  });
  it('Upgrade: h2c without Connection: upgrade is no upgrade and is left as it is', () => {
    const h = head(req('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n'));
    assert.equal(h.upgrade, undefined);
    assert.deepEqual(h.headers, [
      ['host', 'x'],
      ['upgrade', 'h2c'],
    ]);
  });
  it('other upgrades are still upgrades', () => {
    assert.equal(
      head(req('GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2\r\n\r\n')).upgrade,
      'h2',
    );
  });
});

describe('parseRequestHead: CONNECT is an upgrade of its own; a CONNECT body is 400', () => {
  it('CONNECT is an upgrade (what follows the head is not HTTP/1.1)', () => {
    const h = head(req('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n'));
    assert.equal(h.upgrade, 'CONNECT');
    assert.deepEqual(h.body, { kind: 'none' });
  });
  it('Content-Length: 0 is removed; any other Content-Length is 400 (Envoy BodyDisallowed)', () => {
    const h = head(req('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 0\r\n\r\n'));
    assert.deepEqual(h.headers, [['host', 'a:443']]);
    assert.deepEqual(req('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 5\r\n\r\nhello'), {
      kind: 'error',
      status: 400,
      reason: 'CONNECT with a body',
    });
    const both = req(
      'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    assert.equal(both.kind === 'error' && both.status, 400);
  });
  it('a CONNECT that also asks for an Upgrade is that upgrade', () => {
    const h = head(
      req('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n'),
    );
    assert.equal(h.upgrade, 'websocket');
  });
});

describe('parseResponseHead', () => {
  const cases: [string, string, string, Partial<ResponseHead>][] = [
    [
      'Content-Length',
      'GET',
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc',
      {
        status: 200,
        reason: 'OK',
        version: '1.1',
        body: { kind: 'length', length: 3 },
        keepAlive: true,
        end: 38,
      },
    ],
    [
      'chunked',
      'GET',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
      { body: { kind: 'chunked' } },
    ],
    [
      'neither: read until close',
      'GET',
      'HTTP/1.1 200 OK\r\n\r\n',
      { body: { kind: 'close' }, keepAlive: false },
    ],
    [
      'CL 0',
      'GET',
      'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
      { body: { kind: 'none' }, keepAlive: true },
    ],
    [
      'HEAD: no body despite CL',
      'HEAD',
      'HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n',
      { body: { kind: 'none' } },
    ],
    [
      'HEAD: no body despite TE',
      'HEAD',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
      { body: { kind: 'none' } },
    ],
    [
      'HEAD without framing stays keep-alive',
      'HEAD',
      'HTTP/1.1 200 OK\r\n\r\n',
      { body: { kind: 'none' }, keepAlive: true },
    ],
    [
      '204',
      'GET',
      'HTTP/1.1 204 No Content\r\n\r\n',
      { status: 204, body: { kind: 'none' }, keepAlive: true },
    ],
    [
      '304 with CL',
      'GET',
      'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n',
      { body: { kind: 'none' } },
    ],
    ['100 Continue', 'PUT', 'HTTP/1.1 100 Continue\r\n\r\n', { status: 100, body: { kind: 'none' } }],
    [
      '101 upgrade',
      'GET',
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
      { status: 101, body: { kind: 'none' }, upgrade: 'websocket' },
    ],
    [
      'CONNECT 200: tunnel, no body',
      'CONNECT',
      'HTTP/1.1 200 Connection established\r\n\r\n',
      { body: { kind: 'none' } },
    ],
    [
      'CONNECT 407 has a body',
      'CONNECT',
      'HTTP/1.1 407 Auth\r\nContent-Length: 2\r\n\r\n',
      { body: { kind: 'length', length: 2 } },
    ],
    ['no reason phrase', 'GET', 'HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n', { reason: '' }],
    [
      'an empty line before the status line is skipped (llhttp)',
      'GET',
      '\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
      { status: 200, reason: 'OK', end: 40 },
    ],
    [
      'any CR and LF before the status line are skipped (llhttp)',
      'GET',
      '\r\n\n\r\r\nHTTP/1.1 204 No Content\r\n\r\n',
      { status: 204, end: 33 },
    ],
    [
      'no SP before an empty reason',
      'GET',
      'HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n',
      { status: 200, reason: '' },
    ],
    [
      'reason with spaces',
      'GET',
      'HTTP/1.1 404 Not  Found\r\nContent-Length: 0\r\n\r\n',
      { reason: 'Not  Found' },
    ],
    [
      'HTTP/1.0 closes by default',
      'GET',
      'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n',
      { keepAlive: false },
    ],
    [
      'HTTP/1.0 keep-alive',
      'GET',
      'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n',
      { keepAlive: true },
    ],
    [
      'Connection: close',
      'GET',
      'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      { keepAlive: false },
    ],
  ];
  for (const [name, method, input, expected] of cases) {
    it(name, () => {
      const h = rhead(res(input, method));
      for (const [k, v] of Object.entries(expected)) assert.deepEqual(h[k as keyof ResponseHead], v, k);
    });
  }

  const errors: [string, string][] = [
    ['CL and TE', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['different CLs', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'],
    ['bad CL', 'HTTP/1.1 200 OK\r\nContent-Length: 1a\r\n\r\n'],
    ['TE gzip', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'],
    ['HTTP/2.0', 'HTTP/2.0 200 OK\r\n\r\n'],
    ['not HTTP', 'ICY 200 OK\r\n\r\n'],
    ['two-digit status', 'HTTP/1.1 20 OK\r\n\r\n'],
    ['status 099', 'HTTP/1.1 099 OK\r\n\r\n'],
    ['four-digit status', 'HTTP/1.1 2000 OK\r\n\r\n'],
    ['bare LF', 'HTTP/1.1 200 OK\nContent-Length: 0\n\n'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n'],
    ['NUL in the reason', 'HTTP/1.1 200 O\0K\r\n\r\n'],
    ['too many headers', `HTTP/1.1 200 OK\r\n${'a: 1\r\n'.repeat(9)}\r\n`],
  ];
  for (const [name, input] of errors) {
    it(`${name} → 502`, () => {
      const r = res(input);
      assert.equal(r.kind, 'error', JSON.stringify(r));
      assert.equal(r.kind === 'error' && r.status, 502);
    });
  }

  it('CRLF then a response, every split point: need-more, then the same head', () => {
    const whole = b('\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    const full = rhead(parseResponseHead(whole, 0, LIMITS, 'GET'));
    assert.equal(full.end, whole.length - 2);
    for (let k = 0; k < full.end; k++) {
      assert.deepEqual(
        parseResponseHead(whole.subarray(0, k), 0, LIMITS, 'GET'),
        { kind: 'need-more' },
        `k=${k}`,
      );
    }
    assert.deepEqual(parseResponseHead(whole, 0, LIMITS, 'GET'), full);
  });

  it('empty lines without end are 502 once past what a head may take', () => {
    const r = parseResponseHead(b('\r\n'.repeat(2000)), 0, LIMITS, 'GET');
    assert.equal(r.kind === 'error' && r.status, 502);
  });

  it('every split point: need-more, then the same head', () => {
    const whole = b('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok');
    const full = rhead(parseResponseHead(whole, 0, LIMITS, 'GET'));
    for (let k = 0; k < full.end; k++) {
      assert.deepEqual(parseResponseHead(whole.subarray(0, k), 0, LIMITS, 'GET'), { kind: 'need-more' });
    }
    for (let k = full.end; k <= whole.length; k++) {
      assert.deepEqual(parseResponseHead(whole.subarray(0, k), 0, LIMITS, 'GET'), full);
    }
  });
});

describe('serialize heads', () => {
  const headers: HeaderField[] = [
    ['host', 'example'],
    ['x-request-id', 'abc'],
    ['content-length', '5'],
  ];
  it('request: one buffer, HTTP/1.1, final CRLF; parses back to the same fields', () => {
    const out = serializeRequestHead('POST', '/p?q', headers);
    assert.equal(
      out.toString('latin1'),
      'POST /p?q HTTP/1.1\r\nhost: example\r\nx-request-id: abc\r\ncontent-length: 5\r\n\r\n',
    );
    const h = head(parseRequestHead(out, 0, LIMITS));
    assert.deepEqual([h.method, h.target, h.headers, h.end], ['POST', '/p?q', headers, out.length]);
  });
  it('response: one buffer; obs-text survives (latin1)', () => {
    const out = serializeResponseHead(200, 'OK', [['x', '\xe9']]);
    assert.equal(out.toString('latin1'), 'HTTP/1.1 200 OK\r\nx: \xe9\r\n\r\n');
    assert.deepEqual(rhead(parseResponseHead(out, 0, LIMITS, 'GET')).headers, [['x', '\xe9']]);
  });
});

/** Feeds `pieces` to a fresh decoder; returns the payload, trailers, done, error and bytes consumed overall. */
function decode(pieces: Buffer[], limits?: HeadLimits) {
  const d = new ChunkedDecoder(limits);
  const data: Buffer[] = [];
  let consumed = 0;
  let last: ChunkedResult = { data: [], done: false, consumed: 0 };
  for (const p of pieces) {
    last = d.push(p);
    data.push(...last.data);
    consumed += last.consumed;
    if (last.done || last.error !== undefined) break;
  }
  return {
    payload: Buffer.concat(data).toString('latin1'),
    done: last.done,
    trailers: last.trailers,
    error: last.error,
    consumed,
  };
}

describe('ChunkedDecoder', () => {
  const cases: [string, string, string, HeaderField[]][] = [
    ['one chunk', '5\r\nhello\r\n0\r\n\r\n', 'hello', []],
    ['hex sizes, both cases', 'a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n', '0123456789abcdefghij', []],
    ['leading zeros', '0005\r\nhello\r\n000\r\n\r\n', 'hello', []],
    ['empty body', '0\r\n\r\n', '', []],
    ['extensions', '5;a=b;c="d;e"\r\nhello\r\n0;last\r\n\r\n', 'hello', []],
    ['BWS before an extension', '5 \t;a\r\nhello\r\n0\r\n\r\n', 'hello', []],
    [
      'extensions as llhttp takes them: empty value, empty names, quoted-pair, ; and = inside quotes',
      '2;a=;b;;=v;c="x\\"y;=z"\r\nok\r\n0;q="\\""\r\n\r\n',
      'ok',
      [],
    ],
    ['payload with CRLF inside', '4\r\n\r\n\r\n\r\n0\r\n\r\n', '\r\n\r\n', []],
    [
      'trailers',
      '3\r\nabc\r\n0\r\nX-Checksum:  ab12 \r\nExpires: never\r\n\r\n',
      'abc',
      [
        ['x-checksum', 'ab12'],
        ['expires', 'never'],
      ],
    ],
  ];
  for (const [name, input, payload, trailers] of cases) {
    const whole = b(`${input}NEXT`);
    const bodyLen = input.length;
    it(`${name}: whole, every split point, byte by byte`, () => {
      const splits: Buffer[][] = [[whole]];
      for (let k = 1; k < whole.length; k++) splits.push([whole.subarray(0, k), whole.subarray(k)]);
      splits.push([...whole].map((c) => Buffer.from([c])));
      for (const pieces of splits) {
        const r = decode(pieces);
        const where = pieces.map((p) => p.length).join('+');
        assert.equal(r.error, undefined, where);
        assert.equal(r.done, true, where);
        assert.equal(r.payload, payload, where);
        assert.deepEqual(r.trailers, trailers, where);
        assert.equal(r.consumed, bodyLen, where);
      }
    });
  }

  it('every pair of split points of a body with extensions and trailers', () => {
    const whole = b('3;x=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n');
    for (let i = 1; i < whole.length; i++) {
      for (let j = i + 1; j < whole.length; j++) {
        const r = decode([whole.subarray(0, i), whole.subarray(i, j), whole.subarray(j)]);
        assert.equal(r.payload, 'abc0123456789abcdef', `${i},${j}`);
        assert.deepEqual(r.trailers, [['t', 'v']], `${i},${j}`);
        assert.equal(r.consumed, whole.length, `${i},${j}`);
      }
    }
  });

  it('data slices are views of the pushed buffer, not copies', () => {
    const buf = b('5\r\nhello\r\n0\r\n\r\n');
    const r = new ChunkedDecoder().push(buf);
    assert.equal(r.data.length, 1);
    assert.equal(r.data[0]?.buffer, buf.buffer);
  });

  it('pushes after done consume nothing', () => {
    const d = new ChunkedDecoder();
    assert.equal(d.push(b('0\r\n\r\n')).done, true);
    assert.deepEqual(d.push(b('GET')), { data: [], done: true, consumed: 0, trailers: [] });
    assert.equal(d.done, true);
  });

  const errors: [string, string, string][] = [
    ['no size', '\r\nhello\r\n0\r\n\r\n', 'invalid chunk size'],
    ['garbage size', 'zz\r\n', 'invalid chunk size'],
    ['leading space', ' 5\r\nhello\r\n0\r\n\r\n', 'invalid chunk size'],
    ['0x prefix', '0x5\r\nhello\r\n0\r\n\r\n', 'invalid chunk size'],
    ['negative', '-5\r\nhello\r\n', 'invalid chunk size'],
    ['space after size without extension', '5 \r\nhello\r\n0\r\n\r\n', 'invalid chunk size'],
    ['17 hex digits', '00000000000000001\r\nx\r\n0\r\n\r\n', 'chunk size too long'],
    ['over 2^53-1', '20000000000000\r\n', 'chunk size too large'],
    ['16 f (2^64-1)', 'ffffffffffffffff\r\n', 'chunk size too large'],
    ['bare LF after size', '5\nhello\r\n0\r\n\r\n', 'invalid chunk size'],
    ['bare CR after size', '5\rhello\r\n0\r\n\r\n', 'bare CR after the chunk size'],
    ['bare LF in an extension', '5;a\nhello\r\n0\r\n\r\n', 'invalid character in a chunk extension'],
    ['NUL in an extension', '5;a\0\r\nhello\r\n0\r\n\r\n', 'invalid character in a chunk extension'],
    ['extension too long', `5;${'a'.repeat(5000)}\r\nhello\r\n`, 'chunk extension too long'],
    [
      'an empty extension (llhttp refuses it)',
      '2;\r\nok\r\n0\r\n\r\n',
      'invalid character in a chunk extension',
    ],
    ['an empty extension after another', '2;a;\r\nok\r\n0\r\n\r\n', 'invalid character in a chunk extension'],
    [
      'an unclosed quoted value (llhttp refuses it)',
      '2;a="b\r\nok\r\n0\r\n\r\n',
      'invalid character in a chunk extension',
    ],
    ['whitespace after the ;', '2; a\r\nok\r\n0\r\n\r\n', 'invalid character in a chunk extension'],
    ['whitespace in a name', '2;a b\r\nok\r\n0\r\n\r\n', 'invalid character in a chunk extension'],
    ['whitespace before the =', '2;a =b\r\nok\r\n0\r\n\r\n', 'invalid character in a chunk extension'],
    ['a non-token value', '2;a=b@c\r\nok\r\n0\r\n\r\n', 'invalid character in a chunk extension'],
    ['a byte after a closed quote', '2;a="b"c\r\nok\r\n0\r\n\r\n', 'invalid character in a chunk extension'],
    [
      'a control byte in a quoted value',
      '2;a="\x01"\r\nok\r\n0\r\n\r\n',
      'invalid character in a chunk extension',
    ],
    [
      'a quoted pair of a control byte',
      '2;a="\\\x01"\r\nok\r\n0\r\n\r\n',
      'invalid character in a chunk extension',
    ],
    ['an unclosed quote in the last chunk', '0;a="\r\n\r\n', 'invalid character in a chunk extension'],
    ['data longer than the size', '5\r\nhello!\r\n0\r\n\r\n', 'missing CRLF after chunk data'],
    ['bare LF after data', '5\r\nhello\n0\r\n\r\n', 'missing CRLF after chunk data'],
    ['CR without LF after data', '5\r\nhello\rX0\r\n\r\n', 'missing CRLF after chunk data'],
    ['bare LF ending the trailers', '0\r\n\n', 'bare LF in the trailers'],
    ['bare LF ending a trailer', '0\r\nA: b\n\r\n', 'bare LF in the trailers'],
    ['obs-fold in trailers', '0\r\nA: b\r\n c\r\n\r\n', 'trailer: obsolete line folding'],
    ['whitespace before a trailer colon', '0\r\nA : b\r\n\r\n', 'trailer: whitespace before the colon'],
    ['bare CR in trailers', '0\r\nA: b\rc\r\n\r\n', 'bare CR in the trailers'],
    ['too many trailers', `0\r\n${'a: 1\r\n'.repeat(9)}\r\n`, 'too many trailers'],
    ['trailers too large', `0\r\na: ${'v'.repeat(2000)}`, 'trailers too large'],
  ];
  for (const [name, input, error] of errors) {
    it(`${name} → ${error}, at any split, and sticky`, () => {
      const whole = b(input);
      for (let k = 1; k <= whole.length; k++) {
        const r = decode([whole.subarray(0, k), whole.subarray(k)], LIMITS);
        assert.equal(r.error, error, `k=${k}`);
        assert.equal(r.done, false);
      }
      const d = new ChunkedDecoder(LIMITS);
      d.push(whole);
      assert.equal(d.push(b('0\r\n\r\n')).error, error);
    });
  }

  it('payload before a fault is still returned', () => {
    const r = new ChunkedDecoder().push(b('3\r\nabc\r\nzz'));
    assert.equal(Buffer.concat(r.data).toString(), 'abc');
    assert.equal(r.error, 'invalid chunk size');
  });
});
