// Envoy's admin `/stats` (source/server/admin/stats_render.cc, StatsTextRender and StatsJsonRender in their default
// "no buckets" mode): counters and gauges interleaved and sorted by name as `name: value`, then histograms as
// `name: P0(interval,cumulative) P25(…) … P100(…)` or `name: No recorded values`. Skiff has no stats-flush
// interval, so every interval value is `nan` (JSON `null`), as Envoy shows an interval with no samples; the
// cumulative values are estimated from the buckets (Histogram.quantile). Family series appear as
// `name{label="value",…}`.

import { type Counter, type Gauge, Histogram, SUPPORTED_QUANTILES } from './metrics.js';
import type { StatsStore } from './store.js';

export interface StatsRenderOptions {
  /** Keeps the stats whose name this matches anywhere (Envoy's `?filter=`, a search, not a full match). */
  filter?: RegExp;
  /** Keeps the stats that were ever updated (Envoy's `?usedonly`). */
  usedOnly?: boolean;
}

/** Quantile labels as Envoy prints them (`P{:g}` of the percentage). */
const QUANTILE_LABELS = ['P0', 'P25', 'P50', 'P75', 'P90', 'P95', 'P99', 'P99.5', 'P99.9', 'P100'];
const SUPPORTED_PERCENTILES = [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100];

/** The predicate both renderers apply: Envoy's `shouldShowMetric`. */
export function statSelector(
  options: StatsRenderOptions,
): (stat: { name: string; used: boolean }) => boolean {
  const { usedOnly = false } = options;
  // A copy without the g/y flags, so that `test` keeps no lastIndex between stats.
  const filter = options.filter
    ? new RegExp(options.filter.source, options.filter.flags.replace(/[gy]/g, ''))
    : undefined;
  return (stat) => (!usedOnly || stat.used) && (!filter || filter.test(stat.name));
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function selected(
  store: StatsStore,
  options: StatsRenderOptions,
): { scalars: Array<Counter | Gauge>; histograms: Histogram[] } {
  const keep = statSelector(options);
  const scalars: Array<Counter | Gauge> = [];
  const histograms: Histogram[] = [];
  for (const c of store.counters()) if (keep(c)) scalars.push(c);
  for (const g of store.gauges()) if (keep(g)) scalars.push(g);
  for (const h of store.histograms()) if (keep(h)) histograms.push(h);
  for (const family of store.families()) {
    for (const s of family.series()) {
      if (!keep(s)) continue;
      if (s instanceof Histogram) histograms.push(s);
      else scalars.push(s);
    }
  }
  return { scalars: scalars.sort(byName), histograms: histograms.sort(byName) };
}

function formatNumber(n: number): string {
  return Number.isNaN(n) ? 'nan' : String(n);
}

/** Envoy's ParentHistogramImpl::quantileSummary, with `nan` intervals (see the header). */
export function quantileSummary(h: Histogram): string {
  if (!h.used) return 'No recorded values';
  return SUPPORTED_QUANTILES.map((q, i) => `${QUANTILE_LABELS[i]}(nan,${formatNumber(h.quantile(q))})`).join(
    ' ',
  );
}

/** `/stats` as plain text. */
export function renderStatsText(store: StatsStore, options: StatsRenderOptions = {}): string {
  const { scalars, histograms } = selected(store, options);
  let out = '';
  for (const s of scalars) out += `${s.name}: ${s.value}\n`;
  for (const h of histograms) out += `${h.name}: ${quantileSummary(h)}\n`;
  return out;
}

/** `/stats?format=json`: `{"stats":[{"name","value"}…, {"histograms":{supported_quantiles, computed_quantiles}}]}`. */
export function renderStatsJson(store: StatsStore, options: StatsRenderOptions = {}): string {
  const { scalars, histograms } = selected(store, options);
  const stats: unknown[] = scalars.map((s) => ({ name: s.name, value: s.value }));
  if (histograms.length > 0) {
    stats.push({
      histograms: {
        supported_quantiles: SUPPORTED_PERCENTILES,
        computed_quantiles: histograms.map((h) => ({
          name: h.name,
          values: SUPPORTED_QUANTILES.map((q) => ({
            interval: null,
            cumulative: h.used ? h.quantile(q) : null,
          })),
        })),
      },
    });
  }
  return JSON.stringify({ stats });
}
