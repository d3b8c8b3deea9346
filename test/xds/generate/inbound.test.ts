// The inbound side of a sidecar: the generated shape per mode × protocol (exact chains, listener filters, TLS
// context, connection manager, route, tcp_proxy, clusters), which mode each port gets (port-level and
// workload-over-namespace policies), the problems reported, that the Skiff proxy loads every resource, and what
// the listener does with connections (Istio's simulation cases, run through the proxy's own selector).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseResource } from '../../../src/proxy/config/resource.js';
import { TYPE_URL } from '../../../src/proxy/config/resources/index.js';
import type { JsonObject } from '../../../src/xds/decode.js';
import { accessLog } from '../../../src/xds/generate/access-log.js';
import { protoDuration } from '../../../src/xds/generate/duration.js';
import { buildInbound, type InboundResources } from '../../../src/xds/generate/inbound.js';
import { contextFrom, sidecarNode } from './fixtures.js';
import { type InboundCall, type InboundResult, InboundSimulation } from './simulate-inbound.js';

const IP = '127.0.1.2';

// ---------------------------------------------------------------------------------------------------------------
// Model builders: each document as JSON (valid YAML).

type Obj = Record<string, unknown>;

function doc(apiVersion: string, kind: string, metadata: Obj, spec: Obj): string {
  return JSON.stringify({ apiVersion, kind, metadata, spec });
}

interface WorkloadOptions {
  name?: string;
  namespace?: string;
  address?: string;
  labels?: Record<string, string>;
  ports?: Record<string, number>;
  appPorts?: string;
}

function workloadEntry(o: WorkloadOptions = {}): string {
  const metadata: Obj = { name: o.name ?? 'foo-0', namespace: o.namespace ?? 'default' };
  if (o.appPorts) metadata.annotations = { 'skiff.dev/app-ports': o.appPorts };
  return doc('networking.istio.io/v1', 'WorkloadEntry', metadata, {
    address: o.address ?? IP,
    serviceAccount: 'foo',
    labels: o.labels ?? { app: 'foo', 'security.istio.io/tlsMode': 'istio' },
    ...(o.ports ? { ports: o.ports } : {}),
  });
}

/** A ServiceEntry selecting the workload `app: foo`, as Istio's simulation tests declare their ports. */
function serviceEntry(
  ports: Array<{ name: string; number: number; protocol?: string; targetPort?: number }>,
  o: { name?: string; host?: string; namespace?: string } = {},
): string {
  return doc(
    'networking.istio.io/v1',
    'ServiceEntry',
    { name: o.name ?? 'se', namespace: o.namespace ?? 'default' },
    {
      hosts: [o.host ?? 'foo.bar'],
      location: 'MESH_INTERNAL',
      resolution: 'STATIC',
      workloadSelector: { labels: { app: 'foo' } },
      ports,
    },
  );
}

function kubeService(
  name: string,
  ports: Array<{ name?: string; port: number; targetPort?: number }>,
  namespace = 'default',
): string {
  return doc('v1', 'Service', { name, namespace }, { selector: { app: 'foo' }, ports });
}

interface PaOptions {
  name?: string;
  namespace?: string;
  selector?: Record<string, string>;
  mode?: string;
  ports?: Record<number, string>;
}

function peerAuthentication(o: PaOptions): string {
  const spec: Obj = {};
  if (o.selector) spec.selector = { matchLabels: o.selector };
  if (o.mode) spec.mtls = { mode: o.mode };
  if (o.ports) {
    spec.portLevelMtls = Object.fromEntries(Object.entries(o.ports).map(([p, m]) => [p, { mode: m }]));
  }
  return doc(
    'security.istio.io/v1',
    'PeerAuthentication',
    { name: o.name ?? 'default', namespace: o.namespace ?? 'istio-system' },
    spec,
  );
}

/** Istio's simulation tests' `mtlsMode`: a mesh-wide policy. */
const meshMode = (mode: string) => peerAuthentication({ mode });

function meshConfig(spec: Obj): string {
  return doc('skiff.dev/v1alpha1', 'MeshConfig', { name: 'mesh' }, spec);
}

function generate(docs: string[], ip = IP, namespace = 'default'): InboundResources {
  return buildInbound(contextFrom(docs.join('\n---\n')), sidecarNode(ip, 'foo-0', { namespace }));
}

/** Generates and checks that nothing was reported. */
function generateClean(docs: string[]): InboundResources {
  const r = generate(docs);
  assert.deepEqual(r.problems, []);
  assert.equal(r.listeners.length, 1);
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// Summaries of the generated JSON.

const obj = (v: unknown): JsonObject => (v ?? {}) as JsonObject;
const arr = (v: unknown): JsonObject[] => (Array.isArray(v) ? (v as JsonObject[]) : []);

function listenerOf(r: InboundResources): JsonObject {
  const l = r.listeners[0];
  assert.ok(l, 'a listener');
  return l;
}

/** `name port transport [alpn] mtls|- terminal`, one line per chain, in configuration order. */
function chainLines(r: InboundResources): string[] {
  return arr(listenerOf(r).filter_chains).map((c) => {
    const m = obj(c.filter_chain_match);
    const alpn = Array.isArray(m.application_protocols) ? ` [${m.application_protocols.join(',')}]` : '';
    const filters = arr(c.filters);
    const terminal = obj(filters[filters.length - 1]);
    const t = obj(terminal.typed_config);
    const what = terminal.name === 'envoy.filters.network.tcp_proxy' ? `tcp→${String(t.cluster)}` : 'hcm';
    return `${String(c.name)} ${String(m.destination_port)} ${String(m.transport_protocol)}${alpn} ${c.transport_socket ? 'mtls' : '-'} ${what}`;
  });
}

function predicateText(p: JsonObject): string {
  if (p.not_match) return `!${predicateText(obj(p.not_match))}`;
  if (p.or_match) return `(${arr(obj(p.or_match).rules).map(predicateText).join('|')})`;
  const r = obj(p.destination_port_range);
  assert.equal(Number(r.end), Number(r.start) + 1, 'one port per range');
  return String(r.start);
}

/** `tls_inspector !(70|80)`: each listener filter and the ports where it is disabled. */
function inspectorLines(r: InboundResources): string[] {
  return arr(listenerOf(r).listener_filters).map((f) => {
    const short = String(f.name).replace('envoy.filters.listener.', '');
    return f.filter_disabled ? `${short} ${predicateText(obj(f.filter_disabled))}` : short;
  });
}

/** The mode a port's chains implement: TLS-terminating and raw chains → PERMISSIVE, only TLS → STRICT, only raw → DISABLE. */
function modeOfPort(r: InboundResources, port: number): string {
  const chains = arr(listenerOf(r).filter_chains).filter(
    (c) => obj(c.filter_chain_match).destination_port === port,
  );
  if (chains.length === 0) return 'none';
  const terminating = chains.some((c) => c.transport_socket !== undefined);
  const raw = chains.some((c) => obj(c.filter_chain_match).transport_protocol === 'raw_buffer');
  return terminating && raw ? 'PERMISSIVE' : terminating ? 'STRICT' : 'DISABLE';
}

/** The typed_config of the terminal filter of the first chain named `name` for `port` (and transport). */
function terminalOf(r: InboundResources, port: number, transport = 'raw_buffer'): JsonObject {
  const c = arr(listenerOf(r).filter_chains).find((x) => {
    const m = obj(x.filter_chain_match);
    return m.destination_port === port && m.transport_protocol === transport;
  });
  assert.ok(c, `a ${transport} chain for port ${port}`);
  const filters = arr(c.filters);
  return obj(obj(filters[filters.length - 1]).typed_config);
}

function clusterNamed(r: InboundResources, name: string): JsonObject {
  const c = r.clusters.find((x) => x.name === name);
  assert.ok(c, `cluster ${name}`);
  return c;
}

// ---------------------------------------------------------------------------------------------------------------
// Istio's constants as the tests expect them (written out, not imported, so that a change in the generator shows).

const ALL_ISTIO = 'istio,istio-peer-exchange,istio-http/1.0,istio-http/1.1,istio-h2';
const MTLS_HTTP = 'istio-http/1.0,istio-http/1.1,istio-h2';
const MTLS_TCP = 'istio-peer-exchange,istio';
const PLAIN_HTTP = 'http/1.1,h2c';
const CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'AES256-GCM-SHA384',
  'AES128-GCM-SHA256',
];
const UNLIMITED = 4294967295;

