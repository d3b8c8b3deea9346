// Builds TLS ClientHello bytes for the detect tests: a well-formed TLS 1.3 (or 1.2) hello by default, with every
// field overridable so a test can break exactly one thing, and fragmentation into records of any size.

export interface Extension {
  type: number;
  data: Buffer;
}

export interface HelloOptions {
  /** SNI host_name (raw bytes allowed); omitted: no server_name extension. */
  serverName?: string | Buffer;
  /** ALPN protocols; omitted: no ALPN extension. */
  alpn?: (string | Buffer)[];
  /** Largest record body; the handshake message is split over as many records as needed (default 16384). */
  recordSize?: number;
  /** Record-layer version (default 0x0301, what clients put on the first record). */
  recordVersion?: number;
  /** ClientHello.legacy_version (default 0x0303). */
  legacyVersion?: number;
  /** Offer TLS 1.3 (supported_versions 1.3 + 1.2, key_share, psk_key_exchange_modes); default true. */
  tls13?: boolean;
  /** key_share entries (TLS 1.3 only); default one 32-byte X25519 share. */
  keyShares?: { group: number; length: number }[];
  sessionId?: Buffer;
  cipherSuites?: number[];
  compressionMethods?: number[];
  /** Appended after the default extensions. */
  extensions?: Extension[];
  /** Replaces every extension (SNI and ALPN options included). */
  rawExtensions?: Extension[];
  /** End the hello right after the compression methods (no extensions block at all). */
  noExtensionsBlock?: boolean;
}

export const GROUP_X25519 = 0x001d;
export const GROUP_SECP256R1 = 0x0017;
export const GROUP_X25519_MLKEM768 = 0x11ec;

export function u8vec(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([data.length]), data]);
}

export function u16vec(data: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(data.length);
  return Buffer.concat([len, data]);
}

export function u16s(values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 2);
  for (const [i, v] of values.entries()) out.writeUInt16BE(v, i * 2);
  return out;
}

export function encodeExtensions(extensions: Extension[]): Buffer {
  return u16vec(Buffer.concat(extensions.map((e) => Buffer.concat([u16s([e.type]), u16vec(e.data)]))));
}

export function sniExtension(name: string | Buffer): Extension {
  const host = typeof name === 'string' ? Buffer.from(name) : name;
  return { type: 0, data: u16vec(Buffer.concat([Buffer.from([0]), u16vec(host)])) };
}

export function alpnExtension(protocols: (string | Buffer)[]): Extension {
  const names = protocols.map((p) => u8vec(typeof p === 'string' ? Buffer.from(p) : p));
  return { type: 16, data: u16vec(Buffer.concat(names)) };
}

export function supportedVersionsExtension(versions: number[]): Extension {
  return { type: 43, data: u8vec(u16s(versions)) };
}

export function keyShareExtension(shares: { group: number; length: number }[]): Extension {
  const entries = shares.map((s) => Buffer.concat([u16s([s.group]), u16vec(Buffer.alloc(s.length, 0x5a))]));
  return { type: 51, data: u16vec(Buffer.concat(entries)) };
}

const TLS13_SUITES = [0x1301, 0x1302, 0x1303];
const TLS12_SUITES = [0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x009c, 0x009d];

function defaultExtensions(o: HelloOptions): Extension[] {
  const tls13 = o.tls13 ?? true;
  const out: Extension[] = [];
  if (o.serverName !== undefined) out.push(sniExtension(o.serverName));
  out.push({ type: 23, data: Buffer.alloc(0) }); // extended_master_secret
  out.push({ type: 10, data: u16vec(u16s([GROUP_X25519, GROUP_SECP256R1, 0x0018])) }); // supported_groups
  out.push({ type: 11, data: u8vec(Buffer.from([0])) }); // ec_point_formats
  out.push({ type: 13, data: u16vec(u16s([0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501])) }); // sigalgs
  if (o.alpn !== undefined) out.push(alpnExtension(o.alpn));
  if (tls13) {
    out.push(supportedVersionsExtension([0x0304, 0x0303]));
    out.push({ type: 45, data: u8vec(Buffer.from([1])) }); // psk_key_exchange_modes
    out.push(keyShareExtension(o.keyShares ?? [{ group: GROUP_X25519, length: 32 }]));
  }
  return out.concat(o.extensions ?? []);
}

/** The ClientHello handshake message: type 1, 24-bit length, body. */
export function buildHandshake(o: HelloOptions = {}): Buffer {
  const tls13 = o.tls13 ?? true;
  const suites = o.cipherSuites ?? (tls13 ? TLS13_SUITES.concat(TLS12_SUITES) : TLS12_SUITES);
  const parts = [
    u16s([o.legacyVersion ?? 0x0303]),
    Buffer.alloc(32, 0xab), // random
    u8vec(o.sessionId ?? Buffer.alloc(32, 0xcd)),
    u16vec(u16s(suites)),
    u8vec(Buffer.from(o.compressionMethods ?? [0])),
  ];
  if (!o.noExtensionsBlock) parts.push(encodeExtensions(o.rawExtensions ?? defaultExtensions(o)));
  const body = Buffer.concat(parts);
  const header = Buffer.from([1, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff]);
  return Buffer.concat([header, body]);
}

/** Wraps handshake bytes in handshake records (content type 22) of at most `recordSize` bytes each. */
export function toRecords(message: Buffer, recordSize = 16384, recordVersion = 0x0301): Buffer {
  const records: Buffer[] = [];
  for (let at = 0; at < message.length; at += recordSize) {
    records.push(record(22, message.subarray(at, at + recordSize), recordVersion));
  }
  return Buffer.concat(records);
}

export function record(type: number, body: Buffer, version = 0x0301): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(type, 0);
  header.writeUInt16BE(version, 1);
  header.writeUInt16BE(body.length, 3);
  return Buffer.concat([header, body]);
}

/** A whole ClientHello as it appears on the wire. */
export function buildClientHello(o: HelloOptions = {}): Buffer {
  return toRecords(buildHandshake(o), o.recordSize ?? 16384, o.recordVersion ?? 0x0301);
}

/** Splits the handshake carried by `wire` (whole records) and re-fragments it into records of `recordSize`. */
export function refragment(wire: Buffer, recordSize: number): Buffer {
  const bodies: Buffer[] = [];
  for (let at = 0; at + 5 <= wire.length; ) {
    const length = wire.readUInt16BE(at + 3);
    bodies.push(wire.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return toRecords(Buffer.concat(bodies), recordSize);
}
