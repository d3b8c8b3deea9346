// The ADS protocol as pure state, rule by rule (istio pkg/xds/server.go ShouldRespond, pilot/pkg/xds/ads.go):
// fake sources whose resources are `name → content`, a counting nonce, and requests as Envoy sends them.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AdsStream,
  CLUSTER_TYPE as CDS,
  type DiscoveryRequest,
  type DiscoveryResponse,
  ENDPOINT_TYPE as EDS,
  KnownVersions,
  keptClusters,
  LISTENER_TYPE as LDS,
  ROUTE_TYPE as RDS,
  type ResourceSource,
  requestNode,
  type StreamEvent,
} from '../../../src/xds/server/protocol.js';

type Data = Partial<Record<string, Record<string, string>>>;

/** A source whose resource bodies are `name=content`, so a response reads as a list of strings. */
function source(version: string, data: Data): ResourceSource<string> {
  return {
    version,
    resources(typeUrl, subscription) {
      const all = Object.entries(data[typeUrl] ?? {});
      const picked = subscription.wildcard ? all : all.filter(([n]) => subscription.names.has(n));
      // `l1@a,b`: a listener or route whose content is l1 and that refers to the clusters a and b.
      return picked.map(([name, content]) => {
        const refs = content.includes('@') ? (content.split('@')[1] ?? '').split(',') : [];
        return { name, hash: content, body: `${name}=${content}`, ...(refs.length > 0 ? { refs } : {}) };
      });
    },
  };
}

const V1: Data = {
  [CDS]: { a: 'a1', b: 'b1' },
  [EDS]: { a: 'ea1', b: 'eb1' },
  [LDS]: { l: 'l1' },
  [RDS]: { r: 'r1', s: 's1' },
};

function stream(data: Data = V1, o: { known?: KnownVersions; proxy?: string; version?: string } = {}) {
  let n = 0;
  return new AdsStream<string>({
    proxy: o.proxy ?? 'sidecar~127.0.1.2~b-0.shop~shop.svc.cluster.local',
    source: source(o.version ?? 'v1', data),
    nonce: () => `n${++n}`,
    ...(o.known ? { known: o.known } : {}),
  });
}

const req = (typeUrl: string, names: string[] = [], nonce = '', extra: Partial<DiscoveryRequest> = {}) => ({
  type_url: typeUrl,
  resource_names: names,
  response_nonce: nonce,
  ...extra,
});

/** Responses as `TYPE version nonce [bodies]` lines. */
function show(responses: DiscoveryResponse<string>[]): string[] {
  const short: Record<string, string> = { [CDS]: 'CDS', [EDS]: 'EDS', [LDS]: 'LDS', [RDS]: 'RDS' };
  return responses.map((r) => `${short[r.type_url]} ${r.version_info} ${r.nonce} [${r.resources.join(' ')}]`);
}

const kinds = (events: StreamEvent[]) => events.map((e) => e.kind);

describe('the first request', () => {
  const cases: [string, DiscoveryRequest, string][] = [
    ['no node', { type_url: CDS }, 'missing node information'],
    ['a node without an id', { type_url: CDS, node: { metadata: {} } }, 'missing node information'],
    ['an empty id', { type_url: CDS, node: { id: '' } }, 'missing node information'],
  ];
  for (const [name, request, message] of cases) {
    it(`${name}: InvalidArgument "${message}"`, () => {
      assert.deepEqual(requestNode(request), { ok: false, code: 'INVALID_ARGUMENT', message });
    });
  }
  it('a node id', () =>
    assert.deepEqual(requestNode({ node: { id: 'sidecar~1~a.b~b' } }), { ok: true, id: 'sidecar~1~a.b~b' }));
});

