// Envoy's outlier detection as a table-tested state machine: a fake clock, a scripted random and counters as Envoy
// names them. `E od.cc:N` cites envoy source/common/upstream/outlier_detection_impl.cc at 321a098d81
// (/work/notes/envoy-semantics.md §2).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  OUTLIER_COUNTER_NAMES,
  OUTLIER_DEFAULTS,
  type OutlierDetectionConfig,
  OutlierDetector,
  type OutlierResult,
} from '../../../src/proxy/upstream/outlier-detector.js';

class FakeCounters {
  readonly values = new Map<string, number>();
  active = -1;
  inc(name: string): void {
    assert.ok(OUTLIER_COUNTER_NAMES.includes(name), `unknown counter ${name}`);
    this.values.set(name, this.get(name) + 1);
  }
  setActive(n: number): void {
    this.active = n;
  }
  get(name: string): number {
    return this.values.get(name) ?? 0;
  }
}

/** Hands out the scripted values in order; any draw beyond them fails the test (so every draw is accounted for). */
function scripted(values: number[] = []): () => number {
  return () => {
    const v = values.shift();
    if (v === undefined) throw new Error('unexpected random draw');
    return v;
  };
}

function setup(o: Partial<OutlierDetectionConfig> = {}, n = 10, random: number[] = []) {
  const clock = { t: 0 };
  const counters = new FakeCounters();
  const hosts = Array.from({ length: n }, (_, i) => `h${i}`);
  const changes = { n: 0 };
  const det = new OutlierDetector({ ...OUTLIER_DEFAULTS, ...o }, hosts, {
    now: () => clock.t,
    random: scripted(random),
    counters,
    onChange: () => changes.n++,
  });
  const put = (host: string, count: number, result: OutlierResult, code?: number) => {
    for (let i = 0; i < count; i++) det.putResult(host, result, code);
  };
  const fail5xx = (host: string, count = 5) => put(host, count, 'ext-origin-request-failed', 500);
  const tickAt = (t: number) => {
    clock.t = t;
    det.tick();
  };
  return { det, clock, counters, hosts, changes, put, fail5xx, tickAt };
}

describe('OUTLIER_DEFAULTS', () => {
  // E outlier_detection_impl.h:348-368 and A outlier_detection.proto; max_ejection_time = max(300 s, base).
  const table: Array<[keyof OutlierDetectionConfig, number | boolean]> = [
    ['consecutive5xx', 5],
    ['enforcingConsecutive5xx', 100],
    ['consecutiveGatewayFailure', 5],
    ['enforcingConsecutiveGatewayFailure', 0],
    ['splitExternalLocalOriginErrors', false],
    ['consecutiveLocalOriginFailure', 5],
    ['enforcingConsecutiveLocalOriginFailure', 100],
    ['intervalMs', 10_000],
    ['baseEjectionMs', 30_000],
    ['maxEjectionMs', 300_000],
    ['maxEjectionJitterMs', 0],
    ['maxEjectionPercent', 10],
    ['alwaysEjectOneHost', false],
    ['enforcingSuccessRate', 100],
    ['successRateMinimumHosts', 5],
    ['successRateRequestVolume', 100],
    ['successRateStdevFactor', 1900],
    ['enforcingLocalOriginSuccessRate', 100],
    ['failurePercentageThreshold', 85],
    ['enforcingFailurePercentage', 0],
    ['enforcingFailurePercentageLocalOrigin', 0],
    ['failurePercentageMinimumHosts', 5],
    ['failurePercentageRequestVolume', 50],
  ];
  for (const [field, value] of table) {
    it(`${field} = ${value}`, () => assert.equal(OUTLIER_DEFAULTS[field], value));
  }
  it('covers every field', () => assert.equal(Object.keys(OUTLIER_DEFAULTS).length, table.length));
  it('names the 19 counters of E outlier_detection_impl.h:214-233', () => {
    assert.equal(OUTLIER_COUNTER_NAMES.length, 19);
    assert.equal(new Set(OUTLIER_COUNTER_NAMES).size, 19);
  });
});

