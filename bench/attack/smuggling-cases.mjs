// Request-smuggling cases for class 3. Each case is the bytes a hostile client sends on one connection (`parts`:
// strings sent as latin1, numbers are pauses in ms) and `means`: the readings that are NOT a desync, each a list
// of the requests the app may receive, in order ({method, target, body}; a RegExp target matches). Refusing is
// always allowed (the proxy answers 4xx/5xx or closes, and the app gets nothing, or only a prefix of one
// reading); `means: []` says refusing is the only right answer. Whatever the reading, the app must never see a
// request whose target holds `/smuggled` (a request hidden from the proxy) nor bytes its strict reader refuses.
// `control: true` cases are valid requests that must be forwarded: they prove each path works.
//
// Sources for the expected behaviour: RFC 9112 §2.2 (bare CR/LF), §3 (request line), §5.1-5.2 (field syntax,
// obs-fold), §6.1-6.3 (Transfer-Encoding, Content-Length, both), §7.1 (chunked), §9.3 (persistence), §11.2
// (smuggling); Envoy's HTTP/1 codec on llhttp (strict mode) refuses every ambiguous case with 400 (501 for an
// unknown transfer coding).

const H = 'host: ratings\r\n';
const req = (method, target, body = '') => ({ method, target, body });
const GET = req('GET', '/');
const hello = (method = 'POST') => req(method, '/', 'hello');
const post = (headers, body) => `POST / HTTP/1.1\r\n${H}${headers}\r\n${body}`;
const chunked = (te, body) => post(`transfer-encoding: ${te}\r\n`, body);
const HELLO_CHUNKED = '5\r\nhello\r\n0\r\n\r\n';
const HIDDEN = `GET /smuggled HTTP/1.1\r\n${H}\r\n`;
const second = (n = '') => `GET /second${n} HTTP/1.1\r\n${H}\r\n`;

/** @type {{name: string, group: string, parts: (string|number)[], means: object[][], control?: boolean, forbidHeaders?: string[]}[]} */
export const CASES = [];
function c(group, name, parts, means, extra = {}) {
  CASES.push({ group, name, parts: Array.isArray(parts) ? parts : [parts], means, ...extra });
}

// Controls: what every path must forward.
c('control', 'plain GET', `GET / HTTP/1.1\r\n${H}\r\n`, [[GET]], { control: true });
c('control', 'POST with Content-Length', post('content-length: 5\r\n', 'hello'), [[hello()]], {
  control: true,
});
c('control', 'POST chunked', chunked('chunked', HELLO_CHUNKED), [[hello()]], { control: true });
c(
  'control',
  'two pipelined GETs',
  second('-1') + second('-2'),
  [[req('GET', '/second-1'), req('GET', '/second-2')]],
  {
    control: true,
  },
);

// Content-Length and Transfer-Encoding together (RFC 9112 §6.3: TE wins, and the connection must close after).
c('CL+TE', 'CL then TE', post('content-length: 6\r\ntransfer-encoding: chunked\r\n', '0\r\n\r\nX'), [
  [req('POST', '/', '')],
  [req('POST', '/', '0\r\n\r\nX')],
]);
c('CL+TE', 'TE then CL', post('transfer-encoding: chunked\r\ncontent-length: 6\r\n', '0\r\n\r\nX'), [
  [req('POST', '/', '')],
  [req('POST', '/', '0\r\n\r\nX')],
]);
c(
  'CL+TE',
  'CL.TE: CL covers a request after the last chunk',
  post(`content-length: ${5 + HIDDEN.length}\r\ntransfer-encoding: chunked\r\n`, `0\r\n\r\n${HIDDEN}`),
  [[req('POST', '/', '')], [req('POST', '/', `0\r\n\r\n${HIDDEN}`)]],
);
{
  const inner = `${HIDDEN}`;
  const size = inner.length.toString(16);
  c(
    'CL+TE',
    'TE.CL: chunk data is a request for a CL reader',
    post(
      `transfer-encoding: chunked\r\ncontent-length: ${size.length + 2}\r\n`,
      `${size}\r\n${inner}\r\n0\r\n\r\n`,
    ),
    [[req('POST', '/', inner)], [req('POST', '/', `${size}\r\n`)]],
  );
}
c(
  'CL+TE',
  'CL then TE on HTTP/1.0',
  `POST / HTTP/1.0\r\n${H}content-length: 6\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nX`,
  [[req('POST', '/', '')], [req('POST', '/', '0\r\n\r\nX')]],
);