describe('subscriptions', () => {
  const cases: [string, DiscoveryRequest, string[]][] = [
    ['CDS without names: wildcard, every cluster', req(CDS), ['CDS v1 n1 [a=a1 b=b1]']],
    ['CDS with "*": wildcard', req(CDS, ['*']), ['CDS v1 n1 [a=a1 b=b1]']],
    ['LDS without names: wildcard', req(LDS), ['LDS v1 n1 [l=l1]']],
    ['CDS by name (proxyless gRPC): only those', req(CDS, ['b']), ['CDS v1 n1 [b=b1]']],
    ['EDS by name: only those', req(EDS, ['a']), ['EDS v1 n1 [a=ea1]']],
    ['EDS naming what does not exist: left out', req(EDS, ['a', 'zz']), ['EDS v1 n1 [a=ea1]']],
    ['RDS by name', req(RDS, ['s']), ['RDS v1 n1 [s=s1]']],
    ['EDS without names: nothing', req(EDS), []],
    ['RDS without names: nothing', req(RDS), []],
    [
      'an unknown type: nothing',
      req('type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret'),
      [],
    ],
  ];
  for (const [name, request, expected] of cases) {
    it(name, () => assert.deepEqual(show(stream().request(request).responses), expected));
  }

  it('an unknown type is reported', () => {
    assert.deepEqual(kinds(stream().request(req('type.googleapis.com/x.Y')).events), ['unknown-type']);
  });
});

describe('ACK, NACK and stale nonces', () => {
  it('an ACK sends nothing and is recorded', () => {
    const s = stream();
    s.request(req(CDS));
    const ack = s.request(req(CDS, [], 'n1', { version_info: 'v1' }));
    assert.deepEqual(show(ack.responses), []);
    assert.deepEqual(kinds(ack.events), ['ack']);
    const cds = s.status().types[0];
    assert.deepEqual(
      [cds?.sent, cds?.acked],
      [
        { version: 'v1', nonce: 'n1' },
        { version: 'v1', nonce: 'n1' },
      ],
    );
  });

  it('a stale nonce is ignored and counted, even with new names', () => {
    const s = stream();
    s.request(req(EDS, ['a']));
    s.request(req(EDS, ['a'], 'n1'));
    s.push(source('v2', { ...V1, [EDS]: { a: 'ea2', b: 'eb1' } })); // sends n2
    const stale = s.request(req(EDS, ['a', 'b'], 'n1'));
    assert.deepEqual(show(stale.responses), []);
    assert.deepEqual(kinds(stale.events), ['stale-nonce']);
    assert.equal(s.status().types[0]?.staleNonces, 1);
    assert.deepEqual(s.status().types[0]?.acked, { version: 'v1', nonce: 'n1' });
  });

  it('a NACK is recorded with its message, nothing is re-sent until the resources change', () => {
    const s = stream();
    s.request(req(CDS));
    const nack = s.request(
      req(CDS, [], 'n1', {
        version_info: '',
        error_detail: { code: 13, message: 'cluster a: bad lb_policy' },
      }),
    );
    assert.deepEqual(show(nack.responses), []);
    assert.deepEqual(nack.events, [
      { kind: 'nack', typeUrl: CDS, version: 'v1', nonce: 'n1', message: 'cluster a: bad lb_policy' },
    ]);
    assert.deepEqual(s.status().types[0]?.nacked, {
      version: 'v1',
      nonce: 'n1',
      message: 'cluster a: bad lb_policy',
    });
    assert.equal(s.status().types[0]?.acked, undefined);
    // A new version with the same clusters: nothing.
    assert.deepEqual(show(s.push(source('v2', V1)).responses), []);
    // The fix: sent, and its ACK recorded; the NACK stays visible as the last one.
    const fixed = s.push(source('v3', { ...V1, [CDS]: { a: 'a2', b: 'b1' } }));
    assert.deepEqual(show(fixed.responses), ['CDS v3 n2 [a=a2 b=b1]']);
    s.request(req(CDS, [], 'n2', { version_info: 'v3' }));
    assert.deepEqual(s.status().types[0]?.acked, { version: 'v3', nonce: 'n2' });
    assert.equal(s.status().types[0]?.nacked?.nonce, 'n1');
  });
});

