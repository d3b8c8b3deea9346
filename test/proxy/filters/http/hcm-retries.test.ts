// The router's retries over real sockets: a cluster with a failing and a healthy endpoint, retriable responses,
// per-try timeouts, bodies sent again, and Envoy's counters, flags and x-envoy-attempt-count; and outlier
// detection fed by the router's results, configured and absent.

import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../../src/core/log.js';
import type { ClusterConfig, RetryPolicyConfig } from '../../../../src/proxy/config/model.js';
import { HttpConnectionManager } from '../../../../src/proxy/filters/http/hcm.js';
import { StatsStore } from '../../../../src/proxy/stats/index.js';
import { ClusterManager } from '../../../../src/proxy/upstream/cluster.js';
import { OUTLIER_DEFAULTS } from '../../../../src/proxy/upstream/outlier-detector.js';
import { deadPort, hcmConfig, portOf, route, staticCluster } from './helpers.js';

/** Istio's outbound default retry policy (pilot route/retry/retry.go). */
const ISTIO_DEFAULT: RetryPolicyConfig = {
  retryOn: new Set([
    'connect-failure',
    'refused-stream',
    'unavailable',
    'cancelled',
    'retriable-status-codes',
  ]),
  numRetries: 2,
  perTryTimeoutMs: 0,
  retriableStatusCodes: [],
  previousHosts: true,
  hostSelectionMaxAttempts: 5,
  backOffBaseMs: 25,
  backOffMaxMs: 250,
};

function policy(retryOn: string, o: Partial<RetryPolicyConfig> = {}): RetryPolicyConfig {
  return { ...ISTIO_DEFAULT, retryOn: new Set(retryOn.split(',')), previousHosts: false, ...o };
}

/** A cluster over several endpoints (round robin). */
function cluster(name: string, ports: number[]): ClusterConfig {
  const base = staticCluster(name, ports[0] as number, 'http1');
  return {
    ...base,
    endpoints: ports.map((port) => ({
      address: { host: '127.0.0.1', port },
      healthy: true,
      metadata: {},
      transportMatch: {},
    })),
  };
}

