// Shared by the kind tests: load fixtures, and check "one invalid fixture per rule" tables the same way for
// every kind — exact [code, field path, message] list, the file, the line of the first error, the resource
// named, nothing loaded, and every fixture in the folder listed in the table.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { it } from 'node:test';
import { type ConfigSnapshot, loadConfig } from '../../../src/config/load.js';
import { formatPath } from '../../../src/core/field-path.js';
import { fixture } from '../../helpers.js';

/** [fixture name, the errors it must produce as [code, formatted path, message], line of the first error]. */
export type RuleRow = [string, [string, string, string][], number?];

export function loadText(text: string, path = 'test.yaml'): ConfigSnapshot {
  return loadConfig([{ path, text }]);
}

/** Loads test/fixtures/config/<valid|invalid>/<folder>/<name>.yaml; messages name it `<name>.yaml`. */
export function loadFixture(kind: 'valid' | 'invalid', folder: string, name: string): ConfigSnapshot {
  return loadText(readFileSync(fixture('config', kind, folder, `${name}.yaml`), 'utf8'), `${name}.yaml`);
}

export function errorRows(snapshot: ConfigSnapshot): [string, string, string][] {
  return rows(snapshot, 'error');
}

export function warningRows(snapshot: ConfigSnapshot): [string, string, string][] {
  return rows(snapshot, 'warning');
}

function rows(snapshot: ConfigSnapshot, severity: 'error' | 'warning'): [string, string, string][] {
  return snapshot.diagnostics
    .filter((d) => d.severity === severity)
    .map((d) => [d.code, formatPath(d.path ?? []), d.message]);
}

/** Defines one test per row (inside the caller's describe), and one that every fixture has a row. */
export function ruleCases(folder: string, table: readonly RuleRow[], options: { kind?: string } = {}): void {
  for (const [name, want, line] of table) {
    it(name, () => {
      const snapshot = loadFixture('invalid', folder, name);
      const errors = snapshot.diagnostics.filter((d) => d.severity === 'error');
      assert.deepEqual(errorRows(snapshot), want);
      assert.equal(errors[0]?.file, `${name}.yaml`);
      if (line !== undefined) assert.equal(errors[0]?.line, line);
      if (options.kind !== undefined)
        assert.match(errors[0]?.resource ?? '', new RegExp(`^${options.kind}\\b`));
      assert.equal(snapshot.resources.length, 0, 'an invalid resource is not loaded');
    });
  }
  it('every fixture in the folder has a row', () => {
    const names = readdirSync(fixture('config', 'invalid', folder)).map((f) => f.replace(/\.yaml$/, ''));
    assert.deepEqual(names.sort(), table.map(([n]) => n).sort());
  });
}