// Transfer-Encoding obfuscations.
c(
  'TE',
  'two TE lines: chunked, chunked',
  post('transfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n', HELLO_CHUNKED),
  [],
);
c('TE', 'TE: chunked, chunked', chunked('chunked, chunked', HELLO_CHUNKED), []);
c('TE', 'TE: identity, chunked', chunked('identity, chunked', HELLO_CHUNKED), [[hello()]]);
c(
  'TE',
  'TE: chunked, identity with CL',
  post('transfer-encoding: chunked, identity\r\ncontent-length: 5\r\n', 'hello'),
  [],
);
c('TE', 'TE: Chunked (capital C)', chunked('Chunked', HELLO_CHUNKED), [[hello()]]);
c('TE', 'TE: CHUNKED', chunked('CHUNKED', HELLO_CHUNKED), [[hello()]]);
c('TE', 'TE: "chunked " (trailing space)', chunked('chunked ', HELLO_CHUNKED), [[hello()]]);
c('TE', 'TE with a tab before the value', post('transfer-encoding:\tchunked\r\n', HELLO_CHUNKED), [
  [hello()],
]);
c(
  'TE',
  'TE with a vertical tab, and CL',
  post('transfer-encoding:\x0bchunked\r\ncontent-length: 5\r\n', 'hello'),
  [],
);
c('TE', 'TE value on a folded line', post('transfer-encoding:\r\n chunked\r\n', HELLO_CHUNKED), [[hello()]]);
c(
  'TE',
  'TE with a space before the colon, and CL',
  post('transfer-encoding : chunked\r\ncontent-length: 5\r\n', 'hello'),
  [],
);
c('TE', 'TE: xchunked with CL', post('transfer-encoding: xchunked\r\ncontent-length: 5\r\n', 'hello'), []);
c('TE', 'TE: "chunked" quoted', chunked('"chunked"', HELLO_CHUNKED), []);
c('TE', 'TE: ,chunked (empty list element)', chunked(',chunked', HELLO_CHUNKED), [[hello()]]);
c('TE', 'TE: chunked followed by NUL', chunked('chunked\0', HELLO_CHUNKED), []);
c('TE', 'TE: chunked, gzip', chunked('chunked, gzip', HELLO_CHUNKED), []);
c(
  'TE',
  'TE chunked on HTTP/1.0',
  `POST / HTTP/1.0\r\n${H}transfer-encoding: chunked\r\n\r\n${HELLO_CHUNKED}`,
  [[hello()]],
);
c('TE', 'TE chunked on GET', `GET / HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\n${HELLO_CHUNKED}`, [
  [hello('GET')],
]);
c(
  'TE',
  'Transfer_Encoding (underscore) with CL',
  post('transfer_encoding: chunked\r\ncontent-length: 5\r\n', 'hello'),
  [[hello()]],
);

// Content-Length variants.
c('CL', 'CL twice, same value', post('content-length: 5\r\ncontent-length: 5\r\n', 'hello'), [[hello()]]);
c('CL', 'CL twice, different values', post('content-length: 5\r\ncontent-length: 6\r\n', 'hello!'), []);
c('CL', 'CL: 5, 5', post('content-length: 5, 5\r\n', 'hello'), [[hello()]]);
c('CL', 'CL: 5, 6', post('content-length: 5, 6\r\n', 'hello!'), []);
c('CL', 'CL: +5', post('content-length: +5\r\n', 'hello'), []);
c('CL', 'CL: -1', post('content-length: -1\r\n', 'hello'), []);
c('CL', 'CL: "5 0" (space inside)', post('content-length: 5 0\r\n', 'hello'), []);
c('CL', 'CL: 005', post('content-length: 005\r\n', 'hello'), [[hello()]]);
c('CL', 'CL: 0x5', post('content-length: 0x5\r\n', 'hello'), []);
c('CL', 'CL with a trailing space', post('content-length: 5 \r\n', 'hello'), [[hello()]]);
c('CL', 'CL with a tab before the value', post('content-length:\t5\r\n', 'hello'), [[hello()]]);
c('CL', 'CL of 20 digits', post('content-length: 18446744073709551621\r\n', 'hello'), []);
c('CL', 'CL as a full-width digit', post('content-length: \xef\xbc\x95\r\n', 'hello'), []);
c('CL', 'CL empty', post('content-length: \r\n', 'hello'), []);
c('CL', 'CL on a folded line', post('content-length:\r\n 5\r\n', 'hello'), [[hello()]]);
c('CL', 'CL shorter than the body: the rest is not a request', post('content-length: 3\r\n', 'helloXYZ'), [
  [req('POST', '/', 'hel')],
]);
c('CL', 'CL covers a request-shaped body', post(`content-length: ${HIDDEN.length}\r\n`, HIDDEN), [
  [req('POST', '/', HIDDEN)],
]);
c('CL', 'CL: 0, then a pipelined request', post('content-length: 0\r\n', second()), [
  [req('POST', '/', ''), req('GET', '/second')],
]);
c('CL', 'CL larger than the body sent', post('content-length: 50\r\n', 'hello'), []);
c('CL', 'CL: 0 with bytes after that are not a request', post('content-length: 0\r\n', 'hello'), [
  [req('POST', '/', '')],
]);
c('CL', 'GET with a CL body', `GET / HTTP/1.1\r\n${H}content-length: 5\r\n\r\nhello`, [[hello('GET')]]);

