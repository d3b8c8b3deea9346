// Local mode has no traffic capture: each proxy gets an explicit outbound listener per service port it may call,
// on 127.0.0.1 at a port the control plane allocates (../shared/local-mode.md, "Outbound"). An allocation is
// kept for as long as the allocator lives (and across restarts through `snapshot()`/`restore`), so the ports
// an app was given in its environment stay valid when services come and go.

import type { OutboundPorts } from './context.js';

export interface OutboundPortRange {
  /** First port handed out (inclusive). */
  first: number;
  /** Last port handed out (inclusive). */
  last: number;
}

/** Skiff's default range: above Istio's 15000-15099 and below Linux's ephemeral ports (32768-60999). */
export const DEFAULT_OUTBOUND_RANGE: OutboundPortRange = { first: 15101, last: 19999 };

export class OutboundPortAllocator implements OutboundPorts {
  private readonly byKey = new Map<string, number>();
  private readonly used = new Set<number>();
  private next: number;

  constructor(
    readonly range: OutboundPortRange = DEFAULT_OUTBOUND_RANGE,
    saved: Readonly<Record<string, number>> = {},
  ) {
    // Whole numbers only: a fractional bound would hand out ports like 15101.5 (comparisons alone let it pass).
    const whole = Number.isInteger(range.first) && Number.isInteger(range.last);
    if (!(whole && range.first >= 1 && range.last <= 65535 && range.first <= range.last)) {
      throw new Error(
        `outbound port range ${range.first}-${range.last}: expected 1 <= first <= last <= 65535`,
      );
    }
    for (const [key, port] of Object.entries(saved)) {
      // `saved` comes from a state file: a value that is not a whole number (20001.5, "20002", which the range
      // comparisons would coerce and keep) is dropped like a port outside the range.
      if (Number.isInteger(port) && port >= range.first && port <= range.last && !this.used.has(port)) {
        this.byKey.set(key, port);
        this.used.add(port);
      }
    }
    this.next = range.first;
  }

  portFor(proxyId: string, host: string, port: number): number {
    const key = `${proxyId} ${host}:${port}`;
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    const size = this.range.last - this.range.first + 1;
    // Full: say so at once (scanning the whole range for every new key would make a full range quadratic).
    if (this.used.size >= size) {
      throw new Error(
        `no free outbound port left in ${this.range.first}-${this.range.last} (${size} allocated): widen the range`,
      );
    }
    for (let i = 0; i < size; i++) {
      const candidate = this.next;
      this.next = candidate === this.range.last ? this.range.first : candidate + 1;
      if (!this.used.has(candidate)) {
        this.byKey.set(key, candidate);
        this.used.add(candidate);
        return candidate;
      }
    }
    throw new Error(
      `no free outbound port left in ${this.range.first}-${this.range.last} (${size} allocated): widen the range`,
    );
  }

  /** Every allocation, `"<proxyId> <host>:<port>" → port`, to persist and restore. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.byKey].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}
