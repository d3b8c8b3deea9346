// Where access log lines go, as Envoy's AccessLogManager writes them: one buffered writer per file, shared by
// every logger naming it, appending; lines are flushed when more than 64 KiB wait, and every second (Envoy's
// default is 10 s; Istio's agent runs Envoy with 1 s, which is what a user reading a sidecar's log expects).
// stdout and stderr are the proxy's own streams. A line is a byte string (format.ts: LOG_LINE_ENCODING).

import { closeSync, openSync, write, writeSync } from 'node:fs';
import type { Logger } from '../../core/log.js';
import type { AccessLogConfig, AccessLoggerConfig } from '../config/model.js';
import type { Counter, StatsStore } from '../stats/index.js';
import { LOG_LINE_ENCODING, type LogContext } from './format.js';

const FLUSH_BYTES = 64 * 1024;
export const FLUSH_INTERVAL_MS = 1_000;

interface LineWriter {
  write(line: string): void;
  flush(): void;
  close(): void;
}

interface FileStats {
  writeBuffered: Counter;
  writeCompleted: Counter;
  writeFailed: Counter;
  flushedByTimer: Counter;
}

class FileWriter implements LineWriter {
  private fd: number | undefined;
  private pending: string[] = [];
  private size = 0;
  private writing = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly path: string,
    private readonly stats: FileStats,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => {
      if (this.size > 0) {
        stats.flushedByTimer.inc();
        this.flush();
      }
    }, FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  write(line: string): void {
    this.pending.push(line);
    this.size += line.length;
    this.stats.writeBuffered.inc();
    if (this.size >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    if (this.writing || this.size === 0) return;
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.path, 'a');
      } catch (e) {
        this.stats.writeFailed.inc();
        this.log.warn('access log not written', { path: this.path, error: (e as Error).message });
        this.pending = [];
        this.size = 0;
        return;
      }
    }
    const data = Buffer.from(this.pending.join(''), LOG_LINE_ENCODING);
    this.pending = [];
    this.size = 0;
    this.writing = true;
    const fd = this.fd;
    write(fd, data, (err) => {
      this.writing = false;
      if (err) this.stats.writeFailed.inc();
      else this.stats.writeCompleted.inc();
      if (this.closed) closeSync(fd);
      else if (this.size >= FLUSH_BYTES) this.flush();
    });
  }

  /** Writes what is left, synchronously (the process may be about to exit), and closes the file. */
  close(): void {
    clearInterval(this.timer);
    this.closed = true;
    if (this.size > 0) {
      try {
        this.fd ??= openSync(this.path, 'a');
        const data = Buffer.from(this.pending.join(''), LOG_LINE_ENCODING);
        this.pending = [];
        this.size = 0;
        let off = 0;
        // A write still in flight is ordered before this one by the kernel's append.
        while (off < data.length) off += writeSync(this.fd, data, off);
      } catch {
        this.stats.writeFailed.inc();
      }
    }
    if (this.fd !== undefined && !this.writing) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/** The proxy's own stdout or stderr. */
class StreamWriter implements LineWriter {
  constructor(private readonly stream: NodeJS.WritableStream) {}
  write(line: string): void {
    this.stream.write(Buffer.from(line, LOG_LINE_ENCODING));
  }
  flush(): void {}
  close(): void {}
}

/** Every access log writer of a proxy, by destination. */
export class AccessLogWriters {
  private readonly files = new Map<string, FileWriter>();
  private readonly stdout = new StreamWriter(process.stdout);
  private readonly stderr = new StreamWriter(process.stderr);
  private readonly stats: FileStats;

  constructor(
    store: StatsStore,
    private readonly log: Logger,
  ) {
    this.stats = {
      writeBuffered: store.counter('filesystem.write_buffered'),
      writeCompleted: store.counter('filesystem.write_completed'),
      writeFailed: store.counter('filesystem.write_failed'),
      flushedByTimer: store.counter('filesystem.flushed_by_timer'),
    };
  }

  writer(sink: AccessLoggerConfig['sink']): LineWriter {
    if (sink.kind === 'stdout') return this.stdout;
    if (sink.kind === 'stderr') return this.stderr;
    let w = this.files.get(sink.path);
    if (!w) {
      w = new FileWriter(sink.path, this.stats, this.log);
      this.files.set(sink.path, w);
    }
    return w;
  }

  /** Loggers ready to write: each one's filter, format and writer, resolved once per config. */
  loggers(configs: readonly AccessLogConfig[] | undefined): AccessLoggers | undefined {
    if (!configs || configs.length === 0) return undefined;
    const bound = configs.map((c) => ({ filter: c.filter, format: c.format, out: this.writer(c.sink) }));
    return {
      log(ctx: LogContext): void {
        for (const b of bound) if (!b.filter || b.filter.test(ctx)) b.out.write(b.format.format(ctx));
      },
    };
  }

  close(): void {
    for (const w of this.files.values()) w.close();
    this.files.clear();
  }
}

/** What a filter or listener calls at the end of a stream or connection. */
export interface AccessLoggers {
  log(ctx: LogContext): void;
}
