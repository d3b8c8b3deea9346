// Access logs as Envoy configures them: an `access_log` entry (on an HTTP connection manager, a tcp_proxy or a
// listener) names a logger extension — `envoy.access_loggers.file` (FileAccessLog: a path, `/dev/stdout` too),
// `envoy.access_loggers.stdout`, `envoy.access_loggers.stderr` — with its format (SubstitutionFormatString, or
// Envoy's default), and an optional filter. Formats and filters are compiled here, once, with Envoy's own error
// messages at their field paths (format.ts, filter.ts); the writers are writer.ts.

import type { FieldPath } from '../../core/field-path.js';
import type { SupportTable } from '../../xds/decode.js';
import type { TranslateContext } from '../config/context.js';
import type { Extension } from '../config/extension.js';
import { type Json, type JsonObject, list, num, obj, str, typeOf } from '../config/json.js';
import type { AccessLogConfig, AccessLoggerConfig } from '../config/model.js';
import { type ComparisonOp, compileFilter, type LogFilterSpec } from './filter.js';
import { compileFormat, DEFAULT_ACCESS_LOG_FORMAT, type LogFormatSpec } from './format.js';

const REQ_WITHOUT_QUERY_TYPE = 'envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery';

const FORMAT_SUPPORT: SupportTable = {
  'envoy.config.core.v3.SubstitutionFormatString': {
    text_format: 'A text format string (no newline is added: end it with `\\n`).',
    text_format_source: 'The text format from a data source (`inline_string`).',
    json_format: 'A JSON object of format strings: one JSON line per entry, keys sorted.',
    omit_empty_values: 'Absent values print nothing instead of `-`.',
    formatters: '`envoy.formatter.req_without_query` (the `%REQ_WITHOUT_QUERY(...)%` operator).',
  },
  'envoy.config.core.v3.TypedExtensionConfig': {
    name: 'The formatter’s name.',
    typed_config: '`envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery`.',
  },
  'envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery': {},
};

export const ACCESS_LOG_SUPPORT: SupportTable = {
  'envoy.config.accesslog.v3.AccessLog': {
    name: 'The logger’s name.',
    filter: 'Which streams or connections are logged.',
    typed_config: 'The logger (an extension of category `envoy.access_loggers`).',
  },
  'envoy.config.accesslog.v3.AccessLogFilter': {
    status_code_filter: 'On the response code (0 when there is none).',
    duration_filter: 'On the duration in milliseconds.',
    response_flag_filter: 'On the response flags.',
    and_filter: 'All of its filters.',
    or_filter: 'Any of its filters.',
  },
  'envoy.config.accesslog.v3.StatusCodeFilter': { comparison: 'The comparison.' },
  'envoy.config.accesslog.v3.DurationFilter': { comparison: 'The comparison.' },
  'envoy.config.accesslog.v3.ComparisonFilter': {
    op: 'EQ, GE, LE or NE.',
    value: 'The value (`default_value`; Skiff has no runtime, so a `runtime_key` always means its default).',
  },
  'envoy.config.core.v3.RuntimeUInt32': {
    default_value: 'The value.',
    runtime_key: 'Accepted; the default_value is used.',
  },
  'envoy.config.accesslog.v3.ResponseFlagFilter': {
    flags: 'Any of these flags (none listed: any flag at all).',
  },
  'envoy.config.accesslog.v3.AndFilter': { filters: 'At least two filters.' },
  'envoy.config.accesslog.v3.OrFilter': { filters: 'At least two filters.' },
};

/** A SubstitutionFormatString as the format compiler takes it; undefined: Envoy's default format. */
function translateFormat(f: JsonObject, path: FieldPath, ctx: TranslateContext): LogFormatSpec | undefined {
  const omitEmptyValues = f.omit_empty_values === true;
  if (f.json_format !== undefined) return { kind: 'json', fields: obj(f.json_format), omitEmptyValues };
  if (f.text_format_source !== undefined) {
    const source = obj(f.text_format_source);
    if (source.inline_string === undefined) {
      ctx.error(
        [...path, 'text_format_source'],
        'proxy.access-log',
        'only inline_string is implemented for a log format (a file or environment variable is not read)',
      );
    }
    return { kind: 'text', format: str(source.inline_string), omitEmptyValues };
  }
  if (f.text_format !== undefined) return { kind: 'text', format: str(f.text_format), omitEmptyValues };
  return undefined;
}

/** Compiles the format (or Envoy's default), each error at the format's path. */
function compileAt(
  spec: LogFormatSpec | undefined,
  formatters: Json | undefined,
  path: FieldPath,
  ctx: TranslateContext,
): AccessLoggerConfig['format'] {
  let reqWithoutQuery = false;
  list(formatters).forEach((f, i) => {
    if (typeOf(obj(obj(f).typed_config)) === REQ_WITHOUT_QUERY_TYPE) reqWithoutQuery = true;
    else {
      ctx.error(
        [...path, 'formatters', i],
        'proxy.unsupported',
        `formatter ${str(obj(f).name)} is not implemented; expected envoy.formatter.req_without_query`,
      );
    }
  });
  const { format, errors } = compileFormat(
    spec ?? { kind: 'text', format: DEFAULT_ACCESS_LOG_FORMAT, omitEmptyValues: false },
    { reqWithoutQuery },
  );
  for (const e of errors) ctx.error(path, 'proxy.access-log', e);
  return format;
}

