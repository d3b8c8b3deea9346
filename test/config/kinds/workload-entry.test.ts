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

function _loadFixture(kind: string, name: string) {
  return load(readFileSync(fixture('config', kind, `${name}.yaml`), 'utf8'), `${name}.yaml`);
}

const errorsOf = (text: string) =>
  load(text)
    .diagnostics.filter((d) => d.severity === 'error')
    .map((d) => [d.code, formatPath(d.path ?? []), d.message]);

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
  [
    'address-invalid',
    [
      [
        'ISTIO_WE_ADDRESS_INVALID',
        'spec.address',
        'endpoint address "vm_1.example.com" is not a valid FQDN or an IP address: domain name "vm_1.example.com" invalid (label "vm_1" invalid)',
      ],
    ],
    8,
  ],
  [
    'address-wildcard',
    [
      [
        'ISTIO_WE_ADDRESS_INVALID',
        'spec.address',
        'endpoint address "*.example.com" is not a valid FQDN or an IP address: domain name "*.example.com" invalid (label "*" invalid)',
      ],
    ],
    8,
  ],
  ['label-invalid', [['ISTIO_WE_LABEL', 'spec.labels["app name"]', 'invalid tag key: "app name"']], 9],
  [
    'missing-address',
    [['ISTIO_WE_ADDRESS_REQUIRED', 'spec.address', 'address is required (or set network)']],
    7,
  ],
  [
    'port-name',
    [
      [
        'ISTIO_WE_PORT_NAME',
        'spec.ports["@"]',
        'invalid port name: @ (expected a DNS-1123 label: letters, digits and "-", at most 63 characters)',
      ],
    ],
    9,
  ],
  [
    'port-name-long',
    [
      [
        'ISTIO_WE_PORT_NAME',
        'spec.ports.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
        'port name must be valid: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa has 63 characters, at most 62 are allowed',
      ],
    ],
    10,
  ],
  [
    'port-range',
    [['ISTIO_WE_PORT_RANGE', 'spec.ports.http', 'port number 99999 must be in the range 1..65535']],
    9,
  ],
  [
    'unix-dir',
    [
      [
        'ISTIO_WE_UNIX_ADDRESS',
        'spec.address',
        '/var/run/ is not an absolute path to a file (in "unix:///var/run/")',
      ],
    ],
    8,
  ],
  [
    'unix-empty',
    [['ISTIO_WE_UNIX_ADDRESS', 'spec.address', 'unix address must not be empty (in "unix://")']],
    8,
  ],
  [
    'unix-ports',
    [['ISTIO_WE_UNIX_PORTS', 'spec.ports', 'unix endpoint unix://@api must not include ports']],
    9,
  ],
  [
    'unix-ports-empty',
    [['ISTIO_WE_UNIX_PORTS', 'spec.ports', 'unix endpoint unix:///var/run/app.sock must not include ports']],
    9,
  ],
  [
    'unix-relative',
    [
      [
        'ISTIO_WE_UNIX_ADDRESS',
        'spec.address',
        'run/api.sock is not an absolute path to a file (in "unix://run/api.sock")',
      ],
    ],
    8,
  ],
  [
    'unknown-field',
    [
      [
        'SKIFF_CONFIG_UNKNOWN_FIELD',
        'spec.serviceAcount',
        'unknown field "serviceAcount" (did you mean "serviceAccount"?): allowed fields are address, ports, labels, network, locality, weight, serviceAccount',
      ],
    ],
    9,
  ],
  [
    'weight-negative',
    [['SKIFF_CONFIG_RANGE', 'spec.weight', 'value -1 is out of range: expected an integer in 0-4294967295']],
    9,
  ],
];

describe('WorkloadEntry: one invalid fixture per rule', () => {
  ruleCases('workload-entry', RULES, { kind: 'WorkloadEntry' });
});

const we = (spec: string) =>
  `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: vm, namespace: shop}\nspec:\n${spec}\n`;

describe('WorkloadEntry: limits from the CRD', () => {
  it('at most 128 ports', () => {
    const ports = Array.from({ length: 129 }, (_, i) => `p${i}: ${i + 1}`).join(', ');
    assert.deepEqual(errorsOf(we(`  address: 10.0.0.1\n  ports: {${ports}}`)), [
      ['ISTIO_WE_TOO_MANY_PORTS', 'spec.ports', '129 ports: at most 128 are allowed'],
    ]);
  });

  it('at most 256 labels', () => {
    const labels = Array.from({ length: 257 }, (_, i) => `l${i}: v`).join(', ');
    assert.deepEqual(errorsOf(we(`  address: 10.0.0.1\n  labels: {${labels}}`)), [
      ['ISTIO_WE_TOO_MANY_LABELS', 'spec.labels', '257 labels: at most 256 are allowed'],
    ]);
  });

  it('an address of at most 256 characters', () => {
    const [error] = errorsOf(we(`  address: ${'a'.repeat(250)}.example.com`));
    assert.equal(error?.[0], 'SKIFF_CONFIG_TOO_LONG');
  });
});

describe('WorkloadEntry: valid YAML loads', () => {
  for (const [name, spec] of [
    ['IPv4', '  address: 10.0.0.1'],
    ['IPv6', '  address: "2001:db8::1"'],
    ['FQDN', '  address: vm-1.example.com'],
    ['Unix socket path', '  address: unix:///var/run/app.sock'],
    ['abstract Unix socket', '  address: unix://@app'],
    ['network only', '  network: net-2'],
    [
      'every field',
      '  address: 10.0.0.1\n  ports: {http: 8080, grpc-api: 9090}\n  labels: {app: vm, version: v1, security.istio.io/tlsMode: istio}\n  network: net-1\n  locality: us-east/zone-a/rack-1\n  weight: 10\n  serviceAccount: vm-sa',
    ],
  ]) {
    it(name as string, () => {
      const { diagnostics, resources } = load(we(spec as string));
      assert.deepEqual(
        diagnostics.filter((d) => d.severity === 'error'),
        [],
      );
      assert.equal(resources.length, 1);
    });
  }

  it('network, locality and weight are accepted, not enforced; network alone warns', () => {
    const { diagnostics } = load(we('  network: net-2\n  locality: us-east\n  weight: 3'));
    assert.deepEqual(
      diagnostics.map((d) => [d.code, formatPath(d.path ?? [])]),
      [
        ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.network'],
        ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.locality'],
        ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.weight'],
        ['ISTIO_WE_ADDRESS_UNSET', 'spec.address'],
      ],
    );
  });

  it('ports keep their numbers', () => {
    const { resources } = load(we('  address: 10.0.0.1\n  ports: {http: 8080}'));
    assert.deepEqual(resources[0]?.spec, { address: '10.0.0.1', ports: { http: 8080 } });
  });
});
