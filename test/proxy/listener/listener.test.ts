import assert from 'node:assert/strict';
import net from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { silentLogger } from '../../../src/core/log.js';
import { parseBootstrap } from '../../../src/proxy/config/load.js';
import type { ProxyConfig } from '../../../src/proxy/config/model.js';
import { ConnectionLimit } from '../../../src/proxy/listener/connection-limit.js';
import {
  type ConnectionInfo,
  Listener,
  PLAINTEXT_HELP,
  PLAINTEXT_METRIC,
} from '../../../src/proxy/listener/listener.js';
import { StatsStore } from '../../../src/proxy/stats/index.js';
import { SecretStore } from '../../../src/proxy/transport/secrets.js';
import { ClusterManager } from '../../../src/proxy/upstream/cluster.js';
import { freePort } from '../../e2e/helpers/mesh.js';
import { buildClientHello } from '../detect/hello-builder.js';

// ---- the apps behind the listener: each answers `<tag>:<bytes>` and closes after the client's FIN ----

function startApp(tag: string): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.on('data', (d: Buffer) => s.write(Buffer.concat([Buffer.from(`${tag}:`), d])));
    s.on('end', () => s.end());
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

// ---- bootstrap text ----

const TLS_INSPECTOR = {
  name: 'envoy.filters.listener.tls_inspector',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  },
};
const HTTP_INSPECTOR = {
  name: 'envoy.filters.listener.http_inspector',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  },
};

interface Chain {
  name: string;
  cluster: string;
  match?: object;
  transport_socket?: object;
}

interface ListenerSpec {
  name?: string;
  port?: number;
  /** `additional_addresses`, as host and port. */
  additional?: { host: string; port: number }[];
  listener_filters?: object[];
  listener_filters_timeout?: string;
  continue_on_listener_filters_timeout?: boolean;
  chains: Chain[];
  default_chain?: Chain;
}

function chainJson(c: Chain): object {
  return {
    name: c.name,
    ...(c.match ? { filter_chain_match: c.match } : {}),
    ...(c.transport_socket ? { transport_socket: c.transport_socket } : {}),
    filters: [
      {
        name: 'envoy.filters.network.tcp_proxy',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
          stat_prefix: c.name,
          cluster: c.cluster,
        },
      },
    ],
  };
}

/** Istio's server side of mTLS: certificate `default`, trust bundle `ROOTCA` (provided, not in the file). */
function mtlsSocket(requireClientCertificate: boolean): object {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      require_client_certificate: requireClientCertificate,
      common_tls_context: {
        tls_certificate_sds_secret_configs: [{ name: 'default' }],
        validation_context_sds_secret_config: { name: 'ROOTCA' },
      },
    },
  };
}

function compile(listeners: ListenerSpec[], apps: Record<string, net.Server>): ProxyConfig {
  const bootstrap = {
    static_resources: {
      clusters: Object.entries(apps).map(([name, app]) => ({
        name,
        type: 'STATIC',
        connect_timeout: '1s',
        load_assignment: {
          cluster_name: name,
          endpoints: [
            {
              lb_endpoints: [
                {
                  endpoint: {
                    address: { socket_address: { address: '127.0.0.1', port_value: portOf(app) } },
                  },
                },
              ],
            },
          ],
        },
      })),
      listeners: listeners.map((l, i) => ({
        name: l.name ?? `l${i}`,
        address: { socket_address: { address: '127.0.0.1', port_value: l.port ?? 0 } },
        ...(l.additional
          ? {
              additional_addresses: l.additional.map((a) => ({
                address: { socket_address: { address: a.host, port_value: a.port } },
              })),
            }
          : {}),
        stat_prefix: l.name ?? `l${i}`,
        listener_filters: l.listener_filters ?? [],
        listener_filters_timeout: l.listener_filters_timeout ?? '5s',
        continue_on_listener_filters_timeout: l.continue_on_listener_filters_timeout ?? false,
        filter_chains: l.chains.map(chainJson),
        ...(l.default_chain ? { default_filter_chain: chainJson(l.default_chain) } : {}),
      })),
    },
  };
  const loaded = parseBootstrap(JSON.stringify(bootstrap), 'listener.json', {
    providedSecrets: ['default', 'ROOTCA'],
  });
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(errors, []);
  assert.ok(loaded.config);
  return loaded.config;
}

