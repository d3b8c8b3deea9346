// Tag extraction against Envoy's own expectations: the DefaultTagExtractors and TagExtractorTokensTest cases of
// test/common/stats/tag_extractor_impl_test.cc, the ssl.* tags of test/integration/ssl_integration_test.cc, and the
// admin integration test's `listener.admin.http.admin.downstream_rq_4xx`. Then Skiff's cluster names and Istio's
// bootstrap rules.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ENVOY_TAG_RULES,
  ISTIO_TAG_RULES,
  regexPrefix,
  SKIFF_TAG_RULES,
  type Tag,
  TagProducer,
} from '../../../src/proxy/stats/index.js';

type Case = readonly [stat: string, extracted: string, tags: Record<string, string>];

const sorted = (tags: readonly Tag[]) => tags.map((t) => `${t.name}=${t.value}`).sort();
const expected = (tags: Record<string, string>) =>
  Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .sort();

/** Envoy checks the name and the tag set, forwards and with the extractors reversed; so does this. */
function check(producer: TagProducer, reversed: TagProducer, cases: readonly Case[]): void {
  for (const [stat, name, tags] of cases) {
    it(stat, () => {
      const forward = producer.produceTags(stat);
      assert.equal(forward.name, name);
      assert.deepEqual(sorted(forward.tags), expected(tags));
      const backward = reversed.produceTags(stat);
      assert.equal(backward.name, name);
      assert.deepEqual(sorted(backward.tags), expected(tags));
    });
  }
}