// ---------------------------------------------------------------------------------------------------------------

describe('buildInbound: chains per mode × port protocol (filterchain_options.go getFilterChainMatchOptions)', () => {
  // One workload port 9000, declared with the protocol of the row (or by no service: undeclared), under a
  // mesh-wide policy; the chains and listener filters expected exactly.
  const P = 9000;
  const declared = (protocol: string | undefined) =>
    serviceEntry([{ name: 'p', number: P, ...(protocol ? { protocol } : {}) }]);
  const cases: Array<{
    mode: string;
    port: string;
    service: string | undefined;
    chains: string[];
    inspectors: string[];
  }> = [
    {
      mode: 'PERMISSIVE',
      port: 'HTTP',
      service: declared('HTTP'),
      chains: [`0.0.0.0_${P} ${P} tls [${ALL_ISTIO}] mtls hcm`, `0.0.0.0_${P} ${P} raw_buffer - hcm`],
      inspectors: [`tls_inspector !${P}`],
    },
    {
      mode: 'PERMISSIVE',
      port: 'TCP',
      service: declared('TCP'),
      chains: [
        `0.0.0.0_${P} ${P} tls [${ALL_ISTIO}] mtls tcp→inbound|${P}||`,
        `0.0.0.0_${P} ${P} tls - tcp→inbound|${P}||`,
        `0.0.0.0_${P} ${P} raw_buffer - tcp→inbound|${P}||`,
      ],
      inspectors: [`tls_inspector !${P}`],
    },
    {
      // TLS, HTTPS, Mongo, …: opaque TCP to the sidecar (ModelProtocolToListenerProtocol).
      mode: 'PERMISSIVE',
      port: 'TLS',
      service: declared('TLS'),
      chains: [
        `0.0.0.0_${P} ${P} tls [${ALL_ISTIO}] mtls tcp→inbound|${P}||`,
        `0.0.0.0_${P} ${P} tls - tcp→inbound|${P}||`,
        `0.0.0.0_${P} ${P} raw_buffer - tcp→inbound|${P}||`,
      ],
      inspectors: [`tls_inspector !${P}`],
    },
    {
      mode: 'PERMISSIVE',
      port: 'auto',
      service: declared(undefined),
      chains: [
        `0.0.0.0_${P} ${P} tls [${MTLS_HTTP}] mtls hcm`,
        `0.0.0.0_${P} ${P} raw_buffer [${PLAIN_HTTP}] - hcm`,
        `0.0.0.0_${P} ${P} tls [${MTLS_TCP}] mtls tcp→inbound|${P}||`,
        `0.0.0.0_${P} ${P} raw_buffer - tcp→inbound|${P}||`,
        `0.0.0.0_${P} ${P} tls - tcp→inbound|${P}||`,
      ],
      inspectors: [`tls_inspector !${P}`, 'http_inspector'],
    },
    {
      mode: 'PERMISSIVE',
      port: 'undeclared',
      service: undefined,
      chains: [
        `virtualInbound-catchall-http ${P} tls [${MTLS_HTTP}] mtls hcm`,
        `virtualInbound-catchall-http ${P} raw_buffer [${PLAIN_HTTP}] - hcm`,
        `virtualInbound ${P} tls [${MTLS_TCP}] mtls tcp→inbound|${P}||`,
        `virtualInbound ${P} raw_buffer - tcp→inbound|${P}||`,
        `virtualInbound ${P} tls - tcp→inbound|${P}||`,
      ],
      inspectors: [`tls_inspector !${P}`, 'http_inspector'],
    },
    {
      mode: 'STRICT',
      port: 'HTTP',
      service: declared('HTTP'),
      chains: [`0.0.0.0_${P} ${P} tls mtls hcm`],
      inspectors: [`tls_inspector !${P}`],
    },
    {
      mode: 'STRICT',
      port: 'TCP',
      service: declared('TCP'),
      chains: [`0.0.0.0_${P} ${P} tls mtls tcp→inbound|${P}||`],
      inspectors: [`tls_inspector !${P}`],
    },
    {
      mode: 'STRICT',
      port: 'auto',
      service: declared(undefined),
      chains: [
        `0.0.0.0_${P} ${P} tls [${MTLS_HTTP}] mtls hcm`,
        `0.0.0.0_${P} ${P} tls mtls tcp→inbound|${P}||`,
      ],
      inspectors: [`tls_inspector !${P}`],
    },
    {
      mode: 'STRICT',
      port: 'undeclared',
      service: undefined,
      chains: [
        `virtualInbound-catchall-http ${P} tls [${MTLS_HTTP}] mtls hcm`,
        `virtualInbound ${P} tls mtls tcp→inbound|${P}||`,
      ],
      inspectors: [`tls_inspector !${P}`],
    },
    {
      mode: 'DISABLE',
      port: 'HTTP',
      service: declared('HTTP'),
      chains: [`0.0.0.0_${P} ${P} raw_buffer - hcm`],
      inspectors: [],
    },
    {
      mode: 'DISABLE',
      port: 'TCP',
      service: declared('TCP'),
      chains: [`0.0.0.0_${P} ${P} raw_buffer - tcp→inbound|${P}||`],
      inspectors: [],
    },
    {
      mode: 'DISABLE',
      port: 'auto',
      service: declared(undefined),
      chains: [
        `0.0.0.0_${P} ${P} raw_buffer [${PLAIN_HTTP}] - hcm`,
        `0.0.0.0_${P} ${P} raw_buffer - tcp→inbound|${P}||`,
      ],
      inspectors: ['http_inspector'],
    },
    {
      mode: 'DISABLE',
      port: 'undeclared',
      service: undefined,
      chains: [
        `virtualInbound-catchall-http ${P} raw_buffer [${PLAIN_HTTP}] - hcm`,
        `virtualInbound ${P} raw_buffer - tcp→inbound|${P}||`,
      ],
      inspectors: ['http_inspector'],
    },
  ];
  for (const c of cases) {
    it(`${c.mode} × ${c.port}`, () => {
      const docs = [workloadEntry({ ports: { p: P } }), meshMode(c.mode)];
      if (c.service) docs.push(c.service);
      const r = generateClean(docs);
      assert.deepEqual(chainLines(r), c.chains);
      assert.deepEqual(inspectorLines(r), c.inspectors);
    });
  }

  it('several ports: TLS inspected only where a chain matches tls, HTTP only where one matches plaintext HTTP', () => {
    // Istio's TestInbound service (70 TCP, 80 HTTP, 81 auto) plus the undeclared 82, PERMISSIVE and DISABLE.
    const docs = [
      workloadEntry({ ports: { tcp: 70, http: 80, auto: 81, other: 82 } }),
      serviceEntry([
        { name: 'tcp', number: 70, protocol: 'TCP' },
        { name: 'http', number: 80, protocol: 'HTTP' },
        { name: 'auto', number: 81 },
      ]),
    ];
    assert.deepEqual(inspectorLines(generateClean([...docs, meshMode('PERMISSIVE')])), [
      'tls_inspector !(70|80|81|82)',
      'http_inspector (70|80)',
    ]);
    assert.deepEqual(inspectorLines(generateClean([...docs, meshMode('DISABLE')])), [
      'http_inspector (70|80)',
    ]);
    assert.deepEqual(inspectorLines(generateClean([...docs, meshMode('STRICT')])), [
      'tls_inspector !(70|80|81|82)',
    ]);
  });

  it('gRPC and HTTP2 ports get HTTP chains; auto-detected ports split into HTTP and TCP', () => {
    const r = generateClean([
      workloadEntry({ ports: { grpc: 50051, h2: 8443 } }),
      serviceEntry([
        { name: 'grpc', number: 50051, protocol: 'GRPC' },
        { name: 'h2', number: 8443, protocol: 'HTTP2' },
      ]),
      meshMode('STRICT'),
    ]);
    assert.deepEqual(chainLines(r), ['0.0.0.0_8443 8443 tls mtls hcm', '0.0.0.0_50051 50051 tls mtls hcm']);
  });
});

