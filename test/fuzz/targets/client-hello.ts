// Fuzz target `client-hello`: the tls_inspector's ClientHello parser (src/proxy/detect/client-hello.ts) through
// parseClientHello. Properties: a hello built by a generator is recognised with the SNI and ALPN it was given,
// at every split; real captures and random bytes, mutated, never throw, give a documented result, and the
// decision never depends on how the bytes were split (need-more until decided, then the same decision).

import assert from 'node:assert/strict';
import tls from 'node:tls';
import fc from 'fast-check';
import {
  type ClientHelloResult,
  DEFAULT_MAX_CLIENT_HELLO_SIZE,
  parseClientHello,
} from '../../../src/proxy/detect/client-hello.js';
import { type Client, captureFirstBytes } from '../../proxy/detect/capture.js';
import {
  buildClientHello,
  buildHandshake,
  type Extension,
  GROUP_X25519_MLKEM768,
  record,
} from '../../proxy/detect/hello-builder.js';
import { type FuzzTarget, property, type RawInput } from '../harness.js';
import { byteEdits, mutateBytes } from '../mutate.js';
import { seedInputs } from './seeds.js';

const KINDS = new Set(['need-more', 'not-tls', 'too-large', 'tls']);

function parse(data: Buffer, maxSize: number): ClientHelloResult {
  return parseClientHello(data, maxSize);
}

/** A result is one of the documented ones, with fields that fit the bytes it came from. */
function assertWellFormed(r: ClientHelloResult, data: Buffer, maxSize: number): void {
  assert.ok(KINDS.has(r.kind), `unknown kind ${r.kind}`);
  if (r.kind === 'too-large') assert.ok(data.length >= maxSize, 'too-large below maxSize');
  if (r.kind !== 'tls') return;
  assert.ok(r.helloLength <= 16384, `helloLength ${r.helloLength}`);
  assert.ok(r.recordBytes <= Math.min(data.length, maxSize), `recordBytes ${r.recordBytes} > ${data.length}`);
  assert.ok(r.recordBytes >= r.helloLength + 4 + 5, 'recordBytes shorter than the hello');
  if (r.serverName !== undefined) {
    assert.ok(r.serverName.length > 0 && !/[A-Z\0]/.test(r.serverName), `serverName ${r.serverName}`);
  }
  assert.ok(Array.isArray(r.alpn) && r.alpn.every((p) => typeof p === 'string' && p.length > 0), 'alpn');
}

/**
 * The split property on a byte stream: asked after every byte, the parser says need-more until it decides,
 * and from there on every longer prefix (the whole included) gets the same decision. Feeding the bytes in any
 * pieces asks at a subset of those prefixes, so it decides the same. Returns the decision on the whole.
 */
export function checkStream(data: Buffer, maxSize = DEFAULT_MAX_CLIENT_HELLO_SIZE): ClientHelloResult {
  const whole = parse(data, maxSize);
  assertWellFormed(whole, data, maxSize);
  let decided = -1;
  for (let i = 0; i <= data.length; i++) {
    const r = parse(data.subarray(0, i), maxSize);
    assertWellFormed(r, data.subarray(0, i), maxSize);
    if (r.kind !== 'need-more') {
      assert.deepEqual(r, whole, `decided ${r.kind} on ${i} bytes, but ${whole.kind} on all ${data.length}`);
      decided = i;
      break;
    }
  }
  if (decided === -1) {
    assert.equal(whole.kind, 'need-more');
    return whole;
  }
  // Every longer prefix keeps the decision (sampled: about 64 of them, and the last).
  const step = Math.max(1, Math.floor((data.length - decided) / 64));
  for (let i = decided + 1; i < data.length; i += step) {
    assert.deepEqual(parse(data.subarray(0, i), maxSize), whole, `decision changed at ${i} bytes`);
  }
  return whole;
}

function checkRaw(input: RawInput): void {
  checkStream(input.bytes);
  // The same bytes against a small max_client_hello_size, as a listener may configure it.
  checkStream(input.bytes, 1 + (input.bytes.length % 512));
}

// ---------------------------------------------------------------------------------------------------------
// A generator of valid hellos.

/** Extensions the builder sends itself, and the ones the parser reads: extra extensions avoid them. */
const RESERVED_EXTENSIONS = new Set([0, 10, 11, 13, 16, 23, 43, 45, 51, 0xfe0d]);

const alpnName = fc.oneof(
  fc.constantFrom('h2', 'http/1.1', 'istio', 'istio-peer-exchange', 'istio-http/1.1', 'istio-h2'),
  fc.string({
    unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
    minLength: 1,
    maxLength: 40,
  }),
);

