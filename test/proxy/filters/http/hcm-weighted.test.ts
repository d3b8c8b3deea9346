// A route's weighted_clusters in the router, over real loopback connections: one cluster picked per request in
// proportion to its weight (HTTP/1.1 and HTTP/2), a weight of 0 never, the retries of a request on the cluster it
// was given, a missing cluster as 503 NC, an upgrade to the picked cluster; and the picked cluster is the one the
// access log, the cluster statistics and Istio's destination_service name.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../../src/core/log.js';
import { compileFormat } from '../../../../src/proxy/access-log/format.js';
import { AccessLogWriters } from '../../../../src/proxy/access-log/writer.js';
import type {
  NodeInfo,
  RetryPolicyConfig,
  RouteActionConfig,
  WeightedClustersConfig,
} from '../../../../src/proxy/config/model.js';
import { HttpConnectionManager } from '../../../../src/proxy/filters/http/hcm.js';
import { renderPrometheus, StatsStore } from '../../../../src/proxy/stats/index.js';
import { ProxyTelemetry } from '../../../../src/proxy/telemetry/context.js';
import { parseNodeMetadata } from '../../../../src/proxy/telemetry/workload.js';
import { ClusterManager } from '../../../../src/proxy/upstream/cluster.js';
import { SERVICE_A_NODE } from '../../telemetry/fixtures.js';
import { hcmConfig, portOf, route, staticCluster, until } from './helpers.js';

const APPS = ['a', 'b', 'c'] as const;
type App = (typeof APPS)[number];

const split = (...weights: [string, number][]): WeightedClustersConfig => ({
  clusters: weights.map(([name, weight]) => ({ name, weight })),
  totalWeight: weights.reduce((n, [, w]) => n + w, 0),
});

/** A route on `prefix` whose action is `weightedClusters` (no single cluster). */
function weightedRoute(prefix: string, w: WeightedClustersConfig, extra: Partial<RouteActionConfig> = {}) {
  const r = route(prefix.slice(1), prefix, '');
  return { ...r, action: { ...r.action, weightedClusters: w, ...extra } };
}

const RETRY_5XX: RetryPolicyConfig = {
  retryOn: new Set(['5xx']),
  numRetries: 2,
  perTryTimeoutMs: 0,
  retriableStatusCodes: [],
  previousHosts: false,
  hostSelectionMaxAttempts: 1,
  backOffBaseMs: 1,
  backOffMaxMs: 2,
};

function nodeA(): NodeInfo {
  return {
    id: 'sidecar~10.0.0.1~service-a-1.shop~shop.svc.cluster.local',
    cluster: 'service-a.shop',
    metadata: SERVICE_A_NODE,
    parsed: parseNodeMetadata(SERVICE_A_NODE),
    namespace: 'shop',
    serviceAccount: 'service-a',
    workloadName: 'service-a',
    labels: SERVICE_A_NODE.LABELS,
  };
}

