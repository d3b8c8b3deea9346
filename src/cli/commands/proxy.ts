// `skiff proxy`: the sidecar data plane, from an Envoy v3 bootstrap file (static resources; xDS comes later).
// Invalid configuration exits 2 with every problem named (file, line, field path); SIGTERM, SIGINT and the
// admin server's POST /quitquitquit drain the proxy and exit 0.

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { readTokenClaims } from '../../ca/token.js';
import { formatDiagnostic, hasErrors } from '../../core/diagnostics.js';
import { createLogger, type LogLevel } from '../../core/log.js';
import type { CertificateAgent } from '../../proxy/agent/agent.js';
import { AGENT_SECRETS } from '../../proxy/agent/sds.js';
import { loadBootstrapFile } from '../../proxy/config/load.js';
import { SidecarProxy } from '../../proxy/proxy.js';
import { releaseEnvoyRoot } from '../../xds/protos.js';
import { parseChoice, parseDurationArg, parseListen } from '../args.js';
import { type CliIo, EXIT_FAILURE, EXIT_INVALID, EXIT_OK, UsageError } from '../io.js';

interface ProxyOptions {
  config: string;
  drainTime: string;
  logFormat: string;
  logLevel: string;
  check?: boolean;
  caAddress?: string;
  tokenFile?: string;
  rootCert?: string;
  certTtl: string;
}

export function registerProxy(parent: Command, io: CliIo, setExit: (code: number) => void): Command {
  return parent
    .command('proxy')
    .description('run the sidecar proxy from an Envoy v3 bootstrap (YAML or JSON)')
    .requiredOption('-c, --config <file>', 'Envoy v3 bootstrap: node, admin, static_resources')
    .option('--drain-time <duration>', 'how long open connections may finish when stopping (Go syntax)', '5s')
    .option('--check', 'validate the configuration and exit (0: valid, 2: invalid)')
    .option(
      '--ca-address <host:port>',
      "the signing service (Istio's IstioCertificateService): the agent gets the workload certificate there",
    )
    .option(
      '--token-file <file>',
      'bootstrap token proving the workload identity (`skiff ca token`), read at every request',
    )
    .option('--root-cert <file>', "the mesh root(s), to trust the signing service's TLS certificate")
    .option('--cert-ttl <duration>', 'requested workload certificate lifetime (Go syntax)', '24h')
    .option('--log-format <format>', 'json or text', 'json')
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .action(async (options: ProxyOptions) => {
      setExit(await runProxy(options, io));
    });
}

/** Why a bootstrap token cannot work, before asking the signing service (which would refuse it). */
function tokenProblem(token: string, now = Date.now()): string | undefined {
  const claims = readTokenClaims(token);
  const make = 'make one with `skiff ca token --dir CA --namespace NS --service-account SA`';
  if (!claims) return `not a Skiff bootstrap token (skiff1.<claims>.<signature>): ${make}`;
  if (claims.exp * 1000 <= now) {
    return `the bootstrap token expired at ${new Date(claims.exp * 1000).toISOString()}: ${make}`;
  }
  return undefined;
}

export async function runProxy(options: ProxyOptions, io: CliIo): Promise<number> {
  const drainSeconds = parseDurationArg('--drain-time', options.drainTime);
  const format = parseChoice('--log-format', options.logFormat, ['json', 'text'] as const);
  const level = parseChoice('--log-level', options.logLevel, ['debug', 'info', 'warn', 'error'] as const);
  const log = createLogger({ sink: io.err, format, level: level as LogLevel, scope: 'proxy' });
  const agentFlags = [options.caAddress, options.tokenFile, options.rootCert].filter(
    (v) => v !== undefined,
  ).length;
  if (agentFlags !== 0 && agentFlags !== 3) {
    throw new UsageError('the certificate agent needs --ca-address, --token-file and --root-cert together');
  }
  const ttlSeconds = parseDurationArg('--cert-ttl', options.certTtl);
  let agent: CertificateAgent | undefined;
  if (options.caAddress && options.tokenFile && options.rootCert) {
    parseListen('--ca-address', options.caAddress);
    const tokenFile = options.tokenFile;
    let rootCertPem: string;
    let token: string;
    try {
      rootCertPem = await readFile(options.rootCert, 'utf8');
      token = await readFile(tokenFile, 'utf8');
    } catch (e) {
      throw new UsageError(
        `cannot read ${(e as NodeJS.ErrnoException).path ?? ''}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    const problem = tokenProblem(token);
    if (problem) throw new UsageError(`--token-file ${tokenFile}: ${problem}`);
    // Loaded only when used: the agent's gRPC client and X.509 code cost the proxy ~15 MB of memory otherwise.
    const { CertificateAgent } = await import('../../proxy/agent/agent.js');
    agent = new CertificateAgent({
      caAddress: options.caAddress,
      rootCertPem,
      token: () => readFile(tokenFile, 'utf8'),
      ttlSeconds,
      logger: log.child('agent'),
    });
  }
  const loaded = await loadBootstrapFile(options.config, agent ? { providedSecrets: AGENT_SECRETS } : {});
  // The bootstrap is decoded: Envoy's protos are not needed again in this process.
  releaseEnvoyRoot();
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
  const proxy = new SidecarProxy(loaded.config, {
    log,
    drainTimeMs: drainSeconds * 1000,
    ...(agent ? { agent } : {}),
  });
  try {
    await proxy.start();
  } catch (e) {
    if ((e as { code?: string }).code === 'SKIFF_AGENT_REFUSED') {
      // A wrong token or CA: a configuration error, said once (the agent does not retry it).
      io.err(`error: --token-file ${options.tokenFile}: ${(e as Error).message}\n`);
      return EXIT_INVALID;
    }
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
  // With nothing bound (no listener, no admin address) nothing holds the event loop, and Node would end the
  // process with exit code 13 (an unsettled top-level await). Envoy runs on until it is stopped; so does this.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  await proxy.drained;
  clearInterval(keepAlive);
  process.off('SIGTERM', stop);
  process.off('SIGINT', stop);
  log.info('drained; exiting');
  return EXIT_OK;
}
