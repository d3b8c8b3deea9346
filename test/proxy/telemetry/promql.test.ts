// The test-side PromQL evaluator (test/e2e/helpers/promql.ts) on literal scrapes: the exposition parser,
// selectors, sum by, one-to-one division, rate over two scrapes with target labels, and the seed's two queries.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate, formatVector, parseExposition, SeriesStore } from '../../e2e/helpers/promql.js';

describe('parseExposition', () => {
  it('reads samples, skips comments and blank lines, unescapes label values', () => {
    const samples = parseExposition(
      [
        '# HELP x_total Things.',
        '# TYPE x_total counter',
        'x_total{a="1",b="q\\"uote\\\\back\\nline"} 3',
        '',
        'up 1 1700000000000',
        'h_bucket{le="+Inf"} 4',
        'g{} NaN',
        'n -Inf',
        'e 1.5e3',
      ].join('\n'),
    );
    assert.deepEqual(samples[0], {
      labels: { __name__: 'x_total', a: '1', b: 'q"uote\\back\nline' },
      value: 3,
    });
    assert.deepEqual(samples[1], { labels: { __name__: 'up' }, value: 1, time: 1700000000 });
    assert.deepEqual(samples[2], { labels: { __name__: 'h_bucket', le: '+Inf' }, value: 4 });
    assert.ok(Number.isNaN(samples[3]?.value));
    assert.equal(samples[4]?.value, Number.NEGATIVE_INFINITY);
    assert.equal(samples[5]?.value, 1500);
  });

  it('refuses what is not the format', () => {
    assert.throws(() => parseExposition('x_total{a=1} 3'), /bad labels/);
    assert.throws(() => parseExposition('x_total{a="1",a="2"} 3'), /repeated/);
    assert.throws(() => parseExposition('x_total 3 4 5'), /cannot read/);
    assert.throws(() => parseExposition('x_total abc'), /bad value/);
  });
});

const SCRAPE = `
# TYPE req counter
req{svc="a",policy="mtls",reporter="source"} 6
req{svc="a",policy="mtls",reporter="destination"} 6
req{svc="a",policy="none",reporter="destination"} 2
req{svc="b",policy="none",reporter="destination"} 5
other{svc="a"} 100
`;

