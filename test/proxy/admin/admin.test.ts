import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../src/core/log.js';
import { AdminServer, type ServerState } from '../../../src/proxy/admin/admin.js';
import { parseBootstrap } from '../../../src/proxy/config/load.js';
import type { ProxyConfig } from '../../../src/proxy/config/model.js';
import { Listener } from '../../../src/proxy/listener/listener.js';
import { StatsStore } from '../../../src/proxy/stats/index.js';
import { SecretStore } from '../../../src/proxy/transport/secrets.js';
import { ClusterManager } from '../../../src/proxy/upstream/cluster.js';

const INLINE_KEY = '-----BEGIN PRIVATE KEY-----\nNOT-A-REAL-KEY-BUT-SECRET\n-----END PRIVATE KEY-----\n';
const CLUSTER_KEY = 'CLUSTER-CLIENT-KEY-SECRET';

function bootstrap(appPort: number): string {
  return JSON.stringify({
    node: {
      id: 'sidecar~127.0.0.1~ratings.bookinfo~bookinfo.svc.cluster.local',
      cluster: 'ratings.bookinfo',
    },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      secrets: [
        {
          name: 'inline-cert',
          tls_certificate: {
            certificate_chain: { inline_string: 'CHAIN' },
            private_key: { inline_string: INLINE_KEY },
          },
        },
        {
          name: 'bytes-cert',
          tls_certificate: {
            certificate_chain: { inline_string: 'CHAIN' },
            private_key: { inline_bytes: Buffer.from(INLINE_KEY).toString('base64') },
          },
        },
        {
          name: 'file-cert',
          tls_certificate: {
            certificate_chain: { filename: 'certs/cert-chain.pem' },
            private_key: { filename: 'certs/key.pem' },
          },
        },
      ],
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
                  {
                    endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } },
                    health_status: 'UNHEALTHY',
                  },
                ],
              },
            ],
          },
        },
        {
          name: 'tls-upstream',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: 'tls-upstream',
            endpoints: [
              {
                lb_endpoints: [
                  { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 2 } } } },
                ],
              },
            ],
          },
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
              common_tls_context: {
                tls_certificates: [
                  { certificate_chain: { inline_string: 'C' }, private_key: { inline_string: CLUSTER_KEY } },
                ],
              },
            },
          },
        },
      ],
      listeners: [
        {
          name: 'inbound',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          stat_prefix: 'inbound',
          filter_chains: [
            {
              name: 'raw',
              filters: [
                {
                  name: 'envoy.filters.network.tcp_proxy',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
                    stat_prefix: 'inbound',
                    cluster: 'app',
                  },
                },
              ],
            },
          ],
        },
      ],
    },
  });
}

interface Reply {
  status: number;
  type: string;
  body: string;
}

