import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { protocolFromName } from '../../../src/config/kinds/workload.js';
import { loadConfig } from '../../../src/config/load.js';
import { formatPath } from '../../../src/core/field-path.js';

const WL = (spec: string, meta = '') =>
  `apiVersion: skiff.dev/v1alpha1\nkind: Workload\nmetadata:\n  name: app\n  namespace: shop\n  labels: {app: app}\n${meta}spec:\n${spec}`;
const load = (text: string) => loadConfig([{ path: 'w.yaml', text }]);
const errors = (text: string) =>
  load(text)
    .diagnostics.filter((d) => d.severity === 'error')
    .map((d) => [d.code, formatPath(d.path ?? []), d.message]);

describe('Workload', () => {
  it('applies defaults', () => {
    const snapshot = load(WL('  command: [node, app.js]\n'));
    assert.deepEqual(snapshot.diagnostics, []);
    assert.deepEqual(snapshot.workloads[0]?.spec, {
      serviceAccount: 'default',
      command: ['node', 'app.js'],
      env: {},
      ports: [],
      sidecar: true,
      replicas: 1,
    });
    assert.deepEqual(snapshot.workloads[0]?.metadata.labels, { app: 'app' });
  });

  it('reads every field, and takes the protocol from the port name as Istio does', () => {
    const spec = `  serviceAccount: reviews
  command: [node, server.js, --verbose]
  env: {LOG: debug}
  ports:
  - {name: http-api, containerPort: 8080}
  - {name: grpc, containerPort: 9000}
  - {name: metrics, containerPort: 9100}
  - {containerPort: 5432, protocol: tcp}
  sidecar: false
  replicas: 3
`;
    const w = load(WL(spec)).workloads[0]?.spec;
    assert.deepEqual(w, {
      serviceAccount: 'reviews',
      command: ['node', 'server.js', '--verbose'],
      env: { LOG: 'debug' },
      ports: [
        { name: 'http-api', containerPort: 8080, protocol: 'HTTP' },
        { name: 'grpc', containerPort: 9000, protocol: 'GRPC' },
        { name: 'metrics', containerPort: 9100, protocol: undefined },
        { containerPort: 5432, protocol: 'TCP' },
      ],
      sidecar: false,
      replicas: 3,
    });
  });

  it('command is required and must not be empty', () => {
    assert.deepEqual(errors(WL('  sidecar: true\n')), [
      ['SKIFF_CONFIG_REQUIRED', 'spec.command', 'required field is missing: expected a list of a string'],
    ]);
    assert.deepEqual(errors(WL('  command: []\n')), [
      ['SKIFF_CONFIG_EMPTY', 'spec.command', 'must have at least 1 item(s)'],
    ]);
    assert.deepEqual(errors(WL('  command: node app.js\n')), [
      ['SKIFF_CONFIG_TYPE', 'spec.command', 'expected a list of a string, got string "node app.js"'],
    ]);
  });

  it('a spec is required', () => {
    assert.equal(errors(WL('').replace('spec:\n', ''))[0]?.[0], 'SKIFF_CONFIG_REQUIRED');
  });

  it('rejects bad ports', () => {
    const spec = `  command: [x]
  ports:
  - {name: http, containerPort: 0}
  - {name: http, containerPort: 80}
  - {name: web, containerPort: 80}
  - {name: Bad_Name, containerPort: 81}
  - {name: dns, containerPort: 53, protocol: UDP}
  - {name: x, containerPort: "8080"}
`;
    assert.deepEqual(
      errors(WL(spec)).map(([code, path]) => [code, path]),
      [
        ['SKIFF_CONFIG_RANGE', 'spec.ports[0].containerPort'],
        ['SKIFF_CONFIG_FORMAT', 'spec.ports[3].name'],
        ['SKIFF_CONFIG_ENUM', 'spec.ports[4].protocol'],
        ['SKIFF_CONFIG_TYPE', 'spec.ports[5].containerPort'],
      ],
    );
    const dup = errors(
      WL(
        '  command: [x]\n  ports:\n  - {name: http, containerPort: 80}\n  - {name: http, containerPort: 80}\n',
      ),
    );
    assert.deepEqual(dup, [
      ['SKIFF_CONFIG_DUPLICATE', 'spec.ports[1].name', 'duplicate port name "http" (also ports[0])'],
      ['SKIFF_CONFIG_DUPLICATE', 'spec.ports[1].containerPort', 'duplicate containerPort 80 (also ports[0])'],
    ]);
  });

  it('rejects bad labels and service accounts', () => {
    assert.deepEqual(
      errors(
        WL('  command: [x]\n  serviceAccount: Not_Valid\n').replace('{app: app}', '{"bad key!": x}'),
      ).map(([c, p]) => [c, p]),
      [
        ['SKIFF_CONFIG_LABEL', 'metadata.labels["bad key!"]'],
        ['SKIFF_CONFIG_NAME', 'spec.serviceAccount'],
      ],
    );
  });

  it('protocolFromName follows Istio’s naming convention', () => {
    assert.equal(protocolFromName('http'), 'HTTP');
    assert.equal(protocolFromName('http2-x'), 'HTTP2');
    assert.equal(protocolFromName('grpc-web'), 'GRPC-Web');
    assert.equal(protocolFromName('tcp-db'), 'TCP');
    assert.equal(protocolFromName('httpx'), undefined);
    assert.equal(protocolFromName(undefined), undefined);
  });
});