describe('buildInbound: the mode of each port (port-level, workload over namespace over mesh)', () => {
  // Kubernetes Service ports 8080 → 80 (HTTP) and 7000 → 70 (TCP); the workload also serves the undeclared 82.
  const base = [
    workloadEntry({ ports: { other: 82 } }),
    kubeService('foo', [
      { name: 'http', port: 8080, targetPort: 80 },
      { name: 'tcp', port: 7000, targetPort: 70 },
    ]),
  ];
  const workloadPolicy = (mode: string | undefined, ports?: Record<number, string>) =>
    peerAuthentication({
      name: 'foo',
      namespace: 'default',
      selector: { app: 'foo' },
      ...(mode ? { mode } : {}),
      ...(ports ? { ports } : {}),
    });
  const namespacePolicy = (mode: string) => peerAuthentication({ namespace: 'default', mode });
  const cases: Array<{ name: string; policies: string[]; modes: [number, string][]; problems?: string[] }> = [
    {
      name: 'no policy: PERMISSIVE',
      policies: [],
      modes: [
        [70, 'PERMISSIVE'],
        [80, 'PERMISSIVE'],
        [82, 'PERMISSIVE'],
      ],
    },
    {
      name: 'mesh STRICT',
      policies: [meshMode('STRICT')],
      modes: [
        [70, 'STRICT'],
        [80, 'STRICT'],
        [82, 'STRICT'],
      ],
    },
    {
      name: 'namespace PERMISSIVE over mesh STRICT',
      policies: [meshMode('STRICT'), namespacePolicy('PERMISSIVE')],
      modes: [
        [70, 'PERMISSIVE'],
        [80, 'PERMISSIVE'],
        [82, 'PERMISSIVE'],
      ],
    },
    {
      name: 'workload PERMISSIVE over namespace STRICT',
      policies: [namespacePolicy('STRICT'), workloadPolicy('PERMISSIVE')],
      modes: [
        [70, 'PERMISSIVE'],
        [80, 'PERMISSIVE'],
        [82, 'PERMISSIVE'],
      ],
    },
    {
      name: 'workload UNSET inherits namespace DISABLE',
      policies: [namespacePolicy('DISABLE'), workloadPolicy('UNSET')],
      modes: [
        [70, 'DISABLE'],
        [80, 'DISABLE'],
        [82, 'DISABLE'],
      ],
    },
    {
      // peer_authentication_simulation_test.go TestPeerAuthenticationWithSidecar / service, no sidecar
      name: 'workload STRICT, port 80 DISABLE',
      policies: [workloadPolicy('STRICT', { 80: 'DISABLE' })],
      modes: [
        [70, 'STRICT'],
        [80, 'DISABLE'],
        [82, 'STRICT'],
      ],
    },
    {
      // TestPeerAuthenticationPassthrough / global disable and port 9000 strict (here on the undeclared 82)
      name: 'workload DISABLE, undeclared port 82 STRICT',
      policies: [workloadPolicy('DISABLE', { 82: 'STRICT' })],
      modes: [
        [70, 'DISABLE'],
        [80, 'DISABLE'],
        [82, 'STRICT'],
      ],
    },
    {
      name: 'workload policy with port 70 PERMISSIVE under namespace STRICT',
      policies: [namespacePolicy('STRICT'), workloadPolicy(undefined, { 70: 'PERMISSIVE' })],
      modes: [
        [70, 'PERMISSIVE'],
        [80, 'STRICT'],
        [82, 'STRICT'],
      ],
    },
    {
      // SEM a4: portLevelMtls keys are workload (target) ports; the Service port 8080 protects nothing.
      name: 'portLevelMtls on the Service port 8080 does not touch target port 80',
      policies: [workloadPolicy('STRICT', { 8080: 'DISABLE' })],
      modes: [
        [70, 'STRICT'],
        [80, 'STRICT'],
        [82, 'STRICT'],
      ],
      problems: ['SKIFF_GEN_INBOUND_PORT_LEVEL_MTLS'],
    },
    {
      name: 'a workload policy of another workload does not apply',
      policies: [
        namespacePolicy('DISABLE'),
        peerAuthentication({ name: 'bar', namespace: 'default', selector: { app: 'bar' }, mode: 'STRICT' }),
      ],
      modes: [
        [70, 'DISABLE'],
        [80, 'DISABLE'],
        [82, 'DISABLE'],
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = generate([...base, ...c.policies]);
      assert.deepEqual(
        r.problems.map((p) => p.code),
        c.problems ?? [],
      );
      assert.deepEqual(
        c.modes.map(([port]) => [port, modeOfPort(r, port)]),
        c.modes,
      );
    });
  }
});

describe('buildInbound: the listener', () => {
  const docs = [
    workloadEntry({ ports: { tcp: 70, http: 80, auto: 81, other: 82 } }),
    serviceEntry([
      { name: 'tcp', number: 70, protocol: 'TCP' },
      { name: 'http', number: 80, protocol: 'HTTP' },
      { name: 'auto', number: 81 },
    ]),
  ];

  it("binds the replica's address at every workload port, lowest first; INBOUND; no default chain", () => {
    const l = listenerOf(generateClean(docs));
    const at = (port: number) => ({ socket_address: { address: IP, port_value: port } });
    assert.equal(l.name, 'virtualInbound');
    assert.deepEqual(l.address, at(70));
    assert.deepEqual(l.additional_addresses, [{ address: at(80) }, { address: at(81) }, { address: at(82) }]);
    assert.equal(l.traffic_direction, 'INBOUND');
    assert.equal(l.continue_on_listener_filters_timeout, true);
    assert.equal(l.listener_filters_timeout, '5s');
    assert.equal(l.default_filter_chain, undefined);
    assert.equal(l.access_log, undefined);
  });

  it('one port: no additional_addresses', () => {
    const l = listenerOf(generateClean([workloadEntry({ ports: { p: 9000 } })]));
    assert.deepEqual(l.address, { socket_address: { address: IP, port_value: 9000 } });
    assert.equal(l.additional_addresses, undefined);
  });

  it('the listener filters exactly, with the predicates Istio writes', () => {
    const l = listenerOf(generateClean([...docs, meshMode('PERMISSIVE')]));
    const range = (p: number) => ({ destination_port_range: { start: p, end: p + 1 } });
    assert.deepEqual(l.listener_filters, [
      {
        name: 'envoy.filters.listener.tls_inspector',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
          initial_read_buffer_size: 512,
        },
        filter_disabled: { not_match: { or_match: { rules: [range(70), range(80), range(81), range(82)] } } },
      },
      {
        name: 'envoy.filters.listener.http_inspector',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
        },
        filter_disabled: { or_match: { rules: [range(70), range(80)] } },
      },
    ]);
  });

  const timeouts: Array<[string, string]> = [
    ['5s', '5s'],
    ['0s', '0s'],
    ['100ms', '0.100s'],
    ['1.5s', '1.500s'],
    ['1m', '60s'],
    ['250us', '0.000250s'],
  ];
  for (const [mesh, envoy] of timeouts) {
    it(`listener_filters_timeout: protocolDetectionTimeout ${mesh} → ${envoy}`, () => {
      const l = listenerOf(generateClean([...docs, meshConfig({ protocolDetectionTimeout: mesh })]));
      assert.equal(l.listener_filters_timeout, envoy);
      assert.equal(protoDuration(mesh), envoy);
    });
  }

  it('chains: passthrough ones first, then the service ports by target port (buildInboundListeners)', () => {
    const r = generateClean([...docs, meshMode('DISABLE')]);
    assert.deepEqual(chainLines(r), [
      `virtualInbound-catchall-http 82 raw_buffer [${PLAIN_HTTP}] - hcm`,
      'virtualInbound 82 raw_buffer - tcp→inbound|82||',
      '0.0.0.0_70 70 raw_buffer - tcp→inbound|70||',
      '0.0.0.0_80 80 raw_buffer - hcm',
      `0.0.0.0_81 81 raw_buffer [${PLAIN_HTTP}] - hcm`,
      '0.0.0.0_81 81 raw_buffer - tcp→inbound|81||',
    ]);
  });

  it('is deterministic', () => {
    assert.deepEqual(generateClean(docs), generateClean(docs));
  });

  it('access logs: on the listener (NR only), every tcp_proxy and every connection manager when the mesh sets a file', () => {
    const mesh = { accessLogFile: '/dev/stdout', accessLogEncoding: 'JSON' };
    const r = generateClean([...docs, meshConfig(mesh), meshMode('PERMISSIVE')]);
    const model = contextFrom([...docs, meshConfig(mesh)].join('\n---\n')).model.meshConfig;
    const l = listenerOf(r);
    assert.deepEqual(l.access_log, accessLog(model, 'listener'));
    assert.deepEqual(obj(arr(l.access_log)[0]).filter, { response_flag_filter: { flags: ['NR'] } });
    for (const c of arr(l.filter_chains)) {
      const filters = arr(c.filters);
      const t = obj(obj(filters[filters.length - 1]).typed_config);
      const site = String(t['@type']).endsWith('TcpProxy') ? 'tcp' : 'http';
      assert.deepEqual(t.access_log, accessLog(model, site), String(c.name));
      assert.equal(obj(arr(t.access_log)[0]).filter, undefined);
    }
  });

  it('no access logs by default (meshConfig.accessLogFile empty)', () => {
    const r = generateClean([...docs, meshMode('PERMISSIVE')]);
    for (const c of arr(listenerOf(r).filter_chains)) {
      const filters = arr(c.filters);
      assert.equal(obj(obj(filters[filters.length - 1]).typed_config).access_log, undefined);
    }
  });
});

