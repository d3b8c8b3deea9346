// A small PromQL evaluator for tests: enough to run the seed's two queries on real scrapes of Skiff's
// /stats/prometheus, and honest about what it leaves out.
//
// What it does, as Prometheus does:
// - parses the text exposition format (version 0.0.4): `name{label="value",…} value [timestamp_ms]`, comments and
//   blank lines skipped, label values unescaped (`\\`, `\"`, `\n`);
// - stores several scrapes as series over time; a scrape's target labels (e.g. `pod`) are added to every sample,
//   a scraped label of the same name being kept as `exported_<name>` (honor_labels: false);
// - evaluates, at one time (default: the latest scrape): number literals, instant selectors with `=`, `!=`, `=~`,
//   `!~` matchers (regexes fully anchored) and the 5-minute lookback; `rate(<selector>[<duration>])`;
//   `sum|min|max|avg|count (…) by|without (…)` with the grouping before or after; `+ - * /` between
//   scalars and vectors, vectors matched one-to-one on all labels but the metric name (the metric name dropped).
// What it simplifies or leaves out:
// - `rate` is the plain per-second slope (last − first, counter resets added back) / (t_last − t_first) of the
//   samples in the range (left-open, `(t − d, t]`); Prometheus also extrapolates to the range's edges, which makes
//   its value larger by up to (d / (t_last − t_first)). Fewer than two samples: no result, as Prometheus;
// - no `on`/`ignoring`/`group_left`, no comparison or set operators, no offsets, subqueries, other functions or
//   aggregations: they are refused with an error, not misread.

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  /** Labels, the metric name as `__name__`. */
  readonly labels: Labels;
  readonly value: number;
  /** Seconds, when the line carried its own timestamp. */
  readonly time?: number;
}

export interface Scrape {
  /** The scraped text. */
  readonly text: string;
  /** When it was scraped, in seconds. Default 0. */
  readonly time?: number;
  /** Target labels added to every sample, e.g. `{ pod: 'a-1' }`. */
  readonly target?: Labels;
}

export interface VectorElement {
  readonly labels: Labels;
  readonly value: number;
}

export type Value = number | VectorElement[];

// ---------------------------------------------------------------------------------------------------------------
// Exposition format

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$/;
const LABEL_PAIR = /[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*(,|$)/y;

function parseSampleValue(text: string, line: string): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  const v = Number(text);
  if (text === '' || Number.isNaN(v))
    throw new Error(`exposition: bad value ${JSON.stringify(text)} in: ${line}`);
  return v;
}

function unescapeLabel(raw: string): string {
  return raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** The samples of a Prometheus text scrape; throws on a line that is not a comment, blank or a sample. */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m === null) throw new Error(`exposition: cannot read line: ${line}`);
    const [, name = '', labelText, valueText = '', ts] = m;
    const labels: Record<string, string> = { __name__: name };
    if (labelText !== undefined && labelText.trim() !== '') {
      LABEL_PAIR.lastIndex = 0;
      while (LABEL_PAIR.lastIndex < labelText.length) {
        const start = LABEL_PAIR.lastIndex;
        const p = LABEL_PAIR.exec(labelText);
        if (p === null || p.index !== start) throw new Error(`exposition: bad labels in: ${line}`);
        const [, key = '', value = '', sep] = p;
        if (Object.hasOwn(labels, key)) throw new Error(`exposition: label ${key} repeated in: ${line}`);
        labels[key] = unescapeLabel(value);
        if (sep === '') break;
      }
    }
    const sample: Sample =
      ts === undefined
        ? { labels, value: parseSampleValue(valueText, line) }
        : { labels, value: parseSampleValue(valueText, line), time: Number(ts) / 1000 };
    out.push(sample);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Series storage

interface Series {
  labels: Labels;
  points: Array<[number, number]>;
}

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

/** Scrapes as series over time, for `evaluate`. */
export class SeriesStore {
  readonly series = new Map<string, Series>();
  /** The latest scrape time. */
  latest = 0;

