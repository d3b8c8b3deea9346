// Smuggling-shaped flaws for the `http1` fuzz target: each turns a generated valid request into one that Envoy
// (llhttp in strict mode) refuses, and so must Skiff, whatever the split. `oracle` says whether Node's own
// llhttp (through node:http) refuses it too, so the oracle property can check the flaw against it.

import fc from 'fast-check';
import { type ChunkSpec, type FieldSpec, type RequestSpec, toWire, type Wire } from './http1-spec.js';

export const FLAWS = {
  // In the head: refused with this status.
  'cl-te': { stage: 'head', status: 400, oracle: true },
  'dup-cl': { stage: 'head', status: 400, oracle: true },
  'cl-list': { stage: 'head', status: 400, oracle: true },
  'bad-cl': { stage: 'head', status: 400, oracle: true },
  'bare-lf': { stage: 'head', status: 400, oracle: true },
  'bare-cr': { stage: 'head', status: 400, oracle: true },
  'obs-fold': { stage: 'head', status: 400, oracle: true },
  'space-before-colon': { stage: 'head', status: 400, oracle: true },
  'ctl-in-value': { stage: 'head', status: 400, oracle: true },
  'no-host': { stage: 'head', status: 400, oracle: true },
  'two-te': { stage: 'head', status: 501, oracle: true },
  'te-unsupported': { stage: 'head', status: 501, oracle: true },
  // llhttp accepts a second Host (Envoy's codec refuses it after llhttp) and other versions: no oracle.
  'two-hosts': { stage: 'head', status: 400, oracle: false },
  'bad-version': { stage: 'head', status: 400, oracle: false },
  // In a chunked body: the head is accepted, the decoder refuses.
  'chunk-lf': { stage: 'body', status: 0, oracle: true },
  'chunk-data-crlf': { stage: 'body', status: 0, oracle: true },
  'chunk-size-bad': { stage: 'body', status: 0, oracle: true },
  'chunk-bws': { stage: 'body', status: 0, oracle: true },
  'chunk-ext-ctl': { stage: 'body', status: 0, oracle: true },
  'trailer-lf': { stage: 'body', status: 0, oracle: true },
  'trailer-fold': { stage: 'body', status: 0, oracle: true },
} as const;

export type FlawKind = keyof typeof FLAWS;

export interface Flaw {
  kind: FlawKind;
  /** Which line, field or chunk the flaw lands on (modulo how many there are). */
  at: number;
  /** Which variant of the flaw. */
  v: number;
}

export const flaw = (kinds: FlawKind[] = Object.keys(FLAWS) as FlawKind[]): fc.Arbitrary<Flaw> =>
  fc.record({ kind: fc.constantFrom(...kinds), at: fc.nat(), v: fc.nat() });

const BAD_CL = ['+1', '-1', '0x1', '1 1', '1.0', '1e1', '\u00b9', '', '1,', 'abc', '18446744073709551616'];
const BAD_TE = ['identity', 'gzip', 'chunked, gzip', 'xchunked', 'chunked;q=1'];
// Not here: `HTTP/1.2`, `HTTP/2.0`, `HTTP/0.9` (and no version at all) parse, as balsa takes any DIGIT.DIGIT
// (balsa_parser.cc isVersionValid); Envoy's codec then takes them as HTTP/1.0 and answers 426 unless
// accept_http_10 (http1-target.ts).
const BAD_VERSION = ['HTTP/10.0', 'HTTP/x.1', 'http/1.1', 'HTTP/11', 'HTTP/1.10', 'HTTP/1.1 ', 'HTTP /1.1'];
const BAD_SIZE = ['-1', 'g', '', '0x5', ' 5', '+5', '10000000000000000'];
const CTL = [0, 1, 8, 0x0b, 0x0c, 0x0e, 0x1f, 0x7f];
const DATA_ENDS = ['', 'x\r\n', '\n', '\r', '\r\r\n'];