describe('weighted clusters in the router', { timeout: 60_000 }, () => {
  const apps = new Map<App, http.Server>();
  /** Every request an app saw: its path and x-request-id, attempts included. */
  const seen: { app: App; path: string; id: string }[] = [];
  let front: net.Server;
  let port: number;
  let store: StatsStore;
  let hcm: HttpConnectionManager;
  let writers: AccessLogWriters;
  let dir: string;
  let logFile: string;
  const downstream = new Set<net.Socket>();

  before(async () => {
    for (const name of APPS) {
      const app = http.createServer((req, res) => {
        const p = req.url ?? '';
        seen.push({ app: name, path: p, id: String(req.headers['x-request-id']) });
        req.resume();
        req.on('end', () => {
          res.writeHead(p.startsWith('/retry') ? 503 : 200);
          res.end(name);
        });
      });
      app.on('upgrade', (_req, socket) => {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
        socket.on('data', (d) => socket.write(`${name}:${d}`));
      });
      await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
      apps.set(name, app);
    }
    store = new StatsStore();
    const clusters = new ClusterManager(
      APPS.map((name) =>
        staticCluster(name, portOf(apps.get(name) as http.Server), 'http1', {
          filterMetadata: {
            istio: {
              services: [{ host: `${name}.shop.svc.cluster.local`, name, namespace: 'shop' }],
            },
          },
        }),
      ),
      store,
    );
    dir = mkdtempSync(path.join(tmpdir(), 'skiff-weighted-'));
    logFile = path.join(dir, 'access.log');
    writers = new AccessLogWriters(store, silentLogger);
    const format = compileFormat({
      kind: 'text',
      format:
        '%REQ(X-REQUEST-ID)% %UPSTREAM_CLUSTER% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_REQUEST_ATTEMPT_COUNT%\n',
      omitEmptyValues: false,
    });
    assert.deepEqual(format.errors, []);
    hcm = new HttpConnectionManager(
      hcmConfig(
        [
          weightedRoute('/split', split(['a', 1], ['b', 3], ['c', 0])),
          weightedRoute('/only-b', split(['a', 0], ['b', 5], ['c', 0])),
          weightedRoute('/retry', split(['a', 1], ['b', 1]), { retryPolicy: RETRY_5XX }),
          weightedRoute('/missing', split(['nope', 1], ['a', 0])),
          weightedRoute('/ws', split(['a', 0], ['c', 2])),
        ],
        {
          istioStats: { reporter: 'source', tcpReportingMs: 5000, disableHostHeaderFallback: false },
          accessLogs: [
            { name: 'file', filter: undefined, sink: { kind: 'file', path: logFile }, format: format.format },
          ],
        },
      ),
      clusters,
      store,
      silentLogger,
      () => new ProxyTelemetry(store, nodeA()),
      writers,
    );
    front = net.createServer({ pauseOnConnect: true }, (s) => {
      downstream.add(s);
      s.once('close', () => downstream.delete(s));
      hcm.handle(s, { peer: undefined, tls: false });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    port = portOf(front);
  });

  after(() => {
    hcm.close();
    writers.close();
    for (const s of downstream) s.destroy();
    front.close();
    for (const app of apps.values()) {
      app.closeAllConnections();
      app.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  let n = 0;
  /** A GET over HTTP/1.1 with its own x-request-id; the app's name (the body) and status. */
  async function get(p: string): Promise<{ id: string; status: number; body: string; flags: string | null }> {
    const id = `rq-${++n}`;
    const res = await fetch(`http://127.0.0.1:${port}${p}`, { headers: { 'x-request-id': id } });
    return {
      id,
      status: res.status,
      body: await res.text(),
      flags: res.headers.get('x-skiff-response-flags'),
    };
  }

  const countBy = <T>(xs: T[]) => {
    const m = new Map<T, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return m;
  };

  it('over HTTP/1.1, sends each request to one cluster in proportion to its weight (1:3:0)', async () => {
    const bodies: string[] = [];
    for (let i = 0; i < 400; i++) {
      const r = await get('/split');
      assert.equal(r.status, 200);
      bodies.push(r.body);
    }
    const counts = countBy(bodies);
    assert.equal(counts.get('c'), undefined, 'a cluster of weight 0 is never picked');
    const a = counts.get('a') ?? 0;
    // Expected 100 of 400 (sd ≈ 8.7): far outside these bounds only with a broken pick.
    assert.ok(a >= 50 && a <= 150, `a got ${a} of 400`);
    assert.equal(a + (counts.get('b') ?? 0), 400);
    assert.ok((store.counter('cluster.a.upstream_cx_total').value ?? 0) >= 1);
    assert.ok((store.counter('cluster.b.upstream_cx_total').value ?? 0) >= 1);
    assert.equal(store.counter('cluster.c.upstream_cx_total').value, 0);
  });

  it('over HTTP/2, picks per stream too, and never a cluster of weight 0', async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const request = (p: string) =>
      new Promise<string>((resolve, reject) => {
        const st = session.request({ ':path': p });
        let body = '';
        st.setEncoding('utf8');
        st.on('data', (d: string) => {
          body += d;
        });
        st.on('end', () => resolve(body));
        st.on('error', reject);
      });
    try {
      const only = await Promise.all(Array.from({ length: 20 }, () => request('/only-b')));
      assert.deepEqual([...countBy(only)], [['b', 20]]);
      const mixed = await Promise.all(Array.from({ length: 200 }, () => request('/split')));
      const counts = countBy(mixed);
      assert.equal(counts.get('c'), undefined);
      const a = counts.get('a') ?? 0;
      // Expected 50 of 200 (sd ≈ 6.1).
      assert.ok(a >= 15 && a <= 100, `a got ${a} of 200`);
    } finally {
      session.close();
    }
  });

  it('keeps every retry of a request on the cluster picked for it', async () => {
    const ids: string[] = [];
    const retries = () => [
      store.counter('cluster.a.upstream_rq_retry').value,
      store.counter('cluster.b.upstream_rq_retry').value,
    ];
    const [aBefore = 0, bBefore = 0] = retries();
    for (let i = 0; i < 40; i++) {
      const r = await get('/retry');
      assert.equal(r.status, 503, 'the last attempt’s answer, passed through (URX in the log)');
      ids.push(r.id);
    }
    const served = new Map<App, number>();
    for (const id of ids) {
      const attempts = seen.filter((s) => s.id === id);
      assert.equal(attempts.length, 3, `${id}: one attempt and two retries`);
      const where = new Set(attempts.map((s) => s.app));
      assert.equal(where.size, 1, `${id} went to ${[...where].join(' and ')}`);
      const app = attempts[0]?.app as App;
      served.set(app, (served.get(app) ?? 0) + 1);
    }
    // 40 requests at 1:1 all on one cluster: one chance in 2^39.
    assert.ok((served.get('a') ?? 0) > 0 && (served.get('b') ?? 0) > 0, JSON.stringify([...served]));
    const [aAfter = 0, bAfter = 0] = retries();
    assert.deepEqual(
      [aAfter - aBefore, bAfter - bBefore],
      [2 * (served.get('a') ?? 0), 2 * (served.get('b') ?? 0)],
      'each cluster counts the retries of the requests it was given',
    );
  });

  it('answers 503 NC when the picked cluster does not exist', async () => {
    const before = store.counter('http.inbound_0.0.0.0_9080.no_cluster').value;
    const r = await get('/missing');
    assert.deepEqual([r.status, r.flags], [503, 'NC']);
    assert.equal(store.counter('http.inbound_0.0.0.0_9080.no_cluster').value, before + 1);
  });

  it('relays an upgrade to the picked cluster', async () => {
    const s = net.connect({ host: '127.0.0.1', port });
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d) => {
      got += d;
      if (got.includes('\r\n\r\n') && !got.includes('ping')) s.write('ping');
      if (got.includes(':ping')) s.end();
    });
    s.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n');
    await new Promise((r) => s.on('close', r));
    assert.match(got, /^HTTP\/1\.1 101 /);
    assert.ok(got.endsWith('c:ping'), got);
  });

  it('names the picked cluster in the access log, with the attempts of each request', async () => {
    // 400 + 220 + 40 + 1 streams (an upgrade is not logged by the connection manager).
    await until(() => store.counter('filesystem.write_buffered').value >= 661, 'the log lines');
    writers.close();
    const lines = readFileSync(logFile, 'latin1').split('\n').filter(Boolean);
    const byId = new Map(lines.map((l) => [l.split(' ')[0], l]));
    // Every request that reached an app: the log's cluster is the app that answered, its attempts as many.
    for (const [id, attempts] of countBy(seen.filter((s) => s.id.startsWith('rq-')).map((s) => s.id))) {
      const app = seen.find((s) => s.id === id)?.app;
      const status = attempts === 3 ? '503 URX' : '200 -';
      assert.equal(byId.get(id), `${id} ${app} ${status} ${attempts}`);
    }
    const missing = lines.find((l) => l.includes(' NC '));
    assert.match(missing ?? '', /^rq-\d+ nope 503 NC 0$/);
  });

  it('records Istio’s destination_service of the picked cluster', async () => {
    // Requests (not attempts) each app served, over both protocols.
    const requests = (app: App) => new Set(seen.filter((s) => s.app === app).map((s) => s.id)).size;
    const total = (service: string) => {
      let sum = 0;
      for (const line of renderPrometheus(store).split('\n')) {
        if (line.startsWith('istio_requests_total{') && line.includes(`destination_service="${service}"`))
          sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return sum;
    };
    // HTTP/2 requests carry no x-request-id of ours: they were given one each by the proxy.
    await until(
      () =>
        total('a.shop.svc.cluster.local') + total('b.shop.svc.cluster.local') >=
        requests('a') + requests('b'),
      'every request to be recorded',
    );
    assert.equal(total('a.shop.svc.cluster.local'), requests('a'));
    assert.equal(total('b.shop.svc.cluster.local'), requests('b'));
    assert.equal(total('c.shop.svc.cluster.local'), 0, 'an upgrade is not an Istio request metric');
  });
});
