import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServiceSpec } from '../../../src/config/kinds/service.js';
import { loadConfig } from '../../../src/config/load.js';
import { formatPath } from '../../../src/core/field-path.js';
import { type RuleRow, ruleCases } from './rule-fixtures.js';

const load = (text: string) => loadConfig([{ path: 'svc.yaml', text }]);
const SVC = (spec: string) =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: shop}\nspec:\n${spec}`;

const RULES: RuleRow[] = [
  [
    'ports-required',
    [
      [
        'K8S_SERVICE_PORTS_REQUIRED',
        'spec.ports',
        'required value: a Service needs at least one port (unless it is headless or ExternalName)',
      ],
    ],
  ],
  [
    'port-name-required',
    [
      [
        'K8S_SERVICE_PORT_NAME',
        'spec.ports[1].name',
        'required value: every port needs a name when a Service has several',
      ],
    ],
  ],
  [
    'port-name-invalid',
    [
      [
        'K8S_SERVICE_PORT_NAME',
        'spec.ports[0].name',
        'invalid port name "HTTP_Web": expected a DNS-1123 label',
      ],
    ],
  ],
  [
    'port-name-duplicate',
    [['K8S_SERVICE_PORT_DUPLICATE', 'spec.ports[1].name', 'duplicate port name "http" (also ports[0])']],
  ],
  [
    'port-duplicate',
    [['K8S_SERVICE_PORT_DUPLICATE', 'spec.ports[1]', 'duplicate port 9080/TCP (also ports[0])']],
  ],
  [
    'port-range',
    [
      [
        'SKIFF_CONFIG_RANGE',
        'spec.ports[0].port',
        'value 70000 is out of range: expected an integer in 1-65535',
      ],
    ],
  ],
  [
    'target-port-invalid',
    [
      [
        'K8S_SERVICE_TARGET_PORT',
        'spec.ports[0].targetPort',
        'invalid targetPort "Not_A_Name": expected a port number (1-65535) or a port name (at most 15 lower case letters, digits and "-", with a letter)',
      ],
    ],
  ],
  [
    'external-name-missing',
    [['K8S_SERVICE_EXTERNAL_NAME', 'spec.externalName', 'required for type ExternalName: a DNS name']],
  ],
  [
    'cluster-ip-invalid',
    [
      [
        'K8S_SERVICE_CLUSTER_IP',
        'spec.clusterIP',
        'invalid clusterIP "10.0.0.300": expected an IP address, "None" (headless) or empty',
      ],
    ],
  ],
  [
    'protocol-invalid',
    [['SKIFF_CONFIG_ENUM', 'spec.ports[0].protocol', 'invalid value "HTTP": expected one of TCP, UDP, SCTP']],
  ],
  [
    'app-protocol-invalid',
    [
      [
        'K8S_SERVICE_APP_PROTOCOL',
        'spec.ports[0].appProtocol',
        'invalid appProtocol "h2c!": expected a qualified name such as http, grpc or kubernetes.io/h2c',
      ],
    ],
  ],
  [
    'name-not-label',
    [
      [
        'SKIFF_CONFIG_NAME',
        'metadata.name',
        'invalid name "reviews.v1": expected a DNS-1123 label (at most 63 lower case alphanumerics or "-", starting and ending with an alphanumeric)',
      ],
    ],
  ],
  [
    'unknown-field',
    [
      [
        'SKIFF_CONFIG_UNKNOWN_FIELD',
        'spec.selectors',
        'unknown field "selectors" (did you mean "selector"?): allowed fields are type, selector, ports, clusterIP, clusterIPs, externalName, externalIPs, externalTrafficPolicy, internalTrafficPolicy, sessionAffinity, sessionAffinityConfig, loadBalancerIP, loadBalancerSourceRanges, loadBalancerClass, allocateLoadBalancerNodePorts, healthCheckNodePort, publishNotReadyAddresses, ipFamilies, ipFamilyPolicy, trafficDistribution',
      ],
    ],
  ],
];

describe('Service: one invalid fixture per rule', () => {
  ruleCases('service', RULES, { kind: 'Service' });
});

describe('Service: valid shapes', () => {
  it('bookinfo-style service', () => {
    const snapshot = load(SVC('  selector: {app: reviews}\n  ports:\n  - port: 9080\n    name: http\n'));
    assert.deepEqual(snapshot.diagnostics, []);
    const spec = snapshot.resources[0]?.spec as ServiceSpec;
    assert.deepEqual(spec.ports, [{ port: 9080, name: 'http' }]);
  });

  it('headless services may have no ports; ExternalName too', () => {
    assert.deepEqual(load(SVC('  clusterIP: None\n  selector: {app: x}\n')).diagnostics, []);
    assert.deepEqual(
      load(SVC('  type: ExternalName\n  externalName: api.example.com\n')).diagnostics.map((d) => d.severity),
      ['warning'],
    );
  });

  it('kubectl get -o yaml output loads; default values raise no warning', () => {
    const text = `apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: shop
  uid: 0d7c6a1e-0000-4000-8000-000000000000
  resourceVersion: "42"
  creationTimestamp: "2026-02-02T00:00:00Z"
spec:
  clusterIP: 10.96.12.34
  clusterIPs: [10.96.12.34]
  internalTrafficPolicy: Cluster
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  ports:
  - name: http
    port: 9080
    protocol: TCP
    targetPort: 9080
  selector: {app: reviews}
  sessionAffinity: None
  type: ClusterIP
status:
  loadBalancer: {}
`;
    assert.deepEqual(load(text).diagnostics, []);
  });

  it('target ports by name and number, appProtocol', () => {
    const snapshot = load(
      SVC(
        '  ports:\n  - {name: grpc, port: 80, targetPort: grpc-port, appProtocol: grpc}\n  - {name: web, port: 81, targetPort: "8081", appProtocol: kubernetes.io/h2c}\n',
      ),
    );
    assert.deepEqual(snapshot.diagnostics, []);
    assert.deepEqual(
      (snapshot.resources[0]?.spec as ServiceSpec | undefined)?.ports?.map((p) => p.targetPort),
      ['grpc-port', 8081],
    );
  });

  it('behaviour the mesh does not reproduce is accepted with a warning naming it', () => {
    const snapshot = load(
      SVC(
        '  type: NodePort\n  sessionAffinity: ClientIP\n  ports:\n  - {name: dns, port: 53, protocol: UDP}\n',
      ),
    );
    assert.deepEqual(
      snapshot.diagnostics.map((d) => [d.severity, formatPath(d.path ?? [])]),
      [
        ['warning', 'spec.ports[0].protocol'],
        ['warning', 'spec.type'],
        ['warning', 'spec.sessionAffinity'],
      ],
    );
  });
});
