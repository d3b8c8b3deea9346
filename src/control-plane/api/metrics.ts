// The control plane's Prometheus metrics, in istiod's names where istiod has one (research/istio-generation.md
// §7.6; Istio: pilot/pkg/xds/monitoring.go, pkg/xds/monitoring.go), plus Skiff's config counters.
// - The ADS server's typed events (AdsServerOptions.onEvent: push, nack, stale-nonce, …) go to `adsEvent`; its
//   log lines are for people and are not read.
// - Gauges that describe a state (connected proxies, services, config counts) are read when scraped.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AdsEvent } from '../../xds/server/server.js';

/** What the gauges read at scrape time. */
export interface MetricsState {
  /** ISTIO_VERSION of each connected proxy ('' when it sent none). */
  proxyVersions(): readonly string[];
  /** Services the proxies see (one per host name). */
  services(): number;
  /** The store's counters: configurations applied and refused since start. */
  config(): { accepted: number; rejected: number };
}

export class ControlPlaneMetrics {
  readonly registry = new Registry();
  readonly pushes: Counter<'type'>;
  readonly rejects: Counter<'type'>;
  readonly expiredNonce: Counter<'type'>;
  readonly convergence: Histogram;
  readonly inboundUpdates: Counter<'type'>;
  readonly pushTriggers: Counter<'type'>;
  private state: MetricsState | undefined;
  /** Per connection, when it was last sent a response of the version being pushed (for convergence). */
  private readonly pushedAt = new Map<string, { version: string; at: number }>();
  private recording = false;

  constructor(readonly version: string) {
    const registers = [this.registry];
    const self = this;
    new Gauge({
      name: 'pilot_xds',
      help: 'Number of endpoints connected to this pilot using XDS.',
      labelNames: ['version'],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const v of self.state?.proxyVersions() ?? []) counts.set(v, (counts.get(v) ?? 0) + 1);
        for (const [v, n] of counts) this.set({ version: v }, n);
      },
    });
    this.pushes = new Counter({
      name: 'pilot_xds_pushes',
      help: 'Pilot build and send errors for lds, rds, cds and eds.',
      labelNames: ['type'],
      registers,
    });
    this.rejects = new Counter({
      name: 'pilot_total_xds_rejects',
      help: 'Total number of XDS responses from pilot rejected by proxy.',
      labelNames: ['type'],
      registers,
    });
    this.expiredNonce = new Counter({
      name: 'pilot_xds_expired_nonce',
      help: 'Total number of XDS requests with an expired nonce.',
      labelNames: ['type'],
      registers,
    });
    this.convergence = new Histogram({
      name: 'pilot_proxy_convergence_time',
      help: 'Delay in seconds between config change and a proxy receiving all required configuration.',
      buckets: [0.1, 0.5, 1, 3, 5, 10, 20, 30],
      registers,
    });
    this.inboundUpdates = new Counter({
      name: 'pilot_inbound_updates',
      help: 'Total number of updates received by pilot.',
      labelNames: ['type'],
      registers,
    });
    this.pushTriggers = new Counter({
      name: 'pilot_push_triggers',
      help: 'Total number of times a push was triggered, labeled by reason for the push.',
      labelNames: ['type'],
      registers,
    });
    new Gauge({
      name: 'pilot_services',
      help: 'Total services known to pilot.',
      registers,
      collect() {
        this.set(self.state?.services() ?? 0);
      },
    });
    new Gauge({
      name: 'pilot_info',
      help: 'Pilot version and build information.',
      labelNames: ['version'],
      registers,
      collect() {
        this.reset();
        this.set({ version: self.version }, 1);
      },
    });
    const started = Date.now();
    new Gauge({
      name: 'istiod_uptime_seconds',
      help: 'Current istiod server uptime in seconds',
      registers,
      collect() {
        this.set((Date.now() - started) / 1000);
      },
    });
    // Counters whose count the store keeps: each scrape adds what it counted since the last one.
    const fromStore = (
      name: string,
      help: string,
      read: (c: { accepted: number; rejected: number }) => number,
    ) => {
      let seen = 0;
      new Counter({
        name,
        help,
        registers,
        collect() {
          const now = self.state ? read(self.state.config()) : 0;
          if (now > seen) this.inc(now - seen);
          seen = Math.max(seen, now);
        },
      });
    };
    fromStore(
      'skiff_control_plane_config_accepted_total',
      'Configurations the control plane applied (the first load included).',
      (c) => c.accepted,
    );
    fromStore(
      'skiff_control_plane_config_rejected_total',
      'Configuration changes refused because they had errors (the last good configuration kept serving).',
      (c) => c.rejected,
    );
  }

  /** Where the gauges read from (set once the store and the ADS server exist). */
  observe(state: MetricsState): void {
    this.state = state;
  }

  /** A new configuration is about to be pushed: responses from now on are timed (per connection, the last). */
  pushStarting(): void {
    this.recording = true;
    this.pushedAt.clear();
  }

  /** The push of `version` is done: each connection sent a response of it took (its last response − since). */
  pushSettled(version: string, since: number): void {
    for (const sent of this.pushedAt.values())
      if (sent.version === version) this.convergence.observe(Math.max(0, sent.at - since) / 1000);
    this.pushedAt.clear();
    this.recording = false;
  }

  /** An accepted configuration change, by what it changed (istiod's inbound update and push trigger types). */
  modelChanged(change: {
    servicesAdded: readonly string[];
    servicesRemoved: readonly string[];
    servicesChanged: readonly string[];
    workloadsChanged: boolean;
    meshConfigChanged: boolean;
    policiesChanged: boolean;
    otherChanged: boolean;
  }): void {
    const services = change.servicesAdded.length + change.servicesChanged.length;
    if (services > 0) this.inboundUpdates.inc({ type: 'svc' }, services);
    if (change.servicesRemoved.length > 0)
      this.inboundUpdates.inc({ type: 'svcdelete' }, change.servicesRemoved.length);
    if (change.workloadsChanged) this.inboundUpdates.inc({ type: 'eds' });
    const config =
      change.meshConfigChanged || change.policiesChanged || (change.otherChanged && !change.workloadsChanged);
    if (config) this.inboundUpdates.inc({ type: 'config' });
    if (services > 0 || change.servicesRemoved.length > 0) this.pushTriggers.inc({ type: 'service' });
    if (change.workloadsChanged) this.pushTriggers.inc({ type: 'endpoint' });
    if (config) this.pushTriggers.inc({ type: 'config' });
  }

  /** One event of the ADS server (AdsServerOptions.onEvent). */
  adsEvent(e: AdsEvent): void {
    switch (e.kind) {
      case 'push':
        this.pushes.inc({ type: e.type });
        if (this.recording) this.pushedAt.set(e.connection, { version: e.configVersion, at: Date.now() });
        return;
      case 'nack':
        this.rejects.inc({ type: e.type });
        return;
      case 'stale-nonce':
        this.expiredNonce.inc({ type: e.type });
        return;
      default:
        return;
    }
  }

  /** The Prometheus text exposition. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
