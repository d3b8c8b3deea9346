// The effective (merged) PeerAuthentication of one workload, as Istio computes it: candidates from the
// workload's namespace and the root namespace, one winner per level (mesh < namespace < workload), UNSET
// inheriting, port-level modes from the workload winner only. Pure; see docs/peer-authentication.md.
// Istio: pilot/pkg/model/authentication.go (getConfigsForWorkload, addPeerAuthentication),
// pilot/pkg/security/authn/policy_applier.go (ComposePeerAuthentication, GetMutualTLSModeForPort).

import type { Mode, ModeSetting, PeerAuthentication } from './types.js';

export const DEFAULT_ROOT_NAMESPACE = 'istio-system';
export const DEFAULT_NAMESPACE = 'default';

export type Level = 'mesh' | 'namespace' | 'workload';

export interface PolicyRef {
  namespace: string;
  name: string;
  level: Level;
}

export interface IgnoredPolicy extends PolicyRef {
  reason: string;
}

export interface PeerAuthenticationExplanation {
  mode: Mode;
  /** Port-level modes of the workload winner (keys: workload port numbers as strings). Empty when none. */
  perPort: Record<string, Mode>;
  /** The winner at each level that has one, mesh first. */
  applied: PolicyRef[];
  /** The policy that set the workload-wide mode, or `default` (PERMISSIVE) when none did. */
  decidedBy: PolicyRef | { level: 'default' };
  /** Candidates that match the workload but lost or are ignored, with Istio's reason. */
  ignored: IgnoredPolicy[];
}

export interface WorkloadRef {
  namespace: string;
  labels: Record<string, string>;
}

export interface PolicyOptions {
  /** meshConfig.rootNamespace; default `istio-system`. */
  rootNamespace?: string;
}

/** Istio's merged peer authentication for one workload. Never throws on well-formed input. */
export function effectivePeerAuthentication(
  policies: readonly PeerAuthentication[],
  workload: WorkloadRef,
  options: PolicyOptions = {},
): { mode: Mode; perPort: Record<string, Mode> } {
  const { mode, perPort } = explainPeerAuthentication(policies, workload, options);
  return { mode, perPort };
}

/** The mode for one workload port: its port-level mode if the winner sets one, else the workload's mode. */
export function modeForPort(
  merged: { mode: Mode; perPort: Record<string, Mode> },
  port: number | string,
): Mode {
  return merged.perPort[String(port)] ?? merged.mode;
}

/** `effectivePeerAuthentication` with the reasons: which policies applied, which decided, which were ignored. */
export function explainPeerAuthentication(
  policies: readonly PeerAuthentication[],
  workload: WorkloadRef,
  options: PolicyOptions = {},
): PeerAuthenticationExplanation {
  const root = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const ignored: IgnoredPolicy[] = [];
  const byLevel: Record<Level, PeerAuthentication[]> = { mesh: [], namespace: [], workload: [] };

  for (const policy of sortPolicies(policies)) {
    const namespace = namespaceOf(policy);
    if (namespace !== workload.namespace && namespace !== root) continue;
    const labels = matchLabelsOf(policy);
    if (!isSubset(labels, workload.labels)) continue;
    const selectorLess = Object.keys(labels).length === 0;
    if (!selectorLess && namespace === root) {
      ignored.push({
        ...ref(policy, 'workload'),
        reason: `a PeerAuthentication with a selector in the root namespace (${root}) is ignored`,
      });
      continue;
    }
    const level: Level = selectorLess ? (namespace === root ? 'mesh' : 'namespace') : 'workload';
    byLevel[level].push(policy);
  }

  const winners: Partial<Record<Level, PeerAuthentication>> = {};
  for (const level of LEVELS) {
    const [winner, ...losers] = byLevel[level];
    if (!winner) continue;
    winners[level] = winner;
    for (const loser of losers) {
      ignored.push({
        ...ref(loser, level),
        reason: `${winner.metadata.name} is older (or equally old and first by name) at the ${level} level`,
      });
    }
  }

  let mode: Mode = 'PERMISSIVE';
  let decidedBy: PeerAuthenticationExplanation['decidedBy'] = { level: 'default' };
  const applied: PolicyRef[] = [];
  for (const level of LEVELS) {
    const policy = winners[level];
    if (!policy) continue;
    applied.push(ref(policy, level));
    const setting = toMode(policy.spec?.mtls?.mode);
    if (setting !== undefined) {
      mode = setting;
      decidedBy = ref(policy, level);
    }
  }

  const perPort: Record<string, Mode> = {};
  for (const [port, setting] of Object.entries(winners.workload?.spec?.portLevelMtls ?? {})) {
    perPort[port] = toMode(setting?.mode) ?? mode;
  }
  return { mode, perPort, applied, decidedBy, ignored };
}

