// Envoy's common messages (`envoy.config.core.v3`, `envoy.type.matcher.v3`) as every resource and extension
// reads them: socket addresses, data sources, string matchers, CIDR ranges. Pure.

import { showValue } from '../../core/diagnostics.js';
import type { FieldPath } from '../../core/field-path.js';
import { type Cidr, parseCidr, parseIp } from '../../core/ip.js';
import { compileRe2 } from '../../core/re2.js';
import type { SupportTable } from '../../xds/decode.js';
import type { TranslateContext } from './context.js';
import { type Json, type JsonObject, list, num, obj, str } from './json.js';
import type { DataSource, SocketAddress, StringMatch } from './model.js';

export const COMMON_SUPPORT: SupportTable = {
  'envoy.config.core.v3.Address': {
    socket_address: 'A TCP address.',
  },
  'envoy.config.core.v3.SocketAddress': {
    address: 'IP address (a listener binds it; an endpoint connects to it).',
    port_value: 'Port.',
    protocol: 'TCP only.',
  },
  'envoy.config.core.v3.Metadata': {
    filter_metadata: 'Free JSON per filter name; shown in the config dump.',
  },
  'envoy.config.core.v3.CidrRange': {
    address_prefix: 'IPv4 or IPv6 address.',
    prefix_len: 'Prefix length.',
  },
  'envoy.config.core.v3.DataSource': {
    filename: 'A file, relative to the working folder.',
    inline_string: 'The text itself.',
    inline_bytes: 'Base64 bytes.',
    environment_variable: 'An environment variable of the proxy.',
  },
  'envoy.config.core.v3.ConfigSource': {
    ads: 'Aggregated discovery.',
    resource_api_version: 'V3.',
    initial_fetch_timeout: 'Recorded.',
  },
  'envoy.config.core.v3.AggregatedConfigSource': {},
  'envoy.type.matcher.v3.StringMatcher': {
    exact: 'Equal.',
    prefix: 'Starts with.',
    suffix: 'Ends with.',
    contains: 'Contains.',
    safe_regex: 'RE2 regular expression, whole value (JavaScript RegExp over the RE2 subset).',
    ignore_case: 'Compare without case (not for safe_regex).',
  },
  'envoy.type.matcher.v3.RegexMatcher': {
    regex: 'The expression.',
    google_re2: 'Accepted (the RE2 engine is the only one).',
  },
  'envoy.type.matcher.v3.RegexMatcher.GoogleRE2': {},
};

/** An Address: only socket addresses (TCP) exist in Skiff. */
export function translateAddress(a: JsonObject, path: FieldPath, ctx: TranslateContext): SocketAddress {
  const sa = a.socket_address;
  if (sa === undefined) {
    ctx.error(
      path,
      'proxy.address',
      'socket_address is required (pipes and internal addresses are not implemented)',
    );
    return { host: '', port: 0 };
  }
  return translateSocketAddress(obj(sa), [...path, 'socket_address'], ctx);
}

/** A SocketAddress (TCP): an IP address and a port. */
export function translateSocketAddress(s: JsonObject, at: FieldPath, ctx: TranslateContext): SocketAddress {
  const host = str(s.address);
  if (parseIp(host) === undefined) {
    ctx.error([...at, 'address'], 'proxy.address', `${showValue(host)} is not an IP address`);
  }
  if (s.protocol !== undefined && s.protocol !== 'TCP') {
    ctx.error(
      [...at, 'protocol'],
      'proxy.unsupported',
      `protocol ${showValue(s.protocol)} is not implemented; only TCP`,
    );
  }
  if (s.port_value === undefined) ctx.error([...at, 'port_value'], 'proxy.address', 'port_value is required');
  return { host, port: num(s.port_value) };
}

/** `127.0.0.1:15006` as Envoy names it in statistics: `127.0.0.1_15006`; IPv6 `[__1]_15006`. */
export function envoyAddressStatName(a: SocketAddress): string {
  const host = a.host.includes(':') ? `[${a.host}]` : a.host;
  return `${host}:${a.port}`.replace(/:/g, '_');
}

export function translateDataSource(d: JsonObject, path: FieldPath, ctx: TranslateContext): DataSource {
  const at = { path: [...path] };
  if (d.filename !== undefined) return { kind: 'file', filename: str(d.filename), ...at };
  if (d.inline_string !== undefined)
    return { kind: 'inline', data: Buffer.from(str(d.inline_string)), ...at };
  if (d.inline_bytes !== undefined)
    return { kind: 'inline', data: Buffer.from(str(d.inline_bytes), 'base64'), ...at };
  if (d.environment_variable !== undefined) return { kind: 'env', name: str(d.environment_variable), ...at };
  ctx.error(
    path,
    'proxy.data-source',
    'a data source needs filename, inline_string, inline_bytes or environment_variable',
  );
  return { kind: 'inline', data: Buffer.alloc(0) };
}

export function translateStringMatch(m: JsonObject, path: FieldPath, ctx: TranslateContext): StringMatch {
  const ignoreCase = m.ignore_case === true;
  for (const kind of ['exact', 'prefix', 'suffix', 'contains'] as const) {
    if (m[kind] !== undefined)
      return { kind, value: ignoreCase ? str(m[kind]).toLowerCase() : str(m[kind]), ignoreCase };
  }
  if (m.safe_regex !== undefined) {
    if (ignoreCase) {
      ctx.error(
        [...path, 'ignore_case'],
        'proxy.regex',
        'ignore_case has no effect on safe_regex (Envoy refuses it)',
      );
    }
    return translateRegexMatcher(obj(m.safe_regex), [...path, 'safe_regex'], ctx);
  }
  ctx.error(path, 'proxy.required', 'a string matcher needs exact, prefix, suffix, contains or safe_regex');
  return { kind: 'exact', value: '', ignoreCase };
}

/** A RegexMatcher at `path`: RE2 (core/re2.ts), matching the whole value, as Envoy's safe_regex. */
export function translateRegexMatcher(r: JsonObject, path: FieldPath, ctx: TranslateContext): StringMatch {
  const re = str(r.regex);
  const compiled = compileRe2(re, true);
  if ('problem' in compiled) {
    ctx.error(
      [...path, 'regex'],
      'proxy.regex',
      compiled.kind === 'invalid'
        ? `invalid RE2 expression ${showValue(re)}: ${compiled.problem}`
        : `RE2 expression ${showValue(re)} cannot be run exactly by Skiff: ${compiled.problem}`,
    );
    return { kind: 'regex', value: re, ignoreCase: false };
  }
  return { kind: 'regex', value: re, ignoreCase: false, regex: compiled.regex };
}

export function translateCidrs(v: Json | undefined, path: FieldPath, ctx: TranslateContext): Cidr[] {
  const out: Cidr[] = [];
  list(v).forEach((r, i) => {
    const range = obj(r);
    const address = str(range.address_prefix);
    // Envoy reads prefix_len as a UInt32Value's value: unset is 0, a range matching every address of the family.
    const prefixLen = num(range.prefix_len);
    const cidr = parseCidr(address, prefixLen);
    if (!cidr)
      ctx.error(
        [...path, i],
        'proxy.cidr',
        `${showValue(`${address}/${prefixLen}`)} is not a valid CIDR range`,
      );
    else out.push(cidr);
  });
  return out;
}
