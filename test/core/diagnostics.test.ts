import assert from 'node:assert/strict';
import { it } from 'node:test';
import { formatDiagnostic, hasErrors, showValue } from '../../src/core/diagnostics.js';

it('formatDiagnostic names file, line, document, resource, field, message and code', () => {
  assert.equal(
    formatDiagnostic({
      severity: 'error',
      code: 'SKIFF_CONFIG_ENUM',
      file: 'p.yaml',
      line: 9,
      document: 2,
      resource: 'PeerAuthentication shop/x',
      path: ['spec', 'mtls', 'mode'],
      message: 'invalid value "X"',
    }),
    'error: p.yaml:9 (document 2) PeerAuthentication shop/x: spec.mtls.mode: invalid value "X" [SKIFF_CONFIG_ENUM]',
  );
  assert.equal(formatDiagnostic({ severity: 'warning', code: 'C', message: 'm' }), 'warning: m [C]');
});

it('hasErrors ignores warnings', () => {
  assert.equal(hasErrors([{ severity: 'warning', code: 'C', message: 'm' }]), false);
  assert.equal(hasErrors([{ severity: 'error', code: 'C', message: 'm' }]), true);
});

it('showValue quotes and shortens', () => {
  assert.equal(showValue('a'), '"a"');
  assert.equal(showValue(3), '3');
  assert.equal(showValue(undefined), 'nothing');
  assert.equal(showValue('x'.repeat(200)).length, 80);
});
