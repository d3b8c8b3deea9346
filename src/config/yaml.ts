// Reads YAML the way Kubernetes does (sigs.k8s.io/yaml over go-yaml v2): YAML 1.1 plain scalars, then JSON.
// The `yaml` package parses; we resolve plain scalars ourselves with go-yaml v2's rules, because its YAML 1.1
// schema differs from go-yaml v2 (sexagesimal numbers, timestamps, colons inside flow collections).

import type { CST } from 'yaml';
import {
  type Alias,
  Composer,
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  Parser,
  type Scalar,
  visit,
} from 'yaml';
import { showValue } from '../core/diagnostics.js';
import type { FieldPath } from '../core/field-path.js';

/** One document of a YAML stream, as the JSON Kubernetes would see, with the line of each field. */
export interface YamlDocument {
  /** 1-based position in the stream, counting empty documents, as a person counts `---` sections. */
  index: number;
  /** 1-based line where the document's content starts. */
  line: number;
  value: unknown;
  /** Line of the value at a field path, for messages; see `lineOf`. */
  lines: Map<string, number>;
}

export interface YamlProblem {
  document: number;
  line: number;
  message: string;
}

export interface YamlStream {
  documents: YamlDocument[];
  /** Errors: the document they are in is not returned. */
  problems: YamlProblem[];
  /** Readable, but probably not what the author meant (a repeated key). */
  warnings: YamlProblem[];
}

/** The key used in `YamlDocument.lines` for a field path. */
export function pathKey(path: FieldPath): string {
  return JSON.stringify(path);
}

/** The nearest known line for a path: the field itself, or the closest enclosing one. */
export function lineOf(doc: YamlDocument, path: FieldPath): number {
  for (let n = path.length; n >= 0; n--) {
    const line = doc.lines.get(pathKey(path.slice(0, n)));
    if (line !== undefined) return line;
  }
  return doc.line;
}

/**
 * Parses a multi-document YAML (or JSON) text. Documents that are empty or `null` are skipped, as kubectl
 * does; their position still counts in `index`. Never throws: problems are returned.
 */
