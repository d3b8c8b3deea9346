// The Skiff proxy: wires a compiled configuration to running parts — secrets, clusters, listeners, the admin
// server — and owns the lifecycle: PRE_INITIALIZING until listeners are bound and their TLS material is there,
// LIVE, then DRAINING (stop accepting, let open connections finish up to the drain time, close the rest).

import type { Logger } from '../core/log.js';
import { AccessLogWriters } from './access-log/writer.js';
import { AdminServer, type ServerState } from './admin/admin.js';
import type { CertificateAgent } from './agent/agent.js';
import { startAgentSds } from './agent/sds.js';
import type { ProxyConfig } from './config/model.js';
import { ConnectionLimit, effectiveConnectionLimit, fdConnectionCap } from './listener/connection-limit.js';
import { Listener } from './listener/listener.js';
import { StatsStore } from './stats/index.js';
import { ProxyTelemetry } from './telemetry/context.js';
import { SecretStore } from './transport/secrets.js';
import { ClusterManager } from './upstream/cluster.js';

export const PROXY_VERSION = 'skiff/0.1.0';

export interface ProxyOptions {
  log: Logger;
  /** How long open connections may take to finish once draining starts. */
  drainTimeMs: number;
  /** Obtains and rotates the workload certificate, published as the secrets `default` and `ROOTCA`. */
  agent?: CertificateAgent;
  /** Most downstream connections the file descriptors allow (default: read from /proc/self/limits). */
  fdConnectionCap?: number;
}

export class SidecarProxy {
  readonly stats = new StatsStore();
  readonly secrets = new SecretStore();
  readonly clusters: ClusterManager;
  readonly listeners: Listener[];
  /** Every access log file's writer, shared by the loggers naming it. */
  readonly accessLogs: AccessLogWriters;
  /** Shared by every listener: the open downstream connections against the global limit. */
  readonly connectionLimit: ConnectionLimit | undefined;
  private admin: AdminServer | undefined;
  private telemetry: ProxyTelemetry | undefined;
  private adminPort: number | undefined;
  private stateValue: ServerState = 'PRE_INITIALIZING';
  private draining: Promise<void> | undefined;
  /** Set by drain() and close(): start() opens nothing more. */
  private stopping = false;
  private readonly startedAt = Date.now();
  private markDrained: () => void = () => {};
  /** Settles once a drain has finished (after /quitquitquit, a signal, or `drain()`), or on `close()`. */
  readonly drained = new Promise<void>((resolve) => {
    this.markDrained = resolve;
  });

  constructor(
    readonly config: ProxyConfig,
    private readonly options: ProxyOptions,
  ) {
    this.clusters = new ClusterManager(
      config.clusters,
      this.stats,
      this.secrets,
      options.log.child('cluster'),
    );
    const limit = effectiveConnectionLimit(
      config.maxDownstreamConnections,
      'fdConnectionCap' in options ? options.fdConnectionCap : fdConnectionCap(),
    );
    this.connectionLimit = limit
      ? new ConnectionLimit(
          limit.max,
          this.stats.gauge('overload.envoy.resource_monitors.global_downstream_max_connections.pressure'),
        )
      : undefined;
    if (limit?.source === 'file descriptors') {
      options.log.debug('global downstream connection limit from the file descriptor limit', {
        max: limit.max,
        ...(config.maxDownstreamConnections ? { configured: config.maxDownstreamConnections } : {}),
      });
    }
    this.accessLogs = new AccessLogWriters(this.stats, options.log.child('access-log'));
    this.listeners = config.listeners.map(
      (l) =>
        new Listener(l, {
          stats: this.stats,
          clusters: this.clusters,
          secrets: this.secrets,
          log: options.log,
          ...(this.connectionLimit ? { connectionLimit: this.connectionLimit } : {}),
          accessLogs: this.accessLogs,
          telemetry: () => {
            this.telemetry ??= new ProxyTelemetry(this.stats, config.node);
            return this.telemetry;
          },
        }),
    );
  }

  get state(): ServerState {
    if (this.stateValue === 'LIVE' && !(this.listeners.every((l) => l.ready) && this.clusters.ready)) {
      return 'PRE_INITIALIZING';
    }
    return this.stateValue;
  }

