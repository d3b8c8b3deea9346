import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { formatPath } from '../../src/core/field-path.js';

const load = (text: string, path = 'mesh.yaml') => loadConfig([{ path, text }]);
const codes = (text: string) => load(text).diagnostics.map((d) => `${d.severity}:${d.code}`);
const PA = (name: string, extra = '') =>
  `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: ${name}\n${extra}spec:\n  mtls: {mode: STRICT}\n`;

describe('loadConfig', () => {
  it('puts documents without a namespace in default and records where each came from', () => {
    const snapshot = load(`# header\n${PA('a')}---\n${PA('b', '  namespace: shop\n')}`);
    assert.deepEqual(snapshot.diagnostics, []);
    assert.deepEqual(
      snapshot.peerAuthentications.map((p) => [p.metadata.namespace, p.metadata.name, p.source]),
      [
        ['default', 'a', { file: 'mesh.yaml', document: 1, line: 2 }],
        ['shop', 'b', { file: 'mesh.yaml', document: 2, line: 9 }],
      ],
    );
  });

  it('expands lists, keeping the item index', () => {
    const text = `apiVersion: v1\nkind: List\nitems:\n- apiVersion: security.istio.io/v1\n  kind: PeerAuthentication\n  metadata: {name: a, namespace: x}\n- apiVersion: security.istio.io/v1\n  kind: PeerAuthentication\n  metadata: {name: b, namespace: x}\n  spec: {mtls: {mode: BAD}}\n`;
    const snapshot = load(text);
    assert.deepEqual(
      snapshot.peerAuthentications.map((p) => [p.metadata.name, p.source.item]),
      [['a', 0]],
    );
    const [error] = snapshot.diagnostics;
    assert.equal(formatPath(error?.path ?? []), 'items[1].spec.mtls.mode');
    assert.equal(error?.line, 10);
  });

  it('reads JSON files', () => {
    const json = JSON.stringify({
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'j' },
    });
    const snapshot = loadConfig([{ path: 'x.json', text: json }]);
    assert.deepEqual(snapshot.diagnostics, []);
    assert.equal(snapshot.peerAuthentications[0]?.metadata.name, 'j');
  });

  it('reports bad JSON with its line', () => {
    const [d] = loadConfig([{ path: 'x.json', text: '{\n"a": 1,\n}' }]).diagnostics;
    assert.equal(d?.code, 'SKIFF_CONFIG_SYNTAX');
    assert.equal(d?.file, 'x.json');
    assert.ok((d?.line ?? 0) >= 2);
  });

  it('reports every problem of every file at once, and keeps the valid resources', () => {
    const snapshot = loadConfig([
      { path: 'a.yaml', text: `${PA('ok')}---\n${PA('bad').replace('STRICT', 'NOPE')}---\nkind: [broken` },
      { path: 'b.yaml', text: PA('Bad_Name') },
    ]);
    assert.deepEqual(
      snapshot.diagnostics.map((d) => [d.file, d.document, d.code]),
      [
        ['a.yaml', 3, 'SKIFF_CONFIG_SYNTAX'],
        ['a.yaml', 2, 'SKIFF_CONFIG_ENUM'],
        ['b.yaml', 1, 'SKIFF_CONFIG_NAME'],
      ],
    );
    assert.deepEqual(
      snapshot.peerAuthentications.map((p) => p.metadata.name),
      ['ok'],
    );
  });

  it('unrelated kinds are ignored with a warning; Istio kinds Skiff does not implement are accepted with one', () => {
    const text = [
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {}',
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ap}\nspec: {}',
    ].join('\n---\n');
    assert.deepEqual(
      load(text).diagnostics.map((d) => `${d.severity}:${d.code}`),
      ['warning:SKIFF_CONFIG_IGNORED_KIND', 'warning:SKIFF_CONFIG_NOT_ENFORCED'],
    );
  });

  it('an unknown kind in an Istio group is an error (a typo), not an unrelated kind', () => {
    assert.deepEqual(
      codes('apiVersion: security.istio.io/v1\nkind: PeerAuthenticaton\nmetadata: {name: x}\n'),
      ['error:SKIFF_CONFIG_UNKNOWN_KIND'],
    );
  });

  it('a misspelled field copied into three places gives one error per place', () => {
    const entry = (name: string) =>
      `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ${name}}\nspec:\n  hsts: [${name}.example.com]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS\n`;
    const r = load([entry('a'), entry('b'), entry('c')].join('---\n'));
    assert.deepEqual(
      r.diagnostics.map((d) => `${d.document} ${formatPath(d.path ?? [])}: ${d.code}`),
      [
        '1 spec.hsts: SKIFF_CONFIG_UNKNOWN_FIELD',
        '2 spec.hsts: SKIFF_CONFIG_UNKNOWN_FIELD',
        '3 spec.hsts: SKIFF_CONFIG_UNKNOWN_FIELD',
      ],
    );
    assert.match(r.diagnostics[0]?.message ?? '', /did you mean "hosts"/);
  });

  it('a misspelled metadata or spec is said once, not again as missing', () => {
    assert.deepEqual(codes(PA('x').replace('metadata:', 'metdata:')), ['error:SKIFF_CONFIG_UNKNOWN_FIELD']);
    assert.deepEqual(
      codes(
        'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s}\nsepc:\n  hosts: [a.example.com]\n',
      ),
      ['error:SKIFF_CONFIG_UNKNOWN_FIELD'],
    );
  });

  it('documents that are not resources', () => {
    assert.deepEqual(codes('just a string'), ['error:SKIFF_CONFIG_NOT_RESOURCE']);
    assert.deepEqual(codes('- a\n- b'), ['error:SKIFF_CONFIG_NOT_RESOURCE']);
    assert.deepEqual(codes('kind: PeerAuthentication\nmetadata: {name: x}'), ['error:SKIFF_CONFIG_REQUIRED']);
    assert.deepEqual(codes('apiVersion: v1\nmetadata: {name: x}'), ['error:SKIFF_CONFIG_REQUIRED']);
  });

  it('a resource repeated under one name: the later one replaces the earlier (kubectl apply), with a warning', () => {
    const snapshot = load(`${PA('x')}---\n${PA('x').replace('STRICT', 'DISABLE')}`);
    assert.deepEqual(
      snapshot.diagnostics.map((d) => `${d.severity}:${d.code}`),
      ['warning:SKIFF_CONFIG_DUPLICATE'],
    );
    assert.match(
      snapshot.diagnostics[0]?.message ?? '',
      /replaces the PeerAuthentication of the same name at mesh\.yaml:1/,
    );
    assert.deepEqual(
      snapshot.peerAuthentications.map((p) => [p.metadata.name, p.spec.mtls?.mode, p.source.document]),
      [['x', 'DISABLE', 2]],
    );
  });

  it('Istio testdata style: three documents of one name load, the last one wins', () => {
    const dr = (lb: string) =>
      `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: bookinfo-ratings}\nspec:\n  host: ratings.prod.svc.cluster.local\n  trafficPolicy: {loadBalancer: {simple: ${lb}}}\n`;
    const snapshot = load([dr('LEAST_REQUEST'), dr('ROUND_ROBIN'), dr('RANDOM')].join('---\n'));
    assert.equal(snapshot.diagnostics.filter((d) => d.severity === 'error').length, 0);
    assert.deepEqual(
      snapshot.resources.map(
        (r) =>
          (r.spec as { trafficPolicy: { loadBalancer: { simple: string } } }).trafficPolicy.loadBalancer
            .simple,
      ),
      ['RANDOM'],
    );
  });

  it('a repeated YAML key is a warning; the last value wins', () => {
    const snapshot = load(PA('x').replace('spec:', 'spec:\n  mtls: {mode: DISABLE}'));
    assert.deepEqual(
      snapshot.diagnostics.map((d) => `${d.severity}:${d.code}`),
      ['warning:SKIFF_CONFIG_DUPLICATE_KEY'],
    );
    assert.equal(snapshot.peerAuthentications[0]?.spec.mtls?.mode, 'STRICT');
  });

  it('never throws, whatever the bytes', () => {
    for (const text of [
      '\u0000',
      '{{{{',
      '---\n---\n',
      'apiVersion: 1\nkind: 2',
      'metadata: 5\napiVersion: v1\nkind: Service',
    ]) {
      assert.doesNotThrow(() => load(text));
    }
  });

  // Found by npm run fuzz (test/fuzz/fixtures/istio-config/6539a66651a904cb.yaml): the resource's label put the
  // namespace in a template string, and a mapping with a `toString` key cannot be turned into a string.
  it('a namespace that is a mapping (even one with a toString key) is a type error at its path, not a crash', () => {
    const text =
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs\n  namespace:\n    toString: {a: 1}\n    valueOf: 2\nspec:\n  hosts: [a]\n  tcp: [{route: [{destination: {host: a}}]}]\n';
    const errors = load(text)
      .diagnostics.filter((d) => d.severity === 'error')
      .map((d) => [d.code, formatPath(d.path ?? []), d.message]);
    assert.deepEqual(errors, [
      ['SKIFF_CONFIG_TYPE', 'metadata.namespace', 'expected a string, got a mapping'],
    ]);
  });
});

