// The ADS server: `envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources` over
// @grpc/grpc-js, serving each connected proxy what generation makes for it, by the protocol in protocol.ts.
// - Plaintext only on loopback (istiod's 15010: for proxyless gRPC clients on this machine); `register()` adds
//   the service to another gRPC server (the TLS one on 15012 that also serves certificates, later).
// - `push(ctx)` takes a new configuration (the store debounces); every connection is then pushed, one at a
//   time with the event loop let go in between (Istio's push queue: a connection queued twice is pushed once,
//   with the newest configuration), each only the types whose resources changed for it.
// - A stream's first request must name its node; a node parseProxyNode refuses ends the stream with
//   InvalidArgument naming the field; an `authorize` hook may refuse it (authentication, later).
// - Nothing a client sends crashes the server: a malformed request ends that stream; a resource that cannot be
//   encoded is left out and reported; a generation failure ends that stream with Internal.
// Istio: pilot/pkg/xds/ads.go (Stream, initConnection, pushConnection), pkg/xds/server.go, discovery.go.

import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { shutdownGrpcServer } from '../../core/grpc-shutdown.js';
import { isLoopback, parseIp } from '../../core/ip.js';
import { type Logger, silentLogger } from '../../core/log.js';
import type { GenerationContext } from '../generate/context.js';
import { type ProxyNode, parseProxyNode } from '../generate/proxy.js';
import type { GenerationProblem } from '../generate/types.js';
import { envoyRoot } from '../protos.js';
import type { AnyMessage } from './codec.js';
import {
  AdsStream,
  type DiscoveryResponse,
  KnownVersions,
  type Outcome,
  requestNode,
  type StreamEvent,
  shortType,
  type TypeStatus,
} from './protocol.js';
import { type OutboundAddress, ProxyResources, ResourceEncoder } from './resources.js';
import { ADS_METHOD, adsServiceDefinition, type IncomingRequest, isMalformed } from './service.js';

export type AdsCall = grpc.ServerDuplexStream<IncomingRequest, DiscoveryResponse<AnyMessage>>;

/** Why a stream is refused: a gRPC status and its message. */
export interface Refusal {
  code: grpc.status;
  message: string;
}

/** Decides whether a proxy may connect, given its stream (peer, credentials, metadata) and its node. */
export type Authorizer = (
  call: AdsCall,
  node: ProxyNode,
) => Refusal | undefined | Promise<Refusal | undefined>;

export interface AdsServerOptions {
  /** The configuration served until the first `push`. */
  context: GenerationContext;
  logger?: Logger;
  authorize?: Authorizer;
  clock?: () => Date;
  nonce?: () => string;
  /** What each proxy was last sent, across its reconnects (one per process). */
  known?: KnownVersions;
  /** Envoy's protos with ADS; default envoyRoot(). */
  root?: protobuf.Root;
  /**
   * Told what happens on every stream, with typed fields (the metrics count these; log lines are for people and
   * may change). Called synchronously; what it throws is ignored.
   */
  onEvent?: (e: AdsEvent) => void;
}

/** The authenticated caller of a stream (the TLS port's authentication), given to `serve`. */
export interface AuthenticatedPeer {
  /** Its SPIFFE ID, `spiffe://<trust domain>/ns/<ns>/sa/<sa>`. */
  identity: string;
  /** How it authenticated: a client certificate from the mesh CA, or a bootstrap token. */
  method: 'certificate' | 'token';
}

/**
 * What happened on a stream. `type` is the short type (cds, eds, lds, rds); `proxy` the node id; `connection`
 * the connection id (`<proxy id>-<counter>`).
 */
export type AdsEvent =
  | { kind: 'connect'; proxy: string; connection: string; version: string; authenticated?: AuthenticatedPeer }
  | { kind: 'disconnect'; proxy: string; connection: string; version: string }
  | {
      kind: 'push';
      type: string;
      proxy: string;
      connection: string;
      /** The configuration version sent. */
      configVersion: string;
      nonce: string;
      resources: number;
      /** The encoded resources' size. */
      bytes: number;
      /** From the request or push being handled to the response written. */
      ms: number;
    }
  | { kind: 'ack'; type: string; proxy: string; connection: string; configVersion: string; nonce: string }
  | {
      kind: 'nack';
      type: string;
      proxy: string;
      connection: string;
      configVersion: string;
      nonce: string;
      message: string;
    }
  | { kind: 'stale-nonce'; type: string; proxy: string; connection: string; nonce: string };