  /** The admin server's port, once started. */
  get adminAddress(): { host: string; port: number } | undefined {
    return this.config.admin && this.adminPort !== undefined
      ? { host: this.config.admin.host, port: this.adminPort }
      : undefined;
  }

  /**
   * Reads static secrets, starts the admin server, binds every listener. When anything fails, what was opened
   * (the admin server, bound listeners, the agent) is closed again before the error is thrown.
   */
  async start(): Promise<void> {
    await this.secrets.loadStatic(this.config);
    try {
      // Like Envoy's listener warming: bind once the SDS secrets are there (or the initial fetch timed out).
      if (this.options.agent) {
        await startAgentSds(this.options.agent, this.secrets, this.options.log.child('agent'));
      }
      this.checkNotStopped();
      if (this.config.admin) {
        this.admin = new AdminServer({
          config: this.config,
          stats: this.stats,
          listeners: () => this.listeners,
          clusters: this.clusters,
          state: () => this.state,
          startedAt: this.startedAt,
          version: PROXY_VERSION,
          quit: () => void this.drain(),
          log: this.options.log.child('admin'),
        });
        this.adminPort = await this.admin.listen(this.config.admin.host, this.config.admin.port);
      } else {
        // Envoy's words (source/server/server.cc); it runs on without one, and so does the proxy.
        this.options.log.warn('No admin address given, so no admin HTTP server started.');
      }
      for (const l of this.listeners) {
        this.checkNotStopped();
        await l.listen();
      }
      this.checkNotStopped();
    } catch (e) {
      await this.close();
      throw e;
    }
    this.stateValue = 'LIVE';
    this.options.log.info('proxy live', {
      listeners: this.listeners.map((l) => `${l.config.name}=${l.addressText}`),
      ...(this.adminAddress ? { admin: `${this.adminAddress.host}:${this.adminAddress.port}` } : {}),
    });
  }

  /** A drain or close() that began while start() was waiting: nothing more may be opened. */
  private checkNotStopped(): void {
    if (this.stopping) throw new Error('the proxy was stopped while starting');
  }

  /** Stops accepting; waits for open connections up to the drain time; closes what is left. Idempotent. */
  drain(): Promise<void> {
    if (!this.draining) this.draining = this.runDrain();
    return this.draining;
  }

  private async runDrain(): Promise<void> {
    this.stopping = true;
    this.stateValue = 'DRAINING';
    this.options.log.info('draining', { drainTimeMs: this.options.drainTimeMs });
    for (const l of this.listeners) l.stopAccepting();
    await this.connectionsGone(this.options.drainTimeMs);
    const left = this.listeners.flatMap((l) => [...l.connections.values()]);
    if (left.length > 0) {
      this.options.log.info('drain time over; closing connections', {
        open: left.length,
        connections: left
          .slice(0, 20)
          .map(
            (c) =>
              `${c.sourceAddress}:${c.sourcePort}->${c.listener}/${c.filterChain || '(listener filters)'}`,
          ),
      });
    }
    for (const l of this.listeners) l.destroyAll();
    // A destroyed socket is closed a moment later: `drained` means they are all gone.
    if (left.length > 0) await this.connectionsGone(1_000);
    this.stopSupport();
    await this.admin?.close();
    this.markDrained();
  }

  /** Waits until no listener has an open connection, or `ms` have passed. */
  private async connectionsGone(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && this.listeners.some((l) => l.connections.size > 0)) {
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
    }
  }

  /** Closes everything now (tests, failed start); `drained` settles too, so nobody waits for a drain. */
  async close(): Promise<void> {
    this.stopping = true;
    this.stateValue = 'DRAINING';
    for (const l of this.listeners) {
      l.stopAccepting();
      l.destroyAll();
    }
    this.stopSupport();
    await this.admin?.close();
    this.markDrained();
  }

  /** Stops the agent, the filters' upstream pools and the clusters' secret subscriptions. */
  private stopSupport(): void {
    this.options.agent?.stop();
    for (const l of this.listeners) l.close();
    this.clusters.close();
    this.accessLogs.close();
  }
}
