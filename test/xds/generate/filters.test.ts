// The filters both sides of a sidecar share: Istio's values per side, and each loads in the proxy.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseResource } from '../../../src/proxy/config/resource.js';
import { TYPE_URL } from '../../../src/proxy/config/resources/index.js';
import {
  istioStatsFilter,
  peerMetadataFilter,
  sidecarHttpFilters,
} from '../../../src/xds/generate/filters.js';

describe('shared sidecar filters', () => {
  it('istio.stats disables the Host fallback on the inbound side only (telemetry.go disableHostHeaderFallback)', () => {
    assert.deepEqual((istioStatsFilter('inbound').typed_config as { value: unknown }).value, {
      disable_host_header_fallback: true,
    });
    assert.deepEqual((istioStatsFilter('outbound').typed_config as { value: unknown }).value, {});
  });

  it('peer metadata is exchanged downstream inbound and upstream outbound, in Istio’s headers', () => {
    assert.deepEqual((peerMetadataFilter('inbound').typed_config as { value: unknown }).value, {
      downstream_discovery: [{ istio_headers: {} }],
      downstream_propagation: [{ istio_headers: {} }],
    });
    assert.deepEqual((peerMetadataFilter('outbound').typed_config as { value: unknown }).value, {
      upstream_discovery: [{ istio_headers: {} }],
      upstream_propagation: [{ istio_headers: {} }],
    });
  });

  for (const [side, direction, names] of [
    ['inbound', 'INBOUND', ['istio.metadata_exchange', 'istio.stats', 'envoy.filters.http.router']],
    [
      'outbound',
      'OUTBOUND',
      ['istio.metadata_exchange', 'istio.alpn', 'istio.stats', 'envoy.filters.http.router'],
    ],
  ] as const) {
    it(`${side}: ${names.join(', ')} — and the proxy loads them`, () => {
      const filters = sidecarHttpFilters(side);
      assert.deepEqual(
        filters.map((f) => f.name),
        names,
      );
      const listener = {
        name: 'l',
        address: { socket_address: { address: '127.0.0.1', port_value: 1 } },
        traffic_direction: direction,
        filter_chains: [
          {
            filters: [
              {
                name: 'envoy.filters.network.http_connection_manager',
                typed_config: {
                  '@type':
                    'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                  stat_prefix: 's',
                  route_config: { name: 'r', virtual_hosts: [] },
                  http_filters: filters,
                },
              },
            ],
          },
        ],
      };
      const t = parseResource(TYPE_URL.listener, listener);
      assert.deepEqual(
        t.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message),
        [],
      );
    });
  }
});
