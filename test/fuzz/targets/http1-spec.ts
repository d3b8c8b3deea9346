// Generated HTTP/1.1 requests for the `http1` fuzz target: a request spec (method, target, fields, body), its
// bytes on the wire, the head the parser must return for it (the reference decision, written from the spec,
// not from the bytes), and the smuggling-shaped flaws that must make the same request refused.

import fc from 'fast-check';
import type { HeaderField, RequestHead } from '../../../src/proxy/filters/http/http1-head.js';

export interface FieldSpec {
  name: string;
  value: string;
  /** Optional whitespace around the value on the wire (the parser trims it). */
  before: string;
  after: string;
}

export interface ChunkSpec {
  data: Buffer;
  /** Leading zeros and letter case of the hex size. */
  zeros: number;
  upper: boolean;
  /** A chunk extension (`;name` or `;name=value`), or ''. */
  ext: string;
}

export type BodySpec =
  | { kind: 'none' }
  | { kind: 'length'; data: Buffer }
  | { kind: 'chunked'; chunks: ChunkSpec[]; lastExt: string; trailers: FieldSpec[]; te: string };

export interface RequestSpec {
  method: string;
  target: string;
  version: '1.0' | '1.1';
  /** Host is always sent on HTTP/1.1; `hostAt` places it among the other fields. */
  host: string | undefined;
  hostAt: number;
  fields: FieldSpec[];
  body: BodySpec;
  /** Where the framing field (Content-Length or Transfer-Encoding) goes among the fields. */
  framingAt: number;
  framingName: string;
  /** Empty lines before the request line (RFC 9112 §2.2 allows them). */
  leadingCrlf: number;
}

/** Methods llhttp knows (Envoy's codec refuses others); CONNECT is left out for its authority-form target. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE'];
/** Field names whose meaning the generator does not model; generated fields avoid them. */
const SPECIAL = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'expect']);

const tchar = fc.constantFrom(
  ..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
);
const token = (max: number) => fc.string({ unit: tchar, minLength: 1, maxLength: max });

/** A field value: VCHAR and obs-text, with SP/HTAB inside but not at either end. */
const fieldValue = fc
  .array(
    fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) },
      { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
      { weight: 1, arbitrary: fc.constantFrom(0x20, 0x09) },
    ),
    { maxLength: 40 },
  )
  .map((codes) => String.fromCharCode(...codes).replace(/^[ \t]+|[ \t]+$/g, ''));

const ows = fc.constantFrom('', ' ', ' ', '  ', '\t', ' \t ');

const field = fc.record({
  name: token(20).filter((n) => !SPECIAL.has(n.toLowerCase())),
  value: fieldValue,
  before: ows,
  after: ows,
});

const requestTarget = fc
  .tuple(fc.webPath(), fc.option(fc.webQueryParameters(), { nil: undefined }))
  .map(([p, q]) => `${p.startsWith('/') ? p : `/${p}`}${q !== undefined ? `?${q}` : ''}`);

const chunkExt = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: token(8).map((n) => `;${n}`) },
  { weight: 1, arbitrary: fc.tuple(token(8), token(8)).map(([n, v]) => `;${n}=${v}`) },
  { weight: 1, arbitrary: fc.tuple(token(8), token(8)).map(([n, v]) => `;${n}="${v} ${v}"`) },
);

const body: fc.Arbitrary<BodySpec> = fc.oneof(
  fc.constant<BodySpec>({ kind: 'none' }),
  fc.uint8Array({ maxLength: 120 }).map((d): BodySpec => ({ kind: 'length', data: Buffer.from(d) })),
  fc.record({
    kind: fc.constant('chunked' as const),
    chunks: fc.array(
      fc.record({
        data: fc.uint8Array({ minLength: 1, maxLength: 60 }).map((d) => Buffer.from(d)),
        zeros: fc.nat(2),
        upper: fc.boolean(),
        ext: chunkExt,
      }),
      { maxLength: 4 },
    ),
    lastExt: chunkExt,
    trailers: fc.array(field, { maxLength: 2 }),
    te: fc.constantFrom('chunked', 'Chunked', 'CHUNKED'),
  }),
);

