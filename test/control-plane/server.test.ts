// The control plane wired (ControlPlane.start): a temp config folder and registry folder, plaintext ADS and the
// HTTP port on 127.0.0.1:0, one raw ADS client; the debug API, the metrics and the port state over real sockets.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import type * as grpc from '@grpc/grpc-js';
import {
  Metadata as GrpcMetadata,
  credentials as grpcCredentials,
  status as grpcStatus,
} from '@grpc/grpc-js';
import { initCa, loadCa } from '../../src/ca/store.js';
import { createToken } from '../../src/ca/token.js';
import { ControlPlane, STATE_FILE, stateFile } from '../../src/control-plane/server.js';
import { createLogger } from '../../src/core/log.js';
import { CLUSTER_TYPE as CDS, LISTENER_TYPE as LDS } from '../../src/xds/server/protocol.js';
import { adsClient, eventually, get, names, RawStream, sidecarNode } from './api/raw-ads.js';

const CONFIG = `apiVersion: v1
kind: Service
metadata: {name: service-b, namespace: shop}
spec:
  selector: {app: service-b}
  ports: [{name: http, port: 8080}, {name: tcp-db, port: 9090}]
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
spec:
  address: 127.0.1.2
  serviceAccount: service-b
  labels: {app: service-b, security.istio.io/tlsMode: istio}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: frontend-0, namespace: shop}
spec:
  address: 127.0.1.1
  serviceAccount: frontend
  labels: {app: frontend, security.istio.io/tlsMode: istio}
`;

const STRICT_DB = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: service-b-db, namespace: shop}
spec:
  selector: {matchLabels: {app: service-b}}
  mtls: {mode: PERMISSIVE}
  portLevelMtls: {"9090": {mode: STRICT}}
