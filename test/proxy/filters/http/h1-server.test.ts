import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { BodySink } from '../../../../src/proxy/filters/http/body.js';
import {
  type H1Request,
  type H1Response,
  H1Server,
  type H1ServerHooks,
  type H1ServerOptions,
  type H1Timeout,
} from '../../../../src/proxy/filters/http/h1-server.js';
import { DEFAULT_HEAD_LIMITS, RequestLine } from '../../../../src/proxy/filters/http/http1-head.js';
import { DEFAULT_SERVER_REQUEST_OPTIONS } from '../../../../src/proxy/filters/http/http1-target.js';
import { portOf, until } from './helpers.js';

/** Waits for `p`; a timeout names the condition's source. */
const wait = (p: () => boolean) => until(p, p.toString());

/** What the hooks saw; the test decides how each request is answered. */
interface Seen {
  requests: { req: H1Request; res: H1Response; body: string; ended: boolean }[];
  upgrades: { req: H1Request; socket: net.Socket; rest: string }[];
  errors: { status: number; reason: string }[];
  timeouts: { kind: H1Timeout; status: number }[];
}

type Answer = (req: H1Request, res: H1Response, seen: Seen['requests'][number]) => void;

/** Reads the body into `entry.body` and, once it ended, answers with `answer`. */
function collect(entry: Seen['requests'][number], then: () => void): BodySink {
  return {
    write(chunk) {
      entry.body += chunk.toString('latin1');
      return true;
    },
    end() {
      entry.ended = true;
      then();
    },
    onDrain() {},
  };
}

const echo: Answer = (req, res, entry) => {
  req.body.pipeTo(
    collect(entry, () => {
      const body = `${req.method} ${req.url} ${JSON.stringify(req.headers)} body=${entry.body}`;
      res.writeHead(200, { 'content-length': Buffer.byteLength(body), 'x-n': '1' });
      res.end(body);
    }),
  );
};

/** One raw client connection: writes bytes, collects everything the server sends until it closes. */
function client(port: number): {
  socket: net.Socket;
  received: () => string;
  closed: Promise<void>;
} {
  const socket = net.connect({ host: '127.0.0.1', port });
  let got = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => {
    got += d;
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return { socket, received: () => got, closed };
}

/** Bytes that Buffer.concat produced while `run` ran: what the codec copied to join reads. */
async function bytesJoined(run: () => Promise<void>): Promise<number> {
  const concat = Buffer.concat;
  let copied = 0;
  Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
    const out = concat(list, total);
    copied += out.length;
    return out;
  }) as typeof Buffer.concat;
  try {
    await run();
  } finally {
    Buffer.concat = concat;
  }
  return copied;
}

/** Responses in `text`, split at each status line. */
function responses(text: string): string[] {
  return text.split(/(?=HTTP\/1\.1 \d{3} )/).filter((x) => x !== '');
}

