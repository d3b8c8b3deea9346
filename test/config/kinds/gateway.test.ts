import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseIstioProtocol } from '../../../src/config/kinds/gateway.js';
import { isValidCipherSuite } from '../../../src/config/kinds/gateway-tls.js';
import { loadConfig } from '../../../src/config/load.js';
import { formatPath } from '../../../src/core/field-path.js';
import { fixture } from '../../helpers.js';
import { ruleCases } from './rule-fixtures.js';

function load(text: string, path = 'test.yaml') {
  return loadConfig([{ path, text }]);
}

function loadFixture(kind: 'valid' | 'invalid', name: string) {
  const path = fixture('config', kind, 'gateway', `${name}.yaml`);
  return load(readFileSync(path, 'utf8'), `${name}.yaml`);
}

const gateways = (snapshot: ReturnType<typeof load>) =>
  snapshot.resources.filter((r) => r.kind === 'Gateway');
const errorsOf = (snapshot: ReturnType<typeof load>) =>
  snapshot.diagnostics
    .filter((d) => d.severity === 'error')
    .map((d) => [d.code, formatPath(d.path ?? []), d.message]);
const warningsOf = (snapshot: ReturnType<typeof load>) =>
  snapshot.diagnostics
    .filter((d) => d.severity === 'warning' && d.code !== 'SKIFF_CONFIG_NOT_ENFORCED')
    .map((d) => [d.code, formatPath(d.path ?? []), d.message]);

/** A Gateway with one server, for short cases: `server` is the YAML of the list item, indented 4. */
function gateway(server: string, name = 'gw'): string {
  return `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: ${name}, namespace: shop}\nspec:\n  servers:\n  - ${server.trim()}\n`;
}

