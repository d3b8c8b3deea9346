// The CI side of a fuzz target: each property runs a fixed number of inputs from a fixed seed (printed; set
// FUZZ_SEED to another, and FUZZ_PATH to fast-check's path, to replay a failure), then every saved fixture of
// the target is replayed. Long runs with random seeds are scripts/fuzz.js (`npm run fuzz`).

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { type FuzzTarget, loadFixtures, replayFixture, runProperty } from './harness.js';
import { fixturesDir } from './targets/seeds.js';

/** The CI seed: fixed, so a red run is red again on the same code. */
export const CI_SEED = 23;

function seedFromEnv(): number {
  const raw = process.env.FUZZ_SEED;
  return raw === undefined || raw === '' ? CI_SEED : Number(raw);
}

export function fuzzSuite(target: FuzzTarget, file: string): void {
  const seed = seedFromEnv();
  const replayPath = process.env.FUZZ_PATH || undefined;
  describe(`fuzz ${target.name} (seed ${seed})`, () => {
    after(() => target.close?.());
    for (const p of target.properties) {
      it(p.name, async (t) => {
        const outcome = await runProperty(p, {
          seed,
          numRuns: p.ciRuns,
          ...(replayPath ? { path: replayPath } : {}),
        });
        t.diagnostic(`${outcome.runs} inputs, seed ${seed}`);
        if (outcome.failure) {
          const f = outcome.failure;
          assert.fail(
            `${target.name}: ${p.name}\n${f.report}\n` +
              `replay: FUZZ_SEED=${f.seed} FUZZ_PATH=${f.path} node --test ${path.relative(process.cwd(), file)}`,
          );
        }
      });
    }
    it('replays every saved fixture (seeds and past failures)', async (t) => {
      const fixtures = loadFixtures(fixturesDir, target.name);
      assert.ok(fixtures.length > 0, `no fixtures in ${path.join(fixturesDir, target.name)}`);
      for (const fixture of fixtures) {
        try {
          await replayFixture(target, fixture);
        } catch (err) {
          assert.fail(`${path.relative(fixturesDir, fixture.file)}: ${String(err)}`);
        }
      }
      t.diagnostic(`${fixtures.length} fixtures`);
    });
  });
}