describe('subscription changes', () => {
  it('names added on an ACK: answered with every subscribed name; names removed: nothing', () => {
    const s = stream();
    s.request(req(EDS, ['a']));
    assert.deepEqual(show(s.request(req(EDS, ['a', 'b'], 'n1')).responses), ['EDS v1 n2 [a=ea1 b=eb1]']);
    assert.deepEqual(show(s.request(req(EDS, ['b'], 'n2')).responses), []);
    assert.deepEqual(s.status().types[0]?.names, ['b']);
    // A push sends only what is subscribed.
    const pushed = s.push(source('v2', { ...V1, [EDS]: { a: 'ea2', b: 'eb2' } }));
    assert.deepEqual(show(pushed.responses), ['EDS v2 n3 [b=eb2]']);
  });

  it('a change to a name no longer subscribed pushes nothing', () => {
    const s = stream();
    s.request(req(EDS, ['a', 'b']));
    s.request(req(EDS, ['b'], 'n1'));
    assert.deepEqual(show(s.push(source('v2', { ...V1, [EDS]: { a: 'ea2', b: 'eb1' } })).responses), []);
  });

  it('an ACK without names unsubscribes EDS: later changes are not pushed', () => {
    const s = stream();
    s.request(req(EDS, ['a']));
    const un = s.request(req(EDS, [], 'n1'));
    assert.deepEqual(kinds(un.events), ['ack', 'unsubscribe']);
    assert.deepEqual(show(s.push(source('v2', { ...V1, [EDS]: { a: 'ea2' } })).responses), []);
    assert.deepEqual(s.status().types, []);
  });

  it('a resubscription (no nonce) is answered in full', () => {
    const s = stream();
    s.request(req(RDS, ['r']));
    assert.deepEqual(show(s.request(req(RDS, ['r', 's'])).responses), ['RDS v1 n2 [r=r1 s=s1]']);
  });
});

describe('AlwaysRespond: CDS makes the next EDS request answered', () => {
  it('a CDS resubscription: the next EDS request is answered though it looks like an ACK', () => {
    const s = stream();
    s.request(req(CDS));
    s.request(req(EDS, ['a']));
    s.request(req(CDS, [], 'n1'));
    assert.deepEqual(show(s.request(req(EDS, ['a'], 'n2')).responses), []);
    assert.deepEqual(show(s.request(req(CDS, [])).responses), ['CDS v1 n3 [a=a1 b=b1]']);
    assert.deepEqual(show(s.request(req(EDS, ['a'], 'n2')).responses), ['EDS v1 n4 [a=ea1]']);
    // Once: its ACK is only an ACK.
    assert.deepEqual(show(s.request(req(EDS, ['a'], 'n4')).responses), []);
  });

  it('a CDS push without an EDS push: the EDS request cluster warming sends is answered', () => {
    const s = stream();
    s.request(req(CDS));
    s.request(req(EDS, ['a']));
    s.request(req(CDS, [], 'n1'));
    s.request(req(EDS, ['a'], 'n2'));
    assert.deepEqual(show(s.push(source('v2', { ...V1, [CDS]: { a: 'a2', b: 'b1' } })).responses), [
      'CDS v2 n3 [a=a2 b=b1]',
    ]);
    assert.deepEqual(show(s.request(req(EDS, ['a'], 'n2')).responses), ['EDS v2 n4 [a=ea1]']);
  });

  it('a CDS push with an EDS push: nothing more', () => {
    const s = stream();
    s.request(req(CDS));
    s.request(req(EDS, ['a']));
    s.request(req(CDS, [], 'n1'));
    s.request(req(EDS, ['a'], 'n2'));
    const pushed = s.push(source('v2', { ...V1, [CDS]: { a: 'a2', b: 'b1' }, [EDS]: { a: 'ea2' } }));
    assert.deepEqual(show(pushed.responses), ['CDS v2 n3 [a=a2 b=b1]', 'EDS v2 n4 [a=ea2]']);
    assert.deepEqual(show(s.request(req(EDS, ['a'], 'n4')).responses), []);
  });
});

