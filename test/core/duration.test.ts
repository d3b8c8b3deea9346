import assert from 'node:assert/strict';
import { it } from 'node:test';
import { formatDuration, parseDuration } from '../../src/core/duration.js';

it('parseDuration reads Go durations', () => {
  const cases: [string, number | undefined][] = [
    ['0', 0],
    ['30s', 30],
    ['1.5s', 1.5],
    ['100ms', 0.1],
    ['90m', 5400],
    ['24h', 86400],
    ['1h30m', 5400],
    ['2h45m30.5s', 9930.5],
    ['1us', 1e-6],
    ['-5s', -5],
    ['', undefined],
    ['5', undefined],
    ['1d', undefined],
    ['s', undefined],
    ['1.s', 1],
    ['.5s', 0.5],
    ['1h 30m', undefined],
  ];
  for (const [text, want] of cases) assert.equal(parseDuration(text), want, text);
});

it('formatDuration writes the largest whole unit', () => {
  assert.equal(formatDuration(86400), '24h');
  assert.equal(formatDuration(5400), '90m');
  assert.equal(formatDuration(45), '45s');
  assert.equal(formatDuration(0), '0s');
});
