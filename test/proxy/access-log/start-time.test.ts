// %START_TIME(fmt)% as Envoy prints it: Envoy's own test vectors (substitution_formatter_test.cc), the strftime
// subset checked against glibc's strftime in the C locale, sub-second specifiers, the per-second cache, and the
// specifiers Skiff refuses.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileTimeFormat,
  defaultStartTime,
  NEWLINE_ERROR,
} from '../../../src/proxy/access-log/start-time.js';

function render(fmt: string, ms: number): string {
  const compiled = compileTimeFormat(fmt);
  if ('error' in compiled) assert.fail(compiled.error);
  return compiled.format(ms);
}
function error(fmt: string): string {
  const compiled = compileTimeFormat(fmt);
  assert.ok('error' in compiled, `${fmt} should be refused`);
  return compiled.error;
}

describe('START_TIME formats', () => {
  it("Envoy's vectors: date, %s, text without specifiers, the default, %f widths", () => {
    const ms = 1_522_280_158_000;
    const line = ['%Y/%m/%d', '%s', 'bad_format', '', '%f.%1f.%2f.%3f'].map((f) => render(f, ms)).join('|');
    assert.equal(line, '2018/03/28|1522280158|bad_format|2018-03-28T23:35:58.000Z|000000000.0.00.000');
    assert.equal(
      ['%Y/%m/%d', '%s', '', '%f.%1f.%2f.%3f'].map((f) => render(f, 0)).join('|'),
      '1970/01/01|0|1970-01-01T00:00:00.000Z|000000000.0.00.000',
    );
  });

  it('sub-second specifiers between segments (ms precision: digits past the third are 0)', () => {
    const ms = 1_522_796_769_123;
    assert.equal(render('%s.%3f|%s.%4f|%s.%6f', ms), '1522796769.123|1522796769.1230|1522796769.123000');
    assert.equal(
      render('segment1:%s.%3f|seg3:%s.%6f|%s-%3f-asdf-%9f|.%7f:segm5:%Y', ms),
      'segment1:1522796769.123|seg3:1522796769.123000|1522796769-123-asdf-123000000|.1230000:segm5:2018',
    );
    // %% is not special to Envoy's specifier scan: each run of %% left between specifiers is a FormatTime segment.
    assert.equal(
      render('%%%%|%%%%%f|%s%%%%%3f|%1f%%%%%s', ms),
      '%%|%%123000000|1522796769%%123|1%%1522796769',
    );
  });

  it('%E#S, %E*S, %E#f, %E*f and %*f', () => {
    const ms = 1_522_796_769_120;
    assert.equal(render('%H:%M:%E3S|%E1S|%E*S|%E2f|%E*f|%*f', ms), '23:06:09.120|09.1|09.12|12|12|12');
    const whole = 1_522_796_769_000;
    assert.equal(render('%E*S|%E*f|%*f|%E3S', whole), '09|0|0|09.000');
  });

  it('the strftime subset prints what glibc prints in the C locale, in UTC', () => {
    const fmt = '%Y|%m|%d|%e|%H|%M|%S|%j|%y|%C|%I|%p|%a|%A|%b|%B|%h|%u|%w|%z|%D|%F|%T|%R|%r|%c|%x|%X|%t|%%';
    // Expected lines from Python's time.strftime (glibc), LC_ALL=C, time.gmtime(t).
    const cases: [number, string][] = [
      [
        1522796769,
        '2018|04|03| 3|23|06|09|093|18|20|11|PM|Tue|Tuesday|Apr|April|Apr|2|2|+0000|04/03/18|2018-04-03|23:06:09|23:06|' +
          '11:06:09 PM|Tue Apr  3 23:06:09 2018|04/03/18|23:06:09|\t|%',
      ],
      [
        1672531200,
        '2023|01|01| 1|00|00|00|001|23|20|12|AM|Sun|Sunday|Jan|January|Jan|7|0|+0000|01/01/23|2023-01-01|00:00:00|00:00|' +
          '12:00:00 AM|Sun Jan  1 00:00:00 2023|01/01/23|00:00:00|\t|%',
      ],
      [
        951868799,
        '2000|02|29|29|23|59|59|060|00|20|11|PM|Tue|Tuesday|Feb|February|Feb|2|2|+0000|02/29/00|2000-02-29|23:59:59|23:59|' +
          '11:59:59 PM|Tue Feb 29 23:59:59 2000|02/29/00|23:59:59|\t|%',
      ],
    ];
    for (const [sec, expected] of cases) assert.equal(render(fmt, sec * 1000 + 999), expected, String(sec));
    assert.equal(render('%Z %Ez %E*z', 0), 'UTC +00:00 +00:00:00');
  });

  it('caches per second and still prints the right time when seconds go back and forth', () => {
    const compiled = compileTimeFormat('%T.%3f %s');
    if ('error' in compiled) assert.fail(compiled.error);
    const times = [1_000_001, 1_000_999, 1_001_000, 999_500, 1_000_001];
    assert.deepEqual(
      times.map((t) => compiled.format(t)),
      [
        '00:16:40.001 1000',
        '00:16:40.999 1000',
        '00:16:41.000 1001',
        '00:16:39.500 999',
        '00:16:40.001 1000',
      ],
    );
    assert.deepEqual(
      times.map((t) => defaultStartTime(t)),
      times.map((t) => new Date(t).toISOString()),
    );
  });

  it('refuses newline specifiers as Envoy does, and what it cannot print exactly with a clear message', () => {
    for (const fmt of ['%n', '%En', '%On', '%4On', '%85n', '%#__88n', 'a %%n'])
      assert.equal(error(fmt), NEWLINE_ERROR, fmt);
    assert.match(error('%U'), /^START_TIME format specifier %U is not supported \(supported: %Y/);
    assert.match(error('%-d'), /specifier %- is not supported/);
    assert.match(error('%Od'), /specifier %Od is not supported/);
    assert.match(error('%E4n'), /specifier %E4 is not supported/);
    assert.match(error('%E0S'), /specifier %E0 is not supported/);
    assert.equal(error('%Y %'), 'START_TIME format ends with a lone %');
  });
});