describe('pushes', () => {
  function subscribed() {
    const s = stream();
    // Subscribed in another order than the push order.
    s.request(req(RDS, ['r']));
    s.request(req(LDS));
    s.request(req(EDS, ['a', 'b']));
    s.request(req(CDS));
    for (const [t, names, nonce] of [
      [RDS, ['r'], 'n1'],
      [LDS, [], 'n2'],
      [EDS, ['a', 'b'], 'n3'],
      [CDS, [], 'n4'],
    ] as const) {
      s.request(req(t, [...names], nonce));
    }
    // The CDS response flagged EDS, so the EDS ACK above was answered once more (n5); its ACK is only an ACK.
    assert.equal(s.status().types.find((t) => t.typeUrl === EDS)?.responses, 2);
    const ack = s.request(req(EDS, ['a', 'b'], 'n5'));
    assert.deepEqual([show(ack.responses), kinds(ack.events)], [[], ['ack']]);
    return s;
  }

  it("every type changed: in Envoy's order CDS, EDS, LDS, RDS", () => {
    const s = subscribed();
    const v2: Data = {
      [CDS]: { a: 'a2', b: 'b1' },
      [EDS]: { a: 'ea2', b: 'eb1' },
      [LDS]: { l: 'l2' },
      [RDS]: { r: 'r2', s: 's1' },
    };
    assert.deepEqual(show(s.push(source('2026-12-08T02:00:00Z/2', v2)).responses), [
      'CDS 2026-12-08T02:00:00Z/2 n6 [a=a2 b=b1]',
      'EDS 2026-12-08T02:00:00Z/2 n7 [a=ea2 b=eb1]',
      'LDS 2026-12-08T02:00:00Z/2 n8 [l=l2]',
      'RDS 2026-12-08T02:00:00Z/2 n9 [r=r2]',
    ]);
    assert.equal(s.status().pushes, 1);
  });

  const cases: [string, Data, string[]][] = [
    ['nothing changed', V1, []],
    ['one endpoint changed: EDS only', { ...V1, [EDS]: { a: 'ea1', b: 'eb2' } }, ['EDS v2 n6 [a=ea1 b=eb2]']],
    ['a route not subscribed changed: nothing', { ...V1, [RDS]: { r: 'r1', s: 's2' } }, []],
    [
      'a cluster added: CDS only',
      { ...V1, [CDS]: { a: 'a1', b: 'b1', c: 'c1' } },
      ['CDS v2 n6 [a=a1 b=b1 c=c1]'],
    ],
    [
      'a cluster removed: CDS, and EDS without it',
      { ...V1, [CDS]: { a: 'a1' }, [EDS]: { a: 'ea1' } },
      ['CDS v2 n6 [a=a1]', 'EDS v2 n7 [a=ea1]'],
    ],
    ['a listener changed: LDS only', { ...V1, [LDS]: { l: 'l2' } }, ['LDS v2 n6 [l=l2]']],
  ];
  for (const [name, data, expected] of cases) {
    it(name, () => {
      const s = subscribed();
      assert.deepEqual(show(s.push(source('v2', data)).responses), expected);
      assert.equal(s.status().pushes, expected.length > 0 ? 1 : 0);
    });
  }

  it('a push before any request sends nothing', () => {
    assert.deepEqual(show(stream().push(source('v2', V1)).responses), []);
  });

  it('every response has a fresh nonce', () => {
    const s = subscribed();
    const nonces: string[] = [];
    for (let i = 2; i < 6; i++) {
      const data = { ...V1, [CDS]: { a: `a${i}` }, [EDS]: { a: `ea${i}` } };
      for (const r of s.push(source(`v${i}`, data)).responses) nonces.push(r.nonce);
    }
    assert.equal(nonces.length, 8);
    assert.equal(new Set(nonces).size, nonces.length);
  });
});

