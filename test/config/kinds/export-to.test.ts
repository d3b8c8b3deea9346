// validateExportTo: Istio's rules for exportTo (validation.go), shared by DestinationRule, ServiceEntry and
// VirtualService.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateExportTo } from '../../../src/config/kinds/export-to.js';

const NS = 'shop';

describe('validateExportTo', () => {
  it('accepts nothing, ".", "*", namespaces, and the own namespace', () => {
    for (const exportTo of [[], ['.'], ['*'], ['other'], ['other', 'shop'], ['.', 'other'], ['Upper']]) {
      assert.deepEqual(validateExportTo(NS, exportTo, {}), [], exportTo.join(','));
    }
  });

  it('duplicates: "." and the own namespace, or one entry twice', () => {
    assert.deepEqual(validateExportTo(NS, ['shop', '.'], {}), [
      'duplicate entries in exportTo: . and current namespace shop',
    ]);
    assert.deepEqual(validateExportTo(NS, ['.', 'shop'], {}), [
      'duplicate entries in exportTo for entry shop',
    ]);
    assert.deepEqual(validateExportTo(NS, ['a', 'a'], {}), ['duplicate entries in exportTo for entry a']);
    assert.deepEqual(validateExportTo(NS, ['.', '.'], {}), [
      'duplicate entries in exportTo: . and current namespace shop',
    ]);
  });

  it('an entry must be ".", "*" or a DNS-1123 label', () => {
    for (const entry of ['bad_ns', 'a.b', '-a', 'x'.repeat(64), '']) {
      assert.deepEqual(
        validateExportTo(NS, [entry], {}),
        ['only .,*,~, or a valid DNS 1123 label is allowed as exportTo entry'],
        entry,
      );
    }
  });

  it('"~" is for ServiceEntry only, and alone', () => {
    assert.deepEqual(validateExportTo(NS, ['~'], {}), [
      'exportTo ~ (none) is not allowed for Istio configuration objects',
    ]);
    assert.deepEqual(validateExportTo(NS, ['~'], { serviceEntry: true }), []);
    assert.deepEqual(validateExportTo(NS, ['~', 'other'], { serviceEntry: true }), [
      'cannot export service entry to no one (~) and someone',
    ]);
    assert.deepEqual(validateExportTo(NS, ['~', '~'], { serviceEntry: true }), [
      'duplicate entries in exportTo for entry ~',
      'cannot export service entry to no one (~) and someone',
    ]);
  });

  it('"*" must be alone', () => {
    assert.deepEqual(validateExportTo(NS, ['*', 'other'], {}), [
      'cannot have both public (*) and non-public exportTo values for a resource',
    ]);
    assert.deepEqual(validateExportTo(NS, ['*', '*'], {}), [
      'duplicate entries in exportTo for entry *',
      'cannot have both public (*) and non-public exportTo values for a resource',
    ]);
    assert.deepEqual(validateExportTo(NS, ['*', '~'], { serviceEntry: true }), [
      'cannot have both public (*) and non-public exportTo values for a resource',
      'cannot export service entry to no one (~) and someone',
    ]);
  });

  it('a DestinationRule with a workloadSelector stays in its namespace', () => {
    const opts = { destinationRuleWithSelector: true };
    assert.deepEqual(validateExportTo(NS, ['.'], opts), []);
    assert.deepEqual(validateExportTo(NS, ['shop'], opts), []);
    assert.deepEqual(validateExportTo(NS, [], opts), []);
    assert.deepEqual(validateExportTo(NS, ['*'], opts), [
      'destination rule with workload selector cannot have exportTo beyond current namespace',
    ]);
    assert.deepEqual(validateExportTo(NS, ['other'], opts), [
      'destination rule with workload selector cannot have exportTo beyond current namespace',
    ]);
    assert.deepEqual(validateExportTo(NS, ['.', 'other'], opts), [
      'destination rule with workload selector cannot have multiple entries in exportTo',
    ]);
  });
});
