// `envoy.filters.http.router`, the last HTTP filter: forwards a routed request to its cluster (the connection
// manager runs it, hcm.ts). Its own settings are none that Skiff honours yet; per-route behaviour (timeouts,
// retries) comes with the route (config/resources/route.ts).

import type { Extension } from '../../../config/extension.js';

export const ROUTER: Extension<'envoy.filters.http'> = {
  name: 'envoy.filters.http.router',
  category: 'envoy.filters.http',
  types: ['envoy.extensions.filters.http.router.v3.Router'],
  summary: 'Forwards each request to the cluster its route names (last filter).',
  support: { 'envoy.extensions.filters.http.router.v3.Router': {} },
  translate: () => ({ kind: 'router' }),
};
