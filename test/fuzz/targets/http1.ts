// Fuzz target `http1`: the HTTP/1.1 head and chunked-body parsers (src/proxy/filters/http/http1-head.ts) through
// parseRequestHead, parseResponseHead and ChunkedDecoder. Properties: a generated request parses to the head
// its spec says (the reference decision) and its body decodes to the payload, at every split; smuggling-shaped
// requests are refused at every split; Node's llhttp agrees on accept/refuse (and on what it read); mutated and
// random bytes never throw, give documented results, and decide the same however the bytes were split.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ChunkedDecoder,
  DEFAULT_HEAD_LIMITS,
  type HeadLimits,
  parseRequestHead,
  parseResponseHead,
  type RequestHeadResult,
  type ResponseHeadResult,
} from '../../../src/proxy/filters/http/http1-head.js';
import { type FuzzTarget, property, type RawInput } from '../harness.js';
import { byteEdits, mutateBytes } from '../mutate.js';
import { applyFlaw, FLAWS, type Flaw, type FlawKind, flaw } from './http1-flaws.js';
import {
  expectedHead,
  expectedPayload,
  expectedTrailers,
  type RequestSpec,
  requestSpec,
  toWire,
  wireBytes,
} from './http1-spec.js';
import { LlhttpOracle } from './llhttp-oracle.js';
import { seedInputs } from './seeds.js';

const SMALL_LIMITS: HeadLimits = { maxHeaderBytes: 64, maxHeaders: 3 };
const CRLFCRLF = Buffer.from('\r\n\r\n');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

type HeadResult = RequestHeadResult | ResponseHeadResult;

/**
 * What must agree between a decision on a prefix and on the whole: refused, or the whole head. A refusal's
 * status may depend on how much had arrived: a bare LF seen before the head ended is 400 at once, while the
 * same head found complete and over the size limit is 431 (test/fuzz/fixtures/http1/seed-refusal-status-by-
 * split.bin); either way the request is refused and the connection closed.
 */
function decision(r: HeadResult): unknown {
  return r.kind === 'error' ? { kind: 'error' } : r;
}

/**
 * The split property for a head parser: need-more on every prefix until it decides, then the same decision on
 * every longer prefix (sampled) and on the whole. Returns the decision on the whole.
 */
function checkHeadSplits<R extends HeadResult>(bytes: Buffer, parse: (b: Buffer) => R): R {
  const whole = parse(bytes);
  let decided = -1;
  for (let i = 0; i <= bytes.length; i++) {
    const r = parse(bytes.subarray(0, i));
    if (r.kind === 'need-more') continue;
    assert.deepEqual(
      decision(r),
      decision(whole),
      `decided on ${i} bytes, differently on all ${bytes.length}`,
    );
    decided = i;
    break;
  }
  if (decided === -1) {
    assert.equal(whole.kind, 'need-more');
    return whole;
  }
  const step = Math.max(1, Math.floor((bytes.length - decided) / 32));
  for (let i = decided + 1; i < bytes.length; i += step) {
    assert.deepEqual(
      decision(parse(bytes.subarray(0, i))),
      decision(whole),
      `decision changed at ${i} bytes`,
    );
  }
  return whole;
}

/** CTL (RFC 5234): %x00-1F and DEL. */
function isControl(c: string): boolean {
  const code = c.charCodeAt(0);
  return code < 0x20 || code === 0x7f;
}

function assertFields(headers: [string, string][], limits: HeadLimits): void {
  assert.ok(headers.length <= limits.maxHeaders, 'more fields than maxHeaders');
  for (const [name, value] of headers) {
    assert.ok(TOKEN.test(name) && name === name.toLowerCase(), `field name ${JSON.stringify(name)}`);
    assert.ok(
      ![...value].some((c) => c !== '\t' && isControl(c)),
      `control character in ${JSON.stringify(value)}`,
    );
    assert.ok(!/^[ \t]|[ \t]$/.test(value), `untrimmed value ${JSON.stringify(value)}`);
  }
  const count = (n: string) => headers.filter(([name]) => name === n).length;
  assert.ok(count('content-length') <= 1, 'several Content-Length fields accepted');
  assert.ok(
    count('content-length') === 0 || count('transfer-encoding') === 0,
    'Content-Length with Transfer-Encoding accepted',
  );
}

