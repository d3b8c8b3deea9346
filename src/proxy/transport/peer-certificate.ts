// The peer's certificate after a TLS handshake, read the cheap way. Node's own accessors are costly with
// OpenSSL 3.0: `getPeerX509Certificate()` copies the peer chain (X509_dup: encode, then decode again, public
// key decoders included), about 0.2–0.3 ms per connection; `getPeerCertificate()` builds an object with
// fingerprints and key details, about 0.1 ms, and 0.6 ms with the chain (what `tls.connect` does on every
// connection to call `checkServerIdentity`). The session (`getSession()`, ~20 µs) already holds the peer's leaf
// certificate as DER, so its SANs are read from there with a small DER walker. Anything unexpected falls back to
// `getPeerX509Certificate()`, the slow and sure way. The chain itself is OpenSSL's to verify (`verifyError`).
// Measured in docs/performance.md.

import type tls from 'node:tls';
import { canonicalIp, parseSubjectAltNames, type SubjectAltName } from './san.js';

export interface PeerCertificate {
  /** The leaf certificate, DER. */
  der: Buffer;
  sans: SubjectAltName[];
}

/**
 * OpenSSL's verdict on the peer chain (against the context's `ca`), as tls.Server and tls.connect read it: a bare
 * TLSSocket never sets `authorized`, so read the same handle method Node does. Undefined when the chain verified.
 */
export function verifyError(socket: tls.TLSSocket): string | undefined {
  const handle = (
    socket as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } }
  )._handle;
  if (typeof handle?.verifyError !== 'function') return 'cannot read the certificate verification result';
  const e = handle.verifyError();
  return e ? (e.code ?? e.message) : undefined;
}

/** The peer's leaf certificate and its SANs, or undefined when the peer sent none. */
export function peerCertificate(socket: tls.TLSSocket): PeerCertificate | undefined {
  const session = socket.getSession();
  const der = session ? sessionPeerCertificate(session) : undefined;
  const sans = der ? subjectAltNamesOfDer(der) : undefined;
  if (der && sans) return { der, sans };
  const cert = socket.getPeerX509Certificate();
  return cert ? { der: cert.raw, sans: parseSubjectAltNames(cert.subjectAltName) } : undefined;
}

interface Tlv {
  tag: number;
  /** First byte of the header. */
  at: number;
  /** Content: [start, end). */
  start: number;
  end: number;
}

/** One DER TLV at `pos`, inside `limit`; undefined when malformed (or a multi-byte tag, which X.509 does not use). */
function readTlv(buf: Buffer, pos: number, limit: number): Tlv | undefined {
  if (pos + 2 > limit) return undefined;
  const tag = buf[pos] as number;
  if ((tag & 0x1f) === 0x1f) return undefined;
  let len = buf[pos + 1] as number;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[p++] as number);
  }
  if (p + len > limit) return undefined;
  return { tag, at: pos, start: p, end: p + len };
}

/** The children of a constructed TLV, or undefined when one is malformed. */
function children(buf: Buffer, parent: Tlv): Tlv[] | undefined {
  const out: Tlv[] = [];
  for (let p = parent.start; p < parent.end; ) {
    const t = readTlv(buf, p, parent.end);
    if (!t) return undefined;
    out.push(t);
    p = t.end;
  }
  return out;
}

/** OpenSSL's SSL_SESSION_ASN1: SEQUENCE { version, ssl_version, cipher, session_id, master_key, [0] key_arg,
 * [1] time, [2] timeout, [3] EXPLICIT peer X509, … }. The peer certificate, DER, or undefined. */
export function sessionPeerCertificate(session: Buffer): Buffer | undefined {
  const top = readTlv(session, 0, session.length);
  if (top?.tag !== 0x30) return undefined;
  const fields = children(session, top);
  const peer = fields?.find((f) => f.tag === 0xa3);
  if (!peer) return undefined;
  const cert = readTlv(session, peer.start, peer.end);
  if (cert?.tag !== 0x30 || cert.end !== peer.end) return undefined;
  return session.subarray(cert.at, cert.end);
}

const SAN_OID = Buffer.from([0x55, 0x1d, 0x11]); // 2.5.29.17

/**
 * The subjectAltName extension of a certificate (DER), in certificate order, as `parseSubjectAltNames` reads
 * Node's text: email, DNS, URI, IP address (other kinds skipped). [] without the extension; undefined when the
 * DER is not a certificate as expected.
 */
export function subjectAltNamesOfDer(der: Buffer): SubjectAltName[] | undefined {
  const cert = readTlv(der, 0, der.length);
  if (cert?.tag !== 0x30) return undefined;
  const tbs = readTlv(der, cert.start, cert.end);
  if (tbs?.tag !== 0x30) return undefined;
  const fields = children(der, tbs);
  if (!fields) return undefined;
  const extensions = fields.find((f) => f.tag === 0xa3);
  if (!extensions) return [];
  const list = readTlv(der, extensions.start, extensions.end);
  if (list?.tag !== 0x30) return undefined;
  const exts = children(der, list);
  if (!exts) return undefined;
  for (const ext of exts) {
    const parts = ext.tag === 0x30 ? children(der, ext) : undefined;
    const oid = parts?.[0];
    if (!parts || oid?.tag !== 0x06) return undefined;
    if (oid.end - oid.start !== SAN_OID.length || !der.subarray(oid.start, oid.end).equals(SAN_OID)) continue;
    const value = parts[parts.length - 1];
    if (value?.tag !== 0x04) return undefined;
    const names = readTlv(der, value.start, value.end);
    if (names?.tag !== 0x30 || names.end !== value.end) return undefined;
    const items = children(der, names);
    if (!items) return undefined;
    const out: SubjectAltName[] = [];
    for (const n of items) {
      if (n.tag === 0x81) out.push({ type: 'EMAIL', value: der.toString('utf8', n.start, n.end) });
      else if (n.tag === 0x82) out.push({ type: 'DNS', value: der.toString('utf8', n.start, n.end) });
      else if (n.tag === 0x86) out.push({ type: 'URI', value: der.toString('utf8', n.start, n.end) });
      else if (n.tag === 0x87) {
        const ip = ipString(der.subarray(n.start, n.end));
        if (ip === undefined) return undefined;
        out.push({ type: 'IP_ADDRESS', value: ip });
      }
    }
    return out;
  }
  return [];
}

function ipString(b: Buffer): string | undefined {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return undefined;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return canonicalIp(groups.join(':'));
}
