import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, describe, it } from 'node:test';
import tls from 'node:tls';
import {
  type ClientHelloResult,
  DEFAULT_MAX_CLIENT_HELLO_SIZE,
  parseClientHello,
} from '../../../src/proxy/detect/client-hello.js';
import { type Client, captureFirstBytes } from './capture.js';
import {
  alpnExtension,
  buildClientHello,
  buildHandshake,
  type Extension,
  GROUP_X25519,
  GROUP_X25519_MLKEM768,
  type HelloOptions,
  record,
  refragment,
  sniExtension,
  supportedVersionsExtension,
  toRecords,
  u8vec,
  u16s,
  u16vec,
} from './hello-builder.js';

// ---------------------------------------------------------------------------------------------------------
// Capturing what real clients send: a plain TCP server reads until the bytes are a complete ClientHello.

function captureHello(start: Client, timeoutMs = 5000): Promise<Buffer> {
  return captureFirstBytes(start, (bytes) => parseClientHello(bytes).kind !== 'need-more', timeoutMs);
}

function nodeClient(options: tls.ConnectionOptions): Client {
  return (port) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    socket.on('error', () => {});
    return () => socket.destroy();
  };
}

function opensslClient(args: string[]): Client {
  return (port) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.on('error', () => {});
    return () => child.kill();
  };
}

