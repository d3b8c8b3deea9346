// Istio's standard metrics through a real proxy pair, both reporters, with real clients: curl (HTTP/1.1, HTTP/2
// prior knowledge), a gRPC client (@grpc/grpc-js), raw TCP — over mTLS (A → B) and plaintext (a non-mesh client
// straight to B; a meshed client whose route has no TLS). Every metric line is asserted whole: every label and
// the 19 histogram buckets. The peer metadata headers travel between the proxies and never reach the app or the
// client; the seed's two PromQL expressions are evaluated on the scrapes.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ENVOY_BUCKETS_LE } from '../proxy/telemetry/fixtures.js';
import { downstreamTls, meshSecrets } from './helpers/inbound.js';
import { adminGet, freePort, makePki, type RunningProxy, runAsync, startProxy } from './helpers/mesh.js';
import { evaluate, formatVector, type Scrape } from './helpers/promql.js';

const RATINGS = 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings';
const PRODUCTPAGE = 'spiffe://cluster.local/ns/bookinfo/sa/productpage';
const SERVICE = 'ratings.bookinfo.svc.cluster.local';

const node = (pod: string, workload: string, app: string, sa: string) => ({
  id: `sidecar~127.0.0.1~${pod}.bookinfo~bookinfo.svc.cluster.local`,
  cluster: `${app}.bookinfo`,
  metadata: {
    NAME: pod,
    NAMESPACE: 'bookinfo',
    WORKLOAD_NAME: workload,
    CLUSTER_ID: 'Kubernetes',
    SERVICE_ACCOUNT: sa,
    ISTIO_VERSION: '1.24.0',
    OWNER: `kubernetes://apis/apps/v1/namespaces/bookinfo/deployments/${workload}`,
    LABELS: {
      app,
      version: 'v1',
      'service.istio.io/canonical-name': app,
      'service.istio.io/canonical-revision': 'v1',
    },
  },
});

const typedStruct = (name: string, typeUrl: string, value: object) => ({
  name,
  typed_config: {
    '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct',
    type_url: `type.googleapis.com/${typeUrl}`,
    value,
  },
});
const STATS = typedStruct('istio.stats', 'stats.PluginConfig', {});
const router = {
  name: 'envoy.filters.http.router',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
};

function hcm(direction: 'in' | 'out', routes: object[]) {
  const mx =
    direction === 'in'
      ? { downstream_discovery: [{ istio_headers: {} }], downstream_propagation: [{ istio_headers: {} }] }
      : { upstream_discovery: [{ istio_headers: {} }], upstream_propagation: [{ istio_headers: {} }] };
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type':
        'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      stat_prefix: direction === 'in' ? 'inbound_0.0.0.0_9080' : 'outbound_0.0.0.0_9080',
      forward_client_cert_details: 'APPEND_FORWARD',
      set_current_client_cert_details: { subject: true, uri: true, dns: true },
      route_config: { name: 'r', virtual_hosts: [{ name: 'all', domains: ['*'], routes }] },
      http_filters: [
        typedStruct('istio.metadata_exchange', 'io.istio.http.peer_metadata.Config', mx),
        STATS,
        router,
      ],
    },
  };
}

const tcp = (cluster: string) => [
  STATS,
  {
    name: 'envoy.filters.network.tcp_proxy',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
      stat_prefix: cluster,
      cluster,
    },
  },
];

const ISTIO_SERVICE = {
  filter_metadata: { istio: { services: [{ host: SERVICE, name: 'ratings', namespace: 'bookinfo' }] } },
};

function cluster(name: string, port: number, o: { tls?: object; h2?: 'explicit' | 'downstream' } = {}) {
  return {
    name,
    connect_timeout: '1s',
    metadata: ISTIO_SERVICE,
    ...(o.tls ? { transport_socket: o.tls } : {}),
    ...(o.h2
      ? {
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              ...(o.h2 === 'explicit'
                ? { explicit_http_config: { http2_protocol_options: {} } }
                : {
                    use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
                  }),
            },
          },
        }
      : {}),
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } },
          ],
        },
      ],
    },
  };
}

const upstreamTls = (alpn: string[]) => ({
  name: 'envoy.transport_sockets.tls',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
    sni: `outbound_.9080_._.${SERVICE}`,
    common_tls_context: {
      alpn_protocols: alpn,
      tls_certificate_sds_secret_configs: [{ name: 'default' }],
      combined_validation_context: {
        default_validation_context: { match_subject_alt_names: [{ exact: RATINGS }] },
        validation_context_sds_secret_config: { name: 'ROOTCA' },
      },
    },
  },
});

