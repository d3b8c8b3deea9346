// RE2 regular expressions (Go's regexp, Envoy's safe_regex, Istio's regex matches) run on JavaScript's engine:
// RE2-only syntax is rewritten to its JavaScript equivalent, and what RE2 refuses but JavaScript would accept
// (lookaround, backreferences, unknown escapes, repeat counts over 1000) is refused with RE2's message. Where a
// construct has no faithful JavaScript form, the expression is refused rather than matched differently.
// Syntax: https://github.com/google/re2/wiki/Syntax. Pure.

/** Escapes Go's regexp accepts after a backslash (besides punctuation and octal digits). */
const GO_ESCAPES = new Set([...'aftnrvxdDsSwWbBAzpPQEC']);

/** POSIX classes inside brackets (`[[:alpha:]]`), as RE2 defines them (ASCII). */
const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** One-letter Unicode general categories RE2 writes without braces (`\pL`). */
const UNICODE_CATEGORY = /^[A-Z][a-z]?$/;

/**
 * The compiled expression, or why not: `invalid` where RE2 itself refuses it, `unsupported` where it is valid
 * RE2 with no faithful JavaScript form (Skiff must refuse to run it, but Istio's validation accepts it).
 */
export type Re2Result =
  | { regex: RegExp; source: string; flags: string }
  | { problem: string; kind: 'invalid' | 'unsupported' };

const invalid = (problem: string): Re2Result => ({ problem, kind: 'invalid' });
const unsupported = (problem: string): Re2Result => ({ problem, kind: 'unsupported' });

