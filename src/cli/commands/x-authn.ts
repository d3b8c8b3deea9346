// `skiff x authn`: the effective PeerAuthentication of a workload, and why — the CLI face of the policy engine.

import type { Command } from 'commander';
import type { ConfigSnapshot } from '../../config/load.js';
import { loadConfigDir } from '../../config/sources/files.js';
import { type Diagnostic, formatDiagnostic, hasErrors } from '../../core/diagnostics.js';
import {
  explainPeerAuthentication,
  type Mode,
  modeForPort,
  type PeerAuthenticationExplanation,
  type PolicyRef,
} from '../../policy/index.js';
import { parseChoice, parseLabels, parseNamespace, parsePort } from '../args.js';
import { type CliIo, EXIT_INVALID, EXIT_OK, UsageError } from '../io.js';

interface AuthnOptions {
  config: string;
  namespace?: string;
  labels?: string;
  workload?: string;
  port?: string;
  output: string;
}

export interface AuthnReport {
  workload: { namespace: string; labels: Record<string, string>; name?: string; sidecar?: boolean };
  mode: Mode;
  perPort: Record<string, Mode>;
  port?: { number: number; mode: Mode; decidedBy: DecidedBy };
  decidedBy: DecidedBy;
  applied: (PolicyRef & { mode: string })[];
  ignored: PeerAuthenticationExplanation['ignored'];
  warnings: string[];
}

type DecidedBy = {
  kind: 'PeerAuthentication' | null;
  namespace: string | null;
  name: string | null;
  level: PolicyRef['level'] | 'default';
  portLevel?: boolean;
};

export function registerAuthn(parent: Command, io: CliIo, setExit: (code: number) => void): void {
  parent
    .command('authn')
    .description(
      "show a workload's effective mTLS mode (PeerAuthentication), per port, and which policy decided it",
    )
    .requiredOption('-c, --config <dir>', 'folder of YAML/JSON configuration')
    .option('-n, --namespace <ns>', "the workload's namespace (default: default, or the Workload's)")
    .option('-l, --labels <k=v,...>', "the workload's labels, e.g. app=reviews,version=v1")
    .option('-w, --workload <name>', 'take namespace and labels from this Workload in the folder')
    .option('-p, --port <port>', 'also show the mode at this workload (container) port')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (options: AuthnOptions) => {
      setExit(await runAuthn(options, io));
    });
}

export async function runAuthn(options: AuthnOptions, io: CliIo): Promise<number> {
  const output = parseChoice('--output', options.output, ['table', 'json'] as const);
  const port = options.port === undefined ? undefined : parsePort('--port', options.port);
  let namespace =
    options.namespace === undefined ? undefined : parseNamespace('--namespace', options.namespace);
  let labels = options.labels === undefined ? undefined : parseLabels('--labels', options.labels);
  if (options.workload === undefined && labels === undefined) {
    throw new UsageError('give the workload: --labels k=v,... (with --namespace), or --workload NAME');
  }

  const snapshot = await loadConfigDir(options.config);
  const errors = snapshot.diagnostics.filter((d) => d.severity === 'error');
  if (hasErrors(snapshot.diagnostics)) {
    for (const d of errors) io.err(`${formatDiagnostic(d)}\n`);
    io.err(
      `${options.config}: ${errors.length} invalid ${errors.length === 1 ? 'entry' : 'entries'}; nothing evaluated\n`,
    );
    return EXIT_INVALID;
  }

  let name: string | undefined;
  let sidecar: boolean | undefined;
  if (options.workload !== undefined) {
    const workload = findWorkload(snapshot, options.workload, namespace);
    name = workload.metadata.name;
    sidecar = workload.spec.sidecar;
    namespace = workload.metadata.namespace;
    labels = { ...(workload.metadata.labels ?? {}), ...(labels ?? {}) };
  }
  const ref = { namespace: namespace ?? 'default', labels: labels ?? {} };
  const report = buildReport(snapshot, ref, name, port);
  if (sidecar !== undefined) report.workload.sidecar = sidecar;
  io.out(output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderTable(report));
  return EXIT_OK;
}

function findWorkload(snapshot: ConfigSnapshot, name: string, namespace: string | undefined) {
  const found = snapshot.workloads.filter(
    (w) => w.metadata.name === name && (namespace === undefined || w.metadata.namespace === namespace),
  );
  const where = namespace === undefined ? 'in any namespace' : `in namespace ${namespace}`;
  if (found.length === 0) {
    const known =
      snapshot.workloads.map((w) => `${w.metadata.namespace}/${w.metadata.name}`).join(', ') || 'none';
    throw new UsageError(`--workload: no Workload ${JSON.stringify(name)} ${where}; known: ${known}`);
  }
  const [first, second] = found;
  if (second !== undefined || first === undefined) {
    throw new UsageError(`--workload: ${JSON.stringify(name)} exists in several namespaces; add --namespace`);
  }
  return first;
}

