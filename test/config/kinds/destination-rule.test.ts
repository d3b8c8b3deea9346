// DestinationRule: one invalid fixture per rule (Istio's ValidateDestinationRule, agent.ValidateTLS, the CRD),
// the valid fixtures (every field, Istio's docs and testdata) and the "accepted, not enforced" warnings.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { DestinationRuleSpec } from '../../../src/config/kinds/destination-rule.js';
import { loadConfig } from '../../../src/config/load.js';
import { formatPath } from '../../../src/core/field-path.js';
import type { DestinationRuleSpec as PolicyDestinationRuleSpec } from '../../../src/policy/types.js';
import { fixture } from '../../helpers.js';
import { ruleCases } from './rule-fixtures.js';

// The loaded spec is what the policy engine reads: this line fails to compile if the shapes drift apart.
const _policyReads: PolicyDestinationRuleSpec = {} as DestinationRuleSpec;
void _policyReads;

function load(text: string, path = 'test.yaml') {
  return loadConfig([{ path, text }]);
}

const destinationRules = (snapshot: ReturnType<typeof load>) =>
  snapshot.resources.filter((r) => r.kind === 'DestinationRule');

function loadFixture(kind: 'valid' | 'invalid', name: string) {
  const path = fixture('config', kind, 'destination-rule', `${name}.yaml`);
  return load(readFileSync(path, 'utf8'), `${name}.yaml`);
}