  constructor(scrapes: readonly Scrape[]) {
    let first = true;
    for (const scrape of scrapes) {
      const time = scrape.time ?? 0;
      this.latest = first ? time : Math.max(this.latest, time);
      first = false;
      for (const s of parseExposition(scrape.text)) {
        const labels: Record<string, string> = { ...s.labels };
        for (const [k, v] of Object.entries(scrape.target ?? {})) {
          if (Object.hasOwn(labels, k)) labels[`exported_${k}`] = labels[k] as string;
          labels[k] = v;
        }
        const key = labelKey(labels);
        let series = this.series.get(key);
        if (series === undefined) {
          series = { labels, points: [] };
          this.series.set(key, series);
        }
        series.points.push([s.time ?? time, s.value]);
      }
    }
    for (const s of this.series.values()) s.points.sort((a, b) => a[0] - b[0]);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Expression parsing

type Matcher = { name: string; op: '=' | '!=' | '=~' | '!~'; value: string };

type Node =
  | { type: 'number'; value: number }
  | { type: 'selector'; matchers: Matcher[]; range: number | undefined }
  | { type: 'call'; fn: 'rate'; arg: Node }
  | {
      type: 'aggregate';
      op: 'sum' | 'min' | 'max' | 'avg' | 'count';
      grouping: { kind: 'by' | 'without'; labels: string[] } | undefined;
      arg: Node;
    }
  | { type: 'binary'; op: '+' | '-' | '*' | '/'; lhs: Node; rhs: Node };

interface Token {
  kind: 'ident' | 'number' | 'string' | 'duration' | 'punct';
  text: string;
  at: number;
}

const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'count']);
const UNSUPPORTED_WORDS = new Set([
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'and',
  'or',
  'unless',
]);

