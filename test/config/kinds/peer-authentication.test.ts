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

function loadFixture(name: string) {
  const path = fixture('config', 'invalid', 'peer-authentication', `${name}.yaml`);
  return load(readFileSync(path, 'utf8'), `${name}.yaml`);
}

/** fixture → the errors it must produce: [code, field path, exact message]; plus the line of the first. */
const RULES: [string, [string, string, string][], number][] = [
  [
    'ports-without-selector',
    [
      [
        'ISTIO_PA_PORTS_WITHOUT_SELECTOR',
        'spec.portLevelMtls',
        'mesh/namespace peer authentication cannot have port level mTLS: portLevelMtls requires a selector with matchLabels',
      ],
    ],
    9,
  ],
  [
    'ports-with-empty-selector',
    [
      [
        'ISTIO_PA_PORTS_WITHOUT_SELECTOR',
        'spec.portLevelMtls',
        'mesh/namespace peer authentication cannot have port level mTLS: portLevelMtls requires a selector with matchLabels',
      ],
    ],
    11,
  ],
  [
    'ports-empty',
    [
      [
        'ISTIO_PA_PORTS_EMPTY',
        'spec.portLevelMtls',
        'port level mTLS, if defined, must have at least one element',
      ],
    ],
    11,
  ],
  [
    'port-zero',
    [['ISTIO_PA_PORT_RANGE', 'spec.portLevelMtls["0"]', 'port must be in range 1..65535, got 0']],
    12,
  ],
  [
    'port-too-high',
    [['ISTIO_PA_PORT_RANGE', 'spec.portLevelMtls["65536"]', 'port must be in range 1..65535, got 65536']],
    12,
  ],
  [
    'port-not-number',
    [
      [
        'ISTIO_PA_PORT_NOT_NUMBER',
        'spec.portLevelMtls.http',
        'port "http" is not a number: portLevelMtls keys are workload port numbers in 1..65535',
      ],
    ],
    12,
  ],
  [
    'mode-unknown',
    [
      [
        'SKIFF_CONFIG_ENUM',
        'spec.mtls.mode',
        'invalid value "STRICTT": expected one of UNSET, DISABLE, PERMISSIVE, STRICT',
      ],
    ],
    10,
  ],
  [
    'port-mode-unknown',
    [
      [
        'SKIFF_CONFIG_ENUM',
        'spec.portLevelMtls["8080"].mode',
        'invalid value "strict": expected one of UNSET, DISABLE, PERMISSIVE, STRICT',
      ],
    ],
    13,
  ],
  [
    'mode-number',
    [
      [
        'SKIFF_CONFIG_TYPE',
        'spec.mtls.mode',
        'expected one of UNSET, DISABLE, PERMISSIVE, STRICT, got number 3',
      ],
    ],
    10,
  ],
  [
    'selector-empty-key',
    [
      [
        'ISTIO_SELECTOR_EMPTY_KEY',
        'spec.selector.matchLabels[""]',
        'empty key is not supported in selector: "=v1"',
      ],
    ],
    11,
  ],
  [
    'selector-wildcard-key',
    [
      [
        'ISTIO_SELECTOR_WILDCARD',
        'spec.selector.matchLabels["app-*"]',
        'wildcard is not supported in selector: "app-*=httpbin"',
      ],
    ],
    11,
  ],
  [
    'selector-wildcard-value',
    [
      [
        'ISTIO_SELECTOR_WILDCARD',
        'spec.selector.matchLabels.app',
        'wildcard is not supported in selector: "app=httpbin-*"',
      ],
    ],
    11,
  ],
  [
    'selector-value-too-long',
    [
      [
        'SKIFF_CONFIG_TOO_LONG',
        'spec.selector.matchLabels.app',
        `value "${'a'.repeat(65)}" is 65 characters long: at most 63 allowed`,
      ],
    ],
    11,
  ],
  [
    'selector-not-mapping',
    [['SKIFF_CONFIG_TYPE', 'spec.selector.matchLabels', 'expected a mapping of a string, got a list']],
    10,
  ],
  [
    'unknown-field',
    [
      [
        'SKIFF_CONFIG_UNKNOWN_FIELD',
        'spec.mtlss',
        'unknown field "mtlss" (did you mean "mtls"?): allowed fields are selector, mtls, portLevelMtls',
      ],
    ],
    9,
  ],
  [
    'unknown-field-mtls',
    [
      [
        'SKIFF_CONFIG_UNKNOWN_FIELD',
        'spec.mtls.modee',
        'unknown field "modee" (did you mean "mode"?): allowed fields are mode',
      ],
    ],
    10,
  ],
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
    'bad-name',
    [
      [
        'SKIFF_CONFIG_NAME',
        'metadata.name',
        'invalid name "Bad_Name": expected a DNS-1123 subdomain (lower case alphanumerics, "-" or ".", starting and ending with an alphanumeric)',
      ],
    ],
    5,
  ],
  [
    'bad-api-version',
    [
      [
        'SKIFF_CONFIG_VERSION',
        'apiVersion',
        'PeerAuthentication is not served at "security.istio.io/v1alpha1": expected security.istio.io/v1beta1, security.istio.io/v1',
      ],
    ],
    2,
  ],
  [
    'unknown-top-level-field',
    [
      [
        'SKIFF_CONFIG_UNKNOWN_FIELD',
        'specs',
        'unknown field "specs" (did you mean "spec"?): allowed fields are apiVersion, kind, metadata, spec, status',
      ],
    ],
    10,
  ],
  [
    'missing-name',
    [
      [
        'SKIFF_CONFIG_REQUIRED',
        'metadata.name',
        'required field is missing: expected a DNS-1123 subdomain (lower case alphanumerics, "-" or ".", starting and ending with an alphanumeric)',
      ],
    ],
    4,
  ],
];

