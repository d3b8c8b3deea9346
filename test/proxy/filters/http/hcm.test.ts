import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../../src/core/log.js';
import type { HttpConnectionManagerConfig } from '../../../../src/proxy/config/model.js';
import { HttpConnectionManager } from '../../../../src/proxy/filters/http/hcm.js';
import { StatsStore } from '../../../../src/proxy/stats/index.js';
import { ClusterManager } from '../../../../src/proxy/upstream/cluster.js';
import { hcmConfig, route, staticCluster } from './helpers.js';

function config(o: Partial<HttpConnectionManagerConfig> = {}): HttpConnectionManagerConfig {
  return hcmConfig(
    [
      route('slow', '/slow', 'app', 200),
      route('missing', '/missing-cluster', 'nope'),
      route('down', '/down', 'down'),
      route('default', '/api', 'app'),
    ],
    o,
  );
}

describe('http_connection_manager over HTTP/1.1', { timeout: 20_000 }, () => {
  let app: http.Server;
  let front: net.Server;
  let port: number;
  let store: StatsStore;
  let hcm: HttpConnectionManager;
  const seen: http.IncomingHttpHeaders[] = [];
  const smuggled: string[] = [];
  const downstream = new Set<net.Socket>();

  before(async () => {
    app = http.createServer((req, res) => {
      seen.push(req.headers);
      if (req.url === '/slow') return; // never answers
      if (req.url === '/api/reset') {
        req.socket.destroy();
        return;
      }
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        res.setHeader('x-app', '1');
        res.end(`${req.method} ${req.url} ${body.length}`);
      });
    });
    app.on('upgrade', (req, socket) => {
      if (req.url === '/slow') return; // never answers
      if (req.url === '/api/refuse') {
        // An app that does not switch: a plain answer, then whatever else comes is recorded.
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nno');
        socket.on('data', (d) => smuggled.push(String(d)));
        return;
      }
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
      socket.on('data', (d) => socket.write(`ws:${d}`));
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    store = new StatsStore();
    const clusters = new ClusterManager(
      [
        staticCluster('app', (app.address() as net.AddressInfo).port, 'http1'),
        staticCluster('down', deadPort, 'http1'),
      ],
      store,
    );
    hcm = new HttpConnectionManager(config(), clusters, store, silentLogger);
    front = net.createServer({ pauseOnConnect: true }, (s) => {
      downstream.add(s);
      s.once('close', () => downstream.delete(s));
      hcm.handle(s, { peer: undefined, tls: false });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    port = (front.address() as net.AddressInfo).port;
  });

  after(() => {
    hcm.close();
    // fetch keeps idle connections as long as the server's Keep-Alive hint (300 s): close them here.
    for (const s of downstream) s.destroy();
    front.close();
    app.closeAllConnections();
    app.close();
  });

  /** Writes `text` on a new connection and resolves with what came back once the proxy closed it. */
  function raw(text: string): Promise<string> {
    return new Promise<string>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => s.write(Buffer.from(text, 'latin1')));
      let got = '';
      s.setEncoding('latin1');
      s.on('data', (d) => {
        got += d;
      });
      s.on('close', () => resolve(got));
      s.on('error', () => resolve(got));
    });
  }

  async function get(path: string, init: RequestInit = {}) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
    return { status: res.status, body: await res.text(), headers: res.headers };
  }

  it('routes to the cluster and relays method, path, body and response headers; keep-alive reuses the pool', async () => {
    const r = await get('/api/x?y=1', { method: 'POST', body: 'hello' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'POST /api/x?y=1 5');
    assert.equal(r.headers.get('x-app'), '1');
    for (let i = 0; i < 5; i++) assert.equal((await get('/api/again')).status, 200);
    assert.equal(
      store.counter('cluster.app.upstream_cx_total').value,
      1,
      'one upstream connection for six requests',
    );
    assert.ok(store.counter('http.inbound_0.0.0.0_9080.downstream_rq_2xx').value >= 6);
  });

  it('removes a client-sent XFCC on plaintext, and adds x-request-id and x-forwarded-proto', async () => {
    await get('/api/xfcc', { headers: { 'x-forwarded-client-cert': 'By=forged;Hash=00' } });
    const h = seen.at(-1);
    assert.equal(h?.['x-forwarded-client-cert'], undefined);
    assert.match(String(h?.['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal(h?.['x-forwarded-proto'], 'http');
  });

  it("answers Envoy's local replies: 404 NR, 503 NC, 503 UF, 504 UT, 503 UC", async () => {
    const nr = await get('/nothing');
    assert.equal(nr.status, 404);
    assert.equal(nr.headers.get('x-skiff-response-flags'), 'NR');
    assert.equal((await get('/missing-cluster')).headers.get('x-skiff-response-flags'), 'NC');
    const uf = await get('/down');
    assert.equal(uf.status, 503);
    assert.equal(uf.headers.get('x-skiff-response-flags'), 'UF');
    assert.match(
      uf.body,
      /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure/,
    );
    const ut = await get('/slow');
    assert.equal(ut.status, 504);
    assert.equal(ut.body, 'upstream request timeout');
    const uc = await get('/api/reset');
    assert.equal(uc.status, 503);
    assert.equal(uc.headers.get('x-skiff-response-flags'), 'UC');
  });

  it('answers oversized headers with 431 and bad framing with 400, and keeps serving', async () => {
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => s.write(text));
        let got = '';
        s.on('data', (d) => {
          got += d;
        });
        s.on('close', () => resolve(got));
        s.on('error', () => resolve(got));
      });
    assert.match(
      await raw(`GET /api HTTP/1.1\r\nhost: a\r\nx-big: ${'a'.repeat(10_000)}\r\n\r\n`),
      /^HTTP\/1\.1 431 /,
    );
    assert.match(
      await raw('GET /api HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nx'),
      /^HTTP\/1\.1 400 /,
    );
    assert.match(await raw('\x00\x01garbage\r\n\r\n'), /^HTTP\/1\.1 400 /);
    assert.ok(store.counter('http.inbound_0.0.0.0_9080.downstream_cx_protocol_error').value >= 3);
    assert.equal((await get('/api/after')).status, 200);
  });

  it('serves pipelined requests one at a time, in order, as Envoy does', async () => {
    const got = await new Promise<string>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () =>
        s.write(
          'GET /api/p1 HTTP/1.1\r\nhost: a\r\n\r\nGET /api/p2 HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n',
        ),
      );
      let text = '';
      s.on('data', (d) => {
        text += d;
      });
      s.on('close', () => resolve(text));
      s.on('error', () => resolve(text));
    });
    const responses = got.split(/(?=HTTP\/1\.1 )/);
    assert.equal(responses.length, 2, got);
    assert.match(responses[0] ?? '', /^HTTP\/1\.1 200 [\s\S]*GET \/api\/p1 0$/);
    assert.match(responses[1] ?? '', /^HTTP\/1\.1 200 [\s\S]*GET \/api\/p2 0$/);
  });

  it('passes a websocket upgrade through and refuses other upgrades with 403', async () => {
    const upgrade = (type: string) =>
      new Promise<string>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port }, () =>
          s.write(`GET /api/ws HTTP/1.1\r\nhost: a\r\nconnection: upgrade\r\nupgrade: ${type}\r\n\r\n`),
        );
        let got = '';
        s.on('data', (d) => {
          got += d;
          if (got.includes('\r\n\r\n') && !got.includes('ws:') && got.startsWith('HTTP/1.1 101'))
            s.write('ping');
          if (got.includes('ws:ping') || !got.startsWith('HTTP/1.1 101')) s.end();
        });
        s.on('close', () => resolve(got));
        s.on('error', () => resolve(got));
      });
    const ws = await upgrade('websocket');
    assert.match(ws, /^HTTP\/1\.1 101 /);
    assert.match(ws, /ws:ping/);
    const before = store.counter('http.inbound_0.0.0.0_9080.downstream_rq_ws_on_non_ws_route').value;
    assert.match(await upgrade('foo'), /^HTTP\/1\.1 403 /);
    assert.equal(
      store.counter('http.inbound_0.0.0.0_9080.downstream_rq_ws_on_non_ws_route').value,
      before + 1,
    );
  });

  it("Upgrade: h2c (curl --http2) is served as HTTP/1.1 without its upgrade headers, as Envoy's codec does", async () => {
    const got = await raw(
      'GET /api/h2c HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n' +
        'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n' +
        'GET /api/after-h2c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    const replies = got.split(/(?=HTTP\/1\.1 )/);
    assert.equal(replies.length, 2, got);
    assert.match(replies[0] ?? '', /^HTTP\/1\.1 200 [\s\S]*GET \/api\/h2c 0$/);
    assert.match(replies[1] ?? '', /^HTTP\/1\.1 200 [\s\S]*GET \/api\/after-h2c 0$/);
    const h = seen.at(-2);
    assert.equal(h?.upgrade, undefined);
    assert.equal(h?.['http2-settings'], undefined);
    assert.equal(h?.['user-agent'], 'curl/7.88.1');
  });

  it('a request that cannot be valid is answered 400 at its first bad byte, without waiting for a blank line', async () => {
    // The client never closes: only the proxy's answer can end these (stream idle is 5 min, no headers timeout).
    for (const bytes of ['\x01\x02garbage', 'GET /api\x01', 'get /api HTTP/1.1\r\n']) {
      const got = await raw(bytes);
      assert.match(got, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(bytes));
    }
  });

  it('a #fragment in the target is refused with 400 (Envoy http_reject_path_with_fragment); the connection is kept', async () => {
    const counter = () =>
      store.counter('http.inbound_0.0.0.0_9080.downstream_rq_failed_path_normalization').value;
    const before = counter();
    const urls = seen.length;
    const got = await raw(
      'GET /api/x#frag HTTP/1.1\r\nHost: a\r\n\r\nGET /api/after-fragment HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    const replies = got.split(/(?=HTTP\/1\.1 )/);
    assert.equal(replies.length, 2, got);
    assert.match(replies[0] ?? '', /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(replies[1] ?? '', /^HTTP\/1\.1 200 [\s\S]*GET \/api\/after-fragment 0$/);
    assert.equal(counter(), before + 1);
    assert.equal(seen.length, urls + 1, 'only the second request reached the app');
  });

  it('non-ASCII bytes in the target are 400 (llhttp, Envoy HPE_INVALID_URL) and never reach the app', async () => {
    const urls = seen.length;
    for (const target of ['/api/caf\xc3\xa9', '/api?q=\xe9', '/api#\xff']) {
      const got = await raw(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`);
      assert.match(got, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(target));
    }
    assert.equal(seen.length, urls);
  });

  it("methods Envoy's codec does not know are 400 (no allow_custom_methods); the ones it knows are relayed", async () => {
    const urls = seen.length;
    for (const method of ['get', 'FOO', 'ANNOUNCE', 'M-SEARCH']) {
      const got = await raw(`${method} /api HTTP/1.1\r\nHost: a\r\n\r\n`);
      assert.match(got, /^HTTP\/1\.1 400 Bad Request\r\n/, method);
    }
    assert.equal(seen.length, urls);
    const purge = await raw('PURGE /api/purge HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.match(purge, /^HTTP\/1\.1 200 [\s\S]*PURGE \/api\/purge 0$/);
  });

  it('CONNECT: 404 NR as Envoy without CONNECT support (no path, no route); the bytes after it never reach the app', async () => {
    const urls = seen.length;
    const got = await raw(
      'CONNECT app:443 HTTP/1.1\r\nHost: app:443\r\n\r\nGET /api/smuggled HTTP/1.1\r\nHost: a\r\n\r\n',
    );
    assert.match(got, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(got, /x-skiff-response-flags: NR\r\n/);
    assert.equal(got.split('HTTP/1.1').length, 2, 'one response, then the connection closed');
    assert.match(
      await raw('CONNECT app:443 HTTP/1.1\r\nHost: app:443\r\nContent-Length: 2\r\n\r\nhi'),
      /^HTTP\/1\.1 400 /,
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen.length, urls);
  });

  it('an upgrade to a path without a route is 404 NR, as in Envoy (the route comes before the upgrade check)', async () => {
    // An upgrade type that is not configured: the route is looked at first, so this is 404, not 403.
    const got = await raw('GET /nothing HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\n');
    assert.match(got, /^HTTP\/1\.1 404 /);
    assert.match(got, /x-skiff-response-flags: NR\r\n/);
  });

  it('an upgrade the app does not accept (no 101) is relayed and closed: bytes after it never reach the app unparsed', async () => {
    const got = await new Promise<string>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () =>
        s.write(
          'GET /api/refuse HTTP/1.1\r\nhost: a\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n' +
            'GET /admin HTTP/1.1\r\nhost: a\r\nx-forwarded-client-cert: By=forged\r\n\r\n',
        ),
      );
      let text = '';
      s.on('data', (d) => {
        text += d;
      });
      s.on('close', () => resolve(text));
      s.on('error', () => resolve(text));
    });
    // The refusal's head as Envoy encodes it: server_header_transformation OVERWRITE adds `server: envoy`.
    assert.equal(got, 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nserver: envoy\r\n\r\nno');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(smuggled, []);
  });

  it('an upgrade the app never answers gets 504 UT after the route timeout', async () => {
    const got = await new Promise<string>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () =>
        s.write('GET /slow HTTP/1.1\r\nhost: a\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n'),
      );
      let text = '';
      s.on('data', (d) => {
        text += d;
      });
      s.on('close', () => resolve(text));
      s.on('error', () => resolve(text));
    });
    assert.match(got, /^HTTP\/1\.1 504 Gateway Timeout\r\n/);
    assert.match(got, /x-skiff-response-flags: UT/);
  });
});

describe('http_connection_manager: timers and CONNECT with their own configs', { timeout: 20_000 }, () => {
  const fronts: { server: net.Server; hcm: HttpConnectionManager; sockets: Set<net.Socket> }[] = [];
  let app: http.Server;
  let clusters: ClusterManager;
  const seen: string[] = [];

  before(async () => {
    app = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.end('app');
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    clusters = new ClusterManager(
      [staticCluster('app', (app.address() as net.AddressInfo).port, 'http1')],
      new StatsStore(),
    );
  });

  after(() => {
    for (const f of fronts) {
      f.hcm.close();
      for (const s of f.sockets) s.destroy();
      f.server.close();
    }
    clusters.close();
    app.closeAllConnections();
    app.close();
  });

  /** A connection manager with `o` and one `*` virtual host (`routes`), on its own port. */
  async function front(o: Partial<HttpConnectionManagerConfig>, routes = [route('api', '/api', 'app')]) {
    const store = new StatsStore();
    const hcm = new HttpConnectionManager(hcmConfig(routes, o), clusters, store, silentLogger);
    const sockets = new Set<net.Socket>();
    const server = net.createServer({ pauseOnConnect: true }, (s) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      hcm.handle(s, { peer: undefined, tls: false });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    fronts.push({ server, hcm, sockets });
    const port = (server.address() as net.AddressInfo).port;
    const counter = (name: string) => store.counter(`http.inbound_0.0.0.0_9080.${name}`).value;
    /** Writes `text`, resolves with what came back once the proxy closed the connection. */
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => s.write(Buffer.from(text, 'latin1')));
        let got = '';
        s.setEncoding('latin1');
        s.on('data', (d) => {
          got += d;
        });
        s.on('close', () => resolve(got));
        s.on('error', () => resolve(got));
      });
    return { port, counter, raw };
  }

  it('codec AUTO waiting for the rest of a preface: request_headers_timeout closes it, counted as Envoy counts it', async () => {
    const f = await front({ codec: 'AUTO', requestHeadersTimeoutMs: 100 });
    assert.equal(await f.raw('PRI * HTTP/2.0\r\n'), '', 'no protocol yet: closed without a reply');
    assert.equal(f.counter('downstream_rq_header_timeout'), 1);
    assert.equal(f.counter('downstream_cx_protocol_error'), 0);
  });

  it('codec AUTO waiting for the rest of a preface: without request_headers_timeout, the stream idle timeout', async () => {
    const f = await front({ codec: 'AUTO', streamIdleTimeoutMs: 100 });
    assert.equal(await f.raw('PRI * HTTP/2.0\r\n\r\nSM'), '');
    assert.equal(f.counter('downstream_rq_idle_timeout'), 1);
  });

  it('an HTTP/1.1 head not complete within request_headers_timeout: 408, downstream_rq_header_timeout, no protocol error', async () => {
    const f = await front({ codec: 'AUTO', requestHeadersTimeoutMs: 100 });
    assert.match(await f.raw('GET /api HTTP/1.1\r\nHost: a\r\n'), /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.equal(f.counter('downstream_rq_header_timeout'), 1);
    assert.equal(f.counter('downstream_rq_4xx'), 1);
    assert.equal(f.counter('downstream_cx_protocol_error'), 0);
  });

  it('a silent connection (codec AUTO, no byte yet) is closed after the connection idle timeout', async () => {
    const f = await front({ codec: 'AUTO', idleTimeoutMs: 100 });
    assert.equal(await f.raw(''), '');
    assert.equal(f.counter('downstream_cx_idle_timeout'), 1);
  });

  it('an idle keep-alive HTTP/1.1 connection is closed after the connection idle timeout, not the stream one', async () => {
    const f = await front({ codec: 'HTTP1', idleTimeoutMs: 150, streamIdleTimeoutMs: 300_000 });
    assert.match(await f.raw('GET /api/keep HTTP/1.1\r\nHost: a\r\n\r\n'), /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(f.counter('downstream_cx_idle_timeout'), 1);
    assert.equal(f.counter('downstream_rq_idle_timeout'), 0);
  });

  it('an HTTP/2 session with no open stream for the idle timeout gets GOAWAY and is closed', async () => {
    const f = await front({ codec: 'AUTO', idleTimeoutMs: 150 });
    const session = http2.connect(`http://127.0.0.1:${f.port}`);
    session.on('error', () => {});
    const goaway = new Promise<void>((r) => session.once('goaway', () => r()));
    const closed = new Promise<void>((r) => session.once('close', () => r()));
    const st = session.request({ ':method': 'GET', ':path': '/api/h2' });
    st.resume();
    const status = await new Promise<number>((r) => st.once('response', (h) => r(Number(h[':status']))));
    assert.equal(status, 200);
    await goaway;
    await closed;
    assert.equal(f.counter('downstream_cx_idle_timeout'), 1);
  });

  it('http_protocol_options.allow_custom_methods: a method Envoy does not know is relayed instead of refused', async () => {
    const refuses = await front({ codec: 'HTTP1' });
    assert.match(await refuses.raw('M-SEARCH /api/ssdp HTTP/1.1\r\nHost: a\r\n\r\n'), /^HTTP\/1\.1 400 /);
    const allows = await front({ codec: 'HTTP1', allowCustomMethods: true });
    const got = await allows.raw('M-SEARCH /api/ssdp HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.match(got, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(seen.at(-1), 'M-SEARCH /api/ssdp');
  });

  it('CONNECT where a route matches an empty path: 403, as any upgrade the route does not allow (no CONNECT support)', async () => {
    const f = await front({ codec: 'HTTP1' }, [route('all', '', 'app')]);
    const reached = seen.length;
    const got = await f.raw(
      'CONNECT app:443 HTTP/1.1\r\nHost: app:443\r\n\r\nGET /api/smuggled HTTP/1.1\r\nHost: a\r\n\r\n',
    );
    assert.match(got, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.equal(f.counter('downstream_rq_ws_on_non_ws_route'), 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen.length, reached);
  });
});

describe('http_connection_manager: HTTP/1.0 and absolute-form targets as Envoy’s HTTP/1 codec takes them', {
  timeout: 20_000,
}, () => {
  const fronts: { server: net.Server; hcm: HttpConnectionManager; sockets: Set<net.Socket> }[] = [];
  let app: http.Server;
  let clusters: ClusterManager;
  /** What reached the app: `<method> <url> <version> host=<Host>`. */
  const seen: string[] = [];

  before(async () => {
    app = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.httpVersion} host=${req.headers.host ?? '-'}`);
      res.end('app');
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    clusters = new ClusterManager(
      [staticCluster('app', (app.address() as net.AddressInfo).port, 'http1')],
      new StatsStore(),
    );
  });

  after(() => {
    for (const f of fronts) {
      f.hcm.close();
      for (const s of f.sockets) s.destroy();
      f.server.close();
    }
    clusters.close();
    app.closeAllConnections();
    app.close();
  });

  /**
   * A connection manager with `o` on its own port: virtual host `other` (other.example, other.example:8080 and
   * default.local) routes everything, the `*` one only /api.
   */
  async function front(o: Partial<HttpConnectionManagerConfig> = {}, tls = false) {
    const store = new StatsStore();
    const config = hcmConfig([route('api', '/api', 'app')], {
      codec: 'HTTP1',
      ...o,
    });
    config.virtualHosts = [
      {
        name: 'other',
        domains: ['other.example', 'other.example:8080', 'default.local'],
        routes: [route('other', '/', 'app')],
      },
      ...config.virtualHosts,
    ];
    const hcm = new HttpConnectionManager(config, clusters, store, silentLogger);
    const sockets = new Set<net.Socket>();
    const server = net.createServer({ pauseOnConnect: true }, (s) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      hcm.handle(s, { peer: undefined, tls });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    fronts.push({ server, hcm, sockets });
    const port = (server.address() as net.AddressInfo).port;
    const counter = (name: string) => store.counter(`http.inbound_0.0.0.0_9080.${name}`).value;
    /** Writes `text` on a connection the client never closes; resolves with the reply once the proxy closed it. */
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => s.write(Buffer.from(text, 'latin1')));
        let got = '';
        s.setEncoding('latin1');
        s.on('data', (d) => {
          got += d;
        });
        s.on('close', () => resolve(got));
        s.on('error', () => resolve(got));
      });
    return { port, counter, raw };
  }

  // A local reply: Envoy's connection manager gives it `server: envoy` (server_name's default), as every response.
  const UPGRADE_REQUIRED =
    'HTTP/1.1 426 Upgrade Required\r\ncontent-length: 16\r\ncontent-type: text/plain\r\nserver: envoy\r\nconnection: close\r\n\r\nUpgrade Required';

  it('HTTP/1.0 (and 0.9, and any version but 1.1) gets 426 Upgrade Required and the connection closes, by default', async () => {
    const f = await front();
    const reached = seen.length;
    for (const [i, request] of [
      'GET /api/old HTTP/1.0\r\n\r\n',
      'GET /api/old HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\nGET /api/next HTTP/1.1\r\nHost: a\r\n\r\n',
      'POST /api/old HTTP/1.0\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello',
      'GET /api/old HTTP/1.2\r\nHost: a\r\n\r\n',
      'GET /api/old\r\n',
    ].entries()) {
      assert.equal(await f.raw(request), UPGRADE_REQUIRED, request);
      assert.equal(f.counter('downstream_cx_protocol_error'), i + 1);
      assert.equal(f.counter('downstream_rq_4xx'), i + 1);
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen.length, reached, 'none reached the app');
  });

  it('accept_http_10: HTTP/1.0 is served and answered in HTTP/1.0 (keep-alive as before); without Host and default host, 400 missing_host_header', async () => {
    const f = await front({ acceptHttp10: true });
    const reached = seen.length;
    const served = await f.raw('GET /api/old HTTP/1.0\r\nHost: a\r\n\r\n');
    assert.match(served, /^HTTP\/1\.0 200 OK\r\n[\s\S]*connection: close\r\n\r\napp$/);
    assert.equal(seen.at(-1), 'GET /api/old 1.1 host=a');
    // An accepted HTTP/1.0 request that the codec refuses is answered in HTTP/1.0 too.
    assert.match(await f.raw('GET ftp://h/x HTTP/1.0\r\n\r\n'), /^HTTP\/1\.0 400 Bad Request\r\n/);
    const twice = await f.raw(
      'GET /api/one HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\nGET /api/two HTTP/1.0\r\nHost: a\r\n\r\n',
    );
    assert.equal(twice.match(/ 200 OK\r\n/g)?.length, 2, twice);
    const noHost = await f.raw('GET /api/nohost HTTP/1.0\r\n\r\nGET /api/after HTTP/1.0\r\nHost: a\r\n\r\n');
    assert.match(noHost, /^HTTP\/1\.0 400 Bad Request\r\n/);
    assert.match(noHost, /content-length: 0\r\n/);
    assert.match(noHost, /connection: close\r\n\r\n$/, 'a 400 local reply closes an HTTP/1 connection');
    assert.equal(seen.length, reached + 3);
    // The missing Host is the connection manager's local reply, not a protocol error (the ftp:// one is).
    assert.equal(f.counter('downstream_cx_protocol_error'), 1);
    assert.equal(f.counter('downstream_rq_4xx'), 2);
  });

  it('accept_http_10 with default_host_for_http_10: the default is the Host (and picks the virtual host)', async () => {
    const f = await front({ acceptHttp10: true, defaultHostForHttp10: 'default.local' });
    assert.match(await f.raw('GET /anything HTTP/1.0\r\n\r\n'), /^HTTP\/1\.0 200 OK\r\n/);
    assert.equal(seen.at(-1), 'GET /anything 1.1 host=default.local');
    // A request's own Host stays: `a` has only /api, so /anything is 404 NR.
    assert.match(await f.raw('GET /anything HTTP/1.0\r\nHost: a\r\n\r\n'), /^HTTP\/1\.0 404 Not Found\r\n/);
    // An HTTP/0.9 line has no fields: it gets the default host too.
    assert.match(await f.raw('GET /zero-nine\r\n'), /^HTTP\/1\.0 200 OK\r\n/);
    assert.equal(seen.at(-1), 'GET /zero-nine 1.1 host=default.local');
  });

  it('absolute form: :authority and :path from the URL, the Host header replaced, the virtual host the URL’s', async () => {
    const f = await front();
    const got = await f.raw(
      'GET http://other.example/x?y=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    assert.match(got, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\napp$/);
    assert.equal(seen.at(-1), 'GET /x?y=1 1.1 host=other.example');
    // No path: "/"; a port is part of the authority; no Host header needed.
    assert.match(
      await f.raw('GET http://other.example:8080 HTTP/1.1\r\nConnection: close\r\n\r\n'),
      /^HTTP\/1\.1 200 OK\r\n/,
    );
    assert.equal(seen.at(-1), 'GET / 1.1 host=other.example:8080');
    // https:// on plaintext is served without use_remote_address (a sidecar).
    assert.match(
      await f.raw('GET https://other.example/s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'),
      /^HTTP\/1\.1 200 OK\r\n/,
    );
    assert.equal(seen.at(-1), 'GET /s 1.1 host=other.example');
  });

  it('absolute form Envoy cannot take: 400 (invalid_url, invalid_scheme) as a protocol error; 403 for https on plaintext with use_remote_address', async () => {
    const f = await front();
    const reached = seen.length;
    for (const target of ['http://my_host/x', 'http://h:99999/', 'http:///x', 'ftp://other.example/x']) {
      const got = await f.raw(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`);
      assert.match(
        got,
        /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*connection: close\r\n\r\nBad Request$/,
        target,
      );
    }
    assert.equal(f.counter('downstream_cx_protocol_error'), 4);
    const gateway = await front({ useRemoteAddress: true });
    assert.match(
      await gateway.raw('GET https://other.example/s HTTP/1.1\r\nHost: a\r\n\r\n'),
      /^HTTP\/1\.1 403 Forbidden\r\n[\s\S]*\r\n\r\nForbidden$/,
    );
    assert.equal(gateway.counter('downstream_cx_protocol_error'), 1);
    assert.match(
      await gateway.raw('GET http://other.example/p HTTP/1.1\r\nConnection: close\r\n\r\n'),
      /^HTTP\/1\.1 200 OK\r\n/,
    );
    const tls = await front({ useRemoteAddress: true }, true);
    assert.match(
      await tls.raw('GET https://other.example/s HTTP/1.1\r\nConnection: close\r\n\r\n'),
      /^HTTP\/1\.1 200 OK\r\n/,
    );
    assert.equal(seen.length, reached + 2);
  });

  it('allow_absolute_url false: the target is the path, 404 absolute_path_rejected before routing; so is OPTIONS *', async () => {
    const f = await front({ allowAbsoluteUrl: false });
    const reached = seen.length;
    const got = await f.raw(
      'GET http://other.example/x HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n',
    );
    assert.match(got, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(got, /x-skiff-response-flags: -\r\n/, 'not NR: refused before the route');
    // Without Host nothing names the host: 400 missing_host_header, and the connection closes.
    assert.match(
      await f.raw('GET http://other.example/x HTTP/1.1\r\n\r\n'),
      /^HTTP\/1\.1 400 Bad Request\r\n/,
    );
    const options = await f.raw('OPTIONS * HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n');
    assert.match(options, /^HTTP\/1\.1 404 Not Found\r\n[\s\S]*x-skiff-response-flags: -\r\n/);
    assert.equal(f.counter('downstream_rq_non_relative_path'), 2);
    assert.equal(f.counter('no_route'), 0);
    assert.equal(f.counter('downstream_cx_protocol_error'), 0);
    assert.equal(seen.length, reached);
  });

  it('a query without a path (`http://h?q`) is :path `?q`: 404 absolute_path_rejected, as in Envoy', async () => {
    const f = await front();
    const got = await f.raw('GET http://other.example?q=1 HTTP/1.1\r\nConnection: close\r\n\r\n');
    assert.match(got, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.equal(f.counter('downstream_rq_non_relative_path'), 1);
  });
});