/** fixture → the errors it must produce: [code, field path, exact message]; plus the line of the first. */
const RULES: [string, [string, string, string][], number][] = [
  [
    'bad-name',
    [
      [
        'ISTIO_GW_NAME',
        'metadata.name',
        'invalid gateway name: "ingress.shop": a Gateway name must be a DNS-1123 label (no dots, at most 63 characters)',
      ],
    ],
    5,
  ],
  [
    'bind-bad-ip',
    [
      [
        'ISTIO_GW_BIND_IP',
        'spec.servers[0].bind',
        'foo.bar is not a valid IP: bind takes an IP address or unix:///path',
      ],
    ],
    15,
  ],
  [
    'bind-unix-empty',
    [
      [
        'ISTIO_GW_BIND_UNIX',
        'spec.servers[0].bind',
        'unix address must not be empty: expected unix:///path or unix://@name',
      ],
    ],
    15,
  ],
  [
    'bind-unix-port',
    [
      [
        'ISTIO_GW_BIND_UNIX_PORT',
        'spec.servers[0].port.number',
        'port number must be 0 for unix domain socket: number:7 protocol:"HTTP" name:"http"',
      ],
    ],
    12,
  ],
  [
    'bind-unix-relative',
    [['ISTIO_GW_BIND_UNIX', 'spec.servers[0].bind', 'tmp/gw.sock is not an absolute path to a file']],
    15,
  ],
  [
    'cert-sources',
    [
      [
        'ISTIO_GW_TLS_CERT_SOURCES',
        'spec.servers[0].tls',
        'only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should be specified, got serverCertificate/privateKey and credentialName',
      ],
    ],
    17,
  ],
  [
    'credential-names-empty',
    [['SKIFF_CONFIG_EMPTY', 'spec.servers[0].tls.credentialNames', 'must have at least 1 item(s)']],
    19,
  ],
  [
    'crl-credential',
    [
      [
        'ISTIO_GW_TLS_CRL_WITH_CREDENTIAL',
        'spec.servers[0].tls.caCrl',
        'CRL is not supported with credentialName. CRL has to be specified in the credential',
      ],
    ],
    20,
  ],
  [
    'crl-simple',
    [
      [
        'ISTIO_GW_TLS_CRL_SIMPLE',
        'spec.servers[0].tls.caCrl',
        'CRL is not supported with SIMPLE TLS: client certificates are only checked in MUTUAL and OPTIONAL_MUTUAL modes',
      ],
    ],
    21,
  ],
  [
    'host-bad-label',
    [
      [
        'ISTIO_GW_HOST',
        'spec.servers[0].hosts[0]',
        'domain name "my_app.example.com" invalid (label "my_app" invalid): got "shop/my_app.example.com"',
      ],
    ],
    16,
  ],
  [
    'host-bad-namespace',
    [
      [
        'ISTIO_GW_HOST',
        'spec.servers[0].hosts[0]',
        'invalid namespace value "~" in gateway: got "~/bookinfo.com"',
      ],
    ],
    16,
  ],
  [
    'host-partial-wildcard',
    [
      [
        'ISTIO_GW_HOST',
        'spec.servers[0].hosts[0]',
        'partial wildcard "*bar.com" not allowed: got "*bar.com"',
      ],
    ],
    16,
  ],
  [
    'host-short-name',
    [['ISTIO_GW_HOST', 'spec.servers[0].hosts[0]', 'short names (non FQDN) are not allowed: got "reviews"']],
    16,
  ],
  [
    'host-wildcard-inside',
    [
      [
        'ISTIO_GW_HOST',
        'spec.servers[0].hosts[0]',
        'domain name "*.bar.com" invalid (label "*" invalid): got "foo.*.bar.com"',
      ],
      [
        'ISTIO_GW_HOST',
        'spec.servers[0].hosts[0]',
        'partial wildcard "foo.*.bar.com" not allowed: got "foo.*.bar.com"',
      ],
    ],
    16,
  ],
  [
    'hosts-missing',
    [
      [
        'SKIFF_CONFIG_REQUIRED',
        'spec.servers[0].hosts',
        'required field is missing: expected a list of a string',
      ],
    ],
    11,
  ],
  [
    'istio-mutual-certs',
    [
      [
        'ISTIO_GW_TLS_ISTIO_MUTUAL_CERTS',
        'spec.servers[0].tls.serverCertificate',
        `ISTIO_MUTUAL TLS cannot have associated server certificate: ISTIO_MUTUAL uses the mesh's own certificates, remove serverCertificate`,
      ],
      [
        'ISTIO_GW_TLS_ISTIO_MUTUAL_CERTS',
        'spec.servers[0].tls.privateKey',
        `ISTIO_MUTUAL TLS cannot have associated private key: ISTIO_MUTUAL uses the mesh's own certificates, remove privateKey`,
      ],
      [
        'ISTIO_GW_TLS_ISTIO_MUTUAL_CERTS',
        'spec.servers[0].tls.caCertificates',
        `ISTIO_MUTUAL TLS cannot have associated CA bundle: ISTIO_MUTUAL uses the mesh's own certificates, remove caCertificates`,
      ],
    ],
    19,
  ],
  [
    'istio-mutual-credential',
    [
      [
        'ISTIO_GW_TLS_ISTIO_MUTUAL_CERTS',
        'spec.servers[0].tls.credentialName',
        `ISTIO_MUTUAL TLS cannot have associated credentialName: ISTIO_MUTUAL uses the mesh's own certificates, remove credentialName`,
      ],
    ],
    19,
  ],
  [
    'mode-unknown',
    [
      [
        'SKIFF_CONFIG_ENUM',
        'spec.servers[0].tls.mode',
        'invalid value "simple": expected one of PASSTHROUGH, SIMPLE, MUTUAL, AUTO_PASSTHROUGH, ISTIO_MUTUAL, OPTIONAL_MUTUAL',
      ],
    ],
    18,
  ],
  [
    'mutual-no-ca',
    [
      [
        'ISTIO_GW_TLS_CA_REQUIRED',
        'spec.servers[0].tls.caCertificates',
        'MUTUAL TLS requires a client CA bundle: set caCertificates (or use credentialName)',
      ],
    ],
    17,
  ],
  [
    'no-servers',
    [
      [
        'ISTIO_GW_NO_SERVERS',
        'spec.servers',
        'gateway must have at least one server: add servers with a port and hosts',
      ],
    ],
    7,
  ],
  [
    'optional-mutual-no-certs',
    [
      [
        'ISTIO_GW_TLS_CA_REQUIRED',
        'spec.servers[0].tls.caCertificates',
        'MUTUAL TLS requires a client CA bundle: set caCertificates (or use credentialName)',
      ],
      [
        'ISTIO_GW_TLS_CERT_REQUIRED',
        'spec.servers[0].tls.serverCertificate',
        'MUTUAL TLS requires a server certificate: set serverCertificate (or use credentialName)',
      ],
      [
        'ISTIO_GW_TLS_KEY_REQUIRED',
        'spec.servers[0].tls.privateKey',
        'MUTUAL TLS requires a private key: set privateKey (or use credentialName)',
      ],
    ],
    17,
  ],
  [
    'port-missing',
    [
      [
        'SKIFF_CONFIG_REQUIRED',
        'spec.servers[0].port',
        'required field is missing: expected a port ({number, protocol, name})',
      ],
    ],
    11,
  ],
  [
    'port-name-duplicate',
    [
      [
        'ISTIO_GW_PORT_NAME_DUPLICATE',
        'spec.servers[1].port.name',
        'port names in servers must be unique: duplicate name web',
      ],
    ],
    19,
  ],
  [
    'port-name-empty',
    [['ISTIO_GW_PORT_NAME', 'spec.servers[0].port.name', 'port name must be set: number:80 protocol:"HTTP"']],
    13,
  ],
  [
    'port-number-missing',
    [
      [
        'SKIFF_CONFIG_REQUIRED',
        'spec.servers[0].port.number',
        'required field is missing: expected an integer in 0-4294967295',
      ],
    ],
    11,
  ],
  [
    'port-number-range',
    [
      [
        'ISTIO_GW_PORT_NUMBER',
        'spec.servers[0].port.number',
        'port number 66000 must be in the range 1..65535 (0 only with a unix:// bind)',
      ],
    ],
    12,
  ],
  [
    'port-number-string',
    [
      [
        'SKIFF_CONFIG_TYPE',
        'spec.servers[0].port.number',
        'expected an integer in 0-4294967295, got string "80"',
      ],
    ],
    12,
  ],
  [
    'port-number-zero',
    [
      [
        'ISTIO_GW_PORT_NUMBER',
        'spec.servers[0].port.number',
        'port number 0 must be in the range 1..65535 (0 only with a unix:// bind)',
      ],
    ],
    12,
  ],
  [
    'port-protocol-unknown',
    [
      [
        'ISTIO_GW_PORT_PROTOCOL',
        'spec.servers[0].port.protocol',
        'invalid protocol "KAFKA", supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP (and HTTPS, TLS, HTTP_PROXY, UDP; any case)',
      ],
    ],
    14,
  ],
  [
    'protocol-version-unknown',
    [
      [
        'SKIFF_CONFIG_ENUM',
        'spec.servers[0].tls.minProtocolVersion',
        'invalid value "TLSv1.2": expected one of TLS_AUTO, TLSV1_0, TLSV1_1, TLSV1_2, TLSV1_3',
      ],
    ],
    20,
  ],
  [
    'selector-not-strings',
    [['SKIFF_CONFIG_TYPE', 'spec.selector.istio', 'expected a string, got a mapping']],
    9,
  ],
  [
    'server-no-hosts',
    [
      [
        'ISTIO_GW_SERVER_NO_HOSTS',
        'spec.servers[0].hosts',
        'server config must contain at least one host: e.g. "*", "example.com" or "ns/*.example.com"',
      ],
    ],
    15,
  ],
  [
    'simple-no-certificate',
    [
      [
        'ISTIO_GW_TLS_CERT_REQUIRED',
        'spec.servers[0].tls.serverCertificate',
        'SIMPLE TLS requires a server certificate: set serverCertificate (or use credentialName)',
      ],
    ],
    17,
  ],
  [
    'simple-no-key',
    [
      [
        'ISTIO_GW_TLS_KEY_REQUIRED',
        'spec.servers[0].tls.privateKey',
        'SIMPLE TLS requires a private key: set privateKey (or use credentialName)',
      ],
    ],
    17,
  ],
  [
    'target-port',
    [
      [
        'ISTIO_GW_TARGET_PORT',
        'spec.servers[0].port.targetPort',
        'targetPort has no impact on Gateways: remove it (the gateway listens on port.number)',
      ],
    ],
    15,
  ],
  [
    'tls-certificates-no-key',
    [
      [
        'ISTIO_GW_TLS_KEY_REQUIRED',
        'spec.servers[0].tls.tlsCertificates[0].privateKey',
        'SIMPLE TLS requires a private key: set privateKey (or use credentialName)',
      ],
    ],
    20,
  ],
  [
    'tls-certificates-too-many',
    [['SKIFF_CONFIG_TOO_MANY', 'spec.servers[0].tls.tlsCertificates', '3 items: at most 2 allowed']],
    19,
  ],
  [
    'tls-on-http',
    [
      [
        'ISTIO_GW_TLS_ON_HTTP',
        'spec.servers[0].tls',
        'server cannot have TLS settings for plain text HTTP ports: protocol HTTP only takes tls.httpsRedirect; use HTTPS to terminate TLS',
      ],
    ],
    17,
  ],
  [
    'tls-on-tcp',
    [
      [
        'ISTIO_GW_TLS_ON_NON_TLS',
        'spec.servers[0].tls',
        'server cannot have TLS settings for non HTTPS/TLS ports: protocol TCP takes no tls; use HTTPS or TLS',
      ],
    ],
    17,
  ],
  [
    'tls-required',
    [
      [
        'ISTIO_GW_TLS_REQUIRED',
        'spec.servers[0].tls',
        'server must have TLS settings for HTTPS/TLS protocols: protocol HTTPS needs tls (e.g. {mode: SIMPLE, credentialName: ...})',
      ],
    ],
    11,
  ],
  [
    'unknown-field-server',
    [
      [
        'SKIFF_CONFIG_UNKNOWN_FIELD',
        'spec.servers[0].host',
        'unknown field "host" (did you mean "hosts"?): allowed fields are port, bind, hosts, tls, defaultEndpoint, name',
      ],
      // Not again as "spec.servers[0].hosts: required field is missing": one message per mistake.
    ],
    15,
  ],
  [
    'unknown-field-tls',
    [
      [
        'SKIFF_CONFIG_UNKNOWN_FIELD',
        'spec.servers[0].tls.credentialname',
        'unknown field "credentialname" (did you mean "credentialName"?): allowed fields are httpsRedirect, mode, serverCertificate, privateKey, caCertificates, caCertCredentialName, caCrl, credentialName, credentialNames, tlsCertificates, subjectAltNames, verifyCertificateSpki, verifyCertificateHash, minProtocolVersion, maxProtocolVersion, cipherSuites',
      ],
    ],
    19,
  ],
];

