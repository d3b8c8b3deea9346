import assert from 'node:assert/strict';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  BodyDecoder,
  type DecodedBody,
  type Framing,
  fieldLines,
  headersObject,
  MessageWriter,
} from '../../../../src/proxy/filters/http/h1-codec.js';
import type {
  HeaderField,
  HeadLimits,
  RequestBody,
  ResponseBody,
} from '../../../../src/proxy/filters/http/http1-head.js';

const LIMITS: HeadLimits = { maxHeaderBytes: 1024, maxHeaders: 16 };
const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('headersObject', () => {
  const cases: [string, HeaderField[], IncomingHttpHeaders][] = [
    ['no fields', [], {}],
    [
      'single fields keep their values',
      [
        ['host', 'x'],
        ['accept', 'text/plain'],
      ],
      { host: 'x', accept: 'text/plain' },
    ],
    [
      'a repeated field is joined with ", "',
      [
        ['accept', 'a'],
        ['x-b', '1'],
        ['accept', 'b'],
        ['accept', 'c'],
      ],
      { accept: 'a, b, c', 'x-b': '1' },
    ],
    [
      'cookie is joined with "; "',
      [
        ['cookie', 'a=1'],
        ['cookie', 'b=2'],
      ],
      { cookie: 'a=1; b=2' },
    ],
    ['a single cookie stays a string', [['cookie', 'a=1']], { cookie: 'a=1' }],
    ['a single set-cookie is an array', [['set-cookie', 'a=1']], { 'set-cookie': ['a=1'] }],
    [
      'repeated set-cookie values stay apart, in order',
      [
        ['set-cookie', 'a=1; Path=/'],
        ['content-type', 'text/html'],
        ['set-cookie', 'b=2, c=3'],
      ],
      { 'set-cookie': ['a=1; Path=/', 'b=2, c=3'], 'content-type': 'text/html' },
    ],
    [
      'empty values are kept and joined',
      [
        ['x-e', ''],
        ['x-e', 'v'],
      ],
      { 'x-e': ', v' },
    ],
  ];
  for (const [name, fields, want] of cases) {
    it(name, () => {
      const got = headersObject(fields);
      assert.deepEqual({ ...got }, want);
      assert.deepEqual(Object.keys(got), Object.keys(want), 'first-arrival order of names');
    });
  }

  // Review finding: `out` is a plain object, so names of Object.prototype members read an inherited value as the
  // "previous" one (`constructor: x` becomes "function Object() { [native code] }, x"; `__proto__` is dropped).
  it('field names that are Object.prototype members are plain fields', () => {
    const got = headersObject([
      ['constructor', 'x'],
      ['tostring', 'y'],
      ['__proto__', 'z'],
    ]);
    assert.equal(got.constructor, 'x');
    assert.equal(Object.getOwnPropertyDescriptor(got, '__proto__')?.value, 'z');
  });
});

describe('fieldLines', () => {
  const cases: [string, IncomingHttpHeaders | OutgoingHttpHeaders, string][] = [
    ['no headers', {}, ''],
    ['one line per field', { host: 'x', accept: '*/*' }, 'host: x\r\naccept: */*\r\n'],
    [
      'an array gives one line per value',
      { 'set-cookie': ['a=1', 'b=2'] },
      'set-cookie: a=1\r\nset-cookie: b=2\r\n',
    ],
    ['an empty array gives no line', { 'set-cookie': [], a: '1' }, 'a: 1\r\n'],
    ['undefined values are skipped', { a: undefined, b: '2', c: undefined }, 'b: 2\r\n'],
    ['numbers are written as digits', { 'content-length': 42 }, 'content-length: 42\r\n'],
    ['an empty value keeps its line', { 'x-e': '' }, 'x-e: \r\n'],
  ];
  for (const [name, headers, want] of cases) {
    it(name, () => assert.equal(fieldLines(headers), want));
  }

  it('reproduces the fields headersObject was made from (set-cookie apart)', () => {
    const fields: HeaderField[] = [
      ['set-cookie', 'a=1'],
      ['x', 'y'],
      ['set-cookie', 'b=2'],
    ];
    assert.equal(fieldLines(headersObject(fields)), 'set-cookie: a=1\r\nset-cookie: b=2\r\nx: y\r\n');
  });
});

