// Envoy's pick among weighted clusters (pickClusterIndex, WeightedClusterUtil::pickCluster): the intervals
// [0, w1), [w1, w1 + w2), … of the selected value, a weight of 0 never picked, and the random draw mapped onto
// them so that each cluster's share is weight / sum exactly over an even spread of draws.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WeightedClustersConfig } from '../../../src/proxy/config/model.js';
import {
  clusterAt,
  pickCluster,
  pickWeightedCluster,
} from '../../../src/proxy/upstream/weighted-clusters.js';

const split = (...weights: [string, number][]): WeightedClustersConfig => ({
  clusters: weights.map(([name, weight]) => ({ name, weight })),
  totalWeight: weights.reduce((n, [, w]) => n + w, 0),
});

describe('weighted clusters: the interval of the selected value', () => {
  const w = split(['a', 1], ['zero', 0], ['b', 3], ['c', 6]);
  const cases: [number, string][] = [
    [0, 'a'],
    [1, 'b'],
    [3, 'b'],
    [4, 'c'],
    [9, 'c'],
  ];
  for (const [selected, cluster] of cases) {
    it(`${selected} of [0, 10) falls in ${cluster}’s interval`, () => {
      assert.equal(clusterAt(w, selected), cluster);
    });
  }

  it('never picks a cluster of weight 0, wherever it stands', () => {
    for (const ws of [
      split(['zero', 0], ['a', 2]),
      split(['a', 2], ['zero', 0]),
      split(['a', 1], ['zero', 0], ['b', 1]),
    ]) {
      for (let v = 0; v < ws.totalWeight; v++) assert.notEqual(clusterAt(ws, v), 'zero');
    }
  });
});

describe('weighted clusters: the random pick', () => {
  it('gives each cluster weight / sum of an even spread of draws, exactly', () => {
    const w = split(['v1', 90], ['v2', 10]);
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const c = pickWeightedCluster(w, () => i / 1000);
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(counts), { v1: 900, v2: 100 });
  });

  it('maps the ends of [0, 1) to the first and last intervals', () => {
    const w = split(['a', 1], ['b', 4_294_967_294]);
    assert.equal(
      pickWeightedCluster(w, () => 0),
      'a',
    );
    assert.equal(
      pickWeightedCluster(w, () => 0.999_999_999_999),
      'b',
    );
    assert.equal(
      pickWeightedCluster(w, () => 1 - Number.EPSILON),
      'b',
    );
  });

  it('draws from Math.random by default, in proportion over many picks', () => {
    const w = split(['a', 1], ['b', 3]);
    let a = 0;
    for (let i = 0; i < 4000; i++) if (pickWeightedCluster(w) === 'a') a++;
    // Expected 1000 (sd ≈ 27): far outside these bounds only with a broken pick.
    assert.ok(a > 800 && a < 1200, `a was picked ${a} times of 4000`);
  });

  it('is the configured cluster when there are no weighted clusters', () => {
    assert.equal(pickCluster({ cluster: 'app' }), 'app');
    assert.equal(pickCluster({ cluster: '', weightedClusters: split(['x', 1]) }), 'x');
  });
});
