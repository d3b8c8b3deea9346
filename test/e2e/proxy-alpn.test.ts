// Istio's istio.alpn with real processes: curl → proxy A (outbound http_connection_manager with istio.alpn, routes
// to auto-mTLS clusters whose own ALPN is Istio's `istio-peer-exchange, istio`) → mTLS → proxy B, whose inbound
// listener has Istio's chains for an auto-detected port in STRICT mode: the HTTP chain matches only
// `istio-http/1.0, istio-http/1.1, istio-h2`, everything else is the TCP chain (tcp_proxy). The app echoes the
// x-forwarded-client-cert it got: B's HTTP chain appends one, the TCP chain passes A's request through without.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chainsFor, downstreamTls, meshSecrets, staticCluster, tcpProxyFilter } from './helpers/inbound.js';
import { freePort, makePki, type RunningProxy, runAsync, startProxy, statsOf } from './helpers/mesh.js';

const RATINGS = 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings';
const PRODUCTPAGE = 'spiffe://cluster.local/ns/bookinfo/sa/productpage';
const ROUTER = {
  name: 'envoy.filters.http.router',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
};
/** What a generator emits for Istio's filter (Istio's own value, in a TypedStruct). */
const ISTIO_ALPN = {
  name: 'istio.alpn',
  typed_config: {
    '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct',
    type_url: 'type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig',
    value: {
      alpn_override: [
        { upstream_protocol: 'HTTP10', alpn_override: ['istio-http/1.0', 'istio', 'http/1.0'] },
        { upstream_protocol: 'HTTP11', alpn_override: ['istio-http/1.1', 'istio', 'http/1.1'] },
        { upstream_protocol: 'HTTP2', alpn_override: ['istio-h2', 'istio', 'h2'] },
      ],
    },
  },
};

/** A connection manager whose routes send each path prefix to its cluster, through `filters`. */
function hcm(statPrefix: string, routes: [string, string][], filters: object[], options: object = {}) {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type':
        'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      stat_prefix: statPrefix,
      ...options,
      route_config: {
        name: statPrefix,
        virtual_hosts: [
          {
            name: 'all',
            domains: ['*'],
            routes: routes.map(([prefix, cluster]) => ({
              match: { prefix },
              route: { cluster, timeout: '5s' },
            })),
          },
        ],
      },
      http_filters: filters,
    },
  };
}

/** Istio's auto-mTLS cluster to B: the cluster's own ALPN, HTTP/2 by HttpProtocolOptions when asked. */
function meshCluster(name: string, port: number, o: { http2?: boolean; metadata?: object } = {}) {
  const alpn = ['istio-peer-exchange', 'istio', ...(o.http2 ? ['h2'] : [])];
  return {
    ...staticCluster(name, port, {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: 'outbound_.9080_._.ratings.bookinfo.svc.cluster.local',
        common_tls_context: {
          alpn_protocols: alpn,
          tls_certificate_sds_secret_configs: [{ name: 'default' }],
          combined_validation_context: {
            default_validation_context: { match_subject_alt_names: [{ exact: RATINGS }] },
            validation_context_sds_secret_config: { name: 'ROOTCA' },
          },
        },
      },
    }),
    ...(o.metadata ? { metadata: { filter_metadata: o.metadata } } : {}),
    ...(o.http2
      ? {
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
        }
      : {}),
  };
}

