import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { createLogger, silentLogger } from '../../../src/core/log.js';
import type { ClusterConfig, EndpointConfig, UpstreamTransport } from '../../../src/proxy/config/model.js';
import { StatsStore } from '../../../src/proxy/stats/index.js';
import { SecretStore } from '../../../src/proxy/transport/secrets.js';
import {
  Cluster,
  CONNECT_WARN_INTERVAL_MS,
  type ConnectResult,
  transportMatches,
} from '../../../src/proxy/upstream/cluster.js';
import { OUTLIER_DEFAULTS } from '../../../src/proxy/upstream/outlier-detector.js';
import { type Identity, issue, makeCa } from '../pki.js';

const PARAMS = {
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.2',
  ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  curves: 'X25519:P-256',
} as const;

function endpoint(port: number, tlsMode?: string): EndpointConfig {
  return {
    address: { host: '127.0.0.1', port },
    healthy: true,
    metadata: {},
    transportMatch: tlsMode ? { tlsMode } : {},
  };
}

function clusterConfig(endpoints: EndpointConfig[], o: Partial<ClusterConfig> = {}): ClusterConfig {
  return {
    name: 'c',
    type: 'STATIC',
    connectTimeoutMs: 500,
    lbPolicy: 'ROUND_ROBIN',
    endpoints,
    transport: { kind: 'raw' },
    transportSocketMatches: [],
    httpProtocol: 'http1',
    filterMetadata: {},
    ...o,
  };
}

/** ISTIO_MUTUAL to an endpoint; the expected server identities live in the secret `expected`. */
function mtls(sni = 'outbound_.9080_._.ratings.bookinfo.svc.cluster.local'): UpstreamTransport {
  return {
    kind: 'tls',
    tls: {
      sni,
      alpn: ['istio-peer-exchange', 'istio'],
      params: PARAMS,
      certificateSecrets: ['default'],
      validationSecrets: ['expected', 'ROOTCA'],
    },
  };
}

function connect(cluster: Cluster): Promise<ConnectResult> {
  return new Promise((resolve) => cluster.connect(resolve));
}

