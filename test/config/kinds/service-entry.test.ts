import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/load.js';
import { formatPath } from '../../../src/core/field-path.js';
import { fixture } from '../../helpers.js';
import { ruleCases } from './rule-fixtures.js';

function load(text: string, path = 'test.yaml') {
  return loadConfig([{ path, text }]);
}

function _loadFixture(kind: string, name: string) {
  return load(readFileSync(fixture('config', kind, `${name}.yaml`), 'utf8'), `${name}.yaml`);
}

const errorsOf = (text: string) =>
  load(text)
    .diagnostics.filter((d) => d.severity === 'error')
    .map((d) => [d.code, formatPath(d.path ?? []), d.message]);

const warningsOf = (text: string) =>
  load(text)
    .diagnostics.filter((d) => d.severity === 'warning' && d.code !== 'SKIFF_CONFIG_NOT_ENFORCED')
    .map((d) => [d.code, formatPath(d.path ?? [])]);

/** fixture → the errors it must produce: [code, field path, exact message]; plus the line of the first. */
const RULES: [string, [string, string, string][], number][] = [
  [
    'dry-run-annotation',
    [
      [
        'ISTIO_DRY_RUN_UNSUPPORTED',
        'metadata.annotations["istio.io/dry-run"]',
        'shop/example has unsupported annotation istio.io/dry-run, please remove the annotation (only AuthorizationPolicy supports dry-run)',
      ],
    ],
    8,
  ],
  ['address-invalid', [['ISTIO_SE_ADDRESS_INVALID', 'spec.addresses[0]', '10.0.0.300 is not a valid IP']], 9],
  [
    'cidr-dns',
    [
      [
        'ISTIO_SE_CIDR_RESOLUTION',
        'spec.addresses[0]',
        'CIDR addresses are allowed only for NONE/STATIC resolution types, got DNS',
      ],
    ],
    9,
  ],
  [
    'dns-endpoint-wildcard',
    [
      [
        'ISTIO_WE_ADDRESS_INVALID',
        'spec.endpoints[0].address',
        'endpoint address "*.api.example.com" is not a valid FQDN or an IP address: domain name "*.api.example.com" invalid (label "*" invalid)',
      ],
    ],
    13,
  ],
  [
    'dns-round-robin-endpoints',
    [
      [
        'ISTIO_SE_DNS_RR_ENDPOINTS',
        'spec.endpoints',
        'there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN, got 2',
      ],
    ],
    12,
  ],
  [
    'dns-unix-endpoint',
    [
      [
        'ISTIO_WE_ADDRESS_INVALID',
        'spec.endpoints[0].address',
        'endpoint address "unix:///var/run/api.sock" is not a valid FQDN or an IP address: Unix sockets need resolution STATIC',
      ],
    ],
    13,
  ],
  [
    'dns-wildcard-host',
    [
      [
        'ISTIO_SE_DNS_HOST_NOT_FQDN',
        'spec.hosts[0]',
        'hosts must be FQDN if no endpoints are provided for resolution mode DNS, got "*.example.com"',
      ],
    ],
    8,
  ],
  [
    'endpoint-address-required',
    [['ISTIO_WE_ADDRESS_REQUIRED', 'spec.endpoints[0].address', 'address is required (or set network)']],
    13,
  ],
  [
    'endpoint-port-range',
    [
      [
        'ISTIO_WE_PORT_RANGE',
        'spec.endpoints[0].ports.http',
        'port number 65536 must be in the range 1..65535',
      ],
    ],
    14,
  ],
  [
    'endpoint-port-undefined',
    [
      [
        'ISTIO_SE_ENDPOINT_PORT_UNDEFINED',
        'spec.endpoints[0].ports.grpc',
        'endpoint port 9090 is not defined by the service entry: no port named "grpc" in spec.ports',
      ],
    ],
    14,
  ],
  [
    'export-to-duplicate',
    [['ISTIO_SE_EXPORT_TO', 'spec.exportTo', 'duplicate entries in exportTo for entry shop']],
    12,
  ],
  [
    'export-to-invalid',
    [
      [
        'ISTIO_SE_EXPORT_TO',
        'spec.exportTo',
        'only .,*,~, or a valid DNS 1123 label is allowed as exportTo entry',
      ],
    ],
    12,
  ],
  [
    'host-invalid',
    [
      [
        'ISTIO_SE_HOST_INVALID',
        'spec.hosts[0]',
        'domain name "*.example.com" invalid (label "*" invalid) in host "foo.*.example.com"',
      ],
    ],
    8,
  ],
  [
    'host-wildcard',
    [
      [
        'ISTIO_SE_HOST_WILDCARD',
        'spec.hosts[0]',
        'invalid host *: a ServiceEntry cannot match every host (use a wildcard domain such as "*.example.com")',
      ],
    ],
    8,
  ],
  ['hosts-empty', [['ISTIO_SE_HOSTS_EMPTY', 'spec.hosts', 'service entry must have at least one host']], 8],
  [
    'location-unknown',
    [
      [
        'SKIFF_CONFIG_ENUM',
        'spec.location',
        'invalid value "EXTERNAL": expected one of MESH_EXTERNAL, MESH_INTERNAL',
      ],
    ],
    11,
  ],
  [
    'multi-host-tcp',
    [
      [
        'ISTIO_SE_MULTI_HOST_PROTOCOL',
        'spec.ports[0].protocol',
        'multiple hosts provided with non-HTTP, non-TLS ports (resolution DNS): use HTTP or TLS protocols, one host, or resolution NONE',
      ],
    ],
    10,
  ],
  [
    'none-endpoints',
    [
      [
        'ISTIO_SE_NONE_ENDPOINTS',
        'spec.endpoints',
        'no endpoints should be provided for resolution type none',
      ],
    ],
    12,
  ],
  [
    'port-missing-name',
    [['SKIFF_CONFIG_REQUIRED', 'spec.ports[0].name', 'required field is missing: expected a string']],
    10,
  ],
  [
    'port-name-duplicate',
    [
      [
        'ISTIO_SE_PORT_NAME_DUPLICATE',
        'spec.ports[1].name',
        'service entry port name "http" already defined',
      ],
    ],
    11,
  ],
  [
    'port-name-invalid',
    [
      [
        'ISTIO_SE_PORT_NAME_INVALID',
        'spec.ports[0].name',
        'invalid port name: http_web (expected a DNS-1123 label: letters, digits and "-", at most 63 characters)',
      ],
    ],
    10,
  ],
  [
    'port-number-duplicate',
    [['ISTIO_SE_PORT_NUMBER_DUPLICATE', 'spec.ports[1].number', 'service entry port 80 already defined']],
    11,
  ],
  [
    'port-zero',
    [['ISTIO_SE_PORT_RANGE', 'spec.ports[0].number', 'port number 0 must be in the range 1..65535']],
    10,
  ],
  [
    'protocol-unsupported',
    [
      [
        'ISTIO_SE_PROTOCOL_UNSUPPORTED',
        'spec.ports[0].protocol',
        'unsupported protocol: HTTP3 (expected one of HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, UDP, MONGO, MYSQL, REDIS)',
      ],
    ],
    10,
  ],
  [
    'resolution-unknown',
    [
      [
        'SKIFF_CONFIG_ENUM',
        'spec.resolution',
        'invalid value "dns": expected one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS',
      ],
    ],
    11,
  ],
  [
    'selector-and-endpoints',
    [
      [
        'ISTIO_SE_SELECTOR_AND_ENDPOINTS',
        'spec.endpoints',
        'only one of WorkloadSelector or Endpoints is allowed in Service Entry',
      ],
    ],
    14,
  ],
  [
    'selector-empty-key',
    [
      [
        'ISTIO_SELECTOR_EMPTY_KEY',
        'spec.workloadSelector.labels[""]',
        'empty key is not supported in selector: "=api"',
      ],
    ],
    13,
  ],
  [
    'selector-wildcard',
    [
      [
        'ISTIO_SELECTOR_WILDCARD',
        'spec.workloadSelector.labels.app',
        'wildcard is not supported in selector: "app=api-*"',
      ],
    ],
    13,
  ],
  [
    'static-endpoint-fqdn',
    [
      [
        'ISTIO_SE_ENDPOINT_NOT_IP',
        'spec.endpoints[1].address',
        'endpoint address "api-1.example.com" is not a valid IP address',
      ],
    ],
    14,
  ],
  [
    'target-port-range',
    [
      [
        'ISTIO_SE_TARGET_PORT_RANGE',
        'spec.ports[0].targetPort',
        'port number 70000 must be in the range 1..65535',
      ],
    ],
    10,
  ],
  [
    'unix-endpoint-ports',
    [
      [
        'ISTIO_WE_UNIX_PORTS',
        'spec.endpoints[0].ports',
        'unix endpoint unix:///var/run/api.sock must not include ports',
      ],
    ],
    14,
  ],
  [
    'unix-two-ports',
    [
      [
        'ISTIO_SE_UNIX_PORTS',
        'spec.endpoints[0].address',
        'exactly 1 service port required for unix endpoints, got 2',
      ],
    ],
    14,
  ],
  [
    'unknown-endpoint-field',
    [
      [
        'SKIFF_CONFIG_UNKNOWN_FIELD',
        'spec.endpoints[0].port',
        'unknown field "port" (did you mean "ports"?): allowed fields are address, ports, labels, network, locality, weight, serviceAccount',
      ],
    ],
    14,
  ],
  [
    'unknown-field',
    [
      [
        'SKIFF_CONFIG_UNKNOWN_FIELD',
        'spec.port',
        'unknown field "port" (did you mean "ports"?): allowed fields are hosts, addresses, ports, location, resolution, endpoints, workloadSelector, exportTo, subjectAltNames',
      ],
    ],
    9,
  ],
];