describe('evaluate', () => {
  it('selectors with =, !=, =~, !~ (anchored regexes)', () => {
    assert.deepEqual(formatVector(evaluate('req{policy="none",svc!="b"}', { text: SCRAPE })), [
      '{__name__="req",policy="none",reporter="destination",svc="a"} 2',
    ]);
    assert.equal(formatVector(evaluate('req{svc=~"a|b"}', { text: SCRAPE })).length, 4);
    assert.equal(formatVector(evaluate('req{svc=~"."}', { text: SCRAPE })).length, 4);
    assert.equal(formatVector(evaluate('req{svc=~"a."}', { text: SCRAPE })).length, 0);
    assert.equal(formatVector(evaluate('req{reporter!~"sou.*"}', { text: SCRAPE })).length, 3);
    assert.equal(formatVector(evaluate('{svc="a"}', { text: SCRAPE })).length, 4);
  });

  it('sum, sum by (grouping before or after), count, max, avg', () => {
    assert.deepEqual(formatVector(evaluate('sum(req)', { text: SCRAPE })), ['{} 19']);
    assert.deepEqual(formatVector(evaluate('sum(req) by (svc)', { text: SCRAPE })), [
      '{svc="a"} 14',
      '{svc="b"} 5',
    ]);
    assert.deepEqual(formatVector(evaluate('sum by (svc) (req)', { text: SCRAPE })), [
      '{svc="a"} 14',
      '{svc="b"} 5',
    ]);
    assert.deepEqual(formatVector(evaluate('count(req) by (policy)', { text: SCRAPE })), [
      '{policy="mtls"} 2',
      '{policy="none"} 2',
    ]);
    assert.deepEqual(formatVector(evaluate('max(req) by (svc)', { text: SCRAPE })), [
      '{svc="a"} 6',
      '{svc="b"} 5',
    ]);
    assert.deepEqual(formatVector(evaluate('avg(req)', { text: SCRAPE })), ['{} 4.75']);
    assert.deepEqual(formatVector(evaluate('sum without (reporter, policy) (req)', { text: SCRAPE })), [
      '{svc="a"} 14',
      '{svc="b"} 5',
    ]);
  });

  it('vector / vector matches one-to-one on all labels but the name; unmatched elements drop out', () => {
    assert.deepEqual(
      formatVector(
        evaluate('sum(req{policy="mtls"}) by (svc) / sum(req) by (svc)', {
          text: SCRAPE,
        }),
      ),
      ['{svc="a"} 0.8571428571428571'],
    );
    assert.deepEqual(formatVector(evaluate('req{policy="mtls"} * 2', { text: SCRAPE })), [
      '{policy="mtls",reporter="destination",svc="a"} 12',
      '{policy="mtls",reporter="source",svc="a"} 12',
    ]);
    assert.equal(evaluate('(1 + 2) * 3 - 4 / 2', { text: '' }), 7);
    assert.deepEqual(formatVector(evaluate('req / other', { text: SCRAPE })), []);
    assert.throws(
      () => evaluate('z / {a="1"}', { text: 'z{a="1"} 5\nx{a="1"} 1\ny{a="1"} 2' }),
      /many-to-many matching on the right side/,
    );
  });

  it('rate: plain slope over the samples in the range, counter resets added back, needs two samples', () => {
    const scrapes = [
      { text: 'c{x="1"} 10\nc{x="2"} 5', time: 0 },
      { text: 'c{x="1"} 70\nc{x="2"} 2', time: 60 }, // x=2 restarted: 5 → 2 counts as +2
      { text: 'c{x="1"} 130\nc{x="2"} 8', time: 120 },
    ];
    assert.deepEqual(formatVector(evaluate('rate(c[5m])', scrapes)), [
      '{x="1"} 1',
      '{x="2"} 0.06666666666666667',
    ]);
    assert.deepEqual(formatVector(evaluate('rate(c[1m])', scrapes)), []); // (60, 120]: one sample each
    assert.deepEqual(formatVector(evaluate('rate(c[90s])', scrapes)), ['{x="1"} 1', '{x="2"} 0.1']);
    assert.deepEqual(formatVector(evaluate('rate(c[5m])', scrapes, { time: 60 })), [
      '{x="1"} 1',
      '{x="2"} 0.03333333333333333',
    ]);
  });

  it('instant selectors take the latest sample within 5 minutes', () => {
    const scrapes = [
      { text: 'g 1', time: 0 },
      { text: 'g 2', time: 100 },
    ];
    assert.deepEqual(formatVector(evaluate('g', scrapes)), ['{__name__="g"} 2']);
    assert.deepEqual(formatVector(evaluate('g', scrapes, { time: 50 })), ['{__name__="g"} 1']);
    assert.deepEqual(formatVector(evaluate('g', scrapes, { time: 401 })), []);
  });

  it('target labels join every sample; a scraped label of the same name becomes exported_<name>', () => {
    const store = new SeriesStore([{ text: 'm{pod="inner"} 1\nm 2', target: { pod: 'outer' } }]);
    assert.deepEqual(formatVector(evaluate('m', store)), [
      '{__name__="m",exported_pod="inner",pod="outer"} 1',
      '{__name__="m",pod="outer"} 2',
    ]);
  });

  it('refuses what it does not implement rather than misreading it', () => {
    for (const expr of [
      'sum(req) by (svc) / on(svc) sum(req) by (svc)',
      'req offset 5m',
      'req == 1',
      'irate(req[5m])',
      'req and req',
      'rate(req)',
      'req[5m]',
      'topk(1, req)',
    ]) {
      assert.throws(() => evaluate(expr, { text: SCRAPE }), /promql:/, expr);
    }
  });
});

describe('the seed’s queries on literal scrapes', () => {
  const MTLS_RATIO =
    'sum(istio_requests_total{connection_security_policy="mutual_tls"}) by (destination_service) / ' +
    'sum(istio_requests_total) by (destination_service)';
  const HANDSHAKE_ERRORS = 'sum(rate(envoy_cluster_ssl_handshake_error[5m])) by (pod)';

  it('query 1 under Istio: the source side says unknown, so 100 % mTLS reads 0.5', () => {
    const scrape = [
      'istio_requests_total{reporter="source",destination_service="b.ns.svc.cluster.local",connection_security_policy="unknown"} 10',
      'istio_requests_total{reporter="destination",destination_service="b.ns.svc.cluster.local",connection_security_policy="mutual_tls"} 10',
    ].join('\n');
    assert.deepEqual(formatVector(evaluate(MTLS_RATIO, { text: scrape })), [
      '{destination_service="b.ns.svc.cluster.local"} 0.5',
    ]);
  });

  it('query 2: handshake errors per second, per pod, from two scrapes of two pods', () => {
    const a = (v: number) =>
      `envoy_cluster_ssl_handshake_error{cluster_name="outbound|8080||b.ns.svc.cluster.local"} ${v}`;
    const scrapes = [
      { text: a(0), time: 0, target: { pod: 'a-1' } },
      { text: 'envoy_cluster_ssl_handshake_error{cluster_name="x"} 4', time: 0, target: { pod: 'c-1' } },
      { text: a(30), time: 60, target: { pod: 'a-1' } },
      { text: 'envoy_cluster_ssl_handshake_error{cluster_name="x"} 4', time: 60, target: { pod: 'c-1' } },
    ];
    assert.deepEqual(formatVector(evaluate(HANDSHAKE_ERRORS, scrapes)), ['{pod="a-1"} 0.5', '{pod="c-1"} 0']);
  });
});
