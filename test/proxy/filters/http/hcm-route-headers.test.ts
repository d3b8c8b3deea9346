// Route header matchers on the pseudo-headers, over real loopback connections: Envoy matches headers on its
// HTTP/2-style header map, for HTTP/1.1 requests too, so Istio's VirtualService `method`, `authority` and `scheme`
// matches (`:method`, `:authority`, `:scheme`) and a `:path` matcher hold over HTTP/1.1 as over HTTP/2, in
// plaintext and over TLS; `host` is the authority under its legacy name, as Envoy's header map files it.

import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { silentLogger } from '../../../../src/core/log.js';
import type { JsonObject } from '../../../../src/proxy/config/json.js';
import { translateRouteConfiguration } from '../../../../src/proxy/config/resources/route.js';
import { HttpConnectionManager } from '../../../../src/proxy/filters/http/hcm.js';
import { StatsStore } from '../../../../src/proxy/stats/index.js';
import { ClusterManager } from '../../../../src/proxy/upstream/cluster.js';
import { context, problems } from '../../config/fixtures.js';
import { issue, makeCa } from '../../pki.js';
import { hcmConfig, portOf, staticCluster } from './helpers.js';

/** The routes as Istio writes a VirtualService's matches (each to a cluster named after what it matched). */
const ROUTES: { match: JsonObject; to: string }[] = [
  { match: { prefix: '/m', headers: [{ name: ':method', string_match: { exact: 'POST' } }] }, to: 'post' },
  { match: { prefix: '/m', headers: [{ name: ':method', exact_match: 'GET' }] }, to: 'get' },
  {
    match: { prefix: '/a', headers: [{ name: ':authority', string_match: { exact: 'reviews:9080' } }] },
    to: 'authority',
  },
  {
    match: { prefix: '/h', headers: [{ name: 'host', string_match: { prefix: 'reviews' } }] },
    to: 'host',
  },
  { match: { prefix: '/s', headers: [{ name: ':scheme', string_match: { exact: 'https' } }] }, to: 'https' },
  { match: { prefix: '/s', headers: [{ name: ':scheme', string_match: { exact: 'http' } }] }, to: 'http' },
  {
    match: {
      prefix: '/p',
      headers: [{ name: ':path', string_match: { safe_regex: { regex: '/p/v[0-9]+\\?x=1' } } }],
    },
    to: 'path',
  },
  {
    match: {
      prefix: '/n',
      headers: [{ name: ':method', string_match: { exact: 'GET' } }, { name: ':authority' }],
    },
    to: 'get-with-authority',
  },
  { match: { prefix: '/' }, to: 'none' },
];
const CLUSTERS = [...new Set(ROUTES.map((r) => r.to))];