const ENVOY_CASES: readonly Case[] = [
  [
    'cluster.ratelimit.upstream_rq_timeout',
    'cluster.upstream_rq_timeout',
    { 'envoy.cluster_name': 'ratelimit' },
  ],
  [
    'listener.[__1]_0.ssl.ciphers.AES256-SHA',
    'listener.ssl.ciphers',
    { 'envoy.listener_address': '[__1]_0', 'envoy.ssl_cipher': 'AES256-SHA' },
  ],
  [
    'cluster.ratelimit.ssl.ciphers.ECDHE-RSA-AES128-GCM-SHA256',
    'cluster.ssl.ciphers',
    { 'envoy.cluster_name': 'ratelimit', cipher_suite: 'ECDHE-RSA-AES128-GCM-SHA256' },
  ],
  [
    'listener.[2001_0db8_85a3_0000_0000_8a2e_0370_7334]_3543.ssl.ciphers.AES256-SHA',
    'listener.ssl.ciphers',
    {
      'envoy.listener_address': '[2001_0db8_85a3_0000_0000_8a2e_0370_7334]_3543',
      'envoy.ssl_cipher': 'AES256-SHA',
    },
  ],
  [
    'listener.127.0.0.1_0.ssl.ciphers.AES256-SHA',
    'listener.ssl.ciphers',
    { 'envoy.listener_address': '127.0.0.1_0', 'envoy.ssl_cipher': 'AES256-SHA' },
  ],
  [
    'listener.my_prefix.ssl.ciphers.AES256-SHA',
    'listener.ssl.ciphers',
    { 'envoy.listener_address': 'my_prefix', 'envoy.ssl_cipher': 'AES256-SHA' },
  ],
  [
    'listener.prefix.notmatching.ssl.ciphers.AES256-SHA',
    'listener.notmatching.ssl.ciphers',
    { 'envoy.listener_address': 'prefix', 'envoy.ssl_cipher': 'AES256-SHA' },
  ],
  [
    'listener.admin.ssl.ciphers.AES256-SHA',
    'listener.admin.ssl.ciphers',
    { 'envoy.ssl_cipher': 'AES256-SHA' },
  ],
  [
    'vhost.vhost_1.vcluster.vcluster_1.upstream_rq_2xx',
    'vhost.vcluster.upstream_rq_xx',
    {
      'envoy.virtual_host': 'vhost_1',
      'envoy.virtual_cluster': 'vcluster_1',
      'envoy.response_code_class': '2',
    },
  ],
  [
    'vhost.vhost_1.vcluster.vcluster_1.upstream_rq_200',
    'vhost.vcluster.upstream_rq',
    { 'envoy.virtual_host': 'vhost_1', 'envoy.virtual_cluster': 'vcluster_1', 'envoy.response_code': '200' },
  ],
  [
    'listener.127.0.0.1_3012.http.http_prefix.downstream_rq_5xx',
    'listener.http.downstream_rq_xx',
    {
      'envoy.http_conn_manager_prefix': 'http_prefix',
      'envoy.listener_address': '127.0.0.1_3012',
      'envoy.response_code_class': '5',
    },
  ],
  [
    'http.egress_dynamodb_iad.downstream_cx_total',
    'http.downstream_cx_total',
    { 'envoy.http_conn_manager_prefix': 'egress_dynamodb_iad' },
  ],
  [
    'http.egress_dynamodb_iad.user_agent.ios.downstream_cx_total',
    'http.user_agent.downstream_cx_total',
    { 'envoy.http_user_agent': 'ios', 'envoy.http_conn_manager_prefix': 'egress_dynamodb_iad' },
  ],
  [
    'tcp.tcp_prefix.downstream_flow_control_resumed_reading_total',
    'tcp.downstream_flow_control_resumed_reading_total',
    { 'envoy.tcp_prefix': 'tcp_prefix' },
  ],
  [
    'udp.udp_prefix.downstream_flow_control_resumed_reading_total',
    'udp.downstream_flow_control_resumed_reading_total',
    { 'envoy.udp_prefix': 'udp_prefix' },
  ],
  [
    'http.fault_connection_manager.fault.fault_cluster.aborts_injected',
    'http.fault.aborts_injected',
    {
      'envoy.http_conn_manager_prefix': 'fault_connection_manager',
      'envoy.fault_downstream_cluster': 'fault_cluster',
    },
  ],
  [
    'listener_manager.worker_123.dispatcher.loop_duration_us',
    'listener_manager.worker_dispatcher.loop_duration_us',
    { 'envoy.worker_id': '123' },
  ],
  [
    'listener.127.0.0.1_3012.worker_123.downstream_cx_active',
    'listener.worker_downstream_cx_active',
    { 'envoy.listener_address': '127.0.0.1_3012', 'envoy.worker_id': '123' },
  ],
  [
    'listener.myprefix.worker_123.downstream_cx_active',
    'listener.worker_downstream_cx_active',
    { 'envoy.listener_address': 'myprefix', 'envoy.worker_id': '123' },
  ],
  ['server.worker_123.watchdog_miss', 'server.worker_watchdog_miss', { 'envoy.worker_id': '123' }],
  // ssl_integration_test.cc: the same four tags on a listener and on a cluster (the cluster cipher is cipher_suite).
  [
    'listener.127.0.0.1_0.ssl.curves.P-256',
    'listener.ssl.curves',
    { 'envoy.listener_address': '127.0.0.1_0', 'envoy.ssl_curve': 'P-256' },
  ],
  [
    'cluster.cluster_0.ssl.curves.P-256',
    'cluster.ssl.curves',
    { 'envoy.cluster_name': 'cluster_0', 'envoy.ssl_curve': 'P-256' },
  ],
  [
    'cluster.cluster_0.ssl.sigalgs.rsa_pss_rsae_sha256',
    'cluster.ssl.sigalgs',
    { 'envoy.cluster_name': 'cluster_0', 'envoy.ssl_sigalg': 'rsa_pss_rsae_sha256' },
  ],
  [
    'listener.127.0.0.1_0.ssl.versions.TLSv1.2',
    'listener.ssl.versions',
    { 'envoy.listener_address': '127.0.0.1_0', 'envoy.ssl_version': 'TLSv1.2' },
  ],
  // integration_admin_test.cc: envoy_listener_admin_http_downstream_rq_xx{envoy_response_code_class="4",…="admin"}
  [
    'listener.admin.http.admin.downstream_rq_4xx',
    'listener.admin.http.downstream_rq_xx',
    { 'envoy.response_code_class': '4', 'envoy.http_conn_manager_prefix': 'admin' },
  ],
  // No rule applies.
  ['listener_manager.listener_added', 'listener_manager.listener_added', {}],
  ['server.uptime', 'server.uptime', {}],
  ['tls_inspector.client_hello_too_large', 'tls_inspector.client_hello_too_large', {}],
];

