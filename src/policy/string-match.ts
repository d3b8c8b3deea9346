// Envoy's StringMatcher (envoy.type.matcher.v3.StringMatcher), compiled: exact, prefix, suffix, contains or an
// RE2 regex over the whole value; `ignore_case` for all but the regex. Used by SAN matchers and HTTP routes.

export interface StringMatch {
  kind: 'exact' | 'prefix' | 'suffix' | 'contains' | 'regex';
  value: string;
  ignoreCase: boolean;
  /** The compiled expression, anchored at both ends, for `regex`. */
  regex?: RegExp;
}

export function stringMatches(m: StringMatch, value: string): boolean {
  const v = m.ignoreCase ? value.toLowerCase() : value;
  const want = m.ignoreCase ? m.value.toLowerCase() : m.value;
  switch (m.kind) {
    case 'exact':
      return v === want;
    case 'prefix':
      return v.startsWith(want);
    case 'suffix':
      return v.endsWith(want);
    case 'contains':
      return v.includes(want);
    case 'regex':
      if (!m.regex) return false;
      m.regex.lastIndex = 0;
      return m.regex.test(value);
  }
}
