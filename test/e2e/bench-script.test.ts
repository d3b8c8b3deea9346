// bench/skiff-l4.sh on a fresh clone: its harness (../shared/bench) is not part of the repository, and the script
// must say so before it installs anything. Run with a PATH where the harness's tools are missing and `apt-get`
// is a stand-in that only records being called, so nothing is ever installed, whatever the script does.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../helpers.js';

const SCRIPT = path.join(repoRoot, 'bench', 'skiff-l4.sh');

describe('bench/skiff-l4.sh without its harness', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-bench-script-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of ['bash', 'dirname', 'date', 'node', 'grep', 'sed', 'cat', 'mkdir']) {
    const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (found) symlinkSync(found, path.join(bin, tool));
  }
  const marker = path.join(dir, 'apt-get-called');
  writeFileSync(path.join(bin, 'apt-get'), `#!/bin/sh\necho "$@" >> '${marker}'\nexit 1\n`);
  chmodSync(path.join(bin, 'apt-get'), 0o755);

  const run = (...args: string[]) =>
    spawnSync(path.join(bin, 'bash'), [SCRIPT, ...args], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { PATH: bin, HOME: dir, HARNESS: path.join(dir, 'no-harness'), OUT: path.join(dir, 'out') },
    });

  for (const command of ['verify', 'bench', 'cost']) {
    it(`${command}: says the harness is missing, before installing anything`, () => {
      const r = run(command);
      assert.equal(r.status, 1, r.stderr);
      assert.match(
        r.stderr,
        /FATAL: no benchmark harness at \S+no-harness \(run\.sh and gen-certs\.sh\): it is not part of this repository, so a clone does not have it; set HARNESS=DIR/,
      );
      assert.equal(existsSync(marker), false, 'apt-get was called');
    });
  }

  it('an unknown command is refused before anything else', () => {
    const r = run('benchmark');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /FATAL: unknown command 'benchmark'/);
    assert.equal(existsSync(marker), false, 'apt-get was called');
  });
});
