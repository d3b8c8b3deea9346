// Access log filters (accesslog.proto AccessLogFilter): which lines a logger writes. Pure: the config translation
// turns the proto into a LogFilterSpec, compileFilter checks it once, and `test` runs per line without allocating.
// Sources (E = envoy @ 321a098d81, A = data-plane-api @ 84e84367f2): E source/common/access_log/access_log_impl.cc
// :32-128 (ComparisonFilter, StatusCodeFilter, DurationFilter), :178-203 (and/or), :221-252 (ResponseFlagFilter);
// A envoy/config/accesslog/v3/accesslog.proto (the 30 flag names, `min_items: 2` on and/or).
//
// Skiff has no runtime: a ComparisonFilter's `runtime_key` can only mean its `default_value`, which is what
// Envoy uses when the key is absent from the runtime; the translation passes `default_value` as `value`.

import type { LogContext } from './format.js';

export type ComparisonOp = 'EQ' | 'GE' | 'LE' | 'NE';

/** One AccessLogFilter, as plain data; field names follow the proto's oneof. */
export type LogFilterSpec =
  /** Response code sent downstream; no response compares as 0. */
  | { kind: 'status_code'; op: ComparisonOp; value: number }
  /** Duration in whole ms; a line without a duration never passes. */
  | { kind: 'duration'; op: ComparisonOp; value: number }
  /** Passes if any listed flag is set; an empty list passes if any flag at all is set. */
  | { kind: 'response_flag'; flags: readonly string[] }
  /** All must pass (evaluated in order, stopping at the first false). */
  | { kind: 'and'; filters: readonly LogFilterSpec[] }
  /** One must pass (evaluated in order, stopping at the first true). */
  | { kind: 'or'; filters: readonly LogFilterSpec[] };

export interface CompiledFilter {
  test(ctx: LogContext): boolean;
}

/** The short names a response_flag_filter may list (accesslog.proto `in:`), in Envoy's flag order. */
export const RESPONSE_FLAGS: readonly string[] = [
  'LH',
  'UH',
  'UT',
  'LR',
  'UR',
  'UF',
  'UC',
  'UO',
  'NR',
  'DI',
  'FI',
  'RL',
  'UAEX',
  'RLSE',
  'DC',
  'URX',
  'SI',
  'IH',
  'DPE',
  'UMSDR',
  'RFCF',
  'NFCF',
  'DT',
  'UPE',
  'NC',
  'OM',
  'DF',
  'DO',
  'DR',
  'UDO',
];
const KNOWN_FLAGS = new Set(RESPONSE_FLAGS);
const UINT32_MAX = 4_294_967_295;

function compare(op: ComparisonOp, lhs: number, value: number): boolean {
  switch (op) {
    case 'EQ':
      return lhs === value;
    case 'GE':
      return lhs >= value;
    case 'LE':
      return lhs <= value;
    case 'NE':
      return lhs !== value;
  }
}

const OPS: readonly string[] = ['EQ', 'GE', 'LE', 'NE'];
const FIELD = { status_code: 'status_code_filter', duration: 'duration_filter' } as const;

/**
 * Compiles a filter. `errors` (empty when the spec is valid) name each problem at its path in proto field names,
 * relative to the AccessLogFilter (`and_filter.filters[1].response_flag_filter.flags[0]: …`); a logger whose
 * filter has errors must be refused, as Envoy's validation refuses it.
 */
export function compileFilter(spec: LogFilterSpec): CompiledFilter & { errors: string[] } {
  const errors: string[] = [];
  const test = build(spec, '', errors);
  return { test, errors };
}

function build(spec: LogFilterSpec, path: string, errors: string[]): (ctx: LogContext) => boolean {
  switch (spec.kind) {
    case 'status_code':
    case 'duration': {
      const at = `${path}${FIELD[spec.kind]}.comparison`;
      if (!OPS.includes(spec.op))
        errors.push(`${at}.op: value must be one of EQ, GE, LE, NE (got ${String(spec.op)})`);
      if (!Number.isInteger(spec.value) || spec.value < 0 || spec.value > UINT32_MAX)
        errors.push(`${at}.value.default_value: a uint32 is required (got ${spec.value})`);
      const { op, value } = spec;
      if (spec.kind === 'status_code') return (ctx) => compare(op, ctx.responseCode, value);
      return (ctx) => ctx.durationMs !== undefined && compare(op, Math.trunc(ctx.durationMs), value);
    }
    case 'response_flag': {
      spec.flags.forEach((flag, i) => {
        if (!KNOWN_FLAGS.has(flag))
          errors.push(
            `${path}response_flag_filter.flags[${i}]: value must be in list [${RESPONSE_FLAGS.join(' ')}] (got ${JSON.stringify(flag)})`,
          );
      });
      if (spec.flags.length === 0) return (ctx) => ctx.responseFlags.length > 0;
      const wanted = new Set(spec.flags);
      return (ctx) => {
        for (const flag of ctx.responseFlags) if (wanted.has(flag)) return true;
        return false;
      };
    }
    case 'and':
    case 'or': {
      const at = `${path}${spec.kind}_filter.filters`;
      if (spec.filters.length < 2) errors.push(`${at}: value must contain at least 2 item(s)`);
      const tests = spec.filters.map((f, i) => build(f, `${at}[${i}].`, errors));
      if (spec.kind === 'and') return (ctx) => tests.every((t) => t(ctx));
      return (ctx) => tests.some((t) => t(ctx));
    }
    default:
      errors.push(
        `${path || 'filter'}: unknown filter kind ${JSON.stringify((spec as { kind: unknown }).kind)}`,
      );
      return () => false;
  }
}
