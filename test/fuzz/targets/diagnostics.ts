// What every diagnostic of a configuration loader must carry, whatever the input: the fuzz targets `bootstrap`
// and `istio-config` check it on every input they try.

import assert from 'node:assert/strict';
import { type Diagnostic, formatDiagnostic } from '../../../src/core/diagnostics.js';

const SEVERITIES = new Set(['error', 'warning']);

/** Every diagnostic is complete: file, code, message; every error past the syntax has a field path. */
export function assertDiagnostics(
  diagnostics: readonly Diagnostic[],
  files: readonly string[],
  lines: number,
): void {
  for (const d of diagnostics) {
    const shown = JSON.stringify(d);
    assert.ok(d.file !== undefined && files.includes(d.file), `no file: ${shown}`);
    assert.ok(SEVERITIES.has(d.severity), `severity: ${shown}`);
    assert.ok(typeof d.code === 'string' && d.code.length > 0, `code: ${shown}`);
    assert.ok(typeof d.message === 'string' && d.message.trim().length > 0, `message: ${shown}`);
    if (d.line !== undefined)
      assert.ok(Number.isInteger(d.line) && d.line >= 1 && d.line <= lines + 1, `line: ${shown}`);
    if (d.document !== undefined)
      assert.ok(Number.isInteger(d.document) && d.document >= 1, `document: ${shown}`);
    assert.ok(formatDiagnostic(d).includes(d.message));
  }
}
