import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FolderSource } from '../../../src/control-plane/sources/folder.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'skiff-folder-source-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(root, `case-${++n}`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `cond`, at most `ms`; fails with `what` when it does not come. */
async function waitFor(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Watches `source`, counting calls; the watch is stopped after the test. */
function counting(source: FolderSource, stops: (() => void)[]): { calls: number } {
  const seen = { calls: 0 };
  stops.push(
    source.watch(() => {
      seen.calls += 1;
    }),
  );
  return seen;
}

describe('FolderSource', { timeout: 20_000 }, () => {
  const stops: (() => void)[] = [];
  after(() => {
    for (const stop of stops) stop();
  });

  it('reads the configuration files under the folder, recursively and in order', async () => {
    const dir = fresh();
    mkdirSync(path.join(dir, 'nested'), { recursive: true });
    writeFileSync(path.join(dir, 'b.yaml'), 'b: 1\n');
    writeFileSync(path.join(dir, 'nested', 'a.json'), '{}');
    writeFileSync(path.join(dir, 'notes.txt'), 'not config');
    writeFileSync(path.join(dir, '.hidden.yaml'), 'x: 1\n');
    const { files, diagnostics } = await new FolderSource(dir).read();
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(
      files.map((f) => [path.relative(dir, f.path), f.text]),
      [
        ['b.yaml', 'b: 1\n'],
        [path.join('nested', 'a.json'), '{}'],
      ],
    );
  });

  it('a folder that does not exist reads as empty, without a diagnostic', async () => {
    assert.deepEqual(await new FolderSource(path.join(fresh(), 'registry')).read(), {
      files: [],
      diagnostics: [],
    });
  });

  it('names itself after its folder unless told otherwise', () => {
    assert.equal(new FolderSource('/etc/skiff').name, 'folder:/etc/skiff');
    assert.equal(new FolderSource('/etc/skiff', { name: 'user' }).name, 'user');
  });

  it('tells of writes in the folder and in folders below it', async () => {
    const dir = fresh();
    mkdirSync(path.join(dir, 'deep', 'er'), { recursive: true });
    const seen = counting(new FolderSource(dir), stops);
    writeFileSync(path.join(dir, 'a.yaml'), 'a: 1\n');
    await waitFor(() => seen.calls > 0, 'an event for a.yaml');
    const before = seen.calls;
    writeFileSync(path.join(dir, 'deep', 'er', 'b.yaml'), 'b: 1\n');
    await waitFor(() => seen.calls > before, 'an event for deep/er/b.yaml');
  });

  it('does not tell of hidden files (editor swap files are never read)', async () => {
    const dir = fresh();
    mkdirSync(dir);
    const seen = counting(new FolderSource(dir), stops);
    writeFileSync(path.join(dir, '.a.yaml.swp'), 'x');
    mkdirSync(path.join(dir, '.git'));
    writeFileSync(path.join(dir, '.git', 'HEAD'), 'x');
    await sleep(200);
    assert.equal(seen.calls, 0);
    writeFileSync(path.join(dir, 'a.yaml'), 'a: 1\n');
    await waitFor(() => seen.calls > 0, 'an event for a.yaml');
  });

  it('picks up a folder created after the watch began', async () => {
    const dir = path.join(fresh(), 'state', 'registry');
    const source = new FolderSource(dir, { pollIntervalMs: 20 });
    const seen = counting(source, stops);
    await sleep(60);
    assert.equal(seen.calls, 0, 'nothing to tell while it does not exist');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'w.yaml'), 'w: 1\n');
    await waitFor(() => seen.calls > 0, 'the folder to be picked up');
    const { files } = await source.read();
    assert.deepEqual(
      files.map((f) => path.basename(f.path)),
      ['w.yaml'],
    );
    // Watched now, not polled: a later write is told too.
    const before = seen.calls;
    writeFileSync(path.join(dir, 'x.yaml'), 'x: 1\n');
    await waitFor(() => seen.calls > before, 'an event for x.yaml');
  });

  it('tells when the folder goes, and picks it up again when it is made anew', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'a.yaml'), 'a: 1\n');
    const source = new FolderSource(dir, { pollIntervalMs: 20 });
    const seen = counting(source, stops);
    rmSync(dir, { recursive: true });
    await waitFor(() => seen.calls > 0, 'an event for the removal');
    assert.deepEqual(await source.read(), { files: [], diagnostics: [] });
    const before = seen.calls;
    // Made anew elsewhere and moved in: another inode at the same path.
    const other = `${dir}-new`;
    mkdirSync(other);
    writeFileSync(path.join(other, 'b.yaml'), 'b: 1\n');
    renameSync(other, dir);
    await waitFor(() => seen.calls > before, 'the new folder to be picked up');
    const afterMove = seen.calls;
    writeFileSync(path.join(dir, 'c.yaml'), 'c: 1\n');
    await waitFor(() => seen.calls > afterMove, 'an event in the new folder');
  });

  it('poll: true compares listings instead of watching: appearing, writes below, removal', async () => {
    const dir = path.join(fresh(), 'nfs');
    const source = new FolderSource(dir, { poll: true, pollIntervalMs: 20 });
    const seen = counting(source, stops);
    await sleep(80);
    assert.equal(seen.calls, 0, 'nothing to tell while it does not exist');
    mkdirSync(path.join(dir, 'sub'), { recursive: true });
    await waitFor(() => seen.calls === 1, 'the folder to appear');
    await sleep(80);
    assert.equal(seen.calls, 1, 'an unchanged listing tells nothing');
    writeFileSync(path.join(dir, 'sub', 'a.yaml'), 'a: 1\n');
    await waitFor(() => seen.calls === 2, 'the new file below');
    rmSync(dir, { recursive: true });
    await waitFor(() => seen.calls === 3, 'the removal');
  });

  it('stopping the watch stops the events', async () => {
    const dir = fresh();
    mkdirSync(dir);
    const source = new FolderSource(dir);
    let calls = 0;
    const stop = source.watch(() => {
      calls += 1;
    });
    stop();
    stop();
    writeFileSync(path.join(dir, 'a.yaml'), 'a: 1\n');
    await sleep(150);
    assert.equal(calls, 0);
  });
});