/** A request decision is documented and fits the bytes; a head obeys every framing rule. */
function assertRequest(r: RequestHeadResult, bytes: Buffer, limits: HeadLimits): void {
  if (r.kind === 'need-more') return;
  if (r.kind === 'error') {
    assert.ok([400, 431, 501].includes(r.status) && r.reason.length > 0, `error ${r.status} ${r.reason}`);
    return;
  }
  assert.equal(r.kind, 'head');
  assert.ok(TOKEN.test(r.method), `method ${JSON.stringify(r.method)}`);
  assert.ok(r.target.length > 0 && !/[\0-\x20\x7f]/.test(r.target), `target ${JSON.stringify(r.target)}`);
  // A head ends with an empty line, or is an HTTP/0.9 request line alone (no version): HTTP/1.0, no fields.
  const text = bytes.toString('latin1', 0, r.end).replace(/^(\r\n)+/, '');
  const requestLine = text.slice(0, text.indexOf('\r\n'));
  if (/ HTTP\/\d\.\d$/.test(requestLine)) {
    assert.ok(
      r.end <= bytes.length && bytes.subarray(r.end - 4, r.end).equals(CRLFCRLF),
      'end is not after CRLFCRLF',
    );
  } else {
    assert.equal(text, `${requestLine}\r\n`, 'an HTTP/0.9 head is its request line');
    assert.ok(r.version === '1.0' && r.headers.length === 0, 'an HTTP/0.9 head is HTTP/1.0 without fields');
  }
  assertFields(r.headers, limits);
  const size = r.target.length + r.headers.reduce((n, [k, v]) => n + k.length + v.length, 0);
  assert.ok(size <= limits.maxHeaderBytes, 'head larger than maxHeaderBytes');
  const hosts = r.headers.filter(([n]) => n === 'host').length;
  // HTTP/1.1 needs its Host, unless the target is in absolute form (which names the host).
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(r.target);
  assert.ok(hosts <= 1 && (r.version === '1.0' || absolute || hosts === 1), `${hosts} Host fields`);
  const te = r.headers.find(([n]) => n === 'transfer-encoding');
  const cl = r.headers.find(([n]) => n === 'content-length');
  if (te) assert.deepEqual(r.body, { kind: 'chunked' });
  else if (cl && Number(cl[1]) > 0) assert.deepEqual(r.body, { kind: 'length', length: Number(cl[1]) });
  else assert.deepEqual(r.body, { kind: 'none' });
}

function assertResponse(r: ResponseHeadResult, bytes: Buffer, limits: HeadLimits): void {
  if (r.kind === 'need-more') return;
  if (r.kind === 'error') {
    assert.ok(r.status === 502 && r.reason.length > 0, `response error ${r.status} ${r.reason}`);
    return;
  }
  assert.ok(r.status >= 100 && r.status <= 999, `status ${r.status}`);
  assert.ok(
    r.end <= bytes.length && bytes.subarray(r.end - 4, r.end).equals(CRLFCRLF),
    'end is not after CRLFCRLF',
  );
  assertFields(r.headers, limits);
}

// ---------------------------------------------------------------------------------------------------------
// Chunked bodies.

interface Decoded {
  payload: Buffer;
  done: boolean;
  /** Offset just past the body when done. */
  consumed: number | undefined;
  trailers: [string, string][] | undefined;
  error: string | undefined;
}

/** Pushes `pieces` into a new decoder until it is done or fails. */
function decode(pieces: Buffer[], limits: HeadLimits = DEFAULT_HEAD_LIMITS): Decoded {
  const d = new ChunkedDecoder(limits);
  const payload: Buffer[] = [];
  let offset = 0;
  for (const piece of pieces) {
    const r = d.push(piece);
    payload.push(...r.data);
    assert.ok(r.consumed >= 0 && r.consumed <= piece.length, `consumed ${r.consumed} of ${piece.length}`);
    if (r.error !== undefined)
      return {
        payload: Buffer.concat(payload),
        done: false,
        consumed: undefined,
        trailers: undefined,
        error: r.error,
      };
    if (r.done)
      return {
        payload: Buffer.concat(payload),
        done: true,
        consumed: offset + r.consumed,
        trailers: r.trailers,
        error: undefined,
      };
    offset += piece.length;
  }
  return {
    payload: Buffer.concat(payload),
    done: false,
    consumed: undefined,
    trailers: undefined,
    error: undefined,
  };
}

function split(bytes: Buffer, at: number): Buffer[] {
  return [bytes.subarray(0, at), bytes.subarray(at)];
}

function bytewise(bytes: Buffer): Buffer[] {
  return Array.from({ length: bytes.length }, (_v, i) => bytes.subarray(i, i + 1));
}

