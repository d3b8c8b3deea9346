import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  effectivePeerAuthentication,
  explainPeerAuthentication,
  type Mode,
  modeForPort,
  namespaceMutualTlsMode,
  type PeerAuthentication,
} from '../../src/policy/index.js';
import { pa } from '../helpers.js';

const NOW = '2026-01-02T03:04:05Z';
const SECOND_AGO = '2026-01-02T03:04:04Z';
const SECOND_LATER = '2026-01-02T03:04:06Z';

interface Case {
  name: string;
  policies: PeerAuthentication[];
  workload?: { namespace: string; labels: Record<string, string> };
  root?: string;
  want: { mode: Mode; perPort?: Record<string, Mode> };
}

function check(
  cases: Case[],
  defaults: { namespace: string; labels: Record<string, string>; root?: string },
) {
  for (const c of cases) {
    it(c.name, () => {
      const workload = c.workload ?? { namespace: defaults.namespace, labels: defaults.labels };
      const got = effectivePeerAuthentication(c.policies, workload, {
        rootNamespace: c.root ?? defaults.root,
      });
      assert.deepEqual(got, { mode: c.want.mode, perPort: c.want.perPort ?? {} });
    });
  }
}

// Istio pilot/pkg/security/authn/policy_applier_test.go TestComposePeerAuthentication (root: root-namespace,
// workload my-ns {app: foo}); only policies that match the workload reach the composer there.
describe('effectivePeerAuthentication: Istio TestComposePeerAuthentication', () => {
  const R = 'root-namespace';
  check(
    [
      { name: 'no config', policies: [], want: { mode: 'PERMISSIVE' } },
      { name: 'mesh only', policies: [pa(R, 'default', { mode: 'STRICT' })], want: { mode: 'STRICT' } },
      {
        name: 'mesh vs namespace (empty matchLabels in root is mesh level)',
        policies: [
          pa(R, 'default', { selector: {}, mode: 'STRICT' }),
          pa('my-ns', 'default', { mode: 'PERMISSIVE' }),
        ],
        want: { mode: 'PERMISSIVE' },
      },
      {
        name: 'ignore non-empty selector in root namespace',
        policies: [pa(R, 'default', { selector: { app: 'foo' }, mode: 'STRICT' })],
        want: { mode: 'PERMISSIVE' },
      },
      {
        name: 'workload vs namespace config, both without mtls',
        policies: [pa('my-ns', 'default'), pa('my-ns', 'foo', { selector: { app: 'foo' } })],
        want: { mode: 'PERMISSIVE' },
      },
      {
        name: 'namespace vs mesh config',
        policies: [pa('my-ns', 'default', { mode: 'PERMISSIVE' }), pa(R, 'default', { mode: 'DISABLE' })],
        want: { mode: 'PERMISSIVE' },
      },
      {
        name: 'multiple mesh policy: oldest, then name',
        policies: [
          pa(R, 'now', { ts: NOW, mode: 'DISABLE' }),
          pa(R, 'second ago', { ts: SECOND_AGO, mode: 'PERMISSIVE' }),
          pa(R, 'second later', { ts: SECOND_AGO, mode: 'STRICT' }),
        ],
        want: { mode: 'PERMISSIVE' },
      },
      {
        name: 'multiple namespace policy: oldest, then name',
        policies: [
          pa('my-ns', 'now', { ts: NOW, mode: 'DISABLE' }),
          pa('my-ns', 'second ago', { ts: SECOND_AGO, mode: 'PERMISSIVE' }),
          pa('my-ns', 'second later', { ts: SECOND_AGO, mode: 'STRICT' }),
        ],
        want: { mode: 'PERMISSIVE' },
      },
      {
        name: 'multiple workload policy: oldest, then name',
        policies: [
          pa('my-ns', 'now', { ts: NOW, selector: { app: 'foo' }, mode: 'DISABLE' }),
          pa('my-ns', 'second ago', { ts: SECOND_AGO, selector: { app: 'foo' }, mode: 'PERMISSIVE' }),
          pa('my-ns', 'second later', { ts: SECOND_AGO, selector: { app: 'foo' }, mode: 'STRICT' }),
        ],
        want: { mode: 'PERMISSIVE' },
      },
      {
        name: 'inheritance: default mesh',
        policies: [pa(R, 'default', { mode: 'UNSET' })],
        want: { mode: 'PERMISSIVE' },
      },
      {
        name: 'inheritance: mesh to workload',
        policies: [pa(R, 'default', { mode: 'STRICT' }), pa('my-ns', 'foo', { selector: { app: 'foo' } })],
        want: { mode: 'STRICT' },
      },
      {
        name: 'inheritance: namespace to workload',
        policies: [
          pa('my-ns', 'default', { mode: 'STRICT' }),
          pa('my-ns', 'foo', { selector: { app: 'foo' } }),
        ],
        want: { mode: 'STRICT' },
      },
      {
        name: 'inheritance: mesh to namespace to workload',
        policies: [
          pa(R, 'default', { mode: 'STRICT' }),
          pa('my-ns', 'default', { mode: 'UNSET' }),
          pa('my-ns', 'foo', { selector: { app: 'foo' } }),
        ],
        want: { mode: 'STRICT' },
      },
      {
        name: 'port level: UNSET and {} inherit the workload result',
        policies: [
          pa(R, 'default', { mode: 'STRICT' }),
          pa('my-ns', 'foo', {
            selector: { app: 'foo' },
            ports: { '80': 'DISABLE', '90': 'UNSET', '100': null },
          }),
        ],
        want: { mode: 'STRICT', perPort: { '80': 'DISABLE', '90': 'STRICT', '100': 'STRICT' } },
      },
    ],
    { namespace: 'my-ns', labels: { app: 'foo' }, root: R },
  );
});

