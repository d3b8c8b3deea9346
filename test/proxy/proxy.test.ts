import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/core/log.js';
import { parseBootstrap } from '../../src/proxy/config/load.js';
import type { ProxyConfig } from '../../src/proxy/config/model.js';
import { SidecarProxy } from '../../src/proxy/proxy.js';
import { freePort } from '../e2e/helpers/mesh.js';
import { buildClientHello } from './detect/hello-builder.js';
import { issue, makeCa } from './pki.js';

// ---- an echo app, a bootstrap, clients ----

function startApp(): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.on('data', (d) => s.write(`echo:${d}`));
    s.on('end', () => s.end());
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

const TCP_PROXY = {
  name: 'envoy.filters.network.tcp_proxy',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
    stat_prefix: 'app',
    cluster: 'app',
  },
};

interface Options {
  listenerPorts?: number[];
  /** Adds a listener whose only chain terminates mTLS with the SDS secrets `default` and `ROOTCA`. */
  tlsListener?: boolean;
  /** The TLS chain's transport_socket_connect_timeout. */
  handshakeTimeout?: string;
}

function compile(appPort: number, o: Options = {}): ProxyConfig {
  const listeners: object[] = (o.listenerPorts ?? [0]).map((port, i) => ({
    name: `plain${i}`,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{ name: 'raw', filters: [TCP_PROXY] }],
  }));
  if (o.tlsListener) {
    listeners.push({
      name: 'mtls',
      address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
      filter_chains: [
        {
          name: 'mtls',
          ...(o.handshakeTimeout ? { transport_socket_connect_timeout: o.handshakeTimeout } : {}),
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
              require_client_certificate: true,
              common_tls_context: {
                tls_certificate_sds_secret_configs: [{ name: 'default' }],
                validation_context_sds_secret_config: { name: 'ROOTCA' },
              },
            },
          },
          filters: [TCP_PROXY],
        },
      ],
    });
  }
  const bootstrap = {
    node: { id: 'sidecar~127.0.0.1~test.default~default.svc.cluster.local', cluster: 'test.default' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      clusters: [
        {
          name: 'app',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: 'app',
            endpoints: [
              {
                lb_endpoints: [
                  {
                    endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: appPort } } },
                  },
                ],
              },
            ],
          },
        },
      ],
      listeners,
    },
  };
  const loaded = parseBootstrap(JSON.stringify(bootstrap), 'proxy.json', {
    providedSecrets: ['default', 'ROOTCA'],
  });
  assert.deepEqual(
    loaded.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  assert.ok(loaded.config);
  return loaded.config;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const clients: net.Socket[] = [];

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  clients.push(s);
  await new Promise((r) => s.once('connect', r));
  return s;
}

/** Writes `text`; resolves with the reply, 'closed' when the connection closes first, or '(no reply)'. */
function say(s: net.Socket, text: string, ms = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const done = (reply: string) => {
      clearTimeout(t);
      s.off('data', onData);
      s.off('close', onClose);
      resolve(reply);
    };
    const onData = (d: Buffer) => done(d.toString());
    const onClose = () => done('closed');
    const t = setTimeout(() => done('(no reply)'), ms);
    s.on('data', onData);
    s.on('close', onClose);
    s.write(text);
  });
}

/** 'refused' when nothing listens on the port any more. */
function tryConnect(port: number): Promise<'connected' | 'refused'> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', () => resolve('refused'));
  });
}

