// References checked at one place, in a static bootstrap where nothing more will arrive: a missing cluster is
// an error only where Envoy validates it (validate_clusters), a warning with its request-time effect elsewhere;
// a route configuration can only come over RDS (an error); a secret must be static or provided by the agent.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Ref } from '../../../src/proxy/config/context.js';
import { checkStaticReferences, type KnownNames } from '../../../src/proxy/config/references.js';
import { error, type Problem, problems, warning } from './fixtures.js';

const known: KnownNames = {
  clusters: new Set(['app', 'inbound|9080||']),
  secrets: new Set(['server-cert']),
};

const ref = (kind: Ref['kind'], name: string, effect?: string): Ref => ({
  kind,
  name,
  path: ['static_resources', 'listeners', 0, 'x'],
  ...(effect ? { effect } : {}),
});

const AT = 'static_resources.listeners[0].x';

describe('checkStaticReferences', () => {
  const cases: [string, Ref, Problem[]][] = [
    ['a cluster that exists', ref('cluster', 'app', 'validate_clusters'), []],
    ['a cluster that exists, without an effect', ref('cluster', 'inbound|9080||'), []],
    [
      'a missing cluster in a route table that validates its clusters: an error',
      ref('cluster', 'nope', 'validate_clusters'),
      [
        error(
          AT,
          'proxy.cluster',
          'cluster "nope" is not defined, and the route table validates its clusters (validate_clusters, on by default for an inline route_config, as in Envoy); set validate_clusters: false to load it anyway (503 NC)',
        ),
      ],
    ],
    [
      'a missing cluster of a route table that does not validate: a warning with the 503',
      ref('cluster', 'nope', '503 NC'),
      [warning(AT, 'proxy.cluster', 'cluster "nope" is not defined: its traffic will be refused (503 NC)')],
    ],
    [
      'a missing cluster of a tcp_proxy: a warning with its statistic',
      ref('cluster', 'nope', 'tcp.*.downstream_cx_no_route'),
      [
        warning(
          AT,
          'proxy.cluster',
          'cluster "nope" is not defined: its traffic will be refused (tcp.*.downstream_cx_no_route)',
        ),
      ],
    ],
    [
      'a missing cluster without an effect',
      ref('cluster', 'nope'),
      [
        warning(
          AT,
          'proxy.cluster',
          'cluster "nope" is not defined: its traffic will be refused (no cluster)',
        ),
      ],
    ],
    [
      'a route configuration, even one with a known name',
      ref('route_configuration', 'app'),
      [
        error(
          AT,
          'proxy.rds',
          'route configuration "app" would come over RDS, and a static bootstrap has no source for it; give the routes inline (route_config)',
        ),
      ],
    ],
    ['a static secret', ref('secret', 'server-cert'), []],
    [
      'a missing secret, listing the ones there are',
      ref('secret', 'default'),
      [
        error(
          AT,
          'proxy.secret',
          'secret "default" is not in static_resources.secrets (there: server-cert); SDS from a server is not implemented',
        ),
      ],
    ],
    [
      'a secret named like a cluster',
      ref('secret', 'app'),
      [
        error(
          AT,
          'proxy.secret',
          'secret "app" is not in static_resources.secrets (there: server-cert); SDS from a server is not implemented',
        ),
      ],
    ],
    [
      'a cluster named like a secret',
      ref('cluster', 'server-cert', '503 NC'),
      [
        warning(
          AT,
          'proxy.cluster',
          'cluster "server-cert" is not defined: its traffic will be refused (503 NC)',
        ),
      ],
    ],
  ];
  for (const [what, r, expected] of cases) {
    it(`${what}`, () => {
      assert.deepEqual(problems(checkStaticReferences([r], known)), expected);
    });
  }

  it('says nothing of where the secrets are when there are none', () => {
    assert.deepEqual(
      problems(checkStaticReferences([ref('secret', 'ROOTCA')], { clusters: new Set(), secrets: new Set() })),
      [
        error(
          AT,
          'proxy.secret',
          'secret "ROOTCA" is not in static_resources.secrets; SDS from a server is not implemented',
        ),
      ],
    );
  });

  it('accepts the secrets the agent provides as known names (default, ROOTCA)', () => {
    const withAgent: KnownNames = { clusters: new Set(), secrets: new Set(['default', 'ROOTCA']) };
    assert.deepEqual(
      checkStaticReferences([ref('secret', 'default'), ref('secret', 'ROOTCA')], withAgent),
      [],
    );
  });

  it('reports every reference in order, each at its own path', () => {
    const refs: Ref[] = [
      { kind: 'cluster', name: 'a', path: ['p', 0], effect: '503 NC' },
      { kind: 'secret', name: 'server-cert', path: ['p', 1] },
      { kind: 'secret', name: 'b', path: ['p', 2] },
      { kind: 'cluster', name: 'c', path: ['p', 3], effect: 'validate_clusters' },
    ];
    assert.deepEqual(
      checkStaticReferences(refs, known).map((d) => [d.severity, d.path]),
      [
        ['warning', ['p', 0]],
        ['error', ['p', 2]],
        ['error', ['p', 3]],
      ],
    );
  });

  it('copies the reference path into the diagnostic', () => {
    const r: Ref = { kind: 'secret', name: 'x', path: ['a'] };
    const [d] = checkStaticReferences([r], known);
    assert.deepEqual(d?.path, ['a']);
    assert.notEqual(d?.path, r.path);
  });
});