const TLS_INSPECTOR = {
  name: 'envoy.filters.listener.tls_inspector',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  },
};

const listener = (name: string, port: number, direction: 'INBOUND' | 'OUTBOUND', chains: object[]) => ({
  name,
  address: { socket_address: { address: '127.0.0.1', port_value: port } },
  traffic_direction: direction,
  ...(direction === 'INBOUND' ? { listener_filters: [TLS_INSPECTOR] } : {}),
  filter_chains: chains,
});

const MESH_ALPN = ['istio', 'istio-peer-exchange', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2'];

/** The labels of a line, in Istio's order; `{}` values override a base. */
type Labels = Record<string, string>;

const HTTP_ORDER = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_service_name',
  'destination_service_namespace',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
];
const TCP_ORDER = [...HTTP_ORDER.slice(0, 21), 'response_flags', 'connection_security_policy'];

function labelText(order: string[], l: Labels): string {
  return order
    .map((k) => {
      const v = l[k];
      assert.ok(v !== undefined, `test bug: no value for ${k}`);
      return `${k}="${v}"`;
    })
    .join(',');
}

const PRODUCTPAGE_SIDE = {
  workload: 'productpage-v1',
  canonical_service: 'productpage',
  canonical_revision: 'v1',
  workload_namespace: 'bookinfo',
  principal: PRODUCTPAGE,
  app: 'productpage',
  version: 'v1',
  cluster: 'Kubernetes',
};
const RATINGS_SIDE = {
  workload: 'ratings-v1',
  workload_namespace: 'bookinfo',
  principal: RATINGS,
  app: 'ratings',
  version: 'v1',
  service: SERVICE,
  canonical_service: 'ratings',
  canonical_revision: 'v1',
  service_name: 'ratings',
  service_namespace: 'bookinfo',
  cluster: 'Kubernetes',
};
const UNKNOWN_SOURCE = {
  workload: 'unknown',
  canonical_service: 'unknown',
  canonical_revision: 'latest',
  workload_namespace: 'unknown',
  principal: 'unknown',
  app: 'unknown',
  version: 'unknown',
  cluster: 'unknown',
};

function prefixed(prefix: string, o: Record<string, string>): Labels {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [`${prefix}_${k}`, v]));
}

function labels(
  reporter: string,
  source: Record<string, string>,
  destination: Record<string, string>,
  rest: Labels,
) {
  return { reporter, ...prefixed('source', source), ...prefixed('destination', destination), ...rest };
}

/** The lines of one series in a scrape: the counter line, or every bucket/sum/count line of a histogram. */
function seriesLines(scrape: string, metric: string, labelsText: string): string[] {
  return scrape
    .split('\n')
    .filter(
      (l) =>
        l.startsWith(`${metric}{${labelsText}}`) ||
        l.startsWith(`${metric}_bucket{${labelsText},le=`) ||
        l.startsWith(`${metric}_sum{${labelsText}}`) ||
        l.startsWith(`${metric}_count{${labelsText}}`),
    );
}

/** Asserts a histogram series has Envoy's 19 buckets, cumulative, +Inf = count, and returns [count, sum]. */
function histogram(
  scrape: string,
  metric: string,
  labelsText: string,
): { count: number; sum: number; le: number[] } {
  const lines = seriesLines(scrape, metric, labelsText);
  const buckets = lines.filter((l) => l.startsWith(`${metric}_bucket`));
  assert.deepEqual(
    buckets.map((l) => /le="([^"]+)"/.exec(l)?.[1]),
    [...ENVOY_BUCKETS_LE, '+Inf'],
    `${metric}{${labelsText}}: buckets\n${lines.join('\n')}`,
  );
  const values = buckets.map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
  for (let i = 1; i < values.length; i++) assert.ok((values[i] as number) >= (values[i - 1] as number));
  const count = Number(lines.find((l) => l.startsWith(`${metric}_count`))?.split(' ')[1]);
  const sum = Number(lines.find((l) => l.startsWith(`${metric}_sum`))?.split(' ')[1]);
  assert.equal(values.at(-1), count);
  return { count, sum, le: values };
}

