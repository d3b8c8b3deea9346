// Fuzz target `istio-config`: the YAML reader (src/config/yaml.ts: parseYamlStream, resolvePlainScalar) and the
// Istio configuration loader (src/config/load.ts: loadConfig). Properties: mutated copies of every file under
// test/fixtures/config/ (as text, and as values written back as YAML), several files loaded together, and
// YAML-like token soup never throw, and every diagnostic has a file and a message (and a sane line/document).

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { loadConfig } from '../../../src/config/load.js';
import { parseYamlStream, resolvePlainScalar } from '../../../src/config/yaml.js';
import { repoRoot } from '../../helpers.js';
import { type FuzzTarget, property, type RawInput } from '../harness.js';
import { type JsonTree, KEYS, lineEdits, mutateText, mutateTree, SCALARS, treeEdits } from '../mutate.js';
import { assertDiagnostics } from './diagnostics.js';
import { seedInputs } from './seeds.js';

interface ConfigText {
  path: string;
  text: string;
}

function assertStream(text: string): void {
  const lines = text.split('\n').length;
  const stream = parseYamlStream(text);
  for (const p of [...stream.problems, ...stream.warnings]) {
    assert.ok(
      p.message.trim().length > 0 && p.document >= 1 && p.line >= 1 && p.line <= lines + 1,
      JSON.stringify(p),
    );
  }
  for (const d of stream.documents)
    assert.ok(d.index >= 1 && d.line >= 1 && d.line <= lines + 1, `document ${d.index}`);
}

/** Loads the files together: never throws; every diagnostic names one of them and says what is wrong. */
function checkFiles(files: readonly ConfigText[]): void {
  for (const f of files) assertStream(f.text);
  const snapshot = loadConfig(files);
  const lines = Math.max(...files.map((f) => f.text.split('\n').length));
  assertDiagnostics(
    snapshot.diagnostics,
    files.map((f) => f.path),
    lines,
  );
}

function checkRaw(input: RawInput): void {
  const text = input.bytes.toString('utf8');
  checkFiles([{ path: input.ext === 'json' ? 'fuzz.json' : 'fuzz.yaml', text }]);
  for (const line of text.split('\n')) resolvePlainScalar(line.trim());
}

function fixtureTexts(): ConfigText[] {
  const root = path.join(repoRoot, 'test', 'fixtures', 'config');
  return (readdirSync(root, { recursive: true }) as string[])
    .filter((n) => /\.(ya?ml|json)$/.test(n))
    .sort()
    .map((n) => ({ path: n, text: readFileSync(path.join(root, n), 'utf8') }));
}

const TOKENS = [
  '\n',
  '  ',
  '- ',
  ': ',
  'key',
  '"q"',
  "'s'",
  '{',
  '}',
  '[',
  ']',
  ', ',
  '&a ',
  '*a',
  '!!str ',
  '? ',
  '---\n',
  '...\n',
  '# c',
  '|\n',
  '>\n',
  '%YAML 1.1\n',
  '%TAG ! tag:x,2000:\n',
  'apiVersion: security.istio.io/v1beta1\n',
  'apiVersion: networking.istio.io/v1\n',
  'kind: PeerAuthentication\n',
  'kind: DestinationRule\n',
  'kind: List\nitems:\n',
  'metadata:\n',
  '  name: x\n',
  '  namespace: ns\n',
  'spec:\n',
  '  mtls:\n',
  '    mode: STRICT\n',
  '  portLevelMtls:\n',
  '    8080:\n',
  '<<: ',
  '\t',
  '\ufeff',
  '\r\n',
  ...SCALARS.slice(0, 40),
  ...KEYS.slice(0, 16).map((k) => `${k}: `),
];

/**
 * Anchors and aliases at random: anchors of lists of aliases of the anchor before, nested (from a few harmless
 * references to a "billion laughs" bomb: ten levels of ten would be 10^10 nodes once expanded), and one anchor
 * referred to many times over (a config that shares one block thousands of times).
 */
