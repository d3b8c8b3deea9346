// Mutations for the fuzz targets, as fast-check arbitraries of edit lists applied to a seed input: bytes (for
// wire formats), lines of text (for YAML), and JSON trees (for configuration values). An edit list shrinks to
// fewer and simpler edits, so a failure comes back as the seed plus the one edit that matters.

import fc from 'fast-check';

/** One edit; its fields are read modulo what the seed allows, so any edit applies to any seed. */
export interface Edit {
  op: number;
  at: number;
  n: number;
  v: number;
}

export function editList(maxLength: number, ops: number): fc.Arbitrary<Edit[]> {
  return fc.array(fc.record({ op: fc.nat(ops - 1), at: fc.nat(), n: fc.nat(64), v: fc.nat(0xffff) }), {
    maxLength,
  });
}

// ---------------------------------------------------------------------------------------------------------
// Bytes.

const BYTE_OPS = 10;
const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x3b, 0x16, 0x03];
const INTERESTING_16 = [0, 1, 0xffff, 0x8000, 0x7fff, 0x4000, 0x4001, 0x00ff, 0x0100];

export const byteEdits = (maxLength = 6): fc.Arbitrary<Edit[]> => editList(maxLength, BYTE_OPS);

/** Applies byte edits: set, flip, insert, delete, duplicate, 16-bit lengths, truncate, copy, nudge. */
export function mutateBytes(seed: Buffer, edits: readonly Edit[]): Buffer {
  let b = Buffer.from(seed);
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % b.length;
    const n = (e.n % 16) + 1;
    switch (e.op) {
      case 0:
        if (b.length > 0) b[at] = e.v & 0xff;
        break;
      case 1:
        if (b.length > 0) b[at] = (b[at] as number) ^ (1 << (e.v % 8));
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), Buffer.alloc(n, e.v & 0xff), b.subarray(at)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
        break;
      case 4:
        b = Buffer.concat([b.subarray(0, at + n), b.subarray(at, at + n), b.subarray(at + n)]);
        break;
      case 5:
        if (b.length >= 2)
          b.writeUInt16BE(e.v % 3 === 0 ? e.v : (INTERESTING_16[e.v % 9] as number), at % (b.length - 1));
        break;
      case 6:
        if (b.length > 0) b[at] = INTERESTING_8[e.v % INTERESTING_8.length] as number;
        break;
      case 7:
        b = b.subarray(0, at);
        break;
      case 8: {
        const from = b.length === 0 ? 0 : e.v % b.length;
        b = Buffer.concat([b.subarray(0, at), b.subarray(from, from + n), b.subarray(at)]);
        break;
      }
      default:
        if (b.length > 0) b[at] = ((b[at] as number) + (e.v % 7) - 3) & 0xff;
    }
  }
  return b;
}

// ---------------------------------------------------------------------------------------------------------
// Lines of YAML text.

/** Scalars YAML 1.1 (go-yaml v2) or the decoders treat specially, and broken syntax. */
export const SCALARS = [
  '',
  '~',
  'null',
  '[]',
  '{}',
  '-1',
  '0',
  '-0',
  '0.5',
  '4294967296',
  '9007199254740993',
  '1e400',
  '.inf',
  '-.inf',
  '.nan',
  'on',
  'yes',
  'NO',
  '0777',
  '0x1F',
  '0o17',
  '0b101',
  '1_000',
  '22:22',
  '1:20:30',
  '2001-12-14t21:59:43.10-05:00',
  '!!binary aGVsbG8=',
  '!!str 1',
  '!!int "x"',
  '!!map {}',
  '!!seq x',
  '!custom x',
  '&a x',
  '*a',
  '*nowhere',
  '"\\u0000"',
  '"\\x80\\uD800"',
  "'it''s'",
  '|',
  '>-',
  '"unterminated',
  '[1, 2',
  '{a: 1',
  'a: b: c',
  '- - x',
  '? complex',
  '"@type": type.googleapis.com/google.protobuf.Empty',
  '"@type": type.googleapis.com/nope.Nope',
  '1s',
  '-1s',
  '0.000000001s',
  '315576000001s',
  '1.5ms',
  'NaN',
  'Infinity',
  'x'.repeat(300),
  '\u202e\u0000\ufeff',
  '🚀',
  'STRICT',
  'PERMISSIVE',
  'DISABLE',
  'UNSET',
  '*',
  '"*"',
  'spiffe://cluster.local/ns/a/sa/b',
  '127.0.0.1',
  '::1',
  '[::1]',
  '0.0.0.0/0',
  '65536',
  'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
];