function hasOpenssl(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['version'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
}

// ---------------------------------------------------------------------------------------------------------
// Helpers.

const KINDS = new Set(['need-more', 'not-tls', 'too-large', 'tls']);

function kind(data: Buffer, maxSize?: number): ClientHelloResult['kind'] {
  return parseClientHello(data, maxSize).kind;
}

function tlsResult(data: Buffer, maxSize?: number): Extract<ClientHelloResult, { kind: 'tls' }> {
  const result = parseClientHello(data, maxSize);
  assert.equal(result.kind, 'tls', `expected tls, got ${result.kind}`);
  return result as Extract<ClientHelloResult, { kind: 'tls' }>;
}

/** Every strict prefix is `need-more` and the whole is `tls`. */
function assertPrefixesNeedMore(data: Buffer, label: string): void {
  for (let i = 0; i < data.length; i++) {
    const got = kind(data.subarray(0, i));
    if (got !== 'need-more') assert.fail(`${label}: prefix of ${i}/${data.length} bytes gave ${got}`);
  }
  assert.equal(kind(data), 'tls', label);
}

/** A handshake message (type 1) around a hand-made body. */
function handshakeOf(body: Buffer, type = 1): Buffer {
  return Buffer.concat([
    Buffer.from([type, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]),
    body,
  ]);
}

/** The body of a built handshake, with its 4-byte header removed. */
function bodyOf(o: HelloOptions = {}): Buffer {
  return buildHandshake(o).subarray(4);
}

/** A ClientHello body from its parts, for structures the builder will not produce. */
function bodyFrom(parts: {
  suites?: Buffer;
  compression?: Buffer;
  rest?: Buffer;
  sessionId?: Buffer;
}): Buffer {
  return Buffer.concat([
    u16s([0x0303]),
    Buffer.alloc(32, 1),
    u8vec(parts.sessionId ?? Buffer.alloc(0)),
    parts.suites ?? u16vec(u16s([0xc02f])),
    parts.compression ?? u8vec(Buffer.from([0])),
    parts.rest ?? Buffer.alloc(0),
  ]);
}

function wire(handshake: Buffer, recordSize = 16384): Buffer {
  return toRecords(handshake, recordSize);
}

function ext(type: number, data: Buffer | number[]): Extension {
  return { type, data: Buffer.isBuffer(data) ? data : Buffer.from(data) };
}

/** A seeded PRNG (mulberry32), so a fuzz failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------------------

describe('parseClientHello: hellos from real TLS clients', () => {
  interface Captured {
    name: string;
    bytes: Buffer;
    serverName: string | undefined;
    alpn: string[];
  }
  const captured: Captured[] = [];
  let openssl = false;

  before(async () => {
    captured.push({
      name: 'node tls.connect (TLS 1.3)',
      bytes: await captureHello(
        nodeClient({
          servername: 'Reviews.Default.SVC.cluster.local',
          ALPNProtocols: ['istio-peer-exchange', 'istio', 'h2'],
        }),
      ),
      serverName: 'reviews.default.svc.cluster.local',
      alpn: ['istio-peer-exchange', 'istio', 'h2'],
    });
    captured.push({
      name: 'node tls.connect (TLS 1.2 only, no SNI, no ALPN)',
      bytes: await captureHello(nodeClient({ maxVersion: 'TLSv1.2' })),
      serverName: undefined,
      alpn: [],
    });
    openssl = await hasOpenssl();
    if (!openssl) return;
    captured.push({
      name: 'openssl s_client -servername -alpn istio,h2',
      bytes: await captureHello(
        opensslClient(['-servername', 'Ratings.Prod.Example.COM', '-alpn', 'istio,h2']),
      ),
      serverName: 'ratings.prod.example.com',
      alpn: ['istio', 'h2'],
    });
    captured.push({
      name: 'openssl s_client -tls1_2 -noservername',
      bytes: await captureHello(opensslClient(['-tls1_2', '-noservername'])),
      serverName: undefined,
      alpn: [],
    });
  });

  it('reads SNI (lower-cased, as Envoy stores it) and ALPN from each client', () => {
    assert.ok(captured.length >= 2);
    for (const c of captured) {
      const got = tlsResult(c.bytes);
      assert.equal(got.serverName, c.serverName, c.name);
      assert.deepEqual(got.alpn, c.alpn, c.name);
      assert.equal(got.recordBytes, c.bytes.length, c.name);
      assert.ok(got.helloLength + 4 + 5 <= got.recordBytes, c.name);
    }
  });

  it('includes openssl s_client when openssl is installed', (t) => {
    if (!openssl) return t.skip('openssl not installed');
    assert.equal(captured.length, 4);
  });

  it('answers need-more for every prefix, fed one byte at a time', () => {
    for (const c of captured) assertPrefixesNeedMore(c.bytes, c.name);
  });

  it('reassembles the hello across records of any size', () => {
    for (const c of captured) {
      for (const size of [1, 2, 3, 5, 7, 64, 300, 1000]) {
        const fragmented = refragment(c.bytes, size);
        const got = tlsResult(fragmented);
        assert.equal(got.serverName, c.serverName, `${c.name} / ${size}`);
        assert.deepEqual(got.alpn, c.alpn, `${c.name} / ${size}`);
        assert.equal(got.recordBytes, fragmented.length, `${c.name} / ${size}`);
      }
      assertPrefixesNeedMore(refragment(c.bytes, 7), `${c.name} in 7-byte records`);
    }
  });

  it('is not fooled by bytes the client sends after the hello', () => {
    for (const c of captured) {
      const more = Buffer.concat([c.bytes, record(20, Buffer.from([1])), Buffer.from('early data')]);
      assert.equal(tlsResult(more).recordBytes, c.bytes.length, c.name);
    }
  });

  it('says too-large when maxSize is below the hello, and tls when it is exactly the hello', () => {
    for (const c of captured) {
      const size = c.bytes.length;
      assert.equal(kind(c.bytes.subarray(0, 99), 100), 'need-more', c.name);
      assert.equal(kind(c.bytes.subarray(0, 100), 100), 'too-large', c.name);
      assert.equal(kind(c.bytes, 100), 'too-large', c.name);
      assert.equal(kind(c.bytes, size - 1), 'too-large', c.name);
      assert.equal(kind(c.bytes, size), 'tls', c.name);
    }
  });
});

describe('parseClientHello: built hellos', () => {
  it('reads SNI and ALPN, and their absence', () => {
    const cases: [HelloOptions, string | undefined, string[]][] = [
      [{ serverName: 'a.example', alpn: ['h2', 'http/1.1'] }, 'a.example', ['h2', 'http/1.1']],
      [{ serverName: 'UPPER.Example' }, 'upper.example', []],
      [{ alpn: ['istio-peer-exchange', 'istio'] }, undefined, ['istio-peer-exchange', 'istio']],
      [{}, undefined, []],
      [{ tls13: false, serverName: 'old.example', alpn: ['http/1.1'] }, 'old.example', ['http/1.1']],
      [{ serverName: 'ÄÖ.EXAMPLE' }, 'ÄÖ.example', []],
    ];
    for (const [o, serverName, alpn] of cases) {
      const got = tlsResult(buildClientHello(o));
      assert.equal(got.serverName, serverName, JSON.stringify(o));
      assert.deepEqual(got.alpn, alpn, JSON.stringify(o));
    }
  });

  it('reports helloLength (the handshake body) and recordBytes (the wire bytes of its records)', () => {
    const handshake = buildHandshake({ serverName: 'x.example' });
    const got = tlsResult(wire(handshake, 100));
    assert.equal(got.helloLength, handshake.length - 4);
    assert.equal(got.recordBytes, handshake.length + 5 * Math.ceil(handshake.length / 100));
  });

  it('reads a TLS 1.3 hello with large (post-quantum) key shares, in one record or many', () => {
    const o: HelloOptions = {
      serverName: 'pq.example',
      alpn: ['h2'],
      keyShares: [
        { group: GROUP_X25519_MLKEM768, length: 1216 },
        { group: GROUP_X25519, length: 32 },
      ],
    };
    const one = tlsResult(buildClientHello(o));
    assert.ok(one.helloLength > 1300);
    assert.equal(one.serverName, 'pq.example');
    for (const size of [1, 100, 512, 1000]) {
      const many = buildClientHello({ ...o, recordSize: size });
      assert.deepEqual(tlsResult(many), { ...one, recordBytes: many.length });
    }
    assertPrefixesNeedMore(buildClientHello({ ...o, recordSize: 700 }), 'pq hello in 700-byte records');
  });

  it('accepts a hello of exactly 16384 body bytes (two records) and refuses one byte more', () => {
    const base = bodyOf({ serverName: 'big.example' }).length;
    // A padding extension (type 21) adds 4 bytes of header plus its contents.
    const sized = (body: number) =>
      buildHandshake({ serverName: 'big.example', extensions: [ext(21, Buffer.alloc(body - base - 4))] });
    assert.equal(sized(16384).length, 16388);
    assert.equal(tlsResult(wire(sized(16384))).helloLength, 16384);
    assert.equal(kind(wire(sized(16385))), 'not-tls');
    // The handshake header alone is enough to refuse it.
    assert.equal(kind(wire(sized(16385)).subarray(0, 9)), 'not-tls');
  });

  it('needs only the bytes of the hello: a hello without any extensions block is TLS 1.2', () => {
    const got = tlsResult(buildClientHello({ tls13: false, noExtensionsBlock: true }));
    assert.equal(got.serverName, undefined);
    assert.deepEqual(got.alpn, []);
  });
});

describe('parseClientHello: record layer', () => {
  const handshake = buildHandshake({ serverName: 'r.example', alpn: ['h2'] });

  it('decides on the first bytes of anything that is not a handshake record', () => {
    const cases: [string, Buffer, ClientHelloResult['kind']][] = [
      ['empty', Buffer.alloc(0), 'need-more'],
      ['0x16', Buffer.from([0x16]), 'need-more'],
      ['0x16 0x03', Buffer.from([0x16, 0x03]), 'need-more'],
      ['0x16 0x03 0x01 0x00', Buffer.from([0x16, 0x03, 0x01, 0x00]), 'need-more'],
      ['record major 2', Buffer.from([0x16, 0x02]), 'not-tls'],
      ['record major 4', Buffer.from([0x16, 0x04, 0x01]), 'not-tls'],
      ['G', Buffer.from('G'), 'not-tls'],
      ['HTTP/1.1 request', Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), 'not-tls'],
      ['POST', Buffer.from('POST /x HTTP/1.0\r\n'), 'not-tls'],
      ['CONNECT', Buffer.from('CONNECT a:443 HTTP/1.1\r\n'), 'not-tls'],
      ['h2c preface', Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 'not-tls'],
      ['SSH banner', Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'), 'not-tls'],
      ['alert record', record(21, Buffer.from([2, 40])), 'not-tls'],
      ['change_cipher_spec record', record(20, Buffer.from([1])), 'not-tls'],
      ['application_data record', record(23, Buffer.alloc(40)), 'not-tls'],
      ['heartbeat record', record(24, Buffer.alloc(3)), 'not-tls'],
      // An SSLv2-compatible ClientHello: 2-byte length with the top bit set, msg type 1, version 3.1.
      [
        'SSLv2 hello',
        Buffer.from('802e0103010015000000100700c00500800300800100800600400400800200809a1b2c3d', 'hex'),
        'not-tls',
      ],
    ];
    for (const [label, data, want] of cases) assert.equal(kind(data), want, label);
  });

  it('accepts any record minor version under major 3', () => {
    for (const version of [0x0300, 0x0301, 0x0303, 0x0304, 0x03ff]) {
      assert.equal(kind(toRecords(handshake, 16384, version)), 'tls', version.toString(16));
    }
    assert.equal(kind(toRecords(handshake, 16384, 0x0203)), 'not-tls');
  });

  it('refuses a record longer than 2^14 from its header alone', () => {
    const header = Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01]); // 16385
    assert.equal(kind(header), 'not-tls');
    assert.equal(kind(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00])), 'need-more'); // 16384
  });

  it('allows up to 32 consecutive empty handshake records, as BoringSSL does', () => {
    const empties = (n: number) =>
      Buffer.concat(Array.from({ length: n }, () => record(22, Buffer.alloc(0))));
    assert.equal(kind(Buffer.concat([empties(32), wire(handshake)])), 'tls');
    assert.equal(kind(Buffer.concat([empties(33), wire(handshake)])), 'not-tls');
    assert.equal(kind(empties(33)), 'not-tls');
    assert.equal(kind(empties(32)), 'need-more');
    // The count restarts after a non-empty record.
    const first = wire(handshake.subarray(0, 10));
    const rest = wire(handshake.subarray(10));
    assert.equal(kind(Buffer.concat([empties(20), first, empties(20), rest])), 'tls');
  });

  it('refuses a non-handshake record in the middle of the hello', () => {
    const data = Buffer.concat([
      wire(handshake.subarray(0, 50)),
      record(23, Buffer.alloc(5)),
      wire(handshake.subarray(50)),
    ]);
    assert.equal(kind(data.subarray(0, 55)), 'need-more');
    assert.equal(kind(data.subarray(0, 56)), 'not-tls');
    assert.equal(kind(data), 'not-tls');
  });

  it('refuses handshake data after the hello in its last record (SSL_R_EXCESS_HANDSHAKE_DATA)', () => {
    const extra = Buffer.from([20, 0, 0, 0]);
    assert.equal(kind(wire(Buffer.concat([handshake, extra]))), 'not-tls');
    // Decided as soon as the record header announces more than the hello, before its body arrives.
    const fragmented = Buffer.concat([
      wire(handshake.subarray(0, 100)),
      wire(Buffer.concat([handshake.subarray(100), extra])),
    ]);
    assert.equal(kind(fragmented.subarray(0, 105 + 5)), 'not-tls');
    // In a record of its own it is never read.
    assert.equal(kind(Buffer.concat([wire(handshake), wire(extra)])), 'tls');
  });

  it('refuses any other handshake message type, from its first byte', () => {
    for (const type of [0, 2, 4, 11, 16, 20, 255]) {
      const data = wire(handshakeOf(bodyOf(), type));
      assert.equal(kind(data.subarray(0, 6)), 'not-tls', String(type));
    }
  });
});

describe('parseClientHello: ClientHello structure', () => {
  it('validates the fields before the extensions', () => {
    const valid = bodyFrom({});
    const cases: [string, Buffer, ClientHelloResult['kind']][] = [
      ['minimal TLS 1.2 hello', valid, 'tls'],
      ['session id of 32', bodyFrom({ sessionId: Buffer.alloc(32) }), 'tls'],
      ['session id of 33', bodyFrom({ sessionId: Buffer.alloc(33) }), 'not-tls'],
      ['no cipher suites', bodyFrom({ suites: u16vec(Buffer.alloc(0)) }), 'not-tls'],
      ['odd cipher suites', bodyFrom({ suites: u16vec(Buffer.from([0xc0, 0x2f, 0x00])) }), 'not-tls'],
      ['no compression methods', bodyFrom({ compression: u8vec(Buffer.alloc(0)) }), 'not-tls'],
      ['no null compression', bodyFrom({ compression: u8vec(Buffer.from([1])) }), 'not-tls'],
      [
        'null compression among others (TLS 1.2)',
        bodyFrom({ compression: u8vec(Buffer.from([1, 0])) }),
        'tls',
      ],
      ['truncated random', valid.subarray(0, 20), 'not-tls'],
      ['cut inside the cipher suites', valid.subarray(0, 37), 'not-tls'],
      ['one byte after the compression methods', Buffer.concat([valid, Buffer.from([0])]), 'not-tls'],
      ['empty extensions block', Buffer.concat([valid, u16vec(Buffer.alloc(0))]), 'tls'],
      ['extensions block longer than the message', Buffer.concat([valid, Buffer.from([0, 9])]), 'not-tls'],
      [
        'byte after the extensions block',
        Buffer.concat([valid, u16vec(Buffer.alloc(0)), Buffer.from([0])]),
        'not-tls',
      ],
      ['empty body', Buffer.alloc(0), 'not-tls'],
    ];
    for (const [label, body, want] of cases) assert.equal(kind(wire(handshakeOf(body))), want, label);
  });

  it('validates the extensions block', () => {
    const withExtensions = (block: Buffer) => kind(wire(handshakeOf(bodyFrom({ rest: block }))));
    const e = (type: number, data: number[] | Buffer) =>
      Buffer.concat([u16s([type]), u16vec(Buffer.from(data))]);
    assert.equal(withExtensions(u16vec(Buffer.concat([e(23, []), e(65281, [0])]))), 'tls');
    assert.equal(withExtensions(u16vec(Buffer.concat([e(23, []), e(23, [])]))), 'not-tls'); // duplicate
    assert.equal(withExtensions(u16vec(Buffer.concat([e(23, []), Buffer.from([0, 5])]))), 'not-tls'); // half a header
    assert.equal(withExtensions(u16vec(Buffer.concat([e(23, []), Buffer.from([0, 5, 0, 9, 1])]))), 'not-tls'); // overrun
    assert.equal(withExtensions(u16vec(e(0x1234, Buffer.alloc(300, 7)))), 'tls'); // unknown ones are ignored
  });

  it('negotiates a version in TLS 1.0..1.3 like BoringSSL', () => {
    const v = (o: HelloOptions) => kind(buildClientHello(o));
    const sv = (versions: number[]) => ({ extensions: [supportedVersionsExtension(versions)], tls13: false });
    assert.equal(v({ tls13: false, legacyVersion: 0x0301 }), 'tls');
    assert.equal(v({ tls13: false, legacyVersion: 0x0300 }), 'not-tls'); // SSL 3.0 only
    assert.equal(v({ tls13: false, legacyVersion: 0x0200 }), 'not-tls');
    assert.equal(v({ tls13: false, legacyVersion: 0x0305 }), 'tls'); // read as TLS 1.2
    assert.equal(v(sv([0x0304])), 'tls');
    assert.equal(v(sv([0x7a7a, 0x0304, 0x0303])), 'tls'); // GREASE is skipped
    assert.equal(v(sv([0x0300])), 'not-tls');
    assert.equal(v(sv([0x7f1c])), 'not-tls'); // only a draft version
    assert.equal(v(sv([])), 'not-tls'); // empty list
    // supported_versions overrides the legacy version entirely.
    assert.equal(v({ ...sv([0x0300]), legacyVersion: 0x0303 }), 'not-tls');
    // A ragged list is an error only if no version matched before the odd byte.
    const ragged = (list: number[]) =>
      kind(buildClientHello({ tls13: false, extensions: [ext(43, u8vec(Buffer.from(list)))] }));
    assert.equal(ragged([0x03, 0x04, 0x03]), 'tls');
    assert.equal(ragged([0x03, 0x00, 0x03]), 'not-tls');
    assert.equal(kind(buildClientHello({ tls13: false, extensions: [ext(43, [4, 3, 4])] })), 'not-tls'); // length overrun
    assert.equal(kind(buildClientHello({ tls13: false, extensions: [ext(43, [2, 3, 4, 0])] })), 'not-tls'); // trailing
  });

  it('refuses TLS_FALLBACK_SCSV below TLS 1.3 and extra compression methods in TLS 1.3', () => {
    const tls12Suites = [0xc02f, 0x5600];
    assert.equal(kind(buildClientHello({ tls13: false, cipherSuites: tls12Suites })), 'not-tls');
    assert.equal(kind(buildClientHello({ cipherSuites: [0x1301, 0x5600] })), 'tls');
    assert.equal(kind(buildClientHello({ compressionMethods: [0, 1] })), 'not-tls');
    assert.equal(kind(buildClientHello({ tls13: false, compressionMethods: [0, 1] })), 'tls');
  });

  it('validates an outer encrypted_client_hello extension and ignores an inner one', () => {
    const outer = Buffer.concat([
      Buffer.from([0]),
      u16s([1, 1]),
      Buffer.from([7]),
      u16vec(Buffer.alloc(32)),
      u16vec(Buffer.alloc(100)),
    ]);
    const ech = (data: Buffer) =>
      kind(buildClientHello({ serverName: 'public.example', extensions: [ext(0xfe0d, data)] }));
    assert.equal(ech(outer), 'tls');
    assert.equal(ech(Buffer.from([1])), 'tls'); // inner
    assert.equal(ech(Buffer.alloc(0)), 'not-tls');
    assert.equal(ech(outer.subarray(0, outer.length - 1)), 'not-tls');
    assert.equal(ech(Buffer.concat([outer, Buffer.from([0])])), 'not-tls');
  });
});

describe('parseClientHello: need-more only for a valid prefix', () => {
  /** The length of the shortest prefix that is not need-more. */
  function decidedAt(data: Buffer): number {
    for (let i = 0; i <= data.length; i++) if (kind(data.subarray(0, i)) !== 'need-more') return i;
    return Number.POSITIVE_INFINITY;
  }
  /** Where `needle` first appears in the wire bytes. */
  function at(data: Buffer, needle: Buffer | string): number {
    const i = data.indexOf(needle);
    assert.ok(i >= 0);
    return i;
  }

  it('refuses a malformed extension from the byte that breaks it, before the rest of the hello', () => {
    const padding = ext(21, Buffer.alloc(500, 0x11)); // after the broken extension: never needed
    const sniType1 = buildClientHello({
      extensions: [
        ext(0, u16vec(Buffer.concat([Buffer.from([1]), u16vec(Buffer.from('marker.example'))]))),
        padding,
      ],
    });
    assert.equal(decidedAt(sniType1), at(sniType1, 'marker.example') - 2);
    const sniNul = buildClientHello({ extensions: [sniExtension('mark\0er.example'), padding] });
    assert.equal(decidedAt(sniNul), at(sniNul, 'mark') + 5);
    const alpnEmpty = buildClientHello({ extensions: [alpnExtension(['h2', '', 'marker']), padding] });
    assert.equal(decidedAt(alpnEmpty), at(alpnEmpty, 'marker') - 1);
    const sslv3 = buildClientHello({
      tls13: false,
      extensions: [supportedVersionsExtension([0x0300]), padding],
    });
    assert.ok(decidedAt(sslv3) < sslv3.length - 500);
    const duplicate = buildClientHello({
      extensions: [ext(0x4444, Buffer.alloc(0)), ext(0x4444, Buffer.alloc(300)), padding],
    });
    assert.ok(decidedAt(duplicate) < duplicate.length - 800);
  });

  it('refuses an oversized length field at once', () => {
    const longSession = wire(handshakeOf(bodyFrom({ sessionId: Buffer.alloc(33) })));
    assert.equal(decidedAt(longSession), 5 + 4 + 2 + 32 + 1);
    const hostTooLong = buildClientHello({ extensions: [sniExtension(Buffer.alloc(256, 0x61))] });
    assert.equal(decidedAt(hostTooLong), at(hostTooLong, Buffer.alloc(256, 0x61)));
  });
});

