// The secure xDS port (istiod's 15012): one gRPC server over TLS carrying ADS and Istio's
// IstioCertificateService, with a server certificate from the mesh CA (SAN as istiod's:
// `istiod.istio-system.svc` and the address served), renewed at half its lifetime.
// - TLS requests a client certificate but does not require one; one that verifies against the mesh roots
//   authenticates its caller (auth.ts), else a bootstrap token must (`authorization: Bearer <token>`).
// - ADS streams: unauthenticated → UNAUTHENTICATED before anything is read; the first request's node is then
//   checked against the identity and the registry (checkConnectionIdentity) before the ADS server sees it →
//   PERMISSION_DENIED naming the mismatch. Proxyless nodes follow the same rule. The plaintext port (the same
//   AdsServer's `listen`) is untouched: it never authenticates anyone.
// - CSRs: the signing service of `skiff ca serve`, its caller authenticated the same way (a renewal may use
//   the current certificate).
// Istio: pilot/pkg/bootstrap/server.go (initSecureDiscoveryService), pilot/pkg/xds/auth.go.

import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { spiffeId } from '../../ca/identity.js';
import { CaService } from '../../ca/service.js';
import type { LoadedCa } from '../../ca/store.js';
import { shutdownGrpcServer } from '../../core/grpc-shutdown.js';
import { isLoopback, parseIp } from '../../core/ip.js';
import { type Logger, silentLogger } from '../../core/log.js';
import type { MeshModel } from '../../model/types.js';
import { type ProxyNode, parseProxyNode } from '../generate/proxy.js';
import { authenticate, checkConnectionIdentity, meshAuthenticator } from './auth.js';
import { requestNode } from './protocol.js';
import { type AdsCall, type AdsServer, parseListenAddress, type Refusal } from './server.js';
import { ADS_METHOD, type IncomingRequest, isMalformed } from './service.js';

/** istiod's DNS name, in its server certificate. */
export const ISTIOD_DNS_NAME = 'istiod.istio-system.svc';
/** The server certificate's lifetime; it is renewed at half of it. */
export const SERVER_CERT_TTL_SECONDS = 24 * 3600;

export interface SecureXdsOptions {
  /** `host:port` (`[::1]:15012` for IPv6; port 0 picks a free one). */
  address: string;
  ads: AdsServer;
  ca: LoadedCa;
  /** The current model (its WorkloadEntries are the proxies that may connect); undefined until loaded. */
  model: () => MeshModel | undefined;
  logger?: Logger;
  /** Where the signing service counts CSRs (its own registry otherwise: `caService.registry`). */
  registry?: Registry;
  clock?: () => Date;
  /** The server certificate's lifetime in seconds (default 24 h; renewed at half of it). */
  serverCertTtlSeconds?: number;
}

export interface SecureXds {
  /** The address bound, `host:port` (the port chosen when 0 was asked). */
  address: string;
  /** The signing service mounted on this server (its `registry` holds its counters). */
  caService: CaService;
  /** Ends every stream (UNAVAILABLE) and stops the server; stops renewing its certificate. */
  close(): Promise<void>;
}

/** Starts 15012. Rejects with a clear error for a bad address or a port in use; nothing is left listening then. */
export async function startSecureXds(o: SecureXdsOptions): Promise<SecureXds> {
  const log = o.logger ?? silentLogger;
  const clock = o.clock ?? (() => new Date());
  const { host, port } = parseListenAddress(o.address);
  const ttl = o.serverCertTtlSeconds ?? SERVER_CERT_TTL_SECONDS;
  const identity = new IdentityProvider();
  const issue = async () => {
    const tls = await o.ca.authority.issueServerCertificate({
      identity: { trustDomain: o.ca.record.trustDomain, namespace: 'istio-system', serviceAccount: 'istiod' },
      ...serverNames(host),
      ttlSeconds: ttl,
      now: clock(),
    });
    identity.identity({ certificate: Buffer.from(tls.certChainPem), privateKey: Buffer.from(tls.keyPem) });
    return tls.notAfter;
  };
  let notAfter = await issue();
  const roots = new IdentityProvider();
  roots.ca({ caCertificate: Buffer.from(o.ca.authority.rootsPem()) });
  // Request a client certificate, verify it against the mesh roots, but do not require it (tokens too).
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(identity, roots, false);

  const server = new grpc.Server();
  const calls = new Set<AdsCall>();
  const caService = new CaService({
    ca: o.ca,
    authenticate: meshAuthenticator(o.ca, clock),
    logger: log,
    ...(o.registry ? { registry: o.registry } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
  });
  caService.register(server);
  registerAds(server, o, calls, log, clock);

  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  let bound: number;
  try {
    bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(target, credentials, (err, p) => (err ? reject(err) : resolve(p)));
    });
  } catch (e) {
    server.forceShutdown();
    throw new Error(`--xds ${o.address}: cannot listen: ${(e as Error).message}`);
  }
  const address = host.includes(':') ? `[${host}]:${bound}` : `${host}:${bound}`;
  log.info('xDS listening (TLS: ADS and certificates)', {
    address,
    trustDomain: o.ca.record.trustDomain,
    serverCertNotAfter: notAfter.toISOString(),
  });

  // Renew the server certificate at half its remaining lifetime (new handshakes take the new one).
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const schedule = () => {
    const wait = Math.max(1000, (notAfter.getTime() - clock().getTime()) / 2);
    timer = setTimeout(
      () => {
        issue().then(
          (at) => {
            notAfter = at;
            log.info('xDS server certificate renewed', { notAfter: at.toISOString() });
            if (!closed) schedule();
          },
          (e: Error) => {
            log.error('xDS server certificate renewal failed; retrying in 30 s', { error: e.message });
            if (!closed) timer = setTimeout(schedule, 30_000).unref();
          },
        );
      },
      Math.min(wait, 2 ** 31 - 1),
    ).unref();
  };
  schedule();

  return {
    address,
    caService,
    close: async () => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      for (const call of calls)
        end(call, { code: grpc.status.UNAVAILABLE, message: 'the control plane is shutting down' });
      calls.clear();
      await shutdownGrpcServer(server);
    },
  };
}

