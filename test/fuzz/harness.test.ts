// The fuzzing harness itself: a failing property is found, shrunk and replayed from its seed and path; a failure
// is saved as a fixture (raw input or structured case) and replayed through the right check.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeCase,
  encodeCase,
  type FuzzTarget,
  loadFixtures,
  property,
  type RawInput,
  replayFixture,
  runProperty,
  saveFailure,
} from './harness.js';
import { mutateBytes, mutateText, mutateTree } from './mutate.js';

/** Fails on any buffer with a 0x42 byte after its fourth: the smallest such buffer is [0, 0, 0, 0, 0x42]. */
function noLateB(bytes: Buffer): void {
  assert.ok(bytes.indexOf(0x42, 4) === -1, 'a 0x42 after the fourth byte');
}

const bytesProperty = property({
  name: 'no late B',
  arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  check: noLateB,
  raw: (bytes: Buffer): RawInput => ({ bytes, ext: 'bin' }),
  ciRuns: 2000,
});

const caseProperty = property({
  name: 'no late B in a record',
  arbitrary: fc.record({
    label: fc.string(),
    data: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  }),
  check: (v: { label: string; data: Buffer }) => noLateB(v.data),
  ciRuns: 2000,
});

describe('fuzz harness', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-fuzz-harness-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('finds a failure, shrinks it, and replays it from its seed and path', async () => {
    const outcome = await runProperty(bytesProperty, { seed: 7, numRuns: 2000 });
    assert.ok(outcome.failure, 'the property fails');
    assert.deepEqual(outcome.failure.value, Buffer.from([0, 0, 0, 0, 0x42]));
    assert.match(outcome.failure.report, /a 0x42 after the fourth byte/);
    const again = await runProperty(bytesProperty, {
      seed: outcome.failure.seed,
      numRuns: 2000,
      path: outcome.failure.path,
    });
    assert.deepEqual(again.failure?.value, outcome.failure.value);
    assert.equal((await runProperty(bytesProperty, { seed: 7, numRuns: 0 })).failure, undefined);
  });

  it('saves a raw failure as <hash>.bin and replays it through the target check', async () => {
    const seen: Buffer[] = [];
    const target: FuzzTarget = {
      name: 'toy',
      properties: [bytesProperty, caseProperty],
      checkRaw: (input) => {
        seen.push(input.bytes);
        noLateB(input.bytes);
      },
    };
    const raw = saveFailure(dir, target, bytesProperty, Buffer.from([0, 0, 0, 0, 0x42]));
    assert.match(path.basename(raw), /^[0-9a-f]{16}\.bin$/);
    assert.deepEqual(readFileSync(raw), Buffer.from([0, 0, 0, 0, 0x42]));
    const value = { label: 'x', data: Buffer.from([1, 2, 3, 4, 0x42]) };
    const structured = saveFailure(dir, target, caseProperty, value);
    assert.match(path.basename(structured), /^[0-9a-f]{16}\.case\.json$/);

    const fixtures = loadFixtures(dir, 'toy');
    assert.equal(fixtures.length, 2);
    const results = await Promise.allSettled(fixtures.map((f) => replayFixture(target, f)));
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
      'both saved failures fail again',
    );
    assert.deepEqual(seen, [Buffer.from([0, 0, 0, 0, 0x42])]);
    const saved = fixtures.find((f) => f.kind === 'case');
    assert.ok(saved?.kind === 'case');
    assert.deepEqual(saved.value, value, 'Buffers come back as Buffers');
    assert.deepEqual(readdirSync(path.join(dir, 'toy')).length, 2);
  });

  it('encodes Buffers in cases and reads them back', () => {
    const value = { a: [Buffer.from('hi'), { b: Buffer.alloc(0) }], c: 'x', d: null };
    assert.deepEqual(decodeCase(encodeCase(value)), value);
  });

  it('mutates deterministically: the same edits give the same input', () => {
    const edits = [
      { op: 2, at: 3, n: 1, v: 0x41 },
      { op: 3, at: 0, n: 0, v: 0 },
    ];
    assert.deepEqual(mutateBytes(Buffer.from('hello'), edits), Buffer.from('elAAlo'));
    assert.equal(mutateText('a: 1\nb: 2', [{ op: 0, at: 1, n: 0, v: 0 }]), 'a: 1');
    const tree = { a: { b: 1 } };
    assert.deepEqual(mutateTree(tree, [{ op: 7, at: 2, n: 0, v: 0, payload: null }]), { a: { b: null } });
    assert.deepEqual(tree, { a: { b: 1 } }, 'the seed is not changed');
  });

  it('copies payloads into the tree, so one payload used twice never makes a cycle', () => {
    const payload = { p: 1 };
    const out = mutateTree({ a: 1 }, [
      { op: 1, at: 1, n: 0, v: 0, payload },
      { op: 9, at: 1, n: 0, v: 0, payload },
    ]) as { a: { apiVersion: unknown } };
    assert.deepEqual(out, { a: { p: 1, apiVersion: { p: 1 } } });
    assert.notEqual(out.a.apiVersion, out.a);
    assert.deepEqual(payload, { p: 1 }, 'the payload itself is not changed');
  });

  it("copies the dictionary's values in, so one placed inside itself never makes a cycle", () => {
    // Op 8 with v 10 places the dictionary's {}; op 9 adds a key to it; op 8 again places {} at that key.
    const edits = [
      { op: 8, at: 1, n: 0, v: 10, payload: null },
      { op: 9, at: 1, n: 0, v: 0, payload: 5 },
      { op: 8, at: 2, n: 0, v: 10, payload: null },
    ];
    const out = mutateTree({ a: 1 }, edits) as { a: { apiVersion: unknown } };
    assert.deepEqual(out, { a: { apiVersion: {} } });
    assert.notEqual(out.a.apiVersion, out.a);
    assert.deepEqual(
      mutateTree({ a: 1 }, edits.slice(0, 1)),
      { a: {} },
      'the dictionary itself is not changed',
    );
  });
});