// Chunked body abuse.
c(
  'chunked',
  'chunk size of 17 hex digits (64-bit wrap)',
  chunked('chunked', `10000000000000005\r\nhello\r\n0\r\n\r\n`),
  [],
);
c('chunked', 'chunk size 2^64-1', chunked('chunked', `ffffffffffffffff\r\nhello\r\n0\r\n\r\n`), []);
c('chunked', 'chunk size with leading zeros', chunked('chunked', `0005\r\nhello\r\n0\r\n\r\n`), [[hello()]]);
c('chunked', 'chunk size with an invalid character', chunked('chunked', `5g\r\nhello\r\n0\r\n\r\n`), []);
c('chunked', 'negative chunk size', chunked('chunked', `-5\r\nhello\r\n0\r\n\r\n`), []);
c('chunked', 'chunk size 0x5', chunked('chunked', `0x5\r\nhello\r\n0\r\n\r\n`), []);
c('chunked', 'chunk size with a leading space', chunked('chunked', ` 5\r\nhello\r\n0\r\n\r\n`), []);
c('chunked', 'chunk size with a trailing space', chunked('chunked', `5 \r\nhello\r\n0\r\n\r\n`), [[hello()]]);
c('chunked', 'chunk extension', chunked('chunked', `5;name=value\r\nhello\r\n0\r\n\r\n`), [[hello()]]);
c(
  'chunked',
  'chunk extension of 6 KiB',
  chunked('chunked', `5;x=${'a'.repeat(6144)}\r\nhello\r\n0\r\n\r\n`),
  [[hello()]],
);
c('chunked', 'chunk extension with a bare LF', chunked('chunked', `5;a\nb\r\nhello\r\n0\r\n\r\n`), []);
c('chunked', 'chunk extension with a quoted CRLF', chunked('chunked', `5;a="x\r\nhello\r\n0\r\n\r\n`), [
  [hello()],
]);
c('chunked', 'chunk data longer than its size', chunked('chunked', `3\r\nhello\r\n0\r\n\r\n`), []);
c('chunked', 'chunk data shorter than its size', chunked('chunked', `5\r\nhel\r\n0\r\n\r\n`), []);
c('chunked', 'bare LF after the chunk size', chunked('chunked', `5\nhello\r\n0\r\n\r\n`), []);
c('chunked', 'bare CR after the chunk size', chunked('chunked', `5\rhello\r\n0\r\n\r\n`), []);
c('chunked', 'bare LF after the chunk data', chunked('chunked', `5\r\nhello\n0\r\n\r\n`), []);
c('chunked', 'last chunk without the final CRLF', chunked('chunked', `5\r\nhello\r\n0\r\n`), []);
c('chunked', 'last chunk with an extension', chunked('chunked', `5\r\nhello\r\n0;x=y\r\n\r\n`), [[hello()]]);
c(
  'chunked',
  'Content-Length in the trailers',
  chunked('chunked', `5\r\nhello\r\n0\r\ncontent-length: 50\r\n\r\n`),
  [[hello()]],
);
c('chunked', 'last chunk, then a pipelined request', chunked('chunked', `0\r\n\r\n${second()}`), [
  [req('POST', '/', ''), req('GET', '/second')],
]);
c('chunked', 'trailers, then a pipelined request', chunked('chunked', `0\r\nx-t: 1\r\n\r\n${second()}`), [
  [req('POST', '/', ''), req('GET', '/second')],
]);

