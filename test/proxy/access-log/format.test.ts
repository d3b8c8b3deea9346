// Access log formats as Envoy prints them: Istio's default text and JSON formats and Envoy's default over HTTP
// (success, NR, UF,URX) and TCP contexts, exact lines; typed JSON values and null; every parse error with Envoy's
// message; header alternatives, truncation, %%, empty values, sanitising; and a 100k-line loop.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileFormat,
  DEFAULT_ACCESS_LOG_FORMAT,
  ISTIO_ACCESS_LOG_FORMAT,
  ISTIO_ACCESS_LOG_JSON_FORMAT,
  jsonNumber,
  LOG_LINE_ENCODING,
  type LogContext,
  type LogFormatSpec,
} from '../../../src/proxy/access-log/format.js';
import type { JsonObject } from '../../../src/xds/decode.js';
import { context, noRoute, success, tcp, upstreamFailure } from './contexts.js';

function text(format: string, ctx: LogContext, omitEmptyValues = false, reqWithoutQuery = false): string {
  const { format: compiled, errors } = compileFormat(
    { kind: 'text', format, omitEmptyValues },
    { reqWithoutQuery },
  );
  assert.deepEqual(errors, [], format);
  return compiled.format(ctx);
}

function json(fields: JsonObject, ctx: LogContext, omitEmptyValues = false): string {
  const { format, errors } = compileFormat({ kind: 'json', fields, omitEmptyValues });
  assert.deepEqual(errors, []);
  return format.format(ctx);
}

function errorsOf(spec: LogFormatSpec, reqWithoutQuery = false): string[] {
  return compileFormat(spec, { reqWithoutQuery }).errors;
}

const T = '[2023-01-01T00:00:00.123Z]';

describe("Istio's and Envoy's default text formats", () => {
  const cases: [string, string, LogContext, string][] = [
    [
      'Istio, HTTP success',
      ISTIO_ACCESS_LOG_FORMAT,
      success,
      `${T} "GET /productpage?u=normal HTTP/1.1" 200 - via_upstream - "-" 0 1683 14 12 "-" "curl/8.0.1" ` +
        '"5f1d2c3b-0e4a-4f7e-9a51-7d3c2b1a0f9e" "productpage:9080" "10.0.0.7:9080" ' +
        'outbound|9080||productpage.default.svc.cluster.local 10.0.0.5:45678 10.96.0.20:9080 10.0.0.5:38412 - default\n',
    ],
    [
      'Istio, no route (NR)',
      ISTIO_ACCESS_LOG_FORMAT,
      noRoute,
      `${T} "GET /nowhere HTTP/1.1" 404 NR route_not_found - "-" 0 0 0 - "-" "curl/8.0.1" "req-2" "unknown:9080" ` +
        '"-" - - 10.96.0.20:9080 10.0.0.5:38414 - -\n',
    ],
    [
      'Istio, upstream connection refused (UF,URX)',
      ISTIO_ACCESS_LOG_FORMAT,
      upstreamFailure,
      `${T} "POST /reviews/0 HTTP/2" 503 UF,URX upstream_reset_before_response_started{remote_connection_failure} - ` +
        '"delayed_connect_error:_Connection_refused" 18 91 3 - "192.168.1.10" "python-requests/2.31" "req-3" ' +
        '"reviews:9080" "10.0.0.9:9080" outbound|9080||reviews.default.svc.cluster.local - 10.96.0.21:9080 ' +
        '10.0.0.5:38416 - default\n',
    ],
    [
      'Istio, TCP connection',
      ISTIO_ACCESS_LOG_FORMAT,
      tcp,
      `${T} "- - -" 0 - - - "-" 12 1000000 2051 - "-" "-" "-" "-" "10.0.0.8:5432" ` +
        'outbound|5432||db.default.svc.cluster.local 10.0.0.5:51000 10.96.3.7:5432 10.0.0.5:40000 ' +
        'db.default.svc.cluster.local -\n',
    ],
    [
      'Envoy default, HTTP success',
      DEFAULT_ACCESS_LOG_FORMAT,
      success,
      `${T} "GET /productpage?u=normal HTTP/1.1" 200 - 0 1683 14 12 "-" "curl/8.0.1" ` +
        '"5f1d2c3b-0e4a-4f7e-9a51-7d3c2b1a0f9e" "productpage:9080" "10.0.0.7:9080"\n',
    ],
    [
      'Envoy default, NR',
      DEFAULT_ACCESS_LOG_FORMAT,
      noRoute,
      `${T} "GET /nowhere HTTP/1.1" 404 NR 0 0 0 - "-" "curl/8.0.1" "req-2" "unknown:9080" "-"\n`,
    ],
  ];
  for (const [name, format, ctx, expected] of cases) {
    it(name, () => assert.equal(text(format, ctx), expected));
  }

  it('adds no newline of its own to a text format', () => {
    assert.equal(text('%RESPONSE_CODE%', success), '200');
    assert.equal(text('', success), '');
  });
});