describe('consecutive 5xx (E od.cc:68-95 putHttpResponseCode, :574-613 onConsecutiveErrorWorker)', () => {
  // The counter fires when it EQUALS consecutive_5xx; any non-5xx resets it.
  const table: Array<[string, number[], boolean]> = [
    ['four 500s', [500, 500, 500, 500], false],
    ['five 500s (equality)', [500, 500, 500, 500, 500], true],
    ['any 5xx counts', [500, 501, 503, 599, 504], true],
    ['a 200 resets', [500, 500, 500, 500, 200, 500, 500, 500, 500], false],
    ['a 404 resets too', [500, 500, 500, 500, 404, 500, 500, 500, 500], false],
    ['five after the reset', [500, 500, 500, 500, 200, 500, 500, 500, 500, 500], true],
    ['600 is not 5xx', [500, 500, 500, 500, 600, 500], false],
  ];
  for (const [name, codes, ejected] of table) {
    it(`${name} → ${ejected ? 'ejected' : 'kept'}`, () => {
      const { det, counters } = setup();
      for (const code of codes)
        det.putResult('h0', code >= 500 ? 'ext-origin-request-failed' : 'ext-origin-request-success', code);
      assert.equal(det.isEjected('h0'), ejected);
      assert.equal(counters.get('ejections_detected_consecutive_5xx'), ejected ? 1 : 0);
    });
  }

  it('an ejection moves every counter Envoy moves, the gauge and onChange once', () => {
    const { det, counters, changes, fail5xx } = setup();
    assert.equal(counters.active, 0); // the gauge exists from the start (E od.cc:266-278)
    fail5xx('h0');
    assert.ok(det.isEjected('h0'));
    assert.equal(counters.active, 1);
    assert.equal(changes.n, 1);
    assert.deepEqual(Object.fromEntries(counters.values), {
      ejections_detected_consecutive_5xx: 1,
      ejections_total: 1, // deprecated: 5xx and success-rate types, within the percent limit (E od.cc:488-491)
      ejections_enforced_total: 1,
      ejections_enforced_consecutive_5xx: 1,
      ejections_consecutive_5xx: 1, // deprecated: every consecutive-5xx detection (E od.cc:602-603)
    });
  });

  it('the counter is reset after a detection even when it overflowed, so five more are needed', () => {
    const { det, counters, fail5xx } = setup({}, 2); // 2 hosts at 10 %: never ejected (§2.5)
    fail5xx('h0', 9);
    assert.equal(counters.get('ejections_overflow'), 1);
    fail5xx('h0', 1);
    assert.equal(counters.get('ejections_overflow'), 2);
    assert.equal(det.isEjected('h0'), false);
  });

  it('while ejected, 5xx are not detected again, and un-ejection resets the counter (E od.cc:582-584, :376-384)', () => {
    const { det, counters, fail5xx, tickAt } = setup();
    fail5xx('h0');
    fail5xx('h0', 12);
    assert.equal(counters.get('ejections_detected_consecutive_5xx'), 1);
    tickAt(30_000);
    assert.equal(det.isEjected('h0'), false);
    fail5xx('h0', 4);
    assert.equal(det.isEjected('h0'), false);
    fail5xx('h0', 1);
    assert.equal(det.isEjected('h0'), true);
  });
});

