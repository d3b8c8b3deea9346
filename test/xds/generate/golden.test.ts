// The golden files: generation's whole output for each case, compared byte for byte. A change to them is
// reviewed as a diff (regenerate with UPDATE_GOLDEN=1). Every resource in them must also load through the
// sidecar's own translation of xDS resources with no error.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseResource } from '../../../src/proxy/config/resource.js';
import { TYPE_URL } from '../../../src/proxy/config/resources/index.js';
import { goldenCases, goldenJson, runGolden, TESTDATA } from './golden.js';

const UPDATE = process.env.UPDATE_GOLDEN === '1';

describe('golden cases (testdata/*.in.yaml → *.out.json)', () => {
  const cases = goldenCases();

  it('covers the cases the control plane promises', () => {
    assert.deepEqual(
      cases.map((c) => c.name),
      [
        'destination-rule',
        'disable',
        'mixed-endpoints',
        'permissive',
        'port-level',
        'service-entry',
        'strict',
        'undeclared-port',
        'workload-over-namespace',
      ],
    );
  });

  for (const c of cases) {
    describe(c.name, () => {
      const run = runGolden(c);

      it('loads without errors', () => assert.deepEqual(run.errors, []));

      it(`matches ${c.name}.out.json`, () => {
        const file = path.join(TESTDATA, `${c.name}.out.json`);
        const got = goldenJson(run);
        if (UPDATE) writeFileSync(file, got);
        assert.equal(got, readFileSync(file, 'utf8'), `regenerate with UPDATE_GOLDEN=1 and review the diff`);
      });

      it('every resource loads through the sidecar’s translation of xDS resources', () => {
        for (const [proxy, g] of run.generated) {
          const all = [
            ...g.resources.listeners.map((r) => [TYPE_URL.listener, r] as const),
            ...g.resources.clusters.map((r) => [TYPE_URL.cluster, r] as const),
            ...[...g.resources.endpoints.values()].map((r) => [TYPE_URL.endpoint, r] as const),
            ...[...g.resources.routes.values()].map((r) => [TYPE_URL.route, r] as const),
          ];
          assert.ok(all.length > 0, `${proxy}: something is generated`);
          for (const [url, r] of all) {
            const t = parseResource(url, r);
            assert.deepEqual(
              t.diagnostics
                .filter((d) => d.severity === 'error')
                .map((d) => `${d.path?.join('.')}: ${d.message}`),
              [],
              `${proxy}: ${url.split('.').pop()} ${t.name}`,
            );
          }
        }
      });
    });
  }
});