describe('buildInbound: server TLS (BuildInboundTLS)', () => {
  const tlsOf = (r: InboundResources, port: number, alpnHas: string): JsonObject => {
    const c = arr(listenerOf(r).filter_chains).find((x) => {
      const m = obj(x.filter_chain_match);
      return m.destination_port === port && arr(m.application_protocols).includes(alpnHas as never);
    });
    assert.ok(c, `chain for ${port} ${alpnHas}`);
    return obj(c.transport_socket);
  };
  const expected = (alpn: string[], prefixes: string[]) => ({
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      common_tls_context: {
        tls_params: {
          tls_minimum_protocol_version: 'TLSv1_2',
          tls_maximum_protocol_version: 'TLSv1_3',
          cipher_suites: CIPHERS,
        },
        alpn_protocols: alpn,
        tls_certificate_sds_secret_configs: [{ name: 'default' }],
        combined_validation_context: {
          default_validation_context: { match_subject_alt_names: prefixes.map((prefix) => ({ prefix })) },
          validation_context_sds_secret_config: { name: 'ROOTCA' },
        },
      },
      require_client_certificate: true,
    },
  });
  const docs = [
    workloadEntry({ ports: { auto: 81 } }),
    serviceEntry([{ name: 'auto', number: 81 }]),
    meshMode('PERMISSIVE'),
  ];
  const cases: Array<{ name: string; mesh: Obj; alpnHas: string; alpn: string[]; prefixes: string[] }> = [
    {
      name: 'HTTP chain: h2, http/1.1',
      mesh: {},
      alpnHas: 'istio-h2',
      alpn: ['h2', 'http/1.1'],
      prefixes: ['spiffe://cluster.local/'],
    },
    {
      name: 'TCP chain: istio-peer-exchange, h2, http/1.1',
      mesh: {},
      alpnHas: 'istio-peer-exchange',
      alpn: ['istio-peer-exchange', 'h2', 'http/1.1'],
      prefixes: ['spiffe://cluster.local/'],
    },
    {
      name: 'trust domain and its aliases (TrustDomainsForValidation)',
      mesh: { trustDomain: 'example.org', trustDomainAliases: ['old.example.org', 'example.org'] },
      alpnHas: 'istio-peer-exchange',
      alpn: ['istio-peer-exchange', 'h2', 'http/1.1'],
      prefixes: ['spiffe://example.org/', 'spiffe://old.example.org/'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = generateClean([...docs, meshConfig(c.mesh)]);
      assert.deepEqual(tlsOf(r, 81, c.alpnHas), expected(c.alpn, c.prefixes));
    });
  }
});

describe('buildInbound: network filters', () => {
  const istioStats = {
    name: 'istio.stats',
    typed_config: {
      '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct',
      type_url: 'type.googleapis.com/stats.PluginConfig',
      value: { disable_host_header_fallback: true },
    },
  };

  it('TCP: [istio.stats, tcp_proxy → inbound|<target port>||]', () => {
    const r = generateClean([
      workloadEntry(),
      kubeService('foo', [{ name: 'tcp-db', port: 7000, targetPort: 70 }]),
      meshMode('DISABLE'),
    ]);
    const chain = arr(listenerOf(r).filter_chains)[0];
    assert.deepEqual(obj(chain).filters, [
      istioStats,
      {
        name: 'envoy.filters.network.tcp_proxy',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
          stat_prefix: 'inbound|70||',
          cluster: 'inbound|70||',
        },
      },
    ]);
  });

  const routeConfig = (name: string, vhost: string, operation: string, retry: boolean) => ({
    name,
    virtual_hosts: [
      {
        name: vhost,
        domains: ['*'],
        routes: [
          {
            name: 'default',
            match: { prefix: '/' },
            decorator: { operation },
            route: {
              cluster: name,
              timeout: '0s',
              ...(retry ? { retry_policy: { retry_on: 'reset-before-request', num_retries: 2 } } : {}),
            },
          },
        ],
      },
    ],
    validate_clusters: false,
  });
  const hcm = (statPrefix: string, route: JsonObject) => ({
    '@type':
      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    stat_prefix: statPrefix,
    codec_type: 'AUTO',
    route_config: route,
    http_filters: [
      {
        name: 'istio.metadata_exchange',
        typed_config: {
          '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct',
          type_url: 'type.googleapis.com/io.istio.http.peer_metadata.Config',
          value: {
            downstream_discovery: [{ istio_headers: {} }],
            downstream_propagation: [{ istio_headers: {} }],
          },
        },
      },
      istioStats,
      {
        name: 'envoy.filters.http.router',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
      },
    ],
    use_remote_address: false,
    forward_client_cert_details: 'APPEND_FORWARD',
    set_current_client_cert_details: { subject: true, uri: true, dns: true },
    server_name: 'istio-envoy',
    server_header_transformation: 'OVERWRITE',
    stream_idle_timeout: '0s',
    upgrade_configs: [{ upgrade_type: 'websocket' }],
  });

  it('HTTP: the connection manager, its vhost named after the service port and its route after the target port', () => {
    const r = generateClean([
      workloadEntry(),
      kubeService('foo', [{ name: 'http', port: 8000, targetPort: 80 }]),
      meshMode('DISABLE'),
    ]);
    const chain = obj(arr(listenerOf(r).filter_chains)[0]);
    assert.equal(arr(chain.filters).length, 1);
    assert.equal(obj(arr(chain.filters)[0]).name, 'envoy.filters.network.http_connection_manager');
    assert.deepEqual(
      terminalOf(r, 80),
      hcm(
        'inbound_0.0.0.0_80;',
        routeConfig('inbound|80||', 'inbound|http|8000', 'foo.default.svc.cluster.local:8000/*', true),
      ),
    );
  });

  it('gRPC: no inbound retry (BuildDefaultHTTPInboundRoute)', () => {
    const r = generateClean([
      workloadEntry({ ports: { grpc: 50051 } }),
      serviceEntry([{ name: 'grpc', number: 50051, protocol: 'GRPC' }]),
      meshMode('DISABLE'),
    ]);
    assert.deepEqual(
      terminalOf(r, 50051),
      hcm(
        'inbound_0.0.0.0_50051;',
        routeConfig('inbound|50051||', 'inbound|http|50051', 'foo.bar:50051/*', false),
      ),
    );
  });

  it('passthrough HTTP: stat prefix from the cluster, vhost inbound|http|0, decorator :0/*', () => {
    const r = generateClean([workloadEntry({ ports: { debug: 6060 } }), meshMode('DISABLE')]);
    assert.deepEqual(
      terminalOf(r, 6060),
      hcm('inbound|6060||;', routeConfig('inbound|6060||', 'inbound|http|0', ':0/*', true)),
    );
  });
});