describe('parseClientHello: server_name', () => {
  it('follows BoringSSL extract_sni', () => {
    const sni = (data: Buffer) => parseClientHello(buildClientHello({ extensions: [ext(0, data)] }));
    const entry = (type: number, name: Buffer) => Buffer.concat([Buffer.from([type]), u16vec(name)]);
    const cases: [string, Buffer, string | undefined | 'not-tls'][] = [
      ['host name', u16vec(entry(0, Buffer.from('svc.ns.svc.cluster.local'))), 'svc.ns.svc.cluster.local'],
      ['upper case', u16vec(entry(0, Buffer.from('Svc.NS.Example'))), 'svc.ns.example'],
      ['255 bytes', u16vec(entry(0, Buffer.alloc(255, 0x61))), 'a'.repeat(255)],
      ['256 bytes', u16vec(entry(0, Buffer.alloc(256, 0x61))), 'not-tls'],
      ['empty name', u16vec(entry(0, Buffer.alloc(0))), 'not-tls'],
      ['NUL in the name', u16vec(entry(0, Buffer.from('a\0b'))), 'not-tls'],
      ['name type 1', u16vec(entry(1, Buffer.from('a.example'))), 'not-tls'],
      [
        'two names',
        u16vec(Buffer.concat([entry(0, Buffer.from('a')), entry(0, Buffer.from('b'))])),
        'not-tls',
      ],
      ['empty list', u16vec(Buffer.alloc(0)), 'not-tls'],
      ['empty extension', Buffer.alloc(0), 'not-tls'],
      [
        'byte after the list',
        Buffer.concat([u16vec(entry(0, Buffer.from('a'))), Buffer.from([0])]),
        'not-tls',
      ],
      ['name overruns the list', Buffer.concat([Buffer.from([0, 4, 0, 0, 9]), Buffer.from('ab')]), 'not-tls'],
      ['an IP address is just a name', u16vec(entry(0, Buffer.from('10.0.0.1'))), '10.0.0.1'],
    ];
    for (const [label, data, want] of cases) {
      const got = sni(data);
      if (want === 'not-tls') assert.equal(got.kind, 'not-tls', label);
      else assert.equal(got.kind === 'tls' ? got.serverName : got.kind, want, label);
    }
  });

  it('lower-cases ASCII only, as absl::AsciiStrToLower does', () => {
    const got = tlsResult(
      buildClientHello({ extensions: [sniExtension(Buffer.from('ÉCOLE.Example', 'utf8'))] }),
    );
    assert.equal(got.serverName, 'École.example');
  });
});

