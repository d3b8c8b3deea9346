import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../../src/core/log.js';
import type { HttpConnectionManagerConfig, NodeInfo } from '../../../../src/proxy/config/model.js';
import { HttpConnectionManager } from '../../../../src/proxy/filters/http/hcm.js';
import { peek } from '../../../../src/proxy/listener/peek.js';
import { renderPrometheus, StatsStore } from '../../../../src/proxy/stats/index.js';
import { ProxyTelemetry } from '../../../../src/proxy/telemetry/context.js';
import { parseNodeMetadata } from '../../../../src/proxy/telemetry/workload.js';
import { ClusterManager } from '../../../../src/proxy/upstream/cluster.js';
import { SERVICE_B_CLUSTER_METADATA, SERVICE_B_NODE } from '../../telemetry/fixtures.js';
import { hcmConfig, portOf, route, staticCluster, until } from './helpers.js';

const STAT_PREFIX = 'inbound_0.0.0.0_9080';

function config(o: Partial<HttpConnectionManagerConfig> = {}): HttpConnectionManagerConfig {
  return hcmConfig(
    [
      route('h1', '/h1/', 'h1app'),
      route('h1close', '/h1close/', 'h1close'),
      route('h2', '/h2/', 'h2app'),
      route('h2close', '/h2close/', 'h2close'),
      route('ds', '/ds/', 'dsapp'),
      route('grpc', '/pkg.', 'h2app'),
      route('missing', '/missing-cluster', 'nope'),
      route('down', '/down', 'down'),
    ],
    o,
  );
}

interface H2Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
  trailers: http2.IncomingHttpHeaders | undefined;
  /** The response was one HEADERS frame with END_STREAM (trailers-only). */
  endedWithHeaders: boolean;
}

/** One request on an HTTP/2 client session; rejects after `ms` (the stream is then cancelled). */
function h2request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: string | Buffer,
  ms = 3000,
): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const st = session.request(headers, { endStream: body === undefined });
    let reply: H2Reply | undefined;
    let data = '';
    const timer = setTimeout(() => {
      st.close(http2.constants.NGHTTP2_CANCEL);
      reject(new Error(`no complete response within ${ms} ms`));
    }, ms);
    st.on('response', (h, flags: number) => {
      reply = {
        status: Number(h[':status']),
        headers: h,
        body: '',
        trailers: undefined,
        endedWithHeaders: (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0,
      };
    });
    st.on('trailers', (t) => {
      if (reply) reply.trailers = t;
    });
    st.setEncoding('utf8');
    st.on('data', (d: string) => {
      data += d;
    });
    st.on('end', () => {
      clearTimeout(timer);
      if (!reply) {
        reject(new Error('stream ended without a response'));
        return;
      }
      reply.body = data;
      resolve(reply);
    });
    st.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    if (body !== undefined) st.end(body);
  });
}

/** A request whose failure should read as one line: its reply, or the error. */
async function attempt(p: Promise<H2Reply>): Promise<H2Reply> {
  try {
    return await p;
  } catch (e) {
    assert.fail((e as Error).message);
  }
}

/** A gRPC message frame: uncompressed, 4-byte length, payload. */
function grpcFrame(payload: string): Buffer {
  const p = Buffer.from(payload);
  const b = Buffer.alloc(5 + p.length);
  b.writeUInt32BE(p.length, 1);
  p.copy(b, 5);
  return b;
}

/** The apps behind the proxy: one HTTP/1.1, one h2c. */
class Apps {
  h1!: http.Server;
  h2!: http2.Http2Server;
  deadPort = 0;
  readonly h1Seen: http.IncomingHttpHeaders[] = [];
  readonly h2Seen: http2.IncomingHttpHeaders[] = [];
  /** App-side sockets of the HTTP/1.1 requests under /h1close/ (the test closes them). */
  readonly h1Closeable = new Set<net.Socket>();
  private readonly h1Sockets = new Set<net.Socket>();
  private readonly h2Sockets = new Set<net.Socket>();

