// Envoy's outlier detection (source/common/upstream/outlier_detection_impl.cc, cited `E od.cc:line` at envoy
// 321a098d81, the snapshot of /work/notes/envoy-semantics.md §2) as a pure state machine: the cluster reports each
// attempt's result per host (putResult), the load balancer skips hosts for which isEjected is true, and the
// runtime calls tick() every intervalMs. Time and randomness are injected; nothing here arms a timer.
//
// Differences from Envoy, on purpose: (1) Envoy counts consecutive errors on worker threads and posts the detection
// to the main thread (E od.cc:540-559); here detection and ejection happen synchronously inside putResult, so no
// result can slip in between a detection and its ejection. (2) A host that the success-rate pass of a sweep just
// ejected and that the failure-percentage pass flags too is counted as detected but not ejected again (Envoy's
// ejectHost would re-eject it, which asserts in debug builds and counts ejections_active twice in release).

/** Envoy's OutlierDetection with every default resolved (durations in ms, percentages 0..100, stdev factor as Envoy's integer /1000). */
export interface OutlierDetectionConfig {
  consecutive5xx: number;
  enforcingConsecutive5xx: number;
  consecutiveGatewayFailure: number;
  enforcingConsecutiveGatewayFailure: number;
  splitExternalLocalOriginErrors: boolean;
  consecutiveLocalOriginFailure: number;
  enforcingConsecutiveLocalOriginFailure: number;
  intervalMs: number;
  baseEjectionMs: number;
  /** Envoy's default is max(300 s, baseEjectionMs); smaller than baseEjectionMs is a config error (E od.cc:297-300). */
  maxEjectionMs: number;
  maxEjectionJitterMs: number;
  maxEjectionPercent: number;
  alwaysEjectOneHost: boolean;
  enforcingSuccessRate: number;
  successRateMinimumHosts: number;
  successRateRequestVolume: number;
  successRateStdevFactor: number;
  enforcingLocalOriginSuccessRate: number;
  failurePercentageThreshold: number;
  enforcingFailurePercentage: number;
  enforcingFailurePercentageLocalOrigin: number;
  failurePercentageMinimumHosts: number;
  failurePercentageRequestVolume: number;
}

/** Envoy's defaults (outlier_detection.proto / DetectorConfig, E outlier_detection_impl.h:348-368), for a present but empty outlier_detection. */
export const OUTLIER_DEFAULTS: OutlierDetectionConfig = Object.freeze({
  consecutive5xx: 5,
  enforcingConsecutive5xx: 100,
  consecutiveGatewayFailure: 5,
  enforcingConsecutiveGatewayFailure: 0,
  splitExternalLocalOriginErrors: false,
  consecutiveLocalOriginFailure: 5,
  enforcingConsecutiveLocalOriginFailure: 100,
  intervalMs: 10_000,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectionJitterMs: 0,
  maxEjectionPercent: 10,
  alwaysEjectOneHost: false,
  enforcingSuccessRate: 100,
  successRateMinimumHosts: 5,
  successRateRequestVolume: 100,
  successRateStdevFactor: 1900,
  enforcingLocalOriginSuccessRate: 100,
  failurePercentageThreshold: 85,
  enforcingFailurePercentage: 0,
  enforcingFailurePercentageLocalOrigin: 0,
  failurePercentageMinimumHosts: 5,
  failurePercentageRequestVolume: 50,
});

/** Envoy's Outlier::Result (envoy/upstream/outlier_detection.h). */
export type OutlierResult =
  | 'local-origin-timeout'
  | 'local-origin-connect-failed'
  | 'local-origin-connect-success'
  | 'local-origin-connect-success-final'
  | 'ext-origin-request-failed'
  | 'ext-origin-request-success';

/**
 * Where the detector counts, with Envoy's names relative to `cluster.<name>.outlier_detection.`
 * (OUTLIER_COUNTER_NAMES); setActive is the `ejections_active` gauge.
 */
export interface OutlierCounters {
  inc(name: string): void;
  setActive(n: number): void;
}