/**
 * A proxy's /stats/prometheus once no HTTP stream is open: a stream is recorded when it closes, which may be a
 * moment after the client has its response.
 */
async function scrape(p: RunningProxy): Promise<string> {
  for (let i = 0; ; i++) {
    const r = await adminGet(p.admin, '/stats/prometheus');
    assert.equal(r.status, 200);
    const busy = /^envoy_http_\w*downstream_rq_active\{[^}]*\} [1-9]/m.test(r.body);
    if (!busy || i === 40) return r.body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** curl's status code for one request (`'000'` and curl's message when it got no response). */
async function httpCode(url: string, extra: string[] = []): Promise<string> {
  const r = await runAsync('curl', [
    '-sS',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '--max-time',
    '5',
    ...extra,
    url,
  ]);
  return r.code === 0 ? r.out : `${r.out} ${r.err}`;
}

/** Sends `payload` on a new TCP connection, half-closes, and reads the reply until the other side ends. */
function tcpExchange(port: number, payload: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let got = '';
    s.on('data', (d) => {
      got += d;
    });
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.write(payload, () => s.end());
  });
}

/**
 * The four TCP series of one label set (closed, opened, received, sent): TCP connections are reported at close,
 * so poll until both sides have seen it (at most 5 s).
 */
async function tcpLines(p: RunningProxy, text: string): Promise<string[]> {
  let lines: string[] = [];
  for (let i = 0; i < 50; i++) {
    const s = await scrape(p);
    lines = [
      ...['closed', 'opened'].flatMap((k) => seriesLines(s, `istio_tcp_connections_${k}_total`, text)),
      ...['received', 'sent'].flatMap((k) => seriesLines(s, `istio_tcp_${k}_bytes_total`, text)),
    ];
    if (lines.length === 4) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return lines;
}

describe("Istio's standard metrics through a proxy pair", { timeout: 90_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-telemetry-'));
  let app: http.Server;
  let echo: net.Server;
  let grpcServer: grpc.Server;
  let a: RunningProxy;
  let b: RunningProxy;
  const seen: http.IncomingHttpHeaders[] = [];
  const port = { a: 0, aTcp: 0, b: 0, bTcp: 0 };
  const echoService = {
    Say: {
      path: '/echo.Echo/Say',
      requestStream: false,
      responseStream: false,
      requestSerialize: (x: Buffer) => x,
      requestDeserialize: (x: Buffer) => x,
      responseSerialize: (x: Buffer) => x,
      responseDeserialize: (x: Buffer) => x,
    },
    Fail: {
      path: '/echo.Echo/Fail',
      requestStream: false,
      responseStream: false,
      requestSerialize: (x: Buffer) => x,
      requestDeserialize: (x: Buffer) => x,
      responseSerialize: (x: Buffer) => x,
      responseDeserialize: (x: Buffer) => x,
    },
  };

  before(async () => {
    makePki(dir);
    app = http.createServer((req, res) => {
      seen.push(req.headers);
      res.setHeader('content-type', 'text/plain');
      res.end(`hello ${req.url}`);
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    echo = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('data', (d) => s.write(Buffer.concat([Buffer.from('echo:'), d])));
      s.on('end', () => s.end());
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    grpcServer = new grpc.Server();
    grpcServer.addService(echoService, {
      Say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
        cb(null, Buffer.concat([Buffer.from('echo:'), call.request])),
      Fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
        cb({ code: grpc.status.NOT_FOUND, details: 'no such rating' }),
    });
    const grpcPort = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    for (const k of Object.keys(port) as (keyof typeof port)[]) port[k] = await freePort();
    const appPort = (app.address() as AddressInfo).port;
    const echoPort = (echo.address() as AddressInfo).port;
    const inboundRoutes = [
      { match: { prefix: '/echo.Echo/' }, route: { cluster: 'inbound|9090||', timeout: '5s' } },
      { match: { prefix: '/' }, route: { cluster: 'inbound|9080||', timeout: '5s' } },
    ];
    writeFileSync(
      `${dir}/b.json`,
      JSON.stringify({
        node: node('ratings-v1-7d8f9', 'ratings-v1', 'ratings', 'bookinfo-ratings'),
        admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
        static_resources: {
          secrets: meshSecrets(`${dir}/server`),
          listeners: [
            listener('virtualInbound', port.b, 'INBOUND', [
              {
                name: 'mtls-http',
                filter_chain_match: { transport_protocol: 'tls', application_protocols: MESH_ALPN },
                transport_socket: downstreamTls(true),
                filters: [hcm('in', inboundRoutes)],
              },
              {
                name: 'plaintext-http',
                filter_chain_match: { transport_protocol: 'raw_buffer' },
                filters: [hcm('in', inboundRoutes)],
              },
            ]),
            listener('virtualInboundTcp', port.bTcp, 'INBOUND', [
              {
                name: 'mtls-tcp',
                filter_chain_match: { transport_protocol: 'tls', application_protocols: MESH_ALPN },
                transport_socket: downstreamTls(false),
                filters: tcp('inbound|9000||'),
              },
              {
                name: 'plaintext-tcp',
                filter_chain_match: { transport_protocol: 'raw_buffer' },
                filters: tcp('inbound|9000||'),
              },
            ]),
          ],
          clusters: [
            cluster('inbound|9080||', appPort),
            cluster('inbound|9090||', grpcPort, { h2: 'explicit' }),
            cluster('inbound|9000||', echoPort),
          ],
        },
      }),
    );
    const outbound = `outbound|9080||${SERVICE}`;
    writeFileSync(
      `${dir}/a.json`,
      JSON.stringify({
        node: node('productpage-v1-5c6d7', 'productpage-v1', 'productpage', 'productpage'),
        admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
        static_resources: {
          secrets: meshSecrets(`${dir}/client`),
          listeners: [
            listener('outbound_9080', port.a, 'OUTBOUND', [
              {
                filters: [
                  hcm('out', [
                    { match: { prefix: '/plain' }, route: { cluster: 'plaintext-to-b', timeout: '5s' } },
                    { match: { prefix: '/wrong' }, route: { cluster: 'wrong-identity', timeout: '5s' } },
                    { match: { prefix: '/' }, route: { cluster: outbound, timeout: '5s' } },
                  ]),
                ],
              },
            ]),
            listener('outbound_9000', port.aTcp, 'OUTBOUND', [{ filters: tcp(`outbound|9000||${SERVICE}`) }]),
          ],
          clusters: [
            cluster(outbound, port.b, {
              tls: upstreamTls(['istio-http/1.1', 'istio', 'http/1.1']),
              h2: 'downstream',
            }),
            cluster('plaintext-to-b', port.b, { h2: 'downstream' }),
            // B's certificate is not the identity this cluster expects: every handshake fails.
            cluster('wrong-identity', port.b, {
              tls: {
                ...upstreamTls(['istio-http/1.1']),
                typed_config: {
                  ...upstreamTls([]).typed_config,
                  common_tls_context: {
                    alpn_protocols: ['istio-http/1.1'],
                    tls_certificate_sds_secret_configs: [{ name: 'default' }],
                    combined_validation_context: {
                      default_validation_context: {
                        match_subject_alt_names: [{ exact: 'spiffe://cluster.local/ns/bookinfo/sa/reviews' }],
                      },
                      validation_context_sds_secret_config: { name: 'ROOTCA' },
                    },
                  },
                },
              },
            }),
            cluster(`outbound|9000||${SERVICE}`, port.bTcp, {
              tls: upstreamTls(['istio-peer-exchange', 'istio']),
            }),
          ],
        },
      }),
    );
    b = await startProxy(`${dir}/b.json`, dir);
    a = await startProxy(`${dir}/a.json`, dir);
  });

  after(async () => {
    if (process.env.SKIFF_TEST_DEBUG)
      console.error('dir:', dir, 'A:', a?.stderr().slice(-4000), '\nB:', b?.stderr().slice(-4000));
    await a?.stop();
    await b?.stop();
    app?.close();
    echo?.close();
    grpcServer?.forceShutdown();
    if (!process.env.SKIFF_TEST_DEBUG) rmSync(dir, { recursive: true, force: true });
  });

  const destHttp = (rest: Labels) => labels('destination', PRODUCTPAGE_SIDE, RATINGS_SIDE, rest);
  const srcHttp = (rest: Labels) => labels('source', PRODUCTPAGE_SIDE, RATINGS_SIDE, rest);
  const ok = {
    request_protocol: 'http',
    response_code: '200',
    grpc_response_status: '',
    response_flags: '-',
  };

  it('HTTP/1.1 over mTLS: one request, both reporters, every label; peer headers never reach the app or the client', async () => {
    seen.length = 0;
    const r = await runAsync('curl', [
      '-sS',
      '-i',
      '--max-time',
      '5',
      `http://127.0.0.1:${port.a}/ratings/1`,
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^HTTP\/1\.1 200/);
    assert.match(r.out, /hello \/ratings\/1$/);
    assert.doesNotMatch(r.out, /x-envoy-peer-metadata/i);
    const h = seen[0];
    assert.ok(h);
    assert.equal(h['x-envoy-peer-metadata'], undefined);
    assert.equal(h['x-envoy-peer-metadata-id'], undefined);
    assert.match(
      String(h['x-forwarded-client-cert']),
      new RegExp(`^By=${RATINGS};Hash=[0-9a-f]{64};Subject="";URI=${PRODUCTPAGE}$`),
    );

    const bText = labelText(HTTP_ORDER, destHttp({ ...ok, connection_security_policy: 'mutual_tls' }));
    const aText = labelText(HTTP_ORDER, srcHttp({ ...ok, connection_security_policy: 'mutual_tls' }));
    const bScrape = await scrape(b);
    const aScrape = await scrape(a);
    assert.ok(bScrape.includes(`# TYPE istio_requests_total counter\n`));
    assert.deepEqual(seriesLines(bScrape, 'istio_requests_total', bText), [
      `istio_requests_total{${bText}} 1`,
    ]);
    assert.deepEqual(seriesLines(aScrape, 'istio_requests_total', aText), [
      `istio_requests_total{${aText}} 1`,
    ]);
    for (const [scraped, text] of [
      [bScrape, bText],
      [aScrape, aText],
    ] as const) {
      const d = histogram(scraped, 'istio_request_duration_milliseconds', text);
      assert.equal(d.count, 1);
      assert.ok(d.sum >= 0 && d.sum < 5000 && Number.isInteger(d.sum), `duration ${d.sum}`);
      const req = histogram(scraped, 'istio_request_bytes', text);
      const res = histogram(scraped, 'istio_response_bytes', text);
      assert.equal(req.count, 1);
      assert.equal(res.count, 1);
      // Wire bytes of a small GET and its response: headers included (Envoy's meter), under 1 KiB each.
      assert.ok(req.sum > 60 && req.sum < 1000, `request bytes ${req.sum}`);
      assert.ok(res.sum > 60 && res.sum < 1000, `response bytes ${res.sum}`);
      assert.deepEqual(req.le.slice(0, 8), [
        0,
        0,
        0,
        0,
        0,
        0,
        req.sum <= 100 ? 1 : 0,
        req.sum <= 250 ? 1 : 0,
      ]);
    }
    assert.match(aScrape, /^istio_build\{component="proxy",tag="1\.24\.0"\} 1$/m);
  });

  it('HTTP/2 with prior knowledge (curl) through A and B: request_protocol "http", same labels', async () => {
    const r = await runAsync('curl', [
      '-sS',
      '--http2-prior-knowledge',
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      '--max-time',
      '5',
      `http://127.0.0.1:${port.a}/ratings/2`,
    ]);
    assert.equal(r.out, '2 200', r.err);
    const bText = labelText(HTTP_ORDER, destHttp({ ...ok, connection_security_policy: 'mutual_tls' }));
    const aText = labelText(HTTP_ORDER, srcHttp({ ...ok, connection_security_policy: 'mutual_tls' }));
    assert.deepEqual(seriesLines(await scrape(b), 'istio_requests_total', bText), [
      `istio_requests_total{${bText}} 2`,
    ]);
    assert.deepEqual(seriesLines(await scrape(a), 'istio_requests_total', aText), [
      `istio_requests_total{${aText}} 2`,
    ]);
  });

  it('gRPC through the mesh (HTTP/2 end to end): grpc_response_status from the trailers, OK and NOT_FOUND', async () => {
    const Client = grpc.makeGenericClientConstructor(echoService, 'Echo');
    const client = new Client(`127.0.0.1:${port.a}`, grpc.credentials.createInsecure()) as unknown as {
      Say(req: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void): void;
      Fail(req: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void): void;
      close(): void;
    };
    try {
      const said = await new Promise<Buffer>((resolve, reject) =>
        client.Say(Buffer.from('hi'), (e, r) => (e ? reject(e) : resolve(r as Buffer))),
      );
      assert.equal(said.toString(), 'echo:hi');
      const failed = await new Promise<grpc.ServiceError>((resolve, reject) =>
        client.Fail(Buffer.from('x'), (e) => (e ? resolve(e) : reject(new Error('Fail succeeded')))),
      );
      assert.equal(failed.code, grpc.status.NOT_FOUND);
      assert.equal(failed.details, 'no such rating');
    } finally {
      client.close();
    }
    const grpcOk = {
      request_protocol: 'grpc',
      response_code: '200',
      response_flags: '-',
      connection_security_policy: 'mutual_tls',
    };
    const bScrape = await scrape(b);
    const aScrape = await scrape(a);
    for (const [status, expect] of [
      ['0', 1],
      ['5', 1],
    ] as const) {
      const bText = labelText(HTTP_ORDER, destHttp({ ...grpcOk, grpc_response_status: status }));
      const aText = labelText(HTTP_ORDER, srcHttp({ ...grpcOk, grpc_response_status: status }));
      assert.deepEqual(seriesLines(bScrape, 'istio_requests_total', bText), [
        `istio_requests_total{${bText}} ${expect}`,
      ]);
      assert.deepEqual(seriesLines(aScrape, 'istio_requests_total', aText), [
        `istio_requests_total{${aText}} ${expect}`,
      ]);
      assert.equal(histogram(bScrape, 'istio_request_duration_milliseconds', bText).count, 1);
    }
  });

  it('plaintext from a non-mesh client straight to B: every source label unknown, connection_security_policy "none"', async () => {
    assert.equal(
      await httpCode(`http://127.0.0.1:${port.b}/ratings/3`, ['-H', 'x-envoy-peer-metadata-id: forged']),
      '200',
    );
    const destination = { ...RATINGS_SIDE, principal: 'unknown' };
    const text = labelText(
      HTTP_ORDER,
      labels('destination', UNKNOWN_SOURCE, destination, { ...ok, connection_security_policy: 'none' }),
    );
    assert.deepEqual(seriesLines(await scrape(b), 'istio_requests_total', text), [
      `istio_requests_total{${text}} 1`,
    ]);
  });

  it('a meshed client whose route is plaintext: peer labels from the headers, "none" on both reporters', async () => {
    assert.equal(await httpCode(`http://127.0.0.1:${port.a}/plain/1`), '200');
    const plainNone = { ...ok, connection_security_policy: 'none' };
    const bText = labelText(
      HTTP_ORDER,
      labels(
        'destination',
        { ...PRODUCTPAGE_SIDE, principal: 'unknown' },
        { ...RATINGS_SIDE, principal: 'unknown' },
        plainNone,
      ),
    );
    const aText = labelText(
      HTTP_ORDER,
      labels(
        'source',
        { ...PRODUCTPAGE_SIDE, principal: 'unknown' },
        { ...RATINGS_SIDE, principal: 'unknown' },
        plainNone,
      ),
    );
    assert.deepEqual(seriesLines(await scrape(b), 'istio_requests_total', bText), [
      `istio_requests_total{${bText}} 1`,
    ]);
    assert.deepEqual(seriesLines(await scrape(a), 'istio_requests_total', aText), [
      `istio_requests_total{${aText}} 1`,
    ]);
  });

  it('raw TCP over mTLS through A and B: opened, closed and byte counters with the certificate labels', async () => {
    const reply = await tcpExchange(port.aTcp, 'ping-12345');
    assert.equal(reply, 'echo:ping-12345');
    // The labels are reported at close (the 5 s tick has not come): wait for both sides to see the close.
    const tcpDest = labels(
      'destination',
      { ...UNKNOWN_SOURCE, workload_namespace: 'bookinfo', principal: PRODUCTPAGE },
      {
        ...RATINGS_SIDE,
        service: SERVICE,
      },
      { request_protocol: 'tcp', response_flags: '-', connection_security_policy: 'mutual_tls' },
    );
    const tcpSrc = labels(
      'source',
      PRODUCTPAGE_SIDE,
      {
        workload: 'unknown',
        workload_namespace: 'bookinfo',
        principal: RATINGS,
        app: 'unknown',
        version: 'unknown',
        service: SERVICE,
        canonical_service: 'unknown',
        canonical_revision: 'latest',
        service_name: 'ratings',
        service_namespace: 'bookinfo',
        cluster: 'unknown',
      },
      { request_protocol: 'tcp', response_flags: '-', connection_security_policy: 'mutual_tls' },
    );
    const expectTcp = (text: string) => [
      `istio_tcp_connections_closed_total{${text}} 1`,
      `istio_tcp_connections_opened_total{${text}} 1`,
      `istio_tcp_received_bytes_total{${text}} 10`,
      `istio_tcp_sent_bytes_total{${text}} 15`,
    ];
    for (const [proxy, l] of [
      [b, tcpDest],
      [a, tcpSrc],
    ] as const) {
      const text = labelText(TCP_ORDER, l);
      assert.deepEqual(await tcpLines(proxy, text), expectTcp(text));
    }
  });

  it('raw TCP in plaintext from a non-mesh client to B: source unknown, connection_security_policy "none"', async () => {
    const reply = await tcpExchange(port.bTcp, 'plain');
    assert.equal(reply, 'echo:plain');
    const text = labelText(
      TCP_ORDER,
      labels(
        'destination',
        UNKNOWN_SOURCE,
        { ...RATINGS_SIDE, principal: 'unknown' },
        { request_protocol: 'tcp', response_flags: '-', connection_security_policy: 'none' },
      ),
    );
    assert.deepEqual(await tcpLines(b, text), [
      `istio_tcp_connections_closed_total{${text}} 1`,
      `istio_tcp_connections_opened_total{${text}} 1`,
      `istio_tcp_received_bytes_total{${text}} 5`,
      `istio_tcp_sent_bytes_total{${text}} 10`,
    ]);
  });

  it("bad HTTP through the pair gets Envoy's answer and a counter; the proxies keep serving", async () => {
    const raw = (payload: string) =>
      new Promise<string>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port: port.a });
        let got = '';
        s.on('data', (d) => {
          got += d;
        });
        s.on('close', () => resolve(got));
        s.on('error', () => resolve(got));
        s.write(payload);
        setTimeout(() => s.destroy(), 3000);
      });
    assert.match(
      await raw('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'),
      /^HTTP\/1\.1 400 /,
    );
    assert.match(
      await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`),
      /^HTTP\/1\.1 431 /,
    );
    const stats = await scrape(a);
    // Envoy's tag extraction cuts the dotted stat_prefix "outbound_0.0.0.0_9080" at its first dot, as here.
    assert.deepEqual(
      stats.split('\n').filter((l) => l.startsWith('envoy_http_0_0_0_9080_downstream_cx_protocol_error{')),
      ['envoy_http_0_0_0_9080_downstream_cx_protocol_error{envoy_http_conn_manager_prefix="outbound_0"} 2'],
    );
    assert.equal(await httpCode(`http://127.0.0.1:${port.a}/after`), '200');
  });

  it("the seed's PromQL on the scrapes: the mTLS ratio per service and the handshake error rate per pod", async () => {
    const scrapeBoth = async (time: number): Promise<Scrape[]> => [
      { time, target: { pod: 'productpage-v1-5c6d7' }, text: await scrape(a) },
      { time, target: { pod: 'ratings-v1-7d8f9' }, text: await scrape(b) },
    ];
    const first = await scrapeBoth(1000);
    // Both reporters count: mTLS 1 (HTTP/1.1) + 1 (HTTP/2) + 2 (gRPC) + 1 (after the bad requests) on each side
    // = 10; plaintext: 1 (non-mesh client, B only) + 1 (meshed client on a plaintext route) on each side = 3.
    // Istio's source side would say "unknown" for all of them and the ratio would read 5/13.
    assert.deepEqual(
      formatVector(
        evaluate(
          'sum(istio_requests_total{connection_security_policy="mutual_tls"}) by (destination_service) / sum(istio_requests_total) by (destination_service)',
          first,
        ),
      ),
      [`{destination_service="${SERVICE}"} ${10 / 13}`],
    );
    // Three requests to a route whose cluster expects another identity: three failed handshakes on A.
    for (let i = 0; i < 3; i++) {
      assert.equal(await httpCode(`http://127.0.0.1:${port.a}/wrong`), '503');
    }
    const second = await scrapeBoth(1060);
    assert.deepEqual(
      formatVector(
        evaluate('sum(rate(envoy_cluster_ssl_handshake_error[5m])) by (pod)', [...first, ...second]),
      ),
      // B's clusters have no TLS failures: its series reads 0 (Skiff exports the counter for every cluster).
      ['{pod="productpage-v1-5c6d7"} 0.05', '{pod="ratings-v1-7d8f9"} 0'],
    );
  });
});