describe('consecutive gateway failures (E od.cc:73-83, defaults E outlier_detection_impl.h:351,360)', () => {
  it('are detected but not enforced by default: the detected counter moves, the enforced one does not', () => {
    const { det, counters, put } = setup({ consecutive5xx: 100 });
    put('h0', 5, 'ext-origin-request-failed', 503);
    assert.equal(counters.get('ejections_detected_consecutive_gateway_failure'), 1);
    assert.equal(counters.get('ejections_enforced_consecutive_gateway_failure'), 0);
    assert.equal(counters.get('ejections_enforced_total'), 0);
    assert.equal(det.isEjected('h0'), false);
  });

  it('with the default consecutive_5xx the same five 503s eject the host as consecutive 5xx', () => {
    const { det, counters, put } = setup();
    put('h0', 5, 'ext-origin-request-failed', 503);
    assert.equal(counters.get('ejections_detected_consecutive_gateway_failure'), 1);
    assert.equal(counters.get('ejections_enforced_consecutive_5xx'), 1);
    assert.ok(det.isEjected('h0'));
  });

  it('enforced, the gateway detection runs first and the 5xx one then finds the host ejected', () => {
    const { det, counters, put } = setup({ enforcingConsecutiveGatewayFailure: 100 });
    put('h0', 5, 'ext-origin-request-failed', 504);
    assert.ok(det.isEjected('h0'));
    assert.equal(counters.get('ejections_enforced_consecutive_gateway_failure'), 1);
    assert.equal(counters.get('ejections_detected_consecutive_5xx'), 0);
    assert.equal(counters.get('ejections_total'), 0); // not a 5xx/SR type
  });

  // Gateway errors are 502-504 (E source/common/http/codes.h:138); another 5xx resets their counter.
  const gateway: Array<[string, number[], number]> = [
    ['five 502/503/504', [502, 503, 504, 503, 502], 1],
    ['505 is not a gateway error', [505, 505, 505, 505, 505], 0],
    ['501 is not either', [501, 501, 501, 501, 501], 0],
    ['a 500 in between resets', [502, 503, 504, 503, 500, 502, 503, 504, 503], 0],
    ['a 505 in between resets', [502, 503, 504, 503, 505, 502, 503, 504, 503], 0],
  ];
  for (const [name, codes, detected] of gateway) {
    it(`${name} → ${detected} gateway detection(s)`, () => {
      const { counters, put } = setup({ consecutive5xx: 100 });
      for (const code of codes) put('h0', 1, 'ext-origin-request-failed', code);
      assert.equal(counters.get('ejections_detected_consecutive_gateway_failure'), detected);
    });
  }

  it('a non-gateway 5xx resets the gateway counter but not the 5xx one', () => {
    const { counters, put } = setup({ enforcingConsecutiveGatewayFailure: 100 });
    for (const code of [502, 503, 500, 504, 503]) put('h0', 1, 'ext-origin-request-failed', code);
    assert.equal(counters.get('ejections_detected_consecutive_gateway_failure'), 0);
    assert.equal(counters.get('ejections_enforced_consecutive_5xx'), 1);
  });
});

/**
 * What one result does to a host's counters, observed through detections only (thresholds 2, all enforced):
 * external: 'gateway' (502-504), '5xx', 'success' (resets), 'none'; local (split mode): 'failure', 'success', 'none'.
 */
function effectOf(split: boolean, result: OutlierResult, code?: number): { external: string; local: string } {
  const config = {
    splitExternalLocalOriginErrors: split,
    consecutive5xx: 2,
    consecutiveGatewayFailure: 2,
    enforcingConsecutiveGatewayFailure: 100,
    consecutiveLocalOriginFailure: 2,
    maxEjectionPercent: 100,
  };
  const run = (steps: Array<[OutlierResult, number?]>) => {
    const { det, counters } = setup(config, 1);
    for (const [r, c] of steps) det.putResult('h0', r, c);
    return counters;
  };
  const twice = run([
    [result, code],
    [result, code],
  ]);
  let external = 'gateway';
  if (twice.get('ejections_detected_consecutive_gateway_failure') === 0) {
    if (twice.get('ejections_detected_consecutive_5xx') === 1) external = '5xx';
    else {
      const around = run([
        ['ext-origin-request-failed', 500],
        [result, code],
        ['ext-origin-request-failed', 500],
      ]);
      external = around.get('ejections_detected_consecutive_5xx') === 1 ? 'none' : 'success';
    }
  }
  let local = 'n/a';
  if (split) {
    if (twice.get('ejections_detected_consecutive_local_origin_failure') === 1) local = 'failure';
    else {
      const around = run([['local-origin-connect-failed'], [result, code], ['local-origin-connect-failed']]);
      local = around.get('ejections_detected_consecutive_local_origin_failure') === 1 ? 'none' : 'success';
    }
  }
  return { external, local };
}