// Istio policy_applier_test.go TestInboundMTLSSettings: the mode at port 8080 of {app: foo} in my-ns.
describe('modeForPort: Istio TestInboundMTLSSettings', () => {
  const cases: { name: string; policies: PeerAuthentication[]; want: Mode }[] = [
    { name: 'no policy behaves as permissive', policies: [], want: 'PERMISSIVE' },
    {
      name: 'single policy disable',
      policies: [pa('my-ns', 'default', { mode: 'DISABLE' })],
      want: 'DISABLE',
    },
    {
      name: 'single policy permissive',
      policies: [pa('my-ns', 'default', { mode: 'PERMISSIVE' })],
      want: 'PERMISSIVE',
    },
    { name: 'single policy strict', policies: [pa('my-ns', 'default', { mode: 'STRICT' })], want: 'STRICT' },
    {
      name: 'multiple policies resolved to STRICT (older wins)',
      policies: [
        pa('my-ns', 'now', { ts: NOW, selector: { app: 'foo' }, mode: 'STRICT' }),
        pa('my-ns', 'later', { ts: SECOND_LATER, selector: { app: 'foo' }, mode: 'DISABLE' }),
      ],
      want: 'STRICT',
    },
    {
      name: 'multiple policies resolved to PERMISSIVE (older wins wherever it is listed)',
      policies: [
        pa('my-ns', 'now', { ts: NOW, selector: { app: 'foo' }, mode: 'DISABLE' }),
        pa('my-ns', 'earlier', { ts: SECOND_AGO, selector: { app: 'foo' }, mode: 'PERMISSIVE' }),
      ],
      want: 'PERMISSIVE',
    },
    {
      name: 'port level hit',
      policies: [
        pa('my-ns', 'p', { selector: { app: 'foo' }, mode: 'DISABLE', ports: { '8080': 'STRICT' } }),
      ],
      want: 'STRICT',
    },
    {
      name: 'port level miss',
      policies: [pa('my-ns', 'p', { selector: { app: 'foo' }, ports: { '7070': 'STRICT' } })],
      want: 'PERMISSIVE',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const merged = effectivePeerAuthentication(
        c.policies,
        { namespace: 'my-ns', labels: { app: 'foo' } },
        { rootNamespace: 'root-namespace' },
      );
      assert.equal(modeForPort(merged, 8080), c.want);
      assert.equal(modeForPort(merged, '8080'), c.want);
    });
  }
});