/** fixture → the errors it must produce: [code, field path, exact message]; plus the line of the first. */
const RULES: [string, [string, string, string][], number][] = [
  [
    'bad-api-version',
    [
      [
        'SKIFF_CONFIG_VERSION',
        'apiVersion',
        'DestinationRule is not served at "networking.istio.io/v2": expected networking.istio.io/v1alpha3, networking.istio.io/v1beta1, networking.istio.io/v1',
      ],
    ],
    2,
  ],
  [
    'connect-timeout-too-short',
    [
      [
        'ISTIO_DURATION',
        'spec.trafficPolicy.connectionPool.tcp.connectTimeout',
        'duration must be greater than 1ms, got "500us"',
      ],
    ],
    12,
  ],
  [
    'connection-pool-empty',
    [
      [
        'ISTIO_DR_CONNECTION_POOL_EMPTY',
        'spec.trafficPolicy.connectionPool',
        'connection pool must have at least one field',
      ],
    ],
    10,
  ],
  [
    'cookie-name-empty',
    [
      [
        'ISTIO_DR_COOKIE_NAME',
        'spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name',
        'name required for HttpCookie',
      ],
    ],
    13,
  ],
  [
    'cookie-name-missing',
    [
      [
        'SKIFF_CONFIG_REQUIRED',
        'spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name',
        'required field is missing: expected a string',
      ],
    ],
    12,
  ],
  [
    'duration-syntax',
    [
      [
        'SKIFF_CONFIG_DURATION',
        'spec.trafficPolicy.connectionPool.http.idleTimeout',
        'invalid duration "30 seconds": expected a duration such as "100ms", "5s", "1m" or "1h30m"',
      ],
    ],
    12,
  ],
  [
    'export-to-duplicate-entry',
    [['ISTIO_DR_EXPORT_TO', 'spec.exportTo', 'duplicate entries in exportTo for entry other']],
    9,
  ],
  [
    'export-to-duplicate',
    [['ISTIO_DR_EXPORT_TO', 'spec.exportTo', 'duplicate entries in exportTo: . and current namespace shop']],
    9,
  ],
  [
    'export-to-invalid',
    [
      [
        'ISTIO_DR_EXPORT_TO',
        'spec.exportTo',
        'only .,*,~, or a valid DNS 1123 label is allowed as exportTo entry',
      ],
    ],
    9,
  ],
  [
    'export-to-none',
    [
      [
        'ISTIO_DR_EXPORT_TO',
        'spec.exportTo',
        'exportTo ~ (none) is not allowed for Istio configuration objects',
      ],
    ],
    9,
  ],
  [
    'export-to-public-and-other',
    [
      [
        'ISTIO_DR_EXPORT_TO',
        'spec.exportTo',
        'cannot have both public (*) and non-public exportTo values for a resource',
      ],
    ],
    9,
  ],
  [
    'export-to-selector-beyond',
    [
      [
        'ISTIO_DR_EXPORT_TO',
        'spec.exportTo',
        'destination rule with workload selector cannot have exportTo beyond current namespace',
      ],
    ],
    12,
  ],
  [
    'export-to-selector-multiple',
    [
      [
        'ISTIO_DR_EXPORT_TO',
        'spec.exportTo',
        'destination rule with workload selector cannot have multiple entries in exportTo',
      ],
    ],
    12,
  ],
  [
    'h2-upgrade-client-protocol',
    [
      [
        'ISTIO_DR_H2_UPGRADE_CLIENT_PROTOCOL',
        'spec.trafficPolicy.connectionPool.http',
        'use client protocol must not be true when H2UpgradePolicy is UPGRADE',
      ],
    ],
    11,
  ],
  [
    'hash-ring-and-maglev',
    [
      [
        'SKIFF_CONFIG_ONE_OF',
        'spec.trafficPolicy.loadBalancer.consistentHash',
        'only one of ringHash, maglev may be set in consistentHash, got ringHash and maglev',
      ],
    ],
    11,
  ],
  [
    'hash-two-keys',
    [
      [
        'SKIFF_CONFIG_ONE_OF',
        'spec.trafficPolicy.loadBalancer.consistentHash',
        'only one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName may be set in consistentHash, got httpHeaderName and useSourceIp',
      ],
    ],
    11,
  ],
  ['host-empty', [['ISTIO_DR_HOST', 'spec.host', 'empty domain name not allowed']], 8],
  [
    'host-invalid',
    [['ISTIO_DR_HOST', 'spec.host', 'domain name "bad_host.example.com" invalid (label "bad_host" invalid)']],
    8,
  ],
  [
    'host-missing',
    [['SKIFF_CONFIG_REQUIRED', 'spec.host', 'required field is missing: expected a string']],
    7,
  ],
  [
    'host-partial-wildcard',
    [['ISTIO_DR_HOST', 'spec.host', 'domain name "*.example.com" invalid (label "*" invalid)']],
    8,
  ],
  [
    'http-pending-negative',
    [
      [
        'ISTIO_DR_CONNECTION_POOL_NEGATIVE',
        'spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests',
        'http1 max pending requests must be non-negative, got -1',
      ],
    ],
    12,
  ],
  [
    'lb-simple-and-hash',
    [
      [
        'SKIFF_CONFIG_ONE_OF',
        'spec.trafficPolicy.loadBalancer',
        'only one of simple, consistentHash may be set in loadBalancer, got simple and consistentHash',
      ],
    ],
    10,
  ],
  [
    'lb-simple-unknown',
    [
      [
        'SKIFF_CONFIG_ENUM',
        'spec.trafficPolicy.loadBalancer.simple',
        'invalid value "LEAST_CONNS": expected one of UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST',
      ],
    ],
    11,
  ],
  [
    'locality-distribute-and-failover',
    [
      [
        'ISTIO_DR_LOCALITY_LB',
        'spec.trafficPolicy.loadBalancer.localityLbSetting',
        "can not simultaneously specify 'distribute' and 'failover'",
      ],
    ],
    13,
  ],
  [
    'locality-empty-part',
    [
      [
        'ISTIO_DR_LOCALITY_LB',
        'spec.trafficPolicy.loadBalancer.localityLbSetting.distribute',
        'locality us-west//sub1 must not contain empty region/zone/subzone info',
      ],
    ],
    14,
  ],
  [
    'locality-failover-same',
    [
      [
        'ISTIO_DR_LOCALITY_LB',
        'spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]',
        'locality lb failover settings must specify different regions',
      ],
    ],
    15,
  ],
  [
    'locality-failover-topology-priority',
    [
      [
        'ISTIO_DR_LOCALITY_LB',
        'spec.trafficPolicy.loadBalancer.localityLbSetting',
        "can not simultaneously set 'failover' and topology label 'topology.kubernetes.io/region' in 'failover_priority'",
      ],
    ],
    13,
  ],
  [
    'locality-failover-wildcard',
    [
      [
        'ISTIO_DR_LOCALITY_LB',
        'spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]',
        "locality lb failover region should not contain '*' wildcard",
      ],
    ],
    15,
  ],
  [
    'locality-failover-zone',
    [
      [
        'ISTIO_DR_LOCALITY_LB',
        'spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]',
        'locality lb failover only specify region',
      ],
    ],
    15,
  ],
  [
    'locality-overlap',
    [
      [
        'ISTIO_DR_LOCALITY_LB',
        'spec.trafficPolicy.loadBalancer.localityLbSetting.distribute',
        'locality us-west/zone1 overlap with previous specified ones',
      ],
    ],
    14,
  ],
  [
    'locality-weight-range',
    [
      [
        'ISTIO_DR_LOCALITY_LB',
        'spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to',
        'locality weight must be in range [1, 100]',
      ],
    ],
    16,
  ],
  [
    'locality-weight-total',
    [
      [
        'ISTIO_DR_LOCALITY_LB',
        'spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to',
        'total locality weight 80 != 100',
      ],
    ],
    16,
  ],
  [
    'locality-wildcard',
    [
      [
        'ISTIO_DR_LOCALITY_LB',
        'spec.trafficPolicy.loadBalancer.localityLbSetting.distribute',
        "locality us-west/*/sub1 wildcard '*' number can not exceed 1 and must be in the end",
      ],
    ],
    14,
  ],
  [
    'maglev-not-prime',
    [
      [
        'ISTIO_DR_MAGLEV_TABLE_SIZE',
        'spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize',
        'tableSize must be a prime number for maglev, got 1000',
      ],
    ],
    14,
  ],
  [
    'maglev-too-large',
    [
      [
        'ISTIO_DR_MAGLEV_TABLE_SIZE',
        'spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize',
        'tableSize must be less than 5000011 for maglev, got 5000011',
      ],
    ],
    14,
  ],
  [
    'maglev-unset',
    [
      [
        'ISTIO_DR_MAGLEV_TABLE_SIZE',
        'spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize',
        'tableSize must be set for maglev',
      ],
      [
        'ISTIO_DR_MAGLEV_TABLE_SIZE',
        'spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize',
        'tableSize must be a prime number for maglev, got 0',
      ],
    ],
    13,
  ],
  [
    'max-connections-negative',
    [
      [
        'ISTIO_DR_CONNECTION_POOL_NEGATIVE',
        'spec.trafficPolicy.connectionPool.tcp.maxConnections',
        'max connections must be non-negative, got -1',
      ],
    ],
    12,
  ],
  [
    'outlier-interval',
    [
      [
        'ISTIO_DURATION',
        'spec.trafficPolicy.outlierDetection.interval',
        'duration must be greater than 1ms, got "0s"',
      ],
    ],
    11,
  ],
  [
    'outlier-local-origin',
    [
      [
        'ISTIO_DR_OUTLIER_LOCAL_ORIGIN',
        'spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures',
        'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false',
      ],
    ],
    11,
  ],
  [
    'outlier-min-health-negative',
    [
      [
        'ISTIO_DR_OUTLIER_PERCENT',
        'spec.trafficPolicy.outlierDetection.minHealthPercent',
        'percentage -1 is not in range 0..100',
      ],
    ],
    11,
  ],
  [
    'outlier-percent',
    [
      [
        'ISTIO_DR_OUTLIER_PERCENT',
        'spec.trafficPolicy.outlierDetection.maxEjectionPercent',
        'percentage 105 is not in range 0..100',
      ],
    ],
    11,
  ],
  [
    'port-number-string',
    [
      [
        'SKIFF_CONFIG_TYPE',
        'spec.trafficPolicy.portLevelSettings[0].port.number',
        'expected an integer in 0-4294967295, got string "http"',
      ],
    ],
    12,
  ],
  [
    'port-policy-empty',
    [
      [
        'ISTIO_DR_PORT_POLICY_EMPTY',
        'spec.trafficPolicy.portLevelSettings[0]',
        'port traffic policy must have at least one field',
      ],
    ],
    11,
  ],
  [
    'port-required',
    [
      [
        'ISTIO_DR_PORT_REQUIRED',
        'spec.trafficPolicy.portLevelSettings[0].port',
        'portTrafficPolicy must have valid port',
      ],
    ],
    11,
  ],
  [
    'port-tls-mutual-no-key',
    [
      [
        'ISTIO_DR_TLS_MUTUAL_KEY',
        'spec.trafficPolicy.portLevelSettings[0].tls',
        'private key required for mutual tls',
      ],
    ],
    13,
  ],
  [
    'proxy-protocol-version',
    [
      [
        'SKIFF_CONFIG_ENUM',
        'spec.trafficPolicy.proxyProtocol.version',
        'invalid value "V3": expected one of V1, V2',
      ],
    ],
    11,
  ],
  [
    'retry-budget-percent',
    [
      [
        'SKIFF_CONFIG_RANGE',
        'spec.trafficPolicy.retryBudget.percent',
        'value 150 is out of range: expected a number in 0-100',
      ],
    ],
    11,
  ],
  [
    'ring-size-conflict',
    [
      [
        'ISTIO_DR_RING_SIZE_CONFLICT',
        'spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize',
        'only one of MinimumRingSize or Maglev/Ringhash can be specified',
      ],
    ],
    13,
  ],
  [
    'selector-wildcard',
    [
      [
        'ISTIO_SELECTOR_WILDCARD',
        'spec.workloadSelector.matchLabels.app',
        'wildcard is not supported in selector: "app=*"',
      ],
    ],
    11,
  ],
  [
    'subset-duplicate',
    [['ISTIO_DR_SUBSET_DUPLICATE', 'spec.subsets[1].name', 'duplicate subset names: v1']],
    12,
  ],
  [
    'subset-label-invalid',
    [['ISTIO_DR_SUBSET_LABEL', 'spec.subsets[0].labels["bad key"]', 'invalid tag key: "bad key"']],
    12,
  ],
  [
    'subset-label-value-invalid',
    [['ISTIO_DR_SUBSET_LABEL', 'spec.subsets[0].labels.version', 'invalid tag value: "-v1"']],
    12,
  ],
  [
    'subset-name-empty',
    [['ISTIO_DR_SUBSET_NAME', 'spec.subsets[0].name', 'subset name cannot be empty']],
    10,
  ],
  [
    'subset-name-invalid',
    [['ISTIO_DR_SUBSET_NAME', 'spec.subsets[0].name', 'subset name is invalid: v1.0']],
    10,
  ],
  [
    'subset-name-missing',
    [['SKIFF_CONFIG_REQUIRED', 'spec.subsets[0].name', 'required field is missing: expected a string']],
    10,
  ],
  [
    'subset-tls-configmap-namespace',
    [
      [
        'ISTIO_DR_TLS_CONFIGMAP',
        'spec.subsets[0].trafficPolicy.portLevelSettings[0].tls.credentialName',
        'invalid configmap:// credentialName: namespace must match the configuration namespace "shop"',
      ],
    ],
    17,
  ],
  [
    'subset-traffic-policy-empty',
    [
      [
        'ISTIO_DR_TRAFFIC_POLICY_EMPTY',
        'spec.subsets[0].trafficPolicy',
        'traffic policy must have at least one field',
      ],
    ],
    12,
  ],
  [
    'tcp-idle-timeout-precision',
    [
      [
        'ISTIO_DURATION',
        'spec.trafficPolicy.connectionPool.tcp.idleTimeout',
        'only durations to ms precision are supported, got "1500us"',
      ],
    ],
    12,
  ],
  [
    'tls-configmap-namespace',
    [
      [
        'ISTIO_DR_TLS_CONFIGMAP',
        'spec.trafficPolicy.tls.credentialName',
        'invalid configmap:// credentialName: namespace must match the configuration namespace "shop"',
      ],
    ],
    12,
  ],
  [
    'tls-configmap-no-name',
    [
      [
        'ISTIO_DR_TLS_CONFIGMAP',
        'spec.trafficPolicy.tls.credentialName',
        'invalid configmap:// credentialName: invalid resource name "configmap://ca-bundle". Expected namespace and name',
      ],
    ],
    12,
  ],
  [
    'tls-credential-with-files',
    [
      [
        'ISTIO_DR_TLS_CREDENTIAL_WITH_FILES',
        'spec.trafficPolicy.tls',
        'cannot specify client certificates or CA certificate or CA CRL If credentialName is set',
      ],
    ],
    10,
  ],
  [
    'tls-insecure-mutual',
    [
      [
        'ISTIO_DR_TLS_INSECURE_SKIP_VERIFY',
        'spec.trafficPolicy.tls',
        'cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true',
      ],
    ],
    10,
  ],
  [
    'tls-insecure-not-boolean',
    [
      [
        'SKIFF_CONFIG_TYPE',
        'spec.trafficPolicy.tls.insecureSkipVerify',
        'expected true or false, got string "yes"',
      ],
    ],
    12,
  ],
  [
    'tls-insecure-simple',
    [
      [
        'ISTIO_DR_TLS_INSECURE_SKIP_VERIFY',
        'spec.trafficPolicy.tls',
        'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true',
      ],
    ],
    10,
  ],
  [
    'tls-mode-unknown',
    [
      [
        'SKIFF_CONFIG_ENUM',
        'spec.trafficPolicy.tls.mode',
        'invalid value "STRICT": expected one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL',
      ],
    ],
    11,
  ],
  [
    'tls-mutual-no-certificate',
    [
      [
        'ISTIO_DR_TLS_MUTUAL_CERTIFICATE',
        'spec.trafficPolicy.tls',
        'client certificate required for mutual tls',
      ],
    ],
    10,
  ],
  [
    'tls-mutual-no-key',
    [['ISTIO_DR_TLS_MUTUAL_KEY', 'spec.trafficPolicy.tls', 'private key required for mutual tls']],
    10,
  ],
  [
    'traffic-policy-empty',
    [['ISTIO_DR_TRAFFIC_POLICY_EMPTY', 'spec.trafficPolicy', 'traffic policy must have at least one field']],
    9,
  ],
  [
    'tunnel-protocol',
    [
      [
        'ISTIO_DR_TUNNEL',
        'spec.trafficPolicy.tunnel.protocol',
        'tunnel protocol must be "CONNECT" or "POST"',
      ],
    ],
    11,
  ],
  [
    'tunnel-target-host',
    [
      [
        'ISTIO_DR_TUNNEL',
        'spec.trafficPolicy.tunnel.targetHost',
        'tunnel target host must be valid FQDN or IP address: domain name "bad_host" invalid (label "bad_host" invalid); bad_host is not a valid IP',
      ],
    ],
    11,
  ],
  [
    'tunnel-target-port-missing',
    [
      [
        'SKIFF_CONFIG_REQUIRED',
        'spec.trafficPolicy.tunnel.targetPort',
        'required field is missing: expected an integer in 0-4294967295',
      ],
    ],
    10,
  ],
  [
    'tunnel-target-port',
    [
      [
        'ISTIO_DR_TUNNEL',
        'spec.trafficPolicy.tunnel.targetPort',
        'tunnel target port is invalid: port number 0 must be in the range 1..65535',
      ],
    ],
    12,
  ],
  [
    'tunnel-with-proxy-protocol',
    [
      [
        'ISTIO_DR_TUNNEL_WITH_PROXY_PROTOCOL',
        'spec.trafficPolicy',
        'tunnel and proxyProtocol must not be set together',
      ],
    ],
    9,
  ],
  [
    'unknown-field',
    [
      [
        'SKIFF_CONFIG_UNKNOWN_FIELD',
        'spec.trafficPolicy.tsl',
        'unknown field "tsl" (did you mean "tls"?): allowed fields are loadBalancer, connectionPool, outlierDetection, tls, portLevelSettings, tunnel, proxyProtocol, retryBudget',
      ],
    ],
    10,
  ],
  [
    'unknown-top-level-field',
    [
      [
        'SKIFF_CONFIG_UNKNOWN_FIELD',
        'spec.subset',
        'unknown field "subset" (did you mean "subsets"?): allowed fields are host, trafficPolicy, subsets, exportTo, workloadSelector',
      ],
    ],
    9,
  ],
  [
    'warmup-aggression',
    [
      [
        'ISTIO_DR_WARMUP',
        'spec.trafficPolicy.loadBalancer.warmup.aggression',
        'aggression should be greater than or equal to 1, got 0.3',
      ],
    ],
    13,
  ],
  [
    'warmup-duration-missing',
    [
      [
        'SKIFF_CONFIG_REQUIRED',
        'spec.trafficPolicy.loadBalancer.warmup.duration',
        'required field is missing: expected a duration such as "100ms", "5s", "1m" or "1h30m"',
      ],
    ],
    11,
  ],
  [
    'warmup-minimum-percent',
    [
      [
        'ISTIO_DR_WARMUP',
        'spec.trafficPolicy.loadBalancer.warmup.minimumPercent',
        'minimumPercent value should be less than or equal to 100, got 150',
      ],
    ],
    13,
  ],
];

