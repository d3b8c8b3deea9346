#!/usr/bin/env node
// The attack harness: attacks the sidecar as a hostile client would and measures what got through, with one
// command (bench/attack/RESULTS.md has the last full run and what each class checks).
//
//   node bench/attack/run.mjs [--quick] [--json] [--report FILE] [--only CLASSES] [--attempts N] [--seed S]
//                             [--workers K] [--keep] [--sabotage]
//
// It makes its own CA and certificates in a temp folder (`skiff ca init/issue`, openssl for the bad ones),
// starts a recording app (app.mjs) and two `skiff proxy` processes (B: STRICT and PERMISSIVE inbound ports; A:
// an outbound port to B over mTLS) on free 127.0.0.1 ports, runs the attack classes, prints a table and exits
// 0 when every class passed, 1 when one failed, 2 when the harness itself could not run.
//
// - classes (--only, comma-separated): strict, xfcc, smuggling, fuzz, half-close (default: all, in that order)
// - --quick: class 1 with 100 attempts per kind, fuzz 1,000, half-close 500 (fits a 60 s test); the full run
//   uses 3,300 / 20,000 / 5,000
// - --attempts N: class 1 attempts per kind; --seed S: the fuzz seed; --workers K: lanes per smuggling path
// - --json: the whole report as JSON on stdout (progress goes to stderr either way); --report FILE: also write
//   it to FILE
// - --keep: keep the temp folder (certificates, bootstraps); --sabotage: a self-check that makes the STRICT
//   tcp chain stop requiring a client certificate, so class 1 must fail (proves the harness sees a leak)

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runFuzz } from './classes/fuzz.mjs';
import { runHalfClose } from './classes/half-close.mjs';
import { runSmuggling } from './classes/smuggling.mjs';
import { runStrict } from './classes/strict.mjs';
import { runXfcc, XFCC_MARKER } from './classes/xfcc.mjs';
import { bootstrapA, bootstrapB, lanesFor, portNames } from './lib/bootstrap.mjs';
import { ALPN_HTTP, ALPN_TCP, captureClientHello } from './lib/clients.mjs';
import { makePki, repoRoot } from './lib/pki.mjs';
import { freePort, readyOf, startApp, startProxy } from './lib/procs.mjs';
import { failures, smugglingMatrix, table } from './lib/report.mjs';

const CLASSES = ['strict', 'xfcc', 'smuggling', 'fuzz', 'half-close'];

const USAGE = `usage: node bench/attack/run.mjs [--quick] [--json] [--report FILE] [--only CLASSES] [--attempts N]
                               [--seed S] [--workers K] [--keep] [--sabotage]
classes: ${CLASSES.join(', ')} (bench/attack/RESULTS.md says what each checks)`;