const TOKEN_RULES: ReadonlyArray<readonly [Token['kind'], RegExp]> = [
  ['duration', /^\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*(?![a-zA-Z0-9_:])/],
  ['ident', /^[a-zA-Z_:][a-zA-Z0-9_:]*/],
  ['number', /^(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)/],
  ['string', /^(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')/],
  ['punct', /^(?:!=|=~|!~|==|<=|>=|[{}()[\],=/*+\-<>^%])/],
];

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const rest = expr.slice(i);
    const space = /^\s+/.exec(rest);
    if (space !== null) {
      i += space[0].length;
      continue;
    }
    let token: Token | undefined;
    for (const [kind, re] of TOKEN_RULES) {
      const m = re.exec(rest);
      if (m === null) continue;
      // `Inf` and `NaN` are numbers, not metric names.
      const isNumberWord = kind === 'ident' && /^(?:inf|nan)$/i.test(m[0]);
      token = { kind: isNumberWord ? 'number' : kind, text: m[0], at: i };
      break;
    }
    if (token === undefined)
      throw new Error(`promql: unexpected ${JSON.stringify(rest[0])} at ${i} in ${expr}`);
    tokens.push(token);
    i += token.text.length;
  }
  return tokens;
}

function durationSeconds(text: string): number {
  const unit: Record<string, number> = {
    ms: 0.001,
    s: 1,
    m: 60,
    h: 3600,
    d: 86400,
    w: 604800,
    y: 31536000,
  };
  let total = 0;
  for (const m of text.matchAll(/(\d+)(ms|[smhdwy])/g))
    total += Number(m[1]) * (unit[m[2] as string] as number);
  return total;
}

function unquote(text: string): string {
  return text.slice(1, -1).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
}

class Parser {
  private pos = 0;
  private readonly tokens: Token[];

  constructor(private readonly expr: string) {
    this.tokens = tokenize(expr);
  }

  parse(): Node {
    const node = this.additive();
    if (this.pos < this.tokens.length) this.fail(`unexpected ${JSON.stringify(this.peek()?.text)}`);
    return node;
  }

  private fail(message: string): never {
    const at = this.peek()?.at ?? this.expr.length;
    throw new Error(`promql: ${message} at ${at} in ${this.expr}`);
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private take(text?: string): Token {
    const t = this.peek();
    if (t === undefined) this.fail(text === undefined ? 'unexpected end' : `expected ${text}`);
    if (text !== undefined && t.text !== text) this.fail(`expected ${text}, got ${JSON.stringify(t.text)}`);
    this.pos++;
    return t;
  }

  private isPunct(text: string): boolean {
    const t = this.peek();
    return t !== undefined && t.kind === 'punct' && t.text === text;
  }

  private additive(): Node {
    let lhs = this.multiplicative();
    while (this.isPunct('+') || this.isPunct('-')) {
      const op = this.take().text as '+' | '-';
      lhs = { type: 'binary', op, lhs, rhs: this.multiplicative() };
    }
    return lhs;
  }

  private multiplicative(): Node {
    let lhs = this.primary();
    for (;;) {
      const t = this.peek();
      if (t?.kind === 'ident' && UNSUPPORTED_WORDS.has(t.text)) this.fail(`${t.text} is not supported`);
      if (t?.kind === 'punct' && ['==', '!=', '<', '>', '<=', '>=', '^', '%'].includes(t.text)) {
        this.fail(`operator ${t.text} is not supported`);
      }
      if (!(this.isPunct('*') || this.isPunct('/'))) return lhs;
      const op = this.take().text as '*' | '/';
      lhs = { type: 'binary', op, lhs, rhs: this.primary() };
    }
  }

  private grouping(): { kind: 'by' | 'without'; labels: string[] } {
    const kind = this.take().text as 'by' | 'without';
    this.take('(');
    const labels: string[] = [];
    while (!this.isPunct(')')) {
      const t = this.take();
      if (t.kind !== 'ident') this.fail('expected a label name');
      labels.push(t.text);
      if (!this.isPunct(')')) this.take(',');
    }
    this.take(')');
    return { kind, labels };
  }

  private primary(): Node {
    const t = this.peek();
    if (t === undefined) this.fail('unexpected end');
    if (t.kind === 'number') {
      this.pos++;
      return { type: 'number', value: /^inf$/i.test(t.text) ? Number.POSITIVE_INFINITY : Number(t.text) };
    }
    if (this.isPunct('-')) {
      this.pos++;
      return { type: 'binary', op: '*', lhs: { type: 'number', value: -1 }, rhs: this.primary() };
    }
    if (this.isPunct('(')) {
      this.pos++;
      const inner = this.additive();
      this.take(')');
      return inner;
    }
    if (this.isPunct('{')) return this.selector(undefined);
    if (t.kind !== 'ident') this.fail(`unexpected ${JSON.stringify(t.text)}`);
    const next = this.tokens[this.pos + 1];
    if (AGGREGATIONS.has(t.text) && (next?.text === '(' || next?.text === 'by' || next?.text === 'without')) {
      this.pos++;
      let grouping =
        this.peek()?.text === 'by' || this.peek()?.text === 'without' ? this.grouping() : undefined;
      this.take('(');
      const arg = this.additive();
      this.take(')');
      if (this.peek()?.text === 'by' || this.peek()?.text === 'without') {
        if (grouping !== undefined) this.fail('grouping given twice');
        grouping = this.grouping();
      }
      return { type: 'aggregate', op: t.text as 'sum' | 'min' | 'max' | 'avg' | 'count', grouping, arg };
    }
    if (next?.text === '(') {
      if (t.text !== 'rate') this.fail(`function ${t.text} is not supported`);
      this.pos += 2;
      const arg = this.additive();
      this.take(')');
      if (arg.type !== 'selector' || arg.range === undefined) this.fail('rate() takes a range selector');
      return { type: 'call', fn: 'rate', arg };
    }
    if (UNSUPPORTED_WORDS.has(t.text)) this.fail(`${t.text} is not supported`);
    this.pos++;
    return this.selector(t.text);
  }

  private selector(name: string | undefined): Node {
    const matchers: Matcher[] = name === undefined ? [] : [{ name: '__name__', op: '=', value: name }];
    if (this.isPunct('{')) {
      this.pos++;
      while (!this.isPunct('}')) {
        const label = this.take();
        if (label.kind !== 'ident') this.fail('expected a label name');
        const op = this.take();
        if (!['=', '!=', '=~', '!~'].includes(op.text)) this.fail(`bad matcher ${op.text}`);
        const value = this.take();
        if (value.kind !== 'string') this.fail('expected a quoted label value');
        matchers.push({ name: label.text, op: op.text as Matcher['op'], value: unquote(value.text) });
        if (!this.isPunct('}')) this.take(',');
      }
      this.take('}');
    }
    if (matchers.length === 0) this.fail('a selector needs a metric name or a matcher');
    let range: number | undefined;
    if (this.isPunct('[')) {
      this.pos++;
      const d = this.take();
      if (d.kind !== 'duration') this.fail('expected a duration');
      range = durationSeconds(d.text);
      this.take(']');
    }
    if (this.peek()?.text === 'offset') this.fail('offset is not supported');
    return { type: 'selector', matchers, range };
  }
}

/** Parses a PromQL expression (the subset above); throws on anything else. */
export function parsePromql(expr: string): Node {
  return new Parser(expr).parse();
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation

export interface EvaluateOptions {
  /** Evaluation time in seconds. Default: the latest scrape. */
  time?: number;
  /** Instant-selector lookback in seconds. Default 300, as Prometheus. */
  lookback?: number;
}

function matches(labels: Labels, matchers: readonly Matcher[]): boolean {
  return matchers.every((m) => {
    const v = labels[m.name] ?? '';
    switch (m.op) {
      case '=':
        return v === m.value;
      case '!=':
        return v !== m.value;
      case '=~':
        return new RegExp(`^(?:${m.value})$`).test(v);
      case '!~':
        return !new RegExp(`^(?:${m.value})$`).test(v);
    }
    return false;
  });
}

function withoutName(labels: Labels): Record<string, string> {
  const { __name__: _, ...rest } = labels;
  return rest;
}

function sortVector(v: VectorElement[]): VectorElement[] {
  return v.sort((a, b) => {
    const x = labelKey(a.labels);
    const y = labelKey(b.labels);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

function arith(op: '+' | '-' | '*' | '/', a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
  }
}

function evalNode(node: Node, store: SeriesStore, t: number, lookback: number): Value {
  switch (node.type) {
    case 'number':
      return node.value;
    case 'selector': {
      if (node.range !== undefined)
        throw new Error('promql: a range selector needs a function such as rate()');
      const out: VectorElement[] = [];
      for (const s of store.series.values()) {
        if (!matches(s.labels, node.matchers)) continue;
        let last: [number, number] | undefined;
        for (const p of s.points) if (p[0] <= t && p[0] > t - lookback) last = p;
        if (last !== undefined) out.push({ labels: s.labels, value: last[1] });
      }
      return sortVector(out);
    }
    case 'call': {
      const sel = node.arg as Extract<Node, { type: 'selector' }>;
      const range = sel.range as number;
      const out: VectorElement[] = [];
      for (const s of store.series.values()) {
        if (!matches(s.labels, sel.matchers)) continue;
        const points = s.points.filter((p) => p[0] <= t && p[0] > t - range);
        if (points.length < 2) continue;
        let increase = 0;
        for (let i = 1; i < points.length; i++) {
          const prev = (points[i - 1] as [number, number])[1];
          const cur = (points[i] as [number, number])[1];
          increase += cur >= prev ? cur - prev : cur; // a reset: the counter restarted from 0
        }
        const span = (points[points.length - 1] as [number, number])[0] - (points[0] as [number, number])[0];
        out.push({ labels: withoutName(s.labels), value: increase / span });
      }
      return sortVector(out);
    }
    case 'aggregate': {
      const arg = evalNode(node.arg, store, t, lookback);
      if (typeof arg === 'number') throw new Error(`promql: ${node.op}() takes a vector`);
      const groups = new Map<string, { labels: Record<string, string>; values: number[] }>();
      for (const e of arg) {
        const base = withoutName(e.labels);
        let labels: Record<string, string>;
        if (node.grouping === undefined) labels = {};
        else if (node.grouping.kind === 'by') {
          labels = {};
          for (const l of node.grouping.labels)
            if (base[l] !== undefined && base[l] !== '') labels[l] = base[l];
        } else {
          labels = { ...base };
          for (const l of node.grouping.labels) delete labels[l];
        }
        const key = labelKey(labels);
        let g = groups.get(key);
        if (g === undefined) {
          g = { labels, values: [] };
          groups.set(key, g);
        }
        g.values.push(e.value);
      }
      const out: VectorElement[] = [];
      for (const g of groups.values()) {
        const v = g.values;
        let value: number;
        switch (node.op) {
          case 'sum':
            value = v.reduce((a, b) => a + b, 0);
            break;
          case 'min':
            value = Math.min(...v);
            break;
          case 'max':
            value = Math.max(...v);
            break;
          case 'avg':
            value = v.reduce((a, b) => a + b, 0) / v.length;
            break;
          case 'count':
            value = v.length;
            break;
        }
        out.push({ labels: g.labels, value });
      }
      return sortVector(out);
    }
    case 'binary': {
      const lhs = evalNode(node.lhs, store, t, lookback);
      const rhs = evalNode(node.rhs, store, t, lookback);
      if (typeof lhs === 'number' && typeof rhs === 'number') return arith(node.op, lhs, rhs);
      if (typeof lhs === 'number') {
        return (rhs as VectorElement[]).map((e) => ({
          labels: withoutName(e.labels),
          value: arith(node.op, lhs, e.value),
        }));
      }
      if (typeof rhs === 'number') {
        return lhs.map((e) => ({ labels: withoutName(e.labels), value: arith(node.op, e.value, rhs) }));
      }
      const right = new Map<string, VectorElement>();
      for (const e of rhs) {
        const key = labelKey(withoutName(e.labels));
        if (right.has(key)) throw new Error(`promql: many-to-many matching on the right side: {${key}}`);
        right.set(key, e);
      }
      const seen = new Set<string>();
      const out: VectorElement[] = [];
      for (const e of lhs) {
        const labels = withoutName(e.labels);
        const key = labelKey(labels);
        const match = right.get(key);
        if (match === undefined) continue;
        if (seen.has(key)) throw new Error(`promql: many-to-many matching on the left side: {${key}}`);
        seen.add(key);
        out.push({ labels, value: arith(node.op, e.value, match.value) });
      }
      return sortVector(out);
    }
  }
}

/** Evaluates `expr` over one or several scrapes at `options.time` (default the latest scrape). */
export function evaluate(
  expr: string,
  scrapes: Scrape | readonly Scrape[] | SeriesStore,
  options: EvaluateOptions = {},
): Value {
  const store =
    scrapes instanceof SeriesStore
      ? scrapes
      : new SeriesStore(Array.isArray(scrapes) ? (scrapes as readonly Scrape[]) : [scrapes as Scrape]);
  return evalNode(parsePromql(expr), store, options.time ?? store.latest, options.lookback ?? 300);
}

/** The vector of an expression that must give one, as `{labels} value` lines sorted, for assertions. */
export function formatVector(value: Value): string[] {
  if (typeof value === 'number') throw new Error('promql: expected a vector, got a scalar');
  return value.map((e) => {
    const labels = Object.keys(e.labels)
      .sort()
      .map((k) => `${k}="${e.labels[k]}"`)
      .join(',');
    return `{${labels}} ${e.value}`;
  });
}