describe('a reconnect with known versions', () => {
  const proxy = 'sidecar~127.0.1.2~b-0.shop~shop.svc.cluster.local';

  function firstStream(known: KnownVersions) {
    const s = stream(V1, { known, proxy });
    s.request(req(CDS));
    s.request(req(EDS, ['a']));
    s.request(req(CDS, [], 'n1'));
    s.request(req(EDS, ['a'], 'n2'));
    return s;
  }

  it('unchanged: not answered again, and the stream knows what the proxy holds', () => {
    const known = new KnownVersions();
    firstStream(known);
    const s = stream(V1, { known, proxy });
    const cds = s.request(req(CDS, [], '', { version_info: 'v1' }));
    assert.deepEqual(show(cds.responses), []);
    assert.deepEqual(kinds(cds.events), ['known-version']);
    assert.deepEqual(show(s.request(req(EDS, ['a'], '', { version_info: 'v1' })).responses), []);
    // …and a later change is pushed as usual.
    assert.deepEqual(show(s.push(source('v2', { ...V1, [EDS]: { a: 'ea2' } })).responses), [
      'EDS v2 n1 [a=ea2]',
    ]);
  });

  const cases: [string, string, Data, string[], string[]][] = [
    [
      'the resources changed since',
      'v1',
      { ...V1, [CDS]: { a: 'a2', b: 'b1' } },
      [],
      ['CDS v2 n1 [a=a2 b=b1]'],
    ],
    ['an older version', 'v0', V1, [], ['CDS v2 n1 [a=a1 b=b1]']],
    ['no version (a new proxy)', '', V1, [], ['CDS v2 n1 [a=a1 b=b1]']],
    ['other names than were sent', 'v1', V1, ['b'], ['EDS v2 n1 [a=ea1 b=eb1]']],
  ];
  for (const [name, version, data, extraNames, expected] of cases) {
    it(`${name}: answered`, () => {
      const known = new KnownVersions();
      firstStream(known);
      const s = stream(data, { known, proxy, version: 'v2' });
      const type = extraNames.length > 0 ? EDS : CDS;
      const names = extraNames.length > 0 ? ['a', ...extraNames] : [];
      assert.deepEqual(show(s.request(req(type, names, '', { version_info: version })).responses), expected);
    });
  }

  it('another proxy with the same version: answered', () => {
    const known = new KnownVersions();
    firstStream(known);
    const s = stream(V1, { known, proxy: 'sidecar~127.0.1.3~c-0.shop~shop.svc.cluster.local' });
    assert.deepEqual(show(s.request(req(CDS, [], '', { version_info: 'v1' })).responses), [
      'CDS v1 n1 [a=a1 b=b1]',
    ]);
  });

  it('the memory is bounded: the oldest proxy is forgotten', () => {
    const known = new KnownVersions(2);
    const sent = { version: 'v', nonce: 'n', hashes: new Map() };
    known.set('p1', CDS, sent);
    known.set('p2', CDS, sent);
    known.get('p1', CDS);
    known.set('p3', CDS, sent);
    assert.equal(known.size, 2);
    assert.equal(known.get('p1', CDS), undefined);
  });
});

