// CI run of the `http1` fuzz target (test/fuzz/targets/http1.ts): fixed seed, bounded inputs, saved fixtures replayed.

import { fileURLToPath } from 'node:url';
import { fuzzSuite } from './suite.js';
import { http1Target } from './targets/http1.js';

fuzzSuite(await http1Target(), fileURLToPath(import.meta.url));