`;

const FRONTEND = sidecarNode('127.0.1.1', 'frontend-0', 'frontend', 'frontend');

describe('ControlPlane over loopback', { timeout: 60_000 }, () => {
  const top = mkdtempSync(path.join(os.tmpdir(), 'skiff-cp-'));
  const config = path.join(top, 'config');
  const state = path.join(top, 'state');
  const registry = path.join(state, 'registry');
  const logs: string[] = [];
  let plane: ControlPlane;
  let client: grpc.Client;
  let http: string;
  const streams: RawStream[] = [];

  before(async () => {
    mkdirSync(config);
    mkdirSync(registry, { recursive: true });
    writeFileSync(path.join(config, 'services.yaml'), CONFIG);
    writeFileSync(path.join(registry, 'workloads.yaml'), REGISTRY);
    plane = await ControlPlane.start({
      configDir: config,
      registryDir: registry,
      xdsPlaintext: '127.0.0.1:0',
      http: '127.0.0.1:0',
      debounceMs: 20,
      logger: createLogger({ sink: (l) => logs.push(l), level: 'debug' }),
    });
    http = plane.addresses.http;
    client = adsClient(plane.addresses.xdsPlaintext);
  });

  after(async () => {
    for (const s of streams) s.close();
    client?.close();
    await plane?.close();
    rmSync(top, { recursive: true, force: true });
  });

  it('listens on the addresses it reports; /ready is 200', async () => {
    assert.match(plane.addresses.xdsPlaintext, /^127\.0\.0\.1:\d+$/);
    assert.match(http, /^127\.0\.0\.1:\d+$/);
    const ready = await get(http, '/ready');
    assert.equal(ready.status, 200);
  });

  let cdsVersion = '';
  let cdsNonce = '';
  let cdsNames: string[] = [];

  it('/debug/syncz: the connected proxy, its identity, ACKed versions per type and its outbound addresses', async () => {
    const s = new RawStream(client);
    streams.push(s);
    const cds = await s.subscribe({ node: FRONTEND, type_url: CDS });
    await s.subscribe({ type_url: LDS });
    cdsVersion = cds.version_info;
    cdsNonce = cds.nonce;
    cdsNames = names(cds);
    const proxy = await eventually('the LDS ACK in syncz', async () => {
      const r = await get(http, '/debug/syncz');
      const p = r.body.proxies.find((x: { proxyId: string }) => x.proxyId === 'frontend-0.shop');
      return p?.types?.lds?.acked ? p : undefined;
    });
    assert.equal(proxy.identity, 'spiffe://cluster.local/ns/shop/sa/frontend');
    assert.equal(proxy.authenticated, false);
    assert.equal(proxy.address, '127.0.1.1');
    assert.equal(proxy.istioVersion, '1.28.0');
    assert.deepEqual(proxy.types.cds.acked, { version: cds.version_info, nonce: cds.nonce });
    assert.equal(proxy.types.cds.typeUrl, CDS);
    assert.equal(proxy.nacked, false);
    const out = proxy.outbound.find(
      (o: { service: string; port: number }) =>
        o.service === 'service-b.shop.svc.cluster.local' && o.port === 8080,
    );
    assert.match(out?.address ?? '', /^127\.0\.0\.1:\d+$/);
  });

  it("/debug/config_dump: what the proxy was sent, in Envoy's shape; an unknown proxyID is 404, none is 400", async () => {
    const r = await get(http, '/debug/config_dump?proxyID=frontend-0.shop');
    assert.equal(r.status, 200);
    const types = r.body.configs.map((c: { '@type': string }) => c['@type']);
    assert.deepEqual(types, [
      'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
      'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
    ]);
    const clusters = r.body.configs[0].dynamic_active_clusters;
    assert.deepEqual(
      clusters.map((c: { cluster: { name: string } }) => c.cluster.name),
      cdsNames,
    );
    assert.equal(clusters[0].version_info, cdsVersion);
    assert.equal(clusters[0].cluster['@type'], CDS);
    const listeners = r.body.configs[1].dynamic_listeners;
    assert.ok(listeners.some((l: { name: string }) => l.name === 'virtualInbound'));
    assert.equal(listeners[0].active_state.listener['@type'], LDS);

    const unknown = await get(http, '/debug/config_dump?proxyID=nobody.shop');
    assert.equal(unknown.status, 404);
    assert.match(
      unknown.body.error,
      /proxyID "nobody\.shop": no connected proxy has that id \(connected: frontend-0\.shop\)/,
    );
    const missing = await get(http, '/debug/config_dump');
    assert.equal(missing.status, 400);
    assert.match(missing.body.error, /proxyID is required/);
  });

  it('/debug/registryz: services, ports, protocols and endpoints with their tlsMode', async () => {
    const r = await get(http, '/debug/registryz');
    assert.equal(r.status, 200);
    const b = r.body.services.find(
      (s: { hostname: string }) => s.hostname === 'service-b.shop.svc.cluster.local',
    );
    assert.deepEqual(
      b.ports.map((p: { name: string; port: number; protocol: string }) => [p.name, p.port, p.protocol]),
      [
        ['http', 8080, 'HTTP'],
        ['tcp-db', 9090, 'TCP'],
      ],
    );
    assert.deepEqual(
      b.endpoints.map((e: { address: string; tlsMode: string; workload: string }) => [
        e.address,
        e.tlsMode,
        e.workload,
      ]),
      [['127.0.1.2', 'istio', 'service-b-0']],
    );
    assert.equal(b.served, true);
    assert.equal(r.body.workloads.length, 2);
  });

  it('/debug/authenticationz: the merged mode per port and which policy decided; a config change is followed', async () => {
    const before = await get(http, '/debug/authenticationz?proxyID=service-b-0.shop');
    assert.equal(before.status, 200);
    assert.equal(before.body.mode, 'PERMISSIVE');
    assert.deepEqual(before.body.decidedBy, { level: 'default' });
    assert.deepEqual(
      before.body.ports.map((p: { port: number; mode: string }) => [p.port, p.mode]),
      [
        [8080, 'PERMISSIVE'],
        [9090, 'PERMISSIVE'],
      ],
    );
    writeFileSync(path.join(config, 'strict-db.yaml'), STRICT_DB);
    const after = await eventually('the policy in authenticationz', async () => {
      const r = await get(http, '/debug/authenticationz?proxyID=service-b-0.shop');
      return r.body.ports?.find((p: { port: number }) => p.port === 9090)?.mode === 'STRICT'
        ? r.body
        : undefined;
    });
    const db = after.ports.find((p: { port: number }) => p.port === 9090);
    assert.deepEqual(db.decidedBy, { namespace: 'shop', name: 'service-b-db', level: 'workload' });
    assert.equal(db.portLevel, true);
    assert.deepEqual(db.services, ['service-b.shop.svc.cluster.local:9090']);
    // The connected proxy by its proxy id, too.
    const frontend = await get(http, '/debug/authenticationz?proxyID=frontend-0.shop');
    assert.deepEqual(
      frontend.body.ports.map((p: { port: number; services: string[] }) => [p.port, p.services]),
      [[8000, ['frontend.shop.svc.cluster.local:80']]],
    );
    const unknown = await get(http, '/debug/authenticationz?proxyID=nobody.shop');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /"nobody\.shop"/);
  });

  it('a NACK shows in syncz with its message and in pilot_total_xds_rejects', async () => {
    const s = streams[0] as RawStream;
    // The policy change above pushed nothing CDS-related to frontend; NACK the CDS it holds.
    const status = (await get(http, '/debug/syncz')).body.proxies[0];
    const sent = status.types.cds.sent;
    assert.equal(sent.nonce, cdsNonce);
    s.send({
      type_url: CDS,
      response_nonce: sent.nonce,
      version_info: cdsVersion,
      error_detail: { code: 3, message: 'cluster outbound|80||frontend: bad' },
    });
    const nacked = await eventually('the NACK in syncz', async () => {
      const p = (await get(http, '/debug/syncz')).body.proxies[0];
      return p.types.cds.nacked ? p : undefined;
    });
    assert.equal(nacked.nacked, true);
    assert.deepEqual(nacked.types.cds.nacked, {
      version: sent.version,
      nonce: sent.nonce,
      message: 'cluster outbound|80||frontend: bad',
    });
    const metrics = await get(http, '/metrics');
    assert.match(metrics.text, /^pilot_total_xds_rejects\{type="cds"\} 1$/m);
  });

  it("/metrics: istiod's names; a change that reaches the proxy is timed (pilot_proxy_convergence_time)", async () => {
    const s = streams[0] as RawStream;
    writeFileSync(
      path.join(config, 'extra.yaml'),
      'apiVersion: v1\nkind: Service\nmetadata: {name: extra, namespace: shop}\nspec:\n  ports: [{name: http, port: 8081}]\n',
    );
    const pushed = await s.next();
    assert.equal(pushed.type_url, CDS);
    assert.ok(names(pushed).includes('outbound|8081||extra.shop.svc.cluster.local'));
    const listeners = await s.next();
    assert.equal(listeners.type_url, LDS);
    for (const r of [pushed, listeners])
      s.send({ type_url: r.type_url, response_nonce: r.nonce, version_info: r.version_info });
    await plane.settled();
    const { text, status } = await get(http, '/metrics');
    assert.equal(status, 200);
    assert.match(text, /^pilot_xds\{version="1\.28\.0"\} 1$/m);
    assert.match(text, /^pilot_xds_pushes\{type="cds"\} [1-9]/m);
    assert.match(text, /^pilot_xds_pushes\{type="lds"\} [1-9]/m);
    assert.match(text, /^pilot_services 3$/m);
    assert.match(text, /^pilot_inbound_updates\{type="config"\} 1$/m);
    assert.match(text, /^pilot_inbound_updates\{type="svc"\} 1$/m);
    assert.match(text, /^pilot_proxy_convergence_time_count [1-9]/m);
    assert.match(text, /^skiff_control_plane_config_accepted_total 3$/m);
    assert.match(text, /^skiff_control_plane_config_rejected_total 0$/m);
    assert.match(text, /^# TYPE pilot_xds_expired_nonce counter$/m);
  });

  it('a change reaches only the proxies it affects, visible per proxy in syncz', async () => {
    const b = new RawStream(client);
    streams.push(b);
    await b.subscribe({
      node: sidecarNode('127.0.1.2', 'service-b-0', 'service-b', 'service-b'),
      type_url: CDS,
    });
    await b.subscribe({ type_url: LDS });
    const pushesOf = async () => {
      const proxies = (await get(http, '/debug/syncz')).body.proxies;
      const of = (id: string) => proxies.find((p: { proxyId: string }) => p.proxyId === id);
      return { frontend: of('frontend-0.shop'), b: of('service-b-0.shop') };
    };
    await eventually('service-b-0 ACKed', async () =>
      (await pushesOf()).b?.types.lds?.acked ? true : undefined,
    );
    const before = await pushesOf();
    // STRICT for service-b's whole workload: its inbound listener changes; nothing frontend-0 is sent does.
    writeFileSync(
      path.join(config, 'strict-b.yaml'),
      'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: b-strict, namespace: shop}\nspec:\n  selector: {matchLabels: {app: service-b}}\n  mtls: {mode: STRICT}\n',
    );
    const start = Date.now();
    const pushed = await b.next(3000);
    assert.equal(pushed.type_url, LDS);
    assert.ok(Date.now() - start < 1000, `took ${Date.now() - start} ms`);
    b.send({ type_url: LDS, response_nonce: pushed.nonce, version_info: pushed.version_info });
    await plane.settled();
    const after = await pushesOf();
    assert.equal(after.b.pushes, before.b.pushes + 1);
    assert.deepEqual(after.b.types.lds.sent, { version: pushed.version_info, nonce: pushed.nonce });
    assert.equal(after.frontend.pushes, before.frontend.pushes);
    assert.deepEqual(after.frontend.types, before.frontend.types);
    await (streams[0] as RawStream).nothing(100);
    b.close();
  });

  it('a bad change is refused: counted, the last good configuration kept', async () => {
    writeFileSync(
      path.join(config, 'bad.yaml'),
      'apiVersion: v1\nkind: Service\nmetadata: {name: Bad_Name}\n',
    );
    await eventually('the refusal', async () => (plane.store.rejected > 0 ? true : undefined));
    const { text } = await get(http, '/metrics');
    assert.match(text, /^skiff_control_plane_config_rejected_total 1$/m);
    const r = await get(http, '/debug/registryz');
    assert.equal(r.body.services.length, 3);
    assert.ok(logs.some((l) => l.includes('bad.yaml')));
    rmSync(path.join(config, 'bad.yaml'));
  });

  it('keeps outbound port allocations in <registry parent>/outbound-ports.json', async () => {
    const file = path.join(state, STATE_FILE);
    await eventually('the state file', async () => (existsSync(file) ? true : undefined));
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    const status = (await get(http, '/debug/syncz')).body.proxies[0];
    const out = status.outbound.find(
      (o: { service: string; port: number }) =>
        o.service === 'service-b.shop.svc.cluster.local' && o.port === 8080,
    );
    const port = Number(out.address.split(':')[1]);
    assert.equal(saved.allocations['frontend-0.shop service-b.shop.svc.cluster.local:8080'], port);
  });
});

describe('ControlPlane.start refusals', { timeout: 20_000 }, () => {
  it('a config folder with errors rejects with file:line, before anything listens', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'skiff-cp-bad-'));
    try {
      writeFileSync(path.join(dir, 'a.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: Bad_Name}\n');
      await assert.rejects(
        ControlPlane.start({ configDir: dir, xdsPlaintext: '127.0.0.1:0', http: '127.0.0.1:0' }),
        /the configuration has 1 error\(s\):\n {2}.*a\.yaml:\d+/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with --ca-dir, the TLS xDS port is served with a certificate from the mesh CA, and closed with the rest', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'skiff-cp-tls-'));
    try {
      const config = path.join(dir, 'config');
      mkdirSync(config);
      writeFileSync(path.join(config, 'services.yaml'), CONFIG);
      await initCa(path.join(dir, 'ca'), { trustDomain: 'cluster.local', keyType: 'ec-p256' });
      const ca = await loadCa(path.join(dir, 'ca'));
      const secured = await ControlPlane.start({
        configDir: config,
        caDir: path.join(dir, 'ca'),
        xds: '127.0.0.1:0',
        xdsPlaintext: '127.0.0.1:0',
        http: '127.0.0.1:0',
      });
      try {
        const address = secured.addresses.xds;
        assert.ok(address, 'the TLS port is listed among the addresses');
        const [host, port] = address.split(':');
        const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
          const socket = tls.connect(
            {
              host,
              port: Number(port),
              ca: ca.authority.rootsPem(),
              servername: 'istiod.istio-system.svc',
              ALPNProtocols: ['h2'],
            },
            () => {
              const cert = socket.getPeerCertificate();
              socket.destroy();
              resolve(cert);
            },
          );
          socket.once('error', reject);
          socket.setTimeout(5000, () => socket.destroy(new Error('TLS handshake timed out')));
        });
        assert.match(peer.subjectaltname ?? '', /DNS:istiod\.istio-system\.svc/);
      } finally {
        await secured.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('/debug/syncz: a stream of the TLS port is authenticated, with the identity it proved; a plaintext one is not', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'skiff-cp-tls-syncz-'));
    try {
      const config = path.join(dir, 'config');
      const registry = path.join(dir, 'state', 'registry');
      mkdirSync(config);
      mkdirSync(registry, { recursive: true });
      writeFileSync(path.join(config, 'services.yaml'), CONFIG);
      writeFileSync(path.join(registry, 'workloads.yaml'), REGISTRY);
      await initCa(path.join(dir, 'ca'), { trustDomain: 'cluster.local', keyType: 'ec-p256' });
      const ca = await loadCa(path.join(dir, 'ca'));
      const secured = await ControlPlane.start({
        configDir: config,
        registryDir: registry,
        caDir: path.join(dir, 'ca'),
        xds: '127.0.0.1:0',
        xdsPlaintext: '127.0.0.1:0',
        http: '127.0.0.1:0',
      });
      const token = createToken(
        ca.tokenKey,
        { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'frontend' },
        3600,
      );
      const bearer = grpcCredentials.createFromMetadataGenerator((_params, callback) => {
        const md = new GrpcMetadata();
        md.set('authorization', `Bearer ${token}`);
        callback(null, md);
      });
      const tlsClient = adsClient(
        secured.addresses.xds ?? '',
        grpcCredentials.combineChannelCredentials(
          grpcCredentials.createSsl(Buffer.from(ca.authority.rootsPem())),
          bearer,
        ),
        { 'grpc.ssl_target_name_override': 'istiod.istio-system.svc' },
      );
      const plainClient = adsClient(secured.addresses.xdsPlaintext);
      const opened: RawStream[] = [];
      try {
        const overTls = new RawStream(tlsClient);
        const plain = new RawStream(plainClient);
        opened.push(overTls, plain);
        await overTls.subscribe({ node: FRONTEND, type_url: CDS });
        await plain.subscribe({
          node: sidecarNode('127.0.1.2', 'service-b-0', 'service-b', 'service-b'),
          type_url: CDS,
        });
        const proxies = await eventually('both proxies in syncz', async () => {
          const r = await get(secured.addresses.http, '/debug/syncz');
          return r.body.proxies.length === 2 ? r.body.proxies : undefined;
        });
        const by = (id: string) => proxies.find((x: { proxyId: string }) => x.proxyId === id);
        assert.equal(by('frontend-0.shop').authenticated, true);
        assert.equal(by('frontend-0.shop').identity, 'spiffe://cluster.local/ns/shop/sa/frontend');
        assert.equal(by('frontend-0.shop').authenticatedBy, 'token');
        assert.equal(by('service-b-0.shop').authenticated, false);
        assert.equal(by('service-b-0.shop').identity, 'spiffe://cluster.local/ns/shop/sa/service-b');
        assert.equal(by('service-b-0.shop').authenticatedBy, undefined);
      } finally {
        for (const s of opened) s.close();
        tlsClient.close();
        plainClient.close();
        await secured.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a non-loopback address is refused for either port', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'skiff-cp-addr-'));
    try {
      await assert.rejects(
        ControlPlane.start({ configDir: dir, xdsPlaintext: '0.0.0.0:0', http: '127.0.0.1:0' }),
        /loopback only/,
      );
      await assert.rejects(
        ControlPlane.start({ configDir: dir, xdsPlaintext: '127.0.0.1:0', http: '0.0.0.0:0' }),
        /--http: "0\.0\.0\.0:0" is not a loopback address/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a restart gives a proxy the same outbound ports (the state file)', async () => {
    const top = mkdtempSync(path.join(os.tmpdir(), 'skiff-cp-restart-'));
    const config = path.join(top, 'config');
    const registry = path.join(top, 'state', 'registry');
    mkdirSync(config);
    mkdirSync(registry, { recursive: true });
    writeFileSync(path.join(config, 'services.yaml'), CONFIG);
    writeFileSync(path.join(registry, 'workloads.yaml'), REGISTRY);
    const outbound = async (extra: boolean) => {
      if (extra)
        writeFileSync(
          path.join(config, 'extra.yaml'),
          'apiVersion: v1\nkind: Service\nmetadata: {name: aaa, namespace: shop}\nspec:\n  ports: [{name: http, port: 8081}]\n',
        );
      const plane = await ControlPlane.start({
        configDir: config,
        registryDir: registry,
        xdsPlaintext: '127.0.0.1:0',
        http: '127.0.0.1:0',
      });
      const client = adsClient(plane.addresses.xdsPlaintext);
      const s = new RawStream(client);
      try {
        await s.subscribe({ node: FRONTEND, type_url: LDS });
        const status = plane.connected()[0]?.status;
        return Object.fromEntries((status?.outbound ?? []).map((o) => [`${o.service}:${o.port}`, o.address]));
      } finally {
        s.close();
        client.close();
        await plane.close();
      }
    };
    try {
      const first = await outbound(false);
      // A service sorted first joins: without the saved allocations, the others would move.
      const second = await outbound(true);
      for (const [key, address] of Object.entries(first)) assert.equal(second[key], address, key);
      assert.ok(second['aaa.shop.svc.cluster.local:8081']);
    } finally {
      rmSync(top, { recursive: true, force: true });
    }
  });

  it('an authorize hook refuses a stream with its status; the refused proxy is not in syncz', async () => {
    const top = mkdtempSync(path.join(os.tmpdir(), 'skiff-cp-authz-'));
    writeFileSync(path.join(top, 'services.yaml'), `${CONFIG}---\n${REGISTRY}`);
    const plane = await ControlPlane.start({
      configDir: top,
      xdsPlaintext: '127.0.0.1:0',
      http: '127.0.0.1:0',
      authorize: (_call, node) =>
        node.serviceAccount === 'frontend'
          ? { code: grpcStatus.PERMISSION_DENIED, message: `${node.id}: not allowed` }
          : undefined,
    });
    const client = adsClient(plane.addresses.xdsPlaintext);
    const s = new RawStream(client);
    try {
      s.send({ node: FRONTEND, type_url: CDS });
      const status = await s.ended();
      assert.equal(status.code, grpcStatus.PERMISSION_DENIED);
      assert.match(status.details, /frontend-0\.shop.*: not allowed/);
      assert.deepEqual((await get(plane.addresses.http, '/debug/syncz')).body.proxies, []);
    } finally {
      s.close();
      client.close();
      await plane.close();
      rmSync(top, { recursive: true, force: true });
    }
  });

  it('the state file is never put in a folder read as configuration', () => {
    assert.throws(
      () => stateFile({ configDir: '/tmp/mesh', registryDir: '/tmp/mesh/registry' }),
      /inside the --config folder "\/tmp\/mesh".*--state DIR/,
    );
    assert.equal(
      stateFile({ configDir: '/tmp/mesh', registryDir: '/tmp/run/registry' }),
      `/tmp/run/${STATE_FILE}`,
    );
    assert.equal(stateFile({ configDir: '/tmp/mesh' }), undefined);
  });
});