describe('router retries over HTTP/1.1', { timeout: 30_000 }, () => {
  let app: http.Server;
  let front: net.Server;
  let port: number;
  let store: StatsStore;
  let hcm: HttpConnectionManager;
  const downstream = new Set<net.Socket>();
  /** Requests the app saw: path, attempt count, body. */
  const seen: { path: string; attempt: string | undefined; body: string }[] = [];
  /** Per path, the statuses the app answers in turn (then 200). */
  const script = new Map<string, (number | 'hang' | 'grpc-unavailable')[]>();

  before(async () => {
    app = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        const path = req.url ?? '';
        seen.push({ path, attempt: req.headers['x-envoy-attempt-count'] as string | undefined, body });
        const next = script.get(path)?.shift() ?? 200;
        if (next === 'hang') return;
        if (next === 'grpc-unavailable') {
          res.writeHead(200, {
            'content-type': 'application/grpc',
            'grpc-status': '14',
            'content-length': 0,
          });
          res.end();
          return;
        }
        res.writeHead(next, { 'x-app': 'yes' });
        res.end(`${next} ${path} ${body}`);
      });
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const live = portOf(app);
    const dead = await deadPort();
    store = new StatsStore();
    const clusters = new ClusterManager(
      [cluster('mixed', [dead, live]), cluster('dead', [dead]), cluster('app', [live])],
      store,
    );
    const withPolicy = (
      name: string,
      prefix: string,
      target: string,
      p?: RetryPolicyConfig,
      timeoutMs = 0,
    ) => {
      const r = route(name, prefix, target, timeoutMs);
      return { ...r, action: { ...r.action, ...(p ? { retryPolicy: p } : {}), includeAttemptCount: true } };
    };
    hcm = new HttpConnectionManager(
      hcmConfig([
        withPolicy('istio', '/istio', 'mixed', ISTIO_DEFAULT),
        withPolicy('none', '/none', 'mixed'),
        withPolicy('dead', '/dead', 'dead', policy('connect-failure')),
        withPolicy('5xx', '/5xx', 'app', policy('5xx', { numRetries: 2 })),
        withPolicy(
          'codes',
          '/codes',
          'app',
          policy('retriable-status-codes', { retriableStatusCodes: [503], numRetries: 1 }),
        ),
        withPolicy('pertry', '/pertry', 'app', policy('5xx', { perTryTimeoutMs: 200 })),
        withPolicy('grpc', '/grpc', 'app', ISTIO_DEFAULT),
        {
          ...withPolicy('count', '/count', 'app', policy('5xx')),
          action: {
            cluster: 'app',
            timeoutMs: 0,
            retryPolicy: policy('5xx'),
            includeAttemptCountInResponse: true,
          },
        },
      ]),
      clusters,
      store,
      silentLogger,
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
    for (const s of downstream) s.destroy();
    front.close();
    app.closeAllConnections();
    app.close();
  });

  async function request(path: string, init: RequestInit = {}) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
    return { status: res.status, body: await res.text(), headers: res.headers };
  }
  const counter = (name: string) => store.counter(name).value;

  it("Istio's default policy: a refused endpoint is retried on the healthy one, every request succeeds", async () => {
    const before = counter('cluster.mixed.upstream_rq_retry');
    seen.length = 0;
    for (let i = 0; i < 6; i++) {
      const r = await request(`/istio/${i}`);
      assert.equal(r.status, 200, r.body);
    }
    // Round robin sends half the first attempts to the dead endpoint; each is retried once, elsewhere.
    const retried = counter('cluster.mixed.upstream_rq_retry') - before;
    assert.ok(retried >= 2, `retries: ${retried}`);
    assert.equal(counter('cluster.mixed.upstream_rq_retry_success'), retried);
    assert.ok(counter('cluster.mixed.upstream_cx_connect_fail') >= retried);
    assert.deepEqual(
      seen.map((s) => s.attempt).sort(),
      [...Array(6 - retried).fill('1'), ...Array(retried).fill('2')].sort(),
      'x-envoy-attempt-count: 2 on the requests that were retried',
    );
  });

  it('without a retry policy the dead endpoint answers 503 UF', async () => {
    const flags = new Set<string>();
    for (let i = 0; i < 4; i++)
      flags.add((await request('/none')).headers.get('x-skiff-response-flags') ?? 'ok');
    assert.ok(flags.has('UF'), [...flags].join(' '));
  });

  it('retries used up on connect failures: 503 with flags URX,UF, "retried and the latest reset reason"', async () => {
    const before = counter('cluster.dead.upstream_rq_retry_limit_exceeded');
    const r = await request('/dead');
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('x-skiff-response-flags'), 'URX,UF');
    assert.match(
      r.body,
      /^upstream connect error or disconnect\/reset before headers\. retried and the latest reset reason: connection failure/,
    );
    assert.equal(counter('cluster.dead.upstream_rq_retry_limit_exceeded') - before, 1);
    assert.equal(counter('cluster.dead.upstream_cx_total'), 3, 'one attempt and its two retries');
  });

  it('5xx: a 503 then a 500 are retried and the third attempt answers; the POST body is sent again each time', async () => {
    script.set('/5xx', [503, 500]);
    seen.length = 0;
    const r = await request('/5xx', { method: 'POST', body: 'payload' });
    assert.equal(r.status, 200);
    assert.equal(r.body, '200 /5xx payload');
    assert.deepEqual(
      seen.map((s) => [s.attempt, s.body]),
      [
        ['1', 'payload'],
        ['2', 'payload'],
        ['3', 'payload'],
      ],
    );
  });

  it('retriable-status-codes used up: the last upstream response is passed through, retry_limit_exceeded', async () => {
    script.set('/codes', [503, 503]);
    const before = counter('cluster.app.upstream_rq_retry_limit_exceeded');
    const r = await request('/codes');
    assert.equal(r.status, 503);
    assert.equal(r.body, '503 /codes ', 'the app’s own response');
    assert.equal(r.headers.get('x-app'), 'yes');
    assert.equal(counter('cluster.app.upstream_rq_retry_limit_exceeded') - before, 1);
  });

  it('per_try_timeout: an attempt that hangs is reset and retried; counted as upstream_rq_per_try_timeout', async () => {
    script.set('/pertry', ['hang']);
    const before = counter('cluster.app.upstream_rq_per_try_timeout');
    const r = await request('/pertry');
    assert.equal(r.status, 200);
    assert.equal(counter('cluster.app.upstream_rq_per_try_timeout') - before, 1);
  });

  it('unavailable: a trailers-only gRPC status 14 in the response headers is retried', async () => {
    script.set('/grpc', ['grpc-unavailable']);
    seen.length = 0;
    const r = await request('/grpc');
    assert.equal(r.status, 200);
    assert.deepEqual(
      seen.map((s) => s.attempt),
      ['1', '2'],
    );
  });

  it('include_attempt_count_in_response: the client sees how many attempts were made', async () => {
    script.set('/count', [500]);
    const r = await request('/count');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-envoy-attempt-count'), '2');
  });
});