describe('mapping results (E od.cc:97-176)', () => {
  // Without split: a code is used as is; otherwise timeout 504, connect failed 503, ext failed 500, ext success and
  // connect success final 200, connect success ignored (resultToHttpCode, putResultNoLocalExternalSplit).
  const noSplit: Array<[OutlierResult, number | undefined, string]> = [
    ['local-origin-timeout', undefined, 'gateway'],
    ['local-origin-timeout', 504, 'gateway'],
    ['local-origin-connect-failed', undefined, 'gateway'],
    ['local-origin-connect-success', undefined, 'none'],
    ['local-origin-connect-success', 503, 'gateway'],
    ['local-origin-connect-success-final', undefined, 'success'],
    ['ext-origin-request-failed', undefined, '5xx'],
    ['ext-origin-request-failed', 502, 'gateway'],
    ['ext-origin-request-success', undefined, 'success'],
    ['ext-origin-request-success', 201, 'success'],
  ];
  for (const [result, code, external] of noSplit) {
    it(`without split: ${result} ${code ?? '(no code)'} → ${external}`, () => {
      assert.deepEqual(effectOf(false, result, code), { external, local: 'n/a' });
    });
  }
  // With split: connect failed/timeout are local failures (codes ignored), connect success[-final] local successes;
  // ext-origin results feed their code, 503/200 when there is none (putResultWithLocalExternalSplit, E od.cc:146-176).
  const split: Array<[OutlierResult, number | undefined, string, string]> = [
    ['local-origin-timeout', undefined, 'none', 'failure'],
    ['local-origin-timeout', 504, 'none', 'failure'],
    ['local-origin-connect-failed', undefined, 'none', 'failure'],
    ['local-origin-connect-success', undefined, 'none', 'success'],
    ['local-origin-connect-success-final', undefined, 'none', 'success'],
    ['ext-origin-request-failed', undefined, 'gateway', 'none'],
    ['ext-origin-request-failed', 500, '5xx', 'none'],
    ['ext-origin-request-success', undefined, 'success', 'none'],
    ['ext-origin-request-success', 500, '5xx', 'none'],
  ];
  for (const [result, code, external, local] of split) {
    it(`with split: ${result} ${code ?? '(no code)'} → external ${external}, local ${local}`, () => {
      assert.deepEqual(effectOf(true, result, code), { external, local });
    });
  }

  it('split mode ejects on consecutive local-origin failures with their own counters', () => {
    const { det, counters, put } = setup({ splitExternalLocalOriginErrors: true });
    put('h0', 4, 'local-origin-connect-failed');
    put('h0', 1, 'local-origin-timeout', 504);
    assert.ok(det.isEjected('h0'));
    assert.equal(counters.get('ejections_detected_consecutive_local_origin_failure'), 1);
    assert.equal(counters.get('ejections_enforced_consecutive_local_origin_failure'), 1);
    assert.equal(counters.get('ejections_total'), 0);
  });

  it('a host the detector does not know is ignored', () => {
    const { det, counters, fail5xx } = setup();
    fail5xx('stranger', 10);
    assert.equal(det.isEjected('stranger'), false);
    assert.equal(counters.values.size, 0);
  });
});

describe('max_ejection_percent (E od.cc:476-486; §2.5: no "at least one host" since envoy PR #27909)', () => {
  // [hosts, max %, always_eject_one_host, how many of them five 500s each can eject]
  const table: Array<[number, number, boolean, number]> = [
    [1, 99, false, 0],
    [1, 100, false, 1],
    [2, 10, false, 0],
    [2, 50, false, 1],
    [3, 10, false, 0],
    [3, 50, false, 1],
    [9, 10, false, 0],
    [9, 50, false, 4],
    [10, 10, false, 1],
    [10, 50, false, 5],
    [20, 10, false, 2],
    [20, 50, false, 10],
    [2, 10, true, 1],
    [9, 10, true, 1],
    [20, 10, true, 2],
    [10, 200, false, 10], // capped at 100
  ];
  for (const [n, percent, always, expected] of table) {
    it(`${n} hosts, ${percent} %${always ? ', always_eject_one_host' : ''} → ${expected} ejected`, () => {
      const { det, counters, hosts, fail5xx } = setup(
        { maxEjectionPercent: percent, alwaysEjectOneHost: always },
        n,
      );
      for (const h of hosts) fail5xx(h);
      assert.equal(hosts.filter((h) => det.isEjected(h)).length, expected);
      assert.equal(counters.active, expected);
      assert.equal(counters.get('ejections_overflow'), n - expected);
      assert.equal(counters.get('ejections_detected_consecutive_5xx'), n);
      assert.equal(counters.get('ejections_total'), expected); // counted only within the limit
    });
  }
});