describe('JSON formats', () => {
  it("Istio's default JSON format: keys sorted, numbers typed, absent values null, a newline after", () => {
    assert.equal(
      json(ISTIO_ACCESS_LOG_JSON_FORMAT, success),
      '{"authority":"productpage:9080","bytes_received":0,"bytes_sent":1683,"connection_termination_details":null,' +
        '"downstream_local_address":"10.96.0.20:9080","downstream_remote_address":"10.0.0.5:38412","duration":14,' +
        '"method":"GET","path":"/productpage?u=normal","protocol":"HTTP/1.1",' +
        '"request_id":"5f1d2c3b-0e4a-4f7e-9a51-7d3c2b1a0f9e","requested_server_name":null,"response_code":200,' +
        '"response_code_details":"via_upstream","response_flags":"-","route_name":"default",' +
        '"start_time":"2023-01-01T00:00:00.123Z","upstream_cluster":"outbound|9080||productpage.default.svc.cluster.local",' +
        '"upstream_host":"10.0.0.7:9080","upstream_local_address":"10.0.0.5:45678","upstream_service_time":"12",' +
        '"upstream_transport_failure_reason":null,"user_agent":"curl/8.0.1","x_forwarded_for":null}\n',
    );
  });

  it('writes numbers as std::to_chars does (1000000 is 1e+06) and null stays null with omit_empty_values', () => {
    const fields = {
      sent: '%BYTES_SENT%',
      duration: '%DURATION%',
      method: '%REQ(:METHOD)%',
      flags: '%RESPONSE_FLAGS%',
    };
    assert.equal(json(fields, tcp, true), '{"duration":2051,"flags":"-","method":null,"sent":1e+06}\n');
  });

  it('keeps literals as given, sorts nested keys, and makes a string of text around operators', () => {
    const fields: JsonObject = {
      z: { b: '%RESPONSE_CODE%', a: [1, 2.5, true, null, 'x', '%PROTOCOL%', '%UPSTREAM_HOST%'] },
      mixed: 'code=%RESPONSE_CODE% host=%ROUTE_NAME%',
      percent: '100%%',
      big: 1e16,
      quote: 'say "hi"',
    };
    assert.equal(
      json(fields, noRoute),
      '{"big":1e+16,"mixed":"code=404 host=-","percent":"100%","quote":"say \\"hi\\"",' +
        '"z":{"a":[1,2.5,true,null,"x","HTTP/1.1",null],"b":404}}\n',
    );
    assert.equal(json({ mixed: '[%ROUTE_NAME%]' }, noRoute, true), '{"mixed":"[]"}\n');
    assert.equal(json({}, noRoute), '{}\n');
  });

  it('escapes as Envoy: JSON escapes for valid UTF-8 (bytes kept), \\u00XX per byte for invalid UTF-8', () => {
    const ctx = context({
      request: {
        'user-agent': 'a"b\\c\nd\x01\x7f',
        'x-utf8': Buffer.from('café', 'utf8').toString('latin1'),
        'x-bad': 'ok\xff"',
      },
    });
    const line = json({ ua: '%REQ(USER-AGENT)%', utf8: '%REQ(X-UTF8)%', bad: '%REQ(X-BAD)%' }, ctx);
    assert.equal(line, '{"bad":"ok\\u00ff\\u0022","ua":"a\\"b\\\\c\\nd\\u0001\x7f","utf8":"caf\xc3\xa9"}\n');
    assert.equal(Buffer.from(line, LOG_LINE_ENCODING).toString('utf8').includes('"utf8":"café"'), true);
  });

  it('reports an error per broken template with the template in the message', () => {
    assert.deepEqual(
      errorsOf({
        kind: 'json',
        fields: { a: '%BAD%', b: { c: 'x %REQ% y', d: '%%' } },
        omitEmptyValues: false,
      }),
      ['Not supported field in StreamInfo: BAD', 'REQ requires parameters'],
    );
  });

  it('jsonNumber follows to_chars: shortest of fixed and scientific, fixed on a tie', () => {
    const cases: [number, string][] = [
      [0, '0'],
      [0.5, '0.5'],
      [200, '200'],
      [10000, '10000'],
      [100000, '1e+05'],
      [120000, '120000'],
      [1000000, '1e+06'],
      [1500000, '1500000'],
      [15000000, '1.5e+07'],
      [4294967295, '4294967295'],
      [1e16, '1e+16'],
      [0.0001, '1e-04'],
      [1e-7, '1e-07'],
      [12.375, '12.375'],
      [-989282.1087, '-989282.1087'],
      [1.23456789012345e67, '1.23456789012345e+67'],
      [123456789012345680000, '123456789012345683968'],
    ];
    for (const [n, expected] of cases) assert.equal(jsonNumber(n), expected, String(n));
  });
});