/** Bad arguments get a one-line reason and the usage, exit 2 (the harness could not run), never a stack. */
function usageError(reason) {
  process.stderr.write(`run.mjs: ${reason}\n${USAGE}\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      report: { type: 'string' },
      only: { type: 'string' },
      attempts: { type: 'string' },
      seed: { type: 'string' },
      workers: { type: 'string' },
      keep: { type: 'boolean', default: false },
      sabotage: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (e) {
  usageError(e instanceof Error ? e.message : String(e));
}
const args = parsed.values;
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
for (const name of ['attempts', 'seed', 'workers']) {
  const v = args[name];
  if (v !== undefined && !/^[0-9]+$/.test(v))
    usageError(`--${name} ${JSON.stringify(v)}: expected a whole number`);
  if ((name === 'attempts' || name === 'workers') && v !== undefined && Number(v) === 0) {
    usageError(`--${name} 0: expected at least 1`);
  }
}

const log = (line) => process.stderr.write(`[attack ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const only = args.only ? args.only.split(',').map((s) => s.trim()) : CLASSES;
for (const c of only) {
  if (!CLASSES.includes(c)) {
    usageError(`--only: unknown class ${JSON.stringify(c)}; classes: ${CLASSES.join(', ')}`);
  }
}
const quick = args.quick;
const settings = {
  quick,
  n: Number(args.attempts ?? (quick ? 100 : 3300)),
  reps: quick ? 2 : 20,
  fuzzCount: quick ? 1000 : 20_000,
  halfCloseCount: quick ? 500 : 5000,
  seed: Number(args.seed ?? 20261207),
  workers: Number(args.workers ?? (quick ? 3 : 2)),
};

function git(...a) {
  try {
    return execFileSync('git', a, { cwd: repoRoot, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

const startedAt = Date.now();
const dir = mkdtempSync(path.join(os.tmpdir(), 'skiff-attack-'));
const running = [];
let exitCode = 2;

async function cleanup() {
  for (const p of running.reverse()) await p.stop().catch(() => {});
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
  else log(`kept ${dir}`);
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    await cleanup();
    process.exit(130);
  });
}

try {
  log(`temp folder ${dir}; making certificates`);
  const pki = await makePki(dir);
  const lanes = lanesFor(settings.workers);
  const app = await startApp(lanes, [XFCC_MARKER, '/smuggled']);
  running.push(app);
  // Free ports are found by binding port 0 and letting go, so another process (a test running beside this one)
  // may take one before a proxy binds it: on EADDRINUSE, stop what started and try again with new ports.
  const ports = {};
  let started;
  for (let attempt = 1; ; attempt++) {
    for (const name of portNames(settings.workers)) ports[name] = await freePort();
    log('starting proxy B (inbound) and proxy A (outbound)');
    started = await Promise.allSettled([
      startProxy(
        'B',
        bootstrapB({ ports, app: app.ports, pki, sabotage: args.sabotage, workers: settings.workers }),
        dir,
      ),
      startProxy('A', bootstrapA({ ports, pki, workers: settings.workers }), dir),
    ]);
    const failed = started.filter((s) => s.status === 'rejected');
    if (failed.length === 0) break;
    const taken = failed.every((s) => /EADDRINUSE/.test(String(s.reason?.message ?? s.reason)));
    if (!taken || attempt === 3) {
      for (const s of started) if (s.status === 'fulfilled') running.push(s.value);
      throw failed[0].reason;
    }
    log(`a port was taken by another process before a proxy bound it; trying again (attempt ${attempt + 1})`);
    for (const s of started) if (s.status === 'fulfilled') await s.value.stop?.();
  }
  for (const s of started) running.push(s.value);
  const [b, a] = started.map((s) => s.value);
  for (const p of [a, b]) {
    const r = await readyOf(p);
    if (r !== 'LIVE') throw new Error(`proxy ${p.name} /ready says ${r}`);
  }
  const hellos = [
    await captureClientHello({ alpn: ALPN_TCP }),
    await captureClientHello({ alpn: ALPN_HTTP }),
    await captureClientHello({ alpn: undefined }),
    await captureClientHello({ alpn: ALPN_TCP, maxVersion: 'TLSv1.2' }),
  ];
  const ctx = { ...settings, app, a, b, ports, pki, hellos, log };
  const rows = [];
  const durations = {};
  let smuggling;
  for (const c of only) {
    const t0 = Date.now();
    log(`class ${c}`);
    if (c === 'strict') rows.push(...(await runStrict(ctx)));
    else if (c === 'xfcc') rows.push(...(await runXfcc(ctx)));
    else if (c === 'smuggling') {
      const r = await runSmuggling(ctx);
      rows.push(...r.rows);
      smuggling = r.cases;
    } else if (c === 'fuzz') rows.push(...(await runFuzz(ctx)));
    else if (c === 'half-close') rows.push(...(await runHalfClose(ctx)));
    durations[c] = Math.round((Date.now() - t0) / 100) / 10;
  }
  const commit = git('rev-parse', 'HEAD');
  const dirty = git('status', '--porcelain').length > 0;
  const report = {
    date: new Date().toISOString(),
    commit: `${commit}${dirty ? ' (with uncommitted changes)' : ''}`,
    command: `node bench/attack/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    node: process.version,
    openssl: process.versions.openssl,
    machine: `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
    settings,
    durationsSeconds: { ...durations, total: Math.round((Date.now() - startedAt) / 100) / 10 },
    pass: rows.every((r) => r.pass),
    rows,
    smuggling,
  };
  report.failures = failures(report);
  if (args.report) writeFileSync(args.report, `${JSON.stringify(report, null, 2)}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const lines = [
      `date ${report.date}, commit ${report.commit}`,
      `command: ${report.command}`,
      `node ${report.node}, OpenSSL ${report.openssl}, ${report.machine}`,
      `durations (s): ${Object.entries(report.durationsSeconds)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
      '',
      table(rows),
      '',
    ];
    if (smuggling) lines.push(smugglingMatrix(smuggling), '');
    lines.push(report.pass ? 'RESULT: every class passed' : `RESULT: FAILED\n${report.failures.join('\n')}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  exitCode = report.pass ? 0 : 1;
} catch (e) {
  log(`the harness could not run: ${e.stack ?? e}`);
  exitCode = 2;
} finally {
  await cleanup();
}
process.exit(exitCode);
