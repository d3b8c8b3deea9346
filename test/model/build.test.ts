import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { formatDiagnostic } from '../../src/core/diagnostics.js';
import { buildModel, fingerprint } from '../../src/model/build.js';
import type { MeshModel, ServiceModel } from '../../src/model/types.js';
import { endpointPort, GenerationContext } from '../../src/xds/generate/context.js';
import { OutboundPortAllocator } from '../../src/xds/generate/outbound-ports.js';

type Obj = Record<string, unknown>;

/** Documents as JSON (which is YAML), loaded and built; a loader error fails the test. */
function build(docs: readonly Obj[], previous?: MeshModel): MeshModel {
  const snapshot = loadConfig([
    { path: 'mesh.yaml', text: docs.map((d) => JSON.stringify(d)).join('\n---\n') },
  ]);
  const errors = snapshot.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
  assert.deepEqual(errors, [], 'the fixture must load without errors');
  return buildModel(snapshot, previous);
}

function service(name: string, spec: Obj, meta: Obj = {}): Obj {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', ...meta }, spec };
}

function workloadEntry(name: string, spec: Obj, meta: Obj = {}): Obj {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'WorkloadEntry',
    metadata: { name, namespace: 'default', ...meta },
    spec,
  };
}

function serviceEntry(name: string, spec: Obj, meta: Obj = {}): Obj {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name, namespace: 'default', ...meta },
    spec,
  };
}

const HTTP = [{ name: 'http', port: 80, targetPort: 8080 }];

function only(model: MeshModel, hostname: string): ServiceModel {
  const found = model.services.filter((s) => s.hostname === hostname);
  assert.equal(found.length, 1, `one service ${hostname}`);
  return found[0] as ServiceModel;
}

describe('buildModel: Kubernetes Service ports', () => {
  it('reads each port by Istio rules; UDP ports are left out', () => {
    const m = build([
      service('app', {
        selector: { app: 'x' },
        ports: [
          { name: 'http-api', port: 80, targetPort: 8080 },
          { name: 'grpc-web', port: 81 },
          { name: 'x', port: 82, appProtocol: 'kubernetes.io/h2c' },
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'db', port: 3306 },
          { name: 'other', port: 9000 },
        ],
      }),
    ]);
    assert.deepEqual(only(m, 'app.default.svc.cluster.local').ports, [
      { name: 'http-api', port: 80, targetPort: 8080, protocol: 'HTTP', protocolSource: 'name' },
      { name: 'grpc-web', port: 81, protocol: 'GRPC-Web', protocolSource: 'name' },
      { name: 'x', port: 82, protocol: 'HTTP2', protocolSource: 'appProtocol' },
      { name: 'db', port: 3306, protocol: 'TCP', protocolSource: 'protocol' },
      { name: 'other', port: 9000, protocol: undefined, protocolSource: 'sniffed' },
    ]);
  });
});

