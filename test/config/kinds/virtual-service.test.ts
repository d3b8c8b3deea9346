import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/load.js';
import { formatPath } from '../../../src/core/field-path.js';
import { fixture } from '../../helpers.js';
import { ruleCases } from './rule-fixtures.js';

function load(text: string, path = 'test.yaml') {
  return loadConfig([{ path, text }]);
}

function loadFixture(kind: 'valid' | 'invalid', name: string) {
  const path = fixture('config', kind, 'virtual-service', `${name}.yaml`);
  return load(readFileSync(path, 'utf8'), `${name}.yaml`);
}

const errorsOf = (text: string) =>
  load(text)
    .diagnostics.filter((d) => d.severity === 'error')
    .map((d) => [d.code, formatPath(d.path ?? []), d.message]);

const warningsOf = (text: string) =>
  load(text)
    .diagnostics.filter((d) => d.severity === 'warning' && d.code !== 'SKIFF_CONFIG_NOT_ENFORCED')
    .map((d) => [d.code, formatPath(d.path ?? []), d.message]);

/** A VirtualService in namespace shop with this spec (YAML, indented by two spaces). */
const vs = (spec: string, meta = '') =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs, namespace: shop${meta}}\nspec:\n${spec}`;
const ROUTE = '    route:\n    - destination: {host: reviews}\n';

/** fixture → the errors it must produce: [code, field path, exact message]; plus the line of the first. */
const RULES: [string, [string, string, string][], number][] = [
  [
    'authority-twice',
    [
      [
        'ISTIO_VS_AUTHORITY_TWICE',
        'spec.http[0].headers.request.set[":authority"]',
        'authority header cannot be set multiple times: have "bar", attempting to set "foo"',
      ],
    ],
    13,
  ],
  [
    'cors-header',
    [
      [
        'ISTIO_VS_CORS_HEADER',
        'spec.http[0].corsPolicy.allowHeaders[0]',
        'header name x header is not a valid header name',
      ],
    ],
    11,
  ],
  [
    'cors-max-age',
    [
      [
        'ISTIO_VS_CORS_MAX_AGE',
        'spec.http[0].corsPolicy.maxAge',
        'max_age duration is accurate only to seconds precision, got "1500ms"',
      ],
    ],
    11,
  ],
  [
    'cors-method',
    [
      [
        'ISTIO_VS_CORS_METHOD',
        'spec.http[0].corsPolicy.allowMethods[1]',
        '"FETCH" is not a supported HTTP method: expected one of GET, HEAD, POST, PUT, PATCH, DELETE, CONNECT, OPTIONS, TRACE, *',
      ],
    ],
    11,
  ],
  [
    'cors-origin-empty',
    [
      [
        'ISTIO_VS_CORS_ORIGIN',
        'spec.http[0].corsPolicy.allowOrigins[0]',
        "'' is not a valid match type for CORS allow origins: set exact, prefix or regex",
      ],
    ],
    12,
  ],
  [
    'delegate-gateways',
    [['ISTIO_VS_DELEGATE', 'spec.gateways', 'delegate virtual service must have no gateways specified']],
    8,
  ],
  [
    'delegate-nested',
    [['ISTIO_VS_DELEGATE_NESTED', 'spec.http[0].delegate', 'delegate HTTP route cannot contain delegate']],
    9,
  ],
  [
    'delegate-tcp',
    [['ISTIO_VS_DELEGATE', 'spec.tcp', 'delegate virtual service must have no tcp route specified']],
    8,
  ],
  [
    'destination-host-invalid',
    [
      [
        'ISTIO_VS_DESTINATION_HOST',
        'spec.http[0].route[0].destination.host',
        'domain name "default/reviews" invalid (label "default/reviews" invalid)',
      ],
    ],
    11,
  ],
  [
    'destination-host-missing',
    [
      [
        'SKIFF_CONFIG_REQUIRED',
        'spec.http[0].route[0].destination.host',
        'required field is missing: expected a string',
      ],
    ],
    11,
  ],
  [
    'destination-host-wildcard',
    [['ISTIO_VS_DESTINATION_HOST', 'spec.http[0].route[0].destination.host', 'invalid destination host *']],
    11,
  ],
  [
    'destination-missing',
    [
      [
        'SKIFF_CONFIG_REQUIRED',
        'spec.http[0].route[0].destination',
        'required field is missing: expected a destination ({host, subset, port})',
      ],
    ],
    11,
  ],
  [
    'destination-port-zero',
    [
      [
        'ISTIO_VS_PORT',
        'spec.http[0].route[0].destination.port.number',
        'port number 0 must be in the range 1..65535',
      ],
    ],
    11,
  ],
  [
    'destination-subset-invalid',
    [
      [
        'ISTIO_VS_SUBSET_NAME',
        'spec.http[0].route[0].destination.subset',
        'subset name is invalid: v1.0 (expected a DNS-1123 label)',
      ],
    ],
    11,
  ],
  [
    'direct-response-status-missing',
    [
      [
        'SKIFF_CONFIG_REQUIRED',
        'spec.http[0].directResponse.status',
        'required field is missing: expected an integer in 0-4294967295',
      ],
    ],
    10,
  ],
  [
    'direct-response-status',
    [
      [
        'ISTIO_VS_HTTP_STATUS',
        'spec.http[0].directResponse.status',
        'HTTP status 700 is not in range 200-599',
      ],
    ],
    10,
  ],
  [
    'dry-run',
    [
      [
        'ISTIO_DRY_RUN_UNSUPPORTED',
        'metadata.annotations["istio.io/dry-run"]',
        'shop/example has unsupported annotation istio.io/dry-run, please remove the annotation (only AuthorizationPolicy supports dry-run)',
      ],
    ],
    8,
  ],
  [
    'export-to-duplicate',
    [['ISTIO_VS_EXPORT_TO', 'spec.exportTo', 'duplicate entries in exportTo for entry shop']],
    9,
  ],
  [
    'fault-and-direct-response',
    [
      [
        'ISTIO_VS_ROUTE_CONFLICT',
        'spec.http[0].fault',
        'HTTP route cannot contain both fault and direct_response',
      ],
    ],
    11,
  ],
  [
    'fault-empty',
    [
      [
        'ISTIO_VS_FAULT_EMPTY',
        'spec.http[0].fault',
        'HTTP fault injection must have an abort and/or a delay',
      ],
    ],
    10,
  ],
  [
    'fault-exponential-delay',
    [
      [
        'ISTIO_VS_FAULT_EXPONENTIAL',
        'spec.http[0].fault.delay.exponentialDelay',
        'exponentialDelay not supported yet',
      ],
    ],
    11,
  ],
  [
    'fault-grpc-status',
    [
      [
        'ISTIO_VS_FAULT_GRPC_STATUS',
        'spec.http[0].fault.abort.grpcStatus',
        'gRPC status "NOTFOUND" is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example \'NOT_FOUND\'',
      ],
    ],
    11,
  ],
  [
    'fault-http-status',
    [
      [
        'ISTIO_VS_HTTP_STATUS',
        'spec.http[0].fault.abort.httpStatus',
        'HTTP status 99 is not in range 200-599',
      ],
    ],
    11,
  ],
  [
    'fault-http2-error',
    [
      [
        'ISTIO_VS_FAULT_HTTP2',
        'spec.http[0].fault.abort.http2Error',
        'HTTP/2 abort fault injection not supported yet',
      ],
    ],
    11,
  ],
  [
    'fault-percentage',
    [
      [
        'ISTIO_VS_PERCENTAGE',
        'spec.http[0].fault.delay.percentage.value',
        'percentage 150 is neither 0.0, nor in range [0.0001, 100.0]',
      ],
    ],
    11,
  ],
  [
    'gateway-name-invalid',
    [
      [
        'ISTIO_VS_GATEWAY_NAME',
        'spec.gateways[0]',
        'domain name "b@dgateway" invalid (label "b@dgateway" invalid)',
      ],
    ],
    9,
  ],
  [
    'gateway-namespace-wildcard',
    [['ISTIO_VS_GATEWAY_NAME', 'spec.gateways[0]', 'invalid value for namespace: "*"']],
    9,
  ],
  [
    'header-match-null',
    [['ISTIO_VS_NULL', 'spec.http[0].match[0].headers.x-user', 'header match x-user cannot be null']],
    12,
  ],
  [
    'header-name-invalid',
    [
      [
        'ISTIO_VS_HEADER_NAME',
        'spec.http[0].match[0].headers["bad header"]',
        'header name bad header is not a valid header name',
      ],
    ],
    12,
  ],
  [
    'header-operation-host',
    [
      [
        'ISTIO_VS_HEADER_NAME',
        'spec.http[0].headers.request.remove[0]',
        'invalid header "Host": cannot set Host header',
      ],
    ],
    12,
  ],
  [
    'header-operation-pseudo',
    [
      [
        'ISTIO_VS_HEADER_NAME',
        'spec.http[0].headers.request.set[":path"]',
        'invalid header ":path": header cannot have ":" prefix',
      ],
    ],
    12,
  ],
  [
    'header-value-unescaped',
    [
      [
        'ISTIO_VS_HEADER_VALUE',
        'spec.http[0].route[0].headers.response.set.x-load',
        "header value configuration: invalid header configuration. Un-terminated variable expression 'abcd%oijasodifj'",
      ],
    ],
    14,
  ],
  [
    'host-duplicate',
    [['ISTIO_VS_HOST_DUPLICATE', 'spec.hosts[1]', 'duplicate hosts in virtual service: *.bar & *.foo.bar']],
    8,
  ],
  [
    'host-invalid',
    [['ISTIO_VS_HOST', 'spec.hosts[0]', 'domain name "ba!r" invalid (label "ba!r" invalid)']],
    8,
  ],
  [
    'host-wildcard-mesh',
    [
      [
        'ISTIO_VS_HOST_WILDCARD_MESH',
        'spec.hosts[0]',
        'wildcard host * is not allowed for virtual services bound to the mesh gateway',
      ],
    ],
    8,
  ],
  ['http-null', [['ISTIO_VS_NULL', 'spec.http[0]', 'http route may not be null']], 10],
  [
    'jwt-claim-mesh',
    [
      [
        'ISTIO_VS_JWT_CLAIM_MESH',
        'spec.http[0].match[0].headers["@request.auth.claims.group"]',
        'JWT claim based routing (key: @request.auth.claims.group) is only supported for gateway, found no gateways: []',
      ],
    ],
    12,
  ],
  [
    'match-port-range',
    [['ISTIO_VS_PORT', 'spec.http[0].match[0].port', 'port number 70000 must be in the range 1..65535']],
    11,
  ],
  [
    'mirror-and-mirrors',
    [
      [
        'ISTIO_VS_MIRROR_CONFLICT',
        'spec.http[0].mirrors',
        'HTTP route cannot contain both mirror and mirrors',
      ],
    ],
    11,
  ],
  [
    'mirror-percent-over',
    [
      [
        'ISTIO_VS_MIRROR_PERCENT',
        'spec.http[0].mirrorPercent',
        'mirror_percent must have a max value of 100 (it has 101)',
      ],
    ],
    11,
  ],
  [
    'mirror-percentage-over',
    [
      [
        'ISTIO_VS_MIRROR_PERCENT',
        'spec.http[0].mirrorPercentage.value',
        'mirror_percentage must have a max value of 100 (it has 101.000000)',
      ],
    ],
    11,
  ],
  ['mirrors-null', [['ISTIO_VS_NULL', 'spec.http[0].mirrors[0]', 'mirror cannot be null']], 11],
  [
    'mirrors-percentage-negative',
    [
      [
        'ISTIO_VS_MIRROR_PERCENT',
        'spec.http[0].mirrors[0].percentage',
        'mirror percentage must have a min value of 0 (it has -1.000000)',
      ],
    ],
    12,
  ],
  ['no-routes', [['ISTIO_VS_NO_ROUTES', 'spec', 'http, tcp or tls must be provided in virtual service']], 7],
  [
    'prefix-empty',
    [
      [
        'ISTIO_VS_STRING_MATCH_EMPTY',
        'spec.http[0].match[0].method.prefix',
        '"method": prefix string match should not be empty',
      ],
    ],
    11,
  ],
  [
    'redirect-and-direct-response',
    [
      [
        'ISTIO_VS_ROUTE_CONFLICT',
        'spec.http[0].directResponse',
        'HTTP route rule cannot contain both direct_response and redirect',
      ],
    ],
    11,
  ],
  [
    'redirect-code',
    [
      [
        'ISTIO_VS_REDIRECT_CODE',
        'spec.http[0].redirect.redirectCode',
        '200 is not a valid redirect code, must be 3xx',
      ],
    ],
    10,
  ],
  [
    'redirect-derive-port-unknown',
    [
      [
        'SKIFF_CONFIG_ENUM',
        'spec.http[0].redirect.derivePort',
        'invalid value "FROM_SCHEME": expected one of FROM_PROTOCOL_DEFAULT, FROM_REQUEST_PORT',
      ],
    ],
    10,
  ],
  [
    'redirect-empty',
    [
      [
        'ISTIO_VS_REDIRECT_EMPTY',
        'spec.http[0].redirect',
        'redirect must specify URI, authority, scheme, or port',
      ],
    ],
    10,
  ],
  [
    'redirect-port-and-derive-port',
    [
      [
        'SKIFF_CONFIG_ONE_OF',
        'spec.http[0].redirect',
        'only one of port, derivePort may be set in a redirect, got port and derivePort',
      ],
    ],
    10,
  ],
  [
    'redirect-scheme',
    [
      [
        'ISTIO_VS_REDIRECT_SCHEME',
        'spec.http[0].redirect.scheme',
        'invalid redirect scheme, must be "http" or "https", got "ftp"',
      ],
    ],
    10,
  ],
  [
    'regex-backreference',
    [
      [
        'ISTIO_VS_REGEX',
        'spec.http[0].match[0].uri.regex',
        '"uri": error parsing regexp: invalid escape sequence: `\\1` in "/(a)\\\\1"; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)',
      ],
    ],
    11,
  ],
  [
    'regex-empty',
    [
      [
        'ISTIO_VS_STRING_MATCH_EMPTY',
        'spec.http[0].match[0].uri.regex',
        '"uri": regex string match should not be empty',
      ],
    ],
    11,
  ],
  [
    'regex-invalid',
    [
      [
        'ISTIO_VS_REGEX',
        'spec.http[0].match[0].uri.regex',
        '"uri": error parsing regexp: unterminated group in "/api/(v1"; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)',
      ],
    ],
    11,
  ],
  [
    'regex-lookahead',
    [
      [
        'ISTIO_VS_REGEX',
        'spec.http[0].match[0].headers.user-agent.regex',
        '"headers": error parsing regexp: invalid or unsupported Perl syntax: `(?!` in "^(?!curl).*"; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)',
      ],
    ],
    12,
  ],
  [
    'regex-too-long',
    [
      [
        'ISTIO_VS_REGEX',
        'spec.http[0].match[0].uri.regex',
        '"uri": regex is too large, max length allowed is 1024',
      ],
    ],
    11,
  ],
  [
    'retries-disabled',
    [
      [
        'ISTIO_VS_RETRY_DISABLED',
        'spec.http[0].retries',
        'http retry policy configured when attempts are set to 0 (disabled): set attempts to 1 or more',
      ],
    ],
    10,
  ],
  [
    'retries-negative',
    [['ISTIO_VS_RETRY_ATTEMPTS', 'spec.http[0].retries.attempts', 'attempts cannot be negative']],
    10,
  ],
  [
    'retries-per-try-timeout',
    [['ISTIO_DURATION', 'spec.http[0].retries.perTryTimeout', 'duration must be greater than 1ms, got "0s"']],
    10,
  ],
  [
    'retries-retry-on',
    [
      [
        'ISTIO_VS_RETRY_ON',
        'spec.http[0].retries.retryOn',
        '"timeout" is not a valid retryOn policy: expected an HTTP status code or one of 5xx, gateway-error, reset, reset-before-request, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, retriable-headers, envoy-ratelimited, http3-post-connect-failure, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable',
      ],
    ],
    10,
  ],
  [
    'rewrite-conflict',
    [
      [
        'ISTIO_VS_REWRITE_CONFLICT',
        'spec.http[0].rewrite',
        'rewrite may only contain one of URI or UriRegexRewrite',
      ],
    ],
    10,
  ],
  [
    'rewrite-empty',
    [
      [
        'ISTIO_VS_REWRITE_EMPTY',
        'spec.http[0].rewrite',
        'rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified',
      ],
    ],
    10,
  ],
  [
    'rewrite-regex-incomplete',
    [
      [
        'ISTIO_VS_REWRITE_REGEX',
        'spec.http[0].rewrite.uriRegexRewrite',
        'UriRegexRewrite has errors: UriRegexRewrite requires both Rewrite and Match fields to be specified',
      ],
    ],
    11,
  ],
  [
    'rewrite-regex-invalid',
    [
      [
        'ISTIO_VS_REGEX',
        'spec.http[0].rewrite.uriRegexRewrite.match',
        '"HTTPRewrite.UriRegexRewrite.Match": error parsing regexp: unterminated character class in "^/v1["; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)',
      ],
    ],
    11,
  ],
  [
    'root-route-with-route',
    [['ISTIO_VS_ROUTE_CONFLICT', 'spec.http[0].route', 'root HTTP route root must not specify route']],
    12,
  ],
  [
    'route-and-redirect',
    [['ISTIO_VS_ROUTE_CONFLICT', 'spec.http[0].route', 'HTTP route cannot contain both route and redirect']],
    11,
  ],
  [
    'route-required',
    [
      [
        'ISTIO_VS_ROUTE_REQUIRED',
        'spec.http[0]',
        'HTTP route, redirect or direct_response is required: set route (destinations), redirect, directResponse or delegate',
      ],
    ],
    10,
  ],
  [
    'source-labels-invalid',
    [
      [
        'ISTIO_VS_SOURCE_LABELS',
        'spec.http[0].match[0].sourceLabels["app name"]',
        'invalid tag key: "app name"',
      ],
    ],
    11,
  ],
  [
    'source-namespace-invalid',
    [
      [
        'ISTIO_VS_SOURCE_NAMESPACE',
        'spec.http[0].match[0].sourceNamespace',
        'sourceNamespace match Bad_NS is invalid: expected a DNS-1123 label',
      ],
    ],
    11,
  ],
  [
    'string-match-two',
    [
      [
        'SKIFF_CONFIG_ONE_OF',
        'spec.http[0].match[0].uri',
        'only one of exact, prefix, regex may be set in a string match, got exact and prefix',
      ],
    ],
    11,
  ],
  ['tcp-match-null', [['ISTIO_VS_NULL', 'spec.tcp[0].match[0]', 'tcp match may not be nil']], 11],
  ['tcp-route-required', [['ISTIO_VS_TCP_ROUTE_REQUIRED', 'spec.tcp[0]', 'TCP route is required']], 10],
  [
    'tcp-subnet-invalid',
    [
      [
        'ISTIO_VS_SUBNET',
        'spec.tcp[0].match[0].destinationSubnets[0]',
        '10.0.0.0/33 is not a valid CIDR block',
      ],
    ],
    11,
  ],
  [
    'timeout-invalid',
    [
      [
        'SKIFF_CONFIG_DURATION',
        'spec.http[0].timeout',
        'invalid duration 10: expected a duration such as "100ms", "5s", "1m" or "1h30m"',
      ],
    ],
    10,
  ],
  [
    'timeout-zero',
    [['ISTIO_DURATION', 'spec.http[0].timeout', 'duration must be greater than 1ms, got "0s"']],
    10,
  ],
  [
    'tls-match-empty',
    [
      [
        'ISTIO_VS_TLS_MATCH_REQUIRED',
        'spec.tls[0].match',
        'TLS route must have at least one match condition',
      ],
    ],
    10,
  ],
  [
    'tls-match-required',
    [
      [
        'SKIFF_CONFIG_REQUIRED',
        'spec.tls[0].match',
        'required field is missing: expected a list of a TLS match ({sniHosts, destinationSubnets, port, sourceLabels, gateways, sourceNamespace})',
      ],
    ],
    10,
  ],
  ['tls-route-required', [['ISTIO_VS_TLS_ROUTE_REQUIRED', 'spec.tls[0]', 'TLS route is required']], 10],
  [
    'tls-sni-empty',
    [
      [
        'ISTIO_VS_TLS_SNI_REQUIRED',
        'spec.tls[0].match[0].sniHosts',
        'TLS match must have at least one SNI host',
      ],
    ],
    11,
  ],
  [
    'tls-sni-invalid',
    [
      [
        'ISTIO_VS_SNI_HOST',
        'spec.tls[0].match[0].sniHosts[0]',
        'domain name "*.com" invalid (label "*" invalid)',
      ],
    ],
    11,
  ],
  [
    'tls-sni-not-subset',
    [
      [
        'ISTIO_VS_SNI_NOT_SUBSET',
        'spec.tls[0].match[0].sniHosts[0]',
        'SNI host "ratings.shop.svc.cluster.local" is not a compatible subset of any of the virtual service hosts: [reviews.shop.svc.cluster.local]',
      ],
    ],
    11,
  ],
  [
    'unknown-field-match',
    [
      [
        'SKIFF_CONFIG_UNKNOWN_FIELD',
        'spec.http[0].match[0].url',
        'unknown field "url" (did you mean "uri"?): allowed fields are name, uri, scheme, method, authority, headers, port, sourceLabels, gateways, queryParams, ignoreUriCase, withoutHeaders, sourceNamespace, statPrefix',
      ],
    ],
    11,
  ],
  [
    'unknown-field',
    [
      [
        'SKIFF_CONFIG_UNKNOWN_FIELD',
        'spec.http[0].rout',
        'unknown field "rout" (did you mean "route"?): allowed fields are name, match, route, redirect, directResponse, delegate, rewrite, timeout, retries, fault, mirror, mirrors, mirrorPercent, mirror_percent, mirrorPercentage, corsPolicy, headers',
      ],
    ],
    10,
  ],
  ['weight-negative', [['ISTIO_VS_WEIGHT_NEGATIVE', 'spec.http[0].route[1].weight', 'weight -5 < 0']], 14],
  [
    'weight-zero',
    [
      [
        'ISTIO_VS_WEIGHT_ZERO',
        'spec.http[0].route',
        'total destination weight = 0: at least one destination needs a weight above 0',
      ],
    ],
    10,
  ],
];

describe('VirtualService: one invalid fixture per rule', () => {
  ruleCases('virtual-service', RULES, { kind: 'VirtualService' });

  it('a direct response body over 1MB is an error, over 100kB a warning', () => {
    const spec = (size: number) =>
      vs(
        `  hosts: [reviews]\n  http:\n  - directResponse:\n      status: 503\n      body: {string: "${'x'.repeat(size)}"}\n`,
      );
    assert.deepEqual(errorsOf(spec(1024 * 1024 + 1)), [
      [
        'ISTIO_VS_DIRECT_RESPONSE_SIZE',
        'spec.http[0].directResponse.body',
        'large direct_responses may impact control plane performance, must be less than 1MB (got 1048577 bytes)',
      ],
    ]);
    assert.deepEqual(warningsOf(spec(200 * 1024)), [
      [
        'ISTIO_VS_DIRECT_RESPONSE_LARGE',
        'spec.http[0].directResponse.body',
        'large direct_responses may impact control plane performance',
      ],
    ]);
  });
});

describe('VirtualService: valid configurations load', () => {
  for (const name of ['bookinfo', 'features', 'delegate', 'tcp-tls']) {
    it(name, () => {
      const { diagnostics, resources } = loadFixture('valid', name);
      assert.deepEqual(
        diagnostics.filter((d) => d.severity === 'error' || d.code !== 'SKIFF_CONFIG_NOT_ENFORCED'),
        [],
      );
      assert.ok(resources.length > 0);
      assert.ok(resources.every((r) => r.kind === 'VirtualService'));
    });
  }

  it('v1alpha3, v1beta1 and v1 read the same spec', () => {
    const text = vs(
      `  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: 100\n`,
    );
    const specs = ['v1alpha3', 'v1beta1', 'v1'].map(
      (v) => load(text.replace('networking.istio.io/v1\n', `networking.istio.io/${v}\n`)).resources[0]?.spec,
    );
    assert.deepEqual(specs[0], specs[2]);
    assert.deepEqual(specs[1], specs[2]);
    assert.deepEqual(specs[2], {
      hosts: ['reviews'],
      http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 100 }] }],
    });
  });

  it('cases Istio accepts (TestValidateVirtualService, TestValidateHTTPRoute)', () => {
    for (const spec of [
      // a delegate: no hosts
      `  http:\n  - route:\n    - destination: {host: foo.baz}\n`,
      // * with a gateway
      `  hosts: ["*"]\n  gateways: [somegateway]\n  http:\n  - route:\n    - destination: {host: foo.baz}\n`,
      // an IP address as a host
      `  hosts: [10.0.0.1]\n  http:\n  - route:\n    - destination: {host: foo.baz}\n`,
      // the authority set once, in the destination's headers
      `  hosts: [foo.bar]\n  http:\n  - route:\n    - destination: {host: foo.baz}\n      headers:\n        request:\n          set: {":authority": foo}\n`,
      // weights need not sum to 100; a single 0 weight is fine
      `  hosts: [foo.bar]\n  http:\n  - route:\n    - destination: {host: foo.baz.south}\n      weight: 550\n    - destination: {host: foo.baz.east}\n      weight: 500\n`,
      `  hosts: [foo.bar]\n  tcp:\n  - route:\n    - destination: {host: foo.baz}\n      weight: 0\n`,
      // wildcard destination hosts other than *
      `  hosts: [foo.bar]\n  http:\n  - route:\n    - destination: {host: "*-foo.baz"}\n    - destination: {host: "*foo.baz"}\n      weight: 1\n`,
      // a null match is read as an empty one; an empty uri prefix is allowed
      `  hosts: [foo.bar]\n  http:\n  - match:\n    - null\n    - uri: {prefix: ""}\n${ROUTE}`,
      // escaped % and Envoy variables in header values
      `  hosts: [foo.bar]\n  http:\n  - headers:\n      response:\n        set: {i-love-istio: "100%%", name: "%HOSTNAME%"}\n        add: {x: 'hello %REQ(:path)% and %DYNAMIC_METADATA(["a", "b"])%'}\n${ROUTE}`,
      // RE2 syntax JavaScript lacks
      `  hosts: [foo.bar]\n  http:\n  - match:\n    - uri: {regex: '(?i)^/a\\\\z'}\n    - uri: {regex: '\\\\A/(?P<id>[0-9]+)\\\\pL\\\\p{Greek}\\\\Q.*\\\\E$'}\n${ROUTE}`,
      // retries disabled explicitly
      `  hosts: [foo.bar]\n  http:\n  - retries: {attempts: 0}\n${ROUTE}`,
    ]) {
      assert.deepEqual(errorsOf(vs(spec)), [], spec);
    }
  });
});

describe('VirtualService: Istio warnings', () => {
  it('a legacy FQDN gateway name', () => {
    assert.deepEqual(
      warningsOf(
        vs(
          `  hosts: [foo.bar]\n  gateways: [gateway.example.com]\n  http:\n  - route:\n    - destination: {host: foo.baz}\n`,
        ),
      ),
      [
        [
          'ISTIO_VS_GATEWAY_LEGACY',
          'spec.gateways[0]',
          'using legacy gatewayName format "gateway.example.com"; prefer the <namespace>/<name> format: "example/gateway"',
        ],
      ],
    );
  });

  it('the deprecated mirrorPercent', () => {
    assert.deepEqual(
      warningsOf(
        vs(`  hosts: [foo.bar]\n  http:\n  - mirror: {host: audit}\n    mirrorPercent: 5\n${ROUTE}`),
      ),
      [
        [
          'ISTIO_VS_MIRROR_PERCENT_DEPRECATED',
          'spec.http[0].mirrorPercent',
          'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead',
        ],
      ],
    );
  });

  it('an IP address as an SNI host', () => {
    assert.deepEqual(
      warningsOf(
        vs(
          `  hosts: [foo.bar]\n  tls:\n  - match:\n    - port: 999\n      sniHosts: [1.1.1.1]\n    route:\n    - destination: {host: foo.baz}\n`,
        ),
      ),
      [
        [
          'ISTIO_VS_SNI_IP',
          'spec.tls[0].match[0].sniHosts[0]',
          'using an IP address ("1.1.1.1") goes against SNI spec and most clients do not support this',
        ],
      ],
    );
  });

  it('an abort without an error type', () => {
    assert.deepEqual(
      warningsOf(
        vs(`  hosts: [foo.bar]\n  http:\n  - fault:\n      abort: {percentage: {value: 10}}\n${ROUTE}`),
      ),
      [
        [
          'ISTIO_VS_FAULT_ABORT_TYPE',
          'spec.http[0].fault.abort',
          'abort configured, but error type not set: set httpStatus or grpcStatus',
        ],
      ],
    );
  });

  it('unreachable rules and ineffective matches', () => {
    const text = vs(
      `  hosts: [foo.bar]\n  http:\n  - match:\n    - uri: {prefix: /api/v1/product}\n    - uri: {prefix: /api/v1/products}\n      method: {exact: GET}\n${ROUTE}  - name: dup\n    match:\n    - uri: {prefix: /api/v1/product}\n${ROUTE}  - route:\n    - destination: {host: reviews}\n  - route:\n    - destination: {host: reviews}\n`,
    );
    assert.deepEqual(warningsOf(text), [
      [
        'ISTIO_VS_INEFFECTIVE_MATCH',
        'spec.http[1].match[0]',
        'virtualService rule "dup" match #0 is not used (duplicate/overlapping match in rule #0)',
      ],
      [
        'ISTIO_VS_UNREACHABLE_RULE',
        'spec.http[1]',
        'virtualService rule "dup" not used (all matches used by prior rules)',
      ],
      [
        'ISTIO_VS_UNREACHABLE_RULE',
        'spec.http[3]',
        'virtualService rule #3 not used (only the last rule can have no matches)',
      ],
      [
        'ISTIO_VS_INEFFECTIVE_MATCH',
        'spec.http[0].match[1]',
        'virtualService rule #0 match #1 of prefix /api/v1/products is not used (duplicate/overlapping match in rule #0 of prefix /api/v1/product on #0)',
      ],
    ]);
    assert.equal(load(text).resources.length, 1, 'warnings do not drop the resource');
  });

  it('an exact match after a prefix is not reported', () => {
    const text = vs(
      `  hosts: [foo.bar]\n  http:\n  - match:\n    - uri: {prefix: /}\n    - uri: {exact: /}\n      method: {exact: GET}\n${ROUTE}`,
    );
    assert.deepEqual(warningsOf(text), []);
  });
});