/** One connected proxy, for the debug API (`/debug/syncz`). */
export interface ConnectionStatus {
  /** `<proxy id>-<counter>`, as Istio names connections. */
  id: string;
  /** The node id as sent. */
  nodeId: string;
  /** `<workload>.<namespace>`. */
  proxyId: string;
  /** The proxy's first INSTANCE_IP (its node id's IP otherwise). */
  address: string;
  /** The gRPC peer of the stream. */
  peer: string;
  generator: 'sidecar' | 'grpc';
  connectedAt: string;
  /** The configuration version its resources come from. */
  version: string;
  /** The authenticated caller (streams of the TLS port); absent on the plaintext port. */
  authenticated?: AuthenticatedPeer;
  /** Configuration changes that sent it at least one response. */
  pushes: number;
  /** Per subscribed type, in push order: last sent, ACKed and NACKed version and nonce, the NACK's message. */
  types: TypeStatus[];
  /** What generation reported for it at its current version (resources left out, Istio features not done). */
  problems: GenerationProblem[];
  /** Sidecars: the outbound listener address allocated for each service port it may call. */
  outbound: OutboundAddress[];
}

class Connection {
  closed = false;
  source: ProxyResources;
  /** What generation reported at the current version (shown); logged once per connection, not per version. */
  problems: GenerationProblem[] = [];
  readonly logged = new Set<string>();
  readonly connectedAt: string;

  constructor(
    readonly id: string,
    readonly call: AdsCall,
    readonly node: ProxyNode,
    readonly stream: AdsStream<AnyMessage>,
    source: ProxyResources,
    now: Date,
    readonly authenticated: AuthenticatedPeer | undefined,
  ) {
    this.source = source;
    this.connectedAt = now.toISOString();
  }
}

/** Parses `host:port` (`[::1]:15010` for IPv6). Throws with what was expected. */
export function parseListenAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new Error(
      `${JSON.stringify(address)}: expected HOST:PORT, such as 127.0.0.1:15010 (port 0 picks a free one)`,
    );
  }
  return { host: m[1] ?? m[2] ?? '', port };
}

/** The plaintext port serves anyone who can connect: only an IP literal in 127.0.0.0/8 or ::1 is accepted. */
export function checkPlaintextAddress(address: string): { host: string; port: number } {
  const parsed = parseListenAddress(address);
  const ip = parseIp(parsed.host);
  if (!ip || !isLoopback(ip)) {
    throw new Error(
      `${JSON.stringify(address)}: plaintext xDS is served on loopback only (it authenticates no one); use 127.0.0.1 or [::1], and the TLS port for other addresses`,
    );
  }
  return parsed;
}

export class AdsServer {
  private ctx: GenerationContext;
  private version: string;
  private counter = 0;
  private connectionCounter = 0;
  private readonly connections = new Set<Connection>();
  private readonly pending = new Set<Connection>();
  private draining: Promise<void> | undefined;
  private readonly servers: grpc.Server[] = [];
  private readonly log: Logger;
  private readonly clock: () => Date;
  private readonly nonce: () => string;
  private readonly known: KnownVersions;
  private readonly root: protobuf.Root;
  private readonly encoder: ResourceEncoder;
  private closing = false;

  constructor(private readonly options: AdsServerOptions) {
    this.ctx = options.context;
    this.log = options.logger ?? silentLogger;
    this.clock = options.clock ?? (() => new Date());
    this.nonce = options.nonce ?? (() => randomUUID());
    this.known = options.known ?? new KnownVersions();
    this.root = options.root ?? envoyRoot();
    this.encoder = new ResourceEncoder(this.root);
    this.version = this.nextVersion();
  }

  /** The version of the configuration being served (`<RFC 3339 time>/<counter>`, Istio's NextVersion). */
  get currentVersion(): string {
    return this.version;
  }

  /** Adds the ADS method to a gRPC server (one that also serves other things, with its own credentials). */
  register(server: grpc.Server): void {
    server.addService(adsServiceDefinition(this.root), {
      [ADS_METHOD]: (call: AdsCall) => this.serve(call),
    });
  }

