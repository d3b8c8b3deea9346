// protoDuration (src/xds/generate/duration.ts): Go durations as Istio's YAML writes them, in proto3 JSON as Go's
// protojson writes a google.protobuf.Duration (seconds with 0, 3, 6 or 9 fractional digits).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { protoDuration } from '../../../src/xds/generate/duration.js';

const CASES: Array<[string, string | undefined]> = [
  ['10s', '10s'],
  ['0', '0s'],
  ['0s', '0s'],
  ['1m', '60s'],
  ['1h', '3600s'],
  ['1h30m', '5400s'],
  ['1h0m30s', '3630s'],
  ['250ms', '0.250s'],
  ['1500ms', '1.500s'],
  ['1.5s', '1.500s'],
  ['.5s', '0.500s'],
  ['1.001s', '1.001s'],
  ['100us', '0.000100s'],
  ['1us', '0.000001s'],
  ['1µs', '0.000001s'],
  ['1ns', '0.000000001s'],
  ['1500ns', '0.000001500s'],
  ['1.9999999999s', '2s'],
  ['+5s', '5s'],
  // Refused: negative, no unit, unknown unit, not a number at all.
  ['-1s', undefined],
  ['-250ms', undefined],
  ['10', undefined],
  ['10x', undefined],
  ['1d', undefined],
  ['s', undefined],
  ['.s', undefined],
  ['', undefined],
  ['abc', undefined],
  ['1e3s', undefined],
  ['10 s', undefined],
];

describe('protoDuration', () => {
  for (const [input, expected] of CASES) {
    it(`${JSON.stringify(input)} → ${expected === undefined ? 'undefined' : JSON.stringify(expected)}`, () => {
      assert.equal(protoDuration(input), expected);
    });
  }
});
