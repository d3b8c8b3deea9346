// `skiff ca`: the mesh certificate authority — init (self-signed root or Istio cacerts), show, offline issue,
// bootstrap tokens, and serve (the signing service on its own).

import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { spiffeId } from '../../ca/identity.js';
import { CaService, serveMetrics } from '../../ca/service.js';
import { CaStoreError, initCa, type LoadedCa, loadCa } from '../../ca/store.js';
import { createToken } from '../../ca/token.js';
import {
  createCsr,
  fingerprint,
  generateKeyPair,
  KEY_TYPES,
  type KeyType,
  privateKeyToPem,
  toPem,
  type x509,
} from '../../ca/x509.js';
import { formatDuration } from '../../core/duration.js';
import { createLogger } from '../../core/log.js';
import { parseChoice, parseDurationArg, parseListen, parseNamespace } from '../args.js';
import { type CliIo, EXIT_INVALID, EXIT_OK, UsageError } from '../io.js';

type SetExit = (code: number) => void;

export function registerCa(parent: Command, io: CliIo, setExit: SetExit): Command {
  const ca = parent.command('ca').description('the mesh certificate authority: SPIFFE workload certificates');
  const run = (fn: () => Promise<number>) => async () => {
    try {
      setExit(await fn());
    } catch (e) {
      if (e instanceof CaStoreError) {
        io.err(`error: ${e.message}\n`);
        setExit(EXIT_INVALID);
        return;
      }
      throw e;
    }
  };

  ca.command('init')
    .description('create a CA in an empty folder: a self-signed root, or an Istio cacerts intermediate')
    .requiredOption('-d, --dir <dir>', 'the CA folder')
    .option('--trust-domain <td>', 'SPIFFE trust domain', 'cluster.local')
    .option('--key-type <type>', `${KEY_TYPES.join(', ')}`, 'ec-p256')
    .option('--from-cacerts <dir>', "plug in an intermediate in Istio's cacerts layout")
    .option('--max-ttl <duration>', 'the longest workload certificate lifetime (Go syntax)', '2160h')
    .action(
      (o: { dir: string; trustDomain: string; keyType: string; fromCacerts?: string; maxTtl: string }) =>
        run(async () => {
          const keyType = parseChoice('--key-type', o.keyType, KEY_TYPES) as KeyType;
          if (!/^[a-z0-9._-]+$/.test(o.trustDomain)) {
            throw new UsageError(
              `--trust-domain: invalid trust domain ${JSON.stringify(o.trustDomain)}: lower case letters, digits, ".", "-" or "_"`,
            );
          }
          const result = await initCa(o.dir, {
            trustDomain: o.trustDomain,
            keyType,
            maxTtlSeconds: parseDurationArg('--max-ttl', o.maxTtl),
            ...(o.fromCacerts ? { fromCacerts: o.fromCacerts } : {}),
          });
          for (const note of result.notes) io.out(`${note}\n`);
          io.out(
            `${o.dir}: trust domain ${result.record.trustDomain}, ${result.record.keyType}, ${result.record.mode}\n`,
          );
          return EXIT_OK;
        })(),
    );

  ca.command('show')
    .description('trust domain, roots and their fingerprints, the signing chain, expiry')
    .requiredOption('-d, --dir <dir>', 'the CA folder')
    .option('-o, --output <format>', 'table or json', 'table')
    .action((o: { dir: string; output: string }) =>
      run(async () => {
        const output = parseChoice('--output', o.output, ['table', 'json'] as const);
        const loaded = await loadCa(o.dir);
        const describe = async (c: x509.X509Certificate) => ({
          subject: c.subject,
          issuer: c.issuer,
          serial: c.serialNumber,
          notBefore: c.notBefore.toISOString(),
          notAfter: c.notAfter.toISOString(),
          sha256: await fingerprint(c),
        });
        const m = loaded.authority.material;
        const report = {
          dir: o.dir,
          trustDomain: loaded.record.trustDomain,
          keyType: loaded.record.keyType,
          mode: loaded.record.mode,
          defaultTtl: formatDuration(loaded.record.defaultTtlSeconds),
          maxTtl: formatDuration(loaded.record.maxTtlSeconds),
          signer: await describe(m.signer.certificate),
          chain: await Promise.all(m.chain.map(describe)),
          roots: await Promise.all(m.roots.map(describe)),
        };
        if (output === 'json') io.out(`${JSON.stringify(report, null, 2)}\n`);
        else {
          io.out(`CA:            ${report.dir} (${report.mode}, ${report.keyType})\n`);
          io.out(`Trust domain:  ${report.trustDomain}\n`);
          io.out(`Certificates:  ${report.defaultTtl} by default, at most ${report.maxTtl}\n`);
          io.out(`Signer:        ${report.signer.subject}, expires ${report.signer.notAfter}\n`);
          for (const c of report.chain)
            io.out(`Chain:         ${c.subject} (issuer ${c.issuer}), expires ${c.notAfter}\n`);
          for (const r of report.roots)
            io.out(
              `Root:          ${r.subject}, expires ${r.notAfter}\n               SHA-256 ${r.sha256}\n`,
            );
        }
        return EXIT_OK;
      })(),
    );

  ca.command('issue')
    .description('issue a key and certificate offline (for a legacy client or a test tool)')
    .requiredOption('-d, --dir <dir>', 'the CA folder')
    .requiredOption('-n, --namespace <ns>', 'namespace of the identity')
    .requiredOption('-s, --service-account <sa>', 'service account of the identity')
    .requiredOption('--out <dir>', 'where to write key.pem, cert-chain.pem and root-cert.pem')
    .option('--ttl <duration>', 'certificate lifetime (Go syntax)', '24h')
    .option('--key-type <type>', `${KEY_TYPES.join(', ')}`, 'ec-p256')
    .action(
      (o: {
        dir: string;
        namespace: string;
        serviceAccount: string;
        out: string;
        ttl: string;
        keyType: string;
      }) =>
        run(async () => {
          const ttl = parseDurationArg('--ttl', o.ttl);
          const namespace = parseNamespace('--namespace', o.namespace);
          const serviceAccount = parseServiceAccount(o.serviceAccount);
          const keyType = parseChoice('--key-type', o.keyType, KEY_TYPES) as KeyType;
          const loaded = await loadCa(o.dir);
          const identity = { trustDomain: loaded.record.trustDomain, namespace, serviceAccount };
          const keys = await generateKeyPair(keyType);
          const result = await loaded.authority.signCsr(
            await createCsr(keys, [spiffeId(identity)]),
            identity,
            ttl,
          );
          if (!result.ok) throw new Error(`the CA refused its own request: ${result.message}`);
          if (result.warning) io.err(`warning: ${result.warning}\n`);
          await mkdir(o.out, { recursive: true });
          await writeSecret(path.join(o.out, 'key.pem'), await privateKeyToPem(keys.privateKey));
          await writeFile(
            path.join(o.out, 'cert-chain.pem'),
            toPem([result.leaf, ...loaded.authority.intermediates()]),
          );
          await writeFile(path.join(o.out, 'root-cert.pem'), loaded.authority.rootsPem());
          io.out(
            `${spiffeId(identity)} until ${result.leaf.notAfter.toISOString()}: ${o.out}/{key.pem,cert-chain.pem,root-cert.pem}\n`,
          );
          return EXIT_OK;
        })(),
    );

  ca.command('token')
    .description('print a bootstrap token bound to one identity, for the signing service')
    .requiredOption('-d, --dir <dir>', 'the CA folder')
    .requiredOption('-n, --namespace <ns>', 'namespace of the identity')
    .requiredOption('-s, --service-account <sa>', 'service account of the identity')
    .option('--ttl <duration>', 'token lifetime (Go syntax)', '1h')
    .action((o: { dir: string; namespace: string; serviceAccount: string; ttl: string }) =>
      run(async () => {
        const ttl = parseDurationArg('--ttl', o.ttl);
        const namespace = parseNamespace('--namespace', o.namespace);
        const serviceAccount = parseServiceAccount(o.serviceAccount);
        const loaded = await loadCa(o.dir);
        io.out(
          `${createToken(loaded.tokenKey, { trustDomain: loaded.record.trustDomain, namespace, serviceAccount }, ttl)}\n`,
        );
        return EXIT_OK;
      })(),
    );

  ca.command('serve')
    .description("run the signing service (Istio's IstioCertificateService) until stopped")
    .requiredOption('-d, --dir <dir>', 'the CA folder')
    .option('--listen <host:port>', 'gRPC (TLS) address', '127.0.0.1:15012')
    .option('--metrics <host:port>', 'Prometheus metrics address (/metrics)')
    .option('--log-format <format>', 'json or text', 'json')
    .action((o: { dir: string; listen: string; metrics?: string; logFormat: string }) =>
      run(async () => {
        const listen = parseListen('--listen', o.listen);
        const metrics = o.metrics ? parseListen('--metrics', o.metrics) : undefined;
        const format = parseChoice('--log-format', o.logFormat, ['json', 'text'] as const);
        const log = createLogger({ sink: io.err, format, scope: 'ca' });
        const loaded = await loadCa(o.dir);
        const service = await startCaService(loaded, listen, log);
        const metricsServer = metrics
          ? await serveMetrics(service.registry, metrics.host, metrics.port)
          : undefined;
        io.out(
          `${JSON.stringify({ listening: `${listen.host}:${service.port}`, ...(metricsServer ? { metrics: metricsServer.address() } : {}) })}\n`,
        );
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGTERM', stop);
          process.once('SIGINT', stop);
        });
        metricsServer?.close();
        await service.close();
        return EXIT_OK;
      })(),
    );
  return ca;
}

/** Starts the signing service with a fresh server certificate from the CA itself. */
export async function startCaService(
  loaded: LoadedCa,
  listen: { host: string; port: number },
  log = createLogger({ sink: () => {} }),
): Promise<CaService> {
  const tls = await loaded.authority.issueServerCertificate({
    identity: {
      trustDomain: loaded.record.trustDomain,
      namespace: 'istio-system',
      serviceAccount: 'skiff-ca',
    },
    dnsNames: ['localhost', 'skiff-ca.istio-system.svc'],
    ips: ['127.0.0.1', '::1'],
    ttlSeconds: 365 * 24 * 3600,
  });
  const service = new CaService({ ca: loaded, host: listen.host, port: listen.port, tls, logger: log });
  await service.start();
  return service;
}

function parseServiceAccount(text: string): string {
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(text) || text.length > 253) {
    throw new UsageError(
      `--service-account: invalid service account ${JSON.stringify(text)}: expected a DNS-1123 subdomain`,
    );
  }
  return text;
}

async function writeSecret(file: string, text: string): Promise<void> {
  await writeFile(file, text, { mode: 0o600 });
  await chmod(file, 0o600);
}