describe('operators', () => {
  it('headers: alternatives, present-but-empty, case-insensitive names, first of X?Y only when X is absent', () => {
    const ctx = context({ request: { ':path': '/p?q=1', 'x-empty': '', 'user-agent': 'curl' } });
    assert.equal(text('%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%', ctx), '/p?q=1');
    assert.equal(text('%REQ(user-agent?:PATH)%', ctx), 'curl');
    assert.equal(text('%REQ(?User-Agent)%', ctx), 'curl');
    assert.equal(text('%REQ(X-NONE?X-ALSO-NONE)%', ctx), '-');
    assert.equal(text('[%REQ(X-EMPTY?USER-AGENT)%]', ctx), '[]');
    assert.equal(text('[%REQ(X-NONE)%]', ctx, true), '[]');
    assert.equal(text('%REQUEST_HEADER(:PATH)%', ctx), '/p?q=1');
    const resp = context({ response: { 'x-r': 'r' }, trailers: { 'grpc-status': '0' } });
    assert.equal(
      text('%RESP(X-R)% %RESPONSE_HEADER(x-r)% %TRAILER(GRPC-STATUS)% %RESPONSE_TRAILER(grpc-status)%', resp),
      'r r 0 0',
    );
  });

  it('truncates header values to N bytes (:N)', () => {
    const ctx = context({
      request: { 'user-agent': 'curl/8.0.1', 'x-utf8': Buffer.from('éa', 'utf8').toString('latin1') },
    });
    assert.equal(text('%REQ(USER-AGENT):4%', ctx), 'curl');
    assert.equal(text('[%REQ(USER-AGENT):0%]', ctx), '[]');
    assert.equal(text('%REQ(USER-AGENT):99%', ctx), 'curl/8.0.1');
    assert.equal(text('%REQ(X-UTF8):1%', ctx), '\xc3');
    assert.equal(text('%REQ(X-ENVOY-ORIGINAL-PATH?:PATH):5%', success), '/prod');
    assert.equal(text('%REQ(USER-AGENT):18446744073709551615%', ctx), 'curl/8.0.1');
    assert.equal(json({ ua: '%REQ(USER-AGENT):4%' }, ctx), '{"ua":"curl"}\n');
  });

  it('%% is a percent sign, also next to operators', () => {
    assert.equal(text('100%% %RESPONSE_CODE%%%', success), '100% 200%');
    assert.equal(text('%%', success), '%');
    assert.equal(text('%%%%PROTOCOL%%', success), '%%PROTOCOL%');
  });

  it('REQ_WITHOUT_QUERY only with its formatter, query stripped, :N after stripping, no syntax checks', () => {
    assert.equal(
      text('%REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)%', success, false, true),
      '/productpage',
    );
    assert.equal(text('%REQ_WITHOUT_QUERY(:PATH):3%', success, false, true), '/pr');
    assert.equal(text('%REQ_WITHOUT_QUERY%', success, false, true), '-');
    assert.deepEqual(
      errorsOf({ kind: 'text', format: '%REQ_WITHOUT_QUERY(:PATH)%', omitEmptyValues: false }),
      ['Not supported field in StreamInfo: REQ_WITHOUT_QUERY'],
    );
  });

  it('numbers are never absent; duration is whole ms or absent', () => {
    const empty = context();
    assert.equal(
      text(
        '%RESPONSE_CODE% %BYTES_RECEIVED% %BYTES_SENT% %CONNECTION_ID% %UPSTREAM_REQUEST_ATTEMPT_COUNT% %DURATION%',
        empty,
      ),
      '0 0 0 0 0 -',
    );
    assert.equal(text('%CONNECTION_ID% %UPSTREAM_REQUEST_ATTEMPT_COUNT% %DURATION%', success), '42 1 14');
    assert.equal(
      json(
        {
          c: '%CONNECTION_ID%',
          n: '%UPSTREAM_REQUEST_ATTEMPT_COUNT%',
          d: '%DURATION%',
          r: '%RESPONSE_CODE%',
        },
        empty,
      ),
      '{"c":0,"d":null,"n":0,"r":0}\n',
    );
  });

  it('RESPONSE_CODE_DETAILS replaces whitespace unless ALLOW_WHITESPACES; other details as given', () => {
    const ctx = context({
      responseCodeDetails: 'a b\tc\nd',
      connectionTerminationDetails: 'rbac_access_denied_matched_policy[none]',
    });
    assert.equal(text('%RESPONSE_CODE_DETAILS%', ctx), 'a_b_c_d');
    assert.equal(text('%RESPONSE_CODE_DETAILS(ALLOW_WHITESPACES)%', ctx), 'a b\tc\nd');
    assert.equal(text('%RESPONSE_CODE_DETAILS(OTHER)%', ctx), 'a_b_c_d');
    assert.equal(text('%CONNECTION_TERMINATION_DETAILS%', ctx), 'rbac_access_denied_matched_policy[none]');
    assert.equal(text('[%RESPONSE_CODE_DETAILS%]', context({ responseCodeDetails: '' })), '[]');
    assert.equal(
      text('%UPSTREAM_TRANSPORT_FAILURE_REASON%', context({ upstreamTransportFailureReason: '' })),
      '-',
    );
  });

  it('REQUESTED_SERVER_NAME: invalid characters become _ and the name is prefixed invalid:', () => {
    assert.equal(
      text('%REQUESTED_SERVER_NAME%', context({ requestedServerName: 'a-b_c.example' })),
      'a-b_c.example',
    );
    assert.equal(
      text('%REQUESTED_SERVER_NAME%', context({ requestedServerName: 'bad name/x' })),
      'invalid:bad_name_x',
    );
    assert.equal(text('%REQUESTED_SERVER_NAME%', context({ requestedServerName: 'é' })), 'invalid:__');
    assert.equal(text('%REQUESTED_SERVER_NAME%', context({ requestedServerName: '' })), '-');
  });

  it('addresses with and without port, and the port alone (a number in JSON)', () => {
    const ctx = context({
      downstreamRemoteAddress: '[2001:db8::1]:8443',
      downstreamDirectRemoteAddress: '10.0.0.5:40000',
      downstreamLocalAddress: '10.96.3.7:5432',
      upstreamLocalAddress: '/var/run/sock',
    });
    assert.equal(
      text(
        '%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_REMOTE_PORT% ' +
          '%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_DIRECT_REMOTE_PORT% ' +
          '%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_LOCAL_PORT% %UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% [%UPSTREAM_LOCAL_PORT%]',
        ctx,
      ),
      '[2001:db8::1]:8443 2001:db8::1 8443 10.0.0.5 40000 10.96.3.7 5432 /var/run/sock []',
    );
    assert.equal(text('%UPSTREAM_LOCAL_PORT% %UPSTREAM_HOST%', context()), '- -');
    assert.equal(
      json(
        { p: '%DOWNSTREAM_REMOTE_PORT%', u: '%UPSTREAM_LOCAL_PORT%', a: '%DOWNSTREAM_REMOTE_ADDRESS%' },
        ctx,
      ),
      '{"a":"[2001:db8::1]:8443","p":8443,"u":null}\n',
    );
  });

  it('TLS, route, cluster and filter chain names; UPSTREAM_CLUSTER is UPSTREAM_CLUSTER_RAW here', () => {
    assert.equal(
      text(
        '%DOWNSTREAM_PEER_URI_SAN% %DOWNSTREAM_LOCAL_URI_SAN% %UPSTREAM_PEER_URI_SAN% %DOWNSTREAM_TLS_VERSION% ' +
          '%FILTER_CHAIN_NAME% %UPSTREAM_CLUSTER% %UPSTREAM_CLUSTER_RAW% %ROUTE_NAME% %PROTOCOL%',
        tcp,
      ),
      'spiffe://cluster.local/ns/default/sa/web spiffe://cluster.local/ns/default/sa/db - TLSv1.3 inbound-tcp ' +
        'outbound|5432||db.default.svc.cluster.local outbound|5432||db.default.svc.cluster.local - -',
    );
    assert.equal(
      text('%DOWNSTREAM_PEER_URI_SAN%|%ROUTE_NAME%', context({ downstreamPeerUriSan: '', routeName: '' })),
      '-|-',
    );
  });

  it('writes config strings as UTF-8 bytes and header bytes as they came', () => {
    const ctx = context({
      routeName: 'café',
      request: { 'x-h': Buffer.from('é', 'utf8').toString('latin1') },
    });
    const line = text('é %ROUTE_NAME% %REQ(X-H)%', ctx);
    assert.equal(Buffer.from(line, LOG_LINE_ENCODING).toString('utf8'), 'é café é');
  });
});