describe('Gateway: one invalid fixture per rule', () => {
  ruleCases('gateway', RULES);

  it('the resource is named in every message', () => {
    const [error] = loadFixture('invalid', 'tls-required').diagnostics;
    assert.equal(error?.resource, 'Gateway shop/ingress');
  });
});

describe('Gateway: valid YAML from Istio docs and samples loads', () => {
  const dir = fixture('config', 'valid', 'gateway');
  for (const file of readdirSync(dir)) {
    it(file, () => {
      const snapshot = loadFixture('valid', file.replace(/\.yaml$/, ''));
      assert.deepEqual(errorsOf(snapshot), []);
      assert.deepEqual(warningsOf(snapshot), [], 'only "accepted, not enforced" warnings');
      assert.ok(gateways(snapshot).length > 0);
    });
  }

  it('v1alpha3, v1beta1 and v1 load to the same spec', () => {
    const text = gateway('port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]');
    const specs = ['v1alpha3', 'v1beta1', 'v1'].map(
      (v) => gateways(load(text.replace('networking.istio.io/v1\n', `networking.istio.io/${v}\n`)))[0]?.spec,
    );
    assert.deepEqual(specs[0], specs[2]);
    assert.deepEqual(specs[1], specs[2]);
    assert.deepEqual(specs[2], {
      servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
    });
  });

  it('protocols are case-insensitive, as Istio parses them', () => {
    for (const protocol of [
      'http',
      'Http2',
      'grpc-web',
      'GRPC-WEB',
      'mongo',
      'MySQL',
      'redis',
      'udp',
      'http_proxy',
    ]) {
      const snapshot = load(gateway(`port: {number: 80, name: p, protocol: ${protocol}}\n    hosts: ["*"]`));
      assert.deepEqual(errorsOf(snapshot), [], protocol);
    }
    assert.equal(parseIstioProtocol('grpc-web'), 'GRPC-Web');
    assert.equal(parseIstioProtocol('kafka'), undefined);
  });

  it('hosts Istio accepts: IP, */host, ./host, ns/*, *', () => {
    for (const host of [
      '"1.1.1.1"',
      '"*/foo.bar.com"',
      '"./foo.bar.com"',
      '"ns1/*"',
      '"*.example.com"',
      '"*"',
      '"ns1/*.bar.com"',
    ]) {
      const snapshot = load(gateway(`port: {number: 80, name: http, protocol: HTTP}\n    hosts: [${host}]`));
      assert.deepEqual(errorsOf(snapshot), [], host);
    }
  });

  it('an HTTP server may carry httpsRedirect (mode unset is PASSTHROUGH)', () => {
    const snapshot = load(
      gateway(
        'port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n    tls: {httpsRedirect: true}',
      ),
    );
    assert.deepEqual(errorsOf(snapshot), []);
    assert.deepEqual(warningsOf(snapshot), []);
  });

  it('SIMPLE or MUTUAL with a credentialName needs no files; CRL is then not checked', () => {
    for (const tls of [
      '{mode: SIMPLE, credentialName: c}',
      '{mode: MUTUAL, credentialName: c}',
      '{mode: OPTIONAL_MUTUAL, credentialNames: [a, b]}',
      '{mode: SIMPLE, credentialName: c, caCrl: crl}',
      '{mode: MUTUAL, caCertificates: ca, credentialName: c}',
      '{mode: ISTIO_MUTUAL}',
      '{mode: SIMPLE, serverCertificate: s, privateKey: k, caCertificates: ca}',
    ]) {
      const snapshot = load(
        gateway(`port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls: ${tls}`),
      );
      assert.deepEqual(errorsOf(snapshot), [], tls);
    }
  });

  it('a Gateway name with dots is allowed for converted Kubernetes Gateways', () => {
    const text = gateway('port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]', 'a.b').replace(
      'namespace: shop}',
      'namespace: shop, annotations: {internal.istio.io/gateway-semantics: gateway}}',
    );
    assert.deepEqual(errorsOf(load(text)), []);
  });
});