describe("Envoy's default tag rules (ENVOY_TAG_RULES)", () => {
  check(new TagProducer(ENVOY_TAG_RULES), new TagProducer([...ENVOY_TAG_RULES].reverse()), ENVOY_CASES);

  it('orders tags as Envoy does: unprefixed rules first, then regex rules, then token rules', () => {
    const p = new TagProducer(ENVOY_TAG_RULES);
    assert.deepEqual(
      p.produceTags('listener.admin.http.admin.downstream_rq_4xx').tags.map((t) => t.name),
      ['envoy.response_code_class', 'envoy.http_conn_manager_prefix'],
    );
    assert.deepEqual(
      p.produceTags('cluster.ratelimit.ssl.ciphers.ECDHE-RSA-AES128-GCM-SHA256').tags.map((t) => t.name),
      ['cipher_suite', 'envoy.cluster_name'],
    );
  });

  it("cuts an Istio cluster name at its first dot, as Envoy's own `cluster.$.**` does", () => {
    const got = new TagProducer(ENVOY_TAG_RULES).produceTags(
      'cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_cx_total',
    );
    assert.equal(got.name, 'cluster.default.svc.cluster.local.upstream_cx_total');
    assert.deepEqual(got.tags, [{ name: 'envoy.cluster_name', value: 'outbound|9080||reviews' }]);
  });
});

describe("Skiff's default rules (SKIFF_TAG_RULES): Envoy's, with Istio's cluster names whole", () => {
  const p = new TagProducer(SKIFF_TAG_RULES);
  check(p, new TagProducer([...SKIFF_TAG_RULES].reverse()), [
    ...ENVOY_CASES,
    [
      'cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_cx_total',
      'cluster.upstream_cx_total',
      { 'envoy.cluster_name': 'outbound|9080||reviews.default.svc.cluster.local' },
    ],
    [
      'cluster.outbound|9080|v1|reviews.default.svc.cluster.local.upstream_rq_200',
      'cluster.upstream_rq',
      {
        'envoy.cluster_name': 'outbound|9080|v1|reviews.default.svc.cluster.local',
        'envoy.response_code': '200',
      },
    ],
    [
      'cluster.inbound|9080||.upstream_cx_active',
      'cluster.upstream_cx_active',
      { 'envoy.cluster_name': 'inbound|9080||' },
    ],
    [
      'cluster.outbound|9080||reviews.default.svc.cluster.local.ssl.ciphers.TLS_AES_128_GCM_SHA256',
      'cluster.ssl.ciphers',
      {
        'envoy.cluster_name': 'outbound|9080||reviews.default.svc.cluster.local',
        cipher_suite: 'TLS_AES_128_GCM_SHA256',
      },
    ],
    [
      'cluster.inbound|9080||.ssl.versions.TLSv1.3',
      'cluster.ssl.versions',
      { 'envoy.cluster_name': 'inbound|9080||', 'envoy.ssl_version': 'TLSv1.3' },
    ],
    ['cluster.xds-grpc.upstream_cx_total', 'cluster.upstream_cx_total', { 'envoy.cluster_name': 'xds-grpc' }],
    // As in Istio: a host outside .svc.cluster.local is cut at its first dot.
    [
      'cluster.outbound|443||httpbin.org.upstream_cx_total',
      'cluster.org.upstream_cx_total',
      { 'envoy.cluster_name': 'outbound|443||httpbin' },
    ],
    [
      'listener.127.0.0.1_15006.downstream_cx_total',
      'listener.downstream_cx_total',
      { 'envoy.listener_address': '127.0.0.1_15006' },
    ],
    [
      'listener.0.0.0.0_15006.ssl.handshake',
      'listener.ssl.handshake',
      { 'envoy.listener_address': '0.0.0.0_15006' },
    ],
    [
      'http.inbound_8080.downstream_rq_2xx',
      'http.downstream_rq_xx',
      { 'envoy.http_conn_manager_prefix': 'inbound_8080', 'envoy.response_code_class': '2' },
    ],
    ['cluster_manager.active_clusters', 'cluster_manager.active_clusters', {}],
  ]);
});

