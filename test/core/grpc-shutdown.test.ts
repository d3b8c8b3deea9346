import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shutdownGrpcServer } from '../../src/core/grpc-shutdown.js';

describe('shutdownGrpcServer', () => {
  it('resolves when the graceful shutdown completes, without forcing', async () => {
    let forced = false;
    await shutdownGrpcServer(
      { tryShutdown: (cb) => setImmediate(cb), forceShutdown: () => (forced = true) },
      1000,
    );
    assert.equal(forced, false);
  });

  it('forces the shutdown once the grace period is over', async () => {
    let forced = false;
    const t0 = Date.now();
    await shutdownGrpcServer({ tryShutdown: () => {}, forceShutdown: () => (forced = true) }, 50);
    assert.equal(forced, true);
    assert.ok(Date.now() - t0 >= 40);
  });
});