/** Keys that mean something to the loaders, or to JavaScript objects. */
export const KEYS = [
  'apiVersion',
  'kind',
  'metadata',
  'spec',
  'name',
  'namespace',
  'labels',
  'selector',
  'matchLabels',
  'mtls',
  'mode',
  'portLevelMtls',
  'items',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '@type',
  'typed_config',
  'typedConfig',
  'static_resources',
  'listeners',
  'clusters',
  'filter_chains',
  'filters',
  'address',
  'socket_address',
  'port_value',
  'value',
  'type_url',
  '<<',
  '',
];

const LINE_CHARS = [
  ':',
  '-',
  '{',
  '}',
  '[',
  ']',
  ',',
  '"',
  "'",
  '&',
  '*',
  '!',
  '#',
  '|',
  '>',
  '%',
  '@',
  '`',
  '\t',
  '?',
  '\\',
  '\r',
  '\n',
  ' ',
];

const TEXT_OPS = 10;
export const lineEdits = (maxLength = 5): fc.Arbitrary<Edit[]> => editList(maxLength, TEXT_OPS);

function indentOf(line: string): string {
  return /^[ -]*/.exec(line)?.[0].replace(/-/g, ' ') ?? '';
}

/** Applies line edits: delete, duplicate, swap, indent, dedent, replace a value or key, insert, cut, poke. */
export function mutateText(seed: string, edits: readonly Edit[]): string {
  let lines = seed.split('\n');
  for (const e of edits) {
    if (lines.length === 0) lines = [''];
    const i = e.at % lines.length;
    const line = lines[i] as string;
    const scalar = SCALARS[e.v % SCALARS.length] as string;
    switch (e.op) {
      case 0:
        lines.splice(i, 1);
        break;
      case 1:
        lines.splice(i, 0, line);
        break;
      case 2:
        if (i + 1 < lines.length) [lines[i], lines[i + 1]] = [lines[i + 1] as string, line];
        break;
      case 3:
        lines[i] = ' '.repeat((e.n % 4) + 1) + line;
        break;
      case 4:
        lines[i] = line.replace(/^ {1,2}/, '');
        break;
      case 5: {
        // Replace what follows the first ': ' (or '- '), else the whole line.
        const m = /^(\s*(?:- )?[^:]*:\s)|^(\s*- )/.exec(line);
        lines[i] = m ? `${m[0]}${scalar}` : scalar;
        break;
      }
      case 6:
        lines.splice(i, 0, `${indentOf(line)}${KEYS[e.n % KEYS.length]}: ${scalar}`);
        break;
      case 7: {
        const text = lines.join('\n');
        lines = text.slice(0, text.length === 0 ? 0 : e.v % text.length).split('\n');
        break;
      }
      case 8: {
        const at = line.length === 0 ? 0 : e.n % (line.length + 1);
        lines[i] = line.slice(0, at) + LINE_CHARS[e.v % LINE_CHARS.length] + line.slice(at);
        break;
      }
      default: {
        const m = /^(\s*(?:- )?)([^:\s][^:]*):/.exec(line);
        if (m) lines[i] = `${m[1]}${KEYS[e.v % KEYS.length]}${line.slice(m[0].length - 1)}`;
      }
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// JSON trees.

export type JsonTree = null | boolean | number | string | JsonTree[] | { [key: string]: JsonTree };

export interface TreeEdit extends Edit {
  payload: JsonTree;
}

const TREE_OPS = 10;

export const treeEdits = (maxLength = 5): fc.Arbitrary<TreeEdit[]> =>
  fc.array(
    fc.record({
      op: fc.nat(TREE_OPS - 1),
      at: fc.nat(),
      n: fc.nat(64),
      v: fc.nat(0xffff),
      payload: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonTree>,
    }),
    { maxLength },
  );

interface Slot {
  parent: JsonTree[] | { [key: string]: JsonTree } | undefined;
  key: string | number;
  value: JsonTree;
}

function slots(root: JsonTree): Slot[] {
  const out: Slot[] = [{ parent: undefined, key: '', value: root }];
  const walk = (v: JsonTree) => {
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        out.push({ parent: v, key: i, value: item });
        walk(item);
      });
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, item] of Object.entries(v)) {
        out.push({ parent: v, key: k, value: item });
        walk(item);
      }
    }
  };
  walk(root);
  return out;
}

