// CI run of the `istio-config` fuzz target (test/fuzz/targets/istio-config.ts): fixed seed, bounded inputs, saved fixtures replayed.

import { fileURLToPath } from 'node:url';
import { fuzzSuite } from './suite.js';
import { istioConfigTarget } from './targets/istio-config.js';

fuzzSuite(await istioConfigTarget(), fileURLToPath(import.meta.url));