export function buildReport(
  snapshot: ConfigSnapshot,
  workload: { namespace: string; labels: Record<string, string> },
  name: string | undefined,
  port: number | undefined,
): AuthnReport {
  const policies = snapshot.peerAuthentications;
  const explained = explainPeerAuthentication(policies, workload, {
    rootNamespace: snapshot.meshConfig.rootNamespace,
  });
  const modeOf = (ref: PolicyRef): string => {
    const policy = policies.find(
      (p) => p.metadata.namespace === ref.namespace && p.metadata.name === ref.name,
    );
    return policy?.spec.mtls?.mode ?? 'UNSET';
  };
  const decidedBy = toDecidedBy(explained.decidedBy);
  const report: AuthnReport = {
    workload: { ...workload, ...(name !== undefined ? { name } : {}) },
    mode: explained.mode,
    perPort: explained.perPort,
    decidedBy,
    applied: explained.applied.map((ref) => ({ ...ref, mode: modeOf(ref) })),
    ignored: explained.ignored,
    warnings: snapshot.diagnostics.filter((d: Diagnostic) => d.severity === 'warning').map(formatDiagnostic),
  };
  if (port !== undefined) {
    const portLevel = explained.perPort[String(port)] !== undefined;
    const workloadPolicy = explained.applied.find((a) => a.level === 'workload');
    report.port = {
      number: port,
      mode: modeForPort(explained, port),
      decidedBy:
        portLevel && workloadPolicy ? { ...toDecidedBy(workloadPolicy), portLevel: true } : decidedBy,
    };
  }
  return report;
}

function toDecidedBy(ref: PolicyRef | { level: 'default' }): DecidedBy {
  if (!('name' in ref)) return { kind: null, namespace: null, name: null, level: 'default' };
  return { kind: 'PeerAuthentication', namespace: ref.namespace, name: ref.name, level: ref.level };
}

function describe(d: DecidedBy): string {
  if (d.level === 'default') return "no policy applies: Istio's default";
  return `${d.namespace}/${d.name} (${d.level} level${d.portLevel ? ', portLevelMtls' : ''})`;
}

function renderTable(r: AuthnReport): string {
  const lines: string[] = [];
  const labels =
    Object.entries(r.workload.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',') || '(none)';
  lines.push(
    `Workload:   ${r.workload.name ? `${r.workload.name}, ` : ''}namespace ${r.workload.namespace}, labels ${labels}`,
  );
  lines.push(`Mode:       ${r.mode}    decided by ${describe(r.decidedBy)}`);
  if (r.port)
    lines.push(`Port ${r.port.number}:  ${r.port.mode}    decided by ${describe(r.port.decidedBy)}`);
  if (r.workload.sidecar === false) {
    lines.push(
      'Note:       this workload has no sidecar: nothing enforces this mode, and clients send it plaintext',
    );
  }
  const ports = Object.entries(r.perPort);
  if (ports.length > 0) {
    lines.push('', 'Per-port modes:');
    lines.push(...table([['PORT', 'MODE'], ...ports.map(([p, m]) => [p, m])]));
  }
  lines.push('', 'Policies applied (mesh < namespace < workload):');
  if (r.applied.length === 0) lines.push('  none: every port is PERMISSIVE');
  else {
    const deciding = (a: PolicyRef) => r.decidedBy.name === a.name && r.decidedBy.namespace === a.namespace;
    lines.push(
      ...table([
        ['LEVEL', 'POLICY', 'MTLS MODE', ''],
        ...r.applied.map((a) => [
          a.level,
          `${a.namespace}/${a.name}`,
          a.mode === 'UNSET' ? 'UNSET (inherits)' : a.mode,
          deciding(a) ? '<- decides' : '',
        ]),
      ]),
    );
  }
  if (r.ignored.length > 0) {
    lines.push('', 'Matching but ignored:');
    for (const i of r.ignored) lines.push(`  ${i.namespace}/${i.name}: ${i.reason}`);
  }
  if (r.warnings.length > 0) {
    lines.push('', 'Warnings:');
    for (const w of r.warnings) lines.push(`  ${w}`);
  }
  return `${lines.join('\n')}\n`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  return rows.map(
    (row) =>
      `  ${row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd()}`,
  );
}
