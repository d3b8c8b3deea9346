// One xDS resource on its own, as ADS will deliver it: decoded against Envoy's protos and translated by its
// type's module, every problem with its path, references reported instead of checked, nothing thrown.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../../../src/core/diagnostics.js';
import { parseResource } from '../../../src/proxy/config/resource.js';
import { TYPE_URL } from '../../../src/proxy/config/resources/index.js';

const tcpListener = {
  name: 'virtualInbound',
  address: { socket_address: { address: '127.0.0.1', port_value: 15006 } },
  filter_chains: [
    {
      filters: [
        {
          name: 'envoy.filters.network.tcp_proxy',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
            stat_prefix: 'in',
            cluster: 'inbound|9080||',
          },
        },
      ],
    },
  ],
};

describe('parseResource', () => {
  it('translates a Listener alone and reports the cluster it names as a reference, not a problem', () => {
    const r = parseResource(TYPE_URL.listener, tcpListener, ['resources', 0]);
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.name, 'virtualInbound');
    assert.equal(r.value?.filterChains[0]?.filters[0]?.kind, 'tcp_proxy');
    assert.deepEqual(
      r.refs.map((x) => [x.kind, x.name, x.path.join('.')]),
      [['cluster', 'inbound|9080||', 'resources.0.filter_chains.0.filters.0.typed_config.cluster']],
    );
  });

  it('refuses an unknown extension type with its path, and a misspelled field inside typed_config', () => {
    const bad = structuredClone(tcpListener) as Record<string, unknown>;
    const chain = (bad.filter_chains as { filters: { typed_config: Record<string, unknown> }[] }[])[0];
    const tcp = chain?.filters[0]?.typed_config as Record<string, unknown>;
    tcp.clutser = 'x';
    const r = parseResource(TYPE_URL.listener, bad);
    assert.equal(r.value, undefined);
    assert.match(
      r.diagnostics.map(formatDiagnostic).join('\n'),
      /filter_chains\[0\]\.filters\[0\]\.typed_config\.clutser: unknown field "clutser" .*did you mean "cluster"/,
    );
    const foreign = structuredClone(tcpListener);
    (foreign.filter_chains[0]?.filters[0]?.typed_config as Record<string, unknown>)['@type'] =
      'type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy';
    const f = parseResource(TYPE_URL.listener, foreign);
    assert.equal(f.value, undefined);
    assert.match(
      f.diagnostics.map(formatDiagnostic).join('\n'),
      /filters\[0\]\.typed_config\.@type|typed_config\["@type"\]/,
    );
  });

  it('never throws on input of the wrong shape', () => {
    for (const input of [null, 7, 'listener', [], { name: 3 }, { filter_chains: 'x' }]) {
      for (const url of Object.values(TYPE_URL)) {
        const r = parseResource(url, input);
        assert.equal(r.value, undefined, `${url} ${JSON.stringify(input)}`);
        assert.ok(r.diagnostics.some((d) => d.severity === 'error'));
      }
    }
  });

  it('translates a RouteConfiguration over RDS without validating clusters (Envoy’s RDS default)', () => {
    const r = parseResource(TYPE_URL.route, {
      name: '8080',
      ignore_port_in_host_matching: true,
      virtual_hosts: [
        { name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] },
      ],
    });
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.value?.ignorePortInHostMatching, true);
    assert.equal(r.refs[0]?.effect, '503 NC');
  });
});
