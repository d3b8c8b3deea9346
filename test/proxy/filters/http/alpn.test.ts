// Istio's `istio.alpn` HTTP filter: its translation (a TypedStruct around
// istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig, every refusal at its path), the choice per cluster
// and protocol, and over real loopback sockets the ALPN list an upstream TLS server is offered — the override
// for the protocol spoken, the cluster's own with `istio.alpn_override: "false"` or without the filter — and the
// pools keeping connections of different offers apart.

import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { silentLogger } from '../../../../src/core/log.js';
import type { JsonObject } from '../../../../src/proxy/config/json.js';
import type {
  AlpnOverrideConfig,
  ClusterConfig,
  HttpConnectionManagerConfig,
} from '../../../../src/proxy/config/model.js';
import { ALPN_FILTER_TYPE, alpnOffer, ISTIO_ALPN } from '../../../../src/proxy/filters/http/alpn.js';
import { HttpConnectionManager } from '../../../../src/proxy/filters/http/hcm.js';
import { UpstreamPools, type UpstreamResponse } from '../../../../src/proxy/filters/http/upstream.js';
import { StatsStore } from '../../../../src/proxy/stats/index.js';
import { SecretStore } from '../../../../src/proxy/transport/secrets.js';
import { Cluster, ClusterManager } from '../../../../src/proxy/upstream/cluster.js';
import {
  any,
  error,
  hcmFilter,
  type Problem,
  problems,
  routerFilter,
  T,
  translateEntry,
  typedStruct,
} from '../../config/fixtures.js';
import { type Identity, issue, makeCa } from '../../pki.js';
import { hcmConfig, portOf, route, staticCluster } from './helpers.js';

/** What Istio's outbound listeners carry (pilot/pkg/xds/filters/filters.go Alpn). */
const ISTIO_VALUE: JsonObject = {
  alpn_override: [
    { upstream_protocol: 'HTTP10', alpn_override: ['istio-http/1.0', 'istio', 'http/1.0'] },
    { upstream_protocol: 'HTTP11', alpn_override: ['istio-http/1.1', 'istio', 'http/1.1'] },
    { upstream_protocol: 'HTTP2', alpn_override: ['istio-h2', 'istio', 'h2'] },
  ],
};
const ISTIO: AlpnOverrideConfig = {
  HTTP10: ['istio-http/1.0', 'istio', 'http/1.0'],
  HTTP11: ['istio-http/1.1', 'istio', 'http/1.1'],
  HTTP2: ['istio-h2', 'istio', 'h2'],
};

const entry = (value?: JsonObject, wrapper?: string): JsonObject => ({
  name: 'istio.alpn',
  typed_config: typedStruct(ALPN_FILTER_TYPE, value, wrapper),
});
const VALUE = 'filters[0].typed_config.value';

function translate(value?: JsonObject, wrapper?: string) {
  return translateEntry('envoy.filters.http', entry(value, wrapper), { direction: 'OUTBOUND' });
}