describe('ejection time, back-off and un-ejection (E od.cc:358-390, :512-518, :763-777)', () => {
  it('un-ejects only at a tick once base × backoff has elapsed (equality included)', () => {
    const { det, counters, changes, fail5xx, tickAt, clock } = setup();
    clock.t = 5_000;
    fail5xx('h0');
    clock.t = 100_000; // time alone un-ejects nothing
    assert.ok(det.isEjected('h0'));
    for (const [t, ejected] of [
      [10_000, true],
      [20_000, true],
      [30_000, true],
      [34_999, true],
      [35_000, false],
    ] as const) {
      tickAt(t);
      assert.equal(det.isEjected('h0'), ejected, `at ${t}`);
    }
    assert.equal(counters.active, 0);
    assert.equal(changes.n, 2);
  });

  it('a second ejection lasts twice as long, a third three times', () => {
    const { det, fail5xx, tickAt } = setup();
    const unejectedAfter = (start: number): number => {
      tickAt(start);
      fail5xx('h0');
      for (let t = start + 10_000; ; t += 10_000) {
        tickAt(t);
        if (!det.isEjected('h0')) return t - start;
      }
    };
    assert.equal(unejectedAfter(0), 30_000);
    assert.equal(unejectedAfter(30_000), 60_000); // re-ejected at the tick that un-ejected it: no healthy interval
    assert.equal(unejectedAfter(90_000), 90_000);
  });

  // Back-off decays by one per tick (every interval) for a host un-ejected at least one interval before the tick.
  const decay: Array<[number, number]> = [
    [0, 60_000], // re-ejected at the tick that un-ejected it (0 ms after): backoff 1 → 2
    [1, 30_000], // one healthy tick: 1 → 0, then 0 → 1
    [3, 30_000], // never below 0
  ];
  for (const [healthyTicks, second] of decay) {
    it(`after ${healthyTicks} healthy ticks the next ejection lasts ${second / 1000} s`, () => {
      const { det, fail5xx, tickAt, clock } = setup();
      fail5xx('h0');
      tickAt(30_000);
      assert.equal(det.isEjected('h0'), false);
      for (let i = 1; i <= healthyTicks; i++) tickAt(30_000 + i * 10_000);
      const start = clock.t;
      fail5xx('h0');
      tickAt(start + second - 1);
      assert.ok(det.isEjected('h0'));
      tickAt(start + second);
      assert.equal(det.isEjected('h0'), false);
    });
  }

  it('two healthy intervals pay back two steps of back-off', () => {
    const { det, fail5xx, tickAt } = setup({ intervalMs: 1_000, baseEjectionMs: 1_000 });
    for (const t of [0, 1_000, 3_000]) {
      tickAt(t);
      fail5xx('h0');
    } // backoffs 1, 2, 3; un-ejected at 1 000, 3 000 and 6 000
    tickAt(6_000);
    assert.equal(det.isEjected('h0'), false);
    tickAt(7_000); // 3 → 2
    tickAt(8_000); // 2 → 1
    fail5xx('h0'); // 1 → 2: 2 000 ms
    tickAt(9_999);
    assert.ok(det.isEjected('h0'));
    tickAt(10_000);
    assert.equal(det.isEjected('h0'), false);
  });

  it('back-off stops growing once base × backoff reaches max + base, so it decays back in as many intervals', () => {
    // base 30 s, max 60 s: backoff 1, 2, 3, then stays 3 (3 × 30 s is not < 90 s; E od.cc:515-518).
    const { det, fail5xx, tickAt } = setup({ maxEjectionMs: 60_000 });
    let t = 0;
    for (let i = 0; i < 6; i++) {
      tickAt(t);
      fail5xx('h0');
      t += i === 0 ? 30_000 : 60_000;
    }
    tickAt(t);
    assert.equal(det.isEjected('h0'), false);
    for (let i = 1; i <= 3; i++) tickAt(t + i * 10_000); // 3 → 0
    t += 30_000;
    fail5xx('h0');
    tickAt(t + 29_999);
    assert.ok(det.isEjected('h0'));
    tickAt(t + 30_000);
    assert.equal(det.isEjected('h0'), false);
  });

  it('max_ejection_time caps the ejection: base 30 s, max 60 s → 30, 60, 60', () => {
    const { det, fail5xx, tickAt } = setup({ maxEjectionMs: 60_000 });
    let start = 0;
    for (const expected of [30_000, 60_000, 60_000, 60_000]) {
      tickAt(start);
      fail5xx('h0');
      tickAt(start + expected - 1);
      assert.ok(det.isEjected('h0'));
      tickAt(start + expected);
      assert.equal(det.isEjected('h0'), false);
      start += expected;
    }
  });

  // Jitter: random % (max_ejection_time_jitter + 1) ms, drawn per ejection (E od.cc:505-512).
  const jitter: Array<[number, number]> = [
    [0, 0],
    [0.5, 500],
    [0.9999, 1_000],
  ];
  for (const [random, ms] of jitter) {
    it(`jitter up to 1 000 ms with random ${random} adds ${ms} ms`, () => {
      const { det, fail5xx, tickAt } = setup({ maxEjectionJitterMs: 1_000 }, 10, [random]);
      fail5xx('h0');
      tickAt(30_000 + ms - 1);
      assert.ok(det.isEjected('h0'));
      tickAt(30_000 + ms);
      assert.equal(det.isEjected('h0'), false);
    });
  }
});

