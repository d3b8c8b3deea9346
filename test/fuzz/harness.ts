// The fuzzing harness shared by the CI tests (test/fuzz/*.test.ts, fixed seed, a bounded number of inputs) and
// the long runs (scripts/fuzz.js, random seeds, for minutes): a target is a set of fast-check properties over
// one parser's public functions, plus a check that any raw input (a saved fixture) must pass.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';

/** The extension a raw input is saved under; it also tells the target how to read it (JSON or YAML text). */
export type RawExt = 'bin' | 'yaml' | 'json';

export interface RawInput {
  bytes: Buffer;
  ext: RawExt;
}

/** One property of a target. `check` throws (an AssertionError, or whatever the parser threw) when it fails. */
export interface FuzzProperty<T = unknown> {
  name: string;
  arbitrary: fc.Arbitrary<T>;
  check(value: T): void | Promise<void>;
  /** Whether `check` returns a promise (then fast-check runs it as an async property). */
  async?: boolean;
  /** Inputs the CI run tries with its fixed seed (the long run is bounded by time instead). */
  ciRuns: number;
  /**
   * The one raw input a value stands for, when the property is the target's raw check applied to it: a failure
   * is then saved as `<hash>.<ext>` and replayed through `checkRaw`. Without it the value itself is saved as
   * `<hash>.case.json` and replayed through this property's `check`.
   */
  raw?(value: T): RawInput;
}

export interface FuzzTarget {
  name: string;
  properties: FuzzProperty<never>[];
  /** What any input of this target must satisfy (never throws, documented results, split-stable, ...). */
  checkRaw(input: RawInput): void | Promise<void>;
  /** Releases what the target started (an oracle server). */
  close?(): Promise<void>;
}

/** A property typed by its value, stored in a target's list (whose values are opaque to the runner). */
export function property<T>(p: FuzzProperty<T>): FuzzProperty<never> {
  return p as unknown as FuzzProperty<never>;
}

export interface RunOptions {
  seed: number;
  numRuns: number;
  /** fast-check's replay path of a failure (with its seed): runs that one input and its shrinks only. */
  path?: string;
  /** Called with each input before it is checked (the long run's hang watchdog keeps a copy). */
  onInput?: (value: unknown) => void;
}

export interface Failure {
  seed: number;
  path: string;
  /** The shrunk value. */
  value: unknown;
  /** fast-check's report: the counterexample, the error, how to replay. */
  report: string;
}

export interface RunOutcome {
  runs: number;
  failure?: Failure;
  /** The slowest input of the run and how long its check took. */
  slowest?: { ms: number; value: unknown };
}

/** Runs one property; a failure is shrunk by fast-check before it is returned. */
export async function runProperty(p: FuzzProperty<never>, options: RunOptions): Promise<RunOutcome> {
  let slowest: RunOutcome['slowest'];
  const onInput = options.onInput;
  const timed = (v: never, started: number) => {
    const ms = performance.now() - started;
    if (!slowest || ms > slowest.ms) slowest = { ms, value: v };
  };
  const params: fc.Parameters<[never]> = {
    seed: options.seed,
    numRuns: options.numRuns,
    ...(options.path !== undefined ? { path: options.path } : {}),
  };
  const details = p.async
    ? await fc.check(
        fc.asyncProperty(p.arbitrary, async (v) => {
          onInput?.(v);
          const started = performance.now();
          await p.check(v);
          timed(v, started);
        }),
        params,
      )
    : fc.check(
        fc.property(p.arbitrary, (v) => {
          onInput?.(v);
          const started = performance.now();
          p.check(v);
          timed(v, started);
        }),
        params,
      );
  if (!details.failed) return { runs: details.numRuns, ...(slowest ? { slowest } : {}) };
  return {
    runs: details.numRuns,
    ...(slowest ? { slowest } : {}),
    failure: {
      seed: details.seed,
      path: details.counterexamplePath ?? '',
      value: details.counterexample?.[0],
      report: `${fc.defaultReportMessage(details) ?? ''}\n${errorText(details.errorInstance)}`,
    },
  };
}

function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.stack ?? err.message}`.split('\n').slice(0, 8).join('\n');
  return String(err);
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures: test/fuzz/fixtures/<target>/ holds seed inputs (seed-*.<ext>) and every failure a run saved.

/** JSON with Buffers as {"$base64": ...}, so a structured counterexample can be saved and read back. */
export function encodeCase(value: unknown): string {
  return JSON.stringify(
    value,
    function (this: Record<string, unknown>, key: string, v: unknown) {
      const original = this[key];
      if (Buffer.isBuffer(original) || original instanceof Uint8Array) {
        return { $base64: Buffer.from(original).toString('base64') };
      }
      return v;
    },
    2,
  );
}

export function decodeCase(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const keys = Object.keys(v);
      const b64 = (v as { $base64?: unknown }).$base64;
      if (keys.length === 1 && typeof b64 === 'string') return Buffer.from(b64, 'base64');
    }
    return v;
  });
}

export type Fixture =
  | { file: string; kind: 'raw'; input: RawInput }
  | { file: string; kind: 'case'; property: string; value: unknown };

const RAW_EXTS: RawExt[] = ['bin', 'yaml', 'json'];

/** Every fixture of a target, sorted by file name; a missing folder is none. */
export function loadFixtures(dir: string, target: string): Fixture[] {
  const folder = path.join(dir, target);
  if (!existsSync(folder)) return [];
  const out: Fixture[] = [];
  for (const name of readdirSync(folder).sort()) {
    const file = path.join(folder, name);
    if (name.endsWith('.case.json')) {
      const saved = decodeCase(readFileSync(file, 'utf8')) as { property: string; value: unknown };
      out.push({ file, kind: 'case', property: saved.property, value: saved.value });
      continue;
    }
    const ext = path.extname(name).slice(1) as RawExt;
    if (RAW_EXTS.includes(ext)) out.push({ file, kind: 'raw', input: { bytes: readFileSync(file), ext } });
  }
  return out;
}

/** Runs one fixture through its check; throws what the check throws. */
export async function replayFixture(target: FuzzTarget, fixture: Fixture): Promise<void> {
  if (fixture.kind === 'raw') return target.checkRaw(fixture.input);
  const p = target.properties.find((q) => q.name === fixture.property);
  if (!p) throw new Error(`${fixture.file}: ${target.name} has no property "${fixture.property}"`);
  await p.check(fixture.value as never);
}

/** What a value is saved as: its raw input (`bin`, `yaml`, `json`), or the value itself as a `case.json`. */
export function fixtureContent(p: FuzzProperty<never>, value: unknown): { content: Buffer; ext: string } {
  if (p.raw) {
    const raw = p.raw(value as never);
    return { content: raw.bytes, ext: raw.ext };
  }
  return { content: Buffer.from(`${encodeCase({ property: p.name, value })}\n`), ext: 'case.json' };
}

/** Writes content as a new fixture of a target, named by its hash; returns the file's path. */
export function writeFixture(dir: string, target: string, content: Buffer, ext: string): string {
  const folder = path.join(dir, target);
  mkdirSync(folder, { recursive: true });
  const hash = createHash('sha256').update(content).digest('hex').slice(0, 16);
  const file = path.join(folder, `${hash}.${ext}`);
  writeFileSync(file, content);
  return file;
}

/** Writes a failure as a new fixture (named by the hash of its content) and returns its path. */
export function saveFailure(dir: string, target: FuzzTarget, p: FuzzProperty<never>, value: unknown): string {
  const { content, ext } = fixtureContent(p, value);
  return writeFixture(dir, target.name, content, ext);
}
