// Reads an Envoy v3 bootstrap file (YAML or JSON), decodes it strictly against Envoy's protos with the proxy's
// implemented subset, and compiles it. Every problem names the file, the line where it is known, and the field
// path, as Envoy names them.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { lineOf, parseYamlStream, type YamlDocument } from '../../config/yaml.js';
import type { Diagnostic } from '../../core/diagnostics.js';
import { decodeMessage, type JsonObject } from '../../xds/decode.js';
import { envoyRoot } from '../../xds/protos.js';
import { PROXY_EXTENSIONS } from '../extensions.js';
import { type CompileOptions, compileBootstrap } from './bootstrap.js';
import type { DataSource, ProxyConfig } from './model.js';
import { PROXY_SUPPORT } from './support.js';

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';

export interface LoadedBootstrap {
  config: ProxyConfig | undefined;
  diagnostics: Diagnostic[];
}

/** Parses bootstrap text; `file` is for messages and chooses JSON for `*.json`. */
export function parseBootstrap(text: string, file: string, options: CompileOptions = {}): LoadedBootstrap {
  let value: unknown;
  let doc: YamlDocument | undefined;
  if (file.endsWith('.json')) {
    try {
      value = JSON.parse(text);
    } catch (e) {
      return {
        config: undefined,
        diagnostics: [{ severity: 'error', code: 'proxy.json', file, message: (e as Error).message }],
      };
    }
  } else {
    const stream = parseYamlStream(text);
    const problems = stream.problems.map(
      (p): Diagnostic => ({ severity: 'error', code: 'proxy.yaml', file, line: p.line, message: p.message }),
    );
    if (problems.length > 0) return { config: undefined, diagnostics: problems };
    const docs = stream.documents.filter((d) => d.value !== null && d.value !== undefined);
    if (docs.length !== 1) {
      return {
        config: undefined,
        diagnostics: [
          {
            severity: 'error',
            code: 'proxy.yaml',
            file,
            message: `expected one YAML document (a Bootstrap), found ${docs.length}`,
          },
        ],
      };
    }
    doc = docs[0];
    value = doc?.value;
  }
  const where = (d: Diagnostic): Diagnostic => ({
    ...d,
    file,
    ...(doc && d.path ? { line: lineOf(doc, d.path) } : {}),
  });
  const decoded = decodeMessage(envoyRoot(), BOOTSTRAP_TYPE, value, { support: PROXY_SUPPORT });
  if (decoded.diagnostics.some((d) => d.severity === 'error')) {
    return { config: undefined, diagnostics: decoded.diagnostics.map(where) };
  }
  const compiled = compileBootstrap(decoded.value, PROXY_EXTENSIONS, options);
  return {
    config: compiled.config,
    diagnostics: [...decoded.diagnostics, ...compiled.diagnostics].map(where),
  };
}

/** Reads and parses a bootstrap file, then checks that every data source it names can be read. */
export async function loadBootstrapFile(
  file: string,
  options: CompileOptions = {},
): Promise<LoadedBootstrap> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return {
      config: undefined,
      diagnostics: [
        { severity: 'error', code: 'proxy.file', file, message: `cannot read: ${(e as Error).message}` },
      ],
    };
  }
  const loaded = parseBootstrap(text, file, options);
  if (!loaded.config) return loaded;
  const problems: Diagnostic[] = [];
  for (const source of dataSources(loaded.config)) {
    try {
      await readDataSource(source);
    } catch (e) {
      problems.push({
        severity: 'error',
        code: 'proxy.data-source',
        file,
        message: (e as Error).message,
        ...(source.path ? { path: source.path } : {}),
      });
    }
  }
  return problems.length > 0
    ? { config: undefined, diagnostics: [...loaded.diagnostics, ...problems] }
    : loaded;
}

function dataSources(config: ProxyConfig): DataSource[] {
  const out: DataSource[] = [];
  for (const s of config.secrets) {
    if (s.tlsCertificate) out.push(s.tlsCertificate.certificateChain, s.tlsCertificate.privateKey);
    if (s.validationContext?.trustedCa) out.push(s.validationContext.trustedCa);
  }
  return out;
}

/** The bytes of a data source; a file name is relative to the working folder, as Envoy reads it. */
export async function readDataSource(source: DataSource): Promise<Buffer> {
  switch (source.kind) {
    case 'inline':
      return source.data;
    case 'env': {
      const value = process.env[source.name];
      if (value === undefined) throw new Error(`environment variable ${source.name} is not set`);
      return Buffer.from(value);
    }
    case 'file':
      try {
        return await readFile(path.resolve(source.filename));
      } catch (e) {
        throw new Error(
          `cannot read ${source.filename}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
  }
}

export type { JsonObject };
