// CI run of the `client-hello` fuzz target (test/fuzz/targets/client-hello.ts): fixed seed, bounded inputs, saved fixtures replayed.

import { fileURLToPath } from 'node:url';
import { fuzzSuite } from './suite.js';
import { clientHelloTarget } from './targets/client-hello.js';

fuzzSuite(await clientHelloTarget(), fileURLToPath(import.meta.url));