// ---- clients ----

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const clients: net.Socket[] = [];

async function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  const s = net.connect({ host, port });
  s.setNoDelay(true);
  s.on('error', () => {});
  clients.push(s);
  await new Promise((r) => s.once('connect', r));
  return s;
}

/** Resolves true when nothing accepts a connection to host:port. */
function refused(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

/** Resolves true when `s` is closed within `ms`. */
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

/** The next bytes `s` receives; 'closed' when it closes first, '(no reply)' after `ms`. */
function nextReply(s: net.Socket, ms = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const done = (text: string) => {
      clearTimeout(t);
      s.off('data', onData);
      s.off('close', onClose);
      resolve(text);
    };
    const onData = (d: Buffer) => done(d.toString('latin1'));
    const onClose = () => done('closed');
    const t = setTimeout(() => done('(no reply)'), ms);
    s.on('data', onData);
    s.on('close', onClose);
  });
}

/** Sends `payload`; resolves with the first reply, or 'closed' when the proxy closes the connection first. */
async function exchange(
  port: number,
  payload: string | Buffer,
  ms = 3_000,
  host = '127.0.0.1',
): Promise<string> {
  const s = await connect(port, host);
  const reply = nextReply(s, ms);
  s.write(payload);
  const text = await reply;
  s.end();
  return text;
}

// ---- the listener under test ----

interface Running {
  store: StatsStore;
  listeners: Listener[];
  stat(name: string): number;
}

const running: Listener[] = [];

async function run(config: ProxyConfig, connectionLimit?: ConnectionLimit): Promise<Running> {
  const store = new StatsStore();
  const secrets = new SecretStore();
  await secrets.loadStatic(config);
  const clusters = new ClusterManager(config.clusters, store, secrets, silentLogger);
  const listeners = config.listeners.map(
    (l) =>
      new Listener(l, {
        stats: store,
        clusters,
        secrets,
        log: silentLogger,
        ...(connectionLimit ? { connectionLimit } : {}),
      }),
  );
  for (const l of listeners) {
    await l.listen();
    running.push(l);
  }
  return { store, listeners, stat: (name) => store.counter(name).value };
}

const gauge = (r: Running, name: string) => r.store.gauge(name).value;
const first = (r: Running) => r.listeners[0] as Listener;