function camel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

const DICTIONARY_VALUES: JsonTree[] = [
  -1,
  0,
  2 ** 32,
  2 ** 53 + 2,
  1.5,
  '',
  '1s',
  '-1s',
  true,
  'x'.repeat(300),
  {},
  [],
  [{}],
];

/**
 * Applies tree edits to a copy of `seed`: delete, replace, rename (camelCase, typo, dictionary key), wrap in a
 * list or an object, stringify, graft another subtree, null, dictionary value, add a key. Payloads are copied
 * in: fast-check reuses generated values while shrinking, and a payload inserted twice could become a cycle.
 */
export function mutateTree(seed: JsonTree, edits: readonly TreeEdit[]): JsonTree {
  let root: JsonTree = structuredClone(seed);
  for (const e of edits) {
    const all = slots(root);
    const s = all[e.at % all.length] as Slot;
    const set = (value: JsonTree | undefined) => {
      if (s.parent === undefined) {
        root = value ?? null;
      } else if (Array.isArray(s.parent)) {
        if (value === undefined) s.parent.splice(s.key as number, 1);
        else s.parent[s.key as number] = value;
      } else if (value === undefined) {
        delete s.parent[s.key as string];
      } else {
        Object.defineProperty(s.parent, s.key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    };
    switch (e.op) {
      case 0:
        set(undefined);
        break;
      case 1:
        set(structuredClone(e.payload));
        break;
      case 2:
        if (s.parent !== undefined && !Array.isArray(s.parent)) {
          const key = s.key as string;
          const renamed =
            e.v % 3 === 0
              ? camel(key)
              : e.v % 3 === 1
                ? key.slice(0, -1)
                : (KEYS[e.n % KEYS.length] as string);
          set(undefined);
          Object.defineProperty(s.parent, renamed, {
            value: s.value,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        break;
      case 3:
        set([s.value]);
        break;
      case 4:
        set({ value: s.value });
        break;
      case 5:
        set(
          typeof s.value === 'string' && /^-?\d+$/.test(s.value) ? Number(s.value) : JSON.stringify(s.value),
        );
        break;
      case 6:
        set(structuredClone((all[e.v % all.length] as Slot).value));
        break;
      case 7:
        set(null);
        break;
      case 8:
        // A copy: the dictionary's objects are shared, and one placed inside itself by a later edit was a cycle
        // (a harness fault that ended a 10-minute run with a stack overflow).
        set(structuredClone(DICTIONARY_VALUES[e.v % DICTIONARY_VALUES.length] as JsonTree));
        break;
      default:
        if (typeof s.value === 'object' && s.value !== null && !Array.isArray(s.value)) {
          Object.defineProperty(s.value, KEYS[e.n % KEYS.length] as string, {
            value: structuredClone(e.payload),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
    }
  }
  return root;
}