export const requestSpec: fc.Arbitrary<RequestSpec> = fc
  .record({
    method: fc.constantFrom(...METHODS),
    target: requestTarget,
    version: fc.constantFrom<'1.0' | '1.1'>('1.1', '1.1', '1.1', '1.0'),
    host: fc.option(fc.domain(), { nil: undefined, freq: 5 }),
    hostAt: fc.nat(),
    fields: fc.array(field, { maxLength: 6 }),
    body,
    framingAt: fc.nat(),
    framingName: fc.constantFrom('Content-Length', 'content-length', 'CONTENT-LENGTH', 'Transfer-Encoding'),
    leadingCrlf: fc.constantFrom(0, 0, 0, 1, 2),
  })
  .map((s) => (s.version === '1.1' && s.host === undefined ? { ...s, host: 'example.com' } : s));

// ---------------------------------------------------------------------------------------------------------
// The wire, as lines: a flaw edits a line or its terminator, or the body.

export interface Wire {
  /** Head lines without their terminators: the request line, the fields, then the empty line. */
  lines: string[];
  /** The terminator of each line ('\r\n' unless a flaw changed it). */
  ends: string[];
  body: Buffer;
}

function fieldLine(f: FieldSpec): string {
  return `${f.name}:${f.before}${f.value}${f.after}`;
}

function hex(c: { zeros: number; upper: boolean }, n: number): string {
  const h = n.toString(16);
  return '0'.repeat(c.zeros) + (c.upper ? h.toUpperCase() : h);
}

export function chunkedBody(b: Extract<BodySpec, { kind: 'chunked' }>): Buffer {
  const parts: Buffer[] = [];
  for (const c of b.chunks) {
    parts.push(Buffer.from(`${hex(c, c.data.length)}${c.ext}\r\n`, 'latin1'), c.data, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0${b.lastExt}\r\n`, 'latin1'));
  for (const t of b.trailers) parts.push(Buffer.from(`${fieldLine(t)}\r\n`, 'latin1'));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** The fields in wire order: generated ones, Host, and the framing field. */
export function wireFields(s: RequestSpec): FieldSpec[] {
  const out = [...s.fields];
  if (s.host !== undefined)
    out.splice(s.hostAt % (out.length + 1), 0, { name: 'Host', value: s.host, before: ' ', after: '' });
  const framing = framingField(s);
  if (framing) out.splice(s.framingAt % (out.length + 1), 0, framing);
  return out;
}

function framingField(s: RequestSpec): FieldSpec | undefined {
  if (s.body.kind === 'chunked')
    return { name: 'Transfer-Encoding', value: s.body.te, before: ' ', after: '' };
  if (s.body.kind === 'length') {
    const name = s.framingName === 'Transfer-Encoding' ? 'Content-Length' : s.framingName;
    return { name, value: String(s.body.data.length), before: ' ', after: '' };
  }
  return undefined;
}

export function toWire(s: RequestSpec): Wire {
  const lines = [`${s.method} ${s.target} HTTP/${s.version}`, ...wireFields(s).map(fieldLine), ''];
  const b = s.body;
  return {
    lines,
    ends: lines.map(() => '\r\n'),
    body: b.kind === 'none' ? Buffer.alloc(0) : b.kind === 'length' ? b.data : chunkedBody(b),
  };
}

export function wireBytes(s: RequestSpec, w: Wire): { bytes: Buffer; headEnd: number } {
  let head = '\r\n'.repeat(s.leadingCrlf);
  w.lines.forEach((line, i) => {
    head += line + w.ends[i];
  });
  const headBytes = Buffer.from(head, 'latin1');
  return { bytes: Buffer.concat([headBytes, w.body]), headEnd: headBytes.length };
}

/** The reference decision for a spec: the head parseRequestHead must return (`end` is set by the caller). */
export function expectedHead(s: RequestSpec): Omit<RequestHead, 'end'> {
  const headers: HeaderField[] = wireFields(s).map((f) => [f.name.toLowerCase(), f.value]);
  const b = s.body;
  return {
    kind: 'head',
    method: s.method,
    target: s.target,
    fragment: s.target.includes('#'),
    version: s.version,
    headers,
    body:
      b.kind === 'chunked'
        ? { kind: 'chunked' }
        : b.kind === 'length' && b.data.length > 0
          ? { kind: 'length', length: b.data.length }
          : { kind: 'none' },
    keepAlive: s.version === '1.1',
    upgrade: undefined,
    expectContinue: false,
  };
}

export function expectedTrailers(s: RequestSpec): HeaderField[] {
  return s.body.kind === 'chunked' ? s.body.trailers.map((t) => [t.name.toLowerCase(), t.value]) : [];
}

export function expectedPayload(s: RequestSpec): Buffer {
  const b = s.body;
  return b.kind === 'chunked'
    ? Buffer.concat(b.chunks.map((c) => c.data))
    : b.kind === 'length'
      ? b.data
      : Buffer.alloc(0);
}
