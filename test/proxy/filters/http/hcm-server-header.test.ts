// server_name and server_header_transformation over real loopback connections, as Envoy's connection manager
// encodes every response's headers: OVERWRITE (the default, with server_name's default `envoy`) replaces the
// upstream's `server`, APPEND_IF_ABSENT keeps it and fills in the missing ones, PASS_THROUGH leaves it alone and
// adds none — on proxied responses and on the proxy's own replies (the router's and the HTTP/1.1 codec's), over
// HTTP/1.1 and HTTP/2, and on an upgrade's answer.

import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../../src/core/log.js';
import type { JsonObject } from '../../../../src/proxy/config/json.js';
import { HttpConnectionManager } from '../../../../src/proxy/filters/http/hcm.js';
import { StatsStore } from '../../../../src/proxy/stats/index.js';
import { ClusterManager } from '../../../../src/proxy/upstream/cluster.js';
import { hcmFilter, problems, translateEntry } from '../../config/fixtures.js';
import { portOf, staticCluster } from './helpers.js';

/** The routes: an HTTP/1.1 app with and without its own `server`, an HTTP/2 gRPC app, a missing cluster. */
const ROUTE_CONFIG: JsonObject = {
  name: 'r',
  validate_clusters: false,
  virtual_hosts: [
    {
      name: 'all',
      domains: ['*'],
      routes: [
        { match: { prefix: '/pkg.' }, route: { cluster: 'grpc' } },
        { match: { prefix: '/missing' }, route: { cluster: 'nope' } },
        { match: { prefix: '/app' }, route: { cluster: 'app' } },
      ],
    },
  ],
};

interface Reply {
  status: number;
  server: string | undefined;
}

