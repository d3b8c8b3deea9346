// The file source: every *.yaml, *.yml and *.json under a folder (recursively, in a stable order).

import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Diagnostic } from '../../core/diagnostics.js';
import { type ConfigFile, type ConfigSnapshot, loadConfig } from '../load.js';

const CONFIG_FILE = /\.(ya?ml|json)$/i;

export interface ReadResult {
  files: ConfigFile[];
  diagnostics: Diagnostic[];
}

/**
 * Reads the configuration files under `dir` (or the one file `dir` names). Hidden entries and
 * `node_modules` are skipped. Paths in messages are `dir` joined with the relative path.
 */
export async function readConfigFiles(dir: string): Promise<ReadResult> {
  const diagnostics: Diagnostic[] = [];
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(dir);
  } catch (e) {
    return { files: [], diagnostics: [ioProblem(dir, e, 'cannot read the configuration folder')] };
  }
  const paths = info.isDirectory() ? await walk(dir, diagnostics) : [dir];
  const files: ConfigFile[] = [];
  for (const p of paths) {
    try {
      files.push({ path: p, text: await readFile(p, 'utf8') });
    } catch (e) {
      diagnostics.push(ioProblem(p, e, 'cannot read the file'));
    }
  }
  return { files, diagnostics };
}

/** Reads and loads a folder: the snapshot, with read problems among its diagnostics. */
export async function loadConfigDir(dir: string): Promise<ConfigSnapshot> {
  const { files, diagnostics } = await readConfigFiles(dir);
  const snapshot = loadConfig(files);
  snapshot.diagnostics.unshift(...diagnostics);
  if (files.length === 0 && diagnostics.length === 0) {
    snapshot.diagnostics.push({
      severity: 'warning',
      code: 'SKIFF_CONFIG_EMPTY_DIR',
      file: dir,
      message: 'no *.yaml, *.yml or *.json files here: nothing to load',
    });
  }
  return snapshot;
}

async function walk(dir: string, diagnostics: Diagnostic[]): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    diagnostics.push(ioProblem(dir, e, 'cannot list the folder'));
    return [];
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full, diagnostics)));
    else if ((entry.isFile() || entry.isSymbolicLink()) && CONFIG_FILE.test(entry.name)) out.push(full);
  }
  return out;
}

function ioProblem(file: string, e: unknown, what: string): Diagnostic {
  const code = (e as NodeJS.ErrnoException)?.code ?? 'EIO';
  const reason =
    code === 'ENOENT'
      ? 'it does not exist'
      : code === 'EACCES'
        ? 'permission denied'
        : String((e as Error)?.message ?? e);
  return { severity: 'error', code: 'SKIFF_CONFIG_IO', file, message: `${what}: ${reason}` };
}