// Istio pilot/pkg/model/authentication_test.go fixture (root istio-config), composed for each workload.
describe('effectivePeerAuthentication: Istio TestGetPoliciesForWorkload fixture', () => {
  const base = '2020-02-02T02:02:02Z';
  const plus = (s: number) => new Date(Date.parse(base) + s * 1000).toISOString().replace('.000Z', 'Z');
  const fixture = (withMesh: boolean) => [
    pa('istio-config', 'global-peer-with-selector', {
      ts: base,
      selector: { app: 'httpbin', version: 'v2' },
      mode: 'UNSET',
    }),
    pa('foo', 'default', { ts: base, mode: 'STRICT' }),
    pa('foo', 'ignored-newer-default', { ts: plus(1), mode: 'DISABLE' }),
    pa('foo', 'peer-with-selector', { ts: base, selector: { version: 'v1' }, mode: 'DISABLE' }),
    ...(withMesh
      ? [
          pa('istio-config', 'ignored-newer', { ts: plus(2), mode: 'STRICT' }),
          pa('istio-config', 'default', { ts: base, mode: 'UNSET' }),
          pa('istio-config', 'ignored-another-newer', { ts: plus(1), mode: 'DISABLE' }),
        ]
      : []),
  ];
  const cases: [string, boolean, string, Record<string, string>, Mode, string | null][] = [
    ['empty labels in foo', true, 'foo', {}, 'STRICT', 'foo/default'],
    ['empty labels in bar', true, 'bar', {}, 'PERMISSIVE', 'istio-config/default'],
    [
      'match labels in foo',
      true,
      'foo',
      { app: 'httpbin', version: 'v1', other: 'labels' },
      'DISABLE',
      'foo/peer-with-selector',
    ],
    [
      'match labels in bar',
      true,
      'bar',
      { app: 'httpbin', version: 'v1' },
      'PERMISSIVE',
      'istio-config/default',
    ],
    ['partial match in foo', true, 'foo', { app: 'httpbin' }, 'STRICT', 'foo/default'],
    ['no mesh policy, bar', false, 'bar', {}, 'PERMISSIVE', null],
    [
      'no mesh policy, foo v1',
      false,
      'foo',
      { app: 'httpbin', version: 'v1' },
      'DISABLE',
      'foo/peer-with-selector',
    ],
  ];
  for (const [name, withMesh, namespace, labels, mode, decided] of cases) {
    it(name, () => {
      const got = explainPeerAuthentication(
        fixture(withMesh),
        { namespace, labels },
        { rootNamespace: 'istio-config' },
      );
      assert.equal(got.mode, mode);
      const by = 'name' in got.decidedBy ? `${got.decidedBy.namespace}/${got.decidedBy.name}` : null;
      // An UNSET mesh policy applies but decides nothing: the default decides.
      assert.equal(by, decided === 'istio-config/default' ? null : decided);
      assert.ok(!got.applied.some((a) => a.name.startsWith('ignored')), 'newer duplicates never apply');
    });
  }
});

