// Envoy's tag extraction, which turns a flat stat name into a tag-extracted name plus tags for /stats/prometheus
// (`listener.127.0.0.1_15006.downstream_cx_total` → `listener.downstream_cx_total` +
// `envoy.listener_address=127.0.0.1_15006`). It follows Envoy's TagProducerImpl (source/common/stats/tag_producer_impl.cc) and
// TagExtractorRe2Impl / TagExtractorTokensImpl (source/common/stats/tag_extractor_impl.cc): every rule reads
// the ORIGINAL name, the removed spans are merged at the end, and only the first match of a tag name counts.
// Rules without a literal first token run before the rules keyed by the name's first token, and regex rules
// run before token rules. The rule tables live in tag-rules.ts.

/** One tag taken out of a stat name, e.g. `{ name: 'envoy.cluster_name', value: 'inbound|9080||' }`. */
export interface Tag {
  readonly name: string;
  readonly value: string;
}

/** A stat name with its tags taken out: `cluster.upstream_cx_total` and `[envoy.cluster_name=…]`. */
export interface ExtractedName {
  readonly name: string;
  readonly tags: readonly Tag[];
}

/**
 * One rule, written the way Envoy writes it in well_known_names.cc. A regex rule's first capture group is the
 * part removed from the name and its second group (when not empty) the tag value; `substr` is Envoy's fast
 * pre-check and `negativeMatch` a value that is never taken (Envoy keeps `listener.admin.` in the name).
 * A token rule matches dot-separated tokens: `*` is one token, `**` any number, `$` the tag value.
 * Placeholders <ADDRESS>, <CIPHER>, <TLS_VERSION>, <TAG_VALUE>, <LISTENER_OR_CLUSTER_WITH_NAME> expand as in
 * Envoy's expandRegex.
 */
export type TagRule =
  | {
      readonly tag: string;
      readonly regex: string;
      readonly substr?: string;
      readonly negativeMatch?: string;
    }
  | { readonly tag: string; readonly tokens: string };

const PLACEHOLDERS: ReadonlyArray<readonly [string, string]> = [
  ['<ADDRESS>', String.raw`(?:(?:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[[a-fA-F_\d]+\])_\d+)`],
  ['<CIPHER>', String.raw`[\w-]+`],
  ['<TLS_VERSION>', String.raw`TLSv\d\.\d`],
  ['<TAG_VALUE>', String.raw`[^\.]+`],
  ['<LISTENER_OR_CLUSTER_WITH_NAME>', String.raw`(?:listener|cluster)\..*?`],
];

function expandRegex(source: string): string {
  let out = source;
  for (const [key, value] of PLACEHOLDERS) out = out.split(key).join(value);
  return out;
}

/** Envoy's extractRegexPrefix: the literal first token of `^token\.` / `^token(?=\.)` / `^token$`, else ''. */
export function regexPrefix(source: string): string {
  if (!source.startsWith('^')) return '';
  for (let i = 1; i < source.length; i++) {
    const c = source.charAt(i);
    if (/[A-Za-z0-9_]/.test(c)) continue;
    if (i === 1) return '';
    const last = i === source.length - 1;
    const dotNext = source.startsWith('\\.', i) || source.startsWith('(?=\\.)', i);
    return (!last && dotNext) || (last && c === '$') ? source.slice(1, i) : '';
  }
  return '';
}

interface Found {
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

interface CompiledRule {
  readonly tag: string;
  readonly prefix: string;
  find(name: string, tokens: readonly string[]): Found | undefined;
}

function compileRegexRule(tag: string, source: string, substr = '', negativeMatch = ''): CompiledRule {
  const expanded = expandRegex(source);
  const regex = new RegExp(expanded, 'd');
  return {
    tag,
    prefix: regexPrefix(expanded),
    find(name) {
      if (substr !== '' && !name.includes(substr)) return undefined;
      const m = regex.exec(name);
      const removed = m?.[1];
      const span = m?.indices?.[1];
      if (!m || !removed || !span) return undefined;
      const value = m[2] ? m[2] : removed;
      if (negativeMatch !== '' && value === negativeMatch) return undefined;
      return { value, start: span[0], end: span[1] };
    },
  };
}

/** Index of the input token bound to `$` when `pattern[pi..]` matches all of `input[ii..]`, else -1. */
function matchTokens(
  pattern: readonly string[],
  input: readonly string[],
  pi: number,
  ii: number,
  bound: number,
): number {
  for (; pi < pattern.length && ii < input.length; pi++, ii++) {
    const p = pattern[pi];
    if (p === '$') {
      bound = ii;
    } else if (p === '**') {
      if (pi === pattern.length - 1) return bound;
      for (let k = ii; k < input.length; k++) {
        const found = matchTokens(pattern, input, pi + 1, k, bound);
        if (found !== -1) return found;
      }
      return -1;
    } else if (p !== '*' && p !== input[ii]) {
      return -1;
    }
  }
  return pi === pattern.length && ii === input.length ? bound : -1;
}

function compileTokenRule(tag: string, tokens: string): CompiledRule {
  const pattern = tokens.split('.');
  const first = pattern[0] ?? '';
  return {
    tag,
    prefix: first === '$' || first === '*' || first === '**' ? '' : first,
    find(_name, input) {
      const at = matchTokens(pattern, input, 0, 0, -1);
      if (at < 0) return undefined;
      const value = input[at] ?? '';
      let start = 0;
      for (let i = 0; i < at; i++) start += (input[i] ?? '').length + 1;
      let end = start + value.length;
      // Remove the dot after the value, or the one before it when the value is the last token.
      if (at < input.length - 1) end++;
      else if (start > 0) start--;
      return { value, start, end };
    },
  };
}

function removeSpans(name: string, spans: ReadonlyArray<readonly [number, number]>): string {
  if (spans.length === 0) return name;
  const removed = new Uint8Array(name.length);
  for (const [start, end] of spans) removed.fill(1, start, end);
  let out = '';
  for (let i = 0; i < name.length; i++) if (removed[i] === 0) out += name.charAt(i);
  return out;
}

/** Envoy's TagProducerImpl over a rule table. Meant to run once per stat, when the stat is created. */
export class TagProducer {
  private readonly withoutPrefix: CompiledRule[] = [];
  private readonly byPrefix = new Map<string, CompiledRule[]>();

  constructor(rules: readonly TagRule[]) {
    const compiled = [
      ...rules.flatMap((r) =>
        'regex' in r ? [compileRegexRule(r.tag, r.regex, r.substr, r.negativeMatch)] : [],
      ),
      ...rules.flatMap((r) => ('tokens' in r ? [compileTokenRule(r.tag, r.tokens)] : [])),
    ];
    for (const rule of compiled) {
      if (rule.prefix === '') this.withoutPrefix.push(rule);
      else this.byPrefix.set(rule.prefix, [...(this.byPrefix.get(rule.prefix) ?? []), rule]);
    }
  }

  produceTags(name: string): ExtractedName {
    const tokens = name.split('.');
    const rules = [...this.withoutPrefix, ...(this.byPrefix.get(tokens[0] ?? '') ?? [])];
    const tags: Tag[] = [];
    const spans: Array<readonly [number, number]> = [];
    for (const rule of rules) {
      if (tags.some((t) => t.name === rule.tag)) continue;
      const found = rule.find(name, tokens);
      if (!found) continue;
      tags.push({ name: rule.tag, value: found.value });
      spans.push([found.start, found.end]);
    }
    return { name: removeSpans(name, spans), tags };
  }
}