describe('istio.alpn: registration and settings', () => {
  it('is an HTTP filter registered under Istio’s FilterConfig type', () => {
    assert.deepEqual(
      [ISTIO_ALPN.name, ISTIO_ALPN.category, ISTIO_ALPN.types],
      ['istio.alpn', 'envoy.filters.http', ['istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig']],
    );
  });

  const cases: [string, JsonObject | undefined, string, AlpnOverrideConfig][] = [
    ['Istio’s three entries', ISTIO_VALUE, T.udpaTypedStruct, ISTIO],
    ['the xds TypedStruct', ISTIO_VALUE, T.xdsTypedStruct, ISTIO],
    ['no value at all (overrides nothing)', undefined, T.udpaTypedStruct, {}],
    ['an empty list', { alpn_override: [] }, T.udpaTypedStruct, {}],
    [
      'JSON names and enum numbers',
      {
        alpnOverride: [
          { upstreamProtocol: 1, alpnOverride: ['istio-http/1.1'] },
          { upstreamProtocol: 2, alpnOverride: ['istio-h2'] },
        ],
      },
      T.udpaTypedStruct,
      { HTTP11: ['istio-http/1.1'], HTTP2: ['istio-h2'] },
    ],
    [
      'an entry without upstream_protocol as HTTP10 (proto3’s default, as /config_dump prints Istio’s)',
      { alpn_override: [{ alpn_override: ['istio-http/1.0', 'istio'] }] },
      T.udpaTypedStruct,
      { HTTP10: ['istio-http/1.0', 'istio'] },
    ],
    [
      'an entry with an empty list as no override for that protocol',
      { alpn_override: [{ upstream_protocol: 'HTTP2', alpn_override: [] }, { upstream_protocol: 'HTTP11' }] },
      T.udpaTypedStruct,
      {},
    ],
  ];
  for (const [what, value, wrapper, expected] of cases) {
    it(`reads ${what}`, () => {
      const t = translate(value, wrapper);
      assert.deepEqual(problems(t.diagnostics), []);
      assert.deepEqual(t.value, { kind: 'istio.alpn', alpn: expected });
    });
  }

  const long = 'x'.repeat(256);
  const refused: [string, JsonObject, Problem[]][] = [
    [
      'a field FilterConfig does not have',
      { alpn_override: [], downstream_protocol: 'HTTP11' },
      [
        error(
          `${VALUE}.downstream_protocol`,
          'proxy.unsupported',
          'alpn.v2alpha1.FilterConfig field downstream_protocol is not implemented; Skiff honours alpn_override',
        ),
      ],
    ],
    [
      'a field an entry does not have (the older v2alpha `alpn`)',
      { alpn_override: [{ upstream_protocol: 'HTTP11', alpn: ['h2'] }] },
      [
        error(
          `${VALUE}.alpn_override[0].alpn`,
          'proxy.unsupported',
          'FilterConfig.AlpnOverride field alpn is not implemented; Skiff honours upstream_protocol, alpn_override',
        ),
      ],
    ],
    [
      'an upstream protocol that is not HTTP10, HTTP11 or HTTP2',
      { alpn_override: [{ upstream_protocol: 'HTTP3', alpn_override: ['h3'] }] },
      [
        error(
          `${VALUE}.alpn_override[0].upstream_protocol`,
          'proxy.unsupported',
          'upstream_protocol "HTTP3" is not one of HTTP10, HTTP11, HTTP2',
        ),
      ],
    ],
    [
      'an enum number out of range',
      { alpnOverride: [{ upstreamProtocol: 3, alpnOverride: ['h3'] }] },
      [
        error(
          `${VALUE}.alpnOverride[0].upstreamProtocol`,
          'proxy.unsupported',
          'upstream_protocol 3 is not one of HTTP10, HTTP11, HTTP2',
        ),
      ],
    ],
    [
      'alpn_override that is not a list',
      { alpn_override: { upstream_protocol: 'HTTP11' } },
      [
        error(
          `${VALUE}.alpn_override`,
          'proxy.type',
          'alpn_override must be a list, got {"upstream_protocol":"HTTP11"}',
        ),
      ],
    ],
    [
      'an entry that is not an object',
      { alpn_override: ['istio-h2'] },
      [
        error(
          `${VALUE}.alpn_override[0]`,
          'proxy.type',
          'an alpn_override entry must be an object, got "istio-h2"',
        ),
      ],
    ],
    [
      'an entry’s list that is not a list',
      { alpn_override: [{ upstream_protocol: 'HTTP2', alpn_override: 'istio-h2' }] },
      [
        error(
          `${VALUE}.alpn_override[0].alpn_override`,
          'proxy.type',
          'alpn_override must be a list of strings, got "istio-h2"',
        ),
      ],
    ],
    [
      'ALPN names TLS cannot carry: empty, not a string, over 255 bytes',
      { alpn_override: [{ upstream_protocol: 'HTTP2', alpn_override: ['', 2, long, 'h2'] }] },
      [
        error(
          `${VALUE}.alpn_override[0].alpn_override[0]`,
          'proxy.alpn',
          'an ALPN protocol name cannot be empty',
        ),
        error(`${VALUE}.alpn_override[0].alpn_override[1]`, 'proxy.alpn', '2 is not a string'),
        error(
          `${VALUE}.alpn_override[0].alpn_override[2]`,
          'proxy.alpn',
          'an ALPN protocol name is at most 255 bytes, this one is 256',
        ),
      ],
    ],
    [
      'a protocol given twice (Envoy would keep the first and ignore the second)',
      {
        alpn_override: [
          { upstream_protocol: 'HTTP2', alpn_override: ['istio-h2'] },
          { upstream_protocol: 2, alpn_override: ['h2'] },
        ],
      },
      [
        error(
          `${VALUE}.alpn_override[1].upstream_protocol`,
          'proxy.duplicate',
          'upstream_protocol HTTP2 has an earlier entry; Envoy would ignore this one',
        ),
      ],
    ],
  ];
  for (const [what, value, expected] of refused) {
    it(`refuses ${what}`, () => {
      const t = translate(value);
      assert.equal(t.value, undefined);
      assert.deepEqual(problems(t.diagnostics), expected);
    });
  }

  it('refuses the bare Any Istio sends: its type is not among the protos the decoder knows', () => {
    const t = translateEntry('envoy.filters.http', {
      name: 'istio.alpn',
      typed_config: any(ALPN_FILTER_TYPE, ISTIO_VALUE),
    });
    assert.equal(t.value, undefined);
    assert.deepEqual(problems(t.diagnostics), [
      error(
        'filters[0].typed_config["@type"]',
        'proxy.any',
        `unknown type "type.googleapis.com/${ALPN_FILTER_TYPE}": the Skiff proxy does not implement it (docs/proxy-config.md)`,
      ),
    ]);
  });
});