describe('effectivePeerAuthentication: precedence, ties and ports', () => {
  const R = 'istio-system';
  const w = { namespace: 'ns', labels: { app: 'a', version: 'v1' } };
  const cases: Case[] = [
    {
      name: 'default root namespace is istio-system',
      policies: [pa(R, 'm', { mode: 'STRICT' })],
      want: { mode: 'STRICT' },
    },
    {
      name: 'a policy in another namespace never applies',
      policies: [
        pa('other', 'x', { mode: 'STRICT' }),
        pa('other', 'y', { selector: { app: 'a' }, mode: 'STRICT' }),
      ],
      want: { mode: 'PERMISSIVE' },
    },
    {
      name: 'selector must be a subset of the labels',
      policies: [pa('ns', 'x', { selector: { app: 'a', tier: 'db' }, mode: 'STRICT' })],
      want: { mode: 'PERMISSIVE' },
    },
    {
      name: 'selector value must match exactly',
      policies: [pa('ns', 'x', { selector: { app: 'A' }, mode: 'STRICT' })],
      want: { mode: 'PERMISSIVE' },
    },
    {
      name: 'workload beats namespace beats mesh, whatever the age',
      policies: [
        pa(R, 'mesh', { ts: SECOND_LATER, mode: 'DISABLE' }),
        pa('ns', 'ns', { ts: NOW, mode: 'STRICT' }),
        pa('ns', 'wl', { ts: SECOND_LATER, selector: { app: 'a' }, mode: 'PERMISSIVE' }),
      ],
      want: { mode: 'PERMISSIVE' },
    },
    {
      name: 'tie on timestamp: the smaller name wins, listed in any order',
      policies: [
        pa('ns', 'b', { ts: NOW, selector: { app: 'a' }, mode: 'STRICT' }),
        pa('ns', 'a', { ts: NOW, selector: { app: 'a' }, mode: 'DISABLE' }),
      ],
      want: { mode: 'DISABLE' },
    },
    {
      name: 'no timestamps: name order decides',
      policies: [pa('ns', 'zeta', { mode: 'STRICT' }), pa('ns', 'alpha', { mode: 'DISABLE' })],
      want: { mode: 'DISABLE' },
    },
    {
      name: 'a missing timestamp sorts as equal: name decides against a dated policy',
      policies: [pa('ns', 'b', { ts: NOW, mode: 'STRICT' }), pa('ns', 'a', { mode: 'DISABLE' })],
      want: { mode: 'DISABLE' },
    },
    {
      name: 'the losing workload policy contributes no ports',
      policies: [
        pa('ns', 'old', { ts: SECOND_AGO, selector: { app: 'a' }, mode: 'STRICT' }),
        pa('ns', 'new', { ts: NOW, selector: { version: 'v1' }, ports: { '9000': 'DISABLE' } }),
      ],
      want: { mode: 'STRICT' },
    },
    {
      name: 'an older workload policy beats a newer one with a longer selector',
      policies: [
        pa('ns', 'new', { ts: NOW, selector: { app: 'a', version: 'v1' }, mode: 'DISABLE' }),
        pa('ns', 'old', { ts: SECOND_AGO, selector: { app: 'a' }, mode: 'STRICT' }),
      ],
      want: { mode: 'STRICT' },
    },
    {
      name: 'port-level modes ignore the mesh/namespace policies ports (only the workload winner counts)',
      policies: [
        pa(R, 'mesh', { mode: 'STRICT', ports: { '80': 'DISABLE' } }),
        pa('ns', 'ns', { mode: 'STRICT', ports: { '81': 'DISABLE' } }),
      ],
      want: { mode: 'STRICT' },
    },
    {
      name: 'port UNSET inherits a workload-level DISABLE',
      policies: [
        pa('ns', 'wl', { selector: { app: 'a' }, mode: 'DISABLE', ports: { '80': 'UNSET', '81': 'STRICT' } }),
      ],
      want: { mode: 'DISABLE', perPort: { '80': 'DISABLE', '81': 'STRICT' } },
    },
    {
      name: 'port UNSET inherits through an UNSET workload from the namespace',
      policies: [
        pa('ns', 'ns', { mode: 'DISABLE' }),
        pa('ns', 'wl', { selector: { app: 'a' }, mode: 'UNSET', ports: { '80': 'UNSET' } }),
      ],
      want: { mode: 'DISABLE', perPort: { '80': 'DISABLE' } },
    },
    {
      name: 'workload in the root namespace: selector-less root policy is mesh level, selector ones ignored',
      workload: { namespace: R, labels: { app: 'a' } },
      policies: [
        pa(R, 'mesh', { mode: 'STRICT' }),
        pa(R, 'sel', { selector: { app: 'a' }, mode: 'DISABLE' }),
      ],
      want: { mode: 'STRICT' },
    },
    {
      name: 'custom root namespace: istio-system is then an ordinary namespace',
      root: 'mesh-root',
      policies: [pa(R, 'default', { mode: 'STRICT' }), pa('mesh-root', 'default', { mode: 'DISABLE' })],
      want: { mode: 'DISABLE' },
    },
    {
      name: 'policy without namespace is in default',
      workload: { namespace: 'default', labels: {} },
      policies: [{ metadata: { name: 'x' }, spec: { mtls: { mode: 'STRICT' } } }],
      want: { mode: 'STRICT' },
    },
    {
      name: 'null fields are tolerated',
      policies: [
        {
          metadata: { name: 'x', namespace: 'ns' },
          spec: { selector: null, mtls: null, portLevelMtls: null },
        },
      ],
      want: { mode: 'PERMISSIVE' },
    },
  ];
  check(cases, { namespace: w.namespace, labels: w.labels });

  it('explains which policy decided and which were ignored', () => {
    const got = explainPeerAuthentication(
      [
        pa(R, 'mesh', { mode: 'PERMISSIVE' }),
        pa('ns', 'strict', { ts: SECOND_AGO, mode: 'STRICT' }),
        pa('ns', 'newer', { ts: NOW, mode: 'DISABLE' }),
        pa(R, 'root-sel', { selector: { app: 'a' }, mode: 'DISABLE' }),
        pa('ns', 'wl', { selector: { app: 'a' }, ports: { '8080': 'PERMISSIVE' } }),
      ],
      w,
    );
    assert.equal(got.mode, 'STRICT');
    assert.deepEqual(got.decidedBy, { namespace: 'ns', name: 'strict', level: 'namespace' });
    assert.deepEqual(
      got.applied.map((a) => `${a.level}:${a.name}`),
      ['mesh:mesh', 'namespace:strict', 'workload:wl'],
    );
    assert.deepEqual(got.ignored.map((i) => i.name).sort(), ['newer', 'root-sel']);
    assert.deepEqual(got.perPort, { '8080': 'PERMISSIVE' });
  });

  it('does not mutate its input', () => {
    const policies = [pa('ns', 'b', { mode: 'STRICT' }), pa('ns', 'a', { mode: 'DISABLE' })];
    const copy = structuredClone(policies);
    effectivePeerAuthentication(policies, w);
    assert.deepEqual(policies, copy);
  });
});