describe('outlier detection through the router', { timeout: 20_000 }, () => {
  const servers: http.Server[] = [];
  const sockets = new Set<net.Socket>();
  after(() => {
    for (const s of sockets) s.destroy();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });

  async function server(status: number): Promise<number> {
    const s = http.createServer((_req, res) => {
      res.writeHead(status);
      res.end(String(status));
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return portOf(s);
  }

  async function statuses(
    outlierDetection: ClusterConfig['outlierDetection'],
  ): Promise<{ seen: number[]; store: StatsStore }> {
    const ports = [await server(503), await server(200)];
    const store = new StatsStore();
    const clusters = new ClusterManager(
      [{ ...cluster('flaky', ports), ...(outlierDetection ? { outlierDetection } : {}) }],
      store,
    );
    const hcm = new HttpConnectionManager(
      hcmConfig([route('all', '/', 'flaky')]),
      clusters,
      store,
      silentLogger,
    );
    const front = net.createServer({ pauseOnConnect: true }, (s) => {
      sockets.add(s);
      hcm.handle(s, { peer: undefined, tls: false });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    const seen: number[] = [];
    try {
      for (let i = 0; i < 8; i++) seen.push((await fetch(`http://127.0.0.1:${portOf(front)}/x`)).status);
    } finally {
      hcm.close();
      for (const c of clusters.all()) c.close();
      front.close();
    }
    return { seen, store };
  }

  it('absent: no endpoint is ever ejected, round robin keeps sending to the failing one', async () => {
    const { seen, store } = await statuses(undefined);
    assert.deepEqual(seen, [503, 200, 503, 200, 503, 200, 503, 200]);
    assert.equal(
      [...store.counters()].some((c) => c.name.includes('outlier_detection')),
      false,
    );
  });

  it('configured: two consecutive 5xx responses eject the endpoint; the rest go to the healthy one', async () => {
    const { seen, store } = await statuses({
      ...OUTLIER_DEFAULTS,
      consecutive5xx: 2,
      maxEjectionPercent: 50,
    });
    assert.deepEqual(seen, [503, 200, 503, 200, 200, 200, 200, 200]);
    assert.equal(
      store.counter('cluster.flaky.outlier_detection.ejections_enforced_consecutive_5xx').value,
      1,
    );
    assert.equal(store.gauge('cluster.flaky.outlier_detection.ejections_active').value, 1);
  });
});

describe('router retries to an HTTP/2 cluster', { timeout: 20_000 }, () => {
  it("Istio's default policy: a refused endpoint is retried on the healthy one over h2c", async () => {
    const app = http2.createServer((req, res) => res.end(`h2 ${req.url}`));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const dead = await deadPort();
    const store = new StatsStore();
    const ports = [dead, portOf(app)];
    const clusters = new ClusterManager([{ ...cluster('h2', ports), httpProtocol: 'http2' }], store);
    const r = route('all', '/', 'h2');
    const hcm = new HttpConnectionManager(
      hcmConfig([{ ...r, action: { ...r.action, retryPolicy: ISTIO_DEFAULT } }]),
      clusters,
      store,
      silentLogger,
    );
    const sockets = new Set<net.Socket>();
    const front = net.createServer({ pauseOnConnect: true }, (s) => {
      sockets.add(s);
      hcm.handle(s, { peer: undefined, tls: false });
    });
    await new Promise<void>((res) => front.listen(0, '127.0.0.1', res));
    try {
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`http://127.0.0.1:${portOf(front)}/x${i}`);
        assert.equal(res.status, 200);
        assert.equal(await res.text(), `h2 /x${i}`);
      }
      assert.ok(store.counter('cluster.h2.upstream_rq_retry').value >= 1);
    } finally {
      hcm.close();
      for (const s of sockets) s.destroy();
      front.close();
      app.close();
    }
  });
});