// Line endings and field syntax.
c('syntax', 'bare LF line endings', 'GET / HTTP/1.1\nhost: ratings\n\n', [[GET]]);
c('syntax', 'bare LF inside one header line', `GET / HTTP/1.1\r\n${H.slice(0, -2)}\nx-a: 1\r\n\r\n`, [[GET]]);
c('syntax', 'bare CR inside the header block', `GET / HTTP/1.1\r\n${H}x-a: 1\rx-b: 2\r\n\r\n`, []);
c('syntax', 'NUL in a header value', `GET / HTTP/1.1\r\n${H}x-a: a\0b\r\n\r\n`, []);
c('syntax', 'NUL in a header name', `GET / HTTP/1.1\r\n${H}x\0a: b\r\n\r\n`, []);
c('syntax', 'space before the colon of Content-Length', post('content-length : 5\r\n', 'hello'), []);
c('syntax', 'space inside a header name', `GET / HTTP/1.1\r\n${H}foo bar: 1\r\n\r\n`, []);
c('syntax', 'folded first header line', `GET / HTTP/1.1\r\n x-a: 1\r\n${H}\r\n`, [[GET]]);
c('syntax', 'header line without a colon', `GET / HTTP/1.1\r\n${H}garbage\r\n\r\n`, []);
c('syntax', 'empty header name', `GET / HTTP/1.1\r\n${H}: x\r\n\r\n`, []);
c('syntax', 'non-ASCII header name', `GET / HTTP/1.1\r\n${H}x-\xe9: 1\r\n\r\n`, []);
c('syntax', 'obs-text in a header value', `GET / HTTP/1.1\r\n${H}x-a: \xe9\r\n\r\n`, [[GET]]);
c('syntax', 'DEL in a header value', `GET / HTTP/1.1\r\n${H}x-a: a\x7fb\r\n\r\n`, []);
c('syntax', 'colons inside a header value', `GET / HTTP/1.1\r\n${H}x-a: b: c\r\n\r\n`, [[GET]]);
c('syntax', 'two Host headers', `GET / HTTP/1.1\r\n${H}host: other\r\n\r\n`, []);
c('syntax', 'HTTP/1.1 without Host', 'GET / HTTP/1.1\r\nx-a: 1\r\n\r\n', []);
c('syntax', 'HTTP/1.0 without Host', 'GET / HTTP/1.0\r\n\r\n', [[GET]]);
c('syntax', 'header block of 70 KiB', `GET / HTTP/1.1\r\n${H}x-big: ${'a'.repeat(70 * 1024)}\r\n\r\n`, [
  [GET],
]);
c(
  'syntax',
  '150 header fields',
  `GET / HTTP/1.1\r\n${H}${Array.from({ length: 150 }, (_, i) => `x-h${i}: ${i}\r\n`).join('')}\r\n`,
  [[GET]],
);