type Chunked = Extract<RequestSpec['body'], { kind: 'chunked' }>;

function pick<T>(list: readonly T[], n: number): T {
  return list[n % list.length] as T;
}

/** The spec with a chunked body (an empty one if it had none). */
function asChunked(s: RequestSpec): RequestSpec & { body: Chunked } {
  if (s.body.kind === 'chunked') return s as RequestSpec & { body: Chunked };
  return { ...s, body: { kind: 'chunked', chunks: [], lastExt: '', trailers: [], te: 'chunked' } };
}

function withLength(s: RequestSpec): RequestSpec {
  if (s.body.kind === 'length' && s.body.data.length > 0) return s;
  return { ...s, body: { kind: 'length', data: Buffer.from('hello') } };
}

/** The index of the `Name:` field line, or -1. */
function fieldIndex(w: Wire, name: string): number {
  return w.lines.findIndex((l, i) => i > 0 && l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
}

/** Inserts a field line before the empty line, at a position chosen by `at`. */
function insertField(w: Wire, line: string, at: number): void {
  const i = 1 + (at % (w.lines.length - 1));
  w.lines.splice(i, 0, line);
  w.ends.splice(i, 0, '\r\n');
}

/** A chunked body built piece by piece, so a flaw can change one piece. */
function chunkedWithFlaw(b: Chunked, f: Flaw): Buffer {
  const chunks: ChunkSpec[] =
    b.chunks.length > 0 ? b.chunks : [{ data: Buffer.from('abc'), zeros: 0, upper: false, ext: '' }];
  const trailers: FieldSpec[] =
    b.trailers.length > 0 ? b.trailers : [{ name: 'T', value: 'v', before: ' ', after: '' }];
  // Which chunk: chunks.length is the last chunk, which has no data for chunk-data-crlf to land after.
  const i = f.kind === 'chunk-data-crlf' ? f.at % chunks.length : f.at % (chunks.length + 1);
  const parts: string[] = [];
  const latin = (data: Buffer) => data.toString('latin1');
  chunks.forEach((c, k) => {
    let size = c.data.length.toString(16);
    let ext = c.ext;
    let sizeEnd = '\r\n';
    let dataEnd = '\r\n';
    if (k === i) {
      if (f.kind === 'chunk-size-bad') size = pick(BAD_SIZE, f.v);
      // BWS with nothing after it (before a `;` RFC 9112 §7.1.1 allows it; Skiff accepts that, llhttp does not).
      if (f.kind === 'chunk-bws') {
        size += pick([' ', '\t', ' \t'], f.v);
        ext = '';
      }
      if (f.kind === 'chunk-ext-ctl') ext = `;a${String.fromCharCode(pick(CTL, f.v))}`;
      if (f.kind === 'chunk-lf') sizeEnd = '\n';
      if (f.kind === 'chunk-data-crlf') dataEnd = pick(DATA_ENDS, f.v);
    }
    parts.push(`${size}${ext}${sizeEnd}`, latin(c.data), dataEnd);
  });
  const last = i === chunks.length;
  let lastLine = `0${b.lastExt}`;
  if (last && f.kind === 'chunk-size-bad') lastLine = pick(BAD_SIZE, f.v);
  if (last && f.kind === 'chunk-bws') lastLine = `0 `;
  if (last && f.kind === 'chunk-ext-ctl') lastLine = `0;a${String.fromCharCode(pick(CTL, f.v))}`;
  parts.push(lastLine, last && f.kind === 'chunk-lf' ? '\n' : '\r\n');
  const t = f.at % trailers.length;
  trailers.forEach((tr, k) => {
    parts.push(`${tr.name}:${tr.before}${tr.value}${tr.after}`);
    if (k === t && f.kind === 'trailer-fold') parts.push(`\r\n${pick([' ', '\t'], f.v)}folded`);
    parts.push(k === t && f.kind === 'trailer-lf' ? '\n' : '\r\n');
  });
  parts.push('\r\n');
  return Buffer.from(parts.join(''), 'latin1');
}

/** The spec's wire with the flaw applied; the spec may change (a body added) to make room for the flaw. */
export function applyFlaw(spec: RequestSpec, f: Flaw): { spec: RequestSpec; wire: Wire } {
  let s = spec;
  if (['cl-te', 'two-te', 'te-unsupported'].includes(f.kind) || FLAWS[f.kind].stage === 'body')
    s = asChunked(s);
  if (['dup-cl', 'cl-list', 'bad-cl'].includes(f.kind)) s = withLength(s);
  if (f.kind === 'no-host' || f.kind === 'two-hosts')
    s = { ...s, version: '1.1', host: f.kind === 'two-hosts' ? (s.host ?? 'a.example') : undefined };
  const w = toWire(s);
  const fields = w.lines.length - 2; // lines between the request line and the empty line
  const anyField = 1 + (f.at % Math.max(1, fields));
  switch (f.kind) {
    case 'cl-te':
      insertField(w, `${pick(['Content-Length', 'content-length'], f.v)}: ${f.v % 50}`, f.at);
      break;
    case 'dup-cl': {
      const n = s.body.kind === 'length' ? s.body.data.length : 0;
      insertField(w, `Content-Length: ${f.v % 2 === 0 ? n : n + 1 + (f.v % 7)}`, f.at);
      break;
    }
    case 'cl-list':
    case 'bad-cl': {
      const i = fieldIndex(w, 'content-length');
      const n = s.body.kind === 'length' ? s.body.data.length : 0;
      const value =
        f.kind === 'cl-list' ? pick([`${n}, ${n}`, `${n},${n}`, `${n}, ${n + 1}`], f.v) : pick(BAD_CL, f.v);
      w.lines[i] = `Content-Length: ${value}`;
      break;
    }
    case 'bare-lf':
      w.ends[f.at % w.ends.length] = '\n';
      break;
    case 'bare-cr':
      // Not on the empty line: there a CR followed by body bytes is only refused once a CRLFCRLF arrives.
      w.ends[f.at % (w.ends.length - 1)] = '\r';
      break;
    case 'obs-fold':
      // After a field line, or right after the request line when there is none.
      w.lines.splice(fields === 0 ? 1 : anyField + 1, 0, `${pick([' ', '\t', '  '], f.v)}folded`);
      w.ends.splice(fields === 0 ? 1 : anyField + 1, 0, '\r\n');
      break;
    case 'space-before-colon':
      if (fields === 0) insertField(w, 'X-Space : v', 0);
      else w.lines[anyField] = (w.lines[anyField] as string).replace(':', pick([' :', '\t:'], f.v));
      break;
    case 'ctl-in-value': {
      if (fields === 0) insertField(w, 'X-Ctl: v', 0);
      const line = w.lines[anyField] as string;
      const colon = line.indexOf(':');
      const at = colon + 1 + (f.v % Math.max(1, line.length - colon));
      w.lines[anyField] = `${line.slice(0, at)}${String.fromCharCode(pick(CTL, f.v >> 4))}x${line.slice(at)}`;
      break;
    }
    case 'no-host':
      break;
    case 'two-hosts':
      insertField(w, `Host: ${pick(['other.example', s.host ?? 'a.example'], f.v)}`, f.at);
      break;
    case 'two-te':
      insertField(w, 'Transfer-Encoding: chunked', f.at);
      break;
    case 'te-unsupported':
      w.lines[fieldIndex(w, 'transfer-encoding')] = `Transfer-Encoding: ${pick(BAD_TE, f.v)}`;
      break;
    case 'bad-version':
      w.lines[0] = `${s.method} ${s.target} ${pick(BAD_VERSION, f.v)}`;
      break;
    default:
      w.body = chunkedWithFlaw(s.body as Chunked, f);
  }
  return { spec: s, wire: w };
}