describe('route header matchers on pseudo-headers', { timeout: 30_000 }, () => {
  const apps: http.Server[] = [];
  const fronts: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  let hcm: HttpConnectionManager;
  let plain: number;
  let secure: number;

  before(async () => {
    const clusters = [];
    for (const name of CLUSTERS) {
      const app = http.createServer((req, res) => {
        req.resume();
        res.end(name);
      });
      await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
      apps.push(app);
      clusters.push(staticCluster(name, portOf(app), 'http1'));
    }
    const ctx = context();
    const table = translateRouteConfiguration(
      {
        name: 'r',
        virtual_hosts: [
          {
            name: 'all',
            domains: ['*'],
            routes: ROUTES.map((r, i) => ({ name: `r${i}`, match: r.match, route: { cluster: r.to } })),
          },
        ],
      },
      [],
      'rds',
      ctx,
    );
    assert.deepEqual(problems(ctx.diagnostics), []);
    const store = new StatsStore();
    hcm = new HttpConnectionManager(
      hcmConfig(table.virtualHosts[0]?.routes ?? []),
      new ClusterManager(clusters, store),
      store,
      silentLogger,
    );
    const track = (s: net.Socket) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    };
    const front = net.createServer({ pauseOnConnect: true }, (s) => {
      track(s);
      hcm.handle(s, { peer: undefined, tls: false });
    });
    const { ca: authority } = await makeCa();
    const id = await issue(authority, 'default', 'front');
    const tlsFront = tls.createServer(
      { cert: id.chain, key: id.key, ALPNProtocols: ['h2', 'http/1.1'] },
      (s) => {
        track(s);
        hcm.handle(s, { peer: undefined, tls: true });
      },
    );
    for (const f of [front, tlsFront]) {
      await new Promise<void>((r) => f.listen(0, '127.0.0.1', r));
      fronts.push(f);
    }
    plain = portOf(front);
    secure = portOf(tlsFront);
  });

  after(() => {
    hcm.close();
    for (const s of sockets) s.destroy();
    for (const f of fronts) f.close();
    for (const a of apps) {
      a.closeAllConnections();
      a.close();
    }
  });

  /** One HTTP/1.1 request written as is; the body of the answer (the cluster's name). */
  function h1(head: string, secureFront = false): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = secureFront
        ? tls.connect({
            host: '127.0.0.1',
            port: secure,
            rejectUnauthorized: false,
            ALPNProtocols: ['http/1.1'],
          })
        : net.connect({ host: '127.0.0.1', port: plain });
      let got = '';
      s.setEncoding('latin1');
      s.on(secureFront ? 'secureConnect' : 'connect', () => s.write(`${head}\r\nConnection: close\r\n\r\n`));
      s.on('data', (d) => {
        got += d;
      });
      s.on('error', reject);
      s.on('close', () => {
        const status = got.slice(9, 12);
        resolve(status === '200' ? got.slice(got.indexOf('\r\n\r\n') + 4) : `status ${status}`);
      });
    });
  }

  /** One HTTP/2 request with `headers`; the body of the answer. */
  async function h2(headers: http2.OutgoingHttpHeaders, secureFront = false): Promise<string> {
    const session = secureFront
      ? http2.connect(`https://127.0.0.1:${secure}`, { rejectUnauthorized: false })
      : http2.connect(`http://127.0.0.1:${plain}`);
    try {
      return await new Promise<string>((resolve, reject) => {
        const st = session.request(headers);
        let body = '';
        st.setEncoding('utf8');
        st.on('data', (d: string) => {
          body += d;
        });
        st.on('end', () => resolve(body));
        st.on('error', reject);
        st.end();
      });
    } finally {
      session.close();
    }
  }

  const cases: [string, string, http2.OutgoingHttpHeaders, string][] = [
    [
      '`:method` POST',
      'POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: 0',
      { ':method': 'POST', ':path': '/m' },
      'post',
    ],
    ['`:method` GET (deprecated exact_match)', 'GET /m HTTP/1.1\r\nHost: x', { ':path': '/m' }, 'get'],
    [
      '`:method` that no route matches',
      'PUT /m HTTP/1.1\r\nHost: x\r\nContent-Length: 0',
      { ':method': 'PUT', ':path': '/m' },
      'none',
    ],
    [
      '`:authority` from Host',
      'GET /a HTTP/1.1\r\nHost: reviews:9080',
      { ':path': '/a', ':authority': 'reviews:9080' },
      'authority',
    ],
    [
      '`:authority` that differs',
      'GET /a HTTP/1.1\r\nHost: reviews',
      { ':path': '/a', ':authority': 'reviews' },
      'none',
    ],
    [
      '`host`, the authority’s legacy name',
      'GET /h HTTP/1.1\r\nHost: reviews.prod',
      { ':path': '/h', ':authority': 'reviews.prod' },
      'host',
    ],
    ['`:scheme` of a plaintext connection', 'GET /s HTTP/1.1\r\nHost: x', { ':path': '/s' }, 'http'],
    ['`:path` with its query', 'GET /p/v2?x=1 HTTP/1.1\r\nHost: x', { ':path': '/p/v2?x=1' }, 'path'],
    [
      '`:path` that differs in its query',
      'GET /p/v2?x=2 HTTP/1.1\r\nHost: x',
      { ':path': '/p/v2?x=2' },
      'none',
    ],
    [
      'two pseudo-headers together (and a presence match)',
      'GET /n HTTP/1.1\r\nHost: x',
      { ':path': '/n' },
      'get-with-authority',
    ],
  ];
  for (const [what, head, headers, cluster] of cases) {
    it(`${what} → ${cluster}, over HTTP/1.1 and HTTP/2`, async () => {
      assert.equal(await h1(head), cluster, 'HTTP/1.1');
      assert.equal(await h2(headers), cluster, 'HTTP/2');
    });
  }

  it('`:scheme` over TLS is https, over HTTP/1.1 and HTTP/2', async () => {
    assert.equal(await h1('GET /s HTTP/1.1\r\nHost: x', true), 'https');
    assert.equal(await h2({ ':path': '/s' }, true), 'https');
    assert.equal(
      await new Promise<string>((resolve, reject) => {
        const req = https.request(
          { host: '127.0.0.1', port: secure, path: '/s', rejectUnauthorized: false, agent: false },
          (res) => {
            let body = '';
            res.on('data', (d) => {
              body += d;
            });
            res.on('end', () => resolve(body));
          },
        );
        req.on('error', reject);
        req.end();
      }),
      'https',
      'a plain https client',
    );
  });

  it('`:scheme` is an absolute-form target’s (HTTP/1.1) and the request’s own (HTTP/2)', async () => {
    assert.equal(await h1('GET https://reviews:9080/s HTTP/1.1\r\nHost: other'), 'https');
    assert.equal(await h1('GET http://reviews:9080/s HTTP/1.1', true), 'http');
    assert.equal(await h2({ ':path': '/s', ':scheme': 'https' }), 'https');
  });

  it('`:authority` is an absolute-form target’s host (HTTP/1.1), which replaces Host', async () => {
    assert.equal(await h1('GET http://reviews:9080/a HTTP/1.1\r\nHost: other'), 'authority');
    assert.equal(await h1('GET http://reviews.prod/h HTTP/1.1'), 'host');
  });
});