/** Envoy's OutlierEjectionType, spelled as its stat suffix (`ejections_detected_<type>`, `ejections_enforced_<type>`). */
export type EjectionType =
  | 'consecutive_5xx'
  | 'consecutive_gateway_failure'
  | 'success_rate'
  | 'failure_percentage'
  | 'consecutive_local_origin_failure'
  | 'local_origin_success_rate'
  | 'local_origin_failure_percentage';

/** The enforcing_X percentage that rolls for each type (E od.cc:392-419). */
const ENFORCING: Record<EjectionType, (c: OutlierDetectionConfig) => number> = {
  consecutive_5xx: (c) => c.enforcingConsecutive5xx,
  consecutive_gateway_failure: (c) => c.enforcingConsecutiveGatewayFailure,
  success_rate: (c) => c.enforcingSuccessRate,
  failure_percentage: (c) => c.enforcingFailurePercentage,
  consecutive_local_origin_failure: (c) => c.enforcingConsecutiveLocalOriginFailure,
  local_origin_success_rate: (c) => c.enforcingLocalOriginSuccessRate,
  local_origin_failure_percentage: (c) => c.enforcingFailurePercentageLocalOrigin,
};

/** Every counter Envoy creates with the detector (E outlier_detection_impl.h:214-234), so they can exist at 0. */
export const OUTLIER_COUNTER_NAMES: readonly string[] = [
  ...Object.keys(ENFORCING).flatMap((t) => [`ejections_detected_${t}`, `ejections_enforced_${t}`]),
  'ejections_enforced_total',
  'ejections_overflow',
  'ejections_total',
  'ejections_consecutive_5xx',
  'ejections_success_rate',
];

/** The HTTP code each result stands for without split_external_local_origin_errors (E od.cc:97-124); undefined: ignored. */
const NON_SPLIT_CODE: Record<OutlierResult, number | undefined> = {
  'local-origin-timeout': 504,
  'local-origin-connect-failed': 503,
  'local-origin-connect-success': undefined,
  'local-origin-connect-success-final': 200,
  'ext-origin-request-failed': 500,
  'ext-origin-request-success': 200,
};

/** One success-rate monitor: the interval being written and the one that just ended (E od.cc:867-886). */
class RateBuckets {
  current = { success: 0, total: 0 };
  last = { success: 0, total: 0 };
  swap(): void {
    this.last = this.current;
    this.current = { success: 0, total: 0 };
  }
}

class HostState {
  ejected = false;
  consecutive5xx = 0;
  consecutiveGateway = 0;
  consecutiveLocal = 0;
  readonly external = new RateBuckets();
  readonly local = new RateBuckets();
  /** Envoy's eject_time_backoff: an ejection lasts min(base × backoff, max) + jitter. */
  backoff = 0;
  jitterMs = 0;
  lastEjectionMs = 0;
  lastUnejectionMs: number | undefined = undefined;
}

export class OutlierDetector<H> {
  /** Hosts by identity, as Envoy keys its monitors by HostSharedPtr; iteration follows the order given. */
  private hosts = new Map<H, HostState>();
  private active = 0;

  constructor(
    private readonly config: OutlierDetectionConfig,
    hosts: readonly H[],
    private readonly deps: {
      now: () => number;
      random: () => number;
      counters: OutlierCounters;
      onChange?: () => void;
    },
  ) {
    for (const h of hosts) this.hosts.set(h, new HostState());
    deps.counters.setActive(0);
  }

  /**
   * A result for a host (code: the HTTP status when there is one). Without split_external_local_origin_errors a
   * code is used as is, else the result is mapped (NON_SPLIT_CODE); with it, local-origin results feed their own
   * counter and monitor (codes ignored) and ext-origin results their code, 503/200 by default (E od.cc:146-176).
   * A host not in the set is ignored. May eject the host (then onChange runs).
   */
  putResult(host: H, result: OutlierResult, code?: number): void {
    const s = this.hosts.get(host);
    if (!s) return;
    if (!this.config.splitExternalLocalOriginErrors) {
      const mapped = code ?? NON_SPLIT_CODE[result];
      if (mapped !== undefined) this.putHttpCode(s, mapped);
      return;
    }
    switch (result) {
      case 'local-origin-connect-success':
      case 'local-origin-connect-success-final':
        s.local.current.total++;
        s.local.current.success++;
        s.consecutiveLocal = 0;
        return;
      case 'local-origin-timeout':
      case 'local-origin-connect-failed':
        s.local.current.total++;
        if (++s.consecutiveLocal === this.config.consecutiveLocalOriginFailure) {
          this.onConsecutive(s, 'consecutive_local_origin_failure');
        }
        return;
      case 'ext-origin-request-failed':
        this.putHttpCode(s, code ?? 503);
        return;
      case 'ext-origin-request-success':
        this.putHttpCode(s, code ?? 200);
        return;
    }
  }