describe('buildModel: a Service selects WorkloadEntries', () => {
  const cases: { name: string; entry: Obj; selected: boolean }[] = [
    {
      name: 'same namespace, labels a superset of the selector',
      entry: workloadEntry('a', { address: '127.0.1.1', labels: { app: 'web', version: 'v1' } }),
      selected: true,
    },
    {
      name: 'another namespace',
      entry: workloadEntry('a', { address: '127.0.1.1', labels: { app: 'web' } }, { namespace: 'other' }),
      selected: false,
    },
    {
      name: 'a label value differs',
      entry: workloadEntry('a', { address: '127.0.1.1', labels: { app: 'api' } }),
      selected: false,
    },
    {
      name: 'the object labels count (Istio merges them over spec.labels)',
      entry: workloadEntry('a', { address: '127.0.1.1' }, { labels: { app: 'web' } }),
      selected: true,
    },
    {
      name: 'the object labels win over spec.labels',
      entry: workloadEntry('a', { address: '127.0.1.1', labels: { app: 'web' } }, { labels: { app: 'api' } }),
      selected: false,
    },
    {
      name: 'a host-name address is for DNS ServiceEntries only',
      entry: workloadEntry('a', { address: 'vm.example.com', labels: { app: 'web' } }),
      selected: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = build([service('web', { selector: { app: 'web' }, ports: HTTP }), c.entry]);
      const s = only(m, 'web.default.svc.cluster.local');
      assert.deepEqual(
        s.endpoints.map((e) => e.workloadName),
        c.selected ? ['a'] : [],
      );
    });
  }

  for (const selector of [undefined, {}]) {
    it(`a Service with selector ${JSON.stringify(selector)} has no endpoints`, () => {
      const m = build([
        service('web', { ...(selector ? { selector } : {}), ports: HTTP }),
        workloadEntry('a', { address: '127.0.1.1', labels: { app: 'web' } }),
      ]);
      assert.deepEqual(only(m, 'web.default.svc.cluster.local').endpoints, []);
    });
  }

  it('endpoints are sorted by address and carry the workload', () => {
    const m = build([
      service('web', { selector: { app: 'web' }, ports: HTTP }),
      workloadEntry('b', {
        address: '127.0.1.3',
        labels: { app: 'web', 'security.istio.io/tlsMode': 'istio' },
        serviceAccount: 'web',
        locality: 'r/z/s',
        weight: 3,
      }),
      workloadEntry('a', { address: '127.0.1.2', labels: { app: 'web' } }),
    ]);
    const s = only(m, 'web.default.svc.cluster.local');
    assert.deepEqual(
      s.endpoints.map((e) => [e.address, e.workloadName, e.tlsMode, e.serviceAccount, e.locality, e.weight]),
      [
        ['127.0.1.2', 'a', 'disabled', '', '', 1],
        ['127.0.1.3', 'b', 'istio', 'web', 'r/z/s', 3],
      ],
    );
    const b = m.workloads.find((w) => w.name === 'b');
    assert.equal(s.endpoints[1]?.source, b?.source, 'an endpoint points at its workload');
  });
});

describe('buildModel: Service kinds', () => {
  it('a ClusterIP Service: its address, STATIC (Istio ClientSideLB)', () => {
    const s = only(
      build([service('web', { clusterIP: '10.96.0.10', ports: HTTP })]),
      'web.default.svc.cluster.local',
    );
    assert.deepEqual(
      [s.addresses, s.resolution, s.headless, s.location, s.kind],
      [['10.96.0.10'], 'STATIC', false, 'MESH_INTERNAL', 'Service'],
    );
  });

  it('a headless Service: no address, NONE (Istio Passthrough), endpoints kept', () => {
    const m = build([
      service('db', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'tcp', port: 5432 }] }),
      workloadEntry('db-0', { address: '127.0.1.5', labels: { app: 'db' } }),
    ]);
    const s = only(m, 'db.default.svc.cluster.local');
    assert.deepEqual([s.addresses, s.resolution, s.headless], [[], 'NONE', true]);
    assert.deepEqual(
      s.endpoints.map((e) => e.address),
      ['127.0.1.5'],
    );
  });

  it('an ExternalName Service is left out with a warning', () => {
    const m = build([service('ext', { type: 'ExternalName', externalName: 'example.com' })]);
    assert.deepEqual(m.services, []);
    assert.deepEqual(
      m.problems.map((p) => [p.severity, p.code, p.message]),
      [
        [
          'warning',
          'SKIFF_MODEL_EXTERNAL_NAME',
          'Service default/ext: type ExternalName is not served by the mesh yet (no listeners or clusters are generated for it)',
        ],
      ],
    );
  });
});