export function parseYamlStream(text: string): YamlStream {
  const lineCounter = new LineCounter();
  const tokens = [...new Parser(lineCounter.addNewLine).parse(text)];
  for (const token of tokens) repairFlowColons(token);
  const composer = new Composer({ schema: 'failsafe', version: '1.1', uniqueKeys: false, strict: false });
  const docs = [...composer.compose(tokens)];
  const documents: YamlDocument[] = [];
  const problems: YamlProblem[] = [];
  const warnings: YamlProblem[] = [];
  docs.forEach((doc, i) => {
    const index = i + 1;
    const start = doc.contents?.range?.[0] ?? doc.range[0];
    const line = lineCounter.linePos(start).line;
    for (const e of doc.errors) {
      problems.push({
        document: index,
        line: lineCounter.linePos(e.pos[0]).line,
        message: firstLine(e.message),
      });
    }
    if (doc.errors.length > 0) return;
    const converter = new Converter(doc, lineCounter, index);
    let value: unknown;
    try {
      value = converter.convert(doc.contents, []);
    } catch (e) {
      if (!(e instanceof ExcessiveAliasing)) throw e;
      problems.push({ document: index, line: e.line, message: e.message });
      return;
    }
    problems.push(...converter.problems);
    warnings.push(...converter.warnings);
    if (converter.problems.length > 0 || value === null) return;
    documents.push({ index, line, value, lines: converter.lines });
  });
  return { documents, problems, warnings };
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

/**
 * go-yaml v2 ends a plain scalar at `:` only when a blank follows, also inside `[...]` and `{...}`; the `yaml`
 * package also ends it before `,]}[{`. So `[001:db8::]` is the string `001:db8::` for Kubernetes but a
 * one-pair mapping for `yaml`. Undo that split in the token tree before composing.
 */
function repairFlowColons(token: CST.Token): void {
  if (token.type === 'document') {
    if (token.value) repairFlowColons(token.value);
    return;
  }
  if (token.type === 'block-map' || token.type === 'block-seq') {
    for (const item of token.items) {
      if (item.key) repairFlowColons(item.key);
      if (item.value) repairFlowColons(item.value);
    }
    return;
  }
  if (token.type !== 'flow-collection') return;
  for (const item of token.items) {
    if (item.key) repairFlowColons(item.key);
    if (item.value) {
      const merged = mergedBlockMapScalar(item.value);
      if (merged) item.value = merged;
      else repairFlowColons(item.value);
    }
    const asScalar = mergedPair(item.key, item.sep, item.value);
    if (asScalar) {
      delete item.key;
      delete item.sep;
      item.value = asScalar;
    }
  }
}

/** `key` immediately followed by `:` and nothing else: the `:` was part of the plain scalar. */
function mergedPair(
  key: CST.Token | null | undefined,
  sep: CST.SourceToken[] | undefined,
  value: CST.Token | undefined,
): CST.FlowScalar | undefined {
  if (key?.type !== 'scalar' || !sep || sep.length !== 1) return undefined;
  const ind = sep[0];
  if (ind?.type !== 'map-value-ind' || ind.offset !== key.offset + key.source.length) return undefined;
  if (value && !(value.type === 'scalar' && value.source === '')) return undefined;
  return { ...key, source: `${key.source}:` };
}

/** `{a: 2001:db8::}` arrives as a block map inside the flow map; it is really one plain scalar. */
function mergedBlockMapScalar(token: CST.Token): CST.FlowScalar | undefined {
  if (token.type !== 'block-map' || token.items.length !== 1) return undefined;
  const item = token.items[0];
  if (!item || item.start.length > 0) return undefined;
  return mergedPair(item.key, item.sep, item.value);
}

const TAG = 'tag:yaml.org,2002:';

/**
 * The node each alias refers to: the last node before it carrying its anchor (YAML 1.2 §3.2.2.2; go-yaml keeps
 * the same pointer per alias). Found in one walk of the document: the `yaml` package's `Alias.resolve` walks the
 * whole document on every call, which made a file sharing one block thousands of times take minutes.
 */
function aliasTargets(doc: Document.Parsed): Map<Alias, Node> {
  const targets = new Map<Alias, Node>();
  const anchors = new Map<string, Node>();
  visit(doc, {
    Node: (_key, node) => {
      if (isAlias(node)) {
        const target = anchors.get(node.source);
        if (target) targets.set(node, target);
      } else if (node.anchor) {
        anchors.set(node.anchor, node);
      }
    },
  });
  return targets;
}

// A YAML bomb (anchors of lists of aliases of anchors, "billion laughs") expands exponentially. go-yaml v2
// (what Kubernetes decodes with) counts every node it decodes and those decoded through an alias, and refuses
// a document where aliases account for too many of them (decode.go `allowedAliasRatio`, since v2.2.8,
// CVE-2019-11254): more than 100 alias-driven nodes out of more than 1,000, and a share of them above 99% up to
// 400,000 nodes, falling to 10% at 4,000,000. The same rule here, with go-yaml's message.
const ALIAS_RATIO_RANGE_LOW = 400_000;
const ALIAS_RATIO_RANGE_HIGH = 4_000_000;

function allowedAliasRatio(decodes: number): number {
  if (decodes <= ALIAS_RATIO_RANGE_LOW) return 0.99;
  if (decodes >= ALIAS_RATIO_RANGE_HIGH) return 0.1;
  return 0.99 - (0.89 * (decodes - ALIAS_RATIO_RANGE_LOW)) / (ALIAS_RATIO_RANGE_HIGH - ALIAS_RATIO_RANGE_LOW);
}

/** Ends the conversion of a document (caught in parseYamlStream, never thrown out of it). */
class ExcessiveAliasing extends Error {
  constructor(readonly line: number) {
    super('document contains excessive aliasing (a YAML bomb: Kubernetes refuses it too)');
  }
}

class Converter {
  readonly problems: YamlProblem[] = [];
  readonly warnings: YamlProblem[] = [];
  readonly lines = new Map<string, number>();
  private readonly resolving = new Set<Node>();
  private readonly targets: Map<Alias, Node>;
  /** Nodes decoded, and of those the ones decoded through an alias (go-yaml's decodeCount, aliasCount). */
  private decodes = 0;
  private aliasDecodes = 0;
  private aliasDepth = 0;

  constructor(
    doc: Document.Parsed,
    private readonly lineCounter: LineCounter,
    private readonly index: number,
  ) {
    this.targets = aliasTargets(doc);
  }

  private lineAt(node: { range?: [number, number, number] | null } | null | undefined): number {
    return this.lineCounter.linePos(node?.range?.[0] ?? 0).line;
  }

  private problem(node: Node | null | undefined, message: string): null {
    this.problems.push({ document: this.index, line: this.lineAt(node), message });
    return null;
  }

  /** Counts one decoded node; throws ExcessiveAliasing past go-yaml v2's limit. */
  private count(node: Node | Alias): void {
    this.decodes++;
    if (this.aliasDepth > 0) this.aliasDecodes++;
    if (
      this.aliasDecodes > 100 &&
      this.decodes > 1000 &&
      this.aliasDecodes / this.decodes > allowedAliasRatio(this.decodes)
    ) {
      throw new ExcessiveAliasing(this.lineAt(node));
    }
  }

  convert(node: Node | Alias | null | undefined, path: FieldPath): unknown {
    if (node === null || node === undefined) return null;
    this.count(node);
    if (isAlias(node)) {
      const target = this.targets.get(node);
      if (!target) return this.problem(node, `unknown alias *${node.source}`);
      if (this.resolving.has(target)) return this.problem(node, `alias *${node.source} refers to itself`);
      this.resolving.add(target);
      this.aliasDepth++;
      try {
        return this.convert(target, path);
      } finally {
        this.aliasDepth--;
        this.resolving.delete(target);
      }
    }
    this.lines.set(pathKey(path), this.lineAt(node));
    if (isScalar(node)) return this.scalar(node);
    if (isSeq(node)) return node.items.map((item, i) => this.convert(item as Node, [...path, i]));
    if (isMap(node)) return this.mapping(node.items, path);
    return this.problem(node, 'unsupported YAML node');
  }

  /**
   * go-yaml v2 applies a mapping's entries in document order: a later key, or a later `<<` merge, overwrites
   * an earlier one; within one merge list the first mapping wins. A repeated key is a warning, not an error,
   * because kubectl reads it that way (the last one wins).
   */
  private mapping(items: unknown[], path: FieldPath): Record<string, unknown> {
    const out = new Map<string, unknown>();
    const explicit = new Set<string>();
    for (const pair of items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as Node | null;
      if (isScalar(keyNode) && keyNode.type === 'PLAIN' && keyNode.value === '<<' && !keyNode.tag) {
        const merged = this.convert(pair.value as Node, path);
        const sources = Array.isArray(merged) ? [...merged].reverse() : [merged];
        for (const source of sources) {
          if (typeof source !== 'object' || source === null || Array.isArray(source)) {
            this.problem(keyNode, 'a merge key "<<" needs a mapping or a list of mappings');
            continue;
          }
          for (const [k, v] of Object.entries(source)) out.set(k, v);
        }
        continue;
      }
      const key = this.key(keyNode, path);
      if (key === undefined) continue;
      if (explicit.has(key)) {
        this.warnings.push({
          document: this.index,
          line: this.lineAt(keyNode),
          message: `duplicate key ${showValue(key)} in one mapping: the last one wins, as kubectl reads it`,
        });
      }
      explicit.add(key);
      out.set(key, this.convert(pair.value as Node, [...path, key]));
      // Point at the key: that is where a person looks for `spec.mtls`, even when its value starts below.
      this.lines.set(pathKey([...path, key]), this.lineAt(keyNode));
    }
    return Object.fromEntries(out);
  }

  /** Map keys become JSON strings as sigs.k8s.io/yaml makes them: 80 → "80", true → "true". */
  private key(node: Node | null, path: FieldPath): string | undefined {
    if (isScalar(node)) this.count(node);
    const value = isScalar(node) ? this.scalar(node, true) : this.convert(node, path);
    if (typeof value === 'string') return value;
    if (typeof value === 'number') return Number.isInteger(value) ? String(value) : formatFloatKey(value);
    if (typeof value === 'boolean') return String(value);
    this.problem(
      node,
      `unsupported mapping key ${showValue(value)}: keys must be strings, numbers or booleans`,
    );
    return undefined;
  }

  /** A scalar's JSON value; `.inf`/`.nan` are refused as values (JSON has none) but fine as keys. */
  private scalar(node: Scalar, asKey = false): unknown {
    const text = String(node.value);
    const tag = node.tag;
    if (tag === '!' || tag === `${TAG}str`) return text;
    const quoted = node.type !== 'PLAIN';
    if (tag === undefined && quoted) return text;
    if (tag === `${TAG}binary`) return Buffer.from(text.replace(/\s+/g, ''), 'base64').toString('utf8');
    if (tag !== undefined && !RESOLVABLE.has(tag)) return this.problem(node, `unsupported YAML tag ${tag}`);
    const resolved = resolvePlainScalar(text);
    const intAsFloat = tag === `${TAG}float` && resolved.kind === 'int';
    if (tag !== undefined && tag !== `${TAG}${resolved.kind}` && !intAsFloat) {
      return this.problem(node, `cannot decode ${showValue(text)} as ${tag.replace(TAG, '!!')}`);
    }
    if (!asKey && typeof resolved.value === 'number' && !Number.isFinite(resolved.value)) {
      return this.problem(node, `${text} is not representable in JSON (Kubernetes refuses it)`);
    }
    return resolved.value;
  }
}

const RESOLVABLE = new Set(['str', 'bool', 'null', 'int', 'float', 'timestamp'].map((t) => `${TAG}${t}`));

const WORDS = new Map<string, ResolvedScalar>();
function words(list: string[], kind: ResolvedScalar['kind'], value: unknown): void {
  for (const w of list) WORDS.set(w, { kind, value });
}
words(['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'], 'bool', true);
words(['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'], 'bool', false);
words(['', '~', 'null', 'Null', 'NULL'], 'null', null);
words(['.nan', '.NaN', '.NAN'], 'float', Number.NaN);
words(['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'], 'float', Number.POSITIVE_INFINITY);
words(['-.inf', '-.Inf', '-.INF'], 'float', Number.NEGATIVE_INFINITY);

export interface ResolvedScalar {
  kind: 'str' | 'bool' | 'null' | 'int' | 'float' | 'timestamp';
  value: unknown;
}

const GO_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
// go-yaml v2's layouts: 2006-1-2T15:4:5.999999999Z07:00 (T or t), 2006-1-2 15:4:5.999999999, 2006-1-2.
const TIMESTAMP =
  /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2})|[ ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?)?$/;

