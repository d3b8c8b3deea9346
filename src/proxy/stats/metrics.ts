// The three stat kinds, as Envoy has them (envoy/stats/stats.h): Counter, Gauge and Histogram. They sit on the
// per-connection and per-request path, so an update is a plain numeric write: callers get the object once, at
// config time, from the StatsStore. Histograms count into Envoy's default buckets
// (HistogramSettingsImpl::defaultBuckets in source/common/stats/histogram_impl.cc) rather than a circllhist.

/** Envoy's `supported_buckets` default, also the buckets of `istio_request_duration_milliseconds`. */
export const DEFAULT_HISTOGRAM_BUCKETS: readonly number[] = Object.freeze([
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
]);

/** Envoy's supported quantiles, as fractions (HistogramStatisticsImpl::supportedQuantiles). */
export const SUPPORTED_QUANTILES: readonly number[] = Object.freeze([
  0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1,
]);

/** How a stat appears in /stats/prometheus, worked out once when the stat is created. */
export interface PromSeries {
  /** Metric name, e.g. `envoy_cluster_upstream_cx_total` or `istio_requests_total`. */
  readonly metric: string;
  /** Label pairs, escaped and joined, without braces: `envoy_cluster_name="inbound|9080||"` (may be empty). */
  readonly labels: string;
}

/** What counters and gauges share: a number, whether it was ever updated, and where it goes in Prometheus. */
abstract class NumericStat {
  value = 0;
  /** Set by the first update, as Envoy's `used()` (for ?usedonly). */
  used = false;

  constructor(
    /** The name in /stats, e.g. `cluster.inbound|9080||.upstream_cx_total`. */
    readonly name: string,
    readonly series: PromSeries,
  ) {}

  /** Adds `n` (default 1). */
  inc(n = 1): void {
    this.value += n;
    this.used = true;
  }

  add(n: number): void {
    this.value += n;
    this.used = true;
  }
}

/** A monotonically increasing count. */
export class Counter extends NumericStat {}

/** A value that goes up and down. */
export class Gauge extends NumericStat {
  dec(n = 1): void {
    this.value -= n;
    this.used = true;
  }

  sub(n: number): void {
    this.dec(n);
  }

  set(n: number): void {
    this.value = n;
    this.used = true;
  }
}

/**
 * A distribution of non-negative values (milliseconds, bytes). `record` finds the first bound `>= v` (Prometheus
 * `le`) and bumps that bucket; sum, count, min and max are kept beside. Buckets are stored disjoint, the last slot
 * being above every bound; `cumulativeCounts` gives what /stats/prometheus prints.
 */
export class Histogram {
  /** Disjoint counts; index `bounds.length` counts the values above the last bound. */
  readonly counts: Float64Array;
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  /** Ascending upper bounds; a plain copy, as V8 scans a frozen array several times slower. */
  readonly bounds: readonly number[];

  constructor(
    readonly name: string,
    readonly series: PromSeries,
    bounds: readonly number[] = DEFAULT_HISTOGRAM_BUCKETS,
  ) {
    this.bounds = [...bounds];
    this.counts = new Float64Array(bounds.length + 1);
  }

  get used(): boolean {
    return this.count > 0;
  }

  record(v: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && v > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** Count of values `<=` each bound, in bound order (the +Inf bucket is `count`). */
  cumulativeCounts(): number[] {
    const out: number[] = [];
    let running = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      running += this.counts[i] as number;
      out.push(running);
    }
    return out;
  }

  /**
   * Estimated value at quantile `q` (0..1): the exact min and max at the ends, otherwise linear interpolation inside
   * the bucket holding the rank, clamped to [min, max] (Prometheus' histogram_quantile; Envoy reads its finer
   * circllhist instead). NaN when nothing was recorded.
   */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    if (q <= 0) return this.min;
    if (q >= 1) return this.max;
    const rank = q * this.count;
    let below = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const inBucket = this.counts[i] as number;
      if (inBucket > 0 && below + inBucket >= rank) {
        const lo = Math.max(i === 0 ? 0 : (this.bounds[i - 1] as number), this.min);
        const hi = Math.min(this.bounds[i] ?? this.max, this.max);
        return Math.min(Math.max(lo + ((hi - lo) * (rank - below)) / inBucket, this.min), this.max);
      }
      below += inBucket;
    }
    return this.max;
  }
}
