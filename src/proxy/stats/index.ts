// The proxy's statistics, as Envoy keeps and shows them: the store (named counters, gauges, histograms and
// Prometheus-style families), Envoy's tag extraction, and the admin renderings /stats, /stats?format=json and
// /stats/prometheus. Pure: no sockets, no files.

export {
  Counter,
  DEFAULT_HISTOGRAM_BUCKETS,
  Gauge,
  Histogram,
  type PromSeries,
  SUPPORTED_QUANTILES,
} from './metrics.js';
export { renderPrometheus } from './render-prometheus.js';
export {
  quantileSummary,
  renderStatsJson,
  renderStatsText,
  type StatsRenderOptions,
  statSelector,
} from './render-text.js';
export {
  type AnyFamily,
  type CounterFamily,
  escapeLabelValue,
  type GaugeFamily,
  type HistogramFamily,
  MetricFamily,
  type MetricKind,
  OVERFLOW_LABEL_VALUE,
  OVERFLOW_STAT,
  StatsStore,
  type StatsStoreOptions,
  sanitizePromName,
} from './store.js';
export { type ExtractedName, regexPrefix, type Tag, TagProducer, type TagRule } from './tag-extractor.js';
export { ENVOY_TAG_RULES, ISTIO_TAG_RULES, SKIFF_TAG_RULES } from './tag-rules.js';