/**
 * go-yaml v2's `resolve` for an untagged plain scalar. Timestamps stay strings (go-yaml v2 keeps them as
 * the original text when decoding into an untyped value, which is what sigs.k8s.io/yaml does).
 */
export function resolvePlainScalar(text: string): ResolvedScalar {
  const word = WORDS.get(text);
  if (word) return word;
  const first = text[0] ?? '';
  if (first === '.') {
    const f = goParseFloat(text);
    return f === undefined ? { kind: 'str', value: text } : { kind: 'float', value: f };
  }
  if (!/[-+0-9]/.test(first)) return { kind: 'str', value: text };
  if (TIMESTAMP.test(text)) return { kind: 'timestamp', value: text };
  const plain = text.replaceAll('_', '');
  const int = goParseInt(plain);
  if (int !== undefined) return { kind: 'int', value: int };
  if (GO_FLOAT.test(plain)) {
    const f = goParseFloat(plain);
    if (f !== undefined) return { kind: 'float', value: f };
  }
  return { kind: 'str', value: text };
}

/** Go's strconv.ParseInt(s, 0, 64) (after underscores are removed): sign, 0x / 0o / 0b / leading-0 octal. */
function goParseInt(s: string): number | undefined {
  const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const [, sign, digits = ''] = m;
  let magnitude: bigint;
  if (/^0[oO]/.test(digits)) magnitude = BigInt(`0o${digits.slice(2)}`);
  else if (/^0[0-7]+$/.test(digits)) magnitude = BigInt(`0o${digits.slice(1)}`);
  else magnitude = BigInt(digits);
  const value = sign === '-' ? -magnitude : magnitude;
  if (value > 18446744073709551615n || value < -9223372036854775808n) return undefined;
  return Number(value);
}

/** Go's strconv.ParseFloat(s, 64) for the forms YAML allows; out of range (1e400) fails, as in Go. */
function goParseFloat(s: string): number | undefined {
  if (!GO_FLOAT.test(s)) return undefined;
  const f = Number(s);
  return Number.isFinite(f) ? f : undefined;
}

/** Go's strconv.FormatFloat(f, 'g', -1, 32), which sigs.k8s.io/yaml uses for float map keys. */
function formatFloatKey(f: number): string {
  if (Number.isNaN(f)) return '.nan';
  if (!Number.isFinite(f)) return f > 0 ? '.inf' : '-.inf';
  const single = Math.fround(f);
  let digits = 1;
  while (digits < 9 && Math.fround(Number(single.toPrecision(digits))) !== single) digits++;
  const [mantissa = '', exponentText = '0'] = single.toExponential(digits - 1).split('e');
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= digits) {
    const e = Math.abs(exponent);
    return `${mantissa}e${exponent < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
  }
  return String(Number(single.toPrecision(digits)));
}
