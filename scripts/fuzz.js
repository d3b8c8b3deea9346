#!/usr/bin/env node
// Long fuzz runs over the targets of test/fuzz/ (compiled to dist/test/fuzz/): the same properties the CI tests
// run, with a fresh random seed for every batch, for as long as asked. Prints inputs tried and inputs per second
// per target; on a failure writes the shrunk input as a new fixture under test/fuzz/fixtures/<target>/ (which
// the CI tests then replay) and exits 1.
//
// Usage: npm run fuzz -- --minutes N [--target NAME]... [--keep-going]
//   --minutes N    how long to run in all (default 1); the targets share the time in turns
//   --target NAME  one target (repeatable); default all: client-hello, http1, bootstrap, istio-config
//   --keep-going   after a failure, drop that property and go on until the time is up (still exits 1)
//   --hang-seconds S  an input whose check runs longer is saved as a fixture and the run ends (default 30)

import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    target: { type: 'string', multiple: true },
    'keep-going': { type: 'boolean', default: false },
    'hang-seconds': { type: 'string', default: '30' },
  },
});
const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes <= 0) {
  console.error(`--minutes must be a positive number, got ${values.minutes}`);
  process.exit(2);
}

const dist = new URL('../dist/test/fuzz/', import.meta.url);
const { TARGETS } = await import(new URL('targets/index.js', dist).href);
const { fixtureContent, runProperty, saveFailure, writeFixture } = await import(
  new URL('harness.js', dist).href
);
const { fixturesDir } = await import(new URL('targets/seeds.js', dist).href);

const names = values.target ?? Object.keys(TARGETS);
for (const name of names) {
  if (!(name in TARGETS)) {
    console.error(`unknown target ${name}; targets: ${Object.keys(TARGETS).join(', ')}`);
    process.exit(2);
  }
}

/** Aim for batches of about this long, so every property gets turns and the deadline is kept. */
const BATCH_MS = 2000;

const started = Date.now();
const deadline = started + minutes * 60_000;
const stats = new Map(names.map((n) => [n, { inputs: 0, ms: 0, failures: 0 }]));
const failures = [];
/** Inputs whose check took longer than this are kept apart (not failures: the machine may be loaded). */
const SLOW_MS = 1000;
const slowDir = path.join(tmpdir(), 'skiff-fuzz-slow');
const slow = [];

function summary() {
  const rows = [['target', 'inputs', 'seconds', 'inputs/s', 'failures']];
  for (const [name, s] of stats) {
    rows.push([
      name,
      String(s.inputs),
      (s.ms / 1000).toFixed(0),
      (s.inputs / Math.max(s.ms / 1000, 0.001)).toFixed(0),
      String(s.failures),
    ]);
  }
  const widths = rows[0].map((_c, i) => Math.max(...rows.map((r) => r[i].length)));
  const total = [...stats.values()].reduce((n, s) => n + s.inputs, 0);
  console.log(`\nfuzz run of ${((Date.now() - started) / 60_000).toFixed(1)} min, ${total} inputs in all:`);
  for (const r of rows)
    console.log(`  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')}`);
  for (const f of failures) console.log(`  FAILED ${f}`);
  for (const f of slow) console.log(`  SLOW ${f}`);
}

process.on('SIGINT', () => {
  summary();
  process.exit(failures.length > 0 ? 1 : 130);
});

const targets = [];
for (const name of names) {
  const target = await TARGETS[name]();
  targets.push({ target, properties: target.properties.map((p) => ({ p, msPerInput: 5, runs: 50 })) });
}
console.log(
  `fuzzing ${names.join(', ')} for ${minutes} min (fixtures: ${path.relative(process.cwd(), fixturesDir)})`,
);