function escapeLiteral(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** Both cases of each ASCII letter of a literal run, for a `(?i:…)` group (JavaScript has no scoped flags). */
function caseless(ch: string): string {
  const lower = ch.toLowerCase();
  const upper = ch.toUpperCase();
  return lower !== upper ? `[${lower}${upper}]` : ch;
}

/**
 * Compiles `re` as RE2 would read it. `anchored` wraps it to match the whole value, as Envoy's safe_regex does.
 * Leading flags `(?i)`, `(?s)`, `(?m)` become JavaScript flags; `(?i:…)` and `(?s:…)` groups are expanded;
 * other flag placements are refused (no faithful JavaScript form in Node 20).
 */
export function compileRe2(re: string, anchored = false): Re2Result {
  let out = '';
  const flags = new Set<string>();
  let unicode = false;
  /** Open groups: whether each is a scoped (?i:…) / (?s:…) group. */
  const groups: { i: boolean; s: boolean }[] = [];
  const scoped = () => ({ i: groups.some((g) => g.i), s: groups.some((g) => g.s) });
  let i = 0;
  // Leading flags apply to the whole expression.
  const lead = /^\(\?([ims]+)\)/.exec(re);
  if (lead) {
    for (const f of lead[1] ?? '') flags.add(f);
    i = lead[0].length;
  }
  let inClass = false;
  for (; i < re.length; i++) {
    const ch = re[i] ?? '';
    if (ch === '\\') {
      const next = re[i + 1];
      if (next === undefined) return invalid('trailing backslash at end of expression: ``');
      if (next === 'Q') {
        const end = re.indexOf('\\E', i + 2);
        const literal = end < 0 ? re.slice(i + 2) : re.slice(i + 2, end);
        out += inClass
          ? escapeLiteral(literal)
          : [...literal].map((c) => (scoped().i ? caseless(c) : escapeLiteral(c))).join('');
        i = end < 0 ? re.length : end + 1;
        continue;
      }
      if (/[89]/.test(next) || (/[1-7]/.test(next) && !/[0-7]/.test(re[i + 2] ?? '')))
        return invalid(`invalid escape sequence: \`\\${next}\``);
      if (/[a-zA-Z]/.test(next) && !GO_ESCAPES.has(next))
        return invalid(`invalid escape sequence: \`\\${next}\``);
      if (next === 'A') out += '(?<![\\s\\S])';
      else if (next === 'z') out += '(?![\\s\\S])';
      else if (next === 'C') out += '[\\s\\S]';
      else if (next === 'p' || next === 'P') {
        let name: string;
        if (re[i + 2] === '{') {
          const close = re.indexOf('}', i + 2);
          if (close < 0) return invalid(`invalid character class range: \`${re.slice(i)}\``);
          name = re.slice(i + 3, close);
          i = close;
        } else {
          name = re[i + 2] ?? '';
          i += 2;
        }
        const negate = name.startsWith('^') !== (next === 'P');
        const bare = name.replace(/^\^/, '');
        const property = bare === 'Any' ? 'Any' : UNICODE_CATEGORY.test(bare) ? bare : `Script=${bare}`;
        try {
          new RegExp(`\\p{${property}}`, 'u');
        } catch {
          return invalid(`invalid character class range: \`\\p{${bare}}\``);
        }
        unicode = true;
        out += bare === 'Any' ? (negate ? '[^\\s\\S]' : '[\\s\\S]') : `\\${negate ? 'P' : 'p'}{${property}}`;
        continue;
      } else out += `\\${next}`;
      i++;
      continue;
    }
    if (inClass) {
      if (ch === '[' && re[i + 1] === ':') {
        const posix = /^\[:(\^?)([a-z]+):\]/.exec(re.slice(i));
        const set = posix ? POSIX[posix[2] ?? ''] : undefined;
        if (posix && set !== undefined) {
          if (posix[1]) return unsupported(`negated POSIX class ${posix[0]} is not supported`);
          out += set;
          i += posix[0].length - 1;
          continue;
        }
        if (posix) return invalid(`invalid character class range: \`${posix[0]}\``);
      }
      if (ch === ']') inClass = false;
      out += ch;
      continue;
    }
    if (ch === '[') {
      if (scoped().i) return unsupported('a character class inside a (?i:…) group is not supported');
      inClass = true;
      out += ch;
      if (re[i + 1] === '^') {
        out += '^';
        i++;
      }
      // A `]` right after `[` or `[^` is a literal in RE2.
      if (re[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (ch === '(') {
      const rest = re.slice(i);
      if (rest[1] !== '?') {
        groups.push({ i: false, s: false });
        out += ch;
        continue;
      }
      const look = /^\(\?(=|!|<=|<!)/.exec(rest);
      if (look) return invalid(`invalid or unsupported Perl syntax: \`${look[0]}\``);
      const named = /^\(\?P?<([A-Za-z0-9_]+)>/.exec(rest);
      if (named) {
        groups.push({ i: false, s: false });
        out += `(?<${named[1]}>`;
        i += named[0].length - 1;
        continue;
      }
      const flagGroup = /^\(\?([imsU]*)(?:-([imsU]*))?([:)])/.exec(rest);
      if (flagGroup) {
        const on = flagGroup[1] ?? '';
        const off = flagGroup[2] ?? '';
        if (flagGroup[3] === ')' || on.includes('m') || on.includes('U') || off !== '') {
          return unsupported(
            `flags \`${flagGroup[0]}\` are only supported at the start of the expression, or as (?i:…) and (?s:…) groups`,
          );
        }
        groups.push({ i: on.includes('i'), s: on.includes('s') });
        out += '(?:';
        i += flagGroup[0].length - 1;
        continue;
      }
      return invalid(`invalid or unsupported Perl syntax: \`${rest.slice(0, 3)}\``);
    }
    if (ch === ')') {
      groups.pop();
      out += ch;
      continue;
    }
    if (ch === '{') {
      const count = /^\{(\d+)(?:,(\d*))?\}/.exec(re.slice(i));
      if (count && (Number(count[1]) > 1000 || Number(count[2] || 0) > 1000))
        return invalid(`invalid repeat count: \`${count[0]}\``);
    }
    const s = scoped();
    if (ch === '.' && s.s) out += '[\\s\\S]';
    else if (s.i && /[a-zA-Z]/.test(ch)) out += caseless(ch);
    else out += ch;
  }
  const source = anchored ? `^(?:${out})$` : out;
  const jsFlags = [...flags].sort().join('') + (unicode ? 'u' : '');
  try {
    return { regex: new RegExp(source, jsFlags), source, flags: jsFlags };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return invalid(message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '').toLowerCase());
  }
}