describe('buildModel: targetPort (Istio serviceInstanceFromWorkloadInstance)', () => {
  // endpointPort is how generation reads the model: the table checks the pair gives Istio's endpoint port.
  const cases: { name: string; port: Obj; entryPorts?: Record<string, number>; want: number | 'none' }[] = [
    { name: 'by number', port: { name: 'http', port: 80, targetPort: 8080 }, want: 8080 },
    {
      name: "by number, the workload's port of the service port's name wins",
      port: { name: 'http', port: 80, targetPort: 8080 },
      entryPorts: { http: 9080 },
      want: 9080,
    },
    { name: 'unset: the port (Kubernetes defaults it)', port: { name: 'http', port: 80 }, want: 80 },
    {
      name: "by name: the workload's port of that name",
      port: { name: 'http', port: 80, targetPort: 'web' },
      entryPorts: { web: 9090, http: 9080 },
      want: 9090,
    },
    {
      name: 'by name on an unnamed port',
      port: { port: 80, targetPort: 'web' },
      entryPorts: { web: 9090 },
      want: 9090,
    },
    {
      name: 'by name, the workload lacks it: not an endpoint',
      port: { name: 'http', port: 80, targetPort: 'web' },
      entryPorts: { http: 9080 },
      want: 'none',
    },
    {
      name: 'a numeric string is a number',
      port: { name: 'http', port: 80, targetPort: '8081' },
      want: 8081,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = build([
        service('web', { selector: { app: 'web' }, ports: [c.port] }),
        workloadEntry('a', {
          address: '127.0.1.1',
          labels: { app: 'web' },
          ...(c.entryPorts ? { ports: c.entryPorts } : {}),
        }),
      ]);
      const s = only(m, 'web.default.svc.cluster.local');
      if (c.want === 'none') {
        assert.deepEqual(s.endpoints, []);
        return;
      }
      const [endpoint] = s.endpoints;
      assert.ok(endpoint && s.ports[0]);
      assert.equal(endpointPort(endpoint, s.ports[0]), c.want);
    });
  }

  it('a workload lacking one of two named target ports stays, with a warning', () => {
    const m = build([
      service('web', {
        selector: { app: 'web' },
        ports: [
          { name: 'http', port: 80, targetPort: 'web' },
          { name: 'admin', port: 81, targetPort: 'admin' },
        ],
      }),
      workloadEntry('a', { address: '127.0.1.1', labels: { app: 'web' }, ports: { web: 9090 } }),
    ]);
    const s = only(m, 'web.default.svc.cluster.local');
    assert.deepEqual(s.endpoints[0]?.ports, { web: 9090, http: 9090 });
    assert.deepEqual(
      m.problems.map((p) => p.code),
      ['SKIFF_MODEL_TARGET_PORT'],
    );
    assert.match(m.problems[0]?.message ?? '', /WorkloadEntry default\/a has no port named "admin"/);
  });
});

