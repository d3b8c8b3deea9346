// The global downstream connection limit: units taken and given back, the pressure gauge, and the limit the
// proxy runs with — the configured one, capped by what the file descriptors allow.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  ConnectionLimit,
  effectiveConnectionLimit,
  fdConnectionCap,
} from '../../../src/proxy/listener/connection-limit.js';
import { StatsStore } from '../../../src/proxy/stats/index.js';

describe('ConnectionLimit', () => {
  it('allows max units, refuses the next, and gives units back; the gauge is the pressure in percent', () => {
    const store = new StatsStore();
    const gauge = store.gauge('pressure');
    const l = new ConnectionLimit(4, gauge);
    for (let i = 0; i < 4; i++) assert.equal(l.tryAcquire(), true);
    assert.equal(l.tryAcquire(), false);
    assert.equal(gauge.value, 100);
    l.release();
    assert.equal(l.open, 3);
    assert.equal(gauge.value, 75);
    assert.equal(l.tryAcquire(), true);
    for (let i = 0; i < 10; i++) l.release();
    assert.equal(l.open, 0, 'never below zero');
  });
});

describe('the limit the proxy runs with', () => {
  const cases: [
    string,
    number | undefined,
    number | undefined,
    ReturnType<typeof effectiveConnectionLimit>,
  ][] = [
    ['nothing configured, no fd limit known: none (Envoy)', undefined, undefined, undefined],
    ['nothing configured: the fd cap', undefined, 9968, { max: 9968, source: 'file descriptors' }],
    ['configured below the cap', 100, 9968, { max: 100, source: 'configured' }],
    ["Istio's 2147483647: the cap", 2147483647, 9968, { max: 9968, source: 'file descriptors' }],
    ['configured, no fd limit known', 100, undefined, { max: 100, source: 'configured' }],
  ];
  for (const [name, configured, cap, expected] of cases) {
    it(name, () => assert.deepEqual(effectiveConnectionLimit(configured, cap), expected));
  }

  it('reads the cap from /proc/self/limits: half of the soft open-files limit after a reserve', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'skiff-limits-'));
    try {
      const file = path.join(dir, 'limits');
      const table = (soft: string) =>
        `Limit                     Soft Limit           Hard Limit           Units     \nMax processes             95000                95000                processes \nMax open files            ${soft}                20000                files     \n`;
      writeFileSync(file, table('20000'));
      assert.equal(fdConnectionCap(file), 9968);
      writeFileSync(file, table('unlimited'));
      assert.equal(fdConnectionCap(file), undefined);
      assert.equal(fdConnectionCap(path.join(dir, 'missing')), undefined);
      assert.ok((fdConnectionCap() ?? 1) > 0, 'this machine has a readable limit, or none');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