describe('the enforcement roll (E od.cc:392-419; runtime featureEnabled, runtime_impl.cc:118-128)', () => {
  const table: Array<[number, number[], boolean]> = [
    [50, [0.3], true], // 30 < 50
    [50, [0.7], false],
    [50, [0.49], true],
    [50, [0.5], false],
    [100, [], true], // no draw at 100 %
    [0, [], false], // nor at 0 %
  ];
  for (const [percent, random, enforced] of table) {
    it(`enforcing ${percent} % with random ${random[0] ?? '(none drawn)'} → ${enforced ? 'enforced' : 'not'}`, () => {
      const { det, counters, changes, fail5xx } = setup({ enforcingConsecutive5xx: percent }, 10, random);
      fail5xx('h0');
      assert.equal(det.isEjected('h0'), enforced);
      assert.equal(counters.get('ejections_detected_consecutive_5xx'), 1);
      assert.equal(counters.get('ejections_total'), 1); // counted before the roll
      assert.equal(counters.get('ejections_enforced_consecutive_5xx'), enforced ? 1 : 0);
      assert.equal(changes.n, enforced ? 1 : 0);
    });
  }
});

/**
 * Reports `[ok, total]` results per host (h0, h1, …): `ok` of them 200, the rest 500, spread evenly. The tests that
 * spread failures into runs of five or more raise consecutive5xx so that only the sweep can eject.
 */
function traffic(
  put: (h: string, n: number, r: OutlierResult, c?: number) => void,
  rows: Array<[number, number]>,
) {
  rows.forEach(([ok, total], i) => {
    for (let k = 0; k < total; k++) {
      const good = Math.floor(((k + 1) * ok) / total) > Math.floor((k * ok) / total);
      put(`h${i}`, 1, good ? 'ext-origin-request-success' : 'ext-origin-request-failed', good ? 200 : 500);
    }
  });
}

const FIVE_AT_100: Array<[number, number]> = [
  [50, 100],
  [100, 100],
  [100, 100],
  [100, 100],
  [100, 100],
];

