// TLS ClientHello inspection for the sidecar's `envoy.filters.listener.tls_inspector`: is this connection TLS, and
// if so which SNI and ALPN did the client ask for. Pure (bytes in, verdict out); the listener accumulates what
// the client sent and asks again after every read.
//
// Envoy does not parse the hello itself: tls_inspector.cc feeds the peeked bytes to a BoringSSL server handshake
// and stops it in the servername callback. What decides "TLS" is therefore BoringSSL's ClientHello path up to
// that callback, which this module mirrors (sources: envoy source/extensions/filters/listener/tls_inspector/
// tls_inspector.cc; boringssl ssl/s3_both.cc tls_open_handshake, ssl/tls_record.cc tls_open_record,
// ssl/extensions.cc ssl_parse_client_hello_with_trailing_data, ssl/handshake_server.cc do_read_client_hello):
//
// - Records: content type 22 only, record version major 3 (minor free), plaintext length <= 2^14, at most 32
//   consecutive empty records; the handshake message is reassembled across records.
// - Handshake message: type 1, body <= 16384 bytes (BoringSSL's limit for a server that does not ask for a
//   client certificate, SSL_R_EXCESSIVE_MESSAGE_SIZE), and no handshake bytes after it in its last record
//   (SSL_R_EXCESS_HANDSHAKE_DATA).
// - Body: version, 32-byte random, session id <= 32, cipher suites even and non-empty, compression methods
//   non-empty; then either nothing or an extensions block ending exactly at the end of the message, each
//   extension well formed and no type twice.
// - server_name (0): exactly one entry, of type host_name (0), 1..255 bytes, no NUL byte.
// - encrypted_client_hello (0xfe0d): an outer ECH extension must be well formed (Envoy has no ECH keys, so it is
//   then ignored and the outer SNI is the one reported).
// - Version negotiation with TLS 1.0..1.3 (supported_versions, else the legacy version), TLS_FALLBACK_SCSV
//   refused below TLS 1.3, null compression offered (and nothing else for TLS 1.3).
// - application_layer_protocol_negotiation (16): a non-empty list of non-empty names. (Envoy itself ignores a
//   malformed ALPN extension and reports TLS without ALPN, because BoringSSL only validates ALPN after the
//   servername callback has stopped the handshake; Skiff treats it as malformed, as a real handshake would.)
//
// Anything else malformed is `not-tls`, as is every SSLv2-format hello (BoringSSL would accept a V2ClientHello
// as TLS with no SNI and no ALPN; no client has sent one in a decade). Extensions BoringSSL parses only after
// the servername callback (key_share, signature_algorithms, ...) are not checked, as Envoy does not check them.
//
// Skiff decides as soon as the bytes so far cannot start a valid hello: `need-more` means "a valid prefix".
// BoringSSL waits for 5 bytes and then for whole records before judging, so the verdicts agree except in timing
// and in one corner: a hello that is both malformed and larger than `maxSize` is `not-tls` here where Envoy,
// which only parses the message once it is complete, reports it too large.
//
// Too large (tls_inspector.cc Filter::getParserState): Envoy peeks at most max_client_hello_size bytes
// (default, and ceiling, Config::TLS_MAX_CLIENT_HELLO = 64 KiB). When BoringSSL still wants more bytes
// (SSL_ERROR_WANT_READ) and `read_ >= maxConfigReadBytes()`, it counts `client_hello_too_large` and closes the
// connection. So: `too-large` when at least `maxSize` bytes have arrived and the first `maxSize` bytes are still
// an incomplete ClientHello. The size is counted in wire bytes, record headers included, up to the end of the
// last record carrying the hello. Since the message itself is capped at 16384 bytes, the default limit is only
// reached by a hello fragmented into many tiny records.
//
// The server name is lower-cased (ASCII only): Envoy takes BoringSSL's SSL_get_servername (the bytes as sent)
// and stores it with absl::AsciiStrToLower (ConnectionSocketImpl::setRequestedServerName, "Always keep the
// server_name_ as lower case"). Names and ALPN protocols are decoded as UTF-8 so they compare with configured
// strings as Envoy compares bytes.