const helloSpec = fc.record({
  serverName: fc.option(
    fc
      .tuple(fc.domain(), fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }))
      .map(([name, upper]) =>
        [...name].map((c, i) => (upper[i % upper.length] ? c.toUpperCase() : c)).join(''),
      ),
    { nil: undefined },
  ),
  alpn: fc.option(fc.array(alpnName, { minLength: 1, maxLength: 5 }), { nil: undefined }),
  tls13: fc.boolean(),
  sessionId: fc.uint8Array({ maxLength: 32 }),
  extras: fc.uniqueArray(
    fc.record({
      type: fc.integer({ min: 0, max: 0xffff }).filter((t) => !RESERVED_EXTENSIONS.has(t)),
      data: fc.uint8Array({ maxLength: 40 }),
    }),
    { selector: (e) => e.type, maxLength: 4 },
  ),
  /** Record body sizes, cycled; 0 is an empty record (BoringSSL allows up to 32 in a row). */
  fragments: fc.array(fc.integer({ min: 0, max: 700 }), { minLength: 1, maxLength: 8 }),
  recordVersion: fc.integer({ min: 0x0300, max: 0x03ff }),
  trailing: fc.uint8Array({ maxLength: 24 }),
});

type HelloSpec = typeof helloSpec extends fc.Arbitrary<infer T> ? T : never;

function fragment(message: Buffer, sizes: number[], version: number): Buffer {
  const cycle = sizes.some((s) => s > 0) ? sizes : [1];
  const records: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < message.length; i++) {
    const size = cycle[i % cycle.length] as number;
    records.push(record(22, message.subarray(at, at + size), version));
    at += size;
  }
  return Buffer.concat(records);
}

function buildWire(spec: HelloSpec): { wire: Buffer; message: Buffer } {
  const message = buildHandshake({
    ...(spec.serverName !== undefined ? { serverName: spec.serverName } : {}),
    ...(spec.alpn !== undefined ? { alpn: spec.alpn } : {}),
    tls13: spec.tls13,
    sessionId: Buffer.from(spec.sessionId),
    extensions: spec.extras.map((e): Extension => ({ type: e.type, data: Buffer.from(e.data) })),
  });
  return { wire: fragment(message, spec.fragments, spec.recordVersion), message };
}

function checkBuiltHello(spec: HelloSpec): void {
  const { wire, message } = buildWire(spec);
  const expected: ClientHelloResult = {
    kind: 'tls',
    serverName: spec.serverName?.toLowerCase(),
    alpn: spec.alpn ?? [],
    helloLength: message.length - 4,
    recordBytes: wire.length,
  };
  const got = checkStream(Buffer.concat([wire, Buffer.from(spec.trailing)]));
  assert.deepEqual(got, expected);
}

// ---------------------------------------------------------------------------------------------------------

function nodeClient(options: tls.ConnectionOptions): Client {
  return (port) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    socket.on('error', () => {});
    return () => socket.destroy();
  };
}

/** Hellos of this Node's TLS client, captured on a loopback socket as the detect tests capture them. */
async function captureNodeHellos(): Promise<Buffer[]> {
  const decided = (bytes: Buffer) => parseClientHello(bytes).kind !== 'need-more';
  return [
    await captureFirstBytes(
      nodeClient({
        servername: 'Reviews.Default.SVC.cluster.local',
        ALPNProtocols: ['istio-peer-exchange', 'h2'],
      }),
      decided,
    ),
    await captureFirstBytes(nodeClient({ maxVersion: 'TLSv1.2' }), decided),
  ];
}

export async function clientHelloTarget(): Promise<FuzzTarget> {
  // Saved captures (openssl, curl, Node; test/fuzz/fixtures/client-hello/seed-*.bin), this Node's own, and
  // built hellos fragmented in several ways.
  const seeds = [
    ...seedInputs('client-hello').map((s) => s.bytes),
    ...(await captureNodeHellos()),
    buildClientHello({ serverName: 'a.b', alpn: ['h2'], recordSize: 7 }),
    buildClientHello({ tls13: false, noExtensionsBlock: true }),
    buildClientHello({
      serverName: 'pq.example',
      keyShares: [{ group: GROUP_X25519_MLKEM768, length: 1216 }],
      recordSize: 300,
    }),
  ];
  const mutated = fc
    .tuple(fc.nat(seeds.length - 1), byteEdits(6))
    .map(([i, edits]) => mutateBytes(seeds[i] as Buffer, edits));
  const tlsLike = fc
    .tuple(fc.uint8Array({ maxLength: 300 }), fc.nat(0x2ff))
    .map(([bytes, v]) => Buffer.concat([Buffer.from([0x16, 0x03, v & 0xff, 0, v >> 8, 1]), bytes]));
  return {
    name: 'client-hello',
    checkRaw,
    properties: [
      property({
        name: 'a generated hello is recognised with its SNI and ALPN, whatever the records and the split',
        arbitrary: helloSpec,
        check: checkBuiltHello,
        ciRuns: 500,
      }),
      property({
        name: 'mutated real hellos never throw and decide the same at every split',
        arbitrary: mutated,
        check: (bytes: Buffer) => checkRaw({ bytes, ext: 'bin' }),
        raw: (bytes: Buffer) => ({ bytes, ext: 'bin' }),
        ciRuns: 1500,
      }),
      property({
        name: 'random bytes, most shaped like a handshake record, never throw and decide the same at every split',
        arbitrary: fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
          tlsLike,
        ),
        check: (bytes: Buffer) => checkRaw({ bytes, ext: 'bin' }),
        raw: (bytes: Buffer) => ({ bytes, ext: 'bin' }),
        ciRuns: 4000,
      }),
    ],
  };
}