describe('buildInbound: clusters', () => {
  const mesh = (connectTimeout: string) => meshConfig({ connectTimeout });
  const cluster = (port: number, appPort: number, timeout: string, extra: JsonObject) => ({
    name: `inbound|${port}||`,
    type: 'STATIC',
    connect_timeout: timeout,
    common_lb_config: {},
    circuit_breakers: {
      thresholds: [
        {
          max_connections: UNLIMITED,
          max_pending_requests: UNLIMITED,
          max_requests: UNLIMITED,
          max_retries: UNLIMITED,
        },
      ],
    },
    load_assignment: {
      cluster_name: `inbound|${port}||`,
      endpoints: [
        {
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: appPort } } } },
          ],
        },
      ],
    },
    ...extra,
  });
  const services = (...hosts: Array<[string, string, string]>) => ({
    metadata: {
      filter_metadata: {
        istio: { services: hosts.map(([host, name, namespace]) => ({ host, name, namespace })) },
      },
    },
  });
  const options = (o: JsonObject) => ({
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        ...o,
      },
    },
  });
  const downstream = options({
    use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
  });

  it('one per bound port, sorted; STATIC to the app port; services; HTTP protocol by port', () => {
    const r = generateClean([
      workloadEntry({
        ports: { tcp: 70, http: 80, auto: 81, h2: 8443, other: 82 },
        appPorts: '80=18080,82=18082',
      }),
      serviceEntry([
        { name: 'tcp', number: 70, protocol: 'TCP' },
        { name: 'http', number: 80, protocol: 'HTTP' },
        { name: 'auto', number: 81 },
        { name: 'h2', number: 8443, protocol: 'HTTP2' },
      ]),
      mesh('250ms'),
    ]);
    const se: [string, string, string] = ['foo.bar', 'se', 'default'];
    assert.deepEqual(r.clusters, [
      cluster(70, 70, '0.250s', services(se)),
      cluster(80, 18080, '0.250s', services(se)),
      cluster(81, 81, '0.250s', { ...services(se), ...downstream }),
      // Undeclared: InboundPassthroughCluster's protocol options, no service.
      cluster(82, 18082, '0.250s', downstream),
      cluster(8443, 8443, '0.250s', {
        ...services(se),
        ...options({ explicit_http_config: { http2_protocol_options: {} } }),
      }),
    ]);
  });

  it('istio.services: every service on the first one’s service port, by host (addTelemetryMetadata)', () => {
    // sidecar_simulation_test.go TestInboundClusters / multiple services with same service port and target;
    // a third service targets 80 from another service port and is left out, as Istio leaves it out.
    const r = generateClean([
      workloadEntry(),
      kubeService('b', [{ name: 'http', port: 8000, targetPort: 80 }]),
      kubeService('a', [{ name: 'http', port: 8000, targetPort: 80 }]),
      kubeService('c', [{ name: 'http', port: 9000, targetPort: 80 }]),
      mesh('10s'),
    ]);
    assert.deepEqual(
      clusterNamed(r, 'inbound|80||'),
      cluster(
        80,
        80,
        '10s',
        services(
          ['a.default.svc.cluster.local', 'a', 'default'],
          ['b.default.svc.cluster.local', 'b', 'default'],
        ),
      ),
    );
  });

  it('services with another service port and target each get their cluster (TestInboundClusters / different target)', () => {
    const r = generateClean([
      workloadEntry(),
      kubeService('a', [
        { name: 'http', port: 80, targetPort: 8080 },
        { name: 'http-2', port: 81, targetPort: 8081 },
      ]),
      kubeService('b', [
        { name: 'http', port: 80, targetPort: 8082 },
        { name: 'http-2', port: 81, targetPort: 8083 },
      ]),
    ]);
    assert.deepEqual(
      r.clusters.map((c) => [
        c.name,
        arr(obj(obj(obj(c.metadata).filter_metadata).istio).services).map((s) => s.host),
      ]),
      [
        ['inbound|8080||', ['a.default.svc.cluster.local']],
        ['inbound|8081||', ['a.default.svc.cluster.local']],
        ['inbound|8082||', ['b.default.svc.cluster.local']],
        ['inbound|8083||', ['b.default.svc.cluster.local']],
      ],
    );
  });
});