describe('DestinationRule: one invalid fixture per rule', () => {
  ruleCases('destination-rule', RULES);

  it('the resource is named in every message', () => {
    const [error] = loadFixture('invalid', 'host-invalid').diagnostics;
    assert.equal(error?.resource, 'DestinationRule shop/example');
  });

  it('a spec is required', () => {
    const errors = load(
      'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d, namespace: shop}\n',
    ).diagnostics.filter((d) => d.severity === 'error');
    assert.deepEqual(
      errors.map((d) => [d.code, formatPath(d.path ?? [])]),
      [['SKIFF_CONFIG_REQUIRED', 'spec']],
    );
  });

  it('more than 4096 port level settings', () => {
    const ports = Array.from(
      { length: 4097 },
      (_, i) => `    - {port: {number: ${i + 1}}, tls: {mode: DISABLE}}`,
    );
    const text = `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d, namespace: shop}\nspec:\n  host: a.b\n  trafficPolicy:\n    portLevelSettings:\n${ports.join('\n')}\n`;
    const errors = load(text).diagnostics.filter((d) => d.severity === 'error');
    assert.deepEqual(
      errors.map((d) => [d.code, formatPath(d.path ?? []), d.message]),
      [
        [
          'ISTIO_DR_PORT_LEVEL_SETTINGS_TOO_MANY',
          'spec.trafficPolicy.portLevelSettings',
          '4097 port level settings: at most 4096 are allowed',
        ],
      ],
    );
  });
});

