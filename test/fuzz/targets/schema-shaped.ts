// Bootstrap-shaped JSON for the `bootstrap` fuzz target, generated from Envoy's protos by reflection: a message
// gets some of its fields (mostly ones the seed bootstraps use, under either spelling, sometimes misspelled),
// `Any` gets a type URL the seeds use, values have the field's type or, now and then, another one. Driven by a
// list of choices that fast-check generates and shrinks, so a failure shrinks to a small document.

import type protobuf from 'protobufjs';
import type { JsonTree } from '../mutate.js';

/** Reads choices in order; 0 once they run out, which always picks the smallest option. */
class Choices {
  private i = 0;
  constructor(private readonly list: readonly number[]) {}
  next(n: number): number {
    const v = this.list[this.i++] ?? 0;
    return n <= 0 ? 0 : v % n;
  }
  pick<T>(options: readonly T[]): T {
    return options[this.next(options.length)] as T;
  }
}

export interface Vocabulary {
  /** Every key the seeds use (field names, in either spelling). */
  keys: Set<string>;
  /** The `@type` URLs the seeds use. */
  typeUrls: string[];
  /** String values the seeds use. */
  strings: string[];
}

/** Walks seed values and collects their keys, type URLs and strings. */
export function vocabularyOf(seeds: readonly JsonTree[]): Vocabulary {
  const keys = new Set<string>();
  const typeUrls = new Set<string>();
  const strings = new Set<string>(['', 'x', '*', '127.0.0.1', '0.0.0.0', '::', 'default', 'ROOTCA']);
  const walk = (v: JsonTree) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) {
      for (const [k, item] of Object.entries(v)) {
        keys.add(k);
        if (k === '@type' && typeof item === 'string') typeUrls.add(item);
        walk(item);
      }
    } else if (typeof v === 'string') strings.add(v);
  };
  seeds.forEach(walk);
  return { keys, typeUrls: [...typeUrls].sort(), strings: [...strings].sort() };
}

const INTS = [
  0,
  1,
  -1,
  2,
  80,
  443,
  9080,
  15006,
  65535,
  65536,
  2 ** 31,
  2 ** 32,
  -(2 ** 31) - 1,
  '7',
  '-3',
  1.5,
];
const DURATIONS = [
  '1s',
  '0s',
  '0.250s',
  '10s',
  '5s',
  '-1s',
  '1.0000000001s',
  '1',
  1,
  'PT1S',
  '315576000001s',
];
const WRONG: JsonTree[] = [null, true, 0, -1, '', 'x', [], {}, [{}], { '@type': '' }];

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

export function generateBootstrap(
  root: protobuf.Root,
  vocabulary: Vocabulary,
  choices: readonly number[],
): JsonTree {
  const c = new Choices(choices);
  const type = root.lookupType('envoy.config.bootstrap.v3.Bootstrap');
  return message(root, vocabulary, c, type, 0);
}

function message(
  root: protobuf.Root,
  vocab: Vocabulary,
  c: Choices,
  type: protobuf.Type,
  depth: number,
): JsonTree {
  const name = type.fullName.replace(/^\./, '');
  switch (name) {
    case 'google.protobuf.Duration':
      return c.pick(DURATIONS);
    case 'google.protobuf.Struct':
      return {
        [c.pick(vocab.strings) || 'k']: c.pick(vocab.strings),
        LABELS: { app: c.pick(vocab.strings) },
      };
    case 'google.protobuf.Value':
      return c.pick([c.pick(vocab.strings), 1, true, null, [], {}]);
    case 'google.protobuf.Empty':
      return {};
    case 'google.protobuf.Any':
      return anyValue(root, vocab, c, depth);
  }
  if (name.startsWith('google.protobuf.') && name.endsWith('Value')) {
    const inner = type.fields.value;
    return inner ? scalar(vocab, c, inner) : null;
  }
  const out: { [key: string]: JsonTree } = {};
  if (depth > 7) return out;
  const fields = type.fieldsArray;
  const known = fields.filter((f) => vocab.keys.has(f.name) || vocab.keys.has(camel(f.name)));
  const count = (depth < 3 ? 1 : 0) + c.next(depth < 3 ? 5 : 3);
  for (let i = 0; i < count; i++) {
    const f = c.next(10) < 9 && known.length > 0 ? c.pick(known) : c.pick(fields);
    if (!f) break;
    const spelling = c.next(20);
    const key = spelling < 16 ? f.name : spelling < 19 ? camel(f.name) : `${f.name}x`;
    out[key] = c.next(25) === 0 ? c.pick(WRONG) : fieldValue(root, vocab, c, f, depth);
  }
  return out;
}

function fieldValue(
  root: protobuf.Root,
  vocab: Vocabulary,
  c: Choices,
  f: protobuf.Field,
  depth: number,
): JsonTree {
  if (f.map) {
    const out: { [key: string]: JsonTree } = {};
    for (let i = c.next(3); i > 0; i--) out[c.pick(vocab.strings) || 'k'] = single(root, vocab, c, f, depth);
    return out;
  }
  if (f.repeated) return Array.from({ length: 1 + c.next(2) }, () => single(root, vocab, c, f, depth));
  return single(root, vocab, c, f, depth);
}

function single(
  root: protobuf.Root,
  vocab: Vocabulary,
  c: Choices,
  f: protobuf.Field,
  depth: number,
): JsonTree {
  const resolved = f.resolvedType;
  if (resolved && 'fieldsArray' in resolved)
    return message(root, vocab, c, resolved as protobuf.Type, depth + 1);
  if (resolved && 'values' in resolved) {
    const names = Object.keys((resolved as protobuf.Enum).values);
    return c.next(10) === 0 ? c.pick([7, 'NOPE', 0]) : c.pick(names);
  }
  return scalar(vocab, c, f);
}

function scalar(vocab: Vocabulary, c: Choices, f: protobuf.Field): JsonTree {
  switch (f.type) {
    case 'string':
      return c.pick(vocab.strings);
    case 'bool':
      return c.pick([true, false, 'true']);
    case 'bytes':
      return c.pick(['', 'aGVsbG8=', '!!!']);
    case 'double':
    case 'float':
      return c.pick([0, 1.5, -1, 'NaN', 'Infinity', '1e3', 'x']);
    default:
      return c.pick(INTS);
  }
}

function anyValue(root: protobuf.Root, vocab: Vocabulary, c: Choices, depth: number): JsonTree {
  const url =
    c.next(12) === 0
      ? c.pick(['', 'type.googleapis.com/nope.Nope', 'envoy.config.core.v3.Node'])
      : c.pick(vocab.typeUrls);
  let inner: protobuf.Type | undefined;
  try {
    const found = root.lookupType(url.slice(url.lastIndexOf('/') + 1));
    inner = found && Array.isArray(found.fieldsArray) ? found : undefined;
  } catch {
    inner = undefined;
  }
  const body = inner ? message(root, vocab, c, inner, depth + 1) : {};
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? { '@type': url, ...body }
    : { '@type': url, value: body };
}