function request(port: number, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin server', { timeout: 20_000 }, () => {
  let app: net.Server;
  let config: ProxyConfig;
  let store: StatsStore;
  let listener: Listener;
  let admin: AdminServer;
  let port: number;
  let state: ServerState = 'LIVE';
  let quits = 0;
  const get = (path: string, method?: string) => request(port, path, method);

  before(async () => {
    app = net.createServer((s) => {
      s.on('error', () => {});
      s.on('data', (d) => s.write(d));
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const loaded = parseBootstrap(bootstrap((app.address() as net.AddressInfo).port), 'admin.json');
    assert.deepEqual(
      loaded.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    assert.ok(loaded.config);
    config = loaded.config;
    store = new StatsStore();
    const secrets = new SecretStore();
    const clusters = new ClusterManager(config.clusters, store, secrets, silentLogger);
    listener = new Listener(config.listeners[0] as ProxyConfig['listeners'][number], {
      stats: store,
      clusters,
      secrets,
      log: silentLogger,
    });
    await listener.listen();
    store.counter('zz.test.second').inc(2);
    store.counter('aa.test.first').inc();
    store.gauge('mm.test.gauge').set(3);
    admin = new AdminServer({
      config,
      stats: store,
      listeners: () => [listener],
      clusters,
      state: () => state,
      startedAt: Date.now() - 5_000,
      version: 'skiff/test',
      quit: () => {
        quits++;
      },
      log: silentLogger,
    });
    port = await admin.listen('127.0.0.1', 0);
  });

  after(async () => {
    listener?.stopAccepting();
    listener?.destroyAll();
    await admin?.close();
    app?.close();
  });

  describe('/stats', () => {
    it('is Envoy text: `name: value`, sorted by name', async () => {
      const r = await get('/stats');
      assert.equal(r.status, 200);
      assert.match(r.type, /^text\/plain/);
      const lines = r.body.trimEnd().split('\n');
      assert.ok(lines.length > 10);
      for (const line of lines) assert.match(line, /^\S+: \S/);
      const names = lines.map((l) => l.slice(0, l.indexOf(': ')));
      assert.deepEqual(names, [...names].sort(), 'sorted by name');
      assert.ok(lines.includes('aa.test.first: 1'));
      assert.ok(lines.includes('mm.test.gauge: 3'));
      assert.ok(lines.includes('zz.test.second: 2'));
      assert.ok(lines.includes('listener.inbound.downstream_cx_total: 0'));
    });

    it('keeps what ?filter= matches (a search, not a full match)', async () => {
      const r = await get(`/stats?filter=${encodeURIComponent('test\\.(first|second)')}`);
      assert.equal(r.body, 'aa.test.first: 1\nzz.test.second: 2\n');
    });

    it('answers 400 to a filter that is not a regular expression', async () => {
      const r = await get(`/stats?filter=${encodeURIComponent('(unclosed')}`);
      assert.equal(r.status, 400);
      assert.match(r.body, /regex/i);
    });

    it('keeps the stats ever updated with ?usedonly', async () => {
      const all = (await get('/stats')).body;
      const r = await get('/stats?usedonly');
      const lines = r.body.trimEnd().split('\n');
      for (const used of ['aa.test.first: 1', 'mm.test.gauge: 3', 'zz.test.second: 2']) {
        assert.ok(lines.includes(used), used);
      }
      assert.ok(all.includes('listener.inbound.downstream_cx_total: 0'));
      assert.ok(!r.body.includes('listener.inbound.'), 'never-updated listener stats are left out');
    });

    it('renders ?format=json as {"stats": [{name, value}]}', async () => {
      const r = await get(`/stats?format=json&filter=${encodeURIComponent('^aa\\.')}`);
      assert.equal(r.status, 200);
      assert.match(r.type, /^application\/json/);
      assert.deepEqual(JSON.parse(r.body), { stats: [{ name: 'aa.test.first', value: 1 }] });
    });

    it('renders /stats/prometheus with Envoy tag extraction', async () => {
      const r = await get('/stats/prometheus');
      assert.equal(r.status, 200);
      assert.match(r.type, /^text\/plain; version=0\.0\.4/);
      assert.match(r.body, /^# TYPE envoy_listener_downstream_cx_total counter$/m);
      assert.match(r.body, /^envoy_listener_downstream_cx_total\{envoy_listener_address="inbound"\} 0$/m);
    });
  });

  describe('/config_dump', () => {
    interface Dump {
      configs: Array<Record<string, unknown> & { '@type': string }>;
    }

    it("has Envoy's four dumps in Envoy's order", async () => {
      const r = await get('/config_dump');
      assert.equal(r.status, 200);
      const dump = JSON.parse(r.body) as Dump;
      assert.deepEqual(
        dump.configs.map((c) => c['@type']),
        [
          'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump',
          'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
          'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
          'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
        ],
      );
      const [boot, clusters, listeners, secrets] = dump.configs as unknown as [
        { bootstrap: { node: { id: string } }; last_updated: string },
        { static_clusters: Array<{ cluster: { '@type': string; name: string }; last_updated: string }> },
        { static_listeners: Array<{ listener: { '@type': string; name: string } }> },
        { static_secrets: Array<{ name: string; secret: { '@type': string } }> },
      ];
      assert.equal(boot.bootstrap.node.id, 'sidecar~127.0.0.1~ratings.bookinfo~bookinfo.svc.cluster.local');
      assert.ok(!Number.isNaN(Date.parse(boot.last_updated)));
      assert.deepEqual(
        clusters.static_clusters.map((c) => [c.cluster['@type'], c.cluster.name]),
        [
          ['type.googleapis.com/envoy.config.cluster.v3.Cluster', 'app'],
          ['type.googleapis.com/envoy.config.cluster.v3.Cluster', 'tls-upstream'],
        ],
      );
      assert.deepEqual(
        listeners.static_listeners.map((l) => [l.listener['@type'], l.listener.name]),
        [['type.googleapis.com/envoy.config.listener.v3.Listener', 'inbound']],
      );
      assert.deepEqual(
        secrets.static_secrets.map((s) => [s.name, s.secret['@type']]),
        ['inline-cert', 'bytes-cert', 'file-cert'].map((n) => [
          n,
          'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
        ]),
      );
    });

    it('shows inline private keys as [redacted], everywhere, and a key file by its name', async () => {
      const r = await get('/config_dump');
      assert.ok(!r.body.includes('NOT-A-REAL-KEY'), 'no inline key in any dump');
      assert.ok(!r.body.includes(CLUSTER_KEY), "no inline key from a cluster's UpstreamTlsContext");
      assert.ok(!r.body.includes(Buffer.from(INLINE_KEY).toString('base64')), 'no inline_bytes key');
      const dump = JSON.parse(r.body) as {
        configs: [
          unknown,
          { static_clusters: Array<{ cluster: { transport_socket?: { typed_config: unknown } } }> },
          unknown,
          { static_secrets: Array<{ name: string; secret: { tls_certificate: Record<string, unknown> } }> },
        ];
      };
      const keys = Object.fromEntries(
        dump.configs[3].static_secrets.map((s) => [s.name, s.secret.tls_certificate.private_key]),
      );
      assert.deepEqual(keys, {
        'inline-cert': { inline_string: '[redacted]' },
        'bytes-cert': { inline_bytes: Buffer.from('[redacted]').toString('base64') },
        'file-cert': { filename: 'certs/key.pem' },
      });
      assert.deepEqual(
        dump.configs[3].static_secrets[0]?.secret.tls_certificate.certificate_chain,
        { inline_string: 'CHAIN' },
        'only the key is sensitive',
      );
      const upstream = dump.configs[1].static_clusters[1]?.cluster.transport_socket?.typed_config as {
        common_tls_context: { tls_certificates: Array<{ private_key: unknown }> };
      };
      assert.deepEqual(upstream.common_tls_context.tls_certificates[0]?.private_key, {
        inline_string: '[redacted]',
      });
    });
  });

  it('/ready: 200 LIVE, else 503 with the state', async () => {
    state = 'LIVE';
    assert.deepEqual(await get('/ready').then((r) => [r.status, r.body]), [200, 'LIVE\n']);
    state = 'PRE_INITIALIZING';
    assert.deepEqual(await get('/ready').then((r) => [r.status, r.body]), [503, 'PRE_INITIALIZING\n']);
    state = 'DRAINING';
    assert.deepEqual(await get('/ready').then((r) => [r.status, r.body]), [503, 'DRAINING\n']);
    state = 'LIVE';
  });

  it('/server_info: version, state, uptime and node', async () => {
    const r = await get('/server_info');
    assert.equal(r.status, 200);
    const info = JSON.parse(r.body) as Record<string, unknown>;
    assert.equal(info.version, 'skiff/test');
    assert.equal(info.state, 'LIVE');
    assert.match(String(info.uptime_current_epoch), /^\d+s$/);
    assert.ok(Number.parseInt(String(info.uptime_current_epoch), 10) >= 5);
    assert.deepEqual(info.node, {
      id: 'sidecar~127.0.0.1~ratings.bookinfo~bookinfo.svc.cluster.local',
      cluster: 'ratings.bookinfo',
    });
  });

  it('/listeners as text and ?format=json, with the bound port', async () => {
    const text = await get('/listeners');
    assert.equal(text.body, `inbound::127.0.0.1:${listener.port}\n`);
    const json = await get('/listeners?format=json');
    assert.deepEqual(JSON.parse(json.body), {
      listener_statuses: [
        {
          name: 'inbound',
          local_address: { socket_address: { address: '127.0.0.1', port_value: listener.port } },
        },
      ],
    });
  });

  it('/clusters: each host with its health flags', async () => {
    const r = await get('/clusters');
    const appPort = (app.address() as net.AddressInfo).port;
    assert.equal(
      r.body,
      [
        `app::127.0.0.1:${appPort}::health_flags::healthy`,
        'app::127.0.0.1:1::health_flags::/failed_eds_health',
        'tls-upstream::127.0.0.1:2::health_flags::healthy',
        '',
      ].join('\n'),
    );
  });

  it('/skiff/connections: the open downstream connections', async () => {
    assert.deepEqual(JSON.parse((await get('/skiff/connections')).body), []);
    const client = net.connect({ host: '127.0.0.1', port: listener.port });
    client.on('error', () => {});
    await new Promise((r) => client.once('connect', r));
    client.write('ping');
    await new Promise((r) => client.once('data', r));
    try {
      const open = JSON.parse((await get('/skiff/connections')).body) as Array<Record<string, unknown>>;
      assert.equal(open.length, 1);
      const { opened_at, ...rest } = open[0] as Record<string, unknown>;
      assert.ok(!Number.isNaN(Date.parse(String(opened_at))));
      assert.deepEqual(rest, {
        listener: 'inbound',
        filter_chain: 'raw',
        source: `127.0.0.1:${client.localPort}`,
        destination_port: listener.port,
        transport: 'raw_buffer',
        peer_principal: null,
        alpn: null,
        tls_version: null,
      });
    } finally {
      client.destroy();
    }
  });

  it('/quitquitquit: GET is refused (405) and quits nothing; POST quits', async () => {
    const refused = await get('/quitquitquit');
    assert.equal(refused.status, 405);
    assert.equal(refused.body, 'Method GET not allowed, POST required.\n');
    assert.equal(quits, 0);
    const ok = await get('/quitquitquit', 'POST');
    assert.deepEqual([ok.status, ok.body], [200, 'OK\n']);
    assert.equal(quits, 1);
  });

  it('answers 404 with the help on an unknown path, and /help with the list', async () => {
    const missing = await get('/no/such/path');
    assert.equal(missing.status, 404);
    assert.match(missing.body, /^invalid path\. admin commands are:\n/);
    const help = await get('/help');
    assert.equal(help.status, 200);
    for (const path of [
      '/clusters',
      '/config_dump',
      '/listeners',
      '/quitquitquit',
      '/ready',
      '/server_info',
      '/skiff/connections',
      '/stats',
      '/stats/prometheus',
    ]) {
      assert.match(help.body, new RegExp(`^  ${path.replace(/\//g, '\\/')}[ :]`, 'm'), path);
    }
  });
});