/** The decoder decides the same on the whole, one byte at a time, and split in two at (sampled) every point. */
function checkChunkedSplits(bytes: Buffer, limits: HeadLimits = DEFAULT_HEAD_LIMITS): Decoded {
  const whole = decode([bytes], limits);
  if (whole.error !== undefined) assert.ok(!whole.done);
  assert.deepEqual(decode(bytewise(bytes), limits), whole, 'one byte at a time');
  const step = Math.max(1, Math.floor(bytes.length / 48));
  for (let at = 1; at < bytes.length; at += step)
    assert.deepEqual(decode(split(bytes, at), limits), whole, `split at ${at}`);
  return whole;
}

// ---------------------------------------------------------------------------------------------------------

function checkRaw(input: RawInput): void {
  const bytes = input.bytes;
  for (const limits of [DEFAULT_HEAD_LIMITS, SMALL_LIMITS]) {
    const req = checkHeadSplits(bytes, (b) => parseRequestHead(b, 0, limits));
    assertRequest(req, bytes, limits);
    if (req.kind === 'head' && req.body.kind === 'chunked')
      checkChunkedSplits(bytes.subarray(req.end), limits);
    for (const method of ['GET', 'HEAD']) {
      const res = checkHeadSplits(bytes, (b) => parseResponseHead(b, 0, limits, method));
      assertResponse(res, bytes, limits);
    }
  }
  checkChunkedSplits(bytes);
  checkChunkedSplits(bytes, SMALL_LIMITS);
}

const NEXT = Buffer.from('GET /next HTTP/1.1\r\nHost: n\r\n\r\n');

/** A generated request: the reference head at every split, the payload at every split, the next request after. */
function checkBuilt(spec: RequestSpec): void {
  const { bytes: message, headEnd } = wireBytes(spec, toWire(spec));
  const all = Buffer.concat([message, NEXT]);
  const expected = { ...expectedHead(spec), end: headEnd };
  for (let i = 0; i < headEnd; i++) {
    const r = parseRequestHead(all.subarray(0, i), 0, DEFAULT_HEAD_LIMITS);
    assert.equal(r.kind, 'need-more', `a prefix of ${i} of the ${headEnd} head bytes gave ${r.kind}`);
  }
  for (let i = headEnd; i <= all.length; i++) {
    assert.deepEqual(parseRequestHead(all.subarray(0, i), 0, DEFAULT_HEAD_LIMITS), expected, `${i} bytes`);
  }
  if (spec.body.kind === 'chunked') {
    const got = checkChunkedSplits(all.subarray(headEnd));
    assert.deepEqual(got, {
      payload: expectedPayload(spec),
      done: true,
      consumed: message.length - headEnd,
      trailers: expectedTrailers(spec),
      error: undefined,
    });
  }
  const next = parseRequestHead(all, message.length, DEFAULT_HEAD_LIMITS);
  assert.ok(
    next.kind === 'head' && next.target === '/next' && next.end === all.length,
    'the pipelined request',
  );
}

/** A flawed request is refused at every split: never a head; at the latest once a head could end, an error. */
function checkFlawed(v: { spec: RequestSpec; flaw: Flaw }): void {
  const { spec, wire } = applyFlaw(v.spec, v.flaw);
  const { bytes, headEnd } = wireBytes(spec, wire);
  const info = FLAWS[v.flaw.kind];
  if (info.stage === 'head') {
    for (let i = 0; i <= bytes.length; i++) {
      const r = parseRequestHead(bytes.subarray(0, i), 0, DEFAULT_HEAD_LIMITS);
      assert.notEqual(r.kind, 'head', `accepted on ${i} bytes`);
    }
    const final = parseRequestHead(Buffer.concat([bytes, CRLFCRLF]), 0, DEFAULT_HEAD_LIMITS);
    assert.ok(
      final.kind === 'error' && final.status === info.status,
      `${final.kind} ${JSON.stringify(final)}`,
    );
    return;
  }
  const head = parseRequestHead(bytes, 0, DEFAULT_HEAD_LIMITS);
  assert.ok(
    head.kind === 'head' && head.body.kind === 'chunked' && head.end === headEnd,
    `head: ${head.kind}`,
  );
  const got = checkChunkedSplits(bytes.subarray(headEnd));
  assert.ok(
    !got.done && got.error !== undefined,
    `the flawed chunked body was ${got.done ? 'accepted' : 'left pending'}`,
  );
}

type SkiffVerdict =
  | {
      kind: 'accepted';
      read: {
        method: string;
        target: string;
        headers: [string, string][];
        body: Buffer;
        trailers: [string, string][];
      };
    }
  | { kind: 'refused' };