describe('MeshConfig', () => {
  const MC = (spec: string) =>
    `apiVersion: skiff.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\n${spec}`;

  it("has Istio's defaults without one", () => {
    assert.deepEqual(load('').meshConfig, {
      trustDomain: 'cluster.local',
      trustDomainAliases: [],
      rootNamespace: 'istio-system',
      enableAutoMtls: true,
      outboundTrafficPolicy: { mode: 'ALLOW_ANY' },
      accessLogFile: '',
      accessLogEncoding: 'TEXT',
      accessLogFormat: '',
      protocolDetectionTimeout: '5s',
      connectTimeout: '10s',
    });
  });

  it('reads the access log, protocol detection and connect timeout settings', () => {
    const snapshot = load(
      MC(
        'spec:\n  accessLogFile: /dev/stdout\n  accessLogEncoding: JSON\n  protocolDetectionTimeout: 100ms\n  connectTimeout: 2s\n',
      ),
    );
    assert.deepEqual(snapshot.diagnostics, []);
    const m = snapshot.meshConfig;
    assert.deepEqual(
      [m.accessLogFile, m.accessLogEncoding, m.accessLogFormat, m.protocolDetectionTimeout, m.connectTimeout],
      ['/dev/stdout', 'JSON', '', '100ms', '2s'],
    );
    const bad = load(MC('spec:\n  accessLogEncoding: XML\n  connectTimeout: soon\n'));
    assert.deepEqual(
      bad.diagnostics.map((d) => d.path?.join('.')),
      ['spec.accessLogEncoding', 'spec.connectTimeout'],
    );
  });

  it('takes the values given, defaulting the rest', () => {
    const snapshot = load(
      MC('spec:\n  trustDomain: example.org\n  rootNamespace: mesh-root\n  enableAutoMtls: false\n'),
    );
    assert.deepEqual(snapshot.diagnostics, []);
    assert.equal(snapshot.meshConfig.trustDomain, 'example.org');
    assert.equal(snapshot.meshConfig.rootNamespace, 'mesh-root');
    assert.equal(snapshot.meshConfig.enableAutoMtls, false);
  });

  it('fields Skiff does not act on yet load with a warning naming them', () => {
    const snapshot = load(MC('spec:\n  outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n'));
    assert.deepEqual(
      snapshot.diagnostics.map((d) => [d.code, formatPath(d.path ?? [])]),
      [['SKIFF_CONFIG_NOT_ENFORCED', 'spec.outboundTrafficPolicy']],
    );
  });

  it('rejects bad values and a second MeshConfig', () => {
    assert.deepEqual(
      load(
        MC('spec:\n  trustDomain: "Bad Domain"\n  rootNamespace: Istio_System\n  enableAutoMtls: "yes"\n'),
      ).diagnostics.map((d) => [d.code, formatPath(d.path ?? [])]),
      [
        ['SKIFF_CONFIG_FORMAT', 'spec.trustDomain'],
        ['SKIFF_CONFIG_NAME', 'spec.rootNamespace'],
        ['SKIFF_CONFIG_TYPE', 'spec.enableAutoMtls'],
      ],
    );
    assert.deepEqual(
      codes(`${MC('spec: {}')}\n---\n${MC('spec: {}').replace('name: mesh', 'name: other')}`),
      ['error:SKIFF_CONFIG_DUPLICATE'],
    );
  });

  it('`enableAutoMtls: on` is a YAML 1.1 boolean', () => {
    assert.equal(load(MC('spec:\n  enableAutoMtls: off\n')).meshConfig.enableAutoMtls, false);
  });
});