export type ClientHelloResult =
  | { kind: 'need-more' } // could still be TLS; give me more bytes
  | { kind: 'not-tls' } // not a TLS ClientHello (Envoy then treats it as raw_buffer)
  | { kind: 'too-large' } // a ClientHello whose size exceeds maxSize (Envoy closes and counts client_hello_too_large)
  | {
      kind: 'tls';
      /** SNI host name, ASCII lower-cased; undefined when the client sent no server_name extension. */
      serverName: string | undefined;
      /** ALPN protocols in the client's order; empty when the client sent no ALPN extension. */
      alpn: string[];
      /** Length of the ClientHello handshake body (the 24-bit length of its handshake header). */
      helloLength: number;
      /** Bytes of `data` up to the end of the last TLS record carrying the hello (what Envoy's bytes_processed records). */
      recordBytes: number;
    };

/** Envoy's default (and maximum) `max_client_hello_size`: Config::TLS_MAX_CLIENT_HELLO = 64 KiB. */
export const DEFAULT_MAX_CLIENT_HELLO_SIZE = 64 * 1024;

const CONTENT_TYPE_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const RECORD_HEADER_LENGTH = 5;
const HANDSHAKE_HEADER_LENGTH = 4;
const MAX_PLAINTEXT_RECORD = 16384; // SSL3_RT_MAX_PLAIN_LENGTH
const MAX_HANDSHAKE_MESSAGE = 16384; // ssl_max_handshake_message_len, server without SSL_VERIFY_PEER
const MAX_EMPTY_RECORDS = 32; // kMaxEmptyRecords
const RANDOM_LENGTH = 32;
const MAX_SESSION_ID = 32;
const MAX_HOST_NAME = 255; // TLSEXT_MAXLEN_host_name
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;
const EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d;
const ECH_CLIENT_OUTER = 0;
const HOST_NAME_TYPE = 0;
const TLS_FALLBACK_SCSV = 0x5600;
const TLS1_3 = 0x0304;
/** The versions Envoy's inspector accepts (TLS_MIN/MAX_SUPPORTED_VERSION), in BoringSSL's preference order. */
const SERVER_VERSIONS = [0x0304, 0x0303, 0x0302, 0x0301];

const NEED_MORE: ClientHelloResult = { kind: 'need-more' };
const NOT_TLS: ClientHelloResult = { kind: 'not-tls' };

/**
 * Decides whether `data` (every byte received so far on the connection) is a TLS ClientHello. Never throws on
 * any `data`. `maxSize` is Envoy's `max_client_hello_size`: an integer from 1 to 64 KiB (RangeError otherwise,
 * as Envoy rejects such a configuration).
 */
export function parseClientHello(
  data: Buffer,
  maxSize: number = DEFAULT_MAX_CLIENT_HELLO_SIZE,
): ClientHelloResult {
  if (!Number.isInteger(maxSize) || maxSize < 1 || maxSize > DEFAULT_MAX_CLIENT_HELLO_SIZE) {
    throw new RangeError(
      `maxSize must be an integer from 1 to ${DEFAULT_MAX_CLIENT_HELLO_SIZE}, got ${maxSize}`,
    );
  }
  const seen = data.length > maxSize ? data.subarray(0, maxSize) : data;
  const result = inspect(seen);
  if (result.kind === 'need-more' && data.length >= maxSize) return { kind: 'too-large' };
  return result;
}

function inspect(data: Buffer): ClientHelloResult {
  const assembly = assembleHandshake(data);
  if (assembly === 'bad') return NOT_TLS;
  return inspectHandshake(assembly);
}

// ---------------------------------------------------------------------------------------------------------
// Record layer: concatenate the bodies of the handshake records until the handshake message is complete.

interface Assembly {
  /** Handshake bytes received so far, record headers removed. */
  handshake: Buffer;
  /** Handshake bytes announced by the headers of the records read so far (received or not). */
  announced: number;
  /** Offset in the data just past the last complete record. */
  recordEnd: number;
}

type RecordHeader = { length: number } | 'partial' | 'bad';