// The hang watchdog (scripts/fuzz-watchdog.js) reads the input being checked from shared memory.
const KEEP_BYTES = 4 * 1024 * 1024;
const shared = new SharedArrayBuffer(16 + 256 + KEEP_BYTES);
const header = new Int32Array(shared, 0, 4);
const keptNames = new Uint8Array(shared, 16, 256);
const kept = new Uint8Array(shared, 16 + 256);
const watchdog = new Worker(new URL('./fuzz-watchdog.js', import.meta.url), {
  workerData: { shared, fixturesDir, hangMs: Number(values['hang-seconds']) * 1000 },
});
watchdog.unref();
function keepInput(target, p, value) {
  const { content, ext } = fixtureContent(p, value);
  keptNames.fill(0);
  keptNames.set(Buffer.from(`${target.name}\n${ext}`).subarray(0, 256));
  if (content.length <= KEEP_BYTES) {
    kept.set(content);
    Atomics.store(header, 1, content.length);
  } else {
    Atomics.store(header, 1, -1);
  }
  Atomics.add(header, 0, 1);
}

let lastProgress = Date.now();
outer: while (Date.now() < deadline && targets.some((t) => t.properties.length > 0)) {
  for (const t of targets) {
    for (const entry of t.properties) {
      if (Date.now() >= deadline) break outer;
      // Grow a batch at most fourfold at a time: inputs of one property differ in cost.
      const runs = Math.max(5, Math.min(entry.runs * 4, Math.round(BATCH_MS / entry.msPerInput)));
      entry.runs = runs;
      const seed = randomInt(2 ** 31);
      const at = Date.now();
      let outcome;
      try {
        outcome = await runProperty(entry.p, {
          seed,
          numRuns: runs,
          onInput: (v) => keepInput(t.target, entry.p, v),
        });
      } catch (err) {
        // An error outside the property (a generator's): the harness is broken, not the parser.
        console.log(
          `\nHARNESS ERROR in ${t.target.name}: ${entry.p.name} (seed ${seed})\n${err?.stack ?? err}`,
        );
        summary();
        process.exit(2);
      }
      const ms = Date.now() - at;
      const s = stats.get(t.target.name);
      s.inputs += outcome.runs;
      s.ms += ms;
      entry.msPerInput = Math.max(0.001, ms / Math.max(1, outcome.runs));
      if (outcome.slowest && outcome.slowest.ms > SLOW_MS) {
        const { content, ext } = fixtureContent(entry.p, outcome.slowest.value);
        const file = writeFixture(slowDir, t.target.name, content, ext);
        slow.push(
          `${t.target.name}: ${entry.p.name}: ${outcome.slowest.ms.toFixed(0)} ms → ${path.relative(process.cwd(), file)}`,
        );
        console.log(`slow input (${outcome.slowest.ms.toFixed(0)} ms) in ${t.target.name}: saved as ${file}`);
      }
      if (outcome.failure) {
        const f = outcome.failure;
        s.failures++;
        const file = saveFailure(fixturesDir, t.target, entry.p, f.value);
        failures.push(`${t.target.name}: ${entry.p.name} → ${path.relative(process.cwd(), file)}`);
        console.log(`\nFAILURE in ${t.target.name}: ${entry.p.name}\n${f.report}`);
        console.log(`saved the shrunk input as ${file}`);
        console.log(
          `replay: FUZZ_SEED=${f.seed} FUZZ_PATH=${f.path} node --test dist/test/fuzz/${t.target.name}.test.js`,
        );
        if (!values['keep-going']) break outer;
        t.properties = t.properties.filter((e) => e !== entry);
      }
      if (Date.now() - lastProgress > 30_000) {
        lastProgress = Date.now();
        const line = [...stats].map(
          ([n, st]) => `${n} ${st.inputs} (${(st.inputs / Math.max(st.ms / 1000, 0.001)).toFixed(0)}/s)`,
        );
        console.log(`[${((Date.now() - started) / 1000).toFixed(0)}s] ${line.join(', ')}`);
      }
    }
  }
}

summary();
for (const t of targets) await t.target.close?.();
process.exit(failures.length > 0 ? 1 : 0);