describe('istio.alpn through two proxies: mesh HTTP lands on the server’s HTTP chain', {
  timeout: 60_000,
}, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-alpn-'));
  let app: http.Server;
  let a: RunningProxy;
  let b: RunningProxy;
  const port = { withFilter: 0, withoutFilter: 0, b: 0 };

  before(async () => {
    makePki(dir);
    app = http.createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url, xfcc: req.headers['x-forwarded-client-cert'] ?? null }));
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    port.withFilter = await freePort();
    port.withoutFilter = await freePort();
    port.b = await freePort();
    const appPort = (app.address() as AddressInfo).port;
    const inboundHcm = hcm('inbound_9080', [['/', 'inbound|9080||']], [ROUTER], {
      forward_client_cert_details: 'APPEND_FORWARD',
      set_current_client_cert_details: { subject: true, uri: true, dns: true },
    });
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
              // Istio's STRICT chains for an auto-detected port: HTTP on istio-http/*, the rest TCP.
              filter_chains: chainsFor('STRICT', 'auto').map((c) => ({
                name: c.name,
                filter_chain_match: {
                  destination_port: port.b,
                  transport_protocol: c.transport,
                  ...(c.alpn ? { application_protocols: c.alpn } : {}),
                },
                transport_socket: downstreamTls(c.http),
                filters: [c.http ? inboundHcm : tcpProxyFilter('inbound_tcp_9080', 'inbound|9080||')],
              })),
            },
          ],
          clusters: [staticCluster('inbound|9080||', appPort)],
        },
      }),
    );
    const routes: [string, string][] = [
      ['/h2/', 'outbound|9081||ratings'],
      ['/simple/', 'outbound|9082||ratings'],
      ['/', 'outbound|9080||ratings'],
    ];
    writeFileSync(
      `${dir}/a.json`,
      JSON.stringify({
        admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
        static_resources: {
          secrets: meshSecrets(`${dir}/client`),
          listeners: [
            {
              name: 'outbound_9080',
              address: { socket_address: { address: '127.0.0.1', port_value: port.withFilter } },
              filter_chains: [{ filters: [hcm('outbound_9080', routes, [ISTIO_ALPN, ROUTER])] }],
            },
            {
              name: 'outbound_9080_no_alpn',
              address: { socket_address: { address: '127.0.0.1', port_value: port.withoutFilter } },
              filter_chains: [{ filters: [hcm('outbound_9080_no_alpn', routes, [ROUTER])] }],
            },
          ],
          clusters: [
            meshCluster('outbound|9080||ratings', port.b),
            meshCluster('outbound|9081||ratings', port.b, { http2: true }),
            // Istio's mark on clusters whose DestinationRule TLS is SIMPLE or MUTUAL.
            meshCluster('outbound|9082||ratings', port.b, {
              metadata: { istio: { alpn_override: 'false' } },
            }),
          ],
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

  async function through(p: number, urlPath: string): Promise<{ url: string; xfcc: string | null }> {
    const r = await runAsync('curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${p}${urlPath}`]);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as { url: string; xfcc: string | null };
  }

  const XFCC = new RegExp(`^By=${RATINGS};Hash=[0-9a-f]{64};Subject="";URI=${PRODUCTPAGE}$`);

  it('HTTP/1.1 with istio.alpn: B’s HTTP chain serves it and the app sees B’s XFCC', async () => {
    const before = await statsOf(b.admin);
    const seen = await through(port.withFilter, '/ratings/1');
    assert.equal(seen.url, '/ratings/1');
    assert.match(seen.xfcc ?? '', XFCC);
    const after = await statsOf(b.admin);
    const rq = 'http.inbound_9080.downstream_rq_http1_total';
    assert.equal((after.get(rq) ?? 0) - (before.get(rq) ?? 0), 1);
  });

  it('HTTP/2 upstream with istio.alpn: the HTTP chain too, over h2', async () => {
    const before = await statsOf(b.admin);
    const seen = await through(port.withFilter, '/h2/ratings/2');
    assert.equal(seen.url, '/h2/ratings/2');
    assert.match(seen.xfcc ?? '', XFCC);
    const after = await statsOf(b.admin);
    const rq = 'http.inbound_9080.downstream_rq_http2_total';
    assert.equal((after.get(rq) ?? 0) - (before.get(rq) ?? 0), 1);
  });

  it('a cluster marked istio.alpn_override "false" keeps its ALPN: B’s TCP chain, no XFCC', async () => {
    const before = await statsOf(b.admin);
    const seen = await through(port.withFilter, '/simple/3');
    assert.deepEqual(seen, { url: '/simple/3', xfcc: null });
    const after = await statsOf(b.admin);
    const rq = 'http.inbound_9080.downstream_rq_total';
    assert.equal((after.get(rq) ?? 0) - (before.get(rq) ?? 0), 0);
    const cx = 'tcp.inbound_tcp_9080.downstream_cx_total';
    assert.equal((after.get(cx) ?? 0) - (before.get(cx) ?? 0), 1);
  });

  it('without istio.alpn the cluster ALPN lands on B’s TCP chain: no HTTP there, no XFCC', async () => {
    const before = await statsOf(b.admin);
    const seen = await through(port.withoutFilter, '/ratings/4');
    assert.deepEqual(seen, { url: '/ratings/4', xfcc: null });
    const after = await statsOf(b.admin);
    const rq = 'http.inbound_9080.downstream_rq_total';
    assert.equal((after.get(rq) ?? 0) - (before.get(rq) ?? 0), 0);
    const cx = 'tcp.inbound_tcp_9080.downstream_cx_total';
    assert.equal((after.get(cx) ?? 0) - (before.get(cx) ?? 0), 1);
  });
});