  /** The ADS service's definition (for a server that mounts `serve` behind its own authentication). */
  serviceDefinition(): grpc.ServiceDefinition {
    return adsServiceDefinition(this.root);
  }

  /**
   * Serves ADS in plaintext on a loopback address (`127.0.0.1:0` picks a free port); refuses any other address.
   * Resolves with the address bound.
   */
  listen(address: string): Promise<{ host: string; port: number; address: string }> {
    return this.bind(address, grpc.ServerCredentials.createInsecure());
  }

  /**
   * Serves ADS with `credentials` on its own gRPC server (TLS on any address; credentials that are not secure
   * get the plaintext rule: loopback only). A server that serves other services too uses `register` instead.
   */
  listenSecure(
    address: string,
    credentials: grpc.ServerCredentials,
  ): Promise<{ host: string; port: number; address: string }> {
    return this.bind(address, credentials);
  }

  private async bind(
    address: string,
    credentials: grpc.ServerCredentials,
  ): Promise<{ host: string; port: number; address: string }> {
    const secure = credentials._isSecure();
    const { host, port } = secure ? parseListenAddress(address) : checkPlaintextAddress(address);
    if (this.closing) throw new Error('the ADS server is closed');
    const server = new grpc.Server();
    this.register(server);
    const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(target, credentials, (err, p) => (err ? reject(err) : resolve(p)));
    });
    this.servers.push(server);
    const shown = host.includes(':') ? `[${host}]:${bound}` : `${host}:${bound}`;
    this.log.info(secure ? 'ADS listening (TLS)' : 'ADS listening (plaintext, loopback only)', {
      address: shown,
    });
    return { host, port: bound, address: shown };
  }

  /** A new configuration: every connection is pushed what changed for it. */
  push(ctx: GenerationContext): void {
    if (this.closing) return;
    this.ctx = ctx;
    this.version = this.nextVersion();
    for (const c of this.connections) this.pending.add(c);
    this.drain();
  }

  /** Resolves when every push queued so far has been sent (for tests and the benchmark). */
  async settled(): Promise<void> {
    while (this.draining) await this.draining;
  }

  status(): ConnectionStatus[] {
    return [...this.connections]
      .map((c) => {
        const s = c.stream.status();
        return {
          id: c.id,
          nodeId: c.node.id,
          proxyId: c.node.proxyId,
          address: c.node.ips[0] ?? '',
          peer: c.call.getPeer(),
          generator: c.node.generator === 'grpc' ? ('grpc' as const) : ('sidecar' as const),
          connectedAt: c.connectedAt,
          version: c.source.version,
          ...(c.authenticated ? { authenticated: { ...c.authenticated } } : {}),
          pushes: s.pushes,
          types: s.types,
          problems: [...c.problems],
          outbound: c.source.outboundAddresses(),
        };
      })
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Ends every stream (Unavailable: the proxies reconnect elsewhere or later) and stops the servers. */
  async close(): Promise<void> {
    this.closing = true;
    this.pending.clear();
    for (const c of this.connections)
      this.end(c.call, { code: grpc.status.UNAVAILABLE, message: 'the control plane is shutting down' });
    this.connections.clear();
    await this.settled();
    await Promise.all(this.servers.splice(0).map((server) => shutdownGrpcServer(server)));
  }

  private nextVersion(): string {
    this.counter++;
    return `${this.clock().toISOString()}/${this.counter}`;
  }

  /**
   * Serves one ADS stream. `authenticated`: who the caller proved to be (the TLS port authenticated it before);
   * the debug API and the connect event carry it. The plaintext port passes nothing.
   */
  serve(call: AdsCall, authenticated?: AuthenticatedPeer): void {
    if (this.closing) {
      this.end(call, { code: grpc.status.UNAVAILABLE, message: 'the control plane is shutting down' });
      return;
    }
    let connection: Connection | undefined;
    let queue: Promise<void> = Promise.resolve();
    let ended = false;
    const finish = () => {
      if (ended) return;
      ended = true;
      if (connection) {
        connection.closed = true;
        const was = this.connections.delete(connection);
        this.pending.delete(connection);
        this.log.info('ADS disconnected', { connection: connection.id });
        if (was)
          this.emit({
            kind: 'disconnect',
            proxy: connection.node.id,
            connection: connection.id,
            version: connection.node.istioVersion ?? '',
          });
      }
    };
    call.on('data', (request: IncomingRequest) => {
      queue = queue
        .then(async () => {
          if (ended) return;
          if (isMalformed(request)) {
            this.refuse(call, { code: grpc.status.INVALID_ARGUMENT, message: request.malformed });
            return finish();
          }
          if (!connection) {
            connection = await this.connect(call, request, authenticated);
            if (!connection) return finish();
            if (ended || this.closing) {
              // Gone (or closing) while it was being authorized.
              connection.closed = true;
              return;
            }
            this.connections.add(connection);
            this.emit({
              kind: 'connect',
              proxy: connection.node.id,
              connection: connection.id,
              version: connection.node.istioVersion ?? '',
              ...(authenticated ? { authenticated: { ...authenticated } } : {}),
            });
          }
          this.handle(connection, request);
        })
        .catch((e: unknown) => {
          this.log.error('ADS request failed', { error: (e as Error)?.message ?? String(e) });
          this.refuse(call, {
            code: grpc.status.INTERNAL,
            message: `request failed: ${(e as Error)?.message ?? e}`,
          });
          finish();
        });
    });
    call.on('end', () => {
      // The client half-closed: end our side too.
      finish();
      if (!call.writableEnded) call.end();
    });
    call.on('error', () => finish());
    call.on('close', () => finish());
    call.on('cancelled', () => finish());
  }

  private async connect(
    call: AdsCall,
    request: IncomingRequest,
    authenticated: AuthenticatedPeer | undefined,
  ): Promise<Connection | undefined> {
    if (isMalformed(request)) return undefined;
    const first = requestNode(request);
    if (!first.ok) {
      this.refuse(call, { code: grpc.status.INVALID_ARGUMENT, message: first.message });
      return undefined;
    }
    let node: ProxyNode;
    try {
      node = parseProxyNode({
        id: first.id,
        metadata: (request.node?.metadata ?? null) as Parameters<typeof parseProxyNode>[0]['metadata'],
      });
    } catch (e) {
      this.refuse(call, { code: grpc.status.INVALID_ARGUMENT, message: (e as Error).message });
      return undefined;
    }
    const refusal = this.options.authorize ? await this.options.authorize(call, node) : undefined;
    if (refusal) {
      this.refuse(call, refusal);
      return undefined;
    }
    const id = `${node.proxyId}-${++this.connectionCounter}`;
    let connection: Connection | undefined;
    const source = this.sourceFor(node, (problems) => connection && this.report(connection, problems));
    const stream = new AdsStream<AnyMessage>({
      proxy: node.id,
      source,
      nonce: this.nonce,
      known: this.known,
    });
    connection = new Connection(id, call, node, stream, source, this.clock(), authenticated);
    this.log.info('ADS connected', {
      connection: id,
      node: node.id,
      peer: call.getPeer(),
      ...(authenticated ? { identity: authenticated.identity } : {}),
    });
    return connection;
  }

  private sourceFor(
    node: ProxyNode,
    report: (problems: readonly GenerationProblem[]) => void,
  ): ProxyResources {
    return new ProxyResources(this.version, this.ctx, node, this.encoder, report);
  }

  /** The connection's resources at the current configuration (a new source once the configuration changed). */
  private refresh(c: Connection): ProxyResources {
    if (c.source.version !== this.version) {
      c.problems = [];
      c.source = this.sourceFor(c.node, (problems) => this.report(c, problems));
    }
    return c.source;
  }

  private handle(c: Connection, request: IncomingRequest): void {
    if (isMalformed(request)) return;
    const started = performance.now();
    const source = this.refresh(c);
    let outcome: Outcome<AnyMessage>;
    try {
      outcome = c.stream.request(request, source);
    } catch (e) {
      this.generationFailed(c, e);
      return;
    }
    this.send(c, outcome, started);
  }

  private drain(): void {
    if (this.draining) return;
    const run = async () => {
      while (this.pending.size > 0 && !this.closing) {
        const c = this.pending.values().next().value as Connection;
        this.pending.delete(c);
        if (c.closed) continue;
        let outcome: Outcome<AnyMessage>;
        const started = performance.now();
        try {
          outcome = c.stream.push(this.refresh(c));
        } catch (e) {
          this.generationFailed(c, e);
          continue;
        }
        this.send(c, outcome, started);
        // Let requests and other work in between proxies.
        await nextTurn();
      }
    };
    // Cleared from a callback, never from inside `run`: a drain with nothing to await (no connection yet, or
    // only closed ones) finishes synchronously, before `this.draining` is assigned, and clearing it there left
    // it set for good, so that no later push was ever sent.
    const draining: Promise<void> = run().finally(() => {
      if (this.draining === draining) this.draining = undefined;
    });
    this.draining = draining;
  }

  private send(c: Connection, outcome: Outcome<AnyMessage>, started: number): void {
    for (const e of outcome.events) this.logEvent(c, e);
    if (c.closed || c.call.writableEnded) return;
    for (const response of outcome.responses) {
      const type = shortType(response.type_url);
      this.log.debug('ADS push', {
        connection: c.id,
        type,
        version: response.version_info,
        nonce: response.nonce,
        resources: response.resources.length,
      });
      c.call.write(response);
      this.emit({
        kind: 'push',
        type,
        proxy: c.node.id,
        connection: c.id,
        configVersion: response.version_info,
        nonce: response.nonce,
        resources: response.resources.length,
        bytes: response.resources.reduce((n, r) => n + (r.value?.length ?? 0), 0),
        ms: performance.now() - started,
      });
    }
  }

  private emit(e: AdsEvent): void {
    if (!this.options.onEvent) return;
    try {
      this.options.onEvent(e);
    } catch {
      // An observer never breaks serving.
    }
  }

  private logEvent(c: Connection, e: StreamEvent): void {
    const type = shortType(e.typeUrl);
    const at = { type, proxy: c.node.id, connection: c.id };
    switch (e.kind) {
      case 'ack':
        this.emit({ kind: 'ack', ...at, configVersion: e.version, nonce: e.nonce });
        break;
      case 'nack':
        this.emit({ kind: 'nack', ...at, configVersion: e.version, nonce: e.nonce, message: e.message });
        break;
      case 'stale-nonce':
        this.emit({ kind: 'stale-nonce', ...at, nonce: e.nonce });
        break;
    }
    switch (e.kind) {
      case 'nack':
        this.log.warn(`ADS:${type.toUpperCase()}: ACK ERROR`, {
          connection: c.id,
          version: e.version,
          nonce: e.nonce,
          error: e.message,
        });
        return;
      case 'unknown-type':
        this.log.info('ADS: a type that is not served was requested; nothing is sent', {
          connection: c.id,
          type: e.typeUrl,
        });
        return;
      case 'stale-nonce':
        this.log.debug('ADS: stale nonce ignored', { connection: c.id, type, nonce: e.nonce });
        return;
      default:
        this.log.debug(`ADS: ${e.kind}`, { connection: c.id, type });
    }
  }

  private report(c: Connection, problems: readonly GenerationProblem[]): void {
    const seen = new Set(c.problems.map((p) => `${p.code} ${p.message}`));
    for (const p of problems) {
      const key = `${p.code} ${p.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      c.problems.push(p);
      if (c.logged.has(key)) continue;
      c.logged.add(key);
      this.log.warn('generation problem', {
        connection: c.id,
        severity: p.severity,
        code: p.code,
        message: p.message,
      });
    }
  }

  private generationFailed(c: Connection, e: unknown): void {
    const message = (e as Error)?.message ?? String(e);
    this.log.error('generation failed; the stream is ended', { connection: c.id, error: message });
    this.refuse(c.call, { code: grpc.status.INTERNAL, message: `generation failed: ${message}` });
    c.closed = true;
    if (this.connections.delete(c))
      this.emit({
        kind: 'disconnect',
        proxy: c.node.id,
        connection: c.id,
        version: c.node.istioVersion ?? '',
      });
    this.pending.delete(c);
  }

  private refuse(call: AdsCall, refusal: Refusal): void {
    this.log.warn('ADS stream refused', {
      peer: call.getPeer(),
      code: grpc.status[refusal.code],
      message: refusal.message,
    });
    this.end(call, refusal);
  }

  private end(call: AdsCall, status: Refusal): void {
    if (call.writableEnded || call.destroyed) return;
    call.emit('error', { code: status.code, details: status.message, metadata: new grpc.Metadata() });
  }
}