describe('parse errors carry Envoy’s messages', () => {
  const incorrect = (format: string, pos: number) =>
    `Incorrect configuration: ${format}. Couldn't find valid command at position ${pos}`;
  const invalidHeader = 'Invalid header configuration. Format string contains invalid characters.';
  const newline = 'Invalid header configuration. Format string contains newline.';
  const cases: [string, string][] = [
    ['%protocol%', incorrect('%protocol%', 0)],
    ['abc %', incorrect('abc %', 4)],
    ['RESP(FIRST)%', incorrect('RESP(FIRST)%', 11)],
    ['%REQ(FIRST?SECOND%', incorrect('%REQ(FIRST?SECOND%', 0)],
    ['%REQ(FIRST?SECOND)T%', incorrect('%REQ(FIRST?SECOND)T%', 0)],
    ['%REQ(TEST):%', incorrect('%REQ(TEST):%', 0)],
    ['%REQ(TEST):3q4%', incorrect('%REQ(TEST):3q4%', 0)],
    ['%REQ(TEST):-3%', incorrect('%REQ(TEST):-3%', 0)],
    ['%REQ(TEST):10', incorrect('%REQ(TEST):10', 0)],
    ['%REQ(\n)%', incorrect('%REQ(\n)%', 0)],
    ['%REQ(A):18446744073709551616%', incorrect('%REQ(A):18446744073709551616%', 0)],
    ['x %REQ(A)% é %', incorrect('x %REQ(A)% é %', 14)],
    ['%REQ(valid)% %NOT_VALID%', 'Not supported field in StreamInfo: NOT_VALID'],
    ['%DYNAMIC_METADATA(istio)%', 'Not supported field in StreamInfo: DYNAMIC_METADATA'],
    ['%PROTOCOL(should_not_have_params)%', 'PROTOCOL does not take any parameters or length'],
    ['%PROTOCOL(x):12%', 'PROTOCOL does not take any parameters or length'],
    ['%PROTOCOL:12%', 'PROTOCOL does not take any parameters or length'],
    ['%RESPONSE_CODE:3%', 'RESPONSE_CODE does not take any parameters or length'],
    ['%REQ%', 'REQ requires parameters'],
    ['%RESP()%', 'RESP requires parameters'],
    ['%TRAILER():3%', 'TRAILER requires parameters'],
    ['%START_TIME:3%', 'START_TIME does not allow length to be specified.'],
    [
      '%RESPONSE_CODE_DETAILS(ALLOW_WHITESPACES):3%',
      'RESPONSE_CODE_DETAILS does not allow length to be specified.',
    ],
    ['%REQ(X?Y?Z)%', 'More than 1 alternative header specified in token: X?Y?Z'],
    ['%TRAILER(X?Y?Z)%', 'More than 1 alternative header specified in token: X?Y?Z'],
    ['%REQ(\r)%', invalidHeader],
    ['%REQ(?\r)%', invalidHeader],
    ['%REQ(A B)%', invalidHeader],
    ['%REQ(:)%', invalidHeader],
    ['%REQ(A?:)%', invalidHeader],
    ['%REQ(A)B)%', invalidHeader],
    ['%START_TIME(%n)%', newline],
    ['%START_TIME(%85n)%', newline],
    ['%START_TIME(%#__88n)%', newline],
    ['%START_TIME(%En%)%', newline],
    ['%START_TIME(%4On%)%', newline],
    ['%START_TIME(%%n)%', newline],
  ];
  for (const [format, message] of cases) {
    it(JSON.stringify(format), () => {
      assert.deepEqual(errorsOf({ kind: 'text', format, omitEmptyValues: false }), [message]);
    });
  }

  it('a format with errors formats nothing', () => {
    const { format } = compileFormat({ kind: 'text', format: '%NOPE%', omitEmptyValues: false });
    assert.equal(format.format(success), '');
  });

  it('accepts what Envoy accepts: empty parentheses, a ) or % inside an argument', () => {
    assert.equal(text('%PROTOCOL()%', success), 'HTTP/1.1');
    assert.equal(text('%START_TIME()%', success), '2023-01-01T00:00:00.123Z');
    assert.equal(text('%START_TIME(%Y)x)%', success), '2023)x');
    assert.equal(text('%REQ(:METHOD)%%REQ(:PATH)%', success), 'GET/productpage?u=normal');
  });
});

describe('formatting many lines', () => {
  it('formats 100k lines to the same text without keeping them (memory bound, no timing)', () => {
    const { format } = compileFormat({
      kind: 'text',
      format: ISTIO_ACCESS_LOG_FORMAT,
      omitEmptyValues: false,
    });
    const { format: jsonFormat } = compileFormat({
      kind: 'json',
      fields: ISTIO_ACCESS_LOG_JSON_FORMAT,
      omitEmptyValues: false,
    });
    const first = format.format(success);
    const firstJson = jsonFormat.format(upstreamFailure);
    const before = process.memoryUsage().heapUsed;
    let length = 0;
    for (let i = 0; i < 100_000; i++) {
      length += format.format(success).length;
      length += jsonFormat.format(upstreamFailure).length;
    }
    const grown = process.memoryUsage().heapUsed - before;
    assert.equal(length, 100_000 * (first.length + firstJson.length));
    assert.ok(grown < 64 * 1024 * 1024, `heap grew by ${grown} bytes`);
  });
});
