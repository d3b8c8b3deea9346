// Where the fuzz targets find their seed inputs: test/fuzz/fixtures/<target>/, whose raw files (the seed-*
// captures and every failure a run saved) are both replayed by the CI tests and mutated by the properties.

import path from 'node:path';
import { repoRoot } from '../../helpers.js';
import { loadFixtures, type RawInput } from '../harness.js';

export const fixturesDir = path.join(repoRoot, 'test', 'fuzz', 'fixtures');

/** The raw fixtures of a target, in file order. */
export function seedInputs(target: string): RawInput[] {
  return loadFixtures(fixturesDir, target).flatMap((f) => (f.kind === 'raw' ? [f.input] : []));
}
