// ADS protocol conformance over a real socket: the server on 127.0.0.1:0, its model from a temp folder through
// ModelStore + FolderSource (as the control plane will run it), driven by a raw @grpc/grpc-js client speaking
// the ADS proto (no xDS client library): no Envoy binary here, so this stands in for one. Every wait is bounded.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { FolderSource } from '../../../src/control-plane/sources/folder.js';
import { ModelStore } from '../../../src/control-plane/store.js';
import { createLogger } from '../../../src/core/log.js';
import type { JsonObject } from '../../../src/xds/decode.js';
import { GenerationContext } from '../../../src/xds/generate/context.js';
import { generateSidecar } from '../../../src/xds/generate/index.js';
import { OutboundPortAllocator } from '../../../src/xds/generate/outbound-ports.js';
import { parseProxyNode } from '../../../src/xds/generate/proxy.js';
import {
  CLUSTER_TYPE as CDS,
  ENDPOINT_TYPE as EDS,
  LISTENER_TYPE as LDS,
  ROUTE_TYPE as RDS,
  type TypeStatus,
} from '../../../src/xds/server/protocol.js';
import { type AdsEvent, AdsServer, checkPlaintextAddress } from '../../../src/xds/server/server.js';
import { ADS_METHOD, type DecodedResponse } from '../../../src/xds/server/service.js';
import { adsClient, RawStream, sidecarNode, sleep } from './raw-ads.js';

const BASE = `apiVersion: v1
kind: Service
metadata: {name: service-b, namespace: shop}
spec:
  selector: {app: service-b}
  ports: [{name: http, port: 8080}, {name: tcp-db, port: 9090}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: service-b-0, namespace: shop}
spec:
  address: 127.0.1.2
  serviceAccount: service-b
  labels: {app: service-b, security.istio.io/tlsMode: istio}
---
apiVersion: v1
kind: Service
metadata: {name: frontend, namespace: shop}
spec:
  selector: {app: frontend}
  ports: [{name: http, port: 80, targetPort: 8000}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: frontend-0, namespace: shop}
spec:
  address: 127.0.1.1
  serviceAccount: frontend
  labels: {app: frontend, security.istio.io/tlsMode: istio}
`;

const EXTRA_SERVICE = `apiVersion: v1
kind: Service
metadata: {name: extra, namespace: shop}
spec:
  selector: {app: extra}
  ports: [{name: http, port: 8081}]
`;

/** A TCP service: frontend-0's outbound listener for it names its cluster (a TCP proxy). */
const GONE_SERVICE = `apiVersion: v1
kind: Service
metadata: {name: gone, namespace: shop}
spec:
  selector: {app: gone}
  ports: [{name: tcp-gone, port: 7070}]
`;

/** Changes service-b-0's inbound listener (STRICT drops its plaintext chains) and nothing frontend-0 is sent. */
const SERVICE_B_STRICT = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: service-b-strict, namespace: shop}
spec:
  selector: {matchLabels: {app: service-b}}
  mtls: {mode: STRICT}