describe('parseClientHello: application_layer_protocol_negotiation', () => {
  it('returns the protocols in order and refuses a malformed list', () => {
    const alpn = (data: Buffer) =>
      parseClientHello(buildClientHello({ serverName: 'a', extensions: [ext(16, data)] }));
    const names = (list: string[]) => Buffer.concat(list.map((n) => u8vec(Buffer.from(n))));
    const cases: [string, Buffer, string[] | 'not-tls'][] = [
      ['two', u16vec(names(['h2', 'http/1.1'])), ['h2', 'http/1.1']],
      [
        'istio',
        u16vec(names(['istio-peer-exchange', 'istio-http/1.1', 'istio'])),
        ['istio-peer-exchange', 'istio-http/1.1', 'istio'],
      ],
      ['one-byte name', u16vec(names(['x'])), ['x']],
      ['empty list', u16vec(Buffer.alloc(0)), 'not-tls'],
      ['empty name', u16vec(Buffer.concat([names(['h2']), Buffer.from([0])])), 'not-tls'],
      ['name overruns', u16vec(Buffer.from([5, 0x68, 0x32])), 'not-tls'],
      ['byte after the list', Buffer.concat([u16vec(names(['h2'])), Buffer.from([0])]), 'not-tls'],
      ['empty extension', Buffer.alloc(0), 'not-tls'],
    ];
    for (const [label, data, want] of cases) {
      const got = alpn(data);
      if (want === 'not-tls') assert.equal(got.kind, 'not-tls', label);
      else assert.deepEqual(got.kind === 'tls' ? got.alpn : got.kind, want, label);
    }
  });

  it('keeps a 255-byte protocol name', () => {
    const long = 'p'.repeat(255);
    assert.deepEqual(tlsResult(buildClientHello({ extensions: [alpnExtension([long, 'h2'])] })).alpn, [
      long,
      'h2',
    ]);
  });
});