function readRecordHeader(data: Buffer, offset: number): RecordHeader {
  const available = data.length - offset;
  if (data[offset] !== CONTENT_TYPE_HANDSHAKE) return 'bad';
  if (available >= 2 && data[offset + 1] !== 3) return 'bad';
  if (available < RECORD_HEADER_LENGTH) return 'partial';
  const length = data.readUInt16BE(offset + 3);
  return length > MAX_PLAINTEXT_RECORD ? 'bad' : { length };
}

function assembleHandshake(data: Buffer): Assembly | 'bad' {
  const parts: Buffer[] = [];
  let received = 0;
  let announced = 0;
  let offset = 0;
  let emptyRun = 0;
  let messageEnd: number | undefined;
  while (offset < data.length && (messageEnd === undefined || received < messageEnd)) {
    const header = readRecordHeader(data, offset);
    if (header === 'bad') return 'bad';
    if (header === 'partial') break;
    emptyRun = header.length === 0 ? emptyRun + 1 : 0;
    if (emptyRun > MAX_EMPTY_RECORDS) return 'bad';
    announced += header.length;
    const bodyStart = offset + RECORD_HEADER_LENGTH;
    const body = data.subarray(bodyStart, bodyStart + header.length);
    parts.push(body);
    received += body.length;
    if (messageEnd === undefined && received >= HANDSHAKE_HEADER_LENGTH) {
      messageEnd = HANDSHAKE_HEADER_LENGTH + Buffer.concat(parts, received).readUIntBE(1, 3);
    }
    if (body.length < header.length) break;
    offset = bodyStart + header.length;
  }
  return { handshake: Buffer.concat(parts, received), announced, recordEnd: offset };
}

// ---------------------------------------------------------------------------------------------------------
// Handshake layer.

function inspectHandshake(assembly: Assembly): ClientHelloResult {
  const { handshake } = assembly;
  if (handshake.length === 0) return NEED_MORE;
  if (handshake[0] !== HANDSHAKE_CLIENT_HELLO) return NOT_TLS;
  if (handshake.length < HANDSHAKE_HEADER_LENGTH) return NEED_MORE;
  const helloLength = handshake.readUIntBE(1, 3);
  if (helloLength > MAX_HANDSHAKE_MESSAGE) return NOT_TLS;
  // A record that goes on past the hello carries more handshake data in the same flight.
  if (assembly.announced > HANDSHAKE_HEADER_LENGTH + helloLength) return NOT_TLS;
  const body = handshake.subarray(HANDSHAKE_HEADER_LENGTH, HANDSHAKE_HEADER_LENGTH + helloLength);
  const hello = parseHelloBody(body, helloLength);
  if (hello === 'bad') return NOT_TLS;
  if (hello === 'need-more') return NEED_MORE;
  if (!negotiable(hello)) return NOT_TLS;
  return {
    kind: 'tls',
    serverName: hello.serverName,
    alpn: hello.alpn,
    helloLength,
    recordBytes: assembly.recordEnd,
  };
}

// A reader over a message of known length of which only a prefix may have arrived: going past the announced end
// is malformed ('bad'), going past the bytes received so far is 'need-more'. The first failure sticks.

type Failure = 'bad' | 'need-more';

interface Reader {
  bytes: Buffer;
  pos: number;
  failure: Failure | undefined;
}

interface Range {
  start: number;
  end: number;
}

function fail(r: Reader, failure: Failure): false {
  r.failure ??= failure;
  return false;
}

/** Whether `n` more bytes, within `limit`, are there to read. */
function has(r: Reader, n: number, limit: number): boolean {
  if (r.failure) return false;
  if (r.pos + n > limit) return fail(r, 'bad');
  if (r.pos + n > r.bytes.length) return fail(r, 'need-more');
  return true;
}

function readUint(r: Reader, size: 1 | 2, limit: number): number {
  if (!has(r, size, limit)) return 0;
  const value = r.bytes.readUIntBE(r.pos, size);
  r.pos += size;
  return value;
}

function skip(r: Reader, n: number, limit: number): void {
  if (has(r, n, limit)) r.pos += n;
}

