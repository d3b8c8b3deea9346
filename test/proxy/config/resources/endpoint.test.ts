// The ClusterLoadAssignment resource alone (EDS): every field of its support table, which health statuses still
// get connections (Envoy: UNHEALTHY, DRAINING and TIMEOUT do not), each problem at its path, and its name.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../../../src/proxy/config/json.js';
import { parseResource } from '../../../../src/proxy/config/resource.js';
import type { LoadAssignmentConfig } from '../../../../src/proxy/config/resources/endpoint.js';
import { TYPE_URL } from '../../../../src/proxy/config/resources/index.js';
import { error, type Problem, problems, socketAddress } from '../fixtures.js';

const parse = (input: unknown) => parseResource(TYPE_URL.endpoint, input);

function ok(input: JsonObject): LoadAssignmentConfig {
  const r = parse(input);
  assert.deepEqual(problems(r.diagnostics), []);
  assert.ok(r.value);
  assert.deepEqual(r.refs, [], 'endpoints name no other resource');
  return r.value;
}

const lb = (fields: JsonObject = {}): JsonObject => ({
  endpoint: { address: socketAddress('10.0.0.1', 9080) },
  ...fields,
});
const assignment = (...lbEndpoints: JsonObject[]): JsonObject => ({
  cluster_name: 'app',
  endpoints: [{ lb_endpoints: lbEndpoints }],
});

describe('ClusterLoadAssignment: every field of its support table', () => {
  it('is named by cluster_name, as EDS subscriptions name it', () => {
    const r = parse(assignment(lb()));
    assert.equal(r.name, 'app');
    assert.equal(r.value?.clusterName, 'app');
  });

  it('reads every endpoint of every locality in order, with an endpoint’s defaults', () => {
    const v = ok({
      cluster_name: 'app',
      endpoints: [
        {
          locality: { region: 'r', zone: 'z', sub_zone: 's' },
          lb_endpoints: [lb(), lb({ endpoint: { address: socketAddress('::1', 1) } })],
        },
        { lb_endpoints: [lb({ endpoint: { address: socketAddress('10.0.0.3', 3), hostname: 'app-3' } })] },
      ],
    });
    assert.deepEqual(v.endpoints, [
      { address: { host: '10.0.0.1', port: 9080 }, healthy: true, metadata: {}, transportMatch: {} },
      { address: { host: '::1', port: 1 }, healthy: true, metadata: {}, transportMatch: {} },
      { address: { host: '10.0.0.3', port: 3 }, healthy: true, metadata: {}, transportMatch: {} },
    ]);
  });

  it('reads endpoint weights (absent: none, i.e. 1) and records locality weights', () => {
    const v = ok({
      cluster_name: 'app',
      endpoints: [
        {
          locality: { region: 'r' },
          load_balancing_weight: 5,
          lb_endpoints: [
            lb({ load_balancing_weight: 3 }),
            lb({ endpoint: { address: socketAddress('10.0.0.2', 1) } }),
          ],
        },
      ],
    });
    assert.deepEqual(
      v.endpoints.map((e) => e.weight),
      [3, undefined],
    );
  });

  it('reads no endpoints as none', () => {
    assert.deepEqual(ok({ cluster_name: 'app' }).endpoints, []);
    assert.deepEqual(ok({ cluster_name: 'app', endpoints: [{ lb_endpoints: [] }] }).endpoints, []);
  });

  const health: [string, boolean][] = [
    ['UNKNOWN', true],
    ['HEALTHY', true],
    ['DEGRADED', true],
    ['UNHEALTHY', false],
    ['DRAINING', false],
    ['TIMEOUT', false],
  ];
  for (const [status, healthy] of health) {
    it(`reads health_status ${status}: ${healthy ? 'gets' : 'gets no'} new connections`, () => {
      assert.equal(ok(assignment(lb({ health_status: status }))).endpoints[0]?.healthy, healthy);
    });
  }

  it('keeps metadata whole and reads its envoy.transport_socket_match part for transport socket matches', () => {
    const metadata = {
      filter_metadata: { 'envoy.transport_socket_match': { tlsMode: 'istio' }, istio: { workload: 'a' } },
    };
    const e = ok(assignment(lb({ metadata }))).endpoints[0];
    assert.deepEqual(e?.metadata, metadata);
    assert.deepEqual(e?.transportMatch, { tlsMode: 'istio' });
  });
});

describe('ClusterLoadAssignment: problems, each at its path', () => {
  const cases: [string, JsonObject, Problem[]][] = [
    [
      'no cluster_name',
      { endpoints: [] },
      [error('cluster_name', 'proxy.validate', 'is required (must not be empty)')],
    ],
    [
      'an endpoint without an address',
      assignment(lb(), {}),
      [
        error(
          'endpoints[0].lb_endpoints[1].endpoint.address',
          'proxy.address',
          'socket_address is required (pipes and internal addresses are not implemented)',
        ),
      ],
    ],
    [
      'an endpoint that is a host name',
      assignment(lb({ endpoint: { address: socketAddress('app.local', 80) } })),
      [
        error(
          'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address',
          'proxy.address',
          '"app.local" is not an IP address',
        ),
      ],
    ],
    [
      'an endpoint weight of 0 (Envoy: at least 1)',
      assignment(lb({ load_balancing_weight: 0 })),
      [error('endpoints[0].lb_endpoints[0].load_balancing_weight', 'proxy.validate', '0 must be at least 1')],
    ],
    [
      'locality priorities',
      { cluster_name: 'app', endpoints: [{ priority: 1, lb_endpoints: [lb()] }] },
      [
        error(
          'endpoints[0].priority',
          'proxy.unsupported',
          'field "priority" of envoy.config.endpoint.v3.LocalityLbEndpoints is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
        ),
      ],
    ],
    [
      'a health status that is not one',
      assignment(lb({ health_status: 'SICK' })),
      [
        error(
          'endpoints[0].lb_endpoints[0].health_status',
          'proxy.enum',
          '"SICK" is not a value of envoy.config.core.v3.HealthStatus; expected one of UNKNOWN, HEALTHY, UNHEALTHY, DRAINING, TIMEOUT, DEGRADED',
        ),
      ],
    ],
  ];
  for (const [what, input, expected] of cases) {
    it(`refuses ${what}`, () => {
      const r = parse(input);
      assert.deepEqual(problems(r.diagnostics), expected);
      assert.equal(r.value, undefined);
    });
  }
});