describe('PeerAuthentication: one invalid fixture per rule', () => {
  ruleCases('peer-authentication', RULES, { kind: 'PeerAuthentication' });

  it('more than 4096 selector labels', () => {
    const labels = Array.from({ length: 4097 }, (_, i) => `      l${i}: v`).join('\n');
    const text = `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: many, namespace: shop}\nspec:\n  selector:\n    matchLabels:\n${labels}\n`;
    const errors = load(text).diagnostics.filter((d) => d.severity === 'error');
    assert.deepEqual(
      errors.map((d) => [d.code, formatPath(d.path ?? []), d.message]),
      [['ISTIO_SELECTOR_TOO_MANY', 'spec.selector.matchLabels', '4097 labels: at most 4096 are allowed']],
    );
  });

  it('the resource is named in every message', () => {
    const [error] = loadFixture('mode-unknown').diagnostics;
    assert.equal(error?.resource, 'PeerAuthentication shop/example');
  });
});

describe('PeerAuthentication: valid shapes', () => {
  const valid = (spec: string) =>
    `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: shop}\n${spec}`;

  it('an empty spec, no spec, UNSET, and every mode load', () => {
    for (const spec of [
      'spec: {}',
      '',
      'spec:\n  mtls: {mode: UNSET}',
      'spec:\n  mtls: {}',
      'spec:\n  mtls: {mode: DISABLE}',
    ]) {
      const snapshot = load(valid(spec));
      assert.deepEqual(snapshot.diagnostics, [], spec);
      assert.equal(snapshot.peerAuthentications.length, 1);
    }
  });

  it('v1beta1 and v1 load to the same resource', () => {
    const a = load(valid('spec:\n  mtls: {mode: STRICT}')).peerAuthentications[0];
    const b = load(valid('spec:\n  mtls: {mode: STRICT}').replace('/v1\n', '/v1beta1\n'))
      .peerAuthentications[0];
    assert.deepEqual(a?.spec, b?.spec);
  });

  it('portLevelMtls keys written as numbers become strings', () => {
    const snapshot = load(
      valid(
        'spec:\n  selector: {matchLabels: {app: b}}\n  portLevelMtls:\n    8080: {mode: STRICT}\n    "9090": {}',
      ),
    );
    assert.deepEqual(snapshot.diagnostics, []);
    assert.deepEqual(snapshot.peerAuthentications[0]?.spec.portLevelMtls, {
      '8080': { mode: 'STRICT' },
      '9090': {},
    });
  });

  it('a selector without labels is a warning (Istio: workload selector specified without labels)', () => {
    const { diagnostics, peerAuthentications } = load(valid('spec:\n  selector: {}\n  mtls: {mode: STRICT}'));
    assert.deepEqual(
      diagnostics.map((d) => [d.severity, d.code, formatPath(d.path ?? [])]),
      [['warning', 'ISTIO_SELECTOR_NO_LABELS', 'spec.selector']],
    );
    assert.equal(peerAuthentications.length, 1);
  });

  it('an empty selector value is allowed', () => {
    assert.deepEqual(load(valid('spec:\n  selector: {matchLabels: {app: ""}}')).diagnostics, []);
  });

  it('kubectl get -o yaml output (status, managedFields, uid) loads', () => {
    const text = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"security.istio.io/v1","kind":"PeerAuthentication"}
  creationTimestamp: "2026-03-01T10:00:00Z"
  generation: 1
  name: default
  namespace: shop
  resourceVersion: "1234"
  uid: 6f1b6e5e-0000-4000-8000-000000000000
spec:
  mtls:
    mode: STRICT
status: {}
`;
    const snapshot = load(text);
    assert.deepEqual(snapshot.diagnostics, []);
    assert.equal(snapshot.peerAuthentications[0]?.metadata.creationTimestamp, '2026-03-01T10:00:00Z');
  });

  it('a bad creationTimestamp is an error', () => {
    const errors = load(
      valid('spec: {}').replace('namespace: shop}', 'namespace: shop, creationTimestamp: yesterday}'),
    ).diagnostics;
    assert.equal(errors[0]?.code, 'SKIFF_CONFIG_FORMAT');
  });
});

describe('PeerAuthentication: what Istio would ignore is said', () => {
  it('a selector in the root namespace is ignored, with a warning', () => {
    const text =
      'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: istio-system}\nspec:\n  selector: {matchLabels: {app: b}}\n  mtls: {mode: STRICT}\n';
    const { diagnostics } = load(text);
    assert.deepEqual(
      diagnostics.map((d) => d.code),
      ['ISTIO_PA_ROOT_SELECTOR_IGNORED'],
    );
    assert.equal(diagnostics[0]?.severity, 'warning');
  });

  it('the root namespace comes from MeshConfig', () => {
    const text = `apiVersion: skiff.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {rootNamespace: mesh-root}\n---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: mesh-root}\nspec:\n  selector: {matchLabels: {app: b}}\n`;
    assert.deepEqual(
      load(text).diagnostics.map((d) => d.code),
      ['ISTIO_PA_ROOT_SELECTOR_IGNORED'],
    );
  });

  it('a second namespace-level policy is ignored, with a warning on the newer one', () => {
    const text = [
      'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: b-newer, namespace: shop, creationTimestamp: "2026-01-02T00:00:00Z"}\nspec: {mtls: {mode: DISABLE}}',
      'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: z-older, namespace: shop, creationTimestamp: "2026-01-01T00:00:00Z"}\nspec: {mtls: {mode: STRICT}}',
    ].join('\n---\n');
    const { diagnostics } = load(text);
    assert.equal(diagnostics.length, 1);
    assert.equal(diagnostics[0]?.code, 'ISTIO_PA_LEVEL_DUPLICATE');
    assert.equal(diagnostics[0]?.resource, 'PeerAuthentication shop/b-newer');
    assert.match(diagnostics[0]?.message ?? '', /z-older/);
  });
});
