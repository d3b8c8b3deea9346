// The server side of Envoy's HTTP/1 codec after parsing (src/proxy/filters/http/http1-target.ts), as tables:
// absolute-form targets as http_parser_parse_url and Utility::Url read them, handlePath's path and Host, and
// checkProtocolVersion's 426 for HTTP/1.0 unless accept_http_10 (with its default host).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HeaderField } from '../../../../src/proxy/filters/http/http1-head.js';
import {
  DEFAULT_SERVER_REQUEST_OPTIONS,
  isValidAuthority,
  type ParsedUrl,
  parseUrl,
  type ServerHeadDecision,
  type ServerRequestOptions,
  serverHead,
} from '../../../../src/proxy/filters/http/http1-target.js';

describe('parseUrl: absolute-form targets as Envoy reads them (http_parser strict, Utility::Url)', () => {
  const ok = (scheme: string, hostAndPort: string, pathAndQuery: string): ParsedUrl => ({
    scheme,
    hostAndPort,
    pathAndQuery,
  });
  const cases: [string, string, ParsedUrl | undefined][] = [
    ['host, path and query', 'http://other.example/x?y=1', ok('http', 'other.example', '/x?y=1')],
    ['no path: "/"', 'http://other.example', ok('http', 'other.example', '/')],
    ['a port is kept', 'http://h:8080/a', ok('http', 'h:8080', '/a')],
    ['a port with leading zeros, as sent', 'http://h:00080/', ok('http', 'h:00080', '/')],
    ['the largest port', 'http://h:65535/', ok('http', 'h:65535', '/')],
    ['https, scheme case as sent', 'HTTPS://h/', ok('HTTPS', 'h', '/')],
    ['userinfo is dropped from the host', 'http://user:pw@h:81/p', ok('http', 'h:81', '/p')],
    ['empty userinfo', 'http://@h/p', ok('http', 'h', '/p')],
    ['a query without a path', 'http://h?x=1', ok('http', 'h', '?x=1')],
    ['a fragment stays in the path', 'http://h/a#f', ok('http', 'h', '/a#f')],
    ['any scheme parses (the scheme check comes after)', 'ftp://h/x', ok('ftp', 'h', '/x')],
    ['a scheme with digits, +, -, .', 'a1+b-c.d://h/', ok('a1+b-c.d', 'h', '/')],
    ['IPv4', 'http://10.0.0.1:9080/', ok('http', '10.0.0.1:9080', '/')],
    ['IPv6 keeps its brackets', 'http://[::1]:8080/x', ok('http', '[::1]:8080', '/x')],
    ['IPv6 without a port', 'http://[2001:db8::1]/', ok('http', '[2001:db8::1]', '/')],
    ['IPv4 in brackets (parseAuthority takes it)', 'http://[10.0.0.1]/', ok('http', '[10.0.0.1]', '/')],
    ['host with digits and dots only', 'http://1.2.3/', ok('http', '1.2.3', '/')],
    ['no host', 'http:///x', undefined],
    ['no host before the query', 'http://?x', undefined],
    ['only userinfo', 'http://u@/x', undefined],
    ['two @ (the second is in the host)', 'http://a@b@c/', undefined],
    ['two @ in a row', 'http://u@@h/', undefined],
    ['_ in the host (strict http_parser)', 'http://my_host/', undefined],
    ['! in the host', 'http://a!b/', undefined],
    ['an empty port', 'http://h:/', undefined],
    ['a port over 65535', 'http://h:65536/', undefined],
    ['a non-digit port', 'http://h:8o/', undefined],
    ['two ports', 'http://h:1:2/', undefined],
    ['IPv6 not closed', 'http://[::1/', undefined],
    ['empty brackets', 'http://[]/', undefined],
    ['brackets that are no IP', 'http://[fe:fe:fe]/', undefined],
    ['an IPv6 zone (left to getaddrinfo by Envoy: refused)', 'http://[fe80::1%25eth0]/', undefined],
    ['text after the brackets', 'http://[::1]x/', undefined],
    ['a # in the host', 'http://h#f', undefined],
    ['a scheme without //', 'http:/x', undefined],
    ['a scheme not starting with a letter', '1http://h/', undefined],
    ['origin form is no absolute URL', '/x', undefined],
    ['asterisk form is no absolute URL', '*', undefined],
    ['empty', '', undefined],
    ['a space in the path', 'http://h/a b', undefined],
    ['a non-ASCII byte in the path', 'http://h/\xe9', undefined],
  ];
  for (const [name, url, expected] of cases) {
    it(`${name}: ${JSON.stringify(url)}`, () => assert.deepEqual(parseUrl(url, false), expected));
  }

  const connect: [string, string, string | undefined][] = [
    ['host:port', 'app:443', 'app:443'],
    ['IPv6 and port', '[::1]:443', '[::1]:443'],
    ['no port', 'app', undefined],
    ['userinfo', 'u@app:443', undefined],
    ['a path after it', 'app:443/x', undefined],
    ['a scheme', 'http://app:443', undefined],
  ];
  for (const [name, target, hostAndPort] of connect) {
    it(`CONNECT ${name}: ${JSON.stringify(target)}`, () =>
      assert.deepEqual(
        parseUrl(target, true),
        hostAndPort === undefined ? undefined : { scheme: '', hostAndPort, pathAndQuery: '' },
      ));
  }
});

