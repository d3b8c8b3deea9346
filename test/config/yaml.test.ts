import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Alias } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { lineOf, parseYamlStream, resolvePlainScalar } from '../../src/config/yaml.js';

function one(text: string): unknown {
  const { documents, problems } = parseYamlStream(text);
  assert.deepEqual(problems, [], `problems for ${JSON.stringify(text)}`);
  assert.equal(documents.length, 1);
  return documents[0]?.value;
}

// What kubectl (sigs.k8s.io/yaml over go-yaml v2) turns each plain scalar into.
describe('plain scalars read as Kubernetes reads them (go-yaml v2)', () => {
  const cases: [string, unknown][] = [
    ['on', true],
    ['On', true],
    ['yes', true],
    ['y', true],
    ['Y', true],
    ['off', false],
    ['NO', false],
    ['n', false],
    ['True', true],
    ['yES', 'yES'],
    ['~', null],
    ['null', null],
    ['Null', null],
    ['', null],
    ['0777', 511],
    ['0o777', 511],
    ['0x1F', 31],
    ['0b101', 5],
    ['+12', 12],
    ['-12', -12],
    ['1_000', 1000],
    ['08', 8],
    ['1e3', 1000],
    ['1.', 1],
    ['.5', 0.5],
    ['1.10', 1.1],
    ['190:20:30', '190:20:30'],
    ['22:22', '22:22'],
    ['2001-12-14', '2001-12-14'],
    ['2001-12-14T21:59:43.10-05:00', '2001-12-14T21:59:43.10-05:00'],
    ['1e400', '1e400'],
    ['.', '.'],
    ['.e5', '.e5'],
    ['v1', 'v1'],
    ['8080', 8080],
    ['9007199254740991', 9007199254740991],
  ];
  for (const [text, want] of cases) {
    it(`${JSON.stringify(text)} -> ${JSON.stringify(want)}`, () => {
      assert.deepEqual(resolvePlainScalar(text).value, want);
      if (text !== '') assert.deepEqual(one(`v: ${text}`), { v: want });
    });
  }
});