function closedWithin(s: net.Socket, ms: number): Promise<boolean> {
  if (s.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

function adminRequest(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves true when `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true), sleep(ms).then(() => false)]);
}

describe('SidecarProxy', { timeout: 60_000 }, () => {
  let app: net.Server;
  const proxies: SidecarProxy[] = [];

  function proxyOf(config: ProxyConfig, drainTimeMs = 5_000): SidecarProxy {
    const p = new SidecarProxy(config, { log: silentLogger, drainTimeMs });
    proxies.push(p);
    return p;
  }

  const adminPort = (p: SidecarProxy) => {
    assert.ok(p.adminAddress);
    return p.adminAddress.port;
  };
  const listenerPort = (p: SidecarProxy, i = 0) => (p.listeners[i] as { port: number }).port;

  before(async () => {
    app = await startApp();
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    for (const p of proxies.splice(0)) await p.close();
  });

  after(() => app.close());

  it('is PRE_INITIALIZING until start() has bound everything, then LIVE', async () => {
    const proxy = proxyOf(compile(portOf(app)));
    assert.equal(proxy.state, 'PRE_INITIALIZING');
    await proxy.start();
    assert.equal(proxy.state, 'LIVE');
    assert.deepEqual(await adminRequest(adminPort(proxy), '/ready'), { status: 200, body: 'LIVE\n' });
    const s = await connect(listenerPort(proxy));
    assert.equal(await say(s, 'hello\n'), 'echo:hello\n');
  });

  it("stays PRE_INITIALIZING while a TLS chain's secret is missing, and is LIVE once it arrives", async () => {
    const { ca } = await makeCa();
    const proxy = proxyOf(compile(portOf(app), { tlsListener: true }));
    await proxy.start();
    assert.equal(proxy.state, 'PRE_INITIALIZING', 'listeners are bound, but `default` is not there');
    assert.deepEqual(await adminRequest(adminPort(proxy), '/ready'), {
      status: 503,
      body: 'PRE_INITIALIZING\n',
    });
    const id = await issue(ca, 'default', 'test');
    proxy.secrets.setCertificate('default', { chain: id.chain, key: id.key });
    assert.equal(proxy.state, 'PRE_INITIALIZING', 'the trust bundle `ROOTCA` is still missing');
    proxy.secrets.setValidation('ROOTCA', { trustedCa: id.root, sanMatchers: [] });
    await until('LIVE', () => proxy.state === 'LIVE');
    assert.deepEqual(await adminRequest(adminPort(proxy), '/ready'), { status: 200, body: 'LIVE\n' });
  });

  it('transport_socket_connect_timeout: a client that starts a handshake and goes silent is closed, and counted', async () => {
    const { ca } = await makeCa();
    const proxy = proxyOf(compile(portOf(app), { tlsListener: true, handshakeTimeout: '0.3s' }));
    const id = await issue(ca, 'default', 'test');
    proxy.secrets.setCertificate('default', { chain: id.chain, key: id.key });
    proxy.secrets.setValidation('ROOTCA', { trustedCa: id.root, sanMatchers: [] });
    await proxy.start();
    const mtls = proxy.listeners.find((l) => l.config.name === 'mtls');
    assert.ok(mtls);
    const s = net.connect(mtls.port, '127.0.0.1');
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    s.write(buildClientHello({ alpn: ['istio'] }));
    s.resume();
    await Promise.race([
      closed,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('not closed by the handshake timeout')), 5000),
      ),
    ]);
    assert.equal(
      proxy.stats.counter(`listener.${mtls.config.statPrefix}.downstream_cx_transport_socket_connect_timeout`)
        .value,
      1,
    );
  });

  it('drains: stops accepting, lets an open connection finish, and resolves `drained` when it has', async () => {
    const proxy = proxyOf(compile(portOf(app)), 10_000);
    await proxy.start();
    const port = listenerPort(proxy);
    const s = await connect(port);
    assert.equal(await say(s, 'before\n'), 'echo:before\n');
    const t0 = Date.now();
    const drain = proxy.drain();
    assert.equal(proxy.drain(), drain, 'drain() is idempotent');
    assert.equal(proxy.state, 'DRAINING');
    assert.equal(await tryConnect(port), 'refused', 'no new connections');
    assert.equal(await say(s, 'during\n'), 'echo:during\n', 'the open connection still works');
    assert.equal(await settlesWithin(proxy.drained, 200), false, 'waits for the open connection');
    s.end();
    assert.equal(await settlesWithin(proxy.drained, 3_000), true);
    assert.ok(Date.now() - t0 < 5_000, 'did not wait for the drain time');
    await drain;
    assert.equal(await tryConnect(adminPort(proxy)), 'refused', 'the admin server is closed too');
  });

  it('closes the connections still open when the drain time is over', async () => {
    const proxy = proxyOf(compile(portOf(app)), 400);
    await proxy.start();
    const s = await connect(listenerPort(proxy));
    assert.equal(await say(s, 'x\n'), 'echo:x\n');
    const t0 = Date.now();
    void proxy.drain();
    assert.equal(await closedWithin(s, 3_000), true, 'the proxy closed the connection');
    await proxy.drained;
    const took = Date.now() - t0;
    assert.ok(took >= 350, `drained after ${took} ms, before the drain time`);
    assert.ok(took < 2_500, `drained after ${took} ms`);
    assert.equal(proxy.listeners[0]?.connections.size, 0);
  });

  it('drains on POST /quitquitquit', async () => {
    const proxy = proxyOf(compile(portOf(app)), 1_000);
    await proxy.start();
    assert.deepEqual(await adminRequest(adminPort(proxy), '/quitquitquit', 'POST'), {
      status: 200,
      body: 'OK\n',
    });
    assert.equal(await settlesWithin(proxy.drained, 3_000), true);
    assert.equal(proxy.state, 'DRAINING');
  });

  it('close() closes listeners, connections and the admin server at once, and settles `drained`', async () => {
    const proxy = proxyOf(compile(portOf(app)), 10_000);
    await proxy.start();
    const [port, admin] = [listenerPort(proxy), adminPort(proxy)];
    const s = await connect(port);
    assert.equal(await say(s, 'x\n'), 'echo:x\n');
    await proxy.close();
    assert.equal(await closedWithin(s, 2_000), true);
    assert.equal(await tryConnect(port), 'refused');
    assert.equal(await tryConnect(admin), 'refused');
    assert.equal(await settlesWithin(proxy.drained, 500), true, 'nobody waits for a drain after close()');
  });

  it('rejects start() when a listener port is in use, releasing the admin port and the listeners it bound', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    try {
      const free = await freePort();
      const proxy = proxyOf(compile(portOf(app), { listenerPorts: [free, portOf(busy)] }));
      await assert.rejects(proxy.start(), /EADDRINUSE/);
      const admin = adminPort(proxy);
      assert.equal(await tryConnect(admin), 'refused', 'the admin server was closed');
      assert.equal(await tryConnect(free), 'refused', 'the first listener was closed');
      // Both ports can be bound again.
      for (const port of [admin, free]) {
        const again = net.createServer();
        await new Promise<void>((resolve, reject) => {
          again.once('error', reject);
          again.listen(port, '127.0.0.1', resolve);
        });
        await new Promise((r) => again.close(r));
      }
      assert.notEqual(proxy.state, 'LIVE');
    } finally {
      busy.close();
    }
  });
});