describe('buildModel: ServiceEntry', () => {
  it('one service per host, each with every port; defaults MESH_EXTERNAL and NONE', () => {
    const m = build([
      serviceEntry('ext', {
        hosts: ['a.example.com', 'b.example.com'],
        ports: [
          { number: 443, name: 'tls', protocol: 'TLS' },
          { number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 },
          { number: 53, name: 'dns', protocol: 'UDP' },
        ],
      }),
    ]);
    assert.deepEqual(
      m.services.map((s) => [s.hostname, s.name, s.kind, s.location, s.resolution, s.headless, s.endpoints]),
      [
        ['a.example.com', 'ext', 'ServiceEntry', 'MESH_EXTERNAL', 'NONE', false, []],
        ['b.example.com', 'ext', 'ServiceEntry', 'MESH_EXTERNAL', 'NONE', false, []],
      ],
    );
    for (const s of m.services) {
      assert.deepEqual(s.ports, [
        { name: 'tls', port: 443, protocol: 'TLS', protocolSource: 'protocol' },
        { name: 'http', port: 80, targetPort: 8080, protocol: 'HTTP', protocolSource: 'protocol' },
      ]);
    }
  });

  const resolutions: { resolution?: string; want: string }[] = [
    { want: 'NONE' },
    { resolution: 'NONE', want: 'NONE' },
    { resolution: 'STATIC', want: 'STATIC' },
    { resolution: 'DNS', want: 'DNS' },
    { resolution: 'DNS_ROUND_ROBIN', want: 'DNS_ROUND_ROBIN' },
  ];
  for (const c of resolutions) {
    it(`resolution ${c.resolution ?? '(unset)'} → ${c.want}`, () => {
      const m = build([
        serviceEntry('ext', {
          hosts: ['api.example.com'],
          location: 'MESH_INTERNAL',
          ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
          ...(c.resolution ? { resolution: c.resolution } : {}),
          ...(c.resolution === 'STATIC' ? { endpoints: [{ address: '127.0.2.1' }] } : {}),
        }),
      ]);
      const s = only(m, 'api.example.com');
      assert.equal(s.resolution, c.want);
      assert.equal(s.location, 'MESH_INTERNAL');
    });
  }

  it('inline endpoints: named <entry>-<index>, tlsMode and identity from each', () => {
    const m = build([
      serviceEntry('vms', {
        hosts: ['vm.internal'],
        location: 'MESH_INTERNAL',
        resolution: 'STATIC',
        ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
        endpoints: [
          { address: '127.0.2.2', labels: { 'security.istio.io/tlsMode': 'istio' }, serviceAccount: 'vm' },
          { address: '127.0.2.1', ports: { http: 8080 } },
        ],
        subjectAltNames: ['spiffe://other.example/ns/x/sa/y'],
      }),
    ]);
    const s = only(m, 'vm.internal');
    assert.deepEqual(
      s.endpoints.map((e) => [e.address, e.workloadName, e.tlsMode, e.ports, e.namespace]),
      [
        ['127.0.2.1', 'vms-1', 'disabled', { http: 8080 }, 'default'],
        ['127.0.2.2', 'vms-0', 'istio', {}, 'default'],
      ],
    );
    assert.deepEqual(s.serviceAccounts, [
      'spiffe://cluster.local/ns/default/sa/vm',
      'spiffe://other.example/ns/x/sa/y',
    ]);
  });

  it('workloadSelector: WorkloadEntries of its namespace with the labels', () => {
    const m = build([
      serviceEntry('vms', {
        hosts: ['vm.internal'],
        location: 'MESH_INTERNAL',
        resolution: 'STATIC',
        ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
        workloadSelector: { labels: { app: 'vm' } },
      }),
      workloadEntry('in', { address: '127.0.2.1', labels: { app: 'vm' }, serviceAccount: 'vm' }),
      workloadEntry('other-ns', { address: '127.0.2.2', labels: { app: 'vm' } }, { namespace: 'other' }),
      workloadEntry('other-app', { address: '127.0.2.3', labels: { app: 'api' } }),
      workloadEntry('dns-name', { address: 'vm.example.com', labels: { app: 'vm' } }),
    ]);
    const s = only(m, 'vm.internal');
    assert.deepEqual(
      s.endpoints.map((e) => e.workloadName),
      ['in'],
    );
    assert.deepEqual(s.serviceAccounts, ['spiffe://cluster.local/ns/default/sa/vm']);
  });

  it('a DNS workloadSelector also takes host-name addresses', () => {
    const m = build([
      serviceEntry('vms', {
        hosts: ['vm.internal'],
        location: 'MESH_INTERNAL',
        resolution: 'DNS',
        ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
        workloadSelector: { labels: { app: 'vm' } },
      }),
      workloadEntry('ip', { address: '127.0.2.1', labels: { app: 'vm' } }),
      workloadEntry('name', { address: 'vm.example.com', labels: { app: 'vm' } }),
    ]);
    assert.deepEqual(
      only(m, 'vm.internal').endpoints.map((e) => e.address),
      ['127.0.2.1', 'vm.example.com'],
    );
  });

  it('a DNS entry without endpoints resolves each host itself (Istio convertServiceEntryToInstances)', () => {
    const m = build([
      serviceEntry('ext', {
        hosts: ['a.example.com', 'b.example.com'],
        resolution: 'DNS',
        ports: [{ number: 443, name: 'https', protocol: 'HTTPS', targetPort: 8443 }],
      }),
    ]);
    for (const host of ['a.example.com', 'b.example.com']) {
      const s = only(m, host);
      assert.deepEqual(s.endpoints, [
        {
          address: host,
          ports: {},
          labels: {},
          namespace: 'default',
          serviceAccount: '',
          tlsMode: 'disabled',
          workloadName: 'ext',
          locality: '',
          weight: 1,
        },
      ]);
      assert.equal(endpointPort(s.endpoints[0] as never, s.ports[0] as never), 8443);
    }
  });

  it('addresses: a /32 is the address itself, a wider range stays', () => {
    const m = build([
      serviceEntry('ext', {
        hosts: ['db.example.com'],
        addresses: ['10.1.2.3/32', '10.2.0.0/16'],
        ports: [{ number: 5432, name: 'tcp', protocol: 'TCP' }],
      }),
    ]);
    assert.deepEqual(only(m, 'db.example.com').addresses, ['10.1.2.3', '10.2.0.0/16']);
  });
});

