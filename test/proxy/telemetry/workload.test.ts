// The two workload views Istio's proxy takes of its node metadata (what it sends to peers; what its stats
// filter prints), OWNER, canonical service names as istiod and the injector derive them, and EDS
// `istio.workload`. Parsing the node metadata is tested in test/xds/node-metadata.test.ts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalService,
  EMPTY_WORKLOAD,
  endpointWorkloadFromMetadata,
  formatEndpointWorkload,
  formatOwner,
  injectedCanonicalLabels,
  parseEndpointWorkload,
  parseNodeMetadata,
  parseOwner,
  statsWorkloadFromNode,
  workloadFromNode,
} from '../../../src/proxy/telemetry/index.js';
import { ISTIO_1_24_NODE_METADATA } from './fixtures.js';

describe('workload views of the node', () => {
  it('what a proxy sends to peers: Istio convertStructToWorkloadMetadata', () => {
    const w = workloadFromNode(parseNodeMetadata(ISTIO_1_24_NODE_METADATA));
    assert.deepEqual(w, {
      instanceName: 'demo-a-prodcatapi-57868f9d7c-67fsc',
      namespace: 'components',
      workloadName: 'demo-a-prodcatapi',
      clusterId: 'Kubernetes',
      canonicalName: 'demo-a-productcatalogmanagement',
      canonicalRevision: 'productcatalogapi-0.23',
      appName: 'demo-a-productcatalogmanagement',
      appVersion: 'productcatalogapi-0.23',
      workloadType: 'deployment',
      extraLabels: {},
    });
  });

  it('app.kubernetes.io/name|version win over app/version for peers; the stats view reads app/version verbatim', () => {
    const node = parseNodeMetadata({
      WORKLOAD_NAME: 'w',
      LABELS: { app: 'a', version: 'v', 'app.kubernetes.io/name': 'qa', 'app.kubernetes.io/version': 'qv' },
    });
    const peerView = workloadFromNode(node);
    assert.equal(peerView.appName, 'qa');
    assert.equal(peerView.appVersion, 'qv');
    const statsView = statsWorkloadFromNode(node);
    assert.equal(statsView.appName, 'a');
    assert.equal(statsView.appVersion, 'v');
    // The stats filter does not derive canonical names: missing labels print as "".
    assert.equal(statsView.canonicalName, '');
    assert.equal(statsView.canonicalRevision, '');
    const onlyQualified = workloadFromNode(parseNodeMetadata({ LABELS: { 'app.kubernetes.io/name': 'qa' } }));
    assert.equal(onlyQualified.appName, 'qa');
    assert.equal(
      statsWorkloadFromNode(parseNodeMetadata({ LABELS: { 'app.kubernetes.io/name': 'qa' } })).appName,
      '',
    );
  });

  it('keeps the additional labels asked for, and only those', () => {
    const node = parseNodeMetadata({ LABELS: { app: 'a', role: 'db', zone: 'z1', other: 'x' } });
    assert.deepEqual(workloadFromNode(node, ['role', 'zone', 'missing', 'app']).extraLabels, {
      role: 'db',
      zone: 'z1',
    });
    assert.deepEqual(workloadFromNode(node).extraLabels, {});
  });
});

describe('OWNER', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['kubernetes://apis/apps/v1/namespaces/foo/deployments/sleep', 'sleep', 'deployment'],
    ['kubernetes://apis/apps/v1/namespaces/foo/pods/sleep-1', 'sleep-1', 'pod'],
    ['kubernetes://apis/apps/v1/namespaces/foo/jobs/batch', 'batch', 'job'],
    ['kubernetes://apis/apps/v1/namespaces/foo/cronjobs/nightly', 'nightly', 'cronjob'],
    ['kubernetes://apis/apps/v1/namespaces/foo/statefulsets/db', 'db', undefined],
    ['kubernetes://apis/apps/v1/namespaces/foo/deployments/sleep', 'sleepy', undefined],
    // Istio drops len(workload)+2 characters without checking them.
    ['kubernetes://apis/apps/v1/namespaces/foo/deployments/sleep', 'xxxxx', 'deployment'],
    ['', 'sleep', undefined],
    ['deployments/sleep', 'sleep', undefined],
  ];
  for (const [owner, workload, type] of cases) {
    it(`${owner || '""'} with workload ${workload} → ${type}`, () => {
      assert.equal(parseOwner(owner, workload), type);
    });
  }

  it('is written back for a known kind only', () => {
    assert.equal(
      formatOwner({ ...EMPTY_WORKLOAD, namespace: 'foo', workloadName: 'sleep', workloadType: 'deployment' }),
      'kubernetes://apis/apps/v1/namespaces/foo/deployments/sleep',
    );
    assert.equal(formatOwner({ ...EMPTY_WORKLOAD, namespace: 'foo', workloadName: 'sleep' }), undefined);
  });
});

