// The seed's Proxy A: an app's plaintext through proxy A becomes mutual TLS to proxy B (real processes, a
// recording relay on the wire between them), B sees A's SPIFFE ID, A refuses a B with the wrong identity, one
// cluster sends mTLS to a sidecar endpoint and plaintext to a plain one (auto mTLS by endpoint metadata), and
// the agent path — certificates from the signing service, rotated under traffic — drops no connection.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inboundListener, meshSecrets, outboundListener, staticCluster } from './helpers/inbound.js';
import {
  type App,
  adminGet,
  freePort,
  makeAppCert,
  makePki,
  type RunningProxy,
  rawTcp,
  skiffOk,
  startApp,
  startCaServe,
  startProxy,
  startRecordingRelay,
  statsOf,
  tlsRecordTypes,
} from './helpers/mesh.js';

const TD = 'cluster.local';
const RATINGS = `spiffe://${TD}/ns/bookinfo/sa/bookinfo-ratings`;
const PRODUCTPAGE = `spiffe://${TD}/ns/bookinfo/sa/productpage`;

/** Istio's ISTIO_MUTUAL upstream context: SDS default, ROOTCA plus the expected server identities, its ALPN. */
function istioMutual(sans: string[], sni: string) {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      sni,
      common_tls_context: {
        alpn_protocols: ['istio-peer-exchange', 'istio'],
        tls_certificate_sds_secret_configs: [{ name: 'default' }],
        combined_validation_context: {
          default_validation_context: { match_subject_alt_names: sans.map((exact) => ({ exact })) },
          validation_context_sds_secret_config: { name: 'ROOTCA' },
        },
      },
    },
  };
}

/** An auto-mTLS cluster as Istio builds it: transport_socket_matches tlsMode-istio → mTLS, otherwise plaintext. */
function autoMtlsCluster(name: string, endpoints: { port: number; sidecar: boolean }[], sans: string[]) {
  return {
    name,
    type: 'EDS',
    connect_timeout: '1s',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: name },
    transport_socket_matches: [
      {
        name: 'tlsMode-istio',
        match: { tlsMode: 'istio' },
        transport_socket: istioMutual(sans, `outbound_.9080_._.${name.split('||')[1]}`),
      },
      {
        name: 'tlsMode-disabled',
        match: {},
        transport_socket: { name: 'envoy.transport_sockets.raw_buffer' },
      },
    ],
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: endpoints.map((e) => ({
            endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: e.port } } },
            ...(e.sidecar
              ? { metadata: { filter_metadata: { 'envoy.transport_socket_match': { tlsMode: 'istio' } } } }
              : {}),
          })),
        },
      ],
    },
  };
}

const admin0 = { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } };

