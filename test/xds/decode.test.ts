import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatPath } from '../../src/core/field-path.js';
import { decodeMessage, durationMs, jsonName, type SupportTable } from '../../src/xds/decode.js';
import { envoyRoot } from '../../src/xds/protos.js';

const LISTENER = 'envoy.config.listener.v3.Listener';
const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';

function errors(type: string, input: unknown, support?: SupportTable): string[] {
  const r = decodeMessage(envoyRoot(), type, input, support ? { support } : {});
  return r.diagnostics
    .filter((d) => d.severity === 'error')
    .map((d) => `${formatPath(d.path ?? [])}: ${d.message}`);
}

function decode(type: string, input: unknown): unknown {
  const r = decodeMessage(envoyRoot(), type, input);
  assert.deepEqual(r.diagnostics, []);
  return r.value;
}

const tcpProxy = (extra: Record<string, unknown> = {}) => ({
  '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  stat_prefix: 'x',
  cluster: 'c',
  ...extra,
});

const listenerWith = (typedConfig: unknown) => ({
  name: 'l',
  address: { socket_address: { address: '127.0.0.1', port_value: 1 } },
  filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: typedConfig }] }],
});

describe('decodeMessage: proto3 JSON as Envoy reads it', () => {
  it('takes snake_case and lowerCamelCase names and returns snake_case', () => {
    const v = decode(LISTENER, {
      name: 'l',
      listenerFiltersTimeout: '5s',
      continue_on_listener_filters_timeout: true,
      address: { socketAddress: { address: '127.0.0.1', portValue: 15006 } },
    });
    assert.deepEqual(v, {
      name: 'l',
      listener_filters_timeout: '5s',
      continue_on_listener_filters_timeout: true,
      address: { socket_address: { address: '127.0.0.1', port_value: 15006 } },
    });
  });

  it('refuses the same field under both spellings', () => {
    assert.match(errors(LISTENER, { stat_prefix: 'a', statPrefix: 'b' }).join('\n'), /given twice/);
  });

  it('reads Durations as "1s" in canonical form and refuses other shapes', () => {
    const v = decode(LISTENER, { listener_filters_timeout: '0.5s' }) as Record<string, unknown>;
    assert.equal(v.listener_filters_timeout, '0.500s');
    assert.equal(durationMs('0.500s'), 500);
    assert.equal(durationMs('1.000000001s'), 1000.000001);
    for (const bad of [5, '5', '5m', '1.0000000001s', { seconds: 1 }]) {
      assert.match(
        errors(LISTENER, { listener_filters_timeout: bad }).join(),
        /listener_filters_timeout: .* is not a duration/,
      );
    }
  });

  it('reads enums by name or number and lists the names when wrong', () => {
    const v = decode(LISTENER, { traffic_direction: 1 }) as Record<string, unknown>;
    assert.equal(v.traffic_direction, 'INBOUND');
    assert.match(
      errors(LISTENER, { traffic_direction: 'INWARD' }).join(),
      /not a value of envoy\.config\.core\.v3\.TrafficDirection; expected one of UNSPECIFIED, INBOUND, OUTBOUND/,
    );
  });

  it('keeps Struct as free JSON (node metadata) and unwraps wrappers', () => {
    const v = decode(BOOTSTRAP, {
      node: { id: 'n', metadata: { LABELS: { app: 'a' }, n: 1, list: [true, null] } },
      static_resources: {
        listeners: [{ name: 'l', per_connection_buffer_limit_bytes: 1024 }],
      },
    }) as {
      node: { metadata: unknown };
      static_resources: { listeners: { per_connection_buffer_limit_bytes: number }[] };
    };
    assert.deepEqual(v.node.metadata, { LABELS: { app: 'a' }, n: 1, list: [true, null] });
    assert.equal(v.static_resources.listeners[0]?.per_connection_buffer_limit_bytes, 1024);
  });

  it('decodes Any by its @type and finds misspellings inside typed_config', () => {
    const v = decode(LISTENER, listenerWith(tcpProxy({ idleTimeout: '10s' }))) as {
      filter_chains: { filters: { typed_config: Record<string, unknown> }[] }[];
    };
    assert.deepEqual(v.filter_chains[0]?.filters[0]?.typed_config, {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
      stat_prefix: 'x',
      cluster: 'c',
      idle_timeout: '10s',
    });
    assert.deepEqual(errors(LISTENER, listenerWith(tcpProxy({ clustr: 'c' }))), [
      'filter_chains[0].filters[0].typed_config.clustr: unknown field "clustr" in envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy (did you mean "cluster"?)',
    ]);
  });

  it('a misspelled required field is one error, not a second one saying it is missing', () => {
    const { stat_prefix: _, ...noPrefix } = tcpProxy({ stat_prefx: 'x' });
    assert.deepEqual(errors(LISTENER, listenerWith(noPrefix)), [
      'filter_chains[0].filters[0].typed_config.stat_prefx: unknown field "stat_prefx" in envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy (did you mean "stat_prefix"?)',
    ]);
    // A required oneof (cluster_specifier) likewise.
    const { cluster: __, ...noCluster } = tcpProxy({ clustr: 'c' });
    assert.equal(errors(LISTENER, listenerWith(noCluster)).length, 1);
    // Without a near misspelling, the missing field is still named.
    const { stat_prefix: ___, ...bare } = tcpProxy();
    assert.match(errors(LISTENER, listenerWith(bare)).join(), /stat_prefix: is required/);
  });

  it('refuses an Any without @type or with an unknown type', () => {
    assert.match(errors(LISTENER, listenerWith({ stat_prefix: 'x' })).join(), /"@type" is required/);
    assert.match(
      errors(
        LISTENER,
        listenerWith({ '@type': 'type.googleapis.com/envoy.extensions.filters.network.nope.v3.Nope' }),
      ).join(),
      /typed_config\["@type"\]: unknown type/,
    );
  });

  it('checks scalar types and ranges', () => {
    const port = (v: unknown) =>
      errors(LISTENER, { address: { socket_address: { address: 'a', port_value: v } } }).join();
    assert.match(port('x'), /expected an integer \(uint32\), got "x"/);
    assert.match(port(-1), /out of range for uint32/);
    assert.match(port(70000), /port_value: 70000 must be at most 65535/);
    assert.equal(port('8080'), '', 'a quoted integer is proto3 JSON');
    assert.match(errors(LISTENER, { name: 5 }).join(), /name: expected a string, got 5/);
    assert.match(
      errors(LISTENER, { continue_on_listener_filters_timeout: 'yes' }).join(),
      /expected true or false/,
    );
    assert.match(errors(LISTENER, { filter_chains: {} }).join(), /filter_chains: expected a list/);
  });

  it('refuses two members of one oneof', () => {
    const e = errors(LISTENER, {
      filter_chains: [
        {
          filters: [
            {
              name: 'f',
              typed_config: tcpProxy(),
              config_discovery: { type_urls: ['x'] },
            },
          ],
        },
      ],
    });
    assert.match(e.join(), /only one of typed_config, config_discovery may be set/);
  });

  it('applies protoc-gen-validate rules, including on unset scalars', () => {
    const e = errors(LISTENER, listenerWith({ '@type': tcpProxy()['@type'], cluster: 'c' }));
    assert.deepEqual(e, [
      'filter_chains[0].filters[0].typed_config.stat_prefix: is required (must not be empty)',
    ]);
    assert.match(
      errors(LISTENER, { filter_chains: [{ filter_chain_match: { destination_port: 0 } }] }).join(),
      /destination_port: 0 must be at least 1/,
    );
  });

  it('with a support table, refuses fields and types the consumer does not implement', () => {
    const support: SupportTable = {
      [LISTENER]: { name: '' },
    };
    assert.deepEqual(errors(LISTENER, { name: 'l' }, support), []);
    assert.match(
      errors(LISTENER, { name: 'l', stat_prefix: 'p' }, support).join(),
      /stat_prefix: field "stat_prefix" of envoy\.config\.listener\.v3\.Listener is not implemented/,
    );
    assert.deepEqual(
      errors(LISTENER, { name: 'l', stat_prefix: '' }, support),
      [],
      'a default value changes nothing',
    );
  });

  it('never throws on garbage', () => {
    for (const input of [null, 1, 'x', [], [1], { name: { a: 1 } }, { filter_chains: [null, 1, 'x'] }]) {
      assert.doesNotThrow(() => decodeMessage(envoyRoot(), LISTENER, input));
    }
  });

  it('names JSON fields as protoc does', () => {
    assert.equal(jsonName('listener_filters_timeout'), 'listenerFiltersTimeout');
    assert.equal(jsonName('match_typed_subject_alt_names'), 'matchTypedSubjectAltNames');
  });
});
