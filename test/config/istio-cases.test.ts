// Istio's own validation test cases (pkg/config/validation/*_test.go), transcribed as YAML resources under
// test/fixtures/config/istio-cases/<kind>/{valid,invalid}.yaml: each valid document loads with no error, each
// invalid one with at least one. Documents are loaded one by one so that one case cannot hide another.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { formatDiagnostic } from '../../src/core/diagnostics.js';
import { fixture } from '../helpers.js';

interface IstioCase {
  /** The Istio test function and case name, from the comment that opens the document. */
  title: string;
  /** Istio expects a warning (the comment says "valid with a warning"). */
  warning: boolean;
  text: string;
}

function istioCases(kind: string, file: 'valid' | 'invalid'): IstioCase[] {
  const text = readFileSync(fixture('config', 'istio-cases', kind, `${file}.yaml`), 'utf8');
  return (
    text
      .split(/^---$/m)
      // A document of comments only (a file's header) is no case.
      .filter((doc) => doc.replace(/^\s*#.*$/gm, '').trim() !== '')
      .map((doc) => {
        const title = /^# (.+)$/m.exec(doc)?.[1] ?? doc.trim().split('\n')[0] ?? '';
        return { title, warning: title.includes('(valid with a warning)'), text: doc };
      })
  );
}

function check(kind: string): void {
  for (const c of istioCases(kind, 'valid')) {
    it(`valid: ${c.title}`, () => {
      const snapshot = loadConfig([{ path: `${kind}/valid.yaml`, text: c.text }]);
      const errors = snapshot.diagnostics.filter((d) => d.severity === 'error');
      assert.deepEqual(errors.map(formatDiagnostic), []);
      assert.equal(snapshot.resources.length, 1, 'the resource is loaded');
      if (c.warning) {
        const warnings = snapshot.diagnostics.filter(
          (d) => d.severity === 'warning' && d.code !== 'SKIFF_CONFIG_NOT_ENFORCED',
        );
        assert.ok(warnings.length > 0, 'Istio warns about this case');
      }
    });
  }
  for (const c of istioCases(kind, 'invalid')) {
    it(`invalid: ${c.title}`, () => {
      const snapshot = loadConfig([{ path: `${kind}/invalid.yaml`, text: c.text }]);
      const errors = snapshot.diagnostics.filter((d) => d.severity === 'error');
      assert.ok(errors.length > 0, 'Istio rejects this case, Skiff accepted it');
    });
  }
}

describe('Istio validation cases: VirtualService', () => check('virtual-service'));
describe('Istio validation cases: Gateway', () => check('gateway'));
describe('Istio validation cases: DestinationRule', () => check('destination-rule'));
describe('Istio validation cases: ServiceEntry', () => check('service-entry'));
describe('Istio validation cases: WorkloadEntry', () => check('workload-entry'));