describe('success rate (E od.cc:615-722; buckets :867-886)', () => {
  it('5 hosts × 100 requests, one at 50 %: mean 90, stdev 20, threshold 52 → that host is ejected', () => {
    const { det, counters, hosts, put, tickAt } = setup({ maxEjectionPercent: 20 }, 5);
    traffic(put, FIVE_AT_100);
    tickAt(10_000);
    assert.deepEqual(
      hosts.map((h) => det.isEjected(h)),
      [true, false, false, false, false],
    );
    assert.equal(counters.get('ejections_detected_success_rate'), 1);
    assert.equal(counters.get('ejections_enforced_success_rate'), 1);
    assert.equal(counters.get('ejections_success_rate'), 1);
    assert.equal(counters.get('ejections_total'), 1);
    assert.equal(counters.get('ejections_detected_failure_percentage'), 0); // 50 % failures < 85
  });

  const none: Array<[string, number, Array<[number, number]>]> = [
    ['4 hosts: under success_rate_minimum_hosts', 4, FIVE_AT_100.slice(0, 4)],
    ['a 5th host with 99 requests: under the request volume', 5, [...FIVE_AT_100.slice(0, 4), [99, 99]]],
    ['no traffic at all', 5, []],
  ];
  for (const [name, n, rows] of none) {
    it(`none ejected with ${name}`, () => {
      const { det, counters, put, hosts, tickAt } = setup({ maxEjectionPercent: 100 }, n);
      traffic(put, rows);
      tickAt(10_000);
      assert.equal(counters.get('ejections_detected_success_rate'), 0);
      assert.ok(hosts.every((h) => !det.isEjected(h)));
    });
  }

  it('an ejected host is left out of the statistics even if it had traffic (E od.cc:673-676)', () => {
    // Counted, h5 at 0 % would pull the threshold down to 2.4 and save h0; left out, the threshold is 52.
    const { det, counters, put, tickAt } = setup({ maxEjectionPercent: 50 }, 6);
    traffic(put, [...FIVE_AT_100, [0, 100]]);
    assert.ok(det.isEjected('h5')); // by its first five 500s
    tickAt(10_000);
    assert.ok(det.isEjected('h0'));
    assert.equal(counters.get('ejections_detected_success_rate'), 1);
  });

  it('with the default 10 % the outlier of 5 hosts is detected but overflows', () => {
    const { det, counters, put, tickAt } = setup({}, 5);
    traffic(put, FIVE_AT_100);
    tickAt(10_000);
    assert.equal(counters.get('ejections_detected_success_rate'), 1);
    assert.equal(counters.get('ejections_overflow'), 1);
    assert.equal(det.isEjected('h0'), false);
  });

  // Strictly below mean − factor/1000 × stdev: with factor 2000 the threshold is exactly 90 − 2 × 20 = 50.
  for (const [factor, ejected] of [
    [2000, false],
    [1999, true],
  ] as const) {
    it(`stdev factor ${factor}: 50 % is ${ejected ? 'below' : 'at'} the threshold`, () => {
      const { det, put, tickAt } = setup({ maxEjectionPercent: 100, successRateStdevFactor: factor }, 5);
      traffic(put, FIVE_AT_100);
      tickAt(10_000);
      assert.equal(det.isEjected('h0'), ejected);
    });
  }

  it('reads only the interval that just ended: volumes of two intervals do not add up', () => {
    const { det, counters, put, tickAt } = setup({ maxEjectionPercent: 100 }, 5);
    const half = FIVE_AT_100.map(([ok, total]): [number, number] => [ok / 2, total / 2]);
    traffic(put, half);
    tickAt(10_000);
    traffic(put, half);
    tickAt(20_000);
    assert.equal(counters.get('ejections_detected_success_rate'), 0);
    traffic(put, FIVE_AT_100);
    assert.equal(det.isEjected('h0'), false); // nothing is evaluated before the tick
    tickAt(30_000);
    assert.equal(det.isEjected('h0'), true);
  });

  it('split mode: local-origin results feed their own monitor (local_origin_success_rate)', () => {
    const { det, counters, put, tickAt } = setup(
      { splitExternalLocalOriginErrors: true, maxEjectionPercent: 20 },
      5,
    );
    for (let k = 0; k < 100; k++) {
      for (let i = 0; i < 5; i++) {
        const fails = i === 0 && k % 2 === 0;
        put(`h${i}`, 1, fails ? 'local-origin-connect-failed' : 'local-origin-connect-success');
      }
    }
    tickAt(10_000);
    assert.ok(det.isEjected('h0'));
    assert.equal(counters.get('ejections_detected_local_origin_success_rate'), 1);
    assert.equal(counters.get('ejections_enforced_local_origin_success_rate'), 1);
    assert.equal(counters.get('ejections_success_rate'), 1); // the deprecated counter counts both origins
    assert.equal(counters.get('ejections_total'), 0); // but ejections_total only the external SUCCESS_RATE
    assert.equal(counters.get('ejections_detected_success_rate'), 0);
  });
});