describe('Gateway: what Istio warns about is a warning', () => {
  const warnings = (server: string) => {
    const snapshot = load(gateway(server));
    assert.deepEqual(errorsOf(snapshot), []);
    assert.equal(gateways(snapshot).length, 1, 'a warning does not drop the resource');
    return warningsOf(snapshot);
  };
  const https = 'port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls: ';

  it('httpsRedirect on a non-HTTP server', () => {
    assert.deepEqual(warnings(`${https}{httpsRedirect: true}`), [
      [
        'ISTIO_GW_HTTPS_REDIRECT_NOT_HTTP',
        'spec.servers[0].tls.httpsRedirect',
        'tls.httpsRedirect should only be used with http servers, got protocol "HTTPS"',
      ],
    ]);
  });

  it('certificates with PASSTHROUGH or AUTO_PASSTHROUGH', () => {
    assert.deepEqual(warnings(`${https}{mode: AUTO_PASSTHROUGH, credentialName: c}`), [
      [
        'ISTIO_GW_TLS_PASSTHROUGH_CERTS',
        'spec.servers[0].tls',
        'AUTO_PASSTHROUGH mode does not use certificates, they will be ignored: credentialName',
      ],
    ]);
    assert.deepEqual(warnings(`${https}{credentialName: c}`), [
      [
        'ISTIO_GW_TLS_PASSTHROUGH_CERTS',
        'spec.servers[0].tls',
        'PASSTHROUGH mode does not use certificates, they will be ignored: credentialName (mode is not set, so it is PASSTHROUGH)',
      ],
    ]);
  });

  it('unknown and duplicate cipher suites', () => {
    const got = warnings(
      `${https}{mode: SIMPLE, credentialName: c, cipherSuites: [not-a-cipher, ECDHE-ECDSA-AES128-SHA, ECDHE-ECDSA-AES128-SHA, -AES128-SHA, ALL]}`,
    );
    assert.deepEqual(
      got.map(([code, path]) => [code, path]),
      [
        ['ISTIO_GW_TLS_CIPHER_INVALID', 'spec.servers[0].tls.cipherSuites'],
        ['ISTIO_GW_TLS_CIPHER_DUPLICATE', 'spec.servers[0].tls.cipherSuites'],
      ],
    );
    assert.match(got[0]?.[2] ?? '', /^ignoring invalid cipher suites: \[not-a-cipher\]; known suites are /);
    assert.equal(got[1]?.[2], 'ignoring duplicate cipher suites: [ECDHE-ECDSA-AES128-SHA]');
    assert.ok(isValidCipherSuite('+AES128-SHA') && isValidCipherSuite('') && !isValidCipherSuite('RC4'));
  });

  it('TLS 1.0/1.1 without cipher suites', () => {
    assert.deepEqual(warnings(`${https}{mode: SIMPLE, credentialName: c, minProtocolVersion: TLSV1_1}`), [
      [
        'ISTIO_GW_TLS_OLD_VERSION_CIPHERS',
        'spec.servers[0].tls.minProtocolVersion',
        'TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.',
      ],
    ]);
  });

  it('a minimum TLS version above the maximum (Skiff)', () => {
    assert.deepEqual(
      warnings(
        `${https}{mode: SIMPLE, credentialName: c, minProtocolVersion: TLSV1_3, maxProtocolVersion: TLSV1_2}`,
      ),
      [
        [
          'SKIFF_GW_TLS_VERSION_RANGE',
          'spec.servers[0].tls.minProtocolVersion',
          'minProtocolVersion TLSV1_3 is above maxProtocolVersion TLSV1_2: no TLS version can be negotiated',
        ],
      ],
    );
  });

  it('fields Skiff does not act on are named', () => {
    const snapshot = load(
      gateway(
        'port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n    name: main\n    defaultEndpoint: 127.0.0.1:8080',
      ),
    );
    assert.deepEqual(
      snapshot.diagnostics.map((d) => [d.severity, d.code, formatPath(d.path ?? [])]),
      [
        ['warning', 'SKIFF_CONFIG_NOT_ENFORCED', 'spec.servers[0].name'],
        ['warning', 'SKIFF_CONFIG_NOT_ENFORCED', 'spec.servers[0].defaultEndpoint'],
      ],
    );
  });
});
