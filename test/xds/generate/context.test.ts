// GenerationContext (src/xds/generate/context.ts): the lookups every generator shares — DestinationRule per
// service and proxy namespace, host names, namespace and workload mTLS modes, a proxy's workload and its service
// targets — and the per-service cache that survives a new model when the policies did not change.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/load.js';
import { buildModel } from '../../../src/model/build.js';
import type { EndpointModel, MeshModel, ServiceModel, ServicePortModel } from '../../../src/model/types.js';
import { endpointPort, GenerationContext } from '../../../src/xds/generate/context.js';
import { OutboundPortAllocator } from '../../../src/xds/generate/outbound-ports.js';
import { contextFrom, modelFrom, sidecarNode } from './fixtures.js';

const yaml = (...docs: string[]) => docs.join('\n---\n');

const kubeService = (name: string, ns: string, ports = '[{name: http, port: 80}]', selector = name) =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  selector: {app: ${selector}}\n  ports: ${ports}`;

const workloadEntry = (name: string, ns: string, address: string, app: string, extra = '') =>
  `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  address: ${address}\n  labels: {app: ${app}}\n  serviceAccount: ${app}${extra}`;

interface RuleDoc {
  name: string;
  namespace: string;
  host: string;
  created?: string;
}

const destinationRule = (r: RuleDoc) =>
  `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ${r.name}, namespace: ${r.namespace}` +
  `${r.created ? `, creationTimestamp: '${r.created}'` : ''}}\nspec: {host: '${r.host}'}`;

const peerAuthentication = (name: string, ns: string, spec: string) =>
  `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: ${spec}`;

function serviceOf(ctx: GenerationContext, hostname: string): ServiceModel {
  const s = ctx.service(hostname);
  assert.ok(s, `no service ${hostname}`);
  return s;
}

// ---------------------------------------------------------------------------------------------------------------

describe('GenerationContext.destinationRule', () => {
  // foo.svc.svc.cluster.local, called from a proxy in namespace `client`; the root namespace is istio-system.
  const FOO = 'foo.svc.svc.cluster.local';
  const services = kubeService('foo', 'svc');

  interface Case {
    name: string;
    rules: RuleDoc[];
    /** `namespace/name` of the rule chosen, or undefined. */
    expected: string | undefined;
    proxyNamespace?: string;
  }

  const cases: Case[] = [
    { name: 'no rule', rules: [], expected: undefined },
    {
      name: 'a rule for another host only',
      rules: [{ name: 'bar', namespace: 'svc', host: 'bar.svc.svc.cluster.local' }],
      expected: undefined,
    },
    {
      name: 'the proxy namespace first, then the service namespace, then the root namespace',
      rules: [
        { name: 'root', namespace: 'istio-system', host: FOO },
        { name: 'service', namespace: 'svc', host: FOO },
        { name: 'proxy', namespace: 'client', host: FOO },
      ],
      expected: 'client/proxy',
    },
    {
      name: 'the service namespace when the proxy namespace has none',
      rules: [
        { name: 'root', namespace: 'istio-system', host: FOO },
        { name: 'service', namespace: 'svc', host: FOO },
        { name: 'elsewhere', namespace: 'other', host: FOO },
      ],
      expected: 'svc/service',
    },
    {
      name: 'the root namespace last',
      rules: [
        { name: 'root', namespace: 'istio-system', host: FOO },
        { name: 'elsewhere', namespace: 'other', host: FOO },
      ],
      expected: 'istio-system/root',
    },
    {
      name: 'a rule in a namespace that is neither the proxy, the service nor the root one never applies',
      rules: [{ name: 'elsewhere', namespace: 'other', host: FOO }],
      expected: undefined,
    },
    {
      name: 'the namespace decides before the host: a wildcard in the proxy namespace beats an exact host later',
      rules: [
        { name: 'exact', namespace: 'svc', host: FOO },
        { name: 'any', namespace: 'client', host: '*' },
      ],
      expected: 'client/any',
    },
    {
      name: 'in one namespace, the exact host beats *.suffix and *',
      rules: [
        { name: 'any', namespace: 'svc', host: '*' },
        { name: 'suffix', namespace: 'svc', host: '*.svc.svc.cluster.local' },
        { name: 'exact', namespace: 'svc', host: FOO },
      ],
      expected: 'svc/exact',
    },
    {
      name: 'in one namespace, *.suffix beats *',
      rules: [
        { name: 'any', namespace: 'svc', host: '*' },
        { name: 'suffix', namespace: 'svc', host: '*.cluster.local' },
      ],
      expected: 'svc/suffix',
    },
    {
      name: 'in one namespace, the longer matching wildcard beats the shorter',
      rules: [
        { name: 'short', namespace: 'svc', host: '*.cluster.local' },
        { name: 'long', namespace: 'svc', host: '*.svc.svc.cluster.local' },
      ],
      expected: 'svc/long',
    },
    {
      name: 'a wildcard that does not match is not a candidate',
      rules: [
        { name: 'other', namespace: 'svc', host: '*.example.com' },
        { name: 'any', namespace: 'istio-system', host: '*' },
      ],
      expected: 'istio-system/any',
    },
    {
      name: '* alone in the root namespace applies to every service',
      rules: [{ name: 'mesh', namespace: 'istio-system', host: '*' }],
      expected: 'istio-system/mesh',
    },
    {
      name: 'a tie: the oldest creationTimestamp wins, whatever the read order',
      rules: [
        { name: 'newer', namespace: 'svc', host: FOO, created: '2026-03-01T00:00:00Z' },
        { name: 'older', namespace: 'svc', host: FOO, created: '2026-01-01T00:00:00Z' },
        { name: 'newest', namespace: 'svc', host: FOO, created: '2026-05-01T00:00:00Z' },
      ],
      expected: 'svc/older',
    },
    {
      name: 'a tie between wildcards: the oldest wins',
      rules: [
        { name: 'b', namespace: 'svc', host: '*.svc.svc.cluster.local', created: '2026-02-01T00:00:00Z' },
        { name: 'a', namespace: 'svc', host: '*.svc.svc.cluster.local', created: '2025-12-31T23:59:59Z' },
      ],
      expected: 'svc/a',
    },
    {
      name: 'a tie without creation times: name order decides, not read order (configCompareByCreationTime)',
      rules: [
        { name: 'second', namespace: 'svc', host: FOO },
        { name: 'first', namespace: 'svc', host: FOO },
      ],
      expected: 'svc/first',
    },
    {
      name: 'a short host name is resolved in the rule namespace (foo in svc is foo.svc)',
      rules: [
        { name: 'root', namespace: 'istio-system', host: '*' },
        { name: 'short', namespace: 'svc', host: 'foo' },
      ],
      expected: 'svc/short',
    },
    {
      name: 'a short host name in the proxy namespace names a service there, not this one',
      rules: [
        { name: 'short', namespace: 'client', host: 'foo' },
        { name: 'service', namespace: 'svc', host: FOO },
      ],
      expected: 'svc/service',
    },
    {
      name: 'a proxy in the service namespace: its namespace is the service one',
      proxyNamespace: 'svc',
      rules: [
        { name: 'root', namespace: 'istio-system', host: FOO },
        { name: 'service', namespace: 'svc', host: FOO },
        { name: 'client', namespace: 'client', host: FOO },
      ],
      expected: 'svc/service',
    },
    {
      // push_context.go destinationRule: for the root namespace only its namespace-local (exportTo ".") rules come
      // first; Skiff treats every rule as exported, so the service's namespace is searched before the root.
      name: 'a proxy in the root namespace: the service rules first, then the root ones',
      proxyNamespace: 'istio-system',
      rules: [
        { name: 'service', namespace: 'svc', host: FOO },
        { name: 'root', namespace: 'istio-system', host: '*' },
      ],
      expected: 'svc/service',
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const ctx = contextFrom(yaml(services, ...c.rules.map(destinationRule)));
      const rule = ctx.destinationRule(serviceOf(ctx, FOO), c.proxyNamespace ?? 'client');
      assert.equal(rule && `${rule.metadata.namespace}/${rule.metadata.name}`, c.expected);
    });
  }

  it('a rootNamespace set in MeshConfig is the one searched last', () => {
    const mesh =
      'apiVersion: skiff.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {rootNamespace: mesh-root}';
    const ctx = contextFrom(
      yaml(
        mesh,
        services,
        destinationRule({ name: 'old-root', namespace: 'istio-system', host: FOO }),
        destinationRule({ name: 'root', namespace: 'mesh-root', host: FOO }),
      ),
    );
    assert.equal(ctx.rootNamespace, 'mesh-root');
    assert.equal(ctx.destinationRule(serviceOf(ctx, FOO), 'client')?.metadata.name, 'root');
  });
});

describe('GenerationContext.resolveHost (ResolveShortnameToFQDN)', () => {
  const ctx = contextFrom('');
  const cases: Array<[string, string, string]> = [
    ['foo', 'ns', 'foo.ns.svc.cluster.local'],
    ['foo', 'other', 'foo.other.svc.cluster.local'],
    ['foo.ns', 'other', 'foo.ns'],
    ['foo.ns.svc.cluster.local', 'other', 'foo.ns.svc.cluster.local'],
    ['api.example.com', 'ns', 'api.example.com'],
    ['*', 'ns', '*'],
    ['*.example.com', 'ns', '*.example.com'],
    ['10.0.0.1', 'ns', '10.0.0.1'],
    ['::1', 'ns', '::1'],
    ['2001:db8::1', 'ns', '2001:db8::1'],
    ['fe80::1%eth0', 'ns', 'fe80::1%eth0'],
  ];
  for (const [host, ns, expected] of cases) {
    it(`${host} in ${ns} → ${expected}`, () => {
      assert.equal(ctx.resolveHost(host, ns), expected);
    });
  }
});

describe('GenerationContext.namespaceMode (GetNamespaceMutualTLSMode)', () => {
  const mode = (spec: string) => spec;
  interface Case {
    name: string;
    policies: string[];
    expected: Record<string, string>;
  }
  const cases: Case[] = [
    {
      name: 'no policy at all: UNKNOWN everywhere',
      policies: [],
      expected: { a: 'UNKNOWN', b: 'UNKNOWN', 'istio-system': 'UNKNOWN' },
    },
    {
      name: 'a mesh policy only: its mode everywhere',
      policies: [peerAuthentication('default', 'istio-system', mode('{mtls: {mode: STRICT}}'))],
      expected: { a: 'STRICT', b: 'STRICT', 'istio-system': 'STRICT' },
    },
    {
      name: 'a namespace policy over the mesh one',
      policies: [
        peerAuthentication('default', 'istio-system', '{mtls: {mode: STRICT}}'),
        peerAuthentication('default', 'a', '{mtls: {mode: DISABLE}}'),
      ],
      expected: { a: 'DISABLE', b: 'STRICT', 'istio-system': 'STRICT' },
    },
    {
      name: 'a namespace policy without a mesh one: UNKNOWN elsewhere',
      policies: [peerAuthentication('default', 'a', '{mtls: {mode: STRICT}}')],
      expected: { a: 'STRICT', b: 'UNKNOWN', 'istio-system': 'UNKNOWN' },
    },
    {
      name: 'an UNSET namespace policy inherits the mesh mode, else PERMISSIVE',
      policies: [
        peerAuthentication('default', 'istio-system', '{mtls: {mode: DISABLE}}'),
        peerAuthentication('default', 'a', '{mtls: {mode: UNSET}}'),
      ],
      expected: { a: 'DISABLE', b: 'DISABLE' },
    },
    {
      name: 'an UNSET namespace policy without a mesh one: PERMISSIVE',
      policies: [peerAuthentication('default', 'a', '{}')],
      expected: { a: 'PERMISSIVE', b: 'UNKNOWN' },
    },
    {
      name: 'a policy with a selector is not a namespace policy',
      policies: [
        peerAuthentication('foo', 'a', '{selector: {matchLabels: {app: foo}}, mtls: {mode: STRICT}}'),
      ],
      expected: { a: 'UNKNOWN' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const ctx = contextFrom(yaml(...c.policies));
      for (const [ns, expected] of Object.entries(c.expected)) {
        assert.equal(ctx.namespaceMode(ns), expected, ns);
        // Asked again (cached per namespace): the same.
        assert.equal(ctx.namespaceMode(ns), expected, `${ns}, again`);
      }
    });
  }
});

describe('GenerationContext.workloadMode', () => {
  const policies = yaml(
    peerAuthentication('default', 'istio-system', '{mtls: {mode: PERMISSIVE}}'),
    peerAuthentication('default', 'a', '{mtls: {mode: STRICT}}'),
    peerAuthentication(
      'foo',
      'a',
      "{selector: {matchLabels: {app: foo}}, mtls: {mode: STRICT}, portLevelMtls: {'8080': {mode: DISABLE}, '9090': {mode: PERMISSIVE}}}",
    ),
    peerAuthentication('bar', 'a', '{selector: {matchLabels: {app: bar}}, mtls: {mode: DISABLE}}'),
  );
  const cases: Array<[string, string, Record<string, string>, number, string]> = [
    ['port-level DISABLE', 'a', { app: 'foo' }, 8080, 'DISABLE'],
    ['port-level PERMISSIVE', 'a', { app: 'foo' }, 9090, 'PERMISSIVE'],
    ['a port without a port-level mode: the workload mode', 'a', { app: 'foo' }, 7070, 'STRICT'],
    ['a workload policy without ports', 'a', { app: 'bar' }, 8080, 'DISABLE'],
    ['no workload policy: the namespace one', 'a', { app: 'baz' }, 8080, 'STRICT'],
    ['no namespace policy: the mesh one', 'b', { app: 'foo' }, 8080, 'PERMISSIVE'],
  ];
  for (const [name, namespace, labels, port, expected] of cases) {
    it(`${name}: ${namespace} ${JSON.stringify(labels)} :${port} → ${expected}`, () => {
      assert.equal(contextFrom(policies).workloadMode({ namespace, labels }, port), expected);
    });
  }

  it('no policy at all: PERMISSIVE (Istio default)', () => {
    assert.equal(contextFrom('').workloadMode({ namespace: 'a', labels: {} }, 8080), 'PERMISSIVE');
  });
});

describe('GenerationContext.workloadAt', () => {
  const ctx = contextFrom(
    yaml(
      workloadEntry('foo-0', 'a', '127.0.1.2', 'foo'),
      workloadEntry('foo-1', 'a', '127.0.1.3', 'foo'),
      workloadEntry('other-0', 'b', '127.0.1.2', 'other'),
      workloadEntry('v6-0', 'a', 'fd00::5', 'v6'),
    ),
  );
  const cases: Array<[string[], string, string | undefined]> = [
    [['127.0.1.2'], 'a', 'foo-0'],
    [['127.0.1.3'], 'a', 'foo-1'],
    [['127.0.1.2'], 'b', 'other-0'],
    [['127.0.9.9', '127.0.1.3'], 'a', 'foo-1'],
    [['fd00::5'], 'a', 'v6-0'],
    [['127.0.1.3'], 'b', undefined],
    [['127.0.9.9'], 'a', undefined],
    [[], 'a', undefined],
  ];
  for (const [ips, ns, expected] of cases) {
    it(`${JSON.stringify(ips)} in ${ns} → ${expected ?? 'none'}`, () => {
      assert.equal(ctx.workloadAt(ips, ns)?.name, expected);
    });
  }
});

describe('GenerationContext.serviceTargets', () => {
  it('every service port of the services selecting the workload in its namespace, with its target port', () => {
    const ctx = contextFrom(
      yaml(
        kubeService(
          'foo',
          'a',
          '[{name: http, port: 80, targetPort: 8080}, {name: grpc, port: 90, targetPort: grpc-port}, {name: tcp, port: 7000}]',
        ),
        // The same selector in another namespace: not this workload's.
        kubeService('foo', 'b'),
        // Another Service of the namespace that does not select it.
        kubeService('bar', 'a'),
        `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo-se, namespace: a}\nspec:\n  hosts: [foo.example.com]\n  location: MESH_INTERNAL\n  resolution: STATIC\n  workloadSelector: {labels: {app: foo}}\n  ports: [{name: se, number: 5000, targetPort: 5001, protocol: TCP}, {name: web, number: 6000, protocol: HTTP}]`,
        workloadEntry('foo-0', 'a', '127.0.1.2', 'foo', '\n  ports: {grpc-port: 9090, web: 6060}'),
        workloadEntry('foo-1', 'b', '127.0.1.3', 'foo'),
        workloadEntry('bar-0', 'a', '127.0.1.4', 'bar'),
      ),
    );
    const w = ctx.workloadAt(['127.0.1.2'], 'a');
    assert.ok(w);
    const targets = ctx
      .serviceTargets(w)
      .map((t) => `${t.service.hostname}:${t.port.port} → ${t.targetPort}`);
    assert.deepEqual(targets, [
      // Sorted by host name, as the model.
      'foo.a.svc.cluster.local:80 → 8080',
      'foo.a.svc.cluster.local:90 → 9090',
      'foo.a.svc.cluster.local:7000 → 7000',
      'foo.example.com:5000 → 5001',
      'foo.example.com:6000 → 6060',
    ]);
    const bar = ctx.workloadAt(['127.0.1.4'], 'a');
    assert.ok(bar);
    assert.deepEqual(
      ctx.serviceTargets(bar).map((t) => `${t.service.hostname}:${t.port.port} → ${t.targetPort}`),
      ['bar.a.svc.cluster.local:80 → 80'],
    );
  });

  it('a workload no service selects: none', () => {
    const ctx = contextFrom(yaml(kubeService('foo', 'a'), workloadEntry('lone-0', 'a', '127.0.1.9', 'lone')));
    const w = ctx.workloadAt(['127.0.1.9'], 'a');
    assert.ok(w);
    assert.deepEqual(ctx.serviceTargets(w), []);
  });
});

describe('endpointPort', () => {
  const port = (p: Partial<ServicePortModel>): ServicePortModel => ({
    name: 'http',
    port: 80,
    protocol: 'HTTP',
    protocolSource: 'name',
    ...p,
  });
  const cases: Array<[string, Pick<EndpointModel, 'ports'>, ServicePortModel, number]> = [
    [
      'the endpoint port of the service port name wins',
      { ports: { http: 8081 } },
      port({ targetPort: 8080 }),
      8081,
    ],
    ['else a numeric targetPort', { ports: {} }, port({ targetPort: 8080 }), 8080],
    [
      'else a named targetPort the endpoint has',
      { ports: { web: 9000 } },
      port({ name: '', targetPort: 'web' }),
      9000,
    ],
    [
      'a named targetPort the endpoint lacks: the port',
      { ports: { other: 1 } },
      port({ targetPort: 'web' }),
      80,
    ],
    ['no targetPort: the port', { ports: {} }, port({}), 80],
    ['an unnamed port is never looked up by name', { ports: { '': 5 } }, port({ name: '' }), 80],
  ];
  for (const [name, endpoint, p, expected] of cases) {
    it(`${name} → ${expected}`, () => {
      assert.equal(endpointPort(endpoint, p), expected);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------

describe('GenerationContext.memo', () => {
  const BASE = [
    kubeService('foo', 'ns'),
    kubeService('bar', 'ns'),
    workloadEntry('foo-0', 'ns', '127.0.1.2', 'foo'),
    workloadEntry('bar-0', 'ns', '127.0.1.3', 'bar'),
  ];
  const FOO = 'foo.ns.svc.cluster.local';
  const BAR = 'bar.ns.svc.cluster.local';

  function model(docs: string[], previous?: MeshModel): MeshModel {
    const snapshot = loadConfig([{ path: 'mesh.yaml', text: yaml(...docs) }]);
    assert.deepEqual(
      snapshot.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    return buildModel(snapshot, previous);
  }
  const ports = new OutboundPortAllocator();

  /** memo(service, key) with a build that counts its calls and returns `tag`. */
  function counted(ctx: GenerationContext, host: string, key: string, tag: string) {
    let calls = 0;
    const value = ctx.memo(serviceOf(ctx, host), key, () => {
      calls++;
      return tag;
    });
    return { value, calls };
  }

  it('computes a value once per service and key', () => {
    const ctx = new GenerationContext(modelFrom(yaml(...BASE)), ports);
    assert.deepEqual(counted(ctx, FOO, 'k', 'first'), { value: 'first', calls: 1 });
    assert.deepEqual(counted(ctx, FOO, 'k', 'second'), { value: 'first', calls: 0 });
    // Another key of the same service, the same key of another service: computed.
    assert.deepEqual(counted(ctx, FOO, 'k2', 'third'), { value: 'third', calls: 1 });
    assert.deepEqual(counted(ctx, BAR, 'k', 'fourth'), { value: 'fourth', calls: 1 });
    assert.deepEqual(counted(ctx, BAR, 'k', 'fifth'), { value: 'fourth', calls: 0 });
  });

  it('caches undefined like any value', () => {
    const ctx = new GenerationContext(modelFrom(yaml(...BASE)), ports);
    let calls = 0;
    const build = () => {
      calls++;
      return undefined;
    };
    assert.equal(ctx.memo(serviceOf(ctx, FOO), 'u', build), undefined);
    assert.equal(ctx.memo(serviceOf(ctx, FOO), 'u', build), undefined);
    assert.equal(calls, 1);
  });

  it('a context without `previous` starts empty, even over the same model', () => {
    const m = model(BASE);
    const first = new GenerationContext(m, ports);
    counted(first, FOO, 'k', 'old');
    const second = new GenerationContext(m, ports);
    assert.deepEqual(counted(second, FOO, 'k', 'new'), { value: 'new', calls: 1 });
  });

  it('a new context over an unchanged model reuses every entry', () => {
    const m1 = model(BASE);
    const ctx1 = new GenerationContext(m1, ports);
    counted(ctx1, FOO, 'k', 'foo-1');
    counted(ctx1, BAR, 'k', 'bar-1');
    const m2 = model(BASE, m1);
    assert.equal(m2.services, m1.services);
    const ctx2 = new GenerationContext(m2, ports, ctx1);
    assert.deepEqual(counted(ctx2, FOO, 'k', 'foo-2'), { value: 'foo-1', calls: 0 });
    assert.deepEqual(counted(ctx2, BAR, 'k', 'bar-2'), { value: 'bar-1', calls: 0 });
  });

  it('reuses the entries of services the model reused, and only those', () => {
    const m1 = model(BASE);
    const ctx1 = new GenerationContext(m1, ports);
    counted(ctx1, FOO, 'k', 'foo-1');
    counted(ctx1, BAR, 'k', 'bar-1');
    // bar's workload moves: bar is a new object, foo the same one.
    const m2 = model([...BASE.slice(0, 3), workloadEntry('bar-0', 'ns', '127.0.1.9', 'bar')], m1);
    const ctx2 = new GenerationContext(m2, ports, ctx1);
    assert.equal(serviceOf(ctx2, FOO), serviceOf(ctx1, FOO));
    assert.notEqual(serviceOf(ctx2, BAR), serviceOf(ctx1, BAR));
    assert.deepEqual(counted(ctx2, FOO, 'k', 'foo-2'), { value: 'foo-1', calls: 0 });
    assert.deepEqual(counted(ctx2, BAR, 'k', 'bar-2'), { value: 'bar-2', calls: 1 });
  });

  it('a service removed and added back is a new object: computed again', () => {
    const m1 = model(BASE);
    const ctx1 = new GenerationContext(m1, ports);
    counted(ctx1, BAR, 'k', 'bar-1');
    const m2 = model([BASE[0] ?? '', BASE[2] ?? '', BASE[3] ?? ''], m1);
    const ctx2 = new GenerationContext(m2, ports, ctx1);
    assert.equal(ctx2.service(BAR), undefined);
    const m3 = model(BASE, m2);
    const ctx3 = new GenerationContext(m3, ports, ctx2);
    assert.deepEqual(counted(ctx3, BAR, 'k', 'bar-3'), { value: 'bar-3', calls: 1 });
  });

  const policyChanges: Array<[string, string]> = [
    ['a PeerAuthentication is added', peerAuthentication('default', 'ns', '{mtls: {mode: STRICT}}')],
    ['a DestinationRule is added', destinationRule({ name: 'foo', namespace: 'ns', host: FOO })],
    [
      'a VirtualService is added',
      `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: foo, namespace: ns}\nspec: {hosts: [foo], http: [{route: [{destination: {host: foo}}]}]}`,
    ],
    [
      'the mesh config changes',
      'apiVersion: skiff.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {accessLogFile: /dev/stdout}',
    ],
  ];
  for (const [what, doc] of policyChanges) {
    it(`drops every entry when ${what}, even of services the model reused`, () => {
      const m1 = model(BASE);
      const ctx1 = new GenerationContext(m1, ports);
      counted(ctx1, FOO, 'k', 'foo-1');
      counted(ctx1, BAR, 'k', 'bar-1');
      const m2 = model([...BASE, doc], m1);
      assert.equal(m2.services, m1.services, 'the services themselves did not change');
      const ctx2 = new GenerationContext(m2, ports, ctx1);
      assert.deepEqual(counted(ctx2, FOO, 'k', 'foo-2'), { value: 'foo-2', calls: 1 });
      assert.deepEqual(counted(ctx2, BAR, 'k', 'bar-2'), { value: 'bar-2', calls: 1 });
    });
  }

  const policyEdits: Array<[string, string, string]> = [
    [
      'a PeerAuthentication changes mode',
      peerAuthentication('default', 'ns', '{mtls: {mode: STRICT}}'),
      peerAuthentication('default', 'ns', '{mtls: {mode: DISABLE}}'),
    ],
    [
      'a DestinationRule changes host',
      destinationRule({ name: 'foo', namespace: 'ns', host: FOO }),
      destinationRule({ name: 'foo', namespace: 'ns', host: '*' }),
    ],
  ];
  for (const [what, before, after] of policyEdits) {
    it(`drops every entry when ${what}; keeps them when it is read again unchanged`, () => {
      const m1 = model([...BASE, before]);
      const ctx1 = new GenerationContext(m1, ports);
      counted(ctx1, FOO, 'k', 'foo-1');
      const same = model([...BASE, before], m1);
      const ctxSame = new GenerationContext(same, ports, ctx1);
      assert.deepEqual(counted(ctxSame, FOO, 'k', 'foo-same'), { value: 'foo-1', calls: 0 });
      const m2 = model([...BASE, after], same);
      assert.equal(m2.services, m1.services);
      const ctx2 = new GenerationContext(m2, ports, ctxSame);
      assert.deepEqual(counted(ctx2, FOO, 'k', 'foo-2'), { value: 'foo-2', calls: 1 });
    });
  }
});

describe('GenerationContext: one service per host, and merged DestinationRules (Istio)', () => {
  const se = (name: string, ns: string, host: string, port: number, created?: string) =>
    `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ${name}, namespace: ${ns}${created ? `, creationTimestamp: '${created}'` : ''}}\nspec: {hosts: [${host}], location: MESH_INTERNAL, resolution: STATIC, ports: [{number: ${port}, name: tcp-${port}, protocol: TCP}], endpoints: [{address: 127.0.9.9}]}`;
  const kube = (name: string, ns: string) =>
    `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${ns}, creationTimestamp: '2026-06-01T00:00:00Z'}\nspec: {selector: {app: ${name}}, ports: [{name: http, port: 9080}]}`;

  it('a Kubernetes Service beats an older ServiceEntry squatting on its name (sidecar.go appendServices)', () => {
    const host = 'reviews.shop.svc.cluster.local';
    const ctx = contextFrom(
      yaml(se('squat', 'attacker', host, 9080, '2026-01-01T00:00:00Z'), kube('reviews', 'shop')),
    );
    assert.deepEqual([ctx.service(host)?.kind, ctx.service(host)?.namespace], ['Service', 'shop']);
    assert.deepEqual(
      ctx.services().map((s) => `${s.kind} ${s.namespace}/${s.hostname}`),
      [`Service shop/${host}`],
    );
  });

  it('ServiceEntries of one namespace for one host merge their ports; another namespace’s is ignored', () => {
    const host = 'db.example.com';
    const ctx = contextFrom(
      yaml(
        se('a', 'shop', host, 5432, '2026-01-01T00:00:00Z'),
        se('b', 'shop', host, 6379, '2026-02-01T00:00:00Z'),
        se('c', 'other', host, 7000, '2026-03-01T00:00:00Z'),
      ),
    );
    assert.deepEqual(
      ctx.service(host)?.ports.map((p) => p.port),
      [5432, 6379],
    );
    assert.equal(ctx.services().length, 1);
  });

  it('rules of one namespace for one host merge: later subsets added, the traffic policy from the first that has one (mergeDestinationRule)', () => {
    const svc =
      'apiVersion: v1\nkind: Service\nmetadata: {name: foo, namespace: svc}\nspec: {selector: {app: foo}, ports: [{name: http, port: 80}]}';
    const dr = (name: string, created: string, spec: string) =>
      `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ${name}, namespace: svc, creationTimestamp: '${created}'}\nspec: {host: foo, ${spec}}`;
    const ctx = contextFrom(
      yaml(
        svc,
        dr(
          'b',
          '2026-02-01T00:00:00Z',
          "trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}, subsets: [{name: v2, labels: {v: '2'}}, {name: v1, labels: {v: other}}]",
        ),
        dr('a', '2026-01-01T00:00:00Z', "subsets: [{name: v1, labels: {v: '1'}}]"),
      ),
    );
    const rule = ctx.destinationRule(serviceOf(ctx, 'foo.svc.svc.cluster.local'), 'client');
    assert.equal(rule?.metadata.name, 'a');
    assert.deepEqual(
      rule?.spec.subsets?.map((s) => [s.name, s.labels?.v]),
      [
        ['v1', '1'],
        ['v2', '2'],
      ],
    );
    assert.equal(rule?.spec.trafficPolicy?.tls?.mode, 'ISTIO_MUTUAL');
  });
});

describe('GenerationContext: the proxy’s workload and labels', () => {
  const we = (name: string, labels: string) =>
    `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: ${name}, namespace: default}\nspec: {address: 127.0.0.1, serviceAccount: sa, labels: ${labels}}`;
  const text = `${we('b-0', '{app: b, replica: "0"}')}\n---\n${we('b-1', '{app: b, replica: "1"}')}`;

  it('replicas sharing one address (local mode on one address) are told apart by the node’s workload name', () => {
    const ctx = contextFrom(text);
    assert.equal(ctx.workloadAt(['127.0.0.1'], 'default', 'b-1')?.name, 'b-1');
    assert.equal(ctx.workloadAt(['127.0.0.1'], 'default', 'b-0')?.name, 'b-0');
    assert.equal(ctx.workloadAt(['127.0.0.1'], 'default')?.name, 'b-0');
    assert.equal(ctx.workloadAt(['127.0.0.1'], 'other', 'b-1'), undefined);
  });

  it('generation reads the registry’s labels, the node’s LABELS only for an unknown workload (SetWorkloadLabels)', () => {
    const ctx = contextFrom(text);
    const known = ctx.resolveProxy(sidecarNode('127.0.0.1', 'b-1', { labels: { app: 'forged' } }));
    assert.deepEqual(known.labels, { app: 'b', replica: '1' });
    const unknown = ctx.resolveProxy(sidecarNode('127.0.9.9', 'x-0', { labels: { app: 'x' } }));
    assert.deepEqual(unknown.labels, { app: 'x' });
  });
});