describe('istio.alpn in a connection manager', () => {
  const AT = 'filters[0].typed_config';
  const run = (filters: JsonObject[]) =>
    translateEntry('envoy.filters.network', hcmFilter({ http_filters: filters }), { direction: 'OUTBOUND' });

  it('gives the connection manager its overrides (none without the filter)', () => {
    const t = run([entry(ISTIO_VALUE), routerFilter]);
    assert.deepEqual(problems(t.diagnostics), []);
    assert.ok(t.value?.kind === 'http_connection_manager');
    assert.deepEqual(t.value.alpnOverride, ISTIO);
    const plain = run([routerFilter]);
    assert.ok(plain.value?.kind === 'http_connection_manager');
    assert.equal(plain.value.alpnOverride, undefined);
  });

  it('refuses it twice (Envoy’s second would set a read-only filter state again and fail each request)', () => {
    const t = run([entry(ISTIO_VALUE), entry(ISTIO_VALUE), routerFilter]);
    assert.deepEqual(problems(t.diagnostics), [
      error(`${AT}.http_filters[1]`, 'proxy.duplicate', 'istio.alpn appears twice; one is allowed'),
    ]);
  });

  it('refuses it after the router', () => {
    const t = run([routerFilter, entry(ISTIO_VALUE)]);
    assert.deepEqual(
      problems(t.diagnostics).map((p) => p.code),
      ['proxy.filter-order', 'proxy.required'],
    );
  });
});

describe('istio.alpn: the list per cluster and protocol', () => {
  const cluster = (filterMetadata: JsonObject = {}): ClusterConfig =>
    staticCluster('outbound|9080||ratings', 1, 'downstream', { filterMetadata });

  it('HTTP/1 connections offer the HTTP11 entry, HTTP/2 ones the HTTP2 entry; HTTP10 is never used', () => {
    assert.deepEqual(alpnOffer(ISTIO, cluster(), 'http1'), ['istio-http/1.1', 'istio', 'http/1.1']);
    assert.deepEqual(alpnOffer(ISTIO, cluster(), 'http2'), ['istio-h2', 'istio', 'h2']);
    assert.equal(alpnOffer({ HTTP10: ['istio-http/1.0'] }, cluster(), 'http1'), undefined);
  });

  it('no filter, or a cluster marked istio.alpn_override "false": the transport’s own ALPN', () => {
    assert.equal(alpnOffer(undefined, cluster(), 'http1'), undefined);
    assert.equal(alpnOffer(ISTIO, cluster({ istio: { alpn_override: 'false' } }), 'http2'), undefined);
    // Only the string "false" turns it off, as Envoy's filter reads it.
    assert.deepEqual(alpnOffer(ISTIO, cluster({ istio: { alpn_override: 'true' } }), 'http1'), ISTIO.HTTP11);
    assert.deepEqual(alpnOffer(ISTIO, cluster({ istio: { alpn_override: false } }), 'http1'), ISTIO.HTTP11);
  });
});

/**
 * An mTLS upstream that records the ALPN list each ClientHello offered, picks `h2` when offered (then speaks
 * HTTP/2), else `http/1.1`, else the first offered, and answers with the protocol it served.
 */
class RecordingUpstream {
  server!: tls.Server;
  readonly offers: string[][] = [];
  private readonly h1 = http.createServer((req, res) => res.end(`h1 ${req.url}`));
  private readonly h2 = http2.createServer();
  private readonly sockets = new Set<net.Socket>();

