// What an attacker found on the sidecar's HTTP path, with real clients through two real proxies: curl → proxy A
// (outbound http_connection_manager) → mTLS → proxy B (inbound PERMISSIVE HTTP chains) → an app that records
// what reaches it. Each answer is Envoy's: h2c upgrades served as HTTP/1.1, garbage refused at its first byte,
// fragments, unknown methods and non-ASCII targets refused, CONNECT refused, HTTP/1.0 refused with 426 (no
// accept_http_10, as Istio), a proxy-form (absolute) target routed by its host.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { downstreamTls, httpConnectionManager, meshSecrets, staticCluster } from './helpers/inbound.js';
import { freePort, makePki, type RunningProxy, runAsync, startProxy, statsOf } from './helpers/mesh.js';

const RATINGS = 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings';

/** Writes `bytes` on a new connection that the client never closes; resolves with the reply once the proxy closes. */
function rawUntilClosed(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(Buffer.from(bytes, 'latin1')));
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d) => {
      got += d;
    });
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
  });
}

describe('HTTP hardening through the mesh (curl, two proxies)', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-http-hardening-'));
  let app: http.Server;
  let a: RunningProxy;
  let b: RunningProxy;
  const port = { a: 0, b: 0, idle: 0 };
  /** What reached the app: method, target and the upgrade headers. */
  const seen: { method: string; url: string; upgrade?: string; settings?: string }[] = [];
  /** The Host of each request that reached the app. */
  const hosts: string[] = [];

  before(async () => {
    makePki(dir);
    app = http.createServer((req, res) => {
      hosts.push(req.headers.host ?? '');
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        ...(req.headers.upgrade ? { upgrade: req.headers.upgrade } : {}),
        ...(req.headers['http2-settings'] ? { settings: String(req.headers['http2-settings']) } : {}),
      });
      res.end(`${req.method} ${req.url}`);
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    port.a = await freePort();
    port.b = await freePort();
    port.idle = await freePort();
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
                    application_protocols: ['istio', 'istio-peer-exchange', 'istio-http/1.1', 'istio-h2'],
                  },
                  transport_socket: downstreamTls(true),
                  filters: [httpConnectionManager('inbound_9080', 'inbound|9080||')],
                },
                {
                  name: 'plaintext-http',
                  filter_chain_match: { transport_protocol: 'raw_buffer' },
                  filters: [httpConnectionManager('inbound_9080', 'inbound|9080||')],
                },
              ],
            },
            {
              // A PERMISSIVE port as Istio sets it up for protocol sniffing: when the TLS inspector has seen nothing
              // for a while, the connection goes on as plaintext, to a connection manager with codec AUTO.
              name: 'sniffedInbound',
              address: { socket_address: { address: '127.0.0.1', port_value: port.idle } },
              listener_filters: [
                {
                  name: 'envoy.filters.listener.tls_inspector',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
                  },
                },
              ],
              listener_filters_timeout: '0.2s',
              continue_on_listener_filters_timeout: true,
              filter_chains: [
                {
                  name: 'plaintext-http',
                  filter_chain_match: { transport_protocol: 'raw_buffer' },
                  filters: [
                    httpConnectionManager('inbound_sniffed', 'inbound|9080||', {
                      common_http_protocol_options: { idle_timeout: '1s' },
                    }),
                  ],
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
                { filters: [httpConnectionManager('outbound_9080', 'outbound|9080||ratings')] },
              ],
            },
          ],
          clusters: [staticCluster('outbound|9080||ratings', port.b, upstreamTls)],
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

  const curl = (args: string[]) => runAsync('curl', ['-sS', '--max-time', '5', ...args]);

  it('curl --http2 (Upgrade: h2c) through A and B, and straight to B: served as HTTP/1.1, the upgrade removed', async () => {
    for (const target of [port.a, port.b]) {
      const r = await curl([
        '--http2',
        '-o',
        '-',
        '-w',
        ' %{http_version} %{http_code}',
        `http://127.0.0.1:${target}/h2c`,
      ]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, 'GET /h2c 1.1 200');
      const last = seen.at(-1);
      assert.deepEqual(last, { method: 'GET', url: '/h2c' }, 'no Upgrade or HTTP2-Settings reached the app');
    }
  });

  it('garbage on the PERMISSIVE port is answered 400 at once, not held until a blank line or a timer', async () => {
    const before = await statsOf(b.admin);
    const got = await rawUntilClosed(port.b, '\x01\x02garbage');
    assert.match(got, /^HTTP\/1\.1 400 Bad Request\r\n/);
    const after = await statsOf(b.admin);
    const key = 'http.inbound_9080.downstream_cx_protocol_error';
    assert.equal((after.get(key) ?? 0) - (before.get(key) ?? 0), 1);
  });

  it('a #fragment target is 400 at A; nothing reaches the app', async () => {
    const count = seen.length;
    const r = await curl([
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--request-target',
      '/a#frag',
      `http://127.0.0.1:${port.a}/`,
    ]);
    assert.equal(r.out, '400');
    const stats = await statsOf(a.admin);
    assert.equal(stats.get('http.outbound_9080.downstream_rq_failed_path_normalization'), 1);
    assert.equal(seen.length, count);
  });

  it('a non-ASCII target is 400 at A; nothing reaches the app', async () => {
    const count = seen.length;
    const r = await curl([
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--request-target',
      '/caf\u00e9',
      `http://127.0.0.1:${port.a}/`,
    ]);
    assert.equal(r.out, '400');
    assert.equal(seen.length, count);
  });

  it('unknown and lower-case methods are 400 at A; a method Envoy knows is relayed', async () => {
    const count = seen.length;
    for (const method of ['get', 'FOO', 'ANNOUNCE']) {
      const r = await curl([
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-X',
        method,
        `http://127.0.0.1:${port.a}/m`,
      ]);
      assert.equal(r.out, '400', method);
    }
    assert.equal(seen.length, count);
    const purge = await curl(['-X', 'PURGE', `http://127.0.0.1:${port.a}/purge`]);
    assert.equal(purge.out, 'PURGE /purge');
  });

  it('CONNECT through A as an HTTP proxy: 404 (no CONNECT support, no route for a pathless request)', async () => {
    const count = seen.length;
    const r = await curl([
      '-o',
      '/dev/null',
      '-w',
      '%{http_connect}',
      '--proxytunnel',
      '--proxy',
      `http://127.0.0.1:${port.a}`,
      'http://ratings.example:9080/',
    ]);
    assert.notEqual(r.code, 0, 'curl could not open the tunnel');
    assert.equal(r.out, '404');
    // What follows a CONNECT head is not HTTP/1.1: a request written after it never reaches the app.
    const got = await rawUntilClosed(
      port.a,
      'CONNECT ratings.example:9080 HTTP/1.1\r\nHost: ratings.example:9080\r\n\r\n' +
        'GET /smuggled HTTP/1.1\r\nHost: ratings\r\n\r\n',
    );
    assert.match(got, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.equal(got.split('HTTP/1.1 ').length, 2, got);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(seen.length, count);
  });

  it('curl --http1.0 through A: 426 Upgrade Required (no accept_http_10), nothing reaches the app', async () => {
    const count = seen.length;
    const before = await statsOf(a.admin);
    const r = await curl(['--http1.0', '-o', '-', '-w', ' %{http_code}', `http://127.0.0.1:${port.a}/old`]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'Upgrade Required 426');
    const after = await statsOf(a.admin);
    const key = 'http.outbound_9080.downstream_cx_protocol_error';
    assert.equal((after.get(key) ?? 0) - (before.get(key) ?? 0), 1);
    assert.equal(seen.length, count);
  });

  it('curl -x A (proxy form, an absolute target): the path and Host come from the URL, through A and B', async () => {
    const r = await curl([
      '-x',
      `http://127.0.0.1:${port.a}`,
      '-H',
      'Host: ignored.example',
      'http://ratings.example:9080/x?y=1',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'GET /x?y=1');
    assert.deepEqual(seen.at(-1), { method: 'GET', url: '/x?y=1' });
    assert.equal(hosts.at(-1), 'ratings.example:9080');
    // Straight to B with --request-target: the same.
    const direct = await curl([
      '--request-target',
      'http://reviews.example/r?z',
      `http://127.0.0.1:${port.b}/`,
    ]);
    assert.equal(direct.out, 'GET /r?z');
    assert.equal(hosts.at(-1), 'reviews.example');
  });

  it('a silent connection on a sniffed PERMISSIVE port is closed by the idle timeout, not held', async () => {
    const got = await rawUntilClosed(port.idle, '');
    assert.equal(got, '');
    const stats = await statsOf(b.admin);
    assert.equal(stats.get(`listener.127.0.0.1_${port.idle}.downstream_pre_cx_timeout`), 1);
    assert.equal(stats.get('http.inbound_sniffed.downstream_cx_idle_timeout'), 1);
  });
});
