import assert from 'node:assert/strict';
import { it } from 'node:test';
import { formatPath } from '../../src/core/field-path.js';

it('formatPath renders keys, indices and unusual keys as users write them', () => {
  assert.equal(formatPath([]), '');
  assert.equal(formatPath(['spec', 'mtls', 'mode']), 'spec.mtls.mode');
  assert.equal(formatPath(['items', 2, 'metadata', 'name']), 'items[2].metadata.name');
  assert.equal(formatPath(['spec', 'portLevelMtls', '8080', 'mode']), 'spec.portLevelMtls["8080"].mode');
  assert.equal(
    formatPath(['metadata', 'labels', 'app.kubernetes.io/name']),
    'metadata.labels["app.kubernetes.io/name"]',
  );
  assert.equal(formatPath([0, 'a']), '[0].a');
});