describe('parseClientHello: too-large (Envoy max_client_hello_size)', () => {
  it("defaults to Envoy's 64 KiB", () => {
    assert.equal(DEFAULT_MAX_CLIENT_HELLO_SIZE, 65536);
  });

  it('counts wire bytes: a hello fragmented into 1-byte records passes 64 KiB', () => {
    // ~11000 body bytes in 1-byte records: 6 wire bytes per hello byte, about 66 KB in all.
    const handshake = buildHandshake({
      serverName: 'frag.example',
      extensions: [ext(21, Buffer.alloc(10800))],
    });
    const data = wire(handshake, 1);
    assert.ok(data.length > DEFAULT_MAX_CLIENT_HELLO_SIZE);
    assert.equal(kind(data.subarray(0, DEFAULT_MAX_CLIENT_HELLO_SIZE - 1)), 'need-more');
    assert.equal(kind(data.subarray(0, DEFAULT_MAX_CLIENT_HELLO_SIZE)), 'too-large');
    assert.equal(kind(data), 'too-large');
    assert.equal(kind(wire(handshake)), 'tls'); // the same hello in one record
    // Just under the limit is fine.
    const smaller = wire(
      buildHandshake({ serverName: 'frag.example', extensions: [ext(21, Buffer.alloc(10000))] }),
      1,
    );
    assert.ok(smaller.length < DEFAULT_MAX_CLIENT_HELLO_SIZE);
    assert.equal(kind(smaller), 'tls');
  });

  it('judges only the first maxSize bytes, as Envoy peeks no further', () => {
    const data = buildClientHello({ serverName: 'limit.example' });
    const noise = Buffer.concat([data.subarray(0, 60), Buffer.from('anything at all after the limit')]);
    assert.equal(kind(noise, 60), 'too-large');
    assert.equal(kind(Buffer.concat([data, Buffer.alloc(70000, 0xff)])), 'tls');
  });

  it('prefers not-tls over too-large for what is already malformed or oversized', () => {
    assert.equal(kind(Buffer.from('GET / HTTP/1.1\r\n'), 3), 'not-tls');
    const huge = wire(buildHandshake({ extensions: [ext(21, Buffer.alloc(20000))] }).subarray(0, 16384));
    assert.equal(kind(huge, 100), 'not-tls'); // 20 KB handshake message: over BoringSSL's 16 KiB
  });

  it('rejects a maxSize Envoy would reject', () => {
    for (const bad of [0, -1, 1.5, 65537, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => parseClientHello(Buffer.alloc(0), bad), RangeError, String(bad));
    }
    assert.equal(kind(Buffer.from([0x16]), 1), 'too-large');
  });
});

