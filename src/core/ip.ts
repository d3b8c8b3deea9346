// IP addresses and CIDR ranges as bytes, for filter-chain matching: parse once, compare prefixes per
// connection. IPv4 is kept as 4 bytes, IPv6 as 16.
//
// Connection addresses and configured ranges are read differently, as in Envoy:
// - parseIp (for socket addresses) reads an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, what a dual-stack
//   socket reports for an IPv4 peer) as the IPv4 address: Envoy's addressFromSockAddr(…, v6only=false) turns
//   a V4MAPPED sockaddr_in6 into an Ipv4Instance.
// - parseCidr (for `prefix_ranges` etc.) keeps `::ffff:…` as IPv6: CidrRange::create parses with
//   parseInternetAddressNoThrow(address), whose v6only defaults to true. Such a range therefore never holds
//   a (normalised) IPv4 connection address — in Envoy as here. Write IPv4 ranges in IPv4 notation.

export interface Cidr {
  bytes: Uint8Array;
  prefixLen: number;
}

/**
 * A socket address as 4 (IPv4) or 16 (IPv6) bytes, or undefined. IPv4-mapped IPv6 becomes IPv4. A zone
 * (`fe80::1%eth0`) is allowed on IPv6 only and ignored.
 */
export function parseIp(text: string): Uint8Array | undefined {
  const v = parseAddress(text);
  return v && isV4Mapped(v) ? v.slice(12) : v;
}

/** 4 or 16 bytes, family as written (`::ffff:1.2.3.4` stays 16 bytes). */
function parseAddress(text: string): Uint8Array | undefined {
  const at = text.indexOf('%');
  if (at >= 0) {
    // Zones only exist for IPv6 (RFC 4007), and must not be empty.
    if (at === text.length - 1) return undefined;
    return parseIpv6(text.slice(0, at));
  }
  return parseIpv4(text) ?? parseIpv6(text);
}

function isV4Mapped(v6: Uint8Array): boolean {
  return v6.length === 16 && v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
}

/** Dotted quad, four decimal octets without leading zeros (as inet_pton(AF_INET)). */
function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] ?? '';
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

/** RFC 4291 text forms: 8 groups, one `::` for one or more zero groups, an optional dotted-quad tail. */
function parseIpv6(text: string): Uint8Array | undefined {
  if (!text.includes(':')) return undefined;
  let body = text;
  const tailGroups: number[] = [];
  const lastColon = body.lastIndexOf(':');
  const tail = body.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseIpv4(tail);
    if (!v4) return undefined;
    tailGroups.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    body = body.slice(0, lastColon);
    // `::1.2.3.4` / `1::1.2.3.4`: cutting the tail also cut the second colon of the `::`.
    if (body.endsWith(':')) body += ':';
  }
  const hex = /^[0-9a-fA-F]{1,4}$/;
  const split = (s: string) => (s === '' ? [] : s.split(':'));
  const dbl = body.indexOf('::');
  if (dbl !== body.lastIndexOf('::')) return undefined;
  let groups: string[];
  if (dbl >= 0) {
    const left = split(body.slice(0, dbl));
    const right = split(body.slice(dbl + 2));
    const missing = 8 - tailGroups.length - left.length - right.length;
    if (missing < 1) return undefined;
    groups = [...left, ...Array<string>(missing).fill('0'), ...right];
  } else {
    groups = split(body);
    if (groups.length + tailGroups.length !== 8) return undefined;
  }
  if (!groups.every((g) => hex.test(g))) return undefined;
  const values = [...groups.map((g) => Number.parseInt(g, 16)), ...tailGroups];
  const out = new Uint8Array(16);
  values.forEach((v, i) => {
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/**
 * Parses `address_prefix` + `prefix_len` as Envoy's CidrRange::create(const core::v3::CidrRange&) does:
 * the address keeps the family it is written in (no IPv4-mapped folding, see the file comment); a length past
 * the family's width is clamped to it (truncateIpAddressAndLength: `1.2.3.5`/33 → /32; the API only bounds
 * prefix_len to 0..128); the bits past the length are zeroed. Undefined when the address is not an IP or the
 * length is negative, fractional or above 128.
 */
export function parseCidr(address: string, prefixLen: number): Cidr | undefined {
  const bytes = parseAddress(address);
  if (!bytes || !Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 128) return undefined;
  const len = Math.min(prefixLen, bytes.length * 8);
  const masked = new Uint8Array(bytes.length);
  for (let i = 0, bits = len; i < bytes.length && bits > 0; i++, bits -= 8) {
    masked[i] = (bytes[i] ?? 0) & (bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff);
  }
  return { bytes: masked, prefixLen: len };
}

/** Whether `ip` (bytes from parseIp) lies in `cidr`. Families never match each other. */
export function cidrContains(cidr: Cidr, ip: Uint8Array): boolean {
  if (ip.length !== cidr.bytes.length) return false;
  let bits = cidr.prefixLen;
  for (let i = 0; bits > 0 && i < ip.length; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((ip[i] ?? 0) & mask) !== ((cidr.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** Loopback in the RFC sense: 127.0.0.0/8 or ::1. */
export function isLoopback(ip: Uint8Array): boolean {
  if (ip.length === 4) return ip[0] === 127;
  return ip.length === 16 && ip.slice(0, 15).every((b) => b === 0) && ip[15] === 1;
}

/**
 * Loopback as Envoy's Network::Utility::isLoopbackAddress sees it (used for source_type SAME_IP_OR_LOOPBACK):
 * only the canonical 127.0.0.1 and ::1, not the rest of 127.0.0.0/8.
 */
export function isCanonicalLoopback(ip: Uint8Array): boolean {
  if (ip.length === 4) return ip[0] === 127 && ip[1] === 0 && ip[2] === 0 && ip[3] === 1;
  return isLoopback(ip);
}

export function sameIp(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
