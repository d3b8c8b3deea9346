import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { FolderSource } from '../../src/control-plane/sources/folder.js';
import { type ModelChange, ModelStore, type ModelStoreOptions } from '../../src/control-plane/store.js';
import { createLogger } from '../../src/core/log.js';
import type { MeshModel } from '../../src/model/types.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'skiff-model-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
`;

const STRICT = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
`;

function workloadEntry(name: string, address: string): string {
  return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: default}
spec:
  address: ${address}
  labels: {app: web, security.istio.io/tlsMode: istio}
  serviceAccount: web
`;
}

interface Harness {
  config: string;
  registry: string;
  store: ModelStore;
  logs: string[];
  changes: { model: MeshModel; change: ModelChange }[];
}

const open: ModelStore[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

/** A user folder (with `files`), a registry folder not created yet, and a store over both. */
function harness(files: Record<string, string>, options: Partial<ModelStoreOptions> = {}): Harness {
  const dir = path.join(root, `case-${++n}`);
  const config = path.join(dir, 'config');
  const registry = path.join(dir, 'state', 'registry');
  mkdirSync(config, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(config, name), text);
  const logs: string[] = [];
  const store = new ModelStore({
    sources: [
      new FolderSource(config, { name: 'config' }),
      new FolderSource(registry, { name: 'registry', pollIntervalMs: 20 }),
    ],
    debounceMs: 50,
    logger: createLogger({ sink: (line) => logs.push(line), level: 'debug' }),
    ...options,
  });
  open.push(store);
  const changes: Harness['changes'] = [];
  store.subscribe((model, change) => changes.push({ model, change }));
  return { config, registry, store, logs, changes };
}

describe('ModelStore', { timeout: 30_000 }, () => {
  it('loads every source into one model', async () => {
    const h = harness({ 'svc.yaml': SERVICE, 'we.yaml': workloadEntry('web-0', '127.0.1.1') });
    const model = await h.store.start();
    assert.equal(h.store.model, model);
    assert.deepEqual(
      model.services.map((s) => [s.hostname, s.endpoints.map((e) => e.address)]),
      [['web.default.svc.cluster.local', ['127.0.1.1']]],
    );
    assert.deepEqual([h.store.accepted, h.store.rejected, h.store.lastErrors], [1, 0, []]);
  });

  it('a burst of writes is applied once, after the burst (debounce)', async () => {
    // Writes 20 ms apart, a 300 ms quiet period: one rebuild unless the machine stalls for 300 ms.
    const h = harness({ 'svc.yaml': SERVICE }, { debounceMs: 300 });
    const first = await h.store.start();
    for (let i = 1; i <= 5; i++) {
      writeFileSync(path.join(h.config, `we-${i}.yaml`), workloadEntry(`web-${i}`, `127.0.1.${i}`));
      await sleep(20);
    }
    assert.equal(h.store.accepted, 1, 'nothing applied during the burst');
    await waitFor(() => h.changes.length > 0, 'the change');
    await sleep(400);
    assert.equal(h.changes.length, 1, 'one rebuild for the burst');
    assert.equal(h.store.accepted, 2);
    const [{ model, change } = assert.fail('no change')] = h.changes;
    assert.notEqual(model, first);
    assert.equal(h.store.model, model);
    assert.deepEqual(
      model.services[0]?.endpoints.map((e) => e.address),
      ['127.0.1.1', '127.0.1.2', '127.0.1.3', '127.0.1.4', '127.0.1.5'],
    );
    assert.deepEqual(change, {
      servicesAdded: [],
      servicesRemoved: [],
      servicesChanged: ['web.default.svc.cluster.local'],
      meshConfigChanged: false,
      policiesChanged: false,
      workloadsChanged: true,
      otherChanged: true,
    });
  });

  it('a burst longer than debounceMaxMs is applied during the burst', async () => {
    const h = harness({ 'svc.yaml': SERVICE }, { debounceMs: 150, debounceMaxMs: 250 });
    await h.store.start();
    const end = Date.now() + 1200;
    let i = 0;
    while (Date.now() < end) {
      writeFileSync(path.join(h.config, 'we.yaml'), workloadEntry('web-0', `127.0.1.${(i++ % 200) + 1}`));
      await sleep(30);
    }
    // Never quiet for 150 ms: only the 250 ms bound can have rebuilt.
    assert.ok(h.store.accepted >= 3, `rebuilt during the burst (accepted: ${h.store.accepted})`);
  });

  it('a change with errors is refused: the old model stays, the refusal is counted and logged with file and line', async () => {
    const h = harness({ 'svc.yaml': SERVICE, 'pa.yaml': STRICT });
    const good = await h.store.start();
    const bad = path.join(h.config, 'pa.yaml');
    writeFileSync(
      bad,
      `${STRICT}---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: x, namespace: default}\nspec: {mtls: {mode: SOMETIMES}}\n`,
    );
    await waitFor(() => h.store.rejected === 1, 'the refusal');
    assert.equal(h.store.model, good);
    assert.equal(h.store.accepted, 1);
    assert.equal(h.changes.length, 0);
    assert.deepEqual(
      h.store.lastErrors.map((d) => [d.file, d.line, d.code]),
      [[bad, 9, 'SKIFF_CONFIG_ENUM']],
    );
    const logged = h.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.level === 'error');
    assert.equal(logged[0]?.msg, 'configuration change refused: the last good model keeps serving');
    assert.equal(logged[1]?.file, bad);
    assert.equal(logged[1]?.line, 9);
    assert.match(String(logged[1]?.msg), /pa\.yaml:9 .*SOMETIMES/);

    // Fixed: accepted, and the errors are gone.
    writeFileSync(
      bad,
      `${STRICT}---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: x, namespace: default}\nspec: {mtls: {mode: DISABLE}}\n`,
    );
    await waitFor(() => h.changes.length === 1, 'the fixed change');
    assert.deepEqual([h.store.accepted, h.store.rejected, h.store.lastErrors], [2, 1, []]);
    const { model, change } = h.changes[0] ?? assert.fail('no change');
    assert.equal(model.peerAuthentications.length, 2);
    assert.equal(model.services, good.services, 'services untouched by a policy change');
    assert.deepEqual(
      [change.servicesChanged, change.policiesChanged, change.workloadsChanged, change.otherChanged],
      [[], true, false, true],
    );

    // Broken again, then changed back to what is served: accepted, nobody told (nothing changed).
    writeFileSync(path.join(h.config, 'svc.yaml'), 'kind: [unclosed\n');
    await waitFor(() => h.store.rejected === 2, 'the second refusal');
    writeFileSync(path.join(h.config, 'svc.yaml'), SERVICE);
    await waitFor(() => h.store.accepted === 3, 'the return to the served configuration');
    assert.deepEqual([h.store.lastErrors, h.changes.length, h.store.model], [[], 1, model]);
  });

  it('the registry folder created later is picked up', async () => {
    const h = harness({ 'svc.yaml': SERVICE });
    const first = await h.store.start();
    assert.deepEqual(first.workloads, []);
    mkdirSync(h.registry, { recursive: true });
    writeFileSync(path.join(h.registry, 'web-0.yaml'), workloadEntry('web-0', '127.0.1.7'));
    await waitFor(() => h.store.model?.workloads.length === 1, 'the registered workload');
    assert.deepEqual(
      h.store.model?.services[0]?.endpoints.map((e) => [e.address, e.tlsMode]),
      [['127.0.1.7', 'istio']],
    );
  });

  it('tells added and removed services, and other resources as other changes', async () => {
    const h = harness({ 'svc.yaml': SERVICE }, { debounceMs: 60_000 });
    await h.store.start();
    writeFileSync(
      path.join(h.config, 'se.yaml'),
      'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext}\nspec:\n  hosts: [api.example.com]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n',
    );
    rmSync(path.join(h.config, 'svc.yaml'));
    await h.store.reload();
    writeFileSync(
      path.join(h.config, 'gw.yaml'),
      'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  selector: {istio: egressgateway}\n  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]\n',
    );
    await h.store.reload();
    // Saved again unchanged: counted, nobody told.
    writeFileSync(
      path.join(h.config, 'gw.yaml'),
      '# moved\n' +
        'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  selector: {istio: egressgateway}\n  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]\n',
    );
    await h.store.reload();
    assert.deepEqual(
      h.changes.map(({ change }) => change),
      [
        {
          servicesAdded: ['api.example.com'],
          servicesRemoved: ['web.default.svc.cluster.local'],
          servicesChanged: [],
          meshConfigChanged: false,
          policiesChanged: false,
          workloadsChanged: false,
          otherChanged: false,
        },
        {
          servicesAdded: [],
          servicesRemoved: [],
          servicesChanged: [],
          meshConfigChanged: false,
          policiesChanged: false,
          workloadsChanged: false,
          otherChanged: true,
        },
      ],
    );
    assert.equal(h.store.accepted, 4);
  });

  it('a first load with errors: start() rejects with every error and stops watching', async () => {
    const h = harness({ 'svc.yaml': SERVICE, 'bad.yaml': 'kind: [unclosed\n' });
    await assert.rejects(h.store.start(), (e: Error) => {
      assert.match(
        e.message,
        /^the configuration has 1 error\(s\):\n {2}error: .*\/config\/bad\.yaml:2 \(document 1\): not valid YAML: .*\[SKIFF_CONFIG_SYNTAX\]$/,
      );
      return true;
    });
    assert.deepEqual([h.store.accepted, h.store.rejected, h.store.model], [0, 1, undefined]);
    assert.equal(h.store.lastErrors[0]?.code, 'SKIFF_CONFIG_SYNTAX');
    writeFileSync(path.join(h.config, 'bad.yaml'), SERVICE.replace('web', 'web2'));
    await sleep(150);
    assert.equal(h.store.accepted, 0, 'not watching any more');
  });

  it('close() leaves nothing running: the process exits by itself', async () => {
    const dir = path.join(root, `case-${++n}`);
    mkdirSync(path.join(dir, 'config'), { recursive: true });
    writeFileSync(path.join(dir, 'config', 'svc.yaml'), SERVICE);
    const dist = (p: string) =>
      pathToFileURL(path.resolve(import.meta.dirname, '../../src/control-plane', p)).href;
    const script = `
      import { writeFileSync } from 'node:fs';
      import { ModelStore } from ${JSON.stringify(dist('store.js'))};
      import { FolderSource } from ${JSON.stringify(dist('sources/folder.js'))};
      const dir = ${JSON.stringify(dir)};
      const store = new ModelStore({
        sources: [new FolderSource(dir + '/config'), new FolderSource(dir + '/missing', { pollIntervalMs: 10 })],
        debounceMs: 20,
      });
      await store.start();
      const changed = new Promise((resolve) => store.subscribe(resolve));
      writeFileSync(dir + '/config/svc2.yaml', ${JSON.stringify(SERVICE.replace('web', 'web2'))});
      await changed;
      writeFileSync(dir + '/config/svc3.yaml', ${JSON.stringify(SERVICE.replace('web', 'web3'))});
      store.close();
      console.log('closed', store.accepted);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const code = await new Promise<number | string>((resolve) => {
      const kill = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('still running after 10 s');
      }, 10_000);
      child.on('exit', (c) => {
        clearTimeout(kill);
        resolve(c ?? 'killed');
      });
    });
    assert.equal(code, 0, out);
    assert.equal(out.trim(), 'closed 2');
  });
});