  isEjected(host: H): boolean {
    return this.hosts.get(host)?.ejected ?? false;
  }

  /**
   * Envoy's interval timer (E od.cc:746-780): un-eject hosts whose time is up and swap every host's buckets; the
   * success-rate and failure-percentage sweeps over the interval that just ended, external then local origin;
   * then back-off decay. Ejections and un-ejections run onChange.
   */
  tick(): void {
    const now = this.deps.now();
    const { baseEjectionMs, maxEjectionMs, intervalMs } = this.config;
    for (const s of this.hosts.values()) {
      // E od.cc:358-374: the ejection is over once min(base × backoff, max) + jitter has elapsed, checked only here.
      if (
        s.ejected &&
        Math.min(baseEjectionMs * s.backoff, maxEjectionMs) + s.jitterMs <= now - s.lastEjectionMs
      ) {
        this.uneject(s, now);
      }
      s.external.swap();
      s.local.swap();
    }
    this.sweep('external');
    this.sweep('local');
    // E od.cc:763-777: a host un-ejected at least one interval ago pays back one step of back-off per tick.
    for (const s of this.hosts.values()) {
      if (
        !s.ejected &&
        s.lastUnejectionMs !== undefined &&
        now - s.lastUnejectionMs >= intervalMs &&
        s.backoff > 0
      ) {
        s.backoff--;
      }
    }
  }

  /**
   * The cluster's hosts changed (EDS): new hosts start clean, kept hosts keep their state, removed ones are forgotten
   * and, if ejected, no longer counted in ejections_active (E od.cc:326-341). Does not call onChange: the caller is
   * rebuilding for the new host set anyway.
   */
  setHosts(hosts: readonly H[]): void {
    const next = new Map<H, HostState>();
    for (const h of hosts) next.set(h, this.hosts.get(h) ?? new HostState());
    for (const [h, s] of this.hosts) if (s.ejected && !next.has(h)) this.active--;
    this.hosts = next;
    this.deps.counters.setActive(this.active);
  }

  /** E od.cc:68-95: 5xx counts toward consecutive 5xx, 502-504 also toward gateway failures; anything else resets both. */
  private putHttpCode(s: HostState, code: number): void {
    s.external.current.total++;
    if (code >= 500 && code < 600) {
      if (code >= 502 && code < 505) {
        if (++s.consecutiveGateway === this.config.consecutiveGatewayFailure) {
          this.onConsecutive(s, 'consecutive_gateway_failure');
        }
      } else {
        s.consecutiveGateway = 0;
      }
      if (++s.consecutive5xx === this.config.consecutive5xx) this.onConsecutive(s, 'consecutive_5xx');
    } else {
      s.external.current.success++;
      s.consecutive5xx = 0;
      s.consecutiveGateway = 0;
    }
  }

  /** E od.cc:574-613: ignored while ejected (the counter is then not reset); else detected, eject, reset the counter. */
  private onConsecutive(s: HostState, type: EjectionType): void {
    if (s.ejected) return;
    this.deps.counters.inc(`ejections_detected_${type}`);
    this.eject(s, type);
    if (type === 'consecutive_5xx') {
      this.deps.counters.inc('ejections_consecutive_5xx');
      s.consecutive5xx = 0;
    } else if (type === 'consecutive_gateway_failure') {
      s.consecutiveGateway = 0;
    } else {
      s.consecutiveLocal = 0;
    }
  }

