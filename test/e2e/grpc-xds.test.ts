// gRPC's own xDS client (@grpc/grpc-js-xds) against Skiff's ADS server, end to end: the server on its plaintext
// loopback port (istiod's 15010, for proxyless gRPC on this machine), fed by ModelStore over a temp config
// folder as the control plane runs it; proxyless apps in child processes with the bootstrap Istio's agent
// writes. It checks what a proxyless app needs from the control plane:
// 1. `xds:///HOST:PORT` resolves through LDS → RDS → CDS → EDS and a unary call reaches a plain gRPC server
//    registered by a ServiceEntry + WorkloadEntry;
// 2. endpoints added and removed in the folder are followed by a running client without a failed call;
// 3. a grpc-js-xds client and an XdsServer complete mTLS from Skiff's security config (DestinationRule
//    ISTIO_MUTUAL, PeerAuthentication STRICT, certificates from Skiff's CA in the files Istio's agent writes),
//    and a server whose identity is not the one the config expects is refused.
// Every wait is bounded; every child and server is stopped at the end. Only 127.0.0.0/8 addresses.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { spiffeId } from '../../src/ca/identity.js';
import { initCa, loadCa } from '../../src/ca/store.js';
import { createCsr, generateKeyPair, privateKeyToPem, toPem } from '../../src/ca/x509.js';
import { FolderSource } from '../../src/control-plane/sources/folder.js';
import { ModelStore } from '../../src/control-plane/store.js';
import { createLogger } from '../../src/core/log.js';
import { GenerationContext } from '../../src/xds/generate/context.js';
import { OutboundPortAllocator } from '../../src/xds/generate/outbound-ports.js';
import { AdsServer } from '../../src/xds/server/server.js';
import {
  ECHO_SERVICE,
  type EchoReply,
  freePort,
  istioGrpcBootstrap,
  type LoopResult,
  type ProxylessNode,
  startPlainEcho,
  writeBootstrap,
  XdsChild,
} from './helpers/grpc-xds.js';

const TRUST_DOMAIN = 'cluster.local';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

describe('gRPC xDS clients (grpc-js-xds) against the ADS server', { timeout: 120_000 }, () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'skiff-grpc-xds-'));
  const config = path.join(base, 'config');
  mkdirSync(config);
  const logs: string[] = [];
  const children: XdsChild[] = [];
  const stops: (() => Promise<void>)[] = [];
  let store: ModelStore;
  let server: AdsServer;
  let xdsAddress: string;

  const write = (name: string, yaml: string) => writeFileSync(path.join(config, name), yaml);
  const spawnChild = (
    role: 'client' | 'server',
    node: ProxylessNode,
    args: string[] = [],
    certDir?: string,
  ): XdsChild => {
    const file = writeBootstrap(
      path.join(base, `bootstrap-${node.workload}.json`),
      istioGrpcBootstrap({ xdsAddress, node, ...(certDir ? { certDir } : {}) }),
    );
    const child = new XdsChild(role, file, args, { lifetimeMs: 100_000 });
    children.push(child);
    return child;
  };
  /** The server's log lines, for a failure message. */
  const serverLog = () => logs.slice(-30).join('\n');

  before(async () => {
    // The folder starts empty; each suite adds its services.
    const logger = createLogger({ sink: (l) => logs.push(l), level: 'debug' });
    store = new ModelStore({ sources: [new FolderSource(config)], debounceMs: 30, logger });
    const ports = new OutboundPortAllocator();
    let ctx = new GenerationContext(await store.start(), ports);
    server = new AdsServer({
      context: ctx,
      logger,
    });
    store.subscribe((model) => {
      ctx = new GenerationContext(model, ports, ctx);
      server.push(ctx);
    });
    ({ address: xdsAddress } = await server.listen('127.0.0.1:0'));
  });

  after(async () => {
    await Promise.all(children.map((c) => c.stop()));
    await Promise.all(stops.map((s) => s()));
    store?.close();
    await server?.close();
    rmSync(base, { recursive: true, force: true });
  });

  describe('plaintext: a ServiceEntry + WorkloadEntry service', () => {
    const TARGET = 'xds:///echo.mesh.internal:7070';
    const CLIENT: ProxylessNode = {
      ip: '127.0.2.1',
      workload: 'echo-client-0',
      namespace: 'shop',
      serviceAccount: 'echo-client',
      labels: { app: 'echo-client' },
    };
    const workloadEntry = (name: string, ip: string, port: number) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: shop}
spec:
  address: ${ip}
  labels: {app: echo, version: ${name}}
  ports: {grpc: ${port}}
`;
    let portA = 0;
    let portB = 0;
    let client: XdsChild;

    before(async () => {
      const a = await startPlainEcho('127.0.2.11', 'echo-a');
      const b = await startPlainEcho('127.0.2.12', 'echo-b');
      stops.push(a.stop, b.stop);
      portA = a.port;
      portB = b.port;
      write(
        'echo.yaml',
        `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: shop}