/** Plain servers that answer with their name. */
async function namedServer(name: string): Promise<net.Server> {
  const s = net.createServer((c) => {
    c.on('error', () => {});
    c.end(name);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return s;
}
const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

/** A port nothing listens on. */
async function deadPortOf(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = portOf(s);
  await new Promise((r) => s.close(r));
  return port;
}

async function readAll(socket: net.Socket): Promise<string> {
  let out = '';
  for await (const chunk of socket) out += String(chunk);
  return out;
}

describe('transport socket matches (Envoy TransportSocketMatcher)', () => {
  const cases: [string, Record<string, unknown>, Record<string, unknown>, boolean][] = [
    ['empty match matches everything', {}, { tlsMode: 'istio' }, true],
    ['equal value', { tlsMode: 'istio' }, { tlsMode: 'istio' }, true],
    ['other value', { tlsMode: 'istio' }, { tlsMode: 'disabled' }, false],
    ['missing key', { tlsMode: 'istio' }, {}, false],
    ['every key must hold', { tlsMode: 'istio', zone: 'a' }, { tlsMode: 'istio' }, false],
    ['extra endpoint keys do not matter', { tlsMode: 'istio' }, { tlsMode: 'istio', zone: 'a' }, true],
    ['structured values compare deeply', { v: { a: [1, 2] } }, { v: { a: [1, 2] } }, true],
  ];
  for (const [name, match, metadata, expected] of cases) {
    it(name, () => assert.equal(transportMatches(match as never, metadata as never), expected));
  }
});

describe("a cluster's statistics", () => {
  it("has Envoy's cluster.<name>.ssl.* counters and no listener-only stat", () => {
    const store = new StatsStore();
    new Cluster(clusterConfig([endpoint(1)]), store);
    const names = [...store.counters()].map((c) => c.name);
    assert.ok(names.includes('cluster.c.ssl.handshake'));
    assert.deepEqual(
      names.filter((n) => n.includes('transport_socket_connect_timeout')),
      [],
      'downstream_cx_transport_socket_connect_timeout belongs to listeners',
    );
  });
});

describe('load balancing and outlier handling', { timeout: 20_000 }, () => {
  const servers: net.Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  it('round robin takes the endpoints in turn', async () => {
    for (const n of ['a', 'b', 'c']) servers.push(await namedServer(n));
    const c = new Cluster(clusterConfig(servers.slice(-3).map((s) => endpoint(portOf(s)))), new StatsStore());
    const got: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await connect(c);
      assert.ok(r.ok);
      got.push(await readAll(r.socket));
    }
    assert.deepEqual(got, ['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('load_balancing_weight: picks in proportion to the weights, spread out (smooth weighted round robin)', () => {
    const weighted = (port: number, weight: number): EndpointConfig => ({ ...endpoint(port), weight });
    const c = new Cluster(clusterConfig([weighted(1, 3), weighted(2, 1)]), new StatsStore());
    const got = Array.from({ length: 8 }, () => c.pick()?.config.address.port);
    assert.deepEqual(got, [1, 1, 2, 1, 1, 1, 2, 1]);
    // Equal weights are plain round robin (Envoy too).
    const even = new Cluster(clusterConfig([weighted(1, 5), weighted(2, 5)]), new StatsStore());
    assert.deepEqual(
      Array.from({ length: 4 }, () => even.pick()?.config.address.port),
      [1, 2, 1, 2],
    );
  });

  it('load_balancing_weight with LEAST_REQUEST: the weight is divided by active requests + 1', () => {
    const weighted = (port: number, weight: number): EndpointConfig => ({ ...endpoint(port), weight });
    const c = new Cluster(
      clusterConfig([weighted(1, 2), weighted(2, 1)], { lbPolicy: 'LEAST_REQUEST' }),
      new StatsStore(),
    );
    const heavy = c.endpoints[0];
    assert.ok(heavy);
    heavy.active = 3; // effective weight 2/4 against 1/1: the light endpoint gets two picks in three
    const got = Array.from({ length: 6 }, () => c.pick()?.config.address.port);
    assert.deepEqual(got.filter((p) => p === 2).length, 4, `picks: ${got.join(',')}`);
  });

  it('circuit_breakers max_retries bounds retries in flight (Envoy default 3)', () => {
    const dflt = new Cluster(clusterConfig([endpoint(1)]), new StatsStore());
    assert.deepEqual(
      [1, 2, 3, 4].map(() => dflt.tryTakeRetry()),
      [true, true, true, false],
    );
    const one = new Cluster(clusterConfig([endpoint(1)], { maxRetries: 1 }), new StatsStore());
    assert.deepEqual([one.tryTakeRetry(), one.tryTakeRetry()], [true, false]);
    one.releaseRetry();
    assert.equal(one.tryTakeRetry(), true);
  });

  it('least request prefers the endpoint with fewer open connections', async () => {
    const busy = await namedServer('busy');
    const idle = net.createServer((c) => c.on('error', () => {}));
    await new Promise<void>((r) => idle.listen(0, '127.0.0.1', r));
    servers.push(busy, idle);
    const c = new Cluster(
      clusterConfig([endpoint(portOf(idle)), endpoint(portOf(busy))], { lbPolicy: 'LEAST_REQUEST' }),
      new StatsStore(),
    );
    // Hold 3 connections to the idle server (it never closes them).
    const held: net.Socket[] = [];
    while (held.length < 3) {
      const r = await connect(c);
      assert.ok(r.ok);
      if (r.endpoint.config.address.port === portOf(idle)) held.push(r.socket);
      else r.socket.destroy();
    }
    let toBusy = 0;
    for (let i = 0; i < 100; i++) {
      const r = await connect(c);
      assert.ok(r.ok);
      if (r.endpoint.config.address.port === portOf(busy)) toBusy++;
      r.socket.destroy();
      await new Promise((res) => setImmediate(res));
    }
    // Two random picks (with replacement, as Envoy), the less loaded wins: 3 in 4 go to the unloaded endpoint.
    assert.ok(toBusy >= 60, `power of two choices should avoid the loaded endpoint: ${toBusy}/100`);
    for (const h of held) h.destroy();
  });

  it('without outlier_detection a refused endpoint is never ejected (Envoy): round robin keeps trying it', async () => {
    const up = await namedServer('up');
    servers.push(up);
    const dead = await deadPortOf();
    const store = new StatsStore();
    const c = new Cluster(clusterConfig([endpoint(dead), endpoint(portOf(up))]), store);
    const results: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await connect(c);
      results.push(r.ok);
      if (r.ok) r.socket.destroy();
    }
    assert.deepEqual(results, [false, true, false, true, false, true]);
    assert.equal(store.counter('cluster.c.upstream_cx_connect_fail').value, 3);
    assert.equal(
      [...store.counters()].some((c) => c.name.includes('outlier_detection')),
      false,
      'no outlier_detection statistics without a detector (Envoy)',
    );
  });

  it('with outlier_detection, consecutive connect failures eject the endpoint until the interval reviews it', async () => {
    const up = await namedServer('up');
    servers.push(up);
    const dead = await deadPortOf();
    const store = new StatsStore();
    const c = new Cluster(
      clusterConfig([endpoint(dead), endpoint(portOf(up))], {
        outlierDetection: {
          ...OUTLIER_DEFAULTS,
          consecutive5xx: 2,
          maxEjectionPercent: 50,
          intervalMs: 200,
          baseEjectionMs: 200,
        },
      }),
      store,
    );
    const od = (n: string) => store.counter(`cluster.c.outlier_detection.${n}`).value;
    // Round robin: dead, up, dead — the second failure (503 each) reaches consecutive_5xx.
    for (let i = 0; i < 3; i++) {
      const r = await connect(c);
      if (r.ok) r.socket.destroy();
    }
    assert.equal(od('ejections_enforced_consecutive_5xx'), 1);
    assert.equal(store.gauge('cluster.c.outlier_detection.ejections_active').value, 1);
    for (let i = 0; i < 4; i++) {
      const r = await connect(c);
      assert.ok(r.ok, 'the ejected endpoint is not picked');
      r.socket.destroy();
    }
    // At an interval tick after base_ejection_time the endpoint is back.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(store.gauge('cluster.c.outlier_detection.ejections_active').value, 0);
    const picks: boolean[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await connect(c);
      picks.push(r.ok);
      if (r.ok) r.socket.destroy();
    }
    assert.ok(picks.includes(false), 'the endpoint is tried again');
    c.close();
  });

  it('panic mode: under healthy_panic_threshold every endpoint is used, unhealthy ones too; 0 turns it off', async () => {
    const up = await namedServer('up');
    servers.push(up);
    const unhealthy = { ...endpoint(portOf(up)), healthy: false };
    const store = new StatsStore();
    // No healthy endpoint: 0% available is under Envoy's default 50%, so the unhealthy one is tried.
    const panicking = await connect(new Cluster(clusterConfig([unhealthy]), store));
    assert.ok(panicking.ok, 'panic routes to the unhealthy endpoint');
    panicking.socket.destroy();
    assert.equal(store.counter('cluster.c.lb_healthy_panic').value, 1);
    const off = await connect(
      new Cluster(clusterConfig([unhealthy], { healthyPanicThreshold: 0 }), new StatsStore()),
    );
    assert.ok(!off.ok && off.reason === 'none-healthy', 'threshold 0: no panic, no healthy upstream');
  });

  it('warns of failed connections at the default log level, once per interval, naming the endpoint', async () => {
    const dead = await deadPortOf();
    const lines: string[] = [];
    const log = createLogger({ sink: (line) => lines.push(line) });
    const c = new Cluster(clusterConfig([endpoint(dead)]), new StatsStore(), new SecretStore(), log);
    for (let i = 0; i < 5; i++) assert.equal((await connect(c)).ok, false);
    assert.equal(
      lines.length,
      1,
      `one warning for 5 failures within ${CONNECT_WARN_INTERVAL_MS} ms:\n${lines}`,
    );
    const warning = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    assert.equal(warning.level, 'warn');
    assert.equal(warning.msg, 'upstream connect failed');
    assert.equal(warning.cluster, 'c');
    assert.equal(warning.error, `connect to 127.0.0.1:${dead}: ECONNREFUSED`);
  });

  it('counts none_healthy when no endpoint is healthy and panic mode is off', async () => {
    const store = new StatsStore();
    const c = new Cluster(
      clusterConfig([{ ...endpoint(1), healthy: false }], { healthyPanicThreshold: 0 }),
      store,
    );
    const r = await connect(c);
    assert.ok(!r.ok && r.reason === 'none-healthy');
    assert.equal(store.counter('cluster.c.upstream_cx_none_healthy').value, 1);
    assert.equal(store.gauge('cluster.c.membership_healthy').value, 0);
  });
});

describe('upstream mutual TLS per endpoint', { timeout: 30_000 }, () => {
  let server: Identity;
  let client: Identity;
  let foreign: Identity;
  let mtlsServer: tls.Server;
  let foreignServer: tls.Server;
  let plain: net.Server;
  let silent: net.Server;
  const seen: { sni: string | false; alpn: string | false | null; peer: string }[] = [];

  before(async () => {
    const made = await makeCa();
    server = await issue(made.ca, 'bookinfo', 'bookinfo-ratings');
    client = await issue(made.ca, 'bookinfo', 'productpage');
    const other = await makeCa();
    foreign = await issue(other.ca, 'bookinfo', 'bookinfo-ratings');
    const serve = (id: Identity) =>
      tls.createServer(
        {
          cert: id.chain,
          key: id.key,
          ca: server.root,
          requestCert: true,
          rejectUnauthorized: true,
          ALPNProtocols: ['istio-peer-exchange', 'h2'],
        },
        (s) => {
          seen.push({
            sni: (s as tls.TLSSocket & { servername?: string | false | null }).servername || false,
            alpn: s.alpnProtocol,
            peer: s.getPeerCertificate().subjectaltname ?? '',
          });
          s.end('over mtls');
        },
      );
    mtlsServer = serve(server);
    foreignServer = serve(foreign);
    plain = net.createServer((s) => {
      s.once('data', (d) => s.end(`plain saw ${d[0] === 0x16 ? 'TLS' : 'plaintext'}`));
    });
    silent = net.createServer(() => {});
    for (const s of [mtlsServer, foreignServer, plain, silent])
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  });

  after(() => {
    for (const s of [mtlsServer, foreignServer, plain, silent]) s.close();
  });

  function secrets(expected: string[]): SecretStore {
    const store = new SecretStore();
    store.setCertificate('default', { chain: client.chain, key: client.key });
    store.setValidation('ROOTCA', { trustedCa: server.root, sanMatchers: [] });
    store.setValidation('expected', {
      trustedCa: undefined,
      sanMatchers: expected.map((value) => ({
        type: 'ANY',
        match: { kind: 'exact', value, ignoreCase: false },
      })),
    });
    return store;
  }

  function autoCluster(
    endpoints: EndpointConfig[],
    expected: string[],
    store = new StatsStore(),
    connectTimeoutMs = 500,
  ) {
    return new Cluster(
      clusterConfig(endpoints, {
        connectTimeoutMs,
        transportSocketMatches: [
          { name: 'tlsMode-istio', match: { tlsMode: 'istio' }, transport: mtls() },
          { name: 'tlsMode-disabled', match: {}, transport: { kind: 'raw' } },
        ],
      }),
      store,
      secrets(expected),
      silentLogger,
    );
  }

  it('originates mTLS to a sidecar endpoint with SNI, ALPN and the client certificate; plaintext to a plain one', async () => {
    const store = new StatsStore();
    const c = autoCluster(
      [endpoint(portOf(mtlsServer), 'istio'), endpoint(portOf(plain))],
      [server.spiffe],
      store,
    );
    const first = await connect(c);
    assert.ok(first.ok);
    assert.equal(first.endpoint.transportName, 'tlsMode-istio');
    assert.equal(first.peerIdentity, server.spiffe);
    assert.equal(await readAll(first.socket), 'over mtls');
    assert.deepEqual(seen.at(-1), {
      sni: 'outbound_.9080_._.ratings.bookinfo.svc.cluster.local',
      alpn: 'istio-peer-exchange',
      peer: `URI:${client.spiffe}`,
    });
    const second = await connect(c);
    assert.ok(second.ok);
    assert.equal(second.endpoint.transportName, 'tlsMode-disabled');
    second.socket.write('x');
    assert.equal(await readAll(second.socket), 'plain saw plaintext');
    assert.equal(store.counter('cluster.c.ssl.handshake').value, 1);
    assert.equal(
      store.counter('cluster.c.ssl.versions.TLSv1.2').value,
      1,
      "Envoy's client default maximum is TLS 1.2",
    );
  });

  it('refuses a server with another identity (fail_verify_san) and an untrusted one (fail_verify_error)', async () => {
    const store = new StatsStore();
    const wrongId = autoCluster(
      [endpoint(portOf(mtlsServer), 'istio')],
      ['spiffe://cluster.local/ns/bookinfo/sa/reviews'],
      store,
    );
    const r1 = await connect(wrongId);
    assert.ok(!r1.ok && r1.reason === 'tls');
    assert.equal(store.counter('cluster.c.ssl.fail_verify_san').value, 1);
    assert.equal(store.counter('cluster.c.ssl_handshake_error').value, 1);
    assert.equal(store.counter('cluster.c.upstream_cx_connect_fail').value, 1);
    const store2 = new StatsStore();
    const untrusted = autoCluster([endpoint(portOf(foreignServer), 'istio')], [server.spiffe], store2);
    const r2 = await connect(untrusted);
    assert.ok(!r2.ok && r2.reason === 'tls');
    assert.equal(store2.counter('cluster.c.ssl.fail_verify_error').value, 1);
    assert.equal(store2.counter('cluster.c.ssl.handshake').value, 0);
  });

  it('bounds the TLS handshake by connect_timeout', async () => {
    const store = new StatsStore();
    const c = autoCluster([endpoint(portOf(silent), 'istio')], [server.spiffe], store, 200);
    const t0 = Date.now();
    const r = await connect(c);
    assert.ok(!r.ok && r.reason === 'timeout');
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(store.counter('cluster.c.upstream_cx_connect_timeout').value, 1);
  });

  it('is not ready until its secrets exist, and picks up new ones without a restart', async () => {
    const store = new SecretStore();
    const c = new Cluster(
      clusterConfig([endpoint(portOf(mtlsServer), 'istio')], {
        transportSocketMatches: [{ name: 'tlsMode-istio', match: { tlsMode: 'istio' }, transport: mtls() }],
      }),
      new StatsStore(),
      store,
      silentLogger,
    );
    assert.equal(c.ready, false);
    const before = await connect(c);
    assert.ok(!before.ok);
    store.setCertificate('default', { chain: client.chain, key: client.key });
    store.setValidation('ROOTCA', { trustedCa: server.root, sanMatchers: [] });
    store.setValidation('expected', { trustedCa: undefined, sanMatchers: [] });
    assert.equal(c.ready, true);
    // The endpoint was ejected by the failure; with one endpoint, panic mode still tries it.
    const after = await connect(c);
    assert.ok(after.ok);
    after.socket.destroy();
    c.close();
  });
});

describe('upstream_bind_config', () => {
  it('binds the source address before connecting: the endpoint sees it', async () => {
    const seen: string[] = [];
    const server = net.createServer((c) => {
      seen.push(c.remoteAddress ?? '');
      c.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const c = new Cluster(
        clusterConfig([endpoint(portOf(server))], { upstreamBind: { host: '127.0.0.5', port: 0 } }),
        new StatsStore(),
      );
      const r = await connect(c);
      assert.ok(r.ok, r.ok ? '' : r.detail);
      assert.equal(r.socket.localAddress, '127.0.0.5');
      assert.equal(await readAll(r.socket), 'ok');
      assert.deepEqual(seen, ['127.0.0.5']);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a failed bind fails the connection, counted as bind_errors and upstream_cx_connect_fail', async () => {
    const up = await namedServer('up');
    const taken = await namedServer('taken');
    try {
      const store = new StatsStore();
      const c = new Cluster(
        clusterConfig([endpoint(portOf(up))], { upstreamBind: { host: '127.0.0.1', port: portOf(taken) } }),
        store,
      );
      const r = await connect(c);
      assert.equal(r.ok, false);
      assert.match(
        r.ok ? '' : r.detail,
        new RegExp(`failed to bind to 127\\.0\\.0\\.1:${portOf(taken)}: EADDRINUSE`),
      );
      assert.equal(store.counter('cluster.c.bind_errors').value, 1);
      assert.equal(store.counter('cluster.c.upstream_cx_connect_fail').value, 1);
    } finally {
      await new Promise((r) => up.close(r));
      await new Promise((r) => taken.close(r));
    }
  });
});