describe('namespaceMutualTlsMode (Istio GetNamespaceMutualTLSMode)', () => {
  const R = 'istio-system';
  const cases: [string, PeerAuthentication[], string, Mode | 'UNKNOWN'][] = [
    ['no policies: UNKNOWN', [], 'ns', 'UNKNOWN'],
    ['mesh only', [pa(R, 'd', { mode: 'STRICT' })], 'ns', 'STRICT'],
    ['mesh UNSET is PERMISSIVE', [pa(R, 'd', { mode: 'UNSET' })], 'ns', 'PERMISSIVE'],
    [
      'namespace overrides mesh',
      [pa(R, 'd', { mode: 'STRICT' }), pa('ns', 'd', { mode: 'DISABLE' })],
      'ns',
      'DISABLE',
    ],
    ['namespace UNSET inherits mesh', [pa(R, 'd', { mode: 'STRICT' }), pa('ns', 'd')], 'ns', 'STRICT'],
    ['namespace UNSET without mesh is PERMISSIVE', [pa('ns', 'd', { mode: 'UNSET' })], 'ns', 'PERMISSIVE'],
    [
      'workload policies are ignored',
      [pa('ns', 'w', { selector: { app: 'a' }, mode: 'DISABLE' })],
      'ns',
      'UNKNOWN',
    ],
    ['other namespaces do not count', [pa('x', 'd', { mode: 'DISABLE' })], 'ns', 'UNKNOWN'],
    [
      'the oldest namespace policy wins',
      [pa('ns', 'b', { ts: SECOND_AGO, mode: 'STRICT' }), pa('ns', 'a', { ts: NOW, mode: 'DISABLE' })],
      'ns',
      'STRICT',
    ],
    ['the root namespace reads the mesh policy', [pa(R, 'd', { mode: 'DISABLE' })], R, 'DISABLE'],
  ];
  for (const [name, policies, namespace, want] of cases) {
    it(name, () => assert.equal(namespaceMutualTlsMode(policies, namespace), want));
  }
});
