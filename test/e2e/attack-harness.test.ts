// The attack harness (bench/attack/run.mjs) in its quick configuration, as a real process, so that it keeps
// working: every class runs to the end and reports what the recording app really received. STRICT ports leak
// no byte, a forged XFCC never reaches the app over plaintext, fuzzing and the half-close attack neither crash
// the proxy nor leave descriptors behind, and request smuggling finds nothing.
// Its own self-check (--sabotage: a STRICT chain that no longer asks for a client certificate) must be caught,
// which shows the app's byte count is not vacuous.

import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { repoRoot } from '../helpers.js';
import { runAsync } from './helpers/mesh.js';

const RUN = path.join(repoRoot, 'bench', 'attack', 'run.mjs');

interface Row {
  class: string;
  target: string;
  what: string;
  attempts: number;
  refused: number | null;
  requestSent?: number;
  appBytes: number | null;
  appRequests?: number;
  forgedReachedApp?: number | null;
  failed?: string[];
  leftOpen?: number;
  leftovers?: { kind: string; ending: string; listener: string }[];
  activeAfter?: number;
  good?: { ok: number; failed: number };
  crashes: number;
  procs: Record<string, { fdsBack: boolean }>;
  counters: Record<string, number>;
  informative?: boolean;
  pass: boolean;
}

interface Verdict {
  pass: boolean;
  outcome: string;
}

interface Report {
  pass: boolean;
  commit: string;
  rows: Row[];
  smuggling: ({ name: string; allowed: string } & Record<'plaintext' | 'mtls' | 'ab', Verdict>)[];
  failures: string[];
}

function parse(out: string, err: string): Report {
  try {
    return JSON.parse(out) as Report;
  } catch {
    throw new Error(`the harness printed no JSON report:\n${out.slice(-2000)}\n${err.slice(-4000)}`);
  }
}

