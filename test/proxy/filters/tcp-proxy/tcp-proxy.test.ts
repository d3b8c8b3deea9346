import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../../src/core/log.js';
import type { ClusterConfig, NodeInfo, TcpProxyConfig } from '../../../../src/proxy/config/model.js';
import { TcpProxy } from '../../../../src/proxy/filters/tcp-proxy/tcp-proxy.js';
import { renderPrometheus, StatsStore } from '../../../../src/proxy/stats/index.js';
import { ProxyTelemetry } from '../../../../src/proxy/telemetry/context.js';
import { parseNodeMetadata } from '../../../../src/proxy/telemetry/workload.js';
import { ClusterManager } from '../../../../src/proxy/upstream/cluster.js';
import { SERVICE_A_NODE } from '../../telemetry/fixtures.js';
import { until } from '../http/helpers.js';

/** An upstream that answers `hello` with `echo:hello` and closes its side only after the client's FIN. */
function startUpstream(): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.on('data', (d) => s.write(`echo:${d}`));
    s.on('end', () => s.end('bye'));
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

describe('tcp_proxy', { timeout: 20_000 }, () => {
  let upstream: net.Server;
  let front: net.Server;
  let store: StatsStore;
  let proxy: (idleTimeoutMs: number, cluster?: string) => TcpProxy;

  before(async () => {
    upstream = await startUpstream();
    store = new StatsStore();
    const clusters = new ClusterManager(
      [
        {
          name: 'app',
          type: 'STATIC',
          connectTimeoutMs: 500,
          lbPolicy: 'ROUND_ROBIN',
          endpoints: [
            {
              address: { host: '127.0.0.1', port: (upstream.address() as net.AddressInfo).port },
              healthy: true,
              metadata: {},
              transportMatch: {},
            },
          ],
          transport: { kind: 'raw' },
          transportSocketMatches: [],
          httpProtocol: 'http1',
          filterMetadata: {},
        },
      ],
      store,
    );
    proxy = (idleTimeoutMs, cluster = 'app') =>
      new TcpProxy(
        { kind: 'tcp_proxy', statPrefix: 'p', cluster, idleTimeoutMs, istioStats: undefined },
        clusters,
        store,
        silentLogger,
      );
  });

  after(() => {
    upstream.close();
    front?.close();
  });

  async function through(filter: TcpProxy): Promise<number> {
    front?.close();
    front = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => filter.handle(s));
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    return (front.address() as net.AddressInfo).port;
  }

  it('relays both ways, passes a half-close through, and counts bytes', async () => {
    const port = await through(proxy(0));
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let got = '';
    s.on('data', (d) => {
      got += d;
    });
    s.write('hello');
    await new Promise((r) => setTimeout(r, 50));
    s.end();
    await new Promise((r) => s.once('close', r));
    assert.equal(got, 'echo:hellobye', 'the upstream answered after our FIN, and its FIN came back');
    assert.equal(store.counter('tcp.p.downstream_cx_total').value, 1);
    assert.equal(store.counter('tcp.p.downstream_cx_rx_bytes_total').value, 5);
    assert.equal(store.counter('tcp.p.downstream_cx_tx_bytes_total').value, got.length);
    assert.equal(store.counter('cluster.app.upstream_cx_tx_bytes_total').value, 5);
  });

  it('closes both sides after idle_timeout', async () => {
    const port = await through(proxy(150));
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    const t0 = Date.now();
    await new Promise((r) => s.once('close', r));
    assert.ok(Date.now() - t0 >= 120);
    assert.equal(store.counter('tcp.p.idle_timeout').value, 1);
  });

  it('closes a connection to an unknown cluster and counts downstream_cx_no_route', async () => {
    const port = await through(proxy(0, 'nope'));
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    await new Promise((r) => s.once('close', r));
    assert.equal(store.counter('tcp.p.downstream_cx_no_route').value, 1);
  });

  it('applies back-pressure: a slow reader does not make the proxy buffer without bound', async () => {
    const big = net.createServer((s) => {
      s.on('error', () => {});
      const chunk = Buffer.alloc(64 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < 64 * 1024 * 1024 && s.write(chunk)) sent += chunk.length;
        if (sent < 64 * 1024 * 1024) s.once('drain', pump);
        else s.end();
      };
      pump();
    });
    await new Promise<void>((r) => big.listen(0, '127.0.0.1', r));
    const store2 = new StatsStore();
    const clusters = new ClusterManager(
      [
        {
          name: 'big',
          type: 'STATIC',
          connectTimeoutMs: 500,
          lbPolicy: 'ROUND_ROBIN',
          endpoints: [
            {
              address: { host: '127.0.0.1', port: (big.address() as net.AddressInfo).port },
              healthy: true,
              metadata: {},
              transportMatch: {},
            },
          ],
          transport: { kind: 'raw' },
          transportSocketMatches: [],
          httpProtocol: 'http1',
          filterMetadata: {},
        },
      ],
      store2,
    );
    const port = await through(
      new TcpProxy(
        { kind: 'tcp_proxy', statPrefix: 'b', cluster: 'big', idleTimeoutMs: 0, istioStats: undefined },
        clusters,
        store2,
        silentLogger,
      ),
    );
    const s = net.connect({ host: '127.0.0.1', port });
    s.pause();
    await new Promise((r) => setTimeout(r, 300));
    const relayed = store2.counter('cluster.big.upstream_cx_rx_bytes_total').value;
    assert.ok(
      relayed < 16 * 1024 * 1024,
      `read ${relayed} bytes from upstream while the client read nothing`,
    );
    s.destroy();
    big.close();
  });
});