describe('ServiceEntry: one invalid fixture per rule', () => {
  ruleCases('service-entry', RULES, { kind: 'ServiceEntry' });
});

const se = (spec: string, metadata = '{name: se, namespace: shop}') =>
  `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: ${metadata}\nspec:\n${spec}\n`;

describe('ServiceEntry: limits from the CRD', () => {
  it('at most 256 hosts', () => {
    const hosts = Array.from({ length: 257 }, (_, i) => `h${i}.example.com`).join(', ');
    assert.deepEqual(
      errorsOf(se(`  hosts: [${hosts}]\n  ports: [{number: 80, name: http, protocol: HTTP}]`)),
      [['ISTIO_SE_TOO_MANY', 'spec.hosts', '257 hosts: at most 256 are allowed']],
    );
  });

  it('no spec is an error', () => {
    assert.deepEqual(
      errorsOf('apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se}\n'),
      [['SKIFF_CONFIG_REQUIRED', 'spec', 'required field is missing: expected a mapping']],
    );
  });

  it('no hosts is an error', () => {
    assert.deepEqual(errorsOf(se('  ports: [{number: 80, name: http}]')), [
      ['SKIFF_CONFIG_REQUIRED', 'spec.hosts', 'required field is missing: expected a list of a string'],
    ]);
  });
});