describe('the attack harness', { timeout: 240_000 }, () => {
  let quick: { code: number | null; report: Report; err: string };
  let sabotage: { code: number | null; report: Report; err: string };

  before(async () => {
    // Both runs at once: each makes its own certificates, processes and ports.
    const [q, s] = await Promise.all([
      runAsync(process.execPath, [RUN, '--quick', '--json'], 220_000),
      runAsync(
        process.execPath,
        [RUN, '--quick', '--only', 'strict', '--attempts', '8', '--sabotage', '--json'],
        220_000,
      ),
    ]);
    quick = { code: q.code, report: parse(q.out, q.err), err: q.err };
    sabotage = { code: s.code, report: parse(s.out, s.err), err: s.err };
  });

  it('class 1: no byte from a refused client reaches the app, on the STRICT tcp and HTTP chains', () => {
    const rows = quick.report.rows.filter((r) => r.class === '1 STRICT');
    assert.equal(rows.length, 18, 'seven refused kinds and two controls, on two chains');
    for (const r of rows.filter((x) => !x.what.includes('must be served'))) {
      assert.equal(r.refused, r.attempts, `${r.target} ${r.what}`);
      assert.equal(r.appBytes, 0, `${r.target} ${r.what}`);
      // The client did get to send its request line (after its side of the handshake, or in plaintext).
      assert.ok((r.requestSent ?? 0) > 0, `${r.target} ${r.what} sent nothing`);
      assert.ok(r.pass, `${r.target} ${r.what}`);
    }
    for (const r of rows.filter((x) => x.what.includes('must be served'))) {
      assert.equal(r.refused, 0, `${r.target} ${r.what}`);
      assert.ok((r.appBytes ?? 0) > 0, `${r.target} ${r.what}: the app counts what arrives`);
      assert.equal(r.appRequests, r.attempts);
    }
    const noCert = rows.find((r) => r.target.startsWith('strict-tcp') && r.what === 'no certificate');
    assert.equal(noCert?.counters['listener.strict-tcp.ssl.fail_verify_no_cert'], noCert?.attempts);
    const san = rows.find((r) => r.target.startsWith('strict-http') && r.what === 'wrong SAN');
    assert.equal(san?.counters['listener.strict-http.ssl.fail_verify_san'], san?.attempts);
    const plain = rows.find((r) => r.target.startsWith('strict-tcp') && r.what === 'plaintext');
    assert.equal(plain?.counters['listener.strict-tcp.no_filter_chain_match'], plain?.attempts);
  });

  it('class 2: a forged XFCC never reaches the app over plaintext, directly or through proxy A', () => {
    const rows = quick.report.rows.filter((r) => r.class === '2 XFCC');
    assert.equal(rows.length, 3);
    for (const r of rows) {
      assert.ok(r.pass, `${r.target}: ${JSON.stringify(r)}`);
      if (!r.informative) {
        assert.equal(r.forgedReachedApp, 0, r.target);
        assert.ok((r.appRequests ?? 0) > 0, `${r.target}: the requests did reach the app`);
      }
    }
  });

  it('class 3: every smuggling case passes on every path (CONNECT too: its tunnel is never read as requests)', () => {
    const rows = quick.report.rows.filter((r) => r.class === '3 smuggling');
    assert.equal(rows.length, 3);
    for (const r of rows) {
      assert.ok(r.attempts >= 60, `${r.attempts} cases`);
      assert.deepEqual(r.failed ?? [], [], r.target);
    }
    for (const c of quick.report.smuggling.filter((x) => x.allowed === 'must be forwarded')) {
      for (const p of ['plaintext', 'mtls', 'ab'] as const)
        assert.equal(c[p].outcome, 'forwarded', `${c.name} ${p}`);
    }
  });

  it('class 4: fuzzed connections crash nothing, /ready stays LIVE, a good client keeps working', () => {
    const [r] = quick.report.rows.filter((x) => x.class === '4 fuzz');
    assert.ok(r, 'a fuzz row');
    assert.equal(r.crashes, 0);
    assert.equal(r.appBytes, 0, 'no byte through a STRICT port');
    assert.ok((r.good?.ok ?? 0) > 0 && r.good?.failed === 0, JSON.stringify(r.good));
    // No connection is kept after its client is gone (the HTTP/2 preface followed by FIN was one, fixed).
    assert.deepEqual(r.leftovers ?? [], [], JSON.stringify(r.leftovers));
    assert.equal(r.leftOpen ?? 0, 0);
    assert.ok(r.pass, JSON.stringify(r));
  });

  it('class 5: every half-closed ClientHello and HTTP/2 preface is closed and the fds come back', () => {
    const rows = quick.report.rows.filter((x) => x.class === '5 half-close');
    const hello = rows.find((x) => x.what.startsWith('ClientHello'));
    assert.ok(hello, 'a ClientHello half-close row');
    assert.equal(hello.leftOpen, 0);
    assert.ok((hello.activeAfter ?? 1) <= 0, `${hello.activeAfter} still active`);
    assert.ok(hello.procs.B?.fdsBack, JSON.stringify(hello.procs));
    assert.ok(hello.pass);
    const h2 = rows.find((x) => x.what === 'HTTP/2 preface and SETTINGS, then FIN');
    assert.ok(h2, 'an HTTP/2 half-close row');
    assert.equal(h2.leftOpen, 0, JSON.stringify(h2));
    assert.ok(h2.pass, JSON.stringify(h2));
  });

  it('exits 0 when every class passes, with no failure reported and no crash', () => {
    assert.equal(quick.code, 0, `${JSON.stringify(quick.report.failures)}\n${quick.err.slice(-3000)}`);
    assert.equal(quick.report.pass, true);
    assert.deepEqual(quick.report.failures, []);
    for (const r of quick.report.rows) assert.equal(r.crashes, 0, `${r.class} ${r.target}`);
  });

  it('--sabotage: a STRICT chain that accepts any client is caught, with the bytes the app received', () => {
    assert.equal(sabotage.code, 1, sabotage.err.slice(-3000));
    const rows = sabotage.report.rows;
    const leaked = rows.find((r) => r.target.startsWith('strict-tcp') && r.what === 'no certificate');
    assert.ok(leaked && !leaked.pass && (leaked.appBytes ?? 0) > 0, JSON.stringify(leaked));
    assert.equal(leaked.refused, 0, 'every client without a certificate was served');
    // Plaintext still finds no chain, and the HTTP chain was left alone.
    assert.ok(rows.find((r) => r.target.startsWith('strict-tcp') && r.what === 'plaintext')?.pass);
    for (const r of rows.filter((x) => x.target.startsWith('strict-http'))) assert.ok(r.pass, r.what);
  });
  it('a bad argument is a one-line reason with the usage and exit 2, never a stack trace', async () => {
    for (const [args, reason] of [
      [['--bogus'], "Unknown option '--bogus'"],
      [['--attempts', 'many'], '--attempts "many": expected a whole number'],
      [['--only', 'strict,nope'], '--only: unknown class "nope"'],
    ] as const) {
      const r = await runAsync(process.execPath, [RUN, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.ok(r.err.includes(reason) && r.err.includes('usage: node bench/attack/run.mjs'), r.err);
      assert.ok(!/\n\s+at /.test(r.err), `a stack trace: ${r.err}`);
    }
    const help = await runAsync(process.execPath, [RUN, '--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /classes: strict, xfcc, smuggling, fuzz, half-close/);
  });
});
