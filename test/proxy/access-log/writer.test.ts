// Access logs as a running proxy writes them, over real sockets: Istio's default text format on an HTTP
// connection manager (a success, a no-route, an upstream failure), a tcp_proxy connection, the listener's own log
// filtered to NR as Istio configures it, JSON lines, and the writer's buffering and flush.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../src/core/log.js';
import {
  ISTIO_ACCESS_LOG_FORMAT,
  ISTIO_ACCESS_LOG_JSON_FORMAT,
} from '../../../src/proxy/access-log/format.js';
import { FLUSH_INTERVAL_MS } from '../../../src/proxy/access-log/writer.js';
import { parseBootstrap } from '../../../src/proxy/config/load.js';
import { SidecarProxy } from '../../../src/proxy/proxy.js';
import { deadPort } from '../filters/http/helpers.js';

const FILE_LOGGER = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';

function fileLog(
  file: string,
  format: object = { text_format_source: { inline_string: ISTIO_ACCESS_LOG_FORMAT } },
) {
  return {
    name: 'envoy.access_loggers.file',
    typed_config: { '@type': FILE_LOGGER, path: file, log_format: format },
  };
}

function cluster(name: string, port: number) {
  return {
    name,
    connect_timeout: '1s',
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

/** Waits until `file` has `n` lines (the writer flushes every FLUSH_INTERVAL_MS). */
async function lines(file: string, n: number): Promise<string[]> {
  const deadline = Date.now() + 5 * FLUSH_INTERVAL_MS;
  for (;;) {
    let text = '';
    try {
      text = readFileSync(file, 'latin1');
    } catch {}
    const got = text.split('\n').filter((l) => l !== '');
    if (got.length >= n || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('access logs of a running proxy', { timeout: 30_000 }, () => {
  let dir: string;
  let app: http.Server;
  let proxy: SidecarProxy;
  let httpPort: number;
  let tcpPort: number;
  let strictPort: number;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'skiff-access-log-'));
    app = http.createServer((req, res) => {
      res.writeHead(201, { 'x-app': '1' });
      res.end(`${req.method} ${req.url}`);
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const appPort = (app.address() as net.AddressInfo).port;
    const dead = await deadPort();
    const hcm = {
      name: 'envoy.filters.network.http_connection_manager',
      typed_config: {
        '@type':
          'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: 'out',
        access_log: [
          fileLog(`${dir}/http.log`),
          fileLog(`${dir}/http.json`, { json_format: ISTIO_ACCESS_LOG_JSON_FORMAT }),
        ],
        route_config: {
          virtual_hosts: [
            {
              name: 'v',
              domains: ['*'],
              routes: [
                { name: 'ok', match: { prefix: '/ok' }, route: { cluster: 'app' } },
                { name: 'down', match: { prefix: '/down' }, route: { cluster: 'dead' } },
              ],
            },
          ],
        },
        http_filters: [
          {
            name: 'envoy.filters.http.router',
            typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
          },
        ],
      },
    };
    const tcp = {
      name: 'envoy.filters.network.tcp_proxy',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
        stat_prefix: 'tcp',
        cluster: 'dead',
        access_log: [fileLog(`${dir}/tcp.log`)],
      },
    };
    const bootstrap = {
      static_resources: {
        listeners: [
          {
            name: 'http',
            address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
            filter_chains: [{ filters: [hcm] }],
          },
          {
            name: 'tcp',
            address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
            filter_chains: [{ filters: [tcp] }],
          },
          {
            // Only TLS has a chain: a plaintext client matches none (NR). Istio's listener log keeps only those.
            name: 'strict',
            address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
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
              { name: 'tls-only', filter_chain_match: { transport_protocol: 'tls' }, filters: [tcp] },
            ],
            access_log: [
              { ...fileLog(`${dir}/listener.log`), filter: { response_flag_filter: { flags: ['NR'] } } },
            ],
          },
        ],
        clusters: [cluster('app', appPort), cluster('dead', dead)],
      },
    };
    const loaded = parseBootstrap(JSON.stringify(bootstrap), 'b.json');
    assert.deepEqual(
      loaded.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    assert.ok(loaded.config);
    proxy = new SidecarProxy(loaded.config, { log: silentLogger, drainTimeMs: 100 });
    await proxy.start();
    [httpPort, tcpPort, strictPort] = proxy.listeners.map((l) => l.port) as [number, number, number];
  });

  after(async () => {
    await proxy?.close();
    app?.closeAllConnections();
    app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("HTTP: Istio's default format for a success, a no-route and an upstream failure", async () => {
    const ok = await fetch(`http://127.0.0.1:${httpPort}/ok/x?y=1`, {
      headers: { 'user-agent': 'ua/1', 'x-request-id': 'rid-1' },
    });
    assert.equal(ok.status, 201);
    await ok.text();
    assert.equal((await fetch(`http://127.0.0.1:${httpPort}/nowhere`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${httpPort}/down`)).status, 503);
    const [success, noRoute, failure] = await lines(`${dir}/http.log`, 3);
    const START = '\\[\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\]';
    const ADDR = '127\\.0\\.0\\.1:\\d+';
    assert.match(
      success ?? '',
      new RegExp(
        `^${START} "GET /ok/x\\?y=1 HTTP/1\\.1" 201 - via_upstream - "-" 0 \\d+ \\d+ - "-" "ua/1" "rid-1" "127\\.0\\.0\\.1:${httpPort}" "${ADDR}" app ${ADDR} ${ADDR} ${ADDR} - ok$`,
      ),
    );
    assert.match(
      noRoute ?? '',
      new RegExp(
        `^${START} "GET /nowhere HTTP/1\\.1" 404 NR route_not_found - "-" 0 0 \\d+ - "-" "[^"]*" "[0-9a-f-]{36}" "127\\.0\\.0\\.1:${httpPort}" "-" - - ${ADDR} ${ADDR} - -$`,
      ),
    );
    assert.match(
      failure ?? '',
      new RegExp(
        `^${START} "GET /down HTTP/1\\.1" 503 UF upstream_reset_before_response_started\\{connection_failure\\|connect_to_${ADDR}:_ECONNREFUSED\\} - "connect_to_${ADDR}:_ECONNREFUSED" 0 \\d+ \\d+ - "-" "[^"]*" "[0-9a-f-]{36}" "127\\.0\\.0\\.1:${httpPort}" "${ADDR}" dead - ${ADDR} ${ADDR} - down$`,
      ),
    );
  });

  it('HTTP: JSON lines with typed values, keys sorted, null where nothing is known', async () => {
    const entries = (await lines(`${dir}/http.json`, 3)).map((l) => JSON.parse(l) as Record<string, unknown>);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    const ok = byPath.get('/ok/x?y=1');
    assert.equal(ok?.response_code, 201);
    assert.equal(ok?.route_name, 'ok');
    assert.equal(ok?.upstream_cluster, 'app');
    const nr = byPath.get('/nowhere');
    assert.equal(nr?.response_flags, 'NR');
    assert.equal(nr?.upstream_host, null);
    assert.deepEqual(Object.keys(ok ?? {}), Object.keys(ok ?? {}).sort());
  });

  it('tcp_proxy: a line per connection when it ends, with Envoy’s UF,URX for a refused connect', async () => {
    const s = net.connect(tcpPort, '127.0.0.1');
    s.on('error', () => {});
    await new Promise((r) => s.once('close', r));
    const [line] = await lines(`${dir}/tcp.log`, 1);
    assert.match(
      line ?? '',
      /^\[[^\]]+\] "- - -" 0 UF,URX - - "connect_to_127\.0\.0\.1:\d+:_ECONNREFUSED" 0 0 \d+ - "-" "-" "-" "-" "127\.0\.0\.1:\d+" dead - 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ - -$/,
    );
  });

  it("the listener's own log, filtered to NR as Istio does: a connection no chain matched, not the others", async () => {
    const plain = net.connect(strictPort, '127.0.0.1');
    plain.on('error', () => {});
    plain.write('GET / HTTP/1.1\r\n\r\n');
    await new Promise((r) => plain.once('close', r));
    const [line, extra] = await lines(`${dir}/listener.log`, 1);
    assert.match(line ?? '', /"- - -" 0 NR filter_chain_not_found - "-" \d+ 0 \d+ /);
    assert.equal(extra, undefined, 'only the NR connection');
  });
});
