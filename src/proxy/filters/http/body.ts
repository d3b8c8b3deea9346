// Message bodies between the connection manager's two sides, push-style and without a stream object per
// message: a `BodySource` delivers chunks to a `BodySink` and stops while the sink is full. The lean HTTP/1.1
// codecs (h1-server.ts downstream, upstream.ts's HTTP/1.1 pool) implement both directly; node:http2's streams
// are adapted with `readableSource` and `writableSink`.

import type { Readable, Writable } from 'node:stream';

export interface BodySink {
  /** Takes a chunk; false when the sink is full: the source waits for `onDrain`. */
  write(chunk: Buffer): boolean;
  /** The body is complete. */
  end(): void;
  /** Calls `cb` once, when the sink can take more after a `write` returned false. */
  onDrain(cb: () => void): void;
}

export interface BodySource {
  /**
   * Starts delivering the body to `sink` (once): chunks, then `end()` when the body is complete. A source that
   * fails (reset, truncation) does not call `end()`; its owner reports the failure separately.
   */
  pipeTo(sink: BodySink): void;
  /** The body is not wanted: it is read and dropped. */
  discard(): void;
}

/** A node Readable as a body source: its 'data' and 'end', paused while the sink is full. */
export function readableSource(r: Readable): BodySource {
  return {
    pipeTo(sink) {
      const resume = () => r.resume();
      r.on('data', (chunk: Buffer) => {
        if (!sink.write(chunk)) {
          r.pause();
          sink.onDrain(resume);
        }
      });
      r.once('end', () => sink.end());
    },
    discard() {
      r.resume();
    },
  };
}

/** A node Writable as a body sink. */
export function writableSink(w: Writable): BodySink {
  return {
    write: (chunk) => w.write(chunk),
    end: () => {
      w.end();
    },
    onDrain: (cb) => {
      w.once('drain', cb);
    },
  };
}

/** A source with nothing in it. */
export const EMPTY_BODY: BodySource = {
  pipeTo(sink) {
    sink.end();
  },
  discard() {},
};

/**
 * A body that a codec reads off a socket and pushes here, as a `BodySource`. Chunks wait in a queue while
 * nobody wants them yet (the router attaches its sink in the same tick as it sees the head) and while the sink
 * is full; the socket is paused for as long as the sink is full. A discarded body is dropped.
 */
/** Envoy's default per_connection_buffer_limit_bytes (1 MiB): what a body may queue before it has a sink. */
const EARLY_LIMIT_BYTES = 1024 * 1024;

export class PushedBody implements BodySource {
  private sink: BodySink | undefined;
  private queue: Buffer[] = [];
  private discarding = false;
  /** The sink said it is full: chunks queue and the socket is paused until it drains. */
  blocked = false;
  /** The whole body has arrived (not necessarily delivered). */
  ended = false;
  private endSent = false;
  /** Bytes waiting for the first sink. */
  private early = 0;

  constructor(private readonly flow: { pause(): void; resume(): void }) {}

  pipeTo(sink: BodySink): void {
    this.sink = sink;
    // Paused while nobody wanted the body (the limit below): the sink decides from now on.
    const wasHeld = this.blocked;
    this.blocked = false;
    this.flush();
    if (wasHeld && !this.blocked) this.flow.resume();
  }

  discard(): void {
    this.discarding = true;
    this.queue = [];
    if (this.blocked) {
      this.blocked = false;
      this.flow.resume();
    }
  }

  /** A chunk from the socket. */
  push(chunk: Buffer): void {
    if (this.discarding) return;
    this.queue.push(chunk);
    if (this.sink !== undefined) {
      if (!this.blocked) this.flush();
      return;
    }
    this.early += chunk.length;
    if (this.early > EARLY_LIMIT_BYTES && !this.blocked) {
      // Nobody has asked for the body yet: hold no more than Envoy's per-connection buffer limit.
      this.blocked = true;
      this.flow.pause();
    }
  }

  /** The body is complete. */
  end(): void {
    this.ended = true;
    if (this.sink !== undefined) this.flush();
  }

  /** Whether the sink has taken the whole body, end included, and is not full (or the body was discarded). */
  get delivered(): boolean {
    return this.discarding || (this.endSent && !this.blocked);
  }

  /**
   * Writes what is queued until the sink is full. A full sink has still taken the chunk it refused more after,
   * so the end goes as soon as every chunk is written, full or not.
   */
  private flush(): void {
    const sink = this.sink as BodySink;
    while (!this.blocked && this.queue.length > 0 && !this.discarding) {
      const chunk = this.queue.shift() as Buffer;
      if (!sink.write(chunk)) {
        this.blocked = true;
        this.flow.pause();
        sink.onDrain(() => {
          if (!this.blocked) return;
          this.blocked = false;
          this.flush();
          if (!this.blocked) this.flow.resume();
        });
      }
    }
    if (this.ended && this.queue.length === 0 && !this.endSent && !this.discarding) {
      this.endSent = true;
      sink.end();
    }
  }
}
