// The proxy's statistics store, after Envoy's Stats::Store (envoy/stats/store.h): named counters, gauges and
// histograms, created once at config time and returned again (the same object) for the same name. Each stat's
// Prometheus name and labels are worked out at creation with Envoy's tag extraction (tag-extractor.ts), never at
// scrape time. Beside them, labelled families in Prometheus' own model for Skiff's and Istio's metrics
// (`istio_requests_total{reporter=…}`), with a cap on label combinations per family.

import { Counter, DEFAULT_HISTOGRAM_BUCKETS, Gauge, Histogram, type PromSeries } from './metrics.js';
import { TagProducer, type TagRule } from './tag-extractor.js';
import { SKIFF_TAG_RULES } from './tag-rules.js';

export type MetricKind = 'counter' | 'gauge' | 'histogram';

/** Label value given to every label of the series that takes the combinations past the cap. */
export const OVERFLOW_LABEL_VALUE = 'overflow';
/** Counts family lookups that landed in the overflow series. */
export const OVERFLOW_STAT = 'skiff.stats.overflow';

export interface StatsStoreOptions {
  /** Label combinations a family may hold; later new combinations share one `"overflow"` series. Default 10 000. */
  maxSeries?: number;
  /** Tag extraction rules for /stats/prometheus names. Default SKIFF_TAG_RULES. */
  tagRules?: readonly TagRule[];
}

const PROM_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const PROM_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Separator of label values in a family's child key (label values do not carry NUL). */
const KEY_SEPARATOR = '\u0000';

/** Prometheus' name rule as Envoy applies it: every character outside [a-zA-Z0-9_] becomes `_`. */
export function sanitizePromName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** Escapes a label value for the Prometheus text format: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

function labelPairs(names: readonly string[], values: readonly string[]): string {
  return names.map((n, i) => `${n}="${escapeLabelValue(values[i] ?? '')}"`).join(',');
}

/** Children by label values, Prometheus style. Look a child up once and keep it: `get` builds a key. */
export class MetricFamily<T extends Counter | Gauge | Histogram> {
  private readonly children = new Map<string, T>();

  constructor(
    readonly kind: MetricKind,
    readonly name: string,
    /** `# HELP` text; undefined renders no HELP line, as Envoy prints Istio's metrics. */
    readonly help: string | undefined,
    readonly labelNames: readonly string[],
    private readonly maxSeries: number,
    private readonly overflow: Counter,
    private readonly create: (name: string, series: PromSeries) => T,
  ) {}

  /** The child for these label values (one per label name, in order); created on first use. */
  get(labelValues: readonly string[]): T {
    const key = labelValues.join(KEY_SEPARATOR);
    const hit = this.children.get(key);
    if (hit !== undefined) return hit;
    if (labelValues.length !== this.labelNames.length) {
      throw new Error(
        `${this.name}: ${labelValues.length} label values for ${this.labelNames.length} labels`,
      );
    }
    if (this.children.size < this.maxSeries) return this.add(key, labelValues);
    this.overflow.inc();
    const values = this.labelNames.map(() => OVERFLOW_LABEL_VALUE);
    const overflowKey = values.join(KEY_SEPARATOR);
    return this.children.get(overflowKey) ?? this.add(overflowKey, values);
  }

  /** Every child so far, the overflow series included. */
  series(): IterableIterator<T> {
    return this.children.values();
  }

  private add(key: string, values: readonly string[]): T {
    const labels = labelPairs(this.labelNames, values);
    const child = this.create(labels === '' ? this.name : `${this.name}{${labels}}`, {
      metric: this.name,
      labels,
    });
    this.children.set(key, child);
    return child;
  }
}

export type CounterFamily = MetricFamily<Counter>;
export type GaugeFamily = MetricFamily<Gauge>;
export type HistogramFamily = MetricFamily<Histogram>;
export type AnyFamily = MetricFamily<Counter | Gauge | Histogram>;

export class StatsStore {
  readonly maxSeries: number;
  private readonly producer: TagProducer;
  private readonly counterMap = new Map<string, Counter>();
  private readonly gaugeMap = new Map<string, Gauge>();
  private readonly histogramMap = new Map<string, Histogram>();
  private readonly familyMap = new Map<string, AnyFamily>();
  /** `skiff.stats.overflow`: family lookups sent to the overflow series. */
  readonly overflow: Counter;

  constructor(options: StatsStoreOptions = {}) {
    this.maxSeries = options.maxSeries ?? 10_000;
    this.producer = new TagProducer(options.tagRules ?? SKIFF_TAG_RULES);
    this.overflow = this.counter(OVERFLOW_STAT);
  }