// Request line and target.
c('target', '# in the target', `GET /a#frag HTTP/1.1\r\n${H}\r\n`, [[req('GET', /^\/a(#frag)?$/)]]);
c('target', 'non-ASCII byte in the target', `GET /\xe9 HTTP/1.1\r\n${H}\r\n`, [
  [req('GET', /^\/(\xe9|%[eE]9|%C3%A9)$/)],
]);
c('target', 'space in the target', `GET /a b HTTP/1.1\r\n${H}\r\n`, []);
c('target', 'tab in the target', `GET /a\tb HTTP/1.1\r\n${H}\r\n`, []);
c('target', 'absolute-form naming another host', 'GET http://ratings/x HTTP/1.1\r\nhost: other\r\n\r\n', [
  [req('GET', /^(\/x|http:\/\/ratings\/x)$/)],
]);
c('target', 'asterisk-form OPTIONS', `OPTIONS * HTTP/1.1\r\n${H}\r\n`, [[req('OPTIONS', '*')]]);
c('target', 'authority-form on GET', `GET ratings:80 HTTP/1.1\r\n${H}\r\n`, [[req('GET', 'ratings:80')]]);
c(
  'method',
  'CONNECT, then a request in the tunnel',
  `CONNECT ratings:443 HTTP/1.1\r\nhost: ratings:443\r\n\r\n${HIDDEN}`,
  [[req('CONNECT', 'ratings:443')]],
);
// Envoy's codec enters upgrade mode on CONNECT (codec_impl.cc "codec entering upgrade mode for CONNECT
// request"): what follows the head is tunnel payload, never parsed as requests; a CONNECT with a body is 400,
// a target that is not authority-form is 400 ("invalid url in request line").
c(
  'method',
  'CONNECT with a body, then a request',
  `CONNECT ratings:443 HTTP/1.1\r\nhost: ratings:443\r\ncontent-length: 5\r\n\r\nhello${HIDDEN}`,
  [],
);
c('method', 'CONNECT with an origin-form target', `CONNECT / HTTP/1.1\r\n${H}\r\n`, []);
c('method', 'lower-case method', `get / HTTP/1.1\r\n${H}\r\n`, [[req('get', '/')]]);
c('method', 'unknown method', `FOO / HTTP/1.1\r\n${H}\r\n`, [[req('FOO', '/')]]);
c('method', 'method of 10 KiB', `${'G'.repeat(10240)} / HTTP/1.1\r\n${H}\r\n`, [
  [req('G'.repeat(10240), '/')],
]);
c('method', 'two spaces after the method', `GET  / HTTP/1.1\r\n${H}\r\n`, []);
c('version', 'HTTP/1.2', `GET / HTTP/1.2\r\n${H}\r\n`, [[GET]]);
c('version', 'HTTP/2.0 in an HTTP/1 request line', `GET / HTTP/2.0\r\n${H}\r\n`, []);
c('version', 'HTTP/0.9 request', 'GET /\r\n\r\n', []);
c('version', 'lower-case version', `GET / http/1.1\r\n${H}\r\n`, []);
c('version', 'empty lines before the request line', `\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`, [[GET]]);

// Expect.
c(
  'expect',
  'Expect: 100-continue, body at once',
  post('content-length: 5\r\nexpect: 100-continue\r\n', 'hello'),
  [[hello()]],
);
c(
  'expect',
  'Expect: 100-continue, body after a pause',
  [post('content-length: 5\r\nexpect: 100-continue\r\n', ''), 300, 'hello'],
  [[hello()]],
);
c('expect', 'Expect: 100-Continue', post('content-length: 5\r\nexpect: 100-Continue\r\n', 'hello'), [
  [hello()],
]);
c('expect', 'Expect: something else', post('content-length: 5\r\nexpect: teapot\r\n', 'hello'), [[hello()]]);
c(
  'expect',
  'Expect: 100-continue on a GET without body',
  `GET / HTTP/1.1\r\n${H}expect: 100-continue\r\n\r\n`,
  [[GET]],
);

// Upgrades and HTTP/2.
c(
  'upgrade',
  'h2c upgrade',
  `GET / HTTP/1.1\r\n${H}connection: Upgrade, HTTP2-Settings\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`,
  [[GET]],
  {
    forbidHeaders: ['upgrade', 'http2-settings'],
  },
);
c('upgrade', 'HTTP/2 preface, then an HTTP/1 request', `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n${HIDDEN}`, []);
c(
  'upgrade',
  'websocket upgrade refused by the app, then a hidden request',
  `GET /ws HTTP/1.1\r\n${H}connection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n${HIDDEN}`,
  [[req('GET', '/ws')]],
);
c(
  'upgrade',
  'websocket upgrade with a Content-Length body',
  `GET /ws HTTP/1.1\r\n${H}connection: Upgrade\r\nupgrade: websocket\r\ncontent-length: 5\r\n\r\nhello${HIDDEN}`,
  [[req('GET', '/ws', 'hello')]],
);

// Connection-header tricks and persistence.
c(
  'connection',
  'Connection names Content-Length',
  post('connection: content-length\r\ncontent-length: 5\r\n', 'hello'),
  [[hello()]],
);
c(
  'connection',
  'Connection names Transfer-Encoding',
  post('connection: transfer-encoding\r\ntransfer-encoding: chunked\r\n', HELLO_CHUNKED),
  [[hello()]],
);
c(
  'connection',
  'Connection: close, then a pipelined request',
  `GET / HTTP/1.1\r\n${H}connection: close\r\n\r\n${second()}`,
  [[GET], [GET, req('GET', '/second')]],
);
c('connection', 'HTTP/1.0, then a pipelined request', `GET / HTTP/1.0\r\n\r\n${second()}`, [
  [GET],
  [GET, req('GET', '/second')],
]);
c('connection', '20 pipelined requests', Array.from({ length: 20 }, (_, i) => second(`-${i}`)).join(''), [
  Array.from({ length: 20 }, (_, i) => req('GET', `/second-${i}`)),
]);
