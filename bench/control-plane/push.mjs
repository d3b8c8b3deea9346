#!/usr/bin/env node
// Push latency of `skiff control-plane`: the control plane (ControlPlane.start, in this process) watching a temp
// config folder and registry folder, and P simulated proxies (raw ADS clients: @grpc/grpc-js with the ADS proto,
// in a child process, so that their decoding is not counted as the control plane's CPU). Each proxy subscribes
// CDS and LDS wildcard and EDS and RDS by the names it receives, and ACKs every response.
//   node bench/control-plane/push.mjs [--services 1000] [--proxies 100] [--rounds 5]
// Interleaved rounds of:
//   (a) an endpoint change to one service (a WorkloadEntry's address, in the registry folder): time from the
//       file write to the last proxy's ACK (every proxy sees that service), and the control plane's CPU;
//   (b) a change that affects one proxy only (a PeerAuthentication selecting one workload, STRICT ↔ PERMISSIVE):
//       time to that proxy's ACK, and a check that no other proxy was sent anything;
//   (c) every proxy reconnecting: time until all are synced (CDS, EDS, LDS, RDS all ACKed).
// Beside each, a baseline measured in the same round: what generation alone costs for the same change (model
// build, then generateSidecar for every proxy with the context carried over, as the server does; no server).
// Outbound ports: local mode's allocator hands out real ports from 15101-19999, one per (proxy, service port);
// P proxies × 2S service ports do not fit (100 × 2,000 = 200,000), so the bench replaces the control plane's
// allocator (plane.ports.portFor, before any proxy connects) with one that numbers ports without a range, as
// generate.mjs does: the simulated proxies bind nothing, and every proxy still gets all its listeners.
// Needs a build (npm run build).

import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const print = (...parts) => process.stdout.write(`${parts.join(' ')}\n`);
/** Progress on stderr (the table is stdout). */
const progress = (line) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';
const RDS = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
const SHORT = { [CDS]: 'cds', [EDS]: 'eds', [LDS]: 'lds', [RDS]: 'rds' };

// ---------------------------------------------------------------------------------------------------------------
// The parent: configuration, the control plane, the rounds, the table.

function flags() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        services: { type: 'string', default: '1000' },
        proxies: { type: 'string', default: '100' },
        rounds: { type: 'string', default: '5' },
      },
    }));
  } catch (e) {
    throw new Error(`${e.message} (usage: push.mjs [--services N] [--proxies N] [--rounds N])`);
  }
  const int = (name, min, max) => {
    const raw = values[name];
    const n = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!(n >= min && n <= max))
      throw new Error(`--${name} ${JSON.stringify(raw)}: expected a whole number ${min}–${max}`);
    return n;
  };
  const S = int('services', 1, 60_000);
  const P = int('proxies', 1, 10_000);
  const rounds = int('rounds', 1, 1000);
  if (P > S) throw new Error(`--proxies ${P}: at most one proxy per service (--services ${S})`);
  return { S, P, rounds };
}

function ip(i) {
  return `127.${1 + Math.floor(i / 65025)}.${Math.floor((i % 65025) / 255)}.${(i % 255) + 1}`;
}

/** The config folder's files and the registry folder's, as generate.mjs shapes the mesh. */
function meshFiles(S) {
  const config = new Map();
  const registry = new Map();
  config.set(
    'mesh-default.yaml',
    'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: PERMISSIVE}}\n',
  );
  const services = [];
  for (let i = 0; i < S; i++) {
    const ns = `ns-${i % 10}`;
    services.push(
      `apiVersion: v1\nkind: Service\nmetadata: {name: svc-${i}, namespace: ${ns}}\nspec:\n  selector: {app: svc-${i}}\n  ports: [{name: http, port: 8080}, {name: tcp, port: 9090}]`,
    );
    for (let r = 0; r < 2; r++) registry.set(`${ns}/svc-${i}-${r}.yaml`, workloadEntry(i, r, ip(2 * i + r)));
  }
  config.set('services.yaml', `${services.join('\n---\n')}\n`);
  return { config, registry };
}