  /** The counter of that name, created on first call; later calls return the same object. */
  counter(name: string): Counter {
    const hit = this.counterMap.get(name);
    if (hit !== undefined) return hit;
    this.assertFree(name, this.gaugeMap, this.histogramMap);
    const c = new Counter(name, this.seriesOf(name));
    this.counterMap.set(name, c);
    return c;
  }

  gauge(name: string): Gauge {
    const hit = this.gaugeMap.get(name);
    if (hit !== undefined) return hit;
    this.assertFree(name, this.counterMap, this.histogramMap);
    const g = new Gauge(name, this.seriesOf(name));
    this.gaugeMap.set(name, g);
    return g;
  }

  /** The histogram of that name; `bounds` applies when it is created (a later call gets the first one's). */
  histogram(name: string, bounds: readonly number[] = DEFAULT_HISTOGRAM_BUCKETS): Histogram {
    const hit = this.histogramMap.get(name);
    if (hit !== undefined) return hit;
    this.assertFree(name, this.counterMap, this.gaugeMap);
    const h = new Histogram(name, this.seriesOf(name), checkBounds(name, bounds));
    this.histogramMap.set(name, h);
    return h;
  }

  /**
   * A labelled counter family, named verbatim in /stats/prometheus (no `envoy_` prefix), with a `# HELP` line
   * unless `help` is undefined.
   */
  counterFamily(name: string, help: string | undefined, labelNames: readonly string[]): CounterFamily {
    return this.family('counter', name, help, labelNames, (n, s) => new Counter(n, s));
  }

  gaugeFamily(name: string, help: string | undefined, labelNames: readonly string[]): GaugeFamily {
    return this.family('gauge', name, help, labelNames, (n, s) => new Gauge(n, s));
  }

  histogramFamily(
    name: string,
    help: string | undefined,
    labelNames: readonly string[],
    bounds: readonly number[] = DEFAULT_HISTOGRAM_BUCKETS,
  ): HistogramFamily {
    const checked = checkBounds(name, bounds);
    return this.family('histogram', name, help, labelNames, (n, s) => new Histogram(n, s, checked));
  }

  counters(): IterableIterator<Counter> {
    return this.counterMap.values();
  }

  gauges(): IterableIterator<Gauge> {
    return this.gaugeMap.values();
  }

  histograms(): IterableIterator<Histogram> {
    return this.histogramMap.values();
  }

  families(): IterableIterator<AnyFamily> {
    return this.familyMap.values();
  }

  private seriesOf(name: string): PromSeries {
    const extracted = this.producer.produceTags(name);
    return {
      metric: `envoy_${sanitizePromName(extracted.name)}`,
      labels: extracted.tags
        .map((t) => `${sanitizePromName(t.name)}="${escapeLabelValue(t.value)}"`)
        .join(','),
    };
  }

  private assertFree(name: string, ...others: ReadonlyArray<ReadonlyMap<string, unknown>>): void {
    if (others.some((m) => m.has(name))) throw new Error(`stat ${name} already exists with another type`);
  }

  private family<T extends Counter | Gauge | Histogram>(
    kind: MetricKind,
    name: string,
    help: string | undefined,
    labelNames: readonly string[],
    create: (name: string, series: PromSeries) => T,
  ): MetricFamily<T> {
    const existing = this.familyMap.get(name);
    if (existing !== undefined) {
      const same = existing.kind === kind && existing.labelNames.join(',') === labelNames.join(',');
      if (!same) throw new Error(`metric family ${name} already exists with another type or labels`);
      return existing as MetricFamily<T>;
    }
    if (!PROM_NAME.test(name))
      throw new Error(`metric family name ${JSON.stringify(name)} is not a Prometheus name`);
    const bad = labelNames.find((l) => !PROM_LABEL.test(l) || l.startsWith('__') || l === 'le');
    if (bad !== undefined) throw new Error(`${name}: label name ${JSON.stringify(bad)} is not allowed`);
    if (new Set(labelNames).size !== labelNames.length) throw new Error(`${name}: label names repeat`);
    const family = new MetricFamily<T>(
      kind,
      name,
      help,
      [...labelNames],
      this.maxSeries,
      this.overflow,
      create,
    );
    this.familyMap.set(name, family);
    return family;
  }
}

function checkBounds(name: string, bounds: readonly number[]): readonly number[] {
  const ascending = bounds.every((b, i) => Number.isFinite(b) && (i === 0 || b > (bounds[i - 1] as number)));
  if (!ascending) throw new Error(`histogram ${name}: bucket bounds must be finite and ascending`);
  return [...bounds];
}
