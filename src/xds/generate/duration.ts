// Durations as generated resources carry them.

import { parseDuration } from '../../core/duration.js';

/**
 * A Go duration (`10s`, `1m`, `250ms`, as Istio's YAML writes them) in proto3 JSON as Go's protojson writes
 * it: seconds with 0, 3, 6 or 9 fractional digits (`10s`, `60s`, `0.250s`). Undefined for a bad or negative one.
 */
export function protoDuration(text: string): string | undefined {
  const value = parseDuration(text);
  if (value === undefined || value < 0) return undefined;
  let seconds = Math.floor(value);
  let nanos = Math.round((value - seconds) * 1e9);
  if (nanos >= 1e9) {
    seconds += 1;
    nanos -= 1e9;
  }
  if (nanos === 0) return `${seconds}s`;
  const digits = String(nanos).padStart(9, '0');
  const frac = digits.endsWith('000000')
    ? digits.slice(0, 3)
    : digits.endsWith('000')
      ? digits.slice(0, 6)
      : digits;
  return `${seconds}.${frac}s`;
}
