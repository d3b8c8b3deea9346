// CI run of the `bootstrap` fuzz target (test/fuzz/targets/bootstrap.ts): fixed seed, bounded inputs, saved fixtures replayed.

import { fileURLToPath } from 'node:url';
import { fuzzSuite } from './suite.js';
import { bootstrapTarget } from './targets/bootstrap.js';

fuzzSuite(await bootstrapTarget(), fileURLToPath(import.meta.url));