/** Reads a vector's length prefix; the contents (not yet required to have arrived) must fit within `limit`. */
function readVector(r: Reader, prefix: 1 | 2, limit: number): Range | undefined {
  const length = readUint(r, prefix, limit);
  if (r.failure) return undefined;
  if (r.pos + length > limit) {
    fail(r, 'bad');
    return undefined;
  }
  return { start: r.pos, end: r.pos + length };
}

/** Moves past `end`, which must have arrived. */
function seek(r: Reader, end: number): boolean {
  if (r.failure) return false;
  if (end > r.bytes.length) return fail(r, 'need-more');
  r.pos = end;
  return true;
}

interface Hello {
  legacyVersion: number;
  cipherSuites: Buffer;
  compressionMethods: Buffer;
  supportedVersions: Buffer | undefined;
  serverName: string | undefined;
  alpn: string[];
}

function parseHelloBody(bytes: Buffer, length: number): Hello | Failure {
  const r: Reader = { bytes, pos: 0, failure: undefined };
  const legacyVersion = readUint(r, 2, length);
  skip(r, RANDOM_LENGTH, length);
  const sessionId = readVector(r, 1, length);
  if (sessionId && sessionId.end - sessionId.start > MAX_SESSION_ID) fail(r, 'bad');
  if (sessionId) seek(r, sessionId.end);
  const suites = readVector(r, 2, length);
  const suitesLength = suites ? suites.end - suites.start : 0;
  if (suites && (suitesLength < 2 || suitesLength % 2 !== 0)) fail(r, 'bad');
  if (suites) seek(r, suites.end);
  const compression = readVector(r, 1, length);
  if (compression && compression.end === compression.start) fail(r, 'bad');
  if (compression) seek(r, compression.end);
  if (r.failure || !suites || !compression) return r.failure ?? 'bad';
  const compressionMethods = bytes.subarray(compression.start, compression.end);
  // Only null compression is supported (do_read_client_hello_after_ech).
  if (!compressionMethods.includes(0)) return 'bad';
  const hello: Hello = {
    legacyVersion,
    cipherSuites: bytes.subarray(suites.start, suites.end),
    compressionMethods,
    supportedVersions: undefined,
    serverName: undefined,
    alpn: [],
  };
  if (r.pos === length) return hello; // no extensions block at all: valid
  const failure = parseExtensions(r, length, hello);
  return failure ?? hello;
}

function parseExtensions(r: Reader, length: number, hello: Hello): Failure | undefined {
  const block = readVector(r, 2, length);
  if (block && block.end !== length) fail(r, 'bad'); // trailing bytes after the extensions
  if (r.failure || !block) return r.failure ?? 'bad';
  const seen = new Set<number>();
  while (r.pos < block.end) {
    const type = readUint(r, 2, block.end);
    const range = readVector(r, 2, block.end);
    if (range && seen.has(type)) fail(r, 'bad');
    seen.add(type);
    if (r.failure || !range) return r.failure ?? 'bad';
    readExtension(type, r, range.end, hello);
    seek(r, range.end);
    if (r.failure) return r.failure;
  }
  return undefined;
}

/**
 * Reads the contents of one extension, up to `end`, recording what the verdict needs. Problems land in
 * `r.failure`: a malformed extension is 'bad' as soon as the bytes so far show it, not only once it is complete.
 */
function readExtension(type: number, r: Reader, end: number, hello: Hello): void {
  switch (type) {
    case EXT_SERVER_NAME:
      hello.serverName = readServerName(r, end);
      return;
    case EXT_ALPN:
      hello.alpn = readAlpn(r, end);
      return;
    case EXT_SUPPORTED_VERSIONS:
      readSupportedVersions(r, end, hello);
      return;
    case EXT_ENCRYPTED_CLIENT_HELLO:
      readEch(r, end);
      return;
  }
}