describe('buildModel: workloads', () => {
  // Istio: pilot/pkg/serviceregistry/serviceentry/conversion.go getTLSModeFromWorkloadEntry; rows marked [..]
  // mirror conversion_test.go TestConvertWorkloadEntryToWorkloadInstance.
  const tls: { name: string; label?: string; serviceAccount?: string; want: 'istio' | 'disabled' }[] = [
    { name: 'label istio', label: 'istio', want: 'istio' },
    {
      name: 'label disabled, with a service account [simple - tls mode disabled]',
      label: 'disabled',
      serviceAccount: 'a',
      want: 'disabled',
    },
    { name: 'any other label value', label: 'mutual', serviceAccount: 'a', want: 'disabled' },
    { name: 'no label, a service account [simple]', serviceAccount: 'a', want: 'istio' },
    { name: 'no label, no service account', want: 'disabled' },
  ];
  for (const c of tls) {
    it(`tlsMode: ${c.name} → ${c.want}`, () => {
      const m = build([
        workloadEntry('a', {
          address: '127.0.1.1',
          labels: { app: 'a', ...(c.label ? { 'security.istio.io/tlsMode': c.label } : {}) },
          ...(c.serviceAccount ? { serviceAccount: c.serviceAccount } : {}),
        }),
      ]);
      assert.equal(m.workloads[0]?.tlsMode, c.want);
    });
  }

  const appPorts: { annotation: string; want: Record<number, number>; warnings: string[] }[] = [
    { annotation: '8080=18080,9090=19090', want: { 8080: 18080, 9090: 19090 }, warnings: [] },
    { annotation: ' 8080 = 18080 ', want: { 8080: 18080 }, warnings: [] },
    { annotation: '', want: {}, warnings: [] },
    {
      annotation: '8080=18080,http=1,70000=1,9090=0',
      want: { 8080: 18080 },
      warnings: ['"http=1"', '"70000=1"', '"9090=0"'],
    },
  ];
  for (const c of appPorts) {
    it(`skiff.dev/app-ports ${JSON.stringify(c.annotation)}`, () => {
      const m = build([
        workloadEntry(
          'a',
          { address: '127.0.1.1' },
          { annotations: { 'skiff.dev/app-ports': c.annotation } },
        ),
      ]);
      assert.deepEqual(m.workloads[0]?.appPorts, c.want);
      assert.deepEqual(
        m.problems.map((p) => [p.severity, p.code, p.message]),
        c.warnings.map((w) => [
          'warning',
          'SKIFF_MODEL_APP_PORTS',
          `WorkloadEntry default/a: annotation skiff.dev/app-ports entry ${w} ignored: expected PORT=APP_PORT (e.g. 8080=18080)`,
        ]),
      );
    });
  }

  const localities: { name: string; spec?: string; label?: Obj; want: string }[] = [
    {
      name: 'spec.locality',
      spec: 'eu/west/a',
      label: { 'topology.istio.io/locality': 'us.east' },
      want: 'eu/west/a',
    },
    {
      name: 'the topology label, dots read as slashes',
      label: { 'topology.istio.io/locality': 'us.east.b' },
      want: 'us/east/b',
    },
    { name: 'the legacy label', label: { 'istio-locality': 'us.west' }, want: 'us/west' },
    { name: 'none', want: '' },
  ];
  for (const c of localities) {
    it(`locality: ${c.name}`, () => {
      const m = build([
        workloadEntry('a', {
          address: '127.0.1.1',
          ...(c.spec ? { locality: c.spec } : {}),
          ...(c.label ? { labels: c.label } : {}),
        }),
      ]);
      assert.equal(m.workloads[0]?.locality, c.want);
    });
  }
});