describe('DestinationRule: valid configurations load', () => {
  for (const [name, count] of [
    ['every-field', 1],
    ['bookinfo', 7],
    ['istio-testdata', 9],
  ] as const) {
    it(`${name}.yaml loads without errors`, () => {
      const snapshot = loadFixture('valid', name);
      assert.deepEqual(
        snapshot.diagnostics.filter((d) => d.severity === 'error'),
        [],
      );
      assert.equal(destinationRules(snapshot).length, count);
    });
  }

  it('every field is kept as written', () => {
    const [dr] = destinationRules(loadFixture('valid', 'every-field'));
    const spec = dr?.spec as DestinationRuleSpec;
    assert.equal(spec.host, 'reviews.shop.svc.cluster.local');
    assert.equal(spec.trafficPolicy?.tls?.mode, 'MUTUAL');
    assert.equal(spec.trafficPolicy?.portLevelSettings?.[0]?.port?.number, 9080);
    assert.equal(spec.trafficPolicy?.portLevelSettings?.[0]?.tls?.mode, 'ISTIO_MUTUAL');
    assert.equal(spec.trafficPolicy?.portLevelSettings?.[0]?.loadBalancer?.simple, 'LEAST_REQUEST');
    assert.equal(spec.trafficPolicy?.connectionPool?.http?.http2KeepAlive?.interval, '15s');
    assert.equal(spec.trafficPolicy?.retryBudget?.percent, 20);
    assert.deepEqual(spec.subsets?.[1]?.labels, { version: 'v2', 'app.kubernetes.io/name': 'reviews' });
    assert.equal(spec.subsets?.[0]?.trafficPolicy?.tls?.credentialName, 'configmap://shop/reviews-ca');
  });

  it('v1alpha3, v1beta1 and v1 load to the same spec', () => {
    const body =
      'kind: DestinationRule\nmetadata: {name: d, namespace: shop}\nspec:\n  host: reviews\n  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n';
    const specs = ['v1alpha3', 'v1beta1', 'v1'].map(
      (v) => destinationRules(load(`apiVersion: networking.istio.io/${v}\n${body}`))[0]?.spec,
    );
    assert.deepEqual(specs[0], specs[1]);
    assert.deepEqual(specs[1], specs[2]);
    assert.deepEqual(specs[2], { host: 'reviews', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } });
  });

  it('short names, wildcards and a trailing dot are valid hosts', () => {
    for (const host of ['reviews', '*', '*.foo.com', '*.local', 'reviews.shop.svc.cluster.local.']) {
      const text = `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d, namespace: shop}\nspec:\n  host: "${host}"\n`;
      assert.deepEqual(load(text).diagnostics, [], host);
    }
  });

  it('exportTo: ".", "*", the own namespace and other namespaces', () => {
    for (const exportTo of ['["."]', '["*"]', '[shop]', '[other, shop]', '[]']) {
      const text = `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d, namespace: shop}\nspec:\n  host: a.b\n  exportTo: ${exportTo}\n`;
      const errors = load(text).diagnostics.filter((d) => d.severity === 'error');
      assert.deepEqual(errors, [], exportTo);
    }
  });

  it('a workloadSelector rule may be exported to its own namespace', () => {
    const text =
      'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d, namespace: shop}\nspec:\n  host: a.b\n  workloadSelector: {matchLabels: {app: x}}\n  exportTo: [".", shop]\n';
    const codes = load(text).diagnostics.map((d) => [d.severity, d.code]);
    assert.deepEqual(codes, [
      ['warning', 'SKIFF_CONFIG_NOT_ENFORCED'],
      ['warning', 'SKIFF_CONFIG_NOT_ENFORCED'],
      ['error', 'ISTIO_DR_EXPORT_TO'],
    ]);
    const ok = text.replace('[".", shop]', '["."]');
    assert.equal(load(ok).diagnostics.filter((d) => d.severity === 'error').length, 0);
  });
});

