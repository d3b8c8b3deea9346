// Access log filters as Envoy evaluates them: response flags (an empty list means any flag), status codes (no
// response compares as 0), durations (none never passes), and/or; invalid specs refused at their path.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFilter, type LogFilterSpec } from '../../../src/proxy/access-log/filter.js';
import type { LogContext } from '../../../src/proxy/access-log/format.js';
import { context, noRoute, success, tcp, upstreamFailure } from './contexts.js';

function passes(spec: LogFilterSpec, ctx: LogContext): boolean {
  const filter = compileFilter(spec);
  assert.deepEqual(filter.errors, []);
  return filter.test(ctx);
}

describe('access log filters', () => {
  const reset = context({ responseFlags: ['DC'] }); // downstream reset before any response: code 0
  const cases: [string, LogFilterSpec, LogContext, boolean][] = [
    ["Istio's listener filter: NR passes", { kind: 'response_flag', flags: ['NR'] }, noRoute, true],
    ["Istio's listener filter: no flag fails", { kind: 'response_flag', flags: ['NR'] }, success, false],
    ['listed flag among several', { kind: 'response_flag', flags: ['URX', 'NR'] }, upstreamFailure, true],
    ['unlisted flags', { kind: 'response_flag', flags: ['UH', 'UO'] }, upstreamFailure, false],
    ['empty list: any flag passes', { kind: 'response_flag', flags: [] }, upstreamFailure, true],
    ['empty list: no flag fails', { kind: 'response_flag', flags: [] }, success, false],
    ['status GE 400 on 404', { kind: 'status_code', op: 'GE', value: 400 }, noRoute, true],
    ['status GE 400 on 200', { kind: 'status_code', op: 'GE', value: 400 }, success, false],
    ['status EQ 0 without a response', { kind: 'status_code', op: 'EQ', value: 0 }, reset, true],
    ['status LE 299 without a response', { kind: 'status_code', op: 'LE', value: 299 }, reset, true],
    ['status NE 200 on 200', { kind: 'status_code', op: 'NE', value: 200 }, success, false],
    ['duration GE 14 on 14.7 ms (whole ms)', { kind: 'duration', op: 'GE', value: 14 }, success, true],
    ['duration GE 15 on 14.7 ms', { kind: 'duration', op: 'GE', value: 15 }, success, false],
    ['duration LE 10000 without a duration', { kind: 'duration', op: 'LE', value: 10000 }, context(), false],
    ['duration EQ 2051 on TCP', { kind: 'duration', op: 'EQ', value: 2051 }, tcp, true],
    [
      'and: 5xx with UF',
      {
        kind: 'and',
        filters: [
          { kind: 'status_code', op: 'GE', value: 500 },
          { kind: 'response_flag', flags: ['UF'] },
        ],
      },
      upstreamFailure,
      true,
    ],
    [
      'and: one fails',
      {
        kind: 'and',
        filters: [
          { kind: 'status_code', op: 'GE', value: 500 },
          { kind: 'response_flag', flags: ['UF'] },
        ],
      },
      noRoute,
      false,
    ],
    [
      'or: slow or failed',
      {
        kind: 'or',
        filters: [
          { kind: 'duration', op: 'GE', value: 1000 },
          { kind: 'status_code', op: 'GE', value: 400 },
        ],
      },
      noRoute,
      true,
    ],
    [
      'or: neither',
      {
        kind: 'or',
        filters: [
          { kind: 'duration', op: 'GE', value: 1000 },
          { kind: 'status_code', op: 'GE', value: 400 },
        ],
      },
      success,
      false,
    ],
  ];
  for (const [name, spec, ctx, expected] of cases) it(name, () => assert.equal(passes(spec, ctx), expected));

  it('refuses unknown flags, short and/or lists and bad comparisons at their path', () => {
    const { errors } = compileFilter({
      kind: 'and',
      filters: [
        { kind: 'response_flag', flags: ['NR', 'XX'] },
        {
          kind: 'or',
          filters: [{ kind: 'status_code', op: 'GT' as 'GE', value: -1 }],
        },
      ],
    });
    assert.equal(errors.length, 4);
    assert.match(
      errors[0] ?? '',
      /^and_filter\.filters\[0\]\.response_flag_filter\.flags\[1\]: value must be in list \[LH UH UT .* UDO\] \(got "XX"\)$/,
    );
    assert.equal(errors[1], 'and_filter.filters[1].or_filter.filters: value must contain at least 2 item(s)');
    assert.equal(
      errors[2],
      'and_filter.filters[1].or_filter.filters[0].status_code_filter.comparison.op: value must be one of EQ, GE, LE, NE (got GT)',
    );
    assert.equal(
      errors[3],
      'and_filter.filters[1].or_filter.filters[0].status_code_filter.comparison.value.default_value: a uint32 is required (got -1)',
    );
  });
});