describe('buildModel: service accounts as SPIFFE IDs', () => {
  it("the workloads' identities in the mesh trust domain, sorted and unique, with the Service's annotations", () => {
    const m = build([
      {
        apiVersion: 'skiff.dev/v1alpha1',
        kind: 'MeshConfig',
        metadata: { name: 'mesh' },
        spec: { trustDomain: 'example.org' },
      },
      service(
        'web',
        { selector: { app: 'web' }, ports: HTTP },
        {
          annotations: {
            'alpha.istio.io/kubernetes-serviceaccounts': 'legacy, web',
            'alpha.istio.io/canonical-serviceaccounts': 'spiffe://corp/ns/x/sa/z',
          },
        },
      ),
      workloadEntry('a', { address: '127.0.1.1', labels: { app: 'web' }, serviceAccount: 'web' }),
      workloadEntry('b', { address: '127.0.1.2', labels: { app: 'web' }, serviceAccount: 'web' }),
      workloadEntry('c', { address: '127.0.1.3', labels: { app: 'web' } }),
    ]);
    assert.deepEqual(only(m, 'web.default.svc.cluster.local').serviceAccounts, [
      'spiffe://corp/ns/x/sa/z',
      'spiffe://example.org/ns/default/sa/legacy',
      'spiffe://example.org/ns/default/sa/web',
    ]);
  });
});

describe('buildModel: unchanged objects are reused', () => {
  const base = (addressOfA: string, appPortsOfB = '80=18080'): Obj[] => [
    service('a', { selector: { app: 'a' }, ports: HTTP }),
    service('b', { selector: { app: 'b' }, ports: HTTP }),
    workloadEntry('a-0', { address: addressOfA, labels: { app: 'a' } }),
    workloadEntry(
      'b-0',
      { address: '127.0.1.2', labels: { app: 'b' } },
      {
        annotations: { 'skiff.dev/app-ports': appPortsOfB },
      },
    ),
    {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'default', namespace: 'istio-system' },
      spec: { mtls: { mode: 'STRICT' } },
    },
  ];
  const host = (n: string) => `${n}.default.svc.cluster.local`;

  it('the same configuration keeps every object', () => {
    const first = build(base('127.0.1.1'));
    const second = build(base('127.0.1.1'), first);
    assert.equal(second.services, first.services);
    assert.equal(second.workloads, first.workloads);
    assert.equal(second.peerAuthentications, first.peerAuthentications);
    assert.equal(second.destinationRules, first.destinationRules);
    assert.equal(second.virtualServices, first.virtualServices);
    assert.equal(second.meshConfig, first.meshConfig);
  });

  it("an endpoint change of A keeps B's object", () => {
    const first = build(base('127.0.1.1'));
    const second = build(base('127.0.1.9'), first);
    assert.notEqual(only(second, host('a')), only(first, host('a')));
    assert.equal(only(second, host('b')), only(first, host('b')));
    assert.equal(second.workloads[1], first.workloads[1], "B's workload is kept too");
    assert.notEqual(second.workloads[0], first.workloads[0]);
    assert.equal(second.peerAuthentications, first.peerAuthentications);
  });

  it('documents moved in their file change nothing', () => {
    const first = build(base('127.0.1.1'));
    const second = build([...base('127.0.1.1')].reverse(), first);
    assert.equal(second.services, first.services);
    assert.equal(second.workloads, first.workloads);
  });

  it('a workload-only change (its app ports) renews the services that hold it, so endpoints still point at workloads', () => {
    const first = build(base('127.0.1.1'));
    const second = build(base('127.0.1.1', '80=28080'), first);
    const b = second.workloads.find((w) => w.name === 'b-0');
    assert.deepEqual(b?.appPorts, { 80: 28080 });
    assert.equal(fingerprint(only(second, host('b'))), fingerprint(only(first, host('b'))));
    assert.notEqual(only(second, host('b')), only(first, host('b')));
    assert.equal(only(second, host('a')), only(first, host('a')));
    const ctx = new GenerationContext(second, new OutboundPortAllocator());
    assert.deepEqual(
      ctx.serviceTargets(b as never).map((t) => [t.service.hostname, t.targetPort]),
      [[host('b'), 8080]],
    );
  });

  it('a policy change renews the policy list only', () => {
    const first = build(base('127.0.1.1'));
    const changed = base('127.0.1.1');
    (changed[4] as { spec: Obj }).spec = { mtls: { mode: 'PERMISSIVE' } };
    const second = build(changed, first);
    assert.notEqual(second.peerAuthentications, first.peerAuthentications);
    assert.equal(second.services, first.services);
    assert.equal(second.workloads, first.workloads);
  });
});