  async start(): Promise<void> {
    this.h1 = http.createServer((req, res) => {
      this.h1Seen.push(req.headers);
      if (req.url?.startsWith('/h1close/')) this.h1Closeable.add(req.socket);
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => {
        body += d;
      });
      req.on('end', () => {
        res.setHeader('x-app', 'h1');
        res.end(`h1 ${req.method} ${req.url} ${body}`);
      });
    });
    this.h1.on('connection', (s: net.Socket) => {
      this.h1Sockets.add(s);
      s.once('close', () => this.h1Sockets.delete(s));
    });
    this.h2 = http2.createServer();
    this.h2.on('connection', (s: net.Socket) => {
      this.h2Sockets.add(s);
      s.once('close', () => this.h2Sockets.delete(s));
    });
    this.h2.on('session', (s) => s.on('error', () => {}));
    this.h2.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      this.h2Seen.push(headers);
      const path = String(headers[':path']);
      if (path.startsWith('/h2/rst')) {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      if (path.startsWith('/h2close/close')) {
        // The TCP connection goes away (FIN) before any response.
        const port = stream.session?.socket.remotePort;
        for (const s of this.h2Sockets) if (s.remotePort === port) s.destroy();
        return;
      }
      let body = '';
      stream.setEncoding('latin1');
      stream.on('data', (d: string) => {
        body += d;
      });
      stream.on('end', () => {
        if (path.startsWith('/pkg.')) {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () =>
            stream.sendTrailers({ 'grpc-status': '7', 'grpc-message': 'denied' }),
          );
          stream.end(grpcFrame('reply'));
          return;
        }
        if (path.startsWith('/h2/trailers')) {
          stream.respond({ ':status': 200, 'x-app': 'h2' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc123' }));
          stream.end('body with trailers');
          return;
        }
        stream.respond({ ':status': 200, 'x-app': 'h2' });
        stream.end(`h2 ${headers[':method']} ${path} ${body}`);
      });
    });
    await new Promise<void>((r) => this.h1.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => this.h2.listen(0, '127.0.0.1', r));
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    this.deadPort = portOf(closed);
    await new Promise((r) => closed.close(r));
  }

  clusters(store: StatsStore, servicesMetadata = false): ClusterManager {
    const h1 = portOf(this.h1);
    const h2 = portOf(this.h2);
    return new ClusterManager(
      [
        staticCluster('h1app', h1, 'http1'),
        staticCluster('h1close', h1, 'http1'),
        staticCluster('h2app', h2, 'http2', {
          filterMetadata: servicesMetadata ? SERVICE_B_CLUSTER_METADATA : {},
        }),
        staticCluster('h2close', h2, 'http2'),
        staticCluster('dsapp', h2, 'downstream'),
        staticCluster('down', this.deadPort, 'http2'),
      ],
      store,
    );
  }

  stop(): void {
    for (const s of this.h1Sockets) s.destroy();
    for (const s of this.h2Sockets) s.destroy();
    this.h1.close();
    this.h2.close();
  }
}

/** The connection manager behind a `pauseOnConnect` listener, as the proxy's listener hands it sockets. */
class Front {
  server!: net.Server;
  port = 0;
  readonly store = new StatsStore();
  hcm!: HttpConnectionManager;
  private clusters!: ClusterManager;
  /** Downstream sockets handed to the HCM: destroyed at the end (clients keep idle connections open). */
  private readonly downstream = new Set<net.Socket>();
  private readonly sessions: http2.ClientHttp2Session[] = [];