describe('H1Server: the lean downstream HTTP/1.1 codec', { timeout: 20_000 }, () => {
  let front: net.Server;
  let port: number;
  let seen: Seen;
  let answer: Answer = echo;
  const options: H1ServerOptions = {
    limits: DEFAULT_HEAD_LIMITS,
    request: DEFAULT_SERVER_REQUEST_OPTIONS,
    headersTimeoutMs: 0,
    streamIdleTimeoutMs: 0,
    idleTimeoutMs: 0,
  };
  const sockets = new Set<net.Socket>();

  before(async () => {
    const hooks: H1ServerHooks = {
      request(req, res) {
        const entry = { req, res, body: '', ended: false };
        seen.requests.push(entry);
        answer(req, res, entry);
      },
      upgrade(req, socket, rest) {
        seen.upgrades.push({ req, socket, rest: rest.toString('latin1') });
        socket.end('HTTP/1.1 101 Switching Protocols\r\n\r\nupgraded');
      },
      protocolError(_socket, status, reason) {
        seen.errors.push({ status, reason });
      },
      timeout(_socket, kind, status) {
        seen.timeouts.push({ kind, status });
      },
      idleTimeout(res) {
        if (res.context !== 'answer the timeout') return;
        res.writeHead(408, { 'content-length': 14 });
        res.end('stream timeout');
      },
    };
    front = net.createServer({ pauseOnConnect: true }, (s) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      // Options are read per test: a fresh H1Server per connection.
      new H1Server({ ...options }, hooks).serve(s);
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    port = portOf(front);
  });

  beforeEach(() => {
    seen = { requests: [], upgrades: [], errors: [], timeouts: [] };
    answer = echo;
    options.request = DEFAULT_SERVER_REQUEST_OPTIONS;
    options.headersTimeoutMs = 0;
    options.streamIdleTimeoutMs = 0;
    options.idleTimeoutMs = 0;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => front.close(() => r()));
  });

  it('serves keep-alive requests on one connection; a Content-Length body split across writes arrives whole', async () => {
    const c = client(port);
    c.socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
    await wait(() => responses(c.received()).length === 1);
    c.socket.write('POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello');
    await new Promise((r) => setTimeout(r, 20));
    c.socket.write(' world');
    await wait(() => responses(c.received()).length === 2);
    const [first, second] = responses(c.received());
    assert.match(first as string, /^HTTP\/1\.1 200 OK\r\ncontent-length: \d+\r\nx-n: 1\r\n\r\nGET \/a /);
    assert.match(second as string, /body=hello world$/);
    assert.equal(seen.requests.length, 2);
    assert.equal(seen.requests[1]?.req.headers['content-length'], '11');
    assert.ok(!c.socket.destroyed, 'the connection stays open');
    c.socket.destroy();
  });

  it('decodes a chunked request body (extensions and trailers dropped)', async () => {
    const c = client(port);
    c.socket.write(
      'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nx-t: 1\r\n\r\n',
    );
    await wait(() => responses(c.received()).length === 1);
    assert.match(c.received(), /body=hello!$/);
    assert.equal(seen.requests[0]?.req.hasBody, true);
    c.socket.destroy();
  });

  it('frames a response without Content-Length as chunked (HTTP/1.1) with trailers, and HEAD/204 without a body', async () => {
    answer = (req, res) => {
      req.body.discard();
      if (req.url === '/stream') {
        res.writeHead(200, { 'x-a': ['1', '2'] });
        res.write(Buffer.from('abc'));
        res.addTrailers({ 'grpc-status': '0' });
        res.end();
      } else if (req.url === '/empty') {
        res.writeHead(204, {});
        res.end();
      } else {
        res.writeHead(200, { 'content-length': '5' });
        res.end();
      }
    };
    const c = client(port);
    c.socket.write(
      'GET /stream HTTP/1.1\r\nHost: x\r\n\r\nHEAD /head HTTP/1.1\r\nHost: x\r\n\r\nGET /empty HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    await wait(() => responses(c.received()).length === 3);
    assert.deepEqual(responses(c.received()), [
      'HTTP/1.1 200 OK\r\nx-a: 1\r\nx-a: 2\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\ngrpc-status: 0\r\n\r\n',
      'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n',
      'HTTP/1.1 204 No Content\r\n\r\n',
    ]);
    c.socket.destroy();
  });

  it('serves pipelined requests one at a time, in order: the next is seen only after the previous response', async () => {
    const pending: (() => void)[] = [];
    answer = (req, res) => {
      req.body.discard();
      pending.push(() => {
        res.writeHead(200, { 'content-length': req.url.length });
        res.end(req.url);
      });
    };
    const c = client(port);
    c.socket.write(
      'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /22 HTTP/1.1\r\nHost: x\r\n\r\nGET /333 HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    await wait(() => seen.requests.length === 1);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(seen.requests.length, 1, 'the second request waits for the first response');
    for (let i = 1; i <= 3; i++) {
      await wait(() => pending.length === i);
      pending[i - 1]?.();
    }
    await wait(() => responses(c.received()).length === 3);
    assert.deepEqual(
      responses(c.received()).map((r) => r.split('\r\n\r\n')[1]),
      ['/1', '/22', '/333'],
    );
    c.socket.destroy();
  });

  it('answers Expect: 100-continue itself, before the body, and does not pass Expect on', async () => {
    const c = client(port);
    c.socket.write('POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n');
    await wait(() => c.received().includes('100 Continue'));
    assert.equal(c.received(), 'HTTP/1.1 100 Continue\r\n\r\n');
    c.socket.write('abc');
    await wait(() => c.received().includes('body=abc'));
    assert.equal(seen.requests[0]?.req.headers.expect, undefined);
    c.socket.destroy();
  });

  it('HTTP/1.0 (accept_http_10): closes after the response; a body without Content-Length is delimited by the close', async () => {
    options.request = { ...DEFAULT_SERVER_REQUEST_OPTIONS, acceptHttp10: true };
    answer = (req, res) => {
      req.body.discard();
      res.writeHead(200, {});
      res.write(Buffer.from('until close'));
      res.end();
    };
    const c = client(port);
    c.socket.write('GET /old HTTP/1.0\r\n\r\n');
    await c.closed;
    // Answered in HTTP/1.0, as Envoy answers an HTTP/1.0 request it accepts (codec_impl.cc:417-421).
    assert.equal(c.received(), 'HTTP/1.0 200 OK\r\nconnection: close\r\n\r\nuntil close');
  });

  it('HTTP/1.0 without accept_http_10: 426 Upgrade Required as a protocol error, and the connection closes', async () => {
    const c = client(port);
    c.socket.write('GET /old HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.closed;
    assert.equal(
      c.received(),
      'HTTP/1.1 426 Upgrade Required\r\ncontent-length: 16\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nUpgrade Required',
    );
    assert.deepEqual(seen.errors, [{ status: 426, reason: 'low_version' }]);
    assert.equal(seen.requests.length, 0);
  });

  it('an HTTP/0.9 line (no version) is a whole request: 426 as soon as its LF arrives', async () => {
    const c = client(port);
    c.socket.write('GET /old\r\n');
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 426 Upgrade Required\r\n/);
    assert.deepEqual(seen.errors, [{ status: 426, reason: 'low_version' }]);
  });

  it('absolute form: the URL gives the path and Host; the Host header is replaced', async () => {
    const c = client(port);
    c.socket.write('GET http://other.example:81/x?y=1 HTTP/1.1\r\nHost: mine\r\nConnection: close\r\n\r\n');
    await c.closed;
    const req = seen.requests[0]?.req;
    assert.equal(req?.url, '/x?y=1');
    assert.equal(req?.headers.host, 'other.example:81');
    assert.equal(req?.scheme, 'http');
    const bad = client(port);
    bad.socket.write('GET ftp://other.example/x HTTP/1.1\r\nHost: mine\r\n\r\n');
    await bad.closed;
    assert.match(bad.received(), /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.deepEqual(seen.errors, [{ status: 400, reason: 'http1.invalid_scheme' }]);
  });

  it('accept_http_10 with default_host_for_http_10: an HTTP/1.0 request without Host gets it', async () => {
    options.request = {
      ...DEFAULT_SERVER_REQUEST_OPTIONS,
      acceptHttp10: true,
      defaultHostForHttp10: 'dflt:9080',
    };
    const c = client(port);
    c.socket.write('GET /a HTTP/1.0\r\n\r\n');
    await c.closed;
    const other = client(port);
    other.socket.write('GET /b HTTP/1.0\r\nHost: own\r\n\r\n');
    await other.closed;
    assert.deepEqual(
      seen.requests.map((r) => [r.req.url, r.req.httpVersion, r.req.headers.host]),
      [
        ['/a', '1.0', 'dflt:9080'],
        ['/b', '1.0', 'own'],
      ],
    );
  });

  it('Connection: close from the client: the response says so and the connection closes', async () => {
    const c = client(port);
    c.socket.write('GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await c.closed;
    assert.match(
      c.received(),
      /^HTTP\/1\.1 200 OK\r\ncontent-length: \d+\r\nx-n: 1\r\nconnection: close\r\n\r\n/,
    );
  });

  it('a response before the request body is complete closes the connection (Envoy)', async () => {
    answer = (req, res) => {
      req.body.discard();
      res.writeHead(413, { 'content-length': 0 });
      res.end();
    };
    const c = client(port);
    c.socket.write('POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial');
    await c.closed;
    assert.equal(
      c.received(),
      'HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n',
    );
  });

  it('a local reply to a request whose small body came with the head keeps the connection', async () => {
    answer = (req, res) => {
      req.body.discard();
      res.writeHead(404, { 'content-length': 0 });
      res.end();
    };
    const c = client(port);
    c.socket.write(
      'POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /y HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    await wait(() => responses(c.received()).length === 2);
    assert.equal(seen.requests.length, 2);
    assert.ok(!c.socket.destroyed);
    c.socket.destroy();
  });

  for (const [name, bytes, status] of [
    ['a bare LF', 'GET / HTTP/1.1\nHost: x\r\n\r\n', 400],
    [
      'Content-Length with Transfer-Encoding (smuggling)',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
      400,
    ],
    ['an unsupported transfer coding', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
    ['headers over the limit', `GET / HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(70 * 1024)}\r\n\r\n`, 431],
  ] as const) {
    it(`answers ${name} with ${status}, reports it once and closes`, async () => {
      const c = client(port);
      c.socket.write(bytes);
      c.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await c.closed;
      assert.match(c.received(), new RegExp(`^HTTP/1\\.1 ${status} `));
      assert.equal(responses(c.received()).length, 1);
      assert.equal(seen.errors.length, 1);
      assert.equal(seen.errors[0]?.status, status);
      assert.equal(seen.requests.length, 0);
    });
  }

  it('a malformed chunked body: 400 before the response started, a closed connection after', async () => {
    answer = (req, res) => {
      req.body.pipeTo({ write: () => true, end() {}, onDrain() {} });
      if (req.url === '/started') {
        res.writeHead(200, { 'content-length': 10 });
        res.write(Buffer.from('12345'));
      }
    };
    const before = client(port);
    before.socket.write('POST /early HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    await wait(() => seen.requests.length === 1);
    before.socket.write('zz\r\n');
    await before.closed;
    assert.match(before.received(), /^HTTP\/1\.1 400 Bad Request\r\n/);
    const started = client(port);
    started.socket.write('POST /started HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    await wait(() => started.received().endsWith('12345'));
    started.socket.write('zz\r\n');
    await started.closed;
    assert.equal(responses(started.received()).length, 1);
    assert.deepEqual(
      seen.errors.map((e) => e.status),
      [400, 0],
    );
  });

  it('a request head that does not complete in time gets 408 (request_headers_timeout, not a protocol error)', async () => {
    options.headersTimeoutMs = 50;
    const c = client(port);
    c.socket.write('GET / HTTP/1.1\r\nHost:');
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.match(c.received(), /\r\n\r\nrequest header timeout$/);
    assert.deepEqual(seen.timeouts, [{ kind: 'request_headers', status: 408 }]);
    assert.deepEqual(seen.errors, []);
  });

  it('closes a keep-alive connection after the idle timeout', async () => {
    options.idleTimeoutMs = 60;
    const c = client(port);
    c.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.closed;
    assert.equal(responses(c.received()).length, 1);
    assert.deepEqual(seen.timeouts, [{ kind: 'connection_idle', status: 0 }]);
  });

  it("a request with nothing moving for the idle timeout gets the router's reply (Envoy stream_idle_timeout), then the connection closes", async () => {
    options.streamIdleTimeoutMs = 60;
    answer = (req, res) => {
      req.body.discard();
      res.context = 'answer the timeout';
    };
    const c = client(port);
    c.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.closed;
    assert.equal(
      c.received(),
      'HTTP/1.1 408 Request Timeout\r\ncontent-length: 14\r\nconnection: close\r\n\r\nstream timeout',
    );
  });

  it('a request body that stops arriving, or a head that never completes, times out', async () => {
    options.streamIdleTimeoutMs = 60;
    answer = (req) => req.body.pipeTo({ write: () => true, end() {}, onDrain() {} });
    const body = client(port);
    body.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    const head = client(port);
    head.socket.write('GET / HTTP/1.1\r\nHo');
    await Promise.all([body.closed, head.closed]);
    // No reply handler was set: the stream's connection is closed. A partial head gets 408.
    assert.equal(body.received(), '');
    assert.match(head.received(), /^HTTP\/1\.1 408 /);
    assert.deepEqual(seen.timeouts, [{ kind: 'stream_idle', status: 408 }]);
  });

  it('once a connection is closing, what the client still sends is not kept', async () => {
    answer = (req, res) => {
      req.body.discard();
      res.writeHead(404, { 'content-length': 0 });
      res.end();
    };
    const c = client(port);
    c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n');
    await wait(() => c.received().includes('404'));
    const copied = await bytesJoined(async () => {
      const chunk = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < 16 && !c.socket.destroyed; i++) c.socket.write(chunk);
      await c.closed;
    });
    // Keeping them would join every read to what came before: many times the 16 MiB sent.
    assert.ok(copied < 1024 * 1024, `${copied} bytes joined after the reply`);
  });

  it("a client that does not close after the last response is closed a second later (Envoy's delayed close)", async () => {
    const serverSide = new Promise<net.Socket>((r) => front.once('connection', r));
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let got = '';
    socket.on('data', (d) => {
      got += d;
    });
    socket.on('error', () => {});
    socket.write('GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const started = Date.now();
    const proxySide = await serverSide;
    await new Promise<void>((r) => proxySide.once('close', () => r()));
    assert.match(got, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(Date.now() - started >= 900, 'closed by the delayed-close timer, not at once');
    socket.destroy();
  });

  it('a client that goes away mid-response closes the response unfinished', async () => {
    let finished: boolean | undefined;
    answer = (req, res) => {
      req.body.discard();
      res.onClose((f) => {
        finished = f;
      });
      res.writeHead(200, { 'content-length': 10 });
      res.write(Buffer.from('12345'));
    };
    const c = client(port);
    c.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await wait(() => c.received().endsWith('12345'));
    c.socket.destroy();
    await wait(() => finished !== undefined);
    assert.equal(finished, false);
    assert.equal(seen.requests[0]?.res.writableFinished, false);
  });

  it('a client FIN after a complete request still gets the response, then the connection closes', async () => {
    const c = client(port);
    c.socket.end('GET /fin HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 200 OK\r\n.*GET \/fin /s);
  });

  it('a client FIN in the middle of a request body is a reset: the response never comes', async () => {
    let closed: boolean | undefined;
    answer = (req, res) => {
      res.onClose((f) => {
        closed = f;
      });
      req.body.pipeTo({ write: () => true, end() {}, onDrain() {} });
    };
    const c = client(port);
    c.socket.end('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    await c.closed;
    await wait(() => closed !== undefined);
    assert.equal(closed, false);
    assert.equal(c.received(), '');
  });

  it('hands an upgrade over with the bytes that followed the head', async () => {
    const c = client(port);
    c.socket.write(
      'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nearly-bytes',
    );
    await c.closed;
    assert.equal(seen.upgrades.length, 1);
    assert.equal(seen.upgrades[0]?.rest, 'early-bytes');
    assert.equal(seen.upgrades[0]?.req.headers.upgrade, 'websocket');
    assert.equal(c.received(), 'HTTP/1.1 101 Switching Protocols\r\n\r\nupgraded');
  });

  it('a head that arrives in many small reads is joined once, not copied again on every read', async () => {
    const c = client(port);
    const copied = await bytesJoined(async () => {
      c.socket.setNoDelay(true);
      const pad = 'a'.repeat(300);
      c.socket.write('GET /slow-head HTTP/1.1\r\nHost: x\r\nx-pad: ');
      for (let i = 0; i < 100; i++) {
        c.socket.write(pad);
        await new Promise((r) => setTimeout(r, 1));
      }
      c.socket.write('\r\n\r\n');
      await wait(() => responses(c.received()).length === 1);
    });
    // Joining on every read would copy about 100 × 30 KB / 2 = 1.5 MB.
    assert.ok(copied < 200_000, `${copied} bytes copied for a 30 KB head`);
    c.socket.destroy();
  });

  it('stops reading the request body while the sink is full, and resumes on drain', async () => {
    let drain: (() => void) | undefined;
    let got = 0;
    let full = true;
    answer = (req, res) => {
      req.body.pipeTo({
        write(chunk) {
          got += chunk.length;
          return !full;
        },
        end() {
          res.writeHead(200, { 'content-length': String(got).length });
          res.end(String(got));
        },
        onDrain(cb) {
          drain = cb;
        },
      });
    };
    const size = 8 * 1024 * 1024;
    const c = client(port);
    c.socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
    c.socket.write(Buffer.alloc(size, 0x61));
    await wait(() => drain !== undefined);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(got < size, `paused: ${got} of ${size} bytes read`);
    full = false;
    drain?.();
    await wait(() => c.received().endsWith(`\r\n\r\n${size}`));
    c.socket.destroy();
  });
  it('a request that cannot be valid is answered 400 at its first bad byte: no blank line, no timer needed', async () => {
    // No timer is set: without the request line read as it arrives these connections would wait for good.
    const garbage = client(port);
    garbage.socket.write('\x01\x02garbage');
    const later = client(port);
    later.socket.write('GET /a');
    await wait(() => later.socket.bytesWritten === 6);
    await new Promise((r) => setTimeout(r, 20));
    later.socket.write('\xe9 HTTP/1.1\r\n', 'latin1');
    await Promise.all([garbage.closed, later.closed]);
    assert.match(garbage.received(), /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(later.received(), /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.deepEqual(seen.errors.map((e) => e.reason).sort(), [
      'invalid method',
      'non-ASCII byte in the request target',
    ]);
    assert.equal(seen.requests.length, 0);
  });

  it('a request line arriving a byte at a time is read once: each byte is looked at one time', async () => {
    const scan = RequestLine.prototype.scan;
    let offered = 0;
    RequestLine.prototype.scan = function (this: RequestLine, bytes, from, ...rest) {
      offered += bytes.length - from;
      return scan.call(this, bytes, from, ...rest);
    };
    try {
      const c = client(port);
      c.socket.setNoDelay(true);
      const line = `GET /${'p'.repeat(200)} HTTP/1.1\r\n`;
      for (const ch of line) {
        c.socket.write(ch);
        await new Promise((r) => setTimeout(r, 1));
      }
      c.socket.write('Host: x\r\n\r\n');
      await wait(() => responses(c.received()).length === 1);
      // Every byte of the line is read as it arrives; read again from its start on every read, the line would be
      // offered about 220 × 220 / 2 bytes.
      assert.ok(offered >= line.length, `${offered} bytes offered: the line was not read as it came`);
      assert.ok(offered <= line.length + 'Host: x\r\n\r\n'.length, `${offered} bytes offered`);
      c.socket.destroy();
    } finally {
      RequestLine.prototype.scan = scan;
    }
  });

  it('a silent connection is closed after the connection idle timeout, counted as such, nothing written', async () => {
    options.idleTimeoutMs = 50;
    const c = client(port);
    await c.closed;
    assert.equal(c.received(), '');
    assert.deepEqual(seen.timeouts, [{ kind: 'connection_idle', status: 0 }]);
    assert.deepEqual(seen.errors, []);
  });

  it('a request under way runs the stream idle timeout, not the connection idle timeout', async () => {
    options.idleTimeoutMs = 50;
    options.streamIdleTimeoutMs = 1500;
    const c = client(port);
    c.socket.write('GET / HTTP/1.1\r\nHo');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(c.socket.destroyed, false, 'still open after several connection idle timeouts');
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*\r\n\r\nstream timeout$/);
    assert.deepEqual(seen.timeouts, [{ kind: 'stream_idle', status: 408 }]);
  });

  it('after the response the connection idle timeout runs again', async () => {
    options.idleTimeoutMs = 1500;
    options.streamIdleTimeoutMs = 50;
    const c = client(port);
    c.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await wait(() => responses(c.received()).length === 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(c.socket.destroyed, false, 'still open after several stream idle timeouts');
    await c.closed;
    assert.deepEqual(seen.timeouts, [{ kind: 'connection_idle', status: 0 }]);
  });

  it('CONNECT is handed over as an upgrade: the bytes after its head are never read as a request', async () => {
    const c = client(port);
    c.socket.write('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.closed;
    assert.equal(seen.upgrades.length, 1);
    assert.equal(seen.upgrades[0]?.req.upgrade, 'CONNECT');
    assert.equal(seen.upgrades[0]?.rest, 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(seen.requests.length, 0);
  });

  it('a chunk extension llhttp refuses ends the request with 400', async () => {
    answer = (req) => req.body.pipeTo({ write: () => true, end() {}, onDrain() {} });
    const c = client(port);
    c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;\r\nok\r\n0\r\n\r\n');
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.deepEqual(seen.errors, [{ status: 400, reason: 'invalid character in a chunk extension' }]);
  });

  it('allow_custom_methods: a method Envoy does not know is served instead of refused', async () => {
    const refused = client(port);
    refused.socket.write('get /custom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await refused.closed;
    assert.match(refused.received(), /^HTTP\/1\.1 400 Bad Request\r\n/);
    options.request = { ...DEFAULT_SERVER_REQUEST_OPTIONS, allowCustomMethods: true };
    const c = client(port);
    c.socket.write('get /custom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 200 OK\r\n[\s\S]*get \/custom /);
  });
});
