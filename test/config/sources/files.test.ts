import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfigDir, readConfigFiles } from '../../../src/config/sources/files.js';
import { fixture, repoRoot } from '../../helpers.js';

describe('readConfigFiles', () => {
  it('reads *.yaml, *.yml and *.json recursively, in order, skipping hidden folders and node_modules', async () => {
    const dir = fixture('config', 'tree');
    const { files, diagnostics } = await readConfigFiles(dir);
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(
      files.map((f) => path.relative(dir, f.path)),
      ['a.yaml', path.join('nested', 'b.yml'), path.join('nested', 'c.json')],
    );
  });

  it('loads a folder into one snapshot', async () => {
    const snapshot = await loadConfigDir(fixture('config', 'tree'));
    assert.deepEqual(snapshot.diagnostics, []);
    assert.deepEqual(
      snapshot.peerAuthentications.map((p) => `${p.metadata.namespace}/${p.metadata.name}`),
      ['default/default', 'shop/json'],
    );
    assert.equal(snapshot.workloads[0]?.metadata.name, 'app');
  });

  it('a missing folder is a diagnostic, not an exception', async () => {
    const snapshot = await loadConfigDir(path.join(repoRoot, 'no-such-folder'));
    assert.equal(snapshot.diagnostics[0]?.code, 'SKIFF_CONFIG_IO');
    assert.match(snapshot.diagnostics[0]?.message ?? '', /does not exist/);
  });

  it('a single file can be given instead of a folder', async () => {
    const { files } = await readConfigFiles(fixture('config', 'tree', 'a.yaml'));
    assert.equal(files.length, 1);
  });

  it('the example mesh loads without errors', async () => {
    const snapshot = await loadConfigDir(path.join(repoRoot, 'examples', 'permissive'));
    assert.deepEqual(
      snapshot.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    assert.deepEqual(snapshot.workloads.map((w) => w.metadata.name).sort(), [
      'frontend',
      'legacy-client',
      'service-b',
      'service-c',
    ]);
    assert.equal(snapshot.peerAuthentications.length, 3);
  });
});