const FILE_TYPE = 'envoy.extensions.access_loggers.file.v3.FileAccessLog';
const STDOUT_TYPE = 'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';
const STDERR_TYPE = 'envoy.extensions.access_loggers.stream.v3.StderrAccessLog';

export const FILE_ACCESS_LOG: Extension<'envoy.access_loggers'> = {
  name: 'envoy.access_loggers.file',
  category: 'envoy.access_loggers',
  types: [FILE_TYPE],
  summary:
    'Lines appended to a file (`/dev/stdout` and `/dev/stderr` are the proxy’s own), flushed every second.',
  support: {
    [FILE_TYPE]: {
      path: 'The file (created if missing, appended to).',
      log_format: 'The format (default: Envoy’s).',
      format: 'Deprecated text format.',
      json_format: 'Deprecated JSON format.',
    },
    ...FORMAT_SUPPORT,
  },
  translate(typed, path, ctx) {
    const file = str(typed.path);
    const lf = obj(typed.log_format);
    const spec =
      typed.log_format !== undefined
        ? translateFormat(lf, [...path, 'log_format'], ctx)
        : typed.json_format !== undefined
          ? { kind: 'json' as const, fields: obj(typed.json_format), omitEmptyValues: false }
          : typed.format !== undefined && str(typed.format) !== ''
            ? { kind: 'text' as const, format: str(typed.format), omitEmptyValues: false }
            : undefined;
    const at = typed.log_format !== undefined ? [...path, 'log_format'] : path;
    const sink: AccessLoggerConfig['sink'] =
      file === '/dev/stdout'
        ? { kind: 'stdout' }
        : file === '/dev/stderr'
          ? { kind: 'stderr' }
          : { kind: 'file', path: file };
    return { sink, format: compileAt(spec, lf.formatters, at, ctx) };
  },
};

function streamLogger(
  name: string,
  type: string,
  kind: 'stdout' | 'stderr',
): Extension<'envoy.access_loggers'> {
  return {
    name,
    category: 'envoy.access_loggers',
    types: [type],
    summary: `Lines to the proxy's ${kind}.`,
    support: { [type]: { log_format: 'The format (default: Envoy’s).' } },
    translate(typed, path, ctx) {
      const lf = obj(typed.log_format);
      const spec =
        typed.log_format === undefined ? undefined : translateFormat(lf, [...path, 'log_format'], ctx);
      return { sink: { kind }, format: compileAt(spec, lf.formatters, [...path, 'log_format'], ctx) };
    },
  };
}

export const STDOUT_ACCESS_LOG = streamLogger('envoy.access_loggers.stdout', STDOUT_TYPE, 'stdout');
export const STDERR_ACCESS_LOG = streamLogger('envoy.access_loggers.stderr', STDERR_TYPE, 'stderr');

function comparison(f: JsonObject): { op: ComparisonOp; value: number } {
  const c = obj(f.comparison);
  return { op: (str(c.op) || 'EQ') as ComparisonOp, value: num(obj(c.value).default_value) };
}

const FILTER_KINDS = [
  'status_code_filter',
  'duration_filter',
  'response_flag_filter',
  'and_filter',
  'or_filter',
];

/**
 * An AccessLogFilter as the filter compiler takes it. The decoder refuses the filters Skiff does not implement
 * when they have settings; an empty one (`not_health_check_filter: {}`) gets here and is refused by name.
 */
function filterSpec(f: JsonObject, path: FieldPath, ctx: TranslateContext): LogFilterSpec {
  const nested = (key: string) =>
    list(obj(f[key]).filters).map((x, i) => filterSpec(obj(x), [...path, key, 'filters', i], ctx));
  if (f.status_code_filter !== undefined)
    return { kind: 'status_code', ...comparison(obj(f.status_code_filter)) };
  if (f.duration_filter !== undefined) return { kind: 'duration', ...comparison(obj(f.duration_filter)) };
  if (f.and_filter !== undefined) return { kind: 'and', filters: nested('and_filter') };
  if (f.or_filter !== undefined) return { kind: 'or', filters: nested('or_filter') };
  if (f.response_flag_filter !== undefined) {
    return { kind: 'response_flag', flags: list(obj(f.response_flag_filter).flags).map(str) };
  }
  const kind = Object.keys(f)[0];
  ctx.error(
    kind === undefined ? path : [...path, kind],
    'proxy.unsupported',
    kind === undefined
      ? 'an access log filter needs one of its kinds'
      : `access log filter ${kind} is not implemented; expected ${FILTER_KINDS.join(', ')}`,
  );
  return { kind: 'response_flag', flags: [] };
}

/** A list of `access_log` entries at `path`. */
export function translateAccessLogs(
  entries: Json | undefined,
  path: FieldPath,
  ctx: TranslateContext,
): AccessLogConfig[] {
  const out: AccessLogConfig[] = [];
  list(entries).forEach((e, i) => {
    const entry = obj(e);
    const at = [...path, i];
    const logger = ctx.registry.translate('envoy.access_loggers', entry, at, ctx);
    let filter: AccessLogConfig['filter'];
    if (entry.filter !== undefined) {
      const compiled = compileFilter(filterSpec(obj(entry.filter), [...at, 'filter'], ctx));
      for (const problem of compiled.errors) ctx.error([...at, 'filter'], 'proxy.access-log', problem);
      filter = compiled;
    }
    if (logger) out.push({ name: str(entry.name), ...logger, filter });
  });
  return out;
}