`;

const FRONTEND = sidecarNode('127.0.1.1', 'frontend-0', 'frontend', 'frontend');
const SERVICE_B = sidecarNode('127.0.1.2', 'service-b-0', 'service-b', 'service-b');

const names = (r: DecodedResponse) => (r.resources ?? []).map((x) => String(x.name ?? x.cluster_name));

describe('ADS conformance over gRPC', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skiff-ads-'));
  const ports = new OutboundPortAllocator();
  const logs: string[] = [];
  const events: AdsEvent[] = [];
  let store: ModelStore;
  let server: AdsServer;
  let ctx: GenerationContext;
  let client: grpc.Client;
  const streams: RawStream[] = [];
  const open = () => {
    const s = new RawStream(client);
    streams.push(s);
    return s;
  };

  before(async () => {
    writeFileSync(path.join(dir, 'base.yaml'), BASE);
    store = new ModelStore({ sources: [new FolderSource(dir)], debounceMs: 30 });
    ctx = new GenerationContext(await store.start(), ports);
    server = new AdsServer({
      context: ctx,
      logger: createLogger({ sink: (l) => logs.push(l), level: 'debug' }),
      onEvent: (e) => events.push(e),
    });
    store.subscribe((model) => {
      ctx = new GenerationContext(model, ports, ctx);
      server.push(ctx);
    });
    const { address } = await server.listen('127.0.0.1:0');
    client = adsClient(address);
  });

  after(async () => {
    for (const s of streams) s.close();
    client?.close();
    store?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * frontend-0's status for one type once `ready` holds (requests are handled asynchronously), or after 5 s as
   * it is then, for the assertion to show.
   */
  async function frontendType(typeUrl: string, ready: (t: TypeStatus | undefined) => boolean) {
    const get = () =>
      server
        .status()
        .find((c) => c.nodeId === FRONTEND.id)
        ?.types.find((t) => t.typeUrl === typeUrl);
    const end = Date.now() + 5000;
    while (!ready(get()) && Date.now() < end) await sleep(10);
    return get();
  }

  /** Writes a config file and waits until the server has a newer configuration and has pushed it to everyone. */
  async function change(file: string, text: string): Promise<string> {
    const before = server.currentVersion;
    writeFileSync(path.join(dir, file), text);
    const end = Date.now() + 5000;
    while (server.currentVersion === before) {
      if (Date.now() > end) assert.fail(`the change to ${file} was not applied within 5 s`);
      await sleep(10);
    }
    await server.settled();
    return server.currentVersion;
  }

  it('refuses a first request without a node: InvalidArgument "missing node information"', async () => {
    const s = open();
    s.send({ type_url: CDS });
    const status = await s.ended();
    assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(status.details, 'missing node information');
  });

  it('refuses a node it cannot parse, naming the field', async () => {
    const s = open();
    s.send({ type_url: CDS, node: { id: 'not-a-node-id' } });
    const status = await s.ended();
    assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
    assert.match(status.details, /^node\.id "not-a-node-id": expected TYPE~IP~ID~DNSDOMAIN/);
  });

  let frontend: RawStream;
  let cds: DecodedResponse;
  let eds: DecodedResponse;

  it('CDS, wildcard: every cluster generation makes for the proxy, with a version and a nonce', async () => {
    frontend = open();
    frontend.send({ node: FRONTEND, type_url: CDS });
    cds = await frontend.next();
    const expected = generateSidecar(ctx, parseProxyNode(FRONTEND as Parameters<typeof parseProxyNode>[0]));
    assert.equal(cds.type_url, CDS);
    assert.deepEqual(
      names(cds),
      expected.resources.clusters.map((c) => String(c.name)),
    );
    assert.ok(names(cds).includes('outbound|8080||service-b.shop.svc.cluster.local'));
    assert.equal(cds.version_info, server.currentVersion);
    assert.match(cds.version_info, /^\d{4}-\d\d-\d\dT[0-9:.]+Z\/\d+$/);
    assert.ok(cds.nonce.length > 0);
    // The resources are Envoy's Clusters, decoded from the wire.
    assert.equal(cds.resources[0]?.['@type'], CDS);
    const status = server.status().find((c) => c.nodeId === FRONTEND.id);
    assert.deepEqual(status?.problems, []);
    // The outbound listener addresses allocated to it, as the listeners it is sent bind them.
    const outbound = status?.outbound.find(
      (o) => o.service === 'service-b.shop.svc.cluster.local' && o.port === 8080,
    );
    assert.match(outbound?.address ?? '', /^127\.0\.0\.1:\d+$/);
    assert.equal(status?.address, '127.0.1.1');
  });

  it('EDS by name: only the names asked for', async () => {
    frontend.send({ type_url: CDS, response_nonce: cds.nonce, version_info: cds.version_info });
    frontend.send({ type_url: EDS, resource_names: ['outbound|8080||service-b.shop.svc.cluster.local'] });
    eds = await frontend.next();
    assert.equal(eds.type_url, EDS);
    assert.deepEqual(names(eds), ['outbound|8080||service-b.shop.svc.cluster.local']);
    const endpoints = JSON.stringify(eds.resources[0]);
    assert.match(endpoints, /127\.0\.1\.2/);
  });

  it('an ACK gets nothing', async () => {
    frontend.send({
      type_url: EDS,
      resource_names: ['outbound|8080||service-b.shop.svc.cluster.local'],
      response_nonce: eds.nonce,
      version_info: eds.version_info,
    });
    const edsStatus = await frontendType(EDS, (t) => t?.acked?.nonce === eds.nonce);
    assert.deepEqual(edsStatus?.acked, { version: eds.version_info, nonce: eds.nonce });
    await frontend.nothing(300, 'ACKs');
    // The typed events (what the metrics count): the push of EDS, with its size, then its ACK.
    const push = events.find((e) => e.kind === 'push' && e.nonce === eds.nonce);
    assert.ok(push?.kind === 'push');
    assert.equal(push.type, 'eds');
    assert.equal(push.proxy, FRONTEND.id);
    assert.equal(push.configVersion, eds.version_info);
    assert.equal(push.resources, 1);
    assert.ok(push.bytes > 0 && push.ms >= 0, `bytes ${push.bytes}, ms ${push.ms}`);
    assert.deepEqual(
      events.find((e) => e.kind === 'ack' && e.nonce === eds.nonce),
      {
        kind: 'ack',
        type: 'eds',
        proxy: FRONTEND.id,
        connection: push.connection,
        configVersion: eds.version_info,
        nonce: eds.nonce,
      },
    );
    const connect = events.find((e) => e.kind === 'connect' && e.connection === push.connection);
    assert.deepEqual(connect, {
      kind: 'connect',
      proxy: FRONTEND.id,
      connection: push.connection,
      version: '1.28.0',
    });
  });

  it('a stale nonce is ignored, even with a new name', async () => {
    frontend.send({
      type_url: EDS,
      resource_names: [
        'outbound|8080||service-b.shop.svc.cluster.local',
        'outbound|80||frontend.shop.svc.cluster.local',
      ],
      response_nonce: 'not-the-last-nonce',
      version_info: eds.version_info,
    });
    const status = await frontendType(EDS, (t) => t?.staleNonces === 1);
    assert.equal(status?.staleNonces, 1);
    await frontend.nothing(300, 'a stale nonce');
    const stale = events.filter((e) => e.kind === 'stale-nonce');
    assert.deepEqual(
      stale.map((e) => e.kind === 'stale-nonce' && [e.type, e.proxy, e.nonce]),
      [['eds', FRONTEND.id, 'not-the-last-nonce']],
    );
  });

  it('a name added is answered with both; a name removed gets nothing', async () => {
    const two = [
      'outbound|8080||service-b.shop.svc.cluster.local',
      'outbound|80||frontend.shop.svc.cluster.local',
    ];
    frontend.send({
      type_url: EDS,
      resource_names: two,
      response_nonce: eds.nonce,
      version_info: eds.version_info,
    });
    eds = await frontend.next();
    assert.deepEqual(names(eds).sort(), [...two].sort());
    frontend.send({
      type_url: EDS,
      resource_names: ['outbound|80||frontend.shop.svc.cluster.local'],
      response_nonce: eds.nonce,
      version_info: eds.version_info,
    });
    const status = await frontendType(EDS, (t) => t?.names.length === 1);
    assert.deepEqual(status?.names, ['outbound|80||frontend.shop.svc.cluster.local']);
    await frontend.nothing(300, 'a name removed');
  });

  it('a NACK: recorded with its message, nothing re-sent; a config change then pushes a new version', async () => {
    frontend.send({
      type_url: CDS,
      response_nonce: cds.nonce,
      version_info: cds.version_info,
      error_detail: { code: 3, message: 'outbound|8080||service-b.shop.svc.cluster.local: bad things' },
    });
    const nacked = (await frontendType(CDS, (t) => t?.nacked !== undefined))?.nacked;
    await frontend.nothing(300, 'a NACK');
    assert.deepEqual(nacked, {
      version: cds.version_info,
      nonce: cds.nonce,
      message: 'outbound|8080||service-b.shop.svc.cluster.local: bad things',
    });
    assert.ok(logs.some((l) => l.includes('ADS:CDS: ACK ERROR') && l.includes('bad things')));
    const nack = events.find((e) => e.kind === 'nack');
    assert.ok(nack?.kind === 'nack');
    assert.deepEqual(
      [nack.type, nack.proxy, nack.configVersion, nack.nonce, nack.message],
      [
        'cds',
        FRONTEND.id,
        cds.version_info,
        cds.nonce,
        'outbound|8080||service-b.shop.svc.cluster.local: bad things',
      ],
    );
    const version = await change('extra.yaml', EXTRA_SERVICE);
    const pushed = await frontend.next();
    assert.equal(pushed.type_url, CDS);
    assert.equal(pushed.version_info, version);
    assert.notEqual(pushed.nonce, cds.nonce);
    assert.ok(names(pushed).includes('outbound|8081||extra.shop.svc.cluster.local'));
    cds = pushed;
    frontend.send({ type_url: CDS, response_nonce: cds.nonce, version_info: cds.version_info });
    // CDS was sent without EDS (its endpoints did not change): the next EDS request is answered (AlwaysRespond).
    frontend.send({
      type_url: EDS,
      resource_names: ['outbound|80||frontend.shop.svc.cluster.local'],
      response_nonce: eds.nonce,
      version_info: eds.version_info,
    });
    eds = await frontend.next();
    assert.deepEqual([eds.type_url, names(eds)], [EDS, ['outbound|80||frontend.shop.svc.cluster.local']]);
    frontend.send({
      type_url: EDS,
      resource_names: ['outbound|80||frontend.shop.svc.cluster.local'],
      response_nonce: eds.nonce,
      version_info: eds.version_info,
    });
    const status = await frontendType(CDS, (t) => t?.acked?.nonce === cds.nonce);
    assert.deepEqual(status?.acked, { version, nonce: cds.nonce });
    await frontend.nothing(200, 'ACKs');
  });

  it('a change that affects one proxy: it alone is pushed, only the type that changed', async () => {
    const b = open();
    b.send({ node: SERVICE_B, type_url: CDS });
    const bCds = await b.next();
    b.send({ type_url: LDS });
    const bLds = await b.next();
    b.send({ type_url: CDS, response_nonce: bCds.nonce, version_info: bCds.version_info });
    b.send({ type_url: LDS, response_nonce: bLds.nonce, version_info: bLds.version_info });
    frontend.send({ type_url: LDS });
    const fLds = await frontend.next();
    frontend.send({ type_url: LDS, response_nonce: fLds.nonce, version_info: fLds.version_info });
    await frontend.nothing(200);
    await b.nothing(0);
    const pushesBefore = server.status().find((c) => c.nodeId === FRONTEND.id)?.pushes;

    const version = await change('strict.yaml', SERVICE_B_STRICT);
    const pushed = await b.next();
    assert.deepEqual([pushed.type_url, pushed.version_info], [LDS, version]);
    const inbound = pushed.resources.find((l) => l.name === 'virtualInbound');
    assert.ok(inbound, 'the inbound listener is in the push');
    await b.nothing(300, 'only LDS changed for service-b-0');
    await frontend.nothing(0, 'frontend-0 is not affected');
    const frontendStatus = server.status().find((c) => c.nodeId === FRONTEND.id);
    assert.equal(frontendStatus?.pushes, pushesBefore);
    assert.equal(frontendStatus?.version, version, 'frontend-0 was looked at, at the new version');
    b.close();
  });

  it('a reconnect with the versions it holds: nothing sent again; later changes are pushed', async () => {
    const lastCds = cds;
    const lastEds = eds;
    frontend.close();
    const again = open();
    again.send({ node: FRONTEND, type_url: CDS, version_info: lastCds.version_info });
    again.send({
      type_url: EDS,
      resource_names: ['outbound|80||frontend.shop.svc.cluster.local'],
      version_info: lastEds.version_info,
    });
    const end = Date.now() + 5000;
    const settledOnOne = () => {
      const mine = server.status().filter((c) => c.nodeId === FRONTEND.id);
      return mine.length === 1 && mine[0]?.types.length === 2;
    };
    while (!settledOnOne() && Date.now() < end) await sleep(10);
    await again.nothing(300, 'unchanged since the versions it holds');
    const conn = server.status().filter((c) => c.nodeId === FRONTEND.id);
    assert.equal(conn.length, 1, 'the old connection is gone, the new one is there');
    assert.deepEqual(
      conn[0]?.types.map((t) => [t.typeUrl, t.acked?.version]),
      [
        [CDS, lastCds.version_info],
        [EDS, lastEds.version_info],
      ],
    );
    // A new endpoint of frontend: EDS is pushed (the names it subscribes), CDS is not.
    const version = await change(
      'frontend-1.yaml',
      `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: frontend-1, namespace: shop}