  async start(id: Identity): Promise<number> {
    this.h2.on('stream', (stream, headers) => {
      stream.respond({ ':status': 200 });
      stream.end(`h2 ${headers[':path']}`);
    });
    this.h2.on('session', (s) => s.on('error', () => {}));
    this.server = tls.createServer(
      {
        cert: id.chain,
        key: id.key,
        ca: id.root,
        requestCert: true,
        rejectUnauthorized: true,
        ALPNCallback: ({ protocols }) => {
          this.offers.push(protocols);
          return protocols.includes('h2') ? 'h2' : protocols.includes('http/1.1') ? 'http/1.1' : protocols[0];
        },
      },
      (s) => {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
        s.on('error', () => {});
        if (s.alpnProtocol === 'h2') this.h2.emit('connection', s);
        else this.h1.emit('connection', s);
      },
    );
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return portOf(this.server);
  }

  stop(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

describe('istio.alpn over real sockets: what the upstream TLS server is offered', { timeout: 30_000 }, () => {
  let server: Identity;
  let client: Identity;
  const upstream = new RecordingUpstream();
  let port = 0;
  const CLUSTER_ALPN = ['istio-peer-exchange', 'istio'];

  before(async () => {
    const made = await makeCa();
    server = await issue(made.ca, 'bookinfo', 'bookinfo-ratings');
    client = await issue(made.ca, 'bookinfo', 'productpage');
    port = await upstream.start(server);
  });

  after(() => upstream.stop());

  function secrets(): SecretStore {
    const store = new SecretStore();
    store.setCertificate('default', { chain: client.chain, key: client.key });
    store.setValidation('ROOTCA', { trustedCa: server.root, sanMatchers: [] });
    return store;
  }

  /** Istio's auto-mTLS cluster to the recording upstream, with the cluster ALPN Istio gives it. */
  function mtlsCluster(
    name: string,
    httpProtocol: ClusterConfig['httpProtocol'],
    filterMetadata: JsonObject = {},
  ): ClusterConfig {
    return {
      ...staticCluster(name, port, httpProtocol, { filterMetadata }),
      transport: {
        kind: 'tls',
        tls: {
          sni: 'outbound_.9080_._.ratings.bookinfo.svc.cluster.local',
          alpn: httpProtocol === 'http2' ? [...CLUSTER_ALPN, 'h2'] : CLUSTER_ALPN,
          params: {
            minVersion: 'TLSv1.2',
            maxVersion: 'TLSv1.3',
            ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256',
            curves: 'X25519:P-256',
          },
          certificateSecrets: ['default'],
          validationSecrets: ['ROOTCA'],
        },
      },
    };
  }

  /** An outbound connection manager (with or without istio.alpn) in front of the clusters, on a loopback port. */
  async function front(
    alpnOverride: AlpnOverrideConfig | undefined,
  ): Promise<{ port: number; stop: () => void }> {
    const store = new StatsStore();
    const clusters = new ClusterManager(
      [
        mtlsCluster('h1', 'http1'),
        mtlsCluster('h2', 'http2'),
        mtlsCluster('ds', 'downstream'),
        mtlsCluster('simple', 'http1', { istio: { alpn_override: 'false' } }),
      ],
      store,
      secrets(),
    );
    const cfg: HttpConnectionManagerConfig = hcmConfig(
      [
        route('h1', '/h1/', 'h1'),
        route('h2', '/h2/', 'h2'),
        route('ds', '/ds/', 'ds'),
        route('simple', '/simple/', 'simple'),
      ],
      { statPrefix: 'outbound_0.0.0.0_9080', acceptHttp10: true, ...(alpnOverride ? { alpnOverride } : {}) },
    );
    const hcm = new HttpConnectionManager(cfg, clusters, store, silentLogger);
    const sockets = new Set<net.Socket>();
    const s = net.createServer({ pauseOnConnect: true }, (c) => {
      sockets.add(c);
      c.once('close', () => sockets.delete(c));
      hcm.handle(c, { peer: undefined, tls: false });
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return {
      port: portOf(s),
      stop: () => {
        hcm.close();
        clusters.close();
        for (const c of sockets) c.destroy();
        s.close();
      },
    };
  }

  function get1(p: number, path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: p, path, agent: false }, (res) => {
          let body = '';
          res.on('data', (d) => {
            body += d;
          });
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
        })
        .on('error', reject);
    });
  }

  function get10(p: number, path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const c = net.connect(p, '127.0.0.1', () => c.write(`GET ${path} HTTP/1.0\r\nHost: ratings\r\n\r\n`));
      let text = '';
      c.on('data', (d) => {
        text += d;
      });
      c.on('end', () => resolve(text));
      c.on('error', reject);
    });
  }

  async function get2(p: number, path: string): Promise<string> {
    const session = http2.connect(`http://127.0.0.1:${p}`);
    session.on('error', () => {});
    try {
      return await new Promise((resolve, reject) => {
        const st = session.request({ ':path': path });
        let status = 0;
        let body = '';
        st.on('response', (h) => {
          status = Number(h[':status']);
        });
        st.on('data', (d) => {
          body += d;
        });
        st.on('end', () => resolve(`${status} ${body}`));
        st.on('error', reject);
      });
    } finally {
      session.close();
    }
  }

  /** The offers recorded while `f` ran. */
  async function offered(f: () => Promise<string>, expectedReply: string): Promise<string[][]> {
    const from = upstream.offers.length;
    assert.equal(await f(), expectedReply);
    return upstream.offers.slice(from);
  }

  it('with istio.alpn: HTTP/1.1 offers istio-http/1.1, istio, http/1.1; HTTP/2 offers istio-h2, istio, h2', async () => {
    const f = await front(ISTIO);
    try {
      assert.deepEqual(await offered(() => get1(f.port, '/h1/a'), '200 h1 /h1/a'), [ISTIO.HTTP11]);
      assert.deepEqual(await offered(() => get1(f.port, '/h2/b'), '200 h2 /h2/b'), [ISTIO.HTTP2]);
      // use_downstream_protocol: the request's protocol decides the connection's, and so its offer.
      assert.deepEqual(await offered(() => get2(f.port, '/ds/c'), '200 h2 /ds/c'), [ISTIO.HTTP2]);
      assert.deepEqual(await offered(() => get1(f.port, '/ds/d'), '200 h1 /ds/d'), [ISTIO.HTTP11]);
    } finally {
      f.stop();
    }
  });

  it('an HTTP/1.0 request goes upstream as HTTP/1.1, so it offers the HTTP11 entry (as Envoy)', async () => {
    const f = await front(ISTIO);
    try {
      const offers = await offered(async () => {
        const reply = await get10(f.port, '/ds/old');
        assert.match(reply, /^HTTP\/1\.0 200 /);
        return reply.slice(reply.indexOf('\r\n\r\n') + 4);
      }, 'h1 /ds/old');
      assert.deepEqual(offers, [ISTIO.HTTP11]);
    } finally {
      f.stop();
    }
  });

  it('a cluster with istio.alpn_override "false" offers its own ALPN', async () => {
    const f = await front(ISTIO);
    try {
      assert.deepEqual(await offered(() => get1(f.port, '/simple/x'), '200 h1 /simple/x'), [CLUSTER_ALPN]);
    } finally {
      f.stop();
    }
  });

  it('without the filter every connection offers the cluster’s ALPN, as before', async () => {
    const f = await front(undefined);
    try {
      assert.deepEqual(await offered(() => get1(f.port, '/h1/a'), '200 h1 /h1/a'), [CLUSTER_ALPN]);
      assert.deepEqual(await offered(() => get1(f.port, '/h2/b'), '200 h2 /h2/b'), [[...CLUSTER_ALPN, 'h2']]);
    } finally {
      f.stop();
    }
  });

  it('pools keep connections of different offers apart and reuse those of the same offer', async () => {
    const store = new StatsStore();
    const cluster = new Cluster(mtlsCluster('c', 'http1'), store, secrets());
    const pools = new UpstreamPools();
    const send = (alpn?: readonly string[]) =>
      new Promise<string>((resolve, reject) => {
        const x = pools.send(
          cluster,
          'http1',
          { method: 'GET', path: '/p', authority: 'ratings', scheme: 'http', headers: {}, hasBody: false },
          {
            response: (r: UpstreamResponse) => {
              let body = '';
              r.body.pipeTo({
                write: (c) => {
                  body += c;
                  return true;
                },
                end: () => resolve(body),
                onDrain: () => {},
              });
            },
            trailers: () => {},
            failed: (_flag, detail) => reject(new Error(detail)),
          },
          alpn ? { alpn } : {},
        );
        x.body.end();
      });
    try {
      const from = upstream.offers.length;
      for (const alpn of [ISTIO.HTTP11, undefined, ISTIO.HTTP11, ['other'], undefined]) {
        assert.equal(await send(alpn), 'h1 /p');
      }
      assert.deepEqual(upstream.offers.slice(from), [ISTIO.HTTP11, CLUSTER_ALPN, ['other']]);
      assert.equal(store.counter('cluster.c.upstream_cx_total').value, 3);
    } finally {
      pools.close();
      cluster.close();
    }
  });
});