describe('listener', { timeout: 30_000 }, () => {
  const apps: Record<string, net.Server> = {};

  before(async () => {
    apps.a = await startApp('A');
    apps.b = await startApp('B');
    apps.c = await startApp('C');
  });

  afterEach(() => {
    for (const l of running.splice(0)) {
      l.stopAccepting();
      l.destroyAll();
    }
    for (const c of clients.splice(0)) c.destroy();
  });

  after(() => {
    for (const app of Object.values(apps)) app.close();
  });

  describe('listener_filters_timeout', () => {
    it('closes a silent client when continue_on_listener_filters_timeout is false', async () => {
      const r = await run(
        compile(
          [
            {
              listener_filters: [TLS_INSPECTOR],
              listener_filters_timeout: '0.2s',
              chains: [{ name: 'raw', cluster: 'a' }],
            },
          ],
          apps,
        ),
      );
      const s = await connect(first(r).port);
      const t0 = Date.now();
      assert.equal(await closedWithin(s, 2_000), true, 'the silent client is closed');
      assert.ok(Date.now() - t0 >= 150, `closed after ${Date.now() - t0} ms, before the timeout`);
      assert.equal(r.stat('listener.l0.downstream_pre_cx_timeout'), 1);
      assert.equal(gauge(r, 'listener.l0.downstream_pre_cx_active'), 0);
      assert.equal(r.stat('listener.l0.downstream_cx_total'), 0, 'never became a connection (Envoy)');
      await until('the connection to be forgotten', () => first(r).connections.size === 0);
    });

    it('goes on as raw_buffer after the timeout when continue_on_listener_filters_timeout is true', async () => {
      const r = await run(
        compile(
          [
            {
              listener_filters: [TLS_INSPECTOR, HTTP_INSPECTOR],
              listener_filters_timeout: '0.2s',
              continue_on_listener_filters_timeout: true,
              chains: [
                { name: 'tls', cluster: 'b', match: { transport_protocol: 'tls' } },
                { name: 'raw', cluster: 'a', match: { transport_protocol: 'raw_buffer' } },
              ],
            },
          ],
          apps,
        ),
      );
      const s = await connect(first(r).port);
      // Not an HTTP request line yet: http_inspector waits for more until the timeout.
      s.write('PARTIAL');
      await sleep(400);
      assert.equal(r.stat('listener.l0.downstream_pre_cx_timeout'), 1);
      const reply = nextReply(s);
      s.write(' line\n');
      // The bytes read during inspection come first, then the rest (maybe in a second reply).
      assert.match(await reply, /^A:PARTIAL( line\n)?$/);
      assert.equal(r.stat('listener.l0.downstream_cx_total'), 1);
      assert.equal(first(r).connections.values().next().value?.filterChain, 'raw');
    });
  });

  it('runs no tls_inspector on a port its filter_disabled predicate names: TLS bytes reach a raw chain', async () => {
    const [disabledPort, enabledPort] = [await freePort(), await freePort()];
    const withPredicate = (port: number, range: { start: number; end: number }): ListenerSpec => ({
      name: `p${port}`,
      port,
      listener_filters: [
        {
          ...TLS_INSPECTOR,
          // As Istio writes it: any of the ports (here the one named, and port 1).
          filter_disabled: {
            or_match: {
              rules: [{ destination_port_range: range }, { destination_port_range: { start: 1, end: 2 } }],
            },
          },
        },
      ],
      chains: [{ name: 'raw', cluster: 'a', match: { transport_protocol: 'raw_buffer' } }],
    });
    const r = await run(
      compile(
        [
          withPredicate(disabledPort, { start: disabledPort, end: disabledPort + 1 }),
          // The same predicate shape, naming another port: the inspector runs here.
          withPredicate(enabledPort, { start: enabledPort + 1, end: enabledPort + 2 }),
        ],
        apps,
      ),
    );
    const hello = buildClientHello({ serverName: 'example.com', alpn: ['h2'] });
    const reply = await exchange(disabledPort, hello);
    assert.equal(reply.slice(0, 3), 'A:\x16', 'the ClientHello went to the raw chain, byte for byte');
    assert.equal(r.stat('tls_inspector.tls_found'), 0);
    assert.equal(await exchange(enabledPort, hello), 'closed', 'with the inspector, TLS finds no raw chain');
    assert.equal(r.stat('tls_inspector.tls_found'), 1);
    assert.equal(r.stat(`listener.p${enabledPort}.no_filter_chain_match`), 1);
  });

  describe('filter chain match', () => {
    const tlsOnly = (extra: Partial<ListenerSpec> = {}): ListenerSpec => ({
      listener_filters: [TLS_INSPECTOR],
      chains: [{ name: 'passthrough', cluster: 'b', match: { transport_protocol: 'tls' } }],
      ...extra,
    });

    it('closes a connection no chain matches and counts no_filter_chain_match', async () => {
      const r = await run(compile([tlsOnly()], apps));
      assert.equal(await exchange(first(r).port, 'plain\n'), 'closed');
      assert.equal(r.stat('listener.l0.no_filter_chain_match'), 1);
      assert.equal(r.stat('tls_inspector.tls_not_found'), 1);
      assert.equal(
        r.stat('listener.l0.downstream_cx_total'),
        0,
        'Envoy counts no connection without a chain',
      );
      await until('the connection to be forgotten', () => first(r).connections.size === 0);
    });

    it('uses default_filter_chain when nothing matches', async () => {
      const r = await run(compile([tlsOnly({ default_chain: { name: 'fallback', cluster: 'c' } })], apps));
      assert.equal(await exchange(first(r).port, 'plain\n'), 'C:plain\n');
      assert.equal(r.stat('listener.l0.no_filter_chain_match'), 0);
      assert.equal(r.stat('listener.l0.downstream_cx_total'), 1);
    });

    it('matches TLS on its ClientHello (SNI, ALPN) and keeps every byte for the chain', async () => {
      const r = await run(compile([tlsOnly()], apps));
      const hello = buildClientHello({ serverName: 'Example.COM', alpn: ['istio'] });
      const reply = Buffer.from(await exchange(first(r).port, hello), 'latin1');
      assert.equal(reply.subarray(0, 2).toString(), 'B:', 'the passthrough chain got it');
      assert.ok(
        reply.length > 2 && reply.subarray(2).equals(hello.subarray(0, reply.length - 2)),
        'byte for byte',
      );
      assert.equal(r.stat('tls_inspector.tls_found'), 1);
      assert.equal(r.stat('tls_inspector.sni_found'), 1);
      assert.equal(r.stat('tls_inspector.alpn_found'), 1);
    });
  });

  describe('http_inspector', () => {
    const httpListener = (): ListenerSpec => ({
      listener_filters: [HTTP_INSPECTOR],
      chains: [
        { name: 'h2c', cluster: 'a', match: { application_protocols: ['h2c'] } },
        { name: 'http11', cluster: 'b', match: { application_protocols: ['http/1.1'] } },
        { name: 'other', cluster: 'c' },
      ],
    });

    it('chooses chains by the application protocol it finds: h2c, http/1.1, else none', async () => {
      const r = await run(compile([httpListener()], apps));
      const port = first(r).port;
      const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
      assert.equal(await exchange(port, preface), `A:${preface}`);
      assert.equal(
        await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
        'B:GET / HTTP/1.1\r\nHost: x\r\n\r\n',
      );
      assert.equal(await exchange(port, 'GET / HTTP/1.0\r\n\r\n'), 'C:GET / HTTP/1.0\r\n\r\n');
      assert.equal(await exchange(port, 'hello there\n'), 'C:hello there\n');
      assert.equal(r.stat('http_inspector.http2_found'), 1);
      assert.equal(r.stat('http_inspector.http11_found'), 1);
      assert.equal(r.stat('http_inspector.http10_found'), 1);
      assert.equal(r.stat('http_inspector.http_not_found'), 1);
    });

    it('sees an h2c preface sent a few bytes at a time', async () => {
      const r = await run(compile([httpListener()], apps));
      const s = await connect(first(r).port);
      const reply = nextReply(s);
      for (const part of ['PRI * HT', 'TP/2.0\r\n', '\r\nSM\r\n\r\n']) {
        s.write(part);
        await sleep(30);
      }
      assert.match(await reply, /^A:PRI \* HTTP\/2\.0\r\n/);
      assert.equal(r.stat('http_inspector.http2_found'), 1);
    });

    it('closes a connection whose first line is not over in 64 KiB and counts read_error', async () => {
      const r = await run(compile([{ ...httpListener(), listener_filters_timeout: '20s' }], apps));
      const s = await connect(first(r).port);
      s.write(`GET /${'a'.repeat(70_000)}`);
      assert.equal(await closedWithin(s, 3_000), true, 'closed long before the listener filter timeout');
      assert.equal(r.stat('http_inspector.read_error'), 1);
      assert.equal(r.stat('listener.l0.downstream_pre_cx_timeout'), 0);
      assert.equal(r.stat('listener.l0.downstream_cx_total'), 0);
    });

    it('runs the listener filters in config order: http_inspector first looks at TLS too', async () => {
      const r = await run(
        compile(
          [
            {
              listener_filters: [HTTP_INSPECTOR, TLS_INSPECTOR],
              chains: [
                { name: 'tls', cluster: 'a', match: { transport_protocol: 'tls' } },
                { name: 'raw', cluster: 'c', match: { transport_protocol: 'raw_buffer' } },
              ],
            },
          ],
          apps,
        ),
      );
      const reply = await exchange(first(r).port, buildClientHello({ serverName: 'a.example' }));
      assert.equal(reply.slice(0, 2), 'A:');
      assert.equal(r.stat('http_inspector.http_not_found'), 1, 'http_inspector ran before tls_inspector');
      assert.equal(r.stat('tls_inspector.tls_found'), 1);
    });
  });

  describe('a client that goes away during inspection', () => {
    const inspecting = (): ListenerSpec => ({
      listener_filters: [TLS_INSPECTOR],
      listener_filters_timeout: '10s',
      chains: [{ name: 'raw', cluster: 'a' }],
    });

    it('counts downstream_listener_filter_remote_close for a FIN', async () => {
      const r = await run(compile([inspecting()], apps));
      const s = await connect(first(r).port);
      s.end();
      assert.equal(await closedWithin(s, 2_000), true);
      await until(
        'the close to be counted',
        () => r.stat('listener.l0.downstream_listener_filter_remote_close') === 1,
      );
      assert.equal(r.stat('listener.l0.downstream_listener_filter_error'), 0);
      assert.equal(r.stat('listener.l0.downstream_cx_total'), 0);
    });

    it('counts downstream_listener_filter_error for a reset', async () => {
      const r = await run(compile([inspecting()], apps));
      const s = await connect(first(r).port);
      await sleep(30);
      s.resetAndDestroy();
      await until(
        'the error to be counted',
        () => r.stat('listener.l0.downstream_listener_filter_error') === 1,
      );
      assert.equal(r.stat('listener.l0.downstream_listener_filter_remote_close'), 0);
      await until('the connection to be forgotten', () => first(r).connections.size === 0);
    });

    it('counts neither when the listener itself closes it (destroyAll)', async () => {
      const r = await run(compile([inspecting()], apps));
      const s = await connect(first(r).port);
      await until('the connection to be accepted', () => first(r).connections.size === 1);
      first(r).destroyAll();
      assert.equal(await closedWithin(s, 2_000), true);
      await sleep(50);
      assert.equal(r.stat('listener.l0.downstream_listener_filter_remote_close'), 0);
      assert.equal(r.stat('listener.l0.downstream_listener_filter_error'), 0);
      assert.equal(gauge(r, 'listener.l0.downstream_pre_cx_active'), 0);
    });
  });

  it('counts skiff_permissive_plaintext_connections_total only on a port that also requires mTLS', async () => {
    const chains = (require: boolean): Chain[] => [
      {
        name: 'mtls',
        cluster: 'b',
        match: { transport_protocol: 'tls' },
        transport_socket: mtlsSocket(require),
      },
      { name: 'plaintext', cluster: 'a', match: { transport_protocol: 'raw_buffer' } },
    ];
    const r = await run(
      compile(
        [
          { name: 'permissive', listener_filters: [TLS_INSPECTOR], chains: chains(true) },
          { name: 'optional', listener_filters: [TLS_INSPECTOR], chains: chains(false) },
          { name: 'plain', chains: [{ name: 'plaintext', cluster: 'a' }] },
        ],
        apps,
      ),
    );
    const [permissive, optional, plain] = r.listeners as [Listener, Listener, Listener];
    assert.equal(await exchange(permissive.port, 'one\n'), 'A:one\n');
    assert.equal(await exchange(permissive.port, 'two\n'), 'A:two\n');
    assert.equal(await exchange(optional.port, 'three\n'), 'A:three\n');
    assert.equal(await exchange(plain.port, 'four\n'), 'A:four\n');
    const family = r.store.counterFamily(PLAINTEXT_METRIC, PLAINTEXT_HELP, [
      'listener',
      'filter_chain',
      'source_address',
    ]);
    assert.deepEqual(
      [...family.series()].map((c) => [c.name, c.value]),
      [[`${PLAINTEXT_METRIC}{listener="permissive",filter_chain="plaintext",source_address="127.0.0.1"}`, 2]],
    );
  });

  it('counts downstream_cx_total/active/destroy and lists the connection while it is open', async () => {
    const r = await run(
      compile([{ listener_filters: [TLS_INSPECTOR], chains: [{ name: 'raw', cluster: 'a' }] }], apps),
    );
    const l = first(r);
    const s = await connect(l.port);
    const reply = nextReply(s);
    s.write('hi\n');
    assert.equal(await reply, 'A:hi\n');
    assert.equal(r.stat('listener.l0.downstream_cx_total'), 1);
    assert.equal(gauge(r, 'listener.l0.downstream_cx_active'), 1);
    assert.equal(r.stat('listener.l0.downstream_cx_destroy'), 0);
    const infos = [...l.connections.values()];
    assert.equal(infos.length, 1);
    const info = infos[0] as ConnectionInfo;
    assert.deepEqual(
      {
        listener: info.listener,
        filterChain: info.filterChain,
        sourceAddress: info.sourceAddress,
        sourcePort: info.sourcePort,
        destinationPort: info.destinationPort,
        transport: info.transport,
        peer: info.peer,
      },
      {
        listener: 'l0',
        filterChain: 'raw',
        sourceAddress: '127.0.0.1',
        sourcePort: s.localPort,
        destinationPort: l.port,
        transport: 'raw_buffer',
        peer: undefined,
      },
    );
    assert.ok(Math.abs(Date.now() - info.openedAt) < 5_000);
    s.end();
    assert.equal(await closedWithin(s, 2_000), true);
    await until('the connection to be forgotten', () => l.connections.size === 0);
    assert.equal(gauge(r, 'listener.l0.downstream_cx_active'), 0);
    assert.equal(r.stat('listener.l0.downstream_cx_destroy'), 1);
    assert.equal(r.stat('listener.l0.downstream_cx_total'), 1);
  });

  describe('additional_addresses', () => {
    it('binds every address; a chain matches the port each connection arrived on', async () => {
      const [p1, p2] = [await freePort(), await freePort()];
      const r = await run(
        compile(
          [
            {
              port: p1,
              additional: [{ host: '127.0.0.2', port: p2 }],
              chains: [
                { name: 'first', cluster: 'a', match: { destination_port: p1 } },
                { name: 'second', cluster: 'b', match: { destination_port: p2 } },
              ],
            },
          ],
          apps,
        ),
      );
      assert.deepEqual(first(r).boundAddresses(), [
        { host: '127.0.0.1', port: p1 },
        { host: '127.0.0.2', port: p2 },
      ]);
      assert.equal(await exchange(p1, 'x'), 'A:x');
      assert.equal(await exchange(p2, 'y', 3_000, '127.0.0.2'), 'B:y');
      // Nothing listens on the first address's host at the second port: each address is bound as given.
      assert.ok(await refused(p2, '127.0.0.1'));
      // One listener: one set of statistics for both addresses.
      assert.equal(r.stat('listener.l0.downstream_cx_total'), 2);
    });

    it('a failed bind of one address closes the ones already bound', async () => {
      const taken = net.createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.2', resolve));
      const port = (taken.address() as net.AddressInfo).port;
      const p1 = await freePort();
      const config = compile(
        [{ port: p1, additional: [{ host: '127.0.0.2', port }], chains: [{ name: 'c', cluster: 'a' }] }],
        apps,
      );
      const l = new Listener(config.listeners[0] as ProxyConfig['listeners'][number], {
        stats: new StatsStore(),
        clusters: new ClusterManager(config.clusters, new StatsStore()),
        secrets: new SecretStore(),
        log: silentLogger,
      });
      await assert.rejects(l.listen(), /EADDRINUSE/);
      assert.ok(await refused(p1), 'the first address is closed again');
      await new Promise((resolve) => taken.close(resolve));
    });
  });

  describe('the global downstream connection limit', () => {
    it('closes connections over the limit at accept, counts them, and takes new ones once others close', async () => {
      const limit = new ConnectionLimit(2);
      const r = await run(
        compile([{ chains: [{ name: 'c', cluster: 'a' }] }, { chains: [{ name: 'd', cluster: 'b' }] }], apps),
        limit,
      );
      const [one, two] = r.listeners.map((l) => l.port) as [number, number];
      const talk = async (port: number, text: string) => {
        const s = await connect(port);
        const reply = nextReply(s);
        s.write(text);
        return { s, reply: await reply };
      };
      const a = await talk(one, '1');
      assert.equal(a.reply, 'A:1');
      assert.equal((await talk(two, '2')).reply, 'B:2');
      assert.equal(limit.open, 2, 'the limit is shared by all listeners');
      const over = await connect(one);
      assert.ok(await closedWithin(over, 2_000), 'the third connection is closed');
      assert.equal(r.stat('listener.l0.downstream_global_cx_overflow'), 1);
      assert.equal(
        r.stat('listener.l0.downstream_cx_total'),
        1,
        'an overflowed connection is not a downstream connection',
      );
      a.s.destroy();
      await until('the first connection to be released', () => limit.open === 1);
      assert.equal(await exchange(one, '3'), 'A:3');
    });
  });
});
