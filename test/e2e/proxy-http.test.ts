// HTTP through the mesh with real processes: curl → proxy A (outbound http_connection_manager, route to an
// auto-mTLS cluster) → mTLS → proxy B (inbound PERMISSIVE HTTP chains) → an app that echoes what it received.
// The app sees Istio's x-forwarded-client-cert on the mTLS path, and none — even a forged one — on plaintext.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { downstreamTls, httpConnectionManager, meshSecrets, staticCluster } from './helpers/inbound.js';
import { freePort, makePki, type RunningProxy, runAsync, startProxy, statsOf } from './helpers/mesh.js';

const RATINGS = 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings';
const PRODUCTPAGE = 'spiffe://cluster.local/ns/bookinfo/sa/productpage';

const hcm = (statPrefix: string, cluster: string) =>
  httpConnectionManager(statPrefix, cluster, {
    forward_client_cert_details: 'APPEND_FORWARD',
    set_current_client_cert_details: { subject: true, uri: true, dns: true },
  });

describe('HTTP through the mesh', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-http-'));
  let app: http.Server;
  let a: RunningProxy;
  let b: RunningProxy;
  const port = { a: 0, b: 0 };

  before(async () => {
    makePki(dir);
    app = http.createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url, xfcc: req.headers['x-forwarded-client-cert'] ?? null }));
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    port.a = await freePort();
    port.b = await freePort();
    const appPort = (app.address() as AddressInfo).port;
    writeFileSync(
      `${dir}/b.json`,
      JSON.stringify({
        admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
        static_resources: {
          secrets: meshSecrets(`${dir}/server`),
          listeners: [
            {
              name: 'virtualInbound',
              address: { socket_address: { address: '127.0.0.1', port_value: port.b } },
              listener_filters: [
                {
                  name: 'envoy.filters.listener.tls_inspector',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
                  },
                },
              ],
              filter_chains: [
                {
                  name: 'mtls-http',
                  filter_chain_match: {
                    transport_protocol: 'tls',
                    application_protocols: [
                      'istio',
                      'istio-peer-exchange',
                      'istio-http/1.0',
                      'istio-http/1.1',
                      'istio-h2',
                    ],
                  },
                  transport_socket: downstreamTls(true),
                  filters: [hcm('inbound_9080', 'inbound|9080||')],
                },
                {
                  name: 'plaintext-http',
                  filter_chain_match: { transport_protocol: 'raw_buffer' },
                  filters: [hcm('inbound_9080', 'inbound|9080||')],
                },
              ],
            },
          ],
          clusters: [staticCluster('inbound|9080||', appPort)],
        },
      }),
    );
    const upstreamTls = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: 'outbound_.9080_._.ratings.bookinfo.svc.cluster.local',
        common_tls_context: {
          alpn_protocols: ['istio-http/1.1', 'istio', 'http/1.1'],
          tls_certificate_sds_secret_configs: [{ name: 'default' }],
          combined_validation_context: {
            default_validation_context: { match_subject_alt_names: [{ exact: RATINGS }] },
            validation_context_sds_secret_config: { name: 'ROOTCA' },
          },
        },
      },
    };
    writeFileSync(
      `${dir}/a.json`,
      JSON.stringify({
        admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
        static_resources: {
          secrets: meshSecrets(`${dir}/client`),
          listeners: [
            {
              name: 'outbound_9080',
              address: { socket_address: { address: '127.0.0.1', port_value: port.a } },
              filter_chains: [
                { filters: [hcm('outbound_9080', 'outbound|9080||ratings.bookinfo.svc.cluster.local')] },
              ],
            },
          ],
          clusters: [staticCluster('outbound|9080||ratings.bookinfo.svc.cluster.local', port.b, upstreamTls)],
        },
      }),
    );
    b = await startProxy(`${dir}/b.json`, dir);
    a = await startProxy(`${dir}/a.json`, dir);
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("curl through A and B: the app sees Istio's XFCC naming both identities", async () => {
    const r = await runAsync('curl', [
      '-sS',
      '--max-time',
      '5',
      '-H',
      'x-forwarded-client-cert: By=forged',
      `http://127.0.0.1:${port.a}/ratings/1`,
    ]);
    assert.equal(r.code, 0, r.err);
    const seen = JSON.parse(r.out) as { url: string; xfcc: string | null };
    assert.equal(seen.url, '/ratings/1');
    // A's outbound HCM saw plaintext from curl, so it dropped the forged XFCC; B appended its element.
    assert.match(
      seen.xfcc ?? '',
      new RegExp(`^By=${RATINGS};Hash=[0-9a-f]{64};Subject="";URI=${PRODUCTPAGE}$`),
    );
    const stats = await statsOf(b.admin);
    assert.equal(stats.get(`listener.127.0.0.1_${port.b}.ssl.handshake`), 1);
    assert.ok((stats.get('http.inbound_9080.downstream_rq_2xx') ?? 0) >= 1);
  });

  it('plaintext straight to B (PERMISSIVE): served, and a forged XFCC is removed', async () => {
    const r = await runAsync('curl', [
      '-sS',
      '--max-time',
      '5',
      '-H',
      'x-forwarded-client-cert: By=forged',
      `http://127.0.0.1:${port.b}/ratings/2`,
    ]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), { url: '/ratings/2', xfcc: null });
  });

  it('keep-alive: many requests on one client connection reuse one upstream mTLS connection', async () => {
    const before = await statsOf(a.admin);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 20; i++) {
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: port.a, path: `/r/${i}`, agent }, (res) => {
            let t = '';
            res.on('data', (d) => {
              t += d;
            });
            res.on('end', () => resolve(t));
          })
          .on('error', reject);
      });
      assert.equal((JSON.parse(body) as { url: string }).url, `/r/${i}`);
    }
    agent.destroy();
    const after = await statsOf(a.admin);
    const key = 'cluster.outbound|9080||ratings.bookinfo.svc.cluster.local.upstream_cx_total';
    assert.ok((after.get(key) ?? 0) - (before.get(key) ?? 0) <= 1, 'no new upstream connection per request');
  });
});
