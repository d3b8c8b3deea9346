// Golden cases: `testdata/<case>.in.yaml` (with testdata/_base.yaml prepended) → every resource generated for the
// proxies the case names, in `testdata/<case>.out.json`. Regenerate with `UPDATE_GOLDEN=1 npm run test:unit`
// (or `UPDATE_GOLDEN=1 node --test dist/test/xds/generate/golden.test.js`) and review the diff. Behaviour is checked
// separately, by simulation (golden-simulation.test.ts): a golden file alone only says the output did not change.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load.js';
import { buildModel } from '../../../src/model/build.js';
import { GenerationContext } from '../../../src/xds/generate/context.js';
import { generateSidecar, type SidecarGeneration } from '../../../src/xds/generate/index.js';
import { OutboundPortAllocator } from '../../../src/xds/generate/outbound-ports.js';
import type { ProxyNode } from '../../../src/xds/generate/proxy.js';
import { repoRoot } from '../../helpers.js';
import { sidecarNode } from './fixtures.js';

export const TESTDATA = path.join(repoRoot, 'test/xds/generate/testdata');

export interface GoldenCase {
  name: string;
  /** The YAML the model is built from: _base.yaml, then the case. */
  text: string;
  /** Proxies to generate for, by WorkloadEntry name (namespace shop). */
  proxies: string[];
}

export function goldenCases(): GoldenCase[] {
  const base = readFileSync(path.join(TESTDATA, '_base.yaml'), 'utf8');
  return readdirSync(TESTDATA)
    .filter((f) => f.endsWith('.in.yaml'))
    .sort()
    .map((f) => {
      const own = readFileSync(path.join(TESTDATA, f), 'utf8');
      const header = /^# proxies: (.+)$/m.exec(own);
      if (!header?.[1])
        throw new Error(`${f}: the first line must be "# proxies: <WorkloadEntry name>, ..."`);
      return {
        name: f.slice(0, -'.in.yaml'.length),
        text: `${base}\n---\n${own}`,
        proxies: header[1].split(',').map((p) => p.trim()),
      };
    });
}

export interface GoldenRun {
  ctx: GenerationContext;
  nodes: Map<string, ProxyNode>;
  generated: Map<string, SidecarGeneration>;
  /** Loader errors (the case must have none). */
  errors: string[];
}

/** Builds the case's model and generates for each of its proxies, as their agents would announce themselves. */
export function runGolden(c: GoldenCase): GoldenRun {
  const snapshot = loadConfig([{ path: `${c.name}.in.yaml`, text: c.text }]);
  const errors = snapshot.diagnostics
    .filter((d) => d.severity === 'error')
    .map((d) => `${d.file}:${d.line ?? '?'}: ${d.message}`);
  const ctx = new GenerationContext(buildModel(snapshot), new OutboundPortAllocator());
  const nodes = new Map<string, ProxyNode>();
  const generated = new Map<string, SidecarGeneration>();
  for (const name of c.proxies) {
    const w = ctx.model.workloads.find((x) => x.name === name);
    if (!w) throw new Error(`${c.name}: no WorkloadEntry ${name}`);
    const node = sidecarNode(w.address, w.name, {
      namespace: w.namespace,
      serviceAccount: w.serviceAccount,
      labels: { ...w.labels },
    });
    nodes.set(name, node);
    generated.set(name, generateSidecar(ctx, node));
  }
  return { ctx, nodes, generated, errors };
}

/** What a golden file holds: per proxy, every resource by type, then the problems generation reported. */
export function goldenJson(run: GoldenRun): string {
  const out: Record<string, unknown> = {};
  for (const [name, g] of run.generated) {
    out[name] = {
      listeners: g.resources.listeners,
      clusters: g.resources.clusters,
      endpoints: Object.fromEntries(g.resources.endpoints),
      routes: Object.fromEntries(g.resources.routes),
      problems: g.problems,
    };
  }
  return `${JSON.stringify(out, null, 2)}\n`;
}