/**
 * The namespace-level view clients use to infer a service's mode (Istio's GetNamespaceMutualTLSMode): the
 * namespace policy's mode, else the mesh policy's, UNSET meaning the level above (PERMISSIVE at the top);
 * UNKNOWN when neither a mesh nor a namespace policy exists. Workload and port-level policies are ignored.
 */
export function namespaceMutualTlsMode(
  policies: readonly PeerAuthentication[],
  namespace: string,
  options: PolicyOptions = {},
): Mode | 'UNKNOWN' {
  const root = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const selectorLess = sortPolicies(policies).filter((p) => Object.keys(matchLabelsOf(p)).length === 0);
  const mesh = selectorLess.find((p) => namespaceOf(p) === root);
  const own = selectorLess.find((p) => namespaceOf(p) === namespace);
  const meshMode: Mode | 'UNKNOWN' = mesh ? (toMode(mesh.spec?.mtls?.mode) ?? 'PERMISSIVE') : 'UNKNOWN';
  if (!own || namespace === root) return meshMode;
  return toMode(own.spec?.mtls?.mode) ?? (meshMode === 'UNKNOWN' ? 'PERMISSIVE' : meshMode);
}

const LEVELS: readonly Level[] = ['mesh', 'namespace', 'workload'];

function ref(policy: PeerAuthentication, level: Level): PolicyRef {
  return { namespace: namespaceOf(policy), name: policy.metadata.name, level };
}

function namespaceOf(policy: PeerAuthentication): string {
  return policy.metadata.namespace || DEFAULT_NAMESPACE;
}

function matchLabelsOf(policy: PeerAuthentication): Record<string, string> {
  return policy.spec?.selector?.matchLabels ?? {};
}

function isSubset(selector: Record<string, string>, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector)) {
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return false;
  }
  return true;
}

function toMode(setting: ModeSetting | null | undefined): Mode | undefined {
  return setting === 'STRICT' || setting === 'PERMISSIVE' || setting === 'DISABLE' ? setting : undefined;
}

/**
 * Istio's order (configCompareByCreationTime): oldest first, then name, then namespace. A missing or
 * unreadable timestamp compares equal to any other, so name order decides. Done as "name order, then a
 * stable pass that moves strictly older policies ahead", which stays deterministic with missing timestamps.
 */
export function sortPolicies(policies: readonly PeerAuthentication[]): PeerAuthentication[] {
  const byName = [...policies].sort(
    (a, b) => compareText(a.metadata.name, b.metadata.name) || compareText(namespaceOf(a), namespaceOf(b)),
  );
  const out: PeerAuthentication[] = [];
  for (const policy of byName) {
    const t = timeOf(policy);
    let at = out.length;
    if (t !== undefined) {
      // Insert before the first kept policy that is strictly newer; policies without a time never move.
      for (let i = 0; i < out.length; i++) {
        const other = out[i];
        const u = other === undefined ? undefined : timeOf(other);
        if (u !== undefined && u > t) {
          at = i;
          break;
        }
      }
    }
    out.splice(at, 0, policy);
  }
  return out;
}

function timeOf(policy: PeerAuthentication): number | undefined {
  const ts = policy.metadata.creationTimestamp;
  if (typeof ts !== 'string') return undefined;
  const t = Date.parse(ts);
  return Number.isNaN(t) ? undefined : t;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