/** Pushes `pieces` in turn (each from offset 0) and gathers what the decoder gave. */
function decodeAll(
  body: RequestBody | ResponseBody,
  pieces: Buffer[],
): { data: string; results: DecodedBody[] } {
  const d = new BodyDecoder(body, LIMITS);
  const results = pieces.map((p) => d.push(p, 0));
  const data = Buffer.concat(results.flatMap((r) => r.data)).toString('latin1');
  return { data, results };
}

describe('BodyDecoder', () => {
  it('none: empty, done at once, consumes nothing (the bytes are the next message)', () => {
    const d = new BodyDecoder({ kind: 'none' }, LIMITS);
    assert.equal(d.empty, true);
    const r = d.push(b('GET / HTTP/1.1\r\n'), 0);
    assert.deepEqual(r, { data: [], consumed: 0, done: true });
  });

  const lengthCases: [string, number, string[], string, boolean[], number[]][] = [
    ['whole body in one push', 5, ['hello'], 'hello', [true], [5]],
    ['split across pushes', 10, ['hel', 'lowo', 'rld'], 'helloworld', [false, false, true], [3, 4, 3]],
    ['one byte at a time', 3, ['a', 'b', 'c'], 'abc', [false, false, true], [1, 1, 1]],
    ['an empty push changes nothing', 2, ['a', '', 'b'], 'ab', [false, false, true], [1, 0, 1]],
    ['the next message is left unconsumed', 4, ['ab', 'cdGET / HTTP/1.1\r\n'], 'abcd', [false, true], [2, 2]],
  ];
  for (const [name, length, pieces, want, done, consumed] of lengthCases) {
    it(`length: ${name}`, () => {
      const r = decodeAll({ kind: 'length', length }, pieces.map(b));
      assert.equal(r.data, want);
      assert.deepEqual(
        r.results.map((x) => x.done),
        done,
      );
      assert.deepEqual(
        r.results.map((x) => x.consumed),
        consumed,
      );
      for (const x of r.results) assert.equal(x.error, undefined);
    });
  }

  it('length: starts at `from` and gives views of the pushed buffer, not copies', () => {
    const d = new BodyDecoder({ kind: 'length', length: 5 }, LIMITS);
    assert.equal(d.empty, false);
    const buf = b('HEADhelloNEXT');
    const r = d.push(buf, 4);
    assert.equal(r.done, true);
    assert.equal(r.consumed, 5);
    assert.equal(r.data.length, 1);
    const slice = r.data[0] as Buffer;
    assert.equal(slice.toString('latin1'), 'hello');
    assert.equal(slice.buffer, buf.buffer, 'a view, not a copy');
    assert.equal(buf.subarray(4 + r.consumed).toString('latin1'), 'NEXT');
  });

  const chunkedCases: [string, string[], string, HeaderField[] | undefined, number][] = [
    ['one push, no trailers', ['5\r\nhello\r\n0\r\n\r\n'], 'hello', undefined, 15],
    [
      'with trailers, the next message left over',
      ['5\r\nhello\r\n6\r\n world\r\n0\r\nx-t: a\r\nx-u:  b \r\n\r\nGET / HTTP/1.1\r\n'],
      'hello world',
      [
        ['x-t', 'a'],
        ['x-u', 'b'],
      ],
      44,
    ],
    [
      'split inside sizes, data, CRLFs and trailers',
      ['5\r', '\nhe', 'llo', '\r', '\n0\r\nx-', 't: a\r', '\n\r', '\n'],
      'hello',
      [['x-t', 'a']],
      1,
    ],
    ['extensions are dropped', ['3;name=v\r\nabc\r\n0;last\r\n\r\n'], 'abc', undefined, 25],
  ];
  for (const [name, pieces, want, trailers, lastConsumed] of chunkedCases) {
    it(`chunked: ${name}`, () => {
      const r = decodeAll({ kind: 'chunked' }, pieces.map(b));
      assert.equal(r.data, want);
      const last = r.results.at(-1) as DecodedBody;
      assert.equal(last.done, true);
      assert.equal(last.consumed, lastConsumed);
      assert.deepEqual(last.trailers, trailers);
      for (const x of r.results.slice(0, -1)) {
        assert.equal(x.done, false);
        assert.equal(x.consumed, pieces[r.results.indexOf(x)]?.length, 'a push before the end is all body');
      }
      for (const x of r.results) assert.equal(x.error, undefined);
    });
  }

  it('chunked: one byte at a time', () => {
    const wire = '4\r\nwiki\r\n5\r\npedia\r\n0\r\nx-t: 1\r\n\r\n';
    const r = decodeAll({ kind: 'chunked' }, [...wire].map(b));
    assert.equal(r.data, 'wikipedia');
    assert.deepEqual(
      r.results.map((x) => x.done),
      [...wire].map((_, i) => i === wire.length - 1),
    );
    assert.deepEqual(r.results.at(-1)?.trailers, [['x-t', '1']]);
  });

  const chunkedErrors: [string, string][] = [
    ['size not hex', 'zz\r\n'],
    ['bare LF after the size', '5\nhello\r\n'],
    ['missing CRLF after data', '5\r\nhelloX'],
    ['bad trailer', '0\r\nbad trailer\r\n\r\n'],
  ];
  for (const [name, wire] of chunkedErrors) {
    it(`chunked: error on ${name}, and it is sticky`, () => {
      const d = new BodyDecoder({ kind: 'chunked' }, LIMITS);
      const r = d.push(b(wire), 0);
      assert.equal(r.done, false);
      assert.equal(typeof r.error, 'string');
      assert.equal(typeof d.push(b('0\r\n\r\n'), 0).error, 'string');
    });
  }

  it('close: everything is body and it never completes', () => {
    const d = new BodyDecoder({ kind: 'close' }, LIMITS);
    assert.equal(d.empty, false);
    const buf = b('xxabc\r\n\r\nGET / HTTP/1.1\r\n');
    const r1 = d.push(buf, 2);
    assert.equal(r1.done, false);
    assert.equal(r1.consumed, buf.length - 2);
    assert.deepEqual(
      r1.data.map((x) => x.toString('latin1')),
      ['abc\r\n\r\nGET / HTTP/1.1\r\n'],
    );
    assert.deepEqual(d.push(Buffer.alloc(0), 0), { data: [], consumed: 0, done: false });
  });
});