function workloadEntry(i, r, address) {
  return `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: svc-${i}-${r}, namespace: ns-${i % 10}}\nspec: {address: ${address}, serviceAccount: svc-${i}, labels: {app: svc-${i}, security.istio.io/tlsMode: istio}}\n`;
}

/** A PeerAuthentication selecting service `i`'s workloads (one of which is a connected proxy). */
function workloadPolicy(i, mode) {
  return `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: svc-${i}-mtls, namespace: ns-${i % 10}}\nspec:\n  selector: {matchLabels: {app: svc-${i}}}\n  mtls: {mode: ${mode}}\n`;
}

/** Proxy k is replica 0 of service k. */
function proxyNode(k) {
  const ns = `ns-${k % 10}`;
  const address = ip(2 * k);
  return {
    id: `sidecar~${address}~svc-${k}-0.${ns}~${ns}.svc.cluster.local`,
    metadata: {
      NAMESPACE: ns,
      SERVICE_ACCOUNT: `svc-${k}`,
      WORKLOAD_NAME: `svc-${k}-0`,
      INSTANCE_IPS: address,
      LABELS: { app: `svc-${k}`, 'security.istio.io/tlsMode': 'istio' },
      ISTIO_VERSION: '1.28.0',
    },
  };
}

/** Numbers outbound ports without a range (1–65535, repeating across proxies): nothing is bound here. */
function unboundedPorts() {
  const keys = new Map();
  return {
    portFor(proxyId, host, port) {
      const key = `${proxyId} ${host}:${port}`;
      let p = keys.get(key);
      if (p === undefined) {
        p = 1 + (keys.size % 65535);
        keys.set(key, p);
      }
      return p;
    },
  };
}

/** The child process of simulated proxies, driven by messages; each request is answered or times out. */
class Proxies {
  constructor() {
    this.child = fork(fileURLToPath(import.meta.url), [], {
      env: { ...process.env, SKIFF_PUSH_BENCH_ROLE: 'proxies' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.waiting = new Map();
    this.seq = 0;
    this.exited = undefined;
    this.child.on('message', (m) => {
      const w = this.waiting.get(m.seq);
      if (!w) return;
      this.waiting.delete(m.seq);
      if (m.error) w.reject(new Error(`simulated proxies: ${m.error}`));
      else w.resolve(m);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = `the simulated proxies' process exited (${signal ?? code})`;
      for (const w of this.waiting.values()) w.reject(new Error(this.exited));
      this.waiting.clear();
    });
  }

  ask(message, ms) {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(seq);
        reject(new Error(`simulated proxies: no answer to ${message.cmd} within ${ms / 1000} s`));
      }, ms);
      this.waiting.set(seq, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ ...message, seq });
    });
  }

  stop() {
    if (this.exited) return;
    this.child.kill('SIGKILL');
  }
}

