// The HTTP port's routing over a real loopback server, with fake handlers: status codes, JSON errors, the
// loopback rule, and a handler that throws (500, the server keeps serving).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DebugResult } from '../../../src/control-plane/api/debug.js';
import { type ApiServer, parseLoopbackAddress, startApiServer } from '../../../src/control-plane/api/http.js';
import { ControlPlaneMetrics } from '../../../src/control-plane/api/metrics.js';
import { get } from './raw-ads.js';

describe('control plane HTTP API', { timeout: 20_000 }, () => {
  let server: ApiServer;
  let ready = false;
  const metrics = new ControlPlaneMetrics('9.9.9');
  const asked: string[] = [];

  before(async () => {
    metrics.observe({
      proxyVersions: () => ['1.28.0', '1.28.0', ''],
      services: () => 7,
      config: () => ({ accepted: 2, rejected: 1 }),
    });
    server = await startApiServer('127.0.0.1:0', {
      ready: () => ready,
      metrics: () => metrics.text(),
      syncz: () => ({ status: 200, body: { version: 'v1', proxies: [] } }),
      configDump: (id): DebugResult => {
        asked.push(id);
        return id === 'a.ns'
          ? { status: 200, body: { configs: [] } }
          : { status: 404, body: { error: `proxyID ${id}` } };
      },
      registryz: () => {
        throw new Error('boom');
      },
      authenticationz: (id) => ({ status: 200, body: { proxyID: id } }),
    });
  });

  after(async () => {
    await server?.close();
  });

  it('/ready: 503 until the first configuration is served, then 200', async () => {
    assert.equal((await get(server.address, '/ready')).status, 503);
    ready = true;
    assert.equal((await get(server.address, '/ready')).status, 200);
  });

  it('the debug endpoints answer JSON; proxyID is passed as given (URL-decoded)', async () => {
    const syncz = await get(server.address, '/debug/syncz');
    assert.deepEqual([syncz.status, syncz.body], [200, { version: 'v1', proxies: [] }]);
    const dump = await get(server.address, '/debug/config_dump?proxyID=a.ns');
    assert.deepEqual([dump.status, dump.body], [200, { configs: [] }]);
    const other = await get(
      server.address,
      `/debug/config_dump?proxyID=${encodeURIComponent('sidecar~1.2.3.4~x.y~z')}`,
    );
    assert.equal(other.status, 404);
    assert.equal(asked.at(-1), 'sidecar~1.2.3.4~x.y~z');
    const authn = await get(server.address, '/debug/authenticationz?proxyID=b.ns');
    assert.deepEqual(authn.body, { proxyID: 'b.ns' });
    const index = await get(server.address, '/debug');
    assert.ok(Object.keys(index.body.endpoints).includes('/debug/syncz'));
  });

  it('a missing proxyID is 400, an unknown path 404, a POST 405: each with a JSON error', async () => {
    const missing = await get(server.address, '/debug/authenticationz');
    assert.equal(missing.status, 400);
    assert.match(missing.body.error, /^\/debug\/authenticationz: the query parameter proxyID is required/);
    const unknown = await get(server.address, '/debug/nothing');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /^\/debug\/nothing: not found; try \/ready, \/metrics, \/debug\/syncz/);
    const post = await fetch(`http://${server.address}/debug/syncz`, {
      method: 'POST',
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  it('a handler that throws is a 500 with its message; the server keeps serving', async () => {
    const r = await get(server.address, '/debug/registryz');
    assert.equal(r.status, 500);
    assert.equal(r.body.error, 'internal error: boom');
    assert.equal((await get(server.address, '/debug/syncz')).status, 200);
  });

  it('/metrics: Prometheus text with the gauges read at scrape time', async () => {
    const at = { proxy: 'sidecar~10.0.0.1~a-1.shop~shop.svc.cluster.local', connection: 'a-1' };
    metrics.adsEvent({
      kind: 'push',
      type: 'cds',
      ...at,
      configVersion: 'v',
      nonce: 'n',
      resources: 1,
      bytes: 10,
      ms: 1,
    });
    metrics.adsEvent({ kind: 'nack', type: 'lds', ...at, configVersion: 'v', nonce: 'n', message: 'x' });
    metrics.adsEvent({ kind: 'stale-nonce', type: 'eds', ...at, nonce: 'n' });
    // Events the metrics do not count are taken quietly.
    metrics.adsEvent({ kind: 'ack', type: 'cds', ...at, configVersion: 'v', nonce: 'n' });
    metrics.adsEvent({ kind: 'connect', ...at, version: '1.28.0' });
    const r = await get(server.address, '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.text, /^pilot_xds\{version="1\.28\.0"\} 2$/m);
    assert.match(r.text, /^pilot_xds\{version=""\} 1$/m);
    assert.match(r.text, /^pilot_xds_pushes\{type="cds"\} 1$/m);
    assert.match(r.text, /^pilot_total_xds_rejects\{type="lds"\} 1$/m);
    assert.match(r.text, /^pilot_xds_expired_nonce\{type="eds"\} 1$/m);
    assert.match(r.text, /^pilot_services 7$/m);
    assert.match(r.text, /^pilot_info\{version="9\.9\.9"\} 1$/m);
    assert.match(r.text, /^skiff_control_plane_config_rejected_total 1$/m);
    // A counter the store keeps is not counted twice by a second scrape.
    const again = await get(server.address, '/metrics');
    assert.match(again.text, /^skiff_control_plane_config_rejected_total 1$/m);
    assert.match(again.text, /^skiff_control_plane_config_accepted_total 2$/m);
  });

  it('only loopback addresses, named in the error', () => {
    assert.deepEqual(parseLoopbackAddress('--http', '127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseLoopbackAddress('--http', '[::1]:15014'), { host: '::1', port: 15014 });
    assert.throws(
      () => parseLoopbackAddress('--http', '0.0.0.0:15014'),
      /^Error: --http: "0\.0\.0\.0:15014" is not a loopback address/,
    );
    assert.throws(() => parseLoopbackAddress('--http', 'localhost:15014'), /is not a loopback address/);
    assert.throws(
      () => parseLoopbackAddress('--http', '127.0.0.1'),
      /--http: invalid address "127\.0\.0\.1": expected HOST:PORT/,
    );
    assert.throws(() => parseLoopbackAddress('--http', '127.0.0.1:70000'), /expected HOST:PORT/);
  });
});