/**
 * What the relay does with one request's bytes: accept it (and read this), or refuse it. Where the parser still
 * waits (a bare LF or CR is judged once a head could end), it is asked again with an empty line added.
 */
function skiffVerdict(bytes: Buffer): SkiffVerdict {
  let head = parseRequestHead(bytes, 0, DEFAULT_HEAD_LIMITS);
  if (head.kind === 'need-more')
    head = parseRequestHead(Buffer.concat([bytes, CRLFCRLF]), 0, DEFAULT_HEAD_LIMITS);
  if (head.kind !== 'head') return { kind: 'refused' };
  const rest = bytes.subarray(head.end);
  let body: Buffer;
  let trailers: [string, string][] = [];
  if (head.body.kind === 'chunked') {
    const d = decode([rest]);
    if (!d.done) return { kind: 'refused' };
    body = d.payload;
    trailers = d.trailers ?? [];
  } else {
    body = rest.subarray(0, head.body.kind === 'length' ? head.body.length : 0);
  }
  const read = { method: head.method, target: head.target, headers: head.headers, body, trailers };
  return { kind: 'accepted', read };
}

const ORACLE_FLAWS = (Object.keys(FLAWS) as FlawKind[]).filter((k) => FLAWS[k].oracle);

export async function http1Target(): Promise<FuzzTarget> {
  const oracle = new LlhttpOracle();
  const built = requestSpec.map((s) => wireBytes(s, toWire(s)).bytes);
  const responses = [
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello',
    'HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: v\r\n\r\n',
    'HTTP/1.0 101 Switching\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n',
  ].map((s) => Buffer.from(s, 'latin1'));
  const seeds = [...seedInputs('http1').map((s) => s.bytes), ...responses];
  const mutated = fc.oneof(
    fc.tuple(built, byteEdits(4)).map(([b, edits]) => mutateBytes(b, edits)),
    fc
      .tuple(fc.nat(seeds.length - 1), byteEdits(6))
      .map(([i, edits]) => mutateBytes(seeds[i] as Buffer, edits)),
  );
  const bin = (bytes: Buffer): RawInput => ({ bytes, ext: 'bin' });
  return {
    name: 'http1',
    checkRaw,
    close: () => oracle.close(),
    properties: [
      property({
        name: 'a generated request parses to its spec (head, payload, trailers) at every split',
        arbitrary: requestSpec,
        check: checkBuilt,
        ciRuns: 2500,
      }),
      property({
        name: 'smuggling-shaped requests (CL+TE, duplicate CL, bare LF/CR, obs-fold, ...) are refused at every split',
        arbitrary: fc.record({ spec: requestSpec, flaw: flaw() }),
        check: checkFlawed,
        ciRuns: 600,
      }),
      property({
        name: 'mutated requests and responses never throw and decide the same at every split',
        arbitrary: mutated,
        check: (bytes: Buffer) => checkRaw(bin(bytes)),
        raw: bin,
        ciRuns: 1000,
      }),
      property({
        name: 'random bytes never throw and decide the same at every split',
        arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
        check: (bytes: Buffer) => checkRaw(bin(bytes)),
        raw: bin,
        ciRuns: 2000,
      }),
      property({
        name: "Node's llhttp accepts and reads what Skiff accepts, and refuses the flaws it refuses",
        arbitrary: fc.record({ spec: requestSpec, flaw: fc.option(flaw(ORACLE_FLAWS), { nil: undefined }) }),
        async: true,
        check: async (v: { spec: RequestSpec; flaw: Flaw | undefined }) => {
          const applied = v.flaw ? applyFlaw(v.spec, v.flaw) : { spec: v.spec, wire: toWire(v.spec) };
          const { bytes } = wireBytes(applied.spec, applied.wire);
          const theirs = await oracle.judge(bytes);
          assert.ok(theirs.kind !== 'undecided', 'llhttp decided nothing');
          assert.equal(theirs.kind, v.flaw ? 'refused' : 'accepted', `llhttp: ${JSON.stringify(theirs)}`);
          const ours = skiffVerdict(bytes);
          assert.equal(ours.kind, theirs.kind, `Skiff ${ours.kind}, llhttp ${theirs.kind}`);
          if (ours.kind === 'accepted' && theirs.kind === 'accepted') {
            const { kind: _k, ...rest } = theirs;
            assert.deepEqual(ours.read, rest, 'Skiff and llhttp read different requests');
          }
        },
        ciRuns: 120,
      }),
    ],
  };
}