/** The certificate's names: istiod's DNS name and the address served (both loopbacks for an unspecified one). */
function serverNames(host: string): { dnsNames: string[]; ips: string[] } {
  const dnsNames = [ISTIOD_DNS_NAME];
  if (isIP(host) === 0) return { dnsNames: [...dnsNames, host], ips: [] };
  const ip = parseIp(host);
  const unspecified = host === '0.0.0.0' || host === '::';
  const ips = unspecified ? ['127.0.0.1', '::1'] : [host];
  if (ip && isLoopback(ip)) dnsNames.push('localhost');
  return { dnsNames, ips };
}

/**
 * Mounts the AdsServer's method on `server` behind authentication and the connection identity check. Each
 * authenticated stream is given to `ads.serve` with its caller; its request listeners are put behind a gate
 * that holds the stream's requests, in order, until its first request's node is authorized.
 */
function registerAds(
  server: grpc.Server,
  o: SecureXdsOptions,
  calls: Set<AdsCall>,
  log: Logger,
  clock: () => Date,
): void {
  const definition = o.ads.serviceDefinition();
  server.addService(definition, {
    [ADS_METHOD]: (call: AdsCall) => {
      let who: ReturnType<typeof authenticate>;
      try {
        who = authenticate(o.ca, call.metadata, call, clock);
      } catch (e) {
        refuse(
          call,
          { code: grpc.status.INTERNAL, message: `authentication failed: ${(e as Error)?.message ?? e}` },
          log,
        );
        return;
      }
      if (!who.ok) {
        refuse(call, { code: grpc.status.UNAUTHENTICATED, message: `${who.reason}: ${who.message}` }, log);
        return;
      }
      calls.add(call);
      const forget = () => calls.delete(call);
      call.on('close', forget);
      call.on('error', forget);
      call.on('cancelled', forget);
      // The one way the ADS server learns who the caller is: handed to `serve` with the stream (syncz shows it).
      o.ads.serve(call, { identity: spiffeId(who.identity), method: who.method });
      const listeners = call.listeners('data') as ((request: IncomingRequest) => void)[];
      call.removeAllListeners('data');
      let gate: Promise<boolean> | undefined;
      call.on('data', (request: IncomingRequest) => {
        gate ??= Promise.resolve().then(() => {
          const refusal = authorizeFirst(request, who.identity, o.model);
          if (!refusal) {
            log.info('xDS stream authenticated', {
              peer: call.getPeer(),
              identity: `${who.identity.namespace}/${who.identity.serviceAccount}`,
              by: who.method,
            });
            return true;
          }
          refuse(call, refusal, log);
          return false;
        });
        gate
          .then((ok) => {
            if (!ok) return;
            for (const listener of listeners) listener.call(call, request);
          })
          .catch((e: unknown) =>
            refuse(
              call,
              { code: grpc.status.INTERNAL, message: `request failed: ${(e as Error)?.message ?? e}` },
              log,
            ),
          );
      });
    },
  });
}

/**
 * The identity check of a stream's first request. A request the ADS server itself refuses (malformed, no node,
 * a node it cannot parse) passes here, so that the ADS server answers it with InvalidArgument as on any port.
 */
function authorizeFirst(
  request: IncomingRequest,
  identity: Parameters<typeof checkConnectionIdentity>[1],
  model: () => MeshModel | undefined,
): Refusal | undefined {
  if (isMalformed(request)) return undefined;
  const first = requestNode(request);
  if (!first.ok) return undefined;
  let node: ProxyNode;
  try {
    node = parseProxyNode({
      id: first.id,
      metadata: (request.node?.metadata ?? null) as Parameters<typeof parseProxyNode>[0]['metadata'],
    });
  } catch {
    return undefined;
  }
  return checkConnectionIdentity(node, identity, model());
}

function refuse(call: AdsCall, refusal: Refusal, log: Logger): void {
  log.warn('xDS stream refused', {
    peer: call.getPeer(),
    code: grpc.status[refusal.code],
    message: refusal.message,
  });
  end(call, refusal);
}

function end(call: AdsCall, status: Refusal): void {
  if (call.writableEnded || call.destroyed) return;
  call.emit('error', { code: status.code, details: status.message, metadata: new grpc.Metadata() });
}

/** An in-memory certificate provider for grpc-js: the current value, sent to listeners (asynchronously, so a
 * server that registers its watcher after its listener still gets the first value). */
class IdentityProvider implements grpc.experimental.CertificateProvider {
  private caValue: grpc.experimental.CaCertificateUpdate | null = null;
  private identityValue: grpc.experimental.IdentityCertificateUpdate | null = null;
  private readonly caListeners = new Set<grpc.experimental.CaCertificateUpdateListener>();
  private readonly identityListeners = new Set<grpc.experimental.IdentityCertificateUpdateListener>();

  ca(update: grpc.experimental.CaCertificateUpdate): void {
    this.caValue = update;
    for (const l of this.caListeners) l(update);
  }

  identity(update: grpc.experimental.IdentityCertificateUpdate): void {
    this.identityValue = update;
    for (const l of this.identityListeners) l(update);
  }

  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.add(listener);
    queueMicrotask(() => this.caListeners.has(listener) && listener(this.caValue));
  }

  removeCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => this.identityListeners.has(listener) && listener(this.identityValue));
  }

  removeIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.delete(listener);
  }
}
