// The proxy-wide limit on open downstream connections: Envoy's `envoy.resource_monitors.global_downstream_max_connections`
// (or the older runtime key `overload.global_downstream_max_connections`). Every listener takes a unit when it
// accepts a socket and gives it back when the socket closes; over the limit the socket is closed at once and
// `listener.<x>.downstream_global_cx_overflow` counts it. The admin server is not a listener and is never limited,
// so /ready and /stats answer while the limit holds (Envoy needs `admin.ignore_global_conn_limit` for that).

import { readFileSync } from 'node:fs';
import type { Extension } from '../config/extension.js';
import { num } from '../config/json.js';
import type { Gauge } from '../stats/index.js';

const MONITOR_TYPE =
  'envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig';

/** The resource monitor in `overload_manager.resource_monitors` that sets the limit. */
export const DOWNSTREAM_CONNECTIONS_MONITOR: Extension<'envoy.resource_monitors'> = {
  name: 'envoy.resource_monitors.global_downstream_max_connections',
  category: 'envoy.resource_monitors',
  types: [MONITOR_TYPE],
  summary:
    'The most downstream connections open at once, over all listeners (`listener.<x>.downstream_global_cx_overflow`).',
  support: {
    [MONITOR_TYPE]: {
      max_active_downstream_connections: 'The limit (connections over it are closed at accept).',
    },
  },
  translate: (typed) => ({
    kind: 'downstream_connections',
    max: num(typed.max_active_downstream_connections),
  }),
};

export class ConnectionLimit {
  private active = 0;

  /** `max`: how many downstream connections may be open at once. */
  constructor(
    readonly max: number,
    private readonly gauge?: Gauge,
  ) {}

  get open(): number {
    return this.active;
  }

  tryAcquire(): boolean {
    if (this.active + 1 > this.max) return false;
    this.active++;
    this.gauge?.set(Math.round((this.active / this.max) * 100));
    return true;
  }

  release(): void {
    if (this.active > 0) this.active--;
    this.gauge?.set(Math.round((this.active / this.max) * 100));
  }
}

/** File descriptors kept aside for what is not a downstream connection: listeners, admin, logs, the agent. */
const FD_RESERVE = 64;

/**
 * The most downstream connections this process can hold before it runs out of file descriptors: half of what
 * the soft RLIMIT_NOFILE leaves after a reserve (each downstream connection may hold an upstream one). Node
 * raises the soft limit to the hard one at start. Undefined where /proc is not there (not Linux).
 */
export function fdConnectionCap(limits = '/proc/self/limits'): number | undefined {
  let text: string;
  try {
    text = readFileSync(limits, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (!m || m[1] === 'unlimited') return undefined;
  return Math.max(1, Math.floor((Number(m[1]) - FD_RESERVE) / 2));
}

/**
 * The limit the proxy runs with: the configured one, but never more than the file descriptors allow, so that
 * running out of descriptors is never what stops new connections (or the admin server). Envoy has no limit
 * unless one is configured; this cap is Skiff's own (docs/reliability.md).
 */
export function effectiveConnectionLimit(
  configured: number | undefined,
  fdCap: number | undefined,
): { max: number; source: 'configured' | 'file descriptors' } | undefined {
  if (fdCap !== undefined && (configured === undefined || configured > fdCap)) {
    return { max: fdCap, source: 'file descriptors' };
  }
  return configured === undefined ? undefined : { max: configured, source: 'configured' };
}