describe('failure percentage (E od.cc:724-743)', () => {
  // h0's [ok, total] beside hosts at 50 of 50: volumes under the success-rate one (100), so only this rule applies.
  const enforced = { enforcingFailurePercentage: 100 };
  const table: Array<[string, number, Partial<OutlierDetectionConfig>, [number, number], boolean, boolean]> =
    [
      ['90 % failures, default enforcing 0', 5, {}, [5, 50], true, false],
      ['90 % failures, enforcing 100', 5, enforced, [5, 50], true, true],
      ['85 % failures (≥ threshold)', 5, enforced, [9, 60], true, true],
      ['84 % failures', 5, enforced, [8, 50], false, false],
      ['90 % failures of 49 requests (under the volume)', 5, enforced, [5, 49], false, false],
      ['4 hosts: under failure_percentage_minimum_hosts', 4, enforced, [5, 50], false, false],
      // The sweep is skipped only when the host count is under BOTH minimums (E od.cc:663-667).
      [
        '4 hosts, its minimum 3 (success rate still 5)',
        4,
        { ...enforced, failurePercentageMinimumHosts: 3 },
        [5, 50],
        true,
        true,
      ],
    ];
  for (const [name, n, o, h0, detected, ejected] of table) {
    it(`${name} → ${detected ? 'detected' : 'not detected'}, ${ejected ? 'ejected' : 'kept'}`, () => {
      const { det, counters, put, tickAt } = setup(
        { maxEjectionPercent: 100, consecutive5xx: 1000, ...o },
        n,
      );
      traffic(put, [h0, ...Array.from({ length: n - 1 }, (): [number, number] => [50, 50])]);
      tickAt(10_000);
      assert.equal(counters.get('ejections_detected_failure_percentage'), detected ? 1 : 0);
      assert.equal(counters.get('ejections_enforced_failure_percentage'), ejected ? 1 : 0);
      assert.equal(det.isEjected('h0'), ejected);
    });
  }

  it('a host flagged by success rate and failure percentage in one sweep is ejected once', () => {
    const o = { maxEjectionPercent: 100, enforcingFailurePercentage: 100, consecutive5xx: 1000 };
    const { det, counters, put, tickAt } = setup(o, 5);
    traffic(put, [[10, 100], ...FIVE_AT_100.slice(1)]); // SR: mean 82, stdev 36, threshold 13.6; 90 % failures
    tickAt(10_000);
    assert.ok(det.isEjected('h0'));
    assert.equal(counters.get('ejections_detected_success_rate'), 1);
    assert.equal(counters.get('ejections_detected_failure_percentage'), 1);
    assert.equal(counters.get('ejections_enforced_total'), 1);
    assert.equal(counters.active, 1);
  });

  for (const [enforcing, ejected] of [
    [undefined, false],
    [100, true],
  ] as const) {
    it(`split mode, local-origin failures, enforcing ${enforcing ?? 'default 0'} → local_origin_failure_percentage ${ejected ? 'enforced' : 'detected only'}`, () => {
      const o: Partial<OutlierDetectionConfig> = {
        splitExternalLocalOriginErrors: true,
        consecutiveLocalOriginFailure: 1000,
        maxEjectionPercent: 100,
      };
      if (enforcing !== undefined) o.enforcingFailurePercentageLocalOrigin = enforcing;
      const { det, counters, put, tickAt } = setup(o, 5);
      for (let i = 0; i < 5; i++) {
        for (let k = 0; k < 50; k++) {
          const fails = i === 0 && k % 10 !== 0; // 90 % for h0
          put(`h${i}`, 1, fails ? 'local-origin-timeout' : 'local-origin-connect-success');
        }
      }
      tickAt(10_000);
      assert.equal(counters.get('ejections_detected_local_origin_failure_percentage'), 1);
      assert.equal(counters.get('ejections_enforced_local_origin_failure_percentage'), ejected ? 1 : 0);
      assert.equal(counters.get('ejections_detected_failure_percentage'), 0);
      assert.equal(det.isEjected('h0'), ejected);
    });
  }
});

describe('setHosts (E od.cc:326-341 member update callback)', () => {
  it('keeps the state of kept hosts, starts new ones clean, forgets removed ones and fixes ejections_active', () => {
    const { det, counters, changes, fail5xx, hosts } = setup({ maxEjectionPercent: 50 });
    fail5xx('h0');
    fail5xx('h2', 4);
    assert.equal(counters.active, 1);
    det.setHosts([...hosts.filter((h) => h !== 'h1'), 'h10']);
    assert.ok(det.isEjected('h0'));
    assert.equal(counters.active, 1);
    fail5xx('h2', 1); // its four earlier 500s still count
    assert.ok(det.isEjected('h2'));
    fail5xx('h10', 4);
    assert.equal(det.isEjected('h10'), false);
    assert.equal(counters.active, 2);
    const changesBefore = changes.n;
    det.setHosts(hosts.filter((h) => h !== 'h0'));
    assert.equal(counters.active, 1);
    assert.equal(det.isEjected('h0'), false);
    assert.equal(changes.n, changesBefore); // the caller rebuilds for the new set itself
    fail5xx('h0', 5); // forgotten: results ignored
    assert.equal(counters.get('ejections_detected_consecutive_5xx'), 2);
    det.setHosts(hosts); // back: clean
    assert.equal(det.isEjected('h0'), false);
    fail5xx('h0', 4);
    assert.equal(det.isEjected('h0'), false);
  });

  it('the percent limit counts the current hosts', () => {
    const { det, counters, fail5xx, hosts } = setup({}, 9);
    fail5xx('h0');
    assert.equal(counters.get('ejections_overflow'), 1);
    det.setHosts([...hosts, 'h9']);
    fail5xx('h0');
    assert.ok(det.isEjected('h0'));
  });
});
