// The implemented subset, composed from where each part is implemented: every type and field a support group
// names must exist in Envoy's protos (a typo would silently refuse the real field), a type listed by two groups
// must say the same fields in both (the decoder sees only one of them), and the decoder obeys the union.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { PROXY_SUPPORT, SUPPORT_GROUPS } from '../../../src/proxy/config/support.js';
import { PROXY_EXTENSIONS } from '../../../src/proxy/extensions.js';
import { decodeMessage } from '../../../src/xds/decode.js';
import { envoyRoot } from '../../../src/xds/protos.js';
import { error, problems } from './fixtures.js';

/** The message type `name` in Envoy's protos, or undefined. */
function messageType(name: string): protobuf.Type | undefined {
  const found = envoyRoot().lookup(name);
  return found instanceof protobuf.Type ? found : undefined;
}

describe('SUPPORT_GROUPS', () => {
  it('has a group for the bootstrap, each resource type, the common messages and every extension', () => {
    const titles = SUPPORT_GROUPS.map((g) => g.title);
    for (const title of [
      'Bootstrap',
      'Resource: Listener',
      'Resource: Cluster',
      'Resource: ClusterLoadAssignment',
      'Resource: RouteConfiguration',
      'Resource: Secret',
      'Common messages',
    ]) {
      assert.ok(titles.includes(title), title);
    }
    for (const e of PROXY_EXTENSIONS.extensions) {
      assert.ok(titles.includes(`Extension \`${e.name}\` (${e.category})`), `${e.name} (${e.category})`);
    }
  });

  for (const group of SUPPORT_GROUPS) {
    it(`${group.title}: every type it names is a message of Envoy's protos, every field a field of it`, () => {
      const wrong: string[] = [];
      for (const [type, fields] of Object.entries(group.types)) {
        const t = messageType(type);
        if (!t) {
          wrong.push(`${type} is not a message type`);
          continue;
        }
        for (const f of Object.keys(fields)) {
          if (!t.fields[f]) wrong.push(`${type} has no field ${f}`);
        }
      }
      assert.deepEqual(wrong, []);
    });
  }

  it('lists a message type shared by two groups with the same fields in both', () => {
    const first = new Map<string, { title: string; fields: string[] }>();
    const differing: string[] = [];
    for (const group of SUPPORT_GROUPS) {
      for (const [type, fields] of Object.entries(group.types)) {
        const names = Object.keys(fields).sort();
        const before = first.get(type);
        if (!before) first.set(type, { title: group.title, fields: names });
        else if (before.fields.join() !== names.join()) {
          differing.push(`${type}: ${before.title} [${before.fields}] vs ${group.title} [${names}]`);
        }
      }
    }
    assert.deepEqual(differing, []);
  });

  it('gives every listed field a description (the docs print it)', () => {
    const empty = SUPPORT_GROUPS.flatMap((g) =>
      Object.entries(g.types).flatMap(([type, fields]) =>
        Object.entries(fields)
          .filter(([, what]) => what.trim() === '')
          .map(([f]) => `${type}.${f}`),
      ),
    );
    assert.deepEqual(empty, []);
  });
});

describe('PROXY_SUPPORT', () => {
  it('is the union of the groups', () => {
    const types = new Set(SUPPORT_GROUPS.flatMap((g) => Object.keys(g.types)));
    assert.deepEqual(new Set(Object.keys(PROXY_SUPPORT)), types);
  });

  it('lets a listed field through the decoder and refuses an unlisted one of the same type', () => {
    const decode = (input: unknown) =>
      decodeMessage(envoyRoot(), 'envoy.config.core.v3.SocketAddress', input, { support: PROXY_SUPPORT }, [
        'a',
      ]);
    assert.deepEqual(decode({ address: '127.0.0.1', port_value: 1 }).diagnostics, []);
    assert.deepEqual(
      problems(decode({ address: '127.0.0.1', port_value: 1, ipv4_compat: true }).diagnostics),
      [
        error(
          'a.ipv4_compat',
          'proxy.unsupported',
          'field "ipv4_compat" of envoy.config.core.v3.SocketAddress is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
        ),
      ],
    );
  });

  it('refuses a message type no group lists, when it has content', () => {
    const r = decodeMessage(
      envoyRoot(),
      'envoy.config.core.v3.Pipe',
      { path: '/tmp/s' },
      { support: PROXY_SUPPORT },
      ['a'],
    );
    assert.deepEqual(problems(r.diagnostics), [
      error(
        'a',
        'proxy.unsupported',
        'envoy.config.core.v3.Pipe is not implemented by the Skiff proxy (docs/proxy-config.md)',
      ),
    ]);
  });

  it('says an unimplemented field once, not again for each message inside its value', () => {
    const r = decodeMessage(
      envoyRoot(),
      'envoy.config.cluster.v3.Cluster',
      { name: 'c', lb_subset_config: { subset_selectors: [{ keys: ['version'] }] } },
      { support: PROXY_SUPPORT },
      ['c'],
    );
    assert.deepEqual(problems(r.diagnostics), [
      error(
        'c.lb_subset_config',
        'proxy.unsupported',
        'field "lb_subset_config" of envoy.config.cluster.v3.Cluster is not implemented by the Skiff proxy; remove it or leave it at its default (docs/proxy-config.md)',
      ),
    ]);
  });

  it('still decodes the value of an unimplemented field: a bad value inside it is its own mistake', () => {
    const r = decodeMessage(
      envoyRoot(),
      'envoy.config.cluster.v3.Cluster',
      { name: 'c', lb_subset_config: { subset_selectors: [{ keyz: ['version'] }] } },
      { support: PROXY_SUPPORT },
      ['c'],
    );
    assert.deepEqual(
      problems(r.diagnostics).map((p) => [p.path, p.code]),
      [
        ['c.lb_subset_config.subset_selectors[0].keyz', 'proxy.unknown-field'],
        ['c.lb_subset_config', 'proxy.unsupported'],
      ],
    );
  });
});