describe("Istio's bootstrap rules (ISTIO_TAG_RULES)", () => {
  check(new TagProducer(ISTIO_TAG_RULES), new TagProducer([...ISTIO_TAG_RULES].reverse()), [
    [
      'cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_rq_2xx',
      'cluster.upstream_rq',
      { cluster_name: 'outbound|9080||reviews.default.svc.cluster.local', response_code_class: '2xx' },
    ],
    [
      'cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_rq_503',
      'cluster.upstream_rq',
      { cluster_name: 'outbound|9080||reviews.default.svc.cluster.local', response_code: '503' },
    ],
    [
      'listener.0.0.0.0_15006.downstream_cx_total',
      'listener.downstream_cx_total',
      { listener_address: '0.0.0.0_15006' },
    ],
    [
      'listener.[__1]_15006.downstream_cx_total',
      'listener.downstream_cx_total',
      { listener_address: '[__1]_15006' },
    ],
    ['listener.virtualInbound.downstream_cx_total', 'listener.virtualInbound.downstream_cx_total', {}],
    ['tcp.inbound|9080||.downstream_cx_total', 'tcp.downstream_cx_total', { tcp_prefix: 'inbound|9080||' }],
    ['server.uptime', 'server.uptime', {}],
  ]);
});

describe('token patterns (TagExtractorTokensTest)', () => {
  const one = (pattern: string, stat: string) =>
    new TagProducer([{ tag: 't', tokens: pattern }]).produceTags(stat);
  const cases: ReadonlyArray<readonly [string, string, string | undefined, string]> = [
    ['$.is.the.time', 'now.is.the.time', 'now', 'is.the.time'],
    ['$.is.the.*', 'now.is.the.time', 'now', 'is.the.time'],
    ['$.is.the.**', 'now.is.the.time.to.come.to.the.aid', 'now', 'is.the.time.to.come.to.the.aid'],
    ['$.is.the.*', 'now.is.the.time.to.come.to.the.aid', undefined, ''],
    ['$.**.aid', 'now.is.the.time.to.come.to.the.aid', 'now', 'is.the.time.to.come.to.the.aid'],
    [
      '$.**.aid.of.their',
      'now.is.the.time.to.come.to.the.aid.backtrack.now.aid.of.their',
      'now',
      'is.the.time.to.come.to.the.aid.backtrack.now.aid.of.their',
    ],
    [
      'now.**.$.of.their',
      'now.is.the.time.to.come.to.the.aid.fake.aid.real.of.their',
      'real',
      'now.is.the.time.to.come.to.the.aid.fake.aid.of.their',
    ],
    [
      'now.**.aid.$.of.their',
      'now.is.the.time.to.come.to.the.aid.fake.aid.real.of.their',
      'real',
      'now.is.the.time.to.come.to.the.aid.fake.aid.of.their',
    ],
    ['now.is.$.time', 'now.is.the.time', 'the', 'now.is.time'],
    ['now.*.$.time', 'now.is.the.time', 'the', 'now.is.time'],
    ['now.is.the.$', 'now.is.the.time', 'time', 'now.is.the'],
    ['now.is.$.time', 'now.was.the.time', undefined, ''],
    ['now.$.the', 'now.is.the.time', undefined, ''],
    ['now.$.the.time.to', 'now.is.the.time', undefined, ''],
  ];
  for (const [pattern, stat, value, name] of cases) {
    it(`${pattern} on ${stat}`, () => {
      const got = one(pattern, stat);
      if (value === undefined) {
        assert.deepEqual(got, { name: stat, tags: [] });
      } else {
        assert.deepEqual(got, { name, tags: [{ name: 't', value }] });
      }
    });
  }
});

describe('regexPrefix (ExtractRegexPrefix)', () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ['^prefix(foo).', ''],
    ['^prefix\\.foo', 'prefix'],
    ['^prefix_optional(?=\\.)', 'prefix_optional'],
    ['^notACompleteToken', ''],
    ['^onlyToken$', 'onlyToken'],
    ['(prefix)', ''],
    ['^(prefix)', ''],
    ['prefix(foo)', ''],
  ];
  for (const [regex, prefix] of cases) it(regex, () => assert.equal(regexPrefix(regex), prefix));
});