/** A loopback connection: what `client` writes arrives at `server`, where it is collected. */
interface Pair {
  client: net.Socket;
  server: net.Socket;
  /** The buffers handed to `client.write`, in order. */
  writes: Buffer[];
  /** Bytes the server side has read so far. */
  received(): Buffer;
  /** Ends the client and resolves with every byte the server read. */
  finish(): Promise<Buffer>;
}

describe('MessageWriter on a loopback socket', { timeout: 10_000 }, () => {
  let listener: net.Server;
  const accepted: net.Socket[] = [];
  const open: net.Socket[] = [];
  const waiting: ((s: net.Socket) => void)[] = [];

  before(async () => {
    listener = net.createServer((s) => {
      const w = waiting.shift();
      if (w) w(s);
      else accepted.push(s);
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  });

  after(async () => {
    for (const s of open) s.destroy();
    await new Promise((r) => listener.close(r));
  });

  async function pair(): Promise<Pair> {
    const port = (listener.address() as net.AddressInfo).port;
    const serverP = new Promise<net.Socket>((r) => {
      const s = accepted.shift();
      if (s) r(s);
      else waiting.push(r);
    });
    const client = net.connect(port, '127.0.0.1');
    await new Promise<void>((r, j) => {
      client.once('connect', r);
      client.once('error', j);
    });
    const server = await serverP;
    open.push(client, server);
    const writes: Buffer[] = [];
    const write = client.write.bind(client) as (chunk: Buffer) => boolean;
    (client as { write: unknown }).write = (chunk: Buffer) => {
      writes.push(Buffer.from(chunk));
      return write(chunk);
    };
    const chunks: Buffer[] = [];
    server.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise<void>((r) => server.once('end', r));
    return {
      client,
      server,
      writes,
      received: () => Buffer.concat(chunks),
      finish: async () => {
        client.end();
        await ended;
        return Buffer.concat(chunks);
      },
    };
  }

  async function until(predicate: () => boolean, what: string): Promise<void> {
    const started = Date.now();
    while (!predicate()) {
      if (Date.now() - started > 2000) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  const HEAD = 'HTTP/1.1 200 OK\r\nx: y\r\n\r\n';
  const framingCases: [string, Framing, string[], string][] = [
    ['none: the head only, body writes dropped', 'none', ['ignored'], HEAD],
    ['length: the head and the bytes as they are', 'length', ['hel', 'lo'], `${HEAD}hello`],
    [
      'chunked: each write one chunk, then the last chunk',
      'chunked',
      ['hello', ' world!!!!!!'],
      `${HEAD}5\r\nhello\r\nc\r\n world!!!!!!\r\n0\r\n\r\n`,
    ],
    ['chunked with no body: the last chunk only', 'chunked', [], `${HEAD}0\r\n\r\n`],
    ['close: the head and the bytes as they are', 'close', ['abc', 'def'], `${HEAD}abcdef`],
    [
      'empty writes are ignored (no premature last chunk)',
      'chunked',
      ['', 'a', ''],
      `${HEAD}1\r\na\r\n0\r\n\r\n`,
    ],
  ];
  for (const [name, framing, chunks, want] of framingCases) {
    it(`${name}: exact bytes on the wire`, async () => {
      const p = await pair();
      const w = new MessageWriter(p.client, framing, b(HEAD));
      for (const c of chunks) assert.equal(w.write(b(c)), true);
      w.end();
      assert.equal(w.finished, true);
      assert.equal((await p.finish()).toString('latin1'), want);
    });
  }

  it('the head and a small first chunk leave in one write', async () => {
    const p = await pair();
    const w = new MessageWriter(p.client, 'length', b(HEAD));
    w.write(b('hello'));
    assert.deepEqual(
      p.writes.map((x) => x.toString('latin1')),
      [`${HEAD}hello`],
    );
    await tick();
    assert.equal(p.writes.length, 1, 'no second head on the next tick');
    w.end();
    assert.equal(p.writes.length, 1, 'a length-framed end writes nothing');
    assert.equal((await p.finish()).toString('latin1'), `${HEAD}hello`);
  });

  it('chunked: the head, the first chunk and its framing leave in one write', async () => {
    const p = await pair();
    const w = new MessageWriter(p.client, 'chunked', b(HEAD));
    w.write(b('abc'));
    w.end();
    assert.deepEqual(
      p.writes.map((x) => x.toString('latin1')),
      [`${HEAD}3\r\nabc\r\n`, '0\r\n\r\n'],
    );
    assert.equal((await p.finish()).toString('latin1'), `${HEAD}3\r\nabc\r\n0\r\n\r\n`);
  });

  it('a message without body bytes leaves in one write at its end', async () => {
    const p = await pair();
    const w = new MessageWriter(p.client, 'chunked', b(HEAD));
    w.end();
    assert.deepEqual(
      p.writes.map((x) => x.toString('latin1')),
      [`${HEAD}0\r\n\r\n`],
    );
    await tick();
    assert.equal(p.writes.length, 1);
    await p.finish();
  });

  it('the head alone is flushed on the next tick when no body comes', async () => {
    const p = await pair();
    const w = new MessageWriter(p.client, 'length', b(HEAD));
    assert.equal(p.writes.length, 0, 'the head waits for the body');
    await tick();
    assert.deepEqual(
      p.writes.map((x) => x.toString('latin1')),
      [HEAD],
    );
    await until(() => p.received().length === HEAD.length, 'the head at the peer');
    assert.equal(p.received().toString('latin1'), HEAD);
    assert.equal(w.finished, false);
    w.write(b('late'));
    w.end();
    assert.equal((await p.finish()).toString('latin1'), `${HEAD}late`);
    assert.equal(p.writes.length, 2);
  });

  it('chunked: a chunk over 16 KiB is framed without copying it into the head', async () => {
    const p = await pair();
    const big = Buffer.alloc(20_000, 0x61);
    const w = new MessageWriter(p.client, 'chunked', b(HEAD));
    w.write(big);
    w.write(b('z'));
    w.end();
    assert.deepEqual(
      p.writes.map((x) => x.length),
      [HEAD.length, 6, 20_000, 2, 1 + 2 + 1 + 2, 5],
    );
    const want = Buffer.concat([b(`${HEAD}4e20\r\n`), big, b('\r\n1\r\nz\r\n0\r\n\r\n')]);
    assert.ok((await p.finish()).equals(want));
  });

  it('chunked: a big chunk after the head went alone', async () => {
    const p = await pair();
    const big = Buffer.alloc(70_000, 0x62);
    const w = new MessageWriter(p.client, 'chunked', b(HEAD));
    await tick();
    w.write(big);
    w.end();
    const want = Buffer.concat([b(`${HEAD}${(70_000).toString(16)}\r\n`), big, b('\r\n0\r\n\r\n')]);
    assert.ok((await p.finish()).equals(want));
  });

  it('length: a chunk over 16 KiB goes in its own write after the head', async () => {
    const p = await pair();
    const big = Buffer.alloc(16 * 1024 + 1, 0x63);
    const w = new MessageWriter(p.client, 'length', b(HEAD));
    w.write(big);
    w.end();
    assert.deepEqual(
      p.writes.map((x) => x.length),
      [HEAD.length, big.length],
    );
    assert.ok((await p.finish()).equals(Buffer.concat([b(HEAD), big])));
  });

  it('chunked: trailers go in the last chunk', async () => {
    const p = await pair();
    const w = new MessageWriter(p.client, 'chunked', b(HEAD));
    w.write(b('data'));
    w.trailers = fieldLines({ 'grpc-status': '0', 'x-t': ['a', 'b'] });
    w.end();
    assert.equal(
      (await p.finish()).toString('latin1'),
      `${HEAD}4\r\ndata\r\n0\r\ngrpc-status: 0\r\nx-t: a\r\nx-t: b\r\n\r\n`,
    );
  });

  it('chunked: trailers with the head when there is no body', async () => {
    const p = await pair();
    const w = new MessageWriter(p.client, 'chunked', b(HEAD));
    w.trailers = 'x-t: 1\r\n';
    w.end();
    assert.deepEqual(
      p.writes.map((x) => x.toString('latin1')),
      [`${HEAD}0\r\nx-t: 1\r\n\r\n`],
    );
    await p.finish();
  });

  it('trailers are not written in other framings', async () => {
    const p = await pair();
    const w = new MessageWriter(p.client, 'length', b(HEAD));
    w.write(b('ab'));
    w.trailers = 'x-t: 1\r\n';
    w.end();
    assert.equal((await p.finish()).toString('latin1'), `${HEAD}ab`);
  });

  for (const framing of ['length', 'chunked', 'close', 'none'] as const) {
    it(`${framing}: writes and ends after the end are ignored; finished says the end came`, async () => {
      const p = await pair();
      const w = new MessageWriter(p.client, framing, b(HEAD));
      assert.equal(w.finished, false);
      w.write(b('x'));
      assert.equal(w.finished, false);
      w.end();
      assert.equal(w.finished, true);
      const n = p.writes.length;
      assert.equal(w.write(b('after')), true);
      w.end();
      await tick();
      assert.equal(p.writes.length, n, 'nothing more reached the socket');
      assert.equal(p.client.writableEnded, false, 'the writer does not end the socket');
      const want = {
        length: `${HEAD}x`,
        chunked: `${HEAD}1\r\nx\r\n0\r\n\r\n`,
        close: `${HEAD}x`,
        none: HEAD,
      };
      assert.equal((await p.finish()).toString('latin1'), want[framing]);
    });
  }

  it('two messages in a row on one socket keep their order', async () => {
    const p = await pair();
    const w1 = new MessageWriter(p.client, 'length', b(HEAD));
    w1.write(b('one'));
    w1.end();
    const w2 = new MessageWriter(p.client, 'chunked', b(HEAD));
    w2.end();
    await tick();
    assert.equal((await p.finish()).toString('latin1'), `${HEAD}one${HEAD}0\r\n\r\n`);
  });

  it('a destroyed socket: the head flush, writes and the end do nothing', async () => {
    const p = await pair();
    const w = new MessageWriter(p.client, 'chunked', b(HEAD));
    p.client.destroy();
    await tick();
    assert.equal(w.write(b('x')), true);
    w.end();
    assert.equal(w.finished, true);
    assert.equal(p.writes.length, 0);
  });

  it('write returns false when the socket is full; onDrain fires once it drains', async () => {
    const p = await pair();
    p.server.pause();
    const w = new MessageWriter(p.client, 'length', b(HEAD));
    const chunk = Buffer.alloc(1024 * 1024, 0x64);
    let written = 0;
    let ok = true;
    for (let i = 0; i < 64 && ok; i++) {
      ok = w.write(chunk);
      written += chunk.length;
    }
    assert.equal(ok, false, 'the socket filled up');
    const drained = new Promise<void>((r) => w.onDrain(r));
    p.server.resume();
    await drained;
    w.end();
    const got = await p.finish();
    assert.equal(got.length, HEAD.length + written);
  });
});
