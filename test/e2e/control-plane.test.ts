// `skiff control-plane` as a real process: ports 0 on a temp folder, the addresses read from its stdout, one raw
// ADS stream, the debug API over HTTP; a change reaches the proxy within a second, a NACK and a refused change
// show, SIGTERM ends it cleanly. A folder with errors exits 2 before anything listens.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CLUSTER_TYPE as CDS, LISTENER_TYPE as LDS } from '../../src/xds/server/protocol.js';
import { adsClient, eventually, get, names, RawStream, sidecarNode } from '../control-plane/api/raw-ads.js';
import { repoRoot } from '../helpers.js';

const SKIFF = path.join(repoRoot, 'bin', 'skiff.js');

const CONFIG = `apiVersion: v1
kind: Service
metadata: {name: service-b, namespace: shop}
spec:
  selector: {app: service-b}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: frontend, namespace: shop}
spec:
  selector: {app: frontend}
  ports: [{name: http, port: 80, targetPort: 8000}]
`;

const REGISTRY = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: service-b-0, namespace: shop}
spec: {address: 127.0.1.2, serviceAccount: service-b, labels: {app: service-b, security.istio.io/tlsMode: istio}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: frontend-0, namespace: shop}
spec: {address: 127.0.1.1, serviceAccount: frontend, labels: {app: frontend, security.istio.io/tlsMode: istio}}
`;

const BAD = 'apiVersion: v1\nkind: Service\nmetadata: {name: Bad_Name, namespace: shop}\n';

describe('skiff control-plane (real process)', { timeout: 60_000 }, () => {
  const top = mkdtempSync(path.join(os.tmpdir(), 'skiff-cp-e2e-'));
  const config = path.join(top, 'config');
  const registry = path.join(top, 'state', 'registry');
  let child: ChildProcess;
  let stdout = '';
  let stderr = '';
  let exited: Promise<number | null>;
  let xds = '';
  let http = '';
  let client: grpc.Client;
  let stream: RawStream;

  before(async () => {
    mkdirSync(config);
    mkdirSync(registry, { recursive: true });
    writeFileSync(path.join(config, 'services.yaml'), CONFIG);
    writeFileSync(path.join(registry, 'workloads.yaml'), REGISTRY);
    child = spawn(
      process.execPath,
      [
        SKIFF,
        'control-plane',
        '--config',
        config,
        '--registry',
        registry,
        '--xds-plaintext',
        '127.0.0.1:0',
        '--http',
        '127.0.0.1:0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stdout?.on('data', (d) => {
      stdout += d;
    });
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    await eventually(
      'both addresses printed',
      async () => (/^http \S+$/m.test(stdout) ? true : undefined),
      15_000,
    ).catch((e) => assert.fail(`${(e as Error).message}\nstdout: ${stdout}\nstderr: ${stderr}`));
    xds = /^xds-plaintext (\S+)$/m.exec(stdout)?.[1] ?? '';
    http = /^http (\S+)$/m.exec(stdout)?.[1] ?? '';
    client = adsClient(xds);
  });

  after(async () => {
    stream?.close();
    client?.close();
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(top, { recursive: true, force: true });
  });

  it('prints one line per address, `<role> <host:port>`, and nothing else on stdout', () => {
    assert.match(stdout, /^xds-plaintext 127\.0\.0\.1:\d+\nhttp 127\.0\.0\.1:\d+\n$/);
  });

  it('serves a raw ADS client; /debug/syncz shows it with ACKed versions', async () => {
    stream = new RawStream(client);
    const cds = await stream.subscribe({
      node: sidecarNode('127.0.1.1', 'frontend-0', 'frontend', 'frontend'),
      type_url: CDS,
    });
    const lds = await stream.subscribe({ type_url: LDS });
    const p = await eventually('ACKs in syncz', async () => {
      const r = await get(http, '/debug/syncz');
      const found = r.body.proxies.find((x: { proxyId: string }) => x.proxyId === 'frontend-0.shop');
      return found?.types.lds?.acked ? found : undefined;
    });
    assert.deepEqual(p.types.cds.acked, { version: cds.version_info, nonce: cds.nonce });
    assert.deepEqual(p.types.lds.acked, { version: lds.version_info, nonce: lds.nonce });
    assert.equal((await get(http, '/ready')).status, 200);
  });

  it('a NACK shows in /debug/syncz with its message', async () => {
    const p = (await get(http, '/debug/syncz')).body.proxies[0];
    stream.send({
      type_url: LDS,
      response_nonce: p.types.lds.sent.nonce,
      version_info: p.types.lds.sent.version,
      error_detail: { code: 3, message: 'listener virtualInbound: refused' },
    });
    const nacked = await eventually('the NACK', async () => {
      const q = (await get(http, '/debug/syncz')).body.proxies[0];
      return q.types.lds.nacked ? q.types.lds.nacked : undefined;
    });
    assert.equal(nacked.message, 'listener virtualInbound: refused');
    await stream.nothing(200);
  });

  it('a config file change reaches the proxy within a second', async () => {
    const start = Date.now();
    writeFileSync(
      path.join(config, 'extra.yaml'),
      'apiVersion: v1\nkind: Service\nmetadata: {name: extra, namespace: shop}\nspec:\n  ports: [{name: http, port: 8081}]\n',
    );
    const pushed = await stream.next(3000);
    assert.equal(pushed.type_url, CDS);
    assert.ok(names(pushed).includes('outbound|8081||extra.shop.svc.cluster.local'));
    // Its new outbound listener too (the NACKed LDS is sent again because the configuration changed).
    const listeners = await stream.next(3000);
    const took = Date.now() - start;
    assert.equal(listeners.type_url, LDS);
    assert.ok(took < 1000, `the change took ${took} ms`);
    for (const r of [pushed, listeners])
      stream.send({ type_url: r.type_url, response_nonce: r.nonce, version_info: r.version_info });
    await eventually('the LDS ACK', async () => {
      const q = (await get(http, '/debug/syncz')).body.proxies[0];
      return q.types.lds.acked?.nonce === listeners.nonce ? true : undefined;
    });
  });

  it('a bad change is refused: counted, the last good configuration kept', async () => {
    writeFileSync(path.join(config, 'bad.yaml'), BAD);
    const text = await eventually('the refusal counted', async () => {
      const m = await get(http, '/metrics');
      return /^skiff_control_plane_config_rejected_total 1$/m.test(m.text) ? m.text : undefined;
    });
    assert.match(text, /^pilot_services 3$/m);
    const r = await get(http, '/debug/registryz');
    assert.equal(r.body.services.length, 3);
    assert.match(stderr, /bad\.yaml:\d+/);
    await stream.nothing(200);
  });

  it('SIGTERM: the stream ends with Unavailable and the process exits 0', async () => {
    child.kill('SIGTERM');
    const status = await stream.ended();
    assert.equal(status.code, grpc.status.UNAVAILABLE);
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
    assert.equal(code, 0, stderr);
  });
});

describe('skiff control-plane refusals (real process)', { timeout: 30_000 }, () => {
  it('a config folder with errors exits 2 naming file:line, and listens on nothing', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'skiff-cp-e2e-bad-'));
    try {
      writeFileSync(path.join(dir, 'bad.yaml'), BAD);
      const r = spawnSync(
        process.execPath,
        [SKIFF, 'control-plane', '--config', dir, '--xds-plaintext', '127.0.0.1:0', '--http', '127.0.0.1:0'],
        { encoding: 'utf8', timeout: 20_000 },
      );
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /bad\.yaml:\d+/);
      assert.match(r.stderr, /the control plane did not start/);
      assert.doesNotMatch(r.stderr, /ADS listening/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad flags exit 2 with the flag and the value named', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, [SKIFF, 'control-plane', ...args], { encoding: 'utf8', timeout: 20_000 });
    const outside = run(['--config', repoRoot, '--xds-plaintext', '0.0.0.0:15010']);
    assert.equal(outside.status, 2);
    assert.match(
      outside.stderr,
      /--xds-plaintext: "0\.0\.0\.0:15010": plaintext xDS is served on loopback only/,
    );
    const missing = run(['--config', path.join(os.tmpdir(), 'skiff-no-such-folder')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /--config: ".*skiff-no-such-folder": ENOENT/);
    const http = run(['--config', repoRoot, '--http', '10.0.0.1:15014']);
    assert.equal(http.status, 2);
    assert.match(http.stderr, /--http: "10\.0\.0\.1:15014" is not a loopback address/);
    const tlsWithoutCa = run(['--config', repoRoot, '--xds', '127.0.0.1:0']);
    assert.equal(tlsWithoutCa.status, 2);
    assert.match(tlsWithoutCa.stderr, /--xds: the TLS port needs the mesh CA: give --ca-dir/);
  });
});