describe('a cluster is removed only after no listener or route refers to it', () => {
  const W1: Data = {
    [CDS]: { a: 'a1', b: 'b1' },
    [EDS]: { a: 'ea1', b: 'eb1' },
    [LDS]: { l: 'l1@a,b' },
    [RDS]: { r: 'r1@a' },
  };
  /** b gone: its cluster, its endpoints and the listener's reference. */
  const W2: Data = { [CDS]: { a: 'a1' }, [EDS]: { a: 'ea1' }, [LDS]: { l: 'l2@a' }, [RDS]: { r: 'r1@a' } };
  const subscribed: Record<string, string[]> = { [CDS]: [], [EDS]: ['a', 'b'], [LDS]: [], [RDS]: ['r'] };

  /** A stream that subscribed every type and ACKed every response. */
  function acked(data: Data) {
    const s = stream(data);
    for (const t of [CDS, EDS, LDS, RDS]) {
      const out = s.request(req(t, subscribed[t]));
      for (const r of out.responses) ack(s, r);
    }
    return s;
  }
  function ack(s: AdsStream<string>, r: DiscoveryResponse<string>) {
    return s.request(req(r.type_url, subscribed[r.type_url], r.nonce, { version_info: r.version_info }));
  }
  const byType = (responses: DiscoveryResponse<string>[], t: string) => {
    const r = responses.find((x) => x.type_url === t);
    assert.ok(r, `a ${t} response`);
    return r;
  };

  it('a listener still refers to it: CDS keeps it, LDS goes without the reference, the LDS ACK removes it', () => {
    const s = acked(W1);
    const push = s.push(source('v2', W2));
    assert.deepEqual(show(push.responses), [
      'CDS v2 n5 [a=a1 b=b1]',
      'EDS v2 n6 [a=ea1]',
      'LDS v2 n7 [l=l2@a]',
    ]);
    // The CDS and EDS ACKs: the listener the proxy holds still names b.
    assert.deepEqual(show(ack(s, byType(push.responses, CDS)).responses), []);
    assert.deepEqual(show(ack(s, byType(push.responses, EDS)).responses), []);
    assert.deepEqual(show(ack(s, byType(push.responses, LDS)).responses), ['CDS v2 n8 [a=a1]']);
    assert.deepEqual(show(s.push(source('v3', W2)).responses), [], 'and it stays removed');
  });

  it('a cluster nothing refers to: CDS without it at once', () => {
    const s = acked({ ...W1, [LDS]: { l: 'l1@a' } });
    assert.deepEqual(show(s.push(source('v2', W2)).responses), [
      'CDS v2 n5 [a=a1]',
      'EDS v2 n6 [a=ea1]',
      'LDS v2 n7 [l=l2@a]',
    ]);
  });

  it('a route refers to it: kept until the RDS ACK', () => {
    const s = acked({ ...W1, [LDS]: { l: 'l1@a' }, [RDS]: { r: 'r1@b' } });
    const push = s.push(source('v2', { ...W2, [LDS]: { l: 'l1@a' }, [RDS]: { r: 'r2@a' } }));
    assert.deepEqual(show(push.responses), [
      'CDS v2 n5 [a=a1 b=b1]',
      'EDS v2 n6 [a=ea1]',
      'RDS v2 n7 [r=r2@a]',
    ]);
    assert.deepEqual(show(ack(s, byType(push.responses, CDS)).responses), []);
    assert.deepEqual(show(ack(s, byType(push.responses, RDS)).responses), ['CDS v2 n8 [a=a1]']);
  });

  it('the listener NACKed: the proxy keeps the old one, so CDS keeps the cluster (next push too) until an ACK', () => {
    const s = acked(W1);
    const push = s.push(source('v2', W2));
    const lds = byType(push.responses, LDS);
    const nack = s.request(
      req(LDS, [], lds.nonce, { version_info: lds.version_info, error_detail: { message: 'bad listener' } }),
    );
    assert.deepEqual(show(nack.responses), []);
    const next = s.push(source('v3', { ...W2, [LDS]: { l: 'l3@a' } }));
    assert.deepEqual(show(next.responses), ['LDS v3 n8 [l=l3@a]'], 'CDS: b still kept, not sent again');
    assert.deepEqual(show(ack(s, byType(next.responses, LDS)).responses), ['CDS v3 n9 [a=a1]']);
  });

  it('a listener sent and not yet answered counts too: a cluster it names is kept', () => {
    const s = acked({ ...W1, [LDS]: { l: 'l1@a' } });
    const added = s.push(
      source('v2', { ...W1, [CDS]: { a: 'a1', b: 'b1', c: 'c1' }, [LDS]: { l: 'l2@a,c' } }),
    );
    assert.deepEqual(show(added.responses), ['CDS v2 n5 [a=a1 b=b1 c=c1]', 'LDS v2 n6 [l=l2@a,c]']);
    // c goes again before the proxy answered the listener that names it.
    const gone = s.push(source('v3', { ...W1, [LDS]: { l: 'l1@a' } }));
    assert.deepEqual(show(gone.responses), ['CDS v3 n7 [a=a1 b=b1 c=c1]', 'LDS v3 n8 [l=l1@a]']);
    // The ACK of the older listener is stale; the ACK of the last one removes c.
    assert.deepEqual(show(ack(s, byType(added.responses, LDS)).responses), []);
    assert.deepEqual(show(ack(s, byType(gone.responses, LDS)).responses), ['CDS v3 n9 [a=a1 b=b1]']);
  });

  const table: [string, string[], string[], string[], string[]][] = [
    ['nothing gone', ['a', 'b'], ['a', 'b'], ['a', 'b'], []],
    ['gone, referenced: kept', ['a', 'b'], ['a'], ['b'], ['b']],
    ['gone, not referenced: dropped', ['a', 'b'], ['a'], ['a'], []],
    ['several gone, one referenced', ['a', 'b', 'c'], [], ['c', 'x'], ['c']],
  ];
  for (const [name, sent, fresh, referenced, expected] of table) {
    it(`keptClusters: ${name}`, () => {
      const r = (n: string) => ({ name: n, hash: n, body: n });
      const kept = keptClusters(new Map(sent.map((n) => [n, r(n)])), fresh.map(r), new Set(referenced));
      assert.deepEqual(
        kept.map((x) => x.name),
        expected,
      );
    });
  }
});
