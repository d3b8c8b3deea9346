// OutboundPortAllocator (src/xds/generate/outbound-ports.ts): the local-mode port of each proxy's outbound
// listener for one service port — deterministic, stable while other keys come and go, restorable, bounded.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_OUTBOUND_RANGE,
  OutboundPortAllocator,
  type OutboundPortRange,
} from '../../../src/xds/generate/outbound-ports.js';

const FOO = 'foo.ns.svc.cluster.local';
const BAR = 'bar.ns.svc.cluster.local';

describe('OutboundPortAllocator', () => {
  it('hands out the default range from its first port', () => {
    assert.deepEqual(DEFAULT_OUTBOUND_RANGE, { first: 15101, last: 19999 });
    const a = new OutboundPortAllocator();
    assert.deepEqual(a.range, { first: 15101, last: 19999 });
    assert.equal(a.portFor('web-0.ns', FOO, 8080), 15101);
    assert.equal(a.portFor('web-0.ns', FOO, 9090), 15102);
  });

  it('the same key gets the same port', () => {
    const a = new OutboundPortAllocator({ first: 20000, last: 20009 });
    const first = a.portFor('web-0.ns', FOO, 8080);
    assert.equal(first, 20000);
    assert.equal(a.portFor('web-0.ns', FOO, 8080), 20000);
    a.portFor('web-0.ns', BAR, 8080);
    assert.equal(a.portFor('web-0.ns', FOO, 8080), 20000);
  });

  it('distinct keys get distinct ports: another proxy, host or port', () => {
    const a = new OutboundPortAllocator({ first: 20000, last: 20009 });
    const keys: Array<[string, string, number]> = [
      ['web-0.ns', FOO, 8080],
      ['web-1.ns', FOO, 8080],
      ['web-0.ns', BAR, 8080],
      ['web-0.ns', FOO, 9090],
      ['web-0.other', FOO, 8080],
    ];
    const ports = keys.map(([p, h, n]) => a.portFor(p, h, n));
    assert.deepEqual(ports, [20000, 20001, 20002, 20003, 20004]);
  });

  it('is stable when other keys come and go: each key keeps its port, whatever is asked in between', () => {
    const a = new OutboundPortAllocator({ first: 20000, last: 20009 });
    assert.equal(a.portFor('web-0.ns', FOO, 8080), 20000);
    assert.equal(a.portFor('web-0.ns', BAR, 8080), 20001);
    // BAR disappears from the mesh (nobody asks for it any more), others come.
    assert.equal(a.portFor('web-0.ns', 'baz.ns.svc.cluster.local', 80), 20002);
    assert.equal(a.portFor('web-0.ns', FOO, 8080), 20000);
    // BAR comes back: its port was kept for it.
    assert.equal(a.portFor('web-0.ns', BAR, 8080), 20001);
  });

  it('snapshot(): every allocation by key, sorted by key', () => {
    const a = new OutboundPortAllocator({ first: 20000, last: 20009 });
    a.portFor('web-1.ns', FOO, 8080);
    a.portFor('web-0.ns', FOO, 9090);
    a.portFor('web-0.ns', BAR, 8080);
    const snap = a.snapshot();
    assert.deepEqual(snap, {
      [`web-0.ns ${BAR}:8080`]: 20002,
      [`web-0.ns ${FOO}:9090`]: 20001,
      [`web-1.ns ${FOO}:8080`]: 20000,
    });
    assert.deepEqual(Object.keys(snap), [
      `web-0.ns ${BAR}:8080`,
      `web-0.ns ${FOO}:9090`,
      `web-1.ns ${FOO}:8080`,
    ]);
    // A copy: changing it changes nothing in the allocator.
    snap[`web-1.ns ${FOO}:8080`] = 1;
    assert.equal(a.portFor('web-1.ns', FOO, 8080), 20000);
  });

  it('restores a snapshot through `saved`: the same ports for the same keys, new keys get free ports', () => {
    const range = { first: 20000, last: 20009 };
    const a = new OutboundPortAllocator(range);
    a.portFor('web-0.ns', FOO, 8080);
    a.portFor('web-0.ns', BAR, 8080);
    a.portFor('web-0.ns', FOO, 9090);
    const b = new OutboundPortAllocator(range, a.snapshot());
    assert.deepEqual(b.snapshot(), a.snapshot());
    // Asked in another order than they were made: the saved ports still.
    assert.equal(b.portFor('web-0.ns', FOO, 9090), 20002);
    assert.equal(b.portFor('web-0.ns', FOO, 8080), 20000);
    assert.equal(b.portFor('web-0.ns', BAR, 8080), 20001);
    assert.equal(b.portFor('web-1.ns', FOO, 8080), 20003);
  });

  it('a new key never takes a saved port, even one below where allocation resumes', () => {
    const b = new OutboundPortAllocator({ first: 20000, last: 20004 }, { [`x ${FOO}:1`]: 20001 });
    assert.equal(b.portFor('web-0.ns', FOO, 8080), 20000);
    assert.equal(b.portFor('web-0.ns', FOO, 9090), 20002);
    assert.equal(b.portFor('x', FOO, 1), 20001);
  });

  it('drops saved ports outside the range (the range changed since), and a second key on one port', () => {
    const b = new OutboundPortAllocator(
      { first: 20000, last: 20004 },
      {
        [`below ${FOO}:1`]: 19999,
        [`above ${FOO}:1`]: 20005,
        [`zero ${FOO}:1`]: 0,
        [`kept ${FOO}:1`]: 20004,
        [`twice ${FOO}:1`]: 20004,
      },
    );
    assert.deepEqual(b.snapshot(), { [`kept ${FOO}:1`]: 20004 });
    assert.equal(b.portFor('below', FOO, 1), 20000);
    assert.equal(b.portFor('above', FOO, 1), 20001);
    assert.equal(b.portFor('twice', FOO, 1), 20002);
    assert.equal(b.portFor('kept', FOO, 1), 20004);
  });

  it('drops saved values that are not port numbers (a hand-edited or corrupt state file)', () => {
    const b = new OutboundPortAllocator(
      { first: 20000, last: 20004 },
      {
        [`fraction ${FOO}:1`]: 20001.5,
        [`nan ${FOO}:1`]: Number.NaN,
        [`text ${FOO}:1`]: '20002' as unknown as number,
      },
    );
    assert.deepEqual(b.snapshot(), {});
    assert.equal(b.portFor('fraction', FOO, 1), 20000);
  });

  it('when the range is used up: throws an error naming the range; earlier keys still answer', () => {
    const a = new OutboundPortAllocator({ first: 20000, last: 20001 });
    assert.equal(a.portFor('p', FOO, 1), 20000);
    assert.equal(a.portFor('p', FOO, 2), 20001);
    assert.throws(
      () => a.portFor('p', FOO, 3),
      (e: unknown) => {
        assert.ok(e instanceof Error);
        assert.equal(e.message, 'no free outbound port left in 20000-20001 (2 allocated): widen the range');
        return true;
      },
    );
    assert.equal(a.portFor('p', FOO, 1), 20000);
    assert.equal(a.portFor('p', FOO, 2), 20001);
  });

  it('a one-port range', () => {
    const a = new OutboundPortAllocator({ first: 65535, last: 65535 });
    assert.equal(a.portFor('p', FOO, 1), 65535);
    assert.throws(() => a.portFor('p', FOO, 2), /no free outbound port left in 65535-65535/);
  });

  const bad: Array<[string, OutboundPortRange]> = [
    ['first 0', { first: 0, last: 100 }],
    ['last above 65535', { first: 60000, last: 65536 }],
    ['first after last', { first: 20001, last: 20000 }],
    ['negative', { first: -5, last: 10 }],
    ['NaN', { first: Number.NaN, last: 20000 }],
    ['fractional first', { first: 20000.5, last: 20010 }],
    ['fractional last', { first: 20000, last: 20010.5 }],
  ];
  for (const [why, range] of bad) {
    it(`refuses a bad range: ${why}`, () => {
      assert.throws(
        () => new OutboundPortAllocator(range),
        (e: unknown) => {
          assert.ok(e instanceof Error);
          assert.equal(
            e.message,
            `outbound port range ${range.first}-${range.last}: expected 1 <= first <= last <= 65535`,
          );
          return true;
        },
      );
    });
  }
});
