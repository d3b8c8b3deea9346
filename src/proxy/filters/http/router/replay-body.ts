// A request body that can be sent again: while a request may still be retried, the router keeps what the client
// sent (up to Envoy's buffer limit, per_connection_buffer_limit_bytes, 1 MiB by default) and gives it to each
// attempt in turn, from the start, then whatever still arrives. Past the limit the copy is dropped and the request
// can no longer be retried (Envoy's retry_or_shadow_abandoned); the attempt in flight keeps streaming.

import type { BodySink } from '../body.js';

/** Envoy's default per_connection_buffer_limit_bytes, the router's retry buffer limit without a route one. */
export const RETRY_BUFFER_LIMIT = 1024 * 1024;

export class ReplayableBody implements BodySink {
  private chunks: Buffer[] = [];
  private size = 0;
  private target: BodySink | undefined;
  private pendingDrain: (() => void) | undefined;
  private completeCallbacks: (() => void)[] = [];
  /** The whole request body has arrived. */
  complete = false;
  /** The body outgrew the limit: no attempt can be given it from the start any more. */
  abandoned = false;

  constructor(
    private readonly limit: number,
    private readonly onAbandon: () => void,
  ) {}

  /** The attempt that gets the body from now on, starting with what was kept. */
  attach(target: BodySink): void {
    this.target = target;
    for (const c of this.chunks) target.write(c);
    if (this.complete) target.end();
    const drain = this.pendingDrain;
    this.pendingDrain = undefined;
    if (drain) target.onDrain(drain);
  }

  /** No attempt in flight (between attempts): what arrives is kept for the next one. */
  detach(): void {
    this.target = undefined;
  }

  /** Calls `cb` once the whole request body has arrived (at once if it has). */
  whenComplete(cb: () => void): void {
    if (this.complete) cb();
    else this.completeCallbacks.push(cb);
  }

  write(chunk: Buffer): boolean {
    if (!this.abandoned) {
      if (this.size + chunk.length > this.limit) {
        this.abandoned = true;
        this.chunks = [];
        this.size = 0;
        this.onAbandon();
      } else {
        this.chunks.push(chunk);
        this.size += chunk.length;
      }
    }
    // Between attempts nothing takes the bytes: the client waits (they are kept unless abandoned).
    return this.target ? this.target.write(chunk) : false;
  }

  end(): void {
    this.complete = true;
    this.target?.end();
    const callbacks = this.completeCallbacks;
    this.completeCallbacks = [];
    for (const cb of callbacks) cb();
  }

  onDrain(cb: () => void): void {
    if (this.target) this.target.onDrain(cb);
    else this.pendingDrain = cb;
  }
}