describe('DestinationRule: warnings', () => {
  const warnings = (name: string) =>
    loadFixture('valid', name)
      .diagnostics.filter((d) => d.severity === 'warning')
      .map((d) => [d.code, formatPath(d.path ?? [])]);

  it('fields Skiff does not enforce are accepted with a warning each', () => {
    assert.deepEqual(warnings('every-field'), [
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.exportTo'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.workloadSelector'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.trafficPolicy.loadBalancer.consistentHash'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.trafficPolicy.loadBalancer.localityLbSetting'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.trafficPolicy.loadBalancer.warmupDurationSecs'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.trafficPolicy.loadBalancer.warmup'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.trafficPolicy.connectionPool'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.trafficPolicy.outlierDetection'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.trafficPolicy.tls.clientCertificate'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.trafficPolicy.tls.privateKey'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.trafficPolicy.tls.caCertificates'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.trafficPolicy.tls.caCrl'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.trafficPolicy.tls.insecureSkipVerify'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.trafficPolicy.portLevelSettings[0].connectionPool'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.trafficPolicy.portLevelSettings[0].outlierDetection'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.trafficPolicy.tunnel'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.trafficPolicy.retryBudget'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.subsets[0].trafficPolicy.proxyProtocol'],
      ['SKIFF_CONFIG_NOT_ENFORCED', 'spec.subsets[0].trafficPolicy.tls.credentialName'],
    ]);
  });

  it('hosts, subsets, tls mode, sni, subjectAltNames and loadBalancer.simple are enforced: no warning', () => {
    const text =
      'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d, namespace: shop}\nspec:\n  host: a.b\n  trafficPolicy:\n    loadBalancer: {simple: PASSTHROUGH}\n    tls: {mode: SIMPLE, sni: a.b, subjectAltNames: [a.b]}\n    portLevelSettings:\n    - {port: {number: 80}, tls: {mode: DISABLE}}\n  subsets:\n  - {name: v1, labels: {version: v1}, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}\n';
    assert.deepEqual(load(text).diagnostics, []);
  });

  const dr = (spec: string) =>
    `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d, namespace: shop}\nspec:\n  host: a.b\n${spec}`;
  const istioWarnings = (spec: string) =>
    load(dr(spec))
      .diagnostics.filter((d) => d.code !== 'SKIFF_CONFIG_NOT_ENFORCED')
      .map((d) => [d.severity, d.code, formatPath(d.path ?? []), d.message]);

  it('deprecated outlierDetection.consecutiveErrors', () => {
    assert.deepEqual(istioWarnings('  trafficPolicy:\n    outlierDetection: {consecutiveErrors: 101}\n'), [
      [
        'warning',
        'ISTIO_DR_OUTLIER_CONSECUTIVE_ERRORS_DEPRECATED',
        'spec.trafficPolicy.outlierDetection.consecutiveErrors',
        'outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead',
      ],
    ]);
  });

  it('deprecated consistentHash.minimumRingSize', () => {
    assert.deepEqual(
      istioWarnings(
        '  trafficPolicy:\n    loadBalancer: {consistentHash: {useSourceIp: true, minimumRingSize: 1024}}\n',
      ),
      [
        [
          'warning',
          'ISTIO_DR_MIN_RING_SIZE_DEPRECATED',
          'spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize',
          "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead",
        ],
      ],
    );
  });

  it('locality failover without outlier detection', () => {
    assert.deepEqual(
      istioWarnings(
        '  trafficPolicy:\n    loadBalancer:\n      localityLbSetting: {failover: [{from: us-east, to: eu-west}]}\n',
      ),
      [
        [
          'warning',
          'ISTIO_DR_LOCALITY_NO_OUTLIER',
          'spec.trafficPolicy.loadBalancer.localityLbSetting',
          'outlier detection policy must be provided for failover',
        ],
      ],
    );
  });

  it('a workload selector without labels', () => {
    assert.deepEqual(istioWarnings('  workloadSelector: {}\n'), [
      [
        'warning',
        'ISTIO_SELECTOR_NO_LABELS',
        'spec.workloadSelector',
        'workload selector specified without labels (it selects every workload)',
      ],
    ]);
  });
});
