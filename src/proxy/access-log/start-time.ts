// %START_TIME% and %START_TIME(fmt)% as Envoy renders them, for the access log formatter (format.ts). Pure. A format
// is compiled once; a line then costs a cache check per second plus the sub-second digits, as in Envoy's own cache.
// Sources (E = envoy @ 321a098d81): source/common/common/utility.cc:73-305 DateFormatter (Envoy's %s, %f, %Nf,
// %*f, %E#S, %E*S, %E#f, %E*f split out, the rest handed to absl::FormatTime in UTC), :606-640
// AccessLogDateTimeFormatter (the default), source/common/formatter/stream_info_formatter.cc:22-24, :561-570 (the
// newline refusal).
//
// The absl::FormatTime part is implemented for the specifiers whose UTC, C-locale output is fixed:
//   %Y %m %d %e %H %M %S %j %y %C %I %p %a %A %b %B %h %u %w %z %Z %Ez %E*z %D %F %T %R %r %c %x %X %t %%
// Anything else (%U %W %V %G %g, flags such as %-d, %O modifiers, a lone trailing %) is refused at config time
// with a message naming it, rather than printed differently from Envoy.

/** Formats a start time (ms since the epoch) into a line fragment. */
export type TimeFormat = (ms: number) => string;

const NEWLINE_SPECIFIER = /%[-_0^#]*[1-9]*(E|O)?n/;
export const NEWLINE_ERROR = 'Invalid header configuration. Format string contains newline.';
const SUPPORTED =
  '%Y %m %d %e %H %M %S %j %y %C %I %p %a %A %b %B %h %u %w %z %Z %Ez %E*z %D %F %T %R %r %c %x %X %t %%';

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** A UTC calendar time, broken down once per second. */
interface Tm {
  year: number;
  month: number; // 0-11
  day: number;
  hour: number;
  minute: number;
  second: number;
  wday: number; // 0 = Sunday
  yday: number; // 0-365
}

function breakDown(sec: number): Tm {
  const d = new Date(sec * 1000);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth();
  const day = d.getUTCDate();
  return {
    year,
    month,
    day,
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    wday: d.getUTCDay(),
    yday: (Date.UTC(year, month, day) - Date.UTC(year, 0, 1)) / 86_400_000,
  };
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));
const pad3 = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));
const hour12 = (t: Tm): number => (t.hour % 12 === 0 ? 12 : t.hour % 12);

/** One strftime conversion (after the `%`), in UTC and the C locale, as absl::FormatTime prints it. */
const FIELDS: Record<string, (t: Tm) => string> = {
  Y: (t) => String(t.year),
  m: (t) => pad2(t.month + 1),
  d: (t) => pad2(t.day),
  e: (t) => (t.day < 10 ? ` ${t.day}` : String(t.day)),
  H: (t) => pad2(t.hour),
  M: (t) => pad2(t.minute),
  S: (t) => pad2(t.second),
  j: (t) => pad3(t.yday + 1),
  y: (t) => pad2(t.year % 100),
  C: (t) => pad2(Math.floor(t.year / 100)),
  I: (t) => pad2(hour12(t)),
  p: (t) => (t.hour < 12 ? 'AM' : 'PM'),
  a: (t) => (DAYS[t.wday] ?? '').slice(0, 3),
  A: (t) => DAYS[t.wday] ?? '',
  b: (t) => (MONTHS[t.month] ?? '').slice(0, 3),
  h: (t) => (MONTHS[t.month] ?? '').slice(0, 3),
  B: (t) => MONTHS[t.month] ?? '',
  u: (t) => String(t.wday === 0 ? 7 : t.wday),
  w: (t) => String(t.wday),
  z: () => '+0000',
  Z: () => 'UTC',
  D: (t) => `${pad2(t.month + 1)}/${pad2(t.day)}/${pad2(t.year % 100)}`,
  F: (t) => `${t.year}-${pad2(t.month + 1)}-${pad2(t.day)}`,
  T: (t) => `${pad2(t.hour)}:${pad2(t.minute)}:${pad2(t.second)}`,
  R: (t) => `${pad2(t.hour)}:${pad2(t.minute)}`,
  r: (t) => `${pad2(hour12(t))}:${pad2(t.minute)}:${pad2(t.second)} ${t.hour < 12 ? 'AM' : 'PM'}`,
  c: (t) =>
    `${(DAYS[t.wday] ?? '').slice(0, 3)} ${(MONTHS[t.month] ?? '').slice(0, 3)} ${t.day < 10 ? ` ${t.day}` : t.day} ` +
    `${pad2(t.hour)}:${pad2(t.minute)}:${pad2(t.second)} ${t.year}`,
  x: (t) => `${pad2(t.month + 1)}/${pad2(t.day)}/${pad2(t.year % 100)}`,
  X: (t) => `${pad2(t.hour)}:${pad2(t.minute)}:${pad2(t.second)}`,
};

type Token = string | ((t: Tm) => string);