describe('outbound mTLS between two proxies', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-outbound-'));
  let app: App;
  let b: RunningProxy;
  let a: RunningProxy;
  let relay: Awaited<ReturnType<typeof startRecordingRelay>>;
  const port = { bIn: 0, toRatings: 0, toReviews: 0, toMixed: 0 };

  before(async () => {
    makePki(dir);
    app = await startApp(dir);
    port.bIn = await freePort();
    writeFileSync(
      `${dir}/b.json`,
      JSON.stringify({
        node: {
          id: 'sidecar~127.0.0.1~ratings~bookinfo.svc.cluster.local',
          metadata: { NAMESPACE: 'bookinfo' },
        },
        admin: admin0,
        static_resources: {
          secrets: meshSecrets(`${dir}/server`),
          listeners: [inboundListener('PERMISSIVE', 'tcp', port.bIn, 'inbound|9080||')],
          clusters: [staticCluster('inbound|9080||', app.port)],
        },
      }),
    );
    b = await startProxy(`${dir}/b.json`, dir);
    relay = await startRecordingRelay(port.bIn);
    port.toRatings = await freePort();
    port.toReviews = await freePort();
    port.toMixed = await freePort();
    const ratings = 'outbound|9080||ratings.bookinfo.svc.cluster.local';
    const reviews = 'outbound|9080||reviews.bookinfo.svc.cluster.local';
    const mixed = 'outbound|9080||mixed.bookinfo.svc.cluster.local';
    writeFileSync(
      `${dir}/a.json`,
      JSON.stringify({
        node: {
          id: 'sidecar~127.0.0.1~productpage~bookinfo.svc.cluster.local',
          metadata: { NAMESPACE: 'bookinfo' },
        },
        admin: admin0,
        static_resources: {
          secrets: meshSecrets(`${dir}/client`),
          listeners: [
            outboundListener('to-ratings', port.toRatings, ratings),
            outboundListener('to-reviews', port.toReviews, reviews),
            outboundListener('to-mixed', port.toMixed, mixed),
          ],
          clusters: [
            autoMtlsCluster(ratings, [{ port: relay.port, sidecar: true }], [RATINGS]),
            // B is ratings, not reviews: A must refuse it.
            autoMtlsCluster(
              reviews,
              [{ port: port.bIn, sidecar: true }],
              [`spiffe://${TD}/ns/bookinfo/sa/bookinfo-reviews`],
            ),
            autoMtlsCluster(
              mixed,
              [
                { port: port.bIn, sidecar: true },
                { port: app.port, sidecar: false },
              ],
              [RATINGS],
            ),
          ],
        },
      }),
    );
    a = await startProxy(`${dir}/a.json`, dir);
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await relay?.close();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("carries the app's plaintext as mutual TLS: only TLS records on the wire, B sees A's SPIFFE ID", async () => {
    const s = net.connect({ host: '127.0.0.1', port: port.toRatings });
    await new Promise((r) => s.once('connect', r));
    s.write('hello\n');
    const reply = await new Promise<string>((r) => s.once('data', (d) => r(d.toString())));
    assert.equal(reply, 'echo:hello\n');
    const open = JSON.parse((await adminGet(b.admin, '/skiff/connections')).body) as {
      peer_principal: string | null;
      transport: string;
    }[];
    assert.ok(
      open.some((c) => c.peer_principal === PRODUCTPAGE && c.transport === 'tls'),
      JSON.stringify(open),
    );
    s.destroy();
    const wire = relay.recorded();
    assert.equal(wire.length, 1);
    const bytes = wire[0] as Buffer;
    const types = tlsRecordTypes(bytes);
    assert.ok(types, 'the bytes between A and B are TLS records and nothing else');
    assert.ok(types.includes(23), 'application data travelled as TLS application-data records');
    assert.ok(!bytes.includes(Buffer.from('hello')), 'the plaintext never appears on the wire');
    const stats = await statsOf(a.admin);
    assert.equal(stats.get('cluster.outbound|9080||ratings.bookinfo.svc.cluster.local.ssl.handshake'), 1);
  });

  it('refuses a server presenting another identity, and counts it', async () => {
    const name = 'outbound|9080||reviews.bookinfo.svc.cluster.local';
    const r = await rawTcp(port.toReviews);
    assert.equal(r.reply, '', 'nothing comes back');
    const stats = await statsOf(a.admin);
    assert.equal(stats.get(`cluster.${name}.ssl.fail_verify_san`), 1);
    assert.equal(stats.get(`cluster.${name}.ssl_handshake_error`), 1);
    assert.equal(stats.get(`cluster.${name}.ssl.handshake`), 0);
    const prom = (await adminGet(a.admin, '/stats/prometheus')).body;
    assert.match(
      prom,
      /envoy_cluster_ssl_handshake_error\{envoy_cluster_name="outbound\|9080\|\|reviews\.bookinfo\.svc\.cluster\.local"\} 1/,
    );
  });

  it('sends mTLS to the sidecar endpoint and plaintext to the plain one, in one cluster', async () => {
    const name = 'outbound|9080||mixed.bookinfo.svc.cluster.local';
    const beforeB = await statsOf(b.admin);
    const firstBytesBefore = app.firstBytes.length;
    for (let i = 0; i < 4; i++) assert.equal((await rawTcp(port.toMixed)).reply, 'echo:hello\n');
    const stats = await statsOf(a.admin);
    assert.equal(stats.get(`cluster.${name}.ssl.handshake`), 2, 'two connections went over mTLS');
    assert.equal(stats.get(`cluster.${name}.upstream_cx_total`), 4);
    const afterB = await statsOf(b.admin);
    const key = `listener.127.0.0.1_${port.bIn}.ssl.handshake`;
    assert.equal((afterB.get(key) ?? 0) - (beforeB.get(key) ?? 0), 2, 'B terminated two');
    const direct = app.firstBytes.slice(firstBytesBefore).map((bb) => bb.toString());
    assert.equal(
      direct.filter((t) => t === 'hello\n').length,
      4,
      'the app saw plaintext on all four (two via B)',
    );
  });
});

describe('the agent: certificates from the signing service, rotated under traffic', {
  timeout: 90_000,
}, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-agent-proxy-'));
  let ca: { address: string; stop: () => void };
  let app: App;
  let a: RunningProxy;
  let b: RunningProxy;
  const port = { bIn: 0, out: 0 };

  before(async () => {
    skiffOk('ca', 'init', '--dir', `${dir}/ca`);
    ca = await startCaServe(`${dir}/ca`);
    const token = (sa: string) =>
      skiffOk('ca', 'token', '--dir', `${dir}/ca`, '--namespace', 'bookinfo', '--service-account', sa).trim();
    writeFileSync(`${dir}/a.token`, token('productpage'));
    writeFileSync(`${dir}/b.token`, token('bookinfo-ratings'));
    makeAppCert(dir);
    app = await startApp(dir);
    port.bIn = await freePort();
    port.out = await freePort();
    const name = 'outbound|9080||ratings.bookinfo.svc.cluster.local';
    writeFileSync(
      `${dir}/b.json`,
      JSON.stringify({
        admin: admin0,
        static_resources: {
          listeners: [inboundListener('STRICT', 'tcp', port.bIn, 'inbound|9080||')],
          clusters: [staticCluster('inbound|9080||', app.port)],
        },
      }),
    );
    writeFileSync(
      `${dir}/a.json`,
      JSON.stringify({
        admin: admin0,
        static_resources: {
          listeners: [outboundListener('to-ratings', port.out, name)],
          clusters: [autoMtlsCluster(name, [{ port: port.bIn, sidecar: true }], [RATINGS])],
        },
      }),
    );
    const agentFlags = (who: string) => [
      '--ca-address',
      ca.address,
      '--token-file',
      `${dir}/${who}.token`,
      '--root-cert',
      `${dir}/ca/root-cert.pem`,
      '--cert-ttl',
      '8s',
    ];
    b = await startProxy(`${dir}/b.json`, dir, agentFlags('b'));
    a = await startProxy(`${dir}/a.json`, dir, agentFlags('a'));
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await app?.close();
    ca?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is ready with agent certificates, and drops no connection across rotations', async () => {
    assert.equal((await adminGet(a.admin, '/ready')).body, 'LIVE\n');
    assert.equal((await adminGet(b.admin, '/ready')).body, 'LIVE\n');
    // A long-lived connection streams throughout, while new connections open every 50 ms for 12 s.
    const long = net.connect({ host: '127.0.0.1', port: port.out });
    let echoed = '';
    long.on('data', (d) => {
      echoed += d.toString();
    });
    const deadline = Date.now() + 12_000;
    let ok = 0;
    const failures: string[] = [];
    let tick = 0;
    while (Date.now() < deadline) {
      long.write(`tick${tick}\n`);
      tick++;
      const r = await rawTcp(port.out);
      if (r.reply === 'echo:hello\n') ok++;
      else failures.push(r.error ?? `reply ${JSON.stringify(r.reply)}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    long.end();
    await new Promise((res) => long.once('close', res));
    assert.deepEqual(failures, [], `${failures.length} of ${ok + failures.length} connections failed`);
    assert.ok(ok > 50, `only ${ok} connections`);
    for (let i = 0; i < tick; i++)
      assert.ok(echoed.includes(`echo:tick${i}\n`), `the long connection lost tick${i}`);
    const installs = (p: RunningProxy) =>
      p
        .stderr()
        .split('\n')
        .filter((l) => l.includes('workload certificate installed')).length;
    assert.ok(installs(a) >= 3, `A rotated ${installs(a) - 1} times`);
    assert.ok(installs(b) >= 3, `B rotated ${installs(b) - 1} times`);
    const stats = await statsOf(a.admin);
    assert.equal(
      stats.get('cluster.outbound|9080||ratings.bookinfo.svc.cluster.local.ssl_handshake_error'),
      0,
    );
    assert.ok(readFileSync(`${dir}/a.token`, 'utf8').length > 0);
  });
});