  /**
   * `inspect`: the socket first goes through a listener filter's peek (as with http_inspector), which reads it and
   * leaves it paused with the bytes put back; otherwise it is handed over as accepted (no listener filter).
   */
  async start(
    apps: Apps,
    cfg: HttpConnectionManagerConfig,
    o: { telemetry?: (store: StatsStore) => () => ProxyTelemetry; inspect?: boolean } = {},
  ): Promise<this> {
    const telemetry = o.telemetry;
    this.clusters = apps.clusters(this.store, telemetry !== undefined);
    this.hcm = new HttpConnectionManager(
      cfg,
      this.clusters,
      this.store,
      silentLogger,
      telemetry?.(this.store),
    );
    this.server = net.createServer({ pauseOnConnect: true }, (s) => {
      this.downstream.add(s);
      s.once('close', () => this.downstream.delete(s));
      if (!o.inspect) {
        this.hcm.handle(s, { peer: undefined, tls: false });
        return;
      }
      void peek(s, (bytes) => bytes.length > 0, 0).then(({ end }) => {
        if (end === 'decided') this.hcm.handle(s, { peer: undefined, tls: false });
        else s.destroy();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = portOf(this.server);
    return this;
  }

  /** An h2c client with prior knowledge, closed in stop(). */
  async client(): Promise<http2.ClientHttp2Session> {
    const session = http2.connect(`http://127.0.0.1:${this.port}`);
    session.on('error', () => {});
    this.sessions.push(session);
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
    return session;
  }

  counter(name: string): number {
    return this.store.counter(`http.${STAT_PREFIX}.${name}`).value;
  }

  stop(): void {
    for (const s of this.sessions) s.destroy();
    this.hcm.close();
    this.clusters.close();
    for (const s of this.downstream) s.destroy();
    this.server.close();
  }
}

const GRPC_HEADERS = { 'content-type': 'application/grpc', te: 'trailers' };

describe('http_connection_manager over HTTP/2 (h2c)', { timeout: 30_000 }, () => {
  const apps = new Apps();
  const fronts: Record<'AUTO' | 'HTTP2', Front> = {} as Record<'AUTO' | 'HTTP2', Front>;

  before(async () => {
    await apps.start();
    fronts.AUTO = await new Front().start(apps, config({ codec: 'AUTO' }));
    // Codec HTTP2 behind a listener filter: a socket handed over as accepted is never read (see the regression test below).
    fronts.HTTP2 = await new Front().start(apps, config({ codec: 'HTTP2' }), { inspect: true });
  });

  after(() => {
    for (const f of Object.values(fronts)) f.stop();
    apps.stop();
  });

  for (const codec of ['AUTO', 'HTTP2'] as const) {
    describe(`codec ${codec}`, () => {
      let client: http2.ClientHttp2Session;
      before(async () => {
        client = await fronts[codec].client();
      });

      for (const [upstream, path, app] of [
        ['an HTTP/1.1 app', '/h1/', 'h1'],
        ['an h2c app (cluster http2)', '/h2/', 'h2'],
        ["an h2c app (cluster 'downstream')", '/ds/', 'h2'],
      ] as const) {
        it(`relays GET and POST with a body to ${upstream}`, async () => {
          const get = await h2request(client, { ':method': 'GET', ':path': `${path}get?x=1` });
          assert.equal(get.status, 200);
          assert.equal(get.body, `${app} GET ${path}get?x=1 `);
          assert.equal(get.headers['x-app'], app);
          const post = await h2request(
            client,
            { ':method': 'POST', ':path': `${path}post`, 'content-type': 'text/plain', 'x-custom': 'kept' },
            'hello body',
          );
          assert.equal(post.status, 200);
          assert.equal(post.body, `${app} POST ${path}post hello body`);
          const seen = (app === 'h1' ? apps.h1Seen : apps.h2Seen).at(-1);
          assert.equal(seen?.['x-custom'], 'kept');
          assert.equal(seen?.['x-forwarded-proto'], 'http');
          assert.match(String(seen?.['x-request-id']), /^[0-9a-f-]{36}$/);
          if (app === 'h1') assert.equal(seen?.host, `127.0.0.1:${fronts[codec].port}`);
          else assert.equal(seen?.[':authority'], `127.0.0.1:${fronts[codec].port}`);
        });
      }

      it('relays the response trailers of an h2c app to the HTTP/2 client', async () => {
        const r = await h2request(client, { ':method': 'GET', ':path': '/h2/trailers' });
        assert.equal(r.status, 200);
        assert.equal(r.body, 'body with trailers');
        assert.equal(r.trailers?.['x-checksum'], 'abc123');
      });

      it('relays a gRPC call end to end: body, then grpc-status in the trailers', async () => {
        const r = await h2request(
          client,
          { ':method': 'POST', ':path': '/pkg.Svc/Method', ...GRPC_HEADERS },
          grpcFrame('request'),
        );
        assert.equal(r.status, 200);
        assert.equal(r.headers['content-type'], 'application/grpc');
        assert.equal(Buffer.from(r.body, 'utf8').subarray(5).toString(), 'reply');
        assert.equal(r.trailers?.['grpc-status'], '7');
        assert.equal(r.trailers?.['grpc-message'], 'denied');
        assert.equal(apps.h2Seen.at(-1)?.te, 'trailers', 'te: trailers is forwarded');
      });

      it('answers gRPC requests with gRPC local replies: no cluster → grpc-status 14 NC, no route → 12 NR', async () => {
        const nc = await h2request(
          client,
          { ':method': 'POST', ':path': '/missing-cluster', ...GRPC_HEADERS },
          grpcFrame('x'),
        );
        assert.equal(nc.status, 200);
        assert.equal(nc.headers['content-type'], 'application/grpc');
        assert.equal(nc.headers['grpc-status'], '14');
        assert.equal(nc.headers['grpc-message'], 'no%20healthy%20upstream');
        assert.equal(nc.headers['x-skiff-response-flags'], 'NC');
        assert.equal(nc.body, '');
        const nr = await h2request(
          client,
          { ':method': 'POST', ':path': '/nothing', ...GRPC_HEADERS },
          grpcFrame('x'),
        );
        assert.equal(nr.status, 200);
        assert.equal(nr.headers['grpc-status'], '12');
        assert.equal(nr.headers['x-skiff-response-flags'], 'NR');
      });

      it('answers plain HTTP/2 requests with HTTP local replies: 404 NR, 503 NC', async () => {
        const nr = await h2request(client, { ':method': 'GET', ':path': '/nothing' });
        assert.equal(nr.status, 404);
        assert.equal(nr.headers['x-skiff-response-flags'], 'NR');
        const nc = await h2request(client, { ':method': 'GET', ':path': '/missing-cluster' });
        assert.equal(nc.status, 503);
        assert.equal(nc.body, 'no healthy upstream');
        assert.equal(nc.headers['x-skiff-response-flags'], 'NC');
      });

      it('an upstream RST_STREAM before the headers → 503 UR', async () => {
        const r = await h2request(client, { ':method': 'GET', ':path': '/h2/rst' });
        assert.equal(r.status, 503);
        assert.equal(r.headers['x-skiff-response-flags'], 'UR');
        assert.equal(
          r.body,
          'upstream connect error or disconnect/reset before headers. reset reason: remote reset',
        );
        // The session to the app survives the stream reset.
        assert.equal((await h2request(client, { ':method': 'GET', ':path': '/h2/after-rst' })).status, 200);
      });

      it('upstream connect refused → 503 UF', async () => {
        const r = await h2request(client, { ':method': 'GET', ':path': '/down' });
        assert.equal(r.status, 503);
        assert.equal(r.headers['x-skiff-response-flags'], 'UF');
        assert.match(r.body, /reset reason: connection failure, transport failure reason: .*ECONNREFUSED/);
      });

      it('counts HTTP/2 connections and requests', () => {
        const f = fronts[codec];
        assert.ok(f.counter('downstream_cx_http2_total') >= 1);
        assert.equal(f.counter('downstream_cx_http1_total'), 0);
        assert.equal(f.counter('downstream_rq_http2_total'), f.counter('downstream_rq_total'));
        assert.ok(f.counter('downstream_rq_http2_total') >= 10);
        assert.equal(f.counter('downstream_rq_http1_total'), 0);
        assert.equal(f.counter('no_route'), 2);
        assert.equal(f.counter('no_cluster'), 2);
      });
    });
  }

  it('a garbage frame after the preface closes the connection, counts a protocol error, and the HCM keeps serving', async () => {
    for (const codec of ['AUTO', 'HTTP2'] as const) {
      const f = fronts[codec];
      const errorsBefore = f.counter('downstream_cx_protocol_error');
      const outcome = await new Promise<{ closed: boolean; received: Buffer }>((resolve) => {
        const chunks: Buffer[] = [];
        const s = net.connect({ host: '127.0.0.1', port: f.port }, () => {
          s.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
          // Not the SETTINGS frame the preface must be followed by: a 9-byte header announcing a 32-byte frame of
          // unknown type 0xfe on stream 0x7fffffff, then junk.
          s.write(Buffer.from('000020fe007fffffff', 'hex'));
          s.write(Buffer.from('this is not an HTTP/2 frame, not at all'));
        });
        const timer = setTimeout(() => {
          s.destroy();
          resolve({ closed: false, received: Buffer.concat(chunks) });
        }, 2000);
        s.on('data', (d: Buffer) => chunks.push(d));
        s.on('error', () => {});
        s.on('close', () => {
          clearTimeout(timer);
          resolve({ closed: true, received: Buffer.concat(chunks) });
        });
      });
      assert.ok(outcome.closed, `${codec}: the HCM closes the connection`);
      // What came back: the server's SETTINGS, maybe a GOAWAY (type 7) before the close.
      const types: number[] = [];
      const r = outcome.received;
      for (let at = 0; at + 9 <= r.length; at += 9 + r.readUIntBE(at, 3)) types.push(r[at + 3] ?? -1);
      assert.ok(
        types.every((t) => t === 0x04 || t === 0x07),
        `${codec}: only SETTINGS and GOAWAY frames (got ${types.join(',')})`,
      );
      await until(
        () => f.counter('downstream_cx_protocol_error') > errorsBefore,
        'the protocol error counter',
      );
      assert.equal(f.counter('downstream_cx_protocol_error'), errorsBefore + 1);
      const client = await f.client();
      assert.equal((await h2request(client, { ':method': 'GET', ':path': '/h2/after-garbage' })).status, 200);
    }
  });

  it('codec AUTO still serves an HTTP/1.1 client (the preface decides)', async () => {
    const f = fronts.AUTO;
    const before = f.counter('downstream_cx_http1_total');
    const res = await fetch(`http://127.0.0.1:${f.port}/h1/from-http1`, { method: 'POST', body: 'abc' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'h1 POST /h1/from-http1 abc');
    const h2 = await fetch(`http://127.0.0.1:${f.port}/h2/from-http1`);
    assert.equal(await h2.text(), 'h2 GET /h2/from-http1 ', 'an HTTP/1.1 client to an h2c app');
    // fetch may open a second connection while the first one is being returned to its pool.
    assert.ok(f.counter('downstream_cx_http1_total') > before);
    assert.ok(f.counter('downstream_rq_http1_total') >= 2);
  });

  it('a #fragment in :path is refused with 400 (Envoy http_reject_path_with_fragment) and never reaches the app', async () => {
    const f = fronts.AUTO;
    const before = f.counter('downstream_rq_failed_path_normalization');
    const seen = apps.h1Seen.length;
    const client = await f.client();
    const r = await h2request(client, { ':method': 'GET', ':path': '/h1/a#frag' });
    assert.equal(r.status, 400);
    assert.equal(f.counter('downstream_rq_failed_path_normalization'), before + 1);
    assert.equal(apps.h1Seen.length, seen);
    assert.equal((await h2request(client, { ':method': 'GET', ':path': '/h1/after' })).status, 200);
  });

  it('CONNECT over HTTP/2: 404 NR as Envoy without CONNECT support (not Node’s own 405)', async () => {
    const client = await fronts.AUTO.client();
    const st = client.request({ ':method': 'CONNECT', ':authority': 'h1app:443' });
    const status = await new Promise<number>((resolve, reject) => {
      st.on('response', (h) => resolve(Number(h[':status'])));
      st.on('error', reject);
    });
    st.close();
    assert.equal(status, 404);
  });

  // Regression (found by this test, fixed): with codec HTTP2, handle() gives the socket to Node's HTTP/2 server as the listener accepted it, paused by
  // pauseOnConnect and never read. Node's HTTP/2 session does not start reading a paused socket: the connection
  // hangs. It works only when a listener filter (tls_inspector, http_inspector) peeked first, and with codec AUTO
  // (which peeks itself).
  it('codec HTTP2 serves a plaintext connection handed over as accepted (no listener filter read it first)', {}, async () => {
    const f = await new Front().start(apps, config({ codec: 'HTTP2' }));
    try {
      const client = await f.client();
      const r = await attempt(
        h2request(client, { ':method': 'GET', ':path': '/h2/uninspected' }, undefined, 500),
      );
      assert.ok(r.status === 200, `got ${r.status}`);
    } finally {
      f.stop();
    }
  });

  // Regression (found by this test, fixed in upstream.ts): the HTTP/2 pool never notices an upstream FIN; downstream, the
  // request hangs until the route timeout (none here) instead of a 503 UC.
  it('an h2c app that closes its connection (FIN) before the headers → 503 UC', {}, async () => {
    const client = await fronts.AUTO.client();
    const r = await attempt(
      h2request(client, { ':method': 'GET', ':path': '/h2close/close' }, undefined, 500),
    );
    assert.ok(r.status === 503 && r.headers['x-skiff-response-flags'] === 'UC', `got ${r.status}`);
  });

  // Regression (found by this test, fixed in upstream.ts): the HTTP/1.1 pool reuses an idle socket the app closed; the request
  // written on it hangs.
  it('after the HTTP/1.1 app closed an idle keep-alive connection, the next request is served', {}, async () => {
    const client = await fronts.AUTO.client();
    assert.equal((await h2request(client, { ':method': 'GET', ':path': '/h1close/first' })).status, 200);
    await new Promise((r) => setTimeout(r, 20));
    for (const s of apps.h1Closeable) s.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const r = await attempt(
      h2request(client, { ':method': 'GET', ':path': '/h1close/second' }, undefined, 500),
    );
    assert.ok(r.status === 200, `got ${r.status}`);
  });
});

/** Service B's node, as the bootstrap would give it. */
function nodeB(): NodeInfo {
  return {
    id: 'sidecar~10.0.0.2~service-b-5c8b6-fghij.shop~shop.svc.cluster.local',
    cluster: 'service-b.shop',
    metadata: SERVICE_B_NODE,
    parsed: parseNodeMetadata(SERVICE_B_NODE),
    namespace: 'shop',
    serviceAccount: 'service-b',
    workloadName: 'service-b',
    labels: SERVICE_B_NODE.LABELS,
  };
}

const DEST_PLAINTEXT_UNKNOWN_SOURCE =
  'reporter="destination",source_workload="unknown",source_canonical_service="unknown",' +
  'source_canonical_revision="latest",source_workload_namespace="unknown",source_principal="unknown",' +
  'source_app="unknown",source_version="unknown",source_cluster="unknown",destination_workload="service-b",' +
  'destination_workload_namespace="shop",destination_principal="unknown",destination_app="service-b",' +
  'destination_version="v1",destination_service="service-b.shop.svc.cluster.local",' +
  'destination_canonical_service="service-b",destination_canonical_revision="v1",' +
  'destination_service_name="service-b",destination_service_namespace="shop",destination_cluster="Kubernetes"';

describe('http_connection_manager over HTTP/2 with istio.stats (reporter destination)', {
  timeout: 20_000,
}, () => {
  const apps = new Apps();
  let front: Front;
  let client: http2.ClientHttp2Session;

  before(async () => {
    await apps.start();
    front = await new Front().start(
      apps,
      config({
        istioStats: { reporter: 'destination', tcpReportingMs: 5000, disableHostHeaderFallback: false },
      }),
      { telemetry: (store) => () => new ProxyTelemetry(store, nodeB()) },
    );
    client = await front.client();
  });

  after(() => {
    front.stop();
    apps.stop();
  });

  const requestLines = () =>
    renderPrometheus(front.store)
      .split('\n')
      .filter((l) => l.startsWith('istio_requests_total{'));

  it('records one h2c request: plaintext, unknown source, request_protocol="http"', async () => {
    const r = await h2request(client, { ':method': 'GET', ':path': '/h2/metrics' });
    assert.equal(r.status, 200);
    const expected = `istio_requests_total{${DEST_PLAINTEXT_UNKNOWN_SOURCE},request_protocol="http",response_code="200",grpc_response_status="",response_flags="-",connection_security_policy="none"} 1`;
    await until(() => requestLines().length > 0, 'the request to be recorded');
    assert.deepEqual(requestLines(), [expected]);
  });

  it('records a gRPC call with grpc_response_status from the response trailers', async () => {
    const r = await h2request(
      client,
      { ':method': 'POST', ':path': '/pkg.Svc/Method', ...GRPC_HEADERS },
      grpcFrame('request'),
    );
    assert.equal(r.trailers?.['grpc-status'], '7');
    const expected = `istio_requests_total{${DEST_PLAINTEXT_UNKNOWN_SOURCE},request_protocol="grpc",response_code="200",grpc_response_status="7",response_flags="-",connection_security_policy="none"} 1`;
    await until(() => requestLines().length > 1, 'the gRPC call to be recorded');
    assert.ok(requestLines().includes(expected), requestLines().join('\n'));
    assert.equal(requestLines().length, 2);
  });
});

describe('an HTTP/2 client that half-closes', { timeout: 15_000 }, () => {
  it('is closed (a remote close, as in Envoy), not kept in CLOSE-WAIT on a half-open listener socket', async () => {
    const store = new StatsStore();
    const hcm = new HttpConnectionManager(
      hcmConfig([route('all', '/', 'app')], { codec: 'AUTO' }),
      new ClusterManager([], store),
      store,
      silentLogger,
    );
    const accepted: net.Socket[] = [];
    // The listener's own options: half-open connections allowed (tcp_proxy relays half-closes).
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => {
      accepted.push(s);
      hcm.handle(s, { peer: undefined, tls: false });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const client = net.connect({ port: portOf(server), host: '127.0.0.1', allowHalfOpen: true });
      client.on('error', () => {});
      await new Promise((r) => client.once('connect', r));
      // The preface and an empty SETTINGS frame, then FIN.
      client.end(
        Buffer.concat([
          Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
          Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
        ]),
      );
      client.resume();
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error('the proxy kept the half-closed HTTP/2 connection')),
          5000,
        );
        client.once('close', () => {
          clearTimeout(t);
          resolve();
        });
      });
      await until(() => accepted.every((s) => s.destroyed), 'the accepted socket to be destroyed');
    } finally {
      hcm.close();
      for (const s of accepted) s.destroy();
      server.close();
    }
  });
});

describe('an HTTP/2 client whose frames nghttp2 refuses', { timeout: 15_000 }, () => {
  it('gets a GOAWAY and its connection closed, counted as a protocol error (Node alone kept it open)', async () => {
    const store = new StatsStore();
    const hcm = new HttpConnectionManager(
      hcmConfig([route('all', '/', 'app')], { codec: 'AUTO' }),
      new ClusterManager([], store),
      store,
      silentLogger,
    );
    const accepted: net.Socket[] = [];
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => {
      accepted.push(s);
      hcm.handle(s, { peer: undefined, tls: false });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const client = net.connect({ port: portOf(server), host: '127.0.0.1' });
      client.on('error', () => {});
      client.resume();
      await new Promise((r) => client.once('connect', r));
      // The preface, then a frame header whose length is over SETTINGS_MAX_FRAME_SIZE; the client never closes.
      client.write(
        Buffer.concat([
          Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
          Buffer.from('c53e1b04e211a349e8', 'hex'),
        ]),
      );
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('the proxy kept the connection after its GOAWAY')), 5000);
        client.once('close', () => {
          clearTimeout(t);
          resolve();
        });
      });
      await until(() => accepted.every((s) => s.destroyed), 'the accepted socket to be destroyed');
      assert.equal(store.counter('http.inbound_0.0.0.0_9080.downstream_cx_protocol_error').value, 1);
    } finally {
      hcm.close();
      for (const s of accepted) s.destroy();
      server.close();
    }
  });
});