describe('parseClientHello: never throws', () => {
  const real = [
    buildClientHello({ serverName: 'fuzz.example', alpn: ['h2', 'http/1.1'] }),
    buildClientHello({ tls13: false, serverName: 'f', alpn: ['x'] }),
    buildClientHello({ keyShares: [{ group: GROUP_X25519_MLKEM768, length: 1216 }], recordSize: 300 }),
    buildClientHello({ serverName: 'a.b', recordSize: 3 }),
  ];

  /** Checks the result shape, and that a decision taken on a prefix does not change when more bytes come. */
  function check(data: Buffer, label: string): void {
    let result: ClientHelloResult;
    try {
      result = parseClientHello(data);
    } catch (err) {
      assert.fail(`${label}: threw ${String(err)} on ${data.toString('hex').slice(0, 200)}`);
    }
    assert.ok(KINDS.has(result.kind), label);
    if (result.kind === 'tls') {
      assert.ok(result.recordBytes <= data.length && result.helloLength <= 16384, label);
      assert.ok(Array.isArray(result.alpn), label);
    }
    if (result.kind !== 'need-more' && data.length > 1) {
      const longer = Buffer.concat([data, Buffer.from([0x16, 0x03, 0x01, 0x00])]);
      assert.deepEqual(
        parseClientHello(longer),
        result.kind === 'tls' ? result : { kind: result.kind },
        `${label}: unstable`,
      );
    }
  }

  it('on thousands of random buffers', () => {
    const rand = prng(1);
    const byte = () => Math.floor(rand() * 256);
    for (let i = 0; i < 4000; i++) {
      const length = Math.floor(rand() * (i % 10 === 0 ? 3000 : 120));
      const data = Buffer.from(Array.from({ length }, byte));
      // Half of them start like a handshake record so the parser gets past the first byte.
      if (i % 2 === 0 && length >= 6) {
        data[0] = 0x16;
        data[1] = 0x03;
        data[5] = 1;
      }
      check(data, `random #${i}`);
    }
  });

  it('on every truncation of real hellos and thousands of mutations', () => {
    const rand = prng(2);
    const pick = (n: number) => Math.floor(rand() * n);
    for (const hello of real) {
      for (let i = 0; i <= hello.length; i += 7) check(hello.subarray(0, i), 'truncation');
      for (let i = 0; i < 1500; i++) {
        const data = Buffer.from(hello);
        const edits = 1 + pick(4);
        for (let e = 0; e < edits; e++) {
          const at = pick(data.length);
          const mode = pick(4);
          if (mode === 0) data[at] = pick(256);
          else if (mode === 1) data[at] = (data[at] ?? 0) ^ (1 << pick(8));
          else if (mode === 2) data[at] = [0, 0xff, 1, 0x7f, 0x80][pick(5)] ?? 0;
          else data.writeUInt16BE(pick(65536), Math.min(at, data.length - 2));
        }
        const cut = pick(3) === 0 ? pick(data.length + 1) : data.length;
        check(data.subarray(0, cut), `mutation #${i}`);
      }
    }
  });

  it('on every single-byte change of a real hello', () => {
    const hello = real[0] as Buffer;
    for (let at = 0; at < hello.length; at++) {
      for (const value of [0, 1, 0x7f, 0xff]) {
        const data = Buffer.from(hello);
        data[at] = value;
        check(data, `byte ${at} = ${value}`);
      }
    }
  });
});