async function main() {
  const { S, P, rounds } = flags();
  const dist = new URL('../../dist/src/', import.meta.url);
  const load = async (p) => {
    try {
      return await import(new URL(p, dist).href);
    } catch (e) {
      throw new Error(`cannot load ${p} from dist/ (run npm run build first): ${e.message}`);
    }
  };
  const { ControlPlane } = await load('control-plane/server.js');
  const { loadConfig } = await load('config/load.js');
  const { buildModel } = await load('model/build.js');
  const { GenerationContext } = await load('xds/generate/context.js');
  const { generateSidecar } = await load('xds/generate/index.js');
  const { parseProxyNode } = await load('xds/generate/proxy.js');

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'skiff-push-bench-'));
  const configDir = path.join(tmp, 'config');
  const registryDir = path.join(tmp, 'registry');
  const files = meshFiles(S);
  const target = P - 1; // the proxy (b) changes
  const moved = 0; // the service whose endpoint (a) moves
  files.config.set('workload-policy.yaml', workloadPolicy(target, 'PERMISSIVE'));
  for (const [dir, map] of [
    [configDir, files.config],
    [registryDir, files.registry],
  ]) {
    for (const [name, text] of map) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), text);
    }
  }

  let plane;
  let proxies;
  try {
    const t0 = now();
    plane = await ControlPlane.start({
      configDir,
      registryDir,
      stateDir: path.join(tmp, 'state'),
      xdsPlaintext: '127.0.0.1:0',
      http: '127.0.0.1:0',
    });
    const startMs = now() - t0;
    // See the header: the control plane's own allocator cannot hold P × 2S ports.
    const ports = unboundedPorts();
    plane.ports.portFor = (proxyId, host, port) => ports.portFor(proxyId, host, port);
    const versions = [];
    let pushed = () => {};
    plane.store.subscribe(() => {
      versions.push(plane.ads.currentVersion);
      pushed();
    });

    // The baseline's own chain of models and contexts, built from the same files.
    const snapshotOf = () =>
      loadConfig(
        [...[...files.config].map(([p, text]) => ({ path: `config/${p}`, text }))].concat(
          [...files.registry].map(([p, text]) => ({ path: `registry/${p}`, text })),
        ),
      );
    const nodes = Array.from({ length: P }, (_, k) => proxyNode(k));
    const parsed = nodes.map((n) => parseProxyNode(n));
    const basePorts = unboundedPorts();
    let baseModel = buildModel(snapshotOf());
    let baseCtx;
    /** Build and generate for every proxy, as the server does for a change; returns [build ms, generate ms]. */
    const baseline = (fresh) => {
      const b0 = now();
      const model = buildModel(snapshotOf(), baseModel);
      const b1 = now();
      const ctx = new GenerationContext(model, basePorts, fresh ? undefined : baseCtx);
      for (const p of parsed) generateSidecar(ctx, p);
      const b2 = now();
      baseModel = model;
      baseCtx = ctx;
      return [b1 - b0, b2 - b1];
    };

    proxies = new Proxies();
    const address = plane.addresses.xdsPlaintext;

    /** Connects every proxy; ms until all are synced, the control plane's CPU ms. */
    const connect = async () => {
      const cpu0 = process.cpuUsage();
      const c0 = now();
      const r = await proxies.ask({ cmd: 'connect', address, nodes }, 600_000);
      const cpu = process.cpuUsage(cpu0);
      return { ms: Math.max(...r.syncedAt) - c0, cpu: (cpu.user + cpu.system) / 1000 };
    };

    /** Writes a file and waits for the push: ms to the last expected proxy's ACK, CPU ms, who was pushed. */
    const change = async (file, text, expect) => {
      const before = versions.length;
      const cpu0 = process.cpuUsage();
      const c0 = now();
      writeFileSync(file, text);
      if (versions.length === before) {
        // Woken by the store's subscriber, not by polling (polling would be counted as the control plane's CPU).
        let timer;
        await new Promise((resolve, reject) => {
          pushed = resolve;
          timer = setTimeout(() => reject(new Error(`no push within 120 s of writing ${file}`)), 120_000);
        }).finally(() => {
          clearTimeout(timer);
          pushed = () => {};
        });
      }
      const v = versions[versions.length - 1];
      await plane.settled();
      const r = await proxies.ask({ cmd: 'collect', version: v, expect, quietMs: 300 }, 300_000);
      const cpu = process.cpuUsage(cpu0);
      const mine = r.pushed.filter((p) => expect.includes(p.index));
      return {
        ms: Math.max(...mine.map((p) => p.lastAckAt)) - c0,
        // The quiet wait is idle: what the control plane spent is the push and the ACKs.
        cpu: (cpu.user + cpu.system) / 1000,
        pushed: r.pushed,
        version: v,
      };
    };

    const samples = {
      a: { ms: [], cpu: [], build: [], gen: [] },
      b: { ms: [], cpu: [], build: [], gen: [] },
      c: { ms: [], cpu: [], build: [], gen: [] },
    };
    const checks = { aAll: true, aTypes: new Set(), bOnly: true, bOthers: 0, bTypes: new Set() };

    print(
      `${S} services (2 ports, 2 endpoints each, 10 namespaces), ${P} proxies, ${rounds} interleaved rounds; control plane started in ${(startMs / 1000).toFixed(1)} s`,
    );
    const first = await connect();
    progress(`first connect: ${(first.ms / 1000).toFixed(1)} s`);
    const firstBase = baseline(true);

    const everyone = nodes.map((_, k) => k);
    for (let r = 0; r < rounds; r++) {
      // (a) one service's second endpoint moves (and moves back next round).
      const addr = r % 2 === 0 ? ip(2 * S + 7) : ip(2 * moved + 1);
      const weName = `ns-${moved % 10}/svc-${moved}-1.yaml`;
      files.registry.set(weName, workloadEntry(moved, 1, addr));
      const a = await change(path.join(registryDir, weName), files.registry.get(weName), everyone);
      samples.a.ms.push(a.ms);
      samples.a.cpu.push(a.cpu);
      if (a.pushed.length !== P) checks.aAll = false;
      for (const p of a.pushed) for (const t of p.types) checks.aTypes.add(t);
      const [ab, ag] = baseline(false);
      samples.a.build.push(ab);
      samples.a.gen.push(ag);

      progress(`round ${r + 1}: (a) ${a.ms.toFixed(0)} ms`);
      // (b) one workload's PeerAuthentication: STRICT, then PERMISSIVE again next round.
      const mode = r % 2 === 0 ? 'STRICT' : 'PERMISSIVE';
      files.config.set('workload-policy.yaml', workloadPolicy(target, mode));
      const b = await change(
        path.join(configDir, 'workload-policy.yaml'),
        files.config.get('workload-policy.yaml'),
        [target],
      );
      samples.b.ms.push(b.ms);
      samples.b.cpu.push(b.cpu);
      const others = b.pushed.filter((p) => p.index !== target);
      if (others.length > 0 || b.pushed.length !== 1) checks.bOnly = false;
      checks.bOthers = Math.max(checks.bOthers, others.length);
      for (const p of b.pushed) for (const t of p.types) checks.bTypes.add(t);
      const [bb, bg] = baseline(false);
      samples.b.build.push(bb);
      samples.b.gen.push(bg);

      progress(`round ${r + 1}: (b) ${b.ms.toFixed(0)} ms`);
      // (c) every proxy reconnects.
      await proxies.ask({ cmd: 'disconnect' }, 60_000);
      const end = Date.now() + 30_000;
      while (plane.ads.status().length > 0) {
        if (Date.now() > end)
          throw new Error('the control plane still lists connections 30 s after they closed');
        await sleep(20);
      }
      const c = await connect();
      samples.c.ms.push(c.ms);
      samples.c.cpu.push(c.cpu);
      // The server's connections generate with its current context (per-service entries cached).
      const c0 = now();
      const ctx = new GenerationContext(baseModel, basePorts, baseCtx);
      for (const p of parsed) generateSidecar(ctx, p);
      baseCtx = ctx;
      progress(`round ${r + 1}: (c) ${c.ms.toFixed(0)} ms`);
      samples.c.build.push(0);
      samples.c.gen.push(now() - c0);
    }

    const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const fmt = (xs) => {
      const m = median(xs);
      return [m.toFixed(0), `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`];
    };
    const cols = [
      ['run', 46],
      ['latency ms', 11],
      ['min–max', 13],
      ['cp CPU ms', 10],
      ['min–max', 13],
      ['base build', 11],
      ['base gen ms', 12],
      ['min–max', 13],
    ];
    const row = (cells) =>
      print(
        ...cells.map((c, i) => (i === 0 ? String(c).padEnd(cols[i][1]) : String(c).padStart(cols[i][1]))),
      );
    print('');
    row(cols.map((c) => c[0]));
    row([
      'first connect of all proxies (cold, 1 sample)',
      first.ms.toFixed(0),
      '',
      first.cpu.toFixed(0),
      '',
      firstBase[0].toFixed(0),
      firstBase[1].toFixed(0),
      '',
    ]);
    const label = {
      a: `(a) endpoint change, all ${P} proxies' ACKs`,
      b: '(b) one workload policy, its one proxy ACK',
      c: `(c) reconnect of all ${P} proxies, all synced`,
    };
    for (const k of ['a', 'b', 'c']) {
      const s = samples[k];
      row([
        label[k],
        ...fmt(s.ms),
        ...fmt(s.cpu),
        k === 'c' ? '–' : median(s.build).toFixed(0),
        ...fmt(s.gen),
      ]);
    }
    print('');
    print(
      `control plane CPU per proxy: (a) ${(median(samples.a.cpu) / P).toFixed(1)} ms, (b) ${(median(samples.b.cpu) / P).toFixed(1)} ms, (c) ${(median(samples.c.cpu) / P).toFixed(1)} ms`,
    );
    print(
      `check (a): every proxy pushed: ${checks.aAll ? 'yes' : 'NO'}; types sent: ${[...checks.aTypes].sort().join(', ')}`,
    );
    print(
      `check (b): only the affected proxy pushed: ${checks.bOnly ? 'yes' : `NO (up to ${checks.bOthers} others)`}; types sent: ${[...checks.bTypes].sort().join(', ')}`,
    );
    const leaked = Object.keys(plane.ports.snapshot()).length;
    print(
      `outbound ports: numbered without a range (local mode's allocator holds ${19999 - 15101 + 1}, these proxies need ${P * 2 * S + P}); allocator untouched: ${leaked === 0 ? 'yes' : `NO (${leaked})`}`,
    );
    print(
      'latency: from the file write to the ACK, with the 100 ms debounce; cp CPU: this process (control plane only, the proxies are a child) over the same span; base: model build and generateSidecar for every proxy, no server, same round',
    );
  } finally {
    if (proxies) {
      await proxies.ask({ cmd: 'disconnect' }, 10_000).catch(() => {});
      proxies.stop();
    }
    await plane?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The child: P raw ADS clients.

async function proxiesMain() {
  const grpc = await import('@grpc/grpc-js');
  const { envoyRoot } = await import('../../dist/src/xds/protos.js');
  const { ADS_METHOD, adsServiceDefinition } = await import('../../dist/src/xds/server/service.js');
  const Client = grpc.makeGenericClientConstructor(
    adsServiceDefinition(envoyRoot()),
    'AggregatedDiscoveryService',
  );
  let sims = [];

  /** Route names a listener's HTTP connection managers take over RDS. */
  const routeNames = (value, out) => {
    if (Array.isArray(value)) for (const v of value) routeNames(v, out);
    else if (value && typeof value === 'object') {
      if (value.rds && typeof value.rds.route_config_name === 'string') out.add(value.rds.route_config_name);
      for (const v of Object.values(value)) routeNames(v, out);
    }
    return out;
  };
  const same = (a, b) => a.size === b.size && [...a].every((x) => b.has(x));

  class Sim {
    constructor(index, address, node) {
      this.index = index;
      this.client = new Client(address, grpc.credentials.createInsecure());
      this.call = this.client[ADS_METHOD]();
      this.names = { [EDS]: new Set(), [RDS]: new Set() };
      this.nonce = {};
      this.got = new Set();
      /** A subscription that grew and is not answered yet. */
      this.waiting = new Set();
      this.byVersion = new Map();
      this.syncedAt = undefined;
      this.error = undefined;
      this.call.on('data', (r) => this.onResponse(r));
      this.call.on('status', (s) => {
        if (s.code !== grpc.status.OK && s.code !== grpc.status.CANCELLED)
          this.error ??= `${s.code} ${s.details}`;
      });
      this.call.on('error', () => {});
      this.call.write({ node, type_url: CDS });
      this.call.write({ type_url: LDS });
    }

    onResponse(r) {
      const type = r.type_url;
      this.nonce[type] = r.nonce;
      this.got.add(type);
      this.waiting.delete(type);
      const ack = { type_url: type, version_info: r.version_info, response_nonce: r.nonce };
      let dependent;
      if (type === CDS || type === LDS) {
        const next =
          type === CDS
            ? new Set(
                r.resources
                  .filter((c) => c.type === 'EDS')
                  .map((c) => c.eds_cluster_config?.service_name || c.name),
              )
            : routeNames(r.resources, new Set());
        dependent = type === CDS ? EDS : RDS;
        if (same(next, this.names[dependent])) dependent = undefined;
        else {
          if ([...next].some((n) => !this.names[dependent].has(n))) this.waiting.add(dependent);
          else this.waiting.delete(dependent);
          this.names[dependent] = next;
        }
      } else ack.resource_names = [...this.names[type]];
      this.call.write(ack);
      if (dependent) {
        this.call.write({
          type_url: dependent,
          resource_names: [...this.names[dependent]],
          ...(this.nonce[dependent] ? { response_nonce: this.nonce[dependent] } : {}),
        });
      }
      const at = now();
      let v = this.byVersion.get(r.version_info);
      if (!v) {
        v = { types: new Set(), lastAckAt: 0, lastAt: 0 };
        this.byVersion.set(r.version_info, v);
      }
      v.types.add(SHORT[type] ?? type);
      v.lastAckAt = at;
      v.lastAt = at;
      if (this.syncedAt === undefined && this.synced()) this.syncedAt = at;
    }

    synced() {
      if (!this.got.has(CDS) || !this.got.has(LDS) || this.waiting.size > 0) return false;
      return (
        (this.names[EDS].size === 0 || this.got.has(EDS)) && (this.names[RDS].size === 0 || this.got.has(RDS))
      );
    }

    close() {
      this.call.end();
      this.call.cancel();
      this.client.close();
    }
  }

  const until = async (what, check, ms) => {
    const end = Date.now() + ms;
    while (!check()) {
      const failed = sims.find((s) => s.error);
      if (failed) throw new Error(`proxy ${failed.index}: the stream ended: ${failed.error}`);
      if (Date.now() > end) throw new Error(`${what}: not within ${ms / 1000} s`);
      await sleep(5);
    }
  };

  process.on('message', async (m) => {
    const reply = (body) => process.send?.({ ...body, seq: m.seq });
    try {
      if (m.cmd === 'connect') {
        sims = m.nodes.map((node, i) => new Sim(i, m.address, node));
        await until('every proxy synced', () => sims.every((s) => s.syncedAt !== undefined), 550_000);
        reply({ syncedAt: sims.map((s) => s.syncedAt) });
      } else if (m.cmd === 'disconnect') {
        for (const s of sims) s.close();
        sims = [];
        reply({});
      } else if (m.cmd === 'collect') {
        await until(
          `every expected proxy ACKed version ${m.version}`,
          () => m.expect.every((i) => sims[i]?.byVersion.has(m.version)),
          290_000,
        );
        // Then quiet: nothing more for this version to anyone for quietMs.
        for (;;) {
          const last = Math.max(...sims.map((s) => s.byVersion.get(m.version)?.lastAt ?? 0));
          const wait = last + m.quietMs - now();
          if (wait <= 0) break;
          await sleep(wait);
        }
        reply({
          pushed: sims.flatMap((s) => {
            const v = s.byVersion.get(m.version);
            return v ? [{ index: s.index, types: [...v.types], lastAckAt: v.lastAckAt }] : [];
          }),
        });
      } else reply({ error: `unknown command ${m.cmd}` });
    } catch (e) {
      reply({ error: e?.message ?? String(e) });
    }
  });
  process.on('disconnect', () => {
    for (const s of sims) s.close();
    process.exit(0);
  });
}

// Last: the classes above are initialised by now.
if (process.env.SKIFF_PUSH_BENCH_ROLE === 'proxies') {
  await proxiesMain();
} else {
  try {
    await main();
  } catch (e) {
    process.stderr.write(`push.mjs: ${e?.message ?? e}\n`);
    process.exitCode = 1;
  }
}
