// Envoy's admin `/stats/prometheus` (source/server/admin/prometheus_stats.cc): stats grouped by tag-extracted name,
// `envoy_`-prefixed and sanitized, with one `# TYPE` line a group and a blank line after it; counter groups first,
// then gauges, then histograms (`_bucket{le=…}` cumulative, `+Inf`, `_sum`, `_count`); a stat without tags
// prints `{}` as Envoy does. Families render beside them under their own names, with `# HELP` when they have one
// (Istio's metrics have none, as Envoy prints them). Deviations: groups sort by the final metric name (Envoy
// sorts by the name before the prefix), label values are escaped (Envoy prints them raw), and `_sum` is exact and
// printed in shortest form (Envoy prints its estimate with `%.32g`).

import { type Counter, type Gauge, Histogram } from './metrics.js';
import { type StatsRenderOptions, statSelector } from './render-text.js';
import type { MetricKind, StatsStore } from './store.js';

type Stat = Counter | Gauge | Histogram;

interface Group {
  readonly kind: MetricKind;
  readonly metric: string;
  help: string | undefined;
  readonly stats: Stat[];
}

const KIND_ORDER: readonly MetricKind[] = ['counter', 'gauge', 'histogram'];

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A sample value in the text format's spelling (`+Inf`, `-Inf`, `NaN`). */
function formatValue(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return Number.isNaN(v) ? 'NaN' : String(v);
}

function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

function histogramLines(h: Histogram): string {
  const { metric, labels } = h.series;
  const lead = labels === '' ? '' : `${labels},`;
  const cumulative = h.cumulativeCounts();
  let out = '';
  for (let i = 0; i < h.bounds.length; i++) {
    out += `${metric}_bucket{${lead}le="${h.bounds[i]}"} ${cumulative[i]}\n`;
  }
  out += `${metric}_bucket{${lead}le="+Inf"} ${h.count}\n`;
  out += `${metric}_sum{${labels}} ${formatValue(h.sum)}\n`;
  out += `${metric}_count{${labels}} ${h.count}\n`;
  return out;
}

/** `/stats/prometheus`: the Prometheus text exposition format, version 0.0.4. */
export function renderPrometheus(store: StatsStore, options: StatsRenderOptions = {}): string {
  const keep = statSelector(options);
  const groups = new Map<string, Group>();
  const add = (kind: MetricKind, stat: Stat, help?: string) => {
    if (!keep(stat)) return;
    const key = `${kind} ${stat.series.metric}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = { kind, metric: stat.series.metric, help, stats: [] };
      groups.set(key, group);
    }
    group.help ??= help;
    group.stats.push(stat);
  };
  for (const c of store.counters()) add('counter', c);
  for (const g of store.gauges()) add('gauge', g);
  for (const h of store.histograms()) add('histogram', h);
  for (const family of store.families()) for (const s of family.series()) add(family.kind, s, family.help);

  const ordered = [...groups.values()].sort(
    (a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || compare(a.metric, b.metric),
  );
  let out = '';
  for (const group of ordered) {
    if (group.help !== undefined) out += `# HELP ${group.metric} ${escapeHelp(group.help)}\n`;
    out += `# TYPE ${group.metric} ${group.kind}\n`;
    group.stats.sort((a, b) => compare(a.name, b.name));
    for (const s of group.stats) {
      out +=
        s instanceof Histogram
          ? histogramLines(s)
          : `${s.series.metric}{${s.series.labels}} ${formatValue(s.value)}\n`;
    }
    out += '\n';
  }
  return out;
}
