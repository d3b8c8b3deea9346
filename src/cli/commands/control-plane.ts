// `skiff control-plane`: istiod for local mode. Reads the config (and registry) folders, serves each proxy its
// generated configuration over ADS, and an HTTP port with /ready, /metrics and the debug API.
// Prints one line per address it listens on (`<role> <host:port>`) once everything listens; logs go to stderr.
// A configuration with errors exits 2 before anything listens, naming each error's file:line. SIGTERM and
// SIGINT stop it cleanly (streams ended with Unavailable, ports closed), exit 0.

import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { parseLoopbackAddress } from '../../control-plane/api/http.js';
import { createLogger, type LogLevel } from '../../core/log.js';
import { checkPlaintextAddress } from '../../xds/server/server.js';
import { parseChoice } from '../args.js';
import { type CliIo, EXIT_FAILURE, EXIT_INVALID, EXIT_OK, UsageError } from '../io.js';
import { VERSION } from '../main.js';

type SetExit = (code: number) => void;

interface ControlPlaneFlags {
  config: string;
  registry?: string;
  state?: string;
  caDir?: string;
  xds?: string;
  xdsPlaintext: string;
  http: string;
  logFormat: string;
  logLevel: string;
}

export function registerControlPlane(parent: Command, io: CliIo, setExit: SetExit): Command {
  return parent
    .command('control-plane')
    .description(
      'serve each proxy its configuration over xDS (ADS), as istiod: plaintext gRPC on loopback, and an HTTP port for /ready, /metrics and the debug API',
    )
    .requiredOption(
      '--config <dir>',
      "the mesh configuration folder (Istio's YAML, Kubernetes Services, MeshConfig)",
    )
    .option('--registry <dir>', "the runtime's registry folder (WorkloadEntries); may not exist yet")
    .option(
      '--state <dir>',
      'where outbound-ports.json keeps the outbound port allocations across restarts (default: the parent of --registry)',
    )
    .option(
      '--ca-dir <dir>',
      'the mesh CA folder (skiff ca init): turns on the TLS xDS port, which also signs certificates',
    )
    .option(
      '--xds <host:port>',
      'ADS and the certificate service over TLS, with authentication (istiod 15012; needs --ca-dir; port 0 picks one)',
    )
    .option(
      '--xds-plaintext <host:port>',
      'ADS without TLS, loopback only (istiod 15010; port 0 picks one)',
      '127.0.0.1:15010',
    )
    .option(
      '--http <host:port>',
      '/ready, /metrics, /debug/*, loopback only (istiod 15014; port 0 picks one)',
      '127.0.0.1:15014',
    )
    .option('--log-format <format>', 'json or text', 'json')
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .action(async (flags: ControlPlaneFlags) => {
      setExit(await runControlPlane(flags, io));
    });
}

function folder(option: string, dir: string): void {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    throw new UsageError(
      `${option}: ${JSON.stringify(dir)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (!isDir) throw new UsageError(`${option}: ${JSON.stringify(dir)} is not a folder`);
}

export async function runControlPlane(flags: ControlPlaneFlags, io: CliIo): Promise<number> {
  const format = parseChoice('--log-format', flags.logFormat, ['json', 'text'] as const);
  const level = parseChoice('--log-level', flags.logLevel, ['debug', 'info', 'warn', 'error'] as const);
  try {
    checkPlaintextAddress(flags.xdsPlaintext);
  } catch (e) {
    throw new UsageError(`--xds-plaintext: ${(e as Error).message}`);
  }
  try {
    parseLoopbackAddress('--http', flags.http);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  folder('--config', flags.config);
  if (flags.xds !== undefined && flags.caDir === undefined) {
    throw new UsageError('--xds: the TLS port needs the mesh CA: give --ca-dir (skiff ca init makes one)');
  }
  if (flags.caDir !== undefined) folder('--ca-dir', flags.caDir);
  const xds = flags.caDir !== undefined ? (flags.xds ?? '127.0.0.1:15012') : undefined;
  if (flags.state !== undefined) folder('--state', flags.state);
  const log = createLogger({ sink: io.err, format, level: level as LogLevel, scope: 'control-plane' });
  // Loaded only when run: the model, generation and gRPC.
  const { ControlPlane, stateFile } = await import('../../control-plane/server.js');
  try {
    stateFile({
      configDir: flags.config,
      ...(flags.registry !== undefined ? { registryDir: flags.registry } : {}),
      ...(flags.state !== undefined ? { stateDir: flags.state } : {}),
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  let plane: Awaited<ReturnType<typeof ControlPlane.start>>;
  try {
    plane = await ControlPlane.start({
      configDir: flags.config,
      ...(flags.registry !== undefined ? { registryDir: flags.registry } : {}),
      ...(flags.state !== undefined ? { stateDir: flags.state } : {}),
      xdsPlaintext: flags.xdsPlaintext,
      http: flags.http,
      ...(xds !== undefined ? { xds, caDir: flags.caDir } : {}),
      logger: log,
      version: VERSION,
    });
  } catch (e) {
    const message = (e as Error)?.message ?? String(e);
    if (/^the configuration has \d+ error/.test(message)) {
      io.err(`error: ${flags.config}: ${message}\nerror: the control plane did not start\n`);
      return EXIT_INVALID;
    }
    io.err(`error: the control plane could not start: ${message}\n`);
    return EXIT_FAILURE;
  }
  if (plane.addresses.xds !== undefined) io.out(`xds ${plane.addresses.xds}\n`);
  else log.info('no --ca-dir: the TLS xDS port is off (plaintext ADS on loopback only)');
  io.out(`xds-plaintext ${plane.addresses.xdsPlaintext}\n`);
  io.out(`http ${plane.addresses.http}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  log.info('stopping');
  await plane.close();
  log.info('stopped');
  return EXIT_OK;
}