spec:
  hosts: [echo.mesh.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{name: grpc, number: 7070, protocol: GRPC}]
  workloadSelector: {labels: {app: echo}}
`,
      );
      write('echo-a.yaml', workloadEntry('echo-a', '127.0.2.11', portA));
      await until('the store serving echo-a', 5000, async () =>
        store.model?.services.some((s) => s.hostname === 'echo.mesh.internal' && s.endpoints.length === 1)
          ? true
          : undefined,
      );
      client = spawnChild('client', CLIENT);
    });

    it('resolves xds:///HOST:PORT through LDS, RDS, CDS and EDS, and a unary call reaches the server', async () => {
      const first = await client.callUntilOk(TARGET).catch((e: Error) => {
        throw new Error(`${e.message}\nADS server log:\n${serverLog()}`);
      });
      assert.equal(first.reply.server, 'echo-a');
      // The client subscribed to each type by name, and ACKed each (nothing NACKed).
      const status = server.status().find((c) => c.proxyId === 'echo-client-0.shop');
      assert.ok(status, `the client's connection is listed: ${JSON.stringify(server.status())}`);
      assert.equal(status.generator, 'grpc');
      const byType = Object.fromEntries(status.types.map((t) => [t.typeUrl.split('.').pop(), t]));
      for (const type of ['Listener', 'RouteConfiguration', 'Cluster', 'ClusterLoadAssignment']) {
        const t = byType[type];
        assert.ok(t, `${type} subscribed: ${JSON.stringify(status.types)}`);
        assert.equal(t.nacked, undefined, `${type} NACKed: ${JSON.stringify(t)}`);
        assert.ok(t.acked?.version, `${type} ACKed: ${JSON.stringify(t)}`);
      }
      assert.deepEqual(byType.Listener?.names, ['echo.mesh.internal:7070']);
      assert.deepEqual(byType.RouteConfiguration?.names, ['outbound|7070||echo.mesh.internal']);
      assert.deepEqual(byType.Cluster?.names, ['outbound|7070||echo.mesh.internal']);
      assert.deepEqual(byType.ClusterLoadAssignment?.names, ['outbound|7070||echo.mesh.internal']);
      // And a second call goes the same way, without new resolution.
      const again = await client.call(TARGET);
      assert.ok(again.ok, JSON.stringify(again));
    });

    it('follows endpoints added and removed in the folder without a failed call', async () => {
      await client.callUntilOk(TARGET);
      await client.request({ op: 'loop-start', target: TARGET, intervalMs: 10, deadlineMs: 3000 });
      const peek = async () => (await client.request({ op: 'loop-peek' })) as unknown as LoopResult;
      const sentVersions = () => {
        const status = server.status().find((c) => c.proxyId === 'echo-client-0.shop');
        return Object.fromEntries(
          (status?.types ?? []).map((t) => [t.typeUrl.split('.').pop(), t.sent?.version]),
        );
      };
      const before = sentVersions();
      // A second endpoint: calls spread to it.
      write('echo-b.yaml', workloadEntry('echo-b', '127.0.2.12', portB));
      await until('calls reaching echo-b', 10_000, async () => {
        const r = await peek();
        return (r.byServer['echo-b'] ?? 0) >= 5 ? r : undefined;
      }).catch((e: Error) => {
        throw new Error(
          `${e.message}\n${JSON.stringify(server.status(), null, 1)}\n${serverLog()}\n${client.describe()}`,
        );
      });
      // The first endpoint removed: once the client has it, echo-a (still running) gets no more calls.
      unlinkSync(path.join(config, 'echo-a.yaml'));
      await until('echo-a left out', 10_000, async () => {
        const before = await peek();
        await sleep(300);
        const later = await peek();
        return later.total - before.total >= 5 && later.byServer['echo-a'] === before.byServer['echo-a']
          ? true
          : undefined;
      });
      await sleep(300);
      const result = (await client.request({ op: 'loop-stop' })) as unknown as LoopResult;
      assert.deepEqual(result.failures, [], `every call succeeded: ${JSON.stringify(result)}`);
      assert.ok((result.byServer['echo-a'] ?? 0) > 0, `echo-a served: ${JSON.stringify(result)}`);
      assert.ok((result.byServer['echo-b'] ?? 0) > 0, `echo-b served: ${JSON.stringify(result)}`);
      assert.ok(result.total >= 20, `enough calls: ${JSON.stringify(result)}`);
      const last = await client.call(TARGET);
      assert.ok(last.ok && last.reply.server === 'echo-b', JSON.stringify(last));
      // Only EDS was pushed for these changes: the client's listener, route and cluster did not change.
      const after = sentVersions();
      assert.notEqual(after.ClusterLoadAssignment, before.ClusterLoadAssignment);
      for (const type of ['Listener', 'RouteConfiguration', 'Cluster']) {
        assert.equal(
          after[type],
          before[type],
          `${type} was not sent again: ${JSON.stringify({ before, after })}`,
        );
      }
      const eds = server
        .status()
        .find((c) => c.proxyId === 'echo-client-0.shop')
        ?.types.find((t) => t.typeUrl.endsWith('.ClusterLoadAssignment'));
      assert.equal(eds?.acked?.version, after.ClusterLoadAssignment, `EDS ACKed: ${JSON.stringify(eds)}`);
      assert.equal(eds?.nacked, undefined);
    });
  });

  describe('mTLS from Skiff security config: DestinationRule ISTIO_MUTUAL, PeerAuthentication STRICT', () => {
    const SERVER_IP = '127.0.3.1';
    const SERVER: ProxylessNode = {
      ip: SERVER_IP,
      workload: 'secure-0',
      namespace: 'shop',
      serviceAccount: 'secure-server',
      labels: { app: 'secure', 'security.istio.io/tlsMode': 'istio' },
    };
    const CLIENT: ProxylessNode = {
      ip: '127.0.3.9',
      workload: 'secure-client-0',
      namespace: 'shop',
      serviceAccount: 'secure-client',
      labels: { app: 'secure-client' },
    };
    let port = 0;
    let client: XdsChild;

    /** Issues a workload certificate from Skiff's CA and writes it as Istio's agent does for proxyless apps. */
    async function issue(caDir: string, serviceAccount: string, out: string): Promise<string> {
      const loaded = await loadCa(caDir);
      const identity = { trustDomain: loaded.record.trustDomain, namespace: 'shop', serviceAccount };
      const keys = await generateKeyPair('ec-p256');
      const result = await loaded.authority.signCsr(
        await createCsr(keys, [spiffeId(identity)]),
        identity,
        3600,
      );
      if (!result.ok) throw new Error(`the CA refused: ${result.message}`);
      mkdirSync(out, { recursive: true });
      writeFileSync(path.join(out, 'key.pem'), await privateKeyToPem(keys.privateKey), { mode: 0o600 });
      writeFileSync(
        path.join(out, 'cert-chain.pem'),
        toPem([result.leaf, ...loaded.authority.intermediates()]),
      );
      writeFileSync(path.join(out, 'root-cert.pem'), loaded.authority.rootsPem());
      return out;
    }

    before(async () => {
      const caDir = path.join(base, 'ca');
      await initCa(caDir, { trustDomain: TRUST_DOMAIN, keyType: 'ec-p256' });
      const serverCerts = await issue(caDir, SERVER.serviceAccount, path.join(base, 'certs-server'));
      const clientCerts = await issue(caDir, CLIENT.serviceAccount, path.join(base, 'certs-client'));
      port = await freePort(SERVER_IP);
      write(
        'secure.yaml',
        `apiVersion: v1
kind: Service
metadata: {name: secure, namespace: shop}
spec:
  selector: {app: secure}
  ports: [{name: grpc, port: 7443, targetPort: ${port}}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: secure-0, namespace: shop}
spec:
  address: ${SERVER_IP}
  serviceAccount: ${SERVER.serviceAccount}
  labels: {app: secure, security.istio.io/tlsMode: istio}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: secure-strict, namespace: shop}
spec:
  selector: {matchLabels: {app: secure}}
  mtls: {mode: STRICT}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure, namespace: shop}
spec:
  host: secure.shop.svc.cluster.local
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
---
# The same server under another name, whose endpoint the config says runs as someone else: a client must
# refuse the server's certificate (the SAN it expects is the endpoint's service account).
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: secure-wrong-san, namespace: shop}
spec:
  hosts: [secure-wrong-san.mesh.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{name: grpc, number: 7443, protocol: GRPC}]
  endpoints:
  - address: ${SERVER_IP}
    ports: {grpc: ${port}}
    serviceAccount: someone-else
    labels: {security.istio.io/tlsMode: istio}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure-wrong-san, namespace: shop}
spec:
  host: secure-wrong-san.mesh.internal
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
`,
      );
      await until('the store serving secure', 5000, async () =>
        store.model?.services.some((s) => s.hostname === 'secure.shop.svc.cluster.local') &&
        store.model?.services.some((s) => s.hostname === 'secure-wrong-san.mesh.internal')
          ? true
          : undefined,
      );
      const xdsServer = spawnChild('server', SERVER, [`${SERVER_IP}:${port}`, 'secure-0'], serverCerts);
      await xdsServer.event('serving', 15_000).catch((e: Error) => {
        throw new Error(`${e.message}\nADS server log:\n${serverLog()}`);
      });
      client = spawnChild('client', CLIENT, [], clientCerts);
    });

    it('a grpc-js-xds client and an XdsServer complete mTLS with the identities Skiff issued', async () => {
      const r = await client.callUntilOk('xds:///secure.shop.svc.cluster.local:7443').catch((e: Error) => {
        throw new Error(`${e.message}\nADS server log:\n${serverLog()}`);
      });
      const reply: EchoReply = r.reply;
      assert.equal(reply.server, 'secure-0');
      assert.equal(reply.security, 'ssl', `the server saw TLS: ${JSON.stringify(r)}`);
      assert.equal(
        reply.peer,
        `URI:${spiffeId({ trustDomain: TRUST_DOMAIN, namespace: 'shop', serviceAccount: 'secure-client' })}`,
      );
      assert.equal(
        r.serverSans,
        `URI:${spiffeId({ trustDomain: TRUST_DOMAIN, namespace: 'shop', serviceAccount: 'secure-server' })}`,
      );
      // The server got the STRICT chain: a plaintext client is not served.
      const Echo = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
      const plain = new Echo(`${SERVER_IP}:${port}`, grpc.credentials.createInsecure());
      try {
        const err = await new Promise<grpc.ServiceError | null>((resolve) =>
          (plain as unknown as Record<string, (...a: unknown[]) => void>).Call?.call(
            plain,
            {},
            { deadline: Date.now() + 3000 },
            (e: grpc.ServiceError | null) => resolve(e),
          ),
        );
        assert.ok(err, 'a plaintext call to the STRICT server fails');
        assert.equal(err.code, grpc.status.UNAVAILABLE, `${err.code} ${err.details}`);
      } finally {
        plain.close();
      }
    });

    it('a server whose certificate is not the identity the config expects is refused (UNAVAILABLE)', async () => {
      // Both resolve to the same server; the right name works, the wrong SAN never does.
      await client.callUntilOk('xds:///secure.shop.svc.cluster.local:7443');
      const target = 'xds:///secure-wrong-san.mesh.internal:7443';
      const end = Date.now() + 5000;
      const seen: string[] = [];
      while (Date.now() < end) {
        const r = await client.call(target, 1500);
        assert.ok(!r.ok, `a call to a server with another identity succeeded: ${JSON.stringify(r)}`);
        seen.push(`${r.code} ${r.details}`);
        if (seen.length >= 3) break;
      }
      for (const s of seen) assert.match(s, new RegExp(`^${grpc.status.UNAVAILABLE} `), seen.join('\n'));
      // The client did get and ACK the cluster with its expected SAN (so the refusal is the TLS check).
      const status = server.status().find((c) => c.proxyId === 'secure-client-0.shop');
      const cds = status?.types.find((t) => t.typeUrl.endsWith('.Cluster'));
      assert.ok(cds?.names.includes('outbound|7443||secure-wrong-san.mesh.internal'), JSON.stringify(cds));
      assert.equal(cds?.nacked, undefined, JSON.stringify(cds));
    });
  });
});
