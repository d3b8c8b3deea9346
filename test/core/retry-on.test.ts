import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENVOY_RETRY_ON } from '../../src/core/retry-on.js';
import { RETRY_ON_NOT_IMPLEMENTED, RETRY_ON_TOKENS } from '../../src/proxy/filters/http/router/retry.js';

describe("Envoy's retry_on names", () => {
  it('are listed once each, in lower case as Envoy spells them', () => {
    assert.equal(new Set(ENVOY_RETRY_ON).size, ENVOY_RETRY_ON.length);
    for (const t of ENVOY_RETRY_ON) assert.match(t, /^[a-z0-9-]+$/);
  });

  it("split into the router's honoured tokens and the ones it refuses, nothing lost or added", () => {
    assert.deepEqual([...RETRY_ON_TOKENS, ...RETRY_ON_NOT_IMPLEMENTED].sort(), [...ENVOY_RETRY_ON].sort());
    assert.deepEqual(RETRY_ON_NOT_IMPLEMENTED, ['retriable-headers']);
  });
});