  /** E od.cc:476-532: the percent limit counts the prospective ejection over all hosts; then the enforcement roll (E od.cc:392-419). */
  private eject(s: HostState, type: EjectionType): void {
    if (s.ejected) return; // see difference (2) in the header
    const { counters } = this.deps;
    const ejectedPercent = (100 * (this.active + 1)) / this.hosts.size;
    const allowed =
      ejectedPercent <= Math.min(100, this.config.maxEjectionPercent) ||
      (this.config.alwaysEjectOneHost && this.active === 0);
    if (!allowed) {
      counters.inc('ejections_overflow');
      return;
    }
    if (type === 'consecutive_5xx' || type === 'success_rate') counters.inc('ejections_total'); // deprecated
    if (!this.roll(ENFORCING[type](this.config))) return;
    this.active++;
    counters.setActive(this.active);
    counters.inc('ejections_enforced_total');
    counters.inc(`ejections_enforced_${type}`);
    s.ejected = true;
    s.lastEjectionMs = this.deps.now();
    // Envoy draws `random % (jitter + 1)` ms; with no jitter configured the draw cannot matter, so none is made.
    const jitter = this.config.maxEjectionJitterMs;
    s.jitterMs = jitter > 0 ? Math.floor(this.deps.random() * (jitter + 1)) : 0;
    if (s.backoff * this.config.baseEjectionMs < this.config.maxEjectionMs + this.config.baseEjectionMs)
      s.backoff++;
    this.deps.onChange?.();
  }

  /** Runtime featureEnabled (E source/common/runtime/runtime_impl.cc:118-128): no draw at 0 % or 100 %. */
  private roll(percent: number): boolean {
    const cutoff = Math.min(percent, 100);
    if (cutoff <= 0) return false;
    if (cutoff >= 100) return true;
    return Math.floor(this.deps.random() * 100) < cutoff;
  }

  /** E od.cc:376-390: all three consecutive counters start over. */
  private uneject(s: HostState, now: number): void {
    this.active--;
    this.deps.counters.setActive(this.active);
    s.ejected = false;
    s.consecutive5xx = s.consecutiveGateway = s.consecutiveLocal = 0;
    s.lastUnejectionMs = now;
    this.deps.onChange?.();
  }

  /** E od.cc:645-744 processSuccessRateEjections for one monitor, over the bucket of the interval that just ended. */
  private sweep(origin: 'external' | 'local'): void {
    const c = this.config;
    if (this.hosts.size < c.successRateMinimumHosts && this.hosts.size < c.failurePercentageMinimumHosts)
      return;
    const bySuccessRate: Array<[HostState, number]> = [];
    const byFailurePercentage: Array<[HostState, number]> = [];
    let sum = 0;
    for (const s of this.hosts.values()) {
      if (s.ejected) continue;
      const { success, total } = s[origin].last;
      if (total === 0) continue;
      const rate = (success * 100) / total;
      if (total >= c.successRateRequestVolume) {
        bySuccessRate.push([s, rate]);
        sum += rate;
      }
      if (total >= c.failurePercentageRequestVolume) byFailurePercentage.push([s, rate]);
    }
    if (bySuccessRate.length > 0 && bySuccessRate.length >= c.successRateMinimumHosts) {
      const mean = sum / bySuccessRate.length;
      const variance =
        bySuccessRate.reduce((v, [, rate]) => v + (rate - mean) ** 2, 0) / bySuccessRate.length;
      const threshold = mean - (c.successRateStdevFactor / 1000) * Math.sqrt(variance);
      const type = origin === 'external' ? 'success_rate' : 'local_origin_success_rate';
      for (const [s, rate] of bySuccessRate) {
        if (rate >= threshold) continue;
        this.deps.counters.inc('ejections_success_rate'); // deprecated, both origins
        this.deps.counters.inc(`ejections_detected_${type}`);
        this.eject(s, type);
      }
    }
    if (byFailurePercentage.length > 0 && byFailurePercentage.length >= c.failurePercentageMinimumHosts) {
      const type = origin === 'external' ? 'failure_percentage' : 'local_origin_failure_percentage';
      for (const [s, rate] of byFailurePercentage) {
        if (100 - rate < c.failurePercentageThreshold) continue;
        this.deps.counters.inc(`ejections_detected_${type}`);
        this.eject(s, type);
      }
    }
  }
}