/** An upstream that writes its name as soon as a connection opens, then closes. */
function namedUpstream(name: string): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.end(name);
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

function namedCluster(name: string, port: number): ClusterConfig {
  return {
    name,
    type: 'STATIC',
    connectTimeoutMs: 500,
    lbPolicy: 'ROUND_ROBIN',
    endpoints: [{ address: { host: '127.0.0.1', port }, healthy: true, metadata: {}, transportMatch: {} }],
    transport: { kind: 'raw' },
    transportSocketMatches: [],
    httpProtocol: 'http1',
    filterMetadata: {
      istio: { services: [{ host: `${name}.shop.svc.cluster.local`, name, namespace: 'shop' }] },
    },
  };
}

describe('tcp_proxy with weighted_clusters', { timeout: 30_000 }, () => {
  const upstreams: net.Server[] = [];
  const fronts: net.Server[] = [];
  let store: StatsStore;
  let clusters: ClusterManager;

  before(async () => {
    store = new StatsStore();
    const configs: ClusterConfig[] = [];
    for (const name of ['a', 'b', 'c']) {
      const up = await namedUpstream(name);
      upstreams.push(up);
      configs.push(namedCluster(name, (up.address() as net.AddressInfo).port));
    }
    clusters = new ClusterManager(configs, store);
  });

  after(() => {
    for (const s of [...upstreams, ...fronts]) s.close();
  });

  const node: NodeInfo = {
    id: 'sidecar~10.0.0.1~service-a-1.shop~shop.svc.cluster.local',
    cluster: 'service-a.shop',
    metadata: SERVICE_A_NODE,
    parsed: parseNodeMetadata(SERVICE_A_NODE),
    namespace: 'shop',
    serviceAccount: 'service-a',
    workloadName: 'service-a',
    labels: SERVICE_A_NODE.LABELS,
  };

  async function front(weights: [string, number][], statPrefix: string): Promise<number> {
    const config: TcpProxyConfig = {
      kind: 'tcp_proxy',
      statPrefix,
      cluster: '',
      weightedClusters: {
        clusters: weights.map(([name, weight]) => ({ name, weight })),
        totalWeight: weights.reduce((n, [, w]) => n + w, 0),
      },
      idleTimeoutMs: 0,
      istioStats: { reporter: 'source', tcpReportingMs: 5000, disableHostHeaderFallback: false },
    };
    const filter = new TcpProxy(config, clusters, store, silentLogger, () => new ProxyTelemetry(store, node));
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => filter.handle(s));
    fronts.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as net.AddressInfo).port;
  }

  /** What the upstream a new connection reached wrote ('' when the proxy closed it). */
  function reach(port: number): Promise<string> {
    return new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      let got = '';
      s.on('data', (d) => {
        got += d;
      });
      s.on('error', () => {});
      s.on('close', () => resolve(got));
    });
  }

  it('sends each connection to one cluster in proportion to its weight (1:3), never to one of weight 0', async () => {
    const port = await front(
      [
        ['a', 1],
        ['b', 3],
      ],
      'split',
    );
    const got: string[] = [];
    for (let i = 0; i < 200; i++) got.push(await reach(port));
    const a = got.filter((x) => x === 'a').length;
    const b = got.filter((x) => x === 'b').length;
    assert.equal(a + b, 200, `every connection reached a or b: ${[...new Set(got)].join(',')}`);
    // Expected 50 of 200 (sd ≈ 6.1): far outside these bounds only with a broken pick.
    assert.ok(a >= 20 && a <= 90, `a got ${a} of 200`);
    assert.equal(store.counter('tcp.split.downstream_cx_total').value, 200);

    const only = await front(
      [
        ['a', 0],
        ['c', 7],
      ],
      'only',
    );
    for (let i = 0; i < 20; i++) assert.equal(await reach(only), 'c');
  });

  it('names the picked cluster’s service in Istio’s TCP metrics', async () => {
    const opened = (service: string) => {
      let sum = 0;
      for (const line of renderPrometheus(store).split('\n')) {
        if (
          line.startsWith('istio_tcp_connections_opened_total{') &&
          line.includes(`destination_service="${service}"`)
        )
          sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return sum;
    };
    const reached = (name: string) => store.counter(`cluster.${name}.upstream_cx_total`).value;
    // A connection is reported when it closes, a moment after the client saw it close.
    await until(
      () => ['a', 'b', 'c'].every((n) => opened(`${n}.shop.svc.cluster.local`) === reached(n)),
      'every connection to be reported',
    );
    for (const name of ['a', 'b', 'c']) {
      assert.equal(opened(`${name}.shop.svc.cluster.local`), reached(name), name);
    }
    assert.ok(reached('a') > 0 && reached('b') > 0 && reached('c') > 0);
  });

  it('closes a connection whose picked cluster does not exist, and counts downstream_cx_no_route', async () => {
    const port = await front(
      [
        ['nope', 1],
        ['a', 0],
      ],
      'missing',
    );
    assert.equal(await reach(port), '');
    assert.equal(store.counter('tcp.missing.downstream_cx_no_route').value, 1);
  });
});