describe('YAML documents as kubectl reads them', () => {
  it('colons inside flow collections stay in the scalar', () => {
    assert.deepEqual(one('v: [001:db8::]'), { v: ['001:db8::'] });
    assert.deepEqual(one('v: [2001:db8::1, "fe80::1", a:b]'), { v: ['2001:db8::1', 'fe80::1', 'a:b'] });
    assert.deepEqual(one('v: {a: 2001:db8::}'), { v: { a: '2001:db8::' } });
    assert.deepEqual(one('v: [a:, b]'), { v: ['a:', 'b'] });
    assert.deepEqual(one('addresses: [001:db8::, 10.0.0.1]'), { addresses: ['001:db8::', '10.0.0.1'] });
  });

  it('a colon and a space still make a mapping in a flow sequence', () => {
    assert.deepEqual(one('v: [a: b]'), { v: [{ a: 'b' }] });
  });

  it('quoted scalars are strings', () => {
    assert.deepEqual(one(`v: ["on", 'yes', "8080", '0777']`), { v: ['on', 'yes', '8080', '0777'] });
  });

  it('block scalars are strings', () => {
    assert.deepEqual(one('v: |\n  on\n'), { v: 'on\n' });
  });

  it('explicit tags', () => {
    assert.deepEqual(one('a: !!str 12\nb: !!int "12"\nc: !!float 1\nd: !!bool yes\ne: !!binary aGVsbG8='), {
      a: '12',
      b: 12,
      c: 1,
      d: true,
      e: 'hello',
    });
    assert.match(parseYamlStream('a: !!int 1.5').problems[0]?.message ?? '', /cannot decode "1.5" as !!int/);
  });

  it('map keys become strings the way sigs.k8s.io/yaml makes them', () => {
    assert.deepEqual(one('80: a\ntrue: b\ny: c\n1.5: d\n0x10: e'), {
      '80': 'a',
      true: 'c',
      '1.5': 'd',
      '16': 'e',
    });
  });

  it('a repeated key: the last one wins, with a warning', () => {
    const { documents, warnings } = parseYamlStream('a: 1\nb: 2\na: 3\n');
    assert.deepEqual(documents[0]?.value, { a: 3, b: 2 });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]?.message ?? '', /duplicate key "a"/);
    assert.equal(warnings[0]?.line, 3);
  });

  it('merge keys, in go-yaml v2 order', () => {
    assert.deepEqual(one('base: &b {a: 1, b: 2}\nv:\n  <<: *b\n  b: 3'), {
      base: { a: 1, b: 2 },
      v: { a: 1, b: 3 },
    });
    assert.deepEqual(one('v:\n  a: 1\n  <<: {a: 2, b: 3}'), { v: { a: 2, b: 3 } });
    assert.deepEqual(one('v:\n  <<: [{a: 1}, {a: 2, b: 2}]'), { v: { a: 1, b: 2 } });
  });

  it('infinity and NaN are refused as values (JSON has none)', () => {
    assert.match(parseYamlStream('v: .inf').problems[0]?.message ?? '', /not representable in JSON/);
  });

  it('empty, comment-only and null documents are skipped but counted', () => {
    const { documents, problems } = parseYamlStream('---\n# nothing\n---\nnull\n---\na: 1\n---\n---\nb: 2\n');
    assert.deepEqual(problems, []);
    assert.deepEqual(
      documents.map((d) => [d.index, d.value]),
      [
        [3, { a: 1 }],
        [5, { b: 2 }],
      ],
    );
  });

  it('records lines for field paths', () => {
    const { documents } = parseYamlStream('a: 1\n---\nkind: X\nspec:\n  mtls:\n    mode: STRICTT\n');
    const doc = documents[1];
    assert.ok(doc);
    assert.equal(doc.line, 3);
    assert.equal(lineOf(doc, ['spec', 'mtls', 'mode']), 6);
    assert.equal(lineOf(doc, ['spec', 'mtls', 'missing']), 5);
  });

  it('syntax errors are problems with a line, never exceptions', () => {
    const { documents, problems } = parseYamlStream('a: 1\n---\nb: [1, 2\nc: 3\n---\nd: 4\n');
    assert.deepEqual(
      documents.map((d) => d.value),
      [{ a: 1 }, { d: 4 }],
    );
    assert.equal(problems[0]?.document, 2);
    assert.ok((problems[0]?.line ?? 0) >= 3);
  });

  it('aliases that loop do not hang', () => {
    const { problems } = parseYamlStream('a: &x [*x]\n');
    assert.ok(problems.length > 0);
  });

  it('resolves an alias to the last anchor of that name before it, even when the name is reused', () => {
    const { documents, problems } = parseYamlStream(
      'a: &x 1\nb: *x\nc: &x [2, 3]\nd: *x\ne: {<<: &x {k: v}, f: *x}\n',
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(documents[0]?.value, { a: 1, b: 1, c: [2, 3], d: [2, 3], e: { k: 'v', f: { k: 'v' } } });
  });

  // test/fuzz/fixtures/istio-config/1b9cfbc69814e368.yaml: each alias was looked up with the `yaml` package's
  // Alias.resolve, which walks the whole document on every call, so 16,000 references to one block (64 KB of
  // YAML) took 84 s to load. Aliases are now matched to their anchors in one walk of the document.
  it('loads a block shared thousands of times with one walk of the document, not one per alias', () => {
    const text = `base: &b {port: 8080}\nitems: [${Array(4000).fill('*b').join(', ')}]\n`;
    const resolve = Alias.prototype.resolve;
    let walks = 0;
    Alias.prototype.resolve = function (this: Alias, ...args: Parameters<Alias['resolve']>) {
      walks++;
      return resolve.apply(this, args);
    };
    let loaded: ReturnType<typeof parseYamlStream>;
    try {
      loaded = parseYamlStream(text);
    } finally {
      Alias.prototype.resolve = resolve;
    }
    assert.deepEqual(loaded.problems, []);
    const value = loaded.documents[0]?.value as { items: unknown[] } | undefined;
    const items = value?.items ?? [];
    assert.equal(items.length, 4000);
    assert.deepEqual(items[3999], { port: 8080 });
    assert.equal(walks, 0, 'Alias.resolve walks the whole document each time');
  });

  // test/fuzz/fixtures/istio-config/b0064233af0d140d.yaml (ten levels, 75 million nodes once expanded) hung
  // the loader, which expanded every alias.
  /** A "billion laughs" YAML bomb: `levels` anchors, each a list of ten aliases of the one before. */
  function yamlBomb(levels: number): string {
    let text = 'a: &a [x, x, x, x, x, x, x, x, x, x]\n';
    let previous = 'a';
    for (let i = 0; i < levels; i++) {
      text += `b${i}: &b${i} [${Array(10).fill(`*${previous}`).join(', ')}]\n`;
      previous = `b${i}`;
    }
    return text;
  }

  it('refuses a YAML bomb as go-yaml v2 does (excessive aliasing), without expanding it', () => {
    // Four levels are 10^5 nodes once expanded (seconds and hundreds of MB); nine would never finish.
    for (const levels of [3, 4]) {
      const { documents, problems } = parseYamlStream(`${yamlBomb(levels)}---\nok: 1\n`);
      assert.deepEqual(
        problems.map((p) => [p.document, p.message]),
        [[1, 'document contains excessive aliasing (a YAML bomb: Kubernetes refuses it too)']],
      );
      assert.ok((problems[0]?.line ?? 0) >= 1);
      assert.deepEqual(
        documents.map((d) => d.value),
        [{ ok: 1 }],
        'the other documents still load',
      );
    }
    const snapshot = loadConfig([{ path: 'bomb.yaml', text: yamlBomb(4) }]);
    assert.deepEqual(
      snapshot.diagnostics.map((d) => [d.code, d.file, d.document]),
      [['SKIFF_CONFIG_SYNTAX', 'bomb.yaml', 1]],
    );
  });

  it('expands ordinary aliases: a few anchors used many times stay well inside the limit', () => {
    const text = `base: &b {port: 8080, mode: STRICT}\nitems: [${Array(300).fill('*b').join(', ')}]\n${yamlBomb(1)}`;
    const { documents, problems } = parseYamlStream(text);
    assert.deepEqual(problems, []);
    const value = documents[0]?.value as { items: unknown[]; b0: unknown[] };
    assert.equal(value.items.length, 300);
    assert.deepEqual(value.items[299], { port: 8080, mode: 'STRICT' });
    assert.equal(value.b0.length, 10);
  });

  it('garbage never throws', () => {
    for (const text of [
      '\u0000\u0001',
      ': : :',
      '[[[[',
      '{a: [}',
      '- - -\n  x: :',
      '\t\tbad',
      '&a *a',
      '!!nope x',
    ]) {
      assert.doesNotThrow(() => parseYamlStream(text));
    }
  });
});