spec:
  address: 127.0.1.3
  serviceAccount: frontend
  labels: {app: frontend, security.istio.io/tlsMode: istio}
`,
    );
    const pushed = await again.next();
    assert.deepEqual(
      [pushed.type_url, pushed.version_info, names(pushed)],
      [EDS, version, ['outbound|80||frontend.shop.svc.cluster.local']],
    );
    assert.match(JSON.stringify(pushed.resources[0]), /127\.0\.1\.3/);
    await again.nothing(200);
  });

  it('a reconnect with a version whose resources changed since: answered', async () => {
    const s = open();
    s.send({ node: FRONTEND, type_url: CDS, version_info: '2020-01-01T00:00:00Z/1' });
    const r = await s.next();
    assert.equal(r.version_info, server.currentVersion);
    s.close();
  });

  it('a proxyless gRPC client (GENERATOR=grpc) is served by name: LDS, RDS, CDS, EDS', async () => {
    const grpcNode = sidecarNode('127.0.1.9', 'client-0', 'default', 'client');
    (grpcNode.metadata as JsonObject).GENERATOR = 'grpc';
    const s = open();
    s.send({ node: grpcNode, type_url: LDS, resource_names: ['frontend:80'] });
    const lds = await s.next();
    assert.deepEqual(names(lds), ['frontend:80']);
    const rdsName = (
      lds.resources[0] as JsonObject & {
        api_listener: { api_listener: { rds: { route_config_name: string } } };
      }
    ).api_listener.api_listener.rds.route_config_name;
    assert.equal(rdsName, 'outbound|80||frontend.shop.svc.cluster.local');
    s.send({ type_url: RDS, resource_names: [rdsName] });
    assert.deepEqual(names(await s.next()), [rdsName]);
    s.send({ type_url: CDS, resource_names: [rdsName] });
    const clusters = await s.next();
    assert.deepEqual([clusters.type_url, names(clusters)], [CDS, [rdsName]]);
    s.send({ type_url: EDS, resource_names: [rdsName] });
    const endpoints = await s.next();
    assert.deepEqual([endpoints.type_url, names(endpoints)], [EDS, [rdsName]]);
    assert.match(JSON.stringify(endpoints.resources[0]), /127\.0\.1\.1/);
    s.close();
  });

  it('a request that is not a DiscoveryRequest ends that stream with InvalidArgument; the server stays up', async () => {
    const call = client.makeBidiStreamRequest(
      `/envoy.service.discovery.v3.AggregatedDiscoveryService/${ADS_METHOD}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    let status: grpc.StatusObject | undefined;
    call.on('status', (st) => {
      status = st;
    });
    call.on('error', () => {});
    call.on('data', () => {});
    call.write(Buffer.from([0x0a, 0xff, 0xff, 0xff]));
    const end = Date.now() + 5000;
    while (!status && Date.now() < end) await sleep(5);
    assert.equal(status?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(status?.details ?? '', /^malformed DiscoveryRequest/);
    const s = open();
    s.send({ node: SERVICE_B, type_url: CDS });
    assert.equal((await s.next()).type_url, CDS);
    s.close();
  });

  it('removing a service a listener refers to: CDS still with its cluster, LDS without the listener, then CDS without it', async () => {
    const cluster = 'outbound|7070||gone.shop.svc.cluster.local';
    const s = open();
    const cds1 = await s.subscribeAcked({ node: FRONTEND, type_url: CDS });
    const lds1 = await s.subscribeAcked({ type_url: LDS });
    assert.ok(!names(cds1).includes(cluster));
    assert.ok(!JSON.stringify(lds1.resources).includes(cluster));

    await change('gone.yaml', GONE_SERVICE);
    const withIt = await s.next();
    assert.deepEqual([withIt.type_url, names(withIt).includes(cluster)], [CDS, true]);
    const listening = await s.next();
    assert.equal(listening.type_url, LDS);
    const listener = listening.resources.find((l) => JSON.stringify(l).includes(`"${cluster}"`));
    assert.ok(listener, 'a listener refers to the cluster');
    s.ack(withIt);
    s.ack(listening);
    await s.nothing(200, 'ACKs');

    const before = server.currentVersion;
    rmSync(path.join(dir, 'gone.yaml'));
    const end = Date.now() + 5000;
    while (server.currentVersion === before) {
      if (Date.now() > end) assert.fail('the removal was not applied within 5 s');
      await sleep(10);
    }
    await server.settled();
    const version = server.currentVersion;
    const kept = await s.next();
    assert.deepEqual(
      [kept.type_url, kept.version_info, names(kept).includes(cluster)],
      [CDS, version, true],
      'CDS first, still with the cluster the ACKed listener names',
    );
    const without = await s.next();
    assert.equal(without.type_url, LDS);
    assert.ok(!JSON.stringify(without.resources).includes(`"${cluster}"`), 'LDS without the listener');
    assert.ok(!names(without).includes(String(listener.name)));
    s.ack(kept);
    await s.nothing(200, 'the listener is not ACKed yet: the cluster stays');
    s.ack(without);
    const removed = await s.next();
    assert.deepEqual([removed.type_url, names(removed).includes(cluster)], [CDS, false]);
    assert.deepEqual(
      names(removed).sort(),
      names(kept)
        .filter((n) => n !== cluster)
        .sort(),
    );
    s.ack(removed);
    await s.nothing(200, 'done');
    s.close();
  });

  it('the plaintext port refuses addresses other than loopback', async () => {
    await assert.rejects(() => server.listen('0.0.0.0:0'), /plaintext xDS is served on loopback only/);
    await assert.rejects(() => server.listen('10.1.2.3:0'), /loopback only/);
    await assert.rejects(() => server.listen('localhost:0'), /loopback only/);
    assert.throws(() => checkPlaintextAddress('127.0.0.1'), /expected HOST:PORT/);
    assert.deepEqual(checkPlaintextAddress('[::1]:15010'), { host: '::1', port: 15010 });
    assert.deepEqual(checkPlaintextAddress('127.0.0.2:0'), { host: '127.0.0.2', port: 0 });
  });

  it('on shutdown, every stream is ended with Unavailable', async () => {
    const s = open();
    s.send({ node: SERVICE_B, type_url: CDS });
    await s.next();
    await server.close();
    const status = await s.ended();
    assert.equal(status.code, grpc.status.UNAVAILABLE);
    assert.match(status.details, /shutting down/);
    assert.deepEqual(server.status(), []);
  });
});
