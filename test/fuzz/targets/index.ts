// The fuzz targets by name, for the CI tests and `npm run fuzz -- --target NAME`.

import type { FuzzTarget } from '../harness.js';
import { bootstrapTarget } from './bootstrap.js';
import { clientHelloTarget } from './client-hello.js';
import { http1Target } from './http1.js';
import { istioConfigTarget } from './istio-config.js';

export const TARGETS: Readonly<Record<string, () => Promise<FuzzTarget>>> = {
  'client-hello': clientHelloTarget,
  http1: http1Target,
  bootstrap: bootstrapTarget,
  'istio-config': istioConfigTarget,
};