/** Invalid cases of Istio's TestValidateServiceEntries, by the code Skiff reports. */
const ISTIO_INVALID: [string, string, string][] = [
  [
    'bad hosts',
    '  hosts: ["-"]\n  ports: [{number: 80, protocol: http, name: http-valid1}]\n  endpoints: [{address: in.google.com, ports: {http-valid1: 9080}}]\n  resolution: DNS',
    'ISTIO_SE_HOST_INVALID',
  ],
  [
    'full wildcard host',
    '  hosts: [foo.com, "*"]\n  ports: [{number: 80, protocol: http, name: http-valid1}]\n  endpoints: [{address: in.google.com, ports: {http-valid1: 9080}}]\n  resolution: DNS',
    'ISTIO_SE_HOST_WILDCARD',
  ],
  [
    'undefined endpoint port',
    '  hosts: [google.com]\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 81, protocol: http, name: http-valid2}]\n  endpoints: [{address: lon.google.com, ports: {http-valid1: 8080}}, {address: in.google.com, ports: {http-dne: 9080}}]\n  resolution: DNS',
    'ISTIO_SE_ENDPOINT_PORT_UNDEFINED',
  ],
  [
    'discovery type DNS, non-FQDN host',
    '  hosts: ["*.google.com"]\n  ports: [{number: 80, protocol: http, name: http-valid1}]\n  resolution: DNS',
    'ISTIO_SE_DNS_HOST_NOT_FQDN',
  ],
  [
    'discovery type static, FQDN in endpoints',
    '  hosts: [google.com]\n  addresses: [172.1.2.16]\n  ports: [{number: 80, protocol: http, name: http-valid1}]\n  endpoints: [{address: google.com, ports: {http-valid1: 8080}}]\n  resolution: STATIC',
    'ISTIO_SE_ENDPOINT_NOT_IP',
  ],
  [
    'unix socket, relative path',
    '  hosts: [uds.cluster.local]\n  ports: [{number: 6553, protocol: grpc, name: grpc-service1}]\n  resolution: STATIC\n  endpoints: [{address: "unix://./relative/path.sock"}]',
    'ISTIO_WE_UNIX_ADDRESS',
  ],
  [
    'bad selector key',
    '  hosts: [google.com]\n  workloadSelector: {labels: {"": bar}}\n  ports: [{number: 80, protocol: http, name: http-valid1}]',
    'ISTIO_SELECTOR_EMPTY_KEY',
  ],
  [
    'invalid endpoint port',
    '  hosts: [google.com]\n  ports: [{number: 80, protocol: http, name: http-valid1, targetPort: 81}]\n  resolution: STATIC\n  endpoints: [{address: 1.1.1.1, ports: {http-valid1: 65536}}]',
    'ISTIO_WE_PORT_RANGE',
  ],
  [
    'dns round robin with more than one endpoint',
    '  hosts: [google.com]\n  ports: [{number: 8081, protocol: http, name: http-valid1}]\n  endpoints: [{address: api-v1.istio.io}, {address: 1.1.1.2}]\n  resolution: DNS_ROUND_ROBIN',
    'ISTIO_SE_DNS_RR_ENDPOINTS',
  ],
];

