// Real YAML from istio.io task pages, Istio's samples/ and its API reference (test/fixtures/config/istio-real,
// sources in its README): it must load with no error, as Istio accepts it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigDir } from '../../src/config/sources/files.js';
import { formatDiagnostic } from '../../src/core/diagnostics.js';
import { fixture } from '../helpers.js';

describe('real Istio YAML', () => {
  it('loads with no error, every kind represented', async () => {
    const snapshot = await loadConfigDir(fixture('config', 'istio-real'));
    const errors = snapshot.diagnostics.filter((d) => d.severity === 'error');
    assert.deepEqual(errors.map(formatDiagnostic), []);
    const count = (kind: string) => snapshot.resources.filter((r) => r.kind === kind).length;
    for (const kind of [
      'DestinationRule',
      'ServiceEntry',
      'WorkloadEntry',
      'Gateway',
      'VirtualService',
      'Service',
    ]) {
      assert.ok(count(kind) > 0, `no ${kind} in the corpus`);
    }
    assert.ok(snapshot.resources.length >= 150, `only ${snapshot.resources.length} resources`);
  });
});