describe('serverHead: handlePath and checkProtocolVersion (Envoy codec_impl.cc)', () => {
  const H: HeaderField[] = [['host', 'inbound.example']];
  const opts = (o: Partial<ServerRequestOptions> = {}): ServerRequestOptions => ({
    ...DEFAULT_SERVER_REQUEST_OPTIONS,
    ...o,
  });
  const request = (path: string, host?: string, scheme?: string): ServerHeadDecision => ({
    kind: 'request',
    path,
    host,
    scheme,
  });
  const refuse = (status: 400 | 403 | 426, details: string): ServerHeadDecision => ({
    kind: 'refuse',
    status,
    details,
  });
  // [what, method, target, version, headers, options, tls, decision]
  const cases: [
    string,
    string,
    string,
    '1.0' | '1.1',
    HeaderField[],
    Partial<ServerRequestOptions>,
    boolean,
    ServerHeadDecision,
  ][] = [
    ['origin form: the target is the path', 'GET', '/x?y=1', '1.1', H, {}, false, request('/x?y=1')],
    ['OPTIONS *', 'OPTIONS', '*', '1.1', H, {}, false, request('*')],
    [
      'absolute form: Host and path from the URL (the Host header is replaced)',
      'GET',
      'http://other.example/x?y=1',
      '1.1',
      H,
      {},
      false,
      request('/x?y=1', 'other.example', 'http'),
    ],
    [
      'absolute form without a path: "/"',
      'GET',
      'http://other.example:8080',
      '1.1',
      [],
      {},
      false,
      request('/', 'other.example:8080', 'http'),
    ],
    [
      'absolute form, the scheme lower-cased',
      'GET',
      'HTTPS://h/x',
      '1.1',
      H,
      {},
      false,
      request('/x', 'h', 'https'),
    ],
    [
      '* on a method other than OPTIONS is parsed as a URL: 400',
      'GET',
      '*',
      '1.1',
      H,
      {},
      false,
      refuse(400, 'http1.invalid_url'),
    ],
    [
      'a URL that does not parse: 400',
      'GET',
      'http://my_host/',
      '1.1',
      H,
      {},
      false,
      refuse(400, 'http1.invalid_url'),
    ],
    [
      'a scheme other than http/https: 400',
      'GET',
      'ftp://h/x',
      '1.1',
      H,
      {},
      false,
      refuse(400, 'http1.invalid_scheme'),
    ],
    [
      'https on plaintext is served without validate_scheme (sidecars)',
      'GET',
      'https://h/x',
      '1.1',
      H,
      {},
      false,
      request('/x', 'h', 'https'),
    ],
    [
      'https on plaintext with validate_scheme (use_remote_address): 403',
      'GET',
      'https://h/x',
      '1.1',
      H,
      { validateScheme: true },
      false,
      refuse(403, 'http1.https_url_on_plaintext_connection'),
    ],
    [
      'https over TLS with validate_scheme',
      'GET',
      'https://h/x',
      '1.1',
      H,
      { validateScheme: true },
      true,
      request('/x', 'h', 'https'),
    ],
    [
      'http on plaintext with validate_scheme',
      'GET',
      'http://h/x',
      '1.1',
      H,
      { validateScheme: true },
      false,
      request('/x', 'h', 'http'),
    ],
    [
      'allow_absolute_url off: the target is the path as sent, Host kept',
      'GET',
      'http://other.example/x',
      '1.1',
      H,
      { allowAbsoluteUrl: false },
      false,
      request('http://other.example/x'),
    ],
    [
      'allow_absolute_url off: a URL that does not parse is not looked at',
      'GET',
      'http://my_host/',
      '1.1',
      H,
      { allowAbsoluteUrl: false },
      false,
      request('http://my_host/'),
    ],
    [
      'CONNECT: Host from its target, whatever allow_absolute_url says',
      'CONNECT',
      'app:443',
      '1.1',
      [['host', 'other']],
      { allowAbsoluteUrl: false },
      false,
      request('app:443', 'app:443'),
    ],
    ['CONNECT without a port: 400', 'CONNECT', 'app', '1.1', H, {}, false, refuse(400, 'http1.invalid_url')],
    ['HTTP/1.0: 426 by default', 'GET', '/', '1.0', [], {}, false, refuse(426, 'low_version')],
    ['HTTP/1.0 with Host: 426 too', 'GET', '/', '1.0', H, {}, false, refuse(426, 'low_version')],
    [
      'HTTP/1.0: the URL is looked at first (400 before 426)',
      'GET',
      'http://my_host/',
      '1.0',
      [],
      {},
      false,
      refuse(400, 'http1.invalid_url'),
    ],
    ['HTTP/1.0: a good URL, then 426', 'GET', 'http://h/', '1.0', [], {}, false, refuse(426, 'low_version')],
    [
      'HTTP/1.0 with accept_http_10: served, no Host',
      'GET',
      '/',
      '1.0',
      [],
      { acceptHttp10: true },
      false,
      request('/'),
    ],
    [
      'HTTP/1.0 with accept_http_10 and a default host: it becomes Host',
      'GET',
      '/',
      '1.0',
      [],
      { acceptHttp10: true, defaultHostForHttp10: 'default.example' },
      false,
      request('/', 'default.example'),
    ],
    [
      'HTTP/1.0 with its own Host keeps it',
      'GET',
      '/',
      '1.0',
      H,
      { acceptHttp10: true, defaultHostForHttp10: 'default.example' },
      false,
      request('/'),
    ],
    [
      'HTTP/1.0 with an empty Host keeps it (present)',
      'GET',
      '/',
      '1.0',
      [['host', '']],
      { acceptHttp10: true, defaultHostForHttp10: 'default.example' },
      false,
      request('/'),
    ],
    [
      'HTTP/1.0 in absolute form: the URL’s host, not the default',
      'GET',
      'http://h/x',
      '1.0',
      [],
      { acceptHttp10: true, defaultHostForHttp10: 'default.example' },
      false,
      request('/x', 'h', 'http'),
    ],
    [
      'HTTP/1.1 never gets the default host',
      'GET',
      '/',
      '1.1',
      [],
      { acceptHttp10: true, defaultHostForHttp10: 'default.example' },
      false,
      request('/'),
    ],
  ];
  for (const [name, method, target, version, headers, o, tls, expected] of cases) {
    it(name, () =>
      assert.deepEqual(serverHead({ method, target, version, headers }, opts(o), tls), expected),
    );
  }

  it("Envoy's defaults: allow_absolute_url on, accept_http_10 off, no default host, no validate_scheme", () => {
    assert.deepEqual(DEFAULT_SERVER_REQUEST_OPTIONS, {
      allowCustomMethods: false,
      acceptHttp10: false,
      defaultHostForHttp10: '',
      allowAbsoluteUrl: true,
      validateScheme: false,
    });
  });
});

describe('isValidAuthority: HeaderUtility::authorityIsValid', () => {
  const cases: [string, boolean][] = [
    ['example.com', true],
    ['example.com:8080', true],
    ['[::1]:80', true],
    ['user@host', true],
    ["a!$%&'()*+,-.:;=@[]_~z", true],
    ['', true],
    ['a b', false],
    ['a/b', false],
    ['a?b', false],
    ['a#b', false],
    ['a"b', false],
    ['a\\b', false],
    ['a{b}', false],
    ['h\xe9', false],
  ];
  for (const [value, valid] of cases) {
    it(`${JSON.stringify(value)}: ${valid ? 'valid' : 'invalid'}`, () =>
      assert.equal(isValidAuthority(value), valid));
  }
});