/** Splits an absl::FormatTime segment into literals and conversions; an error names the first it cannot print. */
function compileStrftime(segment: string): Token[] | string {
  const tokens: Token[] = [];
  let literal = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (c !== '%') {
      literal += c;
      continue;
    }
    const next = segment[i + 1];
    let field: ((t: Tm) => string) | undefined;
    let text: string | undefined;
    let width = 2;
    if (next === undefined) return 'START_TIME format ends with a lone %';
    if (next === '%') text = '%';
    else if (next === 't') text = '\t';
    else if (next === 'E' && segment[i + 2] === 'z') [text, width] = ['+00:00', 3];
    else if (next === 'E' && segment.startsWith('*z', i + 2)) [text, width] = ['+00:00:00', 4];
    else field = FIELDS[next];
    if (text === undefined && field === undefined) {
      const shown = next === 'E' || next === 'O' ? segment.slice(i, i + 3) : segment.slice(i, i + 2);
      return `START_TIME format specifier ${shown} is not supported (supported: ${SUPPORTED}, and %s %f %1f-%9f %*f %E1S-%E9S %E*S %E1f-%E9f %E*f)`;
    }
    if (text !== undefined) literal += text;
    else if (field) {
      if (literal !== '') tokens.push(literal);
      literal = '';
      tokens.push(field);
    }
    i += width - 1;
  }
  if (literal !== '') tokens.push(literal);
  return tokens;
}

/** A piece of a compiled START_TIME format: text fixed within a second, or sub-second digits. */
type Part =
  | { kind: 'second'; tokens: Token[] } // strftime text, or literal text (one string token)
  | { kind: 'epoch' } // Envoy's %s
  | { kind: 'fraction'; width: number; dot: boolean }; // width 0 = as many as needed

/** Sub-second digits as Envoy prints them from the nanoseconds of `ms` (utility.cc:212-264 subsecondsToString). */
function fraction(part: { width: number; dot: boolean }, ms: number, sec: number): string {
  const nanos = String(Math.floor(ms - sec * 1000) * 1_000_000).padStart(9, '0');
  let width = part.width;
  if (width === 0) {
    let end = 9;
    while (end > 0 && nanos[end - 1] === '0') end--;
    width = end;
  }
  if (part.dot) return width === 0 ? '' : `.${nanos.slice(0, width)}`;
  return nanos.slice(0, Math.max(width, 1));
}

/**
 * Compiles the argument of %START_TIME(…)%. Empty means Envoy's default, `2023-01-01T00:00:00.000Z`. The result
 * formats ms since the epoch in UTC (a fractional ms is dropped: the access log's start time has ms precision).
 */
export function compileTimeFormat(fmt: string): { format: TimeFormat } | { error: string } {
  if (NEWLINE_SPECIFIER.test(fmt)) return { error: NEWLINE_ERROR };
  if (fmt === '') return { format: defaultStartTime };
  const parts: Part[] = [];
  const pushText = (text: string): string | undefined => {
    if (text === '') return undefined;
    const tokens = text.includes('%') ? compileStrftime(text) : [text];
    if (typeof tokens === 'string') return tokens;
    parts.push({ kind: 'second', tokens });
    return undefined;
  };
  // Envoy's specifier scan, `(%[1-9*]?f|%s|%E[1-9*][Sf])` tried at every position (a `%%` is not special to it).
  let from = 0;
  for (let i = 0; i < fmt.length; i++) {
    if (fmt[i] !== '%') continue;
    const a = fmt[i + 1] ?? '';
    const b = fmt[i + 2] ?? '';
    const c = fmt[i + 3] ?? '';
    const widthOf = (w: string): number => (w === '*' ? 0 : Number(w));
    const isWidth = (w: string): boolean => w === '*' || (w >= '1' && w <= '9');
    let part: Part | undefined;
    let length = 0;
    let prefix = fmt.slice(from, i);
    if (a === 's') [part, length] = [{ kind: 'epoch' }, 2];
    else if (a === 'f') [part, length] = [{ kind: 'fraction', width: 9, dot: false }, 2];
    else if (isWidth(a) && b === 'f')
      [part, length] = [{ kind: 'fraction', width: widthOf(a), dot: false }, 3];
    else if (a === 'E' && isWidth(b) && (c === 'S' || c === 'f')) {
      // %E#S prints the seconds, a dot and the digits: the seconds go to FormatTime with the text before it.
      if (c === 'S') prefix += '%S';
      part = { kind: 'fraction', width: widthOf(b), dot: c === 'S' };
      length = 4;
    }
    if (!part) continue;
    const error = pushText(prefix);
    if (error) return { error };
    parts.push(part);
    from = i + length;
    i = from - 1;
  }
  const error = pushText(fmt.slice(from));
  if (error) return { error };
  return { format: compiledFormat(parts) };
}

function compiledFormat(parts: Part[]): TimeFormat {
  let cachedSecond = Number.NaN;
  const cached: string[] = parts.map(() => '');
  return (ms) => {
    const sec = Math.floor(ms / 1000);
    if (sec !== cachedSecond) {
      const tm = breakDown(sec);
      parts.forEach((part, i) => {
        if (part.kind === 'epoch') cached[i] = String(sec);
        else if (part.kind === 'second') {
          let text = '';
          for (const token of part.tokens) text += typeof token === 'string' ? token : token(tm);
          cached[i] = text;
        }
      });
      cachedSecond = sec;
    }
    let out = '';
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as Part;
      out += part.kind === 'fraction' ? fraction(part, ms, sec) : cached[i];
    }
    return out;
  };
}

let defaultSecond = Number.NaN;
let defaultPrefix = '';

/** `%Y-%m-%dT%H:%M:%E3SZ` in UTC, the seconds part built once per second (utility.cc:613-640). */
export function defaultStartTime(ms: number): string {
  const sec = Math.floor(ms / 1000);
  if (sec !== defaultSecond) {
    const t = breakDown(sec);
    defaultPrefix = `${t.year}-${pad2(t.month + 1)}-${pad2(t.day)}T${pad2(t.hour)}:${pad2(t.minute)}:${pad2(t.second)}.`;
    defaultSecond = sec;
  }
  return `${defaultPrefix}${pad3(Math.floor(ms - sec * 1000))}Z`;
}