const aliasNest = fc
  .record({
    leaf: fc.constantFrom('x', '{a: 1, b: [2, 3]}', '[1, 2]', '""'),
    fanouts: fc.array(fc.integer({ min: 1, max: 10 }), { maxLength: 10 }),
    wide: fc.oneof({ weight: 4, arbitrary: fc.nat(50) }, { weight: 1, arbitrary: fc.nat(20_000) }),
    tail: fc.constantFrom('', '---\nok: 1\n', 'kind: PeerAuthentication\n'),
  })
  .map(({ leaf, fanouts, wide, tail }): RawInput => {
    let text = `l0: &l0 ${leaf}\n`;
    fanouts.forEach((n, i) => {
      text += `l${i + 1}: &l${i + 1} [${Array(n).fill(`*l${i}`).join(', ')}]\n`;
    });
    if (wide > 0) text += `w: [${Array(wide).fill('*l0').join(', ')}]\n`;
    return { bytes: Buffer.from(text + tail), ext: 'yaml' };
  });

export async function istioConfigTarget(): Promise<FuzzTarget> {
  const files = [
    ...fixtureTexts(),
    ...seedInputs('istio-config').map((s, i) => ({ path: `seed-${i}.yaml`, text: s.bytes.toString('utf8') })),
  ];
  // Documents that expand past 64 KB (a fixture sharing one block thousands of times) are left out as value
  // seeds: written back without aliases they would make every mutation of them slow.
  const values: JsonTree[] = files.flatMap((f) =>
    parseYamlStream(f.text).documents.flatMap((d) => {
      const json = JSON.stringify(d.value ?? null);
      return json.length <= 64 * 1024 ? [JSON.parse(json) as JsonTree] : [];
    }),
  );
  const mutatedText = fc
    .tuple(fc.nat(files.length - 1), lineEdits(5))
    .map(([i, edits]) => mutateText((files[i] as ConfigText).text, edits));
  const yaml = (r: RawInput) => r;
  return {
    name: 'istio-config',
    checkRaw,
    properties: [
      property({
        name: 'mutated copies of test/fixtures/config (text) never throw, and every diagnostic has a file and a message',
        arbitrary: mutatedText.map((text): RawInput => ({ bytes: Buffer.from(text), ext: 'yaml' })),
        check: checkRaw,
        raw: yaml,
        ciRuns: 400,
      }),
      property({
        name: 'mutated fixture values written back as YAML never throw, and every diagnostic has a file and a message',
        arbitrary: fc
          .tuple(fc.array(fc.tuple(fc.nat(values.length - 1), treeEdits(4)), { minLength: 1, maxLength: 3 }))
          .map(([docs]): RawInput => {
            const text = docs
              .map(([i, edits]) => stringify(mutateTree(values[i] as JsonTree, edits)))
              .join('---\n');
            return { bytes: Buffer.from(text), ext: 'yaml' };
          }),
        check: checkRaw,
        raw: yaml,
        ciRuns: 400,
      }),
      property({
        name: 'several mutated files loaded together: every diagnostic names the file it is about',
        arbitrary: fc
          .array(mutatedText, { minLength: 2, maxLength: 3 })
          .map((texts) => texts.map((text, i): ConfigText => ({ path: `f${i}.yaml`, text }))),
        check: checkFiles,
        ciRuns: 120,
      }),
      property({
        name: 'anchors and aliases nested at random never throw, and every diagnostic has a file and a message',
        arbitrary: aliasNest,
        check: checkRaw,
        raw: yaml,
        ciRuns: 80,
      }),
      property({
        name: 'YAML-like token soup never throws, and every diagnostic has a file and a message',
        arbitrary: fc
          .array(fc.constantFrom(...TOKENS), { maxLength: 60 })
          .map((tokens): RawInput => ({ bytes: Buffer.from(tokens.join('')), ext: 'yaml' })),
        check: checkRaw,
        raw: yaml,
        ciRuns: 600,
      }),
    ],
  };
}
