// `skiff proxy`: the sidecar data plane, from an Envoy v3 bootstrap file (static resources; xDS comes later).
// Invalid configuration exits 2 with every problem named (file, line, field path); SIGTERM, SIGINT and the
// admin server's POST /quitquitquit drain the proxy and exit 0.

import type { Command } from 'commander';
import { formatDiagnostic, hasErrors } from '../../core/diagnostics.js';
import { createLogger, type LogLevel } from '../../core/log.js';
import { loadBootstrapFile } from '../../proxy/config/load.js';
import { SidecarProxy } from '../../proxy/proxy.js';
import { parseChoice, parseDurationArg } from '../args.js';
import { type CliIo, EXIT_FAILURE, EXIT_INVALID, EXIT_OK } from '../io.js';

interface ProxyOptions {
  config: string;
  drainTime: string;
  logFormat: string;
  logLevel: string;
  check?: boolean;
}

export function registerProxy(parent: Command, io: CliIo, setExit: (code: number) => void): Command {
  return parent
    .command('proxy')
    .description('run the sidecar proxy from an Envoy v3 bootstrap (YAML or JSON)')
    .requiredOption('-c, --config <file>', 'Envoy v3 bootstrap: node, admin, static_resources')
    .option('--drain-time <duration>', 'how long open connections may finish when stopping (Go syntax)', '5s')
    .option('--check', 'validate the configuration and exit (0: valid, 2: invalid)')
    .option('--log-format <format>', 'json or text', 'json')
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .action(async (options: ProxyOptions) => {
      setExit(await runProxy(options, io));
    });
}

export async function runProxy(options: ProxyOptions, io: CliIo): Promise<number> {
  const drainSeconds = parseDurationArg('--drain-time', options.drainTime);
  const format = parseChoice('--log-format', options.logFormat, ['json', 'text'] as const);
  const level = parseChoice('--log-level', options.logLevel, ['debug', 'info', 'warn', 'error'] as const);
  const log = createLogger({ sink: io.err, format, level: level as LogLevel, scope: 'proxy' });
  const loaded = await loadBootstrapFile(options.config);
  for (const d of loaded.diagnostics) io.err(`${formatDiagnostic(d)}\n`);
  if (!loaded.config || hasErrors(loaded.diagnostics)) {
    const n = loaded.diagnostics.filter((d) => d.severity === 'error').length;
    io.err(`${options.config}: ${n} invalid ${n === 1 ? 'entry' : 'entries'}; the proxy did not start\n`);
    return EXIT_INVALID;
  }
  if (options.check) {
    io.out(`${options.config}: valid\n`);
    return EXIT_OK;
  }
  const proxy = new SidecarProxy(loaded.config, { log, drainTimeMs: drainSeconds * 1000 });
  try {
    await proxy.start();
  } catch (e) {
    io.err(`error: ${options.config}: the proxy could not start: ${(e as Error).message}\n`);
    return EXIT_FAILURE;
  }
  io.out(
    `${JSON.stringify({
      admin: proxy.adminAddress ? `${proxy.adminAddress.host}:${proxy.adminAddress.port}` : null,
      listeners: Object.fromEntries(
        proxy.listeners.map((l) => [l.config.name, `${l.config.address.host}:${l.port}`]),
      ),
    })}\n`,
  );
  const stop = () => {
    void proxy.drain();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await proxy.drained;
  process.off('SIGTERM', stop);
  process.off('SIGINT', stop);
  log.info('drained; exiting');
  return EXIT_OK;
}
