// The tests' in-memory CA leaves no folder (and no CA key) behind in the system's temporary folder.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { issue, makeCa } from './pki.js';

describe('makeCa', () => {
  it('keeps the CA in memory and removes its folder', async () => {
    const scratch = mkdtempSync(path.join(tmpdir(), 'skiff-pki-test-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = scratch;
    try {
      const { ca } = await makeCa();
      assert.deepEqual(readdirSync(scratch), [], 'nothing left in the temporary folder');
      const id = await issue(ca, 'default', 'x');
      assert.equal(id.spiffe, 'spiffe://cluster.local/ns/default/sa/x');
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