describe("ServiceEntry: Istio's invalid cases fail", () => {
  for (const [name, spec, code] of ISTIO_INVALID) {
    it(name, () => {
      assert.deepEqual([...new Set(errorsOf(se(spec)).map(([c]) => c))], [code]);
    });
  }
});

describe('ServiceEntry: valid YAML loads', () => {
  for (const file of readdirSync(fixture('config', 'valid', 'service-entry'))) {
    it(file, () => {
      const text = readFileSync(fixture('config', 'valid', 'service-entry', file), 'utf8');
      const { diagnostics, resources } = load(text, file);
      assert.deepEqual(
        diagnostics.filter((d) => d.severity === 'error'),
        [],
      );
      assert.equal(resources.length, text.split(/^---$/m).length);
    });
  }

  it('v1alpha3, v1beta1 and v1 load to the same spec', () => {
    const body =
      '  hosts: [api.example.com]\n  ports: [{number: 443, name: https, protocol: TLS}]\n  resolution: DNS';
    const specs = ['v1alpha3', 'v1beta1', 'v1'].map(
      (v) =>
        load(se(body).replace('networking.istio.io/v1\n', `networking.istio.io/${v}\n`)).resources[0]?.spec,
    );
    assert.deepEqual(specs[0], specs[2]);
    assert.deepEqual(specs[1], specs[2]);
    assert.deepEqual(specs[2], {
      hosts: ['api.example.com'],
      ports: [{ number: 443, name: 'https', protocol: 'TLS' }],
      resolution: 'DNS',
    });
  });

  it('DYNAMIC_DNS with a wildcard host is accepted, not enforced', () => {
    const text = se(
      '  hosts: ["*.example.com"]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n  location: MESH_EXTERNAL\n  resolution: DYNAMIC_DNS',
    );
    assert.deepEqual(errorsOf(text), []);
    assert.ok(load(text).diagnostics.some((d) => formatPath(d.path ?? []) === 'spec.resolution'));
  });
});

