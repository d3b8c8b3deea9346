// Structured logs: one JSON object per line (time, level, scope, message, fields), or a readable line for a
// terminal. The sink is given by the caller, so this module does no I/O itself.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(scope: string): Logger;
}

export interface LoggerOptions {
  sink: (line: string) => void;
  level?: LogLevel;
  /** `json` (default) or `text` for people at a terminal. */
  format?: 'json' | 'text';
  scope?: string;
  clock?: () => Date;
}

export function createLogger(o: LoggerOptions): Logger {
  const min = ORDER[o.level ?? 'info'];
  const clock = o.clock ?? (() => new Date());
  const write = (level: LogLevel, message: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[level] < min) return;
    const time = clock().toISOString();
    if (o.format === 'text') {
      const extra = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      o.sink(
        `${time} ${level.toUpperCase().padEnd(5)} ${o.scope ? `[${o.scope}] ` : ''}${message}${extra ? ` ${extra}` : ''}\n`,
      );
    } else {
      o.sink(
        `${JSON.stringify({ time, level, ...(o.scope ? { scope: o.scope } : {}), msg: message, ...fields })}\n`,
      );
    }
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (scope) => createLogger({ ...o, scope: o.scope ? `${o.scope}.${scope}` : scope }),
  };
}

/** A logger that drops everything (tests, libraries used quietly). */
export const silentLogger: Logger = createLogger({ sink: () => {}, level: 'error' });