/** BoringSSL extract_sni: one host_name entry, 1..255 bytes, no NUL. Lower-cased as Envoy stores it. */
function readServerName(r: Reader, end: number): string | undefined {
  const list = readVector(r, 2, end);
  if (list && list.end !== end) fail(r, 'bad');
  const nameType = readUint(r, 1, list?.end ?? end);
  if (!r.failure && nameType !== HOST_NAME_TYPE) fail(r, 'bad');
  const name = readVector(r, 2, list?.end ?? end);
  if (!list || !name) return undefined;
  const length = name.end - name.start;
  if (name.end !== list.end || length === 0 || length > MAX_HOST_NAME) fail(r, 'bad');
  if (r.bytes.subarray(name.start, name.end).includes(0)) fail(r, 'bad');
  if (!seek(r, name.end)) return undefined;
  return asciiLower(r.bytes.subarray(name.start, name.end)).toString('utf8');
}

function asciiLower(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const b = out[i] as number;
    if (b >= 0x41 && b <= 0x5a) out[i] = b + 0x20;
  }
  return out;
}

/** ProtocolNameList: a non-empty u16 list of non-empty u8-prefixed names, nothing after it. */
function readAlpn(r: Reader, end: number): string[] {
  const names: string[] = [];
  const list = readVector(r, 2, end);
  if (list && (list.end !== end || list.end - list.start < 2)) fail(r, 'bad');
  while (list && !r.failure && r.pos < list.end) {
    const name = readVector(r, 1, list.end);
    if (name && name.end === name.start) fail(r, 'bad');
    if (name && seek(r, name.end)) names.push(r.bytes.toString('utf8', name.start, name.end));
  }
  return names;
}

/** supported_versions (client): a non-empty u8 list, nothing after it; it alone now decides the version. */
function readSupportedVersions(r: Reader, end: number, hello: Hello): void {
  const list = readVector(r, 1, end);
  if (list && (list.end !== end || list.end === list.start)) fail(r, 'bad');
  if (!list || !seek(r, list.end)) return;
  hello.supportedVersions = r.bytes.subarray(list.start, list.end);
  if (!negotiable(hello)) fail(r, 'bad');
}

/** BoringSSL decrypt_ech: a type byte; an outer ECH (kdf, aead, config id, enc, payload) must parse exactly. */
function readEch(r: Reader, end: number): void {
  const type = readUint(r, 1, end);
  if (r.failure || type !== ECH_CLIENT_OUTER) return;
  skip(r, 2 + 2 + 1, end); // kdf_id, aead_id, config_id
  const enc = readVector(r, 2, end);
  if (enc) seek(r, enc.end);
  const payload = readVector(r, 2, end);
  if (payload && payload.end !== end) fail(r, 'bad');
}

// ---------------------------------------------------------------------------------------------------------
// Version negotiation (BoringSSL negotiate_version / ssl_negotiate_version) and the checks that depend on it.

function negotiable(hello: Hello): boolean {
  const version = negotiateVersion(hello.supportedVersions ?? legacyVersions(hello.legacyVersion));
  if (version === undefined) return false;
  if (version < TLS1_3 && offersFallbackScsv(hello.cipherSuites)) return false; // SSL_R_INAPPROPRIATE_FALLBACK
  if (version === TLS1_3 && hello.compressionMethods.length !== 1) return false; // SSL_R_INVALID_COMPRESSION_LIST
  return true;
}

/** Without supported_versions the legacy version stands for itself and every version below it. */
function legacyVersions(version: number): Buffer {
  const implied = [0x0303, 0x0302, 0x0301].filter((v) => v <= version);
  const out = Buffer.alloc(implied.length * 2);
  for (const [i, v] of implied.entries()) out.writeUInt16BE(v, i * 2);
  return out;
}

/** The first of the server's versions, in preference order, that the client lists; a ragged list is malformed. */
function negotiateVersion(peer: Buffer): number | undefined {
  for (const version of SERVER_VERSIONS) {
    for (let i = 0; i < peer.length; i += 2) {
      if (i + 2 > peer.length) return undefined;
      if (peer.readUInt16BE(i) === version) return version;
    }
  }
  return undefined;
}

function offersFallbackScsv(suites: Buffer): boolean {
  for (let i = 0; i + 2 <= suites.length; i += 2) {
    if (suites.readUInt16BE(i) === TLS_FALLBACK_SCSV) return true;
  }
  return false;
}