describe("ServiceEntry: Istio's warnings", () => {
  it('a partial wildcard host', () => {
    assert.deepEqual(
      warningsOf(se('  hosts: ["*x.example.com"]\n  ports: [{number: 80, name: http, protocol: HTTP}]')),
      [['ISTIO_SE_HOST_PARTIAL_WILDCARD', 'spec.hosts[0]']],
    );
  });

  it('workloadSelector with resolution NONE, and without labels', () => {
    assert.deepEqual(
      warningsOf(
        se(
          '  hosts: [a.example.com]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  workloadSelector: {}',
        ),
      ),
      [
        ['ISTIO_SELECTOR_NO_LABELS', 'spec.workloadSelector'],
        ['ISTIO_SE_SELECTOR_IGNORED', 'spec.workloadSelector'],
      ],
    );
  });

  it('targetPort with resolution NONE', () => {
    assert.deepEqual(
      warningsOf(
        se('  hosts: [a.example.com]\n  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]'),
      ),
      [['ISTIO_SE_TARGET_PORT_IGNORED', 'spec.ports[0].targetPort']],
    );
  });

  it('a TCP port without addresses, unless resolution is not NONE', () => {
    const ports = '  hosts: [db.example.com]\n  ports: [{number: 5432, name: tcp, protocol: TCP}]';
    assert.deepEqual(warningsOf(se(ports)), [['ISTIO_SE_ADDRESSES_FOR_TCP', 'spec.ports[0].protocol']]);
    assert.deepEqual(warningsOf(se(`${ports}\n  resolution: DNS`)), []);
    assert.deepEqual(warningsOf(se(`${ports}\n  addresses: [10.0.0.1]`)), []);
    assert.deepEqual(
      warningsOf(
        se(
          `${ports}\n  resolution: DNS`,
          '{name: se, namespace: shop, labels: {networking.istio.io/enable-autoallocate-ip: "false"}}',
        ),
      ),
      [['ISTIO_SE_ADDRESSES_FOR_TCP', 'spec.ports[0].protocol']],
    );
  });

  it('several hosts with an address and a TCP port (DNS)', () => {
    assert.deepEqual(
      warningsOf(
        se(
          '  hosts: [a.example.com, b.example.com]\n  addresses: [10.0.0.1]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n  resolution: DNS',
        ),
      ),
      [['ISTIO_SE_MULTI_HOST_TCP_ADDRESS', 'spec.hosts']],
    );
  });

  it('an endpoint with a network and no address', () => {
    assert.deepEqual(
      warningsOf(
        se(
          '  hosts: [a.example.com]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n  resolution: STATIC\n  endpoints: [{network: net-2}]',
        ),
      ),
      [['ISTIO_WE_ADDRESS_UNSET', 'spec.endpoints[0].address']],
    );
  });

  it('exportTo is accepted, not enforced; workloadSelector and subjectAltNames are read by the control plane', () => {
    const { diagnostics } = load(
      se(
        '  hosts: [a.example.com]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: STATIC\n  workloadSelector: {labels: {app: a}}\n  exportTo: ["."]\n  subjectAltNames: [spiffe://cluster.local/ns/shop/sa/a]',
      ),
    );
    assert.deepEqual(
      diagnostics.filter((d) => d.code === 'SKIFF_CONFIG_NOT_ENFORCED').map((d) => formatPath(d.path ?? [])),
      ['spec.exportTo'],
    );
  });
});
