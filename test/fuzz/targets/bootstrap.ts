// Fuzz target `bootstrap`: the Envoy bootstrap loader (parseBootstrap in src/proxy/config/load.ts: YAML or JSON,
// then the strict proto3-JSON decoder src/xds/decode.ts, then the compiler). Properties: mutated copies of the
// example and test bootstraps (as text, and as values written back as JSON or YAML) and bootstrap-shaped values
// generated from Envoy's protos never throw; a config comes back exactly when there is no error; every problem
// names the file and says what is wrong, and every error past the syntax names a field path.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseYamlStream } from '../../../src/config/yaml.js';
import { parseBootstrap } from '../../../src/proxy/config/load.js';
import { envoyRoot } from '../../../src/xds/protos.js';
import { inboundListener, outboundListener, staticCluster } from '../../e2e/helpers/inbound.js';
import { repoRoot } from '../../helpers.js';
import { type FuzzTarget, property, type RawInput } from '../harness.js';
import { type JsonTree, lineEdits, mutateText, mutateTree, treeEdits } from '../mutate.js';
import { assertDiagnostics } from './diagnostics.js';
import { generateBootstrap, vocabularyOf } from './schema-shaped.js';
import { seedInputs } from './seeds.js';

/** Problems about the text itself (before any field exists); they carry a line instead of a path. */
const SYNTAX_CODES = new Set(['proxy.yaml', 'proxy.json']);

function checkRaw(input: RawInput): void {
  const text = input.bytes.toString('utf8');
  const file = input.ext === 'json' ? 'fuzz.json' : 'fuzz.yaml';
  const loaded = parseBootstrap(text, file);
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  assert.equal(loaded.config === undefined, errors.length > 0, 'a config exactly when there is no error');
  assertDiagnostics(loaded.diagnostics, [file], text.split('\n').length);
  for (const d of errors) {
    if (SYNTAX_CODES.has(d.code)) continue;
    assert.ok(Array.isArray(d.path), `an error without a field path: ${JSON.stringify(d)}`);
  }
}

const admin = { address: { socket_address: { address: '127.0.0.1', port_value: 15000 } } };

/** Bootstraps the e2e tests run, built by their own helpers: every mode and port kind, and an outbound port. */
function testBootstraps(): JsonTree[] {
  const out: JsonTree[] = [];
  for (const mode of ['PERMISSIVE', 'STRICT', 'DISABLE'] as const) {
    for (const kind of ['http', 'tcp', 'auto'] as const) {
      out.push({
        admin,
        static_resources: {
          listeners: [inboundListener(mode, kind, 15006, 'inbound|9080||')],
          clusters: [staticCluster('inbound|9080||', 9080)],
        },
      } as unknown as JsonTree);
    }
  }
  out.push({
    static_resources: {
      listeners: [outboundListener('to-ratings', 15001, 'ratings')],
      clusters: [staticCluster('ratings', 9080)],
    },
  } as unknown as JsonTree);
  return out;
}

function toRaw(value: JsonTree, asJson: boolean): RawInput {
  if (asJson) return { bytes: Buffer.from(JSON.stringify(value) ?? 'null'), ext: 'json' };
  return { bytes: Buffer.from(stringify(value, { aliasDuplicateObjects: false })), ext: 'yaml' };
}

export async function bootstrapTarget(): Promise<FuzzTarget> {
  const examples = path.join(repoRoot, 'examples', 'proxy');
  const texts = [
    ...readdirSync(examples)
      .filter((n) => n.endsWith('.yaml'))
      .sort()
      .map((n) => readFileSync(path.join(examples, n), 'utf8')),
    ...seedInputs('bootstrap').map((s) => s.bytes.toString('utf8')),
  ];
  const values: JsonTree[] = [
    ...texts.flatMap((t) => {
      const loaded = parseBootstrap(t, 'seed.yaml');
      const value = parseYamlStream(t).documents[0]?.value;
      return loaded.config && value !== undefined ? [JSON.parse(JSON.stringify(value)) as JsonTree] : [];
    }),
    ...testBootstraps(),
  ];
  const vocabulary = vocabularyOf(values);
  const root = envoyRoot();
  return {
    name: 'bootstrap',
    checkRaw,
    properties: [
      property({
        name: 'mutated example and test bootstraps (text) never throw, and every problem is located',
        arbitrary: fc.tuple(fc.nat(texts.length - 1), lineEdits(5)).map(
          ([i, edits]): RawInput => ({
            bytes: Buffer.from(mutateText(texts[i] as string, edits)),
            ext: 'yaml',
          }),
        ),
        check: checkRaw,
        raw: (r: RawInput) => r,
        ciRuns: 350,
      }),
      property({
        name: 'mutated bootstrap values, written as JSON or YAML, never throw, and every error names a field path',
        arbitrary: fc
          .tuple(fc.nat(values.length - 1), treeEdits(5), fc.boolean())
          .map(([i, edits, asJson]) => toRaw(mutateTree(values[i] as JsonTree, edits), asJson)),
        check: checkRaw,
        raw: (r: RawInput) => r,
        ciRuns: 350,
      }),
      property({
        name: "bootstrap-shaped values generated from Envoy's protos never throw, and every error names a field path",
        arbitrary: fc
          .tuple(fc.array(fc.nat(), { minLength: 50, maxLength: 600, size: 'max' }), fc.boolean())
          .map(([choices, asJson]) => toRaw(generateBootstrap(root, vocabulary, choices), asJson)),
        check: checkRaw,
        raw: (r: RawInput) => r,
        ciRuns: 350,
      }),
    ],
  };
}