describe('the server response header', { timeout: 30_000 }, () => {
  let app: http.Server;
  let grpc: http2.Http2Server;
  let clusters: ClusterManager;
  let store: StatsStore;
  const fronts: { server: net.Server; hcm: HttpConnectionManager }[] = [];
  const sockets = new Set<net.Socket>();

  before(async () => {
    app = http.createServer((req, res) => {
      req.resume();
      // Node's HTTP server sends no Server header of its own.
      if (req.url?.includes('with-server')) res.setHeader('Server', 'app/1.0');
      res.end('ok');
    });
    app.on('upgrade', (req, socket) => {
      if (req.url?.includes('refuse')) {
        socket.end('HTTP/1.1 403 Forbidden\r\nServer: app/1.0\r\ncontent-length: 2\r\n\r\nno');
        return;
      }
      const server = req.url?.includes('with-server') ? 'Server: app/1.0\r\n' : '';
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n${server}\r\nhi`,
      );
      socket.on('data', (d) => socket.write(`ws:${d}`));
    });
    grpc = http2.createServer();
    grpc.on('stream', (stream) => {
      // A gRPC error as a trailers-only response (one HEADERS frame with END_STREAM).
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', server: 'grpc-app' },
        { endStream: true },
      );
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => grpc.listen(0, '127.0.0.1', r));
    store = new StatsStore();
    clusters = new ClusterManager(
      [staticCluster('app', portOf(app), 'http1'), staticCluster('grpc', portOf(grpc), 'http2')],
      store,
    );
  });

  after(() => {
    for (const f of fronts) {
      f.hcm.close();
      f.server.close();
    }
    for (const s of sockets) s.destroy();
    app.closeAllConnections();
    app.close();
    grpc.close();
  });

  /** A connection manager translated from `fields` (server_name, server_header_transformation); its port. */
  async function front(fields: JsonObject): Promise<number> {
    const t = translateEntry(
      'envoy.filters.network',
      hcmFilter({ route_config: ROUTE_CONFIG, upgrade_configs: [{ upgrade_type: 'websocket' }], ...fields }),
    );
    assert.deepEqual(problems(t.diagnostics), []);
    assert.ok(t.value?.kind === 'http_connection_manager');
    const hcm = new HttpConnectionManager(t.value, clusters, store, silentLogger);
    const server = net.createServer({ pauseOnConnect: true }, (s) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      hcm.handle(s, { peer: undefined, tls: false });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    fronts.push({ server, hcm });
    return portOf(server);
  }

  function h1(port: number, p: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
        res.resume();
        const server = res.headers.server;
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, server: Array.isArray(server) ? server[0] : server }),
        );
      });
      req.on('error', reject);
      req.end();
    });
  }

  async function h2(port: number, p: string, headers: http2.OutgoingHttpHeaders = {}): Promise<Reply> {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      return await new Promise<Reply>((resolve, reject) => {
        const st = session.request({ ':path': p, ...headers });
        st.on('response', (h) => {
          const server = h.server;
          resolve({ status: Number(h[':status']), server: Array.isArray(server) ? server[0] : server });
        });
        st.on('error', reject);
        st.resume();
        st.end();
      });
    } finally {
      session.close();
    }
  }

  /** What `text` written on a new connection got back, up to the proxy's close (or `until` in it). */
  function raw(port: number, text: string, until?: string): Promise<string> {
    return new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => s.write(text));
      let got = '';
      s.setEncoding('latin1');
      s.on('data', (d) => {
        got += d;
        if (until !== undefined && got.includes(until)) s.destroy();
      });
      s.on('close', () => resolve(got));
      s.on('error', () => resolve(got));
    });
  }
  const serverOf = (head: string) => /\r\nserver: ([^\r]*)\r\n/i.exec(head)?.[1];

  const GRPC = { ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' };

  /** server_header_transformation → [with the upstream's `app/1.0`, upstream without one, the proxy's own reply]. */
  const modes: [string, JsonObject, [string | undefined, string | undefined, string | undefined]][] = [
    ['OVERWRITE by default, with server_name’s default', {}, ['envoy', 'envoy', 'envoy']],
    [
      'OVERWRITE with Istio’s inbound server_name',
      { server_name: 'istio-envoy' },
      ['istio-envoy', 'istio-envoy', 'istio-envoy'],
    ],
    [
      'APPEND_IF_ABSENT',
      { server_name: 'front', server_header_transformation: 'APPEND_IF_ABSENT' },
      ['app/1.0', 'front', 'front'],
    ],
    [
      'PASS_THROUGH',
      { server_name: 'front', server_header_transformation: 'PASS_THROUGH' },
      ['app/1.0', undefined, undefined],
    ],
  ];
  for (const [what, fields, [withServer, without, local]] of modes) {
    describe(what, () => {
      let port: number;
      before(async () => {
        port = await front(fields);
      });

      it('on proxied responses, over HTTP/1.1 and HTTP/2', async () => {
        for (const get of [h1, h2]) {
          assert.deepEqual(
            await get(port, '/app/with-server'),
            { status: 200, server: withServer },
            get.name,
          );
          assert.deepEqual(await get(port, '/app/plain'), { status: 200, server: without }, get.name);
        }
      });

      it('on a trailers-only gRPC response relayed over HTTP/2', async () => {
        const expected = withServer === 'app/1.0' ? 'grpc-app' : withServer;
        assert.deepEqual(await h2(port, '/pkg.Svc/Call', GRPC), { status: 200, server: expected });
      });

      it('on the router’s local replies (404 NR, 503 NC; a gRPC one too), over HTTP/1.1 and HTTP/2', async () => {
        for (const get of [h1, h2]) {
          assert.deepEqual(await get(port, '/nowhere'), { status: 404, server: local }, get.name);
          assert.deepEqual(await get(port, '/missing'), { status: 503, server: local }, get.name);
        }
        assert.deepEqual(await h2(port, '/missing', GRPC), { status: 200, server: local });
      });

      it('on the HTTP/1.1 codec’s own answers (400, 426)', async () => {
        const bad = await raw(
          port,
          'GET /app HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
        );
        assert.match(bad, /^HTTP\/1\.1 400 /);
        assert.equal(serverOf(bad), local);
        const old = await raw(port, 'GET /app HTTP/1.0\r\n\r\n');
        assert.match(old, /^HTTP\/1\.1 426 /);
        assert.equal(serverOf(old), local);
      });

      it('on an upgrade’s answer: the upstream’s 101 and refusal, and the proxy’s own 404', async () => {
        const upgrade = (p: string) =>
          `GET ${p} HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n`;
        const switched = await raw(port, upgrade('/app/ws-with-server'), '\r\n\r\nhi');
        assert.match(switched, /^HTTP\/1\.1 101 /);
        assert.equal(serverOf(switched), withServer);
        assert.ok(switched.endsWith('\r\n\r\nhi'), 'the bytes after the head are relayed as they came');
        assert.equal(serverOf(await raw(port, upgrade('/app/ws'), '\r\n\r\nhi')), without);
        const refused = await raw(port, upgrade('/app/refuse'));
        assert.match(refused, /^HTTP\/1\.1 403 [\s\S]*\r\n\r\nno$/);
        assert.equal(serverOf(refused), withServer);
        const nr = await raw(port, upgrade('/nowhere'));
        assert.match(nr, /^HTTP\/1\.1 404 /);
        assert.equal(serverOf(nr), local);
      });
    });
  }
});
