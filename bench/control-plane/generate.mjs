#!/usr/bin/env node
// How much generating every proxy's configuration costs, with the control plane's per-service cache and
// without it, measured side by side in interleaved rounds (this machine is noisy: medians and spread, not one run).
//   node bench/control-plane/generate.mjs [--services 1000] [--proxies 100] [--rounds 5]
// "cached": one GenerationContext for all proxies (what the control plane does on a push), then again after one
// service's endpoints change (the next context reuses every other service's entries). "baseline": a fresh
// context per proxy, so nothing computed for one proxy serves another.
// Needs a build (npm run build).

import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../dist/src/config/load.js';
import { buildModel } from '../../dist/src/model/build.js';
import { GenerationContext } from '../../dist/src/xds/generate/context.js';
import { generateSidecar } from '../../dist/src/xds/generate/index.js';
import { parseProxyNode } from '../../dist/src/xds/generate/proxy.js';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '1000' },
    proxies: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '5' },
  },
});
const S = Number(values.services);
const P = Math.min(Number(values.proxies), S);
const ROUNDS = Number(values.rounds);

function ip(i) {
  return `127.${1 + Math.floor(i / 65025)}.${Math.floor((i % 65025) / 255)}.${(i % 255) + 1}`;
}

/** S services in 10 namespaces, two ports each (HTTP and TCP), two replicas each with a sidecar. */
function meshYaml(generation) {
  const docs = [
    'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: PERMISSIVE}}',
  ];
  for (let i = 0; i < S; i++) {
    const ns = `ns-${i % 10}`;
    docs.push(
      `apiVersion: v1\nkind: Service\nmetadata: {name: svc-${i}, namespace: ${ns}}\nspec:\n  selector: {app: svc-${i}}\n  ports: [{name: http, port: 8080}, {name: tcp, port: 9090}]`,
    );
    for (let r = 0; r < 2; r++) {
      // Generation 1 moves one replica of service 0: an endpoint change.
      const addr = i === 0 && r === 1 && generation === 1 ? ip(2 * S + 7) : ip(2 * i + r);
      docs.push(
        `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: svc-${i}-${r}, namespace: ${ns}}\nspec: {address: ${addr}, serviceAccount: svc-${i}, labels: {app: svc-${i}, security.istio.io/tlsMode: istio}}`,
      );
    }
  }
  return docs.join('\n---\n');
}

function nodes(model) {
  return model.workloads
    .slice(0, P * 2)
    .filter((_, i) => i % 2 === 0)
    .slice(0, P)
    .map((w) =>
      parseProxyNode({
        id: `sidecar~${w.address}~${w.name}.${w.namespace}~${w.namespace}.svc.cluster.local`,
        metadata: {
          NAMESPACE: w.namespace,
          SERVICE_ACCOUNT: w.serviceAccount,
          INSTANCE_IPS: w.address,
          LABELS: w.labels,
        },
      }),
    );
}

const snap0 = loadConfig([{ path: 'mesh.yaml', text: meshYaml(0) }]);
const snap1 = loadConfig([{ path: 'mesh.yaml', text: meshYaml(1) }]);
const model0 = buildModel(snap0);
const model1 = buildModel(snap1, model0);
const proxies = nodes(model0);
// Local mode's allocator hands out real ports, one per (proxy, service port): 100 proxies × 2,000 service ports
// would not fit in 65,535. Generation only writes the numbers, so the bench numbers them without a range.
const ports = {
  keys: new Map(),
  portFor(proxyId, host, port) {
    const key = `${proxyId} ${host}:${port}`;
    if (!this.keys.has(key)) this.keys.set(key, 1 + (this.keys.size % 65535));
    return this.keys.get(key);
  },
};

function time(fn) {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

const runs = {
  'cached push': () => {
    const ctx = new GenerationContext(model0, ports);
    for (const p of proxies) generateSidecar(ctx, p);
  },
  'cached push after an endpoint change': (() => {
    const warm = new GenerationContext(model0, ports);
    for (const p of proxies) generateSidecar(warm, p);
    return () => {
      const ctx = new GenerationContext(model1, ports, warm);
      for (const p of proxies) generateSidecar(ctx, p);
    };
  })(),
  'baseline: no cache (a context per proxy)': () => {
    for (const p of proxies) generateSidecar(new GenerationContext(model0, ports), p);
  },
};

const samples = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
runs['cached push'](); // warm up the JIT and the port allocations
for (let r = 0; r < ROUNDS; r++) for (const [k, fn] of Object.entries(runs)) samples[k].push(time(fn));

const print = (...parts) => process.stdout.write(`${parts.join(' ')}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(samples['baseline: no cache (a context per proxy)']);
print(`${S} services (2 ports, 2 endpoints each), ${proxies.length} proxies, ${ROUNDS} interleaved rounds`);
print('run'.padEnd(44), 'median ms'.padStart(10), 'min–max ms'.padStart(18), 'vs baseline'.padStart(12));
for (const [k, xs] of Object.entries(samples)) {
  const m = median(xs);
  print(
    k.padEnd(44),
    m.toFixed(0).padStart(10),
    `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`.padStart(18),
    `${(m / base).toFixed(2)}×`.padStart(12),
  );
}
print(`per proxy (cached push): ${(median(samples['cached push']) / proxies.length).toFixed(1)} ms`);
