// bench/control-plane/push.mjs at a small size, in CI: it runs to the end (control plane in-process, simulated
// proxies as raw ADS clients in a child) and prints its table with numbers. The figures are recorded in
// docs/performance.md, not asserted here: only the table's shape, and the two correctness checks it prints.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../helpers.js';

const SCRIPT = path.join(repoRoot, 'bench', 'control-plane', 'push.mjs');

/** Runs the script; killed (and failed) past `ms`. */
function run(args: string[], ms: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`push.mjs ${args.join(' ')}: not done within ${ms / 1000} s\n${stdout}\n${stderr}`));
    }, ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const NUMBER = '[0-9]+';
const SPREAD = `${NUMBER}–${NUMBER}`;

describe('bench/control-plane/push.mjs', { timeout: 90_000 }, () => {
  it('runs at a small size and prints the table with numbers', async () => {
    const r = await run(['--services', '20', '--proxies', '3', '--rounds', '1'], 60_000);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stdout,
      /^20 services \(2 ports, 2 endpoints each, 10 namespaces\), 3 proxies, 1 interleaved rounds/m,
    );
    assert.match(
      r.stdout,
      /^run +latency ms +min–max +cp CPU ms +min–max +base build +base gen ms +min–max$/m,
    );
    assert.match(
      r.stdout,
      new RegExp(
        `^first connect of all proxies \\(cold, 1 sample\\) +${NUMBER} +${NUMBER} +${NUMBER} +${NUMBER}\\s*$`,
        'm',
      ),
    );
    for (const label of [
      "\\(a\\) endpoint change, all 3 proxies' ACKs",
      '\\(b\\) one workload policy, its one proxy ACK',
      '\\(c\\) reconnect of all 3 proxies, all synced',
    ]) {
      assert.match(
        r.stdout,
        new RegExp(
          `^${label} +${NUMBER} +${SPREAD} +${NUMBER} +${SPREAD} +(${NUMBER}|–) +${NUMBER} +${SPREAD}$`,
          'm',
        ),
      );
    }
    // Correctness, not figures: every proxy got the endpoint change (EDS only); the policy reached one proxy.
    assert.match(r.stdout, /^check \(a\): every proxy pushed: yes; types sent: eds$/m);
    assert.match(r.stdout, /^check \(b\): only the affected proxy pushed: yes; types sent: lds$/m);
    assert.match(r.stdout, /numbered without a range .*allocator untouched: yes$/m);
  });

  it('refuses a bad flag, naming it and its value', async () => {
    const bad = await run(['--services', '12x'], 20_000);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--services "12x": expected a whole number 1–60000/);
    const more = await run(['--services', '2', '--proxies', '3'], 20_000);
    assert.equal(more.code, 1);
    assert.match(more.stderr, /--proxies 3: at most one proxy per service \(--services 2\)/);
    const unknown = await run(['--servces', '2'], 20_000);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /--servces.*usage: push\.mjs/);
  });
});
