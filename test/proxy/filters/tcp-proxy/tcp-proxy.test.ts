import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../../src/core/log.js';
import { TcpProxy } from '../../../../src/proxy/filters/tcp-proxy/tcp-proxy.js';
import { StatsStore } from '../../../../src/proxy/stats/index.js';
import { ClusterManager } from '../../../../src/proxy/upstream/cluster.js';

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