describe('buildInbound: problems', () => {
  it('no workload at the proxy’s address: nothing, and an error', () => {
    const r = buildInbound(contextFrom(workloadEntry()), sidecarNode('127.0.1.9', 'x-0'));
    assert.deepEqual(r.listeners, []);
    assert.deepEqual(r.clusters, []);
    assert.deepEqual(
      r.problems.map((p) => [p.severity, p.code]),
      [['error', 'SKIFF_GEN_INBOUND_NO_WORKLOAD']],
    );
    assert.match(r.problems[0]?.message ?? '', /127\.0\.1\.9/);
  });

  it('a workload of another namespace at that address is not the proxy’s', () => {
    const r = generate([workloadEntry({ namespace: 'other', ports: { p: 80 } })]);
    assert.deepEqual(
      r.problems.map((p) => p.code),
      ['SKIFF_GEN_INBOUND_NO_WORKLOAD'],
    );
    assert.deepEqual(r.listeners, []);
  });

  it('a workload without ports: no listener, a warning', () => {
    const r = generate([workloadEntry()]);
    assert.deepEqual(
      r.problems.map((p) => [p.severity, p.code]),
      [['warning', 'SKIFF_GEN_INBOUND_NO_PORTS']],
    );
    assert.deepEqual(r.listeners, []);
    assert.deepEqual(r.clusters, []);
  });

  it('two services on one target port with different protocols: the first wins, a warning (Istio: ProxyStatusConflictInboundListener)', () => {
    const r = generate([
      workloadEntry(),
      kubeService('a', [{ name: 'http', port: 80 }]),
      kubeService('b', [{ name: 'tcp', port: 80 }]),
      meshMode('DISABLE'),
    ]);
    assert.deepEqual(
      r.problems.map((p) => [p.severity, p.code]),
      [['warning', 'SKIFF_GEN_INBOUND_CONFLICT']],
    );
    assert.match(
      r.problems[0]?.message ?? '',
      /existing: a\.default\.svc\.cluster\.local.*incoming: b\.default/,
    );
    assert.deepEqual(chainLines(r), ['0.0.0.0_80 80 raw_buffer - hcm']);
  });

  it('portLevelMtls on a port the workload does not have: a warning naming it', () => {
    const r = generate([
      workloadEntry({ ports: { p: 8000 } }),
      peerAuthentication({
        name: 'foo',
        namespace: 'default',
        selector: { app: 'foo' },
        mode: 'DISABLE',
        ports: { 9000: 'STRICT' },
      }),
    ]);
    assert.deepEqual(
      r.problems.map((p) => p.code),
      ['SKIFF_GEN_INBOUND_PORT_LEVEL_MTLS'],
    );
    assert.match(r.problems[0]?.message ?? '', /port 9000/);
    assert.equal(modeOfPort(r, 8000), 'DISABLE');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// (c) The Skiff proxy loads every generated resource without an error (nor a warning).

describe('buildInbound: every resource loads in the Skiff proxy (parseResource)', () => {
  const models: Array<[string, string[]]> = [];
  const testInbound = [
    workloadEntry({ ports: { tcp: 70, http: 80, auto: 81, other: 82 }, appPorts: '70=17070,80=18080' }),
    serviceEntry([
      { name: 'tcp', number: 70, protocol: 'TCP' },
      { name: 'http', number: 80, protocol: 'HTTP' },
      { name: 'auto', number: 81 },
    ]),
  ];
  for (const mode of ['PERMISSIVE', 'STRICT', 'DISABLE'])
    models.push([mode, [...testInbound, meshMode(mode)]]);
  models.push([
    'port-level overrides, gRPC, HTTP2, TLS, access logs (JSON), trust domain aliases',
    [
      workloadEntry({ ports: { grpc: 50051, h2: 8443, tls: 9443, debug: 6060 } }),
      serviceEntry([
        { name: 'grpc', number: 50051, protocol: 'GRPC' },
        { name: 'h2', number: 8443, protocol: 'HTTP2' },
        { name: 'tls', number: 9443, protocol: 'TLS' },
      ]),
      peerAuthentication({
        name: 'foo',
        namespace: 'default',
        selector: { app: 'foo' },
        mode: 'STRICT',
        ports: { 6060: 'DISABLE', 9443: 'PERMISSIVE' },
      }),
      meshConfig({
        accessLogFile: '/dev/stdout',
        accessLogEncoding: 'JSON',
        trustDomainAliases: ['old.example'],
        protocolDetectionTimeout: '100ms',
        connectTimeout: '1.5s',
      }),
    ],
  ]);
  models.push([
    'Kubernetes Services with target ports, text access logs',
    [
      workloadEntry({ ports: { other: 82 }, appPorts: '80=18080' }),
      kubeService('foo', [
        { name: 'http', port: 8080, targetPort: 80 },
        { name: 'tcp', port: 7000, targetPort: 70 },
        { name: 'web', port: 7070 },
      ]),
      meshConfig({ accessLogFile: '/tmp/access.log' }),
    ],
  ]);
  for (const [name, docs] of models) {
    it(name, () => {
      const r = generateClean(docs);
      assert.ok(r.clusters.length > 0);
      for (const l of r.listeners) {
        assert.deepEqual(parseResource(TYPE_URL.listener, l).diagnostics, [], `listener ${String(l.name)}`);
      }
      for (const c of r.clusters) {
        assert.deepEqual(parseResource(TYPE_URL.cluster, c).diagnostics, [], `cluster ${String(c.name)}`);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// (b) Simulation: what the listener does with connections, by the proxy's own translation and chain selection.

/** `outcome chain filter !error`, e.g. `terminate-mtls 0.0.0.0_80 hcm→inbound|http|80→inbound|80||`. */
function outcomeText(r: InboundResult): string {
  const parts: string[] = [r.outcome];
  if (r.chain) parts.push(r.chain.name);
  if (r.filter?.kind === 'tcp_proxy') parts.push(`tcp→${r.filter.cluster}`);
  else if (r.filter) {
    parts.push(`hcm${r.filter.virtualHost ? `→${r.filter.virtualHost}→${r.filter.cluster ?? '-'}` : ''}`);
  }
  if (r.error) parts.push(`!${r.error}`);
  return parts.join(' ');
}

/** Istio's simulation default ALPN for a call (pilot/pkg/simulation/traffic.go FillDefaults). */
function istioAlpn(call: InboundCall): string[] {
  if (call.tls === 'mtls')
    return [call.protocol === 'http' ? 'istio-http/1.1' : call.protocol === 'http2' ? 'istio-h2' : 'istio'];
  if (call.tls === 'tls')
    return call.protocol === 'http' ? ['http/1.1'] : call.protocol === 'http2' ? ['h2'] : [];
  return [];
}

function simulate(docs: string[]): InboundSimulation {
  return new InboundSimulation(listenerOf(generateClean(docs)));
}

describe('simulation: sidecar_simulation_test.go TestInbound (ports 70 TCP, 80 HTTP, 81 auto, 82 undeclared)', () => {
  const docs = [
    workloadEntry({ ports: { tcp: 70, http: 80, auto: 81, other: 82 } }),
    serviceEntry([
      { name: 'tcp', number: 70, protocol: 'TCP' },
      { name: 'http', number: 80, protocol: 'HTTP' },
      { name: 'auto', number: 81 },
    ]),
  ];
  const tcp70 = 'tcp→inbound|70||';
  const http80 = 'hcm→inbound|http|80→inbound|80||';
  const http81 = 'hcm→inbound|http|81→inbound|81||';
  const tcp81 = 'tcp→inbound|81||';
  const http82 = 'hcm→inbound|http|0→inbound|82||';
  const tcp82 = 'tcp→inbound|82||';
  // Istio's InboundPassthroughCluster is inbound|82|| here (local mode).
  const cases: Array<{
    name: string;
    call: InboundCall;
    disable: string;
    permissive: string;
    strict: string;
  }> = [
    {
      name: 'tcp',
      call: { port: 70, protocol: 'tcp', tls: 'none' },
      disable: `plaintext 0.0.0.0_70 ${tcp70}`,
      permissive: `plaintext 0.0.0.0_70 ${tcp70}`,
      strict: 'refused !no-filter-chain',
    },
    {
      name: 'http to tcp',
      call: { port: 70, protocol: 'http', tls: 'none' },
      disable: `plaintext 0.0.0.0_70 ${tcp70}`,
      permissive: `plaintext 0.0.0.0_70 ${tcp70}`,
      strict: 'refused !no-filter-chain',
    },
    {
      name: 'tls to tcp',
      call: { port: 70, protocol: 'tcp', tls: 'tls' },
      disable: `passthrough 0.0.0.0_70 ${tcp70}`,
      permissive: `passthrough 0.0.0.0_70 ${tcp70}`,
      strict: `terminate-mtls 0.0.0.0_70 ${tcp70} !mtls-error`,
    },
    {
      name: 'https to tcp',
      call: { port: 70, protocol: 'http', tls: 'tls' },
      disable: `passthrough 0.0.0.0_70 ${tcp70}`,
      permissive: `passthrough 0.0.0.0_70 ${tcp70}`,
      strict: `terminate-mtls 0.0.0.0_70 ${tcp70} !mtls-error`,
    },
    {
      name: 'mtls tcp to tcp',
      call: { port: 70, protocol: 'tcp', tls: 'mtls' },
      disable: `passthrough 0.0.0.0_70 ${tcp70}`,
      permissive: `terminate-mtls 0.0.0.0_70 ${tcp70}`,
      strict: `terminate-mtls 0.0.0.0_70 ${tcp70}`,
    },
    {
      name: 'mtls http to tcp',
      call: { port: 70, protocol: 'http', tls: 'mtls' },
      disable: `passthrough 0.0.0.0_70 ${tcp70}`,
      permissive: `terminate-mtls 0.0.0.0_70 ${tcp70}`,
      strict: `terminate-mtls 0.0.0.0_70 ${tcp70}`,
    },
    {
      name: 'http',
      call: { port: 80, protocol: 'http', tls: 'none' },
      disable: `plaintext 0.0.0.0_80 ${http80}`,
      permissive: `plaintext 0.0.0.0_80 ${http80}`,
      strict: 'refused !no-filter-chain',
    },
    {
      name: 'tls to http',
      call: { port: 80, protocol: 'tcp', tls: 'tls' },
      disable: 'passthrough 0.0.0.0_80 hcm !protocol-error',
      permissive: 'refused !no-filter-chain',
      strict: 'terminate-mtls 0.0.0.0_80 hcm !mtls-error',
    },
    {
      name: 'https to http',
      call: { port: 80, protocol: 'http', tls: 'tls' },
      disable: 'passthrough 0.0.0.0_80 hcm !protocol-error',
      permissive: 'refused !no-filter-chain',
      strict: 'terminate-mtls 0.0.0.0_80 hcm !mtls-error',
    },
    {
      name: 'mtls to http',
      call: { port: 80, protocol: 'http', tls: 'mtls' },
      disable: 'passthrough 0.0.0.0_80 hcm !protocol-error',
      permissive: `terminate-mtls 0.0.0.0_80 ${http80}`,
      strict: `terminate-mtls 0.0.0.0_80 ${http80}`,
    },
    {
      name: 'tcp to http',
      call: { port: 80, protocol: 'tcp', tls: 'none' },
      disable: 'plaintext 0.0.0.0_80 hcm !protocol-error',
      permissive: 'plaintext 0.0.0.0_80 hcm !protocol-error',
      strict: 'refused !no-filter-chain',
    },
    {
      name: 'auto port http',
      call: { port: 81, protocol: 'http', tls: 'none' },
      disable: `plaintext 0.0.0.0_81 ${http81}`,
      permissive: `plaintext 0.0.0.0_81 ${http81}`,
      strict: 'refused !no-filter-chain',
    },
    {
      name: 'auto port http2',
      call: { port: 81, protocol: 'http2', tls: 'none' },
      disable: `plaintext 0.0.0.0_81 ${http81}`,
      permissive: `plaintext 0.0.0.0_81 ${http81}`,
      strict: 'refused !no-filter-chain',
    },
    {
      name: 'auto port tcp',
      call: { port: 81, protocol: 'tcp', tls: 'none' },
      disable: `plaintext 0.0.0.0_81 ${tcp81}`,
      permissive: `plaintext 0.0.0.0_81 ${tcp81}`,
      strict: 'refused !no-filter-chain',
    },
    {
      name: 'tls to auto port',
      call: { port: 81, protocol: 'tcp', tls: 'tls' },
      disable: `passthrough 0.0.0.0_81 ${tcp81}`,
      permissive: `passthrough 0.0.0.0_81 ${tcp81}`,
      strict: `terminate-mtls 0.0.0.0_81 ${tcp81} !mtls-error`,
    },
    {
      name: 'https to auto port',
      call: { port: 81, protocol: 'http', tls: 'tls' },
      disable: `passthrough 0.0.0.0_81 ${tcp81}`,
      permissive: `passthrough 0.0.0.0_81 ${tcp81}`,
      strict: `terminate-mtls 0.0.0.0_81 ${tcp81} !mtls-error`,
    },
    {
      name: 'mtls tcp to auto port',
      call: { port: 81, protocol: 'tcp', tls: 'mtls' },
      disable: `passthrough 0.0.0.0_81 ${tcp81}`,
      permissive: `terminate-mtls 0.0.0.0_81 ${tcp81}`,
      strict: `terminate-mtls 0.0.0.0_81 ${tcp81}`,
    },
    {
      name: 'mtls http to auto port',
      call: { port: 81, protocol: 'http', tls: 'mtls' },
      disable: `passthrough 0.0.0.0_81 ${tcp81}`,
      permissive: `terminate-mtls 0.0.0.0_81 ${http81}`,
      strict: `terminate-mtls 0.0.0.0_81 ${http81}`,
    },
    {
      name: 'passthrough http',
      call: { port: 82, protocol: 'http', tls: 'none' },
      disable: `plaintext virtualInbound-catchall-http ${http82}`,
      permissive: `plaintext virtualInbound-catchall-http ${http82}`,
      strict: 'refused !no-filter-chain',
    },
    {
      name: 'passthrough tcp',
      call: { port: 82, protocol: 'tcp', tls: 'none' },
      disable: `plaintext virtualInbound ${tcp82}`,
      permissive: `plaintext virtualInbound ${tcp82}`,
      strict: 'refused !no-filter-chain',
    },
    {
      name: 'passthrough tls',
      call: { port: 82, protocol: 'tcp', tls: 'tls' },
      disable: `passthrough virtualInbound ${tcp82}`,
      permissive: `passthrough virtualInbound ${tcp82}`,
      strict: `terminate-mtls virtualInbound ${tcp82} !mtls-error`,
    },
    {
      name: 'passthrough https',
      call: { port: 82, protocol: 'http', tls: 'tls' },
      disable: `passthrough virtualInbound ${tcp82}`,
      permissive: `passthrough virtualInbound ${tcp82}`,
      strict: `terminate-mtls virtualInbound ${tcp82} !mtls-error`,
    },
    {
      name: 'passthrough mtls',
      call: { port: 82, protocol: 'http', tls: 'mtls' },
      disable: `passthrough virtualInbound ${tcp82}`,
      permissive: `terminate-mtls virtualInbound-catchall-http ${http82}`,
      strict: `terminate-mtls virtualInbound-catchall-http ${http82}`,
    },
  ];
  for (const [mode, key] of [
    ['DISABLE', 'disable'],
    ['PERMISSIVE', 'permissive'],
    ['STRICT', 'strict'],
  ] as const) {
    describe(mode, () => {
      const sim = simulate([...docs, meshMode(mode)]);
      for (const c of cases) {
        it(c.name, () => {
          // As Istio's simulation calls it, and with the ALPN list a Skiff client sidecar (or app) offers.
          assert.equal(outcomeText(sim.run({ ...c.call, alpn: istioAlpn(c.call) })), c[key]);
          assert.equal(outcomeText(sim.run(c.call)), c[key]);
        });
      }
    });
  }
});

describe('simulation: peer_authentication_simulation_test.go TestPeerAuthenticationPassthrough', () => {
  // Istio's calls: HTTP, plaintext or mTLS with ALPN `istio`. Ports 8000 and 9000 are the workload's own
  // (local mode binds only declared workload ports); "not in service" adds a ServiceEntry with 8000 HTTP.
  const workload = workloadEntry({ ports: { a: 8000, b: 9000 } });
  const policy = (mode: string, port9000?: string) =>
    peerAuthentication({
      namespace: 'default',
      selector: { app: 'foo' },
      mode,
      ...(port9000 ? { ports: { 9000: port9000 } } : {}),
    });
  const sePort8000 = serviceEntry([{ name: 'http', number: 8000, protocol: 'HTTP' }]);
  const call = (port: number, tls: 'none' | 'mtls'): InboundCall => ({
    port,
    protocol: 'http',
    tls,
    ...(tls === 'mtls' ? { alpn: ['istio'] } : {}),
  });
  const pt = (port: number) => `tcp→inbound|${port}||`;
  const ph = (port: number) => `hcm→inbound|http|0→inbound|${port}||`;
  const h8000 = 'hcm→inbound|http|8000→inbound|8000||';
  const cases: Array<{ name: string; docs: string[]; calls: Array<[string, InboundCall, string]> }> = [
    {
      name: 'global disable',
      docs: [policy('DISABLE')],
      calls: [
        ['mtls', call(8000, 'mtls'), `passthrough virtualInbound ${pt(8000)}`],
        ['plaintext', call(8000, 'none'), `plaintext virtualInbound-catchall-http ${ph(8000)}`],
      ],
    },
    {
      name: 'global strict',
      docs: [policy('STRICT')],
      calls: [
        ['plaintext', call(8000, 'none'), 'refused !no-filter-chain'],
        ['mtls', call(8000, 'mtls'), `terminate-mtls virtualInbound ${pt(8000)}`],
      ],
    },
    {
      name: 'global permissive',
      docs: [policy('PERMISSIVE')],
      calls: [
        ['plaintext', call(8000, 'none'), `plaintext virtualInbound-catchall-http ${ph(8000)}`],
        ['mtls', call(8000, 'mtls'), `terminate-mtls virtualInbound ${pt(8000)}`],
      ],
    },
    {
      name: 'global disable and port 9000 strict',
      docs: [policy('DISABLE', 'STRICT')],
      calls: [
        ['plaintext on port 8000', call(8000, 'none'), `plaintext virtualInbound-catchall-http ${ph(8000)}`],
        ['mtls on port 8000', call(8000, 'mtls'), `passthrough virtualInbound ${pt(8000)}`],
        ['plaintext port 9000', call(9000, 'none'), 'refused !no-filter-chain'],
        ['mtls port 9000', call(9000, 'mtls'), `terminate-mtls virtualInbound ${pt(9000)}`],
      ],
    },
    {
      name: 'global disable and port 9000 strict not in service',
      docs: [policy('DISABLE', 'STRICT'), sePort8000],
      calls: [
        ['plaintext on port 8000', call(8000, 'none'), `plaintext 0.0.0.0_8000 ${h8000}`],
        ['mtls on port 8000', call(8000, 'mtls'), 'passthrough 0.0.0.0_8000 hcm !protocol-error'],
        ['plaintext port 9000', call(9000, 'none'), 'refused !no-filter-chain'],
        ['mtls port 9000', call(9000, 'mtls'), `terminate-mtls virtualInbound ${pt(9000)}`],
      ],
    },
    {
      name: 'global strict and port 9000 plaintext',
      docs: [policy('STRICT', 'DISABLE')],
      calls: [
        ['plaintext on port 8000', call(8000, 'none'), 'refused !no-filter-chain'],
        ['mtls on port 8000', call(8000, 'mtls'), `terminate-mtls virtualInbound ${pt(8000)}`],
        ['plaintext port 9000', call(9000, 'none'), `plaintext virtualInbound-catchall-http ${ph(9000)}`],
        ['mtls port 9000', call(9000, 'mtls'), `passthrough virtualInbound ${pt(9000)}`],
      ],
    },
    {
      name: 'global strict and port 9000 plaintext not in service',
      docs: [policy('STRICT', 'DISABLE'), sePort8000],
      calls: [
        ['plaintext on port 8000', call(8000, 'none'), 'refused !no-filter-chain'],
        ['mtls on port 8000', call(8000, 'mtls'), `terminate-mtls 0.0.0.0_8000 ${h8000}`],
        ['plaintext port 9000', call(9000, 'none'), `plaintext virtualInbound-catchall-http ${ph(9000)}`],
        ['mtls port 9000', call(9000, 'mtls'), `passthrough virtualInbound ${pt(9000)}`],
      ],
    },
    {
      name: 'global plaintext and port 9000 permissive',
      docs: [policy('DISABLE', 'PERMISSIVE')],
      calls: [
        ['plaintext on port 8000', call(8000, 'none'), `plaintext virtualInbound-catchall-http ${ph(8000)}`],
        ['mtls on port 8000', call(8000, 'mtls'), `passthrough virtualInbound ${pt(8000)}`],
        ['plaintext port 9000', call(9000, 'none'), `plaintext virtualInbound-catchall-http ${ph(9000)}`],
        ['mtls port 9000', call(9000, 'mtls'), `terminate-mtls virtualInbound ${pt(9000)}`],
      ],
    },
    {
      name: 'global plaintext and port 9000 permissive not in service',
      docs: [policy('DISABLE', 'PERMISSIVE'), sePort8000],
      calls: [
        ['plaintext on port 8000', call(8000, 'none'), `plaintext 0.0.0.0_8000 ${h8000}`],
        ['mtls on port 8000', call(8000, 'mtls'), 'passthrough 0.0.0.0_8000 hcm !protocol-error'],
        ['plaintext port 9000', call(9000, 'none'), `plaintext virtualInbound-catchall-http ${ph(9000)}`],
        ['mtls port 9000', call(9000, 'mtls'), `terminate-mtls virtualInbound ${pt(9000)}`],
      ],
    },
  ];
  for (const c of cases) {
    describe(c.name, () => {
      const sim = simulate([workload, ...c.docs]);
      for (const [name, input, expected] of c.calls) {
        it(name, () => assert.equal(outcomeText(sim.run(input)), expected));
      }
    });
  }
});

describe('simulation: peer_authentication_simulation_test.go TestPeerAuthenticationWithSidecar', () => {
  // Workload STRICT with port 9090 DISABLE; TCP calls, mTLS with Istio's default ALPN `istio`. The Sidecar
  // variants are not mirrored (Skiff has no Sidecar resource).
  const pa = peerAuthentication({
    namespace: 'default',
    selector: { app: 'foo' },
    mode: 'STRICT',
    ports: { 9090: 'DISABLE' },
  });
  const call = (port: number, tls: 'none' | 'mtls'): InboundCall => ({
    port,
    protocol: 'tcp',
    tls,
    ...(tls === 'mtls' ? { alpn: ['istio'] } : {}),
  });
  const cases: Array<{ name: string; docs: string[]; calls: Array<[string, InboundCall, string]> }> = [
    {
      name: 'service, no sidecar',
      docs: [
        workloadEntry({ ports: { tls: 8080, plaintext: 9090 } }),
        serviceEntry([
          { name: 'tls', number: 8080, protocol: 'TCP' },
          { name: 'plaintext', number: 9090, protocol: 'TCP' },
        ]),
      ],
      calls: [
        ['plaintext on tls port', call(8080, 'none'), 'refused !no-filter-chain'],
        ['tls on tls port', call(8080, 'mtls'), 'terminate-mtls 0.0.0.0_8080 tcp→inbound|8080||'],
        ['plaintext on plaintext port', call(9090, 'none'), 'plaintext 0.0.0.0_9090 tcp→inbound|9090||'],
        // "TLS is fine here; we are not sniffing TLS at all so anything is allowed"
        ['tls on plaintext port', call(9090, 'mtls'), 'passthrough 0.0.0.0_9090 tcp→inbound|9090||'],
      ],
    },
    {
      // The service's port (5050) is not the workload's; 8080 and 9090 are undeclared workload ports.
      name: 'no service, no sidecar',
      docs: [
        workloadEntry({ ports: { tls: 8080, plaintext: 9090 } }),
        serviceEntry([{ name: 'random', number: 5050, protocol: 'TCP', targetPort: 5050 }]),
      ],
      calls: [
        ['plaintext on tls port', call(8080, 'none'), 'refused !no-filter-chain'],
        ['tls on tls port', call(8080, 'mtls'), 'terminate-mtls virtualInbound tcp→inbound|8080||'],
        ['plaintext on plaintext port', call(9090, 'none'), 'plaintext virtualInbound tcp→inbound|9090||'],
        ['tls on plaintext port', call(9090, 'mtls'), 'passthrough virtualInbound tcp→inbound|9090||'],
      ],
    },
  ];
  for (const c of cases) {
    describe(c.name, () => {
      const sim = simulate([...c.docs, pa]);
      for (const [name, input, expected] of c.calls) {
        it(name, () => assert.equal(outcomeText(sim.run(input)), expected));
      }
    });
  }
});

describe('simulation: local-mode specifics', () => {
  it('a port the listener does not bind has no chain (no catch-all): refused', () => {
    const sim = simulate([workloadEntry({ ports: { p: 8000 } }), meshMode('PERMISSIVE')]);
    assert.equal(
      outcomeText(sim.run({ port: 8001, protocol: 'http', tls: 'none' })),
      'refused !no-filter-chain',
    );
  });

  it('SNI does not matter (inbound chains match no server names)', () => {
    const sim = simulate([workloadEntry({ ports: { p: 8000 } }), meshMode('STRICT')]);
    assert.equal(
      outcomeText(sim.run({ port: 8000, protocol: 'tcp', tls: 'mtls', sni: 'outbound_.8000_._.foo.bar' })),
      'terminate-mtls virtualInbound tcp→inbound|8000||',
    );
  });

  it('STRICT accepts a mesh client offering only h2 (ALPN is irrelevant for acceptance; SEM c4)', () => {
    const sim = simulate([
      workloadEntry({ ports: { auto: 81 } }),
      serviceEntry([{ name: 'auto', number: 81 }]),
      meshMode('STRICT'),
    ]);
    assert.equal(
      outcomeText(sim.run({ port: 81, protocol: 'http2', tls: 'mtls', alpn: ['h2'] })),
      'terminate-mtls 0.0.0.0_81 tcp→inbound|81||',
    );
  });
});