describe('canonical service', () => {
  const cases: Array<[string, Record<string, string>, string, string]> = [
    [
      'all three names: the canonical label wins',
      {
        'service.istio.io/canonical-name': 'c',
        'app.kubernetes.io/name': 'k',
        app: 'a',
        'service.istio.io/canonical-revision': 'r',
        'app.kubernetes.io/version': 'kv',
        version: 'v',
      },
      'c',
      'r',
    ],
    [
      'app.kubernetes.io over app',
      { 'app.kubernetes.io/name': 'k', app: 'a', 'app.kubernetes.io/version': 'kv', version: 'v' },
      'k',
      'kv',
    ],
    ['app and version', { app: 'a', version: 'v' }, 'a', 'v'],
    ['nothing: workload name and latest', {}, 'reviews-v1', 'latest'],
    ['present but empty counts (pkg/kube/labels)', { app: '', version: '' }, '', ''],
  ];
  for (const [title, labels, name, revision] of cases) {
    it(`CanonicalService: ${title}`, () => {
      assert.deepEqual(canonicalService(labels, 'reviews-v1'), { name, revision });
    });
  }

  it('the injector: empty labels count as missing, the name is cut to 63 without a trailing dash', () => {
    assert.deepEqual(injectedCanonicalLabels({ app: '', version: '' }, 'reviews-v1'), {
      app: '',
      version: '',
      'service.istio.io/canonical-name': 'reviews-v1',
      'service.istio.io/canonical-revision': 'latest',
    });
    const long = `${'a'.repeat(62)}-tail`;
    assert.equal(
      injectedCanonicalLabels({ app: long }, 'd')['service.istio.io/canonical-name'],
      `${'a'.repeat(62)}`,
    );
    assert.deepEqual(
      injectedCanonicalLabels({ 'service.istio.io/canonical-name': 'keep', version: 'v2' }, 'd'),
      {
        'service.istio.io/canonical-name': 'keep',
        'service.istio.io/canonical-revision': 'v2',
        version: 'v2',
      },
    );
  });
});

describe('EDS istio.workload', () => {
  it('reads workload;namespace;canonical-name;canonical-revision;cluster-id, no app or version', () => {
    assert.deepEqual(parseEndpointWorkload('reviews-v2;default;reviews;v2;Kubernetes'), {
      ...EMPTY_WORKLOAD,
      workloadName: 'reviews-v2',
      namespace: 'default',
      canonicalName: 'reviews',
      canonicalRevision: 'v2',
      clusterId: 'Kubernetes',
    });
    assert.equal(parseEndpointWorkload('reviews-v2;default;reviews;v2')?.workloadName, undefined);
    assert.equal(parseEndpointWorkload('a;b;c;;e;extra')?.clusterId, 'e');
    assert.equal(parseEndpointWorkload('a;b;c;;e')?.canonicalRevision, '');
  });

  it('is found under filter_metadata.istio.workload', () => {
    assert.equal(endpointWorkloadFromMetadata({ istio: { workload: 'w;ns;c;r;k' } })?.namespace, 'ns');
    assert.equal(endpointWorkloadFromMetadata({ istio: { workload: 3 } }), undefined);
    assert.equal(
      endpointWorkloadFromMetadata({ 'envoy.transport_socket_match': { tlsMode: 'istio' } }),
      undefined,
    );
    assert.equal(endpointWorkloadFromMetadata(undefined), undefined);
  });

  it('is written as istiod writes it: canonical service from the labels, `latest` left out', () => {
    assert.equal(
      formatEndpointWorkload({
        workloadName: 'legacy',
        namespace: 'shop',
        labels: {},
        clusterId: 'Kubernetes',
      }),
      'legacy;shop;legacy;;Kubernetes',
    );
    assert.equal(
      formatEndpointWorkload({
        workloadName: 'reviews-v2',
        namespace: 'default',
        labels: { app: 'reviews', version: 'v2' },
        clusterId: 'Kubernetes',
      }),
      'reviews-v2;default;reviews;v2;Kubernetes',
    );
  });
});
