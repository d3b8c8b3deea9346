// Names one resource uses for another — a listener's cluster or route configuration, a transport socket's
// secret — checked at one place. In a static bootstrap everything is there at once, so a missing secret or
// route configuration is an error, and a missing cluster is an error only where Envoy validates it (a route
// table with validate_clusters on); elsewhere its traffic is refused at request time, which earns a warning.
// Over xDS a missing name is not an error: the resource may arrive later, as in Envoy.

import { type Diagnostic, showValue } from '../../core/diagnostics.js';
import type { Ref } from './context.js';

/** The names that exist, by kind. */
export interface KnownNames {
  clusters: ReadonlySet<string>;
  secrets: ReadonlySet<string>;
}

/** Problems with `refs` in a static bootstrap, where nothing more will arrive. */
export function checkStaticReferences(refs: readonly Ref[], known: KnownNames): Diagnostic[] {
  const out: Diagnostic[] = [];
  const problem = (severity: Diagnostic['severity'], ref: Ref, code: string, message: string) =>
    out.push({ severity, code, message, path: [...ref.path] });
  for (const ref of refs) {
    if (ref.kind === 'cluster' && !known.clusters.has(ref.name)) {
      if (ref.effect === 'validate_clusters') {
        problem(
          'error',
          ref,
          'proxy.cluster',
          `cluster ${showValue(ref.name)} is not defined, and the route table validates its clusters (validate_clusters, on by default for an inline route_config, as in Envoy); set validate_clusters: false to load it anyway (503 NC)`,
        );
      } else {
        problem(
          'warning',
          ref,
          'proxy.cluster',
          `cluster ${showValue(ref.name)} is not defined: its traffic will be refused (${ref.effect ?? 'no cluster'})`,
        );
      }
    } else if (ref.kind === 'route_configuration') {
      problem(
        'error',
        ref,
        'proxy.rds',
        `route configuration ${showValue(ref.name)} would come over RDS, and a static bootstrap has no source for it; give the routes inline (route_config)`,
      );
    } else if (ref.kind === 'secret' && !known.secrets.has(ref.name)) {
      const there = [...known.secrets];
      problem(
        'error',
        ref,
        'proxy.secret',
        `secret ${showValue(ref.name)} is not in static_resources.secrets${there.length > 0 ? ` (there: ${there.join(', ')})` : ''}; SDS from a server is not implemented`,
      );
    }
  }
  return out;
}
